// Package apigw serves an http.Handler to Amazon API Gateway HTTP APIs: it
// turns a Lambda proxy event of payload format 2.0 into an *http.Request,
// runs the handler, and turns what it wrote into the event's response.
package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// RequestIDHeader is the request header that carries API Gateway's request
// id to the handler.
const RequestIDHeader = "X-Request-Id"

// Handler returns the Lambda handler that serves h.
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r, err := Request(ctx, ev)
		if err != nil {
			return problemResponse(http.StatusBadRequest, err.Error()), nil
		}
		w := newWriter()
		h.ServeHTTP(w, r)
		return w.response(), nil
	}
}

// Request builds the *http.Request an event stands for.
func Request(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("apigw: the event has no requestContext.http.method; is it an HTTP API event of payload format 2.0?")
	}
	path := ev.RawPath
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	// A stage other than $default is the first segment of the path.
	if st := ev.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(path, "/"+st); ok && (rest == "" || rest[0] == '/') {
			path = "/" + strings.TrimPrefix(rest, "/")
		}
	}
	// rawPath arrives decoded, but for %25, which stays as it was sent.
	u := &url.URL{Path: strings.ReplaceAll(path, "%25", "%"), RawQuery: ev.RawQueryString}
	var body []byte
	if ev.Body != "" {
		if ev.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(ev.Body)
			if err != nil {
				return nil, fmt.Errorf("apigw: the body is not valid base64: %v", err)
			}
			body = b
		} else {
			body = []byte(ev.Body)
		}
	}
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("apigw: %v", err)
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	r.ContentLength = int64(len(body))
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	for k, v := range ev.Headers {
		// API Gateway joins repeated headers with commas, as HTTP allows.
		r.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	r.Host = cmpOr(r.Header.Get("Host"), ev.RequestContext.DomainName)
	r.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	if id := ev.RequestContext.RequestID; id != "" {
		r.Header.Set(RequestIDHeader, id)
	}
	return r, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writer is the http.ResponseWriter the handler writes into.
type writer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newWriter() *writer { return &writer{header: http.Header{}} }

func (w *writer) Header() http.Header { return w.header }

func (w *writer) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *writer) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// response is the event response for what was written: headers joined
// with commas (Set-Cookie as cookies), a text body as it is and any other
// body in base64.
func (w *writer) response() events.APIGatewayV2HTTPResponse {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	out := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, vs := range w.header {
		if http.CanonicalHeaderKey(k) == "Set-Cookie" {
			out.Cookies = append(out.Cookies, vs...)
			continue
		}
		out.Headers[k] = strings.Join(vs, ", ")
	}
	if w.body.Len() == 0 {
		return out
	}
	if textual(w.header.Get("Content-Type")) && utf8.Valid(w.body.Bytes()) {
		out.Body = w.body.String()
	} else {
		out.Body = base64.StdEncoding.EncodeToString(w.body.Bytes())
		out.IsBase64Encoded = true
	}
	return out
}

// textual reports whether a content type is text that travels as it is.
func textual(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/yaml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml")
}

// problemResponse is an RFC 9457 problem for an event that is no request.
func problemResponse(status int, detail string) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/problem+json"},
		Body:       string(b),
	}
}
