// Command reconciler is the Lambda function run on a schedule that heals
// stuck work: overdue task messages, lost timers, expired leases.
package main

import "github.com/borawf/bora/internal/function"

func main() {
	function.Start(func(d *function.Deps) (any, error) {
		h := &function.Reconciler{Reconciler: d.Reconciler(), Log: d.Log}
		return h.Handle, nil
	})
}
