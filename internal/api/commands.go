package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
)

// CommandRequest is the body of the command routes; every field is
// optional and the body may be empty.
type CommandRequest struct {
	// Env (resume, rerun) is merged into the execution's env().
	Env json.RawMessage `json:"env,omitempty"`
	// Reason (pause, cancel) becomes the execution's state_info.
	Reason string `json:"reason,omitempty"`
	// Task (rerun and skip, required) names the failed task execution to
	// run again or skip: a task's name (its latest run) or a key such as
	// build#2.
	Task string `json:"task,omitempty"`
}

// commands are what each command route takes and needs.
var commands = map[string]struct {
	fields []string // the body fields it takes
	fits   func(record.ExecState) bool
	needs  string // what fits says, for the problem
}{
	record.OpPause:  {[]string{"reason"}, func(s record.ExecState) bool { return s == record.ExecRunning }, "RUNNING"},
	record.OpResume: {[]string{"env"}, func(s record.ExecState) bool { return s == record.ExecPaused }, "PAUSED"},
	record.OpCancel: {[]string{"reason"}, func(s record.ExecState) bool { return s == record.ExecRunning || s == record.ExecPaused }, "RUNNING or PAUSED"},
	record.OpRerun:  {[]string{"task", "env"}, func(s record.ExecState) bool { return s == record.ExecError }, "ERROR"},
	record.OpSkip:   {[]string{"task"}, func(s record.ExecState) bool { return s == record.ExecError }, "ERROR"},
}

// maxReason bounds a command's reason.
const maxReason = 1024

// command handles POST /executions/{id}/{op}: it checks the request and the
// execution's state, sends the command and answers 202 with the execution
// as it was; the engine applies the command in order with the execution's
// other events. With an Idempotency-Key, a retried request sends the same
// command, which is applied once.
func command(op string) func(*server, http.ResponseWriter, *http.Request) error {
	return func(s *server, w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		var q CommandRequest
		if err := s.decodeOptionalJSON(w, r, &q); err != nil {
			return err
		}
		key := r.Header.Get(IdempotencyKeyHeader)
		if p := checkCommand(op, q, key); p != nil {
			return p
		}
		if !idPattern.MatchString(id) {
			return noExecution(id)
		}
		head, err := s.store.GetExecution(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			return noExecution(id)
		}
		if err != nil {
			return err
		}
		spec := commands[op]
		if !spec.fits(head.State) {
			return stateProblem(head, fmt.Sprintf("execution %s is %s: %s needs it %s", id, head.State, op, spec.needs))
		}
		c := record.Command{Op: op, Env: q.Env, Msg: q.Reason}
		if op == record.OpRerun || op == record.OpSkip {
			key, err := s.failedTask(r, head, q.Task)
			if err != nil {
				return err
			}
			c.Task = key
		}
		nonce := runtime.NewID()
		if key != "" {
			nonce = "key:" + key
		}
		if err := s.rt.SendCommand(r.Context(), id, c, nonce); err != nil {
			return err
		}
		w.Header().Set("Location", executionPath(id))
		return writeJSON(w, http.StatusAccepted, runtime.HeadDocument(head))
	}
}

// checkCommand validates a command's body against its route.
func checkCommand(op string, q CommandRequest, key string) *Problem {
	takes := commands[op].fields
	var errs []FieldError
	for _, f := range []struct {
		name string
		set  bool
	}{{"env", len(q.Env) > 0}, {"reason", q.Reason != ""}, {"task", q.Task != ""}} {
		if f.set && !contains(takes, f.name) {
			errs = append(errs, FieldError{Field: f.name, Detail: fmt.Sprintf("%s does not take it", op)})
		}
	}
	if len(q.Env) > 0 && string(q.Env) != "null" && q.Env[0] != '{' {
		errs = append(errs, FieldError{Field: "env", Detail: "must be a JSON object"})
	}
	if len(q.Reason) > maxReason {
		errs = append(errs, FieldError{Field: "reason", Detail: fmt.Sprintf("is longer than %d bytes", maxReason)})
	}
	if (op == record.OpRerun || op == record.OpSkip) && q.Task == "" {
		errs = append(errs, FieldError{Field: "task", Detail: fmt.Sprintf("required: the failed task to %s", op)})
	}
	if len(q.Task) > 255 {
		errs = append(errs, FieldError{Field: "task", Detail: "is longer than 255 bytes"})
	}
	if key != "" && !validKey(key) {
		errs = append(errs, FieldError{Field: IdempotencyKeyHeader, Detail: fmt.Sprintf("must be 1 to %d visible ASCII characters", maxKeyBytes)})
	}
	if len(errs) == 0 {
		return nil
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + " " + e.Detail
	}
	return badRequest(strings.Join(parts, "; "), errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// failedTask finds the task execution a rerun names: a key, or a task's
// latest run; it must have failed.
func (s *server) failedTask(r *http.Request, head *record.Execution, name string) (string, error) {
	tasks, err := s.store.ListTasks(r.Context(), head.ID)
	if err != nil {
		return "", err
	}
	var found *record.Task
	for _, t := range tasks {
		if t.Key == name || (t.Name == name && (found == nil || t.Seq > found.Seq)) {
			found = t
		}
	}
	if found == nil {
		var failed []string
		for _, t := range tasks {
			if t.State == record.Error {
				failed = append(failed, t.Key)
			}
		}
		return "", stateProblem(head, fmt.Sprintf("execution %s has no task execution %q; the failed ones: %s", head.ID, name, strings.Join(failed, ", ")))
	}
	if found.State != record.Error {
		return "", stateProblem(head, fmt.Sprintf("task %s of execution %s is %s: only a failed task is run again or skipped", found.Key, head.ID, found.State))
	}
	return found.Key, nil
}

func stateProblem(head *record.Execution, detail string) *Problem {
	p := problem(TypeInvalidState, detail)
	p.Execution, p.State = head.ID, string(head.State)
	return p
}
