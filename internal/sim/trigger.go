package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// tickYAML is the workflow the run's cron trigger starts.
const tickYAML = `
version: '2.0'
tick:
  input: [n]
  output: {v: <% $.v %>}
  tasks:
    t:
      action: sim.work value=<% $.n %>
      safe-rerun: true
      publish: {v: <% task().result %>}
`

// addTrigger stores the workflow tick and a trigger that starts it every
// minute, two to four times.
func (s *sim) addTrigger(ctx context.Context) error {
	if _, err := s.store.Store.PutDefinition(ctx, "tick", []byte(tickYAML)); err != nil {
		return err
	}
	t := &record.Trigger{
		Name: "tick", ID: fmt.Sprintf("tick-%d", s.seed), Pattern: "* * * * *",
		WorkflowName: "tick", DefName: "tick", Input: json.RawMessage(`{"n": 7}`),
		Remaining: 2 + s.rng.IntN(3), CreatedAt: s.now,
	}
	if err := cron.Plan(t, s.now); err != nil {
		return err
	}
	if err := s.store.Store.CreateTrigger(ctx, t); err != nil {
		return err
	}
	s.trigger = t
	return nil
}

// interleaved runs another firer in the middle of one's fire: after it
// lists the triggers, or before it records a fire.
type interleaved struct {
	cron.Store
	afterList, beforeAdvance func()
}

func (i *interleaved) ListTriggers(ctx context.Context, q store.TriggerQuery) ([]*record.Trigger, string, error) {
	page, next, err := i.Store.ListTriggers(ctx, q)
	if i.afterList != nil {
		i.afterList()
		i.afterList = nil
	}
	return page, next, err
}

func (i *interleaved) AdvanceTrigger(ctx context.Context, t *record.Trigger, next time.Time) error {
	if i.beforeAdvance != nil {
		i.beforeAdvance()
		i.beforeAdvance = nil
	}
	return i.Store.AdvanceTrigger(ctx, t, next)
}

// fire fires the due triggers as the reconciler's schedule does: at times
// two firers at once, each of which may crash at any store call or lose
// the start event it sends.
func (s *sim) fire(ctx context.Context) error {
	if s.trigger == nil {
		return nil
	}
	armed := func() {
		s.store.reset()
		s.events.reset()
		if s.f.Crash && s.chance(0.2) {
			s.store.crashAt = 1 + s.rng.IntN(5)
		}
		if s.f.DropAfter && s.chance(0.1) {
			s.events.failAt = 1
		}
	}
	var errs []error
	once := func(f *cron.Firer) {
		armed()
		if _, err := f.Fire(ctx); err != nil && !isInjected(err) {
			errs = append(errs, err)
		}
		s.store.reset()
		s.events.reset()
	}
	if !s.chance(0.3) {
		once(s.firer)
		return errors.Join(errs...)
	}
	// A second firer runs in the middle of the first one's fire.
	s.fault("fire-twice")
	other := func() { once(s.firer) }
	in := &interleaved{Store: s.store}
	if s.chance(0.5) {
		in.afterList = other
	} else {
		in.beforeAdvance = other
	}
	first := *s.firer
	first.Store = in
	once(&first)
	return errors.Join(errs...)
}

// triggerDone reports whether the run's trigger, if any, has fired its
// last and the executions it started have ended. (An execution whose start
// event was lost is started by the reconciler when its Due comes.)
func (s *sim) triggerDone(ctx context.Context) bool {
	if s.trigger == nil {
		return true
	}
	if _, err := s.store.Store.GetTrigger(ctx, s.trigger.Name); !errors.Is(err, store.ErrNotFound) {
		return false
	}
	running, _, err := s.store.Store.ListExecutions(ctx, store.ListQuery{State: record.ExecRunning, Limit: 1})
	return err == nil && len(running) == 0
}

// checkTrigger checks that the trigger's fires started exactly one
// execution each: as many as it had fires, each under the id of a fire
// time of its pattern, each ending as tick does.
func (s *sim) checkTrigger(ctx context.Context, all []*record.Execution) error {
	var started []*record.Execution
	for _, e := range all {
		if e.DefName == "tick" {
			started = append(started, e)
		}
	}
	t := s.trigger
	if t == nil {
		if len(started) > 0 {
			s.violate("%d executions of tick without a trigger", len(started))
		}
		return nil
	}
	if _, err := s.store.Store.GetTrigger(ctx, t.Name); !errors.Is(err, store.ErrNotFound) {
		s.violate("trigger %s still there after %d steps (%v): it never fired its last", t.Name, s.steps, err)
	}
	if len(started) != t.Remaining {
		ids := make([]string, len(started))
		for i, e := range started {
			ids[i] = e.ID
		}
		s.violate("trigger %s fired %d executions, want %d, one per fire: %s", t.Name, len(started), t.Remaining, strings.Join(ids, ", "))
	}
	fires := map[string]time.Time{}
	for at := t.Next; !at.After(s.now); at = at.Add(time.Minute) {
		fires[cron.ExecutionID(t, at)] = at
	}
	var times []time.Time
	for _, e := range started {
		at, ok := fires[e.ID]
		if !ok {
			s.violate("execution %s of tick is not the execution of a fire of trigger %s", e.ID, t.Name)
			continue
		}
		times = append(times, at)
		switch {
		case e.State == record.ExecSuccess && jsonEqual(e.Output, json.RawMessage(`{"v": 7}`)):
		case e.State == record.ExecError && s.poison != "" && strings.Contains(e.StateInfo, "dead-lettered after"):
		default:
			s.violate("execution %s of the fire at %s ended %s (%s) with output %s, want SUCCESS with {\"v\": 7}", e.ID, at.Format("15:04"), e.State, e.StateInfo, e.Output)
		}
	}
	if slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) }); len(times) > 0 && !times[0].Equal(t.Next) {
		s.violate("the first fire of trigger %s was at %s, want %s", t.Name, times[0].Format("15:04"), t.Next.Format("15:04"))
	}
	return nil
}
