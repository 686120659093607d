// Package policyhttp serves the sync settings API: the team's settings, the
// sequences' overrides, and their histories. The team always comes from the
// verified claims, never from the request.
//
// Writes use optimistic concurrency through ETags: every GET and PUT answers
// with the document's version as a quoted ETag ("3"; "0" for a document never
// saved), and a PUT must carry If-Match. A missing If-Match is 428 (a lost
// update is never the default); If-Match: * writes on top of whatever is
// current; a version that is no longer current is 412 and nothing is written.
// A weak tag (W/"3") never matches, as If-Match compares strongly.
package policyhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/policy"
	"github.com/sfsync/sfsync/shared/policy/policydb"
	"github.com/sfsync/sfsync/shared/salesforce"
)

// Deps are what the handlers need.
type Deps struct {
	Store  *policydb.Store
	Logger *slog.Logger     // nil: slog.Default()
	Now    func() time.Time // nil: time.Now; the "now" of the effective policy shown
	// Users checks a new owner_fallback_user_id against the team's org
	// before it is saved. Production wiring must set it; nil skips the
	// check (for tests of the other routes), and any well-formed User id
	// is then saved unchecked.
	Users UserChecker
}

// UserChecker is the port to the team's Salesforce org that the settings
// route checks owner_fallback_user_id with.
type UserChecker interface {
	// CheckUser returns nil when the team's org has an active User of id
	// userID; an error wrapping policy.ErrUserNotFound or
	// policy.ErrUserInactive when it has no such User or the User is
	// inactive; and any other error (connection.ErrNotConnected, a
	// connection refused, a Salesforce error) when the org could not say.
	CheckUser(ctx context.Context, teamID, userID string) error
}

// Route keys this package serves (declared in shared/resources).
const (
	RouteGetSettings        = "GET /v1/salesforce/settings"
	RoutePutSettings        = "PUT /v1/salesforce/settings"
	RouteSettingsHistory    = "GET /v1/salesforce/settings/history"
	RouteGetSequence        = "GET /v1/sequences/{sequence_id}/salesforce"
	RoutePutSequence        = "PUT /v1/sequences/{sequence_id}/salesforce"
	RouteSequenceHistory    = "GET /v1/sequences/{sequence_id}/salesforce/history"
	defaultHistoryPageLimit = 20
)

// Register adds the settings routes to rt.
func Register(rt *httpapi.Router, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &handlers{Deps: d}
	rt.HandleFunc(RouteGetSettings, h.getSettings)
	rt.HandleFunc(RoutePutSettings, h.putSettings)
	rt.HandleFunc(RouteSettingsHistory, h.settingsHistory)
	rt.HandleFunc(RouteGetSequence, h.getSequence)
	rt.HandleFunc(RoutePutSequence, h.putSequence)
	rt.HandleFunc(RouteSequenceHistory, h.sequenceHistory)
}

type handlers struct{ Deps }

// Response bodies (see the OpenAPI document's schemas of the same names).

type teamSettingsResponse struct {
	Version     int                 `json:"version"`
	EffectiveAt *time.Time          `json:"effective_at,omitempty"`
	UpdatedBy   string              `json:"updated_by,omitempty"`
	Settings    policy.TeamSettings `json:"settings"`
}

type teamSettingsVersion struct {
	Version     int                 `json:"version"`
	EffectiveAt time.Time           `json:"effective_at"`
	UpdatedBy   string              `json:"updated_by"`
	Settings    policy.TeamSettings `json:"settings"`
}

type teamSettingsHistory struct {
	Versions   []teamSettingsVersion `json:"versions"`
	NextBefore int                   `json:"next_before,omitempty"`
}

type sequenceSettingsResponse struct {
	SequenceID  string                  `json:"sequence_id"`
	Version     int                     `json:"version"`
	EffectiveAt *time.Time              `json:"effective_at,omitempty"`
	UpdatedBy   string                  `json:"updated_by,omitempty"`
	Override    policy.SequenceOverride `json:"override"`
	Effective   policy.Effective        `json:"effective"`
	// GET with members=true only: the contacts already added to the
	// sequence, who keep the rule they were added under (R4), so a client
	// can warn before a change of the rule.
	Members *int `json:"members,omitempty"`
	// PUT only, when the change touched the rule and members exist (R4).
	MembersKeepingPreviousRule int    `json:"members_keeping_previous_rule,omitempty"`
	Note                       string `json:"note,omitempty"`
}

type sequenceOverrideVersion struct {
	Version     int                     `json:"version"`
	EffectiveAt time.Time               `json:"effective_at"`
	UpdatedBy   string                  `json:"updated_by"`
	Override    policy.SequenceOverride `json:"override"`
}

type sequenceSettingsHistory struct {
	SequenceID string                    `json:"sequence_id"`
	Versions   []sequenceOverrideVersion `json:"versions"`
	NextBefore int                       `json:"next_before,omitempty"`
}

// shown is a settings document as the API shows it: every setting a
// version saved before it existed leaves unset, at its default.
func shown(d policy.TeamSettings) policy.TeamSettings {
	d.ActivityKinds = d.ActivityKinds.Clone()
	d.APIBudgetPercent = d.BudgetPercent()
	d.HeldEventMaxDays = d.HeldDays()
	d.Owner = d.OwnerRule()
	d.AccountMatching = d.AccountMatchingRule()
	d.AccountFallback = d.AccountFallbackRule()
	if d.FreeMailDomains == nil {
		d.FreeMailDomains = []string{}
	}
	d.SetBounceWriteback(d.BounceWriteback())
	d.SetOptOutWriteback(d.OptOutWriteback())
	d.RetentionDays = d.RetainDays()
	return d
}

func teamResponse(v policy.TeamVersion) teamSettingsResponse {
	r := teamSettingsResponse{Version: v.Number, Settings: shown(v.Document)}
	if v.Number > 0 {
		at := v.EffectiveAt
		r.EffectiveAt, r.UpdatedBy = &at, v.Author
	}
	return r
}

// writeFailure answers an error from the domain or the store: a validation
// error is a 400 naming the field, anything else a 500 logged once here.
func (h *handlers) writeFailure(w http.ResponseWriter, r *http.Request, err error) {
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", ve.Error(), ve.Field)
		return
	}
	h.Logger.ErrorContext(r.Context(), "settings request failed",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	httpapi.WriteError(w, http.StatusInternalServerError, "internal", "the settings could not be read or saved; try again", "")
}

func team(r *http.Request) *httpapi.Claims { return httpapi.ClaimsFrom(r.Context()) }

func (h *handlers) getSettings(w http.ResponseWriter, r *http.Request) {
	v, err := h.Store.TeamSettings(r.Context(), team(r).TeamID)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	w.Header().Set("ETag", httpapi.ETag(v.Number))
	httpapi.WriteJSON(w, http.StatusOK, teamResponse(v))
}

func (h *handlers) putSettings(w http.ResponseWriter, r *http.Request) {
	expected, ok := httpapi.IfMatch(w, r)
	if !ok {
		return
	}
	raw, ok := httpapi.ReadBody(w, r)
	if !ok {
		return
	}
	doc, err := policy.ParseTeamSettings(raw)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	c := team(r)
	if !h.checkFallbackUser(w, r, c.TeamID, doc, expected) {
		return
	}
	v, err := h.Store.SaveTeamSettings(r.Context(), c.TeamID, c.Subject, doc, expected)
	if errors.Is(err, policydb.ErrVersionConflict) {
		cur, cerr := h.Store.TeamSettings(r.Context(), c.TeamID)
		h.conflict(w, r, cur.Number, cerr)
		return
	}
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	w.Header().Set("ETag", httpapi.ETag(v.Number))
	httpapi.WriteJSON(w, http.StatusOK, teamResponse(v))
}

// checkFallbackUser checks a new owner_fallback_user_id against the team's
// org (Deps.Users) before the save, and answers when it cannot be saved: a
// 400 naming the field when the org has no such active User, 412 when
// If-Match is already stale (no call to Salesforce for a doomed write), or
// what the org's error calls for. A value unchanged from the current
// version, or empty (the connected user), is not checked again.
func (h *handlers) checkFallbackUser(w http.ResponseWriter, r *http.Request, teamID string, doc policy.TeamSettings, expected int) bool {
	if h.Users == nil || doc.OwnerFallbackUserID == "" {
		return true
	}
	cur, err := h.Store.TeamSettings(r.Context(), teamID)
	if err != nil {
		h.writeFailure(w, r, err)
		return false
	}
	if expected != policydb.AnyVersion && cur.Number != expected {
		h.conflict(w, r, cur.Number, nil)
		return false
	}
	if cur.Document.OwnerFallbackUserID == doc.OwnerFallbackUserID {
		return true
	}
	if err := h.Users.CheckUser(r.Context(), teamID, doc.OwnerFallbackUserID); err != nil {
		h.userCheckFailure(w, r, err)
		return false
	}
	return true
}

// userCheckFailure answers a failed check of owner_fallback_user_id: a
// User the org lacks or has inactive is a 400 naming the field; a team not
// connected is 409 not_connected (connect first), a connection Salesforce
// refuses 409 or 502 as connecthttp says, the org's API limit 429, an org
// that did not answer 502; anything else 500.
func (h *handlers) userCheckFailure(w http.ResponseWriter, r *http.Request, err error) {
	const field = "owner_fallback_user_id"
	var api *salesforce.APIError
	switch {
	case errors.Is(err, policy.ErrUserNotFound):
		h.writeFailure(w, r, &policy.ValidationError{Field: field, Problem: policy.ErrUserNotFound.Error()})
	case errors.Is(err, policy.ErrUserInactive):
		h.writeFailure(w, r, &policy.ValidationError{Field: field, Problem: policy.ErrUserInactive.Error()})
	case errors.Is(err, connection.ErrNotConnected):
		httpapi.WriteError(w, http.StatusConflict, "not_connected", "connect Salesforce first: owner_fallback_user_id is checked against the org's users; nothing was saved", "")
	case connecthttp.WriteRefused(w, err):
	case errors.Is(err, salesforce.ErrRequestLimit):
		httpapi.WriteError(w, http.StatusTooManyRequests, "salesforce_limit", "the org's daily API limit is reached; owner_fallback_user_id could not be checked and nothing was saved. Try again later", "")
	case errors.Is(err, salesforce.ErrTransient), errors.Is(err, salesforce.ErrConcurrentLimit), errors.Is(err, salesforce.ErrSessionExpired):
		h.Logger.WarnContext(r.Context(), "settings: salesforce unavailable", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		httpapi.WriteError(w, http.StatusBadGateway, "salesforce_unavailable", "Salesforce did not answer the check of owner_fallback_user_id; nothing was saved. Try again", "")
	case errors.As(err, &api):
		h.Logger.WarnContext(r.Context(), "settings: salesforce refused the user check", slog.String("path", r.URL.Path), slog.String("code", api.Code))
		httpapi.WriteError(w, http.StatusBadGateway, "salesforce_error", "Salesforce refused to look up the user ("+api.Code+"); check the connected user's permissions. Nothing was saved", "")
	default:
		h.writeFailure(w, r, fmt.Errorf("check owner_fallback_user_id: %w", err))
	}
}

func (h *handlers) conflict(w http.ResponseWriter, r *http.Request, current int, err error) {
	msg := "the document changed since the version in If-Match; nothing was saved. GET it again and reapply your change"
	if err == nil {
		w.Header().Set("ETag", httpapi.ETag(current))
		msg = fmt.Sprintf("the current version is %d, not the one in If-Match; nothing was saved. GET it again and reapply your change", current)
	}
	httpapi.WriteError(w, http.StatusPreconditionFailed, "version_conflict", msg, "If-Match")
}

// page reads the limit and before query parameters.
func page(r *http.Request) (limit, before int, err error) {
	q := r.URL.Query()
	limit = defaultHistoryPageLimit
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > policydb.MaxHistoryPage {
			return 0, 0, &policy.ValidationError{Field: "limit", Problem: fmt.Sprintf("must be a whole number from 1 to %d", policydb.MaxHistoryPage)}
		}
	}
	if s := q.Get("before"); s != "" {
		if before, err = strconv.Atoi(s); err != nil || before < 1 {
			return 0, 0, &policy.ValidationError{Field: "before", Problem: "must be a version number (1 or more), the next_before of the previous page"}
		}
	}
	return limit, before, nil
}

func (h *handlers) settingsHistory(w http.ResponseWriter, r *http.Request) {
	limit, before, err := page(r)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	vs, next, err := h.Store.TeamHistory(r.Context(), team(r).TeamID, limit, before)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	out := teamSettingsHistory{Versions: make([]teamSettingsVersion, len(vs)), NextBefore: next}
	for i, v := range vs {
		out.Versions[i] = teamSettingsVersion{Version: v.Number, EffectiveAt: v.EffectiveAt, UpdatedBy: v.Author, Settings: shown(v.Document)}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// sequenceID reads and checks the sequence_id path parameter (400 naming it).
func (h *handlers) sequenceID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("sequence_id")
	if err := policy.ValidateID("sequence_id", id); err != nil {
		h.writeFailure(w, r, err)
		return "", false
	}
	return id, true
}

// sequenceState reads the team's current settings and the sequence's
// current override, and the policy a contact added now would get.
func (h *handlers) sequenceState(ctx context.Context, teamID, seq string) (policy.SequenceVersion, policy.Effective, error) {
	tv, err := h.Store.TeamSettings(ctx, teamID)
	if err != nil {
		return policy.SequenceVersion{}, policy.Effective{}, err
	}
	sv, err := h.Store.SequenceOverride(ctx, teamID, seq)
	if err != nil {
		return policy.SequenceVersion{}, policy.Effective{}, err
	}
	return sv, effectiveNow(tv, sv, h.Now()), nil
}

// effectiveNow resolves the current versions as of now, or as of the newest
// of them should it be stamped (by a microsecond) after now.
func effectiveNow(tv policy.TeamVersion, sv policy.SequenceVersion, now time.Time) policy.Effective {
	at := now
	for _, t := range []time.Time{tv.EffectiveAt, sv.EffectiveAt} {
		if t.After(at) {
			at = t
		}
	}
	var teams []policy.TeamVersion
	if tv.Number > 0 {
		teams = []policy.TeamVersion{tv}
	}
	var seqs []policy.SequenceVersion
	if sv.Number > 0 {
		seqs = []policy.SequenceVersion{sv}
	}
	return policy.Resolve(teams, seqs, at)
}

func sequenceResponse(seq string, v policy.SequenceVersion, eff policy.Effective) sequenceSettingsResponse {
	r := sequenceSettingsResponse{SequenceID: seq, Version: v.Number, Override: v.Document, Effective: eff}
	if v.Number > 0 {
		at := v.EffectiveAt
		r.EffectiveAt, r.UpdatedBy = &at, v.Author
	}
	return r
}

// membersAsked reads the members query parameter of a sequence's GET:
// true asks for the count of its members, false or absent does not;
// anything else is a ValidationError naming members.
func membersAsked(r *http.Request) (bool, error) {
	v, given := r.URL.Query()["members"]
	switch {
	case !given:
		return false, nil
	case len(v) == 1 && v[0] == "true":
		return true, nil
	case len(v) == 1 && v[0] == "false":
		return false, nil
	}
	return false, &policy.ValidationError{Field: "members", Problem: "must be true or false, given once"}
}

// getSequence answers a sequence's override and effective policy, and,
// with members=true, how many contacts were already added to it: a count
// that reads every membership item of the sequence, so it is made only
// when asked (a client about to change the rule).
func (h *handlers) getSequence(w http.ResponseWriter, r *http.Request) {
	seq, ok := h.sequenceID(w, r)
	if !ok {
		return
	}
	count, err := membersAsked(r)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	teamID := team(r).TeamID
	sv, eff, err := h.sequenceState(r.Context(), teamID, seq)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	resp := sequenceResponse(seq, sv, eff)
	if count {
		n, err := h.Store.CountMembers(r.Context(), teamID, seq)
		if err != nil {
			h.writeFailure(w, r, fmt.Errorf("count members of %s: %w", seq, err))
			return
		}
		resp.Members = &n
	}
	w.Header().Set("ETag", httpapi.ETag(sv.Number))
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

func (h *handlers) putSequence(w http.ResponseWriter, r *http.Request) {
	seq, ok := h.sequenceID(w, r)
	if !ok {
		return
	}
	expected, ok := httpapi.IfMatch(w, r)
	if !ok {
		return
	}
	raw, ok := httpapi.ReadBody(w, r)
	if !ok {
		return
	}
	doc, err := policy.ParseSequenceOverride(raw)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	c := team(r)
	ctx := r.Context()
	prev, err := h.Store.SequenceOverride(ctx, c.TeamID, seq)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	if expected != policydb.AnyVersion && prev.Number != expected {
		h.conflict(w, r, prev.Number, nil)
		return
	}
	saved, err := h.Store.SaveSequenceOverride(ctx, c.TeamID, seq, c.Subject, doc, expected)
	if errors.Is(err, policydb.ErrVersionConflict) {
		cur, cerr := h.Store.SequenceOverride(ctx, c.TeamID, seq)
		h.conflict(w, r, cur.Number, cerr)
		return
	}
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	tv, err := h.Store.TeamSettings(ctx, c.TeamID)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	resp := sequenceResponse(seq, saved, effectiveNow(tv, saved, h.Now()))
	if ruleChanged(prev.Document, saved.Document) {
		n, err := h.Store.CountMembers(ctx, c.TeamID, seq)
		switch {
		case err != nil:
			// The change is saved; only the count is missing. Say so rather
			// than answer 500 for a write that happened.
			h.Logger.WarnContext(ctx, "count sequence members", slog.String("sequence_id", seq), slog.String("error", err.Error()))
			resp.Note = "The new rule applies to contacts added to this sequence from now on; contacts already in it keep the rule they were added under."
		case n > 0:
			resp.MembersKeepingPreviousRule = n
			resp.Note = fmt.Sprintf("The new rule applies to contacts added to this sequence from now on; the %d %s already in it keep the rule %s added under and are not synced again.",
				n, plural(n, "contact", "contacts"), plural(n, "it was", "they were"))
		}
	}
	w.Header().Set("ETag", httpapi.ETag(saved.Number))
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// ruleChanged reports whether a new override changes what a member gets:
// its sync mode, its sync_as, or Disable Sync.
func ruleChanged(prev, next policy.SequenceOverride) bool {
	return prev.SyncMode != next.SyncMode || prev.SyncAs != next.SyncAs || prev.SyncDisabled != next.SyncDisabled
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (h *handlers) sequenceHistory(w http.ResponseWriter, r *http.Request) {
	seq, ok := h.sequenceID(w, r)
	if !ok {
		return
	}
	limit, before, err := page(r)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	vs, next, err := h.Store.SequenceHistory(r.Context(), team(r).TeamID, seq, limit, before)
	if err != nil {
		h.writeFailure(w, r, err)
		return
	}
	out := sequenceSettingsHistory{SequenceID: seq, Versions: make([]sequenceOverrideVersion, len(vs)), NextBefore: next}
	for i, v := range vs {
		out.Versions[i] = sequenceOverrideVersion{Version: v.Number, EffectiveAt: v.EffectiveAt, UpdatedBy: v.Author, Override: v.Document}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}
