package contacthttp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/ledger"
	"github.com/sfsync/sfsync/shared/ledger/ledgerdb"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/platform/queue"
	"github.com/sfsync/sfsync/shared/ratelimit"
)

// RouteRetry re-runs failed contacts.
const RouteRetry = "POST /v1/salesforce/errors/retry"

// MaxRetryContacts bounds contact_ids in one retry request.
const MaxRetryContacts = 1000

// RetryLedger is what the retry route reads; *ledgerdb.Store implements it.
type RetryLedger interface {
	Failures(ctx context.Context, teamID string, perGroup int) ([]ledgerdb.FailureGroup, bool, error)
	Memberships(ctx context.Context, teamID string, keys []ledger.MemberKey) (map[ledger.MemberKey]ledger.Membership, error)
}

// BatchSender is the part of the SQS API the retry route sends with.
type BatchSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// RetryCooldown is how long after a retry the same retry is refused (409).
const RetryCooldown = 2 * time.Minute

// RetryLimit is the team's request limit on the retry route, stricter than
// the API's default: each retry may send a thousand events.
var RetryLimit = ratelimit.Rule{Name: "retry", Limit: ratelimit.Limit{Requests: 10, Per: time.Minute}}

// Cooldown refuses to start the same retry again too soon;
// *ratelimit.Cooldown implements it.
type Cooldown interface {
	Start(ctx context.Context, key string) (ratelimit.Started, ratelimit.Decision, error)
}

// RetryDeps are the retry route's dependencies.
type RetryDeps struct {
	Ledger   RetryLedger
	SQS      BatchSender
	QueueURL string // the contact-events queue
	// Cooldown refuses a retry of the same failures within RetryCooldown
	// of the last (nil: no cooldown).
	Cooldown Cooldown
	Logger   *slog.Logger // nil: slog.Default()
}

// RegisterRetry serves POST /v1/salesforce/errors/retry on rt.
//
// A retry sends each failed contact's event again (the same event id and
// contact, so the ledger keeps one outcome per event) to the contact queue, marked as a
// retry: contact sync re-runs a failed outcome of a marked event instead of
// repeating it, and finds any record a lost answer created, so nothing is
// created twice. Retrying twice is harmless: an event that synced since is
// answered from the ledger. Failed email activities are not sent again: the
// service keeps no copy of the email, so they are reported as not retryable.
//
// The same retry (the same team and the same selector: the same code, all,
// or the same set of contact ids in any order) is refused with 409 within
// RetryCooldown of the last, with when it may run again: its events are
// still on their way, and sending them again would only queue them twice.
// A retry that fails before it sends anything does not count. Every message
// carries the team as its MessageGroupId, as the sequencer's do, so SQS
// fair queueing weighs a team's retries with the rest of its events.
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
	started, ok := h.start(w, r, team, req)
	if !ok {
		return
	}
	resp, err := h.resend(r, team, match)
	if err != nil {
		if uerr := started.Undo(context.WithoutCancel(r.Context())); uerr != nil {
			h.Logger.ErrorContext(r.Context(), "clear retry cooldown", "team_id", team, "error", uerr.Error())
		}
		h.internal(w, r, err)
		return
	}
	h.Logger.InfoContext(r.Context(), "integration errors retried", "team_id", team, "retried", resp.Retried, "not_retryable", resp.NotRetryable)
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// start marks the retry as started, or answers 409 when the same retry
// started within the cooldown. A cooldown store out of reach lets the retry
// through (logged): a repeated retry is harmless.
func (h *retryHandler) start(w http.ResponseWriter, r *http.Request, team string, req RetryRequest) (ratelimit.Started, bool) {
	if h.Cooldown == nil {
		return ratelimit.Started{}, true
	}
	started, d, err := h.Cooldown.Start(r.Context(), team+"#retry#"+req.selector())
	switch {
	case err != nil:
		h.Logger.ErrorContext(r.Context(), "retry cooldown unavailable; retry let through", "team_id", team, "error", err.Error())
	case !d.Allowed:
		at := time.Now().Add(d.RetryAfter).UTC().Truncate(time.Second)
		httpapi.WriteRetryLater(w, http.StatusConflict, "retry_too_soon",
			fmt.Sprintf("the same retry ran less than %s ago and its events are still on their way; it may run again at %s",
				RetryCooldown, at.Format(time.RFC3339)), d.RetryAfter)
		return ratelimit.Started{}, false
	}
	return started, true
}

// selector names what a valid request retries: the same name for the same
// failures (contact ids in any order, repeated or not), hashed so that any
// code fits a key.
func (req RetryRequest) selector() string {
	var s string
	switch {
	case req.Code != nil:
		s = "code\x00" + *req.Code
	case req.ContactIDs != nil:
		ids := slices.Clone(req.ContactIDs)
		slices.Sort(ids)
		s = "contacts\x00" + strings.Join(slices.Compact(ids), "\x00")
	default:
		s = "all"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// resend sends the chosen failures again and counts them.
func (h *retryHandler) resend(r *http.Request, team string, match func(ledgerdb.Failure) bool) (RetryResponse, error) {
	groups, _, err := h.Ledger.Failures(r.Context(), team, ledgerdb.MaxFailuresScanned)
	if err != nil {
		return RetryResponse{}, fmt.Errorf("read failures: %w", err)
	}
	var chosen []ledgerdb.Failure
	var keys []ledger.MemberKey
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
			keys = append(keys, ledger.MemberKey{SequenceID: f.SequenceID, ContactID: f.ContactID})
		}
	}
	ms, err := h.Ledger.Memberships(r.Context(), team, keys)
	if err != nil {
		return RetryResponse{}, fmt.Errorf("read memberships: %w", err)
	}
	var entries []sqstypes.SendMessageBatchRequestEntry
	for _, f := range chosen {
		m, ok := ms[ledger.MemberKey{SequenceID: f.SequenceID, ContactID: f.ContactID}]
		if !ok {
			resp.NotRetryable++
			continue
		}
		ev := retryEvent(team, f, m)
		b, err := json.Marshal(ev)
		if err != nil {
			return RetryResponse{}, fmt.Errorf("encode event: %w", err)
		}
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(entries))),
			MessageBody: aws.String(string(b)), MessageAttributes: queue.RetryAttributes(), MessageGroupId: aws.String(team)})
	}
	for start := 0; start < len(entries); start += 10 {
		batch := entries[start:min(start+10, len(entries))]
		if err := h.send(r.Context(), batch); err != nil {
			return RetryResponse{}, fmt.Errorf("send retries: %w", err)
		}
	}
	resp.Retried = len(entries)
	return resp, nil
}

// retryEvent rebuilds the failed event from the membership: the
// contact.added as it was pinned, or the reply that triggered the sync.
func retryEvent(team string, f ledgerdb.Failure, m ledger.Membership) event.Event {
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

func (h *retryHandler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.Logger.ErrorContext(r.Context(), "retry failed", "route", r.Pattern, "error", err)
	httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the retry could not be completed; try again", "")
}
