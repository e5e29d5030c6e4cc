package embedded_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/queue"
	qsqlite "github.com/borawf/bora/internal/queue/sqlite"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	ssqlite "github.com/borawf/bora/internal/store/sqlite"
)

// poisonReceives is the redrive limit of the poison tests: small, so that
// an event uses up its deliveries within seconds, and above one, so that
// only the last delivery fails the execution.
const poisonReceives = 2

// deadLettered wires an embedded Bora over SQLite queues whose dead-letter
// queues the test keeps, and returns it with the engine queue's.
func deadLettered(t *testing.T) (*embedded.Bora, queue.Queue) {
	t.Helper()
	return deadLetteredParts(t, false)
}

// deadLetteredParts is deadLettered; with sweep, the Bora also handles the
// engine's dead letters (Parts.EventsDLQ).
func deadLetteredParts(t *testing.T, sweep bool) (*embedded.Bora, queue.Queue) {
	t.Helper()
	db, err := ssqlite.Open(filepath.Join(t.TempDir(), "bora.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := ssqlite.New(db)
	if err != nil {
		t.Fatal(err)
	}
	dlqs := map[string]queue.Queue{}
	mk := func(name string, fifo bool) queue.Queue {
		t.Helper()
		dlq, err := qsqlite.New(db, name+"-dlq", qsqlite.Options{FIFO: fifo})
		if err != nil {
			t.Fatal(err)
		}
		dlqs[name] = dlq
		q, err := qsqlite.New(db, name, qsqlite.Options{FIFO: fifo, MaxReceives: poisonReceives, DeadLetter: name + "-dlq"})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	p := embedded.Parts{Store: st, Events: mk("engine", true), Tasks: mk("tasks", false), Timers: mk("timers", false)}
	if sweep {
		p.EventsDLQ = dlqs["engine"]
	}
	b, err := embedded.New(p, embedded.Options{MaxReceives: poisonReceives, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return b, dlqs["engine"]
}

// takeAll receives the messages of a dead-letter queue until it has want
// of them or the deadline passes, and deletes them.
func takeAll(t *testing.T, q queue.Queue, want int, timeout time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var bodies []string
	for len(bodies) < want && ctx.Err() == nil {
		msgs, err := q.Receive(ctx, queue.MaxBatch, 100*time.Millisecond, time.Minute)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatalf("receive dead letters: %v", err)
		}
		for _, m := range msgs {
			bodies = append(bodies, string(m.Body))
			if err := q.Delete(ctx, m.Handle); err != nil {
				t.Fatalf("delete dead letter: %v", err)
			}
		}
	}
	return bodies
}

// TestPoisonedEvent: an engine event that fails on every delivery goes to
// the engine's dead-letter queue and its execution ends ERROR with a
// state_info that names the event, while an execution submitted at the
// same time runs to SUCCESS without waiting for it.
func TestPoisonedEvent(t *testing.T) {
	t.Parallel()
	src := []byte(linear(3))
	tests := []struct {
		name string
		// poison puts the bad message in place and returns its body and
		// the execution it belongs to ("" for none).
		poison func(t *testing.T, ctx context.Context, b *embedded.Bora) (body []byte, exec string)
		// wantInfo are what the execution's state_info must say.
		wantInfo []string
	}{
		{
			name: "the head's definition version does not exist",
			poison: func(t *testing.T, ctx context.Context, b *embedded.Bora) ([]byte, string) {
				return startHead(t, ctx, b, src, "linear", "poison", 7)
			},
			wantInfo: []string{"definition poison v7", "not found"},
		},
		{
			name: "the head's workflow is not in its definition",
			poison: func(t *testing.T, ctx context.Context, b *embedded.Bora) ([]byte, string) {
				ver, err := b.Store.PutDefinition(ctx, "poison", src)
				if err != nil {
					t.Fatal(err)
				}
				return startHead(t, ctx, b, src, "gone", "poison", ver)
			},
			wantInfo: []string{`workflow "gone" is not in definition poison`},
		},
		{
			name: "the message is not an event",
			poison: func(t *testing.T, ctx context.Context, b *embedded.Bora) ([]byte, string) {
				return []byte("not an event"), ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, dlq := deadLettered(t)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()

			body, bad := tt.poison(t, ctx, b)
			if bad == "" {
				if err := b.Runtime.Events.Send(ctx, queue.Out{Body: body, Group: "garbage", DedupID: "garbage"}); err != nil {
					t.Fatal(err)
				}
			}
			good, err := b.Runtime.Submit(ctx, runtime.Submission{File: "linear.yaml", Source: src})
			if err != nil {
				t.Fatal(err)
			}
			stop := b.Start(ctx)
			defer stop()

			g, err := b.Wait(ctx, good.ID, 0)
			if err != nil {
				t.Fatalf("wait for the good execution: %v", err)
			}
			if g.State != record.ExecSuccess {
				t.Fatalf("the good execution ended %s (%s), want SUCCESS", g.State, g.StateInfo)
			}

			letters := takeAll(t, dlq, 1, 20*time.Second)
			if diff := cmp.Diff([]string{string(body)}, letters); diff != "" {
				t.Errorf("engine dead letters (-want +got):\n%s", diff)
			}
			if bad == "" {
				return
			}
			// The last delivery fails the execution before the queue
			// dead-letters the event.
			e, err := b.Store.GetExecution(ctx, bad)
			if err != nil {
				t.Fatal(err)
			}
			if e.State != record.ExecError {
				t.Fatalf("the unrunnable execution is %s (%s) once its event is dead-lettered, want ERROR", e.State, e.StateInfo)
			}
			var ev record.Event
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatal(err)
			}
			want := append([]string{
				"engine event " + ev.ID + " ",
				fmt.Sprintf("failed on %d deliveries", poisonReceives),
				"dead-lettered",
			}, tt.wantInfo...)
			for _, w := range want {
				if !strings.Contains(e.StateInfo, w) {
					t.Errorf("state_info %q does not say %q", e.StateInfo, w)
				}
			}
			if !g.UpdatedAt.Before(e.UpdatedAt) {
				t.Errorf("the good execution finished at %s, not before the unrunnable one failed at %s: it waited for the bad event",
					g.UpdatedAt.Format(time.RFC3339Nano), e.UpdatedAt.Format(time.RFC3339Nano))
			}
			tasks, err := b.Store.ListTasks(ctx, bad)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			if len(tasks) != 0 {
				t.Errorf("the unrunnable execution has %d tasks, want none", len(tasks))
			}
		})
	}
}

// startHead creates the head of an execution of workflow (compiled from
// src, but recorded under defName version ver) straight in the store and
// sends its start event. It returns the event's body and the execution id.
func startHead(t *testing.T, ctx context.Context, b *embedded.Bora, src []byte, workflow, defName string, ver int) ([]byte, string) {
	t.Helper()
	bundle, diags := dsl.Load("linear.yaml", src)
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	head, err := engine.NewExecution(bundle.Workflows["linear"], engine.NewParams{ID: runtime.NewID(), DefName: defName, DefVer: ver, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	head.Workflow = workflow
	if err := b.Store.CreateExecution(ctx, head); err != nil {
		t.Fatal(err)
	}
	ev := engine.StartEvent(head.ID)
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Runtime.Events.Send(ctx, queue.Out{Body: body, Group: head.ID, DedupID: ev.ID}); err != nil {
		t.Fatal(err)
	}
	return body, head.ID
}

// TestCrashLoopEndsInError: an engine event on which the process applying
// it dies every time (it is received and never answered, so no handler
// can record why) is dead-lettered after the redrive limit, and then fails
// its execution with a state_info that says so, while another execution
// runs to SUCCESS.
func TestCrashLoopEndsInError(t *testing.T) {
	t.Parallel()
	b, _ := deadLetteredParts(t, true)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	src := []byte(linear(2))
	// Its first task starts a sub-workflow, so the start is left to the
	// engine: the start event is the one that kills every delivery.
	bad, err := b.Runtime.Submit(ctx, runtime.Submission{File: "nested.yaml", Workflow: "outer", Source: []byte(`version: '2.0'
outer:
  tasks:
    sub:
      workflow: leaf
leaf:
  tasks:
    a:
      action: std.noop
`)})
	if err != nil {
		t.Fatal(err)
	}
	// Each delivery "kills the process": received, never deleted, back
	// at once (a restarted process's receive).
	for i := 1; i <= poisonReceives; i++ {
		msgs, err := b.Runtime.Events.Receive(ctx, 1, time.Second, time.Minute)
		if err != nil || len(msgs) != 1 || msgs[0].ReceiveCount != i {
			t.Fatalf("delivery %d: %v, %v", i, msgs, err)
		}
		if err := b.Runtime.Events.ChangeVisibility(ctx, msgs[0].Handle, 0); err != nil {
			t.Fatal(err)
		}
	}
	good, err := b.Runtime.Submit(ctx, runtime.Submission{File: "linear.yaml", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	stop := b.Start(ctx)
	defer stop()
	g, err := b.Wait(ctx, good.ID, 0)
	if err != nil || g.State != record.ExecSuccess {
		t.Fatalf("the good execution: %v, %v; want SUCCESS", g, err)
	}
	e, err := b.Wait(ctx, bad.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("engine event %s was dead-lettered after %d deliveries without being applied", engine.StartEvent(bad.ID).ID, poisonReceives)
	if e.State != record.ExecError || !strings.Contains(e.StateInfo, want) {
		t.Errorf("the crashing execution is %s %q, want ERROR saying %q", e.State, e.StateInfo, want)
	}
}
