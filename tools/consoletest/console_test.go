package consoletest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sfsync/sfsync/shared/console"
	"github.com/sfsync/sfsync/shared/event"
	"github.com/sfsync/sfsync/shared/resources"
	"github.com/sfsync/sfsync/tools/headless"
	"github.com/sfsync/sfsync/tools/jwtlocal"
	"github.com/sfsync/sfsync/tools/motoserver"
	"github.com/sfsync/sfsync/tools/runner"
	"github.com/sfsync/sfsync/tools/sequencer"
	"github.com/sfsync/sfsync/tools/sfsim/org"
	"github.com/sfsync/sfsync/tools/stacktest"
)

// repoRoot is the module root, from this package.
const repoRoot = "../.."

// artifacts is where the screenshots go (README: "The admin console").
var artifacts = filepath.Join(repoRoot, ".local", "artifacts", "console")

// frameAncestors is the stack's CONSOLE_FRAME_ANCESTORS: pages of the API's
// own origin may frame the console, so TestFramedConsole can read the
// framed page.
const frameAncestors = "'self'"

// waitFor bounds each wait for a signal in the page. Syncs go through
// moto, the slow part of the local stack, so the waits for an outcome are
// longer (stacktest.AwaitFor).
const waitFor = 60 * time.Second

// stack is the package's local stack: the functions on moto, the
// simulator (whose consent page asks), the sequencer, the signing keys.
var stack struct {
	st   *runner.Stack
	sim  *org.Org
	keys *jwtlocal.Keys
	seq  *sequencer.Client
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	motoserver.StopShared()
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ep, err := motoserver.Shared()
	if err != nil {
		return 1, err
	}
	// As tools/demo: the functions write through the atomic proxy, since
	// moto's conditional writes are not atomic.
	proxy, err := motoserver.StartAtomicProxy(ep)
	if err != nil {
		return 1, err
	}
	defer proxy.Close()
	state, err := os.MkdirTemp("", "sfsync-console-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(state)
	port, err := motoserver.FreePort("127.0.0.1")
	if err != nil {
		return 1, err
	}
	out := io.Discard
	if os.Getenv("E2E_LOGS") != "" {
		out = os.Stderr
	}
	st := &runner.Stack{}
	err = st.Start(context.Background(), runner.StackOptions{
		Endpoint: proxy.URL, Prefix: fmt.Sprintf("console%d", time.Now().UnixNano()%1e8), RepoDir: repoRoot, StateDir: state,
		Functions: stacktest.SlowMoto(resources.Functions), APIAddr: "127.0.0.1:" + strconv.Itoa(port), Output: out,
		Logger: slog.New(slog.DiscardHandler), VisibilityTimeout: 15 * time.Second, MaxReceiveCount: 5, PollWait: time.Second,
		ExtraEnv: map[string]string{console.EnvFrameAncestors: frameAncestors},
		// The default OAuth return URL: the console.
		StartSalesforce: func(context.Context) (string, func(), error) {
			stack.sim = org.New(org.Config{ClientID: "sfsync-local", ClientSecret: "sfsync-local-secret",
				RedirectURIs: []string{st.OAuthRedirectURL()}}) // the consent page asks
			u, err := stack.sim.Start()
			if err != nil {
				return "", nil, err
			}
			return u, func() { _ = stack.sim.Close() }, nil
		},
	})
	if err != nil {
		return 1, err
	}
	defer st.Stop()
	keys, err := jwtlocal.Load(state)
	if err != nil {
		return 1, err
	}
	cfg, err := motoserver.AWSConfig(context.Background(), proxy.URL)
	if err != nil {
		return 1, err
	}
	stack.st, stack.keys = st, keys
	stack.seq = &sequencer.Client{SQS: sqs.NewFromConfig(cfg), APIURL: st.APIURL, Keys: keys,
		ContactQueue:  st.Resources.Queues["contact-events"].URL,
		ActivityQueue: st.Resources.Queues["activity-events"].URL,
		ResultsQueue:  st.Resources.Queues["results"].URL}
	// The screenshots of this run only.
	if err := os.RemoveAll(artifacts); err != nil {
		return 1, err
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// ---- the browser ----

// violations is installed in every document before its own scripts: it
// records each Content Security Policy violation the page reports.
const violations = `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "") + " " + (e.sourceFile || "") + ":" + (e.lineNumber || 0));
});`

// browser starts a fresh headless Chromium (its own profile, so no session
// storage of any other) whose every document records CSP violations.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := headless.Options(t, chromedp.WindowSize(1280, 1000))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	if err := chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: violations})
		return err
	})); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return bctx
}

// do runs steps, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		shot(t, ctx, "failed-"+slug(t.Name()))
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript expression until it is true, or fails the test
// after d saying what it waited for. A navigation in between is no error:
// the expression is asked again in the new document.
func wait(t *testing.T, ctx context.Context, what, expr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			shot(t, ctx, "failed-"+slug(t.Name()))
			at, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Location())
			t.Fatalf("waited %s for %s (%s); last at %s, %v", d, what, expr, redact(at), err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitText waits until the element's text contains want and returns it.
func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	q := strconv.Quote(sel)
	wait(t, ctx, sel+" saying "+strconv.Quote(want), "document.querySelector("+q+") && document.querySelector("+q+").textContent.includes("+strconv.Quote(want)+")", waitFor)
	return eval[string](t, ctx, "document.querySelector("+q+").textContent")
}

// tab opens a page of the console by its tab link and waits until it
// loaded (data-ready), when ready.
func tab(t *testing.T, ctx context.Context, name string, ready bool) {
	t.Helper()
	do(t, ctx, "open "+name, chromedp.Click(chromedp.CSS(`.tabs a[data-tab="`+name+`"]`)))
	wait(t, ctx, name+" shown", `!document.querySelector("#page-`+name+`").hidden`, waitFor)
	if ready {
		wait(t, ctx, name+" loaded", `document.querySelector("#page-`+name+`").dataset.ready === "true"`, waitFor)
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

func slug(s string) string {
	return strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// shot saves a PNG of the whole page under artifacts.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(context.WithoutCancel(ctx), chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(artifacts, name+".png"), png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// redact drops a one-time ticket or a token from an address in a message.
func redact(u string) string {
	u = regexp.MustCompile(`(ticket|token)=[^&#]+`).ReplaceAllString(u, "$1=REDACTED")
	return u
}

// reload navigates to u and waits until the document is a new one (the
// old one is marked first), so a wait after it never reads the old page.
func reload(t *testing.T, ctx context.Context, what, u string) {
	t.Helper()
	eval[bool](t, ctx, `window.__old = true`)
	do(t, ctx, what, chromedp.Navigate(u))
	wait(t, ctx, what+": a new document", `window.__old === undefined && document.readyState !== "loading"`, waitFor)
}

// request is one request a page sent, as the browser sent it.
type request struct {
	Method, Path, Query, IfMatch string
	URL                          string // without the fragment
}

// interceptor sees the requests of a page whose URLs match its patterns,
// before they leave the browser, and answers those it is told to fail with
// a 503 of the API's error shape instead of sending them.
type interceptor struct {
	mu   sync.Mutex
	seen []request
	fail map[string]bool // "GET /v1/salesforce/settings"
}

// intercept starts an interceptor on the browser's tab for the URL
// patterns (Fetch.enable's: * for any characters).
func intercept(t *testing.T, ctx context.Context, patterns ...string) *interceptor {
	t.Helper()
	ic := &interceptor{fail: map[string]bool{}}
	lctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	events := chromedp.Events(lctx, fetch.RequestPaused)
	var ps []*fetch.RequestPattern
	for _, p := range patterns {
		ps = append(ps, &fetch.RequestPattern{URLPattern: p})
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: ps}); err != nil {
		t.Fatalf("intercept %v: %v", patterns, err)
	}
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			u, _ := url.Parse(ev.Request.URL)
			r := request{Method: ev.Request.Method, Path: u.Path, Query: u.RawQuery, URL: ev.Request.URL}
			for k, v := range ev.Request.Headers {
				if strings.EqualFold(k, "If-Match") {
					r.IfMatch = fmt.Sprint(v)
				}
			}
			ic.mu.Lock()
			ic.seen = append(ic.seen, r)
			failing := ic.fail[r.Method+" "+r.Path]
			ic.mu.Unlock()
			if failing {
				_, _ = chromedp.Call(lctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: 503,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
					Body:            []byte(`{"error":{"code":"unavailable","message":"The service is unavailable; try again."}}`)})
				continue
			}
			_, _ = chromedp.Call(lctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	return ic
}

// failing makes the interceptor answer "METHOD /path" with a 503 (on) or
// let it through (off).
func (ic *interceptor) failing(route string, on bool) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	ic.fail[route] = on
}

// requests returns what the page sent so far that match.
func (ic *interceptor) requests(match func(request) bool) []request {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	var out []request
	for _, r := range ic.seen {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// ---- the API, as the app's backend or an attacker would call it ----

func token(t *testing.T, team, role string) string {
	t.Helper()
	tok, err := stack.keys.Mint(team, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// api calls the local API with a bearer token and decodes the answer.
func api(t *testing.T, tok, method, path, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, stack.st.APIURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func contactAdded(team, seq, contactID, email, first, last, company string) event.Event {
	return event.Event{ID: stacktest.NextID("evt_console"), Type: event.ContactAdded, Version: event.Version, OccurredAt: time.Now().UTC(), TeamID: team,
		Data: event.ContactData{Contact: event.Contact{ID: contactID, Email: email, FirstName: first, LastName: last, Company: company},
			Sequence: &event.Sequence{ID: seq, Name: seq}}}
}

// connectInBrowser connects team's org through the console's Connection
// page: My Domain (the simulator), the simulator's consent page, back to
// the console, which completes the connect in the same tab.
func connectInBrowser(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "start the connect",
		chromedp.Click(chromedp.CSS(`input[name="environment"][value="custom"]`)),
		chromedp.WaitVisible(chromedp.ID("login-url")),
		chromedp.SetValue(chromedp.ID("login-url"), stack.sim.URL()),
		chromedp.Click(chromedp.ID("connect-button")),
		chromedp.WaitVisible(chromedp.ID("allow")), // the simulator's consent page
		chromedp.Click(chromedp.ID("allow")),
	)
	wait(t, ctx, "the console to complete the connect", `location.pathname === "/console/" && document.querySelector("#conn-return") && document.querySelector("#conn-return").dataset.result === "connected"`, waitFor)
}

// ---- the tests ----

// TestConsole runs the admin's tour of the console, then a member's, on one
// team: connect, settings, field mapping, a sync failure retried from the
// error inbox; then everything seen and nothing changeable as a member.
func TestConsole(t *testing.T) {
	const team = "team_console"
	admin := token(t, team, "admin")
	ctx := browser(t)
	t.Run("admin", func(t *testing.T) { adminTour(t, ctx, team, admin) })
	t.Run("member", func(t *testing.T) { memberTour(t, browser(t), team) })
	t.Run("disconnect", func(t *testing.T) { disconnect(t, ctx, admin) })
}

// disconnect: the admin disconnects after a confirmation; a denied consent
// coming back says that nothing was connected.
func disconnect(t *testing.T, ctx context.Context, admin string) {
	tab(t, ctx, "connection", true)
	// The page's next status read is held until after the disconnect: its
	// late "connected" must not paint over the status read after it.
	tab(t, ctx, "settings", true)
	eval[bool](t, ctx, holdNextStatus)
	tab(t, ctx, "connection", false)
	wait(t, ctx, "a status read held", "window.__heldSeen === true", waitFor)
	do(t, ctx, "disconnect",
		chromedp.Click(chromedp.ID("disconnect-button")),
		chromedp.WaitVisible(chromedp.ID("disconnect-yes")))
	waitText(t, ctx, "#disconnect-question", "Disconnect the org Sfsim Org?")
	do(t, ctx, "confirm", chromedp.Click(chromedp.ID("disconnect-yes")))
	waitText(t, ctx, "#disconnect-result", "Disconnected.")
	waitText(t, ctx, "#conn-status", "Not connected")
	eval[bool](t, ctx, "window.__release(), true")
	wait(t, ctx, "the held status read answered", "window.__heldDone === true", waitFor)
	if got := eval[string](t, ctx, `document.querySelector("#conn-status").textContent`); got != "Not connected" {
		t.Errorf("status after a read from before the disconnect came back: got %q; want %q", got, "Not connected")
	}
	if got := eval[string](t, ctx, `document.querySelector("#readiness-error").textContent`); got != "" {
		t.Errorf("readiness after a read from before the disconnect came back: got %q; want nothing", got)
	}
	if code, c := api(t, admin, "GET", "/v1/salesforce", "", nil); code != 200 || c["status"] != "disconnected" {
		t.Errorf("after the console's disconnect: got %d %v; want disconnected", code, c)
	}
	do(t, ctx, "a denied consent comes back", chromedp.Navigate(stack.st.ConsoleURL()+"?salesforce=denied&reason=access_denied"))
	waitText(t, ctx, "#conn-return", "Nothing was connected: you chose Deny at Salesforce.")
	if at := eval[string](t, ctx, "location.href"); at != stack.st.ConsoleURL()+"#connection" {
		t.Errorf("address after a denied return: got %s; want the query gone", redact(at))
	}
	shot(t, ctx, "15-disconnected-denied")
}

// holdNextStatus makes the page's next GET /v1/salesforce wait for
// window.__release() before the page sees its answer; window.__heldDone
// turns true once the page has read that answer and acted on it (a task
// after the read, so every step the page takes at once has run).
const holdNextStatus = `(() => {
  const real = window.fetch;
  let held = false;
  window.__heldSeen = false;
  window.__heldDone = false;
  window.fetch = async (url, opts) => {
    const res = await real.call(window, url, opts);
    const get = !opts || !opts.method || opts.method === "GET";
    if (held || !get || !String(url).endsWith("/v1/salesforce")) {
      return res;
    }
    held = true;
    window.__heldSeen = true;
    await new Promise((release) => { window.__release = release; });
    const text = res.text.bind(res);
    res.text = async () => {
      const v = await text();
      setTimeout(() => { window.__heldDone = true; }, 0);
      return v;
    };
    return res;
  };
  return true;
})()`

func adminTour(t *testing.T, ctx context.Context, team, admin string) {
	consoleURL := stack.st.ConsoleURL()

	// Opened as the host app opens it: the token leaves the address at
	// once, for this tab's session storage.
	do(t, ctx, "open the console", chromedp.Navigate(stack.st.ConsoleURLWith(admin)))
	wait(t, ctx, "the connection page", `document.querySelector("#page-connection").dataset.ready === "true"`, waitFor)
	if at := eval[string](t, ctx, "location.href"); at != consoleURL+"#connection" {
		t.Errorf("address after opening: got %s; want %s#connection (the token gone)", redact(at), consoleURL)
	}
	if got := eval[string](t, ctx, `sessionStorage.getItem("sfsync.console.token")`); got != admin {
		t.Errorf("session storage: got %d characters; want the token", len(got))
	}
	waitText(t, ctx, "#conn-status", "Not connected")
	// The connect form names the team the org will be connected for.
	if got, want := waitText(t, ctx, "#connect-team", "team"), "You are connecting Salesforce for team "+team+": "; !strings.HasPrefix(got, want) {
		t.Errorf("the connect form's team: got %q; want it to start %q", got, want)
	}

	// Connect through the simulator's consent page.
	connectInBrowser(t, ctx)
	if at := eval[string](t, ctx, "location.href"); at != consoleURL+"#connection" {
		t.Errorf("address after the return: got %s; want the state and ticket gone", redact(at))
	}
	text := waitText(t, ctx, "#conn-return", "Connected: org")
	if want := "Connected: org Sfsim Org (" + stack.sim.OrgID() + "), user admin@sfsim.example"; !strings.HasPrefix(text, want) {
		t.Errorf("return: got %q; want it to start %q", text, want)
	}
	waitText(t, ctx, "#conn-status", "Connected")
	wait(t, ctx, "the readiness report", `document.querySelectorAll("#readiness-items li").length > 0`, waitFor)
	if code, c := api(t, admin, "GET", "/v1/salesforce", "", nil); code != 200 || c["status"] != "connected" || c["org_id"] != stack.sim.OrgID() {
		t.Fatalf("the team after the console's connect: got %d %v; want connected to the simulator's org", code, c)
	}
	shot(t, ctx, "01-connection")

	// Settings: a value the API refuses is shown beside its field; a good
	// one saves; a version saved by someone else in between is explained.
	tab(t, ctx, "settings", true)
	do(t, ctx, "a budget of 150%",
		chromedp.SetValue(chromedp.ID("s-api_budget_percent"), "150"),
		chromedp.Click(chromedp.ID("settings-save")))
	waitText(t, ctx, `[data-field="api_budget_percent"] .field-error`, "1 to 100")
	shot(t, ctx, "02-settings-field-error")
	do(t, ctx, "a budget of 40%",
		chromedp.SetValue(chromedp.ID("s-api_budget_percent"), "40"),
		chromedp.Click(chromedp.ID("settings-save")))
	waitText(t, ctx, "#settings-result", "Saved as version 1")
	if code, s := api(t, admin, "GET", "/v1/salesforce/settings", "", nil); code != 200 || s["settings"].(map[string]any)["api_budget_percent"] != 40.0 {
		t.Errorf("settings after the save: got %d %v; want api_budget_percent 40", code, s)
	}
	if code, body := api(t, admin, "PUT", "/v1/salesforce/settings",
		`{"sync_as":"lead","sync_mode":"on_add","deduplication":true,"activity_tracking":true,"api_budget_percent":40,"held_event_max_days":7}`,
		map[string]string{"If-Match": "*"}); code != 200 {
		t.Fatalf("someone else's save: got %d %v", code, body)
	}
	do(t, ctx, "save over someone else's version",
		chromedp.SetValue(chromedp.ID("s-retention_days"), "500"),
		chromedp.Click(chromedp.ID("settings-save")))
	waitText(t, ctx, "#settings-error", "Changed by someone else")
	shot(t, ctx, "03-settings-conflict")
	do(t, ctx, "reload", chromedp.Click(chromedp.ID("settings-reload")))
	waitText(t, ctx, "#settings-version", "Version 2")

	// Field mapping: a row the org refuses (a constant longer than City
	// holds) shows its problem beside it; fixed, the mapping saves, and the
	// preview shows the sample contact's Lead with it.
	tab(t, ctx, "mapping", true)
	wait(t, ctx, "the org's Lead fields to choose from", `document.querySelectorAll("#mapping-rows li select[name=salesforce_field] option[value=City]").length > 0`, waitFor)
	do(t, ctx, "add a row", chromedp.Click(chromedp.ID("mapping-add")))
	last := `#mapping-rows > li:last-child `
	do(t, ctx, "map City to a long constant",
		chromedp.SetValue(chromedp.CSS(last+`select[name="salesforce_field"]`), "City"),
		chromedp.SetValue(chromedp.CSS(last+`select[name="kind"]`), "constant"),
		chromedp.SetValue(chromedp.CSS(last+`input[name="value"]`), strings.Repeat("x", 60)),
		chromedp.Click(chromedp.ID("mapping-save")))
	wait(t, ctx, "the preflight problem beside the new row", `document.querySelector("#mapping-rows > li:last-child.has-problem .row-problems li")`, waitFor)
	if code := eval[string](t, ctx, `document.querySelector("#mapping-rows > li:last-child .row-problems li").dataset.code`); code != "too_long" {
		t.Errorf("the row's problem: got %q; want too_long", code)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#mapping-rows > li.has-problem").length`); n != 1 {
		t.Errorf("rows with a problem: got %d; want only the new one", n)
	}
	shot(t, ctx, "04-mapping-preflight")
	do(t, ctx, "map City to a constant that fits",
		chromedp.SetValue(chromedp.CSS(last+`input[name="value"]`), "London"),
		chromedp.Click(chromedp.ID("mapping-save")))
	waitText(t, ctx, "#mapping-result", "Saved as version 1")
	wait(t, ctx, "the preview of the sample's City", `[...document.querySelectorAll("#preview-record dt")].some((dt) => dt.textContent === "City" && dt.nextElementSibling.textContent === "London")`, waitFor)
	do(t, ctx, "the Contact mapping", chromedp.Click(chromedp.CSS(`input[name="mapping_object"][value="contact"]`)))
	wait(t, ctx, "the Contact rows, with the org's Contact fields", `document.querySelector("#page-mapping").dataset.ready === "true" && document.querySelectorAll("#mapping-rows li select[name=salesforce_field] option[value=Department]").length > 0`, waitFor)
	wait(t, ctx, "a Contact preview", `document.querySelector("#preview-meta").textContent.startsWith("The Contact")`, waitFor)
	do(t, ctx, "back to the Lead mapping", chromedp.Click(chromedp.CSS(`input[name="mapping_object"][value="lead"]`)))
	wait(t, ctx, "the saved Lead rows", `document.querySelector("#page-mapping").dataset.ready === "true" && document.querySelector("#mapping-version").textContent.startsWith("Version 1")`, waitFor)
	shot(t, ctx, "05-mapping")

	// A sync failure: the org's validation rule refuses Globex's Lead. Ada,
	// in the same sequence, syncs.
	stack.sim.AddValidationRule(org.ValidationRule{Object: "Lead", Field: "Company", Forbid: "Globex", Message: "Leads from a competitor are not allowed"})
	wile := contactAdded(team, "seq_console", "ct_wile", "wile@globex.example", "Wile", "Coyote", "Globex")
	ada := contactAdded(team, "seq_console", "ct_ada", "ada@analytical.example", "Ada", "Lovelace", "Analytical Engines")
	if err := stack.seq.Send(context.Background(), wile, ada); err != nil {
		t.Fatal(err)
	}
	got, err := stack.seq.Await(context.Background(), []string{wile.ID, ada.ID}, sequencer.Final, stacktest.AwaitFor)
	if err != nil {
		t.Fatal(err)
	}
	if got[wile.ID].Status != event.StatusFailed || got[ada.ID].Status != event.StatusCreated {
		t.Fatalf("outcomes: got wile %s, ada %s; want failed and created", got[wile.ID].Status, got[ada.ID].Status)
	}

	// Sequences: a change of the rule says, before the save, who keeps the
	// old one.
	_, seqGot := api(t, admin, "GET", "/v1/sequences/seq_console/salesforce?members=true", "", nil)
	members, ok := seqGot["members"].(float64)
	if !ok || members < 2 {
		t.Fatalf("GET the sequence: got members %v; want the 2 contacts added", seqGot["members"])
	}
	tab(t, ctx, "sequences", false)
	do(t, ctx, "look up seq_console",
		chromedp.SetValue(chromedp.ID("seq-id"), "seq_console"),
		chromedp.Click(chromedp.ID("seq-lookup-button")),
		chromedp.WaitVisible(chromedp.ID("seq-form")))
	eval[bool](t, ctx, `(() => { const s = document.querySelector("#seq-sync_mode"); s.value = "on_reply"; s.dispatchEvent(new Event("change", {bubbles: true})); return true })()`)
	waitText(t, ctx, "#seq-warning", fmt.Sprintf("%d contacts already in this sequence keep the rule they were added under", int(members)))
	shot(t, ctx, "06-sequences")
	do(t, ctx, "save the override", chromedp.Click(chromedp.ID("seq-save")))
	waitText(t, ctx, "#seq-result", "Saved as version 1")

	// Sync health: the failure in the chart and in the error inbox; the
	// cause removed, retried by its code; the contact synced.
	tab(t, ctx, "health", true)
	inbox := `#error-groups [data-code="FIELD_CUSTOM_VALIDATION_EXCEPTION"] [data-contact="ct_wile"]`
	wait(t, ctx, "Wile in the error inbox", `document.querySelector(`+strconv.Quote(inbox)+`)`, waitFor)
	wait(t, ctx, "the failed outcome in the chart", `document.querySelector('#chart-outcomes rect[data-status="failed"]')`, waitFor)
	wait(t, ctx, "the calls chart", `document.querySelector("#chart-calls rect.calls")`, waitFor)
	shot(t, ctx, "07-health")
	do(t, ctx, "the last 30 days", chromedp.Click(chromedp.CSS(`#page-health [data-days="30"]`)))
	wait(t, ctx, "30 days in the chart's numbers", `document.querySelectorAll("#chart-outcomes tbody tr").length === 30`, waitFor)
	if got := eval[string](t, ctx, `document.querySelector('#page-health [data-days="30"]').getAttribute("aria-pressed")`); got != "true" {
		t.Errorf("the 30 days button: got aria-pressed %q; want true", got)
	}
	stack.sim.RemoveValidationRules()
	do(t, ctx, "retry the code", chromedp.Click(chromedp.CSS(`button[data-code="FIELD_CUSTOM_VALIDATION_EXCEPTION"]`)))
	waitText(t, ctx, "#retry-result", "Sent 1 contact again")
	deadline := time.Now().Add(stacktest.AwaitFor)
	for !hasLead(stack.sim, "wile@globex.example") {
		if time.Now().After(deadline) {
			t.Fatalf("Wile's Lead: none after %s; want the retry to create it", stacktest.AwaitFor)
		}
		if err := stack.seq.Poll(context.Background(), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	do(t, ctx, "look up Wile",
		chromedp.SetValue(chromedp.ID("contact-id"), "ct_wile"),
		chromedp.Click(chromedp.ID("contact-lookup-button")))
	wait(t, ctx, "Wile's Lead in the contact view", `document.querySelector('#contact-view [data-record^="Lead "]')`, waitFor)
	for {
		loads := eval[string](t, ctx, `document.querySelector("#errors-summary").dataset.loads`)
		do(t, ctx, "refresh the inbox", chromedp.Click(chromedp.ID("errors-refresh")))
		wait(t, ctx, "the inbox read again", `document.querySelector("#errors-summary").dataset.loads !== `+strconv.Quote(loads), waitFor)
		summary := eval[string](t, ctx, `document.querySelector("#errors-summary").textContent`)
		if summary == "No open errors." {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the error inbox: got %q; want it empty after the retry", summary)
		}
	}
	shot(t, ctx, "08-health-retried")

	// Readable at 320 px: no page is wider than the screen.
	do(t, ctx, "a 320 px screen", chromedp.EmulateViewport(320, 900))
	for i, p := range []string{"connection", "settings", "sequences", "mapping", "health"} {
		tab(t, ctx, p, p != "sequences")
		if w := eval[int](t, ctx, "document.documentElement.scrollWidth"); w > 320 {
			t.Errorf("%s at 320 px: got %d px wide; want no horizontal scroll", p, w)
		}
		shot(t, ctx, fmt.Sprintf("09-%d-%s-320px", i+1, p))
	}
	do(t, ctx, "back to a wide screen", chromedp.ResetViewport())

	if v := eval[[]string](t, ctx, "window.__csp"); len(v) != 0 {
		t.Errorf("CSP violations in the admin's tour: got %v; want none", v)
	}
}

func hasLead(sim *org.Org, email string) bool {
	for _, r := range sim.Records("Lead") {
		if e, _ := r["Email"].(string); strings.EqualFold(e, email) {
			return true
		}
	}
	return false
}

// memberTour: a member sees every page, every control that changes
// something disabled with a note saying why; and the API refuses the
// member's token a change even when called directly.
func memberTour(t *testing.T, ctx context.Context, team string) {
	member := token(t, team, "member")
	do(t, ctx, "open the console as a member", chromedp.Navigate(stack.st.ConsoleURLWith(member)))
	wait(t, ctx, "the connection page", `document.querySelector("#page-connection").dataset.ready === "true"`, waitFor)
	wait(t, ctx, "the read-only note", `!document.querySelector("#readonly-note").hidden`, waitFor)
	waitText(t, ctx, "#who", "member")
	waitText(t, ctx, "#conn-status", "Connected")
	if !eval[bool](t, ctx, `!document.querySelector("#readiness-member-note").hidden && document.querySelectorAll("#readiness-items li").length === 0`) {
		t.Errorf("readiness as a member: got the report or no note; want the note instead (the report is for admins)")
	}
	pages := []struct {
		name  string
		ready bool
	}{{"connection", true}, {"settings", true}, {"sequences", false}, {"mapping", true}, {"health", true}}
	for i, p := range pages {
		tab(t, ctx, p.name, p.ready)
		if p.name == "sequences" {
			do(t, ctx, "look up seq_console (a read)",
				chromedp.SetValue(chromedp.ID("seq-id"), "seq_console"),
				chromedp.Click(chromedp.ID("seq-lookup-button")),
				chromedp.WaitVisible(chromedp.ID("seq-form")))
		}
		if p.name == "health" {
			wait(t, ctx, "the error inbox", `document.querySelector("#errors-summary").textContent !== ""`, waitFor)
		}
		sec := `#page-` + p.name
		n := eval[int](t, ctx, `document.querySelectorAll("`+sec+` [data-write]").length`)
		enabled := eval[[]string](t, ctx, `[...document.querySelectorAll("`+sec+` [data-write]")].filter((e) => !e.disabled).map((e) => e.id || e.name || e.textContent)`)
		if n == 0 || len(enabled) > 0 {
			t.Errorf("%s as a member: got %d controls that change something, %v enabled; want them all disabled", p.name, n, enabled)
		}
		shot(t, ctx, fmt.Sprintf("1%d-member-%s", i, p.name))
	}
	// The API refuses the member's token, from the page's own session too.
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/v1/salesforce/settings", `{"sync_as":"contact","sync_mode":"on_add","deduplication":true,"activity_tracking":true}`},
		{"PUT", "/v1/salesforce/field-mappings/lead", `{"fields":[]}`},
		{"POST", "/v1/salesforce/errors/retry", `{"all":true}`},
		{"DELETE", "/v1/salesforce", ""},
		{"POST", "/v1/salesforce/connect", `{"environment":"production"}`},
	} {
		js := fmt.Sprintf(`fetch(%q, {method: %q, headers: {"Authorization": "Bearer " + sessionStorage.getItem("sfsync.console.token"), "Content-Type": "application/json", "If-Match": "*"}%s}).then((r) => r.status)`,
			c.path, c.method, map[bool]string{true: ", body: " + strconv.Quote(c.body), false: ""}[c.body != ""])
		if got := eval[int](t, ctx, js); got != http.StatusForbidden {
			t.Errorf("%s %s with the member's token, from the page: got %d; want 403", c.method, c.path, got)
		}
		if got, _ := api(t, member, c.method, c.path, c.body, map[string]string{"If-Match": "*"}); got != http.StatusForbidden {
			t.Errorf("%s %s with the member's token: got %d; want 403", c.method, c.path, got)
		}
	}
	if code, c := api(t, token(t, team, "admin"), "GET", "/v1/salesforce", "", nil); code != 200 || c["status"] != "connected" {
		t.Errorf("after the member's tour: got %d %v; want the team still connected", code, c)
	}
	if v := eval[[]string](t, ctx, "window.__csp"); len(v) != 0 {
		t.Errorf("CSP violations in the member's tour: got %v; want none", v)
	}
}

// wantPolicy is the whole Content-Security-Policy of the stack's console,
// whose CONSOLE_FRAME_ANCESTORS is frameAncestors.
const wantPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors " + frameAncestors + "; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// TestConsolePolicy: every file of the console comes with its Content
// Security Policy; the page runs no inline script, holds no inline handler
// or style, reports no violation of its own; and a script injected into it
// is blocked (and reported), as is HTML written through innerHTML.
func TestConsolePolicy(t *testing.T) {
	files := []string{"/console/"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "shared", "console", "static"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(repoRoot, "shared", "console", "static"), p)
			files = append(files, "/console/"+filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		resp, err := http.Get(stack.st.APIURL + f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Values("Content-Security-Policy")
		if resp.StatusCode != 200 || len(csp) != 1 || csp[0] != wantPolicy || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s through the gateway: got %d CSP %q; want 200 with exactly [%q]", f, resp.StatusCode, csp, wantPolicy)
		}
	}

	ctx := browser(t)
	do(t, ctx, "open the console", chromedp.Navigate(stack.st.ConsoleURLWith(token(t, "team_policy", "admin"))))
	wait(t, ctx, "the connection page", `document.querySelector("#page-connection").dataset.ready === "true"`, waitFor)
	checks := []struct{ what, expr string }{
		{"no CSP violation of the console's own", `window.__csp.length === 0`},
		{"every script from a file", `[...document.scripts].every((s) => s.src !== "" && s.text.trim() === "")`},
		{"no style attribute or element", `document.querySelectorAll("[style], style").length === 0`},
		{"no on* attribute", `[...document.querySelectorAll("*")].every((e) => [...e.attributes].every((a) => !a.name.startsWith("on")))`},
	}
	for _, c := range checks {
		if !eval[bool](t, ctx, c.expr) {
			t.Errorf("%s: got false for %s; want true", c.what, c.expr)
		}
	}
	eval[bool](t, ctx, `(() => {
		const s = document.createElement("script");
		s.appendChild(document.createTextNode("window.__injected = true"));
		document.body.appendChild(s);
		return true })()`)
	wait(t, ctx, "the injected script's violation", `window.__csp.length >= 1`, waitFor)
	if eval[bool](t, ctx, `window.__injected === true`) {
		t.Errorf("injected inline script: got it run; want it blocked")
	}
	if got := eval[string](t, ctx, `(() => { try { document.body.innerHTML += "<b>x</b>"; return "written" } catch (e) { return e.name } })()`); got != "TypeError" {
		t.Errorf("innerHTML: got %q; want a TypeError (Trusted Types refuse a string)", got)
	}
	t.Logf("violations reported: %v", eval[[]string](t, ctx, "window.__csp"))
	shot(t, ctx, "20-policy")
}

// TestAnotherBrowserCompletesNothing: a consent to team B's connect that
// lands in a browser holding no session of team B's admin (a link sent to
// someone else) completes nothing: the console says so, the ticket leaves
// the address, and team B stays unconnected.
func TestAnotherBrowserCompletesNothing(t *testing.T) {
	const team = "team_other"
	admin := token(t, team, "admin")
	code, started := api(t, admin, "POST", "/v1/salesforce/connect", fmt.Sprintf(`{"environment":"custom","login_url":%q}`, stack.sim.URL()), nil)
	authorize, _ := started["authorize_url"].(string)
	if code != 200 || authorize == "" {
		t.Fatalf("team B's connect: got %d %v; want 200 with the authorize URL", code, started)
	}
	ctx := browser(t)
	do(t, ctx, "consent in another browser",
		chromedp.Navigate(authorize),
		chromedp.WaitVisible(chromedp.ID("allow")),
		chromedp.Click(chromedp.ID("allow")))
	wait(t, ctx, "the console's answer", `location.pathname === "/console/" && document.querySelector("#conn-return") && document.querySelector("#conn-return").dataset.result === "no_session"`, waitFor)
	if at := eval[string](t, ctx, "location.href"); strings.Contains(at, "ticket") || strings.Contains(at, "state") {
		t.Errorf("address: got %s; want the ticket gone", redact(at))
	}
	shot(t, ctx, "21-other-browser")
	if code, c := api(t, admin, "GET", "/v1/salesforce", "", nil); code != 200 || c["status"] != "disconnected" {
		t.Errorf("team B after the other browser's return: got %d %v; want disconnected", code, c)
	}
	u, _ := url.Parse(authorize)
	if u.Query().Get("state") == "" {
		t.Errorf("authorize URL: got no state; want one")
	}
}

// TestSessionEnded: a token the API refuses (401: here signed by another
// key, as one expired or revoked by the host app would be) ends the
// console's session: it says so, forgets the token, and changes nothing.
func TestSessionEnded(t *testing.T) {
	other, err := jwtlocal.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Mint("team_console", "admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	do(t, ctx, "open the console with a token the API refuses", chromedp.Navigate(stack.st.ConsoleURLWith(forged)))
	waitText(t, ctx, "#banner", "Your session ended; reopen the console from your app.")
	if got := eval[bool](t, ctx, `sessionStorage.getItem("sfsync.console.token") === null && document.querySelector("#connect-button").disabled`); !got {
		t.Errorf("after the 401: got the token kept or the page usable; want it forgotten and the controls disabled")
	}
	shot(t, ctx, "22-session-ended")
}

// TestTokenInQueryRefused: a token in the query string (which servers and
// their logs see) is never used: the console drops it from the address,
// keeps nothing, and says the app must put it in the fragment.
func TestTokenInQueryRefused(t *testing.T) {
	ctx := browser(t)
	do(t, ctx, "open the console with the token in the query", chromedp.Navigate(stack.st.ConsoleURL()+"?token="+token(t, "team_console", "admin")))
	waitText(t, ctx, "#banner", "A token in the address's query was refused")
	if got := eval[bool](t, ctx, `sessionStorage.getItem("sfsync.console.token") === null && !location.href.includes("token")`); !got {
		t.Errorf("after a token in the query: got it kept or left in the address; want it dropped")
	}
}

// TestSaveNeedsTheVersionRead: a page that holds no version of what it
// edits (its GET failed, or the mapping of the other object is on screen
// while this one's fails) saves nothing: its Save button is disabled, a
// save forced anyway is refused on the page, and no PUT leaves, least of
// all one with If-Match: * (which overwrites whatever is current). Once
// read, a save carries the version read.
func TestSaveNeedsTheVersionRead(t *testing.T) {
	const team = "team_versions"
	ctx := browser(t)
	do(t, ctx, "open about:blank", chromedp.Navigate("about:blank"))
	ic := intercept(t, ctx, "*/v1/salesforce/settings*", "*/v1/salesforce/field-mappings/*")
	const (
		getSettings = "GET /v1/salesforce/settings"
		getLead     = "GET /v1/salesforce/field-mappings/lead"
		getContact  = "GET /v1/salesforce/field-mappings/contact"
	)
	ic.failing(getSettings, true)
	ic.failing(getLead, true)
	puts := func(r request) bool { return r.Method == "PUT" }
	star := func(r request) bool { return r.IfMatch == "*" }

	do(t, ctx, "open the console", chromedp.Navigate(stack.st.ConsoleURLWith(token(t, team, "admin"))))
	wait(t, ctx, "the connection page", `document.querySelector("#page-connection").dataset.ready === "true"`, waitFor)

	// Settings: the GET fails.
	tab(t, ctx, "settings", false)
	waitText(t, ctx, "#settings-error", "The service is unavailable")
	if !eval[bool](t, ctx, `document.querySelector("#settings-save").disabled`) {
		t.Errorf("settings' Save after a failed GET: got enabled; want disabled")
	}
	eval[bool](t, ctx, `(document.querySelector("#settings-form").requestSubmit(), true)`)
	waitText(t, ctx, "#settings-error", "Nothing was saved: the current settings were not read")
	shot(t, ctx, "23-settings-unread")

	// Field mapping: the Lead mapping's GET fails.
	tab(t, ctx, "mapping", false)
	waitText(t, ctx, "#mapping-problems", "The service is unavailable")
	if !eval[bool](t, ctx, `document.querySelector("#mapping-save").disabled`) {
		t.Errorf("the mapping's Save after a failed GET: got enabled; want disabled")
	}
	eval[bool](t, ctx, `(document.querySelector("#mapping-form").requestSubmit(), true)`)
	waitText(t, ctx, "#mapping-result", "Nothing was saved: the current mapping was not read")
	if got := eval[string](t, ctx, `document.querySelector("#mapping-problems").textContent`); !strings.Contains(got, "The service is unavailable") {
		t.Errorf("why the mapping was not read, after the refused save: got %q; want it still shown", got)
	}
	shot(t, ctx, "24-mapping-unread")

	// The Lead mapping read; then the Contact mapping's GET fails: the
	// Lead's version is no version of the Contact mapping.
	ic.failing(getLead, false)
	do(t, ctx, "reload the mapping", chromedp.Click(chromedp.ID("mapping-reload")))
	wait(t, ctx, "the Lead mapping", `document.querySelector("#page-mapping").dataset.ready === "true" && !document.querySelector("#mapping-save").disabled`, waitFor)
	ic.failing(getContact, true)
	do(t, ctx, "the Contact mapping", chromedp.Click(chromedp.CSS(`input[name="mapping_object"][value="contact"]`)))
	waitText(t, ctx, "#mapping-version", "could not be read")
	if !eval[bool](t, ctx, `document.querySelector("#mapping-save").disabled`) {
		t.Errorf("the Contact mapping's Save after its GET failed: got enabled; want disabled")
	}
	eval[bool](t, ctx, `(document.querySelector("#mapping-form").requestSubmit(), true)`)
	waitText(t, ctx, "#mapping-result", "Nothing was saved")

	if got := ic.requests(puts); len(got) != 0 {
		t.Errorf("PUTs while the page held no version: got %+v; want none", got)
	}

	// Read at last, the settings save with the version read.
	ic.failing(getSettings, false)
	tab(t, ctx, "settings", false)
	do(t, ctx, "reload the settings", chromedp.Click(chromedp.ID("settings-reload")))
	wait(t, ctx, "the settings", `document.querySelector("#page-settings").dataset.ready === "true" && !document.querySelector("#settings-save").disabled`, waitFor)
	do(t, ctx, "save the settings", chromedp.Click(chromedp.ID("settings-save")))
	waitText(t, ctx, "#settings-result", "Saved as version 1")
	if got := ic.requests(puts); len(got) != 1 || got[0].Path != "/v1/salesforce/settings" || got[0].IfMatch != `"0"` {
		t.Errorf("PUTs once the settings were read: got %+v; want one to /v1/salesforce/settings with If-Match \"0\"", got)
	}
	if got := ic.requests(star); len(got) != 0 {
		t.Errorf("requests with If-Match: *: got %+v; want none", got)
	}
}

// TestSequenceAsksForItsMembers: the Sequences page asks for the count of
// contacts already in the sequence (the API computes it only when asked).
func TestSequenceAsksForItsMembers(t *testing.T) {
	ctx := browser(t)
	do(t, ctx, "open about:blank", chromedp.Navigate("about:blank"))
	ic := intercept(t, ctx, "*/v1/sequences/*")
	do(t, ctx, "open the console", chromedp.Navigate(stack.st.ConsoleURLWith(token(t, "team_members", "admin"))))
	wait(t, ctx, "the connection page", `document.querySelector("#page-connection").dataset.ready === "true"`, waitFor)
	tab(t, ctx, "sequences", false)
	do(t, ctx, "look up seq_members",
		chromedp.SetValue(chromedp.ID("seq-id"), "seq_members"),
		chromedp.Click(chromedp.ID("seq-lookup-button")),
		chromedp.WaitVisible(chromedp.ID("seq-form")))
	got := ic.requests(func(r request) bool { return r.Method == "GET" })
	if len(got) != 1 || got[0].Path != "/v1/sequences/seq_members/salesforce" || got[0].Query != "members=true" {
		t.Errorf("the look-up: got %+v; want one GET /v1/sequences/seq_members/salesforce?members=true", got)
	}
}

// TestReturnIgnoresATokenInItsFragment: a return link from Salesforce's
// consent that carries a token after # (a crafted link: the attacker's
// genuine return, with the attacker's session) completes nothing with that
// token. The token is dropped, never stored; the tab completes only with the
// session it already held, and the attacker's team stays unconnected.
func TestReturnIgnoresATokenInItsFragment(t *testing.T) {
	attacker := token(t, "team_fixation", "admin")
	code, started := api(t, attacker, "POST", "/v1/salesforce/connect", fmt.Sprintf(`{"environment":"custom","login_url":%q}`, stack.sim.URL()), nil)
	authorize, _ := started["authorize_url"].(string)
	if code != 200 || authorize == "" {
		t.Fatalf("the attacker's connect: got %d %v; want 200 with the authorize URL", code, started)
	}
	// The attacker consents and keeps the return link (in a browser with
	// no session, which completes nothing).
	ctx := browser(t)
	do(t, ctx, "open about:blank", chromedp.Navigate("about:blank"))
	ic := intercept(t, ctx, "*salesforce=consented*")
	do(t, ctx, "consent",
		chromedp.Navigate(authorize),
		chromedp.WaitVisible(chromedp.ID("allow")),
		chromedp.Click(chromedp.ID("allow")))
	wait(t, ctx, "the console's answer", `location.pathname === "/console/" && document.querySelector("#conn-return").dataset.result === "no_session"`, waitFor)
	returns := ic.requests(func(r request) bool { return r.Path == "/console/" })
	if len(returns) != 1 {
		t.Fatalf("the return to the console: got %d requests; want 1", len(returns))
	}
	crafted := returns[0].URL + "#token=" + attacker
	final := `["no_session", "refused", "connected"].includes(document.querySelector("#conn-return").dataset.result)`
	result := `document.querySelector("#conn-return").dataset.result`
	stored := `sessionStorage.getItem("sfsync.console.token")`

	// A tab with no session.
	reload(t, ctx, "open the crafted link in a tab with no session", crafted)
	wait(t, ctx, "the return's result", final, waitFor)
	if got := eval[string](t, ctx, result); got != "no_session" {
		t.Errorf("the crafted link in a tab with no session: got %q; want no_session", got)
	}
	if got := eval[bool](t, ctx, stored+` === null`); !got {
		t.Errorf("session storage after the crafted link: got a token; want none")
	}
	waitText(t, ctx, "#banner", "carried a session of its own; it was ignored")
	if at := eval[string](t, ctx, "location.href"); strings.Contains(at, "token") || strings.Contains(at, "ticket") {
		t.Errorf("address: got %s; want the token and the ticket gone", redact(at))
	}
	shot(t, ctx, "25-return-token-ignored")

	// A tab holding its admin's session: that session, not the link's.
	victim := token(t, "team_victim", "admin")
	do(t, ctx, "leave the console", chromedp.Navigate("about:blank")) // a new fragment alone loads no new page
	reload(t, ctx, "open the console as the victim", stack.st.ConsoleURLWith(victim))
	wait(t, ctx, "the connection page", `document.querySelector("#page-connection").dataset.ready === "true"`, waitFor)
	reload(t, ctx, "open the crafted link in the victim's tab", crafted)
	wait(t, ctx, "the return's result", final, waitFor)
	if got := eval[string](t, ctx, result); got != "refused" {
		t.Errorf("the crafted link in the victim's tab: got %q; want refused (the victim's session matches no connect)", got)
	}
	if got := eval[string](t, ctx, stored); got != victim {
		t.Errorf("session storage after the crafted link: got %d characters; want the victim's token kept", len(got))
	}
	for _, team := range []string{"team_fixation", "team_victim"} {
		if code, c := api(t, token(t, team, "admin"), "GET", "/v1/salesforce", "", nil); code != 200 || c["status"] != "disconnected" {
			t.Errorf("%s after the crafted link: got %d %v; want disconnected", team, code, c)
		}
	}
}

// TestDeniedReturnShowsNoQueryText: a denied return says why for the
// reasons the API's callback gives, and a generic sentence for anything
// else: the query is anyone's to write, and its words never reach the page.
func TestDeniedReturnShowsNoQueryText(t *testing.T) {
	const generic = "Nothing was connected: the connect did not finish."
	tests := []struct{ reason, want string }{
		{"access_denied", "Nothing was connected: you chose Deny at Salesforce."},
		{"bad_signature", "Nothing was connected: Salesforce's answer did not verify."},
		{"bad_instance_url", "Nothing was connected: the org's address is not a Salesforce address."},
		{"bad_identity", "Nothing was connected: Salesforce's identity answer did not match the org and user."},
		{"exchange_failed", "Nothing was connected: Salesforce refused to finish the login (try again)."},
		{"Your account is locked. Call +1 555 0100 to unlock it", generic},
		{"constructor", generic},
		{"__proto__", generic},
		{"", generic},
	}
	ctx := browser(t)
	do(t, ctx, "open about:blank", chromedp.Navigate("about:blank"))
	for _, tt := range tests {
		reload(t, ctx, "a denied return, reason "+strconv.Quote(tt.reason),
			stack.st.ConsoleURL()+"?"+url.Values{"salesforce": {"denied"}, "reason": {tt.reason}}.Encode())
		wait(t, ctx, "the denied result", `document.querySelector("#conn-return").dataset.result === "denied"`, waitFor)
		if got := eval[string](t, ctx, `document.querySelector("#conn-return").textContent`); got != tt.want {
			t.Errorf("reason %q: got %q; want %q", tt.reason, got, tt.want)
		}
	}
	shot(t, ctx, "26-denied-unknown-reason")
}

// TestFramedConsoleCannotConnect: in a frame (here a page of the API's own
// origin, which the stack's CONSOLE_FRAME_ANCESTORS allows) the Connection
// page offers no connect, which could not work there, and says to open the
// console in its own tab; the rest of the page works.
func TestFramedConsoleCannotConnect(t *testing.T) {
	ctx := browser(t)
	do(t, ctx, "open the host app's page", chromedp.Navigate(stack.st.APIURL+"/host-app"))
	eval[bool](t, ctx, fmt.Sprintf(`(() => {
		const f = document.createElement("iframe");
		f.src = %q;
		f.width = 1000; f.height = 900;
		document.body.append(f);
		return true })()`, console.Path+"#token="+token(t, "team_framed", "admin")))
	framed := `document.querySelector("iframe").contentDocument`
	wait(t, ctx, "the framed connection page", framed+` && `+framed+`.querySelector("#page-connection") && `+framed+`.querySelector("#page-connection").dataset.ready === "true"`, waitFor)
	checks := []struct{ what, expr string }{
		{"the note that connecting needs its own tab", `!d.querySelector("#connect-framed").hidden && d.querySelector("#connect-framed").textContent.includes("needs the console in its own browser tab")`},
		{"no connect control shown", `[...d.querySelectorAll("#connect-form button, #connect-form input")].every((e) => e.closest("[hidden]"))`},
		{"no team line for a connect that cannot happen", `d.querySelector("#connect-team").hidden`},
		{"the status read", `d.querySelector("#conn-status").textContent === "Not connected"`},
	}
	for _, c := range checks {
		if !eval[bool](t, ctx, `((d) => `+c.expr+`)(`+framed+`)`) {
			t.Errorf("framed: %s: got false for %s; want true", c.what, c.expr)
		}
	}
	shot(t, ctx, "27-framed")
}
