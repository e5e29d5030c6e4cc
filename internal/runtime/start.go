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
// creates the execution's head and sends its start event; it does not wait
// for the execution. created is false when the execution existed already
// (a retried request): it is returned as it is now, and its start event is
// sent again, which is harmless (same id).
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
	want, err := r.prepare(ctx, s, ver)
	if err != nil {
		return nil, false, err
	}
	id := want.ID
	if existing == nil {
		err = r.Store.CreateExecution(ctx, want)
		switch {
		case err == nil:
			head, created = want, true
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
	_, err := r.prepare(ctx, s, s.DefVer)
	return err
}

// prepare builds the head that s starts with version ver of its
// definition (0: the latest).
func (r *Runtime) prepare(ctx context.Context, s Start, ver int) (*record.Execution, error) {
	var err error
	if ver == 0 {
		if _, ver, err = r.Store.GetDefinition(ctx, s.DefName, 0); err != nil {
			return nil, fmt.Errorf("workflow %s: %w", s.DefName, err)
		}
	}
	bundle, err := r.defs.load(ctx, r.Store, s.DefName, ver)
	if err != nil {
		return nil, err
	}
	wf, err := pickStored(bundle, s.DefName, s.Workflow)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(wf, s.Params); err != nil {
		return nil, err
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
		return nil, &InvalidError{Msg: err.Error()}
	}
	if bundle.Name != "" {
		want.Workflow = bundle.Name + "." + wf.Name
	}
	return want, nil
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
