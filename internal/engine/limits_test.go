package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/borawf/bora/internal/record"
)

// testLimits are small limits, so that the cases stay small.
var testLimits = Limits{ValueBytes: 16 << 10, InfoBytes: 2 << 10, Depth: 3, ExprBytes: 256 << 10}

// kilobyte returns a result of n KiB.
func kilobytes(n int) action {
	return func(map[string]any, int) (any, error) { return strings.Repeat("k", n<<10), nil }
}

// limitCases are workflows that build what cannot be stored, or numbers
// JSON cannot hold: each must end in ERROR with a state_info that names
// what and the limit, never in SUCCESS with a value silently replaced.
var limitCases = []workflowCase{
	{
		name: "integer overflow in the output",
		src: `
version: '2.0'
wf:
  output: {n: <% 9223372036854775807 + $.one %>}
  input: [{one: 1}]
  tasks:
    a: {action: std.noop}
`,
		state: record.ExecError,
		info:  "integer overflow",
	},
	{
		name: "infinity published",
		src: `
version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      publish: {x: <% float('1e308') * 10 %>}
`,
		state:   record.ExecError,
		ordered: []string{"a=ERROR"},
		info:    "not a finite number",
	},
	{
		name: "published variables over the limit",
		src: `
version: '2.0'
wf:
  tasks:
    a:
      action: big
      publish:
        x: <% [task().result] * 20 %>
      on-error: never
    never: {action: std.noop}
`,
		actions: map[string]action{"big": kilobytes(1)},
		state:   record.ExecError,
		ordered: []string{"a=ERROR"},
		info:    "the published variables of task a is over 16 KiB, the limit of one value, wf=wf, task=a",
	},
	{
		name: "output over the limit",
		src: `
version: '2.0'
wf:
  output:
    x: <% [$.s] * 40 %>
  input: [s]
  tasks:
    a: {action: std.noop}
`,
		input: `{"s": "` + strings.Repeat("s", 1000) + `"}`,
		state: record.ExecError,
		out:   `{"result": "Failed to evaluate workflow output: the output of workflow wf is over 16 KiB, the limit of one value"}`,
	},
	{
		name: "action input over the limit",
		src: `
version: '2.0'
wf:
  input: [s]
  tasks:
    a:
      action: std.echo output=<% [$.s] * 40 %>
`,
		input:   `{"s": "` + strings.Repeat("s", 1000) + `"}`,
		state:   record.ExecError,
		ordered: []string{"a=ERROR"},
		info:    "the input of task a is over 16 KiB",
	},
	{
		name: "with-items results over the limit together",
		src: `
version: '2.0'
wf:
  tasks:
    a:
      with-items: i in <% range(40) %>
      action: big
`,
		actions: map[string]action{"big": kilobytes(1)},
		state:   record.ExecError,
		ordered: []string{"a=ERROR"},
		info:    "the result of task a (40 items) is over 16 KiB",
	},
	{
		name: "expression over its byte budget names the task",
		src: `
version: '2.0'
wf:
  tasks:
    a:
      action: big
      publish:
        n: <% len(str([task().result] * 1000)) %>
`,
		actions: map[string]action{"big": kilobytes(1)},
		state:   record.ExecError,
		ordered: []string{"a=ERROR"},
		info:    "evaluation built more than 256 KiB, the limit of one expression], wf=wf, task=a]",
	},
	{
		name: "state_info is cut",
		src: `
version: '2.0'
wf:
  tasks:
    a:
      with-items: i in <% range(100) %>
      action: std.fail error_data=<% str(range(20)) %>
`,
		state:   record.ExecError,
		ordered: []string{"a=ERROR"},
		info:    "bytes cut)",
	},
	{
		name: "vars over the limit",
		src: `
version: '2.0'
wf:
  vars: {x: <% range(5000) %>}
  tasks:
    a: {action: std.noop}
`,
		state: record.ExecError,
		info:  "Failed to evaluate workflow vars: the workflow's vars is over 16 KiB",
	},
	{
		name: "a wait longer than a time can hold",
		src: `
version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      wait-before: 1000000000000000
`,
		state:   record.ExecError,
		ordered: []string{"a=ERROR"},
		info:    "wait-before of 1000000000000000 seconds is longer than the longest a task may wait",
	},
	{
		name: "recursion stops at the depth limit",
		src: `
version: '2.0'
wf:
  tasks:
    again:
      workflow: wf
`,
		state:   record.ExecError,
		ordered: []string{"again=ERROR"},
		info:    "Failure caused by error in tasks: again",
	},
	{
		name: "recursion through an expression stops at the depth limit",
		src: `
version: '2.0'
wf:
  input: [{name: other}]
  tasks:
    again:
      workflow: <% $.name %>
other:
  tasks:
    again:
      workflow: <% 'w' + 'f' %>
`,
		state:   record.ExecError,
		ordered: []string{"again=ERROR"},
	},
}

func TestLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range limitCases {
		for _, mode := range []string{"", "crash and replay"} {
			t.Run(strings.TrimSuffix(tc.name+"/"+mode, "/"), func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, tc.src)
				w.limits = testLimits
				w.crash = mode != ""
				for n, a := range tc.actions {
					w.actions[n] = a
				}
				tc.check(t, w)
				for id, e := range w.execs {
					if len(e.StateInfo) > testLimits.InfoBytes {
						t.Errorf("execution %s: state_info of %d bytes, over the limit", id, len(e.StateInfo))
					}
					for _, task := range w.tasks[id] {
						if len(task.StateInfo) > testLimits.InfoBytes {
							t.Errorf("task %s: state_info of %d bytes, over the limit", task.Key, len(task.StateInfo))
						}
					}
				}
			})
		}
	}
}

// TestDepthIsCounted runs a workflow that calls itself: every level but the
// last starts a child, the deepest fails its task on the limit, and every
// level ends in ERROR, each parent told by its child.
func TestDepthIsCounted(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    again:
      workflow: wf
`)
	w.limits = Limits{Depth: 4}
	root := w.start("", "")
	w.run()
	if len(w.execs) != 5 {
		t.Fatalf("%d executions, want the root and 4 nested", len(w.execs))
	}
	var deepest *record.Execution
	for _, e := range w.execs {
		if e.State != record.ExecError {
			t.Errorf("execution %s (parent %q) is %s, want ERROR", e.ID, e.ParentID, e.State)
		}
		if d := w.book(e.ID).Depth; d == 4 {
			deepest = e
		}
	}
	if deepest == nil || !strings.Contains(deepest.StateInfo, "nested 5 deep, over the limit of 4") {
		t.Errorf("deepest execution: %+v, want its state_info to name the depth limit", deepest)
	}
	if w.execs[root].ParentID != "" || w.book(root).Depth != 0 {
		t.Errorf("root: parent %q depth %d", w.execs[root].ParentID, w.book(root).Depth)
	}
}

// TestCorruptValueFailsTheStep checks that a stored value that does not
// decode fails the step with ErrCorrupt, instead of being read as null.
func TestCorruptValueFailsTheStep(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    a:
      action: std.noop
      publish: {r: <% task().result %>}
`)
	w.hold = true
	id := w.start("", "")
	w.drain()
	k := record.UnitKey{ExecID: id, Task: "a#1"}
	u := w.units[k]
	u.State, u.Result = record.Success, json.RawMessage(`{"broken`)
	_, err := Step(w.input(record.DoneEvent(k, u.Attempt, u.Fence)))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Step = %v, want ErrCorrupt", err)
	}
}

// TestFailCommand checks the command the runtime sends when an event
// cannot be applied: the execution ends in ERROR with the reason, its
// work in flight is cancelled, and its parent is told.
func TestFailCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    slow: {action: std.noop}
`)
	w.hold = true
	root := w.start("parent", "")
	w.drain()
	var child string
	for id, e := range w.execs {
		if e.ParentID == root {
			child = id
		}
	}
	if child == "" {
		t.Fatal("no child started")
	}
	reason := "engine event x could not be applied: boom"
	w.deliver(CommandEvent(child, record.OpFail, record.Command{Msg: reason}, "n1"))
	w.drain()
	if e := w.execs[child]; e.State != record.ExecError || e.StateInfo != reason {
		t.Errorf("child is %s %q, want ERROR %q", e.State, e.StateInfo, reason)
	}
	if u := w.units[record.UnitKey{ExecID: child, Task: "slow#1"}]; u.State != record.Cancelled {
		t.Errorf("child's unclaimed unit is %s, want CANCELLED", u.State)
	}
	if e := w.execs[root]; e.State != record.ExecError || !strings.Contains(e.StateInfo, reason) {
		t.Errorf("parent is %s %q, want ERROR naming the child's reason", e.State, e.StateInfo)
	}
	// A final execution ignores it.
	before := w.execs[child].Version
	w.deliver(CommandEvent(child, record.OpFail, record.Command{Msg: "again"}, "n2"))
	if w.execs[child].Version != before {
		t.Error("a fail command changed a final execution")
	}
}

// TestValueError checks the message of a value over the limit.
func TestValueError(t *testing.T) {
	t.Parallel()
	_, err := encodeValue("the output", []any{strings.Repeat("x", 100)}, 50)
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Size <= 50 || err.Error() != "the output is over 50 bytes, the limit of one value" {
		t.Errorf("encodeValue = %v", err)
	}
	if got := clip(strings.Repeat("é", 100), 50); len(got) > 50 || !strings.HasSuffix(got, "bytes cut)") {
		t.Errorf("clip = %q (%d bytes)", got, len(got))
	}
	if got := brief(map[string]any{"k": strings.Repeat("x", 1000)}); got != "a dict of more than 200 bytes" {
		t.Errorf("brief = %q", got)
	}
}

// TestCommandsBeforeTheStart: a pause and a resume that reach an execution
// before its start event was applied (the start failed and was
// dead-lettered, say) change nothing: they must not complete, with nothing
// run, a workflow that never started. A cancel ends it.
func TestCommandsBeforeTheStart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    a: {action: std.noop}
`)
	id := w.start("", "")
	w.events = nil // the start is held back
	for i, op := range []string{record.OpPause, record.OpResume} {
		out := w.deliver(CommandEvent(id, op, record.Command{}, fmt.Sprint(i)))
		if out.Exec != nil {
			t.Errorf("%s before the start changed the execution to %s", op, out.Exec.State)
		}
	}
	w.deliver(StartEvent(id))
	w.run()
	if e := w.execs[id]; e.State != record.ExecSuccess || len(w.tasks[id]) != 1 {
		t.Errorf("execution %s with tasks %v after its start, want SUCCESS having run a", e.State, w.taskList(id))
	}
	other := w.start("", "")
	w.events = nil
	w.deliver(CommandEvent(other, record.OpCancel, record.Command{}, "c"))
	if e := w.execs[other]; e.State != record.ExecCancelled {
		t.Errorf("cancel before the start: %s, want CANCELLED", e.State)
	}
}
