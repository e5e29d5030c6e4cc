package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/borawf/bora/internal/record"
)

// onDone applies an attempt-done event. Anything stale is ignored: the
// execution ended, the task is no longer active, the item was counted
// already, or the unit's stored attempt differs from the event's.
func (s *stepper) onDone() (bool, error) {
	if !s.live() {
		return s.onDrained()
	}
	_, r := s.b.find(s.ev.Task)
	if r == nil || r.Child || r.Phase != "" || s.ev.Item < 0 || s.ev.Item >= r.Items || r.Done.has(s.ev.Item) {
		return false, nil
	}
	u, err := s.readUnit(s.ev.Task, s.ev.Item)
	if err != nil || u == nil {
		return false, err
	}
	if u.Attempt != s.ev.Attempt || u.Fence != s.ev.Fence || (u.State != record.Success && u.State != record.Error) {
		return false, nil
	}
	if u.State == record.Error && record.IsLost(u.Error) && !u.NoRetry && u.Attempt-max(r.Att, 1) < MaxLostReruns && s.safeRerun(r) {
		// The worker was lost and the action may safely run again: this
		// unit alone gets a new attempt, in the next step (this one read
		// its outcome). The other items of a with-items task go on.
		ev := rerunEvent(u.UnitKey, u.Attempt, u.Fence)
		s.after = append(s.after, Effect{SendEvent: &ev})
		return true, nil
	}
	o := &outcome{state: u.State, result: u.Result, errv: u.Error, unit: u, expect: u.State}
	if err := s.unitDone(r, o); err != nil {
		return false, err
	}
	return true, s.settle()
}

// onDrained applies the end of an attempt of a task that went on after
// its execution ended (keepRunning).
func (s *stepper) onDrained() (bool, error) {
	_, r := s.b.find(s.ev.Task)
	if r == nil || !r.Drain || s.ev.Item != 0 {
		return false, nil
	}
	u, err := s.readUnit(s.ev.Task, 0)
	if err != nil || u == nil {
		return false, err
	}
	if u.Attempt != s.ev.Attempt || u.Fence != s.ev.Fence || (u.State != record.Success && u.State != record.Error) {
		return false, nil
	}
	return true, s.drained(r, u)
}

func (s *stepper) readUnit(task string, item int) (*record.Unit, error) {
	k := s.unitKey(task, item)
	u, err := s.in.Read.Unit(k)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read unit %s: %w", k, err)
	}
	return u, nil
}

func (s *stepper) safeRerun(r *run) bool {
	t := s.wf.Tasks[taskName(r.Key)]
	if t == nil || t.SafeRerun == nil {
		return false
	}
	rec, err := s.task(r.Key)
	if err != nil || rec == nil {
		return false
	}
	ok, err := s.evalBool(t.SafeRerun, s.view(decodeFlow(rec.Inbound), rec), s.taskView(rec))
	return err == nil && ok
}

// timerRerun is Event.Timer of the event that re-runs a unit whose worker
// was lost.
const timerRerun = "rerun"

// rerunEvent is the event that gives a unit whose worker was lost a new
// attempt. Its id is fixed by the lost attempt, so it is applied once.
func rerunEvent(k record.UnitKey, attempt int, fence string) record.Event {
	return record.Event{
		ID:      fmt.Sprintf("rerun/%s/%s/%d/%d/%s", k.ExecID, k.Task, k.Item, attempt, fence),
		Kind:    record.EventTimer,
		ExecID:  k.ExecID,
		Task:    k.Task,
		Item:    k.Item,
		Attempt: attempt,
		Fence:   fence,
		Timer:   timerRerun,
	}
}

// onRerun moves a unit whose worker was lost (the event's attempt, still
// in ERROR) to its next attempt. A unit already at that attempt with the
// fence this event gives was moved by an earlier run of this same step,
// which crashed before its commit: the step is taken again, unchanged.
func (s *stepper) onRerun(r *run) (bool, error) {
	i := s.ev.Item
	if r.Child || r.Phase != "" || i < 0 || i >= r.Items || r.Done.has(i) {
		return false, nil
	}
	u, err := s.readUnit(s.ev.Task, i)
	if err != nil || u == nil {
		return false, err
	}
	lost := u.State == record.Error && u.Attempt == s.ev.Attempt && u.Fence == s.ev.Fence
	replay := u.Attempt == s.ev.Attempt+1 && s.mine(u)
	if !lost && !replay {
		return false, nil
	}
	x := record.Expect{States: []record.State{record.Error}, Attempt: s.ev.Attempt, Fence: s.ev.Fence}
	s.moveUnit(u.UnitKey, x, s.ev.Attempt+1, goNow, noTime, r.Act, nil)
	if r.Re == nil {
		r.Re = make(map[int]int)
	}
	r.Re[i] = s.ev.Attempt + 1
	return true, nil
}

// onChildDone applies the end of a sub-workflow to its parent's unit.
func (s *stepper) onChildDone() (bool, error) {
	c := s.ev.Child
	if c == nil || !s.live() {
		return false, nil
	}
	_, r := s.b.find(s.ev.Task)
	if r == nil || !r.Child || r.Phase != "" || s.ev.Item < 0 || s.ev.Item >= r.Items || r.Done.has(s.ev.Item) {
		return false, nil
	}
	u, err := s.readUnit(s.ev.Task, s.ev.Item)
	if err != nil || u == nil {
		return false, err
	}
	// RUNNING, or already holding this event's outcome: a replay of this
	// step after a crash that wrote it.
	if (u.State != record.Running && u.State != outcomeState(c.State)) || ChildID(s.exec.ID, u.Task, u.Item, u.Attempt) != c.ID {
		return false, nil
	}
	o := &outcome{unit: u, expect: record.Running}
	switch c.State {
	case record.ExecSuccess:
		o.state, o.result = record.Success, c.Output
		if len(o.result) == 0 {
			o.result = json.RawMessage("null")
		}
	case record.ExecCancelled:
		msg := c.StateInfo
		if msg == "" {
			msg = fmt.Sprintf("Cancelled subworkflow [execution_id=%s]", c.ID)
		}
		o.state, o.errv = record.Cancelled, encodeText(msg)
	default:
		msg := c.StateInfo
		if msg == "" {
			msg = fmt.Sprintf("Failed subworkflow [execution_id=%s]", c.ID)
		}
		o.state, o.errv = record.Error, encodeText(msg)
	}
	// The engine records the sub-workflow's outcome on the unit; a retry
	// planned below turns this same write into the next attempt.
	op := s.moveUnit(u.UnitKey, record.Expect{States: []record.State{record.Running}, Attempt: u.Attempt}, u.Attempt, fixed, noTime, r.Act, nil)
	op.state, op.result, op.errv, op.clear, op.fence = o.state, o.result, o.errv, false, ""
	if err := s.unitDone(r, o); err != nil {
		return false, err
	}
	return true, s.settle()
}

func outcomeState(s record.ExecState) record.State {
	switch s {
	case record.ExecSuccess:
		return record.Success
	case record.ExecCancelled:
		return record.Cancelled
	}
	return record.Error
}

// mine reports whether a unit's current attempt was written by this very
// event (its fence derives from the event id): a replay after a crash.
func (s *stepper) mine(u *record.Unit) bool {
	return u.Fence == Fence(s.ev.ID, u.Task, u.Item, u.Attempt)
}

// onTimer applies a timer: a DELAYED unit's wait is over, or a task-level
// wait (with-items wait-before or retry delay, wait-after) is.
func (s *stepper) onTimer() (bool, error) {
	if !s.live() {
		return false, nil
	}
	_, r := s.b.find(s.ev.Task)
	if r == nil {
		return false, nil
	}
	if s.ev.Timer == timerRerun {
		return s.onRerun(r)
	}
	if s.ev.Timer == timerTimeout {
		return s.onTimeout(r)
	}
	if s.ev.Timer == record.TimerUnit {
		if r.Done.has(s.ev.Item) {
			return false, nil
		}
		u, err := s.readUnit(s.ev.Task, s.ev.Item)
		if err != nil || u == nil {
			return false, err
		}
		replay := u.State == record.Scheduled || u.State == record.Running
		if u.Attempt != s.ev.Attempt || !(u.State == record.Delayed && u.Fence == s.ev.Fence || replay && s.mine(u)) {
			return false, nil
		}
		var ch *childSpec
		if r.Child {
			ch = &childSpec{Workflow: u.Action, Input: u.Input, Timeout: u.Timeout}
		}
		x := record.Expect{States: []record.State{record.Delayed}, Attempt: s.ev.Attempt, Fence: s.ev.Fence}
		op := s.moveUnit(u.UnitKey, x, u.Attempt, goNow, noTime, r.Act, ch)
		op.clear = false
		return true, nil
	}
	if r.Timer != s.ev.Attempt {
		return false, nil
	}
	switch {
	case r.Phase == phaseWait && s.ev.Timer == "wait-before":
		r.Phase = ""
		if err := s.fill(r); err != nil {
			return false, err
		}
	case r.Phase == phaseWait && s.ev.Timer == "retry":
		r.Phase = ""
		if err := s.restart(r); err != nil {
			return false, err
		}
	case r.Phase == phaseAfter && s.ev.Timer == "wait-after":
		r.Phase = ""
		var o *outcome
		if !r.WI {
			u, err := s.readUnit(r.Key, 0)
			if err != nil || u == nil {
				return false, err
			}
			o = &outcome{state: u.State, result: u.Result, errv: u.Error, unit: u, expect: u.State}
		}
		if err := s.completeTask(r, o); err != nil {
			return false, err
		}
	default:
		return false, nil
	}
	return true, s.settle()
}

// onCommand applies a user's command.
func (s *stepper) onCommand() (bool, error) {
	c := s.ev.Command
	if c == nil {
		return false, nil
	}
	if s.in.Exec.Version == 0 && c.Op != record.OpCancel && c.Op != record.OpFail {
		// The execution has not started (its start event has not been
		// applied): there is nothing to pause, resume or rerun yet, and
		// a resume would complete it with nothing run.
		return false, nil
	}
	switch c.Op {
	case record.OpPause:
		if s.exec.State != record.ExecRunning {
			return false, nil
		}
		s.exec.State, s.exec.StateInfo = record.ExecPaused, clip(c.Msg, s.limits().InfoBytes)
		return true, nil
	case record.OpResume:
		if s.exec.State != record.ExecPaused {
			return false, nil
		}
		if err := s.setEnv(c.Env); err != nil {
			s.stop(record.ExecError, fmt.Sprintf("Failed to resume: %v", err))
			return true, nil
		}
		s.exec.State, s.exec.StateInfo = record.ExecRunning, ""
		if err := s.resume(); err != nil {
			return false, err
		}
		return true, s.settle()
	case record.OpCancel:
		if !s.live() {
			return false, nil
		}
		s.stop(record.ExecCancelled, c.Msg)
		return true, nil
	case record.OpRerun:
		return s.rerun(c)
	case record.OpSkip:
		return s.skip(c)
	case record.OpFail:
		if s.exec.State.Terminal() {
			return false, nil
		}
		s.stop(record.ExecError, c.Msg)
		return true, nil
	}
	return false, nil
}

// setEnv merges a command's env into the execution's.
func (s *stepper) setEnv(env json.RawMessage) error {
	if len(env) == 0 || string(env) == "null" {
		return nil
	}
	raw, err := s.encode("the env", merge(decodeMap(s.exec.Env), decodeMap(env)))
	if err != nil {
		return err
	}
	s.exec.Env = raw
	return nil
}

// resume sends the paused units again with new fences, starts the tasks
// held by pause-before and the transitions that followed a pause command,
// and resumes paused sub-workflows.
func (s *stepper) resume() error {
	for _, r := range slices.Clone(s.b.Active) {
		if r.Phase == phasePause {
			r.Phase = ""
			rec, err := s.task(r.Key)
			if err != nil {
				return err
			}
			t := s.wf.Tasks[taskName(r.Key)]
			if rec == nil || t == nil {
				return fmt.Errorf("task %s: record or definition missing", r.Key)
			}
			if err := s.launch(r, t, rec, decodeFlow(rec.Inbound), nil); err != nil {
				return err
			}
			continue
		}
		items := inflight(r)
		if len(items) > 0 && !r.Child {
			s.expect(s.in.Now.Add(ResendAfter))
		}
		if !r.Child && len(items) >= rangeMin {
			s.after = append(s.after, Effect{SendUnits: &UnitRange{
				ExecID: s.exec.ID, Task: r.Key, From: slices.Min(items), To: slices.Max(items) + 1,
				Resume: true, Event: s.ev.ID, Due: s.in.Now.Add(ResendAfter),
			}})
			continue
		}
		for _, i := range items {
			u, err := s.readUnit(r.Key, i)
			if err != nil {
				return err
			}
			if u == nil {
				continue
			}
			switch {
			case r.Child && u.State == record.Running:
				ev := CommandEvent(ChildID(s.exec.ID, r.Key, i, u.Attempt), record.OpResume, record.Command{}, s.ev.ID)
				s.after = append(s.after, Effect{SendEvent: &ev})
			case u.State != record.Paused:
			case r.Child:
				op := &unitOp{key: u.UnitKey, attempt: u.Attempt, child: &childSpec{Workflow: u.Action, Input: u.Input}}
				head, err := s.childHead(op)
				if err != nil {
					return err
				}
				s.after = append(s.after,
					Effect{MoveUnit: &MoveUnit{Key: u.UnitKey,
						Expect: record.Expect{States: []record.State{record.Paused}, Attempt: u.Attempt, Fence: u.Fence},
						Change: record.UnitChange{State: record.Running}}},
					Effect{StartChild: head})
				s.childTimer(u.UnitKey, u.Attempt, u.Fence, u.Timeout)
			default:
				fence := Fence(s.ev.ID, r.Key, i, u.Attempt)
				s.after = append(s.after, Effect{MoveUnit: &MoveUnit{
					Key:    u.UnitKey,
					Expect: record.Expect{States: []record.State{record.Paused}, Attempt: u.Attempt, Fence: u.Fence},
					Change: record.UnitChange{State: record.Scheduled, Fence: fence, Due: s.in.Now.Add(ResendAfter)},
					Then: &Effect{SendTask: &record.TaskMessage{
						ExecID: s.exec.ID, Task: r.Key, Item: i, Attempt: u.Attempt, Fence: fence, Action: u.Action,
					}},
				}})
			}
		}
	}
	backlog := s.b.Backlog
	s.b.Backlog = nil
	for _, b := range backlog {
		from, target, ok := strings.Cut(b, ">")
		if !ok {
			continue
		}
		rec, err := s.task(from)
		if err != nil {
			return err
		}
		if rec == nil {
			continue
		}
		if err := s.goTo(target, from, outbound(rec)); err != nil {
			return err
		}
		if s.exec.State != record.ExecRunning {
			break
		}
	}
	return nil
}

// rerun runs a failed task of a failed execution again, as a new task
// execution with the same inbound context. A with-items task runs only
// the items that did not succeed.
func (s *stepper) rerun(c *record.Command) (bool, error) {
	if s.exec.State != record.ExecError {
		return false, nil
	}
	key := c.Task
	if !strings.Contains(key, "#") {
		key = s.latest(key)
	}
	old, err := s.task(key)
	if err != nil || old == nil {
		return false, err
	}
	t := s.wf.Tasks[old.Name]
	if t == nil || old.State != record.Error {
		return false, nil
	}
	var prev []*record.Unit
	if old.WithItems && old.Items > 0 {
		us, err := s.in.Read.Units(key)
		if err != nil {
			return false, fmt.Errorf("read units of %s: %w", key, err)
		}
		prev = make([]*record.Unit, old.Items)
		for _, u := range us {
			if u.Item >= 0 && u.Item < old.Items {
				prev[u.Item] = u
			}
		}
	}
	if err := s.setEnv(c.Env); err != nil {
		// The execution stays as it was; the rerun says why it did not run.
		s.exec.StateInfo = clip(fmt.Sprintf("Failed to rerun task %s: %v", key, err), s.limits().InfoBytes)
		return true, nil
	}
	s.exec.State, s.exec.StateInfo, s.exec.Output = record.ExecRunning, "", nil
	s.b.Errs = slices.DeleteFunc(s.b.Errs, func(k string) bool { return k == key })
	s.b.Ends = slices.DeleteFunc(s.b.Ends, func(k string) bool { return k == key })
	nk := s.bump(old.Name)
	rec := &record.Task{
		ExecID: s.exec.ID, Key: nk, Name: old.Name, Seq: s.b.Seq, State: record.Running,
		Items: 1, UnitEnds: unitEnds(t) && !transforms(s.wf, t), Inbound: old.Inbound, CreatedAt: s.in.Now,
	}
	s.before = append(s.before, Write{CreateTask: rec})
	s.made[nk] = rec
	s.tasks[nk] = rec
	r := &run{Key: nk, Items: 1}
	s.b.Active = append(s.b.Active, r)
	if err := s.launch(r, t, rec, decodeFlow(old.Inbound), prev); err != nil {
		return false, err
	}
	return true, s.settle()
}

// skip ends a failed task of a failed execution in SKIPPED, as Mistral's
// task skip does: the task publishes its publish-on-skip (and on-skip's
// publish) instead of what it published, and the workflow runs again from
// its on-skip transitions, or from its on-success ones when no on-skip
// transition is taken. on-complete is not taken.
func (s *stepper) skip(c *record.Command) (bool, error) {
	if s.exec.State != record.ExecError {
		return false, nil
	}
	key := c.Task
	if !strings.Contains(key, "#") {
		key = s.latest(key)
	}
	old, err := s.task(key)
	if err != nil || old == nil {
		return false, err
	}
	t := s.wf.Tasks[old.Name]
	if t == nil || old.State != record.Error {
		return false, nil
	}
	s.exec.State, s.exec.StateInfo, s.exec.Output = record.ExecRunning, "", nil
	s.b.Errs = slices.DeleteFunc(s.b.Errs, func(k string) bool { return k == key })
	s.b.Ends = slices.DeleteFunc(s.b.Ends, func(k string) bool { return k == key })
	in := decodeFlow(old.Inbound)
	inbound := s.view(in, old)
	cur := s.taskView(old)
	cur["state"], cur["state_info"] = string(record.Skipped), skippedInfo
	fail := func(err error) (bool, error) {
		msg := fmt.Sprintf("Failed to skip task [error=%v, wf=%s, task=%s]", err, s.wf.Name, old.Name)
		s.stop(record.ExecError, msg)
		return true, nil
	}
	published := map[string]any{}
	if t.PublishOnSkip != nil {
		v, err := s.eval(t.PublishOnSkip, inbound, cur)
		if err != nil {
			return fail(err)
		}
		if m, ok := v.(map[string]any); ok {
			published = m
		}
	}
	if t.PublishGlobalOnSkip != nil {
		v, err := s.eval(t.PublishGlobalOnSkip, inbound, cur)
		if err != nil {
			return fail(err)
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			if err := s.publishGlobal(m); err != nil {
				return fail(err)
			}
		}
	}
	pub, err := s.encode("the published variables of task "+t.Name, published)
	if err != nil {
		return fail(err)
	}
	fin := s.finish(old, record.Skipped, skippedInfo, pub, old.Result, old.Error)
	if err := s.afterTask(fin, record.Skipped, in.publish(published), cur); err != nil {
		return false, err
	}
	return true, s.settle()
}

// skippedInfo is the state_info of a skipped task, as in Mistral.
const skippedInfo = "Task was skipped."

// startReverse starts a reverse workflow: the planned tasks that require
// nothing.
func (s *stepper) startReverse(ctx flow) error {
	target, _ := decodeMap(s.exec.Params)["task_name"].(string)
	if target == "" {
		s.stop(record.ExecError, fmt.Sprintf("Reverse workflow %s needs the task to reach: params {\"task_name\": ...}", s.wf.Name))
		return nil
	}
	plan, err := s.wf.Plan(target)
	if err != nil {
		s.stop(record.ExecError, fmt.Sprintf("Failed to plan reverse workflow %s: %v", s.wf.Name, err))
		return nil
	}
	for _, name := range plan {
		if len(s.requires(name, plan)) == 0 {
			if err := s.startTask(name, ctx, ""); err != nil {
				return err
			}
		}
	}
	return s.settle()
}

// requires lists the planned tasks a task of a reverse workflow waits for.
func (s *stepper) requires(name string, plan []string) []string {
	var out []string
	for _, r := range s.wf.Tasks[name].Requires {
		if slices.Contains(plan, r) {
			out = append(out, r)
		}
	}
	return out
}

// afterReverse records a reverse workflow task's end and starts the
// planned tasks whose requirements have all succeeded.
func (s *stepper) afterReverse(rec *record.Task, state record.State) error {
	switch state {
	case record.Error:
		s.b.Errs = append(s.b.Errs, rec.Key)
		return nil
	case record.Cancelled:
		s.b.Canc = append(s.b.Canc, rec.Key)
		return nil
	}
	target, _ := decodeMap(s.exec.Params)["task_name"].(string)
	plan, err := s.wf.Plan(target)
	if err != nil {
		return fmt.Errorf("plan reverse workflow %s: %w", s.wf.Name, err)
	}
	done := planBits(s.b.Plan)
	idx := slices.Index(plan, rec.Name)
	if idx < 0 {
		return nil
	}
	done.set(idx)
	s.b.Plan = done.String()
	if rec.Name == target {
		s.b.Ends = append(s.b.Ends, rec.Key)
	}
	for i, name := range plan {
		if done.has(i) || s.count(name) > 0 {
			continue
		}
		reqs := s.requires(name, plan)
		if !slices.ContainsFunc(reqs, func(r string) bool { return r == rec.Name }) {
			continue
		}
		ready := true
		for _, r := range reqs {
			if !done.has(slices.Index(plan, r)) {
				ready = false
				break
			}
		}
		if !ready {
			continue
		}
		keys := make([]string, 0, len(reqs))
		for _, r := range reqs {
			if k := s.latest(r); k != "" {
				keys = append(keys, k)
			}
		}
		ctx, err := s.branchFlows(keys)
		if err != nil {
			return err
		}
		if err := s.startTask(name, ctx, rec.Key); err != nil {
			return err
		}
	}
	return nil
}
