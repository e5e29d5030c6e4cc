// Command engine is the Lambda function that consumes the engine queue and
// the timer queue and applies each event to its execution.
package main

import (
	"os"
	"strconv"

	"github.com/borawf/bora/internal/function"
)

func main() {
	function.Start(func(d *function.Deps) (any, error) {
		rt, err := d.Runtime()
		max, _ := strconv.Atoi(os.Getenv(function.EnvMaxReceives))
		h := &function.Engine{Runtime: rt, TimerQueueARN: os.Getenv(function.EnvTimerQueueARN), MaxReceives: max}
		return h.Handle, err
	})
}
