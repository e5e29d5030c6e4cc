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
type flow struct {
	vars map[string]any
	ver  map[string]int
}

// versionsKey holds a flow's versions in a task's stored inbound context.
// It is reserved: a published variable of that name is not supported.
const versionsKey = "__versions"

// decodeFlow reads a task's stored inbound context.
func decodeFlow(raw json.RawMessage) flow {
	m := decodeMap(raw)
	f := flow{vars: m}
	if v, ok := m[versionsKey].(map[string]any); ok {
		delete(m, versionsKey)
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
// their versions under versionsKey.
func (f flow) encode() json.RawMessage {
	if len(f.ver) == 0 {
		if f.vars == nil {
			return json.RawMessage("{}")
		}
		return encode(f.vars)
	}
	m := make(map[string]any, len(f.vars)+1)
	maps.Copy(m, f.vars)
	m[versionsKey] = f.ver
	return encode(m)
}

// publish is the flow after a task published vars: each replaces the
// variable of the same name as a whole (Mistral's outbound context is an
// update, not a deep merge) and counts one more version.
func (f flow) publish(vars map[string]any) flow {
	out := flow{vars: make(map[string]any, len(f.vars)+len(vars)), ver: make(map[string]int, len(f.ver)+len(vars))}
	maps.Copy(out.vars, f.vars)
	maps.Copy(out.ver, f.ver)
	for k, v := range vars {
		if k == versionsKey {
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
// flow: the input, with the workflow's vars over it. Built once per step.
func (s *stepper) base() map[string]any {
	if s.baseView != nil {
		return s.baseView
	}
	m := decodeMap(s.exec.Input)
	if len(s.b.Vars) > 0 {
		maps.Copy(m, decodeMap(s.b.Vars))
	}
	s.baseView = m
	return m
}

// view is the data expressions of a task see: its flow over the vars over
// the input, each layer shadowing the one below variable by variable (as
// Mistral's ContextView does).
func (s *stepper) view(f flow) map[string]any {
	b := s.base()
	m := make(map[string]any, len(b)+len(f.vars))
	maps.Copy(m, b)
	maps.Copy(m, f.vars)
	return m
}

// evalVars evaluates the workflow's vars over its input and keeps them in
// the head, so that later steps see the same values (an expression such as
// uuid() is evaluated once).
func (s *stepper) evalVars() error {
	if s.wf.Vars == nil {
		return nil
	}
	v, err := s.eval(s.wf.Vars, decodeMap(s.exec.Input), nil)
	if err != nil {
		return err
	}
	vars, ok := v.(map[string]any)
	if !ok && v != nil {
		return fmt.Errorf("vars must be a map, not %s", encode(v))
	}
	if len(vars) > 0 {
		s.b.Vars = encode(vars)
	}
	s.baseView = nil
	return nil
}

// outbound is the flow a finished task passes on: its inbound flow with
// what it published.
func outbound(rec *record.Task) flow {
	return decodeFlow(rec.Inbound).publish(decodeMap(rec.Published))
}

// branchFlows merges the outbound flows of the finished task executions
// keys (of branches that meet). The priority between branches is fixed by
// the workflow, not by the order in which they ended: on equal versions
// the task that comes first in the workflow's document wins, and of two
// executions of one task the later. So a join's context, and the final
// context, do not depend on which branch's event arrived first.
func (s *stepper) branchFlows(keys []string) (flow, error) {
	sorted := slices.Clone(keys)
	slices.SortStableFunc(sorted, func(a, b string) int {
		ia, ib := indexOf(s.wf, taskName(a)), indexOf(s.wf, taskName(b))
		if ia != ib {
			return ib - ia // later in the document first: lower priority
		}
		return execNumber(a) - execNumber(b)
	})
	fs := make([]flow, 0, len(sorted))
	for _, k := range sorted {
		rec, err := s.task(k)
		if err != nil {
			return flow{}, err
		}
		if rec == nil {
			continue
		}
		fs = append(fs, outbound(rec))
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
