package org

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	maxCollectionRecords = 200
	maxCollectionChunks  = 10
	maxSubrequests       = 25
)

var rolledBack = errFields("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid and the request was using AllOrNone header")

// collectionLocked serves POST (create), PATCH (update) and DELETE on
// composite/sobjects.
func (o *Org) collectionLocked(r *request) response {
	if r.method == http.MethodDelete {
		return o.collectionDeleteLocked(r)
	}
	if r.method != http.MethodPost && r.method != http.MethodPatch {
		return methodNotAllowed(r.method, "POST,PATCH,DELETE")
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var in struct {
		AllOrNone *bool            `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}
	if err := dec.Decode(&in); err != nil {
		return errResponse(400, errNoFields("JSON_PARSER_ERROR", "The request body could not be parsed: "+err.Error()))
	}
	if len(in.Records) == 0 {
		return errResponse(400, errNoFields("INVALID_FIELD", "No records were specified in the request"))
	}
	if len(in.Records) > maxCollectionRecords {
		return errResponse(400, errNoFields("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"))
	}
	allOrNone := in.AllOrNone != nil && *in.AllOrNone
	type item struct {
		s    *sobject
		vals map[string]any
	}
	items := make([]item, len(in.Records))
	chunks, last := 0, ""
	for i, rec := range in.Records {
		attrs, _ := rec["attributes"].(map[string]any)
		typ, _ := attrs["type"].(string)
		if typ == "" {
			return errResponse(400, errNoFields("INVALID_TYPE", fmt.Sprintf("Must send a concrete entity type. (records[%d].attributes.type is missing)", i)))
		}
		s, ok := o.objectByName(typ)
		if !ok {
			return errResponse(400, errNoFields("INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", typ)))
		}
		if s.setup {
			return errResponse(400, errSetupWrite(s.Name, map[bool]string{true: "insert", false: "update"}[r.method == http.MethodPost]))
		}
		if s.Name != last {
			chunks++
			last = s.Name
		}
		body := make(map[string]any, len(rec))
		for k, v := range rec {
			if k != "attributes" {
				body[k] = v
			}
		}
		// unknown fields and wrongly typed values fail the whole request
		if _, _, perr := parseFields(s, body); perr != nil {
			return errResponse(400, *perr)
		}
		items[i] = item{s: s, vals: body}
	}
	if chunks > maxCollectionChunks {
		return errResponse(400, errNoFields("INVALID_BATCH_REQUEST", fmt.Sprintf("Too many chunks: records of one type must be contiguous, at most %d chunks per request", maxCollectionChunks)))
	}

	rollback, end := o.beginTx()
	defer end()
	results := make([]map[string]any, len(items))
	failed := false
	for i, it := range items {
		var errs []apiErr
		var id string
		if e := refuseUserWrite(it.s); e != nil {
			errs = []apiErr{*e}
			if r.method == http.MethodPatch {
				for k, v := range it.vals {
					if strings.EqualFold(k, "id") {
						id, _ = v.(string)
					}
				}
			}
		} else if r.method == http.MethodPost {
			var rerr *apiErr
			id, errs, rerr = o.createLocked(it.s, it.vals, r.header)
			if rerr != nil {
				errs = []apiErr{*rerr}
			}
		} else {
			id, errs = o.collectionUpdateLocked(it.s, it.vals, r.header)
		}
		res := map[string]any{"success": len(errs) == 0, "errors": []any{}}
		if id != "" {
			res["id"] = id
		}
		if len(errs) > 0 {
			failed = true
			if r.method == http.MethodPost {
				delete(res, "id")
			}
			list := make([]any, len(errs))
			for j, e := range errs {
				list[j] = e.collection()
			}
			res["errors"] = list
		}
		results[i] = res
	}
	if allOrNone && failed {
		rollback()
		for _, res := range results {
			if res["success"] == true {
				res["success"] = false
				if r.method == http.MethodPost {
					delete(res, "id")
				}
				res["errors"] = []any{rolledBack.collection()}
			}
		}
	}
	return response{status: 200, body: results}
}

func (o *Org) collectionUpdateLocked(s *sobject, body map[string]any, hdr http.Header) (string, []apiErr) {
	var raw string
	for k, v := range body {
		if strings.EqualFold(k, "id") {
			raw, _ = v.(string)
		}
	}
	if raw == "" {
		return "", []apiErr{errFields("MISSING_ARGUMENT", "Id not specified in an update call")}
	}
	id, ok := strictID(raw)
	if !ok || objectForID(id) != s.Name {
		// as the documented example answers an Account id sent as a
		// Contact: no id in the SaveResult, the field named
		return "", []apiErr{errFields("MALFORMED_ID", s.Label+" ID: id value of incorrect type: "+raw, "Id")}
	}
	if _, gone := o.deleted[id]; gone {
		return id, []apiErr{errFields("ENTITY_IS_DELETED", "entity is deleted")}
	}
	if _, live := o.records[s.Name][id]; !live {
		return id, []apiErr{errFields("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")}
	}
	errs, rerr := o.updateLocked(s, id, body, hdr)
	if rerr != nil {
		errs = []apiErr{*rerr}
	}
	return id, errs
}

// collectionDeleteLocked serves DELETE composite/sobjects?ids=…&allOrNone=…:
// up to 200 ids of any types, a DeleteResult per id in their order. A
// failed delete has no id; with allOrNone a failure rolls every delete back
// and the others answer ALL_OR_NONE_OPERATION_ROLLED_BACK, keeping their id.
func (o *Org) collectionDeleteLocked(r *request) response {
	var ids []string
	for _, v := range r.query["ids"] {
		if v != "" {
			ids = append(ids, strings.Split(v, ",")...)
		}
	}
	if len(ids) == 0 {
		return errResponse(400, errNoFields("MISSING_ARGUMENT", "ids: no ids were specified in the request"))
	}
	if len(ids) > maxCollectionRecords {
		return errResponse(400, errNoFields("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"))
	}
	allOrNone := strings.EqualFold(r.query.Get("allOrNone"), "true")
	rollback, end := o.beginTx()
	defer end()
	results := make([]map[string]any, len(ids))
	failed := false
	for i, raw := range ids {
		id, e := o.deleteByIDLocked(raw)
		res := map[string]any{"success": e == nil, "errors": []any{}}
		if e == nil {
			res["id"] = id
		} else {
			failed = true
			res["errors"] = []any{e.collection()}
		}
		results[i] = res
	}
	if allOrNone && failed {
		rollback()
		for _, res := range results {
			if res["success"] == true {
				res["success"] = false
				res["errors"] = []any{rolledBack.collection()}
			}
		}
	}
	return response{status: 200, body: results}
}

// deleteByIDLocked deletes one record of a collection delete, with
// Salesforce's per-record errors.
func (o *Org) deleteByIDLocked(raw string) (string, *apiErr) {
	fail := func(e apiErr) (string, *apiErr) { return "", &e }
	id, ok := strictID(raw)
	if !ok {
		return fail(errFields("MALFORMED_ID", "malformed id "+raw))
	}
	obj := objectForID(id)
	if s, known := o.objects[obj]; known && s.setup || obj == "User" {
		return fail(errSetupWrite(obj, "delete"))
	}
	if _, gone := o.deleted[id]; gone {
		return fail(errFields("ENTITY_IS_DELETED", "entity is deleted"))
	}
	rec := o.records[obj][id]
	if rec == nil {
		// never created here (another org's id, a made-up one): the text
		// is the update's (README, Known differences)
		return fail(errFields("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
	}
	if !o.canDeleteLocked(obj, rec) {
		return fail(errCannotDelete)
	}
	o.deleteCascadeLocked(obj, id)
	return id, nil
}

var refRe = regexp.MustCompile(`@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[[0-9]+\])*)\}`)

var halted = errNoFields("PROCESSING_HALTED", "The transaction was rolled back since another operation in the same transaction failed.")

// compositeLocked serves POST composite: up to 25 subrequests run in order in one
// call, with @{ref.path} references to earlier results.
func (o *Org) compositeLocked(r *request) response {
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var in struct {
		AllOrNone bool `json:"allOrNone"`
		Requests  []struct {
			Method      string            `json:"method"`
			URL         string            `json:"url"`
			ReferenceID string            `json:"referenceId"`
			Body        json.RawMessage   `json:"body"`
			Headers     map[string]string `json:"httpHeaders"`
		} `json:"compositeRequest"`
	}
	if err := dec.Decode(&in); err != nil {
		return errResponse(400, errNoFields("JSON_PARSER_ERROR", "The request body could not be parsed: "+err.Error()))
	}
	if len(in.Requests) == 0 {
		return errResponse(400, errNoFields("INVALID_API_INPUT", "compositeRequest must contain at least one subrequest"))
	}
	if len(in.Requests) > maxSubrequests {
		return errResponse(400, errNoFields("INVALID_API_INPUT", fmt.Sprintf("Composite request may only have up to %d subrequests", maxSubrequests)))
	}
	refs := map[string]bool{}
	heavy := 0
	for i, sr := range in.Requests {
		if !refIDRe.MatchString(sr.ReferenceID) {
			return errResponse(400, errNoFields("INVALID_API_INPUT", fmt.Sprintf("compositeRequest[%d].referenceId must be letters, digits and underscores", i)))
		}
		if refs[sr.ReferenceID] {
			return errResponse(400, errNoFields("INVALID_API_INPUT", fmt.Sprintf("Duplicate referenceId provided in the request: %s", sr.ReferenceID)))
		}
		refs[sr.ReferenceID] = true
		if strings.Contains(sr.URL, "/query") || strings.Contains(sr.URL, "/composite/sobjects") {
			heavy++
		}
	}
	if heavy > 5 {
		return errResponse(400, errNoFields("INVALID_API_INPUT", "A composite request may contain at most 5 query or sObject Collections subrequests"))
	}

	rollback, end := o.beginTx()
	defer end()
	results := map[string]any{}
	out := make([]map[string]any, len(in.Requests))
	haltedAt := -1
	for i, sr := range in.Requests {
		resp := o.subrequestLocked(r, sr.Method, sr.URL, sr.Body, sr.Headers, results)
		hdrs := map[string]string{}
		for k, v := range resp.header {
			hdrs[k] = v
		}
		out[i] = map[string]any{"body": resp.body, "httpHeaders": hdrs, "httpStatusCode": resp.status, "referenceId": sr.ReferenceID}
		if resp.status < 400 {
			if b, err := json.Marshal(resp.body); err == nil {
				var v any
				_ = json.Unmarshal(b, &v)
				results[sr.ReferenceID] = v
			}
		} else if in.AllOrNone {
			haltedAt = i
			break
		}
	}
	if haltedAt >= 0 {
		rollback()
		for i, sr := range in.Requests {
			if i == haltedAt {
				continue
			}
			out[i] = map[string]any{"body": []any{halted.rest()}, "httpHeaders": map[string]string{}, "httpStatusCode": 400, "referenceId": sr.ReferenceID}
		}
	}
	if !o.cfg.Lenient {
		// collateSubrequests (the default since v49) does not keep request
		// order: only referenceId ties an answer to its subrequest.
		slices.Reverse(out)
	}
	return response{status: 200, body: map[string]any{"compositeResponse": out}}
}

// subrequestLocked resolves references and runs one composite subrequest.
func (o *Org) subrequestLocked(parent *request, method, rawURL string, body json.RawMessage, hdrs map[string]string, results map[string]any) response {
	rawURL, bad := substitute(rawURL, results, true)
	if bad != "" {
		return errResponse(400, unresolved(bad))
	}
	var bodyBytes []byte
	if len(body) > 0 && string(body) != "null" {
		s, bad := substitute(string(body), results, false)
		if bad != "" {
			return errResponse(400, unresolved(bad))
		}
		bodyBytes = []byte(s)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return errResponse(400, errNoFields("INVALID_API_INPUT", "invalid subrequest url: "+rawURL))
	}
	rest, ok := strings.CutPrefix(u.Path, "/services/data/")
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if !ok || len(segs) == 0 || versionRe.FindStringSubmatch(segs[0]) == nil {
		return errResponse(400, errNoFields("INVALID_API_INPUT", "subrequest url must start with /services/data/vNN.N/: "+rawURL))
	}
	v, _ := strconv.Atoi(versionRe.FindStringSubmatch(segs[0])[1])
	if v < MinVersion || v > MaxVersion {
		return errResponse(404, errNotFound)
	}
	h := parent.header.Clone()
	for k, val := range hdrs {
		h.Set(k, val)
	}
	sub := &request{method: strings.ToUpper(method), version: segs[0][1:], path: segs[1:], query: u.Query(), header: h, body: bodyBytes, base: parent.base, nested: true}
	return o.execLocked(sub)
}

func unresolved(expr string) apiErr {
	ref, _, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(expr, "@{"), "}"), ".")
	return errNoFields("PROCESSING_HALTED", fmt.Sprintf("Invalid reference specified. No value for %s found in %s. Provided referenceId ('%s') must be exactly the same as the referenceId specified in the reference request.", strings.TrimSuffix(strings.TrimPrefix(expr, "@{"), "}"), ref, ref))
}

// substitute replaces @{ref.path} expressions with values from earlier results. In
// a JSON body a whole-string reference keeps the value's JSON type.
func substitute(s string, results map[string]any, inURL bool) (string, string) {
	var bad string
	out := refRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := refRe.FindStringSubmatch(m)
		v, ok := resolvePath(results[sub[1]], sub[2])
		if !ok || results[sub[1]] == nil {
			if bad == "" {
				bad = m
			}
			return m
		}
		var str string
		switch x := v.(type) {
		case string:
			str = x
		default:
			b, _ := json.Marshal(x)
			str = string(b)
		}
		if inURL {
			return url.PathEscape(str)
		}
		b, _ := json.Marshal(str)
		return string(b[1 : len(b)-1])
	})
	return out, bad
}

var refIDRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

var pathTok = regexp.MustCompile(`\.([A-Za-z0-9_]+)|\[([0-9]+)\]`)

func resolvePath(v any, path string) (any, bool) {
	for _, t := range pathTok.FindAllStringSubmatch(path, -1) {
		switch cur := v.(type) {
		case map[string]any:
			next, ok := cur[t[1]]
			if !ok || t[1] == "" {
				return nil, false
			}
			v = next
		case []any:
			n, err := strconv.Atoi(t[2])
			if t[2] == "" || err != nil || n >= len(cur) {
				return nil, false
			}
			v = cur[n]
		default:
			return nil, false
		}
	}
	if v == nil {
		return nil, false
	}
	return v, true
}
