package policydb

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sfsync/sfsync/shared/policy"
)

// storedItem is a policy version as items have always been stored: what
// the store writes and reads must stay this, attribute for attribute.
type storedItem[T any] struct {
	PK          string `json:"pk"`
	SK          string `json:"sk"`
	Version     int    `json:"version"`
	EffectiveNS int64  `json:"effective_ns"`
	EffectiveAt string `json:"effective_at"`
	Author      string `json:"author"`
	Doc         T      `json:"doc"`
}

// oneVersion is a policies table whose documents are at version 1 (the
// stored item head), which keeps the transactions sent to it.
type oneVersion struct {
	API
	head map[string]any
	sent []*dynamodb.TransactWriteItemsInput
}

func (o *oneVersion) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	item, err := attributevalue.MarshalMap(o.head)
	return &dynamodb.GetItemOutput{Item: item}, err
}

func (o *oneVersion) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	o.sent = append(o.sent, in)
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// TestSaveKeepsTheStoredLayout: a save writes the version and the HEAD as
// policies have always been stored, the HEAD on the condition that it still
// holds the version read.
func TestSaveKeepsTheStoredLayout(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	db := &oneVersion{head: map[string]any{"version": 1, "effective_ns": at.Add(-time.Hour).UnixNano()}}
	s := New(db, "policies", "ledger")
	s.Now = func() time.Time { return at }
	doc := policy.DefaultSequenceOverride()
	if _, err := s.SaveSequenceOverride(context.Background(), "t", "q", "ada", doc, 1); err != nil {
		t.Fatal(err)
	}
	if len(db.sent) != 1 || len(db.sent[0].TransactItems) != 2 {
		t.Fatalf("got %d transactions; want one of two writes", len(db.sent))
	}
	for i, c := range []struct{ sk, cond string }{
		{"OVERRIDE#v0000000002", "attribute_not_exists (#0)"},
		{"OVERRIDE#HEAD", "#0 = :0"},
	} {
		want, err := attributevalue.MarshalMapWithOptions(storedItem[policy.SequenceOverride]{PK: "TEAM#t#SEQ#q", SK: c.sk, Version: 2,
			EffectiveNS: at.UnixNano(), EffectiveAt: "2026-01-02T03:04:05.000006Z", Author: "ada", Doc: doc},
			func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
		if err != nil {
			t.Fatal(err)
		}
		put := db.sent[0].TransactItems[i].Put
		if !reflect.DeepEqual(put.Item, want) {
			t.Errorf("%s: got %v; want %v", c.sk, put.Item, want)
		}
		if got := *put.ConditionExpression; got != c.cond {
			t.Errorf("%s: got condition %q; want %q", c.sk, got, c.cond)
		}
	}
	if got := db.sent[0].TransactItems[1].Put.ExpressionAttributeNames; !reflect.DeepEqual(got, map[string]string{"#0": "version"}) {
		t.Errorf("HEAD condition names: got %v; want #0 version", got)
	}
}

// TestOlderTeamSettingsReadAsDefaults: a settings item stored before the
// owner, Account, free-mail and time zone settings existed has none of
// their attributes; it reads with them unset, which the accessors take as
// the defaults.
func TestOlderTeamSettingsReadAsDefaults(t *testing.T) {
	at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	db := &oneVersion{head: map[string]any{"version": 4, "effective_ns": at.UnixNano(), "author": "ada",
		"doc": map[string]any{"sync_as": "contact", "sync_mode": "on_add", "deduplication": true, "activity_tracking": true,
			"activity_kinds": map[string]bool{"sent": true}, "api_budget_percent": 40, "held_event_max_days": 7}}}
	v, err := New(db, "policies", "ledger").TeamSettings(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	d := v.Document
	if v.Number != 4 || d.SyncAs != policy.SyncAsContact || d.APIBudgetPercent != 40 {
		t.Fatalf("got %+v; want version 4 as stored", v)
	}
	if d.Owner != "" || d.OwnerFallbackUserID != "" || d.AccountMatching != "" || d.AccountFallback != "" || d.FreeMailDomains != nil || d.TimeZone != "" {
		t.Errorf("new settings: got %+v; want all unset", d)
	}
	if got, want := [3]string{string(d.OwnerRule()), string(d.AccountMatchingRule()), string(d.AccountFallbackRule())}, [3]string{"rep", "domain", "create"}; got != want {
		t.Errorf("accessors: got %v; want %v", got, want)
	}
	if d.BounceWritebackSetting != nil || d.OptOutWritebackSetting != nil || d.RetentionDays != 0 {
		t.Errorf("lifecycle settings: got %v, %v, %v; want all unset", d.BounceWritebackSetting, d.OptOutWritebackSetting, d.RetentionDays)
	}
	if got, want := [3]any{d.BounceWriteback(), d.OptOutWriteback(), d.Retention()}, [3]any{true, true, 400 * 24 * time.Hour}; got != want {
		t.Errorf("lifecycle accessors: got %v; want %v", got, want)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("Validate: got %v; want nil", err)
	}
}

// TestTeamSettingsStoredLayout: the new settings are stored under their
// JSON names, free-mail domains as a list, a write-back switched off as
// false; an unset fallback user and time zone are left out.
func TestTeamSettingsStoredLayout(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db := &oneVersion{head: map[string]any{"version": 1, "effective_ns": at.Add(-time.Hour).UnixNano()}}
	s := New(db, "policies", "ledger")
	s.Now = func() time.Time { return at }
	doc := policy.DefaultTeamSettings()
	doc.Owner, doc.FreeMailDomains = policy.OwnerFallbackOnly, []string{"gmx.net"}
	doc.SetBounceWriteback(false)
	doc.RetentionDays = 90
	if _, err := s.SaveTeamSettings(context.Background(), "t", "ada", doc, 1); err != nil {
		t.Fatal(err)
	}
	if len(db.sent) != 1 {
		t.Fatalf("got %d transactions; want 1", len(db.sent))
	}
	var stored map[string]any
	if err := attributevalue.Unmarshal(db.sent[0].TransactItems[0].Put.Item["doc"], &stored); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"owner": "fallback_only", "account_matching": "domain", "account_fallback": "create", "free_mail_domains": []any{"gmx.net"},
		"bounce_writeback": false, "optout_writeback": true, "retention_days": 90.0}
	for k, w := range want {
		if got := stored[k]; !reflect.DeepEqual(got, w) {
			t.Errorf("doc.%s: got %#v; want %#v", k, got, w)
		}
	}
	for _, k := range []string{"owner_fallback_user_id", "time_zone"} {
		if got, ok := stored[k]; ok {
			t.Errorf("doc.%s: got %#v; want it left out when unset", k, got)
		}
	}
}

// TestUnsetWritebacksAreLeftOut: a version whose write-back switches are
// unset (as saved before they existed) is stored without them, so it
// reads back unset: on.
func TestUnsetWritebacksAreLeftOut(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db := &oneVersion{head: map[string]any{"version": 1, "effective_ns": at.Add(-time.Hour).UnixNano()}}
	s := New(db, "policies", "ledger")
	s.Now = func() time.Time { return at }
	doc := policy.DefaultTeamSettings()
	doc.BounceWritebackSetting, doc.OptOutWritebackSetting = nil, nil
	if _, err := s.SaveTeamSettings(context.Background(), "t", "ada", doc, 1); err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	if err := attributevalue.Unmarshal(db.sent[0].TransactItems[0].Put.Item["doc"], &stored); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bounce_writeback", "optout_writeback"} {
		if got, ok := stored[k]; ok {
			t.Errorf("doc.%s: got %#v; want it left out when unset", k, got)
		}
	}
}
