package mappingdb

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/mapping"
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
