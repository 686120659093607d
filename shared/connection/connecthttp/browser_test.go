package connecthttp_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sfsync/sfsync/shared/connection"
	"github.com/sfsync/sfsync/shared/salesforce"
)

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

// browse opens authorizeURL in headless Chromium, clicks button on the
// simulator's consent page and returns the URL the browser lands on.
func browse(t *testing.T, authorizeURL, button string) string {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
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

func TestConnectInABrowser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		button     string
		wantQuery  string
		wantStatus connection.Status
	}{
		{"allow", "#allow", "salesforce=connected", connection.StatusConnected},
		{"deny", "#deny", "reason=access_denied&salesforce=error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simOptions{}) // the consent page is shown
			landed := browse(t, e.beginConnect(), tt.button)
			if want := e.returnURL + "?" + tt.wantQuery; landed != want {
				t.Fatalf("landed on %q; want %q", landed, want)
			}
			conn, err := e.store.Get(context.Background(), "team_a")
			if tt.wantStatus == "" {
				if !errors.Is(err, connection.ErrNotConnected) {
					t.Errorf("after deny: got %v; want ErrNotConnected", err)
				}
				return
			}
			if err != nil || conn.Status != tt.wantStatus {
				t.Fatalf("connection: got %v %v; want %s", conn.Status, err, tt.wantStatus)
			}
			// The stored connection works for a data call.
			tokens := &connection.Tokens{TeamID: "team_a", Store: e.store, Connector: e.connector, Holder: "browser"}
			if _, err := salesforce.Query[map[string]any](context.Background(), &salesforce.Client{Session: tokens}, "SELECT Id FROM Lead"); err != nil {
				t.Errorf("query with the stored connection: got %v; want success", err)
			}
			e.assertNoSecrets(conn.AccessToken, conn.RefreshToken)
		})
	}
}
