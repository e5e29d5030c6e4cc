// Command reconciler is the Lambda function run on a schedule that heals
// stuck work — overdue task messages, lost timers, expired leases — and
// fires the cron triggers that are due.
package main

import "github.com/borawf/bora/internal/function"

func main() {
	function.Start(func(d *function.Deps) (any, error) {
		rt, err := d.Runtime()
		h := &function.Reconciler{Reconciler: d.Reconciler(), Triggers: d.Triggers(rt), Log: d.Log}
		return h.Handle, err
	})
}
