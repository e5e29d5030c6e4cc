package e2e

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

// taskMessage is the message the engine sent (or would send) for a unit's
// current attempt.
func taskMessage(u *record.Unit) record.TaskMessage {
	return record.TaskMessage{ExecID: u.ExecID, Task: u.Task, Item: u.Item, Attempt: u.Attempt, Fence: u.Fence, Action: u.Action}
}

// messagesOf returns the task messages of the units in one of states.
func messagesOf(units []*record.Unit, states ...record.State) []record.TaskMessage {
	var msgs []record.TaskMessage
	for _, u := range units {
		for _, s := range states {
			if u.State == s {
				msgs = append(msgs, taskMessage(u))
				break
			}
		}
	}
	return msgs
}

// waitSettled waits until the engine, task and timer queues hold no
// message, visible or in flight, twice in a row: every message sent before
// was handled, and everything it caused too. Only a test that runs alone
// may rely on it.
func (c *client) waitSettled(t *testing.T, id string) {
	t.Helper()
	empty := 0
	waitFor(t, settle, "the queues to drain", func() (bool, string) {
		var status []string
		total := 0
		for _, q := range []string{"engine", "tasks", "timers"} {
			v, f, err := c.s.depth(t.Context(), q)
			if err != nil {
				return false, err.Error()
			}
			total += v + f
			status = append(status, fmt.Sprintf("%s %d+%d", q, v, f))
		}
		if total == 0 {
			empty++
		} else {
			empty = 0
		}
		return empty >= 2, strings.Join(status, ", ")
	}, func() string { return c.diagnose(id) })
}

// unclaimed returns the messages of the units that no worker ever claimed:
// a message for one of them that runs an action is a stale message that
// won.
func unclaimed(units []*record.Unit) []record.TaskMessage {
	var msgs []record.TaskMessage
	for _, u := range units {
		if u.Started.IsZero() {
			msgs = append(msgs, taskMessage(u))
		}
	}
	return msgs
}

// waitUnclaimed waits until no unit of an execution is RUNNING (the
// actions claimed before a pause or cancel have finished) and returns the
// units.
func (c *client) waitUnclaimed(t *testing.T, id string) []*record.Unit {
	t.Helper()
	var units []*record.Unit
	waitFor(t, settle, "claimed actions to finish", func() (bool, string) {
		units = c.units(t, id)
		for _, u := range units {
			if u.State == record.Running {
				return false, fmt.Sprintf("unit %s/%d RUNNING", u.Task, u.Item)
			}
		}
		return true, ""
	}, func() string { return c.diagnose(id) })
	return units
}

// Sizes of the fan-out the race test pauses and cancels: of its items,
// raceConcurrency are scheduled at once, more than the worker's mapping
// runs at once (workerParallel), so that some task messages wait in the
// queue when the command comes, and the rest wait for a free slot.
const (
	raceItems       = 30
	raceConcurrency = 20
)

// startFan starts the fan-out whose actions take 500 ms each, and waits
// until the first actions run.
func (c *client) startFan(t *testing.T, srv *counter, run string) string {
	t.Helper()
	id := c.submit(t, "fan.yaml", fanOut(raceConcurrency), "", map[string]any{"base": srv.srv.URL, "run": run, "items": items(raceItems), "ms": 500})
	waitFor(t, settle, "the first actions to run", func() (bool, string) {
		n := srv.Total(run)
		return n >= 3, fmt.Sprintf("%d actions ran", n)
	}, func() string { return c.diagnose(id) })
	return id
}

// TestStaleAndDuplicateTaskMessages sends task messages straight into the
// task queue — duplicates of live ones, and stale ones that sat in the
// queue while their execution was paused or cancelled — and proves with
// the counter that no action ran twice and none ran while its execution was
// not RUNNING (docs/protocol.md, rules 2 and 7).
//
// It does not run in parallel with the other tests: it knows that every
// message it sent was handled when the task queue is empty.
func TestStaleAndDuplicateTaskMessages(t *testing.T) {
	c := newClient(t)
	srv := newCounter(t)

	t.Run("pause and resume", func(t *testing.T) {
		run := newRun()
		id := c.startFan(t, srv, run)
		queued := messagesOf(c.units(t, id), record.Scheduled, record.Running)
		// Duplicates of every live message, while the execution runs.
		c.sendTasks(t, append(queued, queued...)...)

		c.command(t, id, record.OpPause)
		c.wait(t, id, settle, record.ExecPaused)
		c.waitSettled(t, id)
		units := c.waitUnclaimed(t, id)
		paused := unclaimed(units)
		if len(paused) == 0 {
			t.Fatalf("no unit was left unclaimed by the pause; the execution ran too fast to test it\n%s", c.diagnose(id))
		}
		before := srv.Hits(run)

		// The messages queued before the pause, delivered late, and the
		// paused units' current attempts.
		c.sendTasks(t, append(queued, paused...)...)
		c.waitSettled(t, id)
		if diff := cmp.Diff(before, srv.Hits(run)); diff != "" {
			t.Errorf("actions ran while the execution was PAUSED (-before +after):\n%s", diff)
		}
		for _, m := range paused {
			if n := srv.Hits(run)[strconv.Itoa(m.Item)]; n != 0 {
				t.Errorf("item %d was never claimed but its action ran %d times", m.Item, n)
			}
		}
		if h, err := c.head(id); err != nil || h.State != record.ExecPaused {
			t.Fatalf("execution after stale messages: %v %v, want PAUSED", h, err)
		}
		t.Logf("%d actions ran before the pause; %d units were never claimed, %d of them PAUSED; sent %d stale and %d duplicate task messages",
			len(before), len(paused), len(messagesOf(units, record.Paused)), len(queued)+len(paused), 2*len(queued))

		c.command(t, id, record.OpResume)
		c.succeed(t, id, settle)
		if diff := cmp.Diff(once(raceItems), srv.Hits(run)); diff != "" {
			t.Errorf("actions run (-want +got):\n%s", diff)
		}

		// Every message again, after the end.
		c.sendTasks(t, append(queued, messagesOf(c.units(t, id), record.Success, record.Error, record.Cancelled)...)...)
		c.waitSettled(t, id)
		if diff := cmp.Diff(once(raceItems), srv.Hits(run)); diff != "" {
			t.Errorf("actions run after messages of a finished execution (-want +got):\n%s", diff)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		run := newRun()
		id := c.startFan(t, srv, run)
		queued := messagesOf(c.units(t, id), record.Scheduled, record.Running)
		c.sendTasks(t, queued...)

		c.command(t, id, record.OpCancel)
		c.wait(t, id, settle, record.ExecCancelled)
		c.waitSettled(t, id)
		units := c.waitUnclaimed(t, id)
		before := srv.Hits(run)
		never := unclaimed(units)
		if len(never) == 0 {
			t.Fatalf("no unit was left unclaimed by the cancel; the execution ran too fast to test it\n%s", c.diagnose(id))
		}

		c.sendTasks(t, append(queued, never...)...)
		c.waitSettled(t, id)
		after := srv.Hits(run)
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("actions ran after the execution was CANCELLED (-before +after):\n%s", diff)
		}
		for _, m := range never {
			if n := after[strconv.Itoa(m.Item)]; n != 0 {
				t.Errorf("item %d was never claimed but its action ran %d times", m.Item, n)
			}
		}
		for k, n := range maps.All(after) {
			if n > 1 {
				t.Errorf("item %s's action ran %d times", k, n)
			}
		}
		if h, err := c.head(id); err != nil || h.State != record.ExecCancelled {
			t.Errorf("execution after stale messages: %v %v, want CANCELLED", h, err)
		}
		t.Logf("%d actions ran before the cancel, %d units were never claimed", len(before), len(never))
	})
}
