package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/record"
)

// outcome is the end of a plain task's unit.
type outcome struct {
	state  record.State
	result json.RawMessage
	errv   json.RawMessage
	unit   *record.Unit // as read; for a new attempt
	expect record.State // the unit's state as stored now
}

// unitDone applies the end of one unit's attempt.
func (s *stepper) unitDone(r *run, o *outcome) error {
	if !r.WI {
		return s.completeTask(r, o)
	}
	r.Done.set(o.unit.Item)
	r.NDone++
	if s.overlay == nil {
		s.overlay = make(map[int]*outcome)
	}
	s.overlay[o.unit.Item] = o
	if r.NDone >= r.Items {
		return s.completeTask(r, nil)
	}
	if r.Phase == "" {
		return s.fill(r)
	}
	return nil
}

// completeTask ends a task execution whose units are all done: publish,
// wait-after, fail-on, retry, then its record and transitions (the order of
// Mistral's task completion). o is the outcome of a plain task's unit; nil
// for a with-items task, whose units are read.
func (s *stepper) completeTask(r *run, o *outcome) error {
	t := s.wf.Tasks[taskName(r.Key)]
	rec, err := s.task(r.Key)
	if err != nil {
		return err
	}
	if rec == nil || t == nil {
		return fmt.Errorf("task %s: record or definition missing", r.Key)
	}
	in := decodeFlow(rec.Inbound)
	inbound := s.view(in, rec)
	var (
		state     record.State
		result    json.RawMessage
		errv      json.RawMessage
		stateInfo string
		units     []*record.Unit
		// noRetry is set when an action marked its error final: no
		// retry policy applies to it.
		noRetry bool
	)
	if r.WI {
		if r.Items > 0 {
			if units, err = s.in.Read.Units(r.Key); err != nil {
				return fmt.Errorf("read units of %s: %w", r.Key, err)
			}
		}
		results := make([]any, r.Items)
		errs := make([]any, r.Items)
		failed, cancelled := false, false
		for _, u := range units {
			if u.Item < 0 || u.Item >= r.Items {
				continue
			}
			st, res, e := u.State, u.Result, u.Error
			if ov := s.overlay[u.Item]; ov != nil {
				st, res, e = ov.state, ov.result, ov.errv
			}
			what := fmt.Sprintf("item %d of task %s", u.Item, r.Key)
			if u.Item == 0 {
				s.outcomes[r.Key] = &outcome{state: st, result: res, errv: e}
			}
			switch st {
			case record.Success:
				results[u.Item] = mustDecode("the result of "+what, res)
				if r.Ad != "" {
					v, err := s.adhocOutput(r.Ad, results[u.Item], s.taskView(rec))
					if err != nil {
						return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
					}
					results[u.Item] = v
				}
			case record.Error:
				failed = true
				noRetry = noRetry || u.NoRetry && s.overlay[u.Item] == nil
				results[u.Item] = mustDecode("the error of "+what, e)
				errs[u.Item] = results[u.Item]
			case record.Cancelled:
				cancelled = true
			}
		}
		fail := func(err error) error {
			return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
		}
		if result, err = s.encode(fmt.Sprintf("the result of task %s (%d items)", t.Name, r.Items), results); err != nil {
			return fail(err)
		}
		switch {
		case cancelled:
			state, stateInfo = record.Cancelled, "One or more actions was cancelled."
		case failed:
			state, stateInfo = record.Error, "One or more actions had failed."
			if errv, err = s.encode(fmt.Sprintf("the errors of task %s (%d items)", t.Name, r.Items), errs); err != nil {
				return fail(err)
			}
		default:
			state = record.Success
		}
	} else {
		state, result, errv = o.state, o.result, o.errv
		s.outcomes[r.Key] = o
		noRetry = state == record.Error && o.unit != nil && o.unit.NoRetry
		if state != record.Success {
			stateInfo = text(errv)
			result = nil
		} else if r.Ad != "" {
			v, err := s.adhocOutput(r.Ad, mustDecode("the result of task "+r.Key, result), s.taskView(rec))
			if err == nil {
				result, err = s.encode("the result of task "+t.Name, v)
			}
			if err != nil {
				return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
			}
		}
	}
	if !r.WI {
		r.Done.set(0)
		r.NDone = 1
	}

	// The current task as expressions see it. Built from the outcome, not
	// the stored record, which a replay of this step may find finished.
	cur := map[string]any{
		"id": rec.ExecID + "/" + rec.Key, "name": rec.Name, "state": string(state),
		"state_info": nil, "result": nil, "published": map[string]any{},
	}
	s.taskExtras(cur, rec)
	if stateInfo != "" {
		cur["state_info"] = stateInfo
	}
	if v := mustDecode("the result of task "+r.Key, result); v != nil {
		cur["result"] = v
	} else if v := mustDecode("the error of task "+r.Key, errv); v != nil && state == record.Error {
		cur["result"] = v
	}

	// publish / publish-on-error
	published := map[string]any{}
	spec := t.Publish
	if state != record.Success {
		spec = t.PublishOnError
	}
	if spec != nil && state != record.Cancelled {
		v, err := s.eval(spec, inbound, cur)
		if err != nil {
			return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
		}
		if m, ok := v.(map[string]any); ok {
			published = m
		}
	}
	out := in.publish(published)
	var outbound map[string]any // what fail-on and retry see
	if t.FailOn != nil || t.Retry != nil {
		outbound = s.view(out, rec)
	}

	// wait-after
	if !r.WA && t.WaitAfter != nil && state != record.Cancelled {
		wa, err := s.evalSeconds(t.WaitAfter, inbound, cur, "wait-after")
		if err != nil {
			return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
		}
		r.WA = true
		if wa > 0 {
			s.taskTimer(r, phaseAfter, "wait-after", time.Duration(wa)*time.Second)
			return nil
		}
	}

	// fail-on
	final := state
	if state == record.Success && t.FailOn != nil {
		bad, err := s.evalBool(t.FailOn, outbound, cur)
		if err != nil {
			return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=fail-on: %v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
		}
		if bad {
			final, stateInfo = record.Error, "Failed by 'fail-on' policy"
			cur["state"], cur["state_info"] = string(final), stateInfo
		}
	}

	// retry
	if t.Retry != nil && final != record.Cancelled && !noRetry {
		again, wait, err := s.retry(t, r, final, outbound, cur)
		if err != nil {
			return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=retry: %v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
		}
		if again {
			s.scheduleRetry(r, wait)
			return nil
		}
	}

	// publish: global — into the execution's context, seen by every task
	// from now on beneath its own flow (Mistral merges it with the vars).
	gspec := t.PublishGlobal
	if state != record.Success {
		gspec = t.PublishGlobalOnError
	}
	if gspec != nil && state != record.Cancelled {
		v, err := s.eval(gspec, inbound, cur)
		if err != nil {
			return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			if err := s.publishGlobal(m); err != nil {
				return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
			}
		}
	}

	keep := true
	if t.KeepResult != nil {
		v, err := s.eval(t.KeepResult, inbound, cur)
		if err == nil && v != nil {
			keep = v != false
		}
	}
	pub, err := s.encode("the published variables of task "+t.Name, published)
	if err != nil {
		return s.forceFail(r, rec, fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, t.Name))
	}
	fin := s.finish(rec, final, stateInfo, pub, result, errv)
	if !keep {
		fin.Result = nil
	}
	s.drop(r.Key)
	return s.afterTask(fin, final, out, cur)
}

// retry decides whether a task runs again, as Mistral's retry policy does:
// while retries remain, unless break-on holds on an error, and on success
// only while continue-on holds (continue-on, when given, must hold on an
// error too).
func (s *stepper) retry(t *dsl.Task, r *run, state record.State, outbound, cur map[string]any) (bool, time.Duration, error) {
	p := t.Retry
	count, err := s.evalInt(p.Count, outbound, cur, "retry count")
	if err != nil {
		return false, 0, err
	}
	delaySec, err := s.evalSeconds(p.Delay, outbound, cur, "retry delay")
	if err != nil {
		return false, 0, err
	}
	if int64(r.Rt) >= count {
		return false, 0, nil
	}
	if p.ContinueOn != nil {
		ok, err := s.evalBool(p.ContinueOn, outbound, cur)
		if err != nil {
			return false, 0, err
		}
		if !ok {
			return false, 0, nil
		}
	} else if state == record.Success {
		return false, 0, nil
	}
	if state == record.Error && p.BreakOn != nil {
		brk, err := s.evalBool(p.BreakOn, outbound, cur)
		if err != nil {
			return false, 0, err
		}
		if brk {
			return false, 0, nil
		}
	}
	return true, time.Duration(delaySec) * time.Second, nil
}

// scheduleRetry plans the next attempt of a task by its retry policy.
// The units move in a later step (the retry timer, or an immediate event
// when there is no delay), so that the step that read their outcomes never
// writes them and a replay of it reads the same. A with-items task runs
// all its items again, as Mistral does.
func (s *stepper) scheduleRetry(r *run, wait time.Duration) {
	r.Done, r.NDone, r.WA, r.Next = doneSet{}, 0, false, 0
	r.Rt++
	s.taskTimer(r, phaseWait, "retry", wait)
}

// restart moves every unit of a task, all of them finished, to its next
// attempt: the first window runs, the rest waits for room.
func (s *stepper) restart(r *run) error {
	window := r.Items
	if r.Conc > 0 {
		window = r.Conc
	}
	for i := range r.Items {
		from := r.unitAttempt(i)
		x := record.Expect{States: []record.State{record.Success, record.Error, record.Cancelled}, Attempt: from}
		var ch *childSpec
		if r.Child {
			u, err := s.readUnit(r.Key, i)
			if err != nil {
				return err
			}
			if u == nil {
				continue
			}
			ch = &childSpec{Workflow: u.Action, Input: u.Input, Timeout: u.Timeout}
		}
		in := hold
		if i < window {
			in = goNow
			r.Next = i + 1
		}
		s.moveUnit(s.unitKey(r.Key, i), x, from+1, in, noTime, r.Act, ch)
	}
	r.Att = r.attempt() + 1
	for i := range r.Re {
		r.Re[i]++
	}
	return nil
}

func (s *stepper) actionOf(task string) string {
	if _, r := s.b.find(task); r != nil {
		return r.Act
	}
	return ""
}

// finish writes a task record's final fields; published is encoded, nil
// when the task published nothing.
func (s *stepper) finish(rec *record.Task, state record.State, info string, published, result, errv json.RawMessage) *record.Task {
	var f *record.Task
	if m := s.made[rec.Key]; m != nil {
		f = m
	} else {
		c := *rec
		f = &c
		s.before = append(s.before, Write{FinishTask: f})
	}
	f.State, f.StateInfo, f.FinishedAt = state, clip(info, s.limits().InfoBytes), s.in.Now
	if published == nil {
		published = json.RawMessage("null")
	}
	f.Published = published
	f.Result, f.Error = result, errv
	// The outcome its unit of item 0 holds, when this step read it: the
	// store sizes the write with it (Store.FinishTask).
	f.Unit = nil
	if o := s.outcomes[rec.Key]; o != nil {
		f.Unit = &record.Unit{UnitKey: s.unitKey(rec.Key, 0), State: o.state, Result: o.result, Error: o.errv}
	}
	s.tasks[rec.Key] = f
	return f
}

// settled reports whether the final fields of f, a task that ends as its
// unit does, are what its unit's outcome o implies (record.Task.Settle):
// then no FinishTask need write them, the unit's outcome ends the task.
func settled(f *record.Task, o *outcome) bool {
	if !f.UnitEnds || o == nil {
		return false
	}
	t := record.Task{UnitEnds: true, State: record.Running, Unit: &record.Unit{State: o.state, Result: o.result, Error: o.errv}}
	t.Settle()
	return t.State == f.State && t.StateInfo == f.StateInfo && bytes.Equal(t.Published, f.Published) &&
		bytes.Equal(t.Result, f.Result) && bytes.Equal(t.Error, f.Error)
}

// dropSettled removes the FinishTask writes of tasks whose unit's outcome
// already ends them.
func (s *stepper) dropSettled() {
	s.before = slices.DeleteFunc(s.before, func(w Write) bool {
		return w.FinishTask != nil && settled(w.FinishTask, s.outcomes[w.FinishTask.Key])
	})
}

// drop removes a task execution from the active ones.
func (s *stepper) drop(key string) {
	if i, _ := s.b.find(key); i >= 0 {
		s.b.Active = slices.Delete(s.b.Active, i, i+1)
	}
}

// forceFail fails a task for an error in the workflow itself (an
// expression that cannot be evaluated) and with it the workflow, as
// Mistral does: such errors are not handled by on-error.
func (s *stepper) forceFail(r *run, rec *record.Task, msg string) error {
	return s.forceFailWith(r, rec, msg, nil)
}

// forceFailWith is forceFail recording result as the task's result.
func (s *stepper) forceFailWith(r *run, rec *record.Task, msg string, result json.RawMessage) error {
	msg = clip(msg, s.limits().InfoBytes)
	s.finish(rec, record.Error, msg, nil, result, encodeText(msg))
	s.drop(r.Key)
	s.stop(record.ExecError, msg)
	return nil
}

// next is one transition taken.
type next struct {
	tr    dsl.Transition
	event string
}

// afterTask takes a finished task's transitions.
func (s *stepper) afterTask(rec *record.Task, state record.State, out flow, cur map[string]any) error {
	if s.wf.Type == dsl.Reverse {
		return s.afterReverse(rec, state)
	}
	t := s.wf.Tasks[rec.Name]
	var outbound map[string]any // built when a condition or message needs it
	view := func() map[string]any {
		if outbound == nil {
			outbound = s.view(out, rec)
		}
		return outbound
	}
	var nexts []next
	take := func(list []dsl.Transition, event string) error {
		for _, tr := range list {
			if tr.When != nil {
				ok, err := s.evalBool(tr.When, view(), cur)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			nexts = append(nexts, next{tr: tr, event: event})
		}
		return nil
	}
	var err error
	switch state {
	case record.Error:
		err = take(t.OnError, "on-error")
	case record.Success:
		err = take(t.OnSuccess, "on-success")
	case record.Skipped:
		// A skip goes on-skip's way, or on-success's when none is taken.
		if err = take(t.OnSkip, "on-skip"); err == nil && len(nexts) == 0 {
			err = take(t.OnSuccess, "on-success")
		}
	}
	if err == nil && state != record.Cancelled && state != record.Skipped {
		err = take(t.OnComplete, "on-complete")
	}
	if err != nil {
		msg := fmt.Sprintf("Failed to complete task [error=%v, wf=%s, task=%s]", err, s.wf.Name, rec.Name)
		rec.State, rec.StateInfo = record.Error, msg
		s.stop(record.ExecError, msg)
		return nil
	}

	handled, hasNext := false, false
	for _, n := range nexts {
		if n.event == "on-error" {
			handled = true
		}
		if n.tr.Target != "" {
			hasNext = true
		}
	}
	if !hasNext {
		s.b.Ends = append(s.b.Ends, rec.Key)
	}
	switch {
	case state == record.Error && !handled:
		s.b.Errs = append(s.b.Errs, rec.Key)
	case state == record.Cancelled:
		s.b.Canc = append(s.b.Canc, rec.Key)
	}

	// Tasks before the first state command run; a fail or succeed ends
	// the workflow there, a pause keeps the rest for the resume.
	for i, n := range nexts {
		if s.exec.State.Terminal() {
			return nil
		}
		switch n.tr.Command {
		case "":
			if n.tr.Target == "" {
				continue
			}
			if err := s.goTo(n.tr.Target, rec.Key, out); err != nil {
				return err
			}
		case "noop":
		case "fail", "succeed", "pause":
			msg := ""
			if n.tr.Msg != nil {
				v, err := s.eval(n.tr.Msg, view(), cur)
				if err != nil {
					msg = fmt.Sprintf("Failed to evaluate the message of %q: %v", n.tr.Command, err)
				} else if str, ok := v.(string); ok {
					msg = str
				} else if v != nil {
					if b, err := encodeValue("the message of "+n.tr.Command, v, s.limits().InfoBytes); err != nil {
						msg = err.Error()
					} else {
						msg = string(b)
					}
				}
			}
			switch n.tr.Command {
			case "fail":
				if msg == "" {
					msg = s.failureInfo(rec)
				}
				s.draining = true
				s.stop(record.ExecError, msg)
			case "succeed":
				s.draining = true
				s.stop(record.ExecSuccess, msg)
			case "pause":
				if s.exec.State == record.ExecRunning {
					s.exec.State, s.exec.StateInfo = record.ExecPaused, msg
				}
				for _, rest := range nexts[i+1:] {
					if rest.tr.Target != "" && rest.tr.Command == "" {
						s.b.Backlog = append(s.b.Backlog, rec.Key+">"+rest.tr.Target)
					}
				}
			}
			return nil
		}
	}
	return nil
}

// goTo follows a transition to a task.
func (s *stepper) goTo(target, from string, outbound flow) error {
	t := s.wf.Tasks[target]
	if t == nil {
		s.stop(record.ExecError, fmt.Sprintf("Failed to complete task [error=task %q is not defined, wf=%s, task=%s]", target, s.wf.Name, taskName(from)))
		return nil
	}
	if t.Join == 0 {
		return s.startTask(target, outbound, from)
	}
	return s.arrive(t, from)
}

// arrive records a branch reaching a join and starts the join's task once
// enough have.
func (s *stepper) arrive(t *dsl.Task, from string) error {
	j := s.b.joinOf(t.Name)
	if j == nil {
		j = &join{Name: t.Name}
		s.b.Joins = append(s.b.Joins, j)
	}
	name := taskName(from)
	j.Arrived = slices.DeleteFunc(j.Arrived, func(k string) bool { return taskName(k) == name })
	j.Arrived = append(j.Arrived, from)
	total := len(t.Inbound)
	need := total
	if t.Join > 0 {
		need = min(t.Join, total)
	}
	if len(j.Arrived) >= total {
		s.b.Joins = slices.DeleteFunc(s.b.Joins, func(x *join) bool { return x == j })
	}
	if j.Fired || len(j.Arrived) < need {
		return nil
	}
	j.Fired = true
	ctx, err := s.branchFlows(j.Arrived)
	if err != nil {
		return err
	}
	return s.startTask(t.Name, ctx, from)
}

// settle ends what can end once the step's changes are made: a join that
// can no longer be satisfied fails once nothing else runs, and the
// workflow completes once nothing is left.
func (s *stepper) settle() error {
	for s.exec.State == record.ExecRunning && len(s.b.Active) == 0 {
		s.b.Joins = slices.DeleteFunc(s.b.Joins, func(j *join) bool { return j.Fired })
		if len(s.b.Joins) == 0 {
			s.complete()
			return nil
		}
		j := s.b.Joins[0]
		s.b.Joins = s.b.Joins[1:]
		if err := s.failJoin(j); err != nil {
			return err
		}
	}
	return nil
}

// failJoin ends a join that no branch can satisfy any more in ERROR, as
// Mistral does ("Failed by tasks: [...]"); its on-error may handle it.
func (s *stepper) failJoin(j *join) error {
	t := s.wf.Tasks[j.Name]
	var missing []string
	for _, in := range t.Inbound {
		if !slices.ContainsFunc(j.Arrived, func(k string) bool { return taskName(k) == in }) {
			missing = append(missing, in)
		}
	}
	ctx, err := s.branchFlows(j.Arrived)
	if err != nil {
		return err
	}
	key := s.bump(j.Name)
	info := "Failed by tasks: " + pyList(missing)
	inbound, err := ctx.encode(s.limits().ValueBytes)
	if err != nil {
		inbound = json.RawMessage("{}")
		info = fmt.Sprintf("%s; %v", info, err)
	}
	rec := &record.Task{
		ExecID: s.exec.ID, Key: key, Name: j.Name, Seq: s.b.Seq,
		State: record.Error, StateInfo: info, Items: 0,
		Inbound: inbound, Published: json.RawMessage("{}"), Error: encodeText(info),
		CreatedAt: s.in.Now, FinishedAt: s.in.Now,
	}
	s.before = append(s.before, Write{CreateTask: rec})
	s.made[key] = rec
	s.tasks[key] = rec
	cur := s.taskView(rec)
	return s.afterTask(rec, record.Error, ctx.publish(nil), cur)
}

// complete ends a workflow that has nothing left to run.
func (s *stepper) complete() {
	switch {
	case len(s.b.Canc) > 0:
		names := make([]string, len(s.b.Canc))
		for i, k := range s.b.Canc {
			names[i] = taskName(k)
		}
		s.stop(record.ExecCancelled, "Cancelled tasks: "+strings.Join(names, ", "))
	case len(s.b.Errs) > 0:
		s.stop(record.ExecError, s.failureInfo(nil))
	default:
		s.stop(record.ExecSuccess, "")
	}
}

// failureInfo tells which tasks failed and why, in the shape of Mistral's
// "Failure caused by error in tasks: ..." message. extra is a task that
// failed in this step but is not (yet) among the unhandled errors.
func (s *stepper) failureInfo(extra *record.Task) string {
	keys := slices.Clone(s.b.Errs)
	if extra != nil && extra.State == record.Error && !slices.Contains(keys, extra.Key) {
		keys = append(keys, extra.Key)
	}
	if len(keys) == 0 {
		if extra != nil {
			return fmt.Sprintf("Workflow failed by the 'fail' command of task %s", extra.Name)
		}
		return "Workflow failed"
	}
	var recs []*record.Task
	for _, k := range keys {
		t, err := s.task(k)
		if err != nil || t == nil {
			t = &record.Task{Key: k, Name: taskName(k)}
		}
		recs = append(recs, t)
	}
	slices.SortStableFunc(recs, func(a, b *record.Task) int { return strings.Compare(a.Name, b.Name) })
	names := make([]string, len(recs))
	for i, t := range recs {
		names[i] = t.Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Failure caused by error in tasks: %s\n", strings.Join(names, ", "))
	for _, t := range recs {
		fmt.Fprintf(&b, "\n  %s [task_ex_id=%s] -> %s\n", t.Name, t.Key, t.StateInfo)
		if t.WithItems {
			if l, ok := mustDecode("the errors of task "+t.Key, t.Error).([]any); ok {
				for i, e := range l {
					if e != nil {
						fmt.Fprintf(&b, "    [idx=%d]: %s\n", i, text(reencode(e)))
					}
				}
			}
		}
		if b.Len() > s.limits().InfoBytes {
			break // the rest would be cut
		}
	}
	return b.String()
}

// ended finishes an execution that reached a final state in this step:
// active tasks are cancelled, the output is evaluated, and a parent learns
// of its sub-workflow's end.
func (s *stepper) ended() error {
	var drains []*run
	for _, r := range s.b.Active {
		if r.Drain {
			drains = append(drains, r)
			continue
		}
		rec, err := s.task(r.Key)
		if err != nil {
			return err
		}
		if rec != nil && !rec.State.Terminal() {
			s.finish(rec, record.Cancelled, "Cancelled: the workflow ended", nil, nil, nil)
		}
	}
	s.b.Active, s.b.Joins, s.b.Backlog = drains, nil, nil
	if len(drains) > 0 {
		// The reconciler keeps an eye on their workers.
		s.expect(s.in.Now.Add(ResendAfter))
	}
	final, err := s.branchFlows(s.b.Ends)
	if err != nil {
		return err
	}
	ctx := s.view(final, nil)
	var out any
	switch s.exec.State {
	case record.ExecSuccess:
		// Without an output clause the output is the final flow: what the
		// tasks published, not the input or the vars (as Mistral does).
		out = final.vars
		if s.wf.Output != nil {
			v, err := s.eval(s.wf.Output, ctx, nil)
			if err != nil {
				s.exec.State = record.ExecError
				s.exec.StateInfo = fmt.Sprintf("Failed to evaluate workflow output: %v", err)
				out = map[string]any{"result": s.exec.StateInfo}
			} else {
				out = v
			}
		}
	case record.ExecError:
		m := map[string]any{"result": s.exec.StateInfo}
		if s.wf.OutputOnError != nil {
			v, err := s.eval(s.wf.OutputOnError, ctx, nil)
			if err != nil {
				s.exec.StateInfo = fmt.Sprintf("Failed to evaluate expression in output-on-error! (output-on-error: '%v', exception: '%v' Cause: '%s'", s.wf.OutputOnError.Source(), err, s.exec.StateInfo)
				m["result"] = s.exec.StateInfo
			} else if vm, ok := v.(map[string]any); ok {
				m = merge(m, vm)
			}
		}
		out = m
	case record.ExecCancelled:
		m := map[string]any{}
		if s.exec.StateInfo != "" {
			m["result"] = s.exec.StateInfo
		}
		out = m
	}
	raw, err := s.encode("the output of workflow "+s.wf.Name, out)
	if err != nil {
		s.exec.State = record.ExecError
		s.exec.StateInfo = clip(fmt.Sprintf("Failed to evaluate workflow output: %v", err), s.limits().InfoBytes)
		raw = reencode(map[string]any{"result": s.exec.StateInfo})
	}
	s.exec.Output = raw
	if s.exec.ParentID != "" {
		task, item, ok := ParseParentKey(s.exec.ParentKey)
		if ok {
			ev := ChildDoneEvent(s.exec, task, item)
			s.after = append(s.after, Effect{SendEvent: &ev})
		}
	}
	return nil
}

// ChildDoneEvent is the event that tells a parent that its sub-workflow
// child, now final, ended; task and item name the parent's unit (from
// ParseParentKey of the child's ParentKey). Its id is fixed by the child,
// so that it is applied once whoever sends it.
func ChildDoneEvent(child *record.Execution, task string, item int) record.Event {
	return record.Event{
		ID:     "child/" + child.ID,
		Kind:   record.EventChildDone,
		ExecID: child.ParentID,
		Task:   task,
		Item:   item,
		Child:  &record.ChildDone{ID: child.ID, State: child.State, StateInfo: child.StateInfo, Output: child.Output},
	}
}
