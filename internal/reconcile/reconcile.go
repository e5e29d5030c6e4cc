// Package reconcile finds work that is stuck and heals it through the normal
// event path: a task message that never arrived is sent again, a timer that
// was lost fires, an attempt whose worker vanished (its lease expired) ends
// in ERROR exactly as a worker would end it — a conditional write of the
// outcome, then the attempt-done event (docs/protocol.md, rule 3) — an
// attempt that ended without its attempt-done event arriving is announced
// again, and an execution whose start event was lost is started.
//
// It is a backstop. A redelivered task message ends an expired lease by
// itself (the worker does), and a message is lost only when it reaches its
// dead-letter queue; so the reconciler looks at an execution only when the
// execution's Due comes (record.Execution.Due: a lower bound of when its
// pending work is due), reads the units of its active tasks, heals those
// that are overdue and moves the execution's Due to the next time one of
// them will be. Its index is one entry per unfinished execution, which the
// engine writes with the execution and leaves alone while the execution
// runs, so the write path of a task pays nothing for it.
//
// Every action it takes is idempotent: a re-sent task message fails its claim
// if the unit moved on, the lease-expiry write is conditional on the attempt
// and fence, the events it sends carry the same ids as the originals, and
// its write of the execution's Due is conditional on the execution's version.
package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Reconciler sweeps for overdue work.
type Reconciler struct {
	Store  store.Store
	Tasks  queue.Queue // task queue
	Events queue.Queue // engine queue
	Log    *slog.Logger
	Now    func() time.Time
	// Batch is the most executions one sweep looks at. Default 500.
	Batch int
	// Again is how long a unit whose message or timer was sent again is
	// left alone before the next try, so that a busy queue is not flooded
	// with copies. Default 5 minutes.
	Again time.Duration
}

// Report counts what one sweep did.
type Report struct {
	Looked  int // executions whose pending work was looked at
	Started int // start events sent again for executions never started
	Resent  int // task messages sent again for overdue SCHEDULED units
	Fired   int // timer events sent for overdue DELAYED units
	Expired int // RUNNING attempts ended because their lease expired
	// Announced counts attempt-done events sent again for attempts that
	// ended while the engine has not applied their end.
	Announced int
}

// Add sums two reports.
func (r Report) Add(o Report) Report {
	return Report{
		Looked: r.Looked + o.Looked, Started: r.Started + o.Started, Resent: r.Resent + o.Resent,
		Fired: r.Fired + o.Fired, Expired: r.Expired + o.Expired, Announced: r.Announced + o.Announced,
	}
}

func (r *Reconciler) defaults() {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	r.Batch = cmp.Or(r.Batch, 500)
	r.Again = cmp.Or(r.Again, 5*time.Minute)
}

// Sweep looks at every execution that is due, up to Batch, and heals its
// overdue work. What fails (a write the store refuses) is reported in the
// error, after every other execution and unit was looked at: one bad unit
// never keeps the rest from healing.
func (r *Reconciler) Sweep(ctx context.Context) (Report, error) {
	r.defaults()
	var rep Report
	now := r.Now()
	heads, err := r.Store.DueExecutions(ctx, now, r.Batch)
	if err != nil {
		return rep, fmt.Errorf("find due executions: %w", err)
	}
	var errs []error
	for _, e := range heads {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if err := r.look(ctx, e, now, &rep); err != nil {
			r.Log.Error("reconcile execution", "execution_id", e.ID, "err", err)
			errs = append(errs, fmt.Errorf("execution %s: %w", e.ID, err))
		}
	}
	return rep, errors.Join(errs...)
}

// look heals one execution's overdue work and sets its next Due.
func (r *Reconciler) look(ctx context.Context, e *record.Execution, now time.Time, rep *Report) error {
	rep.Looked++
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var tasks, events []queue.Out
	var again []*record.Unit // re-sent: their Due moves on after the sends
	var errs []error         // of single units: the others are healed all the same
	switch {
	case e.State.Terminal() && !draining(e):
		// Nothing to look at; the head only kept its entry.
	case e.Version == 0:
		// The head was created but its start event never arrived.
		events = append(events, eventOut(engine.StartEvent(e.ID)))
		rep.Started++
		later(now.Add(r.Again))
		r.Log.Info("execution never started: start event sent again", "execution_id", e.ID)
	default:
		units, err := r.pending(ctx, e)
		if err != nil {
			return err
		}
		for _, u := range units {
			if u.State == record.Success || u.State == record.Error {
				// Ended, yet the engine has not applied its end: the
				// attempt-done event may be lost (its sender failed to
				// send it and its message is gone). Announce it again,
				// once it has had time to arrive; the same id is applied
				// once.
				if at := u.Finished.Add(r.Again); at.After(now) {
					later(at)
					continue
				}
				events = append(events, eventOut(record.DoneEvent(u.UnitKey, u.Attempt, u.Fence)))
				rep.Announced++
				later(now.Add(r.Again))
				r.Log.Info("attempt ended but not applied: attempt-done sent again", "execution_id", u.ExecID, "task", u.Task, "item", u.Item, "attempt", u.Attempt)
				continue
			}
			if !store.Pending(u.State) || u.Due.IsZero() {
				continue
			}
			if u.Due.After(now) {
				later(u.Due)
				continue
			}
			log := r.Log.With("execution_id", u.ExecID, "task", u.Task, "item", u.Item, "attempt", u.Attempt)
			switch u.State {
			case record.Scheduled:
				body, _ := json.Marshal(record.TaskMessage{ExecID: u.ExecID, Task: u.Task, Item: u.Item, Attempt: u.Attempt, Fence: u.Fence, Action: u.Action})
				tasks = append(tasks, queue.Out{Body: body})
				again = append(again, u)
				rep.Resent++
				log.Info("task message overdue: sent again")
			case record.Delayed:
				events = append(events, eventOut(record.TimerEvent(u.UnitKey, u.Attempt, u.Fence)))
				again = append(again, u)
				rep.Fired++
				log.Info("timer overdue: fired")
			case record.Running:
				err := r.endLost(ctx, u, now)
				if errors.Is(err, store.ErrConflict) {
					continue // the worker finished after all, or the attempt moved on
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("end lost attempt of %s: %w", u.UnitKey, err))
					continue
				}
				events = append(events, eventOut(record.DoneEvent(u.UnitKey, u.Attempt, u.Fence)))
				rep.Expired++
				if u.Awaiting() {
					log.Warn("no completion before the attempt's deadline: attempt ended in ERROR")
				} else {
					log.Warn("lease expired: attempt ended in ERROR")
				}
			}
		}
	}
	if len(tasks) > 0 {
		if err := r.Tasks.Send(ctx, tasks...); err != nil {
			return errors.Join(append(errs, fmt.Errorf("resend task messages: %w", err))...)
		}
	}
	if len(events) > 0 {
		if err := r.Events.Send(ctx, events...); err != nil {
			return errors.Join(append(errs, fmt.Errorf("send events: %w", err))...)
		}
	}
	for _, u := range again {
		_, err := r.Store.UpdateUnit(ctx, u.UnitKey,
			record.Expect{States: []record.State{u.State}, Attempt: u.Attempt, Fence: u.Fence},
			record.UnitChange{State: u.State, Due: now.Add(r.Again)})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			errs = append(errs, fmt.Errorf("postpone %s: %w", u.UnitKey, err))
		}
		later(now.Add(r.Again))
	}
	if len(errs) > 0 {
		// Look again soon at what failed.
		later(now.Add(r.Again))
	}
	// An engine step committed since the head was read keeps its own Due,
	// which is no later than this one: the next sweep looks again.
	if err := r.Store.SetDue(ctx, e.ID, e.Version, next); err != nil && !errors.Is(err, store.ErrConflict) {
		errs = append(errs, fmt.Errorf("set next look: %w", err))
	}
	return errors.Join(errs...)
}

// endLost ends an attempt whose lease expired, as its worker would have:
// ERROR, marked lost. Should the record have no room for the error that
// says when the lease expired, the shortest one is written instead. An
// attempt that awaited its completion past its deadline ends in an
// ordinary ERROR that says so (record.AwaitTimeoutError).
func (r *Reconciler) endLost(ctx context.Context, u *record.Unit, now time.Time) error {
	x := record.Expect{States: []record.State{record.Running}, Attempt: u.Attempt, Fence: u.Fence}
	if u.Awaiting() {
		_, err := r.Store.UpdateUnit(ctx, u.UnitKey, x, record.UnitChange{State: record.Error, Error: record.AwaitTimeoutError(u), Finished: now, ClearOutcome: true})
		return err
	}
	var err error
	for _, msg := range []string{
		fmt.Sprintf("the worker running attempt %d was lost: its lease expired at %s", u.Attempt, u.Due.UTC().Format(time.RFC3339)),
		"worker lost",
	} {
		_, err = r.Store.UpdateUnit(ctx, u.UnitKey, x, record.UnitChange{State: record.Error, Error: record.LostError(msg), Finished: now})
		var tl *store.TooLargeError
		if !errors.As(err, &tl) {
			break
		}
	}
	return err
}

// pending reads the units of an execution's active tasks that may hold
// pending work (engine.Pending): one read for a task of one unit, one
// listing for the others.
// draining reports whether a final execution still has tasks that went on
// after a `succeed` or `fail` command ended it, whose workers are watched
// as those of a running execution.
func draining(e *record.Execution) bool {
	p, err := engine.Pending(e)
	return err == nil && len(p) > 0
}

func (r *Reconciler) pending(ctx context.Context, e *record.Execution) ([]*record.Unit, error) {
	active, err := engine.Pending(e)
	if err != nil {
		return nil, err
	}
	var units []*record.Unit
	for _, p := range active {
		if len(p.Items) == 1 {
			u, err := r.Store.GetUnit(ctx, record.UnitKey{ExecID: e.ID, Task: p.Key, Item: p.Items[0]})
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read units of %s: %w", p.Key, err)
			}
			units = append(units, u)
			continue
		}
		all, err := r.Store.ListUnits(ctx, e.ID, p.Key)
		if err != nil {
			return nil, fmt.Errorf("read units of %s: %w", p.Key, err)
		}
		for _, u := range all {
			if _, ok := slices.BinarySearch(p.Items, u.Item); ok {
				units = append(units, u)
			}
		}
	}
	return units, nil
}

// eventOut is an engine event as a message of the engine queue: grouped by
// its execution, deduplicated by its id. (Events hold only strings and
// numbers, so encoding cannot fail.)
func eventOut(ev record.Event) queue.Out {
	out, _ := queue.EventOut(ev)
	return out
}
