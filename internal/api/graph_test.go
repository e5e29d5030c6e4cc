package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/api"
)

const graphDoc = `version: '2.0'
pipeline:
  input:
    - names: [ada, grace]
    - greeting
  task-defaults:
    timeout: 30
  tasks:
    prepare:
      action: std.echo output=1
      on-success:
        - greet
        - check: <% $.names.len() > 1 %>
      on-error:
        - fail msg="no names"
    greet:
      with-items: name in <% $.names %>
      concurrency: 2
      action: std.echo output=<% $.name %>
      on-complete: summarize
    check:
      retry:
        count: 3
        delay: 1
      action: std.noop
      on-success: summarize
    summarize:
      join: all
      workflow: child
      on-skip: noop
child:
  type: reverse
  tasks:
    a:
      action: std.noop
    b:
      requires: [a]
      action: std.noop
`

// TestGraph: a stored version's workflows as the engine walks them: tasks
// in document order with their transitions, engine commands, joins,
// with-items, retries and requires, expressions as written.
func TestGraph(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, graphDoc)
	r := f.do(t, req{method: "GET", path: "/v1/workflows/pipeline/versions/1/graph"})
	var g api.Graph
	r.decode(t, &g)
	if g.Definition != "pipeline" || g.Version != 1 || len(g.Workflows) != 2 {
		t.Fatalf("graph = %+v", g)
	}
	wf, child := g.Workflows[0], g.Workflows[1]
	if wf.Name != "pipeline" || wf.Type != "direct" || child.Name != "child" || child.Type != "reverse" {
		t.Fatalf("workflows %s (%s), %s (%s)", wf.Name, wf.Type, child.Name, child.Type)
	}
	var names []string
	tasks := map[string]api.GraphTask{}
	for _, task := range wf.Tasks {
		names = append(names, task.Name)
		tasks[task.Name] = task
	}
	if d := cmp.Diff([]string{"prepare", "greet", "check", "summarize"}, names); d != "" {
		t.Errorf("tasks (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]api.GraphTransition{
		{On: "on-success", Task: "greet", Line: 12},
		{On: "on-success", Task: "check", When: "<% $.names.len() > 1 %>", Line: 13},
		{On: "on-error", Command: "fail", Msg: "no names", Line: 15},
	}, tasks["prepare"].Transitions); d != "" {
		t.Errorf("prepare's transitions (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"prepare starts", tasks["prepare"].Start, true},
		{"greet does not start", tasks["greet"].Start, false},
		{"prepare's action", tasks["prepare"].Action, "std.echo"},
		{"prepare's line", tasks["prepare"].Line, 9},
		{"task-defaults merged", tasks["check"].Timeout, int64(30)},
		{"with-items", tasks["greet"].WithItems, []string{"name in <% $.names %>"}},
		{"concurrency", tasks["greet"].Concurrency, int64(2)},
		{"retry count", tasks["check"].Retry.Count, int64(3)},
		{"join all", tasks["summarize"].Join, "all"},
		{"sub-workflow", tasks["summarize"].Workflow, "child"},
		{"on-complete", tasks["greet"].Transitions[0].On, "on-complete"},
		{"on-skip", tasks["summarize"].Transitions[0], api.GraphTransition{On: "on-skip", Command: "noop", Line: 30}},
		{"requires", child.Tasks[1].Requires, []string{"a"}},
		{"reverse tasks do not start", child.Tasks[0].Start, false},
	} {
		// Compare as the client sees them: through JSON.
		want, _ := json.Marshal(tc.want)
		got, _ := json.Marshal(tc.got)
		if string(got) != string(want) {
			t.Errorf("%s: %s, want %s", tc.name, got, want)
		}
	}
	var in []map[string]any
	b, _ := json.Marshal(wf.Input)
	_ = json.Unmarshal(b, &in)
	if d := cmp.Diff([]map[string]any{{"name": "names", "default": []any{"ada", "grace"}}, {"name": "greeting"}}, in); d != "" {
		t.Errorf("inputs (-want +got):\n%s", d)
	}
}

// TestGraphErrors: what has no graph is a workflow-not-found problem; a
// deleted workflow's versions keep theirs, for its executions.
func TestGraphErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.submit(t, hello)
	if r := f.do(t, req{method: "DELETE", path: "/v1/workflows/hello"}); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/workflows/hello/versions/1/graph"}); r.status != http.StatusOK {
		t.Errorf("graph of a deleted workflow's version: %d %s", r.status, r.body)
	}
	for _, path := range []string{
		"/v1/workflows/nope/versions/1/graph",
		"/v1/workflows/hello/versions/2/graph",
		"/v1/workflows/hello/versions/0/graph",
		"/v1/workflows/hello/versions/x/graph",
	} {
		r := f.do(t, req{method: "GET", path: path})
		if p := r.problem(t); p.Name() != api.TypeWorkflowNotFound || r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d %s, want 404 workflow-not-found", path, r.status, p.Name())
		}
	}
}
