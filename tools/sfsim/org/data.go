package org

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// apiErr is one element of a REST error array. Fields is rendered only when HasFields.
type apiErr struct {
	Code      string
	Message   string
	Fields    []string
	HasFields bool
	Dup       map[string]any // duplicateResut block for DUPLICATES_DETECTED
}

func (e apiErr) rest() map[string]any {
	m := map[string]any{"message": e.Message, "errorCode": e.Code}
	if e.Dup != nil {
		m["duplicateResut"] = e.Dup
	} else if e.HasFields {
		f := e.Fields
		if f == nil {
			f = []string{}
		}
		m["fields"] = f
	}
	return m
}

func (e apiErr) collection() map[string]any {
	f := e.Fields
	if f == nil {
		f = []string{}
	}
	return map[string]any{"statusCode": e.Code, "message": e.Message, "fields": f}
}

func errNoFields(code, msg string) apiErr { return apiErr{Code: code, Message: msg} }
func errFields(code, msg string, fields ...string) apiErr {
	return apiErr{Code: code, Message: msg, Fields: fields, HasFields: true}
}

// response is what an API operation produces, before it is written or nested in a
// composite response.
type response struct {
	status int
	body   any // JSON-encoded; nil with 204
	header map[string]string
}

func errResponse(status int, errs ...apiErr) response {
	arr := make([]map[string]any, len(errs))
	for i, e := range errs {
		arr[i] = e.rest()
	}
	return response{status: status, body: arr}
}

var errNotFound = errNoFields("NOT_FOUND", "The requested resource does not exist")

// request is an API operation: a top-level call or a composite subrequest.
type request struct {
	method  string
	version string   // "62.0"
	path    []string // segments after /services/data/vNN.N/
	query   url.Values
	header  http.Header
	body    []byte
	base    string // instance URL
	nested  bool   // a composite subrequest
}

var versionRe = regexp.MustCompile(`^v(\d+)\.0$`)

// versionsList is GET /services/data/.
func versionsList() []map[string]string {
	seasons := []string{"Winter", "Spring", "Summer"}
	out := []map[string]string{}
	for v := MinVersion; v <= MaxVersion; v++ {
		idx := v - 20
		out = append(out, map[string]string{
			"label":   fmt.Sprintf("%s '%02d", seasons[idx%3], 11+idx/3),
			"url":     fmt.Sprintf("/services/data/v%d.0", v),
			"version": fmt.Sprintf("%d.0", v),
		})
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	if status == http.StatusNoContent || body == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// handleData serves /services/data: the versions list, then authenticated API calls.
func (o *Org) handleData(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/services/data"), "/")
	if rest == "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSON(w, http.StatusMethodNotAllowed, errResponse(405, errNoFields("METHOD_NOT_ALLOWED", "HTTP Method '"+r.Method+"' not allowed. Allowed are GET,HEAD")).body)
			return
		}
		writeJSON(w, http.StatusOK, versionsList())
		return
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	m := versionRe.FindStringSubmatch(segs[0])
	if m == nil {
		writeJSON(w, http.StatusNotFound, errResponse(404, errNotFound).body)
		return
	}
	v, _ := strconv.Atoi(m[1])
	if v < MinVersion {
		writeJSON(w, http.StatusGone, errResponse(410, errNoFields("API_VERSION_RETIRED", fmt.Sprintf("API version %d.0 has been retired. Use version %d.0 or later.", v, MinVersion))).body)
		return
	}
	if v > MaxVersion {
		writeJSON(w, http.StatusNotFound, errResponse(404, errNotFound).body)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 50<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errResponse(400, errNoFields("JSON_PARSER_ERROR", "could not read the request body")).body)
		return
	}
	if ct := r.Header.Get("Content-Type"); len(body) > 0 && ct != "" {
		if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			writeJSON(w, http.StatusUnsupportedMediaType, errResponse(415, errNoFields("UNSUPPORTED_MEDIA_TYPE", "MediaType of '"+strings.TrimSpace(mt)+"' is not supported by this resource")).body)
			return
		}
	}
	req := &request{method: r.Method, version: m[1] + ".0", path: segs[1:], query: r.URL.Query(), header: r.Header, body: body, base: o.baseURL(r)}

	o.mu.Lock()
	tok, ok := o.authenticateLocked(r)
	if !ok {
		o.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, errResponse(401, errNoFields("INVALID_SESSION_ID", "Session expired or invalid")).body)
		return
	}
	if o.used >= o.limit {
		info := o.limitInfoLocked()
		o.mu.Unlock()
		w.Header().Set("Sforce-Limit-Info", info)
		writeJSON(w, http.StatusForbidden, errResponse(403, errNoFields("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")).body)
		return
	}
	tok.Calls++
	o.used++
	o.byKey[endpointKey(req)]++
	resp := o.execLocked(req)
	if req.method != http.MethodGet {
		o.saveAfterChangeLocked()
	}
	info := o.limitInfoLocked()
	o.mu.Unlock()

	w.Header().Set("Sforce-Limit-Info", info)
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, resp.status, resp.body)
}

func (o *Org) limitInfoLocked() string {
	return fmt.Sprintf("api-usage=%d/%d", o.used, o.limit)
}

// endpointKey names a call for the stats: method plus the resource template.
func endpointKey(r *request) string {
	p := r.path
	name := "other"
	switch {
	case len(p) == 0:
		name = "resources"
	case p[0] == "sobjects" && len(p) == 1:
		name = "sobjects"
	case p[0] == "sobjects" && len(p) == 2:
		name = "sobjects/{type}"
	case p[0] == "sobjects" && len(p) == 3 && p[2] == "describe":
		name = "sobjects/{type}/describe"
	case p[0] == "sobjects" && len(p) == 3:
		name = "sobjects/{type}/{id}"
	case p[0] == "query" && len(p) == 1:
		name = "query"
	case p[0] == "query":
		name = "query/{locator}"
	case p[0] == "composite" && len(p) == 1:
		name = "composite"
	case p[0] == "composite" && len(p) >= 2 && p[1] == "sobjects":
		name = "composite/sobjects"
	case p[0] == "limits":
		name = "limits"
	}
	return r.method + " " + name
}

// execLocked runs one API operation with o.mu held.
func (o *Org) execLocked(r *request) response {
	p := r.path
	prev := o.version
	o.version = r.version
	defer func() { o.version = prev }()
	if len(p) == 0 {
		if r.method != http.MethodGet {
			return methodNotAllowed(r.method, "GET,HEAD")
		}
		pre := "/services/data/v" + r.version + "/"
		return response{status: 200, body: map[string]string{
			"sobjects": pre + "sobjects", "query": pre + "query", "composite": pre + "composite", "limits": pre + "limits",
		}}
	}
	switch p[0] {
	case "sobjects":
		return o.sobjectsLocked(r)
	case "query":
		if len(p) > 2 {
			return errResponse(404, errNotFound)
		}
		if r.method != http.MethodGet {
			return methodNotAllowed(r.method, "GET,HEAD")
		}
		if len(p) == 2 {
			return o.queryMoreLocked(r, p[1])
		}
		return o.queryLocked(r, r.query.Get("q"))
	case "composite":
		if len(p) == 1 {
			if r.nested {
				return errResponse(400, errNoFields("INVALID_API_INPUT", "a composite request cannot contain a composite subrequest"))
			}
			if r.method != http.MethodPost {
				return methodNotAllowed(r.method, "POST")
			}
			return o.compositeLocked(r)
		}
		if len(p) == 2 && p[1] == "sobjects" {
			return o.collectionLocked(r)
		}
		return errResponse(404, errNotFound)
	case "limits":
		if len(p) != 1 {
			return errResponse(404, errNotFound)
		}
		if r.method != http.MethodGet {
			return methodNotAllowed(r.method, "GET,HEAD")
		}
		return response{status: 200, body: map[string]any{
			"DailyApiRequests":    map[string]int{"Max": o.limit, "Remaining": max(o.limit-o.used, 0)},
			"DailyBulkApiBatches": map[string]int{"Max": 15000, "Remaining": 15000},
			"DataStorageMB":       map[string]int{"Max": 5, "Remaining": 5},
		}}
	}
	return errResponse(404, errNotFound)
}

func methodNotAllowed(method, allowed string) response {
	return response{status: 405, header: map[string]string{"Allow": allowed}, body: []map[string]any{
		errNoFields("METHOD_NOT_ALLOWED", "HTTP Method '"+method+"' not allowed. Allowed are "+allowed).rest()}}
}

// objectByName resolves an sObject name case-insensitively to its metadata.
func (o *Org) objectByName(name string) (*sobject, bool) {
	for k, s := range o.objects {
		if strings.EqualFold(k, name) {
			return s, true
		}
	}
	return nil, false
}

func (o *Org) sobjectsLocked(r *request) response {
	p := r.path
	if len(p) == 1 {
		if r.method != http.MethodGet {
			return methodNotAllowed(r.method, "GET,HEAD")
		}
		list := []map[string]any{}
		for _, name := range []string{"Account", "Contact", "Lead", "Task", "User"} {
			s := o.objects[name]
			pre := "/services/data/v" + r.version + "/sobjects/" + name
			list = append(list, map[string]any{"name": name, "label": s.Label, "labelPlural": s.Plural, "keyPrefix": keyPrefixes[name],
				"custom": false, "createable": true, "updateable": true, "deletable": name != "User", "queryable": true,
				"urls": map[string]string{"sobject": pre, "describe": pre + "/describe", "rowTemplate": pre + "/{ID}"}})
		}
		return response{status: 200, body: map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list}}
	}
	s, ok := o.objectByName(p[1])
	if !ok {
		return errResponse(404, errNotFound)
	}
	if s.setup && len(p) >= 2 && !(len(p) == 3 && p[2] == "describe") {
		if r.method == http.MethodGet {
			return errResponse(404, errNotFound)
		}
		return errResponse(400, errSetupWrite(s.Name, map[string]string{http.MethodPost: "insert", http.MethodPatch: "update", http.MethodDelete: "delete"}[r.method]))
	}
	switch {
	case len(p) == 2:
		switch r.method {
		case http.MethodGet:
			pre := "/services/data/v" + r.version + "/sobjects/" + s.Name
			return response{status: 200, body: map[string]any{"objectDescribe": map[string]any{"name": s.Name, "label": s.Label, "keyPrefix": keyPrefixes[s.Name],
				"urls": map[string]string{"sobject": pre, "describe": pre + "/describe", "rowTemplate": pre + "/{ID}"}}, "recentItems": []any{}}}
		case http.MethodPost:
			return o.createOneLocked(r, s)
		}
		return methodNotAllowed(r.method, "GET,HEAD,POST")
	case len(p) == 3 && p[2] == "describe":
		if r.method != http.MethodGet {
			return methodNotAllowed(r.method, "GET,HEAD")
		}
		return response{status: 200, body: s.describe(r.version)}
	case len(p) == 3:
		switch r.method {
		case http.MethodGet:
			return o.readOneLocked(r, s, p[2])
		case http.MethodPatch:
			return o.updateOneLocked(r, s, p[2])
		case http.MethodDelete:
			return o.deleteOneLocked(s, p[2])
		}
		return methodNotAllowed(r.method, "GET,HEAD,PATCH,DELETE")
	}
	return errResponse(404, errNotFound)
}

// decodeObject parses a JSON object body, keeping numbers exact.
func decodeObject(b []byte) (map[string]any, *apiErr) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		e := errNoFields("JSON_PARSER_ERROR", "The request body is not a JSON object: "+jsonErrText(err))
		return nil, &e
	}
	if dec.More() {
		e := errNoFields("JSON_PARSER_ERROR", "Unexpected content after the JSON object")
		return nil, &e
	}
	return m, nil
}

func jsonErrText(err error) string {
	if err == nil {
		return "null"
	}
	return err.Error()
}

func (o *Org) createOneLocked(r *request, s *sobject) response {
	body, perr := decodeObject(r.body)
	if perr != nil {
		return errResponse(400, *perr)
	}
	delete(body, "attributes")
	if e := refuseUserWrite(s); e != nil {
		return errResponse(400, *e)
	}
	id, errs, rerr := o.createLocked(s, body, r.header)
	if rerr != nil {
		return errResponse(400, *rerr)
	}
	if len(errs) > 0 {
		return errResponse(400, errs...)
	}
	return response{status: 201, body: map[string]any{"id": id, "success": true, "errors": []any{}},
		header: map[string]string{"Location": "/services/data/v" + r.version + "/sobjects/" + s.Name + "/" + id}}
}

// lookupLocked finds a live record by id for the object, with Salesforce's 404s.
func (o *Org) lookupLocked(s *sobject, rawID string) (string, map[string]any, *response) {
	id, ok := canonicalID(rawID)
	if !ok {
		resp := errResponse(404, errNoFields("NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+rawID))
		return "", nil, &resp
	}
	if obj, gone := o.deleted[id]; gone && obj == s.Name {
		resp := errResponse(404, errFields("ENTITY_IS_DELETED", "entity is deleted"))
		return "", nil, &resp
	}
	rec, ok := o.records[s.Name][id]
	if !ok {
		resp := errResponse(404, errNotFound)
		return "", nil, &resp
	}
	return id, rec, nil
}

func (o *Org) readOneLocked(r *request, s *sobject, rawID string) response {
	id, rec, resp := o.lookupLocked(s, rawID)
	if resp != nil {
		return *resp
	}
	var fields []string
	if fl := r.query.Get("fields"); fl != "" {
		for _, name := range strings.Split(fl, ",") {
			f, ok := s.field(strings.TrimSpace(name))
			if !ok {
				return errResponse(400, errNoFields("INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", strings.TrimSpace(name), s.Name)))
			}
			fields = append(fields, f.Name)
		}
	} else {
		for _, f := range s.fields {
			fields = append(fields, f.Name)
		}
	}
	return response{status: 200, body: project(s.Name, id, r.version, rec, fields)}
}

func (o *Org) updateOneLocked(r *request, s *sobject, rawID string) response {
	id, _, resp := o.lookupLocked(s, rawID)
	if resp != nil {
		return *resp
	}
	body, perr := decodeObject(r.body)
	if perr != nil {
		return errResponse(400, *perr)
	}
	delete(body, "attributes")
	if e := refuseUserWrite(s); e != nil {
		return errResponse(400, *e)
	}
	errs, rerr := o.updateLocked(s, id, body, r.header)
	if rerr != nil {
		return errResponse(400, *rerr)
	}
	if len(errs) > 0 {
		return errResponse(400, errs...)
	}
	return response{status: 204}
}

func (o *Org) deleteOneLocked(s *sobject, rawID string) response {
	id, rec, resp := o.lookupLocked(s, rawID)
	if resp != nil {
		return *resp
	}
	if s.Name == "User" {
		// users are deactivated, never deleted: User supports no delete()
		return errResponse(400, errSetupWrite(s.Name, "delete"))
	}
	if !o.canDeleteLocked(s.Name, rec) {
		return errResponse(400, errCannotDelete)
	}
	o.deleteCascadeLocked(s.Name, id)
	return response{status: 204}
}

// orderedRecord renders a record as JSON with attributes first and fields in order.
type orderedRecord struct {
	keys []string
	vals map[string]any
}

func (r orderedRecord) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(r.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// project builds the API representation of a record with the given fields.
func project(object, id, version string, rec map[string]any, fields []string) orderedRecord {
	out := orderedRecord{keys: []string{"attributes"}, vals: map[string]any{
		"attributes": map[string]string{"type": object, "url": "/services/data/v" + version + "/sobjects/" + object + "/" + id},
	}}
	for _, f := range fields {
		if _, dup := out.vals[f]; dup {
			continue
		}
		out.keys = append(out.keys, f)
		out.vals[f] = rec[f]
	}
	return out
}
