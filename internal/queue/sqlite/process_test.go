package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/queue/sqlite"
	storesqlite "github.com/borawf/bora/internal/store/sqlite"
)

// TestReceiveAcrossHandles drains one queue through separate database
// handles on one file, as separate processes would, while another handle
// sends: every message is handed out exactly once, and receivers on other
// handles see sends they were not woken for.
func TestReceiveAcrossHandles(t *testing.T) {
	t.Parallel()
	const handles, messages = 3, 90
	path := filepath.Join(t.TempDir(), "bora.db")
	qs := make([]*sqlite.Queue, handles+1)
	for i := range qs {
		db, err := storesqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		qs[i] = newQueue(t, db, "shared", sqlite.Options{Poll: 20 * time.Millisecond})
	}
	sender, receivers := qs[0], qs[1:]

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	deadline := time.Now().Add(10 * time.Second)
	for _, q := range receivers {
		for range 2 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					mu.Lock()
					n := len(seen)
					mu.Unlock()
					if n >= messages {
						return
					}
					msgs, err := q.Receive(t.Context(), 4, 200*time.Millisecond, time.Minute)
					if err != nil {
						t.Errorf("Receive: %v", err)
						return
					}
					handles := make([]string, len(msgs))
					mu.Lock()
					for i, m := range msgs {
						seen[string(m.Body)]++
						handles[i] = m.Handle
					}
					mu.Unlock()
					if err := q.Delete(t.Context(), handles...); err != nil {
						t.Errorf("Delete: %v", err)
						return
					}
				}
			})
		}
	}
	for i := range messages {
		if err := sender.Send(t.Context(), queue.Out{Body: fmt.Appendf(nil, "m%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(seen) != messages {
		t.Errorf("received %d distinct messages, want %d", len(seen), messages)
	}
	for b, n := range seen {
		if n != 1 {
			t.Errorf("message %s was handed out %d times", b, n)
		}
	}
}
