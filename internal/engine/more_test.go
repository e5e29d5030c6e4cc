package engine

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

func TestSafeRerunOfLostWorker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		safe  string
		state record.ExecState
		runs  int
	}{
		{name: "safe-rerun runs the lost attempt again", safe: "true", state: record.ExecSuccess, runs: 1},
		{name: "without safe-rerun a lost worker is an error", safe: "false", state: record.ExecError, runs: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    t: {action: std.noop, safe-rerun: `+tc.safe+`}
`)
			w.hold = true
			id := w.start("", "")
			w.drain()
			m := w.takeTask("t#1")
			w.claim(m)
			// The lease expires: the reconciler ends the attempt as a worker would.
			u := w.unit(id, "t#1", 0)
			u.State, u.Error = record.Error, record.LostError("the worker was lost")
			w.events = append(w.events, record.DoneEvent(u.UnitKey, u.Attempt, u.Fence))
			w.hold = false
			w.run()
			h := w.execs[id]
			if h.State != tc.state {
				t.Fatalf("state %s %q", h.State, h.StateInfo)
			}
			if n := w.runs[u.UnitKey]; n != tc.runs {
				t.Errorf("action ran %d times after the loss, want %d", n, tc.runs)
			}
			if tc.state == record.ExecError && !contains(h.StateInfo, "t [task_ex_id=t#1] -> the worker was lost") {
				t.Errorf("state info %q", h.StateInfo)
			}
		})
	}
}

func TestEnvironmentAndExecution(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  output:
    url: <% env().url %>
    name: <% execution().name %>
    id: <% execution().id %>
  tasks:
    t:
      action: std.echo output=<% env().url %>
`)
	head, err := NewExecution(w.bundle.Workflows["wf"], NewParams{ID: "e1", Env: json.RawMessage(`{"url":"http://x"}`), Now: w.now})
	if err != nil {
		t.Fatal(err)
	}
	w.execs["e1"] = head
	w.events = append(w.events, StartEvent("e1"))
	w.run()
	want := map[string]any{"url": "http://x", "name": "wf", "id": "e1"}
	if diff := cmp.Diff(want, w.output("e1")); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestRerunWithNewEnv(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    t:
      action: check v=<% env().v %>
      publish: {r: <% task().result %>}
`)
	w.actions["check"] = func(in map[string]any, _ int) (any, error) {
		if in["v"] != "good" {
			return nil, failure{"bad env"}
		}
		return in["v"], nil
	}
	head, _ := NewExecution(w.bundle.Workflows["wf"], NewParams{ID: "e1", Env: json.RawMessage(`{"v":"bad"}`), Now: w.now})
	w.execs["e1"] = head
	w.events = append(w.events, StartEvent("e1"))
	w.run()
	if s := w.execs["e1"].State; s != record.ExecError {
		t.Fatalf("state %s", s)
	}
	w.events = append(w.events, CommandEvent("e1", record.OpRerun, record.Command{Task: "t", Env: json.RawMessage(`{"v":"good"}`)}, ""))
	w.run()
	if s := w.execs["e1"].State; s != record.ExecSuccess {
		t.Fatalf("state %s %q", s, w.execs["e1"].StateInfo)
	}
	if diff := cmp.Diff(map[string]any{"r": "good"}, w.output("e1")); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestPauseParentPausesChild(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
parent:
  output: {r: <% $.r %>}
  tasks:
    call:
      workflow: child
      publish: {r: <% task().result.v %>}
child:
  output: {v: 42}
  tasks:
    a: {action: std.noop}
`)
	w.hold = true
	id := w.start("parent", "")
	w.drain()
	child := ChildID(id, "call#1", 0, 1)
	w.events = append(w.events, CommandEvent(id, record.OpPause, record.Command{}, ""))
	w.drain()
	if s := w.execs[id].State; s != record.ExecPaused {
		t.Fatalf("parent %s", s)
	}
	if s := w.execs[child].State; s != record.ExecPaused {
		t.Fatalf("child %s", s)
	}
	w.hold = false
	w.run()
	if s := w.execs[child].State; s != record.ExecPaused {
		t.Fatalf("child ran on while paused: %s", s)
	}
	w.events = append(w.events, CommandEvent(id, record.OpResume, record.Command{}, ""))
	w.run()
	if s := w.execs[id].State; s != record.ExecSuccess {
		t.Fatalf("parent %s %q", s, w.execs[id].StateInfo)
	}
	if diff := cmp.Diff(map[string]any{"r": int64(42)}, w.output(id)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestStartWhilePaused shows that a task started while the execution is
// paused gets its units created PAUSED, and that nothing is sent for them
// until the resume.
func TestStartWhilePaused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    a:
      with-items: x in [1, 2, 3]
      action: std.noop
      on-success: b
    b:
      with-items: x in <% range(0, 20) %>
      concurrency: 15
      action: std.noop
`)
	w.hold = true
	id := w.start("", "")
	w.drain()
	ms := []record.TaskMessage{w.takeTask("a#1"), w.takeTask("a#1"), w.takeTask("a#1")}
	for _, m := range ms {
		w.claim(m)
	}
	w.events = append(w.events, CommandEvent(id, record.OpPause, record.Command{}, ""))
	w.drain()
	for _, m := range ms {
		w.finish(m)
	}
	w.drain()
	if len(w.taskq) != 0 {
		t.Fatalf("sent while paused: %v", w.taskq)
	}
	paused, waiting := 0, 0
	for k, u := range w.units {
		if k.Task == "b#1" {
			switch u.State {
			case record.Paused:
				paused++
			case record.Waiting:
				waiting++
			}
		}
	}
	if paused != 15 || waiting != 5 {
		t.Fatalf("b units: %d paused, %d waiting", paused, waiting)
	}
	w.events = append(w.events, CommandEvent(id, record.OpResume, record.Command{}, ""))
	w.hold = false
	w.run()
	if s := w.execs[id].State; s != record.ExecSuccess {
		t.Fatalf("state %s %q", s, w.execs[id].StateInfo)
	}
}

func TestSubWorkflowErrorsFailTheTask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, call, info string
	}{
		{name: "unknown workflow", call: "workflow: nowhere", info: `workflow "nowhere"`},
		{name: "missing input", call: "workflow: child\n      input: {x: 1}", info: "Invalid input [name=child, class=DirectWorkflowSpec, missing=['needed']]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, `
version: '2.0'
parent:
  tasks:
    call:
      `+tc.call+`
child:
  input: [needed]
  tasks:
    t: {action: std.noop}
`)
			id := w.start("parent", "")
			w.run()
			h := w.execs[id]
			if h.State != record.ExecError || !contains(h.StateInfo, tc.info) {
				t.Fatalf("state %s %q", h.State, h.StateInfo)
			}
			if diff := cmp.Diff([]string{"call=ERROR"}, w.taskList(id)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTasksFunction(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  output:
    names: <% tasks(null, false, 'SUCCESS').select($.name) %>
  tasks:
    a: {action: std.noop, on-success: b}
    b: {action: std.fail, on-error: c}
    c: {action: std.noop}
`)
	id := w.start("", "")
	w.run()
	if diff := cmp.Diff(map[string]any{"names": []any{"a", "c"}}, w.output(id)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestCancelledChildCancelsTask(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
parent:
  tasks:
    call: {workflow: child}
child:
  tasks:
    t: {action: std.noop}
`)
	w.hold = true
	id := w.start("parent", "")
	w.drain()
	child := ChildID(id, "call#1", 0, 1)
	w.events = append(w.events, CommandEvent(child, record.OpCancel, record.Command{Msg: "not today"}, ""))
	w.hold = false
	w.run()
	h := w.execs[id]
	if h.State != record.ExecCancelled || h.StateInfo != "Cancelled tasks: call" {
		t.Fatalf("parent %s %q", h.State, h.StateInfo)
	}
	if diff := cmp.Diff([]string{"call=CANCELLED"}, w.taskList(id)); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
}

func TestPauseDuringWaitBefore(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    t: {action: std.noop, wait-before: 60}
`)
	id := w.start("", "")
	w.drain()
	u := w.unit(id, "t#1", 0)
	if u.State != record.Delayed {
		t.Fatalf("unit %s", u.State)
	}
	w.events = append(w.events, CommandEvent(id, record.OpPause, record.Command{}, ""))
	w.drain()
	if u.State != record.Paused || !u.Due.IsZero() {
		t.Fatalf("unit %s due %v", u.State, u.Due)
	}
	// The timer fires while paused: stale, nothing runs.
	w.run()
	if w.execs[id].State != record.ExecPaused || u.State != record.Paused || w.runs[u.UnitKey] != 0 {
		t.Fatalf("timer while paused: exec %s unit %s runs %d", w.execs[id].State, u.State, w.runs[u.UnitKey])
	}
	w.events = append(w.events, CommandEvent(id, record.OpResume, record.Command{}, ""))
	w.run()
	if w.execs[id].State != record.ExecSuccess || w.runs[u.UnitKey] != 1 {
		t.Fatalf("after resume: exec %s runs %d", w.execs[id].State, w.runs[u.UnitKey])
	}
}

func TestLostRerunsAreBounded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    t: {action: std.noop, safe-rerun: true}
`)
	w.hold = true
	id := w.start("", "")
	w.drain()
	// Every attempt's worker is lost: the item runs again MaxLostReruns
	// times, and the next loss fails the task.
	for i := 0; i <= MaxLostReruns; i++ {
		m := w.takeTask("t#1")
		if m.Attempt != i+1 {
			t.Fatalf("loss %d: task message of attempt %d, want %d", i+1, m.Attempt, i+1)
		}
		w.claim(m)
		u := w.unit(id, "t#1", 0)
		u.State, u.Error = record.Error, record.LostError("the worker was lost")
		w.events = append(w.events, record.DoneEvent(u.UnitKey, u.Attempt, u.Fence))
		w.drain()
	}
	h := w.execs[id]
	if h.State != record.ExecError || !contains(h.StateInfo, "the worker was lost") {
		t.Fatalf("after %d losses: %s %q, want ERROR naming the loss", MaxLostReruns+1, h.State, h.StateInfo)
	}
	if len(w.taskq) != 0 {
		t.Errorf("%d task messages left, want none", len(w.taskq))
	}
}
