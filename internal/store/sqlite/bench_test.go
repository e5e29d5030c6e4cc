package sqlite_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
)

// BenchmarkClaim measures a worker's claim of a plain task's unit: one
// fenced UpdateUnit of the task's row that returns the unit as written.
func BenchmarkClaim(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "bora.db"))
	ctx := b.Context()
	input := json.RawMessage(`{"url":"https://example.com","method":"GET","headers":{"a":"b"}}`)
	for i := range b.N {
		tk := plainTask("bench", i, time.Now())
		tk.Unit.Input, tk.Unit.Action = input, "std.http"
		if err := s.CreateTask(ctx, tk); err != nil {
			b.Fatal(err)
		}
	}
	x := record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "f"}
	now := time.Now()
	c := record.UnitChange{State: record.Running, Started: now, Due: now.Add(time.Minute)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := record.UnitKey{ExecID: "bench", Task: fmt.Sprintf("t#%d", i)}
		if _, err := s.UpdateUnit(ctx, k, x, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitExecution measures the engine's commit point: a
// conditional replace of the execution head.
func BenchmarkCommitExecution(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "bora.db"))
	ctx := b.Context()
	now := time.Now()
	e := &record.Execution{ID: "bench", Workflow: "wf", DefName: "wf", DefVer: 1, State: record.ExecRunning,
		Input: json.RawMessage(`{"n":1}`), Engine: json.RawMessage(`{"active":{"a#1":1},"applied":["e1","e2"]}`),
		CreatedAt: now, UpdatedAt: now}
	if err := s.CreateExecution(ctx, e); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e.Version++
		if err := s.CommitExecution(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}
