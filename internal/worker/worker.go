// Package worker runs the actions of task messages: the worker side of the
// protocol in docs/protocol.md.
//
// For each task message the worker
//
//  1. claims the unit: SCHEDULED → RUNNING, conditional on the message's
//     attempt and fence, under a lease. A message that loses the claim is
//     stale (paused, cancelled, superseded or a duplicate) and runs nothing;
//     if the attempt already ended, its attempt-done event is sent again,
//     since the delivery that ran it may have died before notifying.
//  2. runs the unit's action with its input, extending the lease (and the
//     message's visibility, through the caller's heartbeat) while it runs,
//     and bounding it by the unit's timeout and the caller's deadline.
//  3. records the outcome: RUNNING → SUCCESS with the result or ERROR with
//     the error, conditional on the attempt and fence. Losing that write
//     means the attempt was ended elsewhere (an expired lease): the outcome
//     is dropped, and the attempt-done event of that end is sent again,
//     in case its sender failed to.
//  4. notifies the engine with the attempt-done event, whose id is fixed by
//     the attempt and fence, so re-sends are deduplicated.
//
// The worker writes nothing else (invariant 1): the engine reads the
// outcome from the unit and decides what follows.
package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Defaults of Worker's optional fields.
const (
	DefaultLease  = time.Minute
	DefaultMargin = 5 * time.Second
	DefaultGrace  = 2 * time.Second
)

// valueOverhead is what a unit item holds besides its input and outcome
// (keys, state, fence, times, action name), with room to spare.
const valueOverhead = 2 * 1024

// Worker runs task messages. Store, Events and Actions are required; the
// other fields have defaults. A Worker is safe for concurrent use.
type Worker struct {
	Store   store.Store
	Events  queue.Queue // the engine queue: attempt-done events go there
	Actions *action.Registry
	Log     *slog.Logger // default slog.Default()

	// Lease is how long a claim holds without renewal; the worker renews
	// it every Lease/3 while the action runs. Default DefaultLease.
	Lease time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Margin is kept free before the caller's deadline (a Lambda
	// invocation's) to record and notify. Default DefaultMargin.
	Margin time.Duration
	// Grace is how long an action may take to return once its context
	// is done before the worker records the attempt without it (the
	// action's goroutine is then abandoned). Default DefaultGrace.
	Grace time.Duration
	// Atomic, when set, runs fn so that the store and queue calls it makes
	// with the context it is given commit together: the worker records an
	// outcome and sends its attempt-done event in one (the embedded
	// SQLite store and queues share a database). Nil runs fn as it is.
	Atomic func(ctx context.Context, fn func(ctx context.Context) error) error
	// CallbackURL is the API's completion route (<API>/v1/completions),
	// given to actions (action.Input.CallbackURL); empty when unknown.
	CallbackURL string
	// MaxValueBytes bounds a recorded result or error. The store's item
	// limit bounds it anyway (less the unit's input); 0 means that bound.
	MaxValueBytes int
}

// Validate reports every missing or invalid field.
func (w *Worker) Validate() error {
	var errs []error
	if w.Store == nil {
		errs = append(errs, errors.New("worker: Store is required"))
	}
	if w.Events == nil {
		errs = append(errs, errors.New("worker: Events is required"))
	}
	if w.Actions == nil {
		errs = append(errs, errors.New("worker: Actions is required"))
	}
	if w.Lease < 0 {
		errs = append(errs, fmt.Errorf("worker: Lease is %v, must not be negative", w.Lease))
	}
	if w.Margin < 0 {
		errs = append(errs, fmt.Errorf("worker: Margin is %v, must not be negative", w.Margin))
	}
	if w.Grace < 0 {
		errs = append(errs, fmt.Errorf("worker: Grace is %v, must not be negative", w.Grace))
	}
	if w.MaxValueBytes < 0 {
		errs = append(errs, fmt.Errorf("worker: MaxValueBytes is %d, must not be negative", w.MaxValueBytes))
	}
	return errors.Join(errs...)
}

// config is the worker with defaults filled in.
func (w *Worker) config() *Worker {
	c := *w
	c.Log = cmp.Or(c.Log, slog.Default())
	c.Lease = cmp.Or(c.Lease, DefaultLease)
	c.Margin = cmp.Or(c.Margin, DefaultMargin)
	c.Grace = cmp.Or(c.Grace, DefaultGrace)
	if c.Now == nil {
		c.Now = time.Now
	}
	return &c
}

// DoneEvent is the attempt-done event of one attempt of a unit, the same
// whoever ends the attempt (record.DoneEvent).
func DoneEvent(k record.UnitKey, attempt int, fence string) record.Event {
	return record.DoneEvent(k, attempt, fence)
}

// IdempotencyKey is the key an action receives for one attempt of a unit:
// the same on every run of that attempt, different for any other.
func IdempotencyKey(k record.UnitKey, attempt int) string {
	return fmt.Sprintf("%s/%s/%d/%d", k.ExecID, k.Task, k.Item, attempt)
}

// Handle runs one task message. heartbeat, when not nil, is called with
// the lease duration every Lease/3 while the action runs, to keep the
// message hidden (SQS ChangeMessageVisibility); its errors are logged.
//
// Handle returns nil when the message is done with: it ran and its outcome
// was recorded and announced, or it was stale. It returns an error when the
// message must be delivered again (a store or queue failure, or ctx ended
// before the outcome could be recorded).
func (w *Worker) Handle(ctx context.Context, m record.TaskMessage, heartbeat func(time.Duration) error) error {
	_, err := w.HandleThen(ctx, m, heartbeat, nil)
	return err
}

// HandleThen is Handle for a caller that deletes the message itself: once
// the outcome is recorded and announced, it calls del in the same
// transaction (Atomic), and reports deleted when del succeeded. When the
// message is done with otherwise (it was stale), the caller deletes it.
func (w *Worker) HandleThen(ctx context.Context, m record.TaskMessage, heartbeat func(time.Duration) error, del func(ctx context.Context) error) (deleted bool, err error) {
	c := w.config()
	log := c.Log.With("execution_id", m.ExecID, "task", m.Task, "attempt", m.Attempt, "item", m.Item)
	k := m.Key()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= c.Margin {
		// Too little time to run anything and record it: leave the
		// message for a delivery that has time.
		return false, fmt.Errorf("unit %s attempt %d: only %v left before the deadline, less than the %v margin", k, m.Attempt, time.Until(dl).Round(time.Millisecond), c.Margin)
	}

	now := c.Now()
	u, err := c.Store.UpdateUnit(ctx, k,
		record.Expect{States: []record.State{record.Scheduled}, Attempt: m.Attempt, Fence: m.Fence},
		record.UnitChange{State: record.Running, Due: now.Add(c.Lease), Started: now})
	if err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return false, c.unclaimed(ctx, log, k, m.Attempt, m.Fence)
		}
		return false, fmt.Errorf("claim unit %s attempt %d: %w", k, m.Attempt, err)
	}
	log.Debug("claimed", "action", u.Action)

	out := c.run(ctx, log, u, heartbeat)
	if ctx.Err() != nil {
		// The caller stopped (SIGTERM, the end of bora run) while the
		// action ran: its outcome, or its interruption, is recorded all the
		// same, so that the attempt is not found lost when its lease
		// expires, the task's policy deciding what follows.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		ctx = rctx
	}
	return c.finish(ctx, log, u, out, del)
}

// recordTimeout bounds recording an outcome once the caller has stopped.
const recordTimeout = 10 * time.Second

// unclaimed handles a message whose claim failed.
// ErrAttemptRunning is returned for a task message whose attempt is still
// RUNNING under a claim: the message must be kept and delivered again.
var ErrAttemptRunning = errors.New("attempt is running under another claim; its message is kept until the attempt ends")

func (c *Worker) unclaimed(ctx context.Context, log *slog.Logger, k record.UnitKey, attempt int, fence string) error {
	u, err := c.Store.GetUnit(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		log.Debug("stale task message: no such unit")
		return nil
	}
	if err != nil {
		return fmt.Errorf("read unit %s after a lost claim: %w", k, err)
	}
	if u.Attempt == attempt && u.Fence == fence && (u.State == record.Success || u.State == record.Error) {
		// An earlier delivery ran this attempt; it may have died before
		// notifying. The event id is fixed, so a second one is harmless.
		log.Debug("attempt already ended; notifying again", "state", u.State)
		return c.notify(ctx, k, attempt, fence)
	}
	if u.Attempt == attempt && u.Fence == fence && u.Awaiting() {
		if !u.Due.IsZero() && !u.Due.After(c.Now()) {
			return c.Fail(ctx, u, "")
		}
		// The action ran and its completion is awaited: nothing to keep
		// the message for (the completion announces the end), unless the
		// execution ended without ending the wait.
		log.Debug("attempt awaits its completion")
		_, err := c.cancelWait(ctx, log, u)
		return err
	}
	if u.Attempt == attempt && u.Fence == fence && u.State == record.Running {
		if !u.Due.IsZero() && !u.Due.After(c.Now()) {
			// Its lease expired: the worker that claimed it was lost
			// (this message came back because that worker never
			// deleted it). End the attempt as the reconciler would.
			return c.Fail(ctx, u, lostReason(u))
		}
		// The attempt runs elsewhere, or ran here and died before it
		// recorded the outcome. Keep the message: it comes back after its
		// visibility timeout, when the attempt has ended (its worker
		// finished, or its lease expired, which this message then finds),
		// and then announces that end in case nobody else could.
		return fmt.Errorf("unit %s attempt %d: %w", k, attempt, ErrAttemptRunning)
	}
	log.Debug("stale task message", "state", u.State, "unit_attempt", u.Attempt, "same_fence", u.Fence == fence)
	return nil
}

// Causes of the end of an action's context.
var (
	errLeaseLost      = errors.New("the lease was lost: the attempt was ended elsewhere")
	errWorkerDeadline = errors.New("the worker's time limit was reached")
	errStopped        = errors.New("the worker stopped")
)

// timeoutError is the cause of a unit's timeout.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("timed out after %s seconds", formatSeconds(e.d))
}

type outcome struct {
	val any
	err error
}

// run runs the unit's action and returns its outcome: what the action
// returned, or why it was stopped.
func (c *Worker) run(ctx context.Context, log *slog.Logger, u *record.Unit, heartbeat func(time.Duration) error) (out outcome) {
	act, ok := c.Actions.Lookup(u.Action)
	if !ok {
		return outcome{err: action.NonRetryable(fmt.Errorf("unknown action %q: no action of that name is registered with the worker", u.Action))}
	}
	params, err := action.DecodeParams(u.Input)
	if err != nil {
		return outcome{err: action.NonRetryable(fmt.Errorf("action %s: %w", u.Action, err))}
	}
	in := action.Input{
		Params:         params,
		IdempotencyKey: IdempotencyKey(u.UnitKey, u.Attempt),
		ExecutionID:    u.ExecID,
		Task:           u.Task,
		Item:           u.Item,
		Attempt:        u.Attempt,
		Fence:          u.Fence,
		CallbackID:     record.CallbackID(u.UnitKey, u.Attempt, u.Fence),
		CallbackURL:    c.CallbackURL,
	}

	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	// The caller stopping stops the action, with that cause.
	defer context.AfterFunc(ctx, func() { cancel(errStopped) })()
	if dl, ok := ctx.Deadline(); ok {
		var stop context.CancelFunc
		runCtx, stop = context.WithDeadlineCause(runCtx, dl.Add(-c.Margin), errWorkerDeadline)
		defer stop()
	}
	if u.Timeout > 0 {
		var stop context.CancelFunc
		runCtx, stop = context.WithTimeoutCause(runCtx, u.Timeout, &timeoutError{d: u.Timeout})
		defer stop()
	}

	start := time.Now()
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				log.Error("action panicked", "action", u.Action, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- outcome{err: fmt.Errorf("action %s panicked: %v", u.Action, p)}
			}
		}()
		v, err := act.Run(runCtx, in)
		done <- outcome{val: v, err: err}
	}()

	tick := time.NewTicker(max(c.Lease/3, time.Millisecond))
	defer tick.Stop()
wait:
	for {
		select {
		case out = <-done:
			break wait
		case <-tick.C:
			c.extend(runCtx, log, u, heartbeat, cancel)
		case <-runCtx.Done():
			grace := time.NewTimer(c.Grace)
			select {
			case out = <-done:
				grace.Stop()
			case <-grace.C:
				log.Warn("action did not return after its context ended; abandoning it", "action", u.Action)
				out = outcome{err: context.Cause(runCtx)}
			}
			break wait
		}
	}

	if out.err == nil || runCtx.Err() == nil {
		return out
	}
	// The action failed after its context ended: say why it ended.
	cause := context.Cause(runCtx)
	var te *timeoutError
	switch {
	case errors.As(cause, &te):
		return outcome{err: fmt.Errorf("action %s %w", u.Action, te)}
	case errors.Is(cause, errWorkerDeadline), errors.Is(cause, errStopped):
		// Like a lost worker: the action was cut short and may have done
		// part of its work, so it is recorded as lost (the engine re-runs
		// it when the task is safe-rerun; otherwise it is the task's
		// error, and its retry policy applies).
		msg := fmt.Sprintf("action %s stopped after %s seconds: %v", u.Action, formatSeconds(time.Since(start)), errWorkerDeadline)
		if errors.Is(cause, errStopped) {
			msg = fmt.Sprintf("attempt %d was interrupted: the worker stopped before action %s finished (after %s seconds)", u.Attempt, u.Action, formatSeconds(time.Since(start)))
		}
		return outcome{err: &action.Failure{Data: record.LostError(msg)}}
	case errors.Is(cause, errLeaseLost):
		return outcome{err: fmt.Errorf("action %s stopped: %w", u.Action, errLeaseLost)}
	}
	return out
}

// extend renews the lease and the message's visibility. A lost lease means
// the attempt was ended elsewhere: the action is stopped.
func (c *Worker) extend(ctx context.Context, log *slog.Logger, u *record.Unit, heartbeat func(time.Duration) error, stop context.CancelCauseFunc) {
	if heartbeat != nil {
		if err := heartbeat(c.Lease); err != nil {
			log.Warn("heartbeat failed", "err", err)
		}
	}
	_, err := c.Store.UpdateUnit(ctx, u.UnitKey,
		record.Expect{States: []record.State{record.Running}, Attempt: u.Attempt, Fence: u.Fence},
		record.UnitChange{State: record.Running, Due: c.Now().Add(c.Lease)})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound):
		log.Warn("lease lost; stopping the action", "err", err)
		stop(errLeaseLost)
	case ctx.Err() != nil:
	default:
		log.Warn("lease extension failed", "err", err)
	}
}

// finish records the outcome and notifies the engine.
func (c *Worker) finish(ctx context.Context, log *slog.Logger, u *record.Unit, out outcome, del func(ctx context.Context) error) (deleted bool, err error) {
	atomic := c.Atomic
	if atomic == nil {
		atomic = func(ctx context.Context, fn func(ctx context.Context) error) error { return fn(ctx) }
	}
	// What was written is committed even when the announcement failed:
	// a later delivery of the message announces the end again.
	aerr := atomic(ctx, func(ctx context.Context) error {
		if err = c.record(ctx, log, u, out); err == nil && del != nil {
			deleted = del(ctx) == nil
		}
		return nil
	})
	return deleted && aerr == nil, cmp.Or(err, aerr)
}

// record records the outcome and notifies the engine.
func (c *Worker) record(ctx context.Context, log *slog.Logger, u *record.Unit, out outcome) error {
	limit := store.MaxItemBytes - len(u.Input) - valueOverhead
	if c.MaxValueBytes > 0 {
		limit = min(limit, c.MaxValueBytes)
	}
	x := record.Expect{States: []record.State{record.Running}, Attempt: u.Attempt, Fence: u.Fence}
	if errors.Is(out.err, action.ErrPending) {
		return c.await(ctx, log, u, x, action.HeartbeatOf(out.err))
	}
	ch := outcomeChange(u, out, limit)
	ch.Finished = c.Now()

	_, err := c.Store.UpdateUnit(ctx, u.UnitKey, x, ch)
	var tooLarge *store.TooLargeError
	if errors.As(err, &tooLarge) {
		// The store measured the whole item over its limit: record that,
		// final at once. Should even that not fit (the record was full
		// before the outcome), the shortest error there is: an attempt
		// always ends, so its message is not delivered again and again.
		what := "result"
		if ch.State == record.Error {
			what = "error"
		}
		for _, e := range []error{
			fmt.Errorf("the %s of action %s does not fit in a task record: %w", what, u.Action, tooLarge),
			fmt.Errorf("the %s does not fit", what),
		} {
			ch = errorChange(action.NonRetryable(e))
			ch.Finished = c.Now()
			if _, err = c.Store.UpdateUnit(ctx, u.UnitKey, x, ch); !errors.As(err, &tooLarge) {
				break
			}
		}
	}
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		// Whoever ended the attempt (the reconciler, on an expired lease)
		// may have failed to send its attempt-done event after its write,
		// and nothing else would: announce it again (the same event id).
		log.Info("attempt was ended elsewhere; outcome dropped", "err", err)
		return c.unclaimed(ctx, log, u.UnitKey, u.Attempt, u.Fence)
	}
	if err != nil {
		return fmt.Errorf("record unit %s attempt %d: %w", u.UnitKey, u.Attempt, err)
	}
	if ch.State == record.Success {
		log.Info("attempt succeeded", "action", u.Action)
	} else {
		log.Info("attempt failed", "action", u.Action, "error", clip(ch.Error, 512), "no_retry", ch.NoRetry)
	}
	return c.notify(ctx, u.UnitKey, u.Attempt, u.Fence)
}

// outcomeChange turns an action's outcome into the unit write that records
// it. Values over limit bytes become an ERROR that says so; nothing is
// truncated.
func outcomeChange(u *record.Unit, out outcome, limit int) record.UnitChange {
	runErr := out.err
	if runErr == nil {
		b, err := json.Marshal(out.val)
		switch {
		case err != nil:
			runErr = action.NonRetryable(fmt.Errorf("the result of action %s is not JSON-encodable: %v", u.Action, err))
		case len(b) > limit:
			runErr = action.NonRetryable(fmt.Errorf("the result of action %s is %d bytes, over the %d-byte limit of a task result", u.Action, len(b), limit))
		default:
			return record.UnitChange{State: record.Success, Result: b}
		}
	}
	ch := errorChange(runErr)
	if len(ch.Error) > limit {
		ch = errorChange(action.NonRetryable(fmt.Errorf("the error of action %s is %d bytes, over the %d-byte limit of a task error", u.Action, len(ch.Error), limit)))
	}
	return ch
}

func errorChange(err error) record.UnitChange {
	b, merr := json.Marshal(action.ErrorValue(err))
	if merr != nil {
		b, _ = json.Marshal(err.Error())
	}
	return record.UnitChange{State: record.Error, Error: b, NoRetry: action.IsNonRetryable(err)}
}

// notify sends the attempt-done event of an attempt to the engine queue.
func (c *Worker) notify(ctx context.Context, k record.UnitKey, attempt int, fence string) error {
	ev := DoneEvent(k, attempt, fence)
	out, err := queue.EventOut(ev)
	if err != nil {
		return err
	}
	if err := c.Events.Send(ctx, out); err != nil {
		return fmt.Errorf("send event %s: %w", ev.ID, err)
	}
	return nil
}

// lostReason says why an attempt whose lease expired was ended.
func lostReason(u *record.Unit) string {
	return fmt.Sprintf("the worker running attempt %d was lost: its lease expired at %s", u.Attempt, u.Due.UTC().Format(time.RFC3339))
}

// Fail ends a RUNNING attempt whose worker was lost (its lease expired):
// it records ERROR with record.LostError(reason), conditional on the
// unit's attempt and fence, and sends the attempt-done event, as a worker
// would. An attempt that awaited its completion past its deadline ends
// with record.AwaitTimeoutError instead (reason is not used). If the
// attempt has already ended it only re-sends that event, and if the unit
// has moved on it does nothing. Fail needs Store and Events.
func (w *Worker) Fail(ctx context.Context, u *record.Unit, reason string) error {
	c := w.config()
	log := c.Log.With("execution_id", u.ExecID, "task", u.Task, "attempt", u.Attempt, "item", u.Item)
	ch := record.UnitChange{State: record.Error, Error: record.LostError(reason), Finished: c.Now()}
	if u.Awaiting() {
		ch.Error, ch.ClearOutcome, reason = record.AwaitTimeoutError(u), true, "no completion before the deadline"
	}
	_, err := c.Store.UpdateUnit(ctx, u.UnitKey,
		record.Expect{States: []record.State{record.Running}, Attempt: u.Attempt, Fence: u.Fence}, ch)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return c.unclaimed(ctx, log, u.UnitKey, u.Attempt, u.Fence)
	}
	if err != nil {
		return fmt.Errorf("fail unit %s attempt %d: %w", u.UnitKey, u.Attempt, err)
	}
	log.Info("lost attempt failed", "reason", reason)
	return c.notify(ctx, u.UnitKey, u.Attempt, u.Fence)
}

func formatSeconds(d time.Duration) string {
	return fmt.Sprintf("%g", d.Round(time.Millisecond).Seconds())
}

// clip returns b as text, cut to at most n bytes for a log line.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
