package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
)

// DecodeMessage decodes a task message body and checks that it names a
// unit's attempt.
func DecodeMessage(body []byte) (record.TaskMessage, error) {
	var m record.TaskMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return record.TaskMessage{}, fmt.Errorf("decode task message: %w", err)
	}
	var errs []error
	if m.ExecID == "" {
		errs = append(errs, errors.New("no execution_id"))
	}
	if m.Task == "" {
		errs = append(errs, errors.New("no task"))
	}
	if m.Fence == "" {
		errs = append(errs, errors.New("no fence"))
	}
	if m.Attempt < 1 {
		errs = append(errs, fmt.Errorf("attempt %d, want 1 or more", m.Attempt))
	}
	if m.Item < 0 {
		errs = append(errs, fmt.Errorf("item %d, want 0 or more", m.Item))
	}
	if err := errors.Join(errs...); err != nil {
		return record.TaskMessage{}, fmt.Errorf("decode task message: %w", err)
	}
	return m, nil
}

// Serve receives task messages from tasks and handles up to concurrency of
// them at a time (at least 1), until ctx ends; it is the worker loop of
// embedded mode. A message is deleted once Handle returns nil; otherwise it
// becomes visible again after the lease and is redelivered (and
// dead-lettered after the queue's receive limit, as a malformed one is).
// Messages are hidden for the lease and their visibility is renewed with
// it. When ctx ends Serve stops receiving, waits for the handlers in
// flight (which see ctx end too) and returns ctx's error.
func (w *Worker) Serve(ctx context.Context, tasks queue.Queue, concurrency int) error {
	if err := w.Validate(); err != nil {
		return err
	}
	c := w.config()
	concurrency = max(concurrency, 1)
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		// Wait for a free slot, then take as many as are free.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		free := 1
		for free < min(concurrency, queue.MaxBatch) {
			select {
			case slots <- struct{}{}:
				free++
				continue
			default:
			}
			break
		}
		msgs, err := tasks.Receive(ctx, free, 20*time.Second, c.Lease)
		if err != nil {
			for range free {
				<-slots
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.Log.Warn("receive task messages", "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		for range free - len(msgs) {
			<-slots
		}
		for _, qm := range msgs {
			wg.Go(func() {
				defer func() { <-slots }()
				c.serveOne(ctx, tasks, qm)
			})
		}
	}
}

// serveOne handles one received message.
func (c *Worker) serveOne(ctx context.Context, tasks queue.Queue, qm queue.Message) {
	m, err := DecodeMessage(qm.Body)
	if err != nil {
		c.Log.Error("malformed task message; leaving it to the dead-letter queue", "message_id", qm.ID, "receive_count", qm.ReceiveCount, "err", err)
		return
	}
	heartbeat := func(d time.Duration) error { return tasks.ChangeVisibility(ctx, qm.Handle, d) }
	if err := c.Handle(ctx, m, heartbeat); err != nil {
		c.Log.Warn("task message will be redelivered", "execution_id", m.ExecID, "task", m.Task, "attempt", m.Attempt, "item", m.Item, "err", err)
		return
	}
	if err := tasks.Delete(ctx, qm.Handle); err != nil {
		c.Log.Warn("delete task message", "execution_id", m.ExecID, "task", m.Task, "attempt", m.Attempt, "item", m.Item, "err", err)
	}
}
