package dsl

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

var commandNames = []string{"fail", "succeed", "pause", "noop"}

// clause reads on-success, on-error or on-complete: a task name, a list of
// names and `name: <% condition %>` entries, engine commands (`fail`,
// `succeed`, `pause`, `noop`, with `msg=...`), or the mapping form with
// `publish` (branch, global) and `next`.
func (l *loader) clause(n *yaml.Node, key string) *clause {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	c := &clause{n: n}
	if n.Kind == yaml.MappingNode && isAdvanced(n) {
		for _, e := range l.pairs(n, key+" key") {
			switch e.Key {
			case "next":
				c.trans = l.transitions(e.Value, key)
			case "publish":
				l.clausePublish(c, e.Value, key)
			}
		}
		return c
	}
	c.trans = l.transitions(n, key)
	return c
}

// isAdvanced reports whether a mapping clause is the `publish`/`next` form
// rather than one `task: <% condition %>` entry.
func isAdvanced(n *yaml.Node) bool {
	for i := 0; i < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "publish", "next":
		default:
			return false
		}
	}
	return true
}

func (l *loader) clausePublish(c *clause, n *yaml.Node, key string) {
	if resolve(n).Kind != yaml.MappingNode {
		l.errorf(n, "`publish` under `%s` must be a mapping with `branch` or `global`, not %s", key, kindName(n))
		return
	}
	for _, e := range l.pairs(n, "publish scope") {
		switch e.Key {
		case "branch":
			c.branch = l.pubMap(e.Value, "branch")
		case "global":
			c.global = l.pubMap(e.Value, "global")
		case "atomic":
			l.errorf(e.KeyN, "`atomic` publishing is not supported yet; use `branch` or `global`")
		default:
			l.errorf(e.KeyN, "`publish` under `%s` takes `branch` and `global` scopes, not `%s`%s; "+
				"to publish into the branch, write `branch:` and put the variables under it",
				key, e.Key, didYouMean(e.Key, []string{"branch", "global"}, false))
		}
	}
}

// transitions reads the simple forms of a clause.
func (l *loader) transitions(n *yaml.Node, key string) []Transition {
	n = resolve(n)
	var out []Transition
	switch {
	case isNull(n):
	case isString(n):
		if t, ok := l.transition(n, nil, key); ok {
			out = append(out, t)
		}
	case n.Kind == yaml.MappingNode:
		out = append(out, l.condTransitions(n, key)...)
	case n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			c = resolve(c)
			switch {
			case isString(c):
				if t, ok := l.transition(c, nil, key); ok {
					out = append(out, t)
				}
			case c.Kind == yaml.MappingNode:
				out = append(out, l.condTransitions(c, key)...)
			default:
				l.errorf(c, "a `%s` entry is a task name or `task: <%% condition %%>`, not %s", key, kindName(c))
			}
		}
	default:
		l.errorf(n, "`%s` must be a task name or a list of task names, not %s", key, kindName(n))
	}
	return out
}

func (l *loader) condTransitions(n *yaml.Node, key string) []Transition {
	ps := l.pairs(n, key+" entry")
	if len(ps) != 1 {
		l.errorf(n, "a conditional `%s` entry is one `task: <%% condition %%>`; this one has %d keys (start each with `- `)", key, len(ps))
	}
	var out []Transition
	for _, p := range ps {
		if t, ok := l.transition(p.KeyN, p.Value, key); ok {
			out = append(out, t)
		}
	}
	return out
}

// transition reads one entry: the target text in n, and its condition.
func (l *loader) transition(n, cond *yaml.Node, key string) (Transition, bool) {
	n = resolve(n)
	t := Transition{Pos: posOf(n)}
	s := n.Value
	if isExpr(s) || hasExpr(s) && !hasParams(s) {
		l.errorf(n, "`%s` names tasks, not expressions; make the transition conditional instead: `- task: <%% condition %%>`", key)
		return t, false
	}
	call, err := parseInline(s)
	if err == nil {
		l.warnDropped(n, call)
	}
	if err != nil {
		hint := ""
		if cond != nil && strings.Contains(err.Msg, "no closing") {
			hint = "; a `: ` inside the entry made YAML split it into a task and a condition: quote the whole entry"
		}
		l.errorAt(loc{N: n, Off: err.Offset}, "%s%s", err.Msg, hint)
		return t, false
	}
	ok := true
	switch _, isTask := l.wf.tasks[call.Name]; {
	case isTask:
		t.Target = call.Name
		if len(call.Params) > 0 {
			l.errorAt(loc{N: n, Off: call.Params[0].KeyOff}, "a transition to task `%s` takes no parameters; only engine commands take `msg`", call.Name)
			ok = false
		}
	case slices.Contains(commandNames, call.Name):
		t.Command = call.Name
		for _, p := range call.Params {
			at := loc{N: n, Off: p.KeyOff}
			if p.Key != "msg" || call.Name == "noop" {
				hint := "; it takes only `msg`"
				if call.Name == "noop" {
					hint = "; it takes none"
				}
				l.errorAt(at, "engine command `%s` has no parameter `%s`%s", call.Name, p.Key, hint)
				ok = false
				continue
			}
			var sites []site
			if str, isStr := p.Value.(string); isStr && hasExpr(str) {
				sites = []site{{S: str, Node: n, Base: p.ValOff}}
			}
			t.Msg = l.compile(p.Value, sites, loc{N: n, Off: p.ValOff})
		}
	default:
		cands := append(slices.Clone(l.wf.order), commandNames...)
		l.errorAt(loc{N: n, Off: call.NameOff}, "`%s` leads to `%s`, which is neither a task of workflow `%s` nor an engine command (fail, succeed, pause, noop)%s",
			key, call.Name, l.wf.name, didYouMean(call.Name, cands, false))
		ok = false
	}
	if cond != nil {
		t.When = l.exprValue(l.value(cond, nil), loc{N: resolve(cond)}, "condition")
		if t.When == nil {
			ok = false
		}
	}
	return t, ok
}

// hasParams reports whether s has `name=` after its first word, as an
// engine command with an expression message does.
func hasParams(s string) bool {
	i := skipSpace(s, 0)
	for i < len(s) && !isSpaceByte(s[i]) && s[i] != '(' {
		if s[i] == '<' || s[i] == '{' {
			return false
		}
		i++
	}
	return i < len(s)
}
