package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromium is a headless Chromium with a fresh profile, driven with chromedp.
type chromium struct {
	ctx context.Context // the tab's context, which has run once (so timeouts derived from it stop an action, not the browser)
}

// startChromium starts the browser; it stops when t ends. Without chromium on PATH it returns nil
// (the scenarios then use the cookie-jar browser alone), and fails the test under CI.
func startChromium(t *testing.T) *chromium {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is missing: run `make test-deps` (test/apt-install.sh chromium chromium)")
		}
		t.Log("chromium is not on PATH (make test-deps installs it): logging in with the cookie-jar browser only")
		return nil
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "site-per-process,IsolateOrigins"), chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.WindowSize(1024, 768),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return &chromium{ctx: ctx}
}

// do runs steps, for at most waitFor.
func (c *chromium) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, waitFor)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		var loc string
		if l, lerr := chromedp.Run(c.ctx, chromedp.Location()); lerr == nil {
			loc = l
		}
		t.Fatalf("%s: %v (the browser is at %s)", what, err, loc)
	}
}

// until waits for a JavaScript condition on the page, evaluating it again until it holds: an
// evaluation that fails because the page is navigating (a redirect to another origin swaps the
// renderer) is retried, not an error.
func until(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var last error
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if err != nil {
				last = err
			}
			select {
			case <-ctx.Done():
				if last == nil {
					last = errors.New("it evaluated to false")
				}
				return chromedp.Void{}, fmt.Errorf("%s never held (last error: %w): %w", expr, last, ctx.Err())
			case <-tick.C:
			}
		}
	}
}

// screenshot saves the page (quality 100: PNG) as name.png under $KFGATE_E2E_ARTIFACTS, else a temporary directory.
func (c *chromium) screenshot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("KFGATE_E2E_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// cookies returns the browser's cookies for url, as net/http cookies.
func (c *chromium) cookies(t *testing.T, url string) []*http.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatalf("reading the browser's cookies: %v", err)
	}
	var out []*http.Cookie
	for _, ck := range res.Cookies {
		out = append(out, &http.Cookie{Name: ck.Name, Value: ck.Value, Path: ck.Path})
	}
	return out
}
