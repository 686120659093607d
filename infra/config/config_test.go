package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/infra/config"
)

const valid = `{
	"stage": "prod",
	"regions": ["eu-west-1", "us-east-1"],
	"jwtIssuer": "https://auth.example.com/",
	"jwtAudience": ["sfsync-admin"],
	"adminOrigin": "https://admin.example.com",
	"salesforceClientId": "3MVG9ABC.def_1"
}`

func TestParseAppliesDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Parse([]byte(valid))
	if err != nil {
		t.Fatalf("got %v; want no error", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("got %v; want a valid config", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"api version", c.SalesforceAPIVersion, config.DefaultAPIVersion},
		{"log level", c.LogLevel, config.DefaultLogLevel},
		{"log retention", c.LogRetentionDays, config.DefaultLogRetentionDays},
		{"return url", c.OAuthReturnURL, "https://admin.example.com"},
		{"throttle rate", c.Throttle.RatePerSecond, float64(config.DefaultThrottleRate)},
		{"throttle burst", c.Throttle.Burst, config.DefaultThrottleBurst},
		{"oldest message", c.Alarms.OldestMessageSeconds, config.DefaultOldestMessageSeconds},
		{"stack name", c.StackName("eu-west-1"), "sfsync-prod-eu-west-1"},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("%s: got %v; want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		edit   func(*config.Config)
		fields []string
	}{
		{"bad stage", func(c *config.Config) { c.Stage = "Prod!" }, []string{"stage"}},
		{"no regions", func(c *config.Config) { c.Regions = nil }, []string{"regions"}},
		{"bad region", func(c *config.Config) { c.Regions = []string{"eu-west-1", "mars"} }, []string{"regions[1]"}},
		{"duplicate region", func(c *config.Config) { c.Regions = []string{"eu-west-1", "eu-west-1"} }, []string{"regions[1]"}},
		{"bad account", func(c *config.Config) { c.Account = "12345" }, []string{"account"}},
		{"http issuer", func(c *config.Config) { c.JWTIssuer = "http://auth.example.com" }, []string{"jwtIssuer"}},
		{"no audience", func(c *config.Config) { c.JWTAudience = nil }, []string{"jwtAudience"}},
		{"empty audience", func(c *config.Config) { c.JWTAudience = []string{" "} }, []string{"jwtAudience[0]"}},
		{"scope with space", func(c *config.Config) { c.RequiredScopes = []string{"a b"} }, []string{"requiredScopes[0]"}},
		{"origin with path", func(c *config.Config) { c.AdminOrigin = "https://admin.example.com/app" }, []string{"adminOrigin"}},
		{"plain http origin", func(c *config.Config) { c.AdminOrigin = "http://admin.example.com" }, []string{"adminOrigin"}},
		{"http return url", func(c *config.Config) { c.OAuthReturnURL = "http://admin.example.com/x" }, []string{"oauthReturnUrl"}},
		{"frame ancestors wildcard", func(c *config.Config) { c.ConsoleFrameAncestors = "*" }, []string{"consoleFrameAncestors"}},
		{"frame ancestors injecting a directive", func(c *config.Config) {
			c.ConsoleFrameAncestors = "https://app.example.com; script-src *"
		}, []string{"consoleFrameAncestors"}},
		{"client id with spaces", func(c *config.Config) { c.SalesforceClientID = "not a key" }, []string{"salesforceClientId"}},
		{"api version", func(c *config.Config) { c.SalesforceAPIVersion = "62" }, []string{"salesforceApiVersion"}},
		{"principal", func(c *config.Config) { c.SequencerPrincipals = []string{"someone"} }, []string{"sequencerPrincipals[0]"}},
		{"log level", func(c *config.Config) { c.LogLevel = "verbose" }, []string{"logLevel"}},
		{"legacy outcomes until, not a day", func(c *config.Config) { c.LegacyOutcomesUntil = "2027-02-30" }, []string{"legacyOutcomesUntil"}},
		{"legacy outcomes until, a time", func(c *config.Config) { c.LegacyOutcomesUntil = "2027-03-07T00:00:00Z" }, []string{"legacyOutcomesUntil"}},
		{"retention", func(c *config.Config) { c.LogRetentionDays = 31 }, []string{"logRetentionDays"}},
		{"throttle", func(c *config.Config) { c.Throttle.RatePerSecond = -1 }, []string{"throttle.ratePerSecond"}},
		{"email", func(c *config.Config) { c.Alarms.Email = "oncall" }, []string{"alarms.email"}},
		{"topic in two regions", func(c *config.Config) { c.Alarms.TopicARN = "arn:aws:sns:eu-west-1:123456789012:alarms" }, []string{"alarms.topicArn"}},
		{"oldest message", func(c *config.Config) { c.Alarms.OldestMessageSeconds = 5 }, []string{"alarms.oldestMessageSeconds"}},
		{"two at once", func(c *config.Config) { c.Stage = ""; c.LogLevel = "loud" }, []string{"stage", "logLevel"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse([]byte(valid))
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(&c)
			err = c.Validate()
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("got %v; want an error wrapping ErrInvalid", err)
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *config.FieldError
				if errors.As(e, &fe) {
					got = append(got, fe.Field)
				}
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("got fields %v; want %v (error: %v)", got, tc.fields, err)
			}
		})
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	_, err := config.Parse([]byte(`{"stage": "dev", "regoins": ["eu-west-1"]}`))
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "regoins") {
		t.Errorf("got %v; want an ErrInvalid naming regoins", err)
	}
}

func TestLoadAppliesOverrides(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "prod.json")
	if err := os.WriteFile(path, []byte(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		overrides   config.Overrides
		wantStage   string
		wantRegions []string
		wantErr     string
	}{
		{"file as is", config.Overrides{}, "prod", []string{"eu-west-1", "us-east-1"}, ""},
		{"stage and regions", config.Overrides{Stage: "staging", Regions: " ap-southeast-2 , eu-central-1"}, "staging", []string{"ap-southeast-2", "eu-central-1"}, ""},
		{"bad override", config.Overrides{Account: "abc"}, "", nil, "account"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(path, tc.overrides)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v; want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v; want no error", err)
			}
			if c.Stage != tc.wantStage || !slices.Equal(c.Regions, tc.wantRegions) {
				t.Errorf("got stage %q regions %v; want %q %v", c.Stage, c.Regions, tc.wantStage, tc.wantRegions)
			}
		})
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.json"), config.Overrides{}); err == nil {
		t.Errorf("missing file: got no error; want one")
	}
}

func TestShippedConfigsAreValid(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("got %v, %v; want the shipped config files", files, err)
	}
	for _, f := range files {
		if _, err := config.Load(f, config.Overrides{}); err != nil {
			t.Errorf("%s: got %v; want a valid config", f, err)
		}
	}
}
