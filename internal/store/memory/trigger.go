package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

func cloneTrigger(t *record.Trigger) *record.Trigger {
	c := *t
	c.Input, c.Env = bytes.Clone(t.Input), bytes.Clone(t.Env)
	return &c
}

func (s *Store) CreateTrigger(_ context.Context, t *record.Trigger) error {
	if err := checkSize("trigger "+t.Name, t); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trigs == nil {
		s.trigs = map[string]*record.Trigger{}
	}
	if _, ok := s.trigs[t.Name]; ok {
		return fmt.Errorf("trigger %s: %w", t.Name, store.ErrExists)
	}
	s.trigs[t.Name] = cloneTrigger(t)
	return nil
}

func (s *Store) GetTrigger(_ context.Context, name string) (*record.Trigger, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trigs[name]
	if !ok {
		return nil, fmt.Errorf("trigger %s: %w", name, store.ErrNotFound)
	}
	return cloneTrigger(t), nil
}

func (s *Store) ListTriggers(_ context.Context, q store.TriggerQuery) ([]*record.Trigger, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.trigs))
	for n := range s.trigs {
		if n > q.Cursor {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, strings.Compare)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	next := ""
	if len(names) > limit {
		names, next = names[:limit], names[limit-1]
	}
	page := make([]*record.Trigger, len(names))
	for i, n := range names {
		page[i] = cloneTrigger(s.trigs[n])
	}
	return page, next, nil
}

func (s *Store) DeleteTrigger(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.trigs[name]; !ok {
		return fmt.Errorf("delete trigger %s: %w", name, store.ErrNotFound)
	}
	delete(s.trigs, name)
	return nil
}

func (s *Store) AdvanceTrigger(_ context.Context, t *record.Trigger, next time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.trigs[t.Name]
	switch {
	case !ok:
		return fmt.Errorf("advance trigger %s: %w", t.Name, store.ErrNotFound)
	case cur.ID != t.ID || !cur.Next.Equal(t.Next):
		return fmt.Errorf("advance trigger %s from %s: it fires next at %s: %w", t.Name, t.Next.Format(time.RFC3339), cur.Next.Format(time.RFC3339), store.ErrConflict)
	case next.IsZero() || cur.Remaining == 1:
		delete(s.trigs, t.Name)
		return nil
	}
	cur.Next = next
	if cur.Remaining > 0 {
		cur.Remaining--
	}
	return nil
}
