// Package mappinghttp serves the field mapping API:
//
//	GET  /v1/salesforce/field-mappings/{object}          the current mapping (version 0: the default)
//	PUT  /v1/salesforce/field-mappings/{object}          preflight against the org, then save a new version
//	POST /v1/salesforce/field-mappings/{object}/preview  render a sample contact, writing nothing
//	GET  /v1/salesforce/field-mappings/{object}/fields   the org's fields the connected user can create, for the mapping editor
//
// The team always comes from the verified claims. Writes use ETags as the
// settings API does: GET and PUT answer ETag "<version>", a PUT must send
// If-Match (428 without it; * overwrites whatever is current; a stale
// version is 412 and nothing is written).
package mappinghttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/mapping/describe"
	"github.com/sfsync/sfsync/shared/mapping/mappingdb"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Route keys this package serves (declared in shared/resources).
const (
	RouteGet     = "GET /v1/salesforce/field-mappings/{object}"
	RoutePut     = "PUT /v1/salesforce/field-mappings/{object}"
	RoutePreview = "POST /v1/salesforce/field-mappings/{object}/preview"
	RouteFields  = "GET /v1/salesforce/field-mappings/{object}/fields"
)

// Mappings is the store of the teams' mappings the routes read and write;
// *mappingdb.Store implements it. Save refuses, with an error wrapping
// mappingdb.ErrVersionConflict, a version that is no longer current.
type Mappings interface {
	Current(ctx context.Context, team string, o event.SalesforceObject) (mapping.Version, error)
	Save(ctx context.Context, team, author string, o event.SalesforceObject, m mapping.Mapping, expected int) (mapping.Version, error)
	SyncedBefore(ctx context.Context, team string, o event.SalesforceObject, version int) (int, error)
}

// Describes gives the org's describes: Get as fresh as its cache allows
// (or fetched, with refresh), Cached without calling Salesforce;
// *describe.Cache implements it.
type Describes interface {
	Get(ctx context.Context, team, object string, refresh bool) (*salesforce.Describe, time.Time, error)
	Cached(ctx context.Context, team, object string) (*salesforce.Describe, time.Time, error)
}

var (
	_ Mappings  = (*mappingdb.Store)(nil)
	_ Describes = (*describe.Cache)(nil)
)

// Deps are what the handlers need.
type Deps struct {
	Store     Mappings
	Describes Describes
	Logger    *slog.Logger // nil: slog.Default()
}

// Register adds the field mapping routes to rt.
func Register(rt *httpapi.Router, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &handlers{Deps: d}
	rt.HandleFunc(RouteGet, h.get)
	rt.HandleFunc(RoutePut, h.put)
	rt.HandleFunc(RoutePreview, h.preview)
	rt.HandleFunc(RouteFields, h.fields)
}

type handlers struct{ Deps }

// fieldMapping is the body of GET and PUT (schema FieldMapping).
type fieldMapping struct {
	Object      string         `json:"object"`
	Version     int            `json:"version"`
	Default     bool           `json:"default"`
	EffectiveAt *time.Time     `json:"effective_at,omitempty"`
	UpdatedBy   string         `json:"updated_by,omitempty"`
	Fields      []mapping.Rule `json:"fields"`
	DescribedAt *time.Time     `json:"describe_fetched_at,omitempty"`
	Keeping     *int           `json:"contacts_keeping_previous_version,omitempty"`
	Note        string         `json:"note,omitempty"`
}

func response(v mapping.Version) fieldMapping {
	r := fieldMapping{Object: mapping.PathWord(v.Object), Version: v.Number, Default: v.Number == 0, Fields: v.Mapping.Fields}
	if r.Fields == nil {
		r.Fields = []mapping.Rule{}
	}
	if v.Number > 0 {
		at := v.SavedAt
		r.EffectiveAt, r.UpdatedBy = &at, v.Author
	}
	return r
}

// rejected is the 400 body of a mapping with problems (schema MappingRejected).
type rejected struct {
	Error    httpapi.ErrorDetail `json:"error"`
	Problems mapping.Problems    `json:"problems"`
}

func writeProblems(w http.ResponseWriter, ps mapping.Problems) {
	msg := ps[0].Message
	if len(ps) > 1 {
		msg = fmt.Sprintf("%d problems: %s", len(ps), ps.Error())
	}
	if len(msg) > 2000 {
		msg = msg[:2000] + "..."
	}
	httpapi.WriteJSON(w, http.StatusBadRequest, rejected{
		Error:    httpapi.ErrorDetail{Code: "invalid_mapping", Message: msg, Field: ps[0].Field},
		Problems: ps,
	})
}

func claims(r *http.Request) *httpapi.Claims { return httpapi.ClaimsFrom(r.Context()) }

func (h *handlers) object(w http.ResponseWriter, r *http.Request) (event.SalesforceObject, bool) {
	o, err := mapping.ObjectFromPath(r.PathValue("object"))
	if err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", "object: must be lead or contact", "object")
		return "", false
	}
	return o, true
}

// fail answers an error: bad input is a 400 naming the field, Salesforce
// and connection problems say what to do, anything else is a 500 logged once.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ps mapping.Problems
	var p *mapping.Problem
	var ve *policy.ValidationError
	switch {
	case errors.As(err, &ps) && len(ps) > 0:
		writeProblems(w, ps)
	case errors.As(err, &p):
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", p.Message, p.Field)
	case errors.As(err, &ve):
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", ve.Error(), ve.Field)
	case errors.Is(err, connection.ErrNotConnected):
		httpapi.WriteError(w, http.StatusConflict, "not_connected", "connect Salesforce first: a mapping is checked against the org's own fields", "")
	case connecthttp.WriteRefused(w, err):
	case errors.Is(err, salesforce.ErrRequestLimit):
		httpapi.WriteError(w, http.StatusTooManyRequests, "salesforce_limit", "the org's daily API limit is reached; the fields could not be read. Try again later", "")
	case errors.Is(err, salesforce.ErrTransient), errors.Is(err, salesforce.ErrConcurrentLimit), errors.Is(err, salesforce.ErrSessionExpired):
		h.Logger.WarnContext(r.Context(), "field mapping: salesforce unavailable", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		httpapi.WriteError(w, http.StatusBadGateway, "salesforce_unavailable", "Salesforce did not answer the request for the org's fields; try again", "")
	default:
		var api *salesforce.APIError
		if errors.As(err, &api) {
			h.Logger.WarnContext(r.Context(), "field mapping: salesforce refused describe", slog.String("path", r.URL.Path), slog.String("code", api.Code))
			httpapi.WriteError(w, http.StatusBadGateway, "salesforce_error", "Salesforce refused to describe the object ("+api.Code+"); check the connected user's permissions", "")
			return
		}
		h.Logger.ErrorContext(r.Context(), "field mapping request failed", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the field mapping could not be read or saved; try again", "")
	}
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	o, ok := h.object(w, r)
	if !ok {
		return
	}
	v, err := h.Store.Current(r.Context(), claims(r).TeamID, o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", httpapi.ETag(v.Number))
	httpapi.WriteJSON(w, http.StatusOK, response(v))
}

func conflict(w http.ResponseWriter, current int, known bool) {
	msg := "the mapping changed since the version in If-Match; nothing was saved. GET it again and reapply your change"
	if known {
		w.Header().Set("ETag", httpapi.ETag(current))
		msg = fmt.Sprintf("the current version is %d, not the one in If-Match; nothing was saved. GET it again and reapply your change", current)
	}
	httpapi.WriteError(w, http.StatusPreconditionFailed, "version_conflict", msg, "If-Match")
}

func refreshParam(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("refresh"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, &policy.ValidationError{Field: "refresh", Problem: "must be true or false"}
	}
}

func (h *handlers) put(w http.ResponseWriter, r *http.Request) {
	o, ok := h.object(w, r)
	if !ok {
		return
	}
	refresh, err := refreshParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	expected, ok := httpapi.IfMatch(w, r)
	if !ok {
		return
	}
	raw, ok := httpapi.ReadBody(w, r)
	if !ok {
		return
	}
	m, err := mapping.Parse(raw)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	c := claims(r)
	cur, err := h.Store.Current(ctx, c.TeamID, o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if expected != mappingdb.AnyVersion && expected != cur.Number {
		conflict(w, cur.Number, true)
		return
	}
	d, fetchedAt, err := h.Describes.Get(ctx, c.TeamID, string(o), refresh)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if ps := mapping.Preflight(o, m, d); len(ps) > 0 {
		writeProblems(w, ps)
		return
	}
	saved, err := h.Store.Save(ctx, c.TeamID, c.Subject, o, m, expected)
	if errors.Is(err, mappingdb.ErrVersionConflict) {
		now, cerr := h.Store.Current(ctx, c.TeamID, o)
		conflict(w, now.Number, cerr == nil)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := response(saved)
	resp.DescribedAt = &fetchedAt
	n, err := h.Store.SyncedBefore(ctx, c.TeamID, o, saved.Number)
	if err != nil {
		// Saved; only the count is missing. Say so rather than answer 500.
		h.Logger.WarnContext(ctx, "count contacts synced with older mappings", slog.String("object", string(o)), slog.String("error", err.Error()))
		resp.Note = "The new mapping applies to contacts synced from now on; contacts synced before keep the values they were synced with."
	} else {
		resp.Keeping = &n
		if n > 0 {
			resp.Note = fmt.Sprintf("The new mapping applies to contacts synced from now on; the %d %s synced before keep the values and the mapping version %s synced with and are not updated.",
				n, plural(n, "contact", "contacts"), plural(n, "it was", "they were"))
		}
	}
	w.Header().Set("ETag", httpapi.ETag(saved.Number))
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// previewResponse is the body of a preview (schema PreviewResponse).
type previewResponse struct {
	Object         string           `json:"object"`
	MappingVersion *int             `json:"mapping_version,omitempty"`
	Proposed       bool             `json:"proposed"`
	Typed          bool             `json:"typed"`
	DescribedAt    *time.Time       `json:"describe_fetched_at,omitempty"`
	Record         map[string]any   `json:"record"`
	Problems       mapping.Problems `json:"problems,omitempty"`
}

func (h *handlers) preview(w http.ResponseWriter, r *http.Request) {
	o, ok := h.object(w, r)
	if !ok {
		return
	}
	raw, ok := httpapi.ReadBody(w, r)
	if !ok {
		return
	}
	contact, proposed, err := parsePreview(raw)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := r.Context()
	team := claims(r).TeamID
	resp := previewResponse{Object: string(o)}
	var m mapping.Mapping
	if proposed != nil {
		m, resp.Proposed = *proposed, true
	} else {
		v, err := h.Store.Current(ctx, team, o)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		m, resp.MappingVersion = v.Mapping, &v.Number
	}
	d, at, err := h.Describes.Cached(ctx, team, string(o))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if d != nil {
		resp.Typed, resp.DescribedAt = true, &at
		if proposed != nil {
			resp.Problems = mapping.Preflight(o, m, d)
		}
	}
	rec, err := mapping.Render(o, m, d, contact)
	var ve *mapping.ValueError
	var tooLarge *mapping.RecordTooLargeError
	switch {
	case errors.As(err, &ve):
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_value", "contact: "+ve.Error(), "contact")
		return
	case errors.As(err, &tooLarge):
		httpapi.WriteError(w, http.StatusBadRequest, "record_too_large", "contact: "+tooLarge.Error(), "contact")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp.Record = map[string]any{}
	for k, v := range rec {
		if k != "attributes" {
			resp.Record[k] = v
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// orgFields is the body of GET .../fields (schema OrgFields).
type orgFields struct {
	Object      string     `json:"object"`
	DescribedAt time.Time  `json:"describe_fetched_at"`
	Fields      []orgField `json:"fields"`
}

// orgField is one field a mapping may fill.
type orgField struct {
	Name       string `json:"name"`
	Label      string `json:"label"`
	Type       string `json:"type"`
	Length     int    `json:"length"`
	Required   bool   `json:"required"` // a create must give it a value
	Updateable bool   `json:"updateable"`
}

// fields answers the org's fields of the object that the connected user
// can create, sorted by label, from the team's describe cache (fetched
// from the org only when none is cached or it is older than its TTL).
func (h *handlers) fields(w http.ResponseWriter, r *http.Request) {
	o, ok := h.object(w, r)
	if !ok {
		return
	}
	d, at, err := h.Describes.Get(r.Context(), claims(r).TeamID, string(o), false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, orgFields{Object: string(o), DescribedAt: at.UTC(), Fields: createable(d)})
}

// createable lists d's fields the connected user can create, by label
// (case-insensitively), then by name.
func createable(d *salesforce.Describe) []orgField {
	out := []orgField{}
	if d == nil {
		return out
	}
	for _, f := range d.Fields {
		if f.Createable {
			out = append(out, orgField{Name: f.Name, Label: f.Label, Type: f.Type, Length: f.Length, Required: f.RequiredOnCreate(), Updateable: f.Updateable})
		}
	}
	slices.SortFunc(out, func(a, b orgField) int {
		if c := strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// parsePreview reads {"contact": {...}, "mapping": {"fields": [...]}?}.
func parsePreview(raw []byte) (event.Contact, *mapping.Mapping, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return event.Contact{}, nil, &policy.ValidationError{Field: "body", Problem: "must be a JSON object with contact and, optionally, mapping"}
	}
	for k := range top {
		if k != "contact" && k != "mapping" {
			return event.Contact{}, nil, &policy.ValidationError{Field: clipKey(k), Problem: "unknown field; a preview takes contact and mapping"}
		}
	}
	cr, ok := top["contact"]
	if !ok || bytes.Equal(bytes.TrimSpace(cr), []byte("null")) {
		return event.Contact{}, nil, &policy.ValidationError{Field: "contact", Problem: "is required: the sample contact to render"}
	}
	var c event.Contact
	dec := json.NewDecoder(bytes.NewReader(cr))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return event.Contact{}, nil, &policy.ValidationError{Field: "contact." + te.Field, Problem: "must be a string"}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return event.Contact{}, nil, &policy.ValidationError{Field: "contact." + clipKey(name), Problem: "unknown field; a contact holds id, email, first_name, last_name, company, title, phone, website, linkedin_url and custom"}
		default:
			return event.Contact{}, nil, &policy.ValidationError{Field: "contact", Problem: "must be an object of strings (custom: an object of strings)"}
		}
	}
	if err := checkSample(c); err != nil {
		return event.Contact{}, nil, err
	}
	mr, ok := top["mapping"]
	if !ok || bytes.Equal(bytes.TrimSpace(mr), []byte("null")) {
		return c, nil, nil
	}
	m, err := mapping.ParseValue(mr, "mapping.")
	if err != nil {
		return event.Contact{}, nil, err
	}
	return c, &m, nil
}

// checkSample holds a sample contact to the event contract's lengths, so a
// preview renders only contacts a sync could receive.
func checkSample(c event.Contact) error {
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"id", c.ID, event.MaxIDLength}, {"email", c.Email, event.MaxEmailLength},
		{"first_name", c.FirstName, event.MaxNameLength}, {"last_name", c.LastName, event.MaxNameLength},
		{"company", c.Company, event.MaxNameLength}, {"title", c.Title, event.MaxNameLength},
		{"phone", c.Phone, event.MaxNameLength}, {"website", c.Website, event.MaxWebLength},
		{"linkedin_url", c.LinkedInURL, event.MaxWebLength},
	} {
		if utf8.RuneCountInString(f.value) > f.max {
			return &policy.ValidationError{Field: "contact." + f.name, Problem: fmt.Sprintf("longer than %d characters", f.max)}
		}
	}
	if n := len(c.Custom); n > event.MaxCustomFields {
		return &policy.ValidationError{Field: "contact.custom", Problem: fmt.Sprintf("%d fields exceed the limit of %d", n, event.MaxCustomFields)}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Custom)) {
		v := c.Custom[k]
		if utf8.RuneCountInString(k) > event.MaxCustomKey {
			return &policy.ValidationError{Field: "contact.custom." + clipKey(k), Problem: fmt.Sprintf("field names hold at most %d characters", event.MaxCustomKey)}
		}
		if utf8.RuneCountInString(v) > event.MaxCustomValue {
			return &policy.ValidationError{Field: "contact.custom." + clipKey(k), Problem: fmt.Sprintf("longer than %d characters", event.MaxCustomValue)}
		}
	}
	return nil
}

func clipKey(k string) string {
	if r := []rune(k); len(r) > 60 {
		return string(r[:60]) + "..."
	}
	return k
}
