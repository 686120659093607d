// Package config holds the deployment settings of the CDK app: which regions
// and stage to deploy, how the HTTP API authenticates admins, and the
// operational defaults (throttling, alarms). Only the app's main reads
// it; constructs receive plain values through their props.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sfsync/sfsync/shared/console"
)

// ErrInvalid is wrapped by every validation error, so callers can tell bad
// settings apart from an unreadable file.
var ErrInvalid = errors.New("invalid deployment config")

// FieldError names the setting that is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes every FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Throttle is the HTTP API default stage's throttling.
type Throttle struct {
	RatePerSecond float64 `json:"ratePerSecond"`
	Burst         int     `json:"burst"`
}

// Alarms configures where alarms go and the thresholds that are not obvious.
type Alarms struct {
	// Email, when set, subscribes this address to the stack's alarm topic.
	Email string `json:"email,omitempty"`
	// TopicARN, when set, sends alarms to an existing topic in the same
	// region instead of creating one. Only used with a single region.
	TopicARN string `json:"topicArn,omitempty"`
	// OldestMessageSeconds alarms when an event waits longer than this.
	OldestMessageSeconds int `json:"oldestMessageSeconds"`
	// NeedsReauthThreshold alarms when this many connections need a new
	// consent within an hour.
	NeedsReauthThreshold int `json:"needsReauthThreshold"`
	// BudgetExceededThreshold alarms when teams hit their budget this many
	// times within an hour.
	BudgetExceededThreshold int `json:"budgetExceededThreshold"`
}

// Config is one deployment of the service: a stage in one or more regions.
type Config struct {
	Stage   string   `json:"stage"`
	Regions []string `json:"regions"`
	Account string   `json:"account,omitempty"`

	JWTIssuer      string   `json:"jwtIssuer"`
	JWTAudience    []string `json:"jwtAudience"`
	RequiredScopes []string `json:"requiredScopes,omitempty"`
	AdminOrigin    string   `json:"adminOrigin"`
	OAuthReturnURL string   `json:"oauthReturnUrl,omitempty"`
	// ConsoleFrameAncestors are the pages that may show the admin console
	// in a frame (its CSP frame-ancestors, console.FrameAncestors); empty:
	// none may.
	ConsoleFrameAncestors string `json:"consoleFrameAncestors,omitempty"`

	SalesforceClientID   string `json:"salesforceClientId"`
	SalesforceAPIVersion string `json:"salesforceApiVersion,omitempty"`

	// SequencerPrincipals are IAM principal ARNs (accounts or roles) allowed to
	// send events to the event queues and to read the results queue.
	SequencerPrincipals []string `json:"sequencerPrincipals,omitempty"`

	LogLevel string `json:"logLevel,omitempty"`
	// LegacyOutcomesUntil (YYYY-MM-DD, empty: none) is every function's
	// LEDGER_LEGACY_OUTCOMES_UNTIL: set it to 90 days after updating a
	// stack deployed before December 2026 (the README's "Deploying").
	LegacyOutcomesUntil string   `json:"legacyOutcomesUntil,omitempty"`
	LogRetentionDays    int      `json:"logRetentionDays,omitempty"`
	Throttle            Throttle `json:"throttle"`
	Alarms              Alarms   `json:"alarms"`
}

// Defaults filled in by Load for settings left out.
const (
	DefaultAPIVersion           = "v62.0"
	DefaultLogLevel             = "info"
	DefaultLogRetentionDays     = 30
	DefaultThrottleRate         = 50
	DefaultThrottleBurst        = 100
	DefaultOldestMessageSeconds = 900
	DefaultAlarmThreshold       = 1
)

// Overrides are the values given on the command line as CDK context; a
// non-empty one replaces the file's.
type Overrides struct {
	Stage   string
	Regions string // comma-separated
	Account string
}

// Load reads the JSON file at path, applies the overrides and the defaults,
// and validates the result.
func Load(path string, o Overrides) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read deployment config: %w", err)
	}
	c, err := Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("deployment config %s: %w", path, err)
	}
	if o.Stage != "" {
		c.Stage = o.Stage
	}
	if o.Regions != "" {
		c.Regions = nil
		for r := range strings.SplitSeq(o.Regions, ",") {
			if r = strings.TrimSpace(r); r != "" {
				c.Regions = append(c.Regions, r)
			}
		}
	}
	if o.Account != "" {
		c.Account = o.Account
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("deployment config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a config document strictly (an unknown field is an error, so
// a misspelt setting never silently falls back to its default) and fills in
// the defaults. It does not validate.
func Parse(raw []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c.applyDefaults()
	return c, nil
}

func (c *Config) applyDefaults() {
	if c.SalesforceAPIVersion == "" {
		c.SalesforceAPIVersion = DefaultAPIVersion
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	if c.LogRetentionDays == 0 {
		c.LogRetentionDays = DefaultLogRetentionDays
	}
	if c.OAuthReturnURL == "" {
		c.OAuthReturnURL = c.AdminOrigin
	}
	if c.Throttle.RatePerSecond == 0 {
		c.Throttle.RatePerSecond = DefaultThrottleRate
	}
	if c.Throttle.Burst == 0 {
		c.Throttle.Burst = DefaultThrottleBurst
	}
	if c.Alarms.OldestMessageSeconds == 0 {
		c.Alarms.OldestMessageSeconds = DefaultOldestMessageSeconds
	}
	if c.Alarms.NeedsReauthThreshold == 0 {
		c.Alarms.NeedsReauthThreshold = DefaultAlarmThreshold
	}
	if c.Alarms.BudgetExceededThreshold == 0 {
		c.Alarms.BudgetExceededThreshold = DefaultAlarmThreshold
	}
}

var (
	stageRe      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	regionRe     = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	accountRe    = regexp.MustCompile(`^[0-9]{12}$`)
	apiVersionRe = regexp.MustCompile(`^v[0-9]{2}\.0$`)
	arnRe        = regexp.MustCompile(`^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:.+$`)
	topicARNRe   = regexp.MustCompile(`^arn:aws[a-z-]*:sns:([a-z0-9-]+):[0-9]{12}:[A-Za-z0-9_-]+$`)
	emailRe      = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	clientIDRe   = regexp.MustCompile(`^[A-Za-z0-9._]{1,255}$`)
)

// logRetentionDays are the values CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var logLevels = []string{"debug", "info", "warn", "error"}

// Validate reports every wrong setting at once, each naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !stageRe.MatchString(c.Stage) {
		bad("stage", "got %q; want 1-20 lower-case letters, digits or dashes, starting with a letter", c.Stage)
	}
	if len(c.Regions) == 0 {
		bad("regions", "at least one region is required")
	}
	seen := map[string]bool{}
	for i, r := range c.Regions {
		switch {
		case !regionRe.MatchString(r):
			bad(fmt.Sprintf("regions[%d]", i), "got %q; want a region name like eu-west-1", r)
		case seen[r]:
			bad(fmt.Sprintf("regions[%d]", i), "region %q is listed twice", r)
		}
		seen[r] = true
	}
	if c.Account != "" && !accountRe.MatchString(c.Account) {
		bad("account", "got %q; want a 12-digit AWS account id", c.Account)
	}
	if err := checkURL(c.JWTIssuer, false); err != nil {
		bad("jwtIssuer", "%v", err)
	}
	if len(c.JWTAudience) == 0 {
		bad("jwtAudience", "at least one audience is required")
	}
	for i, a := range c.JWTAudience {
		if strings.TrimSpace(a) == "" {
			bad(fmt.Sprintf("jwtAudience[%d]", i), "must not be empty")
		}
	}
	for i, s := range c.RequiredScopes {
		if strings.TrimSpace(s) == "" || strings.ContainsAny(s, " \t") {
			bad(fmt.Sprintf("requiredScopes[%d]", i), "got %q; want a scope without spaces", s)
		}
	}
	if err := checkOrigin(c.AdminOrigin); err != nil {
		bad("adminOrigin", "%v", err)
	}
	if err := checkURL(c.OAuthReturnURL, true); err != nil {
		bad("oauthReturnUrl", "%v", err)
	}
	if _, err := console.FrameAncestors(c.ConsoleFrameAncestors); err != nil {
		bad("consoleFrameAncestors", "got %q; want 'self' or https origins separated by spaces: %v", c.ConsoleFrameAncestors, err)
	}
	if !clientIDRe.MatchString(c.SalesforceClientID) {
		bad("salesforceClientId", "got %q; want the connected app's consumer key", c.SalesforceClientID)
	}
	if !apiVersionRe.MatchString(c.SalesforceAPIVersion) {
		bad("salesforceApiVersion", "got %q; want a REST API version like v62.0", c.SalesforceAPIVersion)
	}
	for i, p := range c.SequencerPrincipals {
		if !accountRe.MatchString(p) && !arnRe.MatchString(p) {
			bad(fmt.Sprintf("sequencerPrincipals[%d]", i), "got %q; want a 12-digit account id or an IAM principal ARN", p)
		}
	}
	if c.LegacyOutcomesUntil != "" {
		if _, err := time.Parse(time.DateOnly, c.LegacyOutcomesUntil); err != nil {
			bad("legacyOutcomesUntil", "got %q; want a day, YYYY-MM-DD", c.LegacyOutcomesUntil)
		}
	}
	if !slices.Contains(logLevels, c.LogLevel) {
		bad("logLevel", "got %q; want one of %s", c.LogLevel, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logRetentionDays, c.LogRetentionDays) {
		bad("logRetentionDays", "got %d; want a CloudWatch Logs retention such as 7, 30, 90 or 365", c.LogRetentionDays)
	}
	if c.Throttle.RatePerSecond < 0 || c.Throttle.RatePerSecond > 10000 {
		bad("throttle.ratePerSecond", "got %v; want 0 < rate <= 10000", c.Throttle.RatePerSecond)
	}
	if c.Throttle.Burst < 0 || c.Throttle.Burst > 5000 {
		bad("throttle.burst", "got %d; want 0 < burst <= 5000", c.Throttle.Burst)
	}
	if c.Alarms.Email != "" && !emailRe.MatchString(c.Alarms.Email) {
		bad("alarms.email", "got %q; want an email address", c.Alarms.Email)
	}
	if c.Alarms.TopicARN != "" {
		m := topicARNRe.FindStringSubmatch(c.Alarms.TopicARN)
		switch {
		case m == nil:
			bad("alarms.topicArn", "got %q; want an SNS topic ARN", c.Alarms.TopicARN)
		case len(c.Regions) != 1 || m[1] != c.Regions[0]:
			bad("alarms.topicArn", "an existing topic can only be used for a single-region deployment in the topic's region %s", m[1])
		}
	}
	if c.Alarms.OldestMessageSeconds < 60 || c.Alarms.OldestMessageSeconds > 14*24*3600 {
		bad("alarms.oldestMessageSeconds", "got %d; want 60 to 1209600", c.Alarms.OldestMessageSeconds)
	}
	if c.Alarms.NeedsReauthThreshold < 0 {
		bad("alarms.needsReauthThreshold", "got %d; want >= 1", c.Alarms.NeedsReauthThreshold)
	}
	if c.Alarms.BudgetExceededThreshold < 0 {
		bad("alarms.budgetExceededThreshold", "got %d; want >= 1", c.Alarms.BudgetExceededThreshold)
	}
	return errors.Join(errs...)
}

// StackName is the name of the stage's stack in one region.
func (c Config) StackName(region string) string {
	return "sfsync-" + c.Stage + "-" + region
}

func checkURL(raw string, allowPath bool) error {
	if raw == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("got %q; not a URL", raw)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("got %q; want an https:// URL", raw)
	}
	if !allowPath && (u.RawQuery != "" || u.Fragment != "") {
		return fmt.Errorf("got %q; want no query or fragment", raw)
	}
	return nil
}

func checkOrigin(raw string) error {
	if raw == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("got %q; want an origin like https://admin.example.com", raw)
	}
	local := u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1"
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		return fmt.Errorf("got %q; want https (http only for localhost)", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("got %q; an origin has no path, query or fragment", raw)
	}
	return nil
}
