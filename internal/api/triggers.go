package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
)

// TriggerRequest is the body of POST /triggers: a cron trigger, as
// Mistral's (docs/triggers.md).
type TriggerRequest struct {
	Name string `json:"name"`
	// Workflow names the stored workflow each fire starts: a definition's
	// name, or "<workbook>.<workflow>".
	Workflow string `json:"workflow"`
	// Pattern is a cron pattern of minute resolution, in UTC; it may be
	// left out when FirstExecutionTime is given (the trigger fires once).
	Pattern string `json:"pattern,omitempty"`
	// FirstExecutionTime is the first fire: RFC 3339, or Mistral's
	// "YYYY-MM-DD HH:MM" (UTC).
	FirstExecutionTime string `json:"first_execution_time,omitempty"`
	// RemainingExecutions is how many times it fires; absent: no limit.
	RemainingExecutions *int            `json:"remaining_executions,omitempty"`
	Input               json.RawMessage `json:"input,omitempty"`
	Env                 json.RawMessage `json:"env,omitempty"`
}

// Trigger is a cron trigger as the API shows it.
type Trigger struct {
	Name               string     `json:"name"`
	Workflow           string     `json:"workflow"`
	Pattern            string     `json:"pattern,omitempty"`
	FirstExecutionTime *time.Time `json:"first_execution_time,omitempty"`
	// RemainingExecutions is null for a trigger without a limit.
	RemainingExecutions *int            `json:"remaining_executions"`
	NextExecutionTime   time.Time       `json:"next_execution_time"`
	Input               json.RawMessage `json:"input,omitempty"`
	Env                 json.RawMessage `json:"env,omitempty"`
	CreatedAt           time.Time       `json:"created_at"`
}

// TriggerPage answers GET /triggers.
type TriggerPage struct {
	Triggers []Trigger `json:"triggers"`
	// NextCursor, when set, is the ?cursor= of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// TriggerDocument is the API's view of a stored trigger.
func TriggerDocument(t *record.Trigger) Trigger {
	d := Trigger{
		Name: t.Name, Workflow: t.WorkflowName, Pattern: t.Pattern, NextExecutionTime: t.Next.UTC(),
		Input: t.Input, Env: t.Env, CreatedAt: t.CreatedAt.UTC(),
	}
	if !t.FirstExecution.IsZero() {
		first := t.FirstExecution.UTC()
		d.FirstExecutionTime = &first
	}
	if t.Remaining > 0 {
		n := t.Remaining
		d.RemainingExecutions = &n
	}
	return d
}

// firstTimeLayouts are the forms first_execution_time may take besides
// RFC 3339: Mistral's, in UTC.
var firstTimeLayouts = []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"}

func parseFirstTime(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), true
	}
	for _, l := range firstTimeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// check validates a trigger request's fields before anything is read.
func (q *TriggerRequest) check() (*record.Trigger, *Problem) {
	var errs []FieldError
	add := func(field, detail string) { errs = append(errs, FieldError{Field: field, Detail: detail}) }
	if q.Name == "" {
		add("name", "required: the trigger's name")
	} else if why := checkName(q.Name); why != "" {
		add("name", why)
	}
	if q.Workflow == "" {
		add("workflow", "required: the name of a stored workflow")
	} else if why := checkName(q.Workflow); why != "" {
		add("workflow", why)
	}
	if len(q.Pattern) > 255 {
		add("pattern", "is longer than 255 bytes")
	}
	t := &record.Trigger{Name: q.Name, Pattern: strings.TrimSpace(q.Pattern), WorkflowName: q.Workflow}
	if q.FirstExecutionTime != "" {
		first, ok := parseFirstTime(q.FirstExecutionTime)
		if !ok {
			add("first_execution_time", `must be an RFC 3339 time (2026-12-24T18:00:00Z) or "YYYY-MM-DD HH:MM" in UTC`)
		}
		t.FirstExecution = first
	}
	if q.RemainingExecutions != nil {
		if *q.RemainingExecutions < 1 {
			add("remaining_executions", "must be 1 or more; leave it out for no limit")
		}
		t.Remaining = *q.RemainingExecutions
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
		to   *json.RawMessage
	}{{"input", q.Input, &t.Input}, {"env", q.Env, &t.Env}} {
		switch {
		case len(f.v) == 0 || string(f.v) == "null":
		case f.v[0] != '{':
			add(f.name, "must be a JSON object")
		default:
			*f.to = f.v
		}
	}
	if len(errs) == 0 {
		return t, nil
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + " " + e.Detail
	}
	return nil, badRequest(strings.Join(parts, "; "), errs...)
}

func (s *server) createTrigger(w http.ResponseWriter, r *http.Request) error {
	var q TriggerRequest
	if err := s.decodeJSON(w, r, &q); err != nil {
		return err
	}
	t, p := q.check()
	if p != nil {
		return p
	}
	start := runtime.Start{Input: t.Input, Env: t.Env}
	if err := s.resolve(r, q.Workflow, &start); err != nil {
		return err
	}
	t.DefName, t.Workflow = start.DefName, start.Workflow
	now := s.now()
	t.ID, t.CreatedAt = runtime.NewID(), now
	if err := cron.Plan(t, now); err != nil {
		return problem(TypeInvalidTrigger, err.Error())
	}
	// Each fire starts the workflow with the trigger's input and env:
	// check them now, as a start would.
	if err := s.rt.CheckStart(r.Context(), start); err != nil {
		return s.startProblem(err, StartRequest{Workflow: q.Workflow}, "", start)
	}
	err := s.store.CreateTrigger(r.Context(), t)
	var tl *store.TooLargeError
	switch {
	case errors.Is(err, store.ErrExists):
		return s.existingTrigger(w, r, t)
	case errors.As(err, &tl):
		return tooLarge(int64(tl.Limit), "trigger (its input and env together)")
	case err != nil:
		return err
	}
	w.Header().Set("Location", triggerPath(t.Name))
	return writeJSON(w, http.StatusCreated, TriggerDocument(t))
}

// existingTrigger answers a create of a name that is taken: a retry of
// the request that created it gets it (200, Idempotent-Replayed), any
// other request 409.
func (s *server) existingTrigger(w http.ResponseWriter, r *http.Request, want *record.Trigger) error {
	have, err := s.store.GetTrigger(r.Context(), want.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if have != nil && sameTrigger(have, want) {
		w.Header().Set("Location", triggerPath(have.Name))
		w.Header().Set("Idempotent-Replayed", "true")
		return writeJSON(w, http.StatusOK, TriggerDocument(have))
	}
	return problem(TypeTriggerExists, fmt.Sprintf("there is a trigger %q already; delete it first to replace it", want.Name))
}

// sameTrigger reports whether have is what the request for want created,
// none of its fires recorded since.
func sameTrigger(have, want *record.Trigger) bool {
	if have.WorkflowName != want.WorkflowName || have.Pattern != want.Pattern || have.Remaining != want.Remaining ||
		!have.FirstExecution.Equal(want.FirstExecution) {
		return false
	}
	return sameValue(have.Input, want.Input) && sameValue(have.Env, want.Env)
}

// sameValue reports whether two JSON values are equal as values.
func sameValue(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

func (s *server) listTriggers(w http.ResponseWriter, r *http.Request) error {
	q := readQuery(r, "limit", "cursor")
	tq := store.TriggerQuery{Limit: q.limit(), Cursor: q.cursor()}
	if checkName(tq.Cursor) != "" && tq.Cursor != "" {
		// A trigger listing's cursor is a trigger's name.
		q.add("cursor", "is not a cursor of this listing")
	}
	if err := q.err(); err != nil {
		return err
	}
	page, next, err := s.store.ListTriggers(r.Context(), tq)
	if err != nil {
		return err
	}
	out := TriggerPage{Triggers: make([]Trigger, len(page)), NextCursor: next}
	for i, t := range page {
		out.Triggers[i] = TriggerDocument(t)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) getTrigger(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if checkName(name) != "" {
		return noTrigger(name)
	}
	t, err := s.store.GetTrigger(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return noTrigger(name)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, TriggerDocument(t))
}

func (s *server) deleteTrigger(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if checkName(name) != "" {
		return noTrigger(name)
	}
	err := s.store.DeleteTrigger(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return noTrigger(name)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func noTrigger(name string) *Problem {
	return problem(TypeTriggerNotFound, fmt.Sprintf("there is no trigger %.140q", name))
}

// triggerPath is the URL path of a trigger.
func triggerPath(name string) string {
	return BasePath + "/triggers/" + url.PathEscape(name)
}

// now is the runtime's clock.
func (s *server) now() time.Time {
	if s.rt.Now != nil {
		return s.rt.Now()
	}
	return time.Now()
}
