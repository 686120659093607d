package mappingdb

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// headOnly is a policies table holding one team's HEAD mapping item; a test
// replaces it to save a new version.
type headOnly struct {
	API
	mu    sync.Mutex
	head  map[string]types.AttributeValue
	reads int
}

func (h *headOnly) save(t *testing.T, version int, m mapping.Mapping) {
	t.Helper()
	it, err := attributevalue.MarshalMapWithOptions(storedItem{PK: "TEAM#team_a", SK: "MAPPING#Lead#HEAD", Object: "Lead", Version: version, Mapping: m},
		func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	h.mu.Lock()
	h.head = it
	h.mu.Unlock()
}

func (h *headOnly) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	return &dynamodb.GetItemOutput{Item: h.head}, nil
}

// TestRendererParsesEachVersionOnce: a renderer that reads the mapping for
// every contact (ReuseFor 0) still parses a version's templates once, and
// parses again only when a new version is saved.
func TestRendererParsesEachVersionOnce(t *testing.T) {
	t.Parallel()
	db := &headOnly{}
	m := mapping.Mapping{Fields: []mapping.Rule{{SalesforceField: "Description", Source: mapping.Source{Template: "{{first_name}} at {{company}}"}}}}
	db.save(t, 1, m)
	r := &Renderer{Store: New(db, "policies")}
	ctx := context.Background()
	render := func(c event.Contact) (*mapping.Compiled, string) {
		t.Helper()
		rec, _, err := r.Render(ctx, "team_a", event.ObjectLead, c)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		s, _ := rec["Description"].(string)
		return r.compiled[renderKey{"team_a", event.ObjectLead}].compiled, s
	}
	first, got := render(event.Contact{Email: "ada@example.com", FirstName: "Ada", Company: "Engines"})
	if got != "Ada at Engines" {
		t.Fatalf("got %q; want %q", got, "Ada at Engines")
	}
	second, got := render(event.Contact{Email: "grace@example.com", FirstName: "Grace", Company: "Navy"})
	if second != first || got != "Grace at Navy" {
		t.Errorf("second contact, same version: got %p %q; want the parse of the first contact %p and %q", second, got, first, "Grace at Navy")
	}
	if db.reads != 2 {
		t.Errorf("got %d reads; want 2 (ReuseFor 0 reads the version for every contact)", db.reads)
	}
	m.Fields[0].Source.Template = "{{company}}"
	db.save(t, 2, m)
	third, got := render(event.Contact{Email: "ada@example.com", FirstName: "Ada", Company: "Engines"})
	if third == first || got != "Engines" {
		t.Errorf("new version: got %p %q; want a new parse and %q", third, got, "Engines")
	}
}

// countedDescribes is a describe cache that counts its reads.
type countedDescribes struct{ reads int }

func (c *countedDescribes) Cached(context.Context, string, string) (*salesforce.Describe, time.Time, error) {
	c.reads++
	return &salesforce.Describe{Name: "Lead"}, time.Time{}, nil
}

// TestRendererKeepsTheDescribeWhileTheMappingStays: the mapping is read
// again once ReuseFor has passed, the describe only once DescribeFor has
// passed or the mapping version changed (its save refreshed the describe).
func TestRendererKeepsTheDescribeWhileTheMappingStays(t *testing.T) {
	t.Parallel()
	db := &headOnly{}
	m := mapping.Mapping{Fields: []mapping.Rule{{SalesforceField: "Description", Source: mapping.Source{Template: "{{company}}"}}}}
	db.save(t, 1, m)
	d := &countedDescribes{}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := &Renderer{Store: New(db, "policies"), Describes: d, ReuseFor: 5 * time.Second, DescribeFor: 5 * time.Minute,
		Now: func() time.Time { return now }}
	steps := []struct {
		name              string
		after             time.Duration
		save              int // a new mapping version saved first, when set
		wantMappingReads  int
		wantDescribeReads int
	}{
		{"first render", 0, 0, 1, 1},
		{"within ReuseFor", time.Second, 0, 1, 1},
		{"mapping read again, same version: describe kept", 10 * time.Second, 0, 2, 1},
		{"a new mapping version: describe read again", 10 * time.Second, 2, 3, 2},
		{"same version again", 10 * time.Second, 0, 4, 2},
		{"past DescribeFor: describe read again", 5 * time.Minute, 0, 5, 3},
	}
	for _, st := range steps {
		now = now.Add(st.after)
		if st.save > 0 {
			db.save(t, st.save, m)
		}
		if _, v, err := r.Render(context.Background(), "team_a", event.ObjectLead, event.Contact{Email: "ada@example.com", Company: "Engines"}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		} else if want := max(st.save, 1); st.save > 0 && v != want {
			t.Errorf("%s: got version %d; want %d", st.name, v, want)
		}
		if db.reads != st.wantMappingReads || d.reads != st.wantDescribeReads {
			t.Errorf("%s: got %d mapping and %d describe reads; want %d and %d", st.name, db.reads, d.reads, st.wantMappingReads, st.wantDescribeReads)
		}
	}
}

// TestRendererKeepsBoundedState: a process serving many teams keeps at most
// maxKept teams' mappings and describes.
func TestRendererKeepsBoundedState(t *testing.T) {
	t.Parallel()
	db := &headOnly{}
	db.save(t, 1, mapping.Mapping{Fields: []mapping.Rule{{SalesforceField: "Description", Source: mapping.Source{Template: "{{company}}"}}}})
	r := &Renderer{Store: New(db, "policies"), Describes: &countedDescribes{}, ReuseFor: time.Minute, DescribeFor: time.Hour}
	for i := range maxKept + 50 {
		if _, _, err := r.Render(context.Background(), fmt.Sprintf("team_%d", i), event.ObjectLead, event.Contact{Email: "a@example.com"}); err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		n := len(r.cache)
		r.mu.Unlock()
		if n > maxKept {
			t.Fatalf("after %d teams: got %d kept; want at most %d", i+1, n, maxKept)
		}
	}
}
