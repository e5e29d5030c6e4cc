// Package queuetest is the contract suite of the Queue port: every behaviour
// an adapter must have (the semantics listed in package queue), one subtest
// each. Each adapter's tests call Run.
//
// The suite runs in real time with durations of whole seconds (SQS's
// granularity), waits on conditions with deadlines, and runs its subtests
// in parallel, so that it also runs against SQS on an emulator.
//
// A receive whose response is lost on the way (a call the client then
// retries, on a busy network or emulator) counts as a receive, on SQS too:
// the suite checks that a message's ReceiveCount grows when it comes back,
// not by exactly one.
package queuetest

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/borawf/bora/internal/queue"
)

// Options says what queue a subtest needs.
type Options struct {
	FIFO bool
	// MaxReceives is the number of receives after which a message moves
	// to the dead-letter queue; 0 means the suite does not use one.
	MaxReceives int
}

// NewQueue makes a new, empty queue with options o for one subtest, and its
// dead-letter queue (nil when o.MaxReceives is 0). Names must be unique per
// call; the function registers any cleanup with t.
type NewQueue func(t *testing.T, o Options) (q, dlq queue.Queue)

// Run runs every behaviour of the Queue port against queues made by newQueue.
func Run(t *testing.T, newQueue NewQueue) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newQueue)
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, newQueue NewQueue)
}

var tests = []test{
	{"SendReceiveDelete/Standard", func(t *testing.T, nq NewQueue) { testSendReceiveDelete(t, nq, false) }},
	{"SendReceiveDelete/FIFO", func(t *testing.T, nq NewQueue) { testSendReceiveDelete(t, nq, true) }},
	{"Batches", testBatches},
	{"VisibilityTimeout", testVisibilityTimeout},
	{"ChangeVisibility", testChangeVisibility},
	{"Delay", testDelay},
	{"DeadLetter/Standard", func(t *testing.T, nq NewQueue) { testDeadLetter(t, nq, false) }},
	{"DeadLetter/FIFO", func(t *testing.T, nq NewQueue) { testDeadLetter(t, nq, true) }},
	{"FIFO/GroupOrder", testFIFOGroups},
	{"FIFO/RedeliveryKeepsOrder", testFIFORedelivery},
	{"FIFO/Dedup", testFIFODedup},
	{"StaleHandle", testStaleHandle},
	{"TooLarge", testTooLarge},
	{"Invalid", testInvalid},
	{"LongPoll", testLongPoll},
	{"ReceiveCanceled", testReceiveCanceled},
	{"ConcurrentReceivers", testConcurrentReceivers},
}

// slack absorbs clock granularity between the test and the queue when
// checking that something did not happen too early.
const slack = 250 * time.Millisecond

// vis is the visibility timeout of a receive that expects the message back.
const vis = time.Second

// long is a visibility timeout that outlasts any subtest.
const long = 60 * time.Second

func send(t *testing.T, q queue.Queue, msgs ...queue.Out) {
	t.Helper()
	if err := q.Send(t.Context(), msgs...); err != nil {
		t.Fatalf("Send(%d messages): %v", len(msgs), err)
	}
}

func bodies(prefix string, n int) []queue.Out {
	out := make([]queue.Out, n)
	for i := range out {
		out[i] = queue.Out{Body: fmt.Appendf(nil, "%s-%02d", prefix, i)}
	}
	return out
}

func receive(t *testing.T, q queue.Queue, max int, wait, visibility time.Duration) []queue.Message {
	t.Helper()
	msgs, err := q.Receive(t.Context(), max, wait, visibility)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(msgs) > max || len(msgs) > queue.MaxBatch {
		t.Fatalf("Receive(max %d) returned %d messages", max, len(msgs))
	}
	return msgs
}

// receiveN receives until it holds n messages or the deadline passes.
func receiveN(t *testing.T, q queue.Queue, n int, within, visibility time.Duration) []queue.Message {
	t.Helper()
	var got []queue.Message
	deadline := time.Now().Add(within)
	for len(got) < n {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("received %d of %d messages within %v: %v", len(got), n, within, bodyList(got))
		}
		got = append(got, receive(t, q, min(n-len(got), queue.MaxBatch), min(left, time.Second), visibility)...)
	}
	if len(got) > n {
		t.Fatalf("received %d messages, want %d: %v", len(got), n, bodyList(got))
	}
	return got
}

// expectNone receives for wait and fails on any message.
func expectNone(t *testing.T, q queue.Queue, wait time.Duration, why string) {
	t.Helper()
	if msgs := receive(t, q, queue.MaxBatch, wait, long); len(msgs) > 0 {
		t.Fatalf("%s: received %v", why, bodyList(msgs))
	}
}

func del(t *testing.T, q queue.Queue, msgs ...queue.Message) {
	t.Helper()
	handles := make([]string, len(msgs))
	for i, m := range msgs {
		handles[i] = m.Handle
	}
	if err := q.Delete(t.Context(), handles...); err != nil {
		t.Fatalf("Delete(%d handles): %v", len(handles), err)
	}
}

func bodyList(msgs []queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func sortedBodies(msgs []queue.Message) []string {
	out := bodyList(msgs)
	slices.Sort(out)
	return out
}

func outBodies(msgs []queue.Out) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	slices.Sort(out)
	return out
}

// background is for calls that must outlive the test's context.
var background = context.Background

// RaiseParallel sets the test binary's -test.parallel to n unless it was
// given on the command line. The suite's subtests spend their time waiting
// for timeouts, not computing, so running more of them at once than there
// are CPUs keeps the suite short. Call it from TestMain before m.Run.
func RaiseParallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(n))
	}
}
