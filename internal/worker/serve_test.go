package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/queue"
	qmemory "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/record"
)

func TestDecodeMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    record.TaskMessage
		wantErr string
	}{
		{name: "valid", body: `{"execution_id":"e","task":"t#1","item":2,"attempt":1,"fence":"f","action":"std.noop"}`,
			want: record.TaskMessage{ExecID: "e", Task: "t#1", Item: 2, Attempt: 1, Fence: "f", Action: "std.noop"}},
		{name: "not json", body: `nope`, wantErr: "decode task message: invalid character"},
		{name: "empty object", body: `{}`, wantErr: "no execution_id\nno task\nno fence\nattempt 0, want 1 or more"},
		{name: "negative item", body: `{"execution_id":"e","task":"t#1","item":-1,"attempt":1}`, wantErr: "item -1, want 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeMessage([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeMessage error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeMessage: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeMessage (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServe runs the embedded worker loop over a queue holding task
// messages, a duplicate and a malformed message.
func TestServe(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.w.Lease = 2 * time.Second
	tasks := qmemory.New(qmemory.Options{})
	ctx := context.Background()

	const n = 12
	var msgs []record.TaskMessage
	for i := range n {
		m := f.unit(t, "std.echo", fmt.Sprintf(`{"output": %d}`, i), func(u *record.Unit) { u.Item = i })
		m.Item = i
		msgs = append(msgs, m)
	}
	var outs []queue.Out
	for _, m := range append(msgs, msgs[0]) { // and a duplicate
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, queue.Out{Body: b})
	}
	outs = append(outs, queue.Out{Body: []byte(`{"garbage": true}`)})
	if err := tasks.Send(ctx, outs...); err != nil {
		t.Fatal(err)
	}

	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- f.w.Serve(sctx, tasks, 3) }()

	// Every unit ends, and only the malformed message stays on the queue.
	deadline := time.Now().Add(10 * time.Second)
	for {
		done := 0
		for _, m := range msgs {
			if f.get(t, m).State == record.Success {
				done++
			}
		}
		if done == n && tasks.Len() == 1 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("after 10s: %d of %d units done, %d messages left", done, n, tasks.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want context.Canceled", err)
	}
	for i, m := range msgs {
		if got, want := string(f.get(t, m).Result), fmt.Sprint(i); got != want {
			t.Errorf("unit %d result = %s, want %s", i, got, want)
		}
	}
	seen := map[string]bool{}
	for _, ev := range f.q.events(t) {
		seen[ev.ID] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct attempt-done events, want %d", len(seen), n)
	}
	if !strings.Contains(f.logs.String(), "malformed task message") {
		t.Error("the malformed message was not logged")
	}
}

func TestServeValidates(t *testing.T) {
	t.Parallel()
	w := &Worker{}
	if err := w.Serve(context.Background(), qmemory.New(qmemory.Options{}), 1); err == nil {
		t.Fatal("Serve of an incomplete worker = nil, want the validation error")
	}
}
