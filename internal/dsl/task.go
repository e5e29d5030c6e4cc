package dsl

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/borawf/bora/internal/expr"
)

// taskSpec is a task being read: the graph task plus what is needed to
// merge task-defaults and publishes before compiling.
type taskSpec struct {
	t    *Task
	key  *yaml.Node
	node *yaml.Node      // the task's mapping
	set  map[string]bool // attributes the task gives itself

	clauses [4]*clause // on-success, on-error, on-complete, on-skip; nil when absent
	publish [3]pubPart // publish, publish-on-error, publish-on-skip

	requiresN *yaml.Node
	// defaultRequires are task-defaults' requires, before the task's own
	// name is taken out.
	defaultRequires []string
}

const (
	onSuccess = iota
	onError
	onComplete
	onSkip
)

var clauseKeys = [4]string{"on-success", "on-error", "on-complete", "on-skip"}

var publishKeys = [3]string{"publish", "publish-on-error", "publish-on-skip"}

// pubPart is a publish mapping not yet compiled.
type pubPart struct {
	m     map[string]any
	sites []site
	n     *yaml.Node
}

func (p *pubPart) merge(q pubPart) {
	if q.m == nil {
		return
	}
	if p.m == nil {
		p.m = map[string]any{}
		p.n = q.n
	}
	maps.Copy(p.m, q.m)
	p.sites = append(p.sites, q.sites...)
}

// clause is one on-success, on-error or on-complete.
type clause struct {
	trans  []Transition
	branch pubPart
	global pubPart
	n      *yaml.Node
}

var (
	commonTaskKeys = []string{
		"description", "action", "workflow", "input", "publish", "publish-on-error", "publish-on-skip",
		"with-items", "concurrency", "retry", "timeout", "wait-before", "wait-after",
		"pause-before", "fail-on", "safe-rerun", "keep-result", "target", "tags",
	}
	directTaskKeys  = []string{"join", "on-success", "on-error", "on-complete", "on-skip"}
	reverseTaskKeys = []string{"requires"}
	defaultsKeys    = []string{
		"retry", "wait-before", "wait-after", "timeout", "pause-before", "concurrency",
		"fail-on", "on-complete", "on-success", "on-error", "on-skip", "safe-rerun", "requires",
	}
	retryKeys = []string{"count", "delay", "break-on", "continue-on"}
)

func (l *loader) loadTask(p pair) *taskSpec {
	v := resolve(p.Value)
	if v.Kind != yaml.MappingNode {
		if isNull(v) {
			l.errorf(p.KeyN, "task `%s` is empty; give it an `action` (or `workflow`), or `action: std.noop`", p.Key)
		} else {
			l.errorf(p.KeyN, "task `%s` must be a mapping of attributes, not %s", p.Key, kindName(v))
		}
		return nil
	}
	ts := &taskSpec{t: &Task{Name: p.Key, Pos: posOf(p.KeyN)}, key: p.KeyN, node: p.Value, set: map[string]bool{}}
	keys := slices.Concat(commonTaskKeys, directTaskKeys)
	if l.wf.typ == Reverse {
		keys = slices.Concat(commonTaskKeys, reverseTaskKeys)
	}
	var actionN, workflowN, inputN *yaml.Node
	for _, e := range l.pairs(v, "task attribute") {
		if l.policy(ts, e) {
			continue
		}
		switch e.Key {
		case "description":
			ts.t.Description = l.str(e.Value, "description")
		case "tags":
			ts.t.Tags = l.tags(e.Value)
		case "action":
			actionN = e.Value
		case "workflow":
			workflowN = e.Value
		case "input":
			inputN = e.Value
		case "publish", "publish-on-error", "publish-on-skip":
			ts.publish[slices.Index(publishKeys[:], e.Key)] = l.pubMap(e.Value, e.Key)
		case "with-items":
			ts.t.WithItems = l.withItems(e.Value)
		case "keep-result":
			ts.t.KeepResult = l.boolOrExpr(e.Value, e.Key)
		case "target":
			l.warnf(e.KeyN, "`target` is ignored: Bora runs every action on its own workers")
		case "join", "on-success", "on-error", "on-complete", "on-skip":
			if l.wf.typ != Direct {
				l.errorf(e.KeyN, "`%s` belongs to direct workflows; in a reverse workflow, list what a task needs under `requires`", e.Key)
				continue
			}
			if e.Key == "join" {
				ts.t.Join = l.join(e.Value)
				continue
			}
			i := slices.Index(clauseKeys[:], e.Key)
			ts.clauses[i] = l.clause(e.Value, e.Key)
		case "requires":
			if l.wf.typ != Reverse {
				l.errorf(e.KeyN, "`requires` belongs to reverse workflows (`type: reverse`); in a direct workflow, lead to this task with `on-success`")
				continue
			}
			ts.t.Requires = l.requires(e.Value)
			ts.requiresN = e.Value
		case "policies":
			l.errorf(e.KeyN, "Mistral does not accept a `policies` block; put `retry`, `timeout`, `wait-before` and the other policies directly under the task")
		default:
			l.errorf(e.KeyN, "unknown task attribute `%s`%s", e.Key, didYouMean(e.Key, keys, true))
		}
	}
	l.taskCall(ts, actionN, workflowN, inputN)
	return ts
}

// loadTaskDefaults reads a workflow's task-defaults.
func (l *loader) loadTaskDefaults(n *yaml.Node) *taskSpec {
	if resolve(n).Kind != yaml.MappingNode {
		if !isNull(n) {
			l.errorf(n, "`task-defaults` must be a mapping, not %s", kindName(n))
		}
		return nil
	}
	ts := &taskSpec{t: &Task{}, key: n, set: map[string]bool{}}
	for _, e := range l.pairs(n, "task-defaults key") {
		if l.policy(ts, e) {
			continue
		}
		switch e.Key {
		case "on-success", "on-error", "on-complete", "on-skip":
			if l.wf.typ != Direct {
				l.warnf(e.KeyN, "`%s` in task-defaults has no effect in a reverse workflow", e.Key)
				continue
			}
			c := l.clause(e.Value, e.Key)
			if c != nil && (c.branch.m != nil || c.global.m != nil) {
				l.warnf(e.Value, "`publish` in task-defaults' `%s` has no effect; only its `next` applies to tasks", e.Key)
			}
			ts.clauses[slices.Index(clauseKeys[:], e.Key)] = c
		case "requires":
			if l.wf.typ != Reverse {
				l.warnf(e.KeyN, "`requires` in task-defaults has no effect in a direct workflow")
				continue
			}
			ts.t.Requires = l.requires(e.Value)
			ts.requiresN = e.Value
		default:
			hint := didYouMean(e.Key, defaultsKeys, false)
			if hint == "" {
				if slices.Contains(commonTaskKeys, e.Key) || slices.Contains(directTaskKeys, e.Key) {
					hint = fmt.Sprintf("; `%s` must be set on each task", e.Key)
				} else {
					hint = "; valid: " + strings.Join(defaultsKeys, ", ")
				}
			}
			l.errorf(e.KeyN, "`%s` cannot be a task default%s", e.Key, hint)
		}
	}
	return ts
}

// policy reads the policy attributes shared by tasks and task-defaults.
func (l *loader) policy(ts *taskSpec, e pair) bool {
	t := ts.t
	switch e.Key {
	case "retry":
		t.Retry = l.retry(e.Value)
	case "timeout":
		t.Timeout = l.seconds(e.Value, e.Key)
	case "wait-before":
		t.WaitBefore = l.seconds(e.Value, e.Key)
	case "wait-after":
		t.WaitAfter = l.seconds(e.Value, e.Key)
	case "concurrency":
		t.Concurrency = l.count(e.Value, e.Key, 1)
	case "pause-before":
		t.PauseBefore = l.boolOrExpr(e.Value, e.Key)
	case "fail-on":
		t.FailOn = l.boolOrExpr(e.Value, e.Key)
	case "safe-rerun":
		t.SafeRerun = l.boolOrExpr(e.Value, e.Key)
	default:
		return false
	}
	ts.set[e.Key] = true
	return true
}

// mergeDefaults applies task-defaults: a policy the task does not set comes
// from the defaults; an empty on-clause takes the defaults' transitions
// (less those leading back to the task itself); requires are joined.
func (ts *taskSpec) mergeDefaults(d *taskSpec) {
	if d == nil {
		return
	}
	t, dt := ts.t, d.t
	pick := func(key string, dst **expr.Template, src *expr.Template) {
		if !ts.set[key] && d.set[key] {
			*dst = src
		}
	}
	if !ts.set["retry"] && d.set["retry"] {
		t.Retry = dt.Retry
	}
	pick("timeout", &t.Timeout, dt.Timeout)
	pick("wait-before", &t.WaitBefore, dt.WaitBefore)
	pick("wait-after", &t.WaitAfter, dt.WaitAfter)
	pick("concurrency", &t.Concurrency, dt.Concurrency)
	pick("pause-before", &t.PauseBefore, dt.PauseBefore)
	pick("fail-on", &t.FailOn, dt.FailOn)
	pick("safe-rerun", &t.SafeRerun, dt.SafeRerun)
	for i, c := range d.clauses {
		if c == nil || (ts.clauses[i] != nil && len(ts.clauses[i].trans) > 0) {
			continue
		}
		var trans []Transition
		for _, tr := range c.trans {
			if tr.Target != t.Name {
				trans = append(trans, tr)
			}
		}
		if len(trans) == 0 {
			continue
		}
		if ts.clauses[i] == nil {
			ts.clauses[i] = &clause{}
		}
		ts.clauses[i].trans = trans
	}
	for _, r := range dt.Requires {
		if r != t.Name && !slices.Contains(t.Requires, r) {
			t.Requires = append(t.Requires, r)
		}
	}
}

// finishTask compiles what depends on several attributes: transitions and
// the publishes merged from the on-clauses.
func (l *loader) finishTask(ts *taskSpec) {
	t := ts.t
	for i, c := range ts.clauses {
		if c == nil {
			continue
		}
		switch i {
		case onSuccess:
			t.OnSuccess = c.trans
		case onError:
			t.OnError = c.trans
		case onComplete:
			t.OnComplete = c.trans
		case onSkip:
			t.OnSkip = c.trans
		}
	}
	// Most specific wins: the task's publish, then on-complete's, then
	// on-success's (on-error's for the error publish, on-skip's alone for
	// the skip publish: a skip does not complete the task).
	for i, which := range [3]int{onSuccess, onError, onSkip} {
		p := ts.publish[i]
		var g pubPart
		if c := ts.clauses[onComplete]; c != nil && which != onSkip {
			p.merge(c.branch)
			g.merge(c.global)
		}
		if c := ts.clauses[which]; c != nil {
			p.merge(c.branch)
			g.merge(c.global)
		}
		var pt, gt *expr.Template
		if p.m != nil {
			pt = l.compile(p.m, p.sites, loc{N: p.n})
		}
		if g.m != nil {
			gt = l.compile(g.m, g.sites, loc{N: g.n})
		}
		switch which {
		case onSuccess:
			t.Publish, t.PublishGlobal = pt, gt
		case onError:
			t.PublishOnError, t.PublishGlobalOnError = pt, gt
		case onSkip:
			t.PublishOnSkip, t.PublishGlobalOnSkip = pt, gt
		}
	}
}

// taskCall reads action, workflow and input together: inline parameters
// merge with `input:`, whose values win.
func (l *loader) taskCall(ts *taskSpec, actionN, workflowN, inputN *yaml.Node) {
	t := ts.t
	if actionN != nil && workflowN != nil {
		l.errorf(workflowN, "a task runs an `action` or a `workflow`, not both")
		return
	}
	callN, what := actionN, "action"
	if workflowN != nil {
		callN, what = workflowN, "workflow"
	}
	var call *inlineCall
	if callN != nil {
		if !isString(callN) || strings.TrimSpace(scalarText(callN)) == "" {
			l.errorf(callN, "`%s` must name the %s to run, not %s", what, what, kindName(callN))
			return
		}
		c, err := parseInline(scalarText(callN))
		if err != nil {
			l.errorAt(loc{N: callN, Off: err.Offset}, "%s", err.Msg)
			return
		}
		l.warnDropped(callN, c)
		call = c
		var sites []site
		if hasExpr(c.Name) {
			sites = []site{{S: c.Name, Node: callN, Base: c.NameOff}}
		}
		tmpl := l.compile(c.Name, sites, loc{N: callN})
		if what == "action" {
			t.Action = tmpl
		} else {
			t.Workflow = tmpl
			if !hasExpr(c.Name) {
				sf := subflow{name: c.Name, pos: l.pos(loc{N: callN, Off: c.NameOff}), task: t.Name}
				if l.wf != nil {
					sf.from = l.wf.name
				}
				l.subflows = append(l.subflows, sf)
			}
		}
	} else {
		t.Action = constTemplate("std.noop")
	}

	var input map[string]any
	var sites []site
	if inputN != nil {
		in := resolve(inputN)
		switch {
		case in.Kind == yaml.MappingNode:
			input, _ = l.value(in, &sites).(map[string]any)
		case isString(in) && isExpr(in.Value):
			if call != nil && len(call.Params) > 0 {
				l.errorf(inputN, "an `input` expression cannot be combined with inline parameters; move them into a mapping under `input`")
				return
			}
			t.Input = l.compile(in.Value, []site{{S: in.Value, Node: in}}, loc{N: in})
			return
		case isString(in):
			l.warnf(inputN, "`input` is a string that is not an expression; write a mapping of parameters (or `<%% ... %%>` yielding one)")
			t.Input = l.compile(in.Value, nil, loc{N: in})
			return
		case isNull(in):
		default:
			l.errorf(inputN, "`input` must be a mapping of parameters or an expression, not %s", kindName(inputN))
			return
		}
	}
	if call != nil && len(call.Params) > 0 {
		if input == nil {
			input = make(map[string]any, len(call.Params))
		}
		for _, p := range call.Params {
			if _, dup := input[p.Key]; dup {
				// The reference: "the one under input keyword takes
				// precedence" (Mistral's code lets the inline one win).
				l.warnAt(loc{N: callN, Off: p.KeyOff}, "parameter `%s` is given inline and under `input`; the value under `input` wins", p.Key)
				continue
			}
			input[p.Key] = p.Value
			if s, ok := p.Value.(string); ok && hasExpr(s) {
				sites = append(sites, site{S: s, Node: callN, Base: p.ValOff})
			}
		}
	}
	if input != nil {
		at := inputN
		if at == nil {
			at = callN
		}
		t.Input = l.compile(input, sites, loc{N: at})
	}
}

// pubMap reads a publish mapping.
func (l *loader) pubMap(n *yaml.Node, key string) pubPart {
	if isNull(n) {
		return pubPart{}
	}
	if resolve(n).Kind != yaml.MappingNode {
		l.errorf(n, "`%s` must be a mapping of variable names to values, not %s", key, kindName(n))
		return pubPart{}
	}
	var p pubPart
	p.m, _ = l.value(n, &p.sites).(map[string]any)
	p.n = n
	return p
}

// seconds reads a non-negative whole number of seconds, or an expression.
func (l *loader) seconds(n *yaml.Node, key string) *expr.Template {
	return l.count(n, key, 0)
}

// count reads an integer of at least lo, or an expression.
func (l *loader) count(n *yaml.Node, key string, lo int64) *expr.Template {
	return l.countValue(l.value(n, nil), loc{N: resolve(n)}, key, lo)
}

func (l *loader) countValue(v any, at loc, key string, lo int64) *expr.Template {
	what := "a whole number"
	if key == "timeout" || key == "wait-before" || key == "wait-after" || key == "delay" {
		what = "a whole number of seconds"
	}
	switch x := v.(type) {
	case int64:
		if x < lo {
			l.errorAt(at, "`%s` must be %s of at least %d, not %d", key, what, lo, x)
			return nil
		}
		return constTemplate(x)
	case string:
		if isExpr(x) {
			return l.compile(x, []site{{S: x, Node: at.N, Base: at.Off}}, at)
		}
	case float64:
		l.errorAt(at, "`%s` must be %s (or an expression), not %v", key, what, x)
		return nil
	}
	l.errorAt(at, "`%s` must be %s of at least %d or an expression, not %s", key, what, lo, describe(v))
	return nil
}

// boolOrExpr reads true, false or an expression.
func (l *loader) boolOrExpr(n *yaml.Node, key string) *expr.Template {
	switch x := l.value(n, nil).(type) {
	case bool:
		return constTemplate(x)
	case string:
		if isExpr(x) {
			return l.compile(x, []site{{S: x, Node: resolve(n)}}, loc{N: n})
		}
	}
	l.errorf(n, "`%s` must be true, false or an expression, not %s", key, kindName(n))
	return nil
}

// exprValue reads a value that must be one expression.
func (l *loader) exprValue(v any, at loc, key string) *expr.Template {
	if s, ok := v.(string); ok && isExpr(s) {
		return l.compile(s, []site{{S: s, Node: at.N, Base: at.Off}}, at)
	}
	l.errorAt(at, "`%s` must be an expression such as `<%% $.done %%>`, not %s", key, describe(v))
	return nil
}

// describe names a decoded value for messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("`%v`", x)
	case int64, float64:
		return fmt.Sprintf("`%v`", x)
	case string:
		if len(x) > 40 {
			x = x[:37] + "..."
		}
		return fmt.Sprintf("`%s`", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// join reads `all`, `one` or a number of inbound tasks.
func (l *loader) join(n *yaml.Node) int {
	switch x := l.value(n, nil).(type) {
	case string:
		switch x {
		case "all":
			return JoinAll
		case "one":
			return 1
		}
	case int64:
		if x >= 1 {
			if x > 1<<30 {
				x = 1 << 30
			}
			return int(x)
		}
		l.errorf(n, "`join` must be `all`, `one` or a number of inbound tasks of at least 1, not %d", x)
		return 0
	}
	l.errorf(n, "`join` must be `all`, `one` or a number of inbound tasks, not %s", kindName(n))
	return 0
}

// requires reads a task name or a list of names.
func (l *loader) requires(n *yaml.Node) []string {
	n = resolve(n)
	var items []*yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode && isString(n):
		items = []*yaml.Node{n}
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	default:
		l.errorf(n, "`requires` must be a task name or a list of task names, not %s", kindName(n))
		return nil
	}
	var out []string
	for _, c := range items {
		c = resolve(c)
		if !isString(c) || c.Value == "" {
			l.errorf(c, "`requires` lists task names, not %s", kindName(c))
			continue
		}
		if slices.Contains(out, c.Value) {
			l.errorf(c, "`%s` is required twice", c.Value)
			continue
		}
		if _, ok := l.wf.tasks[c.Value]; !ok {
			l.errorf(c, "`requires` names no task `%s` of workflow `%s`%s", c.Value, l.wf.name, didYouMean(c.Value, l.wf.order, false))
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

// retry reads a retry policy: a mapping, or the one-line form
// `count=3 delay=1 break-on=<% ... %>`.
func (l *loader) retry(n *yaml.Node) *Retry {
	n = resolve(n)
	type entry struct {
		v  any
		at loc
	}
	entries := map[string]entry{}
	switch {
	case n.Kind == yaml.MappingNode:
		for _, e := range l.pairs(n, "retry key") {
			if !slices.Contains(retryKeys, e.Key) {
				l.errorf(e.KeyN, "unknown retry key `%s`%s", e.Key, didYouMean(e.Key, retryKeys, true))
				continue
			}
			entries[e.Key] = entry{l.value(e.Value, nil), loc{N: resolve(e.Value)}}
		}
	case isString(n):
		ps, _, err := parseParams(n.Value, 0, false, false)
		if err != nil {
			l.errorAt(loc{N: n, Off: err.Offset}, "%s", err.Msg)
			return nil
		}
		for _, p := range ps {
			if !slices.Contains(retryKeys, p.Key) {
				l.errorAt(loc{N: n, Off: p.KeyOff}, "unknown retry key `%s`%s", p.Key, didYouMean(p.Key, retryKeys, true))
				continue
			}
			entries[p.Key] = entry{p.Value, loc{N: n, Off: p.ValOff}}
		}
	default:
		l.errorf(n, "`retry` must be a mapping (count, delay, break-on, continue-on) or `count=N delay=S`, not %s", kindName(n))
		return nil
	}
	r := &Retry{}
	ok := true
	for _, k := range []string{"count", "delay"} {
		e, found := entries[k]
		if !found {
			l.errorf(n, "`retry` needs a `%s`", k)
			ok = false
			continue
		}
		t := l.countValue(e.v, e.at, k, 0)
		if k == "count" {
			r.Count = t
		} else {
			r.Delay = t
		}
	}
	if e, found := entries["break-on"]; found {
		r.BreakOn = l.exprValue(e.v, e.at, "break-on")
	}
	if e, found := entries["continue-on"]; found {
		r.ContinueOn = l.exprValue(e.v, e.at, "continue-on")
	}
	if !ok {
		return nil
	}
	return r
}

// withItems reads `x in <% list %>`, `x in [1, 2]` or a list of them.
func (l *loader) withItems(n *yaml.Node) []WithItem {
	n = resolve(n)
	var items []*yaml.Node
	switch {
	case isString(n):
		items = []*yaml.Node{n}
	case n.Kind == yaml.SequenceNode && len(n.Content) > 0:
		items = n.Content
	default:
		l.errorf(n, "`with-items` must be `name in <%% $.list %%>` or a list of such clauses, not %s", kindName(n))
		return nil
	}
	var out []WithItem
	for _, c := range items {
		c = resolve(c)
		if !isString(c) {
			l.errorf(c, "a with-items clause is a string `name in <%% $.list %%>`, not %s", kindName(c))
			continue
		}
		name, src, off, ok := splitIn(c.Value)
		if !ok {
			l.errorf(c, "with-items clause `%s` must read `name in <%% $.list %%>` or `name in [1, 2]`", c.Value)
			continue
		}
		if slices.ContainsFunc(out, func(w WithItem) bool { return w.Var == name }) {
			l.errorf(c, "with-items variable `%s` is given twice", name)
			continue
		}
		var tmpl *expr.Template
		switch {
		case isExpr(src):
			tmpl = l.compile(src, []site{{S: src, Node: c, Base: off}}, loc{N: c, Off: off})
		case strings.HasPrefix(src, "["):
			list, ok := structured(src).([]any)
			if !ok {
				l.errorAt(loc{N: c, Off: off}, "with-items list `%s` is not a valid list", src)
				continue
			}
			tmpl = l.compile(list, nil, loc{N: c, Off: off})
		default:
			l.errorAt(loc{N: c, Off: off}, "with-items takes an expression or a literal list after `in`, not `%s`", src)
			continue
		}
		out = append(out, WithItem{Var: name, Source: tmpl})
	}
	return out
}

// splitIn splits `name in source` and returns the offset of source.
func splitIn(s string) (name, src string, off int, ok bool) {
	i := skipSpace(s, 0)
	start := i
	for i < len(s) && isKeyByte(s[i]) {
		i++
	}
	if i == start || i >= len(s) || !isSpaceByte(s[i]) {
		return "", "", 0, false
	}
	name = s[start:i]
	i = skipSpace(s, i)
	if !strings.HasPrefix(s[i:], "in") {
		return "", "", 0, false
	}
	i += 2
	if i < len(s) && !isSpaceByte(s[i]) && s[i] != '<' && s[i] != '{' && s[i] != '[' {
		return "", "", 0, false
	}
	i = skipSpace(s, i)
	src = strings.TrimRightFunc(s[i:], func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
	if src == "" {
		return "", "", 0, false
	}
	return name, src, i, true
}

// warnDropped warns about the inline parameters left out for their
// unquoted values.
func (l *loader) warnDropped(n *yaml.Node, c *inlineCall) {
	for _, p := range c.Dropped {
		l.warnAt(loc{N: n, Off: p.KeyOff}, "parameter `%s` is left out: its value `%s` is not quoted, and Mistral leaves such a parameter out; write %s=\"%s\"",
			p.Key, p.Value, p.Key, p.Value)
	}
}
