package sqlite_test

import (
	"testing"
	"time"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/queue/sqlite"
)

// BenchmarkSendReceiveDelete measures one message's round trip through a
// queue: send, receive, delete.
func BenchmarkSendReceiveDelete(b *testing.B) {
	for _, bc := range []struct {
		name  string
		fifo  bool
		batch int
	}{
		{"Standard", false, 1},
		{"Standard/Batch10", false, 10},
		{"FIFO", true, 1},
		{"FIFO/Batch10", true, 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := newQueue(b, openDB(b), "bench", sqlite.Options{FIFO: bc.fifo})
			ctx := b.Context()
			body := []byte(`{"execution_id":"e","task":"t#1","item":0,"attempt":1,"fence":"f","action":"std.noop"}`)
			out := make([]queue.Out, bc.batch)
			handles := make([]string, 0, bc.batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += bc.batch {
				for j := range out {
					out[j] = queue.Out{Body: body}
					if bc.fifo {
						out[j].Group, out[j].DedupID = "g"+string(rune('a'+j)), "d"+time.Now().String()+string(rune('a'+j))
					}
				}
				if err := q.Send(ctx, out...); err != nil {
					b.Fatal(err)
				}
				msgs, err := q.Receive(ctx, bc.batch, 0, time.Minute)
				if err != nil || len(msgs) != bc.batch {
					b.Fatalf("Receive = %d messages, %v", len(msgs), err)
				}
				handles = handles[:0]
				for _, m := range msgs {
					handles = append(handles, m.Handle)
				}
				if err := q.Delete(ctx, handles...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
