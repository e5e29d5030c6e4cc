// Package queue declares the Queue port: at-least-once message queues with
// the semantics of SQS, which the embedded adapter reproduces. Adapters live
// in subpackages (sqlite, sqs); every adapter passes queuetest.Run.
//
// Semantics every adapter honours:
//   - A received message is invisible for the visibility timeout, then
//     becomes visible again unless it was deleted.
//   - Each receive increments ReceiveCount; after MaxReceives receives a
//     message moves to the queue's dead-letter queue instead of being handed
//     out again.
//   - Delay postpones a message's first visibility (at most MaxDelay).
//   - A FIFO queue hands out at most one in-flight message per Group, in send
//     order, and drops a message whose DedupID was sent within the
//     deduplication window (5 minutes).
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/borawf/bora/internal/record"
)

// MaxDelay is the longest Delay a queue accepts (SQS: 900 s).
const MaxDelay = 15 * time.Minute

// MaxBatch is the most messages one Send, Receive or Delete call handles
// (SQS: 10). Adapters split larger Sends.
const MaxBatch = 10

// MaxBodyBytes is the largest message body (SQS: 256 KiB).
const MaxBodyBytes = 256 * 1024

// ErrTooLarge reports a body over MaxBodyBytes.
var ErrTooLarge = errors.New("message body over the queue's size limit")

// ErrInvalid reports a message that breaks the queue's rules (a FIFO
// message without a group, a delay over MaxDelay).
var ErrInvalid = errors.New("invalid message")

// Out is a message to send.
type Out struct {
	Body    []byte
	Group   string        // FIFO only: ordering group (the execution id)
	DedupID string        // FIFO only: deduplication id (the event id)
	Delay   time.Duration // standard queues only; 0..MaxDelay
}

// Message is a received message.
type Message struct {
	ID           string // the message's id, stable across receives
	Handle       string // receipt handle of this receive; for Delete and ChangeVisibility
	Body         []byte
	Group        string
	ReceiveCount int
	SentAt       time.Time
}

// Queue is one queue.
type Queue interface {
	// Send sends messages, splitting them into batches of MaxBatch.
	Send(ctx context.Context, msgs ...Out) error
	// Receive returns up to max visible messages, waiting up to wait for
	// one to arrive, and hides them for visibility.
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error)
	// Delete removes received messages. Deleting with a stale handle (the
	// message was received again since) is not an error on SQS; adapters
	// must not fail on it either.
	Delete(ctx context.Context, handles ...string) error
	// ChangeVisibility hides a received message for d from now (heartbeat).
	ChangeVisibility(ctx context.Context, handle string, d time.Duration) error
}

// EventOut is an engine event as a message of the engine queue: in its
// execution's group, deduplicated by its id.
func EventOut(ev record.Event) (Out, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return Out{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return Out{Body: body, Group: ev.ExecID, DedupID: ev.ID}, nil
}
