package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store/sqlite"
)

// TestMigrateFolded opens a database written by the earlier layout (units
// of item 0 in the units table, no executions.due) and reads it through
// the current one: the units of item 0 are their tasks' units, the others
// stay, and an execution under way is due for a look.
func TestMigrateFolded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE executions (id TEXT PRIMARY KEY, workflow TEXT NOT NULL, def_name TEXT NOT NULL, def_ver INTEGER NOT NULL,
			parent_id TEXT NOT NULL, parent_key TEXT NOT NULL, state TEXT NOT NULL, state_info TEXT NOT NULL, version INTEGER NOT NULL,
			input BLOB, env BLOB, params BLOB, output BLOB, engine BLOB, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
		`CREATE TABLE tasks (exec_id TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
			state_info TEXT NOT NULL, items INTEGER NOT NULL, with_items INTEGER NOT NULL, inbound BLOB, published BLOB, result BLOB,
			error BLOB, child_id TEXT NOT NULL, created_at INTEGER NOT NULL, finished_at INTEGER NOT NULL, PRIMARY KEY (exec_id, key)) WITHOUT ROWID`,
		`CREATE INDEX tasks_by_seq ON tasks (exec_id, seq)`,
		`CREATE TABLE units (exec_id TEXT NOT NULL, task TEXT NOT NULL, item INTEGER NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL,
			fence TEXT NOT NULL, action TEXT NOT NULL, input BLOB, timeout_ns INTEGER NOT NULL, due INTEGER, result BLOB, error BLOB,
			started INTEGER NOT NULL, finished INTEGER NOT NULL, PRIMARY KEY (exec_id, task, item))`,
		`CREATE INDEX units_due ON units (due) WHERE due IS NOT NULL AND state IN ('SCHEDULED', 'DELAYED', 'RUNNING')`,
		`INSERT INTO executions VALUES ('ex', 'wf', 'wf', 1, '', '', 'RUNNING', '', 3, '{}', NULL, NULL, NULL, '{}', 1000, 2000)`,
		`INSERT INTO executions VALUES ('done', 'wf', 'wf', 1, '', '', 'SUCCESS', '', 9, '{}', NULL, NULL, '{}', '{}', 1000, 2000)`,
		`INSERT INTO tasks VALUES ('ex', 'a#1', 'a', 1, 'SUCCESS', '', 1, 0, '{}', '{}', '"r"', NULL, '', 1000, 1500)`,
		`INSERT INTO tasks VALUES ('ex', 'b#1', 'b', 2, 'RUNNING', '', 2, 1, '{}', NULL, NULL, NULL, '', 1600, 0)`,
		`INSERT INTO units VALUES ('ex', 'a#1', 0, 'SUCCESS', 1, 'fa', 'std.echo', '{"output":"r"}', 0, NULL, '"r"', NULL, 1100, 1400)`,
		`INSERT INTO units VALUES ('ex', 'b#1', 0, 'RUNNING', 2, 'fb', 'std.echo', '{}', 0, 90000, NULL, NULL, 1700, 0)`,
		`INSERT INTO units VALUES ('ex', 'b#1', 1, 'SCHEDULED', 1, 'fc', 'std.echo', '{}', 0, 60000, NULL, NULL, 0, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := openStore(t, path)
	ctx := t.Context()
	a, err := s.GetTask(ctx, "ex", "a#1")
	if err != nil {
		t.Fatal(err)
	}
	if a.State != record.Success || string(a.Result) != `"r"` || a.Unit == nil || a.Unit.Fence != "fa" || a.Unit.State != record.Success {
		t.Errorf("task a#1 after migration: %+v, unit %+v", a, a.Unit)
	}
	units, err := s.ListUnits(ctx, "ex", "b#1")
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 2 || units[0].Fence != "fb" || units[0].Attempt != 2 || units[0].State != record.Running || units[1].Fence != "fc" {
		t.Errorf("units of b#1 after migration: %+v", units)
	}
	due, err := s.DueExecutions(ctx, farFuture, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].ID != "ex" {
		t.Errorf("due executions after migration: %v, want the one under way", due)
	}
	// A second open finds nothing to migrate.
	openStore(t, path)
}

var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
