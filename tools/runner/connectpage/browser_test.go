package connectpage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/chromedp/chromedp"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/connection/connecthttp"
	"github.com/sfsync/sfsync/shared/connection/connectiondb"
	"github.com/sfsync/sfsync/shared/platform/httpapi"
	"github.com/sfsync/sfsync/shared/platform/sealing"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/jwtlocal"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/runner/connectpage"
	"github.com/sfsync/sfsync/tools/sfsim/org"
)

var awsCfg aws.Config

func TestMain(m *testing.M) {
	ep, err := motoserver.Shared()
	if err == nil {
		awsCfg, err = motoserver.AWSConfig(context.Background(), ep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	motoserver.StopShared()
	os.Exit(code)
}

// chromium finds the headless browser `make test` installs.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: `make test` installs Debian's chromium package; or set CHROME_PATH")
	return ""
}

// newBrowser starts a fresh headless Chromium: its own profile, so no
// session storage of any other browser.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	return bctx
}

// inProcess runs the API's Lambda handler in the test's process.
type inProcess func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

func (h inProcess) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	resp, err := h(ctx, ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// site is the local stack's front: the connect pages and, on the same
// origin, the API behind its gateway (verifying bearer tokens as API
// Gateway's JWT authorizer does), with a simulated org that shows its
// consent page.
type site struct {
	url   string
	keys  *jwtlocal.Keys
	store *connectiondb.Store
	sim   *org.Org
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	const secret = "connect-page-secret"
	prov, err := runner.Provision(ctx, awsCfg, fmt.Sprintf("cp%d", time.Now().UnixNano()%1e9), runner.ProvisionOptions{ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &site{url: "http://" + ln.Addr().String(),
		store: &connectiondb.Store{DB: dynamodb.NewFromConfig(awsCfg), Table: prov.Env[resources.EnvConnectionsTable],
			Sealer: &sealing.Sealer{KMS: kms.NewFromConfig(awsCfg), KeyID: prov.KeyID}}}
	s.sim = org.New(org.Config{ClientID: "cid", ClientSecret: secret, RedirectURIs: []string{s.url + "/oauth/salesforce/callback"}})
	if _, err := s.sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.sim.Close() })
	if s.keys, err = jwtlocal.Load(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	connector := &connection.Connector{Store: s.store, Log: log, Config: connection.OAuthConfig{ClientID: "cid",
		RedirectURL: s.url + "/oauth/salesforce/callback", AllowInsecureLoginURLs: true,
		ClientSecret: func(context.Context) (string, error) { return secret, nil }}}
	rt := httpapi.NewRouter()
	(&connecthttp.Handlers{Connector: connector, Store: s.store, ReturnURL: s.url + connectpage.ReturnPath, Log: log}).Register(rt)
	mux := http.NewServeMux()
	mux.Handle("/local/", connectpage.Handler(s.sim.URL()))
	mux.Handle("/", runner.NewAPIGateway(inProcess(httpapi.LambdaHandler(rt)), s.keys, log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *site) token(t *testing.T, team string) string {
	t.Helper()
	tok, err := s.keys.Mint(team, "admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// result waits until the return page has done what it does and returns
// what it says, and the page's address.
func result(t *testing.T, ctx context.Context) (string, string) {
	t.Helper()
	const expr = `(() => { const r = document.getElementById("result");
		return location.pathname === "` + connectpage.ReturnPath + `" && r && r.textContent !== "Completing..." ? [r.textContent, location.href] : null })()`
	for {
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](expr)); err == nil && len(got) == 2 {
			return got[0], got[1]
		}
		select {
		case <-ctx.Done():
			at, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Location())
			t.Fatalf("the return page never finished; last at %s", at)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestConnectPagesInABrowser: the admin pastes a token of team A on the
// start page (it stays in that tab's session storage), starts a connect,
// consents at Salesforce and lands on the return page, which completes the
// connect with the tab's token. Another browser, holding no token, that
// consents to team B's connect lands on the return page with a state and a
// ticket, and completes nothing.
func TestConnectPagesInABrowser(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	admin := newBrowser(t, ctx)
	if err := chromedp.Do(admin,
		chromedp.Navigate(s.url+connectpage.StartPath),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), s.token(t, "team_a")),
		chromedp.Click(chromedp.CSS(`#start button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("allow")), // the simulator's consent page
		chromedp.Click(chromedp.ID("allow")),
	); err != nil {
		t.Fatalf("admin's browser: %v", err)
	}
	text, at := result(t, admin)
	c, err := s.store.Get(context.Background(), "team_a")
	if err != nil || c.Status != connection.StatusConnected || c.OrgID != s.sim.OrgID() {
		t.Fatalf("team A after the return page (%q): got %v, %v; want connected to the simulator's org", text, c.Status, err)
	}
	if want := "Connected: org Sfsim Org (" + s.sim.OrgID() + "), user admin@sfsim.example"; !strings.HasPrefix(text, want) {
		t.Errorf("return page: got %q; want it to start %q", text, want)
	}
	if at != s.url+connectpage.ReturnPath {
		t.Errorf("return page address after completing: got %s; want the ticket gone from it", at)
	}

	// Team B's connect reaches a browser with no token of team B.
	resp, body := post(t, s.url+"/v1/salesforce/connect", s.token(t, "team_b"), fmt.Sprintf(`{"environment":"custom","login_url":%q}`, s.sim.URL()))
	var started struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if err := json.Unmarshal([]byte(body), &started); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("team B's connect: got %d %s; want 200", resp.StatusCode, body)
	}
	other := newBrowser(t, ctx)
	if err := chromedp.Do(other,
		chromedp.Navigate(started.AuthorizeURL),
		chromedp.WaitVisible(chromedp.ID("allow")),
		chromedp.Click(chromedp.ID("allow")),
	); err != nil {
		t.Fatalf("other browser: %v", err)
	}
	text, _ = result(t, other)
	if state, err := chromedp.Run(other, chromedp.TextContent(chromedp.ID("state"))); err != nil || len(state) < 43 {
		t.Errorf("return page in the other browser: state %q, %v; want the consent's state shown", state, err)
	}
	if !strings.Contains(text, "holds no admin token") {
		t.Errorf("return page in the other browser: got %q; want it to say it completes nothing", text)
	}
	if _, err := s.store.Get(context.Background(), "team_b"); !errors.Is(err, connection.ErrNotConnected) {
		t.Errorf("team B after the other browser's return page: got %v; want ErrNotConnected", err)
	}
	if refs, err := s.store.Consents(context.Background(), "team_b"); err != nil || len(refs) != 1 {
		t.Errorf("team B's consent: got %+v, %v; want it still waiting (nobody completed it)", refs, err)
	}
}

func post(t *testing.T, url, token, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
