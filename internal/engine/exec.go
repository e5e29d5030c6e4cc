package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/expr"
	"github.com/borawf/bora/internal/record"
)

// NewParams describes an execution to create.
type NewParams struct {
	ID      string
	DefName string
	DefVer  int
	Input   json.RawMessage // object or empty
	Env     json.RawMessage // object or empty
	Params  json.RawMessage // object or empty
	// ParentID and ParentKey link a sub-workflow to its parent's unit.
	ParentID  string
	ParentKey string
	Now       time.Time
	// Limits bound the input and env (Limits.ValueBytes), checked before
	// they are parsed.
	Limits Limits
}

// InputError reports an execution input that does not fit the workflow's
// declared inputs. Its message follows Mistral's:
// "Invalid input [name=wf, class=DirectWorkflowSpec, missing=['a'], unexpected=['x']]".
type InputError struct {
	Workflow   string
	Type       string // dsl.Direct or dsl.Reverse
	Missing    []string
	Unexpected []string
	Msg        string // set when the input is not an object at all
}

func (e *InputError) Error() string {
	class := "DirectWorkflowSpec"
	if e.Type == dsl.Reverse {
		class = "ReverseWorkflowSpec"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Invalid input [name=%s, class=%s", e.Workflow, class)
	if e.Msg != "" {
		fmt.Fprintf(&b, ", error=%s", e.Msg)
	}
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, ", missing=%s", pyList(e.Missing))
	}
	if len(e.Unexpected) > 0 {
		fmt.Fprintf(&b, ", unexpected=%s", pyList(e.Unexpected))
	}
	b.WriteString("]")
	return b.String()
}

func pyList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// NewExecution checks p.Input against the workflow's inputs, fills the
// defaults and returns the head of a new execution in RUNNING at Version 0.
// The caller creates it and sends StartEvent(p.ID).
func NewExecution(wf *dsl.Workflow, p NewParams) (*record.Execution, error) {
	if wf == nil {
		return nil, fmt.Errorf("new execution %s: no workflow", p.ID)
	}
	if p.ID == "" {
		return nil, fmt.Errorf("new execution of %s: empty id", wf.Name)
	}
	limit := p.Limits.WithDefaults().ValueBytes
	if len(p.Input) > limit {
		return nil, &InputError{Workflow: wf.Name, Type: wf.Type, Msg: fmt.Sprintf("the input is %d bytes, over the %s limit of one value", len(p.Input), expr.FormatBytes(limit))}
	}
	if len(p.Env) > limit {
		return nil, fmt.Errorf("new execution %s: the env is %d bytes, over the %s limit of one value", p.ID, len(p.Env), expr.FormatBytes(limit))
	}
	in := map[string]any{}
	if len(p.Input) > 0 && string(p.Input) != "null" {
		// Numbers are kept as written (json.Number), so that an integer
		// over 2^53 — an id — is stored with all its digits.
		d := json.NewDecoder(bytes.NewReader(p.Input))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		if err == nil && d.More() {
			err = errors.New("more than one value")
		}
		if err != nil {
			return nil, &InputError{Workflow: wf.Name, Type: wf.Type, Msg: "input is not valid JSON: " + err.Error()}
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, &InputError{Workflow: wf.Name, Type: wf.Type, Msg: "input must be an object"}
		}
		if n := outOfRange(m); n != "" {
			return nil, &InputError{Workflow: wf.Name, Type: wf.Type, Msg: fmt.Sprintf("input holds the number %.40s, which is out of range", n)}
		}
		in = m
	}
	declared := make(map[string]bool, len(wf.Input))
	var missing, unexpected []string
	for _, prm := range wf.Input {
		declared[prm.Name] = true
		if _, ok := in[prm.Name]; ok {
			continue
		}
		if prm.HasDefault {
			in[prm.Name] = prm.Default
			continue
		}
		missing = append(missing, prm.Name)
	}
	for name := range in {
		if !declared[name] {
			unexpected = append(unexpected, name)
		}
	}
	if len(missing) > 0 || len(unexpected) > 0 {
		slices.Sort(unexpected)
		return nil, &InputError{Workflow: wf.Name, Type: wf.Type, Missing: missing, Unexpected: unexpected}
	}
	input, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("new execution %s: encode input: %w", p.ID, err)
	}
	for _, raw := range []struct {
		name string
		v    json.RawMessage
	}{{"env", p.Env}, {"params", p.Params}} {
		if len(raw.v) == 0 || string(raw.v) == "null" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(raw.v, &m); err != nil {
			return nil, fmt.Errorf("new execution %s: %s must be a JSON object: %w", p.ID, raw.name, err)
		}
	}
	return &record.Execution{
		ID:        p.ID,
		Workflow:  wf.Name,
		DefName:   p.DefName,
		DefVer:    p.DefVer,
		ParentID:  p.ParentID,
		ParentKey: p.ParentKey,
		State:     record.ExecRunning,
		Input:     input,
		Env:       nullIfEmpty(p.Env),
		Params:    nullIfEmpty(p.Params),
		// The reconciler looks at it if its start event is lost.
		Due:       p.Now.Add(ResendAfter),
		CreatedAt: p.Now,
		UpdatedAt: p.Now,
	}, nil
}

// outOfRange returns the first number in v that is neither an int64 nor
// a finite float64, or "".
func outOfRange(v any) string {
	switch x := v.(type) {
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return ""
		}
		if f, err := x.Float64(); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return x.String()
		}
	case map[string]any:
		for _, e := range x {
			if n := outOfRange(e); n != "" {
				return n
			}
		}
	case []any:
		for _, e := range x {
			if n := outOfRange(e); n != "" {
				return n
			}
		}
	}
	return ""
}

// PendingTask is an active task execution of an execution and the items
// whose units may hold pending work (SCHEDULED, DELAYED or RUNNING).
type PendingTask struct {
	Key   string
	Items []int
}

// Pending lists the units of an execution that the reconciler looks at
// when the execution's Due comes: the started, unfinished items of its
// active tasks, read from the head alone. Units that run sub-workflows
// are left out: their children have heads of their own.
func Pending(e *record.Execution) ([]PendingTask, error) {
	b, err := decodeBook(e.Engine)
	if err != nil {
		return nil, fmt.Errorf("execution %s: %w", e.ID, err)
	}
	var out []PendingTask
	for _, r := range b.Active {
		if items := inflight(r); len(items) > 0 && !r.Child {
			out = append(out, PendingTask{Key: r.Key, Items: items})
		}
	}
	return out, nil
}

// Outbox returns the effects of event eventID when it is the last event
// applied to e — what a redelivery of it would carry out again (rule 4) —
// and whether it is.
func Outbox(e *record.Execution, eventID string) (after []Effect, last bool, err error) {
	b, err := decodeBook(e.Engine)
	if err != nil {
		return nil, false, fmt.Errorf("execution %s: %w", e.ID, err)
	}
	if _, last := b.applied(eventID); !last {
		return nil, false, nil
	}
	after, err = b.outbox()
	if err != nil {
		return nil, false, fmt.Errorf("execution %s: %w", e.ID, err)
	}
	return after, true, nil
}

func nullIfEmpty(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return nil
	}
	return v
}

// StartEvent is the event that starts a created execution.
func StartEvent(execID string) record.Event {
	return record.Event{ID: "start/" + execID, Kind: record.EventStart, ExecID: execID}
}

// CommandEvent is a user's command (record.OpPause, OpResume, OpCancel,
// OpRerun) on an execution. Its id is derived from the command and nonce:
// the same request sent twice is applied once, and a caller that means to
// repeat a command (pause again after a resume) passes a new nonce.
func CommandEvent(execID, op string, c record.Command, nonce string) record.Event {
	c.Op = op
	h := sha256.New()
	for _, s := range []string{op, c.Task, string(c.Env), c.Msg, nonce} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	return record.Event{
		ID:      fmt.Sprintf("cmd/%s/%s/%s", execID, op, sum),
		Kind:    record.EventCommand,
		ExecID:  execID,
		Command: &c,
	}
}
