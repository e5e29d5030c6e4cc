package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/embedded"
	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	smem "github.com/borawf/bora/internal/store/memory"
)

const hello = `version: '2.0'
hello:
  input:
    - name: World
  tasks:
    greet:
      action: std.echo output="hello <% $.name %>"
      publish:
        greeting: <% task().result %>
  output:
    greeting: <% $.greeting %>
`

const book = `version: '2.0'
name: book
workflows:
  one:
    tasks:
      a:
        action: std.noop
  two:
    tasks:
      b:
        action: std.noop
`

// fixture is the API over a memory store and queues: nothing runs the
// executions it starts.
type fixture struct {
	h      http.Handler
	store  store.Store
	events *qmem.Queue
	tasks  *qmem.Queue
}

// sent is the number of messages the handler's runtime has sent.
func (f *fixture) sent() int { return f.events.Len() + f.tasks.Len() }

func newFixture(t *testing.T, opts ...func(*api.Options)) *fixture {
	t.Helper()
	return newFixtureOver(t, smem.New(), opts...)
}

// newFixtureOver is newFixture over a store of the test's.
func newFixtureOver(t *testing.T, st store.Store, opts ...func(*api.Options)) *fixture {
	t.Helper()
	events, tasks := qmem.New(qmem.Options{FIFO: true}), qmem.New(qmem.Options{})
	rt := &runtime.Runtime{Store: st, Events: events, Tasks: tasks, Timers: qmem.New(qmem.Options{})}
	if err := rt.Validate(); err != nil {
		t.Fatal(err)
	}
	o := api.Options{Store: st, Runtime: rt, Actions: action.NewRegistry().Specs()}
	for _, f := range opts {
		f(&o)
	}
	h, err := api.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{h: h, store: st, events: events, tasks: tasks}
}

// req is one request to the handler.
type req struct {
	method, path string
	body         string
	ctype        string // default application/json when there is a body
	header       map[string]string
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, r req) resp {
	t.Helper()
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	switch {
	case r.ctype != "":
		hr.Header.Set("Content-Type", r.ctype)
	case r.body != "":
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, hr)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// problem decodes a problem response, failing the test if it is not one.
func (r resp) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, r.body)
	}
	var p api.Problem
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != r.status {
		t.Errorf("problem status %d, response status %d", p.Status, r.status)
	}
	if p.Title == "" || !strings.HasPrefix(p.Type, api.ProblemBase) {
		t.Errorf("problem %+v: want a title and a type under %s", p, api.ProblemBase)
	}
	return p
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d, Content-Type %q, want application/json; body %s", r.status, ct, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

func (f *fixture) submit(t *testing.T, src string) api.Submitted {
	t.Helper()
	r := f.do(t, req{method: "POST", path: "/v1/workflows", body: src, ctype: "application/yaml"})
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var out api.Submitted
	r.decode(t, &out)
	return out
}

func TestSubmitWorkflow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jsonBody, _ := json.Marshal(map[string]string{"definition": hello})
	for _, tc := range []struct {
		name        string
		r           req
		wantStatus  int
		wantCreated bool
		wantVersion int
	}{
		{"yaml", req{method: "POST", path: "/v1/workflows", body: hello, ctype: "application/yaml"}, 201, true, 1},
		{"same again stores nothing", req{method: "POST", path: "/v1/workflows", body: hello, ctype: "application/yaml; charset=utf-8"}, 200, false, 1},
		{"json, same document", req{method: "POST", path: "/v1/workflows", body: string(jsonBody)}, 200, false, 1},
		{"a change is a new version", req{method: "POST", path: "/v1/workflows", body: strings.Replace(hello, "hello <%", "hi <%", 1), ctype: "text/yaml"}, 201, true, 2},
	} {
		r := f.do(t, tc.r)
		if r.status != tc.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, r.status, tc.wantStatus, r.body)
		}
		var out api.Submitted
		r.decode(t, &out)
		want := api.Submitted{
			Workflows: []api.Workflow{{Name: "hello", Version: tc.wantVersion, Workflows: []string{"hello"}, Created: &tc.wantCreated}},
			Warnings:  []api.Diagnostic{},
		}
		if d := cmp.Diff(want, out); d != "" {
			t.Errorf("%s: response (-want +got):\n%s", tc.name, d)
		}
	}
}

func TestSubmitWorkbookAndPlainDocuments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out := f.submit(t, book)
	if len(out.Workflows) != 1 || out.Workflows[0].Name != "book" || !cmp.Equal(out.Workflows[0].Workflows, []string{"book.one", "book.two"}) {
		t.Errorf("workbook stored as %+v, want one definition book with book.one and book.two", out.Workflows)
	}
	two := "version: '2.0'\nfirst:\n  tasks:\n    a:\n      action: std.noop\nsecond:\n  tasks:\n    b:\n      action: std.noop\n"
	out = f.submit(t, two)
	var names []string
	for _, w := range out.Workflows {
		names = append(names, w.Name)
	}
	if !cmp.Equal(names, []string{"first", "second"}) {
		t.Errorf("plain document stored as %v, want first and second", names)
	}
}

func TestInvalidWorkflowHasPositions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bad := "version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.nope\n      on-success: missing\n"
	r := f.do(t, req{method: "POST", path: "/v1/workflows", body: bad, ctype: "application/yaml"})
	p := r.problem(t)
	if r.status != 422 || p.Name() != api.TypeInvalidWorkflow {
		t.Fatalf("status %d type %s, want 422 %s", r.status, p.Type, api.TypeInvalidWorkflow)
	}
	want := []api.Diagnostic{{Line: 6, Column: 19, Severity: "error"}}
	if d := cmp.Diff(want, p.Diagnostics, cmpopts.IgnoreFields(api.Diagnostic{}, "Message")); d != "" || !strings.Contains(p.Diagnostics[0].Message, "missing") {
		t.Fatalf("diagnostics (-want +got):\n%s%+v", d, p.Diagnostics)
	}
	// Actions are checked against the workers' catalogue, as bora validate does.
	r = f.do(t, req{method: "POST", path: "/v1/workflows", body: "version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.nope\n", ctype: "application/yaml"})
	if p := r.problem(t); len(p.Diagnostics) != 1 || p.Diagnostics[0].Line != 4 || !strings.Contains(p.Diagnostics[0].Message, "std.nope") {
		t.Errorf("unknown action: %+v", p.Diagnostics)
	}
	if _, _, err := f.store.GetDefinition(context.Background(), "wf", 0); err == nil {
		t.Error("an invalid document was stored")
	}

	// validate: the same diagnostics, 200, nothing stored.
	r = f.do(t, req{method: "POST", path: "/v1/workflows/validate", body: bad, ctype: "application/yaml"})
	var v api.Validated
	r.decode(t, &v)
	if r.status != 200 || v.Valid || !cmp.Equal(v.Diagnostics, p.Diagnostics) {
		t.Errorf("validate: %d %+v, want 200, invalid, diagnostics %+v", r.status, v, p.Diagnostics)
	}
	r = f.do(t, req{method: "POST", path: "/v1/workflows/validate", body: hello, ctype: "application/yaml"})
	r.decode(t, &v)
	if !v.Valid || !cmp.Equal(v.Workflows, []string{"hello"}) {
		t.Errorf("validate a valid document: %+v", v)
	}
	if _, _, err := f.store.GetDefinition(context.Background(), "hello", 0); err == nil {
		t.Error("validate stored the document")
	}
}

func TestGetWorkflow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	changed := strings.Replace(hello, "hello <%", "hi <%", 1)
	f.submit(t, changed)
	for _, tc := range []struct {
		path    string
		version int
		src     string
	}{
		{"/v1/workflows/hello", 2, changed},
		{"/v1/workflows/hello/versions/1", 1, hello},
		{"/v1/workflows/hello/versions/2", 2, changed},
	} {
		r := f.do(t, req{method: "GET", path: tc.path})
		var w api.Workflow
		r.decode(t, &w)
		if w.Name != "hello" || w.Version != tc.version || w.Definition == nil || *w.Definition != tc.src || !cmp.Equal(w.Workflows, []string{"hello"}) {
			t.Errorf("GET %s = %+v, want version %d", tc.path, w, tc.version)
		}
	}
}

func TestStartAndGetExecution(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	r := f.do(t, req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "input": {"name": "Bora"}}`})
	if r.status != 201 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	var doc runtime.Document
	r.decode(t, &doc)
	if doc.ID == "" || doc.State != "RUNNING" || doc.Workflow != "hello" || doc.Definition != "hello" || doc.Version != 1 {
		t.Errorf("started %+v", doc)
	}
	if loc := r.header.Get("Location"); loc != "/v1/executions/"+doc.ID {
		t.Errorf("Location %q", loc)
	}
	// The request took the execution's first step: the first task's
	// message is sent, and no start event.
	if f.tasks.Len() != 1 || f.events.Len() != 0 {
		t.Errorf("%d task messages and %d events sent, want the first task's message alone", f.tasks.Len(), f.events.Len())
	}
	r = f.do(t, req{method: "GET", path: "/v1/executions/" + doc.ID})
	var got runtime.Document
	r.decode(t, &got)
	if got.ID != doc.ID || string(got.Input) != `{"name":"Bora"}` {
		t.Errorf("GET = %+v", got)
	}
}

func TestStartWorkbookWorkflow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, book)
	for _, tc := range []struct {
		body       string
		wantStatus int
		wantType   string
		want       string
	}{
		{`{"workflow": "book.two"}`, 201, "", "book.two"},
		{`{"workflow": "book"}`, 422, api.TypeInvalidExecution, "book.one, book.two"},
		{`{"workflow": "book.three"}`, 422, api.TypeInvalidExecution, "no workflow"},
		{`{"workflow": "nobook.one"}`, 404, api.TypeWorkflowNotFound, "nobook.one"},
	} {
		r := f.do(t, req{method: "POST", path: "/v1/executions", body: tc.body})
		if r.status != tc.wantStatus {
			t.Errorf("%s: status %d, want %d: %s", tc.body, r.status, tc.wantStatus, r.body)
			continue
		}
		if tc.wantType == "" {
			var doc runtime.Document
			r.decode(t, &doc)
			if doc.Workflow != tc.want || doc.Definition != "book" {
				t.Errorf("%s: started %s of %s", tc.body, doc.Workflow, doc.Definition)
			}
			continue
		}
		p := r.problem(t)
		if p.Name() != tc.wantType || !strings.Contains(p.Detail, tc.want) {
			t.Errorf("%s: problem %s %q, want %s saying %q", tc.body, p.Name(), p.Detail, tc.wantType, tc.want)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	key := map[string]string{"Idempotency-Key": "order-42"}
	start := func(body string, h map[string]string) resp {
		return f.do(t, req{method: "POST", path: "/v1/executions", body: body, header: h})
	}
	first := start(`{"workflow": "hello", "input": {"name": "a"}}`, key)
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	var a runtime.Document
	first.decode(t, &a)

	// A new version stored in between does not change what a retry means.
	f.submit(t, strings.Replace(hello, "hello <%", "hi <%", 1))
	again := start(`{"input": {"name": "a"}, "workflow": "hello"}`, key)
	var b runtime.Document
	again.decode(t, &b)
	if again.status != 200 || b.ID != a.ID || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d %s (replayed %q), want 200 and execution %s", again.status, b.ID, again.header.Get("Idempotent-Replayed"), a.ID)
	}
	for _, tc := range []struct{ body, differs string }{
		{`{"workflow": "hello", "input": {"name": "b"}}`, "input"},
		{`{"workflow": "hello", "input": {"name": "a"}, "env": {"x": 1}}`, "env"},
		{`{"workflow": "hello", "version": 2, "input": {"name": "a"}}`, "version"},
	} {
		r := start(tc.body, key)
		p := r.problem(t)
		if r.status != 409 || p.Name() != api.TypeIdempotencyConflict || p.Execution != a.ID || !strings.Contains(p.Detail, tc.differs) {
			t.Errorf("%s: %d %+v, want 409 %s naming %s and the %s", tc.body, r.status, p, api.TypeIdempotencyConflict, a.ID, tc.differs)
		}
	}
	if n := f.events.Len(); n != 1 {
		t.Errorf("engine queue holds %d events, want 1 (one start, deduplicated)", n)
	}
	// Still the same execution once the workflow is deleted.
	if r := f.do(t, req{method: "DELETE", path: "/v1/workflows/hello"}); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := start(`{"workflow": "hello", "input": {"name": "a"}}`, key); r.status != 200 {
		t.Errorf("retry after the deletion: %d %s", r.status, r.body)
	}
	f.submit(t, hello)

	// A client id is idempotent the same way, with its own problem type.
	r := start(`{"workflow": "hello", "id": "mine-1"}`, nil)
	if r.status != 201 {
		t.Fatalf("start with id: %d %s", r.status, r.body)
	}
	if r = start(`{"workflow": "hello", "id": "mine-1"}`, nil); r.status != 200 {
		t.Errorf("retry with id: %d %s", r.status, r.body)
	}
	r = start(`{"workflow": "hello", "id": "mine-1", "input": {"name": "x"}}`, nil)
	if p := r.problem(t); p.Name() != api.TypeExecutionExists {
		t.Errorf("id reused for another request: %+v", p)
	}
}

// TestErrors covers the problems every route answers with.
func TestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	rev := "version: '2.0'\nrev:\n  type: reverse\n  tasks:\n    a:\n      action: std.noop\n"
	f.submit(t, rev)
	big := `{"workflow": "hello", "input": {"name": "` + strings.Repeat("x", api.DefaultMaxBodyBytes) + `"}}`
	bigDoc := "version: '2.0'\n# " + strings.Repeat("x", dsl.MaxSourceBytes) + "\nwf:\n  tasks: {}\n"
	for _, tc := range []struct {
		name       string
		r          req
		wantStatus int
		wantType   string
		wantDetail string
	}{
		{"unknown route", req{method: "GET", path: "/v1/nothing"}, 404, api.TypeRouteNotFound, "openapi.json"},
		{"outside the base path", req{method: "GET", path: "/executions/x"}, 404, api.TypeRouteNotFound, ""},
		{"wrong method", req{method: "DELETE", path: "/v1/executions"}, 405, api.TypeMethodNotAllowed, "POST"},
		{"workflow: no content type", req{method: "POST", path: "/v1/workflows", body: hello, ctype: " "}, 415, api.TypeUnsupportedMedia, ""},
		{"workflow: text/plain", req{method: "POST", path: "/v1/workflows", body: hello, ctype: "text/plain"}, 415, api.TypeUnsupportedMedia, "application/yaml"},
		{"workflow: bad content type", req{method: "POST", path: "/v1/workflows", body: hello, ctype: "a/b; ="}, 415, api.TypeUnsupportedMedia, ""},
		{"workflow: json without definition", req{method: "POST", path: "/v1/workflows", body: `{}`}, 400, api.TypeBadRequest, "definition"},
		{"workflow: json unknown field", req{method: "POST", path: "/v1/workflows", body: `{"definition": "x", "name": "y"}`}, 400, api.TypeBadRequest, `"name"`},
		{"workflow: json definition not a string", req{method: "POST", path: "/v1/workflows", body: `{"definition": {"version": "2.0"}}`}, 400, api.TypeBadRequest, "definition"},
		{"workflow: empty document", req{method: "POST", path: "/v1/workflows", body: "", ctype: "application/yaml"}, 422, api.TypeInvalidWorkflow, ""},
		{"workflow: document over the limit", req{method: "POST", path: "/v1/workflows", body: bigDoc, ctype: "application/yaml"}, 413, api.TypeTooLarge, strconv.Itoa(dsl.MaxSourceBytes)},
		{"workflow: name with a slash", req{method: "POST", path: "/v1/workflows", body: "version: '2.0'\na/b:\n  tasks:\n    t:\n      action: std.noop\n", ctype: "application/yaml"}, 422, api.TypeInvalidWorkflow, "slash"},
		{"get workflow: unknown", req{method: "GET", path: "/v1/workflows/nope"}, 404, api.TypeWorkflowNotFound, "nope"},
		{"get workflow: a name no workflow has", req{method: "GET", path: "/v1/workflows/" + strings.Repeat("n", 5000)}, 404, api.TypeWorkflowNotFound, ""},
		{"delete workflow: a name no workflow has", req{method: "DELETE", path: "/v1/workflows/%20x"}, 404, api.TypeWorkflowNotFound, ""},
		{"get workflow: unknown version", req{method: "GET", path: "/v1/workflows/hello/versions/9"}, 404, api.TypeWorkflowNotFound, "no version 9"},
		{"get workflow: version not a number", req{method: "GET", path: "/v1/workflows/hello/versions/latest"}, 404, api.TypeWorkflowNotFound, "numbered from 1"},
		{"get workflow: version 0", req{method: "GET", path: "/v1/workflows/hello/versions/0"}, 404, api.TypeWorkflowNotFound, ""},
		{"start: empty body", req{method: "POST", path: "/v1/executions", ctype: "application/json"}, 400, api.TypeBadRequest, "empty"},
		{"start: not JSON", req{method: "POST", path: "/v1/executions", body: `{"workflow": `}, 400, api.TypeBadRequest, "truncated"},
		{"start: syntax error", req{method: "POST", path: "/v1/executions", body: `{"workflow" "x"}`}, 400, api.TypeBadRequest, "not valid JSON"},
		{"start: an array", req{method: "POST", path: "/v1/executions", body: `[{"workflow": "hello"}]`}, 400, api.TypeBadRequest, "object"},
		{"start: null", req{method: "POST", path: "/v1/executions", body: `null`}, 400, api.TypeBadRequest, "object"},
		{"start: two objects", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello"} {}`}, 400, api.TypeBadRequest, "more than one"},
		{"start: unknown field", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "inputs": {}}`}, 400, api.TypeBadRequest, `"inputs"`},
		{"start: workflow missing", req{method: "POST", path: "/v1/executions", body: `{"input": {}}`}, 400, api.TypeBadRequest, "workflow required"},
		{"start: workflow not a string", req{method: "POST", path: "/v1/executions", body: `{"workflow": 7}`}, 400, api.TypeBadRequest, "workflow must be a string"},
		{"start: version not an integer", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "version": 1.5}`}, 400, api.TypeBadRequest, "integer"},
		{"start: version 0", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "version": 0}`}, 400, api.TypeBadRequest, "numbered from 1"},
		{"start: input not an object", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "input": [1]}`}, 400, api.TypeBadRequest, "input must be a JSON object"},
		{"start: env not an object", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "env": "x"}`}, 400, api.TypeBadRequest, "env must be a JSON object"},
		{"start: bad id", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "id": "a/b"}`}, 400, api.TypeBadRequest, "id must be"},
		{"start: bad key", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello"}`, header: map[string]string{"Idempotency-Key": "a b"}}, 400, api.TypeBadRequest, "Idempotency-Key"},
		{"start: text/plain", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello"}`, ctype: "text/plain"}, 415, api.TypeUnsupportedMedia, "application/json"},
		{"start: body over the limit", req{method: "POST", path: "/v1/executions", body: big}, 413, api.TypeTooLarge, ""},
		{"start: unknown workflow", req{method: "POST", path: "/v1/executions", body: `{"workflow": "nope"}`}, 404, api.TypeWorkflowNotFound, "nope"},
		{"start: unknown version", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "version": 5}`}, 404, api.TypeWorkflowNotFound, "no version 5"},
		{"start: input the workflow does not take", req{method: "POST", path: "/v1/executions", body: `{"workflow": "hello", "input": {"nome": 1}}`}, 422, api.TypeInvalidExecution, "nome"},
		{"start: reverse without task_name", req{method: "POST", path: "/v1/executions", body: `{"workflow": "rev"}`}, 422, api.TypeInvalidExecution, "task_name"},
		{"start: reverse with an unknown task", req{method: "POST", path: "/v1/executions", body: `{"workflow": "rev", "task_name": "zz"}`}, 422, api.TypeInvalidExecution, "zz"},
		{"get execution: unknown", req{method: "GET", path: "/v1/executions/nope"}, 404, api.TypeExecutionNotFound, "nope"},
		{"get execution: not an id", req{method: "GET", path: "/v1/executions/%00%ff"}, 404, api.TypeExecutionNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := f.sent()
			r := f.do(t, tc.r)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			p := r.problem(t)
			if p.Name() != tc.wantType || !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("problem %s %q, want %s with %q", p.Name(), p.Detail, tc.wantType, tc.wantDetail)
			}
			if f.sent() != before {
				t.Errorf("a refused request sent a message")
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *api.Options) { o.Token = "s3cret" })
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", 401},
		{"Bearer wrong", 401},
		{"Basic s3cret", 401},
		{"Bearer s3cret", 404},
		{"bearer s3cret", 404},
	} {
		r := f.do(t, req{method: "GET", path: "/v1/executions/x", header: map[string]string{"Authorization": tc.auth}})
		if r.status != tc.want {
			t.Errorf("Authorization %q: status %d, want %d", tc.auth, r.status, tc.want)
		}
		if r.status == 401 {
			if p := r.problem(t); p.Name() != api.TypeUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without its problem type or WWW-Authenticate: %+v", p)
			}
		}
	}
}

func TestPanicIsAProblem(t *testing.T) {
	t.Parallel()
	r := newFixtureOver(t, panicky{smem.New()}).do(t, req{method: "GET", path: "/v1/executions/x"})
	p := r.problem(t)
	if r.status != 500 || p.Name() != api.TypeInternal || p.RequestID == "" || strings.Contains(string(r.body), "boom") {
		t.Errorf("panic answered %d %s, want 500 internal with a request id and no panic text", r.status, r.body)
	}
}

type panicky struct{ store.Store }

func (panicky) GetExecution(context.Context, string) (*record.Execution, error) { panic("boom") }

// newEmbedded is the API over an embedded Bora that runs what it starts.
func newEmbedded(t *testing.T) *fixture {
	t.Helper()
	b, err := embedded.Open(embedded.Options{Path: filepath.Join(t.TempDir(), "bora.db"), Grace: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(b.Start(ctx))
	t.Cleanup(cancel)
	h, err := api.New(api.Options{Store: b.Store, Runtime: b.Runtime, Actions: action.NewRegistry().Specs()})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{h: h, store: b.Store}
}

// start starts an execution and returns it.
func (f *fixture) start(t *testing.T, body string) runtime.Document {
	t.Helper()
	r := f.do(t, req{method: "POST", path: "/v1/executions", body: body})
	if r.status != 201 {
		t.Fatalf("start %s: %d %s", body, r.status, r.body)
	}
	var doc runtime.Document
	r.decode(t, &doc)
	return doc
}

// await reads an execution until it is in one of the states.
func (f *fixture) await(t *testing.T, id string, states ...string) runtime.Document {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var doc runtime.Document
		f.do(t, req{method: "GET", path: "/v1/executions/" + id}).decode(t, &doc)
		if slices.Contains(states, doc.State) {
			return doc
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s is %s after 30 s, want %v", id, doc.State, states)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExecutionRuns starts an execution on an embedded Bora and reads it
// back with its task executions once it has ended.
func TestExecutionRuns(t *testing.T) {
	t.Parallel()
	f := newEmbedded(t)
	f.submit(t, hello)
	doc := f.start(t, `{"workflow": "hello", "input": {"name": "Bora"}}`)
	doc = f.await(t, doc.ID, "SUCCESS", "ERROR")
	if doc.State != "SUCCESS" || string(doc.Output) != `{"greeting":"hello Bora"}` || len(doc.Tasks) != 1 {
		t.Fatalf("execution ended %+v", doc)
	}
	task := doc.Tasks[0]
	if task.Name != "greet" || task.Key != "greet#1" || task.State != "SUCCESS" || task.Attempts != 1 ||
		string(task.Result) != `"hello Bora"` || string(task.Published) != `{"greeting":"hello Bora"}` ||
		task.StartedAt == nil || task.FinishedAt == nil || task.CreatedAt.IsZero() {
		t.Errorf("task %+v", task)
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	r := newFixtureOver(t, slow{smem.New()}).do(t, req{method: "GET", path: "/v1/executions/x"})
	p := r.problem(t)
	if r.status != 503 || p.Name() != api.TypeUnavailable || r.header.Get("Retry-After") == "" || p.RequestID == "" {
		t.Errorf("a store that times out: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
	}
}

type slow struct{ store.Store }

func (slow) GetExecution(context.Context, string) (*record.Execution, error) {
	return nil, fmt.Errorf("get execution: %w", context.DeadlineExceeded)
}

// TestBrowserRequests: a server on this machine (Hosts, SameOrigin) takes
// nothing a web page could make a browser send it.
func TestBrowserRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *api.Options) {
		o.Hosts, o.SameOrigin = []string{"127.0.0.1:8080", "localhost:8080"}, true
	})
	cancel := "/v1/executions/x/cancel"
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   int
	}{
		{"the server's address", "POST", cancel, map[string]string{"Host": "127.0.0.1:8080"}, 404},
		{"localhost", "POST", cancel, map[string]string{"Host": "localhost:8080"}, 404},
		{"a rebound domain", "GET", "/v1/executions", map[string]string{"Host": "evil.example:8080"}, 403},
		{"a cross-site fetch", "POST", cancel, map[string]string{"Host": "127.0.0.1:8080", "Sec-Fetch-Site": "cross-site"}, 403},
		{"a same-site fetch", "POST", cancel, map[string]string{"Host": "127.0.0.1:8080", "Sec-Fetch-Site": "same-site"}, 403},
		{"another origin", "DELETE", "/v1/workflows/x", map[string]string{"Host": "127.0.0.1:8080", "Origin": "http://evil.example"}, 403},
		{"a null origin", "POST", cancel, map[string]string{"Host": "127.0.0.1:8080", "Origin": "null"}, 403},
		{"its own origin", "POST", cancel, map[string]string{"Host": "127.0.0.1:8080", "Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}, 404},
		{"typed in the address bar", "POST", cancel, map[string]string{"Host": "127.0.0.1:8080", "Sec-Fetch-Site": "none"}, 404},
		{"a cross-site read", "GET", "/v1/executions/x", map[string]string{"Host": "127.0.0.1:8080", "Sec-Fetch-Site": "cross-site"}, 404},
	} {
		hr := httptest.NewRequest(tc.method, tc.path, nil)
		for k, v := range tc.header {
			hr.Header.Set(k, v)
		}
		hr.Host = tc.header["Host"]
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, hr)
		r := resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
		if r.status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.want)
		}
		if tc.want == 403 && r.problem(t).Name() != api.TypeForbidden {
			t.Errorf("%s: 403 without its problem type", tc.name)
		}
	}
}
