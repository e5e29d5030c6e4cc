package sqlite_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/sqlite"
)

// TestClaimRaceAcrossHandles races claims through separate database
// handles on one file, as separate processes would: each handle has its
// own connection, so only SQLite's locking keeps the claim atomic.
func TestClaimRaceAcrossHandles(t *testing.T) {
	t.Parallel()
	const handles, units = 4, 20
	path := filepath.Join(t.TempDir(), "bora.db")
	stores := make([]*sqlite.Store, handles)
	for i := range stores {
		stores[i] = openStore(t, path)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	for i := range units {
		if err := stores[0].CreateTask(t.Context(), plainTask("x", i, at)); err != nil {
			t.Fatal(err)
		}
	}
	wins := make([][]int, units) // the handles that won each unit
	var mu sync.Mutex
	var wg sync.WaitGroup
	for h, s := range stores {
		for range 2 {
			wg.Go(func() {
				for i := range units {
					k := record.UnitKey{ExecID: "x", Task: fmt.Sprintf("t#%d", i)}
					_, err := s.UpdateUnit(t.Context(), k,
						record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "f"},
						record.UnitChange{State: record.Running, Started: at, Due: at.Add(time.Minute)})
					switch {
					case err == nil:
						mu.Lock()
						wins[i] = append(wins[i], h)
						mu.Unlock()
					case !errors.Is(err, store.ErrConflict):
						t.Errorf("claim %d through handle %d: %v", i, h, err)
					}
				}
			})
		}
	}
	wg.Wait()
	for i, w := range wins {
		if len(w) != 1 {
			t.Errorf("unit %d was claimed %d times (by handles %v), want once", i, len(w), w)
		}
	}
}

// plainTask returns task t#<i> of execution ex with its unit, scheduled.
func plainTask(ex string, i int, at time.Time) *record.Task {
	key := fmt.Sprintf("t#%d", i)
	return &record.Task{ExecID: ex, Key: key, Name: "t", Seq: i, State: record.Running, Items: 1, CreatedAt: at,
		Unit: &record.Unit{UnitKey: record.UnitKey{ExecID: ex, Task: key}, State: record.Scheduled, Attempt: 1,
			Fence: "f", Action: "std.noop", Input: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}}
}
