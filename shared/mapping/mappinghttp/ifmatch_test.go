package mappinghttp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/mapping/mappingdb"
	"github.com/sfsync/sfsync/shared/mapping/mappinghttp"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// memMappings keeps one team's Lead mapping in memory, as the DynamoDB
// store does: a save lands only on the version it expects (AnyVersion: on
// whatever is current), else it wraps mappingdb.ErrVersionConflict.
type memMappings struct {
	mu    sync.Mutex
	saved []mapping.Version // version n at n-1
	saves int               // saves tried
}

func (s *memMappings) Current(_ context.Context, _ string, o event.SalesforceObject) (mapping.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.saved) == 0 {
		return mapping.Version{Object: o, Mapping: mapping.Default(o)}, nil
	}
	return s.saved[len(s.saved)-1], nil
}

func (s *memMappings) Save(_ context.Context, _, author string, o event.SalesforceObject, m mapping.Mapping, expected int) (mapping.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if expected == mappingdb.AnyVersion {
		expected = len(s.saved)
	}
	if expected != len(s.saved) {
		return mapping.Version{}, fmt.Errorf("save %s mapping: expected version %d, current is %d: %w", o, expected, len(s.saved), mappingdb.ErrVersionConflict)
	}
	v := mapping.Version{Object: o, Number: expected + 1, SavedAt: time.Unix(int64(expected+1), 0).UTC(), Author: author, Mapping: m}
	s.saved = append(s.saved, v)
	return v, nil
}

func (s *memMappings) SyncedBefore(context.Context, string, event.SalesforceObject, int) (int, error) {
	return 0, nil
}

func (s *memMappings) tried() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// leadDescribe is an org's Lead with the fields leadBody maps, none of
// them required.
type leadDescribe struct {
	mu   sync.Mutex
	gets int // describes asked of the org (Get)
}

func (d *leadDescribe) describe() *salesforce.Describe {
	out := &salesforce.Describe{Name: "Lead", Createable: true}
	for _, f := range []struct{ name, typ string }{
		{"FirstName", "string"}, {"LastName", "string"}, {"Company", "string"}, {"Email", "email"}, {"Segment__c", "string"},
	} {
		out.Fields = append(out.Fields, salesforce.DescribeField{Name: f.name, Type: f.typ, Length: 80, Nillable: true, Createable: true})
	}
	return out
}

func (d *leadDescribe) Get(context.Context, string, string, bool) (*salesforce.Describe, time.Time, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gets++
	return d.describe(), time.Unix(0, 0).UTC(), nil
}

func (d *leadDescribe) Cached(context.Context, string, string) (*salesforce.Describe, time.Time, error) {
	return d.describe(), time.Unix(0, 0).UTC(), nil
}

func (d *leadDescribe) asked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gets
}

// TestPutRequiresTheCurrentIfMatch: a PUT must name the version it
// changed. Without If-Match it is 428, a malformed one 400, and one that
// is no longer current (or weak) 412 with the current ETag, refused before
// the org is asked for its fields or a save is tried; the current version
// or * saves. Runs without a database.
func TestPutRequiresTheCurrentIfMatch(t *testing.T) {
	t.Parallel()
	store := &memMappings{}
	org := &leadDescribe{}
	rt := httpapi.NewRouter()
	mappinghttp.Register(rt, mappinghttp.Deps{Store: store, Describes: org, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	put := func(tag string) (int, string, string) {
		req := httptest.NewRequest("PUT", "/v1/salesforce/field-mappings/lead", strings.NewReader(leadBody()))
		req.Header.Set("Content-Type", "application/json")
		if tag != "" {
			req.Header.Set("If-Match", tag)
		}
		req = req.WithContext(httpapi.WithClaims(req.Context(), &httpapi.Claims{TeamID: "team_a", Role: "admin", Subject: "admin-of-team_a"}))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		return rec.Code, rec.Header().Get("ETag"), rec.Body.String()
	}
	for _, c := range []struct {
		name, tag string
		code      int
		etag      string
		errCode   string // the error code of a refusal
		asks      int    // describes asked of the org by this PUT
		saves     int    // saves tried by this PUT
	}{
		{"no If-Match", "", 428, "", "precondition_required", 0, 0},
		{"malformed If-Match", "3", 400, "", "invalid_request", 0, 0},
		{"a version never saved", `"1"`, 412, `"0"`, "version_conflict", 0, 0},
		{"from the default", `"0"`, 200, `"1"`, "", 1, 1},
		{"stale", `"0"`, 412, `"1"`, "version_conflict", 0, 0},
		{"weak tag of the current version", `W/"1"`, 412, `"1"`, "version_conflict", 0, 0},
		{"current", `"1"`, 200, `"2"`, "", 1, 1},
		{"any", `*`, 200, `"3"`, "", 1, 1},
	} {
		asks, saves := org.asked(), store.tried()
		code, etag, body := put(c.tag)
		if code != c.code || etag != c.etag {
			t.Errorf("%s: got %d ETag %q %s; want %d ETag %q", c.name, code, etag, body, c.code, c.etag)
		}
		if c.errCode != "" && !strings.Contains(body, `"code":"`+c.errCode+`"`) {
			t.Errorf("%s: got %s; want error code %s", c.name, body, c.errCode)
		}
		if got := org.asked() - asks; got != c.asks {
			t.Errorf("%s: got %d describes asked of the org; want %d", c.name, got, c.asks)
		}
		if got := store.tried() - saves; got != c.saves {
			t.Errorf("%s: got %d saves tried; want %d", c.name, got, c.saves)
		}
	}
}
