package cron

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
)

// Store is what the firer needs of the store.
type Store interface {
	ListTriggers(ctx context.Context, q store.TriggerQuery) ([]*record.Trigger, string, error)
	AdvanceTrigger(ctx context.Context, t *record.Trigger, next time.Time) error
}

// Starter starts an execution of a stored workflow, idempotently by its id
// (*runtime.Runtime).
type Starter interface {
	StartStored(ctx context.Context, s runtime.Start) (*record.Execution, bool, error)
}

// Firer fires the triggers that are due. On AWS the reconciler function
// runs it on its schedule; embedded, `bora serve` does.
//
// A fire is two steps: start the execution whose id the trigger and the
// fire time fix (ExecutionID), then record the fire with a write
// conditional on the trigger's next fire time (Store.AdvanceTrigger).
// However many firers run at once, and wherever one stops, each fire
// starts exactly one execution: two firers start the same id, which makes
// one execution, and only one of them records the fire; a firer that
// stops between the two steps leaves the trigger due, and the next one
// starts the same id again — finding the execution there — and records it.
type Firer struct {
	Store   Store
	Runtime Starter
	Now     func() time.Time // default time.Now
	Log     *slog.Logger     // default slog.Default()
}

// Report says what one Fire did.
type Report struct {
	// Due is how many triggers were due; Fired how many fires started
	// their execution (or found it started); Failed how many fires could
	// not start theirs for good (the workflow is gone, or refuses the
	// trigger's input), which were recorded all the same.
	Due, Fired, Failed int
}

// Fire fires every trigger that is due. A fire that fails for a reason
// that may pass (the store or a queue) is left due, for the next Fire; the
// others go on, and the errors are returned joined.
func (f *Firer) Fire(ctx context.Context) (Report, error) {
	now := f.now()
	var rep Report
	var errs []error
	cursor := ""
	for {
		page, next, err := f.Store.ListTriggers(ctx, store.TriggerQuery{Cursor: cursor})
		if err != nil {
			return rep, errors.Join(append(errs, fmt.Errorf("list triggers: %w", err))...)
		}
		for _, t := range page {
			if t.Next.After(now) {
				continue
			}
			rep.Due++
			failed, err := f.fire(ctx, t, now)
			switch {
			case err != nil:
				errs = append(errs, err)
			case failed:
				rep.Failed++
			default:
				rep.Fired++
			}
		}
		if next == "" {
			return rep, errors.Join(errs...)
		}
		cursor = next
	}
}

// fire fires t at t.Next. failed reports a fire that could not start its
// execution for good.
func (f *Firer) fire(ctx context.Context, t *record.Trigger, now time.Time) (failed bool, err error) {
	id := ExecutionID(t, t.Next)
	log := cmp.Or(f.Log, slog.Default()).With("trigger", t.Name, "fire_time", t.Next.UTC().Format(time.RFC3339), "execution_id", id)
	_, created, err := f.Runtime.StartStored(ctx, runtime.Start{
		ID: id, DefName: t.DefName, Workflow: t.Workflow, Input: t.Input, Env: t.Env,
	})
	switch {
	case err == nil && created:
		log.Info("trigger fired")
	case err == nil:
		log.Info("trigger fired again: its execution was started before")
	case final(err):
		log.Error("trigger fired, but its execution cannot start", "workflow", t.WorkflowName, "err", err)
		failed = true
	default:
		return false, fmt.Errorf("trigger %s: start execution %s: %w", t.Name, id, err)
	}
	next, err := After(t, now)
	if err != nil {
		return failed, err
	}
	err = f.Store.AdvanceTrigger(ctx, t, next)
	switch {
	case err == nil, errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		// Recorded here, or by another firer, or the trigger was deleted.
		return failed, nil
	}
	return failed, fmt.Errorf("trigger %s: %w", t.Name, err)
}

// final reports a start that no later attempt would get past.
func final(err error) bool {
	var invalid *runtime.InvalidError
	var conflict *runtime.ConflictError
	var tooLarge *store.TooLargeError
	return errors.Is(err, store.ErrNotFound) || errors.As(err, &invalid) || errors.As(err, &conflict) || errors.As(err, &tooLarge)
}

func (f *Firer) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}
