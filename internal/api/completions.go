package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/worker"
)

// CompletionRequest is the body of POST /v1/completions/{id}: the outcome
// of an asynchronous action's attempt. Either result (any JSON value) or
// error (any JSON value; a string is the usual) — not both.
type CompletionRequest struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

// CompletionAnswer is the answer to a completion that was accepted.
type CompletionAnswer struct {
	Execution string       `json:"execution"`
	Task      string       `json:"task"`
	Item      int          `json:"item"`
	Attempt   int          `json:"attempt"`
	State     record.State `json:"state"` // SUCCESS or ERROR
}

// complete ends an attempt that awaits its completion (std.async_noop,
// std.mistral_http, an asynchronous aws.lambda): the worker's outcome
// path, under the claim rule. A stale completion is a 409 stale-completion
// and changes nothing.
func (s *server) complete(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	k, attempt, _, err := record.ParseCallbackID(id)
	if err != nil {
		return notCallbackID(id)
	}
	var q CompletionRequest
	if err := s.decodeJSON(w, r, &q); err != nil {
		return err
	}
	hasError := len(q.Error) > 0 && string(q.Error) != "null"
	if hasError && len(q.Result) > 0 && string(q.Result) != "null" {
		return badRequest("give result or error, not both", FieldError{Field: "error", Detail: "not with result"})
	}
	c := worker.Completion{ID: id, Result: q.Result}
	state := record.Success
	if hasError {
		c, state = worker.Completion{ID: id, Error: q.Error}, record.Error
	}
	if err := s.rt.Complete(r.Context(), c); err != nil {
		return staleProblem(err, k)
	}
	return writeJSON(w, http.StatusOK, CompletionAnswer{Execution: k.ExecID, Task: k.Task, Item: k.Item, Attempt: attempt, State: state})
}

// HeartbeatAnswer is the answer to a heartbeat that was accepted.
type HeartbeatAnswer struct {
	Execution string `json:"execution"`
	Task      string `json:"task"`
	Item      int    `json:"item"`
	Attempt   int    `json:"attempt"`
	// Deadline is when the attempt times out unless another heartbeat or
	// its completion comes first; absent when it has none.
	Deadline *time.Time `json:"deadline,omitempty"`
}

// heartbeat says that an attempt awaiting its completion is still being
// worked on: when its action asked for heartbeats (aws.lambda's
// heartbeat_timeout), its deadline moves on. A stale heartbeat is a 409
// stale-completion and changes nothing.
func (s *server) heartbeat(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	k, attempt, _, err := record.ParseCallbackID(id)
	if err != nil {
		return notCallbackID(id)
	}
	var q struct{}
	if err := s.decodeOptionalJSON(w, r, &q); err != nil {
		return err
	}
	due, err := s.rt.Heartbeat(r.Context(), id)
	if err != nil {
		return staleProblem(err, k)
	}
	a := HeartbeatAnswer{Execution: k.ExecID, Task: k.Task, Item: k.Item, Attempt: attempt}
	if !due.IsZero() {
		d := due.UTC()
		a.Deadline = &d
	}
	return writeJSON(w, http.StatusOK, a)
}

func notCallbackID(id string) error {
	return problem(TypeCompletionNotFound, fmt.Sprintf("%.140q is not a callback id: an asynchronous action gets its attempt's id when it runs", id))
}

// staleProblem turns a refusal of the claim rule into a 409
// stale-completion; other errors pass through.
func staleProblem(err error, k record.UnitKey) error {
	if !errors.Is(err, worker.ErrStale) {
		return err
	}
	p := problem(TypeStaleCompletion, strings.TrimPrefix(err.Error(), worker.ErrStale.Error()+": "))
	p.Execution = k.ExecID
	return p
}
