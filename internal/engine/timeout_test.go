package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

const timeoutSrc = `
version: '2.0'
wf:
  tasks:
    slow_task:
      workflow: sleeper
      timeout: 1
      on-success: too_late
      on-error: timed_out
      publish-on-error:
        why: <% task().state_info %>
    too_late: {action: std.noop}
    timed_out: {action: std.echo output="timed out"}
sleeper:
  tasks:
    nap: {action: std.noop}
`

// TestSubWorkflowTimeout: a task whose sub-workflow is still running when
// the task's timeout is due fails through the ordinary error path (on-error
// runs, publish-on-error sees the error), and the child is cancelled.
func TestSubWorkflowTimeout(t *testing.T) {
	t.Parallel()
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "crash and replay"}[crash], func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, timeoutSrc)
			w.crash = crash
			id := w.start("wf", "")
			// The child's action never gets to run before the timer.
			w.hold = true
			w.run()
			child := ChildID(id, "slow_task#1", 0, 1)
			if s := w.execs[child].State; s != record.ExecCancelled {
				t.Errorf("child is %s, want CANCELLED", s)
			}
			w.hold = false
			w.run()
			head := w.execs[id]
			if head.State != record.ExecSuccess {
				t.Fatalf("state %s (%s), tasks %v", head.State, head.StateInfo, w.taskList(id))
			}
			if diff := cmp.Diff([]string{"slow_task=ERROR", "timed_out=SUCCESS"}, w.taskList(id)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			slow := w.task(id, "slow_task#1")
			const want = "sub-workflow sleeper timed out after 1 seconds"
			if slow.StateInfo != want {
				t.Errorf("state info %q, want %q", slow.StateInfo, want)
			}
			if diff := cmp.Diff(mustJSON(t, `{"why":"`+want+`"}`), mustJSON(t, string(slow.Published))); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
			if w.runs[record.UnitKey{ExecID: child, Task: "nap#1"}] != 0 {
				t.Errorf("the cancelled child's action ran")
			}
		})
	}
}

// TestSubWorkflowWithinTimeout: a child that ends in time wins, and the
// timer that fires later changes nothing.
func TestSubWorkflowWithinTimeout(t *testing.T) {
	t.Parallel()
	w := newWorld(t, timeoutSrc)
	id := w.start("wf", "")
	w.run()
	if diff := cmp.Diff([]string{"slow_task=SUCCESS", "too_late=SUCCESS"}, w.taskList(id)); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if w.execs[id].State != record.ExecSuccess {
		t.Errorf("state %s", w.execs[id].State)
	}
	if w.stale == 0 {
		t.Errorf("the timeout timer was not delivered, or not found stale")
	}
}

// TestSubWorkflowTimeoutRetries: a timed-out attempt is retried like any
// failed one; each attempt's child gets its own timer.
func TestSubWorkflowTimeoutRetries(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    slow_task:
      workflow: sleeper
      timeout: 5
      retry: {count: 2, delay: 0}
sleeper:
  tasks:
    nap: {action: std.noop}
`)
	id := w.start("wf", "")
	w.hold = true
	w.run()
	head := w.execs[id]
	if head.State != record.ExecError || !contains(head.StateInfo, "timed out after 5 seconds") {
		t.Fatalf("state %s (%s), want ERROR naming the timeout", head.State, head.StateInfo)
	}
	for att := 1; att <= 3; att++ {
		c := ChildID(id, "slow_task#1", 0, att)
		if e, ok := w.execs[c]; !ok || e.State != record.ExecCancelled {
			t.Errorf("child of attempt %d: %+v, want CANCELLED", att, e)
		}
	}
	if u := w.unit(id, "slow_task#1", 0); u.Attempt != 3 || u.State != record.Error {
		t.Errorf("unit at attempt %d in %s, want 3 in ERROR", u.Attempt, u.State)
	}
}
