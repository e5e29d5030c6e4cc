package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Start asks for a new execution of a stored definition, as the HTTP API
// does: nothing is stored but the execution's head.
type Start struct {
	// ID is the execution id; empty means a fresh random one. A request
	// retried with the same ID gets the same execution, or a
	// *ConflictError when it asks for something else.
	ID string
	// DefName names the stored definition; DefVer picks a version, 0 the
	// latest. A retry of a request without a version is matched against
	// the version its execution pinned.
	DefName string
	DefVer  int
	// Workflow picks a workflow of the definition; empty is fine when it
	// holds only one.
	Workflow string
	Input    json.RawMessage
	Env      json.RawMessage
	Params   json.RawMessage
}

// ConflictError reports an execution id that is taken by an execution
// started by a different request.
type ConflictError struct {
	ID       string
	Existing *record.Execution
	// Differs names what differs: "workflow", "version", "input", "env",
	// "params".
	Differs string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("execution %s exists and was started with a different %s", e.ID, e.Differs)
}

// StartStored validates a start request against its stored definition,
// creates the execution's head and takes its first step (begin); it does
// not wait for the execution. created is false when the execution existed
// already (a retried request): it is returned as it is now, and its start
// event is sent, which is harmless (an applied event only has its messages
// sent again).
//
// A definition that does not exist is reported wrapping store.ErrNotFound;
// a request the workflow cannot run as an *InvalidError.
func (r *Runtime) StartStored(ctx context.Context, s Start) (head *record.Execution, created bool, err error) {
	ver := s.DefVer
	var existing *record.Execution
	if s.ID != "" {
		existing, err = r.Store.GetExecution(ctx, s.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			existing = nil
		case err != nil:
			return nil, false, fmt.Errorf("execution %s: %w", s.ID, err)
		case ver == 0 && existing.DefName == s.DefName:
			// A retry compares against the version its execution pinned,
			// not a newer one stored since.
			ver = existing.DefVer
		}
	}
	want, bundle, wf, err := r.prepare(ctx, s, ver)
	if err != nil {
		return nil, false, err
	}
	id := want.ID
	if existing == nil {
		err = r.Store.CreateExecution(ctx, want)
		switch {
		case err == nil:
			if head, err = r.begin(ctx, want, bundle, wf); err != nil {
				return nil, false, err
			}
			return head, true, nil
		case errors.Is(err, store.ErrExists):
			// A concurrent request with the same id won.
			if existing, err = r.Store.GetExecution(ctx, id); err != nil {
				return nil, false, fmt.Errorf("execution %s: %w", id, err)
			}
		default:
			return nil, false, fmt.Errorf("create execution %s: %w", id, err)
		}
	}
	if existing != nil {
		if what := differs(existing, want); what != "" {
			return nil, false, &ConflictError{ID: id, Existing: existing, Differs: what}
		}
		head = existing
	}
	if err := r.sendEvents(ctx, []record.Event{engine.StartEvent(id)}); err != nil {
		return nil, false, err
	}
	return head, created, nil
}

// CheckStart checks a start request as StartStored does — the workflow
// exists and its latest version (or s.DefVer) takes the input, env and
// params — without starting anything: for a cron trigger, whose requests
// are made later.
func (r *Runtime) CheckStart(ctx context.Context, s Start) error {
	_, _, _, err := r.prepare(ctx, s, s.DefVer)
	return err
}

// prepare builds the head that s starts with version ver of its
// definition (0: the latest), and returns the workflow it runs.
func (r *Runtime) prepare(ctx context.Context, s Start, ver int) (*record.Execution, *dsl.Bundle, *dsl.Workflow, error) {
	var err error
	if ver == 0 {
		if _, ver, err = r.Store.GetDefinition(ctx, s.DefName, 0); err != nil {
			return nil, nil, nil, fmt.Errorf("workflow %s: %w", s.DefName, err)
		}
	}
	bundle, err := r.defs.load(ctx, r.Store, s.DefName, ver)
	if err != nil {
		return nil, nil, nil, err
	}
	wf, err := pickStored(bundle, s.DefName, s.Workflow)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkTarget(wf, s.Params); err != nil {
		return nil, nil, nil, err
	}
	id := s.ID
	if id == "" {
		id = NewID()
	}
	want, err := engine.NewExecution(wf, engine.NewParams{
		ID: id, DefName: s.DefName, DefVer: ver,
		Input: s.Input, Env: s.Env, Params: s.Params,
		Now: r.Now(), Limits: r.Limits,
	})
	if err != nil {
		return nil, nil, nil, &InvalidError{Msg: err.Error()}
	}
	if bundle.Name != "" {
		want.Workflow = bundle.Name + "." + wf.Name
	}
	return want, bundle, wf, nil
}

// pickStored chooses the workflow to start from a stored definition: the
// one named, the one named as the definition (a plain document stores each
// of its workflows under its own name), or the only one.
func pickStored(b *dsl.Bundle, defName, name string) (*dsl.Workflow, error) {
	if name == "" {
		if wf, ok := b.Workflows[defName]; ok {
			return wf, nil
		}
	}
	if name == "" && len(b.Order) > 1 {
		full := make([]string, len(b.Order))
		for i, n := range b.Order {
			full[i] = defName + "." + n
		}
		return nil, &InvalidError{Msg: fmt.Sprintf("%s holds %d workflows: start one of %s", defName, len(b.Order), strings.Join(full, ", "))}
	}
	return pick(b, name)
}

// differs names the first thing in which an existing execution differs
// from the one a request would create, or returns "".
func differs(have, want *record.Execution) string {
	switch {
	case have.ParentID != "" || have.DefName != want.DefName || have.Workflow != want.Workflow:
		return "workflow"
	case have.DefVer != want.DefVer:
		return "version"
	case !sameJSON(have.Input, want.Input):
		return "input"
	case !sameJSON(have.Env, want.Env):
		return "env"
	case !sameJSON(have.Params, want.Params):
		return "params"
	}
	return ""
}

// sameJSON reports whether two JSON values are equal as values (key order
// and spacing aside); nothing equals null.
func sameJSON(a, b json.RawMessage) bool {
	va, ea := record.DecodeJSON(a)
	vb, eb := record.DecodeJSON(b)
	if ea != nil || eb != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(va, vb)
}

// maxFirstWrites bounds the writes of a first step that begin takes: a
// larger one (a wide with-items among the start tasks) is left to the
// engine, whose handler has the time for it.
const maxFirstWrites = 16

// begin sets going an execution just created (version 0). It takes the
// execution's first step here, as the engine would on its start event,
// and sends that step's task messages: the engine queue carries no start
// event, and the first task starts without waiting for an engine
// invocation. When the step is better left to the engine, or could not be
// finished here, it sends the start event instead; for a step committed
// here whose messages could not all be sent, the engine, finding the start
// applied, sends them again. It returns the head as it now is.
//
// No other step can come between: the engine takes an execution's start
// first, whatever event of it comes first (HandleEvent), and a start taken
// by the engine is this same step (the same writes, the same fences), so
// whichever commits first wins and the other commits nothing.
func (r *Runtime) begin(ctx context.Context, head *record.Execution, bundle *dsl.Bundle, wf *dsl.Workflow) (*record.Execution, error) {
	start := engine.StartEvent(head.ID)
	log := r.Log.With("execution_id", head.ID, "event", start.ID)
	out, err := r.step(log, r.input(ctx, head, bundle, wf, start))
	if err == nil && out.Exec != nil && firstAlone(out) {
		err = r.firstStep(ctx, out)
		if err == nil {
			return out.Exec, nil
		}
		log.Info("first step left to the engine", "err", err)
		if errors.Is(err, errSent) {
			head = out.Exec
		}
	}
	if err := r.sendEvents(ctx, []record.Event{start}); err != nil {
		return nil, err
	}
	return head, nil
}

// errSent marks a first step committed whose messages were not all sent.
var errSent = errors.New("committed; its messages were not all sent")

// firstStep performs out, the first step of an execution: its writes, the
// commit at version 1, then its messages.
func (r *Runtime) firstStep(ctx context.Context, out engine.Output) error {
	// Its writes are creates alone (firstAlone): none has an effect of
	// its own to perform.
	if _, err := r.before(ctx, out.Before); err != nil {
		return err
	}
	if err := r.Store.CommitExecution(ctx, out.Exec); err != nil {
		return err
	}
	if err := r.perform(ctx, out.After); err != nil {
		return fmt.Errorf("%w: %w", errSent, err)
	}
	return nil
}

// firstAlone reports whether a first step is one to take outside the
// engine: a few records created, and only task messages and timers to
// send — what the reconciler sends again from the records (a SCHEDULED
// unit's message, a DELAYED unit's timer) should the process stop after
// the commit and the start event be lost too. A step that starts a
// sub-workflow or sends an event is left to the engine, whose queue keeps
// its event until all of it is done.
func firstAlone(out engine.Output) bool {
	if len(out.Before) > maxFirstWrites {
		return false
	}
	for _, w := range out.Before {
		if w.CreateTask == nil && w.CreateUnit == nil {
			return false
		}
	}
	for _, e := range out.After {
		if e.SendTask == nil && e.SendUnits == nil && e.SendTimer == nil {
			return false
		}
	}
	return true
}
