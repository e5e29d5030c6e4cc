package dsl

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// checkDirect fills Inbound and Start and checks joins, start tasks and
// reachability of a direct workflow.
func (l *loader) checkDirect(w *Workflow, specs []*taskSpec) {
	out := make(map[string][]string, len(specs)) // task → distinct targets
	for _, name := range w.Order {
		t := w.Tasks[name]
		for _, tr := range slices.Concat(t.OnSuccess, t.OnError, t.OnComplete, t.OnSkip) {
			if tr.Target != "" && !slices.Contains(out[name], tr.Target) {
				out[name] = append(out[name], tr.Target)
			}
		}
	}
	for _, name := range w.Order {
		for _, target := range out[name] {
			if tt := w.Tasks[target]; tt != nil {
				tt.Inbound = append(tt.Inbound, name)
			}
		}
	}
	for _, name := range w.Order {
		if len(w.Tasks[name].Inbound) == 0 {
			w.Start = append(w.Start, name)
		}
	}
	for _, ts := range specs {
		t := ts.t
		switch {
		case t.Join == JoinAll && len(t.Inbound) == 0:
			l.errorf(ts.key, "task `%s` has `join: all` but no task leads to it", t.Name)
		case t.Join != 0 && utf8.RuneCountInString(t.Name) > maxJoinTaskName:
			l.errorf(ts.key, "task `%s` has `join`, and its name is %d characters long; Mistral's limit for a join task is %d",
				clipName(t.Name), utf8.RuneCountInString(t.Name), maxJoinTaskName)
		case t.Join > 0 && len(t.Inbound) < t.Join:
			l.errorf(ts.key, "task `%s` joins %d inbound tasks but only %d lead to it%s",
				t.Name, t.Join, len(t.Inbound), listIn(t.Inbound))
		}
		if len(t.WithItems) == 0 && ts.set["concurrency"] {
			l.warnf(ts.key, "`concurrency` of task `%s` has no effect without `with-items`", t.Name)
		}
	}
	if len(w.Start) == 0 {
		l.report(w.Pos, Error, fmt.Sprintf("workflow `%s` has no start task: every task is the target of a transition; "+
			"a direct workflow starts with the tasks that no transition leads to", w.Name))
		return
	}
	seen := make(map[string]bool, len(w.Order))
	queue := slices.Clone(w.Start)
	for _, s := range queue {
		seen[s] = true
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, next := range out[name] {
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	for _, ts := range specs {
		if !seen[ts.t.Name] {
			l.warnf(ts.key, "task `%s` is never reached: only tasks in a cycle that nothing enters lead to it (start tasks: %s)",
				ts.t.Name, strings.Join(w.Start, ", "))
		}
	}
}

func listIn(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// checkReverse reports cycles among requires.
func (l *loader) checkReverse(w *Workflow, specs []*taskSpec) {
	for _, ts := range specs {
		if ts.requiresN != nil && slices.Contains(ts.t.Requires, ts.t.Name) {
			l.errorf(ts.requiresN, "task `%s` requires itself", ts.t.Name)
		}
	}
	// Depth-first search; each cycle is reported once, at its first task
	// in document order.
	const (
		unseen = iota
		active
		done
	)
	state := make(map[string]int, len(w.Order))
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = active
		stack = append(stack, name)
		for _, r := range w.Tasks[name].Requires {
			if r == name {
				continue
			}
			switch state[r] {
			case unseen:
				visit(r)
			case active:
				i := slices.Index(stack, r)
				cycle := append(slices.Clone(stack[i:]), r)
				first := w.Tasks[r]
				l.report(first.Pos, Error, fmt.Sprintf("`requires` forms a cycle: %s", strings.Join(cycle, " → ")))
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, name := range w.Order {
		if state[name] == unseen {
			visit(name)
		}
	}
}

// clipName shortens a long name for a message.
func clipName(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}
