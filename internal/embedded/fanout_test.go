package embedded_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	ssqlite "github.com/borawf/bora/internal/store/sqlite"
)

// withItemsConc returns a workflow of one task over n items, at most conc
// at once (0: no limit).
func withItemsConc(n, conc int) string {
	c := ""
	if conc > 0 {
		c = fmt.Sprintf("      concurrency: %d\n", conc)
	}
	return fmt.Sprintf("version: '2.0'\nitems:\n  tasks:\n    each:\n      with-items: x in <%% range(%d) %%>\n%s      action: std.echo output=<%% $.x %%>\n", n, c)
}

// counted counts the messages sent through a queue.
type counted struct {
	queue.Queue
	sent atomic.Int64
}

func (c *counted) Send(ctx context.Context, msgs ...queue.Out) error {
	err := c.Queue.Send(ctx, msgs...)
	if err == nil {
		c.sent.Add(int64(len(msgs)))
	}
	return err
}

// peak samples the Go heap in use until stopped and reports the most seen.
func peak() (stop func() uint64) {
	var (
		mu   sync.Mutex
		most uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		mu.Lock()
		most = max(most, ms.HeapInuse+ms.StackInuse)
		mu.Unlock()
	}
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return most
	}
}

// BenchmarkFanOut runs one with-items task of n items on the embedded
// engine (SQLite store and queues in one file, 8 workers), without a
// concurrency limit and at concurrency 100, and reports the time per item
// (µs/item: flat from 1,000 to 50,000 items when a fan-out is linear), the
// most Go heap in use during the run (peak-MB, sampled every 20 ms), and
// the task messages sent per unit: one, plus the reconciler's genuine
// re-sends (resent), which a queue still holding the messages must not
// cause. The 50,000-item row runs with -fanout50k (about half a minute).
func BenchmarkFanOut(b *testing.B) {
	type size struct{ n, conc int }
	sizes := []size{{1000, 0}, {10000, 0}, {1000, 100}, {10000, 100}}
	if os.Getenv("BORA_BENCH_FANOUT_50K") == "1" {
		sizes = append(sizes, size{50000, 0})
	}
	for _, sz := range sizes {
		b.Run(fmt.Sprintf("items-%d-conc-%d", sz.n, sz.conc), func(b *testing.B) {
			var sent, units, resent int64
			var most uint64
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				db, err := ssqlite.Open(filepath.Join(b.TempDir(), "bora.db"))
				if err != nil {
					b.Fatal(err)
				}
				o := embedded.Options{Workers: 8}
				parts, err := embedded.SQLiteParts(db, o)
				if err != nil {
					b.Fatal(err)
				}
				tasks := &counted{Queue: parts.Tasks}
				parts.Tasks = tasks
				bora, err := embedded.New(parts, o)
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				stopRun := bora.Start(ctx)
				goruntime.GC()
				stopPeak := peak()
				b.StartTimer()
				start := time.Now()
				head, err := bora.Runtime.Submit(ctx, runtime.Submission{File: "fanout.yaml", Source: []byte(withItemsConc(sz.n, sz.conc))})
				if err != nil {
					b.Fatal(err)
				}
				e, err := bora.Wait(ctx, head.ID, 20*time.Millisecond)
				if err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				b.StopTimer()
				most = max(most, stopPeak())
				if e.State != record.ExecSuccess {
					b.Fatalf("execution ended %s: %s", e.State, e.StateInfo)
				}
				stopRun()
				sent += tasks.sent.Load()
				units += int64(sz.n)
				resent += int64(bora.Reconciled().Resent)
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(elapsed.Microseconds())/float64(sz.n*b.N), "µs/item")
			b.ReportMetric(float64(most)/(1<<20), "peak-MB")
			b.ReportMetric(float64(sent)/float64(units), "msgs/unit")
			b.ReportMetric(float64(resent), "resent")
			b.Logf("%d items, concurrency %d: %d task messages for %d units, %d re-sent by the reconciler; peak heap %.1f MB; %s",
				sz.n, sz.conc, sent, units, resent, float64(most)/(1<<20), vmHWM())
		})
	}
}

// vmHWM is the process's peak resident memory, as Linux reports it.
func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "peak RSS unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(v)
			if kb, err := strconv.Atoi(f[0]); err == nil {
				return fmt.Sprintf("process peak RSS %.0f MB", float64(kb)/1024)
			}
		}
	}
	return "peak RSS unknown"
}
