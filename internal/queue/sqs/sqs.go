// Package sqs is the Amazon SQS adapter of the Queue port.
//
// Send batches messages with SendMessageBatch (at most 10 messages and
// 256 KiB per call) and retries the entries SQS reports as failed; on a
// FIFO queue a batch holds at most one message per group, so that a retried
// entry can never land behind a later message of its group. Receive asks
// for the receive count, sent time and group of each message. Delete uses
// DeleteMessageBatch and treats a stale receipt handle as done, as the port
// requires.
package sqs

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/borawf/bora/internal/queue"
)

// SQSAPI is the part of the SQS client the queue uses.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Options configures a Queue. Zero values take the defaults.
type Options struct {
	// Attempts is how many times a batch entry that SQS failed is sent
	// (or deleted) before Send (or Delete) gives up on it. Default 5.
	Attempts int
	// Backoff is the wait before the first retry of failed entries; it
	// doubles with each retry. Default 50ms.
	Backoff time.Duration
}

// Queue is a queue.Queue on one SQS queue. A queue whose URL ends in
// ".fifo" is a FIFO queue (SQS requires the suffix).
type Queue struct {
	client SQSAPI
	url    string
	fifo   bool
	o      Options
}

var _ queue.Queue = (*Queue)(nil)

// New returns the queue at url.
func New(client SQSAPI, url string, o Options) *Queue {
	o.Attempts = cmp.Or(max(o.Attempts, 0), 5)
	o.Backoff = cmp.Or(max(o.Backoff, 0), 50*time.Millisecond)
	return &Queue{client: client, url: url, fifo: strings.HasSuffix(url, ".fifo"), o: o}
}

// maxBatchBytes is SQS's limit on the sum of the bodies in one batch.
const maxBatchBytes = 256 * 1024

// Send sends msgs in batches, retrying the entries SQS fails with a server
// fault. It returns an error naming every message that was not sent.
func (q *Queue) Send(ctx context.Context, msgs ...queue.Out) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		e, err := q.entry(i, m)
		if err != nil {
			return err
		}
		entries[i] = e
	}
	var errs []error
	for _, b := range q.batches(msgs) {
		if err := q.sendBatch(ctx, entries[b[0]:b[1]]); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// entry checks message i and builds its batch entry; the entry's Id is the
// message's index in the Send call.
func (q *Queue) entry(i int, m queue.Out) (types.SendMessageBatchRequestEntry, error) {
	name := func() string {
		if m.DedupID != "" {
			return fmt.Sprintf("message %d (dedup id %q)", i, m.DedupID)
		}
		return fmt.Sprintf("message %d", i)
	}
	if len(m.Body) > queue.MaxBodyBytes {
		return types.SendMessageBatchRequestEntry{}, fmt.Errorf("send %s: %d bytes: %w", name(), len(m.Body), queue.ErrTooLarge)
	}
	if len(m.Body) == 0 || !validBody(m.Body) {
		return types.SendMessageBatchRequestEntry{}, fmt.Errorf("send %s: SQS needs a non-empty UTF-8 body without control characters: %w", name(), queue.ErrInvalid)
	}
	e := types.SendMessageBatchRequestEntry{Id: ptr(strconv.Itoa(i)), MessageBody: ptr(string(m.Body))}
	switch {
	case m.Delay < 0 || m.Delay > queue.MaxDelay:
		return e, fmt.Errorf("send %s: delay %v is outside 0..%v: %w", name(), m.Delay, queue.MaxDelay, queue.ErrInvalid)
	case q.fifo && m.Group == "":
		return e, fmt.Errorf("send %s: a FIFO queue needs a group: %w", name(), queue.ErrInvalid)
	case q.fifo && m.Delay > 0:
		return e, fmt.Errorf("send %s: a FIFO queue takes no per-message delay: %w", name(), queue.ErrInvalid)
	case q.fifo:
		e.MessageGroupId = ptr(sqsID(m.Group))
		// Without an id, SQS would need content-based deduplication;
		// the body's hash is what that would use.
		e.MessageDeduplicationId = ptr(sqsID(cmp.Or(m.DedupID, string(hash(m.Body)))))
	case m.Delay > 0:
		// SQS counts whole seconds; round up so a message is never
		// visible before its delay.
		e.DelaySeconds = int32(math.Ceil(m.Delay.Seconds()))
	}
	return e, nil
}

// batches splits msgs into runs [start, end) that fit one SendMessageBatch:
// at most queue.MaxBatch messages and maxBatchBytes of bodies, and on a FIFO
// queue at most one message per group.
func (q *Queue) batches(msgs []queue.Out) [][2]int {
	var out [][2]int
	start, size := 0, 0
	groups := map[string]bool{}
	for i, m := range msgs {
		full := i-start == queue.MaxBatch || size+len(m.Body) > maxBatchBytes || (q.fifo && groups[m.Group])
		if i > start && full {
			out = append(out, [2]int{start, i})
			start, size = i, 0
			clear(groups)
		}
		size += len(m.Body)
		groups[m.Group] = true
	}
	if start < len(msgs) {
		out = append(out, [2]int{start, len(msgs)})
	}
	return out
}

func (q *Queue) sendBatch(ctx context.Context, pending []types.SendMessageBatchRequestEntry) error {
	byID := make(map[string]types.SendMessageBatchRequestEntry, len(pending))
	for _, e := range pending {
		byID[*e.Id] = e
	}
	var failed []error
	for attempt := 1; len(pending) > 0; attempt++ {
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: pending})
		if err != nil {
			return fmt.Errorf("send to %s: %w", q.url, err)
		}
		var retry []types.SendMessageBatchRequestEntry
		for _, f := range out.Failed {
			e, ok := byID[ptrValue(f.Id)]
			if !ok {
				continue
			}
			why := fmt.Errorf("send message %s to %s: %s: %s", ptrValue(f.Id), q.url, ptrValue(f.Code), ptrValue(f.Message))
			if f.SenderFault || attempt >= q.o.Attempts {
				failed = append(failed, why)
				continue
			}
			retry = append(retry, e)
		}
		pending = retry
		if len(pending) > 0 {
			if err := sleep(ctx, q.o.Backoff<<(attempt-1)); err != nil {
				return fmt.Errorf("send to %s: %w", q.url, err)
			}
		}
	}
	return errors.Join(failed...)
}

// Receive returns up to n messages (1..10), waiting up to wait (rounded up to
// whole seconds, at most 20) for one to arrive, and hides them for
// visibility (rounded up to whole seconds).
func (q *Queue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]queue.Message, error) {
	n = min(cmp.Or(max(n, 0), 1), queue.MaxBatch)
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            &q.url,
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     int32(min(seconds(wait), 20)),
		VisibilityTimeout:   int32(seconds(visibility)),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
			types.MessageSystemAttributeNameMessageGroupId,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	msgs := make([]queue.Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg := queue.Message{
			ID:     ptrValue(m.MessageId),
			Handle: ptrValue(m.ReceiptHandle),
			Body:   []byte(ptrValue(m.Body)),
			Group:  m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)],
		}
		msg.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			msg.SentAt = time.UnixMilli(ms).UTC()
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// staleHandle reports a delete that failed because the handle is no longer
// current: the message was received again, deleted already, or (FIFO) its
// visibility timeout ran out. The message is either gone or owned by a
// newer receive, so for Delete the work is done.
func staleHandle(code string) bool {
	switch code {
	case "ReceiptHandleIsInvalid", "InvalidReceiptHandle", "MessageNotInflight",
		"AWS.SimpleQueueService.ReceiptHandleIsInvalid":
		return true
	}
	return false
}

// Delete removes messages by receipt handle, in batches of queue.MaxBatch.
func (q *Queue) Delete(ctx context.Context, handles ...string) error {
	var errs []error
	for start := 0; start < len(handles); start += queue.MaxBatch {
		chunk := handles[start:min(start+queue.MaxBatch, len(handles))]
		pending := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, h := range chunk {
			pending[i] = types.DeleteMessageBatchRequestEntry{Id: ptr(strconv.Itoa(start + i)), ReceiptHandle: ptr(h)}
		}
		for attempt := 1; len(pending) > 0; attempt++ {
			out, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &q.url, Entries: pending})
			if err != nil {
				return errors.Join(append(errs, fmt.Errorf("delete from %s: %w", q.url, err))...)
			}
			var retry []types.DeleteMessageBatchRequestEntry
			for _, f := range out.Failed {
				if staleHandle(ptrValue(f.Code)) {
					continue
				}
				i, _ := strconv.Atoi(ptrValue(f.Id))
				if f.SenderFault || attempt >= q.o.Attempts || i < start || i >= start+len(chunk) {
					errs = append(errs, fmt.Errorf("delete message %d from %s: %s: %s", i, q.url, ptrValue(f.Code), ptrValue(f.Message)))
					continue
				}
				retry = append(retry, types.DeleteMessageBatchRequestEntry{Id: f.Id, ReceiptHandle: ptr(chunk[i-start])})
			}
			pending = retry
			if len(pending) > 0 {
				if err := sleep(ctx, q.o.Backoff<<(attempt-1)); err != nil {
					return errors.Join(append(errs, fmt.Errorf("delete from %s: %w", q.url, err))...)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// ChangeVisibility hides a received message for d (rounded up to whole
// seconds) from now.
func (q *Queue) ChangeVisibility(ctx context.Context, handle string, d time.Duration) error {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          &q.url,
		ReceiptHandle:     &handle,
		VisibilityTimeout: int32(seconds(d)),
	})
	if err != nil {
		return fmt.Errorf("change visibility on %s: %w", q.url, err)
	}
	return nil
}

// sqsID maps a group or deduplication id into what SQS accepts (at most
// 128 characters of ASCII letters, digits and punctuation). An id that
// already fits is used as it is; any other is replaced by its SHA-256, a
// 64-character hex string that no readable id of that length collides with
// in practice.
func sqsID(s string) string {
	if len(s) <= 128 && s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return s
	}
	return string(hash([]byte(s)))
}

func hash(b []byte) []byte {
	sum := sha256.Sum256(b)
	return []byte(hex.EncodeToString(sum[:]))
}

// validBody reports whether SQS accepts b as a message body: valid UTF-8
// made only of #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF.
func validBody(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// seconds rounds d up to whole seconds, at least 0.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ptr[T any](v T) *T { return &v }

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
