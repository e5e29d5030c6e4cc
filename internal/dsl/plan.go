package dsl

import (
	"container/heap"
	"fmt"
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
	index := make(map[string]int, len(w.Order))
	for i, name := range w.Order {
		index[name] = i
	}
	// The tasks target depends on, directly or not, and for each the
	// needed tasks that require it.
	need := map[string]bool{target: true}
	waiting := map[string]int{}
	dependents := map[string][]string{}
	stack := []string{target}
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, r := range w.Tasks[name].Requires {
			if r == name {
				continue
			}
			if _, ok := w.Tasks[r]; !ok {
				return nil, fmt.Errorf("plan %s: task %s requires unknown task %s", target, name, r)
			}
			waiting[name]++
			dependents[r] = append(dependents[r], name)
			if !need[r] {
				need[r] = true
				stack = append(stack, r)
			}
		}
	}
	// Kahn's algorithm; the ready task first in document order goes next.
	ready := &indexHeap{}
	for name := range need {
		if waiting[name] == 0 {
			heap.Push(ready, index[name])
		}
	}
	order := make([]string, 0, len(need))
	for ready.Len() > 0 {
		name := w.Order[heap.Pop(ready).(int)]
		order = append(order, name)
		for _, d := range dependents[name] {
			if waiting[d]--; waiting[d] == 0 {
				heap.Push(ready, index[d])
			}
		}
	}
	if len(order) < len(need) {
		return nil, fmt.Errorf("plan %s: the tasks it requires form a cycle", target)
	}
	return order, nil
}

// indexHeap is a min-heap of document positions.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
