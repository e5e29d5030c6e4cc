package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/runtime"
)

func TestListAndDeleteWorkflows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, n := range []string{"c", "a", "b"} {
		f.submit(t, strings.ReplaceAll(hello, "hello:", n+":"))
	}
	f.submit(t, strings.ReplaceAll(strings.ReplaceAll(hello, "hello:", "a:"), "hello <%", "hi <%"))
	list := func(query string) (names []string) {
		t.Helper()
		for {
			var page api.WorkflowPage
			f.do(t, req{method: "GET", path: "/v1/workflows" + query}).decode(t, &page)
			for _, w := range page.Workflows {
				names = append(names, fmt.Sprintf("%s v%d", w.Name, w.Version))
				if w.UpdatedAt.IsZero() {
					t.Errorf("%s has no updated_at", w.Name)
				}
			}
			if page.NextCursor == "" {
				return names
			}
			sep := "?"
			if strings.Contains(query, "?") {
				sep = "&"
			}
			query = strings.Split(query, "&cursor=")[0]
			query = strings.Split(query, "?cursor=")[0]
			if query == "" {
				sep = "?"
			}
			query += sep + "cursor=" + page.NextCursor
		}
	}
	if d := cmp.Diff([]string{"a v2", "b v1", "c v1"}, list("")); d != "" {
		t.Errorf("list (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"a v2", "b v1", "c v1"}, list("?limit=1")); d != "" {
		t.Errorf("list in pages of 1 (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"b v1"}, list("?prefix=b")); d != "" {
		t.Errorf("list with a prefix (-want +got):\n%s", d)
	}

	// Start one, delete the workflow: it is gone from the listing and
	// cannot be started, its versions cannot be read, the execution stays.
	doc := f.start(t, `{"workflow": "a"}`)
	if r := f.do(t, req{method: "DELETE", path: "/v1/workflows/a"}); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if d := cmp.Diff([]string{"b v1", "c v1"}, list("")); d != "" {
		t.Errorf("list after the deletion (-want +got):\n%s", d)
	}
	for _, r := range []req{
		{method: "DELETE", path: "/v1/workflows/a"},
		{method: "GET", path: "/v1/workflows/a"},
		{method: "GET", path: "/v1/workflows/a/versions/1"},
		{method: "POST", path: "/v1/executions", body: `{"workflow": "a"}`},
		{method: "POST", path: "/v1/executions", body: `{"workflow": "a", "version": 1}`},
	} {
		if p := f.do(t, r).problem(t); p.Name() != api.TypeWorkflowNotFound {
			t.Errorf("%s %s %s after the deletion: %+v", r.method, r.path, r.body, p)
		}
	}
	if r := f.do(t, req{method: "GET", path: "/v1/executions/" + doc.ID}); r.status != 200 {
		t.Errorf("the execution of a deleted workflow: %d", r.status)
	}
	// Submitted again, it takes the next version.
	out := f.submit(t, strings.ReplaceAll(hello, "hello:", "a:"))
	if v := out.Workflows[0].Version; v != 3 || !*out.Workflows[0].Created {
		t.Errorf("submitted again as %+v, want version 3, created", out.Workflows[0])
	}
}

func TestGetWorkflowAsYAML(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	for _, tc := range []struct {
		accept   string
		wantType string
	}{
		{"application/yaml", "application/yaml"},
		{"application/json;q=0.5, application/yaml", "application/yaml"},
		{"application/yaml;q=0.2, */*", "application/json"},
		{"application/json", "application/json"},
		{"", "application/json"},
		{"application/yaml;q=0, application/json", "application/json"},
		{"text/html", "application/problem+json"},
	} {
		r := f.do(t, req{method: "GET", path: "/v1/workflows/hello", header: map[string]string{"Accept": tc.accept}})
		if got := r.header.Get("Content-Type"); got != tc.wantType {
			t.Errorf("Accept %q: %d %s, want %s", tc.accept, r.status, got, tc.wantType)
		}
		if tc.wantType == "application/yaml" && (string(r.body) != hello || r.header.Get(api.VersionHeader) != "1") {
			t.Errorf("Accept %q: body %q, version %q", tc.accept, r.body, r.header.Get(api.VersionHeader))
		}
		if r.status == 406 && r.problem(t).Name() != api.TypeNotAcceptable {
			t.Errorf("Accept %q: 406 without its problem type", tc.accept)
		}
	}
}

func TestListExecutions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	f.submit(t, book)
	var ids []string // oldest first
	for i := range 5 {
		wf := "hello"
		if i%2 == 1 {
			wf = "book.one"
		}
		ids = append(ids, f.start(t, fmt.Sprintf(`{"workflow": %q, "id": "e%d"}`, wf, i)).ID)
		time.Sleep(2 * time.Millisecond) // distinct creation times, for the range below
	}
	var mid runtime.Document
	f.do(t, req{method: "GET", path: "/v1/executions/e2"}).decode(t, &mid)
	list := func(query string) []string {
		t.Helper()
		var out []string
		path := "/v1/executions" + query
		for range 20 {
			r := f.do(t, req{method: "GET", path: path})
			var page api.ExecutionPage
			r.decode(t, &page)
			for _, e := range page.Executions {
				out = append(out, e.ID)
			}
			if page.NextCursor == "" {
				return out
			}
			sep := "?"
			if strings.Contains(query, "?") {
				sep = "&"
			}
			path = "/v1/executions" + query + sep + "cursor=" + page.NextCursor
		}
		t.Fatalf("listing %s did not end", query)
		return nil
	}
	since := mid.CreatedAt.Format(time.RFC3339Nano)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"e4", "e3", "e2", "e1", "e0"}},
		{"?limit=2", []string{"e4", "e3", "e2", "e1", "e0"}},
		{"?workflow=book", []string{"e3", "e1"}},
		{"?workflow=book.one&limit=1", []string{"e3", "e1"}},
		{"?workflow=hello&state=RUNNING", []string{"e4", "e2", "e0"}},
		{"?state=success", nil},
		{"?since=" + since, []string{"e4", "e3", "e2"}},
		{"?until=" + since + "&top_level=true", []string{"e1", "e0"}},
	} {
		if d := cmp.Diff(tc.want, list(tc.query)); d != "" {
			t.Errorf("GET /v1/executions%s (-want +got):\n%s", tc.query, d)
		}
	}
	for _, tc := range []struct{ query, want string }{
		{"?state=DONE", "state must be one of"},
		{"?limit=0", "limit must be"},
		{"?limit=101", "limit must be"},
		{"?limit=x", "limit must be"},
		{"?since=yesterday", "since must be an RFC 3339 time"},
		{"?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until must be after since"},
		{"?top_level=yes", "top_level must be true or false"},
		{"?workflow=a/b", "workflow holds a slash"},
		{"?stat=RUNNING", "stat not a parameter of this route"},
		{"?state=RUNNING&state=ERROR", "state given more than once"},
		{"?cursor=zzz", "cursor is not a cursor of this listing"},
		{"?cursor=" + strings.Repeat("x", 3000), "cursor is not a cursor"},
	} {
		r := f.do(t, req{method: "GET", path: "/v1/executions" + tc.query})
		if p := r.problem(t); r.status != 400 || p.Name() != api.TypeBadRequest || !strings.Contains(p.Detail, tc.want) || len(p.Errors) == 0 {
			t.Errorf("GET /v1/executions%s: %d %+v, want 400 saying %q", tc.query, r.status, p, tc.want)
		}
	}
	if r := f.do(t, req{method: "GET", path: "/v1/workflows?limit=0"}); r.status != 400 {
		t.Errorf("GET /v1/workflows?limit=0: %d", r.status)
	}
	_ = ids
}

const flaky = `version: '2.0'
flaky:
  tasks:
    check:
      action: std.echo output=<% env().ok %>
      fail-on: <% not task().result %>
`

// TestCommands pauses, resumes, cancels and reruns executions of an
// embedded Bora through the API.
func TestCommands(t *testing.T) {
	t.Parallel()
	f := newEmbedded(t)
	f.submit(t, flaky)
	slow := "version: '2.0'\nslow:\n  tasks:\n    wait:\n      action: std.sleep seconds=30\n"
	f.submit(t, slow)

	// rerun: the execution failed; its task runs again with a new env.
	doc := f.start(t, `{"workflow": "flaky", "env": {"ok": false}}`)
	doc = f.await(t, doc.ID, "ERROR", "SUCCESS")
	if doc.State != "ERROR" {
		t.Fatalf("flaky ended %s, want ERROR", doc.State)
	}
	cmd := func(op, id, body string, h map[string]string) resp {
		return f.do(t, req{method: "POST", path: "/v1/executions/" + id + "/" + op, body: body, ctype: "application/json", header: h})
	}
	for _, tc := range []struct {
		op, body, wantType, want string
	}{
		{"rerun", `{}`, api.TypeBadRequest, "task required"},
		{"rerun", `{"task": "nope"}`, api.TypeInvalidState, `no task execution "nope"`},
		{"rerun", `{"task": "check", "reason": "x"}`, api.TypeBadRequest, "reason rerun does not take it"},
		{"rerun", `{"task": "check", "env": [1]}`, api.TypeBadRequest, "env must be a JSON object"},
		{"pause", ``, api.TypeInvalidState, "is ERROR: pause needs it RUNNING"},
		{"resume", `{"env": {}}`, api.TypeInvalidState, "resume needs it PAUSED"},
		{"cancel", `{"reason": "x"}`, api.TypeInvalidState, "cancel needs it RUNNING or PAUSED"},
	} {
		r := cmd(tc.op, doc.ID, tc.body, nil)
		if p := r.problem(t); p.Name() != tc.wantType || !strings.Contains(p.Detail, tc.want) {
			t.Errorf("%s %s: %d %+v, want %s saying %q", tc.op, tc.body, r.status, p, tc.wantType, tc.want)
		}
	}
	r := cmd("rerun", doc.ID, `{"task": "check", "env": {"ok": true}}`, map[string]string{"Idempotency-Key": "rerun-1"})
	if r.status != http.StatusAccepted {
		t.Fatalf("rerun: %d %s", r.status, r.body)
	}
	doc = f.await(t, doc.ID, "SUCCESS")
	if len(doc.Tasks) != 2 || doc.Tasks[1].Key != "check#2" || doc.Tasks[1].State != "SUCCESS" {
		t.Errorf("after the rerun: %+v", doc.Tasks)
	}
	if r := cmd("rerun", doc.ID, `{"task": "check", "env": {"ok": true}}`, map[string]string{"Idempotency-Key": "rerun-1"}); r.problem(t).Name() != api.TypeInvalidState {
		t.Errorf("rerun of a succeeded execution: %d %s", r.status, r.body)
	}

	// skip: the failed task ends SKIPPED and the execution goes on.
	doc = f.start(t, `{"workflow": "flaky", "env": {"ok": false}}`)
	f.await(t, doc.ID, "ERROR")
	if r := cmd("skip", doc.ID, `{"task": "check", "env": {}}`, nil); r.problem(t).Name() != api.TypeBadRequest {
		t.Errorf("skip with an env: %d %s", r.status, r.body)
	}
	if r := cmd("skip", doc.ID, `{"task": "check#1"}`, nil); r.status != http.StatusAccepted {
		t.Fatalf("skip: %d %s", r.status, r.body)
	}
	doc = f.await(t, doc.ID, "SUCCESS")
	if len(doc.Tasks) != 1 || doc.Tasks[0].State != "SKIPPED" {
		t.Errorf("after the skip: %+v", doc.Tasks)
	}

	// pause, resume, cancel.
	doc = f.start(t, `{"workflow": "slow"}`)
	if r := cmd("pause", doc.ID, `{"reason": "lunch"}`, nil); r.status != 202 {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	doc = f.await(t, doc.ID, "PAUSED")
	if doc.StateInfo != "lunch" {
		t.Errorf("paused with state_info %q, want the reason", doc.StateInfo)
	}
	if r := cmd("resume", doc.ID, ``, nil); r.status != 202 {
		t.Fatalf("resume: %d %s", r.status, r.body)
	}
	f.await(t, doc.ID, "RUNNING")
	if r := cmd("cancel", doc.ID, `{"reason": "enough"}`, nil); r.status != 202 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	doc = f.await(t, doc.ID, "CANCELLED")
	if doc.StateInfo != "enough" {
		t.Errorf("cancelled with state_info %q", doc.StateInfo)
	}
	for _, r := range []resp{
		cmd("pause", "nope", ``, nil),
		cmd("cancel", "%00", ``, nil),
	} {
		if p := r.problem(t); p.Name() != api.TypeExecutionNotFound {
			t.Errorf("command to an unknown execution: %+v", p)
		}
	}
	if r := cmd("pause", doc.ID, `{"reason": 1}`, nil); r.problem(t).Name() != api.TypeBadRequest {
		t.Errorf("pause with a numeric reason: %d %s", r.status, r.body)
	}
}

// TestGetTask reads task executions one at a time, by key or by name.
// (TestFit covers leaving values out of a document too large.)
func TestGetTask(t *testing.T) {
	t.Parallel()
	f := newEmbedded(t)
	big := "version: '2.0'\nbig:\n  tasks:\n" +
		"    t1:\n      action: std.echo output=<% 'a' * 100000 %>\n      on-success: [t2]\n" +
		"    t2:\n      action: std.echo output=<% 'b' * 100000 %>\n      on-success: [t3]\n" +
		"    t3:\n      action: std.echo output=\"small\"\n"
	f.submit(t, big)
	doc := f.start(t, `{"workflow": "big"}`)
	f.await(t, doc.ID, "SUCCESS", "ERROR")
	r := f.do(t, req{method: "GET", path: "/v1/executions/" + doc.ID})
	var got runtime.Document
	r.decode(t, &got)
	if got.State != "SUCCESS" || len(got.Tasks) != 3 {
		t.Fatalf("execution %s, %d tasks", got.State, len(got.Tasks))
	}
	for _, task := range got.Tasks {
		if task.Truncated {
			t.Errorf("%s truncated in a small document", task.Key)
		}
	}
	for _, tc := range []struct {
		path string
		want string
	}{
		{"t1#1", "t1#1"},
		{"t2", "t2#1"},
		{"t3%231", "t3#1"},
	} {
		var td runtime.TaskDocument
		f.do(t, req{method: "GET", path: "/v1/executions/" + doc.ID + "/tasks/" + tc.path}).decode(t, &td)
		if td.Key != tc.want || td.State != "SUCCESS" {
			t.Errorf("task %s: %+v", tc.path, td)
		}
	}
	for _, path := range []string{"/v1/executions/" + doc.ID + "/tasks/nope", "/v1/executions/" + doc.ID + "/tasks/t1%239", "/v1/executions/" + doc.ID + "/tasks/" + strings.Repeat("t", 2000)} {
		if p := f.do(t, req{method: "GET", path: path}).problem(t); p.Name() != api.TypeTaskNotFound {
			t.Errorf("GET %s: %+v", path, p)
		}
	}
	if p := f.do(t, req{method: "GET", path: "/v1/executions/nope/tasks/t1"}).problem(t); p.Name() != api.TypeExecutionNotFound {
		t.Errorf("task of an unknown execution: %+v", p)
	}
}

// TestLargeIntegers: an integer over 2^53 (a 19-digit id) keeps its digits
// from the request to the input, and through the workflow to its output.
func TestLargeIntegers(t *testing.T) {
	t.Parallel()
	f := newEmbedded(t)
	f.submit(t, "version: '2.0'\nids:\n  input:\n    - id\n  tasks:\n    copy:\n      action: std.echo output=<% $.id %>\n      publish:\n        copied: <% task().result %>\n  output:\n    id: <% $.copied %>\n    next: <% $.id + 1 %>\n")
	doc := f.start(t, `{"workflow": "ids", "input": {"id": 1234567890123456789}}`)
	if string(doc.Input) != `{"id":1234567890123456789}` {
		t.Errorf("input stored as %s", doc.Input)
	}
	doc = f.await(t, doc.ID, "SUCCESS", "ERROR")
	if string(doc.Output) != `{"id":1234567890123456789,"next":1234567890123456790}` {
		t.Errorf("execution %s, output %s", doc.State, doc.Output)
	}
}
