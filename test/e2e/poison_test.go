package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

// startUnrunnable creates, straight in the table, the head of an execution
// of the chain workflow pinned to version ver of a definition that was
// never stored, and sends its start event to the engine queue. The engine
// fails that event on every delivery. It returns the head and the event.
func (c *client) startUnrunnable(t *testing.T, defName string, ver int, input any) (*record.Execution, record.Event) {
	t.Helper()
	bundle, diags := dsl.Load("chain.yaml", []byte(chain))
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	head, err := engine.NewExecution(bundle.Workflows["chain"], engine.NewParams{
		ID: runtime.NewID(), DefName: defName, DefVer: ver, Input: in, Now: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.store.CreateExecution(ctx, head); err != nil {
		t.Fatalf("create execution %s: %v", head.ID, err)
	}
	ev := engine.StartEvent(head.ID)
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.rt.Events.Send(ctx, queue.Out{Body: body, Group: head.ID, DedupID: ev.ID}); err != nil {
		t.Fatalf("send %s: %v", ev.ID, err)
	}
	t.Logf("execution %s pinned to %s v%d, which does not exist", head.ID, defName, ver)
	return head, ev
}

// TestPoisonedEvent proves the poison-message path on the deployed stack:
// an engine event that fails on every delivery reaches the engine queue's
// dead-letter queue, and its execution ends ERROR with a state_info that
// names the event, while an execution started at the same time runs to
// SUCCESS without waiting for it. It takes its dead letter, so that the
// run's check for dead letters reports only unexpected ones.
//
// It lasts about maxReceives × engineTimeout, which is why the local
// stack's engine timeout, and so its queues' visibility timeout, is short.
func TestPoisonedEvent(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	srv := newCounter(t)
	start := time.Now()

	const missingVer = 7
	defName := c.s.prefix + "-poison"
	badRun, goodRun := newRun(), newRun()
	bad, badEvent := c.startUnrunnable(t, defName, missingVer, map[string]any{"base": srv.srv.URL, "run": badRun, "n": 1})
	good := c.submit(t, "chain.yaml", []byte(chain), "", map[string]any{"base": srv.srv.URL, "run": goodRun, "n": 21})

	d := c.succeed(t, good, settle)
	if diff := cmp.Diff(map[string]any{"total": 42.0}, output(t, d)); diff != "" {
		t.Errorf("output of the good execution (-want +got):\n%s", diff)
	}
	goodHead, err := c.head(good)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the good execution succeeded after %s", time.Since(start).Round(time.Millisecond))

	var taken []string
	waitFor(t, settle, fmt.Sprintf("%s in the engine dead-letter queue", badEvent.ID), func() (bool, string) {
		got, err := c.s.takeDeadLetters(t.Context(), "engine", func(body string) bool {
			var ev record.Event
			return json.Unmarshal([]byte(body), &ev) == nil && ev.ExecID == bad.ID
		})
		taken = append(taken, got...)
		if err != nil {
			return false, err.Error()
		}
		return len(taken) > 0, "not there yet"
	}, func() string { return c.diagnose(bad.ID) })
	t.Logf("the event was dead-lettered after %s", time.Since(start).Round(time.Millisecond))
	if len(taken) != 1 {
		t.Errorf("%d dead letters of the unrunnable execution, want its start event only:\n%s", len(taken), strings.Join(taken, "\n"))
	}
	var got record.Event
	if err := json.Unmarshal([]byte(taken[0]), &got); err != nil {
		t.Fatalf("dead letter %s: %v", taken[0], err)
	}
	if diff := cmp.Diff(badEvent, got); diff != "" {
		t.Errorf("dead letter (-want +got):\n%s", diff)
	}

	// The engine fails the execution on the event's last delivery; the
	// queue dead-letters the event when it would deliver it again. So once
	// the event is in the dead-letter queue the execution must be ERROR.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	d, err = runtime.Describe(ctx, c.store, bad.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != string(record.ExecError) {
		t.Fatalf("the unrunnable execution is %s (%s) once its event is dead-lettered, want ERROR\n%s", d.State, d.StateInfo, c.diagnose(bad.ID))
	}
	t.Logf("state_info: %s", d.StateInfo)
	for _, want := range []string{
		"engine event " + badEvent.ID + " ",
		fmt.Sprintf("failed on %d deliveries", maxReceives),
		"dead-lettered",
		fmt.Sprintf("%s v%d", defName, missingVer),
	} {
		if !strings.Contains(d.StateInfo, want) {
			t.Errorf("state_info %q does not say %q", d.StateInfo, want)
		}
	}
	badHead, err := c.head(bad.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Had the bad event held up the queue, the good execution could only
	// have finished once the bad event had used up its deliveries.
	if !goodHead.UpdatedAt.Before(badHead.UpdatedAt) {
		t.Errorf("the good execution finished at %s, not before the unrunnable one failed at %s: it waited for the bad event",
			goodHead.UpdatedAt.Format(time.RFC3339Nano), badHead.UpdatedAt.Format(time.RFC3339Nano))
	}
	if diff := cmp.Diff(map[string]int{"second": 1}, srv.Hits(goodRun)); diff != "" {
		t.Errorf("actions of the good execution (-want +got):\n%s", diff)
	}
	if got := srv.Hits(badRun); len(got) != 0 {
		t.Errorf("the unrunnable execution ran actions: %v", got)
	}
}
