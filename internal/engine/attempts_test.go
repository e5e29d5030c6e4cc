package engine

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

// lose claims a task execution's queued message for item and ends the
// attempt as the reconciler does when the worker's lease expires.
func (w *world) lose(task string, item int) record.UnitKey {
	w.t.Helper()
	for i, m := range w.taskq {
		if m.Task != task || m.Item != item {
			continue
		}
		w.taskq = append(w.taskq[:i:i], w.taskq[i+1:]...)
		if !w.claim(m) {
			w.t.Fatalf("claim of %s/%d failed", task, item)
		}
		u := w.units[m.Key()]
		u.State, u.Error = record.Error, record.LostError("the worker was lost")
		w.events = append(w.events, record.DoneEvent(u.UnitKey, u.Attempt, u.Fence))
		return u.UnitKey
	}
	w.t.Fatalf("no task message for %s/%d in %v", task, item, w.taskq)
	return record.UnitKey{}
}

// attempts lists the attempt of every unit of a task execution, by item.
func (w *world) attempts(exec, task string, items int) []int {
	w.t.Helper()
	out := make([]int, items)
	for i := range out {
		out[i] = w.unit(exec, task, i).Attempt
	}
	return out
}

// A lost worker of a safe-rerun with-items task re-runs that item only,
// as a new attempt of its unit, even while other items run or wait for
// room in the concurrency window.
func TestSafeRerunOfLostItem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		crash, reverse bool
		lost           []int // items lost, in order, at their first attempt
		retry          string
	}{
		{name: "first item of the window", lost: []int{0}},
		{name: "two items of the window", lost: []int{1, 0}},
		{name: "replayed after a crash", lost: []int{0}, crash: true},
		{name: "writes in reverse order", lost: []int{2}, reverse: true},
		{name: "with a retry policy", lost: []int{0}, retry: "retry: {count: 2, delay: 0}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, `
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    t:
      with-items: x in [1, 2, 3, 4, 5]
      concurrency: 3
      action: std.echo output=<% $.x %>
      safe-rerun: true
      publish: {r: <% task().result %>}
      `+tc.retry+`
`)
			w.crash, w.reverse = tc.crash, tc.reverse
			w.hold = true
			id := w.start("", "")
			w.drain()
			for _, i := range tc.lost {
				w.lose("t#1", i)
			}
			w.drain()
			w.hold = false
			w.run()
			h := w.execs[id]
			if h.State != record.ExecSuccess {
				t.Fatalf("state %s %q; units at attempts %v", h.State, h.StateInfo, w.attempts(id, "t#1", 5))
			}
			if diff := cmp.Diff(mustJSON(t, `{"r":[1,2,3,4,5]}`), w.output(id)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			want := []int{1, 1, 1, 1, 1}
			for _, i := range tc.lost {
				want[i] = 2
			}
			if diff := cmp.Diff(want, w.attempts(id, "t#1", 5)); diff != "" {
				t.Errorf("unit attempts (-want +got):\n%s", diff)
			}
			for i := range 5 {
				if n := w.runs[record.UnitKey{ExecID: id, Task: "t#1", Item: i}]; n != 1 {
					t.Errorf("item %d ran %d times to the end, want 1", i, n)
				}
			}
		})
	}
}

// An error the action marked final (Unit.NoRetry) is not retried, whatever
// the retry policy says; other errors are.
func TestNoRetryError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		state    record.ExecState
		attempts []int // of each unit of t#1, by item
	}{
		{
			name: "a final error is not retried",
			src: `
    t:
      action: final
      retry: {count: 3, delay: 0}
`,
			state:    record.ExecError,
			attempts: []int{1},
		},
		{
			name: "continue-on does not retry a final error",
			src: `
    t:
      action: final
      retry: {count: 3, delay: 0, continue-on: <% true %>}
`,
			state:    record.ExecError,
			attempts: []int{1},
		},
		{
			name: "an ordinary error is retried",
			src: `
    t:
      action: flaky
      retry: {count: 3, delay: 0}
`,
			state:    record.ExecSuccess,
			attempts: []int{2},
		},
		{
			name: "a final item error is not retried",
			src: `
    t:
      with-items: x in [1, 2, 3]
      action: final-on-2 x=<% $.x %>
      retry: {count: 2, delay: 0}
`,
			state:    record.ExecError,
			attempts: []int{1, 1, 1},
		},
		{
			name: "an ordinary item error retries the task",
			src: `
    t:
      with-items: x in [1, 2, 3]
      action: flaky
      retry: {count: 2, delay: 0}
`,
			state:    record.ExecSuccess,
			attempts: []int{2, 2, 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, "version: '2.0'\nwf:\n  tasks:"+tc.src)
			w.crash = true
			w.actions["final"] = func(map[string]any, int) (any, error) { return nil, final{"no use trying again"} }
			w.actions["final-on-2"] = func(in map[string]any, _ int) (any, error) {
				if fmt.Sprint(in["x"]) == "2" {
					return nil, final{"two is final"}
				}
				return in["x"], nil
			}
			w.actions["flaky"] = flaky(2)
			id := w.start("", "")
			w.run()
			if h := w.execs[id]; h.State != tc.state {
				t.Fatalf("state %s %q", h.State, h.StateInfo)
			}
			if diff := cmp.Diff(tc.attempts, w.attempts(id, "t#1", len(tc.attempts))); diff != "" {
				t.Errorf("unit attempts (-want +got):\n%s", diff)
			}
		})
	}
}

// Re-running a lost attempt is not a retry: the retry policy's count is
// left whole for the task's own failures.
func TestLostRerunKeepsRetryCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		items string
		want  []int // unit attempts at the end, by item
	}{
		{name: "plain task", want: []int{3}},
		{name: "with-items task", items: "with-items: x in [1, 2]", want: []int{3, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, `
version: '2.0'
wf:
  tasks:
    t:
      `+tc.items+`
      action: std.fail
      safe-rerun: true
      retry: {count: 1, delay: 0}
`)
			w.crash = true
			w.hold = true
			id := w.start("", "")
			w.drain()
			w.lose("t#1", 0)
			w.hold = false
			w.run()
			if h := w.execs[id]; h.State != record.ExecError {
				t.Fatalf("state %s %q", h.State, h.StateInfo)
			}
			if diff := cmp.Diff(tc.want, w.attempts(id, "t#1", len(tc.want))); diff != "" {
				t.Errorf("unit attempts (-want +got):\n%s", diff)
			}
		})
	}
}
