package bench

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
	ssqlite "github.com/borawf/bora/internal/store/sqlite"
)

// clockedStore notes when each unit's outcome was recorded and when each
// unit was claimed (when the store call returned).
type clockedStore struct {
	store.Store
	mu        sync.Mutex
	claimed   map[string]time.Time // by task key
	outcomeAt map[string]time.Time
}

func (s *clockedStore) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	u, err := s.Store.UpdateUnit(ctx, k, x, c)
	if err == nil {
		now := time.Now()
		s.mu.Lock()
		switch {
		case c.State == record.Running && !c.Started.IsZero():
			s.claimed[k.Task] = now
		case c.State == record.Success || c.State == record.Error:
			s.outcomeAt[k.Task] = now
		}
		s.mu.Unlock()
	}
	return u, err
}

// BenchmarkLatency runs a chain of 1,001 tasks on the embedded engine and
// reports the median and 99th percentile, over its 1,000 transitions, of
// the time from one task's outcome being recorded (the worker's write
// returned) to the next task being claimed (the next worker's claim
// returned): the engine's step and both hops through the queues.
func BenchmarkLatency(b *testing.B) {
	const n = 1001
	var all []time.Duration
	for range b.N {
		db, err := ssqlite.Open(filepath.Join(b.TempDir(), "bora.db"))
		if err != nil {
			b.Fatal(err)
		}
		o := embedded.Options{Workers: 8}
		p, err := embedded.SQLiteParts(db, o)
		if err != nil {
			b.Fatal(err)
		}
		quiet := p.Store
		cs := &clockedStore{Store: p.Store, claimed: map[string]time.Time{}, outcomeAt: map[string]time.Time{}}
		p.Store = cs
		bora, err := embedded.New(p, o)
		if err != nil {
			b.Fatal(err)
		}
		stop := bora.Start(context.Background())
		run(b, bora, quiet, newMeter(nil), "chain", chain(n))
		stop()
		db.Close()
		for i := 1; i < n; i++ {
			prev, next := taskKey(i-1), taskKey(i)
			done, ok1 := cs.outcomeAt[prev]
			claim, ok2 := cs.claimed[next]
			if !ok1 || !ok2 {
				b.Fatalf("no times for %s → %s", prev, next)
			}
			all = append(all, claim.Sub(done))
		}
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(pct(0.5), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

func taskKey(i int) string { return "t" + strconv.Itoa(i) + "#1" }
