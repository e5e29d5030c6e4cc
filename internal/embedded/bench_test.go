package embedded_test

import (
	"context"
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

// linear returns a workflow of n tasks in a chain.
func linear(n int) string {
	var b strings.Builder
	b.WriteString("version: '2.0'\nlinear:\n  tasks:\n")
	for i := range n {
		fmt.Fprintf(&b, "    t%d:\n      action: std.echo output=%d\n", i, i)
		if i+1 < n {
			fmt.Fprintf(&b, "      on-success: t%d\n", i+1)
		}
	}
	return b.String()
}

// withItems returns a workflow of one task over n items.
func withItems(n int) string {
	return fmt.Sprintf(`version: '2.0'
items:
  tasks:
    each:
      with-items: x in <%% range(%d) %%>
      action: std.echo output=<%% $.x %%>
`, n)
}

// BenchmarkEmbedded runs whole executions on the embedded engine (SQLite
// store and queues in one file, 8 workers) and reports tasks per second,
// the process's CPU time per task (user and system: the figure that holds
// when other work shares the machine) and heap allocations per task.
func BenchmarkEmbedded(b *testing.B) {
	for _, bc := range []struct {
		name  string
		yaml  string
		tasks int
	}{
		{"linear-200", linear(200), 200},
		{"with-items-200", withItems(200), 200},
		{"linear-1000", linear(1000), 1000},
		{"with-items-1000", withItems(1000), 1000},
		// The peers' shape (test/bench/temporal, scripts/bench-peer).
		{"with-items-1000-conc-50", withItemsConc(1000, 50), 1000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bora, err := embedded.Open(embedded.Options{Path: filepath.Join(b.TempDir(), "bora.db"), Workers: 8})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			stop := bora.Start(ctx)
			defer func() { stop(); bora.Close() }()

			var ms0, ms1 goruntime.MemStats
			goruntime.GC()
			goruntime.ReadMemStats(&ms0)
			cpu0 := cpuTime()
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				head, err := bora.Runtime.Submit(ctx, runtime.Submission{File: bc.name + ".yaml", Source: []byte(bc.yaml)})
				if err != nil {
					b.Fatal(err)
				}
				wctx, wcancel := context.WithTimeout(ctx, 10*time.Minute)
				e, err := bora.Wait(wctx, head.ID, 50*time.Millisecond)
				wcancel()
				if err != nil {
					b.Fatal(err)
				}
				if e.State != record.ExecSuccess {
					b.Fatalf("execution ended %s: %s", e.State, e.StateInfo)
				}
			}
			b.StopTimer()
			elapsed := time.Since(start)
			cpu := cpuTime() - cpu0
			goruntime.ReadMemStats(&ms1)
			total := float64(bc.tasks * b.N)
			b.ReportMetric(total/elapsed.Seconds(), "tasks/s")
			b.ReportMetric(float64(cpu.Microseconds())/total, "cpu-µs/task")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/task")
			b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/total, "B/task")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
