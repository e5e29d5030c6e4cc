package queuetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/queue"
)

func testSendReceiveDelete(t *testing.T, nq NewQueue, fifo bool) {
	q, _ := nq(t, Options{FIFO: fifo})
	out := bodies("m", 3)
	if fifo {
		for i := range out {
			out[i].Group, out[i].DedupID = fmt.Sprintf("g%d", i), fmt.Sprintf("d%d", i)
		}
	}
	before := time.Now()
	send(t, q, out...)
	got := receiveN(t, q, len(out), 5*time.Second, vis)
	after := time.Now()
	if d := cmp.Diff(outBodies(out), sortedBodies(got)); d != "" {
		t.Errorf("bodies (-sent +received):\n%s", d)
	}
	ids, handles := map[string]bool{}, map[string]bool{}
	for _, m := range got {
		if m.ID == "" || m.Handle == "" || ids[m.ID] || handles[m.Handle] {
			t.Errorf("message %q: id %q, handle %q: want both set and unique", m.Body, m.ID, m.Handle)
		}
		ids[m.ID], handles[m.Handle] = true, true
		if m.ReceiveCount < 1 {
			t.Errorf("message %q: ReceiveCount = %d, want at least 1", m.Body, m.ReceiveCount)
		}
		if m.SentAt.Before(before.Add(-time.Second)) || m.SentAt.After(after.Add(time.Second)) {
			t.Errorf("message %q: SentAt = %v, want between %v and %v", m.Body, m.SentAt, before, after)
		}
		if fifo {
			if want := "g" + strings.TrimPrefix(string(m.Body), "m-0"); m.Group != want {
				t.Errorf("message %q: Group = %q, want %q", m.Body, m.Group, want)
			}
		}
	}
	del(t, q, got...)
	// Had the deletes failed, the messages would be back after vis.
	expectNone(t, q, vis+500*time.Millisecond, "after delete")
}

func testBatches(t *testing.T, nq NewQueue) {
	const visibility = 2 * time.Second
	q, _ := nq(t, Options{})
	out := bodies("batch", 2*queue.MaxBatch+5)
	send(t, q, out...)
	// Keep the latest receive of each message: one may come back if
	// collecting takes longer than its visibility timeout.
	byID := map[string]queue.Message{}
	deadline := time.Now().Add(5 * time.Second)
	for len(byID) < len(out) && time.Now().Before(deadline) {
		for _, m := range receive(t, q, len(out), time.Second, visibility) {
			byID[m.ID] = m
		}
	}
	var got []queue.Message
	for _, m := range byID {
		got = append(got, m)
	}
	if d := cmp.Diff(outBodies(out), sortedBodies(got)); d != "" {
		t.Fatalf("bodies (-sent +received):\n%s", d)
	}
	del(t, q, got...) // more handles than one batch
	expectNone(t, q, visibility+500*time.Millisecond, "after deleting every message")
}

func testVisibilityTimeout(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{})
	send(t, q, queue.Out{Body: []byte("v")})
	// The receive that hides the message happens after this instant, so
	// the message may not be back before hidden+vis.
	hidden := time.Now()
	first := receiveN(t, q, 1, 5*time.Second, vis)[0]
	expectNone(t, q, 0, "while invisible")
	again := receiveN(t, q, 1, 5*time.Second, vis)[0]
	if waited := time.Since(hidden); waited < vis-slack {
		t.Errorf("message came back after %v, before its visibility timeout %v", waited, vis)
	}
	if again.ID != first.ID || string(again.Body) != "v" || again.Handle == first.Handle {
		t.Errorf("redelivered id %q body %q handle %q; want id %q, body v, a new handle", again.ID, again.Body, again.Handle, first.ID)
	}
	if again.ReceiveCount <= first.ReceiveCount {
		t.Errorf("ReceiveCount = %d after %d, want it grown", again.ReceiveCount, first.ReceiveCount)
	}
	del(t, q, again)
}

func testChangeVisibility(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{})
	send(t, q, queue.Out{Body: []byte("c")})
	m := receiveN(t, q, 1, 5*time.Second, vis)[0]
	// Extend: the message stays hidden past its first timeout.
	if err := q.ChangeVisibility(t.Context(), m.Handle, 10*time.Second); err != nil {
		t.Fatalf("ChangeVisibility(10s): %v", err)
	}
	expectNone(t, q, vis+500*time.Millisecond, "after extending visibility")
	// Zero: visible now.
	if err := q.ChangeVisibility(t.Context(), m.Handle, 0); err != nil {
		t.Fatalf("ChangeVisibility(0): %v", err)
	}
	start := time.Now()
	again := receiveN(t, q, 1, 5*time.Second, vis)[0]
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("message came back %v after ChangeVisibility(0), want at once", waited)
	}
	if again.ID != m.ID || again.ReceiveCount <= m.ReceiveCount {
		t.Errorf("got id %q count %d, want id %q count over %d", again.ID, again.ReceiveCount, m.ID, m.ReceiveCount)
	}
	del(t, q, again)
}

func testDelay(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{})
	start := time.Now()
	send(t, q, queue.Out{Body: []byte("late"), Delay: time.Second}, queue.Out{Body: []byte("now")})
	first := receiveN(t, q, 1, 5*time.Second, long)[0]
	if string(first.Body) != "now" {
		t.Fatalf("first message = %q, want the undelayed one", first.Body)
	}
	late := receiveN(t, q, 1, 5*time.Second, long)[0]
	if waited := time.Since(start); string(late.Body) != "late" || waited < time.Second-slack {
		t.Errorf("got %q after %v; want the delayed message after 1s", late.Body, waited)
	}
	del(t, q, first, late)
}

// testDeadLetter receives a message MaxReceives times without deleting it;
// the next receive moves it to the dead-letter queue.
func testDeadLetter(t *testing.T, nq NewQueue, fifo bool) {
	const maxReceives = 2
	q, dlq := nq(t, Options{FIFO: fifo, MaxReceives: maxReceives})
	if dlq == nil {
		t.Fatal("no dead-letter queue for MaxReceives > 0")
	}
	out := []queue.Out{{Body: []byte("poison")}}
	if fifo {
		// The poison message holds up its group until it is moved.
		out = []queue.Out{
			{Body: []byte("poison"), Group: "g", DedupID: "poison"},
			{Body: []byte("after"), Group: "g", DedupID: "after"},
		}
	}
	send(t, q, out...)
	for i := 1; i <= maxReceives; i++ {
		m := receiveN(t, q, 1, 5*time.Second, long)[0]
		if string(m.Body) != "poison" || m.ReceiveCount != i {
			t.Fatalf("receive %d: got %q count %d, want poison count %d", i, m.Body, m.ReceiveCount, i)
		}
		if fifo {
			expectNone(t, q, 0, "while the group's first message is in flight")
		}
		if err := q.ChangeVisibility(t.Context(), m.Handle, 0); err != nil {
			t.Fatalf("ChangeVisibility: %v", err)
		}
	}
	// The next receive moves the poison message instead of handing it out.
	if fifo {
		m := receiveN(t, q, 1, 5*time.Second, long)[0]
		if string(m.Body) != "after" {
			t.Fatalf("after %d receives got %q, want the group's next message", maxReceives, m.Body)
		}
		del(t, q, m)
	} else {
		expectNone(t, q, time.Second, fmt.Sprintf("after %d receives", maxReceives))
	}
	dead := receiveN(t, dlq, 1, 5*time.Second, long)[0]
	if string(dead.Body) != "poison" {
		t.Errorf("dead-letter queue holds %q, want poison", dead.Body)
	}
	del(t, dlq, dead)
}

// testFIFOGroups checks that groups progress in parallel, that a group is
// held while it has a message in flight, and that each group is delivered
// in send order. (SQS may hand out several messages of one group in one
// receive; what holds is the order and the hold while they are in flight.)
func testFIFOGroups(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{FIFO: true})
	var sent []queue.Out
	add := func(group string, n int) []queue.Out {
		var out []queue.Out
		for range n {
			i := len(sent)
			o := queue.Out{Body: fmt.Appendf(nil, "%s-%d", group, i), Group: group, DedupID: fmt.Sprintf("d%d", i)}
			sent = append(sent, o)
			out = append(out, o)
		}
		return out
	}
	send(t, q, add("A", 4)...)
	send(t, q, add("B", 3)...)
	send(t, q, add("A", 1)...)
	want := map[string][]string{}
	for _, o := range sent {
		want[o.Group] = append(want[o.Group], string(o.Body))
	}

	got := map[string][]string{}
	record := func(msgs []queue.Message) {
		for _, m := range msgs {
			got[m.Group] = append(got[m.Group], string(m.Body))
		}
		for g, bs := range got {
			if len(bs) > len(want[g]) || !slicesEqual(bs, want[g][:len(bs)]) {
				t.Fatalf("group %s delivered %v, want in the order %v", g, bs, want[g])
			}
		}
	}

	// Both groups get going before anything is deleted.
	var held []queue.Message
	deadline := time.Now().Add(5 * time.Second)
	for len(got["A"]) == 0 || len(got["B"]) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("groups did not both start within 5s: %v", got)
		}
		msgs := receive(t, q, queue.MaxBatch, time.Second, long)
		record(msgs)
		held = append(held, msgs...)
	}
	expectNone(t, q, time.Second, "while every group has a message in flight")
	del(t, q, held...)

	total := len(held)
	deadline = time.Now().Add(5 * time.Second)
	for total < len(sent) {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages within 5s: %v", total, len(sent), got)
		}
		msgs := receive(t, q, queue.MaxBatch, time.Second, long)
		record(msgs)
		total += len(msgs)
		del(t, q, msgs...)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("delivery by group (-want +got):\n%s", d)
	}
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

// testFIFORedelivery checks that a group's undeleted first message comes
// back before the ones after it.
func testFIFORedelivery(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{FIFO: true})
	send(t, q,
		queue.Out{Body: []byte("c1"), Group: "c", DedupID: "1"},
		queue.Out{Body: []byte("c2"), Group: "c", DedupID: "2"})
	first := receiveN(t, q, 1, 5*time.Second, long)
	if string(first[0].Body) != "c1" {
		t.Fatalf("first receive = %q, want c1", first[0].Body)
	}
	if err := q.ChangeVisibility(t.Context(), first[0].Handle, 0); err != nil {
		t.Fatalf("ChangeVisibility: %v", err)
	}
	again := receiveN(t, q, 1, 5*time.Second, long)
	if string(again[0].Body) != "c1" || again[0].ReceiveCount <= first[0].ReceiveCount {
		t.Fatalf("after the timeout got %q count %d, want c1 count over %d", again[0].Body, again[0].ReceiveCount, first[0].ReceiveCount)
	}
	del(t, q, again[0])
	last := receiveN(t, q, 1, 5*time.Second, long)
	if string(last[0].Body) != "c2" {
		t.Fatalf("then got %q, want c2", last[0].Body)
	}
	del(t, q, last[0])
}

func testFIFODedup(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{FIFO: true})
	send(t, q, queue.Out{Body: []byte("x"), Group: "g", DedupID: "d1"})
	send(t, q, queue.Out{Body: []byte("y"), Group: "g", DedupID: "d1"})
	m := receiveN(t, q, 1, 5*time.Second, long)[0]
	if string(m.Body) != "x" {
		t.Fatalf("got %q, want the first message sent with the id", m.Body)
	}
	del(t, q, m)
	// The id is remembered after the message is gone.
	send(t, q, queue.Out{Body: []byte("z"), Group: "g", DedupID: "d1"})
	send(t, q, queue.Out{Body: []byte("w"), Group: "g", DedupID: "d2"})
	m = receiveN(t, q, 1, 5*time.Second, long)[0]
	if string(m.Body) != "w" {
		t.Fatalf("got %q, want w (z repeats a deduplication id)", m.Body)
	}
	del(t, q, m)
	expectNone(t, q, time.Second, "after the duplicates")
}

func testStaleHandle(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{})
	send(t, q, queue.Out{Body: []byte("s")})
	first := receiveN(t, q, 1, 5*time.Second, long)[0]
	if err := q.ChangeVisibility(t.Context(), first.Handle, 0); err != nil {
		t.Fatalf("ChangeVisibility: %v", err)
	}
	second := receiveN(t, q, 1, 5*time.Second, vis)[0]
	if err := q.Delete(t.Context(), first.Handle); err != nil {
		t.Errorf("Delete(stale handle): %v, want no error", err)
	}
	if err := q.Delete(t.Context(), second.Handle); err != nil {
		t.Errorf("Delete(current handle): %v", err)
	}
	if err := q.Delete(t.Context(), second.Handle); err != nil {
		t.Errorf("Delete(handle of a deleted message): %v, want no error", err)
	}
	expectNone(t, q, vis+500*time.Millisecond, "after delete")
}

func testTooLarge(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{})
	if err := q.Send(t.Context(), queue.Out{Body: make([]byte, queue.MaxBodyBytes+1)}); !errors.Is(err, queue.ErrTooLarge) {
		t.Errorf("Send(body over the limit) error = %v, want ErrTooLarge", err)
	}
	limit := []byte(strings.Repeat("b", queue.MaxBodyBytes))
	send(t, q, queue.Out{Body: limit})
	m := receiveN(t, q, 1, 5*time.Second, long)[0]
	if len(m.Body) != len(limit) || string(m.Body) != string(limit) {
		t.Errorf("body at the limit came back with %d bytes, want %d", len(m.Body), len(limit))
	}
	del(t, q, m)
}

func testInvalid(t *testing.T, nq NewQueue) {
	std, _ := nq(t, Options{})
	fifo, _ := nq(t, Options{FIFO: true})
	for _, tc := range []struct {
		name string
		q    queue.Queue
		out  queue.Out
	}{
		{"FIFO without group", fifo, queue.Out{Body: []byte("x"), DedupID: "d"}},
		{"FIFO with delay", fifo, queue.Out{Body: []byte("x"), Group: "g", DedupID: "d", Delay: time.Second}},
		{"delay over MaxDelay", std, queue.Out{Body: []byte("x"), Delay: queue.MaxDelay + time.Second}},
		{"negative delay", std, queue.Out{Body: []byte("x"), Delay: -time.Second}},
	} {
		if err := tc.q.Send(t.Context(), tc.out); !errors.Is(err, queue.ErrInvalid) {
			t.Errorf("%s: Send error = %v, want ErrInvalid", tc.name, err)
		}
	}
	expectNone(t, std, time.Second, "after refused sends")
	expectNone(t, fifo, 0, "after refused sends")
}

// testLongPoll checks that a waiting Receive returns as soon as a message
// arrives, and that it waits out its time when none does.
func testLongPoll(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{})
	start := time.Now()
	expectNone(t, q, time.Second, "on an empty queue")
	if waited := time.Since(start); waited < time.Second-slack {
		t.Errorf("Receive(wait 1s) on an empty queue returned after %v", waited)
	}

	type result struct {
		msgs []queue.Message
		err  error
		at   time.Time
	}
	done := make(chan result, 1)
	go func() {
		msgs, err := q.Receive(t.Context(), 1, 10*time.Second, long)
		done <- result{msgs, err, time.Now()}
	}()
	// Let the receiver start waiting; the message is sent into its wait.
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	send(t, q, queue.Out{Body: []byte("ping")})
	select {
	case r := <-done:
		if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0].Body) != "ping" {
			t.Fatalf("Receive = %v, %v; want ping", bodyList(r.msgs), r.err)
		}
		if lag := r.at.Sub(sent); lag > 4*time.Second {
			t.Errorf("waiting Receive returned %v after the send, want soon after", lag)
		}
		del(t, q, r.msgs...)
	case <-time.After(15 * time.Second):
		t.Fatal("waiting Receive did not return within 15s of a send")
	}
}

func testReceiveCanceled(t *testing.T, nq NewQueue) {
	q, _ := nq(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	msgs, err := q.Receive(ctx, 1, 10*time.Second, long)
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("Receive returned %v after its context ended", waited)
	}
	if !errors.Is(err, context.DeadlineExceeded) || len(msgs) != 0 {
		t.Errorf("Receive = %d messages, %v; want none, context.DeadlineExceeded", len(msgs), err)
	}
}

// testConcurrentReceivers has several receivers drain one queue: each
// message is handed to exactly one of them.
func testConcurrentReceivers(t *testing.T, nq NewQueue) {
	const receivers = 6
	q, _ := nq(t, Options{})
	out := bodies("c", 60)
	send(t, q, out...)
	var mu sync.Mutex
	var got []queue.Message
	var wg sync.WaitGroup
	deadline := time.Now().Add(8 * time.Second)
	for range receivers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n >= len(out) {
					return
				}
				msgs, err := q.Receive(background(), 3, 500*time.Millisecond, long)
				if err != nil {
					t.Errorf("Receive: %v", err)
					return
				}
				if err := q.Delete(background(), handlesOf(msgs)...); err != nil {
					t.Errorf("Delete: %v", err)
					return
				}
				mu.Lock()
				got = append(got, msgs...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if d := cmp.Diff(outBodies(out), sortedBodies(got)); d != "" {
		t.Errorf("received bodies (-sent +received):\n%s", d)
	}
}

func handlesOf(msgs []queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Handle
	}
	return out
}
