package engine

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

// flaky fails until the given attempt, then echoes its output.
func flaky(until int) action {
	return func(in map[string]any, attempt int) (any, error) {
		if attempt < until {
			return nil, errors.New("not yet")
		}
		return in["output"], nil
	}
}

// workflowCase is one workflow run and what it must end with.
type workflowCase struct {
	name    string
	src     string
	wf      string // workflow to run; the first when empty
	input   string
	params  string
	actions map[string]action
	state   record.ExecState
	out     string   // expected output JSON; "" skips the check
	tasks   []string // expected task executions, sorted
	ordered []string // expected task executions in start order
	info    string   // a substring of the state info
}

var workflowCases = []workflowCase{
	{
		name: "linear with publish and output",
		src: `
version: '2.0'
wf:
  input: [name]
  output: {greeting: <% $.greeting %>, n: <% $.n %>}
  tasks:
    a:
      action: std.echo output="Hello, <% $.name %>"
      publish: {greeting: <% task().result %>}
      on-success: b
    b:
      action: std.echo output=<% len($.greeting) %>
      publish: {n: <% task(b).result %>}
`,
		input:   `{"name":"Bora"}`,
		state:   record.ExecSuccess,
		out:     `{"greeting":"Hello, Bora","n":11}`,
		ordered: []string{"a=SUCCESS", "b=SUCCESS"},
	},
	{
		name: "input default and vars",
		src: `
version: '2.0'
wf:
  input: [a, {b: 2}]
  vars: {c: 3}
  output: {sum: <% $.a + $.b + $.c %>}
  tasks:
    t: {action: std.noop}
`,
		input: `{"a":1}`,
		state: record.ExecSuccess,
		out:   `{"sum":6}`,
	},
	{
		name: "output defaults to the final context",
		src: `
version: '2.0'
wf:
  tasks:
    t:
      action: std.noop
      publish: {x: 1}
`,
		state: record.ExecSuccess,
		out:   `{"x":1}`,
	},
	{
		name: "conditions choose a branch",
		src: `
version: '2.0'
wf:
  input: [n]
  tasks:
    check:
      action: std.noop
      on-success:
        - big: <% $.n > 10 %>
        - small: <% $.n <= 10 %>
    big: {action: std.noop}
    small: {action: std.noop}
`,
		input:   `{"n":3}`,
		state:   record.ExecSuccess,
		ordered: []string{"check=SUCCESS", "small=SUCCESS"},
	},
	{
		name: "parallel branches and join all merges contexts",
		src: `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    a:
      action: std.noop
      publish: {x: 1}
      on-success: j
    b:
      action: std.noop
      publish: {y: 2}
      on-success: j
    j:
      join: all
      action: std.echo output=<% $.x + $.y %>
      publish: {r: <% task().result %>}
`,
		state: record.ExecSuccess,
		out:   `{"r":3}`,
		tasks: []string{"a=SUCCESS", "b=SUCCESS", "j=SUCCESS"},
	},
	{
		name: "join all with an errored branch that handles its error",
		src: `
version: '2.0'
wf:
  output: {result: <% $.result3 %>}
  tasks:
    task1:
      action: std.echo output=1
      publish: {result1: <% task(task1).result %>}
      on-complete: [task3]
    task2:
      action: std.fail
      on-error: [task3]
    task3:
      join: all
      action: std.echo output="<% $.result1 %>-<% $.result1 %>"
      publish: {result3: <% task(task3).result %>}
`,
		state: record.ExecSuccess,
		out:   `{"result":"1-1"}`,
		tasks: []string{"task1=SUCCESS", "task2=ERROR", "task3=SUCCESS"},
	},
	{
		name: "join whose branch never arrives fails",
		src: `
version: '2.0'
wf:
  tasks:
    task1:
      action: std.echo output=1
      on-complete: [task3]
    task2:
      action: std.echo output=2
      on-complete:
        - task3: <% false %>
        - task4: <% true %>
    task3:
      join: all
      action: std.noop
    task4:
      action: std.noop
`,
		state: record.ExecError,
		tasks: []string{"task1=SUCCESS", "task2=SUCCESS", "task3=ERROR", "task4=SUCCESS"},
		info:  "task3 [task_ex_id=task3#1] -> Failed by tasks: ['task2']",
	},
	{
		name: "partial join triggers once",
		src: `
version: '2.0'
wf:
  tasks:
    t1: {action: std.noop, publish: {r1: 1}, on-complete: [t5]}
    t2: {action: std.noop, publish: {r2: 2}, on-complete: [t5]}
    t3: {action: std.noop, publish: {r3: 3}, on-complete: [t5]}
    t4: {action: std.noop, publish: {r4: 4}, on-complete: [t5]}
    t5:
      join: 2
      action: std.noop
`,
		state: record.ExecSuccess,
		tasks: []string{"t1=SUCCESS", "t2=SUCCESS", "t3=SUCCESS", "t4=SUCCESS", "t5=SUCCESS"},
	},
	{
		name: "join N with an error handled by noop",
		src: `
version: '2.0'
wf:
  output: {result: <% $.result4 %>}
  tasks:
    task1: {action: std.echo output=1, publish: {result1: <% task().result %>}, on-complete: [task4]}
    task2: {action: std.echo output=2, publish: {result2: <% task().result %>}, on-complete: [task4]}
    task3:
      action: std.fail
      on-success: [task4]
      on-error: [noop]
    task4:
      join: 2
      action: std.echo output="<% $.result1 %>,<% $.result2 %>"
      publish: {result4: <% task().result %>}
`,
		state: record.ExecSuccess,
		out:   `{"result":"1,2"}`,
		tasks: []string{"task1=SUCCESS", "task2=SUCCESS", "task3=ERROR", "task4=SUCCESS"},
	},
	{
		name: "unhandled error fails the workflow after the other branch ends",
		src: `
version: '2.0'
wf:
  tasks:
    bad: {action: std.fail}
    good: {action: std.noop, on-success: after}
    after: {action: std.noop}
`,
		state: record.ExecError,
		tasks: []string{"after=SUCCESS", "bad=ERROR", "good=SUCCESS"},
		info:  "Failure caused by error in tasks: bad\n\n  bad [task_ex_id=bad#1] -> Fail action expected exception.\n",
	},
	{
		name: "on-complete runs after an error but does not handle it",
		src: `
version: '2.0'
wf:
  tasks:
    bad: {action: std.fail, on-complete: cleanup}
    cleanup: {action: std.noop}
`,
		state:   record.ExecError,
		ordered: []string{"bad=ERROR", "cleanup=SUCCESS"},
		info:    "error in tasks: bad",
	},
	{
		name: "publish-on-error and output-on-error",
		src: `
version: '2.0'
wf:
  output-on-error: {why: <% $.why %>}
  tasks:
    bad:
      action: std.fail error_data="boom"
      publish-on-error: {why: <% task().result %>}
`,
		state: record.ExecError,
		out:   `{"why":"boom","result":"Failure caused by error in tasks: bad\n\n  bad [task_ex_id=bad#1] -> boom\n"}`,
	},
	{
		name: "fail command with message",
		src: `
version: '2.0'
wf:
  input: [v]
  tasks:
    t:
      action: std.noop
      on-success:
        - fail msg="v is <% $.v %>": <% $.v = 1 %>
        - done
    done: {action: std.noop}
`,
		input:   `{"v":1}`,
		state:   record.ExecError,
		out:     `{"result":"v is 1"}`,
		ordered: []string{"t=SUCCESS"},
		info:    "v is 1",
	},
	{
		name: "succeed command ends the workflow despite an error",
		src: `
version: '2.0'
wf:
  tasks:
    t:
      action: std.fail
      on-error: [succeed]
`,
		state: record.ExecSuccess,
	},
	{
		name: "cycle makes a new task execution per entry",
		src: `
version: '2.0'
wf:
  output: {i: <% $.i %>}
  tasks:
    init:
      action: std.noop
      publish: {i: 0}
      on-success: loop
    loop:
      action: std.noop
      publish: {i: <% $.i + 1 %>}
      on-success:
        - loop: <% $.i < 3 %>
`,
		state:   record.ExecSuccess,
		out:     `{"i":3}`,
		ordered: []string{"init=SUCCESS", "loop=SUCCESS", "loop=SUCCESS", "loop=SUCCESS"},
	},
	{
		name: "with-items zips lists and keeps item order",
		src: `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    t:
      with-items:
        - x in <% [1, 2, 3] %>
        - y in <% ['a', 'b', 'c'] %>
      action: std.echo output="<% $.x %><% $.y %>"
      publish: {r: <% task().result %>}
`,
		state: record.ExecSuccess,
		out:   `{"r":["1a","2b","3c"]}`,
	},
	{
		name: "with-items over an empty list succeeds with an empty result",
		src: `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    t:
      with-items: x in <% [] %>
      action: std.echo output=<% $.x %>
      publish: {r: <% task().result %>}
      on-success: next
    next: {action: std.noop}
`,
		state:   record.ExecSuccess,
		out:     `{"r":[]}`,
		ordered: []string{"t=SUCCESS", "next=SUCCESS"},
	},
	{
		name: "with-items with concurrency",
		src: `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    t:
      with-items: x in <% range(0, 12) %>
      concurrency: 2
      action: std.echo output=<% $.x * 10 %>
      publish: {r: <% task().result.sum() %>}
`,
		state: record.ExecSuccess,
		out:   `{"r":660}`,
	},
	{
		name: "with-items item failure fails the task",
		src: `
version: '2.0'
wf:
  tasks:
    t:
      with-items: x in [1, 2, 3]
      action: maybe x=<% $.x %>
`,
		actions: map[string]action{"maybe": func(in map[string]any, _ int) (any, error) {
			if in["x"] == int64(2) {
				return nil, errors.New("two is bad")
			}
			return in["x"], nil
		}},
		state: record.ExecError,
		info:  "t [task_ex_id=t#1] -> One or more actions had failed.\n    [idx=1]: two is bad\n",
	},
	{
		name: "with-items retry runs every item again",
		src: `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    t:
      with-items: x in [1, 2]
      action: flaky output=<% $.x %>
      retry: {count: 3, delay: 0}
      publish: {r: <% task().result %>}
`,
		actions: map[string]action{"flaky": flaky(2)},
		state:   record.ExecSuccess,
		out:     `{"r":[1,2]}`,
	},
	{
		name: "retry succeeds on a later attempt",
		src: `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    t:
      action: flaky output="ok"
      retry: {count: 3, delay: 5}
      publish: {r: <% task().result %>}
`,
		actions: map[string]action{"flaky": flaky(3)},
		state:   record.ExecSuccess,
		out:     `{"r":"ok"}`,
	},
	{
		name: "retry gives up after count",
		src: `
version: '2.0'
wf:
  tasks:
    t:
      action: flaky
      retry: {count: 2, delay: 1}
`,
		actions: map[string]action{"flaky": flaky(10)},
		state:   record.ExecError,
		info:    "t [task_ex_id=t#1] -> not yet",
	},
	{
		name: "retry break-on stops retrying",
		src: `
version: '2.0'
wf:
  tasks:
    t:
      action: std.fail error_data="fatal"
      retry: {count: 5, delay: 0, break-on: <% task().result = 'fatal' %>}
`,
		state: record.ExecError,
		info:  "-> fatal",
	},
	{
		name: "retry continue-on repeats a success",
		src: `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    t:
      action: count
      retry: {count: 5, delay: 0, continue-on: <% task().result < 3 %>}
      publish: {r: <% task().result %>}
`,
		actions: map[string]action{"count": func(_ map[string]any, attempt int) (any, error) { return attempt, nil }},
		state:   record.ExecSuccess,
		out:     `{"r":3}`,
	},
	{
		name: "fail-on fails a successful task",
		src: `
version: '2.0'
wf:
  tasks:
    t:
      action: std.echo output=7
      fail-on: <% task().result > 5 %>
      on-error: handled
    handled: {action: std.noop}
`,
		state:   record.ExecSuccess,
		ordered: []string{"t=ERROR", "handled=SUCCESS"},
	},
	{
		name: "keep-result false drops the stored result",
		src: `
version: '2.0'
wf:
  output: {p: <% $.p %>}
  tasks:
    t:
      action: std.echo output="big"
      keep-result: false
      publish: {p: <% task().result %>}
`,
		state: record.ExecSuccess,
		out:   `{"p":"big"}`,
	},
	{
		name: "wait-before and wait-after",
		src: `
version: '2.0'
wf:
  tasks:
    t:
      action: std.noop
      wait-before: 30
      wait-after: 10
      on-success: u
    u:
      with-items: x in [1, 2]
      action: std.noop
      wait-before: 5
`,
		state:   record.ExecSuccess,
		ordered: []string{"t=SUCCESS", "u=SUCCESS"},
	},
	{
		name: "sub-workflow output is the task result",
		src: `
version: '2.0'
parent:
  output: {r: <% $.r %>}
  tasks:
    call:
      workflow: child
      input: {n: 4}
      publish: {r: <% task().result.doubled %>}
child:
  input: [n]
  output: {doubled: <% $.n * 2 %>}
  tasks:
    t: {action: std.noop}
`,
		state: record.ExecSuccess,
		out:   `{"r":8}`,
	},
	{
		name: "sub-workflow failure is the task error",
		src: `
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    t: {action: std.fail}
`,
		state: record.ExecError,
		info:  "call [task_ex_id=call#1] -> Failure caused by error in tasks: t",
	},
	{
		name: "with-items of sub-workflows",
		src: `
version: '2.0'
parent:
  output: {r: <% $.r %>}
  tasks:
    call:
      with-items: n in [1, 2, 3]
      concurrency: 2
      workflow: child
      input: {n: <% $.n %>}
      publish: {r: <% task().result.select($.sq) %>}
child:
  input: [n]
  output: {sq: <% $.n * $.n %>}
  tasks:
    t: {action: std.noop}
`,
		state: record.ExecSuccess,
		out:   `{"r":[1,4,9]}`,
	},
	{
		name: "reverse workflow runs what the target requires",
		src: `
version: '2.0'
wf:
  type: reverse
  output: {r: <% $.r %>}
  tasks:
    a: {action: std.noop, publish: {x: 1}}
    b: {action: std.noop, publish: {y: 2}}
    unused: {action: std.fail}
    c:
      requires: [a, b]
      action: std.echo output=<% $.x + $.y %>
      publish: {r: <% task().result %>}
`,
		params: `{"task_name":"c"}`,
		state:  record.ExecSuccess,
		out:    `{"r":3}`,
		tasks:  []string{"a=SUCCESS", "b=SUCCESS", "c=SUCCESS"},
	},
	{
		name: "expression error fails task and workflow",
		src: `
version: '2.0'
wf:
  tasks:
    t:
      action: std.echo output=<% $.missing.deeper %>
      on-error: handler
    handler: {action: std.noop}
`,
		state:   record.ExecError,
		ordered: []string{"t=ERROR"},
		info:    "Failed to run task [error=",
	},
}

func TestWorkflows(t *testing.T) {
	t.Parallel()
	for _, tc := range workflowCases {
		for _, mode := range []string{"", "writes reversed", "crash and replay"} {
			name := tc.name
			if mode != "" {
				name += "/" + mode
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, tc.src)
				w.reverse = mode == "writes reversed"
				w.crash = mode == "crash and replay"
				for n, a := range tc.actions {
					w.actions[n] = a
				}
				tc.check(t, w)
			})
		}
	}
}

// check runs the case in w and compares the end with the expectations.
func (tc workflowCase) check(t *testing.T, w *world) {
	t.Helper()
	id := w.startWith(tc.wf, tc.input, tc.params)
	w.run()
	head := w.execs[id]
	if head.State != tc.state {
		t.Fatalf("state %s, want %s (info %q, tasks %v)", head.State, tc.state, head.StateInfo, w.taskList(id))
	}
	if tc.out != "" {
		if diff := cmp.Diff(mustJSON(t, tc.out), w.output(id)); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	}
	if tc.tasks != nil {
		want := append([]string(nil), tc.tasks...)
		sort.Strings(want)
		if diff := cmp.Diff(want, w.sortedTasks(id)); diff != "" {
			t.Errorf("tasks (-want +got):\n%s", diff)
		}
	}
	if tc.ordered != nil {
		if diff := cmp.Diff(tc.ordered, w.taskList(id)); diff != "" {
			t.Errorf("tasks (-want +got):\n%s", diff)
		}
	}
	if tc.info != "" && !contains(head.StateInfo, tc.info) {
		t.Errorf("state info %q does not contain %q", head.StateInfo, tc.info)
	}
	if b := w.book(id); len(b.Active) != 0 || len(b.Joins) != 0 {
		t.Errorf("bookkeeping left after the end: %s", head.Engine)
	}
}

// TestHostileDelivery runs every case with task messages reordered and
// events and task messages delivered twice (the copy later, possibly much
// later than the memory of applied events reaches): the end is the same.
func TestHostileDelivery(t *testing.T) {
	t.Parallel()
	for _, tc := range workflowCases {
		for seed := range int64(5) {
			t.Run(fmt.Sprintf("%s/seed %d", tc.name, seed), func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, tc.src)
				w.rng = rand.New(rand.NewSource(seed))
				for n, a := range tc.actions {
					w.actions[n] = a
				}
				tc.check(t, w)
			})
		}
	}
}
