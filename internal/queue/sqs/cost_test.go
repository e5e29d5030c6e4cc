package sqs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/queue/sqs"
)

// TestRequestCost counts, through the request counter, the SQS calls that
// sending and deleting a batch of messages take against a real endpoint:
// one call per ten messages. What it proves is the adapter's batching, so
// it counts the calls the adapter makes; the SDK may retry a call on a busy
// machine (a dropped connection, a 5xx), which costs a request more but is
// not the adapter's doing, and which it logs. A retried send may store a
// message twice, and a retried receive hides the messages of the response
// that was lost, as on SQS: so messages are hidden only briefly, and the
// test waits for every message, not for an exact count.
func TestRequestCost(t *testing.T) {
	t.Parallel()
	cfg := awsx.TestConfig(t)
	counter := awsx.NewCounter()
	counter.Attach(&cfg)
	client := awssqs.NewFromConfig(cfg)
	created, err := sqs.CreateQueues(t.Context(), client, fmt.Sprintf("bora-cost-%d-", time.Now().UnixNano()), sqs.Spec{Name: "q"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: &created[0].URL})
	})
	q := sqs.New(client, created[0].URL, sqs.Options{})
	sendOp := awsx.Op{Service: "SQS", Operation: "SendMessageBatch"}
	deleteOp := awsx.Op{Service: "SQS", Operation: "DeleteMessageBatch"}

	const n = 25
	msgs := make([]queue.Out, n)
	for i := range msgs {
		msgs[i] = queue.Out{Body: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	before := counter.Snapshot()
	if err := q.Send(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	sent := counter.Snapshot().Sub(before)
	checkCalls(t, "sending 25 messages", sent, sendOp, 3)

	seen := map[string]bool{}
	var handles []string
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		got, err := q.Receive(t.Context(), queue.MaxBatch, time.Second, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > queue.MaxBatch {
			t.Fatalf("one receive returned %d messages, more than %d", len(got), queue.MaxBatch)
		}
		for _, m := range got {
			seen[string(m.Body)] = true
			handles = append(handles, m.Handle)
		}
	}
	if len(seen) != n {
		t.Fatalf("received %d of the %d messages within 30s", len(seen), n)
	}
	before = counter.Snapshot()
	if err := q.Delete(t.Context(), handles...); err != nil {
		t.Fatal(err)
	}
	deleted := counter.Snapshot().Sub(before)
	want := int64((len(handles) + queue.MaxBatch - 1) / queue.MaxBatch)
	checkCalls(t, fmt.Sprintf("deleting %d messages", len(handles)), deleted, deleteOp, want)
}

// checkCalls checks that op was the only operation in d, called want
// times, and that every call made at least one request.
func checkCalls(t *testing.T, what string, d awsx.Snapshot, op awsx.Op, want int64) {
	t.Helper()
	var calls int64
	for _, c := range d.Calls {
		calls += c
	}
	if got := d.Calls[op]; got != want || calls != want {
		t.Errorf("%s took the calls %v, want %d %s", what, d.Calls, want, op)
	}
	if got := d.Requests[op]; got < d.Calls[op] {
		t.Errorf("%s: %d requests for %d calls; the counter missed requests", what, got, d.Calls[op])
	} else if got > d.Calls[op] {
		t.Logf("%s: the SDK retried %d times", what, got-d.Calls[op])
	}
}
