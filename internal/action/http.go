package action

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// std.http sends one HTTP request, as Mistral's std.http does with Python
// requests:
//
//   - url (required); method (default GET).
//   - params: query parameters, an object (a list value repeats the key,
//     null values are left out) or a ready-made query string.
//   - body: the request body; an object or list is sent as its JSON text
//     (with no Content-Type, as Mistral does). json: a value sent as JSON
//     with Content-Type application/json. Only one of the two may be given.
//   - headers, cookies: objects of scalar values.
//   - auth: basic authentication, "user:password" (as in Mistral) or
//     [user, password].
//   - timeout: seconds for the whole exchange; by default the operator's
//     (Policy.HTTPTimeout, 60 seconds unless set).
//   - allow_redirects: follow redirects; false by default, because Mistral
//     passes None to requests, which then does not follow them.
//   - proxies: {"http": url, "https": url, "all": url}.
//   - verify: false skips TLS certificate verification; a string is the
//     path of a PEM bundle of trusted CAs, one the operator allows
//     (Policy.CABundles): a workflow cannot have the worker read any file.
//
// Every connection is checked against the operator's network policy
// (Policy), after name resolution and on every redirect. A failed call's
// error hides the values of the URL's query, its password and secret-looking
// headers and cookies: errors become state_info and log lines.
//
// The result is {content, status, headers, url, reason, encoding, cookies,
// elapsed}; content is the body decoded from JSON when it parses as JSON
// (whatever its Content-Type, as requests' resp.json() does), else its
// text. A status outside 200..306 fails the action with that same object
// as the task's error, as in Mistral.

var httpSignature = Signature{
	Required: []string{"url"},
	Optional: []string{"method", "params", "body", "json", "headers", "cookies", "auth", "timeout", "allow_redirects", "proxies", "verify"},
}

// MaxHTTPResponseBytes bounds the response body std.http reads.
const MaxHTTPResponseBytes = 8 << 20

// httpAction is std.http under one policy.
type httpAction struct {
	pol Policy
	// shared serves requests with default TLS and proxy settings, so that
	// they reuse connections.
	shared *http.Transport
}

func newHTTPAction(pol Policy) *httpAction {
	h := &httpAction{pol: pol}
	h.shared = h.newTransport()
	return h
}

func (h *httpAction) newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	t.DialContext = h.pol.dialer().DialContext
	return t
}

func (h *httpAction) run(ctx context.Context, p params) (any, error) {
	req, client, cleanup, err := h.build(ctx, p)
	if err != nil {
		return nil, badParam(err)
	}
	defer cleanup()

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return nil, NonRetryable(fmt.Errorf("std.http: %s: %w", redactURL(req.URL.String()), refusal(err)))
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redactURL(ue.URL)
		}
		return nil, fmt.Errorf("Failed to send HTTP request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxHTTPResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("Failed to read HTTP response: %w", err)
	}
	if len(body) > MaxHTTPResponseBytes {
		return nil, NonRetryable(fmt.Errorf("std.http: the response body of %s is over %d bytes", redactURL(req.URL.String()), MaxHTTPResponseBytes))
	}
	elapsed := time.Since(start)

	encoding := responseEncoding(resp.Header.Get("Content-Type"))
	result := map[string]any{
		"content":  responseContent(body),
		"status":   int64(resp.StatusCode),
		"headers":  flatHeaders(resp.Header),
		"url":      resp.Request.URL.String(),
		"reason":   strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode))),
		"encoding": nil,
		"cookies":  responseCookies(resp),
		"elapsed":  elapsed.Seconds(),
	}
	if encoding != "" {
		result["encoding"] = encoding
	}
	if resp.StatusCode < 200 || resp.StatusCode > 306 {
		// The task's error, and so its state_info: no secrets in it.
		result["url"] = redactURL(resp.Request.URL.String())
		result["headers"] = redactHeaders(result["headers"].(map[string]any))
		result["cookies"] = redactHeaders(result["cookies"].(map[string]any))
		return nil, &Failure{Data: result}
	}
	return result, nil
}

// refusal is the policy's own message in an error that wraps ErrRefused
// (not the URL around it, which may hold secrets).
func refusal(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(*url.Error); ok {
			continue
		}
		if _, ok := e.(*net.OpError); ok {
			continue
		}
		if strings.Contains(e.Error(), ErrRefused.Error()) && !strings.Contains(e.Error(), "://") {
			return e
		}
	}
	return err
}

func (h *httpAction) build(ctx context.Context, p params) (*http.Request, *http.Client, func(), error) {
	rawURL, err := p.str("url", "")
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, nil, fmt.Errorf("std.http: parameter \"url\" must be an absolute http or https URL, got %s", describeValue(rawURL))
	}
	method, err := p.str("method", "GET")
	if err != nil {
		return nil, nil, nil, err
	}
	method = strings.ToUpper(strings.TrimSpace(method))
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return nil, nil, nil, p.typeErr("method", "an HTTP method such as GET or POST", p.m["method"])
	}
	if err := addQuery(u, p); err != nil {
		return nil, nil, nil, err
	}

	if truthy(p.m["body"]) && truthy(p.m["json"]) {
		return nil, nil, nil, errors.New("std.http: only one of the parameters 'json' and 'body' can be passed")
	}
	var body io.Reader
	contentType := ""
	switch {
	case p.present("body"):
		b, err := bodyBytes(p.m["body"])
		if err != nil {
			return nil, nil, nil, p.typeErr("body", "JSON-encodable", p.m["body"])
		}
		body = bytes.NewReader(b)
	case p.present("json"):
		b, err := json.Marshal(p.m["json"])
		if err != nil {
			return nil, nil, nil, p.typeErr("json", "JSON-encodable", p.m["json"])
		}
		body = bytes.NewReader(b)
		contentType = "application/json"
	}

	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("std.http: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if err := setHeaders(req, p); err != nil {
		return nil, nil, nil, err
	}
	if err := setCookies(req, p); err != nil {
		return nil, nil, nil, err
	}
	if err := setAuth(req, p); err != nil {
		return nil, nil, nil, err
	}

	timeout, err := p.seconds("timeout", 0)
	if err != nil {
		return nil, nil, nil, err
	}
	if timeout <= 0 {
		timeout = h.pol.HTTPTimeout
	}
	follow, err := p.boolean("allow_redirects", false)
	if err != nil {
		return nil, nil, nil, err
	}
	transport, cleanup, err := h.transportFor(p)
	if err != nil {
		return nil, nil, nil, err
	}
	// Through a proxy the dialer sees the proxy alone: check the target.
	checkTarget := func(r *http.Request) error {
		proxy, err := transport.Proxy(r)
		if err != nil || proxy == nil {
			return nil
		}
		return h.pol.checkHost(r.Context(), r.URL.Hostname(), cmpPort(r.URL))
	}
	if err := checkTarget(req); err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("std.http: %w", err)
	}
	client := &http.Client{Transport: transport, Timeout: timeout}
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return checkTarget(r)
	}
	return req, client, cleanup, nil
}

// cmpPort is a URL's port, or its scheme's.
func cmpPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// redactURL hides the values of a URL's query and its password: a query
// string is where APIs take keys (api_key=…).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			return s[:i] + "?REDACTED"
		}
		return s
	}
	if q := u.Query(); len(q) > 0 {
		for k, vs := range q {
			for i := range vs {
				vs[i] = "REDACTED"
			}
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	} else if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.Fragment, u.RawFragment = "", ""
	return u.Redacted()
}

// redactHeaders hides the values of secret-looking headers (or cookies).
func redactHeaders(h map[string]any) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		if secretName(k) {
			v = "REDACTED"
		}
		out[k] = v
	}
	return out
}

// secretName reports whether a header or cookie name looks like it holds a
// secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "token", "secret", "key", "passw", "cookie", "session", "signature", "credential", "sid"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func addQuery(u *url.URL, p params) error {
	v, ok := p.m["params"]
	if !ok || v == nil {
		return nil
	}
	var extra string
	switch q := v.(type) {
	case string:
		extra = strings.TrimPrefix(q, "?")
	case map[string]any:
		vals := url.Values{}
		for k, e := range q {
			switch e := e.(type) {
			case nil:
			case []any:
				for _, x := range e {
					s, ok := scalarString(x)
					if !ok {
						return p.typeErr("params", "an object of scalar or list-of-scalar values", q)
					}
					vals.Add(k, s)
				}
			default:
				s, ok := scalarString(e)
				if !ok {
					return p.typeErr("params", "an object of scalar or list-of-scalar values", q)
				}
				vals.Add(k, s)
			}
		}
		extra = vals.Encode()
	default:
		return p.typeErr("params", "an object or a query string", v)
	}
	switch {
	case extra == "":
	case u.RawQuery == "":
		u.RawQuery = extra
	default:
		u.RawQuery += "&" + extra
	}
	return nil
}

func bodyBytes(v any) ([]byte, error) {
	if s, ok := v.(string); ok {
		return []byte(s), nil
	}
	return json.Marshal(v)
}

func setHeaders(req *http.Request, p params) error {
	h, err := p.object("headers")
	if err != nil {
		return err
	}
	for k, v := range h {
		if v == nil {
			continue
		}
		s, ok := scalarString(v)
		if !ok {
			return p.typeErr("headers", "an object of scalar values", h)
		}
		if strings.EqualFold(k, "Host") {
			req.Host = s
			continue
		}
		req.Header.Set(k, s)
	}
	return nil
}

func setCookies(req *http.Request, p params) error {
	c, err := p.object("cookies")
	if err != nil {
		return err
	}
	for k, v := range c {
		s, ok := scalarString(v)
		if !ok {
			return p.typeErr("cookies", "an object of scalar values", c)
		}
		req.AddCookie(&http.Cookie{Name: k, Value: s})
	}
	return nil
}

func setAuth(req *http.Request, p params) error {
	v, ok := p.m["auth"]
	if !ok || v == nil {
		return nil
	}
	const want = `"user:password" or a list [user, password]`
	switch a := v.(type) {
	case string:
		user, pass, ok := strings.Cut(a, ":")
		if !ok {
			return p.typeErr("auth", want, v)
		}
		req.SetBasicAuth(user, pass)
	case []any:
		if len(a) != 2 {
			return p.typeErr("auth", want, v)
		}
		user, ok1 := a[0].(string)
		pass, ok2 := a[1].(string)
		if !ok1 || !ok2 {
			return p.typeErr("auth", want, v)
		}
		req.SetBasicAuth(user, pass)
	default:
		return p.typeErr("auth", want, v)
	}
	return nil
}

// transportFor returns the shared transport, or a dedicated one when the
// request asks for its own TLS or proxy settings; cleanup releases it.
func (h *httpAction) transportFor(p params) (*http.Transport, func(), error) {
	proxies, err := p.object("proxies")
	if err != nil {
		return nil, nil, err
	}
	verify, hasVerify := p.m["verify"]
	custom := len(proxies) > 0
	var tlsConf *tls.Config
	switch v := verify.(type) {
	case nil:
	case bool:
		if !v {
			tlsConf = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the workflow asked for verify: false
			custom = true
		}
	case string:
		if !slices.Contains(h.pol.CABundles, v) {
			return nil, nil, fmt.Errorf("std.http: parameter \"verify\" names %q, which is not a CA bundle the operator allows (BORA_HTTP_CA_BUNDLES)", v)
		}
		pem, err := os.ReadFile(v)
		if err != nil {
			return nil, nil, fmt.Errorf("std.http: parameter \"verify\": read CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("std.http: parameter \"verify\": %s holds no PEM certificate", v)
		}
		tlsConf = &tls.Config{RootCAs: pool}
		custom = true
	default:
		if hasVerify {
			return nil, nil, p.typeErr("verify", "true, false or the path of a CA bundle", verify)
		}
	}
	if !custom {
		return h.shared, func() {}, nil
	}
	t := h.newTransport()
	if tlsConf != nil {
		t.TLSClientConfig = tlsConf
	}
	if len(proxies) > 0 {
		byScheme := map[string]*url.URL{}
		for k, v := range proxies {
			s, ok := v.(string)
			if !ok {
				return nil, nil, p.typeErr("proxies", "an object of proxy URLs", proxies)
			}
			pu, err := url.Parse(s)
			if err != nil || pu.Host == "" {
				return nil, nil, p.typeErr("proxies", "an object of proxy URLs", proxies)
			}
			byScheme[strings.ToLower(k)] = pu
		}
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			if pu, ok := byScheme[r.URL.Scheme]; ok {
				return pu, nil
			}
			if pu, ok := byScheme["all"]; ok {
				return pu, nil
			}
			return http.ProxyFromEnvironment(r)
		}
	}
	return t, t.CloseIdleConnections, nil
}

// responseEncoding mirrors requests' Response.encoding: the charset of the
// Content-Type, else ISO-8859-1 for text/* and utf-8 for JSON, else none.
func responseEncoding(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, ps, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	if cs := ps["charset"]; cs != "" {
		return strings.Trim(cs, `"'`)
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return "ISO-8859-1"
	case mt == "application/json":
		return "utf-8"
	}
	return ""
}

func responseContent(body []byte) any {
	if v, err := decodeJSON(body); err == nil {
		return v
	}
	return bodyText(body)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return normalizeNumbers(v), nil
}

// bodyText returns the body as text: as UTF-8 when it is valid UTF-8, else
// read as Latin-1, which maps every byte to a character and loses nothing.
func bodyText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func flatHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

func responseCookies(resp *http.Response) map[string]any {
	out := map[string]any{}
	for _, c := range resp.Cookies() {
		out[c.Name] = c.Value
	}
	return out
}

// runAsync is std.mistral_http: std.http's request, carrying headers that
// say which attempt to complete and where (Mistral's names), then the
// attempt waits for that completion (ErrPending). A request that fails is
// the attempt's error, as with std.http.
func (h *httpAction) runAsync(ctx context.Context, p params) (any, error) {
	given, err := p.object("headers")
	if err != nil {
		return nil, badParam(err)
	}
	headers := make(map[string]any, len(given)+5)
	for k, v := range given {
		headers[k] = v
	}
	headers["Mistral-Workflow-Execution-Id"] = p.in.ExecutionID
	headers["Mistral-Task-Id"] = p.in.Task
	headers["Mistral-Action-Execution-Id"] = p.in.CallbackID
	if p.in.CallbackURL != "" {
		headers["Mistral-Callback-URL"] = strings.TrimSuffix(p.in.CallbackURL, "/") + "/" + p.in.CallbackID
	}
	m := make(map[string]any, len(p.m)+1)
	for k, v := range p.m {
		m[k] = v
	}
	m["headers"] = headers
	p.m = m
	if _, err := h.run(ctx, p); err != nil {
		return nil, err
	}
	return nil, ErrPending
}
