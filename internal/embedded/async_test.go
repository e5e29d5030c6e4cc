package embedded_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/worker"
)

// openStarted opens a Bora on a fresh database and runs it for the test.
func openStarted(t *testing.T) (*embedded.Bora, context.Context) {
	t.Helper()
	b, err := embedded.Open(embedded.Options{Path: filepath.Join(t.TempDir(), "bora.db"), Workers: 2, Reconcile: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	t.Cleanup(b.Start(ctx))
	return b, ctx
}

// awaited waits until the first run of a task awaits its completion and
// returns the attempt's callback id.
func awaited(t *testing.T, ctx context.Context, b *embedded.Bora, execID, task string) string {
	t.Helper()
	k := record.UnitKey{ExecID: execID, Task: task + "#1"}
	for {
		u, err := b.Store.GetUnit(ctx, k)
		if err == nil && u.Awaiting() {
			var v struct {
				ID string `json:"awaiting_completion"`
			}
			if err := json.Unmarshal(u.Result, &v); err != nil || v.ID == "" {
				t.Fatalf("awaiting unit holds %s", u.Result)
			}
			return v.ID
		}
		if ctx.Err() != nil {
			t.Fatalf("task %s of %s never awaited its completion (last read: %v)", task, execID, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const asyncFlow = `version: '2.0'
async:
  output:
    got: <% $.got %>
  tasks:
    wait:
      action: std.async_noop
      timeout: %TIMEOUT%
      publish:
        got: <% task().result %>
      on-success: after
    after:
      action: std.noop
`

func TestAsyncCompletion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		timeout   string
		complete  *worker.Completion // nil: none comes
		want      record.ExecState
		wantOut   string // output.got, JSON
		wantError string // in state_info
	}{
		{name: "result", timeout: "600", complete: &worker.Completion{Result: json.RawMessage(`{"x": [1, "two"]}`)},
			want: record.ExecSuccess, wantOut: `{"x":[1,"two"]}`},
		{name: "error", timeout: "600", complete: &worker.Completion{Error: json.RawMessage(`"the remote job failed"`)},
			want: record.ExecError, wantError: "the remote job failed"},
		{name: "timeout bounds the wait", timeout: "1", want: record.ExecError, wantError: "no completion came for attempt 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, ctx := openStarted(t)
			e, err := b.Runtime.Submit(ctx, runtime.Submission{File: "async.yaml", Source: []byte(strings.Replace(asyncFlow, "%TIMEOUT%", tt.timeout, 1))})
			if err != nil {
				t.Fatal(err)
			}
			id := awaited(t, ctx, b, e.ID, "wait")
			if tt.complete != nil {
				c := *tt.complete
				c.ID = id
				if err := b.Runtime.Complete(ctx, c); err != nil {
					t.Fatalf("Complete: %v", err)
				}
			}
			final, err := b.Wait(ctx, e.ID, 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if final.State != tt.want {
				t.Fatalf("execution %s (%s), want %s", final.State, final.StateInfo, tt.want)
			}
			if tt.wantOut != "" {
				var out struct{ Got json.RawMessage }
				if err := json.Unmarshal(final.Output, &out); err != nil || string(out.Got) != tt.wantOut {
					t.Errorf("output %s, want got = %s", final.Output, tt.wantOut)
				}
			}
			if !strings.Contains(final.StateInfo, tt.wantError) {
				t.Errorf("state_info %q, want it to say %q", final.StateInfo, tt.wantError)
			}
			// Once ended, the attempt takes no completion.
			if err := b.Runtime.Complete(ctx, worker.Completion{ID: id}); !errors.Is(err, worker.ErrStale) {
				t.Errorf("a late completion: %v, want ErrStale", err)
			}
		})
	}
}

// TestMistralHTTP checks std.mistral_http: its request carries the
// attempt's ids as Mistral's headers, and the task waits for the
// completion they name.
func TestMistralHTTP(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	b, ctx := openStarted(t)
	e, err := b.Runtime.Submit(ctx, runtime.Submission{File: "mh.yaml", Source: []byte(`version: '2.0'
mh:
  input: [url]
  output:
    got: <% task(call).result %>
  tasks:
    call:
      action: std.mistral_http
      input:
        url: <% $.url %>
        headers:
          X-Mine: kept
`), Input: json.RawMessage(`{"url": "` + srv.URL + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Header
	select {
	case h = <-got:
	case <-ctx.Done():
		t.Fatal("std.mistral_http sent no request")
	}
	id := awaited(t, ctx, b, e.ID, "call")
	for name, want := range map[string]string{
		"Mistral-Workflow-Execution-Id": e.ID,
		"Mistral-Task-Id":               "call#1",
		"Mistral-Action-Execution-Id":   id,
		"X-Mine":                        "kept",
	} {
		if h.Get(name) != want {
			t.Errorf("header %s = %q, want %q", name, h.Get(name), want)
		}
	}
	if err := b.Runtime.Complete(ctx, worker.Completion{ID: h.Get("Mistral-Action-Execution-Id"), Result: json.RawMessage(`"called back"`)}); err != nil {
		t.Fatal(err)
	}
	final, err := b.Wait(ctx, e.ID, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != record.ExecSuccess || string(final.Output) != `{"got":"called back"}` {
		t.Errorf("execution %s %s (%s), want SUCCESS with the completion's result", final.State, final.Output, final.StateInfo)
	}
}

// TestCancelEndsTheWait cancels an execution whose task awaits its
// completion: the attempt ends CANCELLED with the execution (no unit is
// left RUNNING), its task too, and a completion that comes later is
// refused and changes nothing.
func TestCancelEndsTheWait(t *testing.T) {
	t.Parallel()
	b, ctx := openStarted(t)
	e, err := b.Runtime.Submit(ctx, runtime.Submission{File: "async.yaml", Source: []byte(strings.Replace(asyncFlow, "%TIMEOUT%", "3600", 1))})
	if err != nil {
		t.Fatal(err)
	}
	id := awaited(t, ctx, b, e.ID, "wait")
	if err := b.Runtime.Command(ctx, e.ID, record.Command{Op: record.OpCancel, Msg: "enough"}); err != nil {
		t.Fatal(err)
	}
	final, err := b.Wait(ctx, e.ID, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != record.ExecCancelled {
		t.Fatalf("execution %s (%s), want CANCELLED", final.State, final.StateInfo)
	}
	k := record.UnitKey{ExecID: e.ID, Task: "wait#1"}
	units := settled(t, ctx, b, e.ID)
	if u := units[k]; u.State != record.Cancelled || len(u.Result) != 0 {
		t.Errorf("the awaited attempt is %s holding %s, want CANCELLED holding nothing", u.State, u.Result)
	}
	tk, err := b.Store.GetTask(ctx, e.ID, "wait#1")
	if err != nil {
		t.Fatal(err)
	}
	if tk.State != record.Cancelled {
		t.Errorf("task wait is %s, want CANCELLED", tk.State)
	}
	err = b.Runtime.Complete(ctx, worker.Completion{ID: id, Result: json.RawMessage(`"late"`)})
	if !errors.Is(err, worker.ErrStale) {
		t.Errorf("a completion after the cancel: %v, want ErrStale", err)
	}
	if u, err := b.Store.GetUnit(ctx, k); err != nil || u.State != record.Cancelled || len(u.Result) != 0 {
		t.Errorf("after the refused completion the attempt is %+v (%v), want it CANCELLED as it was", u, err)
	}
}

// TestCompletionRacesCancel sends a completion and a cancel at once, many
// times: the execution always ends CANCELLED, and exactly one of the two
// writes the awaited attempt — the completion (SUCCESS with its result;
// applied only when its event came before the cancel) or the cancel
// (CANCELLED, the completion refused). No unit is left RUNNING.
func TestCompletionRacesCancel(t *testing.T) {
	t.Parallel()
	b, ctx := openStarted(t)
	src := []byte(`version: '2.0'
race:
  output:
    got: <% $.get(got) %>
  tasks:
    wait:
      action: std.async_noop
      publish:
        got: <% task().result %>
      on-success: again
    again:
      action: std.async_noop
`)
	won := map[record.State]int{}
	for i := range 8 {
		e, err := b.Runtime.Submit(ctx, runtime.Submission{File: "race.yaml", Source: src})
		if err != nil {
			t.Fatal(err)
		}
		id := awaited(t, ctx, b, e.ID, "wait")
		var wg sync.WaitGroup
		var cerr, xerr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			cerr = b.Runtime.Complete(ctx, worker.Completion{ID: id, Result: json.RawMessage(`"completed"`)})
		}()
		go func() { defer wg.Done(); xerr = b.Runtime.Command(ctx, e.ID, record.Command{Op: record.OpCancel}) }()
		wg.Wait()
		if xerr != nil {
			t.Fatal(xerr)
		}
		if cerr != nil && !errors.Is(cerr, worker.ErrStale) {
			t.Fatalf("round %d: Complete: %v", i, cerr)
		}
		final, err := b.Wait(ctx, e.ID, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if final.State != record.ExecCancelled {
			t.Fatalf("round %d: execution %s (%s), want CANCELLED", i, final.State, final.StateInfo)
		}
		u := settled(t, ctx, b, e.ID)[record.UnitKey{ExecID: e.ID, Task: "wait#1"}]
		won[u.State]++
		switch {
		case cerr == nil && (u.State != record.Success || string(u.Result) != `"completed"`):
			t.Errorf("round %d: the completion was accepted, but the attempt is %s holding %s", i, u.State, u.Result)
		case cerr != nil && (u.State != record.Cancelled || len(u.Result) != 0):
			t.Errorf("round %d: the completion was refused, but the attempt is %s holding %s, want CANCELLED", i, u.State, u.Result)
		}
		// After the cancel, any completion is refused.
		if err := b.Runtime.Complete(ctx, worker.Completion{ID: id}); !errors.Is(err, worker.ErrStale) {
			t.Errorf("round %d: a completion after the cancel: %v, want ErrStale", i, err)
		}
	}
	t.Logf("the awaited attempt ended: %v", won)
}

// settled waits until no unit of a final execution is RUNNING (a worker
// may still be recording the wait of an attempt the cancel left to it)
// and returns its units.
func settled(t *testing.T, ctx context.Context, b *embedded.Bora, execID string) map[record.UnitKey]*record.Unit {
	t.Helper()
	var running []string // as last read
	for {
		units := map[record.UnitKey]*record.Unit{}
		var now []string
		tasks, err := b.Store.ListTasks(ctx, execID)
		for _, tk := range tasks {
			us, uerr := b.Store.ListUnits(ctx, execID, tk.Key)
			err = errors.Join(err, uerr)
			for _, u := range us {
				units[u.UnitKey] = u
				if u.State == record.Running {
					now = append(now, u.UnitKey.String())
				}
			}
		}
		if err == nil {
			if running = now; len(running) == 0 {
				return units
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("execution %s keeps units RUNNING: %v", execID, running)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAsyncWithItems completes each item of a with-items task of
// std.async_noop, in reverse order: the task's result lists the items'
// results in item order.
func TestAsyncWithItems(t *testing.T) {
	t.Parallel()
	b, ctx := openStarted(t)
	e, err := b.Runtime.Submit(ctx, runtime.Submission{File: "items.yaml", Source: []byte(`version: '2.0'
items:
  output:
    all: <% task(each).result %>
  tasks:
    each:
      with-items: x in <% range(3) %>
      action: std.async_noop
`)})
	if err != nil {
		t.Fatal(err)
	}
	for item := 2; item >= 0; item-- {
		k := record.UnitKey{ExecID: e.ID, Task: "each#1", Item: item}
		for {
			u, err := b.Store.GetUnit(ctx, k)
			if err == nil && u.Awaiting() {
				c := worker.Completion{ID: record.CallbackID(k, u.Attempt, u.Fence), Result: json.RawMessage(`"item ` + string(rune('0'+item)) + `"`)}
				if err := b.Runtime.Complete(ctx, c); err != nil {
					t.Fatalf("item %d: %v", item, err)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("item %d never awaited its completion (%v)", item, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	final, err := b.Wait(ctx, e.ID, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != record.ExecSuccess || string(final.Output) != `{"all":["item 0","item 1","item 2"]}` {
		t.Errorf("execution %s %s (%s), want SUCCESS with the items' results in order", final.State, final.Output, final.StateInfo)
	}
}
