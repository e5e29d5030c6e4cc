package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/borawf/bora/internal/record"
)

// flow is the data a branch of a workflow carries from task to task: the
// variables published on the path that led to a task (Mistral's task
// in_context), without the workflow's input and vars, which every
// expression sees underneath (see view).
//
// Each variable has a version: how many times it was published on the
// path. Where branches meet (a join, the workflow's final context) the
// value with the higher version wins, so a variable updated on one branch
// beats the older value another branch still carries, whatever order the
// branches ended in (Mistral's context versioning). Versions are kept per
// top-level variable, so their number is bounded by the variables the
// workflow's publish clauses name; they live in task records, never in the
// execution head.
//
// Depth is the number of task executions on the longest path the flow
// came through. Of equal versions, the deeper branch wins (see
// branchFlows).
type flow struct {
	vars  map[string]any
	ver   map[string]int
	depth int
}

// flowKey holds a flow's versions and depth in a task's stored inbound
// context. It is reserved: a published variable of that name is ignored.
const flowKey = "__flow"

// flowMeta is the stored form of a flow's versions and depth.
type flowMeta struct {
	Depth    int            `json:"depth,omitempty"`
	Versions map[string]int `json:"versions,omitempty"`
}

// decodeFlow reads a task's stored inbound context.
func decodeFlow(raw json.RawMessage) flow {
	m := decodeMap(raw)
	f := flow{vars: m}
	meta, ok := m[flowKey].(map[string]any)
	if !ok {
		return f
	}
	delete(m, flowKey)
	if d, ok := meta["depth"].(int64); ok {
		f.depth = int(d)
	}
	if v, ok := meta["versions"].(map[string]any); ok {
		f.ver = make(map[string]int, len(v))
		for k, n := range v {
			if i, ok := n.(int64); ok && i > 0 {
				f.ver[k] = int(i)
			}
		}
	}
	return f
}

// encode stores a flow as a task's inbound context: its variables, and
// its versions and depth under flowKey. The variables are at most limit
// bytes.
func (f flow) encode(limit int) (json.RawMessage, error) {
	var vars json.RawMessage
	if len(f.vars) > 0 {
		var err error
		if vars, err = encodeValue("the task's inbound context", f.vars, limit); err != nil {
			return nil, err
		}
	}
	if len(f.ver) == 0 && f.depth == 0 {
		if vars == nil {
			return json.RawMessage("{}"), nil
		}
		return vars, nil
	}
	meta, err := json.Marshal(flowMeta{Depth: f.depth, Versions: f.ver})
	if err != nil {
		return nil, fmt.Errorf("encode the flow's versions: %w", err)
	}
	if vars == nil {
		return slices.Concat([]byte(`{"`+flowKey+`":`), meta, []byte("}")), nil
	}
	return slices.Concat(vars[:len(vars)-1], []byte(`,"`+flowKey+`":`), meta, []byte("}")), nil
}

// publish is the flow after a task published vars: each replaces the
// variable of the same name as a whole (Mistral's outbound context is an
// update, not a deep merge) and counts one more version; the path is one
// task deeper.
func (f flow) publish(vars map[string]any) flow {
	out := flow{
		vars:  make(map[string]any, len(f.vars)+len(vars)),
		ver:   make(map[string]int, len(f.ver)+len(vars)),
		depth: f.depth + 1,
	}
	maps.Copy(out.vars, f.vars)
	maps.Copy(out.ver, f.ver)
	for k, v := range vars {
		if k == flowKey {
			continue
		}
		out.vars[k] = v
		out.ver[k]++
	}
	return out
}

// mergeFlows merges the flows of branches that meet, given in ascending
// priority. Maps present on several branches are merged key by key, as
// Mistral merges contexts; where values conflict, the branch whose version
// of the variable is higher wins, and on equal versions the later one in
// fs.
func mergeFlows(fs []flow) flow {
	out := flow{vars: map[string]any{}, ver: map[string]int{}}
	for _, f := range fs {
		for k, v := range f.vars {
			old, seen := out.vars[k]
			nv, ov := f.ver[k], out.ver[k]
			switch {
			case !seen:
				out.vars[k] = v
			default:
				out.vars[k] = mergeValue(old, v, nv >= ov)
			}
			out.ver[k] = max(ov, nv)
		}
		out.depth = max(out.depth, f.depth)
	}
	if len(out.ver) == 0 {
		out.ver = nil
	}
	return out
}

// mergeValue merges two values of one variable: maps key by key, and
// otherwise the right one when it wins.
func mergeValue(left, right any, rightWins bool) any {
	lm, lok := left.(map[string]any)
	rm, rok := right.(map[string]any)
	if !lok || !rok {
		if rightWins {
			return right
		}
		return left
	}
	out := make(map[string]any, len(lm)+len(rm))
	maps.Copy(out, lm)
	for k, v := range rm {
		if l, ok := out[k]; ok {
			out[k] = mergeValue(l, v, rightWins)
		} else {
			out[k] = v
		}
	}
	return out
}

// base is what every expression of the execution sees beneath a task's
// flow: the input, with the workflow's vars over it, and the engine's own
// entries of Mistral's context, `__execution` ({id}) and `__env` (the
// execution's environment). Built once per step.
func (s *stepper) base() map[string]any {
	if s.baseView != nil {
		return s.baseView
	}
	m := s.engineContext(decodeMap(s.exec.Input))
	if len(s.b.Vars) > 0 {
		maps.Copy(m, decodeMap(s.b.Vars))
	}
	s.baseView = m
	return m
}

// engineContext adds the engine's entries of Mistral's context to m.
func (s *stepper) engineContext(m map[string]any) map[string]any {
	m["__execution"] = map[string]any{"id": s.exec.ID}
	env, ok := mustDecode("env", s.exec.Env).(map[string]any)
	if !ok {
		env = map[string]any{}
	}
	m["__env"] = env
	return m
}

// view is the data expressions of a task see: its flow over the vars over
// the input, each layer shadowing the one below variable by variable (as
// Mistral's ContextView does), and, when the expressions are a task's,
// `__task_execution` ({id, name}) over them.
func (s *stepper) view(f flow, task *record.Task) map[string]any {
	b := s.base()
	m := make(map[string]any, len(b)+len(f.vars)+1)
	maps.Copy(m, b)
	maps.Copy(m, f.vars)
	if task != nil {
		m["__task_execution"] = map[string]any{"id": task.ExecID + "/" + task.Key, "name": task.Name}
	}
	return m
}

// evalVars evaluates the workflow's vars over its input and keeps them in
// the head, so that later steps see the same values (an expression such as
// uuid() is evaluated once).
func (s *stepper) evalVars() error {
	if s.wf.Vars == nil {
		return nil
	}
	v, err := s.eval(s.wf.Vars, s.engineContext(decodeMap(s.exec.Input)), nil)
	if err != nil {
		return err
	}
	vars, ok := v.(map[string]any)
	if !ok && v != nil {
		return fmt.Errorf("vars must be a map, not %s", brief(v))
	}
	if len(vars) > 0 {
		if s.b.Vars, err = s.encode("the workflow's vars", vars); err != nil {
			return err
		}
	}
	s.baseView = nil
	return nil
}

// publishGlobal merges variables a task published with `global` into the
// execution's context: the vars in the head, deep-merged as Mistral merges
// them into its workflow context. Unlike a branch's variables they are not
// part of the default output.
func (s *stepper) publishGlobal(vars map[string]any) error {
	ctx := decodeMap(s.b.Vars)
	mergeInto(ctx, vars)
	raw, err := s.encode("the workflow's global variables", ctx)
	if err != nil {
		return err
	}
	s.b.Vars = raw
	s.baseView = nil
	return nil
}

// outbound is the flow a finished task passes on: its inbound flow with
// what it published.
func outbound(rec *record.Task) flow {
	return decodeFlow(rec.Inbound).publish(decodeMap(rec.Published))
}

// branchFlows merges the outbound flows of the finished task executions
// keys (of branches that meet). The priority between branches, which
// decides between equal versions of a variable, is fixed by the workflow,
// not by the order in which the branches ended, so that a join's context
// and the final context never depend on which event arrived first: the
// deeper branch wins, then the task that comes first in the document, then
// the later execution of one task. (Mistral merges in the order its task
// executions were created; run by one engine, that order is the same for
// the common shapes: a longer branch ends later, and of branches of one
// length the first in the document runs last.)
func (s *stepper) branchFlows(keys []string) (flow, error) {
	type branch struct {
		key string
		f   flow
	}
	bs := make([]branch, 0, len(keys))
	for _, k := range keys {
		rec, err := s.task(k)
		if err != nil {
			return flow{}, err
		}
		if rec != nil {
			bs = append(bs, branch{k, outbound(rec)})
		}
	}
	// Ascending priority: the winner of a tie comes last.
	slices.SortStableFunc(bs, func(a, b branch) int {
		if a.f.depth != b.f.depth {
			return a.f.depth - b.f.depth
		}
		ia, ib := indexOf(s.wf, taskName(a.key)), indexOf(s.wf, taskName(b.key))
		if ia != ib {
			return ib - ia
		}
		return execNumber(a.key) - execNumber(b.key)
	})
	fs := make([]flow, len(bs))
	for i, b := range bs {
		fs[i] = b.f
	}
	return mergeFlows(fs), nil
}

// execNumber is the n of a task execution key "<name>#<n>".
func execNumber(key string) int {
	i := strings.LastIndexByte(key, '#')
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(key[i+1:])
	return n
}
