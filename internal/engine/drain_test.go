package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

// TestRunningTasksFinishAfterSucceed: when a `succeed` or `fail` command
// ends the workflow while another task's action runs, that task is not
// cancelled: it finishes with its action's outcome (and publishes), as in
// Mistral, and takes no transition; the execution's state and output are
// the ones the command decided. A task that had not started is cancelled.
func TestRunningTasksFinishAfterSucceed(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"succeed", "fail"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, `
version: '2.0'
wf:
  output: {fast: <% $.fast %>}
  tasks:
    slow:
      action: std.echo output="slow done"
      publish: {slow: <% task().result %>}
      on-success: after_slow
    waiting:
      action: std.noop
      wait-before: 60
    fast:
      action: std.noop
      publish: {fast: 1}
      on-success: [`+cmd+`]
    after_slow:
      action: std.noop
`)
			w.hold = true
			id := w.start("wf", "")
			w.run()
			// Run fast alone: its command ends the workflow while slow's
			// message waits and waiting's timer has not fired.
			var slow record.TaskMessage
			for _, m := range w.taskq {
				if m.Task == "slow#1" {
					slow = m
					w.claim(m) // its worker runs it
				}
			}
			for _, m := range w.taskq {
				if m.Task == "fast#1" {
					w.work(m)
				}
			}
			w.taskq = nil
			w.run()
			e := w.execs[id]
			want := map[string]record.ExecState{"succeed": record.ExecSuccess, "fail": record.ExecError}[cmd]
			if e.State != want {
				t.Fatalf("state %s %q, want %s", e.State, e.StateInfo, want)
			}
			if e.Due.IsZero() {
				t.Error("the execution has no Due while a task drains: the reconciler would not watch its worker")
			}
			output := w.output(id)
			w.finish(slow)
			w.hold = false
			w.run()
			if got := w.task(id, "slow#1"); got.State != record.Success || string(got.Result) != `"slow done"` ||
				string(got.Published) != `{"slow":"slow done"}` {
				t.Errorf("slow: %s result %s published %s, want SUCCESS with its result and publish", got.State, got.Result, got.Published)
			}
			if got := w.task(id, "waiting#1"); got.State != record.Cancelled {
				t.Errorf("waiting: %s, want CANCELLED", got.State)
			}
			if w.task(id, "after_slow#1") != nil {
				t.Error("a transition of the drained task was taken")
			}
			e = w.execs[id]
			if e.State != want || !e.Due.IsZero() || len(w.book(id).Active) != 0 {
				t.Errorf("after the drain: state %s, due %v, active %d; want %s, none, none", e.State, e.Due, len(w.book(id).Active), want)
			}
			if diff := cmp.Diff(output, w.output(id)); diff != "" {
				t.Errorf("the output changed after the drain (-before +after):\n%s", diff)
			}
		})
	}
}
