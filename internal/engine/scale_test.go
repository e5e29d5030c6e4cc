package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/borawf/bora/internal/record"
)

// chain is a linear workflow of n tasks, each publishing a value.
func chain(n int) string {
	var b strings.Builder
	b.WriteString("version: '2.0'\nwf:\n  output: {last: <% $.v %>}\n  tasks:\n")
	for i := range n {
		fmt.Fprintf(&b, "    t%d:\n      action: std.echo output=%d\n      publish: {v: <%% task().result %%>}\n", i, i)
		if i+1 < n {
			fmt.Fprintf(&b, "      on-success: t%d\n", i+1)
		}
	}
	return b.String()
}

// loop is a workflow whose one task runs n times.
func loop(n int) string {
	return fmt.Sprintf(`
version: '2.0'
wf:
  tasks:
    init: {action: std.noop, publish: {i: 0}, on-success: step}
    step:
      action: std.echo output=<%% $.i %%>
      publish: {i: <%% $.i + 1 %%>}
      on-success:
        - step: <%% $.i < %d %%>
`, n)
}

// stats runs a workflow and measures the head and the reads of each step.
type stats struct {
	maxHead, maxOutbox, maxReads, steps int
	// writes counts the Before writes of every step but the first.
	writes, maxWrites int
}

func measure(t testing.TB, src string, input string) (*world, string, stats) {
	t.Helper()
	w := newWorld(t, src)
	var st stats
	w.onStep = func(w *world, ev record.Event, out Output) {
		st.steps++
		st.maxHead = max(st.maxHead, len(out.Exec.Engine))
		b, _ := json.Marshal(out.After)
		st.maxOutbox = max(st.maxOutbox, len(b))
		if ev.Kind != record.EventStart {
			st.writes += len(out.Before)
			st.maxWrites = max(st.maxWrites, len(out.Before))
		}
	}
	id := w.start("", input)
	for {
		// Deliver events one by one to measure the reads of each step.
		if len(w.events) > 0 {
			ev := w.events[0]
			w.events = w.events[1:]
			before := w.reads
			w.deliver(ev)
			st.maxReads = max(st.maxReads, w.reads-before)
			continue
		}
		if len(w.taskq) > 0 {
			m := w.taskq[0]
			w.taskq = w.taskq[1:]
			w.work(m)
			continue
		}
		break
	}
	if s := w.execs[id].State; s != record.ExecSuccess {
		t.Fatalf("state %s: %s", s, w.execs[id].StateInfo)
	}
	return w, id, st
}

// TestHeadStaysSmall shows that the head (once its memory of the last 16
// events is full), the outbox and the reads of a step do not grow with the
// number of tasks run, beyond the digits of counters.
func TestHeadStaysSmall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		small string
		large string
		// slack is the growth allowed from small to large, in bytes.
		slack int
	}{
		// The tasks that ran are a low mark and a bitmap above it: a
		// chain's head grows by the digits of its counters only.
		{name: "linear chain of 20 and scaleN tasks", small: chain(20), large: chain(scaleN), slack: 16},
		{name: "loop of 20 and scaleN iterations", small: loop(20), large: loop(scaleN), slack: 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, s := measure(t, tc.small, "")
			_, _, l := measure(t, tc.large, "")
			t.Logf("head bytes %d → %d, outbox bytes %d → %d, reads per step %d → %d (%d → %d steps)",
				s.maxHead, l.maxHead, s.maxOutbox, l.maxOutbox, s.maxReads, l.maxReads, s.steps, l.steps)
			if l.maxHead > s.maxHead+tc.slack {
				t.Errorf("head grew from %d to %d bytes", s.maxHead, l.maxHead)
			}
			if l.maxOutbox > s.maxOutbox+8 {
				t.Errorf("outbox grew from %d to %d bytes", s.maxOutbox, l.maxOutbox)
			}
			if l.maxReads > s.maxReads {
				t.Errorf("reads per step grew from %d to %d", s.maxReads, l.maxReads)
			}
		})
	}
}

// TestWritesPerTask counts the writes a step makes besides its commit. A
// plain task is one record written once by the engine (created with its
// unit); a task whose end is its unit's needs no finishing write, while
// one that publishes does; a with-items item ending writes nothing but
// the commit (the task's results are written once, when it finishes).
func TestWritesPerTask(t *testing.T) {
	t.Parallel()
	plain := strings.ReplaceAll(chain(50), "      publish: {v: <% task().result %>}\n", "")
	plain = strings.ReplaceAll(plain, "  output: {last: <% $.v %>}\n", "")
	items := "version: '2.0'\nwf:\n  tasks:\n    t:\n      with-items: x in <% range(0, 50) %>\n      action: std.echo output=<% $.x %>\n"
	for _, tc := range []struct {
		name             string
		src              string
		writes, maxWrite int // after the start step
	}{
		{"chain of 50, nothing published", plain, 49, 1},
		{"chain of 50, each publishing", chain(50), 49 + 50, 2},
		{"with-items of 50, finished once", items, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, st := measure(t, tc.src, "")
			if st.writes != tc.writes || st.maxWrites != tc.maxWrite {
				t.Errorf("%d writes besides the commits, at most %d a step; want %d, %d", st.writes, st.maxWrites, tc.writes, tc.maxWrite)
			}
		})
	}
}

// TestWithItemsThousand shows that a with-items task of 1,000 items
// (scaleN) keeps the head and its outbox as small as one of 40 items (once
// the head's memory of the last 16 events is full), beyond the digits of
// counters: items are counted with a low mark and a bitmap of those in
// flight, and their messages are one range.
func TestWithItemsThousand(t *testing.T) {
	t.Parallel()
	src := func(n, conc int) string {
		c := ""
		if conc > 0 {
			c = fmt.Sprintf("      concurrency: %d\n", conc)
		}
		return `
version: '2.0'
wf:
  output: {n: <% $.r.len() %>, sum: <% $.r.sum() %>}
  tasks:
    t:
      with-items: x in <% range(0, ` + fmt.Sprint(n) + `) %>
` + c + `      action: std.echo output=<% $.x %>
      publish: {r: <% task().result %>}
`
	}
	for _, conc := range []int{0, 10} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			t.Parallel()
			_, _, small := measure(t, src(40, conc), "")
			w, id, st := measure(t, src(scaleN, conc), "")
			t.Logf("head ≤ %d bytes (40 items: %d), outbox ≤ %d bytes, reads per step ≤ %d over %d steps",
				st.maxHead, small.maxHead, st.maxOutbox, st.maxReads, st.steps)
			if st.maxHead > small.maxHead+16 {
				t.Errorf("head reached %d bytes, against %d with 40 items", st.maxHead, small.maxHead)
			}
			if st.maxOutbox > 600 {
				t.Errorf("outbox reached %d bytes", st.maxOutbox)
			}
			if got, want := fmt.Sprint(w.output(id)), fmt.Sprintf("map[n:%d sum:%d]", scaleN, scaleN*(scaleN-1)/2); got != want {
				t.Errorf("output %s", got)
			}
		})
	}
}

// BenchmarkStep measures one transition: a task of a linear workflow
// finishing (and the next one starting), and a with-items item finishing.
func BenchmarkStep(b *testing.B) {
	b.Run("linear transition", func(b *testing.B) {
		w := newWorld(b, chain(3))
		w.hold = true
		id := w.start("", "")
		w.drain()
		w.work(w.takeTask("t0#1"))
		ev := w.events[0]
		in := w.input(ev)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			out, err := Step(in)
			if err != nil || out.Exec == nil {
				b.Fatal(err, id)
			}
		}
	})
	b.Run("with-items item", func(b *testing.B) {
		w := newWorld(b, `
version: '2.0'
wf:
  tasks:
    t:
      with-items: x in <% range(0, 1000) %>
      concurrency: 50
      action: std.echo output=<% $.x %>
`)
		w.hold = true
		w.start("", "")
		w.drain()
		w.work(w.takeTask("t#1"))
		in := w.input(w.events[0])
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			out, err := Step(in)
			if err != nil || out.Exec == nil {
				b.Fatal(err)
			}
		}
	})
}
