// Package policy holds the team's Salesforce sync settings, the per-sequence
// overrides, their version history, and the resolution of the effective
// policy as of a moment (rules R2-R4 of the design).
//
// The package is pure: it knows nothing of DynamoDB or HTTP. Its adapters are
// policydb (storage) and policyhttp (the settings API).
package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sfsync/sfsync/shared/budget"
)

// SyncAs is the Salesforce object a synced contact becomes.
type SyncAs string

// The sync_as values of team settings.
const (
	SyncAsLead    SyncAs = "lead"
	SyncAsContact SyncAs = "contact"
)

// SyncMode says when a contact added to a sequence is synced.
type SyncMode string

// The sync_mode values of team settings.
const (
	ModeOff     SyncMode = "off"      // never
	ModeOnAdd   SyncMode = "on_add"   // when added to a sequence
	ModeOnReply SyncMode = "on_reply" // on the contact's first reply
)

// Inherit is the override value that defers to the team setting.
const Inherit = "inherit"

// ActivityKind is one kind of email activity that can be logged as a Task.
type ActivityKind string

// The activity kinds, named after the email event types (email.sent, ...).
const (
	ActivitySent    ActivityKind = "sent"
	ActivityReplied ActivityKind = "replied"
	ActivityOpened  ActivityKind = "opened"
	ActivityClicked ActivityKind = "clicked"
	ActivityBounced ActivityKind = "bounced"
)

// ActivityKindDefaults lists every known activity kind with whether it is
// logged by default. Adding a kind here is all it takes to support it: saved
// documents that predate it read it as its default.
var ActivityKindDefaults = []struct {
	Kind    ActivityKind
	Default bool
}{
	{ActivitySent, true},
	{ActivityReplied, true},
	{ActivityOpened, false},
	{ActivityClicked, false},
	{ActivityBounced, true},
}

// ActivityKinds says, per kind, whether that activity is logged.
type ActivityKinds map[ActivityKind]bool

// DefaultActivityKinds returns the default kinds: sent, replied and bounced
// on; opened and clicked off.
func DefaultActivityKinds() ActivityKinds {
	k := make(ActivityKinds, len(ActivityKindDefaults))
	for _, d := range ActivityKindDefaults {
		k[d.Kind] = d.Default
	}
	return k
}

// Clone returns a copy of k with every known kind present (missing kinds take
// their default).
func (k ActivityKinds) Clone() ActivityKinds {
	out := DefaultActivityKinds()
	for kind, on := range k {
		out[kind] = on
	}
	return out
}

// TeamSettings is a team's sync settings (R2).
type TeamSettings struct {
	SyncAs           SyncAs        `json:"sync_as"`
	SyncMode         SyncMode      `json:"sync_mode"`
	Deduplication    bool          `json:"deduplication"`
	ActivityTracking bool          `json:"activity_tracking"`
	ActivityKinds    ActivityKinds `json:"activity_kinds"`
	// APIBudgetPercent caps the share of the org's daily API allocation
	// this service may spend for the team (1..100; the API budget governor).
	APIBudgetPercent int `json:"api_budget_percent"`
	// HeldEventMaxDays is how long an event may be held (the team must
	// reconnect, or its API budget is spent) from when the queue first
	// delivered it, before it is skipped as held_too_long (1..MaxHeldDays).
	HeldEventMaxDays int `json:"held_event_max_days"`
	// AllowSaveOnDuplicateAlert lets a create go through an "alert"
	// duplicate rule of the org (Sforce-Duplicate-Rule-Header:
	// allowSave=true); "block" rules still block. Off (the default), a
	// record an alert rule matches is never saved over it: the contact
	// is linked to a match with its email, or fails DUPLICATES_DETECTED.
	AllowSaveOnDuplicateAlert bool `json:"allow_save_on_duplicate_alert"`

	// The settings of R10 (see attribution.go); versions saved before
	// they existed hold their zero values, which read as the defaults.

	// Owner is who owns the Leads, Contacts and Tasks the service creates;
	// read it with OwnerRule ("" is OwnerRep).
	Owner OwnerRule `json:"owner"`
	// OwnerFallbackUserID is the Salesforce User (005...) who owns them
	// when the rep cannot, or always with OwnerFallbackOnly; "" is the
	// connected user. The settings API checks a new value against the org.
	OwnerFallbackUserID string `json:"owner_fallback_user_id,omitempty"`
	// AccountMatching is how a new Contact's Account is found; read it
	// with AccountMatchingRule ("" is AccountMatchDomain).
	AccountMatching AccountMatching `json:"account_matching"`
	// AccountFallback is what happens when no Account matches; read it
	// with AccountFallbackRule ("" is AccountFallbackCreate).
	AccountFallback AccountFallback `json:"account_fallback"`
	// FreeMailDomains are the team's free-mail domains, on top of the list
	// the service ships: an email there names no company. Normalized
	// (NormalizeFreeMailDomains): lower-case, no "@" or "www.", each once;
	// nil when none.
	FreeMailDomains []string `json:"free_mail_domains"`
	// TimeZone is the IANA time zone activity is dated in; "" is the
	// connected user's time zone, else UTC (read it with Location).
	TimeZone string `json:"time_zone,omitempty"`

	// The settings of the contact's lifecycle (see lifecycle.go); versions
	// saved before they existed leave them nil or zero, which read as the
	// defaults.

	// BounceWritebackSetting is bounce_writeback as saved: whether a
	// bounce's reason and date are written back to the contact's Lead or
	// Contact. nil reads as true; read it with BounceWriteback, set it
	// with SetBounceWriteback.
	BounceWritebackSetting *bool `json:"bounce_writeback,omitempty"`
	// OptOutWritebackSetting is optout_writeback as saved: whether a
	// contact.unsubscribed is written to the HasOptedOutOfEmail of the
	// contact's Lead or Contact. nil reads as true; read it with
	// OptOutWriteback, set it with SetOptOutWriteback.
	OptOutWritebackSetting *bool `json:"optout_writeback,omitempty"`
	// RetentionDays is how many days the service keeps a contact's
	// memberships, record index entry and outcomes after their last
	// change (MinRetentionDays..MaxRetentionDays); 0 reads as
	// DefaultRetentionDays. Read it with Retention or RetainDays.
	RetentionDays int `json:"retention_days"`
}

// Bounds of held_event_max_days. The most is the event queues' message
// retention (14 days, SQS's longest): an event may be held only as long
// as its queue is sure to keep it. shared/resources tests that the queues
// keep it that long.
const (
	DefaultHeldDays = 14
	MinHeldDays     = 1
	MaxHeldDays     = 14
)

// DefaultTeamSettings returns the settings of a team that never saved any:
// lead, on_add, deduplication and activity tracking on, the default kinds;
// records owned by the rep, Accounts matched by domain and created when none
// matches, no extra free-mail domains, the connected user's time zone;
// bounces and opt-outs written back, what the service knows of a contact
// kept 400 days.
func DefaultTeamSettings() TeamSettings {
	on := func() *bool { v := true; return &v }
	return TeamSettings{
		SyncAs:           SyncAsLead,
		SyncMode:         ModeOnAdd,
		Deduplication:    true,
		ActivityTracking: true,
		ActivityKinds:    DefaultActivityKinds(),
		APIBudgetPercent: budget.DefaultPercent,
		HeldEventMaxDays: DefaultHeldDays,
		Owner:            OwnerRep,
		AccountMatching:  AccountMatchDomain,
		AccountFallback:  AccountFallbackCreate,

		BounceWritebackSetting: on(),
		OptOutWritebackSetting: on(),
		RetentionDays:          DefaultRetentionDays,
	}
}

// HeldMax is how long the team's events may be held; versions saved
// before the setting existed have the default.
func (s TeamSettings) HeldMax() time.Duration {
	return time.Duration(s.HeldDays()) * 24 * time.Hour
}

// HeldDays is the team's held_event_max_days, the default when unset.
func (s TeamSettings) HeldDays() int {
	if s.HeldEventMaxDays == 0 {
		return DefaultHeldDays
	}
	return s.HeldEventMaxDays
}

// BudgetPercent is the team's API budget cap; versions saved before the
// setting existed have the default.
func (s TeamSettings) BudgetPercent() int {
	if s.APIBudgetPercent == 0 {
		return budget.DefaultPercent
	}
	return s.APIBudgetPercent
}

// SequenceOverride is one sequence's overrides of the team settings (R3).
// SyncMode and SyncAs are "inherit" or a value of the team setting.
type SequenceOverride struct {
	SyncMode     string `json:"sync_mode"`
	SyncAs       string `json:"sync_as"`
	SyncDisabled bool   `json:"sync_disabled"`
}

// DefaultSequenceOverride returns the override of a sequence that never saved
// one: inherit everything, sync enabled.
func DefaultSequenceOverride() SequenceOverride {
	return SequenceOverride{SyncMode: Inherit, SyncAs: Inherit}
}

// Version is one saved change of a document: its number (1, 2, ...), when it
// took effect (the server's time of the change), who made it (the subject of
// the admin's token) and the full document as saved.
type Version[T any] struct {
	Number      int       `json:"version"`
	EffectiveAt time.Time `json:"effective_at"`
	Author      string    `json:"updated_by"`
	Document    T         `json:"-"`
}

// TeamVersion is a saved version of a team's settings.
type TeamVersion = Version[TeamSettings]

// SequenceVersion is a saved version of a sequence's override.
type SequenceVersion = Version[SequenceOverride]

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid policy")

// ValidationError names the offending field and what is wrong with it.
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

var (
	syncAsValues   = []string{string(SyncAsLead), string(SyncAsContact)}
	syncModeValues = []string{string(ModeOff), string(ModeOnAdd), string(ModeOnReply)}
)

func oneOf(values []string) string { return "must be one of " + strings.Join(values, ", ") }

// Validate checks every field of s as stored, naming the first wrong one
// and the allowed values. Zero values (versions saved before a field
// existed) are valid and read as the defaults.
func (s TeamSettings) Validate() error {
	if !slices.Contains(syncAsValues, string(s.SyncAs)) {
		return invalid("sync_as", "%s", oneOf(syncAsValues))
	}
	if !slices.Contains(syncModeValues, string(s.SyncMode)) {
		return invalid("sync_mode", "%s", oneOf(syncModeValues))
	}
	for _, kind := range sortedKinds(s.ActivityKinds) {
		if !knownKind(kind) {
			return invalid("activity_kinds."+string(kind), "unknown activity kind; %s", oneOf(kindNames()))
		}
	}
	if s.APIBudgetPercent != 0 && !budget.ValidPercent(s.APIBudgetPercent) {
		return invalid("api_budget_percent", "must be a whole number from 1 to 100")
	}
	if s.HeldEventMaxDays != 0 && !validHeldDays(s.HeldEventMaxDays) {
		return invalid("held_event_max_days", "%s", heldDaysProblem)
	}
	if err := s.validateLifecycle(); err != nil {
		return err
	}
	return s.validateAttribution()
}

func validHeldDays(n int) bool { return n >= MinHeldDays && n <= MaxHeldDays }

var heldDaysProblem = fmt.Sprintf("must be a whole number of days from 1 to %d (the event queues keep a message %d days)", MaxHeldDays, MaxHeldDays)

// Validate checks every field of o, naming the first wrong one and the
// allowed values.
func (o SequenceOverride) Validate() error {
	if v := append([]string{Inherit}, syncModeValues...); !slices.Contains(v, o.SyncMode) {
		return invalid("sync_mode", "%s", oneOf(v))
	}
	if v := append([]string{Inherit}, syncAsValues...); !slices.Contains(v, o.SyncAs) {
		return invalid("sync_as", "%s", oneOf(v))
	}
	return nil
}

func knownKind(k ActivityKind) bool {
	for _, d := range ActivityKindDefaults {
		if d.Kind == k {
			return true
		}
	}
	return false
}

func kindNames() []string {
	names := make([]string, len(ActivityKindDefaults))
	for i, d := range ActivityKindDefaults {
		names[i] = string(d.Kind)
	}
	return names
}

func sortedKinds(k ActivityKinds) []ActivityKind {
	kinds := make([]ActivityKind, 0, len(k))
	for kind := range k {
		kinds = append(kinds, kind)
	}
	slices.Sort(kinds)
	return kinds
}

// Identifier limits: team and sequence ids follow the event contract's id
// rule, which also keeps them free of the '#' the storage keys use.
const MaxIDLength = 128

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// ValidateID checks a team or sequence id, naming field in the error.
func ValidateID(field, id string) error {
	switch {
	case id == "":
		return invalid(field, "must not be empty")
	case utf8.RuneCountInString(id) > MaxIDLength:
		return invalid(field, "longer than %d characters", MaxIDLength)
	case !idRE.MatchString(id):
		return invalid(field, "must start with a letter or digit and hold only letters, digits and . _ : -")
	}
	return nil
}
