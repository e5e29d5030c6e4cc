package store

import (
	"fmt"
	"slices"

	"github.com/borawf/bora/internal/record"
)

// Check reports whether u satisfies x, as every adapter's conditional unit
// write must: an ErrConflict that says what was found when it does not.
// Adapters that evaluate the condition in their database (SQL, DynamoDB
// condition expressions) must agree with it; storetest checks that they do.
func Check(u *record.Unit, x record.Expect) error {
	if len(x.States) > 0 && !slices.Contains(x.States, u.State) {
		return fmt.Errorf("state is %s, want one of %v: %w", u.State, x.States, ErrConflict)
	}
	if x.Awaiting && u.State == record.Running && !u.Awaiting() {
		return fmt.Errorf("state is RUNNING under a worker, not awaiting a completion: %w", ErrConflict)
	}
	if x.Attempt != 0 && u.Attempt != x.Attempt {
		return fmt.Errorf("attempt is %d, want %d: %w", u.Attempt, x.Attempt, ErrConflict)
	}
	if x.Fence != "" && u.Fence != x.Fence {
		return fmt.Errorf("fence differs: %w", ErrConflict)
	}
	return nil
}

// Apply applies c to u, as every adapter's unit write must (see UnitChange).
func Apply(u *record.Unit, c record.UnitChange) {
	u.State = c.State
	u.Due = c.Due
	if c.Attempt != 0 {
		u.Attempt = c.Attempt
	}
	if c.Fence != "" {
		u.Fence = c.Fence
	}
	if !c.Started.IsZero() {
		u.Started = c.Started
	}
	if !c.Finished.IsZero() {
		u.Finished = c.Finished
	}
	if c.ClearOutcome {
		u.Result, u.Error, u.NoRetry = nil, nil, false
	}
	if c.NoRetry {
		u.NoRetry = true
	}
	if c.Result != nil {
		u.Result = c.Result
	}
	if c.Error != nil {
		u.Error = c.Error
	}
}

// Pending reports whether a unit in state s is one the reconciler watches
// (its Due means something): SCHEDULED, DELAYED or RUNNING.
func Pending(s record.State) bool {
	return s == record.Scheduled || s == record.Delayed || s == record.Running
}
