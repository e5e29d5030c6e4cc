package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Listing bounds: a page holds DefaultPageSize items unless ?limit= says
// otherwise, and never more than MaxPageSize.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// WorkflowSummary is a stored workflow as a listing shows it.
type WorkflowSummary struct {
	Name      string    `json:"name"`
	Version   int       `json:"version"` // the latest
	UpdatedAt time.Time `json:"updated_at"`
}

// WorkflowPage answers GET /workflows.
type WorkflowPage struct {
	Workflows []WorkflowSummary `json:"workflows"`
	// NextCursor, when set, is the ?cursor= of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ExecutionSummary is an execution as a listing shows it: no input, env,
// output or tasks (GET /executions/{id} has them).
type ExecutionSummary struct {
	ID         string    `json:"id"`
	Workflow   string    `json:"workflow"`
	Definition string    `json:"definition"`
	Version    int       `json:"version"`
	ParentID   string    `json:"parent_id,omitempty"`
	State      string    `json:"state"`
	StateInfo  string    `json:"state_info"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ExecutionPage answers GET /executions.
type ExecutionPage struct {
	Executions []ExecutionSummary `json:"executions"`
	// NextCursor, when set, is the ?cursor= of the next page. A page may
	// be short, even empty, with a cursor: only its absence means the end.
	NextCursor string `json:"next_cursor,omitempty"`
}

// maxSummaryInfo bounds a summary's state_info, so that a page stays small.
const maxSummaryInfo = 1024

func summary(e *record.Execution) ExecutionSummary {
	info := e.StateInfo
	if len(info) > maxSummaryInfo {
		info = strings.ToValidUTF8(info[:maxSummaryInfo], "") + "…"
	}
	return ExecutionSummary{
		ID: e.ID, Workflow: e.Workflow, Definition: e.DefName, Version: e.DefVer, ParentID: e.ParentID,
		State: string(e.State), StateInfo: info, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
}

// query reads a request's query parameters, refusing unknown and repeated
// ones, so that a misspelt filter is not silently ignored.
type query struct {
	v    url.Values
	errs []FieldError
}

func readQuery(r *http.Request, known ...string) *query {
	q := &query{v: r.URL.Query()}
	keys := make([]string, 0, len(q.v))
	for k := range q.v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !slices.Contains(known, k):
			q.add(k, fmt.Sprintf("not a parameter of this route; it takes %s", strings.Join(known, ", ")))
		case len(q.v[k]) > 1:
			q.add(k, "given more than once")
		}
	}
	return q
}

func (q *query) add(field, detail string) {
	q.errs = append(q.errs, FieldError{Field: field, Detail: detail})
}

func (q *query) str(name string) string { return q.v.Get(name) }

func (q *query) limit() int {
	v := q.v.Get("limit")
	if v == "" {
		return DefaultPageSize
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPageSize {
		q.add("limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxPageSize))
		return DefaultPageSize
	}
	return n
}

func (q *query) time(name string) time.Time {
	v := q.v.Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		q.add(name, "must be an RFC 3339 time, such as 2026-12-04T22:10:41Z")
	}
	return t
}

func (q *query) boolean(name string) bool {
	switch q.v.Get(name) {
	case "", "false":
		return false
	case "true":
		return true
	}
	q.add(name, "must be true or false")
	return false
}

func (q *query) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	parts := make([]string, len(q.errs))
	for i, e := range q.errs {
		parts[i] = e.Field + " " + e.Detail
	}
	return badRequest("query parameter "+strings.Join(parts, "; "), q.errs...)
}

// maxCursor bounds a cursor: one is an adapter's encoding of a key.
const maxCursor = 2048

func (q *query) cursor() string {
	c := q.v.Get("cursor")
	if len(c) > maxCursor {
		q.add("cursor", "is not a cursor of this API")
		return ""
	}
	return c
}

// badCursor turns a store's refusal of a cursor into a problem.
func badCursor(err error) error {
	if errors.Is(err, store.ErrBadCursor) {
		return badRequest("query parameter cursor is not a cursor of this listing; start again without it", FieldError{Field: "cursor", Detail: "not a cursor of this listing"})
	}
	return err
}

func (s *server) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	q := readQuery(r, "prefix", "limit", "cursor")
	dq := store.DefinitionQuery{Prefix: q.str("prefix"), Limit: q.limit(), Cursor: q.cursor()}
	if len(dq.Prefix) > 255 {
		q.add("prefix", "is longer than 255 bytes")
	}
	if len(dq.Cursor) > 255 {
		// A workflow listing's cursor is a workflow's name.
		q.add("cursor", "is not a cursor of this listing")
	}
	if err := q.err(); err != nil {
		return err
	}
	page, next, err := s.store.ListDefinitions(r.Context(), dq)
	if err != nil {
		return badCursor(err)
	}
	out := WorkflowPage{Workflows: make([]WorkflowSummary, len(page)), NextCursor: next}
	for i, d := range page {
		out.Workflows[i] = WorkflowSummary{Name: d.Name, Version: d.Latest, UpdatedAt: d.UpdatedAt}
	}
	return writeJSON(w, http.StatusOK, out)
}

// execStates are the states an execution listing filters by.
var execStates = []string{"RUNNING", "PAUSED", "SUCCESS", "ERROR", "CANCELLED"}

func (s *server) listExecutions(w http.ResponseWriter, r *http.Request) error {
	q := readQuery(r, "workflow", "state", "since", "until", "top_level", "limit", "cursor")
	lq := store.ListQuery{
		Workflow: q.str("workflow"), Limit: q.limit(), Cursor: q.cursor(),
		Since: q.time("since"), Until: q.time("until"), TopLevel: q.boolean("top_level"),
	}
	if st := q.str("state"); st != "" {
		if !slices.Contains(execStates, strings.ToUpper(st)) {
			q.add("state", "must be one of "+strings.Join(execStates, ", "))
		}
		lq.State = record.ExecState(strings.ToUpper(st))
	}
	if lq.Workflow != "" {
		if why := checkName(lq.Workflow); why != "" {
			q.add("workflow", why)
		}
	}
	if !lq.Since.IsZero() && !lq.Until.IsZero() && !lq.Since.Before(lq.Until) {
		q.add("until", "must be after since")
	}
	if err := q.err(); err != nil {
		return err
	}
	page, next, err := s.store.ListExecutions(r.Context(), lq)
	if err != nil {
		return badCursor(err)
	}
	out := ExecutionPage{Executions: make([]ExecutionSummary, len(page)), NextCursor: next}
	for i, e := range page {
		out.Executions[i] = summary(e)
	}
	return writeJSON(w, http.StatusOK, out)
}
