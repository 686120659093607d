package contacthttp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/contactsync"
	"github.com/sfsync/sfsync/shared/contactsync/ledgerdb"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/httpapi"
	"github.com/sfsync/sfsync/shared/queue"
)

// RouteRetry re-runs failed contacts.
const RouteRetry = "POST /v1/salesforce/errors/retry"

// MaxRetryContacts bounds contact_ids in one retry request.
const MaxRetryContacts = 1000

// RetryLedger is what the retry route reads; *ledgerdb.Store implements it.
type RetryLedger interface {
	Failures(ctx context.Context, teamID string, perGroup int) ([]ledgerdb.FailureGroup, bool, error)
	Memberships(ctx context.Context, teamID string, keys []contactsync.MemberKey) (map[contactsync.MemberKey]contactsync.Membership, error)
}

// BatchSender is the part of the SQS API the retry route sends with.
type BatchSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// RetryDeps are the retry route's dependencies.
type RetryDeps struct {
	Ledger   RetryLedger
	SQS      BatchSender
	QueueURL string       // the contact-events queue
	Logger   *slog.Logger // nil: slog.Default()
}

// RegisterRetry serves POST /v1/salesforce/errors/retry on rt.
//
// A retry sends each failed contact's event again (the same event id, so
// the ledger keeps one outcome per event) to the contact queue, marked as a
// retry: contact sync re-runs a failed outcome of a marked event instead of
// repeating it, and finds any record a lost answer created, so nothing is
// created twice. Retrying twice is harmless: an event that synced since is
// answered from the ledger. Failed email activities are not sent again: the
// service keeps no copy of the email, so they are reported as not retryable.
func RegisterRetry(rt *httpapi.Router, d RetryDeps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	rt.HandleFunc(RouteRetry, (&retryHandler{d}).retry)
}

type retryHandler struct{ RetryDeps }

// RetryRequest is the body of the retry route: exactly one field.
type RetryRequest struct {
	Code       *string  `json:"code"`
	ContactIDs []string `json:"contact_ids"`
	All        *bool    `json:"all"`
}

// RetryResponse is the answer of the retry route.
type RetryResponse struct {
	Retried      int `json:"retried"`       // failed contacts sent again
	NotRetryable int `json:"not_retryable"` // failures that cannot be re-run from here (email activity, dedup checks)
}

// matcher checks a retry request and returns which failures it chooses.
func (req RetryRequest) matcher() (func(ledgerdb.Failure) bool, error) {
	n := 0
	for _, set := range []bool{req.Code != nil, req.ContactIDs != nil, req.All != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, &httpapi.FieldError{Field: "body", Problem: "give exactly one of code, contact_ids, all"}
	}
	switch {
	case req.Code != nil:
		code := *req.Code
		if code == "" || len(code) > 100 {
			return nil, &httpapi.FieldError{Field: "code", Problem: "must be a Salesforce error code such as REQUIRED_FIELD_MISSING"}
		}
		return func(f ledgerdb.Failure) bool { return f.Code == code }, nil
	case req.ContactIDs != nil:
		if len(req.ContactIDs) == 0 || len(req.ContactIDs) > MaxRetryContacts {
			return nil, &httpapi.FieldError{Field: "contact_ids", Problem: "must list 1 to " + strconv.Itoa(MaxRetryContacts) + " contact ids"}
		}
		ids := map[string]bool{}
		for i, id := range req.ContactIDs {
			if !contactIDRE.MatchString(id) {
				return nil, &httpapi.FieldError{Field: fmt.Sprintf("contact_ids[%d]", i), Problem: "not a contact id"}
			}
			ids[id] = true
		}
		return func(f ledgerdb.Failure) bool { return ids[f.ContactID] }, nil
	default:
		if !*req.All {
			return nil, &httpapi.FieldError{Field: "all", Problem: "must be true"}
		}
		return func(ledgerdb.Failure) bool { return true }, nil
	}
}

func (h *retryHandler) retry(w http.ResponseWriter, r *http.Request) {
	team := httpapi.ClaimsFrom(r.Context()).TeamID
	var req RetryRequest
	err := httpapi.DecodeJSON(r, &req)
	var match func(ledgerdb.Failure) bool
	if err == nil {
		match, err = req.matcher()
	}
	if httpapi.WriteFieldError(w, err) {
		return
	}
	groups, _, err := h.Ledger.Failures(r.Context(), team, ledgerdb.MaxFailuresScanned)
	if err != nil {
		h.internal(w, r, "read failures", err)
		return
	}
	var chosen []ledgerdb.Failure
	var keys []contactsync.MemberKey
	resp := RetryResponse{}
	for _, g := range groups {
		for _, f := range g.Failures {
			if !match(f) {
				continue
			}
			if f.Type != event.ContactOutcome || f.SequenceID == "" {
				resp.NotRetryable++
				continue
			}
			chosen = append(chosen, f)
			keys = append(keys, contactsync.MemberKey{SequenceID: f.SequenceID, ContactID: f.ContactID})
		}
	}
	ms, err := h.Ledger.Memberships(r.Context(), team, keys)
	if err != nil {
		h.internal(w, r, "read memberships", err)
		return
	}
	var entries []sqstypes.SendMessageBatchRequestEntry
	for _, f := range chosen {
		m, ok := ms[contactsync.MemberKey{SequenceID: f.SequenceID, ContactID: f.ContactID}]
		if !ok {
			resp.NotRetryable++
			continue
		}
		ev := retryEvent(team, f, m)
		b, err := json.Marshal(ev)
		if err != nil {
			h.internal(w, r, "encode event", err)
			return
		}
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(entries))),
			MessageBody: aws.String(string(b)), MessageAttributes: queue.RetryAttributes()})
	}
	for start := 0; start < len(entries); start += 10 {
		batch := entries[start:min(start+10, len(entries))]
		if err := h.send(r.Context(), batch); err != nil {
			h.internal(w, r, "send retries", err)
			return
		}
	}
	resp.Retried = len(entries)
	h.Logger.InfoContext(r.Context(), "integration errors retried", "team_id", team, "retried", resp.Retried, "not_retryable", resp.NotRetryable)
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// retryEvent rebuilds the failed event from the membership: the
// contact.added as it was pinned, or the reply that triggered the sync.
func retryEvent(team string, f ledgerdb.Failure, m contactsync.Membership) event.Event {
	ev := event.Event{ID: f.EventID, Type: event.ContactAdded, Version: event.Version, OccurredAt: m.PinnedAt.UTC(), TeamID: team,
		Data: event.ContactData{Sequence: &event.Sequence{ID: m.SequenceID}, Contact: m.Contact}}
	if f.EventID != m.EventID {
		ev.Type, ev.OccurredAt = event.ContactReplied, f.At.UTC()
	}
	return ev
}

// send sends one batch, sending again the entries SQS did not take.
func (h *retryHandler) send(ctx context.Context, batch []sqstypes.SendMessageBatchRequestEntry) error {
	for attempt := 0; len(batch) > 0; attempt++ {
		out, err := h.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(h.QueueURL), Entries: batch})
		if err != nil {
			return err
		}
		if len(out.Failed) == 0 {
			return nil
		}
		if attempt == 2 {
			return fmt.Errorf("SQS refused %d retries: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		failed := map[string]bool{}
		for _, f := range out.Failed {
			failed[aws.ToString(f.Id)] = true
		}
		var again []sqstypes.SendMessageBatchRequestEntry
		for _, e := range batch {
			if failed[aws.ToString(e.Id)] {
				again = append(again, e)
			}
		}
		batch = again
	}
	return nil
}

func (h *retryHandler) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.Logger.ErrorContext(r.Context(), what, "route", r.Pattern, "error", err)
	httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the retry could not be completed; try again", "")
}
