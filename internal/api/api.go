// Package api is Bora's HTTP API: workflows (definitions) and their
// executions, over a store.Store and a runtime.Runtime. The same handler
// serves `bora serve` (net/http) and the API Lambda function (through
// internal/apigw). Every route lives under BasePath and is listed in
// Routes and in the OpenAPI document (openapi.json, served at
// BasePath+"/openapi.json"); docs/api.md describes them.
//
// The handler only reads, writes a definition or an execution's head, and
// sends engine events; it never waits for an execution. Every input is
// checked before anything is written, and every error is an RFC 9457
// problem (Problem) with a stable type.
package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
)

// BasePath starts every route.
const BasePath = "/v1"

// DefaultMaxBodyBytes is the largest request body taken unless Options say
// otherwise; a larger one is refused with 413. It holds the largest
// workflow document (dsl.MaxSourceBytes) as JSON, escapes and all.
const DefaultMaxBodyBytes = 2 * dsl.MaxSourceBytes

// RequestIDHeader carries a request's id: the API Gateway request id on
// AWS, a fresh one otherwise. Problems of the server's own making name it.
const RequestIDHeader = "X-Request-Id"

// Options configure the handler.
type Options struct {
	Store   store.Store
	Runtime *runtime.Runtime
	// Actions is the catalogue the workers run, for the same action checks
	// as `bora validate`; nil checks none.
	Actions map[string]dsl.ActionSpec
	Log     *slog.Logger
	// Token, when set, is the bearer token every request must carry
	// (bora serve); API Gateway authorizes requests before they get here.
	Token string
	// MaxBodyBytes bounds request bodies; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Hosts, when set, are the only Host headers served: a server on a
	// loopback address (bora serve) names its own, so that a web page
	// whose domain resolves to 127.0.0.1 (DNS rebinding) gets nothing.
	Hosts []string
	// SameOrigin refuses the requests that change something (POST,
	// DELETE) when a browser says it sends them for another site
	// (Sec-Fetch-Site, Origin): a web page the user visits cannot start or
	// cancel executions through the user's browser (bora serve, whose
	// loopback address needs no token).
	SameOrigin bool
}

// Validate reports missing options.
func (o Options) Validate() error {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("api: no store"))
	}
	if o.Runtime == nil {
		errs = append(errs, errors.New("api: no runtime"))
	}
	return errors.Join(errs...)
}

// server holds the handlers' dependencies.
type server struct {
	store      store.Store
	rt         *runtime.Runtime
	actions    map[string]dsl.ActionSpec
	log        *slog.Logger
	token      []byte
	maxBody    int64
	hosts      []string
	sameOrigin bool
	mux        *http.ServeMux
}

// Route is one route of the API.
type Route struct {
	Method  string
	Pattern string // under BasePath, in http.ServeMux syntax
	handle  func(*server, http.ResponseWriter, *http.Request) error
}

// Routes lists every route the handler serves.
func Routes() []Route { return routes }

var routes = []Route{
	{"GET", "/openapi.json", (*server).openAPI},
	{"GET", "/workflows", (*server).listWorkflows},
	{"POST", "/workflows", (*server).createWorkflow},
	{"POST", "/workflows/validate", (*server).validateWorkflow},
	{"GET", "/workflows/{name}", (*server).getWorkflow},
	{"DELETE", "/workflows/{name}", (*server).deleteWorkflow},
	{"GET", "/workflows/{name}/versions/{version}", (*server).getWorkflow},
	{"GET", "/workflows/{name}/versions/{version}/graph", (*server).getGraph},
	{"GET", "/executions", (*server).listExecutions},
	{"POST", "/executions", (*server).startExecution},
	{"GET", "/executions/{id}", (*server).getExecution},
	{"GET", "/executions/{id}/tasks/{task}", (*server).getTask},
	{"POST", "/executions/{id}/pause", command(record.OpPause)},
	{"POST", "/executions/{id}/resume", command(record.OpResume)},
	{"POST", "/executions/{id}/cancel", command(record.OpCancel)},
	{"POST", "/executions/{id}/rerun", command(record.OpRerun)},
	{"POST", "/executions/{id}/skip", command(record.OpSkip)},
	{"POST", "/completions/{id}", (*server).complete},
	{"POST", "/completions/{id}/heartbeat", (*server).heartbeat},
	{"GET", "/triggers", (*server).listTriggers},
	{"POST", "/triggers", (*server).createTrigger},
	{"GET", "/triggers/{name}", (*server).getTrigger},
	{"DELETE", "/triggers/{name}", (*server).deleteTrigger},
}

// New returns the API's handler.
func New(o Options) (http.Handler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &server{
		store:      o.Store,
		rt:         o.Runtime,
		actions:    o.Actions,
		log:        cmp.Or(o.Log, slog.New(slog.DiscardHandler)),
		maxBody:    cmp.Or(o.MaxBodyBytes, DefaultMaxBodyBytes),
		hosts:      o.Hosts,
		sameOrigin: o.SameOrigin,
		mux:        http.NewServeMux(),
	}
	if o.Token != "" {
		s.token = []byte(o.Token)
	}
	for _, rt := range routes {
		h := rt.handle
		s.mux.HandleFunc(rt.Method+" "+BasePath+rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(s, w, r); err != nil {
				s.fail(w, r, err)
			}
		})
	}
	return s, nil
}

// ServeHTTP authenticates the request, routes it, and turns a panic into
// a 500 problem: nothing a client sends ends the process.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(RequestIDHeader) == "" {
		r.Header.Set(RequestIDHeader, newRequestID())
	}
	w.Header().Set(RequestIDHeader, r.Header.Get(RequestIDHeader))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.fail(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
		}
	}()
	if p := s.foreign(r); p != nil {
		writeProblem(w, r, p)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bora"`)
		writeProblem(w, r, problem(TypeUnauthorized, "this server requires a bearer token: send Authorization: Bearer <the token it was started with>"))
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unrouted(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// foreign refuses a request for another host (Options.Hosts) and a
// browser's cross-site request that would change something
// (Options.SameOrigin).
func (s *server) foreign(r *http.Request) *Problem {
	if len(s.hosts) > 0 && !slices.Contains(s.hosts, strings.ToLower(r.Host)) {
		return problem(TypeForbidden, fmt.Sprintf("this server answers requests for %s, not %.100q", strings.Join(s.hosts, " or "), r.Host))
	}
	if !s.sameOrigin || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		return nil
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return problem(TypeForbidden, "a browser sent this request for another site; this server takes no cross-site requests")
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return problem(TypeForbidden, fmt.Sprintf("a browser sent this request for the page of %.100q; this server takes no cross-site requests", o))
		}
	}
	return nil
}

// authorized checks the bearer token, in constant time, when one is set.
func (s *server) authorized(r *http.Request) bool {
	if s.token == nil {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.token) == 1
}

// unrouted answers a request no route takes: 405 with the methods the
// path has, or 404.
func (s *server) unrouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		writeProblem(w, r, problem(TypeRouteNotFound, fmt.Sprintf("%s is not a route of this API; the routes are listed at %s/openapi.json", r.URL.Path, BasePath)))
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeProblem(w, r, problem(TypeMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, strings.Join(allowed, " or "), r.Method)))
}

// fail answers a handler's error: a *Problem as it is, anything else as
// 500 or 503, logged with the request id and never shown to the client.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	if errors.As(err, &p) {
		writeProblem(w, r, p)
		return
	}
	id := r.Header.Get(RequestIDHeader)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		s.log.Info("request cancelled by the client", "request_id", id, "method", r.Method, "path", r.URL.Path)
		return
	}
	typ, detail := TypeInternal, "the server failed; its log has the details under this request id"
	if errors.Is(err, context.DeadlineExceeded) || unavailable(err) {
		typ, detail = TypeUnavailable, "the store or queue did not answer in time; the request may be retried (with the same Idempotency-Key when it started an execution)"
		w.Header().Set("Retry-After", "1")
	}
	s.log.Error("request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
	p = problem(typ, detail)
	p.RequestID = id
	writeProblem(w, r, p)
}

// unavailable reports errors of a dependency that a retry may get past
// (throttling), as the AWS SDK marks them.
func unavailable(err error) bool {
	var t interface{ Timeout() bool }
	if errors.As(err, &t) && t.Timeout() {
		return true
	}
	var throttle interface{ ErrorCode() string }
	if errors.As(err, &throttle) {
		switch throttle.ErrorCode() {
		case "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestThrottled", "ServiceUnavailable", "InternalServerError":
			return true
		}
	}
	return false
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
