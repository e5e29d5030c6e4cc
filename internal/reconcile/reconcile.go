// Package reconcile finds work that is stuck and heals it through the normal
// event path: a task message that never arrived is sent again, a timer that
// was lost fires, and an attempt whose worker vanished (its lease expired)
// ends in ERROR exactly as a worker would end it — a conditional write of the
// outcome, then the attempt-done event (docs/protocol.md, rule 3).
//
// Every action it takes is idempotent: a re-sent task message fails its claim
// if the unit moved on, the lease-expiry write is conditional on the attempt
// and fence, and the events it sends carry the same ids as the originals.
package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Reconciler sweeps for overdue units.
type Reconciler struct {
	Store  store.Store
	Tasks  queue.Queue // task queue
	Events queue.Queue // engine queue
	Log    *slog.Logger
	Now    func() time.Time
	// Batch is the most units one sweep looks at. Default 500.
	Batch int
	// Again is how long a unit whose message or timer was sent again is
	// left alone before the next try, so that a busy queue is not flooded
	// with copies. Default 5 minutes.
	Again time.Duration
}

// Report counts what one sweep did.
type Report struct {
	Resent  int // task messages sent again for overdue SCHEDULED units
	Fired   int // timer events sent for overdue DELAYED units
	Expired int // RUNNING attempts ended because their lease expired
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

// Sweep heals every overdue unit it finds, up to Batch.
func (r *Reconciler) Sweep(ctx context.Context) (Report, error) {
	r.defaults()
	var rep Report
	now := r.Now()
	units, err := r.Store.DueUnits(ctx, now, r.Batch)
	if err != nil {
		return rep, fmt.Errorf("find overdue units: %w", err)
	}
	var (
		tasks, events []queue.Out
		again         []*record.Unit // re-sent: their Due moves on after the sends
	)
	for _, u := range units {
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
			errValue := record.LostError(fmt.Sprintf("the worker running attempt %d was lost: its lease expired at %s", u.Attempt, u.Due.UTC().Format(time.RFC3339)))
			_, err := r.Store.UpdateUnit(ctx, u.UnitKey,
				record.Expect{States: []record.State{record.Running}, Attempt: u.Attempt, Fence: u.Fence},
				record.UnitChange{State: record.Error, Error: errValue, Finished: now})
			if errors.Is(err, store.ErrConflict) {
				continue // the worker finished after all, or the attempt moved on
			}
			if err != nil {
				return rep, fmt.Errorf("end lost attempt of %s: %w", u.UnitKey, err)
			}
			events = append(events, eventOut(record.DoneEvent(u.UnitKey, u.Attempt, u.Fence)))
			rep.Expired++
			log.Warn("lease expired: attempt ended in ERROR")
		}
	}
	if len(tasks) > 0 {
		if err := r.Tasks.Send(ctx, tasks...); err != nil {
			return rep, fmt.Errorf("resend task messages: %w", err)
		}
	}
	if len(events) > 0 {
		if err := r.Events.Send(ctx, events...); err != nil {
			return rep, fmt.Errorf("send events: %w", err)
		}
	}
	for _, u := range again {
		_, err := r.Store.UpdateUnit(ctx, u.UnitKey,
			record.Expect{States: []record.State{u.State}, Attempt: u.Attempt, Fence: u.Fence},
			record.UnitChange{State: u.State, Due: now.Add(r.Again)})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return rep, fmt.Errorf("postpone %s: %w", u.UnitKey, err)
		}
	}
	return rep, nil
}

// eventOut is an engine event as a message of the engine queue: grouped by
// its execution, deduplicated by its id. (Events hold only strings and
// numbers, so encoding cannot fail.)
func eventOut(ev record.Event) queue.Out {
	body, _ := json.Marshal(ev)
	return queue.Out{Body: body, Group: ev.ExecID, DedupID: ev.ID}
}
