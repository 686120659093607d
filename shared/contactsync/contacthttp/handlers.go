// Package contacthttp serves the contact-sync read routes of the API: a
// contact's Salesforce records and outcomes, and the team's integration
// errors grouped by Salesforce error code with a hint at the fix (R9).
//
// The team always comes from the verified claims, never from the request.
package contacthttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
)

// Route keys this package serves (declared in shared/resources).
const (
	RouteContact = "GET /v1/contacts/{contact_id}/salesforce"
	RouteErrors  = "GET /v1/salesforce/errors"
)

// Bounds of the responses.
const (
	OutcomesLimit = ledgerdb.MaxOutcomesPage // newest outcomes shown per contact
	ContactsLimit = 100                      // failed contacts shown per error code
)

// Reader is what the routes read; *ledgerdb.Store implements it.
type Reader interface {
	Contact(ctx context.Context, teamID, contactID string, limit int) (ledgerdb.ContactView, error)
	Failures(ctx context.Context, teamID string, perGroup int) ([]ledgerdb.FailureGroup, bool, error)
}

// Deps are the handlers' dependencies.
type Deps struct {
	Ledger Reader
	Logger *slog.Logger // nil: slog.Default()
}

// Register serves the two routes on rt.
func Register(rt *httpapi.Router, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &handlers{d}
	rt.HandleFunc(RouteContact, h.contact)
	rt.HandleFunc(RouteErrors, h.errors)
}

type handlers struct{ Deps }

var contactIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// RecordJSON is a Salesforce record a contact is synced to.
type RecordJSON struct {
	Email          string                 `json:"email"`
	Object         event.SalesforceObject `json:"object"`
	ID             string                 `json:"id"`
	Status         event.Status           `json:"status"`
	MatchRule      string                 `json:"match_rule,omitempty"`
	MappingVersion int                    `json:"mapping_version"`
	PolicyVersion  int                    `json:"policy_version"`
	SyncedAt       time.Time              `json:"synced_at"`
	EventID        string                 `json:"event_id"`
}

// ContactJSON is the answer of the contact route.
type ContactJSON struct {
	ContactID         string          `json:"contact_id"`
	Records           []RecordJSON    `json:"records"`
	Outcomes          []event.Outcome `json:"outcomes"`
	OutcomesLimit     int             `json:"outcomes_limit"`
	OutcomesTruncated bool            `json:"outcomes_truncated"`
}

func (h *handlers) contact(w http.ResponseWriter, r *http.Request) {
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	id := r.PathValue("contact_id")
	if !contactIDRE.MatchString(id) {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request",
			"contact_id must be 1 to 128 characters: letters, digits and . _ : -, starting with a letter or digit", "contact_id")
		return
	}
	v, err := h.Ledger.Contact(r.Context(), team, id, OutcomesLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(v.Records) == 0 && len(v.Outcomes) == 0 {
		httpapi.WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("this team has no Salesforce sync for contact %s", id), "contact_id")
		return
	}
	out := ContactJSON{ContactID: id, Records: []RecordJSON{}, Outcomes: v.Outcomes, OutcomesLimit: OutcomesLimit, OutcomesTruncated: v.More}
	if out.Outcomes == nil {
		out.Outcomes = []event.Outcome{}
	}
	for _, rec := range v.Records {
		out.Records = append(out.Records, RecordJSON{
			Email: rec.Email, Object: rec.Object, ID: rec.ID, Status: rec.Status, MatchRule: rec.MatchRule,
			MappingVersion: rec.MappingVersion, PolicyVersion: rec.PolicyVersion, SyncedAt: rec.SyncedAt.UTC(), EventID: rec.EventID,
		})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// FailedContactJSON is one failed contact of an error group.
type FailedContactJSON struct {
	ContactID  string            `json:"contact_id"`
	EventID    string            `json:"event_id"`
	Type       event.OutcomeType `json:"type"`
	SequenceID string            `json:"sequence_id,omitempty"`
	Message    string            `json:"message"`
	Fields     []string          `json:"fields"`
	At         time.Time         `json:"at"`
}

// GroupJSON is the failures of one error code.
type GroupJSON struct {
	Code              string              `json:"code"`
	Hint              string              `json:"hint"`
	Count             int                 `json:"count"`
	Contacts          []FailedContactJSON `json:"contacts"`
	ContactsLimit     int                 `json:"contacts_limit"`
	ContactsTruncated bool                `json:"contacts_truncated"`
}

// ErrorsJSON is the answer of the errors route.
type ErrorsJSON struct {
	Groups []GroupJSON `json:"groups"`
	// Complete is false when the team has more open failures than one
	// read scans; the counts are then lower bounds.
	Complete bool `json:"complete"`
}

func (h *handlers) errors(w http.ResponseWriter, r *http.Request) {
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	groups, complete, err := h.Ledger.Failures(r.Context(), team, ContactsLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := ErrorsJSON{Groups: []GroupJSON{}, Complete: complete}
	for _, g := range groups {
		gj := GroupJSON{Code: g.Code, Hint: Hint(g.Code), Count: g.Count, Contacts: []FailedContactJSON{},
			ContactsLimit: ContactsLimit, ContactsTruncated: g.Count > len(g.Failures)}
		for _, f := range g.Failures {
			fields := f.Fields
			if fields == nil {
				fields = []string{}
			}
			gj.Contacts = append(gj.Contacts, FailedContactJSON{
				ContactID: f.ContactID, EventID: f.EventID, Type: f.Type, SequenceID: f.SequenceID,
				Message: f.Message, Fields: fields, At: f.At.UTC(),
			})
		}
		out.Groups = append(out.Groups, gj)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// fail answers a ledger error: the input's fault as 400, anything else as
// 500, logged once here.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ie *ledgerdb.InputError
	if errors.As(err, &ie) {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", ie.Error(), ie.Field)
		return
	}
	h.Logger.ErrorContext(r.Context(), "ledger read failed", "route", r.Pattern, "error", err)
	httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the sync ledger could not be read; try again", "")
}

var hints = map[string]string{
	"REQUIRED_FIELD_MISSING": "A field Salesforce requires got no value. Give it one in the field mapping " +
		"(a contact field or a constant), or fill the missing data in on the contact, then retry.",
	"INVALID_EMAIL_ADDRESS": "Salesforce does not accept the contact's email address as written. " +
		"Correct the email on the contact, then retry.",
	"STRING_TOO_LONG": "A value is longer than its Salesforce field allows. Shorten it on the contact, " +
		"or map a shorter value to that field, then retry.",
	"FIELD_CUSTOM_VALIDATION_EXCEPTION": "A validation rule of your Salesforce org refused the record; " +
		"the message is the rule's own. Fix the data it asks for, or ask your Salesforce admin to adjust the rule, then retry.",
	"INVALID_FIELD": "The field mapping uses a field this org does not have, or one the connected user cannot see. " +
		"Update the field mapping or the user's field permissions, then retry.",
	"DUPLICATES_DETECTED": "A duplicate rule in Salesforce matched an existing record with another email " +
		"(for example the same name and phone, or title and company), so the sync neither linked nor created it. " +
		"Merge the records, or give the existing one this email so the next sync links it, or allow saving duplicates, then retry.",
	"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "A value is not one of the allowed values of a restricted picklist. " +
		"Map an allowed value, or add the value to the picklist in Salesforce, then retry.",
	"CANNOT_UPDATE_CONVERTED_LEAD": "The Lead was converted in Salesforce and can no longer be changed. " +
		"Retry: the sync follows the conversion to the Contact it became.",
}

const defaultHint = "Salesforce refused the record; its message says why. " +
	"Fix the data or the org setting it names, then retry."

// Hint is a plain-language hint at the fix for a Salesforce error code.
func Hint(code string) string {
	if h, ok := hints[code]; ok {
		return h
	}
	return defaultHint
}
