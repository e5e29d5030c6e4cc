package store

import (
	"context"
	"errors"
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

// CancelWait ends CANCELLED the wait of u's attempt (record.Unit.Awaiting)
// once its execution has ended: one write conditional on the unit still
// awaiting at u's attempt and fence, the marker cleared, so that a
// completion racing it is decided by the unit's condition. It reports
// whether it wrote; a unit no longer so waiting (completed, timed out,
// cancelled already) is not an error.
func CancelWait(ctx context.Context, s Store, u *record.Unit) (bool, error) {
	x := record.Expect{States: []record.State{record.Running}, Awaiting: true, Attempt: u.Attempt, Fence: u.Fence}
	_, err := s.UpdateUnit(ctx, u.UnitKey, x, record.UnitChange{State: record.Cancelled, ClearOutcome: true})
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("cancel the wait of unit %s attempt %d: %w", u.UnitKey, u.Attempt, err)
	}
	return true, nil
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
