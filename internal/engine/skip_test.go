package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

// TestSkip mirrors Mistral's task skip tests (test_task_skip.py): a user
// skips a failed task and the workflow goes on past it.
func TestSkip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		wf     string
		skip   string
		tasks  map[string]record.State // task execution key → final state
		output any
		state  record.ExecState
	}{
		{name: "on-skip is taken, not on-success", wf: `
wf:
  tasks:
    t1:
      action: std.fail
      on-skip: t2
      on-success: t3
    t2:
      action: std.noop
    t3:
      action: std.noop
`, skip: "t1", tasks: map[string]record.State{"t1#1": record.Skipped, "t2#1": record.Success}, state: record.ExecSuccess},
		{name: "without on-skip, on-success is taken", wf: `
wf:
  tasks:
    t1:
      action: std.fail
      on-success: t3
      on-complete: t4
    t3:
      action: std.noop
    t4:
      action: std.noop
`, skip: "t1#1", tasks: map[string]record.State{"t1#1": record.Skipped, "t3#1": record.Success, "t4#1": record.Success}, state: record.ExecSuccess},
		{name: "at the tail", wf: `
wf:
  tasks:
    t0:
      action: std.noop
      on-success: t1
    t1:
      action: std.fail
`, skip: "t1", tasks: map[string]record.State{"t0#1": record.Success, "t1#1": record.Skipped}, state: record.ExecSuccess},
		{name: "publish-on-skip replaces what it published", wf: `
wf:
  tasks:
    t0:
      action: std.noop
      on-success: t1
    t1:
      action: std.fail
      publish:
        success: 1
      publish-on-error:
        error: 1
      publish-on-skip:
        skip: 1
`, skip: "t1", tasks: map[string]record.State{"t0#1": record.Success, "t1#1": record.Skipped}, output: map[string]any{"skip": int64(1)}, state: record.ExecSuccess},
		{name: "an on-skip engine command", wf: `
wf:
  task-defaults:
    on-skip:
      - fail msg="skipped"
  tasks:
    t1:
      action: std.fail
`, skip: "t1", tasks: map[string]record.State{"t1#1": record.Skipped}, state: record.ExecError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, "version: '2.0'\n"+tt.wf)
			id := w.start("wf", "")
			w.run()
			if s := w.execs[id].State; s != record.ExecError {
				t.Fatalf("before the skip: state %s", s)
			}
			w.events = append(w.events, CommandEvent(id, record.OpSkip, record.Command{Task: tt.skip}, "1"))
			w.run()
			if e := w.execs[id]; e.State != tt.state {
				t.Fatalf("state %s %q, want %s", e.State, e.StateInfo, tt.state)
			}
			got := map[string]record.State{}
			for k := range w.tasks[id] {
				got[k] = w.task(id, k).State
			}
			if diff := cmp.Diff(tt.tasks, got); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if tt.output != nil {
				if diff := cmp.Diff(tt.output, w.output(id)); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestSkipOnlyAFailedTaskOfAFailedExecution(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    ok:
      action: std.noop
    bad:
      action: std.fail
`)
	id := w.start("wf", "")
	w.run()
	before := *w.execs[id]
	for _, task := range []string{"ok", "nope", "bad#7"} {
		w.events = append(w.events, CommandEvent(id, record.OpSkip, record.Command{Task: task}, task))
	}
	w.run()
	if w.execs[id].Version != before.Version || w.execs[id].State != record.ExecError {
		t.Fatalf("a skip of a task that did not fail changed the execution: %+v", w.execs[id])
	}
}
