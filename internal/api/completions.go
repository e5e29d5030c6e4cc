package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

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
		return problem(TypeCompletionNotFound, fmt.Sprintf("%.140q is not a callback id: an asynchronous action gets its attempt's id when it runs", id))
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
		if errors.Is(err, worker.ErrStale) {
			p := problem(TypeStaleCompletion, strings.TrimPrefix(err.Error(), worker.ErrStale.Error()+": "))
			p.Execution = k.ExecID
			return p
		}
		return err
	}
	return writeJSON(w, http.StatusOK, CompletionAnswer{Execution: k.ExecID, Task: k.Task, Item: k.Item, Attempt: attempt, State: state})
}
