// Package consoletest drives the web console in a headless Chromium, for
// tests: one browser per test binary, a tab per test, waits on conditions
// in the page (never on the clock), screenshots.
//
// The browser is $BORA_CHROMIUM, else chromium, chromium-browser or
// google-chrome on PATH; scripts/chromium installs Debian's chromium when
// none is there. Without one the tests skip, unless BORA_REQUIRE_BROWSER
// is set (make test sets it), and then they fail.
package consoletest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Width and Height are the window's size: the smallest screen the console
// is made for.
const (
	Width  = 1280
	Height = 800
)

// Path finds the browser.
func Path() (string, error) {
	if p := os.Getenv("BORA_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("BORA_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found (scripts/chromium install puts Debian's chromium there, or set BORA_CHROMIUM)")
}

var (
	once     sync.Once
	browser  context.Context
	stopAll  func()
	startErr error
)

// start launches the one browser the test binary shares.
func start() {
	path, err := Path()
	if err != nil {
		startErr = err
		return
	}
	dir, err := os.MkdirTemp("", "bora-chromium-")
	if err != nil {
		startErr = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(Width, Height),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// This machine's network is closed: no background calls home.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// The first call starts the browser, which lives as long as bctx (no
	// deadline here: it would end the browser; the allocator gives up by
	// itself when the browser does not start).
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		os.RemoveAll(dir)
		startErr = fmt.Errorf("start %s: %w", path, err)
		return
	}
	browser = bctx
	stopAll = func() {
		cancelBrowser()
		cancelAlloc()
		os.RemoveAll(dir)
	}
}

// Stop ends the shared browser; call it from TestMain after m.Run.
func Stop() {
	if stopAll != nil {
		stopAll()
	}
}

// Tab opens a new tab of the shared browser for t, closed when t ends,
// and returns its context (bound each step's time with a context derived
// from it: a deadline on the tab's own context would close the tab).
// Messages the page logs to its console are logged with t; an uncaught
// error or a console.error fails t: the console must not fail.
func Tab(t testing.TB) context.Context {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		if os.Getenv("BORA_REQUIRE_BROWSER") != "" {
			t.Fatalf("browser tests need Chromium: %v", startErr)
		}
		t.Skipf("skipping browser test: %v", startErr)
	}
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(Width, Height)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			t.Errorf("the page threw: %s (%s:%d:%d)", msg, d.URL, d.LineNumber+1, d.ColumnNumber+1)
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				if len(a.Value) > 0 {
					parts = append(parts, strings.Trim(string(a.Value), `"`))
				} else {
					parts = append(parts, a.Description)
				}
			}
			if e.Type == "error" {
				t.Errorf("page console.error: %s", strings.Join(parts, " "))
			} else {
				t.Logf("page console.%s: %s", e.Type, strings.Join(parts, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	return ctx
}

// WaitJS waits until a JavaScript expression is true in the page, polling
// it until the tab's deadline.
func WaitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0))
}

// WaitText waits until an element matching the CSS selector holds text.
func WaitText(selector, text string) chromedp.Action[chromedp.Void] {
	return WaitJS(fmt.Sprintf(`[...document.querySelectorAll(%q)].some((e) => e.textContent.includes(%q))`, selector, text))
}

// Eval evaluates a JavaScript expression and decodes its value.
func Eval[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// Shot writes a PNG screenshot of the window to dir/name.png.
func Shot(dir, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		png, err := chromedp.CaptureScreenshot()(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}
