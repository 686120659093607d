// Package connection is a team's link to its Salesforce org (rule R1): the
// OAuth 2.0 authorization-code flow with PKCE that creates it, the tokens it
// holds, and the token source the sync functions share, which refreshes an
// expired access token once, serialized across concurrent Lambdas.
//
// The package knows nothing of DynamoDB, KMS or HTTP routing: it defines the
// Store it needs, and adapters implement it.
package connection

import (
	"context"
	"errors"
	"time"

	"github.com/sfsync/sfsync/shared/salesforce"
)

// Status of a connection.
type Status string

const (
	StatusConnected   Status = "connected"
	StatusNeedsReauth Status = "needs_reauth"
	// StatusNeedsAdmin: Salesforce refuses the refresh for a reason a new
	// consent alone does not mend (the user or org is inactive, the
	// deployment's connected app is not recognised). Connection.Problem
	// says which, and what to do; a reconnect clears it.
	StatusNeedsAdmin   Status = "needs_admin"
	StatusDisconnected Status = "disconnected"
)

// Environment is where the org logs in.
type Environment string

const (
	EnvProduction Environment = "production"
	EnvSandbox    Environment = "sandbox"
	EnvCustom     Environment = "custom"
)

// Sentinel errors.
var (
	ErrNotConnected = errors.New("connection: team has no Salesforce connection")
	ErrNeedsReauth  = errors.New("connection: Salesforce refused the refresh token; an admin must reconnect")
	// ErrNeedsAdmin is matched by the error of a needs_admin connection
	// (an *AdminError), which also matches ErrNeedsReauth: the team's
	// events are held alike until an admin acts and reconnects.
	ErrNeedsAdmin = errors.New("connection: Salesforce refuses the connection until an admin fixes its cause")
	// ErrAppRefused is matched by the error of a refresh Salesforce
	// refused because of this deployment's connected app (invalid_client,
	// invalid_client_id: a wrong consumer key or secret, a deleted app), an
	// *AppRefusedError. It is the operator's fault, not the team's: the
	// connection's status is left alone, and the error also matches
	// ErrNeedsReauth so that the team's events are held; the next batch
	// after the hold delay tries the refresh again, so once the operator
	// fixes the app every team recovers by itself.
	ErrAppRefused      = errors.New("connection: Salesforce refuses this deployment's connected app")
	ErrVersionConflict = errors.New("connection: tokens changed since they were read")
	ErrStateUnknown    = errors.New("connection: unknown or already used OAuth state")
	ErrStateExpired    = errors.New("connection: OAuth state expired")
	ErrAccessDenied    = errors.New("connection: the Salesforce user denied access")
	ErrBadSignature    = errors.New("connection: token response signature does not verify")
	ErrBadLoginURL     = errors.New("connection: login URL is not an allowed Salesforce host")
	ErrExchange        = errors.New("connection: Salesforce rejected the authorization code")
	ErrBadInstanceURL  = errors.New("connection: instance URL is not a Salesforce host")
	// ErrBadIdentity refuses a token whose identity URL is not a Salesforce
	// identity URL, or whose identity answer names another org or user than
	// the URL does.
	ErrBadIdentity = errors.New("connection: the identity URL or its answer does not check out")
	// ErrNoConsent refuses a connect completion: no consent waits under the
	// state, or the ticket, team or admin does not match, or it expired.
	// Callers answer it the same way whatever the cause, so that it reveals
	// nothing.
	ErrNoConsent = errors.New("connection: no consented connect matches this state and ticket")
	// ErrNotAdmin refuses a connect completion by a caller without the admin
	// role, whether or not the state exists.
	ErrNotAdmin = errors.New("connection: only an admin of the team can complete a connect")
)

// Connection is one team's connected org. Tokens are plaintext in memory
// only; the Store seals them at rest.
type Connection struct {
	TeamID      string
	ID          string // changes on every (re)connect; binds the sealed tokens
	Environment Environment
	LoginURL    string
	InstanceURL string
	OrgID       string
	OrgName     string // "" when Salesforce did not give it at connect
	UserID      string
	Username    string
	// TimeZone is the connected user's time zone at connect (IANA name;
	// "" when Salesforce did not give one Go knows): the default of the
	// team's time_zone setting.
	TimeZone     string
	ConnectedAt  time.Time
	ConnectedBy  string
	Status       Status
	AccessToken  string
	RefreshToken string
	Version      int64 // bumped on every token or status change
	Usage        *Usage
	// HeldAt is the last time this service parked the team's events because
	// it could not sync (reconnect needed, API budget spent), or the time it
	// reconnected after needing it. Parked events come back within the hold
	// delay of it, in any order, so an event whose contact.added is not
	// synced yet waits for that long after it.
	HeldAt time.Time
	// Problem says why a needs_admin connection cannot sync and what to
	// do; zero otherwise.
	Problem Problem
}

// Problem is why a connection needs an admin: Reason is Salesforce's OAuth
// error code (inactive_user, inactive_org, invalid_client,
// invalid_client_id), Message what to do about it, in words for the admin.
// Deployment is true when the cause is this service's connected app, not
// the team's org: its operator must act.
type Problem struct {
	Reason     string
	Message    string
	Deployment bool
}

// AdminError is the error of a connection that needs an admin. It matches
// ErrNeedsAdmin and ErrNeedsReauth.
type AdminError struct{ Problem Problem }

func (e *AdminError) Error() string {
	return "connection: Salesforce refuses the connection (" + e.Problem.Reason + "): " + e.Problem.Message
}

// Is makes errors.Is(err, ErrNeedsAdmin) and errors.Is(err, ErrNeedsReauth)
// hold.
func (e *AdminError) Is(target error) bool {
	return target == ErrNeedsAdmin || target == ErrNeedsReauth
}

// AppRefusedError is the error of a refresh Salesforce refused because of
// this deployment's connected app; Problem says which refusal and what the
// operator must check. It matches ErrAppRefused and ErrNeedsReauth, not
// ErrNeedsAdmin: nothing is asked of the team.
type AppRefusedError struct{ Problem Problem }

func (e *AppRefusedError) Error() string {
	return "connection: Salesforce refuses this deployment's connected app (" + e.Problem.Reason + "): " + e.Problem.Message
}

// Is makes errors.Is(err, ErrAppRefused) and errors.Is(err, ErrNeedsReauth)
// hold.
func (e *AppRefusedError) Is(target error) bool {
	return target == ErrAppRefused || target == ErrNeedsReauth
}

// adminProblems are the token endpoint's permanent refusals that a new
// consent alone does not mend, with what to tell the admin. Those with
// Deployment set are the operator's to fix (see ErrAppRefused).
var adminProblems = map[string]Problem{
	"inactive_user": {Reason: "inactive_user", Message: "the connected Salesforce user is inactive: reactivate them in Salesforce " +
		"(Setup, Users), or reconnect as another user who can see all Leads and Contacts"},
	"inactive_org": {Reason: "inactive_org", Message: "the Salesforce org is inactive or locked, or its edition has no API access: " +
		"ask Salesforce (or the org's billing contact) to reactivate it, then reconnect"},
	"invalid_client_id": {Reason: "invalid_client_id", Deployment: true, Message: "Salesforce does not recognise this service's connected app " +
		"(its consumer key): nothing is wrong in your org; the service's operator must check SALESFORCE_CLIENT_ID; syncs resume by themselves once it is fixed"},
	"invalid_client": {Reason: "invalid_client", Deployment: true, Message: "Salesforce refused this service's connected app credentials: " +
		"nothing is wrong in your org; the service's operator must check the consumer key and secret (SALESFORCE_CLIENT_ID, " +
		"SALESFORCE_CLIENT_SECRET_ARN); syncs resume by themselves once they are fixed"},
}

// AdminProblem returns the problem an OAuth error code stands for, and
// whether it is one that needs an admin (rather than a new consent).
func AdminProblem(code string) (Problem, bool) {
	p, ok := adminProblems[code]
	return p, ok
}

// Err is the error of a connection that cannot sync by its status: nil
// when connected, an *AdminError (needs_admin), ErrNeedsReauth, or
// ErrNotConnected.
func (c Connection) Err() error {
	switch c.Status {
	case StatusConnected:
		return nil
	case StatusNeedsReauth:
		return ErrNeedsReauth
	case StatusNeedsAdmin:
		return &AdminError{Problem: c.Problem}
	default:
		return ErrNotConnected
	}
}

// Usage is the last API usage Salesforce reported for the org, and the calls
// this service made for the team on one UTC day.
type Usage struct {
	Used  int       `json:"used"`  // the org's calls in the last 24 hours (Sforce-Limit-Info)
	Limit int       `json:"limit"` // the org's daily allocation
	At    time.Time `json:"at"`
	// ServiceCalls counts the calls this service made for the team on
	// ServiceDay (YYYY-MM-DD, UTC); the API budget governor reads it.
	ServiceCalls int    `json:"service_calls"`
	ServiceDay   string `json:"service_day,omitempty"`
}

// CallsOn returns the calls this service made for the team on day.
func (u *Usage) CallsOn(day string) int {
	if u == nil || u.ServiceDay != day {
		return 0
	}
	return u.ServiceCalls
}

// Day is the UTC day t falls on, as Usage.ServiceDay spells it.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// Token returns what a data call needs.
func (c Connection) Token() salesforce.Token {
	return salesforce.Token{AccessToken: c.AccessToken, InstanceURL: c.InstanceURL}
}

// PendingAuth is the server-side record of one authorization in progress,
// keyed by its state.
type PendingAuth struct {
	State       string
	TeamID      string
	Admin       string
	Verifier    string
	Environment Environment
	LoginURL    string
	ExpiresAt   time.Time
}

// Consent is an authorization Salesforce granted that no admin has completed
// yet: the connection it makes (tokens included, sealed at rest) once the
// admin who started the connect claims it with the one-time ticket, of which
// only the hash is kept.
type Consent struct {
	State      string
	Admin      string // the subject that started the connect; "" when the claims carried none
	TicketHash string // hex SHA-256 of the ticket
	ExpiresAt  time.Time
	// Connection is what completing makes of it: TeamID, Environment,
	// LoginURL, InstanceURL, OrgID, UserID, Username and the tokens.
	Connection Connection
}

// Ref names the consent.
func (c Consent) Ref() ConsentRef {
	return ConsentRef{TeamID: c.Connection.TeamID, State: c.State, ExpiresAt: c.ExpiresAt}
}

// ConsentRef names a consent not yet dropped, without its tokens.
type ConsentRef struct {
	TeamID    string
	State     string
	ExpiresAt time.Time
}

// Store keeps connections and pending authorizations.
type Store interface {
	SaveState(ctx context.Context, p PendingAuth) error
	// TakeState returns the pending authorization and uses it up (single use);
	// ErrStateUnknown when there is none.
	TakeState(ctx context.Context, state string) (PendingAuth, error)
	// SaveConsent stores what the callback obtained on its taken state, and
	// notes it under the team and under its deadline, so that an expired one
	// can be found and revoked.
	SaveConsent(ctx context.Context, c Consent) error
	// TakeConsent returns the consent of state and uses it up (single use);
	// ErrNoConsent when there is none or it was already taken.
	TakeConsent(ctx context.Context, state string) (Consent, error)
	// DropConsent deletes a consent and its notes.
	DropConsent(ctx context.Context, ref ConsentRef) error
	// Consents lists the team's consents not yet dropped.
	Consents(ctx context.Context, teamID string) ([]ConsentRef, error)
	// ExpiredConsents lists the consents of every team whose deadline is at
	// or before now and that are not dropped yet: at least those of the
	// last SweepLookback (the table's TTL deletes older ones).
	ExpiredConsents(ctx context.Context, now time.Time) ([]ConsentRef, error)
	// Get returns the team's connection; ErrNotConnected when there is none.
	Get(ctx context.Context, teamID string) (Connection, error)
	// Replace stores c as the team's connection and returns the one it replaced.
	Replace(ctx context.Context, c Connection) (*Connection, error)
	// SaveTokens stores new tokens if the connection is still at version;
	// ErrVersionConflict otherwise. An empty refresh keeps the stored one, and
	// so does an empty instanceURL. The connection becomes connected:
	// Salesforce just granted the tokens.
	SaveTokens(ctx context.Context, teamID, connID string, version int64, access, refresh, instanceURL string) (int64, error)
	// SetStatus changes the status, and the problem that comes with it
	// (zero for any status but needs_admin), if the connection is still at
	// version.
	SetStatus(ctx context.Context, teamID, connID string, version int64, s Status, p Problem) error
	// Delete removes the team's connection (tokens included).
	Delete(ctx context.Context, teamID string) error
	// AcquireLease takes the team's refresh lease for holder until the given
	// time, if nobody else holds an unexpired one.
	AcquireLease(ctx context.Context, teamID, holder string, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, teamID, holder string) error
	// RecordUsage saves the last API usage seen (u.Used, u.Limit, u.At) and
	// adds calls to the service's count of u.ServiceDay, which starts again
	// from calls on a new day. newDay says the caller saw no count of that
	// day stored: the write then tries to start the day's count first.
	RecordUsage(ctx context.Context, teamID string, u Usage, calls int, newDay bool) error
	// RecordHold notes that the team's events were parked at at (HeldAt),
	// unless a later time is stored; a team with no connection is not an
	// error.
	RecordHold(ctx context.Context, teamID string, at time.Time) error
}
