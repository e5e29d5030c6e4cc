package dsl

import (
	"fmt"
	"slices"
)

// Plan returns, for a reverse workflow, the tasks needed to reach target
// (target included), ordered so that every task comes after all it
// requires; among tasks that could go next, document order decides.
func (w *Workflow) Plan(target string) ([]string, error) {
	if w.Type != Reverse {
		return nil, fmt.Errorf("plan %s: workflow %s is %s; only reverse workflows have a target task", target, w.Name, w.Type)
	}
	if _, ok := w.Tasks[target]; !ok {
		return nil, fmt.Errorf("plan %s: workflow %s has no task %s", target, w.Name, target)
	}
	// The tasks target depends on, directly or not.
	need := map[string]bool{target: true}
	stack := []string{target}
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, r := range w.Tasks[name].Requires {
			if _, ok := w.Tasks[r]; !ok {
				return nil, fmt.Errorf("plan %s: task %s requires unknown task %s", target, name, r)
			}
			if !need[r] {
				need[r] = true
				stack = append(stack, r)
			}
		}
	}
	// Kahn's algorithm, always taking the ready task first in document
	// order. The graph is small; a scan per step keeps it simple.
	waiting := make(map[string]int, len(need))
	for name := range need {
		for _, r := range w.Tasks[name].Requires {
			if r != name {
				waiting[name]++
			}
		}
	}
	order := make([]string, 0, len(need))
	for len(order) < len(need) {
		next := ""
		for _, name := range w.Order {
			if need[name] && waiting[name] == 0 && !slices.Contains(order, name) {
				next = name
				break
			}
		}
		if next == "" {
			return nil, fmt.Errorf("plan %s: the tasks it requires form a cycle", target)
		}
		order = append(order, next)
		for name := range need {
			if name != next && slices.Contains(w.Tasks[name].Requires, next) {
				waiting[name]--
			}
		}
	}
	return order, nil
}
