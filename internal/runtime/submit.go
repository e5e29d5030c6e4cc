package runtime

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Submission asks for a new execution.
type Submission struct {
	// ID is the execution id; empty means a fresh random one. A caller that
	// retries a submission passes the same ID and gets the same execution.
	ID string
	// File names the document in messages; Source is its text.
	File   string
	Source []byte
	// DefName names the stored definition; empty means the workbook's name,
	// or the workflow's when the document is a plain file of workflows.
	DefName string
	// Workflow picks a workflow of the document; empty is fine when it
	// holds only one.
	Workflow string
	Input    json.RawMessage
	Env      json.RawMessage
	Params   json.RawMessage
	// Bundle, when set, is Source already loaded (with no errors), so that
	// a caller that checked it does not have it parsed twice.
	Bundle *dsl.Bundle
}

// InvalidError reports a submission that cannot run: the document does not
// compile, or the workflow or its input is wrong. Diagnostics holds the
// loader's messages when there are any.
type InvalidError struct {
	Msg         string
	Diagnostics dsl.Diagnostics
}

func (e *InvalidError) Error() string {
	if len(e.Diagnostics) == 0 {
		return e.Msg
	}
	var b strings.Builder
	b.WriteString(e.Msg)
	for _, d := range e.Diagnostics {
		b.WriteString("\n")
		b.WriteString(d.String())
	}
	return b.String()
}

// Submit validates a submission, stores its definition, creates the
// execution and takes its first step (begin).
func (r *Runtime) Submit(ctx context.Context, s Submission) (*record.Execution, error) {
	bundle := s.Bundle
	if bundle == nil {
		var diags dsl.Diagnostics
		bundle, diags = dsl.Load(s.File, s.Source)
		if diags.HasErrors() {
			return nil, &InvalidError{Msg: fmt.Sprintf("%s is not a valid workflow document", s.File), Diagnostics: diags}
		}
	}
	wf, err := pick(bundle, s.Workflow)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(wf, s.Params); err != nil {
		return nil, err
	}
	name := s.DefName
	if name == "" {
		name = bundle.Name
	}
	if name == "" {
		name = wf.Name
	}
	ver, err := r.Store.PutDefinition(ctx, name, s.Source)
	if err != nil {
		return nil, fmt.Errorf("store definition %s: %w", name, err)
	}
	// Version ver holds exactly s.Source: the engine of this process
	// need not compile it again.
	r.defs.put(name, ver, bundle)
	id := s.ID
	if id == "" {
		id = NewID()
	}
	head, err := engine.NewExecution(wf, engine.NewParams{
		ID:      id,
		DefName: name,
		DefVer:  ver,
		Input:   s.Input,
		Env:     s.Env,
		Params:  s.Params,
		Now:     r.Now(),
		Limits:  r.Limits,
	})
	if err != nil {
		return nil, &InvalidError{Msg: err.Error()}
	}
	if bundle.Name != "" {
		// A workbook's workflows are known by their qualified name, as in
		// Mistral; the bundle answers to both names.
		head.Workflow = bundle.Name + "." + wf.Name
	}
	switch err := r.Store.CreateExecution(ctx, head); {
	case err == nil:
		return r.begin(ctx, head, bundle, wf)
	case !errors.Is(err, store.ErrExists):
		return nil, fmt.Errorf("create execution %s: %w", id, err)
	}
	// A retried submission: the execution is there; its start event may
	// not have been sent. Sending it again is harmless (same id).
	existing, err := r.Store.GetExecution(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("execution %s: %w", id, err)
	}
	if existing.DefName != head.DefName || existing.Workflow != head.Workflow {
		return nil, &InvalidError{Msg: fmt.Sprintf("execution id %s is taken by a run of %s", id, existing.Workflow)}
	}
	head = existing
	if err := r.sendEvents(ctx, []record.Event{engine.StartEvent(id)}); err != nil {
		return nil, err
	}
	return head, nil
}

// pick chooses the workflow to run from a document.
func pick(b *dsl.Bundle, name string) (*dsl.Workflow, error) {
	if name != "" {
		if wf, ok := b.Workflows[name]; ok {
			return wf, nil
		}
		return nil, &InvalidError{Msg: fmt.Sprintf("%s has no workflow %q; it has: %s", b.File, name, strings.Join(b.Order, ", "))}
	}
	if len(b.Order) == 1 {
		return b.Workflows[b.Order[0]], nil
	}
	names := slices.Clone(b.Order)
	return nil, &InvalidError{Msg: fmt.Sprintf("%s holds %d workflows (%s): name one with --workflow", b.File, len(names), strings.Join(names, ", "))}
}

// checkTarget refuses a reverse workflow without a task to reach, or with
// one it does not have, before anything is stored.
func checkTarget(wf *dsl.Workflow, params json.RawMessage) error {
	if wf.Type != dsl.Reverse {
		return nil
	}
	var p struct {
		TaskName string `json:"task_name"`
	}
	if len(params) > 0 {
		_ = json.Unmarshal(params, &p)
	}
	if _, ok := wf.Tasks[p.TaskName]; ok {
		return nil
	}
	what := "needs a task to reach"
	if p.TaskName != "" {
		what = fmt.Sprintf("has no task %q to reach", p.TaskName)
	}
	return &InvalidError{Msg: fmt.Sprintf("reverse workflow %s %s (task_name; --task-name in bora run): one of %s", wf.Name, what, strings.Join(wf.Order, ", "))}
}

// NewID returns a random UUID (version 4).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Command sends a user's command (pause, resume, cancel, rerun) to an
// execution. The engine applies it in order with the execution's other
// events; a command that does not fit the execution's state (resume of a
// running one) changes nothing. Each call is a new command: sending the
// same one twice applies it twice.
func (r *Runtime) Command(ctx context.Context, execID string, c record.Command) error {
	if _, err := r.Store.GetExecution(ctx, execID); err != nil {
		return fmt.Errorf("execution %s: %w", execID, err)
	}
	return r.SendCommand(ctx, execID, c, NewID())
}

// SendCommand sends a command to an execution without reading it first.
// The nonce tells commands apart: the same command with the same nonce is
// applied once however often it is sent (a retried request), and a new
// command needs a new nonce.
func (r *Runtime) SendCommand(ctx context.Context, execID string, c record.Command, nonce string) error {
	return r.sendEvents(ctx, []record.Event{engine.CommandEvent(execID, c.Op, c, nonce)})
}
