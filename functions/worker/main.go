// Command worker is the Lambda function that consumes the task queue: it
// claims each task's attempt, runs its action and records the outcome.
package main

import "github.com/borawf/bora/internal/function"

func main() {
	function.Start(func(d *function.Deps) (any, error) {
		w, err := d.Worker()
		h := &function.Worker{Worker: w, Tasks: d.Tasks}
		return h.Handle, err
	})
}
