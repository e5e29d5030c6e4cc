package console_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/borawf/bora/internal/console"
)

// upstream is a fake API that records what reached it.
type upstream struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.reqs = append(u.reqs, r.Clone(r.Context()))
	u.body = append(u.body, string(b))
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Set-Cookie", "upstream=1")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func (u *upstream) last() (*http.Request, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return nil, ""
	}
	return u.reqs[len(u.reqs)-1], u.body[len(u.body)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// TestProxy: API calls reach the endpoint under its path, authorized
// there with the body they carry, with none of the browser's cookies or
// credentials; what is not the console's own call is refused.
func TestProxy(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	const key = "k3y"
	h, err := console.Proxy(console.ProxyOptions{
		Endpoint: srv.URL + "/stage/",
		Key:      key,
		Authorize: func(r *http.Request, body []byte) error {
			r.Header.Set("Authorization", "Signed "+r.Method+" "+r.URL.Path+" ["+string(body)+"]")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cookie := "bora_console_key=" + key
	tests := []struct {
		name       string
		method     string
		host       string
		path, body string
		header     map[string]string
		status     int
		forwarded  bool
	}{
		{name: "page", method: "GET", path: "/", status: 200},
		{name: "get", method: "GET", path: "/v1/executions?state=ERROR", header: map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"}, status: 200, forwarded: true},
		{name: "post", method: "POST", path: "/v1/executions/x/cancel", body: `{"reason":"r"}`,
			header: map[string]string{"Cookie": cookie, "X-Bora-Console": "1", "Origin": "http://127.0.0.1:9", "Content-Type": "application/json", "Idempotency-Key": "abc"}, status: 200, forwarded: true},
		{name: "no key", method: "GET", path: "/v1/executions", status: 403},
		{name: "wrong key", method: "GET", path: "/v1/executions", header: map[string]string{"Cookie": "bora_console_key=nope"}, status: 403},
		{name: "cross-site", method: "GET", path: "/v1/executions", header: map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "other origin", method: "POST", path: "/v1/executions/x/cancel", header: map[string]string{"Cookie": cookie, "X-Bora-Console": "1", "Origin": "http://evil.example"}, status: 403},
		{name: "form post", method: "POST", path: "/v1/executions/x/cancel", header: map[string]string{"Cookie": cookie}, status: 403},
		{name: "rebound host", method: "GET", host: "evil.example:9", path: "/v1/executions", header: map[string]string{"Cookie": cookie}, status: 421},
		{name: "localhost", method: "GET", host: "localhost:9", path: "/v1/workflows", header: map[string]string{"Cookie": cookie}, status: 200, forwarded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			r.Host = "127.0.0.1:9"
			if tt.host != "" {
				r.Host = tt.host
			}
			r.Header.Set("Authorization", "Bearer from-the-browser")
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if got := up.count() > before; got != tt.forwarded {
				t.Fatalf("forwarded = %v, want %v", got, tt.forwarded)
			}
			if w.Header().Get("Set-Cookie") != "" {
				t.Errorf("the endpoint's cookie reached the browser")
			}
			if !tt.forwarded {
				return
			}
			got, body := up.last()
			want := "/stage" + strings.SplitN(tt.path, "?", 2)[0]
			if got.URL.Path != want {
				t.Errorf("path %q, want %q", got.URL.Path, want)
			}
			if got.URL.RawQuery != r.URL.RawQuery {
				t.Errorf("query %q, want %q", got.URL.RawQuery, r.URL.RawQuery)
			}
			if body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if a := got.Header.Get("Authorization"); a != "Signed "+tt.method+" "+want+" ["+tt.body+"]" {
				t.Errorf("Authorization %q: not the proxy's own", a)
			}
			if got.Header.Get("Cookie") != "" || got.Header.Get("Origin") != "" || got.Header.Get("X-Bora-Console") != "" {
				t.Errorf("browser headers went on: %v", got.Header)
			}
			if k := tt.header["Idempotency-Key"]; k != "" && got.Header.Get("Idempotency-Key") != k {
				t.Errorf("Idempotency-Key lost: %v", got.Header)
			}
		})
	}
}

// TestProxyKey: the key in the console's address becomes a cookie the
// API calls carry; a wrong key sets nothing.
func TestProxyKey(t *testing.T) {
	t.Parallel()
	h, err := console.Proxy(console.ProxyOptions{Endpoint: "http://127.0.0.1:1", Key: "right"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key    string
		status int
		cookie bool
	}{{"right", http.StatusSeeOther, true}, {"wrong", http.StatusForbidden, false}} {
		r := httptest.NewRequest("GET", "/?key="+tt.key, nil)
		r.Host = "127.0.0.1:5"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		c := w.Result().Cookies()
		if w.Code != tt.status || (len(c) == 1) != tt.cookie {
			t.Errorf("key %s: status %d, cookies %v", tt.key, w.Code, c)
		}
		if tt.cookie && (!c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Value != "right") {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict", c[0])
		}
	}
}

// TestProxyErrors: a failed authorization or an endpoint that does not
// answer comes back as a problem, with no credential in it.
func TestProxyErrors(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, tt := range []struct {
		name      string
		authorize func(*http.Request, []byte) error
		want      string
	}{
		{"no credentials", func(*http.Request, []byte) error { return errors.New("no AWS credentials") }, "no AWS credentials"},
		{"endpoint down", nil, "did not answer"},
	} {
		h, err := console.Proxy(console.ProxyOptions{Endpoint: dead.URL, Authorize: tt.authorize})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/v1/executions", nil)
		r.Host = "127.0.0.1:5"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusBadGateway || w.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("%s: %d %s %s", tt.name, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	if _, err := console.Proxy(console.ProxyOptions{Endpoint: "ftp://x"}); err == nil {
		t.Error("an ftp endpoint was taken")
	}
}
