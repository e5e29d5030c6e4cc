package sqlite

import (
	"fmt"
	"strings"

	"github.com/borawf/bora/internal/store"
)

// itemOverhead is what an item is counted for beyond the bytes of its
// strings and JSON values: DynamoDB also counts attribute names, numbers
// and times. It is a fixed allowance so that the count is simple to state.
const itemOverhead = 200

// sizeCheck is a CHECK constraint holding a row to store.MaxItemBytes.
func sizeCheck(name string, text, blob []string) string {
	var terms []string
	for _, c := range text {
		terms = append(terms, "coalesce(octet_length("+c+"), 0)")
	}
	for _, c := range blob {
		terms = append(terms, "coalesce(length("+c+"), 0)")
	}
	return fmt.Sprintf("CONSTRAINT %s CHECK (%s + %d <= %d)", name, strings.Join(terms, " + "), itemOverhead, store.MaxItemBytes)
}

// Times are Unix milliseconds (a zero time.Time is its own value, which
// round-trips), except executions.due and the units' due, which are NULL when
// zero, so that the index of due executions holds only those the reconciler
// must look at.
var tables = []string{
	`CREATE TABLE IF NOT EXISTS definitions (
		name       TEXT NOT NULL,
		version    INTEGER NOT NULL,
		source     BLOB NOT NULL,
		created_at INTEGER NOT NULL,
		PRIMARY KEY (name, version),
		` + sizeCheck("definition_size", []string{"name"}, []string{"source"}) + `
	) WITHOUT ROWID`,
	// The parts of a definition stored in several (store.EncodeDefinition)
	// beyond the first, which is the definition's source column.
	`CREATE TABLE IF NOT EXISTS definition_parts (
		name    TEXT NOT NULL,
		version INTEGER NOT NULL,
		hash    TEXT NOT NULL,
		seq     INTEGER NOT NULL,
		data    BLOB NOT NULL,
		PRIMARY KEY (name, version, hash, seq),
		` + sizeCheck("definition_part_size", []string{"name", "hash"}, []string{"data"}) + `
	) WITHOUT ROWID`,

	// A deleted definition: its versions up to through are hidden from
	// the latest-version read and the listing, not from reads by number.
	`CREATE TABLE IF NOT EXISTS definition_deletions (
		name    TEXT PRIMARY KEY,
		through INTEGER NOT NULL
	) WITHOUT ROWID`,

	`CREATE TABLE IF NOT EXISTS executions (
		id         TEXT PRIMARY KEY,
		workflow   TEXT NOT NULL,
		def_name   TEXT NOT NULL,
		def_ver    INTEGER NOT NULL,
		parent_id  TEXT NOT NULL,
		parent_key TEXT NOT NULL,
		state      TEXT NOT NULL,
		state_info TEXT NOT NULL,
		version    INTEGER NOT NULL,
		input      BLOB,
		env        BLOB,
		params     BLOB,
		output     BLOB,
		engine     BLOB,
		due        INTEGER,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		` + sizeCheck("execution_size",
		[]string{"id", "workflow", "def_name", "parent_id", "parent_key", "state", "state_info"},
		[]string{"input", "env", "params", "output", "engine"}) + `
	)`,

	tasksTable("tasks"),

	`CREATE TABLE IF NOT EXISTS triggers (
		name          TEXT PRIMARY KEY,
		id            TEXT NOT NULL,
		pattern       TEXT NOT NULL,
		workflow_name TEXT NOT NULL,
		def_name      TEXT NOT NULL,
		workflow      TEXT NOT NULL,
		input         BLOB,
		env           BLOB,
		first_at      INTEGER,
		remaining     INTEGER NOT NULL,
		next_at       INTEGER NOT NULL,
		created_at    INTEGER NOT NULL,
		` + sizeCheck("trigger_size",
		[]string{"name", "id", "pattern", "workflow_name", "def_name", "workflow"},
		[]string{"input", "env"}) + `
	) WITHOUT ROWID`,

	`CREATE TABLE IF NOT EXISTS units (
		exec_id    TEXT NOT NULL,
		task       TEXT NOT NULL,
		item       INTEGER NOT NULL,
		state      TEXT NOT NULL,
		attempt    INTEGER NOT NULL,
		fence      TEXT NOT NULL,
		action     TEXT NOT NULL,
		input      BLOB,
		timeout_ns INTEGER NOT NULL,
		due        INTEGER,
		result     BLOB,
		error      BLOB,
		no_retry   INTEGER NOT NULL DEFAULT 0,
		started    INTEGER NOT NULL,
		finished   INTEGER NOT NULL,
		PRIMARY KEY (exec_id, task, item),
		` + sizeCheck("unit_size",
		[]string{"exec_id", "task", "state", "fence", "action"},
		[]string{"input", "result", "error"}) + `
	)`,
}

// tasksTable creates a tasks table: a task execution, and in the u_state …
// u_finished columns its unit of item 0 (all NULL while it has none). The
// size CHECK counts both, as DynamoDB counts the one item they share.
func tasksTable(name string) string {
	return `CREATE TABLE IF NOT EXISTS ` + name + ` (
		exec_id     TEXT NOT NULL,
		key         TEXT NOT NULL,
		name        TEXT NOT NULL,
		seq         INTEGER NOT NULL,
		state       TEXT NOT NULL,
		state_info  TEXT NOT NULL,
		items       INTEGER NOT NULL,
		with_items  INTEGER NOT NULL,
		inbound     BLOB,
		published   BLOB,
		result      BLOB,
		error       BLOB,
		child_id    TEXT NOT NULL,
		unit_ends   INTEGER NOT NULL DEFAULT 0,
		created_at  INTEGER NOT NULL,
		finished_at INTEGER NOT NULL,
		u_state     TEXT,
		attempt     INTEGER,
		fence       TEXT,
		action      TEXT,
		input       BLOB,
		timeout_ns  INTEGER,
		due         INTEGER,
		u_result    BLOB,
		u_error     BLOB,
		no_retry    INTEGER,
		started     INTEGER,
		u_finished  INTEGER,
		PRIMARY KEY (exec_id, key),
		` + sizeCheck("task_size",
		[]string{"exec_id", "key", "name", "state", "state_info", "child_id", "u_state", "fence", "action"},
		[]string{"inbound", "published", "result", "error", "input", "u_result", "u_error"}) + `
	) WITHOUT ROWID`
}

// indexes are created after the tables are migrated (migrate).
var indexes = []string{
	`CREATE INDEX IF NOT EXISTS executions_by_state ON executions (state, created_at DESC, id DESC)`,
	`CREATE INDEX IF NOT EXISTS executions_by_time ON executions (created_at DESC, id DESC)`,
	`CREATE INDEX IF NOT EXISTS executions_due ON executions (due) WHERE due IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS tasks_by_seq ON tasks (exec_id, seq)`,
	// Units are found through their executions now (executions_due).
	`DROP INDEX IF EXISTS units_due`,
}
