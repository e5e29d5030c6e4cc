package runtime

import (
	"context"
	"time"

	"github.com/borawf/bora/internal/worker"
)

// Complete ends an attempt that awaits its completion (its action
// returned action.ErrPending) with a result or an error, on the worker's
// outcome path and under its claim rule (worker.Worker.Complete): a
// completion for an attempt that is no longer current wraps
// worker.ErrStale and changes nothing.
func (r *Runtime) Complete(ctx context.Context, c worker.Completion) error {
	return r.completer().Complete(ctx, c)
}

// completer is the worker that takes completions and heartbeats.
func (r *Runtime) completer() *worker.Worker {
	return &worker.Worker{Store: r.Store, Events: r.Events, Log: r.Log, Now: r.Now, MaxValueBytes: r.Limits.ValueBytes}
}

// Heartbeat says that the work of an attempt awaiting its completion goes
// on, moving its deadline when its action asked for heartbeats
// (worker.Worker.Heartbeat); it returns the attempt's deadline (zero:
// none). A heartbeat for an attempt that is no longer current, or past its
// deadline, wraps worker.ErrStale and changes nothing.
func (r *Runtime) Heartbeat(ctx context.Context, callbackID string) (time.Time, error) {
	return r.completer().Heartbeat(ctx, callbackID)
}
