package runtime

import (
	"context"

	"github.com/borawf/bora/internal/worker"
)

// Complete ends an attempt that awaits its completion (its action
// returned action.ErrPending) with a result or an error, on the worker's
// outcome path and under its claim rule (worker.Worker.Complete): a
// completion for an attempt that is no longer current wraps
// worker.ErrStale and changes nothing.
func (r *Runtime) Complete(ctx context.Context, c worker.Completion) error {
	w := &worker.Worker{Store: r.Store, Events: r.Events, Log: r.Log, Now: r.Now, MaxValueBytes: r.Limits.ValueBytes}
	return w.Complete(ctx, c)
}
