package sim

import (
	"context"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
)

// checkSettled checks that no final execution keeps work that a message
// or a timer could start (a unit SCHEDULED or DELAYED): ending an
// execution moves its unclaimed work out of reach, so such work is work
// the step that ended it did not know of. (Items of a with-items left
// WAITING for a slot have neither.) Nor may it keep an attempt awaiting
// its completion that nothing will end: ending the execution ends such
// an attempt CANCELLED (or its worker does, finding the execution ended
// when it records the wait), but for a task that drains after a `succeed`
// or `fail` command, whose completion still finishes it. An execution
// with an event dead-lettered is left out: a step cut short between its
// writes and its commit on every delivery leaves writes its execution
// never learns of, the one case docs/protocol.md leaves open.
func (s *sim) checkSettled(ctx context.Context, all []*record.Execution) error {
	for _, e := range all {
		if !e.State.Terminal() || s.lettered[e.ID] {
			continue
		}
		pending, err := engine.Pending(e)
		if err != nil {
			return err
		}
		drains := map[string]bool{}
		for _, p := range pending {
			drains[p.Key] = true
		}
		tasks, err := s.store.Store.ListTasks(ctx, e.ID)
		if err != nil {
			return err
		}
		for _, t := range tasks {
			units, err := s.store.Store.ListUnits(ctx, e.ID, t.Key)
			if err != nil {
				return err
			}
			for _, u := range units {
				switch {
				case u.State == record.Scheduled, u.State == record.Delayed:
					s.violate("execution %s ended %s with unit %s still %s (invariant 7)", e.ID, e.State, u.UnitKey, u.State)
				case u.Awaiting() && !drains[t.Key]:
					s.violate("execution %s ended %s with unit %s attempt %d still RUNNING, awaiting its completion", e.ID, e.State, u.UnitKey, u.Attempt)
				}
			}
		}
	}
	return nil
}
