package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/record"
)

const asyncWorkflow = `version: '2.0'
waits:
  output:
    got: <% $.got %>
  tasks:
    wait:
      action: std.async_noop
      publish:
        got: <% task().result %>
`

// awaitingID waits until the first run of a task awaits its completion
// and returns its callback id, as the task route shows it.
func (f *fixture) awaitingID(t *testing.T, execID, task string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		u, err := f.store.GetUnit(t.Context(), record.UnitKey{ExecID: execID, Task: task + "#1"})
		if err == nil && u.Awaiting() {
			var v struct {
				ID string `json:"awaiting_completion"`
			}
			if err := json.Unmarshal(u.Result, &v); err != nil {
				t.Fatal(err)
			}
			return v.ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s never awaited its completion (%v)", task, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCompletionRoute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		wantState string
		wantExec  string
		wantOut   string
	}{
		{name: "result", body: `{"result": {"n": 1234567890123456789}}`, wantState: "SUCCESS", wantExec: "SUCCESS", wantOut: `{"got":{"n":1234567890123456789}}`},
		{name: "empty", body: `{}`, wantState: "SUCCESS", wantExec: "SUCCESS", wantOut: `{"got":null}`},
		{name: "error", body: `{"error": "remote job failed"}`, wantState: "ERROR", wantExec: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newEmbedded(t)
			f.submit(t, asyncWorkflow)
			doc := f.start(t, `{"workflow": "waits"}`)
			id := f.awaitingID(t, doc.ID, "wait")
			var running struct {
				Tasks []struct {
					CallbackID string `json:"callback_id"`
				}
			}
			f.do(t, req{method: "GET", path: "/v1/executions/" + doc.ID}).decode(t, &running)
			if len(running.Tasks) != 1 || running.Tasks[0].CallbackID != id {
				t.Errorf("the execution shows %+v, want the awaiting task's callback id %s", running.Tasks, id)
			}

			// A heartbeat is taken; std.async_noop asked for none and has
			// no timeout, so the attempt has no deadline.
			r := f.do(t, req{method: "POST", path: "/v1/completions/" + id + "/heartbeat"})
			var hb api.HeartbeatAnswer
			if r.decode(t, &hb); r.status != http.StatusOK || hb.Execution != doc.ID || hb.Task != "wait#1" || hb.Attempt != 1 || hb.Deadline != nil {
				t.Errorf("heartbeat: %d %s", r.status, r.body)
			}

			r = f.do(t, req{method: "POST", path: "/v1/completions/" + id, body: tt.body})
			if r.status != http.StatusOK {
				t.Fatalf("completion: %d %s", r.status, r.body)
			}
			var a api.CompletionAnswer
			r.decode(t, &a)
			if a.Execution != doc.ID || a.Task != "wait#1" || a.Attempt != 1 || string(a.State) != tt.wantState {
				t.Errorf("answer %+v", a)
			}
			final := f.await(t, doc.ID, "SUCCESS", "ERROR")
			if final.State != tt.wantExec {
				t.Fatalf("execution %s (%s), want %s", final.State, final.StateInfo, tt.wantExec)
			}
			if tt.wantOut != "" && string(final.Output) != tt.wantOut {
				t.Errorf("output %s, want %s", final.Output, tt.wantOut)
			}
			// The same completion again is stale.
			r = f.do(t, req{method: "POST", path: "/v1/completions/" + id, body: tt.body})
			if p := r.problem(t); p.Name() != api.TypeStaleCompletion || p.Execution != doc.ID || !strings.Contains(p.Detail, "ended already") {
				t.Errorf("a second completion: %d %+v", r.status, p)
			}
			r = f.do(t, req{method: "POST", path: "/v1/completions/" + id + "/heartbeat", body: `{}`})
			if p := r.problem(t); p.Name() != api.TypeStaleCompletion || !strings.Contains(p.Detail, "ended already") {
				t.Errorf("a heartbeat after the completion: %d %+v", r.status, p)
			}
		})
	}
}

func TestCompletionRouteRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	stale := record.CallbackID(record.UnitKey{ExecID: "no-such", Task: "t#1"}, 1, "f")
	for _, tt := range []struct {
		name, id, route, body, want string
	}{
		{name: "not an id", id: "nope", body: `{}`, want: api.TypeCompletionNotFound},
		{name: "no such attempt", id: stale, body: `{}`, want: api.TypeStaleCompletion},
		{name: "both", id: stale, body: `{"result": 1, "error": "x"}`, want: api.TypeBadRequest},
		{name: "unknown field", id: stale, body: `{"output": 1}`, want: api.TypeBadRequest},
		{name: "heartbeat, not an id", id: "nope", route: "/heartbeat", want: api.TypeCompletionNotFound},
		{name: "heartbeat, no such attempt", id: stale, route: "/heartbeat", want: api.TypeStaleCompletion},
		{name: "heartbeat, a body", id: stale, route: "/heartbeat", body: `{"result": 1}`, want: api.TypeBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, req{method: "POST", path: "/v1/completions/" + tt.id + tt.route, body: tt.body})
			if p := r.problem(t); p.Name() != tt.want {
				t.Errorf("%d %+v, want %s", r.status, p, tt.want)
			}
		})
	}
}
