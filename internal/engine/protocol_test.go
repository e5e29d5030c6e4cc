package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

const parallel3 = `
version: '2.0'
wf:
  tasks:
    a: {action: std.noop, on-success: c}
    b: {action: std.noop}
    c: {action: std.noop}
`

// takeTask removes the queued task message of a task execution.
func (w *world) takeTask(task string) record.TaskMessage {
	w.t.Helper()
	for i, m := range w.taskq {
		if m.Task == task {
			w.taskq = slices.Delete(w.taskq, i, i+1)
			return m
		}
	}
	w.t.Fatalf("no task message for %s in %v", task, w.taskq)
	return record.TaskMessage{}
}

func (w *world) unit(exec, task string, item int) *record.Unit {
	w.t.Helper()
	u, ok := w.units[record.UnitKey{ExecID: exec, Task: task, Item: item}]
	if !ok {
		w.t.Fatalf("no unit %s/%s/%d", exec, task, item)
	}
	return u
}

func TestStartCreatesScheduledUnits(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    a: {action: std.echo output=1, timeout: 7}
    b: {action: std.noop, wait-before: 30}
`)
	id := w.start("", "")
	ev := StartEvent(id)
	w.events = nil
	out := w.deliver(ev)
	// Each plain task is one write: created with its unit in its record.
	var units []*record.Unit
	for _, wr := range out.Before {
		if wr.CreateTask == nil || wr.CreateTask.Unit == nil {
			t.Errorf("write %+v: want a task created with its unit", wr)
			continue
		}
		units = append(units, wr.CreateTask.Unit)
	}
	want := []*record.Unit{
		{
			UnitKey: record.UnitKey{ExecID: id, Task: "a#1"}, State: record.Scheduled, Attempt: 1,
			Fence: Fence(ev.ID, "a#1", 0, 1), Action: "std.echo", Input: json.RawMessage(`{"output":1}`),
			Timeout: 7 * time.Second, Due: w.now.Add(ResendAfter),
		},
		{
			UnitKey: record.UnitKey{ExecID: id, Task: "b#1"}, State: record.Delayed, Attempt: 1,
			Fence: Fence(ev.ID, "b#1", 0, 1), Action: "std.noop", Input: json.RawMessage(`{}`),
			Due: w.now.Add(30 * time.Second),
		},
	}
	if diff := cmp.Diff(want, units); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
	wantAfter := []Effect{
		{SendTimer: &record.TimerMessage{Due: w.now.Add(30 * time.Second), Event: record.TimerEvent(want[1].UnitKey, 1, want[1].Fence)}},
		{SendTask: &record.TaskMessage{ExecID: id, Task: "a#1", Attempt: 1, Fence: want[0].Fence, Action: "std.echo"}},
	}
	if diff := cmp.Diff(wantAfter, out.After); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	if got := w.taskList(id); !slices.Equal(got, []string{"a=RUNNING", "b=RUNNING"}) {
		t.Errorf("tasks %v", got)
	}
	w.run()
	if w.execs[id].State != record.ExecSuccess {
		t.Fatalf("state %s: %s", w.execs[id].State, w.execs[id].StateInfo)
	}
}

func TestPauseResumeMidFlight(t *testing.T) {
	t.Parallel()
	w := newWorld(t, parallel3)
	w.hold = true
	id := w.start("", "")
	w.drain()
	ma := w.takeTask("a#1")
	if !w.claim(ma) { // a is running when the pause arrives
		t.Fatal("claim of a failed")
	}
	out := w.deliver(CommandEvent(id, record.OpPause, record.Command{Msg: "hold on"}, "1"))
	// Invariant 2: every unclaimed unit is moved out of SCHEDULED before the
	// head records PAUSED (the moves are pre-commit writes).
	var moved []string
	for _, wr := range out.Before {
		m := wr.MoveUnit
		if m == nil {
			t.Fatalf("pause writes %+v", wr)
		}
		if m.Change.State != record.Paused || !slices.Equal(m.Expect.States, []record.State{record.Scheduled, record.Delayed}) {
			t.Errorf("pause move %+v", m)
		}
		moved = append(moved, m.Key.Task)
	}
	if !slices.Equal(moved, []string{"a#1", "b#1"}) {
		t.Errorf("pause moved %v", moved)
	}
	if h := w.execs[id]; h.State != record.ExecPaused || h.StateInfo != "hold on" {
		t.Fatalf("head %s %q", h.State, h.StateInfo)
	}
	if u := w.unit(id, "b#1", 0); u.State != record.Paused {
		t.Fatalf("b is %s", u.State)
	}
	// The stale message of b cannot win a claim.
	if w.claim(w.takeTask("b#1")) {
		t.Fatal("a paused unit was claimed")
	}
	// a finishes while paused: its result is applied, c is created PAUSED
	// and nothing is sent.
	w.finish(ma)
	out = w.deliver(w.events[0])
	w.events = w.events[1:]
	if out.Exec == nil || out.Exec.State != record.ExecPaused {
		t.Fatalf("result while paused not applied: %+v", out.Exec)
	}
	if len(out.After) != 0 {
		t.Errorf("effects while paused: %+v", out.After)
	}
	if u := w.unit(id, "c#1", 0); u.State != record.Paused {
		t.Fatalf("c is %s", u.State)
	}
	// Resume: paused units move back to SCHEDULED with new fences, then
	// their messages go out.
	ev := CommandEvent(id, record.OpResume, record.Command{}, "2")
	out = w.deliver(ev)
	if len(out.After) != 2 {
		t.Fatalf("resume effects %+v", out.After)
	}
	for _, e := range out.After {
		m := e.MoveUnit
		if m == nil || m.Change.State != record.Scheduled || m.Then == nil || m.Then.SendTask == nil {
			t.Fatalf("resume effect %+v", e)
		}
		if m.Then.SendTask.Fence != m.Change.Fence || m.Change.Fence != Fence(ev.ID, m.Key.Task, 0, 1) {
			t.Errorf("resume fence %+v", m)
		}
	}
	w.hold = false
	w.run()
	if h := w.execs[id]; h.State != record.ExecSuccess {
		t.Fatalf("state %s %q", h.State, h.StateInfo)
	}
	for _, task := range []string{"a#1", "b#1", "c#1"} {
		if n := w.runs[record.UnitKey{ExecID: id, Task: task}]; n != 1 {
			t.Errorf("%s ran %d times", task, n)
		}
	}
}

func TestCancelMidFlight(t *testing.T) {
	t.Parallel()
	w := newWorld(t, parallel3)
	w.hold = true
	id := w.start("", "")
	w.drain()
	ma := w.takeTask("a#1")
	w.claim(ma)
	out := w.deliver(CommandEvent(id, record.OpCancel, record.Command{Msg: "stop"}, ""))
	for _, wr := range out.Before {
		if m := wr.MoveUnit; m != nil && m.Change.State != record.Cancelled {
			t.Errorf("cancel move %+v", m)
		}
	}
	h := w.execs[id]
	if h.State != record.ExecCancelled || h.StateInfo != "stop" {
		t.Fatalf("head %s %q", h.State, h.StateInfo)
	}
	if diff := cmp.Diff([]string{"a=CANCELLED", "b=CANCELLED"}, w.taskList(id)); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if w.claim(w.takeTask("b#1")) {
		t.Fatal("a cancelled unit was claimed")
	}
	// a's late result is stale.
	w.finish(ma)
	if out := w.deliver(w.events[0]); out.Exec != nil {
		t.Fatalf("result after cancel applied: %+v", out.Exec)
	}
	if n := w.runs[record.UnitKey{ExecID: id, Task: "b#1"}]; n != 0 {
		t.Errorf("b ran %d times", n)
	}
	if diff := cmp.Diff(map[string]any{"result": "stop"}, w.output(id)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestStaleAndDuplicateEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    t:
      with-items: x in [1, 2]
      action: std.noop
`)
	w.hold = true
	id := w.start("", "")
	w.drain()
	m0 := w.takeTask("t#1")
	w.work(m0)
	done := w.events[0]
	w.events = nil
	first := w.deliver(done)
	if first.Exec == nil {
		t.Fatal("attempt-done not applied")
	}
	tests := []struct {
		name    string
		ev      record.Event
		wantOut []Effect // After of a recognised duplicate
	}{
		{name: "same event again returns its effects", ev: done, wantOut: first.After},
		{name: "wrong fence", ev: record.DoneEvent(m0.Key(), 1, "bogus")},
		{name: "wrong attempt", ev: record.DoneEvent(m0.Key(), 2, m0.Fence)},
		{name: "item already counted", ev: func() record.Event { e := done; e.ID += "-other"; return e }()},
		{name: "unknown task", ev: record.DoneEvent(record.UnitKey{ExecID: id, Task: "nope#1"}, 1, "f")},
		{name: "unit not final", ev: record.DoneEvent(record.UnitKey{ExecID: id, Task: "t#1", Item: 1}, 1, w.unit(id, "t#1", 1).Fence)},
		{name: "start again", ev: StartEvent(id)},
		{name: "resume while running", ev: CommandEvent(id, record.OpResume, record.Command{}, "")},
	}
	for _, tc := range tests {
		out, err := Step(w.input(tc.ev))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if out.Exec != nil || len(out.Before) != 0 {
			t.Errorf("%s: changed the execution: %+v", tc.name, out)
		}
		if diff := cmp.Diff(tc.wantOut, out.After); diff != "" {
			t.Errorf("%s: effects (-want +got):\n%s", tc.name, diff)
		}
	}
	// An older duplicate (not the last applied event) is recognised too,
	// and nothing is re-sent for it.
	w.work(w.takeTask("t#1"))
	w.drain()
	if out, _ := Step(w.input(done)); out.Exec != nil || out.After != nil {
		t.Errorf("old duplicate: %+v", out)
	}
	if w.execs[id].State != record.ExecSuccess {
		t.Fatalf("state %s", w.execs[id].State)
	}
}

func TestPauseBeforeAndPauseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{name: "pause-before", src: `
version: '2.0'
wf:
  tasks:
    a: {action: std.noop, on-success: b}
    b: {action: std.noop, pause-before: true}
`},
		{name: "pause command", src: `
version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success: [pause, b]
    b: {action: std.noop}
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.src)
			id := w.start("", "")
			w.run()
			if h := w.execs[id]; h.State != record.ExecPaused {
				t.Fatalf("state %s %q", h.State, h.StateInfo)
			}
			if n := w.runs[record.UnitKey{ExecID: id, Task: "b#1"}]; n != 0 {
				t.Fatalf("b ran before the resume")
			}
			w.events = append(w.events, CommandEvent(id, record.OpResume, record.Command{}, ""))
			w.run()
			if h := w.execs[id]; h.State != record.ExecSuccess {
				t.Fatalf("state %s %q", h.State, h.StateInfo)
			}
			if diff := cmp.Diff([]string{"a=SUCCESS", "b=SUCCESS"}, w.taskList(id)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRerun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		task  string
		tasks []string
		runs  map[string]int // per "task/item"
		out   string
	}{
		{
			name: "plain task",
			src: `
version: '2.0'
wf:
  input: [v]
  output: {r: <% $.r %>}
  tasks:
    a: {action: std.noop, publish: {x: <% $.v %>}, on-success: b}
    b: {action: once output=<% $.x %>, publish: {r: <% task().result %>}}
`,
			task:  "b",
			tasks: []string{"a=SUCCESS", "b=ERROR", "b=SUCCESS"},
			runs:  map[string]int{"a#1/0": 1, "b#1/0": 1, "b#2/0": 1},
			out:   `{"r":5}`,
		},
		{
			name: "with-items reruns the failed items only",
			src: `
version: '2.0'
wf:
  input: [v]
  output: {r: <% $.r %>}
  tasks:
    t:
      with-items: x in [1, 2, 3]
      action: once output=<% $.x %>
      publish: {r: <% task().result %>}
`,
			task:  "t#1",
			tasks: []string{"t=ERROR", "t=SUCCESS"},
			runs:  map[string]int{"t#1/0": 1, "t#1/1": 1, "t#1/2": 1, "t#2/1": 1},
			out:   `{"r":[1,2,3]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.src)
			failed := false
			w.actions["once"] = func(in map[string]any, _ int) (any, error) {
				if in["output"] == int64(2) || in["output"] == int64(5) {
					if !failed {
						failed = true
						return nil, errors.New("first time fails")
					}
				}
				return in["output"], nil
			}
			id := w.start("", `{"v":5}`)
			w.run()
			if h := w.execs[id]; h.State != record.ExecError {
				t.Fatalf("state %s", h.State)
			}
			w.events = append(w.events, CommandEvent(id, record.OpRerun, record.Command{Task: tc.task}, ""))
			w.run()
			h := w.execs[id]
			if h.State != record.ExecSuccess {
				t.Fatalf("state %s %q", h.State, h.StateInfo)
			}
			if diff := cmp.Diff(tc.tasks, w.taskList(id)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			runs := map[string]int{}
			for k, n := range w.runs {
				runs[fmt.Sprintf("%s/%d", k.Task, k.Item)] = n
			}
			if diff := cmp.Diff(tc.runs, runs); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(mustJSON(t, tc.out), w.output(id)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			old, now := w.task(id, strings.Split(tc.task, "#")[0]+"#1"), w.task(id, strings.Split(tc.task, "#")[0]+"#2")
			if string(old.Inbound) != string(now.Inbound) {
				t.Errorf("rerun inbound %s, want %s", now.Inbound, old.Inbound)
			}
		})
	}
}

func TestCancelParentCancelsChild(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
parent:
  tasks:
    call: {workflow: child}
child:
  tasks:
    slow: {action: std.noop}
`)
	w.hold = true
	id := w.start("parent", "")
	w.drain()
	child := ChildID(id, "call#1", 0, 1)
	if w.execs[child] == nil || w.execs[child].ParentID != id || w.execs[child].ParentKey != "call#1/0" {
		t.Fatalf("child %+v", w.execs[child])
	}
	if got := w.task(id, "call#1").ChildID; got != child {
		t.Errorf("task child id %q, want %q", got, child)
	}
	w.events = append(w.events, CommandEvent(id, record.OpCancel, record.Command{Msg: "enough"}, ""))
	w.hold = false
	w.run()
	if s := w.execs[id].State; s != record.ExecCancelled {
		t.Errorf("parent %s", s)
	}
	if s := w.execs[child].State; s != record.ExecCancelled {
		t.Errorf("child %s", s)
	}
	if n := w.runs[record.UnitKey{ExecID: child, Task: "slow#1"}]; n != 0 {
		t.Errorf("child task ran %d times", n)
	}
}

func TestRetryMovesUnitToNextAttempt(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    t:
      action: flaky
      retry: {count: 2, delay: 10}
`)
	w.actions["flaky"] = flaky(2)
	var moves []*MoveUnit
	w.onStep = func(w *world, ev record.Event, out Output) {
		for _, wr := range out.Before {
			if wr.MoveUnit != nil {
				moves = append(moves, wr.MoveUnit)
			}
		}
	}
	id := w.start("", "")
	w.run()
	if s := w.execs[id].State; s != record.ExecSuccess {
		t.Fatalf("state %s", s)
	}
	if len(moves) != 1 {
		t.Fatalf("moves %+v", moves)
	}
	m := moves[0]
	if m.Expect.Attempt != 1 || m.Change.Attempt != 2 || !m.Change.ClearOutcome || m.Change.Fence == "" {
		t.Errorf("retry move %+v", m)
	}
	if u := w.unit(id, "t#1", 0); u.Attempt != 2 || u.State != record.Success {
		t.Errorf("unit %+v", u)
	}
}

func TestNewExecution(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  input: [a, {b: 2}]
  tasks:
    t: {action: std.noop}
`)
	wf := w.bundle.Workflows["wf"]
	tests := []struct {
		name, input, want, err string
	}{
		{name: "defaults", input: `{"a":1}`, want: `{"a":1,"b":2}`},
		{name: "override", input: `{"a":1,"b":3}`, want: `{"a":1,"b":3}`},
		{name: "missing", input: `{}`, err: "Invalid input [name=wf, class=DirectWorkflowSpec, missing=['a']]"},
		{name: "unexpected", input: `{"a":1,"z":0,"y":0}`, err: "Invalid input [name=wf, class=DirectWorkflowSpec, unexpected=['y', 'z']]"},
		{name: "not an object", input: `[1]`, err: "input must be an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewExecution(wf, NewParams{ID: "x", Input: json.RawMessage(tc.input), Now: w.now})
			if tc.err != "" {
				var ie *InputError
				if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(h.Input) != tc.want || h.State != record.ExecRunning || h.Version != 0 {
				t.Errorf("head %+v", h)
			}
		})
	}
}

func TestCommandEventIDs(t *testing.T) {
	t.Parallel()
	a := CommandEvent("e", record.OpPause, record.Command{}, "n1")
	b := CommandEvent("e", record.OpPause, record.Command{}, "n1")
	c := CommandEvent("e", record.OpPause, record.Command{}, "n2")
	if a.ID != b.ID || a.ID == c.ID || a.Command.Op != record.OpPause {
		t.Errorf("ids %q %q %q", a.ID, b.ID, c.ID)
	}
	if StartEvent("e").ID != StartEvent("e").ID {
		t.Error("start ids differ")
	}
}
