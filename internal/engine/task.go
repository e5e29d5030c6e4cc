package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/record"
)

// startTask creates a new task execution of name with its inbound context
// and starts it (or holds it for pause-before). from is the task execution
// whose transition led here, for messages.
func (s *stepper) startTask(name string, inbound flow, from string) error {
	t := s.wf.Tasks[name]
	if t == nil {
		s.stop(record.ExecError, fmt.Sprintf("Failed to run task [error=task %q is not defined, wf=%s, task=%s]", name, s.wf.Name, from))
		return nil
	}
	key := s.bump(name)
	ctx, ctxErr := inbound.encode(s.limits().ValueBytes)
	if ctxErr != nil {
		ctx = json.RawMessage("{}")
	}
	rec := &record.Task{
		ExecID:    s.exec.ID,
		Key:       key,
		Name:      name,
		Seq:       s.b.Seq,
		State:     record.Running,
		Items:     1,
		UnitEnds:  unitEnds(t) && !transforms(s.wf, t),
		Inbound:   ctx,
		CreatedAt: s.in.Now,
	}
	s.before = append(s.before, Write{CreateTask: rec})
	s.made[key] = rec
	s.tasks[key] = rec
	r := &run{Key: key, Items: 1}
	s.b.Active = append(s.b.Active, r)
	if ctxErr != nil {
		return s.forceFail(r, rec, fmt.Sprintf("Failed to run task [error=%v, wf=%s, task=%s]", ctxErr, s.wf.Name, name))
	}
	if t.PauseBefore != nil {
		pause, err := s.evalBool(t.PauseBefore, s.view(inbound, rec), s.taskView(rec))
		if err != nil {
			return s.forceFail(r, rec, fmt.Sprintf("Failed to run task [error=pause-before: %v, wf=%s, task=%s]", err, s.wf.Name, name))
		}
		if pause {
			r.Phase = phasePause
			if s.exec.State == record.ExecRunning {
				s.exec.State = record.ExecPaused
				s.exec.StateInfo = ""
			}
			return nil
		}
	}
	// Started while the execution is paused, its units are created PAUSED
	// and run on resume (finalize decides).
	return s.launch(r, t, rec, inbound, nil)
}

// unitEnds reports whether a task ends as its one unit does: the engine
// adds nothing to the unit's outcome (no publish, fail-on, retry,
// wait-after, keep-result or safe-rerun), so the worker's outcome write
// ends the task and the engine writes no final fields (record.Task.UnitEnds).
func unitEnds(t *dsl.Task) bool {
	return len(t.WithItems) == 0 && t.Publish == nil && t.PublishOnError == nil && t.FailOn == nil &&
		t.Retry == nil && t.WaitAfter == nil && t.KeepResult == nil && t.SafeRerun == nil
}

// launch evaluates a task's action, input and policies and plans its
// units. only, when set, limits the units to start to those items (a
// rerun of a with-items task); the others are created already done from
// the given outcomes.
func (s *stepper) launch(r *run, t *dsl.Task, rec *record.Task, in flow, prev []*record.Unit) error {
	cur := s.taskView(rec)
	inbound := s.view(in, rec)
	fail := func(err error) error {
		msg := fmt.Sprintf("Failed to run task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name)
		if len(t.WithItems) > 0 {
			// As Mistral: a with-items task that could not start ran
			// no item, and its result is the empty list.
			return s.forceFailWith(r, rec, msg, json.RawMessage("[]"))
		}
		return s.forceFail(r, rec, msg)
	}
	var child *childSpec
	action := ""
	switch {
	case t.Workflow != nil:
		v, err := s.eval(t.Workflow, inbound, cur)
		if err != nil {
			return fail(err)
		}
		name, ok := v.(string)
		if !ok || name == "" {
			return fail(fmt.Errorf("workflow name must be a string, not %s", brief(v)))
		}
		child = &childSpec{Workflow: name}
		action = name
		r.Child = true
	case t.Action != nil:
		v, err := s.eval(t.Action, inbound, cur)
		if err != nil {
			return fail(err)
		}
		name, ok := v.(string)
		if !ok || name == "" {
			return fail(fmt.Errorf("action name must be a string, not %s", brief(v)))
		}
		action = name
	default:
		action = "std.noop"
	}

	// Items: one context per unit.
	ctxs := []map[string]any{inbound}
	if len(t.WithItems) > 0 {
		r.WI = true
		rec.WithItems = true
		var n = -1
		lists := make([][]any, len(t.WithItems))
		for i, wi := range t.WithItems {
			v, err := s.eval(wi.Source, inbound, cur)
			if err != nil {
				return fail(err)
			}
			l, ok := v.([]any)
			if !ok {
				if v == nil {
					l = []any{}
				} else {
					return fail(fmt.Errorf("with-items %s must be a list, not %s", wi.Var, brief(v)))
				}
			}
			if n >= 0 && len(l) != n {
				return fail(fmt.Errorf("with-items lists must have the same length: %s has %d items, not %d", wi.Var, len(l), n))
			}
			n = len(l)
			lists[i] = l
		}
		ctxs = make([]map[string]any, n)
		for i := range n {
			c := maps.Clone(inbound)
			for j, wi := range t.WithItems {
				c[wi.Var] = lists[j][i]
			}
			ctxs[i] = c
		}
		r.Items, rec.Items = n, n
		if n == 0 {
			r.Items = 0
			return s.completeTask(r, nil)
		}
		if t.Concurrency != nil {
			c, err := s.evalInt(t.Concurrency, inbound, cur, "concurrency")
			if err != nil {
				return fail(err)
			}
			if c > 0 && int(c) < n {
				r.Conc = int(c)
			}
		}
	}
	r.Ad = ""
	if child == nil && s.wf.Actions[action] != nil {
		r.Ad = action
	}
	inputs := make([]json.RawMessage, len(ctxs))
	for i, c := range ctxs {
		v, err := s.eval(t.Input, c, cur)
		if err != nil {
			return fail(err)
		}
		if v == nil {
			v = map[string]any{}
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fail(fmt.Errorf("task input must be a map, not %s", brief(v)))
		}
		if r.Ad != "" {
			if action, v, err = s.expandAdhoc(r.Ad, m, c, cur); err != nil {
				return fail(err)
			}
		}
		what := "the input of task " + t.Name
		if r.WI {
			what = fmt.Sprintf("the input of item %d of task %s", i, t.Name)
		}
		if inputs[i], err = s.encode(what, v); err != nil {
			return fail(err)
		}
	}
	timeout, err := s.evalSeconds(t.Timeout, inbound, cur, "timeout")
	if err != nil {
		return fail(err)
	}
	wait, err := s.evalSeconds(t.WaitBefore, inbound, cur, "wait-before")
	if err != nil {
		return fail(err)
	}
	if child != nil {
		rec.ChildID = ""
		if !r.WI {
			rec.ChildID = ChildID(s.exec.ID, r.Key, 0, 1)
		}
	}

	if child != nil {
		// A sub-workflow that does not exist, or an input it does not
		// take, fails the task now rather than the step later.
		for i := range inputs {
			op := &unitOp{key: s.unitKey(r.Key, i), attempt: 1, child: &childSpec{Workflow: child.Workflow, Input: inputs[i]}}
			if _, err := s.childHead(op); err != nil {
				if IsTransient(err) {
					return err // the step is tried again
				}
				return fail(err)
			}
		}
	}
	r.Act = action
	if child != nil && !r.WI {
		rec.ChildID = ChildID(s.exec.ID, r.Key, 0, 1)
	}

	// Plan the units: the first window runs (or waits before), the rest
	// waits for room. A rerun keeps the items that succeeded.
	window := r.Items
	if r.Conc > 0 {
		window = r.Conc
	}
	started := 0
	for i := range r.Items {
		u := &record.Unit{Action: action, Input: inputs[i], Timeout: time.Duration(timeout) * time.Second}
		var ch *childSpec
		if child != nil {
			ch = &childSpec{Workflow: child.Workflow, Input: inputs[i], Timeout: u.Timeout}
		}
		if i < len(prev) && prev[i] != nil && prev[i].State == record.Success {
			s.addUnit(r.Key, i, u, fixed, time.Time{}, ch)
			op := s.ops[len(s.ops)-1]
			op.state, op.result = record.Success, prev[i].Result
			r.Done.set(i)
			r.NDone++
			continue
		}
		switch {
		case wait > 0 && !r.WI:
			s.addUnit(r.Key, i, u, delay, s.in.Now.Add(time.Duration(wait)*time.Second), ch)
		case wait > 0 || started >= window:
			s.addUnit(r.Key, i, u, hold, time.Time{}, ch)
			continue
		default:
			s.addUnit(r.Key, i, u, goNow, time.Time{}, ch)
		}
		started++
		r.Next = i + 1
	}
	if wait > 0 && r.WI {
		r.Next = 0
		s.taskTimer(r, phaseWait, "wait-before", time.Duration(wait)*time.Second)
	}
	if r.NDone == r.Items {
		return s.completeTask(r, nil)
	}
	return nil
}

// taskTimer sets a task-level timer (a with-items wait-before or retry
// delay, a wait-after).
func (s *stepper) taskTimer(r *run, phase, kind string, d time.Duration) {
	s.b.Timers++
	r.Phase = phase
	r.Timer = s.b.Timers
	ev := record.Event{
		ID:      fmt.Sprintf("timer/%s/%s/%s/%d", s.exec.ID, r.Key, kind, r.Timer),
		Kind:    record.EventTimer,
		ExecID:  s.exec.ID,
		Task:    r.Key,
		Attempt: r.Timer,
		Timer:   kind,
	}
	if d <= 0 {
		s.after = append(s.after, Effect{SendEvent: &ev})
		return
	}
	s.after = append(s.after, Effect{SendTimer: &record.TimerMessage{Due: s.in.Now.Add(d), Event: ev}})
}

// fill starts held items of a with-items task while its window has room.
func (s *stepper) fill(r *run) error {
	window := r.Items
	if r.Conc > 0 {
		window = r.Conc
	}
	running := r.Next - r.Done.below(r.Next)
	for r.Next < r.Items && running < window {
		i := r.Next
		r.Next++
		if r.Done.has(i) {
			continue
		}
		k := s.unitKey(r.Key, i)
		var ch *childSpec
		if r.Child {
			u, err := s.in.Read.Unit(k)
			if err != nil {
				return fmt.Errorf("read unit %s: %w", k, err)
			}
			ch = &childSpec{Workflow: u.Action, Input: u.Input, Timeout: u.Timeout}
		}
		att := r.unitAttempt(i)
		op := s.moveUnit(k, record.Expect{States: []record.State{record.Waiting}, Attempt: att}, att, goNow, time.Time{}, r.Act, ch)
		op.clear = false
		running++
	}
	return nil
}
