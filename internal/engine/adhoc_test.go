package engine

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

func TestAdhocActions(t *testing.T) {
	t.Parallel()
	const actions = `
version: '2.0'
name: book
actions:
  greet:
    input: [name, {greeting: Hello}]
    base: std.echo
    base-input:
      output: "<% $.greeting %>, <% $.name %> (<% $.suffix %>)"
    output: {text: <% $ %>}
  shout:
    input: [who]
    base: book.greet
    base-input: {name: <% $.who %>, greeting: HEY}
    output: <% $.text.toUpper() %>
  picky:
    base: std.fail
  bad_output:
    base: std.echo output=1
    output: <% $.nothing %>
workflows:
`
	tests := []struct {
		name   string
		wf     string
		state  record.ExecState
		output any
		info   string
	}{
		{name: "plain, base-input sees the context beneath the input", wf: `
  wf:
    vars: {suffix: v}
    output: {r: <% $.r %>}
    tasks:
      t:
        action: greet name="Ann"
        publish: {r: <% task().result %>}
`, state: record.ExecSuccess, output: map[string]any{"r": map[string]any{"text": "Hello, Ann (v)"}}},
		{name: "nested, with-items, an expression names it", wf: `
  wf:
    input: [{act: shout}, {suffix: s}]
    output: {r: <% $.r %>}
    tasks:
      t:
        with-items: w in [a, b]
        action: <% $.act %>
        input: {who: <% $.w %>}
        publish: {r: <% task().result %>}
`, state: record.ExecSuccess, output: map[string]any{"r": []any{"HEY, A (S)", "HEY, B (S)"}}},
		{name: "errors are the base action's, handled by on-error", wf: `
  wf:
    output: {r: <% $.r %>}
    tasks:
      t:
        action: picky
        publish-on-error: {r: <% task().result %>}
        on-error: h
      h:
        action: std.noop
`, state: record.ExecSuccess, output: map[string]any{"r": "Fail action expected exception."}},
		{name: "wrong input fails the workflow", wf: `
  wf:
    tasks:
      t:
        action: greet nam="Ann"
        on-error: h
      h:
        action: std.noop
`, state: record.ExecError, info: "Invalid input [name=greet, class=AdHocAction, missing=['name'], unexpected=['nam']]"},
		{name: "an output that fails fails the workflow", wf: `
  wf:
    tasks:
      t:
        action: bad_output
`, state: record.ExecError, info: "output of ad-hoc action bad_output: Can not evaluate YAQL expression [expression=$.nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, actions+tt.wf)
			w.actions["std.fail"] = func(map[string]any, int) (any, error) { return nil, failure{"Fail action expected exception."} }
			id := w.start("wf", "")
			w.run()
			e := w.execs[id]
			if e.State != tt.state || !strings.Contains(e.StateInfo, tt.info) {
				t.Fatalf("state %s %q, want %s %q", e.State, e.StateInfo, tt.state, tt.info)
			}
			if tt.output != nil {
				if diff := cmp.Diff(tt.output, w.output(id)); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
			}
			for k, u := range w.units {
				if _, ok := w.actions[u.Action]; !ok {
					t.Errorf("unit %s runs %q, not a registered action", k, u.Action)
				}
			}
		})
	}
}

// TestContextFacts: now() is the step's time the runtime gives, a
// sub-workflow knows its root execution, and executions() needs a Reader
// that lists them.
func TestContextFacts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
parent:
  output: {child: <% $.child %>, now: <% $.now %>}
  tasks:
    t:
      action: std.noop
      publish:
        now: <% now() %>
      on-success: sub
    sub:
      workflow: child
      publish: {child: <% task().result %>}
child:
  output:
    root: <% execution().root_execution_id %>
  tasks:
    c:
      action: std.noop
`)
	id := w.start("parent", "")
	w.run()
	want := map[string]any{"now": w.now.Format("2006-01-02T15:04:05.000000"), "child": map[string]any{"root": id}}
	if diff := cmp.Diff(want, w.output(id)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	w = newWorld(t, "version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.echo output=<% executions().len() %>\n")
	id = w.start("wf", "")
	w.run()
	if e := w.execs[id]; e.State != record.ExecError || !strings.Contains(e.StateInfo, "executions() is not available here") {
		t.Errorf("executions() without a lister: %s %q", e.State, e.StateInfo)
	}
}
