package action

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// echoServer answers every request with a JSON description of it, and
// serves a few fixed routes.
func echoServer(t *testing.T, tlsServer bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, hasAuth := r.BasicAuth()
		cookies := map[string]string{}
		for _, c := range r.Cookies() {
			cookies[c.Name] = c.Value
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Reply", "yes")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method":       r.Method,
			"query":        r.URL.RawQuery,
			"body":         string(body),
			"content_type": r.Header.Get("Content-Type"),
			"x_num":        r.Header.Get("X-Num"),
			"x_text":       r.Header.Get("X-Text"),
			"auth":         hasAuth,
			"user":         user,
			"pass":         pass,
			"cookies":      cookies,
			"host":         r.Host,
		})
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "abc"})
		_, _ = io.WriteString(w, "hello")
	})
	mux.HandleFunc("/latin1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
		_, _ = w.Write([]byte{'c', 'a', 'f', 0xe9})
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code := map[string]int{"404": 404, "500": 500, "204": 204, "306": 306}[strings.TrimPrefix(r.URL.Path, "/status/")]
		w.WriteHeader(code)
		if code != 204 {
			_, _ = io.WriteString(w, `{"error": "nope"}`)
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/text", http.StatusFound)
	})
	mux.HandleFunc("/redirect307", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/text", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(mux)
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(srv.Close)
	return srv
}

// runHTTPAction runs std.http and returns its result or its error value.
func runHTTPAction(t *testing.T, p map[string]any) (result map[string]any, errVal any, final bool) {
	t.Helper()
	return runHTTPWith(t, Policy{}, p)
}

// runHTTPWith is runHTTPAction under a policy.
func runHTTPWith(t *testing.T, pol Policy, p map[string]any) (result map[string]any, errVal any, final bool) {
	t.Helper()
	a, _ := NewRegistryWith(pol).Lookup("std.http")
	v, err := a.Run(context.Background(), Input{Params: p})
	if err != nil {
		return nil, ErrorValue(err), IsNonRetryable(err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("std.http result is %T, want an object", v)
	}
	return m, nil, false
}

func TestHTTPRequests(t *testing.T) {
	t.Parallel()
	srv := echoServer(t, false)
	tests := []struct {
		name   string
		params map[string]any
		want   map[string]any // expected subset of the echoed request
	}{
		{
			name:   "get with query params",
			params: map[string]any{"url": srv.URL + "/echo?a=1", "params": map[string]any{"b": "two", "n": int64(3), "l": []any{"x", "y"}, "skip": nil}},
			want:   map[string]any{"method": "GET", "query": "a=1&b=two&l=x&l=y&n=3", "body": "", "auth": false},
		},
		{
			name:   "query string params",
			params: map[string]any{"url": srv.URL + "/echo", "params": "?q=go"},
			want:   map[string]any{"query": "q=go"},
		},
		{
			name:   "post json",
			params: map[string]any{"url": srv.URL + "/echo", "method": "post", "json": map[string]any{"k": []any{int64(1), true}}},
			want:   map[string]any{"method": "POST", "body": `{"k":[1,true]}`, "content_type": "application/json"},
		},
		{
			name:   "put object body is its JSON text without a content type",
			params: map[string]any{"url": srv.URL + "/echo", "method": "PUT", "body": map[string]any{"k": "v"}},
			want:   map[string]any{"method": "PUT", "body": `{"k":"v"}`, "content_type": ""},
		},
		{
			name:   "string body and explicit content type",
			params: map[string]any{"url": srv.URL + "/echo", "method": "POST", "body": "a=b", "headers": map[string]any{"Content-Type": "application/x-www-form-urlencoded"}},
			want:   map[string]any{"body": "a=b", "content_type": "application/x-www-form-urlencoded"},
		},
		{
			name:   "header values become text",
			params: map[string]any{"url": srv.URL + "/echo", "headers": map[string]any{"X-Num": int64(42), "X-Text": "t", "Host": "example.test"}},
			want:   map[string]any{"x_num": "42", "x_text": "t", "host": "example.test"},
		},
		{
			name:   "auth string",
			params: map[string]any{"url": srv.URL + "/echo", "auth": "alice:s:cret"},
			want:   map[string]any{"auth": true, "user": "alice", "pass": "s:cret"},
		},
		{
			name:   "auth list",
			params: map[string]any{"url": srv.URL + "/echo", "auth": []any{"bob", "pw"}},
			want:   map[string]any{"auth": true, "user": "bob", "pass": "pw"},
		},
		{
			name:   "cookies",
			params: map[string]any{"url": srv.URL + "/echo", "cookies": map[string]any{"c1": "v1"}},
			want:   map[string]any{"cookies": map[string]any{"c1": "v1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, errVal, _ := runHTTPAction(t, tt.params)
			if errVal != nil {
				t.Fatalf("std.http failed: %v", errVal)
			}
			if res["status"] != int64(200) || res["reason"] != "OK" {
				t.Errorf("status, reason = %v, %v; want 200, OK", res["status"], res["reason"])
			}
			if h, _ := res["headers"].(map[string]any); h["X-Reply"] != "yes" {
				t.Errorf("headers = %v, want X-Reply: yes", res["headers"])
			}
			if res["encoding"] != "utf-8" {
				t.Errorf("encoding = %v, want utf-8", res["encoding"])
			}
			content, ok := res["content"].(map[string]any)
			if !ok {
				t.Fatalf("content = %#v, want the decoded JSON object", res["content"])
			}
			got := map[string]any{}
			for k := range tt.want {
				got[k] = content[k]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("echoed request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPResponses(t *testing.T) {
	t.Parallel()
	srv := echoServer(t, false)
	tests := []struct {
		name    string
		params  map[string]any
		want    map[string]any // expected subset of the result (or of the error value)
		wantErr bool
	}{
		{
			name:   "text content",
			params: map[string]any{"url": srv.URL + "/text"},
			want:   map[string]any{"content": "hello", "status": int64(200), "encoding": "ISO-8859-1", "cookies": map[string]any{"sid": "abc"}, "url": srv.URL + "/text"},
		},
		{
			name:   "latin-1 text",
			params: map[string]any{"url": srv.URL + "/latin1"},
			want:   map[string]any{"content": "café", "encoding": "iso-8859-1"},
		},
		{
			name:   "no content",
			params: map[string]any{"url": srv.URL + "/status/204"},
			want:   map[string]any{"content": "", "status": int64(204), "reason": "No Content", "encoding": nil},
		},
		{
			name:   "306 is still success",
			params: map[string]any{"url": srv.URL + "/status/306"},
			want:   map[string]any{"status": int64(306), "content": map[string]any{"error": "nope"}},
		},
		{
			name:    "404 fails with the response as error",
			params:  map[string]any{"url": srv.URL + "/status/404"},
			want:    map[string]any{"status": int64(404), "reason": "Not Found", "content": map[string]any{"error": "nope"}},
			wantErr: true,
		},
		{
			name:    "500 fails",
			params:  map[string]any{"url": srv.URL + "/status/500"},
			want:    map[string]any{"status": int64(500)},
			wantErr: true,
		},
		{
			name:   "redirects are not followed by default",
			params: map[string]any{"url": srv.URL + "/redirect"},
			want:   map[string]any{"status": int64(302), "url": srv.URL + "/redirect"},
		},
		{
			name:   "allow_redirects follows",
			params: map[string]any{"url": srv.URL + "/redirect", "allow_redirects": true},
			want:   map[string]any{"status": int64(200), "content": "hello", "url": srv.URL + "/text"},
		},
		{
			name:    "an unfollowed 307 fails",
			params:  map[string]any{"url": srv.URL + "/redirect307"},
			want:    map[string]any{"status": int64(307)},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, errVal, final := runHTTPAction(t, tt.params)
			if tt.wantErr {
				m, ok := errVal.(map[string]any)
				if !ok {
					t.Fatalf("error value = %#v, want the response object", errVal)
				}
				if final {
					t.Error("an HTTP error status is NonRetryable; want it left to the retry policy")
				}
				res = m
			} else if errVal != nil {
				t.Fatalf("std.http failed: %v", errVal)
			}
			got := map[string]any{}
			for k := range tt.want {
				got[k] = res[k]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if _, ok := res["elapsed"].(float64); !ok {
				t.Errorf("elapsed = %#v, want seconds", res["elapsed"])
			}
		})
	}
}

func TestHTTPFailures(t *testing.T) {
	t.Parallel()
	srv := echoServer(t, false)
	tests := []struct {
		name      string
		params    map[string]any
		wantMsg   string
		wantFinal bool
	}{
		{name: "timeout", params: map[string]any{"url": srv.URL + "/hang", "timeout": 0.05}, wantMsg: "Failed to send HTTP request", wantFinal: false},
		{name: "connection refused", params: map[string]any{"url": "http://127.0.0.1:1/x"}, wantMsg: "Failed to send HTTP request", wantFinal: false},
		{name: "body and json", params: map[string]any{"url": srv.URL, "body": "x", "json": map[string]any{"a": 1}}, wantMsg: "only one of the parameters 'json' and 'body' can be passed", wantFinal: true},
		{name: "relative url", params: map[string]any{"url": "/x"}, wantMsg: `std.http: parameter "url" must be an absolute http or https URL, got the string "/x"`, wantFinal: true},
		{name: "url not a string", params: map[string]any{"url": int64(5)}, wantMsg: `std.http: parameter "url" must be a string, got a number 5`, wantFinal: true},
		{name: "unknown param", params: map[string]any{"url": srv.URL, "data": "x"}, wantMsg: `std.http: unknown parameter "data"; valid parameters are required: url; optional: method, params, body, json, headers, cookies, auth, timeout, allow_redirects, proxies, verify`, wantFinal: true},
		{name: "missing url", params: map[string]any{}, wantMsg: `std.http: missing required parameter "url"`, wantFinal: true},
		{name: "bad auth", params: map[string]any{"url": srv.URL, "auth": "nocolon"}, wantMsg: `parameter "auth" must be "user:password" or a list [user, password]`, wantFinal: true},
		{name: "bad headers", params: map[string]any{"url": srv.URL, "headers": []any{"a"}}, wantMsg: `parameter "headers" must be an object, got a list`, wantFinal: true},
		{name: "bad timeout", params: map[string]any{"url": srv.URL, "timeout": "later"}, wantMsg: `parameter "timeout" must be a number`, wantFinal: true},
		{name: "bad verify", params: map[string]any{"url": srv.URL, "verify": int64(1)}, wantMsg: `parameter "verify" must be true, false or the path of a CA bundle`, wantFinal: true},
		{name: "bad redirects", params: map[string]any{"url": srv.URL, "allow_redirects": "yes"}, wantMsg: `parameter "allow_redirects" must be true or false`, wantFinal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errVal, final := runHTTPAction(t, tt.params)
			msg, ok := errVal.(string)
			if !ok || !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("error = %#v, want a message containing %q", errVal, tt.wantMsg)
			}
			if final != tt.wantFinal {
				t.Errorf("NonRetryable = %v, want %v (error %q)", final, tt.wantFinal, msg)
			}
		})
	}
}

func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	srv := echoServer(t, true)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none.pem")
	tests := []struct {
		name    string
		verify  any // nil: not given
		wantErr string
	}{
		{name: "verified by default", verify: nil, wantErr: "certificate"},
		{name: "verify true", verify: true, wantErr: "certificate"},
		{name: "verify false", verify: false},
		{name: "CA bundle", verify: bundle},
		{name: "missing CA bundle", verify: missing, wantErr: "read CA bundle"},
		{name: "a file the operator does not allow", verify: "/etc/passwd", wantErr: `names "/etc/passwd", which is not a CA bundle the operator allows`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := map[string]any{"url": srv.URL + "/text"}
			if tt.verify != nil {
				p["verify"] = tt.verify
			}
			res, errVal, _ := runHTTPWith(t, Policy{CABundles: []string{bundle, missing}}, p)
			if tt.wantErr != "" {
				msg, _ := errVal.(string)
				if !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("error = %#v, want one mentioning %q", errVal, tt.wantErr)
				}
				return
			}
			if errVal != nil {
				t.Fatalf("std.http failed: %v", errVal)
			}
			if res["content"] != "hello" {
				t.Errorf("content = %#v, want hello", res["content"])
			}
		})
	}
}

func TestHTTPProxy(t *testing.T) {
	t.Parallel()
	var seen string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.URL.String() // a proxy receives the absolute URL
		_, _ = io.WriteString(w, `"via proxy"`)
	}))
	t.Cleanup(proxy.Close)
	res, errVal, _ := runHTTPAction(t, map[string]any{
		"url":     "http://upstream.invalid/path?x=1",
		"proxies": map[string]any{"http": proxy.URL},
	})
	if errVal != nil {
		t.Fatalf("std.http failed: %v", errVal)
	}
	if res["content"] != "via proxy" {
		t.Errorf("content = %#v, want the proxy's answer", res["content"])
	}
	if seen != "http://upstream.invalid/path?x=1" {
		t.Errorf("proxy saw %q, want the upstream URL", seen)
	}
}
