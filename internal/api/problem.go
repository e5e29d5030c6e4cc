package api

import (
	"encoding/json"
	"net/http"
	"slices"
)

// ProblemBase starts every problem type: the type of a problem is
// ProblemBase + its name, and docs/api.md has a section of that name.
const ProblemBase = "https://github.com/borawf/bora/blob/main/docs/api.md#"

// Problem types. Their names are stable: clients may branch on them.
const (
	TypeBadRequest          = "bad-request"            // 400: malformed JSON, unknown field, bad parameter
	TypeUnauthorized        = "unauthorized"           // 401: missing or wrong bearer token (bora serve)
	TypeForbidden           = "forbidden"              // 403: a browser's cross-site request, or a foreign Host (bora serve)
	TypeRouteNotFound       = "route-not-found"        // 404: no such route
	TypeWorkflowNotFound    = "workflow-not-found"     // 404: no such workflow or version
	TypeExecutionNotFound   = "execution-not-found"    // 404: no such execution
	TypeTaskNotFound        = "task-not-found"         // 404: no such task execution
	TypeCompletionNotFound  = "completion-not-found"   // 404: the id names no attempt
	TypeTriggerNotFound     = "trigger-not-found"      // 404: no such cron trigger
	TypeTriggerExists       = "trigger-exists"         // 409: a trigger of that name exists
	TypeMethodNotAllowed    = "method-not-allowed"     // 405
	TypeNotAcceptable       = "not-acceptable"         // 406
	TypeExecutionExists     = "execution-exists"       // 409: the id is taken by a different request
	TypeIdempotencyConflict = "idempotency-conflict"   // 409: the key was used for a different request
	TypeInvalidState        = "invalid-state"          // 409: the command does not fit the execution's state
	TypeStaleCompletion     = "stale-completion"       // 409: the attempt is no longer current
	TypeTooLarge            = "too-large"              // 413
	TypeUnsupportedMedia    = "unsupported-media-type" // 415
	TypeInvalidWorkflow     = "invalid-workflow"       // 422: the document does not compile
	TypeInvalidExecution    = "invalid-execution"      // 422: the workflow cannot run with this request
	TypeInvalidTrigger      = "invalid-trigger"        // 422: the trigger's pattern or times cannot fire
	TypeInternal            = "internal"               // 500
	TypeUnavailable         = "unavailable"            // 503: the store or queue did not answer; retry
)

// Problem is an RFC 9457 problem detail. Extension members a problem may
// carry are listed below; every other field is omitted when empty.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`

	// Diagnostics: invalid-workflow, the loader's messages.
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	// Errors: bad-request, one line per field in error.
	Errors []FieldError `json:"errors,omitempty"`
	// Execution: execution-exists, idempotency-conflict and invalid-state,
	// the execution in question.
	Execution string `json:"execution,omitempty"`
	// State: invalid-state, the execution's state.
	State string `json:"state,omitempty"`
	// Limit: too-large, the limit in bytes.
	Limit int64 `json:"limit,omitempty"`
	// RequestID: internal and unavailable, for the server's log.
	RequestID string `json:"request_id,omitempty"`
}

// FieldError is one field of a request in error.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// titles are the problem types' short, fixed summaries.
var titles = map[string]string{
	TypeBadRequest:          "The request is malformed",
	TypeUnauthorized:        "A valid bearer token is required",
	TypeForbidden:           "The request comes from somewhere this server does not serve",
	TypeRouteNotFound:       "No such route",
	TypeWorkflowNotFound:    "No such workflow",
	TypeExecutionNotFound:   "No such execution",
	TypeTaskNotFound:        "No such task execution",
	TypeCompletionNotFound:  "No such attempt awaits a completion",
	TypeTriggerNotFound:     "No such trigger",
	TypeTriggerExists:       "A trigger of that name exists",
	TypeMethodNotAllowed:    "Method not allowed on this route",
	TypeNotAcceptable:       "No acceptable representation",
	TypeExecutionExists:     "The execution id is taken by a different request",
	TypeIdempotencyConflict: "The idempotency key was used for a different request",
	TypeInvalidState:        "The command does not fit the execution's state",
	TypeStaleCompletion:     "The attempt is no longer current; the completion changed nothing",
	TypeTooLarge:            "The request is too large",
	TypeUnsupportedMedia:    "Unsupported content type",
	TypeInvalidWorkflow:     "The workflow document is not valid",
	TypeInvalidExecution:    "The workflow cannot run with this request",
	TypeInvalidTrigger:      "The trigger cannot fire as asked",
	TypeInternal:            "Internal error",
	TypeUnavailable:         "Service unavailable; retry later",
}

// statuses are the problem types' HTTP statuses.
var statuses = map[string]int{
	TypeBadRequest:          http.StatusBadRequest,
	TypeUnauthorized:        http.StatusUnauthorized,
	TypeForbidden:           http.StatusForbidden,
	TypeRouteNotFound:       http.StatusNotFound,
	TypeWorkflowNotFound:    http.StatusNotFound,
	TypeExecutionNotFound:   http.StatusNotFound,
	TypeTaskNotFound:        http.StatusNotFound,
	TypeCompletionNotFound:  http.StatusNotFound,
	TypeTriggerNotFound:     http.StatusNotFound,
	TypeTriggerExists:       http.StatusConflict,
	TypeMethodNotAllowed:    http.StatusMethodNotAllowed,
	TypeNotAcceptable:       http.StatusNotAcceptable,
	TypeExecutionExists:     http.StatusConflict,
	TypeIdempotencyConflict: http.StatusConflict,
	TypeInvalidState:        http.StatusConflict,
	TypeStaleCompletion:     http.StatusConflict,
	TypeTooLarge:            http.StatusRequestEntityTooLarge,
	TypeUnsupportedMedia:    http.StatusUnsupportedMediaType,
	TypeInvalidWorkflow:     http.StatusUnprocessableEntity,
	TypeInvalidExecution:    http.StatusUnprocessableEntity,
	TypeInvalidTrigger:      http.StatusUnprocessableEntity,
	TypeInternal:            http.StatusInternalServerError,
	TypeUnavailable:         http.StatusServiceUnavailable,
}

// Types lists every problem type's name, sorted.
func Types() []string {
	out := make([]string, 0, len(titles))
	for t := range titles {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// problem builds a problem of a type (one of the Type constants) with a
// detail for this occurrence.
func problem(typ, detail string) *Problem {
	return &Problem{Type: ProblemBase + typ, Title: titles[typ], Status: statuses[typ], Detail: detail}
}

// Name returns the problem's type name, ProblemBase cut off.
func (p Problem) Name() string {
	if len(p.Type) > len(ProblemBase) && p.Type[:len(ProblemBase)] == ProblemBase {
		return p.Type[len(ProblemBase):]
	}
	return p.Type
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
