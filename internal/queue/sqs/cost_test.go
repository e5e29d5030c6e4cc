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

// TestRequestCost counts, through the request counter, the SQS requests
// that sending, receiving and deleting a batch of messages take: one call
// each per ten messages.
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

	const n = 25
	msgs := make([]queue.Out, n)
	for i := range msgs {
		msgs[i] = queue.Out{Body: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	before := counter.Snapshot()
	if err := q.Send(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	if got := counter.Snapshot().Sub(before).Requests[awsx.Op{Service: "SQS", Operation: "SendMessageBatch"}]; got != 3 {
		t.Errorf("sending %d messages took %d SendMessageBatch calls, want 3", n, got)
	}

	var handles []string
	deadline := time.Now().Add(10 * time.Second)
	for len(handles) < n && time.Now().Before(deadline) {
		got, err := q.Receive(t.Context(), queue.MaxBatch, time.Second, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			handles = append(handles, m.Handle)
		}
	}
	if len(handles) != n {
		t.Fatalf("received %d of %d messages", len(handles), n)
	}
	before = counter.Snapshot()
	if err := q.Delete(t.Context(), handles...); err != nil {
		t.Fatal(err)
	}
	d := counter.Snapshot().Sub(before)
	if got := d.Requests[awsx.Op{Service: "SQS", Operation: "DeleteMessageBatch"}]; got != 3 || d.Total("") != 3 {
		t.Errorf("deleting %d messages took %v, want 3 DeleteMessageBatch calls", n, d.Requests)
	}
}
