package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
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
// an engine event that fails on every delivery ends its execution ERROR,
// on its last delivery, with a state_info that names the event, while an
// execution started at the same time runs to SUCCESS without waiting for
// it. The event then goes to the engine's dead-letter queue, which the
// engine consumes; the run's check for dead letters sees it gone.
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

	// The engine fails the execution on the event's last delivery; the
	// queue then dead-letters the event, and the engine, which consumes its
	// dead-letter queue, deletes it (the execution is final already). A
	// dead letter it left there would fail the run (checkDLQs).
	d = c.wait(t, bad.ID, settle, record.ExecError, record.ExecSuccess, record.ExecCancelled)
	t.Logf("the unrunnable execution failed after %s", time.Since(start).Round(time.Millisecond))
	if d.State != string(record.ExecError) {
		t.Fatalf("the unrunnable execution is %s (%s), want ERROR\n%s", d.State, d.StateInfo, c.diagnose(bad.ID))
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

// napping waits ten minutes before its only task: an execution that stays
// RUNNING for longer than any test.
const napping = `version: '2.0'
napping:
  tasks:
    nap:
      action: std.noop
      wait-before: 600
`

// TestDeadLetteredEventEndsItsExecution proves that the engine consumes its
// dead-letter queue on the deployed stack (the stack maps that queue to the
// engine function and names it in BORA_ENGINE_DLQ_ARN): an event that
// reaches it while its execution still runs — one whose every delivery
// stopped the function (a crash, memory or time run out), so no handler
// failed the execution — ends that execution in ERROR with a state_info
// naming the event, and leaves the queue. The test puts the event in the
// dead-letter queue itself, as SQS moves one there.
func TestDeadLetteredEventEndsItsExecution(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	id := c.submit(t, "napping.yaml", []byte(napping), "", nil)
	c.wait(t, id, settle, record.ExecRunning)

	ev := engine.CommandEvent(id, record.OpResume, record.Command{}, runtime.NewID())
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	dlq := c.s.Queues["engine-dlq"]
	if _, err := c.s.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl: aws.String(dlq.URL), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(id), MessageDeduplicationId: aws.String(ev.ID),
	}); err != nil {
		t.Fatalf("send %s to %s: %v", ev.ID, dlq.Name, err)
	}

	d := c.wait(t, id, settle, record.ExecError, record.ExecSuccess, record.ExecCancelled)
	if d.State != string(record.ExecError) {
		t.Fatalf("execution %s is %s (%s), want ERROR\n%s", id, d.State, d.StateInfo, c.diagnose(id))
	}
	t.Logf("state_info: %s", d.StateInfo)
	for _, want := range []string{"engine event " + ev.ID + " ", "dead-lettered", fmt.Sprintf("after %d deliveries", maxReceives)} {
		if !strings.Contains(d.StateInfo, want) {
			t.Errorf("state_info %q does not say %q", d.StateInfo, want)
		}
	}
	waitFor(t, settle, fmt.Sprintf("%s to leave %s", ev.ID, dlq.Name), func() (bool, string) {
		bodies, err := c.s.peekDLQ(t.Context(), "engine")
		if err != nil {
			return false, err.Error()
		}
		for _, b := range bodies {
			if strings.Contains(b, ev.ID) {
				return false, "still there"
			}
		}
		return true, ""
	}, func() string { return c.diagnose(id) })
}
