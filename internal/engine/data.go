package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/borawf/bora/internal/expr"
	"github.com/borawf/bora/internal/record"
)

// decode turns stored JSON into the JSON-like values expressions work on:
// integers stay int64, other numbers become float64.
func decode(raw json.RawMessage) (any, error) { return record.DecodeJSON(raw) }

// corrupt is the panic of a stored value the engine cannot read: the
// engine wrote every value it reads as JSON, so a value that does not
// decode was damaged in the store. Step recovers it and fails with it,
// rather than going on with a value silently replaced.
type corrupt struct{ err error }

// ErrCorrupt is wrapped by the error of a step that found a stored value
// it cannot read.
var ErrCorrupt = errors.New("a stored value is not valid JSON")

// mustDecode decodes a stored value; a value that does not decode is
// corrupt.
func mustDecode(what string, raw json.RawMessage) any {
	v, err := decode(raw)
	if err != nil {
		panic(corrupt{fmt.Errorf("%s: %w: %v", what, ErrCorrupt, err)})
	}
	return v
}

// decodeMap decodes a stored object; null (or nothing) is an empty map, and
// so is any other value, which only a command's env can be. A value that
// does not decode is corrupt.
func decodeMap(raw json.RawMessage) map[string]any {
	if m, ok := mustDecode("stored object", raw).(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// reencode encodes a value decoded from stored JSON again; that cannot
// fail but for a damaged store.
func reencode(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(corrupt{fmt.Errorf("re-encode a stored value: %w: %v", ErrCorrupt, err)})
	}
	return b
}

// merge returns a deep merge of maps, later ones winning, as Mistral's
// merge_dicts does: nested maps are merged, other values replaced.
func merge(ms ...map[string]any) map[string]any {
	out := make(map[string]any)
	for _, m := range ms {
		mergeInto(out, m)
	}
	return out
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				c := make(map[string]any, len(dm))
				mergeInto(c, dm)
				mergeInto(c, sm)
				dst[k] = c
				continue
			}
		}
		dst[k] = v
	}
}

// text renders an error value as a task's state_info: a string as is,
// anything else as JSON.
func text(raw json.RawMessage) string {
	v := mustDecode("error", raw)
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		if record.IsLost(raw) {
			if m, ok := x["message"].(string); ok {
				return m
			}
		}
	}
	return string(reencode(v))
}

// host answers the engine functions of expressions (task(), execution(),
// env(), uuid()) over the step's view of the execution.
type host struct {
	s   *stepper
	cur map[string]any // the current task's task() answer; nil outside a task
}

func (h *host) Task(name string) (any, error) {
	if name == "" || (h.cur != nil && h.cur["name"] == name) {
		if h.cur == nil {
			return nil, errors.New("task() without a name is only valid inside a task")
		}
		return h.cur, nil
	}
	key := h.s.latest(name)
	if key == "" {
		return nil, nil
	}
	t, err := h.s.task(key)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil
	}
	return h.s.taskView(t), nil
}

// taskView is the task() answer for a task record: what taskFields gives
// and the fields that need the workflow (Mistral's spec, type,
// workflow_execution_id, created_at and updated_at).
func (s *stepper) taskView(t *record.Task) map[string]any {
	m := taskFields(t)
	s.taskExtras(m, t)
	return m
}

// taskExtras adds to a task() answer the fields beyond its record's.
func (s *stepper) taskExtras(m map[string]any, t *record.Task) {
	typ := "ACTION"
	var spec any
	if d := s.wf.Tasks[t.Name]; d != nil {
		if d.Workflow != nil {
			typ = "WORKFLOW"
		}
		spec = d.Spec
	}
	updated := t.FinishedAt
	if updated.IsZero() {
		updated = t.CreatedAt
	}
	m["spec"], m["type"], m["workflow_execution_id"] = spec, typ, t.ExecID
	m["created_at"], m["updated_at"] = mistralTime(t.CreatedAt), mistralTime(updated)
}

// mistralTime is a time as Mistral's expression functions give it.
func mistralTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// taskFields is the part of a task() answer a task record holds.
func taskFields(t *record.Task) map[string]any {
	m := map[string]any{
		"id":         t.ExecID + "/" + t.Key,
		"name":       t.Name,
		"state":      string(t.State),
		"state_info": nil,
		"result":     nil,
		"published":  map[string]any{},
	}
	if t.StateInfo != "" {
		m["state_info"] = t.StateInfo
	}
	if r := mustDecode("result of task "+t.Key, t.Result); r != nil {
		m["result"] = r
	}
	if t.State == record.Error && len(t.Result) == 0 && len(t.Error) > 0 {
		m["result"] = mustDecode("error of task "+t.Key, t.Error)
	}
	if p := decodeMap(t.Published); len(p) > 0 {
		m["published"] = p
	}
	return m
}

// Tasks answers tasks(). It reads every task execution of the execution
// (the only engine function that does): the user asked for all of them.
func (h *host) Tasks(execID string, recursive bool, state string) ([]any, error) {
	if execID != "" && execID != h.s.exec.ID {
		return nil, fmt.Errorf("tasks(): only the current execution (%s) is visible, not %s", h.s.exec.ID, execID)
	}
	var all []*record.Task
	for _, n := range h.s.wf.Order {
		for i := 1; i <= h.s.count(n); i++ {
			t, err := h.s.task(taskKey(n, i))
			if err != nil {
				return nil, err
			}
			if t != nil {
				all = append(all, t)
			}
		}
	}
	sortTasks(all)
	out := []any{}
	for _, t := range all {
		if state != "" && !strings.EqualFold(string(t.State), state) {
			continue
		}
		out = append(out, h.s.taskView(t))
	}
	return out, nil
}

func sortTasks(ts []*record.Task) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Seq < ts[j-1].Seq; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

func (h *host) Execution() any {
	return executionView(h.s.exec, h.s.wf.Spec)
}

// executionView is the execution() answer for a head; spec is the
// workflow's when known.
func executionView(e *record.Execution, spec map[string]any) map[string]any {
	in := mustDecode("input", e.Input)
	params := mustDecode("params", e.Params)
	if params == nil {
		params = map[string]any{}
	}
	var root any
	if b, err := decodeBook(e.Engine); err == nil && b.Root != "" {
		root = b.Root
	}
	var sp any
	if spec != nil {
		sp = spec
	}
	return map[string]any{
		"id":                e.ID,
		"name":              e.Workflow,
		"spec":              sp,
		"input":             in,
		"params":            params,
		"state":             string(e.State),
		"state_info":        nilIfEmpty(e.StateInfo),
		"created_at":        mistralTime(e.CreatedAt),
		"updated_at":        mistralTime(e.UpdatedAt),
		"root_execution_id": root,
	}
}

// RootOf is the top-level execution a sub-workflow execution runs under,
// or "" for a top-level one.
func RootOf(e *record.Execution) string {
	if b, err := decodeBook(e.Engine); err == nil {
		return b.Root
	}
	return ""
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (h *host) Env() any {
	v := mustDecode("env", h.s.exec.Env)
	if v == nil {
		return map[string]any{}
	}
	return v
}

// Global answers global(name): the execution's context is its vars with
// the variables tasks published `global` merged in.
func (h *host) Global(name string) (any, error) {
	return decodeMap(h.s.b.Vars)[name], nil
}

// Now answers now(): the step's time, given by the runtime (Input.Now).
func (h *host) Now() time.Time { return h.s.in.Now }

// Executions answers executions() through the Reader, when it can list
// executions (ExecutionReader).
func (h *host) Executions(q expr.ExecutionsQuery) ([]any, error) {
	er, ok := h.s.in.Read.(ExecutionReader)
	if !ok {
		return nil, errors.New("executions() is not available here: the engine was given no way to list executions")
	}
	es, err := er.Executions(q)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(es))
	for _, e := range es {
		out = append(out, executionView(e, nil))
	}
	return out, nil
}

func (h *host) UUID() string {
	h.s.uuids++
	d := digest(32, "uuid", h.s.ev.ID, fmt.Sprint(h.s.uuids))
	return d[0:8] + "-" + d[8:12] + "-4" + d[13:16] + "-8" + d[17:20] + "-" + d[20:32]
}

// eval evaluates a template over data with cur as the current task.
func (s *stepper) eval(t *expr.Template, data map[string]any, cur map[string]any) (any, error) {
	return s.evalOn(t, data, cur)
}

// evalOn evaluates a template with `$` any value (an action's result).
func (s *stepper) evalOn(t *expr.Template, data any, cur map[string]any) (any, error) {
	if t == nil {
		return nil, nil
	}
	l := s.limits()
	return t.Eval(&expr.Context{Data: data, Host: &host{s: s, cur: cur}, MaxSteps: l.ExprSteps, MaxBytes: l.ExprBytes})
}

// MaxSeconds is the longest wait, delay or timeout a task may set (a
// hundred years): longer ones could not be held as a time.
const MaxSeconds = 100 * 365 * 24 * 3600

// evalSeconds evaluates a policy number of seconds, at most MaxSeconds.
func (s *stepper) evalSeconds(t *expr.Template, data, cur map[string]any, what string) (int64, error) {
	n, err := s.evalInt(t, data, cur, what)
	if err == nil && n > MaxSeconds {
		err = fmt.Errorf("%s of %d seconds is longer than the longest a task may wait (%d seconds, a hundred years)", what, n, MaxSeconds)
	}
	return n, err
}

// evalInt evaluates a policy number (seconds, counts). Absent is 0.
func (s *stepper) evalInt(t *expr.Template, data, cur map[string]any, what string) (int64, error) {
	v, err := s.eval(t, data, cur)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return x, nil
	case float64:
		return int64(x), nil
	case int:
		return int64(x), nil
	case string:
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(x), &n); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s must be a number, not %s", what, brief(v))
}

// evalBool evaluates a condition. Absent is false.
func (s *stepper) evalBool(t *expr.Template, data, cur map[string]any) (bool, error) {
	if t == nil {
		return false, nil
	}
	v, err := s.eval(t, data, cur)
	if err != nil {
		return false, err
	}
	return expr.Truthy(v), nil
}
