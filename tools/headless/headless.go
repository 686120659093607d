// Package headless gives the browser tests their headless Chromium: where
// it is (CHROME_PATH, else the first of chromium, chromium-browser and
// google-chrome on PATH: `make test` installs Debian's chromium) and the
// options it starts with on a machine with no outside network.
package headless

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// ErrNoChromium: no browser was found.
var ErrNoChromium = errors.New("no Chromium found: `make test` installs Debian's chromium package; or set CHROME_PATH")

// Path is the browser to start.
func Path() (string, error) {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Options are the allocator options of a fresh headless Chromium for t:
// its own profile (so no cookies or storage of another test), no sandbox
// (tests run as root in CI), and none of the background connections a
// closed network refuses by the dozen. extra come last.
func Options(t testing.TB, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	t.Helper()
	p, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(p), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	return append(opts, extra...)
}
