package engine

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/record"
)

// intent is what a unit created or moved in this step is meant to do; the
// state it gets is decided when the step ends, by the execution's state
// then (a pause or a stop later in the same step wins).
type intent int

const (
	goNow intent = iota // run now: SCHEDULED (a sub-workflow: RUNNING)
	delay               // wait until due: DELAYED with a timer
	hold                // outside the concurrency window: WAITING
	fixed               // an outcome the engine records (a sub-workflow's end)
)

// unitOp is one unit write of this step.
type unitOp struct {
	key     record.UnitKey
	create  *record.Unit  // a new unit; nil for a move
	expect  record.Expect // a move's condition
	attempt int           // the attempt after the write
	fence   string        // the fence after the write
	intent  intent
	due     time.Time
	clear   bool // a new attempt: drop the previous outcome
	// fixed outcome
	state  record.State
	result json.RawMessage
	errv   json.RawMessage
	// sub-workflow units: what to start
	child *childSpec
	// action is the unit's action (for its task message)
	action string
}

type childSpec struct {
	Workflow string
	Input    json.RawMessage
	// Timeout bounds one attempt of the sub-workflow; 0 means none.
	Timeout time.Duration
}

// addUnit plans the creation of a unit at attempt 1.
func (s *stepper) addUnit(task string, item int, u *record.Unit, in intent, due time.Time, child *childSpec) {
	k := s.unitKey(task, item)
	u.UnitKey = k
	u.Attempt = 1
	u.Fence = Fence(s.ev.ID, task, item, 1)
	s.ops = append(s.ops, &unitOp{key: k, create: u, attempt: 1, fence: u.Fence, intent: in, due: due, child: child, action: u.Action})
}

// moveUnit plans a guarded move of a unit to attempt (a new attempt when
// it differs from the expected one).
func (s *stepper) moveUnit(k record.UnitKey, x record.Expect, attempt int, in intent, due time.Time, action string, child *childSpec) *unitOp {
	op := &unitOp{key: k, expect: x, attempt: attempt, fence: Fence(s.ev.ID, k.Task, k.Item, attempt), intent: in, due: due, clear: attempt != x.Attempt, action: action, child: child}
	s.ops = append(s.ops, op)
	return op
}

// finalize turns the planned unit writes into writes and effects by the
// execution's state at the end of the step, pauses or stops the work in
// flight when the step paused or ended the execution, and reports a
// sub-workflow's end to its parent.
func (s *stepper) finalize() error {
	state := s.exec.State
	touched := make(map[record.UnitKey]bool, len(s.ops))
	sched := map[string][]int{}
	var order []string
	for _, op := range s.ops {
		touched[op.key] = true
		st := s.stateFor(op)
		if op.create != nil && state.Terminal() {
			continue // nothing new runs once the execution has ended
		}
		var due time.Time
		switch st {
		case record.Scheduled:
			due = s.in.Now.Add(ResendAfter)
		case record.Delayed:
			due = op.due
		}
		s.expect(due)
		if op.create != nil {
			op.create.State = st
			op.create.Due = due
			if st.Terminal() {
				op.create.Result, op.create.Error, op.create.Finished = op.result, op.errv, s.in.Now
			}
			if t := s.made[op.key.Task]; t != nil && op.key.Item == 0 {
				// The task is created in this step: its unit of item 0
				// is created with it, in its record.
				t.Unit = op.create
			} else {
				s.before = append(s.before, Write{CreateUnit: op.create})
			}
		} else {
			c := record.UnitChange{State: st, Attempt: op.attempt, Fence: op.fence, Due: due, ClearOutcome: op.clear}
			if st.Terminal() {
				c.Result, c.Error, c.Finished = op.result, op.errv, s.in.Now
			}
			s.before = append(s.before, Write{MoveUnit: &MoveUnit{Key: op.key, Expect: op.expect, Change: c}})
		}
		switch {
		case st == record.Scheduled:
			if _, ok := sched[op.key.Task]; !ok {
				order = append(order, op.key.Task)
			}
			sched[op.key.Task] = append(sched[op.key.Task], op.key.Item)
		case st == record.Delayed:
			ev := record.TimerEvent(op.key, op.attempt, op.fence)
			s.after = append(s.after, Effect{SendTimer: &record.TimerMessage{Due: op.due, Event: ev}})
		case st == record.Running && op.child != nil:
			head, err := s.childHead(op)
			if err != nil {
				return err
			}
			s.after = append(s.after, Effect{StartChild: head})
			s.childTimer(op.key, op.attempt, op.fence, op.child.Timeout)
		}
	}
	for _, task := range order {
		s.sendUnits(task, sched[task])
	}
	switch {
	case s.from == record.ExecRunning && state == record.ExecPaused:
		if err := s.halt(touched, record.Paused); err != nil {
			return err
		}
	case s.stopped && state.Terminal():
		if s.draining {
			if err := s.keepRunning(touched); err != nil {
				return err
			}
		}
		if err := s.halt(touched, record.Cancelled); err != nil {
			return err
		}
		if err := s.ended(); err != nil {
			return err
		}
	}
	return nil
}

// stateFor decides the state a planned unit write gives.
func (s *stepper) stateFor(op *unitOp) record.State {
	switch {
	case op.intent == fixed:
		return op.state
	case s.exec.State.Terminal():
		return record.Cancelled
	case op.intent == hold:
		return record.Waiting
	case s.exec.State == record.ExecPaused:
		return record.Paused
	case op.intent == delay:
		return record.Delayed
	case op.child != nil:
		return record.Running
	}
	return record.Scheduled
}

// sendUnits sends the task messages of units scheduled in this step.
func (s *stepper) sendUnits(task string, items []int) {
	if len(items) >= rangeMin {
		lo, hi := slices.Min(items), slices.Max(items)
		s.after = append(s.after, Effect{SendUnits: &UnitRange{ExecID: s.exec.ID, Task: task, From: lo, To: hi + 1}})
		return
	}
	for _, op := range s.ops {
		if op.key.Task != task || !slices.Contains(items, op.key.Item) {
			continue
		}
		s.after = append(s.after, Effect{SendTask: &record.TaskMessage{
			ExecID: s.exec.ID, Task: task, Item: op.key.Item, Attempt: op.attempt, Fence: op.fence, Action: op.action,
		}})
	}
}

// childHead builds the head of the sub-workflow execution of a unit.
func (s *stepper) childHead(op *unitOp) (*record.Execution, error) {
	if s.in.Defs == nil {
		return nil, fmt.Errorf("task %s: no definitions to resolve workflow %q", op.key.Task, op.child.Workflow)
	}
	if depth, limit := s.b.Depth+1, s.limits().Depth; depth > limit {
		return nil, fmt.Errorf("sub-workflow %s would be nested %d deep, over the limit of %d", op.child.Workflow, depth, limit)
	}
	wf, name, ver, err := s.in.Defs.Workflow(op.child.Workflow)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", op.key.Task, err)
	}
	input, params, err := childInput(wf, op.child.Input)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", op.key.Task, err)
	}
	head, err := NewExecution(wf, NewParams{
		ID:        ChildID(s.exec.ID, op.key.Task, op.key.Item, op.attempt),
		DefName:   name,
		DefVer:    ver,
		Input:     input,
		Params:    params,
		Env:       s.exec.Env,
		ParentID:  s.exec.ID,
		ParentKey: parentKey(op.key.Task, op.key.Item),
		Now:       s.in.Now,
		Limits:    s.in.Limits,
	})
	if err != nil {
		return nil, err
	}
	// The child starts with its depth: it counts every level, whatever
	// names the workflows have (an expression may name one).
	if head.Engine, err = json.Marshal(&book{Depth: s.b.Depth + 1, Root: cmp.Or(s.b.Root, s.exec.ID)}); err != nil {
		return nil, fmt.Errorf("task %s: %w", op.key.Task, err)
	}
	return head, nil
}

// inflight lists the started, unfinished items of an active task.
func inflight(r *run) []int {
	if r.Phase == phasePause {
		return nil
	}
	var items []int
	for i := min(r.Done.lo, r.Next); i < r.Next; i++ {
		if !r.Done.has(i) {
			items = append(items, i)
		}
	}
	return items
}

// halt moves the unclaimed work of every active task out of reach of the
// workers — to PAUSED, or to CANCELLED when the execution ended — before
// the head records the new state (docs/protocol.md, rule 2). Sub-workflows
// get the same command. Units written earlier in this step are already in
// their right state.
//
// When the execution ended, an attempt that awaits its completion (its
// action returned pending: RUNNING, no worker) ends CANCELLED too, by the
// same write: its condition admits a RUNNING unit only when it awaits
// (record.Expect.Awaiting), so an attempt a worker holds is left to its
// worker, and a completion racing the cancel is decided by the unit's
// condition — exactly one of the two writes lands. A worker whose action
// still runs may record its wait just after that write: after the commit
// the runtime looks at those units again (EndWaits), and a wait recorded
// later still is its worker's to end, which then finds the execution
// ended. The cost: one conditional write per started, unfinished item of
// an active task, whatever its state, as before (the engine does not know
// which items are claimed or awaited; the condition tells), then a read of
// each such task's units (one read for a task of one item, a listing for
// a with-items task), and a write only for a wait found.
func (s *stepper) halt(touched map[record.UnitKey]bool, to record.State) error {
	x := record.Expect{States: []record.State{record.Scheduled, record.Delayed}}
	c := record.UnitChange{State: to}
	op := record.OpPause
	if to == record.Cancelled {
		x = record.Expect{States: []record.State{record.Scheduled, record.Delayed, record.Paused, record.Waiting, record.Running}, Awaiting: true}
		// An awaited attempt's marker goes: the unit holds no result.
		c.ClearOutcome = true
		op = record.OpCancel
	}
	for _, r := range s.b.Active {
		moved := []int{}
		for _, i := range inflight(r) {
			k := s.unitKey(r.Key, i)
			if touched[k] {
				continue
			}
			if r.Child {
				u, err := s.in.Read.Unit(k)
				if err != nil {
					if isNotFound(err) {
						continue
					}
					return fmt.Errorf("read unit %s: %w", k, err)
				}
				if u.State == record.Running {
					child := ChildID(s.exec.ID, r.Key, i, u.Attempt)
					ev := CommandEvent(child, op, record.Command{Msg: s.exec.StateInfo}, s.ev.ID)
					s.after = append(s.after, Effect{SendEvent: &ev})
					continue
				}
			}
			s.before = append(s.before, Write{MoveUnit: &MoveUnit{Key: k, Expect: x, Change: c}})
			moved = append(moved, i)
		}
		if to == record.Cancelled && !r.Child && len(moved) > 0 {
			ur := &UnitRange{ExecID: s.exec.ID, Task: r.Key, From: slices.Min(moved), To: slices.Max(moved) + 1}
			s.after = append(s.after, Effect{EndWaits: ur})
		}
	}
	return nil
}

// keepRunning marks the tasks that go on after a `succeed` or `fail`
// command ended the execution, as Mistral lets them: a task of one action
// whose attempt a worker has claimed (RUNNING). One not claimed yet is
// cancelled, so that no action starts in an execution that is not RUNNING
// (docs/protocol.md, invariant 7).
// It finishes with its action's outcome (record.Task, publish evaluated),
// and takes no transition; everything else is cancelled. Such a task
// stays among the active ones, drained (run.Drain), until its attempt
// ends (onDone), and the reconciler watches its worker meanwhile.
func (s *stepper) keepRunning(touched map[record.UnitKey]bool) error {
	for _, r := range s.b.Active {
		k := s.unitKey(r.Key, 0)
		if r.Child || r.WI || r.Phase != "" || r.Items != 1 || r.Done.has(0) || touched[k] {
			continue
		}
		u, err := s.readUnit(r.Key, 0)
		if err != nil {
			return err
		}
		if u != nil && u.State == record.Running {
			r.Drain = true
			touched[k] = true // not cancelled by halt
		}
	}
	return nil
}

// drained applies the end of the attempt of a task that went on after its
// execution ended (keepRunning): the task finishes as its action did,
// publishing what it publishes, and nothing follows.
func (s *stepper) drained(r *run, u *record.Unit) error {
	rec, err := s.task(r.Key)
	if err != nil || rec == nil {
		return err
	}
	t := s.wf.Tasks[rec.Name]
	state, result, errv, info := u.State, u.Result, u.Error, ""
	if state != record.Success {
		result, info = nil, text(errv)
	}
	cur := s.taskView(rec)
	cur["state"], cur["state_info"] = string(state), nilIfEmpty(info)
	if v := mustDecode("the result of task "+r.Key, result); v != nil {
		cur["result"] = v
	}
	spec := t.Publish
	if state != record.Success {
		spec = t.PublishOnError
	}
	var pub json.RawMessage
	if v, err := s.eval(spec, s.view(decodeFlow(rec.Inbound), rec), cur); err == nil && v != nil {
		if raw, err := s.encode("the published variables of task "+t.Name, v); err == nil {
			pub = raw
		}
	}
	s.outcomes[r.Key] = &outcome{state: state, result: u.Result, errv: u.Error}
	s.finish(rec, state, info, pub, result, errv)
	s.drop(r.Key)
	return nil
}

// timerTimeout is Event.Timer of the event that ends a sub-workflow's
// attempt that ran past the task's timeout.
const timerTimeout = "timeout"

// childTimer sets the timer that bounds one attempt of a sub-workflow
// unit, when its task has a timeout. A worker bounds an action's attempt
// itself; a sub-workflow has no worker, so the engine does.
func (s *stepper) childTimer(k record.UnitKey, attempt int, fence string, d time.Duration) {
	if d <= 0 {
		return
	}
	ev := record.Event{
		ID:      fmt.Sprintf("timeout/%s/%s/%d/%d/%s", k.ExecID, k.Task, k.Item, attempt, fence),
		Kind:    record.EventTimer,
		ExecID:  k.ExecID,
		Task:    k.Task,
		Item:    k.Item,
		Attempt: attempt,
		Fence:   fence,
		Timer:   timerTimeout,
	}
	s.after = append(s.after, Effect{SendTimer: &record.TimerMessage{Due: s.in.Now.Add(d), Event: ev}})
}

// timeoutError is the error of a sub-workflow's attempt that timed out.
func timeoutError(u *record.Unit) json.RawMessage {
	secs := strconv.FormatFloat(u.Timeout.Seconds(), 'f', -1, 64)
	return encodeText(fmt.Sprintf("sub-workflow %s timed out after %s seconds", u.Action, secs))
}

// onTimeout ends a sub-workflow's attempt that is still running when its
// timeout is due: the unit fails through the ordinary error path (so
// on-error, retry and the rest apply), and the child is cancelled. The
// child's own end, when it comes, is stale. A unit already holding this
// error at the same attempt and fence was written by an earlier run of
// this same step, which crashed before its commit.
func (s *stepper) onTimeout(r *run) (bool, error) {
	i := s.ev.Item
	if !r.Child || r.Phase != "" || i < 0 || i >= r.Items || r.Done.has(i) {
		return false, nil
	}
	u, err := s.readUnit(s.ev.Task, i)
	if err != nil || u == nil {
		return false, err
	}
	if u.Attempt != s.ev.Attempt || u.Fence != s.ev.Fence {
		return false, nil
	}
	errv := timeoutError(u)
	replay := u.State == record.Error && bytes.Equal(u.Error, errv)
	if u.State != record.Running && !replay {
		return false, nil
	}
	x := record.Expect{States: []record.State{record.Running}, Attempt: u.Attempt, Fence: u.Fence}
	op := s.moveUnit(u.UnitKey, x, u.Attempt, fixed, noTime, r.Act, nil)
	op.state, op.errv, op.clear, op.fence = record.Error, errv, false, ""
	child := ChildID(s.exec.ID, u.Task, i, u.Attempt)
	cancel := CommandEvent(child, record.OpCancel, record.Command{Msg: text(errv)}, s.ev.ID)
	s.after = append(s.after, Effect{SendEvent: &cancel})
	o := &outcome{state: record.Error, errv: errv, unit: u, expect: record.Running}
	if err := s.unitDone(r, o); err != nil {
		return false, err
	}
	return true, s.settle()
}

// childInput splits the input a task gives a sub-workflow, as Mistral
// does: what the workflow declares is its input; anything else is a start
// parameter of its execution (task_name, the target of a reverse
// workflow, most usefully).
func childInput(wf *dsl.Workflow, raw json.RawMessage) (input, params json.RawMessage, err error) {
	in := decodeMap(raw)
	declared := make(map[string]bool, len(wf.Input))
	for _, p := range wf.Input {
		declared[p.Name] = true
	}
	extra := map[string]any{}
	for k, v := range in {
		if !declared[k] {
			extra[k] = v
			delete(in, k)
		}
	}
	if len(extra) == 0 {
		return raw, nil, nil
	}
	if input, err = json.Marshal(in); err != nil {
		return nil, nil, fmt.Errorf("encode the sub-workflow's input: %w", err)
	}
	if params, err = json.Marshal(extra); err != nil {
		return nil, nil, fmt.Errorf("encode the sub-workflow's parameters: %w", err)
	}
	return input, params, nil
}
