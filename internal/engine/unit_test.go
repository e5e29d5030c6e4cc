package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

// awaits has tasks whose attempts are, when the execution ends or pauses,
// awaiting their completion (waits, item 0 of items), run by a worker
// (works, item 1 of items), or not claimed yet (queued, item 2 of items);
// ender ends the workflow with a `fail` command when it runs.
const awaits = `
version: '2.0'
wf:
  tasks:
    waits: {action: std.noop}
    works: {action: std.noop}
    queued: {action: std.noop}
    items:
      with-items: i in <% [1, 2, 3] %>
      action: std.noop
    ender: {action: std.noop, on-success: [fail]}
`

// TestHaltEndsAwaitedAttempts: when an execution ends, an attempt that
// awaits its completion (RUNNING, holding its callback marker, no worker)
// ends CANCELLED in the same step, by the write that cancels the unclaimed
// work: a RUNNING unit matches it only while it awaits, so an attempt a
// worker holds is left to its worker. A drained task (a `fail` command
// ended the workflow) and a pause leave the awaited attempt alone.
func TestHaltEndsAwaitedAttempts(t *testing.T) {
	t.Parallel()
	cancel := func(w *world, id string) Output {
		return w.deliver(CommandEvent(id, record.OpCancel, record.Command{Msg: "stop"}, "cancel"))
	}
	pause := func(w *world, id string) Output {
		return w.deliver(CommandEvent(id, record.OpPause, record.Command{}, "pause"))
	}
	// A cancel, whether or not the execution was paused first, ends every
	// unit but those a worker holds.
	cancelled := map[string]string{
		"waits#1/0": "CANCELLED", "works#1/0": "RUNNING", "queued#1/0": "CANCELLED", "ender#1/0": "CANCELLED",
		"items#1/0": "CANCELLED", "items#1/1": "RUNNING", "items#1/2": "CANCELLED",
	}
	cancelMoved := []string{"ender#1/0", "items#1/0", "items#1/1", "items#1/2", "queued#1/0", "waits#1/0", "works#1/0"}
	cancelLooked := []string{"ender#1/0-1", "items#1/0-3", "queued#1/0-1", "waits#1/0-1", "works#1/0-1"}
	for _, tc := range []struct {
		name string
		end  func(w *world, id string) Output
		exec record.ExecState
		// want is every unit's state after the step, "+result" when it
		// holds a result (an awaited one: its callback marker).
		want map[string]string
		// moved are the units the step's cancel writes name, looked the
		// ranges of items it looks at again after its commit.
		moved, looked []string
	}{
		{
			name:   "cancel",
			end:    cancel,
			exec:   record.ExecCancelled,
			want:   cancelled,
			moved:  cancelMoved,
			looked: cancelLooked,
		},
		{
			name: "cancel while paused",
			end: func(w *world, id string) Output {
				pause(w, id)
				return cancel(w, id)
			},
			exec:   record.ExecCancelled,
			want:   cancelled,
			moved:  cancelMoved,
			looked: cancelLooked,
		},
		{
			name: "fail command drains",
			end: func(w *world, id string) Output {
				w.work(w.message("ender#1", 0))
				var out Output
				for len(w.events) > 0 {
					ev := w.events[0]
					w.events = w.events[1:]
					out = w.deliver(ev)
				}
				return out
			},
			exec: record.ExecError,
			want: map[string]string{
				"waits#1/0": "RUNNING+result", "works#1/0": "RUNNING", "queued#1/0": "CANCELLED", "ender#1/0": "SUCCESS+result",
				"items#1/0": "CANCELLED", "items#1/1": "RUNNING", "items#1/2": "CANCELLED",
			},
			moved:  []string{"items#1/0", "items#1/1", "items#1/2", "queued#1/0"},
			looked: []string{"items#1/0-3", "queued#1/0-1"},
		},
		{
			name: "pause",
			end:  pause,
			exec: record.ExecPaused,
			want: map[string]string{
				"waits#1/0": "RUNNING+result", "works#1/0": "RUNNING", "queued#1/0": "PAUSED", "ender#1/0": "PAUSED",
				"items#1/0": "RUNNING+result", "items#1/1": "RUNNING", "items#1/2": "PAUSED",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, awaits)
			w.hold = true
			id := w.start("", "")
			w.drain()
			for _, k := range []string{"waits#1/0", "items#1/0"} {
				w.await(w.message(keyOf(k)))
			}
			for _, k := range []string{"works#1/0", "items#1/1"} {
				w.claim(w.message(keyOf(k)))
			}
			out := tc.end(w, id)
			if s := w.execs[id].State; s != tc.exec {
				t.Fatalf("execution is %s, want %s", s, tc.exec)
			}
			got := map[string]string{}
			for k, u := range w.units {
				s := string(u.State)
				if len(u.Result) > 0 {
					s += "+result"
				}
				got[fmt.Sprintf("%s/%d", k.Task, k.Item)] = s
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("units (-want +got):\n%s", diff)
			}
			// The runtime looks again after the commit at the units the
			// cancel writes named, task by task.
			var looked []string
			for _, e := range out.After {
				if r := e.EndWaits; r != nil {
					looked = append(looked, fmt.Sprintf("%s/%d-%d", r.Task, r.From, r.To))
				}
			}
			slices.Sort(looked)
			if diff := cmp.Diff(tc.looked, looked); diff != "" {
				t.Errorf("ranges looked at after the commit (-want +got):\n%s", diff)
			}
			var moved []string
			for _, wr := range out.Before {
				m := wr.MoveUnit
				if m == nil || m.Change.State != record.Cancelled {
					continue
				}
				moved = append(moved, fmt.Sprintf("%s/%d", m.Key.Task, m.Key.Item))
				if !m.Expect.Awaiting || !slices.Contains(m.Expect.States, record.Running) || !m.Change.ClearOutcome {
					t.Errorf("cancel of %s: %+v, want RUNNING admitted only while awaiting, its marker cleared", m.Key, m)
				}
			}
			slices.Sort(moved)
			if diff := cmp.Diff(tc.moved, moved); diff != "" {
				t.Errorf("units the cancel writes name (-want +got):\n%s", diff)
			}
		})
	}
}

// keyOf splits "task/item".
func keyOf(s string) (string, int) {
	i := strings.LastIndex(s, "/")
	item, _ := strconv.Atoi(s[i+1:])
	return s[:i], item
}

// message removes the queued task message of one item of a task execution.
func (w *world) message(task string, item int) record.TaskMessage {
	w.t.Helper()
	for i, m := range w.taskq {
		if m.Task == task && m.Item == item {
			w.taskq = slices.Delete(w.taskq, i, i+1)
			return m
		}
	}
	w.t.Fatalf("no task message for %s item %d in %v", task, item, w.taskq)
	return record.TaskMessage{}
}

// await claims a unit and records its attempt as awaiting its completion,
// as the worker does for an action that returned pending.
func (w *world) await(m record.TaskMessage) {
	w.t.Helper()
	if !w.claim(m) {
		w.t.Fatalf("claim of %s failed", m.Key())
	}
	w.units[m.Key()].Result = record.Awaited(record.CallbackID(m.Key(), m.Attempt, m.Fence), 0)
}
