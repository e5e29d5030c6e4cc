// Package batch hands a batch of queue messages to a handler the way Bora
// needs on both AWS (a Lambda SQS event) and in the embedded loops: in order,
// and when a message of a FIFO group fails, every later message of that group
// in the batch is reported failed without being handled, so the group's order
// holds when they are delivered again (docs/protocol.md).
package batch

import (
	"context"
	"errors"
	"time"
)

// Reserve is the time a handler must have left before its context's
// deadline (a Lambda invocation's) to be given a message: a message started
// later would be cut short mid-step. The messages left are reported for
// delivery again.
const Reserve = 2 * time.Second

// ErrNoTime is the error of a message not handled for want of time.
var ErrNoTime = errors.New("too little time left before the deadline to handle the message")

// Message is one message of a batch.
type Message struct {
	ID    string // what a failure is reported by (SQS message id, or receipt handle)
	Group string // FIFO group; empty for standard queues
	Body  []byte
	// ReceiveCount is how many times the message was received, this time included.
	ReceiveCount int
}

// Failure is a message that must be delivered again.
type Failure struct {
	ID      string
	Err     error // nil when skipped because an earlier message of its group failed
	Skipped bool
}

// Process handles msgs in order and returns those that must be delivered
// again. Handlers of different groups could run in parallel; Process keeps
// it simple and sequential, which keeps each group's order trivially.
func Process(ctx context.Context, msgs []Message, h func(context.Context, Message) error) []Failure {
	var failed []Failure
	broken := map[string]bool{}
	for _, m := range msgs {
		if m.Group != "" && broken[m.Group] {
			failed = append(failed, Failure{ID: m.ID, Skipped: true})
			continue
		}
		if err := ctx.Err(); err != nil {
			failed = append(failed, Failure{ID: m.ID, Err: err})
			continue
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < Reserve {
			failed = append(failed, Failure{ID: m.ID, Err: ErrNoTime})
			continue
		}
		if err := h(ctx, m); err != nil {
			failed = append(failed, Failure{ID: m.ID, Err: err})
			if m.Group != "" {
				broken[m.Group] = true
			}
		}
	}
	return failed
}
