package salesforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Sentinel errors callers branch on. An *APIError matches them with errors.Is.
var (
	// ErrSessionExpired: 401 INVALID_SESSION_ID; refresh the token once and retry once.
	ErrSessionExpired = errors.New("salesforce: session expired or invalid")
	// ErrRequestLimit: 403 REQUEST_LIMIT_EXCEEDED for the org's daily
	// allocation; pause the team's work, don't retry soon.
	ErrRequestLimit = errors.New("salesforce: API request limit exceeded")
	// ErrConcurrentLimit: 403 REQUEST_LIMIT_EXCEEDED because the org already
	// runs its limit of concurrent long-running requests (25 in production,
	// "ConcurrentPerOrgLongTxn" in the message). It is not the daily cap, so
	// the team's work is not paused; nor is it ErrTransient: each of the
	// 25 slots is held for 20 seconds or more, so a resend within a second
	// is refused again and only adds to the load. Its *APIError carries
	// RetryAfter (see RetryAfter), which the queue honours. Salesforce
	// refused the request before running it: a refused write saved nothing.
	ErrConcurrentLimit = errors.New("salesforce: too many concurrent long-running requests")
	// ErrTransient: 5xx, UNABLE_TO_LOCK_ROW, a lost connection; the same request may succeed later.
	ErrTransient = errors.New("salesforce: transient failure")
	// ErrNotFound: 404 (NOT_FOUND, ENTITY_IS_DELETED).
	ErrNotFound = errors.New("salesforce: not found")
)

// Error codes the product branches on.
const (
	CodeInvalidSession        = "INVALID_SESSION_ID"
	CodeRequestLimitExceeded  = "REQUEST_LIMIT_EXCEEDED"
	CodeUnableToLockRow       = "UNABLE_TO_LOCK_ROW"
	CodeServerUnavailable     = "SERVER_UNAVAILABLE"
	CodeDuplicatesDetected    = "DUPLICATES_DETECTED"
	CodeAllOrNoneRolledBack   = "ALL_OR_NONE_OPERATION_ROLLED_BACK"
	CodeProcessingHalted      = "PROCESSING_HALTED"
	CodeEntityIsDeleted       = "ENTITY_IS_DELETED"
	CodeCannotUpdateConverted = "CANNOT_UPDATE_CONVERTED_LEAD"
	CodeInvalidField          = "INVALID_FIELD"
	// CodeInactiveOwnerOrUser: the record's owner (or the user acting) is
	// an inactive user.
	CodeInactiveOwnerOrUser = "INACTIVE_OWNER_OR_USER"
	// CodeInvalidCrossReference: a reference (an OwnerId, an AccountId)
	// names no record the org has.
	CodeInvalidCrossReference = "INVALID_CROSS_REFERENCE_KEY"
)

// APIError is an error answer of the REST data API: the HTTP status and
// Salesforce's first error (code, message, fields), with all of them kept.
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	Fields     []string
	All        []ErrorItem
	// RetryAfter is how long to wait before sending the request again,
	// when Salesforce's answer calls for a wait (ErrConcurrentLimit); zero
	// otherwise.
	RetryAfter time.Duration
}

// Bounds of the wait after a concurrent-request refusal (RetryAfter): a
// long-running request holds its slot for 20 seconds or more, so a resend
// waits at least MinConcurrentRetryAfter, jittered up to
// MaxConcurrentRetryAfter so that the refused workers of one org spread out.
const (
	MinConcurrentRetryAfter = 5 * time.Second
	MaxConcurrentRetryAfter = 20 * time.Second
)

// concurrentRetryAfter is a RetryAfter for a concurrent-request refusal: a
// random point between its bounds.
func concurrentRetryAfter() time.Duration {
	return MinConcurrentRetryAfter + rand.N(MaxConcurrentRetryAfter-MinConcurrentRetryAfter+1)
}

// RetryAfter returns the wait an error of a Salesforce call asks for
// before the call is sent again (an *APIError's RetryAfter anywhere in its
// chain), and whether it asks for one.
func RetryAfter(err error) (time.Duration, bool) {
	var api *APIError
	if errors.As(err, &api) && api.RetryAfter > 0 {
		return api.RetryAfter, true
	}
	return 0, false
}

func (e *APIError) Error() string {
	msg := e.Message
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	if e.Code == "" {
		return fmt.Sprintf("salesforce: HTTP %d: %s", e.StatusCode, msg)
	}
	return fmt.Sprintf("salesforce: HTTP %d %s: %s", e.StatusCode, e.Code, msg)
}

// Is lets errors.Is(err, ErrSessionExpired) and friends classify an APIError.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrSessionExpired:
		return e.StatusCode == 401 || e.Code == CodeInvalidSession
	case ErrRequestLimit:
		return e.Code == CodeRequestLimitExceeded && !e.concurrent()
	case ErrConcurrentLimit:
		return e.concurrent()
	case ErrTransient:
		return e.StatusCode >= 500 || e.Code == CodeUnableToLockRow || e.Code == CodeServerUnavailable
	case ErrNotFound:
		return e.StatusCode == 404
	}
	return false
}

// concurrent reports a REQUEST_LIMIT_EXCEEDED for concurrent long-running
// requests, which Salesforce tells from the daily cap only by its message
// ("ConcurrentPerOrgLongTxn Limit exceeded."; also seen as
// "ConcurrentRequests"): developer.salesforce.com/docs/platform/
// salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html.
func (e *APIError) concurrent() bool {
	return e.Code == CodeRequestLimitExceeded && (strings.Contains(e.Message, "ConcurrentPerOrgLongTxn") || strings.Contains(e.Message, "ConcurrentRequests"))
}

// ErrorItem is one element of an error array. The single-record REST API calls
// the code "errorCode"; sObject Collections call it "statusCode".
type ErrorItem struct {
	Code       string           `json:"-"`
	Message    string           `json:"message"`
	Fields     []string         `json:"fields,omitempty"`
	Duplicates *DuplicateResult `json:"-"`
}

// UnmarshalJSON reads either spelling of the code and the duplicate block,
// whose key Salesforce misspells as "duplicateResut".
func (it *ErrorItem) UnmarshalJSON(b []byte) error {
	var raw struct {
		Message       string           `json:"message"`
		ErrorCode     string           `json:"errorCode"`
		StatusCode    string           `json:"statusCode"`
		Fields        []string         `json:"fields"`
		DuplicateResu *DuplicateResult `json:"duplicateResut"`
		DuplicateRes  *DuplicateResult `json:"duplicateResult"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	it.Message, it.Fields = raw.Message, raw.Fields
	it.Code = raw.ErrorCode
	if it.Code == "" {
		it.Code = raw.StatusCode
	}
	it.Duplicates = raw.DuplicateResu
	if it.Duplicates == nil {
		it.Duplicates = raw.DuplicateRes
	}
	return nil
}

// DuplicateResult is the detail of a DUPLICATES_DETECTED error.
type DuplicateResult struct {
	AllowSave     bool          `json:"allowSave"`
	DuplicateRule string        `json:"duplicateRule"`
	EntityType    string        `json:"duplicateRuleEntityType"`
	ErrorMessage  string        `json:"errorMessage"`
	MatchResults  []MatchResult `json:"matchResults"`
}

// MatchResult is one matching rule's result.
type MatchResult struct {
	EntityType   string `json:"entityType"`
	MatchEngine  string `json:"matchEngine"`
	Rule         string `json:"rule"`
	Size         int    `json:"size"`
	MatchRecords []struct {
		MatchConfidence float64 `json:"matchConfidence"`
		Record          struct {
			Attributes Attributes `json:"attributes"`
			ID         string     `json:"Id"`
		} `json:"record"`
	} `json:"matchRecords"`
}

// FirstMatch returns the object and id of the first matched record.
func (d *DuplicateResult) FirstMatch() (object, id string, ok bool) {
	if d == nil {
		return "", "", false
	}
	for _, m := range d.MatchResults {
		for _, r := range m.MatchRecords {
			if r.Record.ID != "" {
				obj := r.Record.Attributes.Type
				if obj == "" {
					obj = m.EntityType
				}
				return obj, r.Record.ID, true
			}
		}
	}
	return "", "", false
}

// parseErrorBody turns an error response into an *APIError. Salesforce sends
// a JSON array; gateways in front of it may send HTML.
func parseErrorBody(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var items []ErrorItem
	if err := json.Unmarshal(body, &items); err == nil && len(items) > 0 {
		e.All = items
		e.Code, e.Message, e.Fields = items[0].Code, items[0].Message, items[0].Fields
		if e.concurrent() {
			e.RetryAfter = concurrentRetryAfter()
		}
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200]
	}
	if strings.HasPrefix(text, "<") {
		text = "non-JSON (HTML) error body"
	}
	e.Message = text
	return e
}

// OwnerRefused reports whether Salesforce refused a record over its
// OwnerId: an inactive user (INACTIVE_OWNER_OR_USER), or an id that is no
// user of the org (INVALID_CROSS_REFERENCE_KEY on OwnerId).
func OwnerRefused(r SaveResult) bool {
	for _, e := range r.Errors {
		if e.Code == CodeInactiveOwnerOrUser || (e.Code == CodeInvalidCrossReference && slices.Contains(e.Fields, "OwnerId")) {
			return true
		}
	}
	return false
}
