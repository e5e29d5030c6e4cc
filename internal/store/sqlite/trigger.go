package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

const triggerCols = `name, id, pattern, workflow_name, def_name, workflow, input, env, first_at, remaining, next_at, created_at`

var (
	sqlCreateTrigger = `INSERT INTO triggers (` + triggerCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	sqlGetTrigger    = `SELECT ` + triggerCols + ` FROM triggers WHERE name = ?`
	sqlListTriggers  = `SELECT ` + triggerCols + ` FROM triggers WHERE name > ? ORDER BY name LIMIT ?`
	sqlDeleteTrigger = `DELETE FROM triggers WHERE name = ?`
	// sqlEndTrigger records a trigger's last fire: it deletes it.
	sqlEndTrigger = `DELETE FROM triggers WHERE name = ? AND id = ? AND next_at = ? AND (? OR remaining = 1)`
	// sqlAdvanceTrigger records any other fire.
	sqlAdvanceTrigger = `UPDATE triggers SET next_at = ?, remaining = max(remaining - 1, 0)
		WHERE name = ? AND id = ? AND next_at = ? AND remaining != 1`
	sqlTriggerAt = `SELECT id, next_at FROM triggers WHERE name = ?`
)

func triggerSize(t *record.Trigger) int {
	return sumLen(t.Name, t.ID, t.Pattern, t.WorkflowName, t.DefName, t.Workflow) + len(t.Input) + len(t.Env)
}

// CreateTrigger implements store.Store.
func (s *Store) CreateTrigger(ctx context.Context, t *record.Trigger) error {
	if err := tooLarge("trigger "+t.Name, triggerSize(t)); err != nil {
		return err
	}
	res, err := s.exec(ctx, sqlCreateTrigger, t.Name, t.ID, t.Pattern, t.WorkflowName, t.DefName, t.Workflow,
		blob(t.Input), blob(t.Env), nullMs(t.FirstExecution), t.Remaining, ms(t.Next), ms(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("create trigger %s: %w", t.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("create trigger %s: %w", t.Name, store.ErrExists)
	}
	return nil
}

func scanTrigger(row interface{ Scan(...any) error }) (*record.Trigger, error) {
	var t record.Trigger
	var first sql.NullInt64
	var next, created int64
	var input, env []byte
	if err := row.Scan(&t.Name, &t.ID, &t.Pattern, &t.WorkflowName, &t.DefName, &t.Workflow,
		&input, &env, &first, &t.Remaining, &next, &created); err != nil {
		return nil, err
	}
	t.Input, t.Env = input, env
	t.FirstExecution, t.Next, t.CreatedAt = fromNullMs(first), fromMs(next), fromMs(created)
	return &t, nil
}

// GetTrigger implements store.Store.
func (s *Store) GetTrigger(ctx context.Context, name string) (*record.Trigger, error) {
	t, err := scanTrigger(s.queryRow(ctx, sqlGetTrigger, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("trigger %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get trigger %s: %w", name, err)
	}
	return t, nil
}

// ListTriggers implements store.Store. The cursor is the last name of the
// previous page.
func (s *Store) ListTriggers(ctx context.Context, q store.TriggerQuery) ([]*record.Trigger, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.query(ctx, sqlListTriggers, q.Cursor, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list triggers: %w", err)
	}
	defer rows.Close()
	var page []*record.Trigger
	for rows.Next() {
		t, err := scanTrigger(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list triggers: %w", err)
		}
		page = append(page, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list triggers: %w", err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].Name
	}
	return page, next, nil
}

// DeleteTrigger implements store.Store.
func (s *Store) DeleteTrigger(ctx context.Context, name string) error {
	res, err := s.exec(ctx, sqlDeleteTrigger, name)
	if err != nil {
		return fmt.Errorf("delete trigger %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete trigger %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// AdvanceTrigger implements store.Store.
func (s *Store) AdvanceTrigger(ctx context.Context, t *record.Trigger, next time.Time) error {
	what := fmt.Sprintf("trigger %s fired at %s", t.Name, t.Next.UTC().Format(time.RFC3339))
	res, err := s.exec(ctx, sqlEndTrigger, t.Name, t.ID, ms(t.Next), next.IsZero())
	if err != nil {
		return fmt.Errorf("record %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if !next.IsZero() {
		res, err := s.exec(ctx, sqlAdvanceTrigger, ms(next), t.Name, t.ID, ms(t.Next))
		if err != nil {
			return fmt.Errorf("record %s: %w", what, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
	}
	var id string
	var at int64
	switch err := s.queryRow(ctx, sqlTriggerAt, t.Name).Scan(&id, &at); {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("record %s: %w", what, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("record %s: %w", what, err)
	}
	return fmt.Errorf("record %s: it fires next at %s: %w", what, fromMs(at).Format(time.RFC3339), store.ErrConflict)
}
