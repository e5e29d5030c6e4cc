package main

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

// progress prints one line per task execution state change. On a terminal
// the lines carry colour; elsewhere they are plain.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	seen  map[string]record.State // task key → last printed state
	width int
}

func newProgress(w io.Writer, tty bool, start time.Time) *progress {
	return &progress{w: w, tty: tty, start: start, seen: map[string]record.State{}, width: 12}
}

// fit widens the name column for the workflow's task names (and a
// "#n" suffix), so that the lines align from the first one.
func (p *progress) fit(names []string) {
	for _, n := range names {
		p.width = max(p.width, len(n)+3)
	}
}

func (p *progress) header(e *record.Execution) { p.headerOf(e.Workflow, e.ID) }

func (p *progress) headerOf(workflow, id string) {
	fmt.Fprintf(p.w, "%s %s (execution %s)\n", p.bold("running"), workflow, id)
}

// taskLine is what a progress line says of a task execution; note, when
// set, is asked for once the task is final, for what to add (its attempts).
type taskLine struct {
	key   string
	state record.State
	info  string
	note  func() string
}

// tasks prints the task executions whose state changed since the last
// call. units, when set, reads a finished task's units so that the line can
// say how many attempts it took.
func (p *progress) tasks(ts []*record.Task, units func(key string) []*record.Unit) {
	lines := make([]taskLine, len(ts))
	for i, t := range ts {
		lines[i] = taskLine{key: t.Key, state: t.State, info: t.StateInfo}
		if units != nil {
			lines[i].note = func() string { return attempts(units(t.Key)) }
		}
	}
	p.update(lines)
}

// documents is tasks for task executions as the API returns them.
func (p *progress) documents(ts []runtime.TaskDocument) {
	lines := make([]taskLine, len(ts))
	for i, t := range ts {
		lines[i] = taskLine{key: cmp.Or(t.Key, t.Name), state: record.State(t.State), info: t.StateInfo,
			note: func() string { return attemptsOf(t.Attempts, t.Items) }}
	}
	p.update(lines)
}

func (p *progress) update(lines []taskLine) {
	for _, t := range lines {
		if p.seen[t.key] == t.state {
			continue
		}
		p.seen[t.key] = t.state
		p.width = max(p.width, len(t.key))
		line := fmt.Sprintf("%7.2fs  %-*s  %s", time.Since(p.start).Seconds(), p.width, t.key, p.state(string(t.state)))
		if t.state.Terminal() && t.note != nil {
			line += t.note()
		}
		if t.state == record.Error && t.info != "" {
			line += "  " + firstLine(t.info)
		}
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) summary(d *runtime.Document) {
	counts := map[string]int{}
	for _, t := range d.Tasks {
		counts[t.State]++
	}
	var parts []string
	for s, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, s))
	}
	sort.Strings(parts)
	noun := "task executions"
	if len(d.Tasks) == 1 {
		noun = "task execution"
	}
	detail := ""
	if len(parts) > 0 {
		detail = " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(p.w, "%s in %.2fs · %d %s%s\n", p.state(d.State), time.Since(p.start).Seconds(), len(d.Tasks), noun, detail)
	if d.StateInfo != "" {
		fmt.Fprintf(p.w, "state_info: %s\n", d.StateInfo)
	}
	if string(d.Output) != "null" {
		fmt.Fprintf(p.w, "output: %s\n", d.Output)
	}
}

func (p *progress) state(s string) string {
	if !p.tty {
		return s
	}
	code := "33" // yellow: in progress
	switch s {
	case string(record.Success):
		code = "32"
	case string(record.Error), string(record.Cancelled):
		code = "31"
	case string(record.Paused), string(record.Skipped):
		code = "36"
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p *progress) bold(s string) string {
	if !p.tty {
		return s
	}
	return "\x1b[1m" + s + "\x1b[0m"
}

// attempts says how many runs a finished task took when that is more than
// one per item: " (2 attempts)", or " (3 items retried)" for with-items.
func attempts(us []*record.Unit) string {
	retried, total := 0, 0
	for _, u := range us {
		total += u.Attempt
		if u.Attempt > 1 {
			retried++
		}
	}
	switch {
	case retried == 0:
		return ""
	case len(us) == 1:
		return fmt.Sprintf(" (%d attempts)", total)
	default:
		return fmt.Sprintf(" (%d of %d items retried)", retried, len(us))
	}
}

// attemptsOf says how many attempts a task took when the API reports
// more than one per item.
func attemptsOf(n, items int) string {
	switch {
	case n <= max(items, 1):
		return ""
	case items <= 1:
		return fmt.Sprintf(" (%d attempts)", n)
	default:
		return fmt.Sprintf(" (%d attempts over %d items)", n, items)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// cliLogger logs to stderr as text, at the level BORA_LOG names (debug,
// info, warn, error; default error).
func cliLogger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(os.Getenv("BORA_LOG"))); err != nil {
		lvl = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
