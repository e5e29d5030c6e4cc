package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store/memory"
)

// BenchmarkHandle measures one task message end to end (claim, run
// std.echo, record, notify) on the in-memory store: the worker's own cost
// per task, without a database.
func BenchmarkHandle(b *testing.B) {
	st := memory.New()
	w := &Worker{Store: st, Events: &fakeQueue{}, Actions: action.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	msgs := make([]record.TaskMessage, b.N)
	for i := range b.N {
		u := &record.Unit{
			UnitKey: record.UnitKey{ExecID: "bench", Task: fmt.Sprintf("t#%d", i)},
			State:   record.Scheduled, Attempt: 1, Fence: "f", Action: "std.echo",
			Input: json.RawMessage(`{"output": {"n": 1, "s": "hello"}}`),
		}
		tk := &record.Task{ExecID: "bench", Key: u.Task, Name: "t", Seq: i, State: record.Running, Items: 1, UnitEnds: true, Unit: u}
		if err := st.CreateTask(ctx, tk); err != nil {
			b.Fatal(err)
		}
		msgs[i] = record.TaskMessage{ExecID: "bench", Task: u.Task, Attempt: 1, Fence: "f", Action: "std.echo"}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := w.Handle(ctx, msgs[i], nil); err != nil {
			b.Fatal(err)
		}
	}
}
