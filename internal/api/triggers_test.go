package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/api"
)

func TestCreateTrigger(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	f.submit(t, book)
	future := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)
	tests := []struct {
		name, body string
		check      func(t *testing.T, tr api.Trigger)
	}{
		{
			name: "pattern, count, input and env",
			body: `{"name": "t1", "workflow": "hello", "pattern": " */5  * * * * ", "remaining_executions": 3, "input": {"name": "cron"}, "env": {"e": 1}}`,
			check: func(t *testing.T, tr api.Trigger) {
				if tr.Pattern != "*/5 * * * *" || *tr.RemainingExecutions != 3 || tr.FirstExecutionTime != nil ||
					tr.NextExecutionTime.Minute()%5 != 0 || !tr.NextExecutionTime.After(time.Now()) ||
					string(tr.Input) != `{"name":"cron"}` || string(tr.Env) != `{"e":1}` || tr.Workflow != "hello" {
					t.Errorf("trigger %+v", tr)
				}
			},
		},
		{
			name: "first time in Mistral's form, no limit",
			body: fmt.Sprintf(`{"name": "t2", "workflow": "hello", "pattern": "@daily", "first_execution_time": %q}`, future.Format("2006-01-02 15:04")),
			check: func(t *testing.T, tr api.Trigger) {
				if tr.RemainingExecutions != nil || !tr.FirstExecutionTime.Equal(future) || !tr.NextExecutionTime.Equal(future) || tr.Pattern != "0 0 * * *" {
					t.Errorf("trigger %+v", tr)
				}
			},
		},
		{
			name: "once, a workbook's workflow",
			body: fmt.Sprintf(`{"name": "t3", "workflow": "book.two", "first_execution_time": %q}`, future.Format(time.RFC3339)),
			check: func(t *testing.T, tr api.Trigger) {
				if *tr.RemainingExecutions != 1 || !tr.NextExecutionTime.Equal(future) || tr.Workflow != "book.two" {
					t.Errorf("trigger %+v", tr)
				}
			},
		},
	}
	for _, tt := range tests {
		r := f.do(t, req{method: "POST", path: "/v1/triggers", body: tt.body})
		if r.status != http.StatusCreated {
			t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			continue
		}
		var tr api.Trigger
		r.decode(t, &tr)
		tt.check(t, tr)
		if loc := r.header.Get("Location"); loc != "/v1/triggers/"+tr.Name {
			t.Errorf("%s: Location %q", tt.name, loc)
		}
		var got api.Trigger
		f.do(t, req{method: "GET", path: "/v1/triggers/" + tr.Name}).decode(t, &got)
		if d := cmp.Diff(tr, got); d != "" {
			t.Errorf("%s: GET differs from POST's answer (-post +get):\n%s", tt.name, d)
		}
	}

	// A retry of the request that created t1 gets it; another request for
	// the name is refused.
	r := f.do(t, req{method: "POST", path: "/v1/triggers", body: tests[0].body})
	if r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retried create: %d %s", r.status, r.body)
	}
	r = f.do(t, req{method: "POST", path: "/v1/triggers", body: `{"name": "t1", "workflow": "hello", "pattern": "0 * * * *"}`})
	if p := r.problem(t); p.Name() != api.TypeTriggerExists || r.status != http.StatusConflict {
		t.Errorf("a second trigger t1: %d %+v", r.status, p)
	}
}

func TestTriggerProblems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	past := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	tests := []struct {
		name, body string
		status     int
		typ, want  string
	}{
		{"no name", `{"workflow": "hello", "pattern": "* * * * *"}`, 400, api.TypeBadRequest, "name required"},
		{"no workflow", `{"name": "x", "pattern": "* * * * *"}`, 400, api.TypeBadRequest, "workflow required"},
		{"a slash in the name", `{"name": "a/b", "workflow": "hello", "pattern": "* * * * *"}`, 400, api.TypeBadRequest, "name holds a slash"},
		{"bad time", `{"name": "x", "workflow": "hello", "first_execution_time": "tomorrow"}`, 400, api.TypeBadRequest, "first_execution_time must be an RFC 3339 time"},
		{"zero count", `{"name": "x", "workflow": "hello", "pattern": "* * * * *", "remaining_executions": 0}`, 400, api.TypeBadRequest, "remaining_executions must be 1 or more"},
		{"input not an object", `{"name": "x", "workflow": "hello", "pattern": "* * * * *", "input": [1]}`, 400, api.TypeBadRequest, "input must be a JSON object"},
		{"unknown field", `{"name": "x", "workflow": "hello", "cron": "* * * * *"}`, 400, api.TypeBadRequest, `unknown field "cron"`},
		{"unknown workflow", `{"name": "x", "workflow": "nope", "pattern": "* * * * *"}`, 404, api.TypeWorkflowNotFound, `there is no workflow "nope"`},
		{"bad pattern", `{"name": "x", "workflow": "hello", "pattern": "* * *"}`, 422, api.TypeInvalidTrigger, "has 3 fields, want 5"},
		{"seconds", `{"name": "x", "workflow": "hello", "pattern": "* * * * * *"}`, 422, api.TypeInvalidTrigger, "minute resolution"},
		{"neither pattern nor time", `{"name": "x", "workflow": "hello"}`, 422, api.TypeInvalidTrigger, "needs a pattern, a first execution time, or both"},
		{"first time past", fmt.Sprintf(`{"name": "x", "workflow": "hello", "first_execution_time": %q}`, past), 422, api.TypeInvalidTrigger, "is not in the future"},
		{"count without pattern", fmt.Sprintf(`{"name": "x", "workflow": "hello", "first_execution_time": %q, "remaining_executions": 2}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), 422, api.TypeInvalidTrigger, "need a pattern"},
		{"input the workflow refuses", `{"name": "x", "workflow": "hello", "pattern": "* * * * *", "input": {"nom": 1}}`, 422, api.TypeInvalidExecution, "unexpected=['nom']"},
		{"input over the value limit", fmt.Sprintf(`{"name": "x", "workflow": "hello", "pattern": "* * * * *", "input": {"name": %q}}`, strings.Repeat("x", 200_000)), 422, api.TypeInvalidExecution, "over the 128 KiB limit of one value"},
	}
	for _, tt := range tests {
		r := f.do(t, req{method: "POST", path: "/v1/triggers", body: tt.body})
		p := r.problem(t)
		if r.status != tt.status || p.Name() != tt.typ || !strings.Contains(p.Detail, tt.want) {
			t.Errorf("%s: %d %s %q, want %d %s containing %q", tt.name, r.status, p.Name(), p.Detail, tt.status, tt.typ, tt.want)
		}
	}
	var page api.TriggerPage
	f.do(t, req{method: "GET", path: "/v1/triggers"}).decode(t, &page)
	if len(page.Triggers) != 0 {
		t.Errorf("refused requests stored triggers: %+v", page.Triggers)
	}
	for _, r := range []req{
		{method: "GET", path: "/v1/triggers/none"},
		{method: "DELETE", path: "/v1/triggers/none"},
		{method: "GET", path: "/v1/triggers/" + strings.Repeat("n", 300)},
	} {
		if p := f.do(t, r).problem(t); p.Name() != api.TypeTriggerNotFound {
			t.Errorf("%s %s: %+v", r.method, r.path, p)
		}
	}
	for _, path := range []string{"/v1/triggers?limit=0", "/v1/triggers?cursor=a/b", "/v1/triggers?prefix=a"} {
		if p := f.do(t, req{method: "GET", path: path}).problem(t); p.Name() != api.TypeBadRequest {
			t.Errorf("GET %s: %+v", path, p)
		}
	}
}

func TestListAndDeleteTriggers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	for _, n := range []string{"c", "a", "b", "d"} {
		if r := f.do(t, req{method: "POST", path: "/v1/triggers", body: `{"name": "` + n + `", "workflow": "hello", "pattern": "0 * * * *"}`}); r.status != 201 {
			t.Fatalf("create %s: %d %s", n, r.status, r.body)
		}
	}
	if r := f.do(t, req{method: "DELETE", path: "/v1/triggers/c"}); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	list := func(limit int) (names []string) {
		cursor := ""
		for {
			var page api.TriggerPage
			f.do(t, req{method: "GET", path: fmt.Sprintf("/v1/triggers?limit=%d&cursor=%s", limit, cursor)}).decode(t, &page)
			for _, tr := range page.Triggers {
				names = append(names, tr.Name)
			}
			if page.NextCursor == "" {
				return names
			}
			cursor = page.NextCursor
		}
	}
	for _, limit := range []int{1, 3, 100} {
		if d := cmp.Diff([]string{"a", "b", "d"}, list(limit)); d != "" {
			t.Errorf("list in pages of %d (-want +got):\n%s", limit, d)
		}
	}
	if p := f.do(t, req{method: "GET", path: "/v1/triggers/c"}).problem(t); p.Name() != api.TypeTriggerNotFound {
		t.Errorf("GET of a deleted trigger: %+v", p)
	}
	// The name is free again.
	if r := f.do(t, req{method: "POST", path: "/v1/triggers", body: `{"name": "c", "workflow": "hello", "pattern": "30 * * * *"}`}); r.status != 201 {
		t.Errorf("create c again: %d %s", r.status, r.body)
	}
}
