package event

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func validOutcome() Outcome {
	return Outcome{
		ID: "out_1", Type: ContactOutcome, Version: Version, TeamID: "team_acme", EventID: "evt_1",
		ContactID: "ct_1", SequenceID: "seq_1", Status: StatusCreated,
		Salesforce: &SalesforceRef{Object: ObjectLead, ID: "00Q5g00000KzF3aEAF"},
		At:         time.Date(2026, 11, 26, 10, 0, 2, 0, time.UTC),
	}
}

// TestOutcomeRules holds Outcome.Validate and the outcome schema to the same
// rules.
func TestOutcomeRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(o *Outcome)
		field  string // "" when the outcome is valid
	}{
		{"created lead", func(o *Outcome) {}, ""},
		{"linked contact", func(o *Outcome) { o.Status = StatusLinked; o.Salesforce.Object = ObjectContact }, ""},
		{"updated lead, no sequence", func(o *Outcome) { o.Status, o.SequenceID = StatusUpdated, "" }, ""},
		{"updated contact", func(o *Outcome) { o.Status, o.Salesforce.Object = StatusUpdated, ObjectContact }, ""},
		{"updated task", func(o *Outcome) { o.Status, o.Salesforce.Object = StatusUpdated, ObjectTask }, "salesforce.object"},
		{"updated without record", func(o *Outcome) { o.Status, o.Salesforce = StatusUpdated, nil }, "salesforce"},
		{"updated activity", func(o *Outcome) { o.Type, o.Status = ActivityOutcome, StatusUpdated }, "status"},
		{"updated dedup", func(o *Outcome) { o.Type, o.Status, o.SequenceID = DedupOutcome, StatusUpdated, "" }, "status"},
		{"skipped not_synced", func(o *Outcome) {
			o.Status, o.Salesforce, o.Reason, o.SequenceID = StatusSkipped, nil, ReasonNotSynced, ""
		}, ""},
		{"skipped optout_writeback_off", func(o *Outcome) {
			o.Status, o.Salesforce, o.Reason, o.SequenceID = StatusSkipped, nil, ReasonOptOutWritebackOff, ""
		}, ""},
		{"15-character id", func(o *Outcome) { o.Salesforce.ID = "00Q5g00000KzF3a" }, ""},
		{"task created", func(o *Outcome) { o.Type = ActivityOutcome; o.Salesforce.Object = ObjectTask }, ""},
		{"dedup miss", func(o *Outcome) {
			o.Type, o.Status, o.Salesforce, o.SequenceID = DedupOutcome, StatusNotInSalesforce, nil, ""
		}, ""},
		{"skipped with reason", func(o *Outcome) { o.Status, o.Salesforce, o.Reason = StatusSkipped, nil, ReasonNotConnected }, ""},
		{"failed with error", func(o *Outcome) {
			o.Status, o.Salesforce = StatusFailed, nil
			o.Error = &OutcomeError{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: x", Fields: []string{"Email"}}
		}, ""},
		{"missing id", func(o *Outcome) { o.ID = "" }, "id"},
		{"missing event_id", func(o *Outcome) { o.EventID = "" }, "event_id"},
		{"bad sequence_id", func(o *Outcome) { o.SequenceID = "seq 1" }, "sequence_id"},
		{"version 2", func(o *Outcome) { o.Version = 2 }, "version"},
		{"unknown type", func(o *Outcome) { o.Type = "contact.deleted" }, "type"},
		{"linked activity", func(o *Outcome) { o.Type, o.Status = ActivityOutcome, StatusLinked }, "status"},
		{"dedup created", func(o *Outcome) { o.Type = DedupOutcome }, "status"},
		{"unknown status", func(o *Outcome) { o.Status = "done" }, "status"},
		{"created without record", func(o *Outcome) { o.Salesforce = nil }, "salesforce"},
		{"exists without record", func(o *Outcome) { o.Type, o.Status, o.Salesforce = DedupOutcome, StatusExistsInSalesforce, nil }, "salesforce"},
		{"bad record id", func(o *Outcome) { o.Salesforce.ID = "00Q-bad" }, "salesforce.id"},
		{"unknown object", func(o *Outcome) { o.Salesforce.Object = "Account" }, "salesforce.object"},
		{"failed without error", func(o *Outcome) { o.Status, o.Salesforce = StatusFailed, nil }, "error"},
		{"lower-case error code", func(o *Outcome) {
			o.Status, o.Error = StatusFailed, &OutcomeError{Code: "invalid", Message: "x"}
		}, "error.code"},
		{"bad error field", func(o *Outcome) {
			o.Status, o.Error = StatusFailed, &OutcomeError{Code: "INVALID_FIELD", Message: "x", Fields: []string{"Last Name"}}
		}, "error.fields[0]"},
		{"long error message", func(o *Outcome) {
			o.Status, o.Error = StatusFailed, &OutcomeError{Code: "UNKNOWN", Message: strings.Repeat("x", MaxErrorMessage+1)}
		}, "error.message"},
		{"skipped without reason", func(o *Outcome) { o.Status, o.Salesforce = StatusSkipped, nil }, "reason"},
		{"pending without reason", func(o *Outcome) { o.Status, o.Salesforce = StatusPending, nil }, "reason"},
		{"reason not a machine word", func(o *Outcome) { o.Status, o.Reason = StatusSkipped, "Sync Disabled" }, "reason"},
		{"missing at", func(o *Outcome) { o.At = time.Time{} }, "at"},
		{"lead owned by the rep", func(o *Outcome) {
			o.Salesforce.OwnerID, o.Salesforce.Match = "0055g00000Ab1CdAAJ", &Match{Owner: OwnerRep, Detail: "the rep is the active user"}
		}, ""},
		{"lead left to assignment rules", func(o *Outcome) { o.Salesforce.Match = &Match{Owner: OwnerAssignmentRules} }, ""},
		{"contact under a matched account", func(o *Outcome) {
			o.Salesforce.Object, o.Salesforce.OwnerID, o.Salesforce.AccountID = ObjectContact, "0055g00000Zq7Rt", "0015g00000XyZ9kAAF"
			o.Salesforce.Match = &Match{Owner: OwnerFallback, Account: AccountDomain, Detail: strings.Repeat("é", MaxMatchDetail)}
		}, ""},
		{"contact under a created account", func(o *Outcome) {
			o.Salesforce.Object, o.Salesforce.AccountID, o.Salesforce.Match = ObjectContact, "0015g00000XyZ9kAAF", &Match{Account: AccountCreated}
		}, ""},
		{"account matched by name", func(o *Outcome) {
			o.Salesforce.Object, o.Salesforce.Match = ObjectContact, &Match{Account: AccountName}
		}, ""},
		{"task owned by the fallback", func(o *Outcome) {
			o.Type, o.Salesforce.Object, o.Salesforce.OwnerID = ActivityOutcome, ObjectTask, "0055g00000Zq7RtAAB"
			o.Salesforce.Match = &Match{Owner: OwnerFallback}
		}, ""},
		{"no_account lead", func(o *Outcome) {
			o.Reason, o.Salesforce.Match = ReasonNoAccount, &Match{Owner: OwnerRep, Account: AccountNone}
		}, ""},
		{"private_contact", func(o *Outcome) {
			o.Reason, o.Salesforce.Object, o.Salesforce.Match = ReasonPrivateContact, ObjectContact, &Match{Account: AccountPrivate}
		}, ""},
		{"bad owner_id", func(o *Outcome) { o.Salesforce.OwnerID = "005-bad" }, "salesforce.owner_id"},
		{"bad account_id", func(o *Outcome) { o.Salesforce.Object, o.Salesforce.AccountID = ObjectContact, "0015g00000XyZ9kAA" }, "salesforce.account_id"},
		{"unknown owner word", func(o *Outcome) { o.Salesforce.Match = &Match{Owner: "manager"} }, "salesforce.match.owner"},
		{"owner word in capitals", func(o *Outcome) { o.Salesforce.Match = &Match{Owner: "Rep"} }, "salesforce.match.owner"},
		{"unknown account word", func(o *Outcome) { o.Salesforce.Match = &Match{Account: "guessed"} }, "salesforce.match.account"},
		{"long match detail", func(o *Outcome) {
			o.Salesforce.Match = &Match{Owner: OwnerRep, Detail: strings.Repeat("x", MaxMatchDetail+1)}
		}, "salesforce.match.detail"},
		{"no_account skipped", func(o *Outcome) { o.Status, o.Salesforce, o.Reason = StatusSkipped, nil, ReasonNoAccount }, "reason"},
		{"private_contact pending", func(o *Outcome) { o.Status, o.Salesforce, o.Reason = StatusPending, nil, ReasonPrivateContact }, "reason"},
		{"no_account on a contact", func(o *Outcome) { o.Reason, o.Salesforce.Object = ReasonNoAccount, ObjectContact }, "salesforce.object"},
		{"private_contact on a lead", func(o *Outcome) { o.Reason = ReasonPrivateContact }, "salesforce.object"},
		{"private_contact on a task", func(o *Outcome) {
			o.Type, o.Reason, o.Salesforce.Object = ActivityOutcome, ReasonPrivateContact, ObjectTask
		}, "salesforce.object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := validOutcome()
			tc.change(&o)
			err := o.Validate()
			var ve *ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("Validate: got %v; want nil", err)
			case tc.field != "" && !errors.As(err, &ve):
				t.Errorf("Validate: got %v; want a *ValidationError for %s", err, tc.field)
			case tc.field != "" && ve.Field != tc.field:
				t.Errorf("Validate field: got %q (%v); want %q", ve.Field, err, tc.field)
			case tc.field != "" && !errors.Is(err, ErrInvalid):
				t.Errorf("Validate: got %v; want it to wrap ErrInvalid", err)
			}
			body, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			schemaErr := schemaValidate(schema(t, "outcome"), body)
			if got, want := schemaErr == nil, tc.field == ""; got != want {
				t.Errorf("outcome schema valid: got %v (%v); want %v", got, schemaErr, want)
			}
			if tc.field != "" {
				return
			}
			var back Outcome
			if err := json.Unmarshal(body, &back); err != nil {
				t.Fatal(err)
			}
			if got, want := mustJSON(t, back), string(body); got != want {
				t.Errorf("round trip: got %s; want %s", got, want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOutcomeSamplesCoverTheirEvents checks that an outcome sample whose
// event_id is one of the inbound samples agrees with that event.
func TestOutcomeSamplesCoverTheirEvents(t *testing.T) {
	t.Parallel()
	byID := map[string]Event{}
	for _, rel := range sampleFiles(t, "samples") {
		if isOutcomeSample(rel) {
			continue
		}
		e, err := Decode(readFile(t, filepath.Join(eventsDir, rel)))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		byID[e.ID] = e
	}
	for _, rel := range sampleFiles(t, "samples/outcomes") {
		var o Outcome
		if err := json.Unmarshal(readFile(t, filepath.Join(eventsDir, rel)), &o); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		e, ok := byID[o.EventID]
		if !ok {
			continue
		}
		if got, want := [3]string{o.TeamID, o.ContactID, o.SequenceID}, [3]string{e.TeamID, e.ContactID(), e.SequenceID()}; got != want {
			t.Errorf("%s team, contact, sequence: got %v; want %v (from %s)", rel, got, want, e.ID)
		}
		if got, want := o.Type, e.OutcomeType(); got != want {
			t.Errorf("%s type: got %v; want %v", rel, got, want)
		}
		// NewOutcome builds the same message from the event.
		n := NewOutcome(e, o.ID, o.Status, o.At)
		n.Reason, n.Salesforce, n.Error = o.Reason, o.Salesforce, o.Error
		if got, want := mustJSON(t, n), mustJSON(t, o); got != want {
			t.Errorf("%s NewOutcome: got %s; want %s", rel, got, want)
		}
	}
}

func TestOutcomeType(t *testing.T) {
	t.Parallel()
	want := map[Type]OutcomeType{
		ContactCreated: DedupOutcome, ContactAdded: ContactOutcome, ContactReplied: ContactOutcome, ContactUnsubscribed: ContactOutcome,
		EmailSent: ActivityOutcome, EmailReplied: ActivityOutcome, EmailOpened: ActivityOutcome,
		EmailClicked: ActivityOutcome, EmailBounced: ActivityOutcome,
	}
	for _, typ := range Types {
		if got := (Event{Type: typ}).OutcomeType(); got != want[typ] {
			t.Errorf("%s: got %v; want %v", typ, got, want[typ])
		}
	}
}

// TestOutcomeSchemaMatchWords holds the outcome schema's match words and
// limits to the Go constants Validate uses.
func TestOutcomeSchemaMatchWords(t *testing.T) {
	t.Parallel()
	var doc struct {
		Properties struct {
			Salesforce struct {
				Properties struct {
					OwnerID   struct{ Pattern string } `json:"owner_id"`
					AccountID struct{ Pattern string } `json:"account_id"`
					Match     struct {
						Properties struct {
							Owner   struct{ Enum []string }
							Account struct{ Enum []string }
							Detail  struct{ MaxLength int }
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(eventsDir, "schema", "outcome.schema.json")), &doc); err != nil {
		t.Fatal(err)
	}
	sf := doc.Properties.Salesforce.Properties
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"match.owner enum", sf.Match.Properties.Owner.Enum, MatchOwners},
		{"match.account enum", sf.Match.Properties.Account.Enum, MatchAccounts},
		{"match.detail maxLength", sf.Match.Properties.Detail.MaxLength, MaxMatchDetail},
		{"owner_id pattern", sf.OwnerID.Pattern, salesforceIDRE.String()},
		{"account_id pattern", sf.AccountID.Pattern, salesforceIDRE.String()},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v; want %v", tc.name, tc.got, tc.want)
		}
	}
}
