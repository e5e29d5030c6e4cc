package main

import (
	"context"
	"time"

	"go.temporal.io/sdk/workflow"
)

// activityOptions are the options every activity runs with: a timeout, which
// Temporal requires, and its default retry policy.
var activityOptions = workflow.ActivityOptions{StartToCloseTimeout: time.Minute}

// Echo is the no-op activity, Bora's std.echo: it returns its input.
func Echo(_ context.Context, x int) (int, error) { return x, nil }

// Chain runs n activities one after the other, each given the previous
// one's result plus one, and returns how many ran.
func Chain(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	x := 0
	for i := range n {
		if err := workflow.ExecuteActivity(ctx, Echo, i).Get(ctx, &x); err != nil {
			return i, err
		}
	}
	return n, nil
}

// Items runs n activities over 0..n-1, at most conc at once (all at once
// when conc is 0), and returns how many ran.
func Items(ctx workflow.Context, n, conc int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	if conc <= 0 || conc > n {
		conc = n
	}
	sel := workflow.NewSelector(ctx)
	var failed error
	started, done := 0, 0
	start := func() {
		f := workflow.ExecuteActivity(ctx, Echo, started)
		started++
		sel.AddFuture(f, func(f workflow.Future) {
			var x int
			if err := f.Get(ctx, &x); err != nil && failed == nil {
				failed = err
			}
			done++
		})
	}
	for started < conc {
		start()
	}
	for done < n && failed == nil {
		sel.Select(ctx)
		if started < n {
			start()
		}
	}
	return done, failed
}
