package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/sqlitetx"
	storesqlite "github.com/borawf/bora/internal/store/sqlite"
)

// waiting waits until n receivers wait on q.
func waiting(t *testing.T, q *Queue, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.wake.mu.Lock()
		got := len(q.wake.waiters)
		q.wake.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d receivers waiting, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHandOff: a message sent while a receiver waits is handed to it, as
// received by it (first receive, hidden), once the send commits; a send
// whose transaction rolls back hands nothing and the receiver waits on.
func TestHandOff(t *testing.T) {
	t.Parallel()
	for _, fifo := range []bool{false, true} {
		db, err := storesqlite.Open(filepath.Join(t.TempDir(), "q.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		q, err := New(db, "q", Options{FIFO: fifo, Poll: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		got := make(chan []queue.Message, 1)
		go func() {
			msgs, _ := q.Receive(ctx, 1, 30*time.Second, time.Minute)
			got <- msgs
		}()
		waiting(t, q, 1)

		out := queue.Out{Body: []byte("rolled back"), Group: "g", DedupID: "d0"}
		if !fifo {
			out.Group = ""
		}
		boom := errors.New("boom")
		if err := sqlitetx.Run(ctx, db, func(ctx context.Context) error {
			if err := q.Send(ctx, out); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("send in a transaction that fails: %v", err)
		}
		waiting(t, q, 1) // released, it looked, found nothing, waits again

		out.Body, out.DedupID = []byte("hello"), "d1"
		if err := q.Send(ctx, out); err != nil {
			t.Fatal(err)
		}
		var msgs []queue.Message
		select {
		case msgs = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("the waiting receiver got nothing")
		}
		if len(msgs) != 1 || string(msgs[0].Body) != "hello" || msgs[0].ReceiveCount != 1 {
			t.Fatalf("fifo %v: received %+v, want the message, received once", fifo, msgs)
		}
		// It is in flight: nobody else receives it; its handle deletes it.
		if again, err := q.Receive(ctx, 1, 0, time.Minute); err != nil || len(again) != 0 {
			t.Errorf("fifo %v: a second receive got %d messages, %v", fifo, len(again), err)
		}
		if err := q.Delete(ctx, msgs[0].Handle); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM queue_messages WHERE queue = 'q'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("fifo %v: %d messages left, %v", fifo, n, err)
		}
	}
}
