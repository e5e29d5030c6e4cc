package api

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
)

// IdempotencyKeyHeader makes POST /executions safe to retry: requests with
// the same key start one execution.
const IdempotencyKeyHeader = "Idempotency-Key"

// StartRequest is the body of POST /executions.
type StartRequest struct {
	// Workflow names the workflow: a stored definition's name, or
	// "<workbook>.<workflow>".
	Workflow string `json:"workflow"`
	// Version pins a stored version; absent means the latest.
	Version *int `json:"version,omitempty"`
	// Input is the workflow's input (an object).
	Input json.RawMessage `json:"input,omitempty"`
	// Env is the execution's environment, env() (an object).
	Env json.RawMessage `json:"env,omitempty"`
	// TaskName is the task a reverse workflow runs to.
	TaskName string `json:"task_name,omitempty"`
	// ID names the execution; absent means one is made up (from the
	// Idempotency-Key when there is one).
	ID string `json:"id,omitempty"`
}

// idPattern is what a client's execution id may look like.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// maxKeyBytes bounds an Idempotency-Key.
const maxKeyBytes = 255

// check validates a start request before anything is read or written.
func (q *StartRequest) check(key string) *Problem {
	var errs []FieldError
	add := func(field, detail string) { errs = append(errs, FieldError{Field: field, Detail: detail}) }
	if q.Workflow == "" {
		add("workflow", "required: the name of a stored workflow")
	} else if why := checkName(q.Workflow); why != "" {
		add("workflow", why)
	}
	if q.Version != nil && *q.Version < 1 {
		add("version", "versions are numbered from 1")
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{{"input", q.Input}, {"env", q.Env}} {
		if len(f.v) > 0 && string(f.v) != "null" && f.v[0] != '{' {
			add(f.name, "must be a JSON object")
		}
	}
	if len(q.TaskName) > 255 {
		add("task_name", "is longer than 255 bytes")
	}
	if q.ID != "" && !idPattern.MatchString(q.ID) {
		add("id", "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if key != "" && !validKey(key) {
		add(IdempotencyKeyHeader, fmt.Sprintf("must be 1 to %d visible ASCII characters", maxKeyBytes))
	}
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s", e.Field, e.Detail)
	}
	return badRequest(b.String(), errs...)
}

func validKey(k string) bool {
	if len(k) == 0 || len(k) > maxKeyBytes {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// keyID is the execution id an Idempotency-Key stands for: the same key
// always names the same execution.
func keyID(key string) string {
	h := sha256.Sum256([]byte("bora idempotency key\x00" + key))
	h[6] = h[6]&0x0f | 0x80 // a version-8 (custom) UUID
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func (s *server) startExecution(w http.ResponseWriter, r *http.Request) error {
	var q StartRequest
	if err := s.decodeJSON(w, r, &q); err != nil {
		return err
	}
	key := r.Header.Get(IdempotencyKeyHeader)
	if p := q.check(key); p != nil {
		return p
	}
	start := runtime.Start{ID: q.ID, Input: q.Input, Env: q.Env}
	if start.ID == "" && key != "" {
		start.ID = keyID(key)
	}
	if q.Version != nil {
		start.DefVer = *q.Version
	}
	if q.TaskName != "" {
		start.Params, _ = json.Marshal(map[string]string{"task_name": q.TaskName})
	}
	if err := s.resolve(r, q.Workflow, &start); err != nil {
		return err
	}
	head, created, err := s.rt.StartStored(r.Context(), start)
	if err != nil {
		return s.startProblem(err, q, key, start)
	}
	w.Header().Set("Location", executionPath(head.ID))
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return writeJSON(w, status, runtime.HeadDocument(head))
}

// resolve finds the definition a workflow name means: a definition of
// that name, else "<workbook>.<workflow>". A retried request means what
// its execution runs, even if the workflow was deleted since.
func (s *server) resolve(r *http.Request, name string, start *runtime.Start) error {
	if start.ID != "" {
		e, err := s.store.GetExecution(r.Context(), start.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if e != nil && (e.DefName == name || e.Workflow == name) {
			start.DefName = e.DefName
			if e.Workflow != e.DefName {
				start.Workflow = e.Workflow
			}
			return nil
		}
	}
	start.DefName = name
	_, _, err := s.store.GetDefinition(r.Context(), name, 0)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if book, _, ok := strings.Cut(name, "."); ok {
		if _, _, err := s.store.GetDefinition(r.Context(), book, 0); err == nil {
			start.DefName, start.Workflow = book, name
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return problem(TypeWorkflowNotFound, fmt.Sprintf("there is no workflow %q; submit it first (POST %s/workflows)", name, BasePath))
}

// startProblem turns StartStored's errors into problems.
func (s *server) startProblem(err error, q StartRequest, key string, start runtime.Start) error {
	var conflict *runtime.ConflictError
	var invalid *runtime.InvalidError
	var tl *store.TooLargeError
	switch {
	case errors.As(err, &conflict):
		var p *Problem
		if q.ID == "" && key != "" {
			p = problem(TypeIdempotencyConflict, fmt.Sprintf("Idempotency-Key %q was used for a request with a different %s; use a new key for a new execution", key, conflict.Differs))
		} else {
			p = problem(TypeExecutionExists, fmt.Sprintf("execution %s exists and was started with a different %s", conflict.ID, conflict.Differs))
		}
		p.Execution = conflict.ID
		return p
	case errors.As(err, &invalid):
		return problem(TypeInvalidExecution, invalid.Msg)
	case errors.As(err, &tl):
		return tooLarge(int64(tl.Limit), "execution (its input, env and task_name together)")
	case errors.Is(err, store.ErrNotFound) && start.DefVer != 0:
		return problem(TypeWorkflowNotFound, fmt.Sprintf("workflow %q has no version %d", start.DefName, start.DefVer))
	case errors.Is(err, store.ErrNotFound):
		return problem(TypeWorkflowNotFound, fmt.Sprintf("there is no workflow %q", q.Workflow))
	}
	return err
}

func (s *server) getExecution(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !idPattern.MatchString(id) {
		return noExecution(id)
	}
	doc, err := runtime.Describe(r.Context(), s.store, id)
	if errors.Is(err, store.ErrNotFound) {
		return noExecution(id)
	}
	if err != nil {
		return err
	}
	fit(doc, MaxDocumentBytes)
	return writeJSON(w, http.StatusOK, doc)
}

// MaxDocumentBytes bounds the execution GET /executions/{id} answers with:
// a Lambda function answers at most 6 MB. Beyond it, the largest task
// values are left out (TaskDocument.Truncated) and read one task at a time.
const MaxDocumentBytes = 4 << 20

// fit leaves out the largest task values of doc until its JSON is within
// limit bytes (or no task value is left to leave out).
func fit(doc *runtime.Document, limit int) {
	b, err := json.Marshal(doc)
	if err != nil || len(b) <= limit {
		return
	}
	size := func(t *runtime.TaskDocument) int { return len(t.Published) + len(t.Result) + len(t.Error) }
	order := make([]int, len(doc.Tasks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return size(&doc.Tasks[b]) - size(&doc.Tasks[a]) })
	over := len(b) - limit
	for _, i := range order {
		t := &doc.Tasks[i]
		n := size(t) - len("{}null")
		if over <= 0 || n <= 0 {
			return
		}
		t.Published, t.Result, t.Error, t.Truncated = json.RawMessage("{}"), json.RawMessage("null"), nil, true
		over -= n
	}
}

// MaxUnitPageBytes bounds the inputs and outcomes of the units one
// answer of GET /executions/{id}/tasks/{task} holds.
const MaxUnitPageBytes = 1 << 20

func (s *server) getTask(w http.ResponseWriter, r *http.Request) error {
	id, key := r.PathValue("id"), r.PathValue("task")
	q := readQuery(r, "limit", "cursor")
	page := runtime.UnitPage{Limit: q.limit(), MaxBytes: MaxUnitPageBytes}
	if c := q.cursor(); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			q.add("cursor", "not a cursor of this listing")
		}
		page.From = n
	}
	if err := q.err(); err != nil {
		return err
	}
	if !idPattern.MatchString(id) {
		return noExecution(id)
	}
	if len(key) > 255 || !utf8.ValidString(key) {
		return problem(TypeTaskNotFound, fmt.Sprintf("execution %s has no task execution %.100q", id, key))
	}
	if _, err := s.store.GetExecution(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return noExecution(id)
	} else if err != nil {
		return err
	}
	td, err := runtime.DescribeTaskDetail(r.Context(), s.store, id, key, page)
	if errors.Is(err, store.ErrNotFound) {
		return problem(TypeTaskNotFound, fmt.Sprintf("execution %s has no task execution %.100q", id, key))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, td)
}

func noExecution(id string) *Problem {
	return problem(TypeExecutionNotFound, fmt.Sprintf("there is no execution %.140q", id))
}

// executionPath is the URL path of an execution.
func executionPath(id string) string {
	return BasePath + "/executions/" + url.PathEscape(id)
}
