package console

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// APIPrefix is where the API's routes start; the console calls nothing else.
const APIPrefix = "/v1/"

// ProxyOptions configure Proxy.
type ProxyOptions struct {
	// Endpoint is the deployed API: the URL its routes hang under (the
	// stack's ApiUrl), as `bora --endpoint` takes it.
	Endpoint string
	// Authorize adds the caller's credentials to a request about to be
	// sent to the endpoint (a SigV4 signature, a bearer token); body is
	// the request's body. Nil sends requests as they are.
	Authorize func(r *http.Request, body []byte) error
	// Key, when set, is the secret the console's address carries
	// (/?key=KEY): opening that address sets it as a cookie, and API calls
	// without the cookie are refused, so that other users of the machine
	// cannot use the proxy's credentials.
	Key string
	// Transport sends requests to the endpoint; default http.DefaultTransport.
	Transport http.RoundTripper
	// MaxBodyBytes bounds request bodies; default 2 MiB.
	MaxBodyBytes int64
	Log          *slog.Logger
}

// keyCookie holds the console's key in the browser.
const keyCookie = "bora_console_key"

// NewKey returns a fresh random key for ProxyOptions.Key.
func NewKey() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Proxy serves the console at / and forwards the API's routes to a
// deployed API, each request authorized there by o.Authorize, so that no
// credential reaches the browser. It only serves browsers on this machine
// (loopback host names; DNS rebinding is refused) and only the console's
// own calls (a cross-site request is refused: it could make the proxy act
// with the user's credentials).
func Proxy(o ProxyOptions) (http.Handler, error) {
	u, err := url.Parse(strings.TrimSpace(o.Endpoint))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("endpoint %q: want an http or https URL without user, query or fragment, such as https://abc123.execute-api.eu-west-1.amazonaws.com", o.Endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 2 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme = u.Scheme
			out.URL.Host = u.Host
			out.URL.Path = u.Path + pr.In.URL.Path
			out.URL.RawPath = ""
			out.URL.RawQuery = pr.In.URL.RawQuery
			out.Host = u.Host
			// Only what the API reads goes on: cookies, the browser's
			// own headers and anything it might take for credentials
			// stay here.
			h := http.Header{}
			for _, k := range []string{"Accept", "Content-Type", "Idempotency-Key"} {
				if v := pr.In.Header.Get(k); v != "" {
					h.Set(k, v)
				}
			}
			h.Set("User-Agent", "bora-console")
			out.Header = h
		},
		Transport: authorizing{base: base, authorize: o.Authorize, max: o.MaxBodyBytes},
		ModifyResponse: func(r *http.Response) error {
			r.Header.Del("Set-Cookie")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			o.Log.Error("console proxy", "method", r.Method, "path", r.URL.Path, "err", err)
			status, kind, detail := http.StatusBadGateway, "unreachable", fmt.Sprintf("the API at %s did not answer: %v", u.Redacted(), err)
			var tl *tooLarge
			if errors.As(err, &tl) {
				status, kind, detail = http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the request body is over %d bytes", o.MaxBodyBytes)
			} else if errors.As(err, new(*authError)) {
				detail = err.Error()
			}
			writeProblem(w, status, kind, detail)
		},
	}
	console := Handler()
	mux := http.NewServeMux()
	mux.Handle(APIPrefix, guard(o.Key, rp))
	mux.Handle("/", withKey(o.Key, console))
	return localOnly(mux), nil
}

// authorizing adds credentials to each request just before it is sent.
type authorizing struct {
	base      http.RoundTripper
	authorize func(*http.Request, []byte) error
	max       int64
}

type tooLarge struct{}

func (*tooLarge) Error() string { return "request body too large" }

type authError struct{ err error }

func (e *authError) Error() string { return "credentials for the API: " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

func (a authorizing) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, a.max+1))
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > a.max {
			return nil, &tooLarge{}
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	if a.authorize != nil {
		if err := a.authorize(r, body); err != nil {
			return nil, &authError{err}
		}
	}
	return a.base.RoundTrip(r)
}

// localOnly answers only requests addressed to this machine by a loopback
// name: a page elsewhere that made its own host name resolve to 127.0.0.1
// (DNS rebinding) would otherwise read the API through the proxy.
func localOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			writeProblem(w, http.StatusMisdirectedRequest, "host", fmt.Sprintf("this console serves http://127.0.0.1 and http://localhost only, not %q", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guard lets through the console's own calls only: with the key's cookie
// when there is a key, and never one a page of another origin made.
func guard(key string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key != "" {
			c, err := r.Cookie(keyCookie)
			if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(key)) != 1 {
				writeProblem(w, http.StatusForbidden, "key", "open the console at the address bora console printed (it carries a key); this browser has not used it yet")
				return
			}
		}
		if !sameOrigin(r) {
			writeProblem(w, http.StatusForbidden, "origin", "the console's API calls come from the console's own pages only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a request came from the console's pages: a
// browser says so in Sec-Fetch-Site or Origin; a request that changes
// something must also carry the console's X-Bora-Console header, which a
// page of another origin cannot send without a CORS preflight the proxy
// never grants.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("X-Bora-Console") == "" {
		return false
	}
	return true
}

// withKey serves the console, and turns /?key=KEY into the key's cookie.
func withKey(key string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := r.URL.Query().Get("key"); key != "" && r.URL.Path == "/" && k != "" {
			if subtle.ConstantTimeCompare([]byte(k), []byte(key)) != 1 {
				writeProblem(w, http.StatusForbidden, "key", "this key is not the one bora console printed")
				return
			}
			http.SetCookie(w, &http.Cookie{Name: keyCookie, Value: key, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Expires: time.Now().Add(30 * 24 * time.Hour)})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeProblem answers with an RFC 9457 problem of the proxy's own.
func writeProblem(w http.ResponseWriter, status int, kind, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "https://github.com/borawf/bora/blob/main/docs/console.md#proxy-" + kind,
		"title":  "Console proxy: " + http.StatusText(status),
		"status": status,
		"detail": detail,
	})
}
