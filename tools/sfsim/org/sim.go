package org

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"
)

// jsonRoundTrip normalises Go values (ints, time strings, nested maps) to what a JSON
// request body decodes to.
func jsonRoundTrip(rec map[string]any) (map[string]any, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	m, perr := decodeObject(b)
	if perr != nil {
		return nil, errors.New(perr.Message)
	}
	return m, nil
}

func simError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// handleSim serves the simulator's own endpoints under /_sim/.
func (o *Org) handleSim(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/_sim/"), "/"), "/")
	body, err := io.ReadAll(io.LimitReader(r.Body, 50<<20))
	if err != nil {
		simError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	route := r.Method + " " + parts[0]
	switch {
	case route == "GET records" && len(parts) == 2:
		o.mu.Lock()
		s, ok := o.objectByName(parts[1])
		o.mu.Unlock()
		if !ok {
			simError(w, http.StatusNotFound, "sobject: unknown object "+parts[1])
			return
		}
		writeJSON(w, http.StatusOK, o.Records(s.Name))
	case route == "POST records" && len(parts) == 2:
		recs, err := decodeRecords(body)
		if err != nil {
			simError(w, http.StatusBadRequest, err.Error())
			return
		}
		ids, err := o.Seed(parts[1], recs...)
		var se *SaveError
		switch {
		case errors.As(err, &se):
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error(), "index": se.Index, "errors": se.Errors})
		case errors.Is(err, ErrUnknownObject):
			simError(w, http.StatusNotFound, "sobject: unknown object "+parts[1])
		case err != nil:
			simError(w, http.StatusBadRequest, err.Error())
		default:
			writeJSON(w, http.StatusCreated, map[string]any{"ids": ids})
		}
	case route == "DELETE records" && len(parts) == 3:
		o.mu.Lock()
		sobj, ok := o.objectByName(parts[1])
		o.mu.Unlock()
		id, okID := canonicalID(parts[2])
		switch {
		case !ok:
			simError(w, http.StatusNotFound, "sobject: unknown object "+parts[1])
		case !okID || objectForID(id) != sobj.Name:
			simError(w, http.StatusBadRequest, "id: "+parts[2]+" is not a "+sobj.Name+" id")
		default:
			if err := o.Delete(id); err != nil {
				status := http.StatusBadRequest
				if errors.Is(err, ErrNotFound) {
					status = http.StatusNotFound
				}
				simError(w, status, "id: "+err.Error())
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	case route == "PUT field-access" && len(parts) == 3:
		var in struct {
			Updateable *bool `json:"updateable"`
		}
		if err := strictJSON(body, &in); err != nil || in.Updateable == nil {
			simError(w, http.StatusBadRequest, `body: want {"updateable": true|false}`)
			return
		}
		if err := o.SetFieldUpdateable(parts[1], parts[2], *in.Updateable); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, ErrUnknownObject) {
				status = http.StatusNotFound
			}
			simError(w, status, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case route == "PUT modify-all-data" && len(parts) == 1:
		var in struct {
			On *bool `json:"on"`
		}
		if err := strictJSON(body, &in); err != nil || in.On == nil {
			simError(w, http.StatusBadRequest, `body: want {"on": true|false}`)
			return
		}
		o.SetModifyAllData(*in.On)
		w.WriteHeader(http.StatusNoContent)
	case route == "GET stats" && len(parts) == 1:
		writeJSON(w, http.StatusOK, o.Stats())
	case route == "POST reset" && len(parts) == 1:
		o.Reset()
		w.WriteHeader(http.StatusNoContent)
	case route == "POST faults" && len(parts) == 1:
		var list []Fault
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) > 0 && trimmed[0] == '[' {
			err = strictJSON(trimmed, &list)
		} else {
			var f Fault
			err = strictJSON(trimmed, &f)
			list = []Fault{f}
		}
		if err != nil {
			simError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		ids := []int{}
		for i, f := range list {
			id, err := o.AddFault(f)
			if err != nil {
				simError(w, http.StatusBadRequest, fmt.Sprintf("faults[%d].%v", i, err))
				return
			}
			ids = append(ids, id)
		}
		writeJSON(w, http.StatusCreated, map[string]any{"ids": ids})
	case route == "DELETE faults" && len(parts) == 1:
		o.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case route == "POST convert" && len(parts) == 2:
		c, err := o.Convert(parts[1])
		switch {
		case errors.Is(err, ErrNotFound):
			simError(w, http.StatusNotFound, "leadId: "+err.Error())
		case err != nil:
			simError(w, http.StatusBadRequest, "leadId: "+err.Error())
		default:
			writeJSON(w, http.StatusOK, c)
		}
	case route == "POST expire-tokens" && len(parts) == 1:
		o.ExpireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	case route == "PUT user-active" && len(parts) == 1:
		var v struct {
			Active *bool  `json:"active"`
			ID     string `json:"id"`
		}
		if err := strictJSON(body, &v); err != nil || v.Active == nil {
			simError(w, http.StatusBadRequest, `body: want {"active": true|false} and optionally "id": a user id`)
			return
		}
		if v.ID == "" {
			o.SetUserActive(*v.Active)
		} else if err := o.SetUserActiveByID(v.ID, *v.Active); err != nil {
			simError(w, http.StatusNotFound, "id: no user "+v.ID)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case route == "POST revoke-refresh-tokens" && len(parts) == 1:
		o.RevokeAllRefreshTokens()
		w.WriteHeader(http.StatusNoContent)
	case route == "POST tokens" && len(parts) == 1:
		t := o.IssueTokens()
		writeJSON(w, http.StatusCreated, map[string]string{"access_token": t.AccessToken, "refresh_token": t.RefreshToken, "instance_url": t.InstanceURL})
	case route == "PUT duplicate-rules" && len(parts) == 2:
		var rule DuplicateRule
		if err := strictJSON(body, &rule); err != nil {
			simError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		if err := o.SetDuplicateRule(parts[1], rule); err != nil {
			simError(w, http.StatusBadRequest, "sobject: "+err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case route == "PUT sharing" && len(parts) == 2:
		var in struct {
			Sharing   Sharing `json:"sharing"`
			ViewAll   *bool   `json:"viewAll"`
			ModifyAll *bool   `json:"modifyAll"`
		}
		if err := strictJSON(body, &in); err != nil {
			simError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		if in.Sharing != "" {
			if err := o.SetSharing(parts[1], in.Sharing); err != nil {
				simError(w, http.StatusBadRequest, "sharing: "+err.Error())
				return
			}
		}
		if in.ViewAll != nil {
			if err := o.SetViewAll(parts[1], *in.ViewAll); err != nil {
				simError(w, http.StatusBadRequest, "viewAll: "+err.Error())
				return
			}
		}
		if in.ModifyAll != nil {
			if err := o.SetModifyAll(parts[1], *in.ModifyAll); err != nil {
				simError(w, http.StatusBadRequest, "modifyAll: "+err.Error())
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	case route == "PUT view-all-data" && len(parts) == 1:
		var in struct {
			On bool `json:"on"`
		}
		if err := strictJSON(body, &in); err != nil {
			simError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		o.SetViewAllData(in.On)
		w.WriteHeader(http.StatusNoContent)
	case route == "PUT task-statuses" && len(parts) == 1:
		var list []TaskStatus
		if err := strictJSON(body, &list); err != nil {
			simError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		if err := o.SetTaskStatuses(list); err != nil {
			simError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case route == "PUT latency" && len(parts) == 1:
		var in struct {
			MS int `json:"ms"`
		}
		if err := strictJSON(body, &in); err != nil || in.MS < 0 {
			simError(w, http.StatusBadRequest, "ms: a number of milliseconds, 0 or more")
			return
		}
		o.SetLatency(time.Duration(in.MS) * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	case route == "POST custom-fields" && len(parts) == 2:
		var cf CustomField
		if err := strictJSON(body, &cf); err != nil {
			simError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		if err := o.AddCustomField(parts[1], cf); err != nil {
			simError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusCreated)
	case route == "DELETE custom-fields" && len(parts) == 3:
		if err := o.DeleteCustomField(parts[1], parts[2]); err != nil {
			simError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case route == "PUT limit" && len(parts) == 1:
		var in struct {
			Daily *int `json:"daily"`
			Used  *int `json:"used"`
		}
		if err := strictJSON(body, &in); err != nil {
			simError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		if in.Daily != nil {
			if *in.Daily < 0 {
				simError(w, http.StatusBadRequest, "daily: must not be negative")
				return
			}
			o.SetDailyLimit(*in.Daily)
		}
		if in.Used != nil {
			if *in.Used < 0 {
				simError(w, http.StatusBadRequest, "used: must not be negative")
				return
			}
			o.SetAPIUsage(*in.Used)
		}
		writeJSON(w, http.StatusOK, o.Stats())
	default:
		simError(w, http.StatusNotFound, "no such simulator endpoint: "+r.Method+" "+r.URL.Path)
	}
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// decodeRecords accepts one record, an array of records, or {"records":[...]}.
func decodeRecords(b []byte) ([]map[string]any, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("body: expected a record, an array of records or {\"records\":[...]}")
	}
	if b[0] == '[' {
		var list []map[string]any
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		return list, nil
	}
	var one map[string]any
	if err := json.Unmarshal(b, &one); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if recs, ok := one["records"].([]any); ok && len(one) == 1 {
		out := make([]map[string]any, 0, len(recs))
		for i, r := range recs {
			m, ok := r.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("records[%d]: not an object", i)
			}
			out = append(out, m)
		}
		return out, nil
	}
	return []map[string]any{one}, nil
}

var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{
	"cell": func(v any) string {
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	},
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Salesforce Simulator</title>
<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:2em;font-size:.85em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}th{background:#eee}</style></head>
<body><h1>Salesforce Simulator</h1>
<p>Org <code>{{.OrgID}}</code> · user <code>{{.Username}}</code> · API calls {{.Stats.Total}} / {{.Stats.Limit}}</p>
{{range .Objects}}<h2 id="{{.Name}}">{{.Name}} ({{len .Rows}})</h2>
{{if .Rows}}<table><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{cell .}}</td>{{end}}</tr>{{end}}</table>{{else}}<p>No records.</p>{{end}}
{{end}}</body></html>`))

// ownerLabelLocked names a record's owner for the page: the user's name (or
// email), or the lead queue.
func (o *Org) ownerLabelLocked(id any) any {
	sid := strOf(id)
	if sid == "" {
		return nil
	}
	if sid == o.queueID {
		return "Lead queue"
	}
	if u := o.records["User"][sid]; u != nil {
		label := strOf(u["Name"])
		if label == "" {
			label = strOf(u["Email"])
		}
		if u["IsActive"] == false {
			label += " (inactive)"
		}
		return label
	}
	return sid
}

// alwaysShown are the columns the records page shows even when no record
// has a value in them: a Lead's or Contact's email bounce and opt-out.
var alwaysShown = map[string][]string{
	"Lead":    {"HasOptedOutOfEmail", "EmailBouncedReason", "EmailBouncedDate"},
	"Contact": {"HasOptedOutOfEmail", "EmailBouncedReason", "EmailBouncedDate"},
}

// handleIndex serves GET /: the org's Leads, Contacts, Accounts, Tasks and Users.
func (o *Org) handleIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	type table struct {
		Name    string
		Columns []string
		Rows    [][]any
	}
	var tables []table
	o.mu.Lock()
	for _, name := range []string{"Lead", "Contact", "Account", "Task", "User"} {
		s := o.objects[name]
		t := table{Name: name}
		used := map[string]bool{"Id": true}
		// the owner by name, and a Contact's Account by name, after the ids
		extra := map[string]string{"OwnerId": "Owner", "AccountId": "Account"}
		if name != "Contact" {
			delete(extra, "AccountId")
		}
		for _, rec := range o.records[name] {
			for k, v := range rec {
				if v != nil && v != false {
					used[k] = true
				}
			}
		}
		if len(o.records[name]) > 0 {
			// the fields bounces and opt-outs write, shown even when empty
			for _, f := range alwaysShown[name] {
				used[f] = true
			}
		}
		for _, f := range s.fields {
			if used[f.Name] && f.Name != "IsDeleted" && f.Name != "SystemModstamp" && f.Name != "LastModifiedById" && f.Name != "CreatedById" {
				t.Columns = append(t.Columns, f.Name)
				if label, ok := extra[f.Name]; ok {
					t.Columns = append(t.Columns, label)
				}
			}
		}
		for _, id := range sortedIDs(o.records[name]) {
			rec := o.records[name][id]
			row := make([]any, len(t.Columns))
			for i, c := range t.Columns {
				switch {
				case c == "Owner":
					row[i] = o.ownerLabelLocked(rec["OwnerId"])
				case c == "Account" && name == "Contact":
					if acc := o.records["Account"][strOf(rec["AccountId"])]; acc != nil {
						row[i] = acc["Name"]
					}
				default:
					row[i] = rec[c]
				}
			}
			t.Rows = append(t.Rows, row)
		}
		tables = append(tables, t)
	}
	stats := Stats{Total: o.used, Limit: o.limit}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	_ = indexPage.Execute(w, map[string]any{"OrgID": o.orgID, "Username": o.cfg.Username, "Stats": stats, "Objects": tables})
}
