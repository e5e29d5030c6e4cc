package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// This file is a small in-memory runtime and worker that drive Step the
// way internal/runtime does: Before writes, the conditional commit, then
// After effects; task messages are claimed and run by fake actions, and
// their attempt-done events fed back.

var errNotFound = errors.New("not found")

// action is a fake action: it gets the unit's input and attempt.
type action func(in map[string]any, attempt int) (any, error)

// failure is an action error with a structured value.
type failure struct{ v any }

func (f failure) Error() string { return fmt.Sprint(f.v) }

// final is an action error the action marked final: the worker records
// it with NoRetry.
type final struct{ msg string }

func (f final) Error() string { return f.msg }

type world struct {
	t       testing.TB
	bundle  *dsl.Bundle
	now     time.Time
	execs   map[string]*record.Execution
	tasks   map[string]map[string]*record.Task
	units   map[record.UnitKey]*record.Unit
	events  []record.Event
	taskq   []record.TaskMessage
	timers  []record.TimerMessage
	actions map[string]action
	// reverse applies Before writes in reverse order, to prove a step's
	// writes do not depend on each other's order.
	reverse bool
	// steps counts applied (committed) steps; sent counts task messages.
	steps, stale, sent int
	// onStep, when set, is called after every committed step.
	onStep func(w *world, ev record.Event, out Output)
	// hold keeps task messages from running (to act while work is queued).
	hold bool
	// runs counts the actions run per unit; reads counts store reads.
	runs   map[record.UnitKey]int
	claims map[string]bool
	reads  int
	// rng, when set, makes delivery hostile: task messages run in random
	// order, and events and task messages are delivered twice, the copy
	// at a random later time.
	rng *rand.Rand
	// crash makes every step crash once after half its Before writes, then
	// replays it and requires the very same output.
	crash bool
	// limits are the limits every step runs with.
	limits Limits
}

func newWorld(t testing.TB, src string) *world {
	t.Helper()
	b, diags := dsl.Load("wf.yaml", []byte(src))
	if err := diags.Err(); err != nil {
		t.Fatalf("load: %v", err)
	}
	w := &world{
		t:      t,
		bundle: b,
		now:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		execs:  map[string]*record.Execution{},
		tasks:  map[string]map[string]*record.Task{},
		units:  map[record.UnitKey]*record.Unit{},
		runs:   map[record.UnitKey]int{},
		claims: map[string]bool{},
		actions: map[string]action{
			"std.noop": func(map[string]any, int) (any, error) { return nil, nil },
			"std.echo": func(in map[string]any, _ int) (any, error) { return in["output"], nil },
			"std.fail": func(in map[string]any, _ int) (any, error) {
				if d, ok := in["error_data"]; ok {
					return nil, failure{d}
				}
				return nil, errors.New("Fail action expected exception.")
			},
		},
	}
	return w
}

// Workflow resolves sub-workflows from the same document.
func (w *world) Workflow(name string) (*dsl.Workflow, string, int, error) {
	wf, ok := w.bundle.Workflows[name]
	if !ok {
		return nil, "", 0, fmt.Errorf("workflow %q: %w", name, errNotFound)
	}
	return wf, "doc", 1, nil
}

// start creates an execution of the named workflow (the first when empty)
// and queues its start event.
func (w *world) start(name, input string) string {
	w.t.Helper()
	return w.startWith(name, input, "")
}

func (w *world) startWith(name, input, params string) string {
	w.t.Helper()
	if name == "" {
		name = w.bundle.Order[0]
	}
	id := fmt.Sprintf("ex%d", len(w.execs)+1)
	var p json.RawMessage
	if params != "" {
		p = json.RawMessage(params)
	}
	var in json.RawMessage
	if input != "" {
		in = json.RawMessage(input)
	}
	head, err := NewExecution(w.bundle.Workflows[name], NewParams{ID: id, DefName: "doc", DefVer: 1, Input: in, Params: p, Now: w.now})
	if err != nil {
		w.t.Fatalf("new execution: %v", err)
	}
	w.execs[id] = head
	w.events = append(w.events, StartEvent(id))
	return id
}

type reader struct {
	w    *world
	exec string
}

func (r reader) Task(key string) (*record.Task, error) {
	r.w.reads++
	if _, ok := r.w.tasks[r.exec][key]; !ok {
		return nil, fmt.Errorf("task %s: %w", key, errNotFound)
	}
	return r.w.task(r.exec, key), nil
}

func (r reader) Unit(k record.UnitKey) (*record.Unit, error) {
	r.w.reads++
	u, ok := r.w.units[k]
	if !ok {
		return nil, fmt.Errorf("unit %s: %w", k, errNotFound)
	}
	c := *u
	return &c, nil
}

func (r reader) Units(task string) ([]*record.Unit, error) {
	r.w.reads++
	var out []*record.Unit
	for k, u := range r.w.units {
		if k.ExecID == r.exec && k.Task == task {
			c := *u
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Item < out[j].Item })
	return out, nil
}

// input builds the Step input for an event.
func (w *world) input(ev record.Event) Input {
	head := w.execs[ev.ExecID]
	c := *head
	return Input{Exec: &c, Workflow: w.bundle.Workflows[head.Workflow], Defs: w, Event: ev, Now: w.now, Read: reader{w: w, exec: ev.ExecID}, Limits: w.limits}
}

// deliver applies one event as the runtime does.
func (w *world) deliver(ev record.Event) Output {
	w.t.Helper()
	if _, ok := w.execs[ev.ExecID]; !ok {
		return Output{}
	}
	out, err := Step(w.input(ev))
	if err != nil {
		w.t.Fatalf("step %s: %v", ev.ID, err)
	}
	if w.crash && out.Exec != nil {
		// Same input, same output (determinism).
		again, err := Step(w.input(ev))
		if err != nil {
			w.t.Fatalf("step %s again: %v", ev.ID, err)
		}
		sameOutput(w.t, ev, out, again)
		// A crash after some of the Before writes, then the redelivery.
		for _, wr := range out.Before[:(len(out.Before)+1)/2] {
			w.write(wr)
		}
		replay, err := Step(w.input(ev))
		if err != nil {
			w.t.Fatalf("step %s replayed: %v", ev.ID, err)
		}
		sameOutput(w.t, ev, out, replay)
	}
	w.apply(ev, out)
	return out
}

func sameOutput(t testing.TB, ev record.Event, want, got Output) {
	t.Helper()
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("step %s is not repeatable:\nfirst:  %s\nsecond: %s", ev.ID, a, b)
	}
}

func (w *world) apply(ev record.Event, out Output) {
	w.t.Helper()
	writes := slices.Clone(out.Before)
	if w.reverse {
		slices.Reverse(writes)
	}
	var then []Effect
	for _, wr := range writes {
		if e := w.write(wr); e != nil {
			then = append(then, *e)
		}
	}
	if out.Exec != nil {
		old := w.execs[out.Exec.ID]
		if out.Exec.Version != old.Version+1 {
			w.t.Fatalf("commit %s: version %d after %d", out.Exec.ID, out.Exec.Version, old.Version)
		}
		c := *out.Exec
		w.execs[out.Exec.ID] = &c
		w.steps++
	} else {
		w.stale++
	}
	for _, e := range append(then, out.After...) {
		w.effect(e)
	}
	if w.onStep != nil && out.Exec != nil {
		w.onStep(w, ev, out)
	}
}

func (w *world) write(wr Write) *Effect {
	switch {
	case wr.CreateTask != nil:
		t := *wr.CreateTask
		if w.tasks[t.ExecID] == nil {
			w.tasks[t.ExecID] = map[string]*record.Task{}
		}
		if _, ok := w.tasks[t.ExecID][t.Key]; !ok {
			if t.Unit != nil {
				u := *t.Unit
				w.units[u.UnitKey] = &u
				t.Unit = nil
			}
			w.tasks[t.ExecID][t.Key] = &t
		}
	case wr.CreateUnit != nil:
		u := *wr.CreateUnit
		if _, ok := w.tasks[u.ExecID][u.Task]; u.Item == 0 && !ok {
			w.t.Fatalf("unit %s created before its task", u.UnitKey)
		}
		if _, ok := w.units[u.UnitKey]; !ok {
			w.units[u.UnitKey] = &u
		}
	case wr.FinishTask != nil:
		f := wr.FinishTask
		t, ok := w.tasks[f.ExecID][f.Key]
		if !ok {
			w.t.Fatalf("finish of unknown task %s", f.Key)
		}
		if !t.Finishable(f.State) {
			return nil
		}
		t.State, t.StateInfo, t.Published, t.Result, t.Error, t.ChildID, t.FinishedAt = f.State, f.StateInfo, f.Published, f.Result, f.Error, f.ChildID, f.FinishedAt
	case wr.MoveUnit != nil:
		if w.move(wr.MoveUnit) && wr.MoveUnit.Then != nil {
			return wr.MoveUnit.Then
		}
	}
	return nil
}

// move applies a guarded unit change; it reports whether it took effect.
func (w *world) move(m *MoveUnit) bool {
	u, ok := w.units[m.Key]
	if !ok || !matches(u, m.Expect) {
		return false
	}
	change(u, m.Change)
	return true
}

func matches(u *record.Unit, x record.Expect) bool { return store.Check(u, x) == nil }

func change(u *record.Unit, c record.UnitChange) { store.Apply(u, c) }

func (w *world) effect(e Effect) {
	switch {
	case e.SendTask != nil:
		w.taskq = append(w.taskq, *e.SendTask)
		w.sent++
	case e.SendEvent != nil:
		w.events = append(w.events, *e.SendEvent)
	case e.SendTimer != nil:
		w.timers = append(w.timers, *e.SendTimer)
	case e.StartChild != nil:
		if _, ok := w.execs[e.StartChild.ID]; !ok {
			c := *e.StartChild
			w.execs[c.ID] = &c
		}
		w.events = append(w.events, StartEvent(e.StartChild.ID))
	case e.MoveUnit != nil:
		if w.move(e.MoveUnit) && e.MoveUnit.Then != nil {
			w.effect(*e.MoveUnit.Then)
		}
	case e.EndWaits != nil:
		r := e.EndWaits
		for i := r.From; i < r.To; i++ {
			if u, ok := w.units[record.UnitKey{ExecID: r.ExecID, Task: r.Task, Item: i}]; ok && u.Awaiting() {
				change(u, record.UnitChange{State: record.Cancelled, ClearOutcome: true})
			}
		}
	case e.SendUnits != nil:
		r := e.SendUnits
		for i := r.From; i < r.To; i++ {
			k := record.UnitKey{ExecID: r.ExecID, Task: r.Task, Item: i}
			u, ok := w.units[k]
			if !ok {
				continue
			}
			if r.Resume {
				if u.State != record.Paused {
					continue
				}
				change(u, record.UnitChange{State: record.Scheduled, Fence: Fence(r.Event, r.Task, i, u.Attempt), Due: r.Due})
			}
			if u.State == record.Scheduled {
				w.taskq = append(w.taskq, record.TaskMessage{ExecID: r.ExecID, Task: r.Task, Item: i, Attempt: u.Attempt, Fence: u.Fence, Action: u.Action})
				w.sent++
			}
		}
	default:
		w.t.Fatalf("effect sets nothing: %+v", e)
	}
}

// work runs one task message as the worker does: claim, run, record,
// notify.
func (w *world) work(m record.TaskMessage) {
	if w.claim(m) {
		w.finish(m)
	}
}

// claim is the worker's conditional claim; false means the message is
// stale and nothing runs.
func (w *world) claim(m record.TaskMessage) bool {
	u, ok := w.units[m.Key()]
	if !ok || !matches(u, record.Expect{States: []record.State{record.Scheduled}, Attempt: m.Attempt, Fence: m.Fence}) {
		return false
	}
	u.State, u.Started = record.Running, w.now
	// Invariant 7: no action starts while its execution is not RUNNING,
	// and no attempt runs twice.
	if s := w.execs[m.ExecID].State; s != record.ExecRunning {
		w.t.Errorf("unit %s claimed while the execution is %s", m.Key(), s)
	}
	at := fmt.Sprintf("%s@%d", m.Key(), m.Attempt)
	if w.claims[at] {
		w.t.Errorf("attempt %s claimed twice", at)
	}
	w.claims[at] = true
	return true
}

// finish runs a claimed unit's action, records its outcome and sends
// attempt-done.
func (w *world) finish(m record.TaskMessage) {
	u := w.units[m.Key()]
	w.runs[m.Key()]++
	in := map[string]any{}
	if v, err := decode(u.Input); err == nil {
		if m, ok := v.(map[string]any); ok {
			in = m
		}
	}
	var res any
	var err error
	if a, ok := w.actions[u.Action]; ok {
		res, err = a(in, u.Attempt)
	} else {
		err = fmt.Errorf("unknown action %q", u.Action)
	}
	if err != nil {
		var f failure
		v := any(err.Error())
		if errors.As(err, &f) {
			v = f.v
		}
		u.State, u.Error = record.Error, w.marshal(v)
		u.NoRetry = errors.As(err, new(final))
	} else {
		u.State, u.Result = record.Success, w.marshal(res)
	}
	u.Finished, u.Due = w.now, time.Time{}
	w.events = append(w.events, record.DoneEvent(u.UnitKey, u.Attempt, u.Fence))
}

// marshal encodes an action's outcome as the worker does.
func (w *world) marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatalf("encode an outcome: %v", err)
	}
	return b
}

// run drives everything until no event, task or timer is left, or limit
// steps were taken.
func (w *world) run() {
	w.t.Helper()
	for guard := 0; guard < 100000; guard++ {
		switch {
		case len(w.events) > 0 && (w.rng == nil || len(w.taskq) == 0 || w.hold || w.rng.Intn(2) == 0):
			ev := w.events[0]
			w.events = w.events[1:]
			if w.rng != nil && w.rng.Intn(4) == 0 {
				at := w.rng.Intn(len(w.events) + 1)
				w.events = slices.Insert(w.events, at, ev)
			}
			w.deliver(ev)
		case len(w.taskq) > 0 && !w.hold:
			i := 0
			if w.rng != nil {
				i = w.rng.Intn(len(w.taskq))
			}
			m := w.taskq[i]
			w.taskq = slices.Delete(w.taskq, i, i+1)
			if w.rng != nil && w.rng.Intn(4) == 0 {
				w.taskq = append(w.taskq, m)
			}
			w.work(m)
		case len(w.timers) > 0:
			sort.SliceStable(w.timers, func(i, j int) bool { return w.timers[i].Due.Before(w.timers[j].Due) })
			tm := w.timers[0]
			w.timers = w.timers[1:]
			if tm.Due.After(w.now) {
				w.now = tm.Due
			}
			w.events = append(w.events, tm.Event)
		default:
			return
		}
	}
	w.t.Fatal("run did not settle")
}

// drain runs events only (no tasks, no timers).
func (w *world) drain() {
	for len(w.events) > 0 {
		ev := w.events[0]
		w.events = w.events[1:]
		w.deliver(ev)
	}
}

// taskList is the execution's task executions in start order, as
// "name=STATE".
func (w *world) taskList(exec string) []string {
	var ts []*record.Task
	for key := range w.tasks[exec] {
		ts = append(ts, w.task(exec, key))
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Seq < ts[j].Seq })
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name + "=" + string(t.State)
	}
	return out
}

// sortedTasks is taskList sorted, for parallel branches whose order is
// not part of the behaviour under test.
func (w *world) sortedTasks(exec string) []string {
	l := w.taskList(exec)
	sort.Strings(l)
	return l
}

// task reads a task as a store does: a copy with its unit of item 0,
// settled (record.Task.Settle).
func (w *world) task(exec, key string) *record.Task {
	t, ok := w.tasks[exec][key]
	if !ok {
		return nil
	}
	c := *t
	if u, ok := w.units[record.UnitKey{ExecID: exec, Task: key}]; ok {
		cu := *u
		c.Unit = &cu
	}
	c.Settle()
	return &c
}

func (w *world) output(exec string) any {
	v, err := decode(w.execs[exec].Output)
	if err != nil {
		w.t.Fatalf("output: %v", err)
	}
	return v
}

func mustJSON(t testing.TB, s string) any {
	t.Helper()
	v, err := decode(json.RawMessage(s))
	if err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

func (w *world) book(exec string) *book {
	b, err := decodeBook(w.execs[exec].Engine)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
