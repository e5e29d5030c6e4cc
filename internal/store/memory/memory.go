// Package memory is an in-memory Store: the reference adapter for the
// deterministic simulation and for tests that need a store without a file.
// It passes storetest like every adapter; it keeps nothing across restarts.
package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Store is an in-memory store.Store. Records are copied in and out, so
// callers never share memory with it.
type Store struct {
	mu   sync.Mutex
	defs map[string][][]byte
	// gone holds, for a deleted definition, how many versions it had
	// when deleted; a version stored since brings it back.
	gone    map[string]int
	updated map[string]time.Time // when a definition's latest version was stored
	execs   map[string]*record.Execution
	tasks   map[string]map[string]*record.Task // exec → key → task (without its unit)
	units   map[record.UnitKey]*record.Unit    // every unit; item 0 counts as part of its task
	trigs   map[string]*record.Trigger         // cron triggers by name
}

// New returns an empty store.
func New() *Store {
	return &Store{
		defs:    map[string][][]byte{},
		gone:    map[string]int{},
		updated: map[string]time.Time{},
		execs:   map[string]*record.Execution{},
		tasks:   map[string]map[string]*record.Task{},
		units:   map[record.UnitKey]*record.Unit{},
	}
}

var _ store.Store = (*Store)(nil)

func (s *Store) PutDefinition(_ context.Context, name string, src []byte) (int, error) {
	if len(src) > store.MaxDefinitionBytes {
		return 0, &store.TooLargeError{What: "definition " + name, Size: len(src), Limit: store.MaxDefinitionBytes}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.defs[name]
	if n := len(vs); n > 0 && string(vs[n-1]) == string(src) && !s.deleted(name) {
		return n, nil
	}
	s.defs[name] = append(vs, slices.Clone(src))
	s.updated[name] = time.Now().UTC()
	return len(s.defs[name]), nil
}

// deleted reports whether a definition was deleted and not stored since.
func (s *Store) deleted(name string) bool {
	n, ok := s.gone[name]
	return ok && n == len(s.defs[name])
}

func (s *Store) ListDefinitions(_ context.Context, q store.DefinitionQuery) ([]store.DefinitionInfo, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.defs {
		if strings.HasPrefix(n, q.Prefix) && n > q.Cursor && !s.deleted(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	next := ""
	if len(names) > limit {
		names = names[:limit]
		next = names[limit-1]
	}
	page := make([]store.DefinitionInfo, len(names))
	for i, n := range names {
		page[i] = store.DefinitionInfo{Name: n, Latest: len(s.defs[n]), UpdatedAt: s.updated[n]}
	}
	return page, next, nil
}

func (s *Store) DeleteDefinition(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.defs[name]) == 0 || s.deleted(name) {
		return fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
	}
	s.gone[name] = len(s.defs[name])
	return nil
}

func (s *Store) GetDefinition(_ context.Context, name string, ver int) ([]byte, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.defs[name]
	if ver == 0 {
		if s.deleted(name) {
			return nil, 0, fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
		}
		ver = len(vs)
	}
	if ver < 1 || ver > len(vs) {
		return nil, 0, fmt.Errorf("definition %s v%d: %w", name, ver, store.ErrNotFound)
	}
	return slices.Clone(vs[ver-1]), ver, nil
}

func (s *Store) CreateExecution(_ context.Context, e *record.Execution) error {
	if err := checkSize("execution "+e.ID, e); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.execs[e.ID]; ok {
		return fmt.Errorf("execution %s: %w", e.ID, store.ErrExists)
	}
	s.execs[e.ID] = clone(e)
	return nil
}

func (s *Store) GetExecution(_ context.Context, id string) (*record.Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.execs[id]
	if !ok {
		return nil, fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
	}
	return clone(e), nil
}

func (s *Store) CommitExecution(_ context.Context, e *record.Execution) error {
	if err := checkSize("execution "+e.ID, e); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.execs[e.ID]
	if !ok {
		return fmt.Errorf("commit execution %s: %w", e.ID, store.ErrNotFound)
	}
	if cur.Version != e.Version-1 {
		return fmt.Errorf("commit execution %s at version %d, found %d: %w", e.ID, e.Version, cur.Version, store.ErrConflict)
	}
	s.execs[e.ID] = clone(e)
	return nil
}

func (s *Store) ListExecutions(_ context.Context, q store.ListQuery) ([]*record.Execution, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*record.Execution
	for _, e := range s.execs {
		if q.State != "" && e.State != q.State {
			continue
		}
		if q.TopLevel && e.ParentID != "" {
			continue
		}
		if q.Workflow != "" && e.DefName != q.Workflow && e.Workflow != q.Workflow {
			continue
		}
		if (!q.Since.IsZero() && e.CreatedAt.Before(q.Since)) || (!q.Until.IsZero() && !e.CreatedAt.Before(q.Until)) {
			continue
		}
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.After(all[j].CreatedAt)
		}
		return all[i].ID > all[j].ID
	})
	start := 0
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("list executions: cursor %q: %w", q.Cursor, store.ErrBadCursor)
		}
		start = min(n, len(all))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	end := min(start+limit, len(all))
	page := make([]*record.Execution, 0, end-start)
	for _, e := range all[start:end] {
		page = append(page, clone(e))
	}
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return page, next, nil
}

func (s *Store) CreateTask(_ context.Context, t *record.Task) error {
	if u := t.Unit; u != nil && (u.ExecID != t.ExecID || u.Task != t.Key || u.Item != 0) {
		return fmt.Errorf("task %s/%s: its unit is %s, not item 0 of the task", t.ExecID, t.Key, u.UnitKey)
	}
	if err := checkSize("task "+t.ExecID+"/"+t.Key, t); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.tasks[t.ExecID]
	if m == nil {
		m = map[string]*record.Task{}
		s.tasks[t.ExecID] = m
	}
	if _, ok := m[t.Key]; ok {
		return fmt.Errorf("task %s/%s: %w", t.ExecID, t.Key, store.ErrExists)
	}
	c := clone(t)
	c.Unit = nil
	m[t.Key] = c
	if t.Unit != nil {
		s.units[t.Unit.UnitKey] = clone(t.Unit)
	}
	return nil
}

// task returns a stored task as readers see it: a copy with its unit of
// item 0, settled. Call with s.mu held.
func (s *Store) task(t *record.Task) *record.Task {
	c := clone(t)
	if u, ok := s.units[record.UnitKey{ExecID: t.ExecID, Task: t.Key}]; ok {
		c.Unit = clone(u)
	}
	c.Settle()
	return c
}

// itemOf is what counts towards the size limit of unit k's item: the unit,
// and for item 0 its task too. Call with s.mu held.
func (s *Store) itemOf(u *record.Unit) any {
	if u.Item != 0 {
		return u
	}
	t, ok := s.tasks[u.ExecID][u.Task]
	if !ok {
		return u
	}
	c := *t
	c.Unit = u
	return &c
}

func (s *Store) FinishTask(_ context.Context, t *record.Task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.tasks[t.ExecID][t.Key]
	if !ok {
		return fmt.Errorf("finish task %s/%s: %w", t.ExecID, t.Key, store.ErrNotFound)
	}
	if !cur.Finishable(t.State) {
		return fmt.Errorf("finish task %s/%s: already %s: %w", t.ExecID, t.Key, cur.State, store.ErrConflict)
	}
	next := clone(cur)
	next.State, next.StateInfo = t.State, t.StateInfo
	next.Published, next.Result, next.Error = t.Published, t.Result, t.Error
	next.ChildID, next.FinishedAt = t.ChildID, t.FinishedAt
	whole := *next
	whole.Unit = s.units[record.UnitKey{ExecID: t.ExecID, Task: t.Key}]
	if err := checkSize("task "+t.ExecID+"/"+t.Key, &whole); err != nil {
		return err
	}
	s.tasks[t.ExecID][t.Key] = next
	return nil
}

func (s *Store) GetTask(_ context.Context, execID, key string) (*record.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[execID][key]
	if !ok {
		return nil, fmt.Errorf("task %s/%s: %w", execID, key, store.ErrNotFound)
	}
	return s.task(t), nil
}

func (s *Store) ListTasks(_ context.Context, execID string) ([]*record.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*record.Task, 0, len(s.tasks[execID]))
	for _, t := range s.tasks[execID] {
		out = append(out, s.task(t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

func (s *Store) CreateUnit(_ context.Context, u *record.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[u.ExecID][u.Task]; u.Item == 0 && !ok {
		return fmt.Errorf("unit %s: task %s: %w", u.UnitKey, u.Task, store.ErrNotFound)
	}
	if err := checkSize("unit "+u.UnitKey.String(), s.itemOf(u)); err != nil {
		return err
	}
	if _, ok := s.units[u.UnitKey]; ok {
		return fmt.Errorf("unit %s: %w", u.UnitKey, store.ErrExists)
	}
	s.units[u.UnitKey] = clone(u)
	return nil
}

func (s *Store) GetUnit(_ context.Context, k record.UnitKey) (*record.Unit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[k]
	if !ok {
		return nil, fmt.Errorf("unit %s: %w", k, store.ErrNotFound)
	}
	return clone(u), nil
}

func (s *Store) ListUnits(_ context.Context, execID, task string) ([]*record.Unit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*record.Unit
	for k, u := range s.units {
		if k.ExecID == execID && k.Task == task {
			out = append(out, clone(u))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Item < out[j].Item })
	return out, nil
}

func (s *Store) UpdateUnit(_ context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.units[k]
	if !ok {
		return nil, fmt.Errorf("update unit %s: %w", k, store.ErrNotFound)
	}
	if err := store.Check(cur, x); err != nil {
		return nil, fmt.Errorf("update unit %s: %w", k, err)
	}
	next := clone(cur)
	store.Apply(next, c)
	if err := checkSize("unit "+k.String(), s.itemOf(next)); err != nil {
		return nil, err
	}
	s.units[k] = next
	return clone(next), nil
}

func (s *Store) DueExecutions(_ context.Context, now time.Time, limit int) ([]*record.Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*record.Execution
	for _, e := range s.execs {
		if !e.Due.IsZero() && !e.Due.After(now) {
			out = append(out, clone(e))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.Equal(out[j].Due) {
			return out[i].Due.Before(out[j].Due)
		}
		return out[i].ID < out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *Store) SetDue(_ context.Context, id string, version int64, due time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.execs[id]
	if !ok {
		return fmt.Errorf("set due of execution %s: %w", id, store.ErrNotFound)
	}
	if cur.Version != version {
		return fmt.Errorf("set due of execution %s at version %d, found %d: %w", id, version, cur.Version, store.ErrConflict)
	}
	cur.Due = due
	return nil
}

// clone copies a record so that stored values never alias the caller's:
// the struct by value, its byte slices anew (nil stays nil).
func clone[T record.Execution | record.Task | record.Unit](v *T) *T {
	c := *v
	switch r := any(&c).(type) {
	case *record.Execution:
		r.Input, r.Env, r.Params, r.Output, r.Engine = bytes.Clone(r.Input), bytes.Clone(r.Env), bytes.Clone(r.Params), bytes.Clone(r.Output), bytes.Clone(r.Engine)
	case *record.Task:
		r.Inbound, r.Published, r.Result, r.Error = bytes.Clone(r.Inbound), bytes.Clone(r.Published), bytes.Clone(r.Result), bytes.Clone(r.Error)
		if r.Unit != nil {
			r.Unit = clone(r.Unit)
		}
	case *record.Unit:
		r.Input, r.Result, r.Error = bytes.Clone(r.Input), bytes.Clone(r.Result), bytes.Clone(r.Error)
	}
	return &c
}

func checkSize(what string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(b) > store.MaxItemBytes {
		return &store.TooLargeError{What: what, Size: len(b), Limit: store.MaxItemBytes}
	}
	return nil
}
