package dsl

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/expr"
)

// load loads src and fails the test on any error.
func load(t *testing.T, src string) *Bundle {
	t.Helper()
	b, diags := Load("test.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("Load: unexpected errors:\n%s", diags)
	}
	return b
}

// onlyWorkflow loads src and returns its one workflow.
func onlyWorkflow(t *testing.T, src string) *Workflow {
	t.Helper()
	b := load(t, src)
	if len(b.Order) != 1 {
		t.Fatalf("got %d workflows, want 1", len(b.Order))
	}
	return b.Workflows[b.Order[0]]
}

// source returns what a template was compiled from, or nil.
func source(t *testing.T, tmpl *expr.Template) any {
	t.Helper()
	if tmpl == nil {
		return nil
	}
	return tmpl.Source()
}

// wf wraps task definitions, indented by six spaces, into a workflow.
func wf(tasks string) string {
	return "version: '2.0'\nwf:\n  tasks:\n" + tasks
}

func TestWorkflowAttributes(t *testing.T) {
	t.Parallel()
	w := onlyWorkflow(t, `
version: '2.0'
greet:
  description: says hello
  tags: [demo, hello]
  input:
    - name
    - greeting: Hello
    - opts: {loud: true, times: 2}
    - nothing: null
  output:
    text: <% $.greeting %>
  output-on-error:
    failed: true
  vars:
    count: 1
  tasks:
    hello:
      action: std.echo output="hi"
`)
	want := &Workflow{
		Name: "greet", Type: Direct, Description: "says hello", Tags: []string{"demo", "hello"},
		Input: []Param{
			{Name: "name"},
			{Name: "greeting", Default: "Hello", HasDefault: true},
			{Name: "opts", Default: map[string]any{"loud": true, "times": int64(2)}, HasDefault: true},
			{Name: "nothing", Default: nil, HasDefault: true},
		},
		Order: []string{"hello"},
		Start: []string{"hello"},
		Pos:   Pos{Line: 3, Col: 1},
		Spec: map[string]any{
			"name": "greet", "version": "2.0", "description": "says hello", "tags": []any{"demo", "hello"},
			"input": []any{"name", map[string]any{"greeting": "Hello"},
				map[string]any{"opts": map[string]any{"loud": true, "times": int64(2)}}, map[string]any{"nothing": nil}},
			"output": map[string]any{"text": "<% $.greeting %>"}, "output-on-error": map[string]any{"failed": true},
			"vars":  map[string]any{"count": int64(1)},
			"tasks": map[string]any{"hello": map[string]any{"action": `std.echo output="hi"`}},
		},
	}
	got := *w
	got.Tasks, got.Output, got.OutputOnError, got.Vars = nil, nil, nil, nil
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("workflow (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"text": "<% $.greeting %>"}, source(t, w.Output)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"failed": true}, source(t, w.OutputOnError)); diff != "" {
		t.Errorf("output-on-error (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"count": int64(1)}, source(t, w.Vars)); diff != "" {
		t.Errorf("vars (-want +got):\n%s", diff)
	}
}

func TestWorkflowType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, typ, want string
	}{
		{name: "default is direct", typ: "", want: Direct},
		{name: "direct", typ: "  type: direct\n", want: Direct},
		{name: "reverse", typ: "  type: reverse\n", want: Reverse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := onlyWorkflow(t, "version: '2.0'\nwf:\n"+tc.typ+"  tasks:\n    a:\n      action: std.noop\n")
			if w.Type != tc.want {
				t.Errorf("Type = %q, want %q", w.Type, tc.want)
			}
		})
	}
}

func TestTaskCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		task         string
		wantAction   any
		wantWorkflow any
		wantInput    any
	}{
		{
			name:       "plain action",
			task:       "action: std.echo\n      input:\n        output: hi",
			wantAction: "std.echo", wantInput: map[string]any{"output": "hi"},
		},
		{
			name:       "neither action nor workflow runs std.noop",
			task:       "description: nothing",
			wantAction: "std.noop",
		},
		{
			name:       "inline parameters",
			task:       `action: 'std.echo output="Hi there" n=<% $.n %> x=1 f=1.5 b=true z=null s=''single'' l=[1, "a"] o={"k": 2} neg=-3'`,
			wantAction: "std.echo",
			wantInput: map[string]any{
				"output": "Hi there", "n": "<% $.n %>", "x": int64(1), "f": 1.5, "b": true, "z": nil,
				"s": "single", "l": []any{int64(1), "a"}, "o": map[string]any{"k": int64(2)}, "neg": int64(-3),
			},
		},
		{
			name:       "inline merges with input, input wins",
			task:       "action: std.echo output=\"inline\" extra=1\n      input:\n        output: from-input",
			wantAction: "std.echo", wantInput: map[string]any{"output": "from-input", "extra": int64(1)},
		},
		{
			name:         "workflow with inline input",
			task:         "workflow: sub param1='val1' param2=2",
			wantWorkflow: "sub", wantInput: map[string]any{"param1": "val1", "param2": int64(2)},
		},
		{
			name:       "action from an expression",
			task:       "action: <% $.action_name %>\n      input: <% $.params %>",
			wantAction: "<% $.action_name %>", wantInput: "<% $.params %>",
		},
		{
			name:         "workflow from a jinja expression",
			task:         `workflow: "{{ _.sub }} x=1"`,
			wantWorkflow: "{{ _.sub }}", wantInput: map[string]any{"x": int64(1)},
		},
		{
			name:       "function form",
			task:       `action: std.echo(output="a b", n=2)`,
			wantAction: "std.echo", wantInput: map[string]any{"output": "a b", "n": int64(2)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := onlyWorkflow(t, wf("    t:\n      "+tc.task+"\n"))
			task := w.Tasks["t"]
			got := []any{source(t, task.Action), source(t, task.Workflow), source(t, task.Input)}
			want := []any{tc.wantAction, tc.wantWorkflow, tc.wantInput}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("action, workflow, input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaskPublish(t *testing.T) {
	t.Parallel()
	w := onlyWorkflow(t, wf(`    t:
      action: std.noop
      publish:
        a: 1
        b: task
        c: task
      publish-on-error:
        e: <% task().result %>
      on-complete:
        publish:
          branch:
            b: complete
            d: complete
          global:
            g: complete
        next: [u]
      on-success:
        publish:
          branch:
            c: success
          global:
            g: success
            h: success
        next:
          - u: <% $.a = 1 %>
    u:
      action: std.noop
`))
	task := w.Tasks["t"]
	got := map[string]any{
		"publish":        source(t, task.Publish),
		"publishOnError": source(t, task.PublishOnError),
		"global":         source(t, task.PublishGlobal),
		"globalOnError":  source(t, task.PublishGlobalOnError),
	}
	want := map[string]any{
		"publish":        map[string]any{"a": int64(1), "b": "complete", "c": "success", "d": "complete"},
		"publishOnError": map[string]any{"e": "<% task().result %>", "b": "complete", "d": "complete"},
		"global":         map[string]any{"g": "success", "h": "success"},
		"globalOnError":  map[string]any{"g": "complete"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("publishes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"t"}, w.Tasks["u"].Inbound); diff != "" {
		t.Errorf("Inbound of u (-want +got):\n%s", diff)
	}
}

// transitionView is a Transition with its templates replaced by sources.
type transitionView struct {
	Target, Command string
	Msg, When       any
	Pos             Pos
}

func views(t *testing.T, ts []Transition) []transitionView {
	t.Helper()
	var out []transitionView
	for _, tr := range ts {
		out = append(out, transitionView{tr.Target, tr.Command, source(t, tr.Msg), source(t, tr.When), tr.Pos})
	}
	return out
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		clause string
		want   []transitionView
	}{
		{
			name:   "one name",
			clause: "on-success: b",
			want:   []transitionView{{Target: "b", Pos: Pos{6, 19}}},
		},
		{
			name:   "list with a condition",
			clause: "on-success:\n        - b\n        - c: <% $.x > 1 %>",
			want: []transitionView{
				{Target: "b", Pos: Pos{7, 11}},
				{Target: "c", When: "<% $.x > 1 %>", Pos: Pos{8, 11}},
			},
		},
		{
			name:   "one conditional mapping",
			clause: "on-error:\n        b: '{{ _.x }}'",
			want:   []transitionView{{Target: "b", When: "{{ _.x }}", Pos: Pos{7, 9}}},
		},
		{
			name:   "engine commands",
			clause: "on-complete:\n        - fail msg='it broke'\n        - succeed\n        - pause: <% $.wait %>\n        - noop\n        - succeed(msg=<% $.why %>)",
			want: []transitionView{
				{Command: "fail", Msg: "it broke", Pos: Pos{7, 11}},
				{Command: "succeed", Pos: Pos{8, 11}},
				{Command: "pause", When: "<% $.wait %>", Pos: Pos{9, 11}},
				{Command: "noop", Pos: Pos{10, 11}},
				{Command: "succeed", Msg: "<% $.why %>", Pos: Pos{11, 11}},
			},
		},
		{
			name:   "conditional command with a message",
			clause: "on-success:\n        - fail msg=\"bad <% $.x %>\": <% $.x < 0 %>",
			want:   []transitionView{{Command: "fail", Msg: "bad <% $.x %>", When: "<% $.x < 0 %>", Pos: Pos{7, 11}}},
		},
		{
			name:   "next without publish",
			clause: "on-success:\n        next: [b, c]",
			want:   []transitionView{{Target: "b", Pos: Pos{7, 16}}, {Target: "c", Pos: Pos{7, 19}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := onlyWorkflow(t, wf("    a:\n      action: std.noop\n      "+tc.clause+"\n    b:\n      action: std.noop\n    c:\n      action: std.noop\n"))
			a := w.Tasks["a"]
			got := views(t, append(append(append([]Transition(nil), a.OnSuccess...), a.OnError...), a.OnComplete...))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJoinInboundStart(t *testing.T) {
	t.Parallel()
	w := onlyWorkflow(t, wf(`    a:
      action: std.noop
      on-success: [c, d, e]
    b:
      action: std.noop
      on-error: c
      on-complete:
        - d
        - c
    c:
      join: all
      action: std.noop
    d:
      join: 2
      action: std.noop
    e:
      join: one
      action: std.noop
`))
	type view struct {
		Join    int
		Inbound []string
	}
	got := map[string]view{}
	for name, task := range w.Tasks {
		got[name] = view{task.Join, task.Inbound}
	}
	want := map[string]view{
		"a": {}, "b": {},
		"c": {JoinAll, []string{"a", "b"}},
		"d": {2, []string{"a", "b"}},
		"e": {1, []string{"a"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("join and inbound (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, w.Start); diff != "" {
		t.Errorf("Start (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, w.Order); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
}

func TestWithItems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		attr string
		want map[string]any
	}{
		{name: "expression", attr: "with-items: x in <% $.xs %>", want: map[string]any{"x": "<% $.xs %>"}},
		{name: "jinja", attr: "with-items: x in {{ _.xs }}", want: map[string]any{"x": "{{ _.xs }}"}},
		{name: "literal list", attr: "with-items: i in [1, 2, 3]", want: map[string]any{"i": []any{int64(1), int64(2), int64(3)}}},
		{name: "literal list with single quotes", attr: "with-items: s in ['a', 'b']", want: map[string]any{"s": []any{"a", "b"}}},
		{
			name: "several clauses",
			attr: "with-items:\n        - x in <% $.xs %>\n        - y in [\"a\", \"b\"]",
			want: map[string]any{"x": "<% $.xs %>", "y": []any{"a", "b"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := onlyWorkflow(t, wf("    t:\n      action: std.noop\n      "+tc.attr+"\n      concurrency: 2\n"))
			task := w.Tasks["t"]
			got := map[string]any{}
			for _, wi := range task.WithItems {
				got[wi.Var] = source(t, wi.Source)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("with-items (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(int64(2), source(t, task.Concurrency)); diff != "" {
				t.Errorf("concurrency (-want +got):\n%s", diff)
			}
		})
	}
}

// policyView holds a task's policies as sources.
type policyView struct {
	Retry                                                          []any // count, delay, break-on, continue-on
	Timeout, WaitBefore, WaitAfter, PauseBefore, FailOn, SafeRerun any
	KeepResult, Concurrency                                        any
}

func policies(t *testing.T, task *Task) policyView {
	t.Helper()
	v := policyView{
		Timeout: source(t, task.Timeout), WaitBefore: source(t, task.WaitBefore), WaitAfter: source(t, task.WaitAfter),
		PauseBefore: source(t, task.PauseBefore), FailOn: source(t, task.FailOn), SafeRerun: source(t, task.SafeRerun),
		KeepResult: source(t, task.KeepResult), Concurrency: source(t, task.Concurrency),
	}
	if r := task.Retry; r != nil {
		v.Retry = []any{source(t, r.Count), source(t, r.Delay), source(t, r.BreakOn), source(t, r.ContinueOn)}
	}
	return v
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		attrs string
		want  policyView
	}{
		{
			name:  "every policy",
			attrs: "retry:\n        count: 3\n        delay: 1\n        break-on: <% $.stop %>\n        continue-on: <% $.more %>\n      timeout: 30\n      wait-before: 2\n      wait-after: 0\n      pause-before: true\n      fail-on: <% $.bad %>\n      safe-rerun: false\n      keep-result: false",
			want: policyView{
				Retry:   []any{int64(3), int64(1), "<% $.stop %>", "<% $.more %>"},
				Timeout: int64(30), WaitBefore: int64(2), WaitAfter: int64(0), PauseBefore: true,
				FailOn: "<% $.bad %>", SafeRerun: false, KeepResult: false,
			},
		},
		{
			name:  "one-line retry",
			attrs: "retry: count=10 delay=5 break-on=<% $.foo = 'bar' %>",
			want:  policyView{Retry: []any{int64(10), int64(5), "<% $.foo = 'bar' %>", nil}},
		},
		{
			name:  "expressions",
			attrs: "retry:\n        count: <% $.n %>\n        delay: '{{ _.d }}'\n      timeout: <% $.t %>\n      pause-before: <% $.p %>",
			want:  policyView{Retry: []any{"<% $.n %>", "{{ _.d }}", nil, nil}, Timeout: "<% $.t %>", PauseBefore: "<% $.p %>"},
		},
		{name: "none", attrs: "description: plain", want: policyView{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := onlyWorkflow(t, wf("    t:\n      action: std.noop\n      "+tc.attrs+"\n"))
			if diff := cmp.Diff(tc.want, policies(t, w.Tasks["t"])); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaskDefaults(t *testing.T) {
	t.Parallel()
	w := onlyWorkflow(t, `
version: '2.0'
wf:
  task-defaults:
    retry: {count: 2, delay: 1}
    timeout: 10
    wait-before: 5
    safe-rerun: true
    on-error:
      - handle
    on-complete: [log]
  tasks:
    plain:
      action: std.noop
    own:
      action: std.noop
      retry: count=1 delay=0
      timeout: 0
      on-error: fail
      on-success: log
    handle:
      action: std.noop
    log:
      action: std.noop
`)
	type view struct {
		P                              policyView
		OnSuccess, OnError, OnComplete []transitionView
	}
	got := map[string]view{}
	for name, task := range w.Tasks {
		got[name] = view{policies(t, task), views(t, task.OnSuccess), views(t, task.OnError), views(t, task.OnComplete)}
	}
	defaults := policyView{Retry: []any{int64(2), int64(1), nil, nil}, Timeout: int64(10), WaitBefore: int64(5), SafeRerun: true}
	handle := transitionView{Target: "handle", Pos: Pos{10, 9}}
	logT := transitionView{Target: "log", Pos: Pos{11, 19}}
	want := map[string]view{
		"plain": {P: defaults, OnError: []transitionView{handle}, OnComplete: []transitionView{logT}},
		"own": {
			P:          policyView{Retry: []any{int64(1), int64(0), nil, nil}, Timeout: int64(0), WaitBefore: int64(5), SafeRerun: true},
			OnSuccess:  []transitionView{{Target: "log", Pos: Pos{20, 19}}},
			OnError:    []transitionView{{Command: "fail", Pos: Pos{19, 17}}},
			OnComplete: []transitionView{logT},
		},
		// A task does not get a default transition to itself.
		"handle": {P: defaults, OnComplete: []transitionView{logT}},
		"log":    {P: defaults, OnError: []transitionView{handle}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tasks after task-defaults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"plain", "own"}, w.Start); diff != "" {
		t.Errorf("Start (-want +got):\n%s", diff)
	}
}

func TestReverse(t *testing.T) {
	t.Parallel()
	w := onlyWorkflow(t, `
version: '2.0'
wf:
  type: reverse
  task-defaults:
    requires: init
  tasks:
    init:
      action: std.noop
    fetch:
      action: std.noop
    parse:
      action: std.noop
      requires: fetch
    report:
      action: std.noop
      requires: [parse, fetch]
    unrelated:
      action: std.noop
`)
	got := map[string][]string{}
	for name, task := range w.Tasks {
		got[name] = task.Requires
	}
	want := map[string][]string{
		"init":      nil,
		"fetch":     {"init"},
		"parse":     {"fetch", "init"},
		"report":    {"parse", "fetch", "init"},
		"unrelated": {"init"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requires (-want +got):\n%s", diff)
	}
	if len(w.Start) != 0 {
		t.Errorf("Start = %v, want none for a reverse workflow", w.Start)
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	w := onlyWorkflow(t, `
version: '2.0'
wf:
  type: reverse
  tasks:
    t1:
      action: std.noop
      requires: [t2, t5]
    t2:
      action: std.noop
      requires: [t6]
    t3:
      action: std.noop
      requires: [t4]
    t4:
      action: std.noop
    t5:
      action: std.noop
      requires: [t7, t8]
    t6:
      action: std.noop
    t7:
      action: std.noop
    t8:
      action: std.noop
`)
	tests := []struct {
		name, target string
		want         []string
		wantErr      string
	}{
		{name: "reference figure", target: "t1", want: []string{"t6", "t2", "t7", "t8", "t5", "t1"}},
		{name: "leaf", target: "t4", want: []string{"t4"}},
		{name: "other branch", target: "t3", want: []string{"t4", "t3"}},
		{name: "unknown", target: "t9", wantErr: "has no task t9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := w.Plan(tc.target)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Plan(%q) error = %v, want one containing %q", tc.target, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Plan(%q) (-want +got):\n%s", tc.target, diff)
			}
		})
	}
	direct := onlyWorkflow(t, wf("    a:\n      action: std.noop\n"))
	if _, err := direct.Plan("a"); err == nil {
		t.Error("Plan of a direct workflow: got no error")
	}
}

func TestWorkbook(t *testing.T) {
	t.Parallel()
	b := load(t, `
version: '2.0'
name: book
description: a workbook
tags: [x]
workflows:
  version: '2.0'
  first:
    tasks:
      a:
        workflow: second
  second:
    type: reverse
    tasks:
      b:
        action: greet who="world"
actions:
  greet:
    input:
      - who
    base: std.echo output="Hello, <% $.who %>"
    base-input:
      extra: 1
    output: <% $ %>
`)
	if b.Name != "book" {
		t.Errorf("Name = %q, want book", b.Name)
	}
	if diff := cmp.Diff([]string{"first", "second"}, b.Order); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
	for _, name := range []string{"first", "second", "book.first", "book.second"} {
		if b.Workflows[name] == nil {
			t.Errorf("workflow %q missing", name)
		}
	}
	if b.Workflows["book.first"] != b.Workflows["first"] {
		t.Error("book.first and first differ")
	}
	a := b.Actions["greet"]
	if a == nil || b.Actions["book.greet"] != a {
		t.Fatalf("action greet missing or not reachable as book.greet: %v", b.Actions)
	}
	if a.Base != "std.echo" || len(a.Input) != 1 || a.Input[0].Name != "who" {
		t.Errorf("action = %+v", a)
	}
	want := map[string]any{"output": "Hello, <% $.who %>", "extra": int64(1)}
	if diff := cmp.Diff(want, source(t, a.BaseInput)); diff != "" {
		t.Errorf("base-input (-want +got):\n%s", diff)
	}
}

func TestAdhocActionInPlainFile(t *testing.T) {
	t.Parallel()
	b := load(t, `
version: '2.0'
error_email:
  input:
    - execution_id
  base: std.echo
  base-input:
    output: <% $.execution_id %>
wf:
  tasks:
    a:
      action: error_email execution_id=1
`)
	if b.Actions["error_email"] == nil || b.Workflows["wf"] == nil || len(b.Order) != 1 {
		t.Errorf("actions %v, workflows %v", b.Actions, b.Order)
	}
}

func TestMergeKeys(t *testing.T) {
	t.Parallel()
	w := onlyWorkflow(t, wf(`    a: &base
      action: std.noop
      timeout: 5
      on-success: b
    b:
      <<: *base
      on-success: c
    c:
      action: std.noop
`))
	b := w.Tasks["b"]
	if len(b.OnSuccess) != 1 || b.OnSuccess[0].Target != "c" {
		t.Errorf("b.OnSuccess = %+v, want the explicit c", b.OnSuccess)
	}
	if diff := cmp.Diff(int64(5), source(t, b.Timeout)); diff != "" {
		t.Errorf("merged timeout (-want +got):\n%s", diff)
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{
			name: "version v2.0",
			src:  "version: v2.0\nwf:\n  tasks:\n    a:\n      action: std.noop\n",
			want: "test.yaml:1:10: warning: write `version: '2.0'`; Mistral itself rejects `v2.0`",
		},
		{
			name: "target is ignored",
			src:  wf("    a:\n      action: std.noop\n      target: group1\n"),
			want: "test.yaml:6:7: warning: `target` is ignored: Bora runs every action on its own workers",
		},
		{
			name: "concurrency without with-items",
			src:  wf("    a:\n      action: std.noop\n      concurrency: 2\n"),
			want: "test.yaml:4:5: warning: `concurrency` of task `a` has no effect without `with-items`",
		},
		{
			name: "input given twice",
			src:  wf("    a:\n      action: std.echo output=1\n      input:\n        output: 2\n"),
			want: "test.yaml:5:24: warning: parameter `output` is given inline and under `input`; the value under `input` wins",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, diags := Load("test.yaml", []byte(tc.src))
			if b == nil {
				t.Fatalf("Load failed:\n%s", diags)
			}
			if diff := cmp.Diff(tc.want, diags.String()); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiagnostics(t *testing.T) {
	t.Parallel()
	ds := Diagnostics{
		{File: "a.yaml", Pos: Pos{3, 5}, Severity: Warning, Msg: "careful"},
		{File: "a.yaml", Pos: Pos{1, 2}, Severity: Error, Msg: "broken"},
	}
	if got, want := ds[0].String(), "a.yaml:3:5: warning: careful"; got != want {
		t.Errorf("warning String() = %q, want %q", got, want)
	}
	if got, want := ds[1].String(), "a.yaml:1:2: broken"; got != want {
		t.Errorf("error String() = %q, want %q", got, want)
	}
	if !ds.HasErrors() || len(ds.Warnings()) != 1 || len(ds.Errors()) != 1 {
		t.Errorf("HasErrors %v, Warnings %v, Errors %v", ds.HasErrors(), ds.Warnings(), ds.Errors())
	}
	err := ds.Err()
	if err == nil || err.Error() != "a.yaml:1:2: broken" {
		t.Errorf("Err() = %v", err)
	}
	if err := ds.Warnings().Err(); err != nil {
		t.Errorf("Err() of warnings only = %v, want nil", err)
	}
}

func TestTaskDescriptionAndTags(t *testing.T) {
	t.Parallel()
	w := onlyWorkflow(t, wf("    a:\n      description: does a\n      tags: [x, y]\n      action: std.noop\n    b:\n      action: std.noop\n"))
	a, b := w.Tasks["a"], w.Tasks["b"]
	if a.Description != "does a" || !cmp.Equal(a.Tags, []string{"x", "y"}) {
		t.Errorf("a: description %q, tags %v", a.Description, a.Tags)
	}
	if b.KeepResult != nil || b.Retry != nil || b.Join != 0 || b.Inbound != nil {
		t.Errorf("b: defaults not empty: keep-result %v, retry %v, join %d, inbound %v", b.KeepResult, b.Retry, b.Join, b.Inbound)
	}
	if diff := cmp.Diff(Pos{Line: 4, Col: 5}, a.Pos); diff != "" {
		t.Errorf("a.Pos (-want +got):\n%s", diff)
	}
}

// TestSourceTooLarge: a document over MaxSourceBytes is refused before it
// is parsed, with one error that says so, at little cost.
func TestSourceTooLarge(t *testing.T) {
	src := []byte("version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.noop\n      input:\n        x: [" +
		strings.Repeat("1,", MaxSourceBytes) + "1]\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b, diags := Load("big.yaml", src)
	runtime.ReadMemStats(&after)
	want := fmt.Sprintf("big.yaml:1:1: the document is %d bytes, over the %d-byte limit of a workflow document", len(src), MaxSourceBytes)
	if b != nil || diags.String() != want {
		t.Errorf("Load = %v, %q; want only %q", b, diags.String(), want)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("refusing the document allocated %d KiB", got>>10)
	}
	// At the limit, a document still loads.
	ok := []byte("version: '2.0'\nwf:\n  tasks:\n    a: {action: std.noop}\n#")
	ok = append(ok, bytes.Repeat([]byte("x"), MaxSourceBytes-len(ok))...)
	if _, diags := Load("ok.yaml", ok); diags.HasErrors() {
		t.Errorf("a document of exactly MaxSourceBytes: %v", diags)
	}
}

// A key given twice keeps its later value, as the YAML parser Mistral uses
// does, with a warning naming both lines.
func TestDuplicateKeyLaterWins(t *testing.T) {
	t.Parallel()
	b, diags := Load("wf.yaml", []byte("version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.noop\n    t:\n      action: std.echo output=1\n"))
	if diags.HasErrors() || len(diags.Warnings()) != 1 {
		t.Fatalf("diagnostics: %v", diags)
	}
	if got := b.Workflows["wf"].Tasks["t"].Action.Source(); got != "std.echo" {
		t.Errorf("task t runs %v, want the later definition's std.echo", got)
	}
	if w := diags.Warnings()[0].String(); !strings.Contains(w, "wf.yaml:6:5: warning: duplicate task `t`; the first is at line 4") {
		t.Errorf("warning = %s", w)
	}
}
