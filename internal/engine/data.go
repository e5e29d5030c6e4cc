package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/borawf/bora/internal/expr"
	"github.com/borawf/bora/internal/record"
)

// decode turns stored JSON into the JSON-like values expressions work on:
// integers stay int64, other numbers become float64.
func decode(raw json.RawMessage) (any, error) { return record.DecodeJSON(raw) }

// decodeMap decodes an object; anything else (or nothing) is an empty map.
func decodeMap(raw json.RawMessage) map[string]any {
	v, err := decode(raw)
	if m, ok := v.(map[string]any); ok && err == nil {
		return m
	}
	return map[string]any{}
}

// encode marshals a JSON-like value. Map keys are sorted, so equal values
// encode to equal bytes.
func encode(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v))
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
func text(raw json.RawMessage) string { return record.ErrorText(raw) }

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
	return taskView(t), nil
}

// taskView is the task() answer for a task record.
func taskView(t *record.Task) map[string]any {
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
	if r, err := decode(t.Result); err == nil && r != nil {
		m["result"] = r
	}
	if t.State == record.Error && len(t.Result) == 0 && len(t.Error) > 0 {
		if r, err := decode(t.Error); err == nil {
			m["result"] = r
		}
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
		out = append(out, taskView(t))
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
	e := h.s.exec
	in, _ := decode(e.Input)
	params, _ := decode(e.Params)
	if params == nil {
		params = map[string]any{}
	}
	return map[string]any{
		"id":         e.ID,
		"name":       e.Workflow,
		"input":      in,
		"params":     params,
		"state":      string(e.State),
		"created_at": e.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
	}
}

func (h *host) Env() any {
	v, _ := decode(h.s.exec.Env)
	if v == nil {
		return map[string]any{}
	}
	return v
}

func (h *host) UUID() string {
	h.s.uuids++
	d := digest(32, "uuid", h.s.ev.ID, fmt.Sprint(h.s.uuids))
	return d[0:8] + "-" + d[8:12] + "-4" + d[13:16] + "-8" + d[17:20] + "-" + d[20:32]
}

// eval evaluates a template over data with cur as the current task.
func (s *stepper) eval(t *expr.Template, data map[string]any, cur map[string]any) (any, error) {
	if t == nil {
		return nil, nil
	}
	return t.Eval(&expr.Context{Data: data, Host: &host{s: s, cur: cur}})
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
	return 0, fmt.Errorf("%s must be a number, not %s", what, encode(v))
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
