package org

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sfsync/sfsync/tools/sfsim/soql"
)

// maxQueryLength is Salesforce's default limit on a SOQL statement.
const maxQueryLength = 100000

// maxCursors is how many open query locators the org keeps; older ones become invalid.
const maxCursors = 500

type cursor struct {
	object  string
	records []orderedRecord
	size    int
}

// schemaView adapts the org's metadata to the SOQL parser.
type schemaView struct{ o *Org }

func kindOf(t FieldType) soql.FieldKind {
	switch t {
	case TypeID:
		return soql.KindID
	case TypeReference:
		return soql.KindReference
	case TypeBoolean:
		return soql.KindBool
	case TypeDouble, TypeInt, TypeCurrency:
		return soql.KindNumber
	case TypeDate:
		return soql.KindDate
	case TypeDateTime:
		return soql.KindDateTime
	}
	return soql.KindString
}

func (v schemaView) Fields(object string) (map[string]soql.FieldKind, bool) {
	s, ok := v.o.objectByName(object)
	if !ok {
		return nil, false
	}
	out := make(map[string]soql.FieldKind, len(s.fields))
	for _, f := range s.fields {
		out[f.Name] = kindOf(f.Type)
	}
	return out, true
}

func (v schemaView) ObjectName(name string) (string, bool) {
	s, ok := v.o.objectByName(name)
	if !ok {
		return "", false
	}
	return s.Name, true
}

func (o *Org) queryLocked(r *request, q string) response {
	if strings.TrimSpace(q) == "" {
		return errResponse(400, errNoFields("MALFORMED_QUERY", "A query string has to be specified"))
	}
	if len([]rune(q)) > maxQueryLength {
		return errResponse(400, errNoFields("MALFORMED_QUERY", fmt.Sprintf("SOQL statements cannot be longer than %d characters", maxQueryLength)))
	}
	parsed, err := soql.Parse(q, schemaView{o})
	if err != nil {
		var se *soql.Error
		if errors.As(err, &se) {
			return errResponse(400, errNoFields(se.Code, se.Message))
		}
		return errResponse(400, errNoFields("MALFORMED_QUERY", err.Error()))
	}
	obj := parsed.Object()
	var matched []map[string]any
	store := o.records[obj]
	if s, _ := o.objectByName(obj); s.setup {
		store = o.setupRecordsLocked(obj)
	}
	for _, id := range sortedIDs(store) {
		if rec := store[id]; o.visibleLocked(obj, rec) && parsed.Match(rec) {
			matched = append(matched, rec)
		}
	}
	parsed.Sort(matched)
	if n, ok := parsed.Limit(); ok && n < len(matched) {
		matched = matched[:n]
	}
	fields := parsed.Fields()
	recs := make([]orderedRecord, len(matched))
	for i, rec := range matched {
		recs[i] = project(obj, strOf(rec["Id"]), r.version, rec, fields)
	}
	size := o.cfg.PageSize
	if bs, ok := batchSize(r.header.Get("Sforce-Query-Options")); ok {
		size = bs
	}
	c := &cursor{object: obj, records: recs, size: size}
	return o.pageLocked(r, c, "", 0)
}

// batchSize reads Sforce-Query-Options: batchSize=N (200..2000; a hint).
func batchSize(h string) (int, bool) {
	for _, part := range strings.Split(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if strings.EqualFold(strings.TrimSpace(k), "batchSize") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0, false
			}
			return min(max(n, 200), 2000), true
		}
	}
	return 0, false
}

// pageLocked returns the page of c starting at offset, registering a locator when
// more pages follow.
func (o *Org) pageLocked(r *request, c *cursor, id string, offset int) response {
	end := min(offset+c.size, len(c.records))
	page := c.records[offset:end]
	if page == nil {
		page = []orderedRecord{}
	}
	body := map[string]any{"totalSize": len(c.records), "done": end >= len(c.records), "records": page}
	if end < len(c.records) {
		if id == "" {
			o.seq++
			id = makeID("01g", "5g", o.seq+1000)[:15]
			o.cursors[id] = c
			o.cursorQ = append(o.cursorQ, id)
			if len(o.cursorQ) > maxCursors {
				delete(o.cursors, o.cursorQ[0])
				o.cursorQ = o.cursorQ[1:]
			}
		}
		body["nextRecordsUrl"] = fmt.Sprintf("/services/data/v%s/query/%s-%d", r.version, id, end)
	}
	return response{status: 200, body: body}
}

func (o *Org) queryMoreLocked(r *request, locator string) response {
	bad := errResponse(400, errNoFields("INVALID_QUERY_LOCATOR", "invalid query locator"))
	i := strings.LastIndexByte(locator, '-')
	if i < 0 {
		return bad
	}
	id := locator[:i]
	offset, err := strconv.Atoi(locator[i+1:])
	c, ok := o.cursors[id]
	if err != nil || !ok || offset <= 0 || offset >= len(c.records) {
		return bad
	}
	return o.pageLocked(r, c, id, offset)
}
