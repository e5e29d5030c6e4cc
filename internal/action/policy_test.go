package action

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNetworkPolicy: std.http connects only where the operator's policy
// lets it, checked on every address a name resolves to, through proxies
// and on every redirect; what it refuses fails the task for good, with a
// message that says why.
func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	srv := echoServer(t, false)
	local := netip.MustParsePrefix("127.0.0.0/8")
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `"the proxy reached `+r.URL.Host+`"`)
	}))
	t.Cleanup(proxy.Close)
	api := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name    string
		pol     Policy
		params  map[string]any
		wantErr string // "" means success
	}{
		{name: "metadata address", params: map[string]any{"url": "http://169.254.169.254/latest/meta-data/", "timeout": 5},
			wantErr: "169.254.169.254:80 is a link-local, metadata, unspecified or multicast address: refused by the worker's network policy"},
		{name: "IPv6 metadata address", params: map[string]any{"url": "http://[fd00:ec2::254]/", "timeout": 5}, wantErr: "refused by the worker's network policy"},
		{name: "unspecified address", params: map[string]any{"url": "http://0.0.0.0:1/", "timeout": 5}, wantErr: "refused by the worker's network policy"},
		{name: "loopback embedded", params: map[string]any{"url": srv.URL + "/text"}},
		{name: "loopback on AWS", pol: Policy{OnAWS: true}, params: map[string]any{"url": srv.URL + "/text"},
			wantErr: "is a loopback address, which on AWS holds only the Lambda runtime"},
		{name: "a name for loopback on AWS", pol: Policy{OnAWS: true}, params: map[string]any{"url": strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/text"},
			wantErr: "is a loopback address"},
		{name: "loopback on AWS, allowed by the operator", pol: Policy{OnAWS: true, Allow: []netip.Prefix{local}}, params: map[string]any{"url": srv.URL + "/text"}},
		{name: "the runtime API, even allowed", pol: Policy{OnAWS: true, Allow: []netip.Prefix{local}, RuntimeAPI: api}, params: map[string]any{"url": srv.URL + "/text"},
			wantErr: "is the Lambda runtime API: refused"},
		{name: "a range the operator denies", pol: Policy{Deny: []netip.Prefix{local}}, params: map[string]any{"url": srv.URL + "/text"},
			wantErr: "is in a range the operator denies"},
		{name: "a redirect to the metadata address", params: map[string]any{"url": redirect.URL, "allow_redirects": true},
			wantErr: "169.254.169.254:80 is a link-local"},
		{name: "a redirect not followed", params: map[string]any{"url": redirect.URL}},
		{name: "through a proxy to the metadata address", params: map[string]any{"url": "http://169.254.169.254/", "proxies": map[string]any{"http": proxy.URL}},
			wantErr: "169.254.169.254:80 is a link-local"},
		{name: "through a proxy elsewhere", params: map[string]any{"url": "http://example.invalid/", "proxies": map[string]any{"http": proxy.URL}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, errVal, final := runHTTPWith(t, tt.pol, tt.params)
			if tt.wantErr == "" {
				if errVal != nil {
					t.Fatalf("std.http failed: %v", errVal)
				}
				return
			}
			msg, _ := errVal.(string)
			if !strings.Contains(msg, tt.wantErr) || !final {
				t.Errorf("error = %#v (final %v), want a final one containing %q", errVal, final, tt.wantErr)
			}
		})
	}
}

// TestHTTPDefaultTimeout: a server that never answers fails the call after
// the operator's timeout when the task gives none; the task's own wins.
func TestHTTPDefaultTimeout(t *testing.T) {
	t.Parallel()
	srv := echoServer(t, false)
	start := time.Now()
	_, errVal, _ := runHTTPWith(t, Policy{HTTPTimeout: 200 * time.Millisecond}, map[string]any{"url": srv.URL + "/hang"})
	if msg, _ := errVal.(string); !strings.Contains(msg, "Client.Timeout exceeded") {
		t.Fatalf("error = %#v, want a timeout", errVal)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Errorf("the call returned after %v", waited)
	}
	res, errVal, _ := runHTTPWith(t, Policy{HTTPTimeout: time.Nanosecond}, map[string]any{"url": srv.URL + "/text", "timeout": 30})
	if errVal != nil || res["content"] != "hello" {
		t.Errorf("with the task's timeout: %v, %v; want the answer", res, errVal)
	}
	if DefaultHTTPTimeout <= 0 || (Policy{}).withDefaults().HTTPTimeout != DefaultHTTPTimeout {
		t.Error("no default timeout")
	}
}

// TestHTTPRedactsSecrets: a failed call's error, which becomes the task's
// state_info and a log line, shows no query value, password, secret-looking
// header or cookie.
func TestHTTPRedactsSecrets(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t-cookie"})
		w.Header().Set("X-Api-Key", "s3cr3t-header")
		w.Header().Set("X-Plain", "visible")
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name string
		url  string
	}{
		{"refused status", strings.Replace(srv.URL, "http://", "http://user:s3cr3t-pass@", 1) + "/x?api_key=s3cr3t-query&page=2"},
		{"connection refused", "http://user:s3cr3t-pass@127.0.0.1:1/x?api_key=s3cr3t-query"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, _ := NewRegistry().Lookup("std.http")
			_, err := a.Run(context.Background(), Input{Params: map[string]any{"url": tt.url, "timeout": 5}})
			if err == nil {
				t.Fatal("std.http succeeded")
			}
			text := err.Error()
			for _, secret := range []string{"s3cr3t-query", "s3cr3t-pass", "s3cr3t-cookie", "s3cr3t-header"} {
				if strings.Contains(text, secret) {
					t.Errorf("the error shows %s: %s", secret, text)
				}
			}
			if !strings.Contains(text, "api_key=REDACTED") {
				t.Errorf("the error %s does not say which query was there", text)
			}
		})
	}
}

func TestPolicyFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		EnvHTTPTimeout: "15s", EnvNetworkAllow: "127.0.0.1, 10.0.0.0/8", EnvNetworkDeny: "192.168.1.0/24",
		EnvCABundles: "/etc/ssl/corp.pem", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
		EnvLambdaFunctions: " charge, arn:aws:lambda:eu-west-1:123456789012:function:refund:prod ,",
	}
	p, err := PolicyFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, true)
	if err != nil {
		t.Fatal(err)
	}
	if p.HTTPTimeout != 15*time.Second || !p.OnAWS || p.RuntimeAPI != "127.0.0.1:9001" || len(p.Allow) != 2 || len(p.Deny) != 1 || p.CABundles[0] != "/etc/ssl/corp.pem" ||
		!slices.Equal(p.LambdaFunctions, []string{"charge", "arn:aws:lambda:eu-west-1:123456789012:function:refund:prod"}) {
		t.Errorf("policy = %+v", p)
	}
	bad := map[string]string{EnvHTTPTimeout: "soon", EnvNetworkAllow: "nowhere"}
	_, err = PolicyFromEnv(func(k string) (string, bool) { v, ok := bad[k]; return v, ok }, false)
	if err == nil || !strings.Contains(err.Error(), EnvHTTPTimeout) || !strings.Contains(err.Error(), `"nowhere" is neither an address nor a CIDR range`) {
		t.Errorf("error = %v, want both bad values named", err)
	}
}
