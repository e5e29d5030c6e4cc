package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Completion is the outcome of an attempt whose action returned
// action.ErrPending, reported by whatever did its work.
type Completion struct {
	// ID is the attempt's callback id (record.CallbackID).
	ID string
	// Result is the attempt's result (JSON; null when empty), used when
	// Error is empty.
	Result json.RawMessage
	// Error, when set, ends the attempt in ERROR with this error (JSON);
	// the task's retry policy applies as to any error.
	Error json.RawMessage
}

// ErrStale is wrapped by the error of a completion whose attempt is no
// longer current: it timed out, was retried, cancelled, rescheduled after
// a pause, completed already, or its execution ended. Such a completion
// changes nothing.
var ErrStale = errors.New("the attempt is no longer current")

// await records that the unit's action started work whose outcome comes
// with a completion: the unit stays RUNNING with no lease, holding its
// callback id and heartbeat timeout (record.Awaited), due at the attempt's
// deadline (record.Unit.AwaitDue: its first heartbeat's, or its timeout
// from the claim; none without either). The execution's Due is moved to
// that deadline when it is later, so the reconciler ends the attempt if
// no completion comes.
func (c *Worker) await(ctx context.Context, log *slog.Logger, u *record.Unit, x record.Expect, heartbeat time.Duration) error {
	due := u.AwaitDue(heartbeat, c.Now())
	id := record.CallbackID(u.UnitKey, u.Attempt, u.Fence)
	_, err := c.Store.UpdateUnit(ctx, u.UnitKey, x, record.UnitChange{State: record.Running, Due: due, Result: record.Awaited(id, heartbeat)})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		// Completed (or ended) before the wait was written: announce
		// that end again, as for any outcome recorded elsewhere.
		return c.unclaimed(ctx, log, u.UnitKey, u.Attempt, u.Fence)
	}
	if err != nil {
		return fmt.Errorf("record unit %s attempt %d as awaiting its completion: %w", u.UnitKey, u.Attempt, err)
	}
	log.Info("attempt awaits its completion", "action", u.Action, "callback_id", id, "due", due, "heartbeat", heartbeat)
	e, err := c.cancelWait(ctx, log, u)
	if err != nil {
		// Delivered again, the message finds the wait and looks again.
		return err
	}
	if !due.IsZero() && !e.State.Terminal() {
		if err := lookBy(ctx, c.Store, e, due); err != nil {
			// The reconciler still looks when the head's own Due comes.
			log.Warn("could not move the execution's next look to the attempt's deadline", "err", err)
		}
	}
	return nil
}

// cancelWait ends the wait of u's attempt CANCELLED when its execution has
// ended (and does not drain the task, docs/protocol.md): the step that
// ended it found the attempt held by this worker, its action still
// running, and left it to the worker, whose wait came after (the step's
// own look after its commit, EndWaits, catches a wait recorded before
// that; this one, any later). It returns the head it read.
func (c *Worker) cancelWait(ctx context.Context, log *slog.Logger, u *record.Unit) (*record.Execution, error) {
	e, err := c.Store.GetExecution(ctx, u.ExecID)
	if err != nil {
		return nil, fmt.Errorf("read execution %s after unit %s attempt %d started its wait: %w", u.ExecID, u.UnitKey, u.Attempt, err)
	}
	if !e.State.Terminal() || drains(e, u.UnitKey) {
		return e, nil
	}
	ended, err := store.CancelWait(ctx, c.Store, u)
	if err != nil {
		return nil, err
	}
	if ended {
		log.Info("the execution ended while the action ran: its wait is cancelled", "execution_state", e.State)
	}
	return e, nil
}

// lookBy moves an execution's Due to at, when it is set and later, from
// the head e as read. Moving it earlier is always safe: the reconciler
// looks, and moves it on to when something is due. An engine step that
// commits meanwhile keeps its own.
func lookBy(ctx context.Context, st store.Store, e *record.Execution, at time.Time) error {
	for range 3 {
		if e.Due.IsZero() || !e.Due.After(at) {
			return nil
		}
		err := st.SetDue(ctx, e.ID, e.Version, at)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		if e, err = st.GetExecution(ctx, e.ID); err != nil {
			return err
		}
	}
	return nil
}

// Complete ends an attempt that awaits its completion, on the worker's
// outcome path: SUCCESS with c.Result or ERROR with c.Error, conditional
// on the unit being RUNNING at the attempt and fence the callback id
// names (the claim rule), then the attempt-done event. A completion for an
// attempt that is no longer current returns an error wrapping ErrStale
// and changes nothing; a malformed id, record.ErrBadCallbackID. Complete
// needs Store and Events.
//
// A completion may come before the worker recorded the wait (the remote
// side was quick): the unit is RUNNING at the same attempt and fence, so
// it is accepted, and the worker's own write then finds the attempt ended.
func (w *Worker) Complete(ctx context.Context, comp Completion) error {
	c := w.config()
	u, err := c.named(ctx, comp.ID)
	if err != nil {
		return err
	}
	k, attempt, fence := u.UnitKey, u.Attempt, u.Fence
	log := c.Log.With("execution_id", k.ExecID, "task", k.Task, "attempt", attempt, "item", k.Item)

	limit := c.MaxValueBytes
	if limit <= 0 || limit > valueLimit(u) {
		limit = valueLimit(u)
	}
	out := outcome{val: comp.Result}
	if len(comp.Result) == 0 {
		out.val = nil
	}
	if len(comp.Error) > 0 {
		out = outcome{err: &action.Failure{Data: comp.Error}}
	}
	ch := outcomeChange(u, out, limit)
	ch.Finished, ch.ClearOutcome = c.Now(), true
	_, err = c.Store.UpdateUnit(ctx, k, record.Expect{States: []record.State{record.Running}, Attempt: attempt, Fence: fence}, ch)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		// Ended meanwhile (its deadline passed, the execution was
		// cancelled): say how it ended.
		if u, gerr := c.Store.GetUnit(ctx, k); gerr == nil {
			if cerr := current(u, attempt, fence); cerr != nil {
				return cerr
			}
		}
		return fmt.Errorf("%w: the attempt ended meanwhile", ErrStale)
	}
	if err != nil {
		return fmt.Errorf("complete unit %s attempt %d: %w", k, attempt, err)
	}
	log.Info("attempt completed", "state", ch.State)
	return c.notify(ctx, k, attempt, fence)
}

// Heartbeat says that the work of an attempt awaiting its completion
// goes on. When its action asked for heartbeats (action.Pending), the
// attempt's deadline moves to a heartbeat timeout from now, never past the
// task's timeout; it returns that deadline (zero: none). Conditional on the
// attempt the callback id names, as a completion is: a heartbeat for an
// attempt that is no longer current, or that comes after its deadline,
// returns an error wrapping ErrStale and changes nothing. A heartbeat
// before the wait is recorded (the worker still holds the attempt) changes
// nothing either: the wait starts its first heartbeat timeout when it is
// recorded. Heartbeat needs Store.
func (w *Worker) Heartbeat(ctx context.Context, id string) (time.Time, error) {
	c := w.config()
	u, err := c.named(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	k, attempt, fence := u.UnitKey, u.Attempt, u.Fence
	if !u.Awaiting() {
		return time.Time{}, nil // the worker still holds the attempt
	}
	hb := u.AwaitHeartbeat()
	if hb == 0 {
		return u.Due, nil
	}
	now := c.Now()
	if !u.Due.IsZero() && !now.Before(u.Due) {
		return time.Time{}, fmt.Errorf("%w: the heartbeat came after attempt %d's deadline, %s", ErrStale, attempt, u.Due.UTC().Format(time.RFC3339))
	}
	due := u.AwaitDue(hb, now)
	if !due.After(u.Due) {
		return u.Due, nil // at the task's timeout already
	}
	_, err = c.Store.UpdateUnit(ctx, k, record.Expect{States: []record.State{record.Running}, Attempt: attempt, Fence: fence}, record.UnitChange{State: record.Running, Due: due})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return time.Time{}, fmt.Errorf("%w: the attempt ended meanwhile", ErrStale)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat of unit %s attempt %d: %w", k, attempt, err)
	}
	return due, nil
}

// named reads the unit whose attempt a callback id names, checking that
// the attempt is current (the unit's Attempt and Fence are the id's) and
// its execution goes on: an error wrapping ErrStale when not,
// record.ErrBadCallbackID for a malformed id.
func (c *Worker) named(ctx context.Context, id string) (*record.Unit, error) {
	k, attempt, fence, err := record.ParseCallbackID(id)
	if err != nil {
		return nil, err
	}
	u, err := c.Store.GetUnit(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: there is no such task execution", ErrStale)
	}
	if err != nil {
		return nil, fmt.Errorf("read unit %s: %w", k, err)
	}
	if err := current(u, attempt, fence); err != nil {
		return nil, err
	}
	e, err := c.Store.GetExecution(ctx, k.ExecID)
	if err != nil {
		return nil, fmt.Errorf("read execution %s: %w", k.ExecID, err)
	}
	if e.State.Terminal() && !drains(e, k) {
		return nil, fmt.Errorf("%w: execution %s is %s", ErrStale, e.ID, e.State)
	}
	return u, nil
}

// current reports, as an ErrStale error, why a unit's attempt cannot take
// a completion for attempt and fence.
func current(u *record.Unit, attempt int, fence string) error {
	switch {
	case u.Attempt != attempt:
		return fmt.Errorf("%w: attempt %d of task %s was followed by attempt %d", ErrStale, attempt, u.Task, u.Attempt)
	case u.Fence != fence:
		return fmt.Errorf("%w: attempt %d of task %s was rescheduled (paused and resumed, or restarted)", ErrStale, attempt, u.Task)
	case u.State == record.Running:
		return nil
	case u.State == record.Error:
		return fmt.Errorf("%w: attempt %d of task %s ended already in ERROR: %s", ErrStale, attempt, u.Task, clip([]byte(record.ErrorText(u.Error)), 200))
	case u.State.Terminal():
		return fmt.Errorf("%w: attempt %d of task %s ended already in %s", ErrStale, attempt, u.Task, u.State)
	}
	return fmt.Errorf("%w: attempt %d of task %s is %s, not running", ErrStale, attempt, u.Task, u.State)
}

// drains reports whether a final execution's task still goes on (it was
// running when `succeed` or `fail` ended the execution).
func drains(e *record.Execution, k record.UnitKey) bool {
	p, err := engine.Pending(e)
	if err != nil {
		return false
	}
	for _, r := range p {
		if r.Key == k.Task {
			return true
		}
	}
	return false
}

// valueLimit is the room a unit's record has for an outcome.
func valueLimit(u *record.Unit) int {
	return store.MaxItemBytes - len(u.Input) - valueOverhead
}
