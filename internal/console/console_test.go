package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/borawf/bora/internal/console"
)

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// TestHandler: the page and its files are served with their types and
// the security headers; anything else is 404 or 405; an ETag lets the
// browser revalidate.
func TestHandler(t *testing.T) {
	t.Parallel()
	h := console.Handler()
	tests := []struct {
		name, method, path string
		status             int
		ctype              string
	}{
		{"page", "GET", "/", 200, "text/html; charset=utf-8"},
		{"page head", "HEAD", "/", 200, "text/html; charset=utf-8"},
		{"script", "GET", "/assets/app.js", 200, "text/javascript; charset=utf-8"},
		{"style", "GET", "/assets/style.css", 200, "text/css; charset=utf-8"},
		{"icon", "GET", "/assets/favicon.svg", 200, "image/svg+xml"},
		{"unknown file", "GET", "/assets/nope.js", 404, ""},
		{"directory", "GET", "/assets/", 404, ""},
		{"traversal", "GET", "/assets/../console.go", 404, ""},
		{"index by name", "GET", "/index.html", 404, ""},
		{"post", "POST", "/", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, h, tt.method, tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers missing: %v", resp.Header)
			}
			if tt.ctype != "" {
				if got := resp.Header.Get("Content-Type"); got != tt.ctype {
					t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
				}
				if resp.Header.Get("ETag") == "" {
					t.Error("no ETag")
				}
			}
		})
	}

	t.Run("revalidate", func(t *testing.T) {
		t.Parallel()
		etag := get(t, h, "GET", "/assets/app.js", nil).Header.Get("ETag")
		resp := get(t, h, "GET", "/assets/app.js", map[string]string{"If-None-Match": etag})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match of the current ETag: status %d, want 304", resp.StatusCode)
		}
	})
}

// TestAssetsReferToThemselves: every file the page and its modules load
// is embedded, so the console works with no network and no build step.
func TestAssetsReferToThemselves(t *testing.T) {
	t.Parallel()
	h := console.Handler()
	seen := map[string]bool{}
	queue := []string{"/"}
	ref := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"|from '\./([^']+)'`)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		resp := get(t, h, "GET", p, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", p, resp.StatusCode)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		for _, m := range ref.FindAllStringSubmatch(string(body), -1) {
			if m[1] != "" {
				queue = append(queue, m[1])
			} else {
				queue = append(queue, "/assets/"+m[2])
			}
		}
	}
	if !seen["/assets/graph.js"] || !seen["/assets/layout.js"] {
		t.Errorf("the walk missed modules: %v", seen)
	}
}

// TestNoMarkupFromData: no asset turns text into markup. The page builds
// its DOM from text nodes (dom.js); these are the ways around that.
func TestNoMarkupFromData(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("assets/*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	banned := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|DOMParser|createContextualFragment|srcdoc`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if banned.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				t.Errorf("%s:%d: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
