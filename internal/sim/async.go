package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/worker"
)

// callback is an attempt of sim.async that awaits its completion.
type callback struct {
	id    string
	value any
}

// asyncAction is sim.async: it hands its callback id to the simulation,
// which completes the attempt later with the input's "value", as a remote
// system would. With "heartbeat" (seconds) the attempt times out unless a
// heartbeat comes within it, and the remote side sends them while it is
// slow.
func (s *sim) asyncAction(check func(context.Context, action.Input) error) action.Action {
	return action.Func(func(ctx context.Context, in action.Input) (any, error) {
		if err := check(ctx, in); err != nil {
			return nil, err
		}
		s.callbacks = append(s.callbacks, callback{id: in.CallbackID, value: in.Params["value"]})
		if hb, ok := action.Number(in.Params["heartbeat"]); ok && hb > 0 {
			return nil, &action.Pending{Heartbeat: time.Duration(hb * float64(time.Second))}
		}
		return nil, action.ErrPending
	})
}

// complete sends one completion, as the remote side of sim.async does:
// for the latest attempt it was handed, or (Faults.Async) for an older one,
// a second time, or not at all for a while, so that the task's timeout ends
// the wait. It checks the claim rule: a completion that is accepted ends
// the attempt it names, which was current; a refused one changes nothing,
// and only an attempt that is no longer current refuses.
func (s *sim) complete(ctx context.Context) (bool, error) {
	if len(s.callbacks) == 0 {
		return false, nil
	}
	i := len(s.callbacks) - 1
	if s.f.Async {
		if s.now.Before(s.holdUntil) {
			if s.chance(0.5) {
				// Slow, but alive: a heartbeat, now and then for an
				// earlier attempt.
				j := i
				if len(s.callbacks) > 1 && s.chance(0.2) {
					j = s.rng.IntN(len(s.callbacks) - 1)
				}
				return true, s.heartbeat(ctx, s.callbacks[j])
			}
			return false, nil
		}
		if s.chance(0.2) {
			// Late: for long enough, often, that the attempt times out.
			s.fault("completion-late")
			s.holdUntil = s.now.Add(time.Duration(10+s.rng.IntN(40)) * time.Second)
			return false, nil
		}
		if len(s.callbacks) > 1 && s.chance(0.3) {
			// For an earlier attempt (timed out, retried, ended).
			s.fault("completion-stale")
			i = s.rng.IntN(len(s.callbacks) - 1)
		}
	}
	cb := s.callbacks[i]
	if i == len(s.callbacks)-1 && !(s.f.Async && s.chance(0.2)) {
		s.callbacks = s.callbacks[:i]
	} else if i == len(s.callbacks)-1 {
		s.fault("completion-twice")
	}
	k, attempt, fence, err := record.ParseCallbackID(cb.id)
	if err != nil {
		return false, err
	}
	before, err := s.store.Store.GetUnit(ctx, k)
	if err != nil {
		return false, err
	}
	head, err := s.store.Store.GetExecution(ctx, k.ExecID)
	if err != nil {
		return false, err
	}
	result, _ := json.Marshal(cb.value)
	if s.f.Crash && s.chance(0.1) {
		s.store.crashAt = 1 + s.rng.IntN(4)
	}
	cerr := s.wk.Complete(ctx, worker.Completion{ID: cb.id, Result: result})
	after, err := s.store.Store.GetUnit(ctx, k)
	if err != nil {
		return false, err
	}
	current := before.State == record.Running && before.Attempt == attempt && before.Fence == fence
	switch {
	case cerr == nil:
		if !current || after.State != record.Success || after.Attempt != attempt || after.Fence != fence {
			s.violate("completion of %s attempt %d accepted, but the unit went from %s attempt %d to %s attempt %d (claim rule)", k, attempt, before.State, before.Attempt, after.State, after.Attempt)
		}
	case errors.Is(cerr, worker.ErrStale):
		if after.State != before.State || after.Attempt != before.Attempt || after.Fence != before.Fence || string(after.Result) != string(before.Result) {
			s.violate("refused completion of %s attempt %d changed its unit from %s to %s", k, attempt, before.State, after.State)
		}
		if current && !head.State.Terminal() {
			s.violate("completion of the current attempt %d of %s refused: %v", attempt, k, cerr)
		}
	case isInjected(cerr):
		// The process died completing: the attempt ended, or not; the
		// remote side may send it again, and the reconciler announces an
		// end whose event was not sent.
		s.callbacks = append(s.callbacks, cb)
	default:
		return false, fmt.Errorf("complete %s: %w", k, cerr)
	}
	if trace {
		fmt.Printf("t=%s step=%d completion %s attempt %d -> %v\n", s.now.Format("15:04:05"), s.steps, k, attempt, cerr)
	}
	return true, nil
}

// heartbeat sends a heartbeat for cb's attempt and checks the claim rule:
// an accepted heartbeat names the current attempt and changes nothing of
// its unit but the Due, which it moves to a heartbeat timeout from now
// (never past the task's timeout, never earlier); a refused one changes
// nothing, and only an attempt that is no longer current, or past its
// deadline, refuses.
func (s *sim) heartbeat(ctx context.Context, cb callback) error {
	k, attempt, fence, err := record.ParseCallbackID(cb.id)
	if err != nil {
		return err
	}
	before, err := s.store.Store.GetUnit(ctx, k)
	if err != nil {
		return err
	}
	head, err := s.store.Store.GetExecution(ctx, k.ExecID)
	if err != nil {
		return err
	}
	if s.f.Crash && s.chance(0.1) {
		s.store.crashAt = 1 + s.rng.IntN(3)
	}
	s.fault("heartbeat")
	_, herr := s.wk.Heartbeat(ctx, cb.id)
	after, err := s.store.Store.GetUnit(ctx, k)
	if err != nil {
		return err
	}
	current := before.State == record.Running && before.Attempt == attempt && before.Fence == fence
	same := after.State == before.State && after.Attempt == before.Attempt && after.Fence == before.Fence && string(after.Result) == string(before.Result)
	switch {
	case herr == nil:
		want := before.Due
		if hb := before.AwaitHeartbeat(); hb > 0 {
			if d := before.AwaitDue(hb, s.now); d.After(want) {
				want = d
			}
		}
		late := before.Awaiting() && !before.Due.IsZero() && !s.now.Before(before.Due)
		if !current || !same || !after.Due.Equal(want) || late {
			s.violate("heartbeat of %s attempt %d accepted, but the unit went from %s attempt %d due %s to %s attempt %d due %s (want due %s; late %v)",
				k, attempt, before.State, before.Attempt, before.Due.Format("15:04:05"), after.State, after.Attempt, after.Due.Format("15:04:05"), want.Format("15:04:05"), late)
		}
	case errors.Is(herr, worker.ErrStale):
		if !same || !after.Due.Equal(before.Due) {
			s.violate("refused heartbeat of %s attempt %d changed its unit from %s to %s", k, attempt, before.State, after.State)
		}
		if current && before.Awaiting() && !head.State.Terminal() && (before.Due.IsZero() || s.now.Before(before.Due)) {
			s.violate("heartbeat of the current attempt %d of %s refused before its deadline: %v", attempt, k, herr)
		}
	case isInjected(herr):
		// The process died sending it: the Due moved, or not.
	default:
		return fmt.Errorf("heartbeat %s: %w", k, herr)
	}
	if trace {
		fmt.Printf("t=%s step=%d heartbeat %s attempt %d -> %v\n", s.now.Format("15:04:05"), s.steps, k, attempt, herr)
	}
	return nil
}
