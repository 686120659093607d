// Command sfsim runs the local Salesforce org used by the tests, `make run` and
// `make demo`: the OAuth 2.0 web server flow and the REST data API subset the sync
// service needs, with a page at / that lists the org's records. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // -time-zone names an IANA zone wherever sfsim runs

	"github.com/sfsync/sfsync/tools/sfsim/org"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sfsim:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("sfsim", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sfsim [flags]\n\nA local Salesforce org: OAuth web server flow, REST data API, faults, and a records page at /.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8787", "listen address (host:port; port 0 picks a free one)")
	clientID := fs.String("client-id", "sfsim-client-id", "connected app consumer key")
	clientSecret := fs.String("client-secret", "sfsim-client-secret", "connected app consumer secret (also read from SFSIM_CLIENT_SECRET)")
	redirects := fs.String("redirect-uris", "http://127.0.0.1:8080/oauth/salesforce/callback", "comma-separated callback URLs registered on the connected app (exact match)")
	autoApprove := fs.Bool("auto-approve", false, "skip the login/consent page: /services/oauth2/authorize redirects with a code at once (scripted OAuth)")
	tokenTTL := fs.Duration("token-ttl", 2*time.Hour, "access tokens expire this long after issue (0: never)")
	tokenCalls := fs.Int("token-calls", 0, "access tokens expire after this many API calls (0: never)")
	rotate := fs.Bool("rotate-refresh-tokens", false, "refresh-token rotation: every refresh returns a new refresh token and the old one stops working")
	dailyLimit := fs.Int("daily-limit", 15000, "daily API request allocation (403 REQUEST_LIMIT_EXCEEDED beyond it)")
	pageSize := fs.Int("page-size", 2000, "query page size (records per page before nextRecordsUrl)")
	lenient := fs.Bool("lenient", false, "a simpler org than a customer's: no duplicate rules, the standard Task statuses (Completed), composite answers in request order")
	dupLead := fs.String("duplicate-rule-lead", "", "standard Lead duplicate rule: off, alert (allowSave=true overrides) or block (default: alert, or off with -lenient)")
	dupContact := fs.String("duplicate-rule-contact", "", "standard Contact duplicate rule: off, alert or block (default: alert, or off with -lenient)")
	latency := fs.Duration("latency", 0, "delay every data API call by this much: a slow, trigger-heavy org")
	identityOnLogin := fs.Bool("identity-on-login-host", false, "name the identity URL on the login host; by default it is on the other loopback host (localhost for 127.0.0.1), as Salesforce names login.salesforce.com for a token asked from a My Domain")
	leadQueue := fs.Bool("lead-assignment", false, "an active lead assignment rule gives new Leads to the org's lead queue unless Sforce-Auto-Assign: FALSE")
	orgDef := fs.String("org-definition", "", "org definition JSON file declaring custom fields: {\"customFields\":{\"Lead\":[{\"name\":\"X__c\",\"type\":\"text\",\"length\":50}]}}")
	stateFile := fs.String("state-file", "", "JSON file that keeps the org across restarts (loaded at start, written after each change)")
	username := fs.String("username", "admin@sfsim.example", "the API user's username")
	timeZone := fs.String("time-zone", org.DefaultTimeZone, "the API user's TimeZoneSidKey and the org's default time zone (an IANA name)")
	seed := fs.Int64("seed", 1, "seed for fractional fault rules")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if v := os.Getenv("SFSIM_CLIENT_SECRET"); v != "" && !flagSet(fs, "client-secret") {
		*clientSecret = v
	}
	cfg := org.Config{
		ClientID: *clientID, ClientSecret: *clientSecret, AutoApprove: *autoApprove,
		TokenTTL: *tokenTTL, TokenCalls: *tokenCalls, Rotate: *rotate,
		DailyLimit: *dailyLimit, PageSize: *pageSize, StateFile: *stateFile,
		Username: *username, Email: *username, TimeZone: *timeZone, Seed: *seed, Lenient: *lenient, Latency: *latency, IdentityOnLoginHost: *identityOnLogin,
		Logger:         slog.New(slog.NewJSONHandler(os.Stderr, nil)),
		DuplicateRules: map[string]org.DuplicateRule{},
	}
	for _, u := range strings.Split(*redirects, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.RedirectURIs = append(cfg.RedirectURIs, u)
		}
	}
	for obj, v := range map[string]string{"Lead": *dupLead, "Contact": *dupContact} {
		switch v {
		case "": // the org's default
		case "off":
			cfg.DuplicateRules[obj] = org.DuplicateRule{}
		case "alert":
			cfg.DuplicateRules[obj] = org.DuplicateRule{Enabled: true, AllowSave: true}
		case "block":
			cfg.DuplicateRules[obj] = org.DuplicateRule{Enabled: true}
		default:
			return fmt.Errorf("-duplicate-rule-%s: %q is not off, alert or block", strings.ToLower(obj), v)
		}
	}
	if *dailyLimit <= 0 {
		return fmt.Errorf("-daily-limit: must be positive")
	}
	if *pageSize <= 0 {
		return fmt.Errorf("-page-size: must be positive")
	}
	if _, err := time.LoadLocation(*timeZone); err != nil || *timeZone == "" || *timeZone == "Local" {
		return fmt.Errorf("-time-zone: %q is not an IANA time zone name such as America/Los_Angeles", *timeZone)
	}
	if *orgDef != "" {
		d, err := org.LoadDefinition(*orgDef)
		if err != nil {
			return err
		}
		cfg.Definition = d
	}
	o := org.New(cfg)
	if *leadQueue {
		cfg.LeadQueue = o.QueueID()
		o = org.New(cfg)
	}
	url, err := o.ListenAndStart(*addr)
	if err != nil {
		return err
	}
	cfg.Logger.Info("sfsim listening", "url", url, "org_id", o.OrgID(), "user_id", o.UserID(), "client_id", *clientID)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return o.Close()
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
