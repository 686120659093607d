package connecthttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/salesforce"
	"github.com/sfsync/sfsync/tools/headless"
)

// browse opens authorizeURL in headless Chromium, clicks button on the
// simulator's consent page and returns the URL the browser lands on.
func browse(t *testing.T, authorizeURL, button string) string {
	t.Helper()
	opts := headless.Options(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(authorizeURL), chromedp.WaitVisible(button), chromedp.Click(button)); err != nil {
		t.Fatalf("browser: %v", err)
	}
	var landed string
	for !strings.Contains(landed, "/return") {
		var err error
		if landed, err = chromedp.Run(bctx, chromedp.Location()); err != nil {
			t.Fatalf("browser location: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("browser never reached the return URL; last at %s", landed)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return landed
}

func TestDenyInABrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{}) // the consent page is shown
	landed := browse(t, e.beginConnect(), "#deny")
	if want := e.returnURL + "?reason=access_denied&salesforce=denied"; landed != want {
		t.Fatalf("landed on %q; want %q", landed, want)
	}
	if _, err := e.store.Get(context.Background(), "team_a"); !errors.Is(err, connection.ErrNotConnected) {
		t.Errorf("after deny: got %v; want ErrNotConnected", err)
	}
}

// TestConnectAttackInABrowser: team A's admin starts a connect and the link
// reaches another browser (the attacker's victim, or the attacker), with no
// session of team A, which consents at Salesforce. That consent connects
// nothing, and only team A's admin, with the state and the ticket that only
// the consenting browser saw, completes it, once. Each refusal burns the
// consent, so each refused case gets its own consent, and the rightful
// completion of that consent is tried after it: it must fail too.
func TestConnectAttackInABrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{}) // the consent page is shown
	adminA := httpapi.Claims{}   // team_a's admin_1, who starts every connect
	adminB := httpapi.Claims{TeamID: "team_b", Role: "admin", Subject: "admin_b"}
	consent := func() (string, string) {
		t.Helper()
		landed, err := url.Parse(browse(t, e.beginConnect(), "#allow"))
		if err != nil {
			t.Fatal(err)
		}
		q := landed.Query()
		if q.Get("salesforce") != "consented" || q.Get("state") == "" || q.Get("ticket") == "" {
			t.Fatalf("landed on %s; want salesforce=consented with a state and a ticket", landed.Redacted())
		}
		return q.Get("state"), q.Get("ticket")
	}
	notConnected := func(when string) {
		t.Helper()
		for _, team := range []string{"team_a", "team_b"} {
			if _, err := e.store.Get(context.Background(), team); !errors.Is(err, connection.ErrNotConnected) {
				t.Fatalf("%s: %s is connected (%v); want not", when, team, err)
			}
		}
		if _, body := e.do("GET", "/v1/salesforce", ""); !strings.Contains(body, `"status":"disconnected"`) {
			t.Fatalf("%s: team A's status %s; want disconnected", when, body)
		}
	}
	burnt := func(when, state, ticket string) {
		t.Helper()
		if resp, body := e.complete(adminA, state, ticket); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: team A's admin with the state and the ticket got %d %s; want 404 (the consent was burnt)", when, resp.StatusCode, body)
		}
		if status, code := e.refreshGrant(e.transport.lastGranted()); status != http.StatusBadRequest || code != "invalid_grant" {
			t.Errorf("%s: the consent's refresh token at Salesforce: got %d %s; want 400 invalid_grant (revoked)", when, status, code)
		}
		notConnected(when)
	}

	// 1. Consent alone connects nothing; the state without the ticket fails.
	state, ticket := consent()
	notConnected("after consent")
	if resp, body := e.complete(adminA, state, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("team A's admin with the state and no ticket: got %d %s; want 400", resp.StatusCode, body)
	}
	guess := ticket[:len(ticket)-4] + "AAAA"
	resp, wrong := e.complete(adminA, state, guess)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("team A's admin with the state and a wrong ticket: got %d %s; want 404", resp.StatusCode, wrong)
	}
	// The refusal reads the same as for a state that never existed.
	if _, unknown := e.complete(adminA, "never-issued-"+state[13:], guess); unknown != wrong {
		t.Errorf("refusals: got %s for a known state and %s for an unknown one; want the same answer", wrong, unknown)
	}
	burnt("after a wrong ticket", state, ticket)

	// 2. Team B's admin with the state and the ticket fails.
	state, ticket = consent()
	if resp, body := e.complete(adminB, state, ticket); resp.StatusCode != http.StatusNotFound || body != wrong {
		t.Fatalf("team B's admin with the state and the ticket: got %d %s; want 404 %s", resp.StatusCode, body, wrong)
	}
	burnt("after team B's attempt", state, ticket)

	// 3. Team A's admin with the state and the ticket connects, once.
	state, ticket = consent()
	resp, body := e.complete(adminA, state, ticket)
	var st connecthttp.StatusResponse
	_ = json.Unmarshal([]byte(body), &st)
	if resp.StatusCode != http.StatusOK || st.Status != connection.StatusConnected || st.OrgID != e.sim.OrgID() || st.Username != "admin@sfsim.example" {
		t.Fatalf("team A's admin with the state and the ticket: got %d %s; want 200 connected, naming the org and user", resp.StatusCode, body)
	}
	conn, err := e.store.Get(context.Background(), "team_a")
	if err != nil || conn.Status != connection.StatusConnected || conn.RefreshToken != e.transport.lastGranted() {
		t.Fatalf("team A: got %v, %v; want connected with the consent's grant", conn.Status, err)
	}
	if resp, body := e.complete(adminA, state, ticket); resp.StatusCode != http.StatusNotFound {
		t.Errorf("replay: got %d %s; want 404", resp.StatusCode, body)
	}
	if again, err := e.store.Get(context.Background(), "team_a"); err != nil || again.ID != conn.ID {
		t.Errorf("after the replay: got %v; want the same connection", err)
	}
	// The stored connection works for a data call.
	tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "browser"}
	if _, err := salesforce.Query[map[string]any](context.Background(), &salesforce.Client{Session: tokens}, "SELECT Id FROM Lead"); err != nil {
		t.Errorf("query with the stored connection: got %v; want success", err)
	}
	e.assertNoSecrets(conn.AccessToken, conn.RefreshToken)
}
