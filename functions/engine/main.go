// Command engine is the Lambda function that consumes the engine queue and
// the timer queue and applies each event to its execution.
package main

import (
	"context"
	"time"

	"github.com/borawf/bora/internal/function"
)

func main() {
	function.Start(func(d *function.Deps) (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h, err := d.Engine(ctx)
		return h.Handle, err
	})
}
