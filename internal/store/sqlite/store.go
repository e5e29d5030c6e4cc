package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/sqlitetx"
	"github.com/borawf/bora/internal/store"
)

// Store is the embedded store.Store. Its calls join the transaction a
// context carries for its database (sqlitetx.Run).
type Store struct {
	db *sql.DB
	st *sqlitetx.Stmts
}

var _ store.Store = (*Store)(nil)

// New returns a store on db, creating its tables if they are missing. The
// caller owns db (see Open) and closes it.
func New(db *sql.DB) (*Store, error) {
	for _, q := range tables {
		if _, err := db.Exec(q); err != nil {
			return nil, fmt.Errorf("create store tables: %w", err)
		}
	}
	if err := migrate(db); err != nil {
		return nil, err
	}
	for _, q := range indexes {
		if _, err := db.Exec(q); err != nil {
			return nil, fmt.Errorf("create store indexes: %w", err)
		}
	}
	s := &Store{db: db, st: sqlitetx.NewStmts(db)}
	if err := s.st.Prepare(context.Background(), statements...); err != nil {
		return nil, fmt.Errorf("prepare store statements: %w", err)
	}
	return s, nil
}

// Existing returns the store of a database that holds one already, without
// creating or changing anything: for a database opened with OpenReadOnly.
func Existing(db *sql.DB) (*Store, error) {
	for _, table := range []string{"definitions", "executions", "tasks", "units"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
			return nil, fmt.Errorf("read store tables: %w", err)
		}
		if n == 0 {
			return nil, fmt.Errorf("the database holds no Bora store (no table %s): nothing has run in it", table)
		}
	}
	return &Store{db: db, st: sqlitetx.NewStmts(db)}, nil
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.st.Exec(ctx, q, args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.st.Query(ctx, q, args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.st.QueryRow(ctx, q, args...)
}

// isSizeCheck reports whether err is a failed item-size CHECK constraint.
func isSizeCheck(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_CHECK && strings.Contains(e.Error(), "_size")
}

// Encoding of values.

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMs encodes a time that is NULL when zero.
func nullMs(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromNullMs(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMs(v.Int64)
}

// blob encodes a JSON value; nil is NULL.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tooLarge checks a size computed like the tables' CHECK constraints.
func tooLarge(what string, size int) error {
	if size > store.MaxItemBytes {
		return &store.TooLargeError{What: what, Size: size, Limit: store.MaxItemBytes}
	}
	return nil
}

func sumLen[T ~string | ~[]byte](vs ...T) int {
	n := itemOverhead
	for _, v := range vs {
		n += len(v)
	}
	return n
}

// Definitions.

// PutDefinition implements store.Store.
func (s *Store) PutDefinition(ctx context.Context, name string, source []byte) (int, error) {
	// A source larger than an item goes in parts (store.EncodeDefinition):
	// the first in the definition's row, the others in definition_parts,
	// written before it.
	parts, err := store.EncodeDefinition("definition "+name, source, store.MaxItemBytes-sumLen(name, "0123456789abcdef"))
	if err != nil {
		return 0, err
	}
	// Read the latest version and write the next one if it is new; a
	// concurrent writer that took that number first makes us look again.
	for {
		src, ver, deleted, err := s.latestDefinition(ctx, name)
		switch {
		case err != nil:
			return 0, err
		case ver > 0 && !deleted && bytes.Equal(src, source):
			return ver, nil
		}
		for i, p := range parts.Parts[1:] {
			if _, err := s.exec(ctx, sqlPutDefinitionPart, name, ver+1, parts.Hash, i+1, p); err != nil {
				return 0, fmt.Errorf("put definition %s part %d: %w", name, i+1, err)
			}
		}
		res, err := s.exec(ctx, sqlPutDefinition, name, ver+1, parts.Parts[0], ms(time.Now()))
		if err != nil {
			if isSizeCheck(err) {
				return 0, &store.TooLargeError{What: "definition " + name, Size: sumLen(name) + len(parts.Parts[0]), Limit: store.MaxItemBytes}
			}
			return 0, fmt.Errorf("put definition %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return ver + 1, nil
		}
		if parts.Hash != "" {
			// Another writer took this version; our parts are of no use.
			if _, err := s.exec(ctx, sqlDeleteDefinitionParts, name, ver+1, parts.Hash); err != nil {
				return 0, fmt.Errorf("put definition %s: %w", name, err)
			}
		}
	}
}

// latestDefinition reads the newest version of a definition, and whether
// the definition was deleted since; version 0 when there is none.
func (s *Store) latestDefinition(ctx context.Context, name string) (src []byte, ver int, deleted bool, err error) {
	err = s.queryRow(ctx, sqlLatestDefinition, name).Scan(&src, &ver, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("get definition %s: %w", name, err)
	}
	if deleted {
		return nil, ver, true, nil
	}
	if src, err = s.source(ctx, name, ver, src); err != nil {
		return nil, 0, false, err
	}
	return src, ver, false, nil
}

// ListDefinitions implements store.Store.
func (s *Store) ListDefinitions(ctx context.Context, q store.DefinitionQuery) ([]store.DefinitionInfo, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	// The prefix is matched as a range of names, so that it needs no
	// escaping: names >= prefix and < prefix with its last byte raised.
	lo, hi := q.Prefix, ""
	if c := q.Cursor + "\x00"; q.Cursor != "" && c > lo {
		lo = c
	}
	if q.Prefix != "" {
		hi = prefixEnd(q.Prefix)
	}
	rows, err := s.query(ctx, sqlListDefinitions, lo, hi, hi, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list definitions: %w", err)
	}
	defer rows.Close()
	var page []store.DefinitionInfo
	for rows.Next() {
		var d store.DefinitionInfo
		var at int64
		if err := rows.Scan(&d.Name, &d.Latest, &at); err != nil {
			return nil, "", fmt.Errorf("list definitions: %w", err)
		}
		d.UpdatedAt = fromMs(at)
		page = append(page, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list definitions: %w", err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].Name
	}
	return page, next, nil
}

// prefixEnd is the least string greater than every string starting with
// prefix ("" when there is none: a prefix of only 0xff bytes).
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// DeleteDefinition implements store.Store.
func (s *Store) DeleteDefinition(ctx context.Context, name string) error {
	_, ver, deleted, err := s.latestDefinition(ctx, name)
	if err != nil {
		return err
	}
	if ver == 0 || deleted {
		return fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
	}
	res, err := s.exec(ctx, sqlDeleteDefinition, name, ver)
	if err != nil {
		return fmt.Errorf("delete definition %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Deleted meanwhile by another caller.
		return fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// GetDefinition implements store.Store.
func (s *Store) GetDefinition(ctx context.Context, name string, version int) ([]byte, int, error) {
	if version == 0 {
		src, ver, deleted, err := s.latestDefinition(ctx, name)
		if err != nil {
			return nil, 0, err
		}
		if ver == 0 || deleted {
			return nil, 0, fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
		}
		return src, ver, nil
	}
	row := s.queryRow(ctx, sqlDefinition, name, version)
	var src []byte
	var ver int
	if err := row.Scan(&src, &ver); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, 0, fmt.Errorf("definition %s version %d: %w", name, version, store.ErrNotFound)
		}
		return nil, 0, fmt.Errorf("get definition %s: %w", name, err)
	}
	src, err := s.source(ctx, name, ver, src)
	if err != nil {
		return nil, 0, err
	}
	return src, ver, nil
}

// source joins a definition's stored parts, from its first.
func (s *Store) source(ctx context.Context, name string, ver int, first []byte) ([]byte, error) {
	n, hash, err := store.PartsOf(first)
	var src []byte
	if err != nil || n == 1 {
		src, err = store.DecodeDefinition([][]byte{first})
	} else {
		src, err = s.definitionParts(ctx, name, ver, hash, first)
	}
	if err != nil {
		return nil, fmt.Errorf("read definition %s version %d: %w", name, ver, err)
	}
	return src, nil
}

// definitionParts reads the parts of a definition after its first and
// joins them.
func (s *Store) definitionParts(ctx context.Context, name string, ver int, hash string, first []byte) ([]byte, error) {
	rows, err := s.query(ctx, sqlDefinitionParts, name, ver, hash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	parts := [][]byte{first}
	for rows.Next() {
		var p []byte
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return store.DecodeDefinition(parts)
}

// Executions.

const execCols = `id, workflow, def_name, def_ver, parent_id, parent_key, state, state_info, version,
	input, env, params, output, engine, due, created_at, updated_at`

func execArgs(e *record.Execution) []any {
	return []any{e.ID, e.Workflow, e.DefName, e.DefVer, e.ParentID, e.ParentKey, string(e.State), e.StateInfo, e.Version,
		blob(e.Input), blob(e.Env), blob(e.Params), blob(e.Output), blob(e.Engine), nullMs(e.Due), ms(e.CreatedAt), ms(e.UpdatedAt)}
}

func execSize(e *record.Execution) int {
	return sumLen(e.ID, e.Workflow, e.DefName, e.ParentID, e.ParentKey, string(e.State), e.StateInfo) - itemOverhead +
		sumLen(e.Input, e.Env, e.Params, e.Output, e.Engine)
}

type scanner interface{ Scan(dest ...any) error }

func scanExec(r scanner) (*record.Execution, error) {
	var e record.Execution
	var state string
	var input, env, params, output, engine []byte
	var due sql.NullInt64
	var created, updated int64
	if err := r.Scan(&e.ID, &e.Workflow, &e.DefName, &e.DefVer, &e.ParentID, &e.ParentKey, &state, &e.StateInfo, &e.Version,
		&input, &env, &params, &output, &engine, &due, &created, &updated); err != nil {
		return nil, err
	}
	e.State = record.ExecState(state)
	e.Due = fromNullMs(due)
	e.Input, e.Env, e.Params, e.Output, e.Engine = input, env, params, output, engine
	e.CreatedAt, e.UpdatedAt = fromMs(created), fromMs(updated)
	return &e, nil
}

// CreateExecution implements store.Store.
func (s *Store) CreateExecution(ctx context.Context, e *record.Execution) error {
	if err := tooLarge("execution "+e.ID, execSize(e)); err != nil {
		return err
	}
	res, err := s.exec(ctx, sqlCreateExecution, execArgs(e)...)
	if err != nil {
		return fmt.Errorf("create execution %s: %w", e.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("create execution %s: %w", e.ID, store.ErrExists)
	}
	return nil
}

// GetExecution implements store.Store.
func (s *Store) GetExecution(ctx context.Context, id string) (*record.Execution, error) {
	e, err := scanExec(s.queryRow(ctx, sqlGetExecution, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
		}
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	return e, nil
}

// CommitExecution implements store.Store.
func (s *Store) CommitExecution(ctx context.Context, e *record.Execution) error {
	if err := tooLarge("execution "+e.ID, execSize(e)); err != nil {
		return err
	}
	// Most steps change neither the state nor the Due: then the write
	// leaves the indexes on them alone.
	res, err := s.exec(ctx, sqlCommitSame, e.StateInfo, e.Version, blob(e.Env), blob(e.Output), blob(e.Engine), ms(e.UpdatedAt),
		e.ID, e.Version-1, string(e.State), nullMs(e.Due))
	if err != nil {
		return fmt.Errorf("commit execution %s: %w", e.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	args := append(execArgs(e)[1:], e.ID, e.Version-1)
	res, err = s.exec(ctx, sqlCommitExecution, args...)
	if err != nil {
		return fmt.Errorf("commit execution %s: %w", e.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var stored int64
	if err := s.queryRow(ctx, sqlExecutionVersion, e.ID).Scan(&stored); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("commit execution %s: %w", e.ID, store.ErrNotFound)
		}
		return fmt.Errorf("commit execution %s: %w", e.ID, err)
	}
	return fmt.Errorf("commit execution %s version %d: stored version is %d: %w", e.ID, e.Version, stored, store.ErrConflict)
}

// DueExecutions implements store.Store.
func (s *Store) DueExecutions(ctx context.Context, now time.Time, limit int) ([]*record.Execution, error) {
	if limit <= 0 {
		limit = defaultListLimit
	}
	rows, err := s.query(ctx, sqlDueExecutions, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list due executions: %w", err)
	}
	defer rows.Close()
	var out []*record.Execution
	for rows.Next() {
		e, err := scanExec(rows)
		if err != nil {
			return nil, fmt.Errorf("list due executions: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list due executions: %w", err)
	}
	return out, nil
}

// SetDue implements store.Store.
func (s *Store) SetDue(ctx context.Context, id string, version int64, due time.Time) error {
	res, err := s.exec(ctx, sqlSetDue, nullMs(due), id, version)
	if err != nil {
		return fmt.Errorf("set due of execution %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var stored int64
	if err := s.queryRow(ctx, sqlExecutionVersion, id).Scan(&stored); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("set due of execution %s: %w", id, store.ErrNotFound)
		}
		return fmt.Errorf("set due of execution %s: %w", id, err)
	}
	return fmt.Errorf("set due of execution %s at version %d: stored version is %d: %w", id, version, stored, store.ErrConflict)
}

const defaultListLimit = 100

// ListExecutions implements store.Store.
func (s *Store) ListExecutions(ctx context.Context, q store.ListQuery) ([]*record.Execution, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	var where []string
	var args []any
	if q.State != "" {
		where = append(where, "state = ?")
		args = append(args, string(q.State))
	}
	if q.TopLevel {
		where = append(where, "parent_id = ''")
	}
	if q.Workflow != "" {
		where = append(where, "(def_name = ? OR workflow = ?)")
		args = append(args, q.Workflow, q.Workflow)
	}
	if !q.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, ms(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, ms(q.Until))
	}
	if q.Cursor != "" {
		at, id, err := parseCursor(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list executions: %w", err)
		}
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, at, id)
	}
	sqlq := `SELECT ` + execCols + ` FROM executions`
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.query(ctx, sqlq, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	var page []*record.Execution
	for rows.Next() {
		e, err := scanExec(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list executions: %w", err)
		}
		page = append(page, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list executions: %w", err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		last := page[limit-1]
		next = makeCursor(ms(last.CreatedAt), last.ID)
	}
	return page, next, nil
}

// A cursor is the position of the last listed head: its creation time and id.
func makeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "|" + id))
}

func parseCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", fmt.Errorf("cursor %q: %w", c, store.ErrBadCursor)
	}
	at, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return 0, "", fmt.Errorf("cursor %q: %w", c, store.ErrBadCursor)
	}
	return n, id, nil
}

// The statements of the store, prepared when it is made (sqlitetx.Stmts).
var (
	sqlPutDefinition = `INSERT INTO definitions (name, version, source, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	sqlPutDefinitionPart = `INSERT INTO definition_parts (name, version, hash, seq, data) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET data = excluded.data`
	sqlDefinitionParts       = `SELECT data FROM definition_parts WHERE name = ? AND version = ? AND hash = ? ORDER BY seq`
	sqlDeleteDefinitionParts = `DELETE FROM definition_parts WHERE name = ? AND version = ? AND hash = ?`
	sqlLatestDefinition      = `SELECT d.source, d.version,
		EXISTS (SELECT 1 FROM definition_deletions x WHERE x.name = d.name AND x.through >= d.version)
		FROM definitions d WHERE d.name = ? ORDER BY d.version DESC LIMIT 1`
	// Definitions by name from ?1 (inclusive) to ?2 (exclusive; '' is
	// open), with their latest version, deleted ones left out.
	sqlListDefinitions = `SELECT d.name, d.version, d.created_at FROM definitions d
		WHERE d.name >= ? AND (? = '' OR d.name < ?)
		AND d.version = (SELECT max(version) FROM definitions WHERE name = d.name)
		AND NOT EXISTS (SELECT 1 FROM definition_deletions x WHERE x.name = d.name AND x.through >= d.version)
		ORDER BY d.name LIMIT ?`
	// A deletion through version ?2, unless one through it is there.
	sqlDeleteDefinition = `INSERT INTO definition_deletions (name, through) VALUES (?1, ?2)
		ON CONFLICT (name) DO UPDATE SET through = excluded.through WHERE through < excluded.through`
	sqlDefinition      = `SELECT source, version FROM definitions WHERE name = ? AND version = ?`
	sqlCreateExecution = `INSERT INTO executions (` + execCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	sqlGetExecution    = `SELECT ` + execCols + ` FROM executions WHERE id = ?`
	sqlCommitExecution = `UPDATE executions SET workflow = ?, def_name = ?, def_ver = ?, parent_id = ?, parent_key = ?,
		state = ?, state_info = ?, version = ?, input = ?, env = ?, params = ?, output = ?, engine = ?,
		due = ?, created_at = ?, updated_at = ?
		WHERE id = ? AND version = ?`
	sqlCommitSame = `UPDATE executions SET state_info = ?, version = ?, env = ?, output = ?, engine = ?, updated_at = ?
		WHERE id = ? AND version = ? AND state = ? AND due IS ?`
	sqlExecutionVersion   = `SELECT version FROM executions WHERE id = ?`
	sqlDueExecutions      = `SELECT ` + execCols + ` FROM executions WHERE due IS NOT NULL AND due <= ? ORDER BY due, id LIMIT ?`
	sqlSetDue             = `UPDATE executions SET due = ? WHERE id = ? AND version = ?`
	sqlCreateTask         = `INSERT INTO tasks (` + taskCols + `) VALUES (?` + strings.Repeat(`, ?`, 15) + `) ON CONFLICT DO NOTHING`
	sqlCreateTaskWithUnit = `INSERT INTO tasks (` + taskCols + `, ` + unitSetCols + `) VALUES (?` + strings.Repeat(`, ?`, 27) + `)
		ON CONFLICT DO NOTHING`
	sqlFinishTask = `UPDATE tasks SET state = ?, state_info = ?, published = ?, result = ?, error = ?,
		child_id = ?, finished_at = ?
		WHERE exec_id = ? AND key = ? AND (state NOT IN ('SUCCESS', 'ERROR', 'CANCELLED', 'SKIPPED')
		OR state = 'ERROR' AND ? = 'SKIPPED')`
	sqlGetTask    = `SELECT ` + taskCols + `, ` + unitZeroCols + ` FROM tasks WHERE exec_id = ? AND key = ?`
	sqlListTasks  = `SELECT ` + taskCols + `, ` + unitZeroCols + ` FROM tasks WHERE exec_id = ? ORDER BY seq, key`
	sqlCreateUnit = `INSERT INTO units (` + unitCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	sqlCreateUnitZero = `UPDATE tasks SET (` + unitSetCols + `) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		WHERE exec_id = ? AND key = ? AND u_state IS NULL`
	sqlListUnits = `SELECT ` + unitZeroCols + ` FROM tasks WHERE exec_id = ? AND key = ? AND u_state IS NOT NULL
		UNION ALL SELECT ` + unitCols + ` FROM units WHERE exec_id = ? AND task = ? ORDER BY 3`

	statements = []string{sqlPutDefinition, sqlPutDefinitionPart, sqlDefinitionParts, sqlDeleteDefinitionParts, sqlLatestDefinition, sqlDefinition, sqlListDefinitions, sqlDeleteDefinition, sqlCreateExecution, sqlGetExecution,
		sqlCommitExecution, sqlCommitSame, sqlExecutionVersion, sqlDueExecutions, sqlSetDue, sqlCreateTask, sqlCreateTaskWithUnit,
		sqlFinishTask, sqlGetTask, sqlListTasks, sqlCreateUnit, sqlCreateUnitZero, sqlListUnits,
		unitsPlace.get, unitsPlace.update, taskPlace.get, taskPlace.update,
		sqlCreateTrigger, sqlGetTrigger, sqlListTriggers, sqlDeleteTrigger, sqlEndTrigger, sqlAdvanceTrigger, sqlTriggerAt}
)

// Tasks.
//
// A task's unit of item 0 lives in the task's row (columns u_state, attempt,
// fence, ... ; u_state is NULL while the task has none), so that a plain
// task is one row, and its size CHECK holds for the two together. Units of
// other items have rows of their own.

const taskCols = `exec_id, key, name, seq, state, state_info, items, with_items, inbound, published, result, error,
	child_id, unit_ends, created_at, finished_at`

// unitZeroCols are the columns of a task row that hold its unit of item 0,
// in the order of unitCols.
const unitZeroCols = `exec_id, key, 0, u_state, attempt, fence, action, input, timeout_ns, due, u_result, u_error,
	no_retry, started, u_finished`

func taskSize(t *record.Task) int {
	n := sumLen(t.ExecID, t.Key, t.Name, string(t.State), t.StateInfo, t.ChildID) - itemOverhead +
		sumLen(t.Inbound, t.Published, t.Result, t.Error)
	if u := t.Unit; u != nil {
		n += unitSize(u) - sumLen(u.ExecID, u.Task) + itemOverhead
	}
	return n
}

func taskWhat(t *record.Task) string { return "task " + t.ExecID + "/" + t.Key }

func scanTask(r scanner) (*record.Task, error) {
	var t record.Task
	var state string
	var withItems, unitEnds int
	var inbound, published, result, errv []byte
	var created, finished int64
	var u unitRow
	dest := []any{&t.ExecID, &t.Key, &t.Name, &t.Seq, &state, &t.StateInfo, &t.Items, &withItems,
		&inbound, &published, &result, &errv, &t.ChildID, &unitEnds, &created, &finished}
	if err := r.Scan(append(dest, u.dest()...)...); err != nil {
		return nil, err
	}
	t.State = record.State(state)
	t.WithItems = withItems != 0
	t.UnitEnds = unitEnds != 0
	t.Inbound, t.Published, t.Result, t.Error = inbound, published, result, errv
	t.CreatedAt, t.FinishedAt = fromMs(created), fromMs(finished)
	t.Unit = u.unit()
	return &t, nil
}

// CreateTask implements store.Store.
func (s *Store) CreateTask(ctx context.Context, t *record.Task) error {
	u := t.Unit
	if u != nil && (u.ExecID != t.ExecID || u.Task != t.Key || u.Item != 0) {
		return fmt.Errorf("create %s: its unit is %s, not item 0 of the task", taskWhat(t), u.UnitKey)
	}
	if err := tooLarge(taskWhat(t), taskSize(t)); err != nil {
		return err
	}
	args := []any{t.ExecID, t.Key, t.Name, t.Seq, string(t.State), t.StateInfo, t.Items, boolInt(t.WithItems),
		blob(t.Inbound), blob(t.Published), blob(t.Result), blob(t.Error), t.ChildID, boolInt(t.UnitEnds), ms(t.CreatedAt), ms(t.FinishedAt)}
	q := sqlCreateTask
	if u != nil {
		q = sqlCreateTaskWithUnit
		args = append(args, unitArgs(u)...)
	}
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("create %s: %w", taskWhat(t), err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("create %s: %w", taskWhat(t), store.ErrExists)
	}
	return nil
}

// FinishTask implements store.Store.
func (s *Store) FinishTask(ctx context.Context, t *record.Task) error {
	res, err := s.exec(ctx, sqlFinishTask,
		string(t.State), t.StateInfo, blob(t.Published), blob(t.Result), blob(t.Error), t.ChildID, ms(t.FinishedAt),
		t.ExecID, t.Key, string(t.State))
	if err != nil && !isSizeCheck(err) {
		return fmt.Errorf("finish %s: %w", taskWhat(t), err)
	}
	if err == nil {
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
	}
	cur, gerr := s.storedTask(ctx, t.ExecID, t.Key)
	if gerr != nil {
		return fmt.Errorf("finish %s: %w", taskWhat(t), gerr)
	}
	if err != nil { // the size check failed
		f := *cur
		f.State, f.StateInfo, f.Published, f.Result, f.Error, f.ChildID = t.State, t.StateInfo, t.Published, t.Result, t.Error, t.ChildID
		return &store.TooLargeError{What: taskWhat(t), Size: taskSize(&f), Limit: store.MaxItemBytes}
	}
	return fmt.Errorf("finish %s: already %s: %w", taskWhat(t), cur.State, store.ErrConflict)
}

// GetTask implements store.Store.
func (s *Store) GetTask(ctx context.Context, execID, key string) (*record.Task, error) {
	t, err := s.storedTask(ctx, execID, key)
	if err != nil {
		return nil, err
	}
	t.Settle()
	return t, nil
}

// storedTask reads a task as stored, not settled.
func (s *Store) storedTask(ctx context.Context, execID, key string) (*record.Task, error) {
	t, err := scanTask(s.queryRow(ctx, sqlGetTask, execID, key))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("task %s/%s: %w", execID, key, store.ErrNotFound)
		}
		return nil, fmt.Errorf("get task %s/%s: %w", execID, key, err)
	}
	return t, nil
}

// ListTasks implements store.Store.
func (s *Store) ListTasks(ctx context.Context, execID string) ([]*record.Task, error) {
	rows, err := s.query(ctx, sqlListTasks, execID)
	if err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", execID, err)
	}
	defer rows.Close()
	var out []*record.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks of %s: %w", execID, err)
		}
		t.Settle()
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", execID, err)
	}
	return out, nil
}

// Units.

const unitCols = `exec_id, task, item, state, attempt, fence, action, input, timeout_ns, due, result, error, no_retry,
	started, finished`

// unitSetCols are the columns a unit's creation sets in a task row, in the
// order of unitArgs.
const unitSetCols = `u_state, attempt, fence, action, input, timeout_ns, due, u_result, u_error, no_retry, started, u_finished`

func unitArgs(u *record.Unit) []any {
	return []any{string(u.State), u.Attempt, u.Fence, u.Action, blob(u.Input), int64(u.Timeout),
		nullMs(u.Due), blob(u.Result), blob(u.Error), boolInt(u.NoRetry), ms(u.Started), ms(u.Finished)}
}

func unitSize(u *record.Unit) int {
	return sumLen(u.ExecID, u.Task, string(u.State), u.Fence, u.Action) - itemOverhead + sumLen(u.Input, u.Result, u.Error)
}

func unitWhat(k record.UnitKey) string { return "unit " + k.String() }

// unitRow scans the unit columns, which are all NULL in a task row whose
// task has no unit.
type unitRow struct {
	execID, task, state, fence, action sql.NullString
	item, attempt, timeout, noRetry    sql.NullInt64
	started, finished, due             sql.NullInt64
	input, result, errv                []byte
}

func (r *unitRow) dest() []any {
	return []any{&r.execID, &r.task, &r.item, &r.state, &r.attempt, &r.fence, &r.action, &r.input, &r.timeout, &r.due,
		&r.result, &r.errv, &r.noRetry, &r.started, &r.finished}
}

func (r *unitRow) unit() *record.Unit {
	if !r.state.Valid {
		return nil
	}
	return &record.Unit{
		UnitKey:  record.UnitKey{ExecID: r.execID.String, Task: r.task.String, Item: int(r.item.Int64)},
		State:    record.State(r.state.String),
		Attempt:  int(r.attempt.Int64),
		Fence:    r.fence.String,
		Action:   r.action.String,
		Input:    r.input,
		Timeout:  time.Duration(r.timeout.Int64),
		Due:      fromNullMs(r.due),
		Result:   r.result,
		Error:    r.errv,
		NoRetry:  r.noRetry.Int64 != 0,
		Started:  fromMs(r.started.Int64),
		Finished: fromMs(r.finished.Int64),
	}
}

// scanUnit scans one row of unit columns (of a units row, or the unit part
// of a task row); sql.ErrNoRows when the task row has no unit.
func scanUnit(r scanner) (*record.Unit, error) {
	var row unitRow
	if err := r.Scan(row.dest()...); err != nil {
		return nil, err
	}
	u := row.unit()
	if u == nil {
		return nil, sql.ErrNoRows
	}
	return u, nil
}

// place is where a unit's row is: the units table, or its task's row.
type place struct {
	get, update string // the unit's SELECT and its UpdateUnit statement
	args        func(k record.UnitKey) []any
}

var (
	unitsPlace = newPlace("units", `exec_id = ?11 AND task = ?12 AND item = ?24`,
		"state", "result", "error", "finished", unitCols,
		func(k record.UnitKey) []any { return []any{k.ExecID, k.Task, k.Item} })
	taskPlace = newPlace("tasks", `exec_id = ?11 AND key = ?12 AND ?24 = 0 AND u_state IS NOT NULL`,
		"u_state", "u_result", "u_error", "u_finished", unitZeroCols,
		func(k record.UnitKey) []any { return []any{k.ExecID, k.Task, 0} })
)

// newPlace builds the statements of a unit's place. The key is bound to
// ?11, ?12 and ?24, as UpdateUnit numbers its arguments.
func newPlace(table, where, state, result, errv, finished, cols string, key func(record.UnitKey) []any) place {
	get := strings.NewReplacer("?11", "?1", "?12", "?2", "?24", "?3").Replace(where)
	return place{
		get: `SELECT ` + cols + ` FROM ` + table + ` WHERE ` + get,
		// One statement for every change (UpdateUnit's arguments): a NULL
		// leaves a column alone; ?10 clears the outcome; ?13 accepts any
		// state, else the state must be one of ?14 … ?21; with ?25 a
		// RUNNING unit must hold a result (record.Expect.Awaiting).
		update: `UPDATE ` + table + ` SET ` + state + ` = ?1, due = ?2,
			attempt = coalesce(?3, attempt), fence = coalesce(?4, fence), started = coalesce(?5, started),
			` + finished + ` = coalesce(?6, ` + finished + `),
			` + result + ` = CASE WHEN ?7 IS NOT NULL THEN ?7 WHEN ?10 THEN NULL ELSE ` + result + ` END,
			` + errv + ` = CASE WHEN ?8 IS NOT NULL THEN ?8 WHEN ?10 THEN NULL ELSE ` + errv + ` END,
			no_retry = CASE WHEN ?9 THEN 1 WHEN ?10 THEN 0 ELSE no_retry END
			WHERE ` + where + ` AND (?13 OR ` + state + ` IN (?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21))
			AND (?22 = 0 OR attempt = ?22) AND (?23 = '' OR fence = ?23)
			AND (NOT ?25 OR ` + state + ` <> '` + string(record.Running) + `' OR coalesce(length(` + result + `), 0) > 0)
			RETURNING ` + cols,
		args: key,
	}
}

func placeOf(k record.UnitKey) place {
	if k.Item == 0 {
		return taskPlace
	}
	return unitsPlace
}

// CreateUnit implements store.Store.
func (s *Store) CreateUnit(ctx context.Context, u *record.Unit) error {
	if u.Item == 0 {
		return s.createUnitZero(ctx, u)
	}
	if err := tooLarge(unitWhat(u.UnitKey), unitSize(u)); err != nil {
		return err
	}
	res, err := s.exec(ctx, sqlCreateUnit,
		append([]any{u.ExecID, u.Task, u.Item}, unitArgs(u)...)...)
	if err != nil {
		return fmt.Errorf("create %s: %w", unitWhat(u.UnitKey), err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("create %s: %w", unitWhat(u.UnitKey), store.ErrExists)
	}
	return nil
}

// createUnitZero adds a unit of item 0 to its task's row.
func (s *Store) createUnitZero(ctx context.Context, u *record.Unit) error {
	what := unitWhat(u.UnitKey)
	res, err := s.exec(ctx, sqlCreateUnitZero, append(unitArgs(u), u.ExecID, u.Task)...)
	if err != nil && !isSizeCheck(err) {
		return fmt.Errorf("create %s: %w", what, err)
	}
	if err == nil {
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
	}
	t, gerr := s.storedTask(ctx, u.ExecID, u.Task)
	switch {
	case gerr != nil:
		return fmt.Errorf("create %s: %w", what, gerr)
	case err != nil:
		t.Unit = u
		return &store.TooLargeError{What: what, Size: taskSize(t), Limit: store.MaxItemBytes}
	}
	return fmt.Errorf("create %s: %w", what, store.ErrExists)
}

// GetUnit implements store.Store.
func (s *Store) GetUnit(ctx context.Context, k record.UnitKey) (*record.Unit, error) {
	p := placeOf(k)
	u, err := scanUnit(s.queryRow(ctx, p.get, p.args(k)...))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%s: %w", unitWhat(k), store.ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", unitWhat(k), err)
	}
	return u, nil
}

// ListUnits implements store.Store.
func (s *Store) ListUnits(ctx context.Context, execID, task string) ([]*record.Unit, error) {
	return s.units(ctx, fmt.Sprintf("list units of %s/%s", execID, task), sqlListUnits, execID, task, execID, task)
}

func (s *Store) units(ctx context.Context, op, q string, args ...any) ([]*record.Unit, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []*record.Unit
	for rows.Next() {
		u, err := scanUnit(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// UpdateUnit implements store.Store: one UPDATE … WHERE <expect> RETURNING.
func (s *Store) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	p := placeOf(k)
	if len(x.States) > 8 {
		return nil, fmt.Errorf("update %s: %d expected states, at most 8", unitWhat(k), len(x.States))
	}
	orNull := func(ok bool, v any) any {
		if ok {
			return v
		}
		return nil
	}
	args := make([]any, 25)
	args[0], args[1] = string(c.State), nullMs(c.Due)
	args[2] = orNull(c.Attempt != 0, c.Attempt)
	args[3] = orNull(c.Fence != "", c.Fence)
	args[4] = orNull(!c.Started.IsZero(), ms(c.Started))
	args[5] = orNull(!c.Finished.IsZero(), ms(c.Finished))
	args[6], args[7] = blob(c.Result), blob(c.Error)
	args[8], args[9] = boolInt(c.NoRetry), boolInt(c.ClearOutcome)
	key := p.args(k)
	args[10], args[11], args[23] = key[0], key[1], key[2]
	args[12] = boolInt(len(x.States) == 0)
	for i := range 8 {
		args[13+i] = ""
		if len(x.States) > 0 {
			args[13+i] = string(x.States[min(i, len(x.States)-1)])
		}
	}
	args[21], args[22] = x.Attempt, x.Fence
	args[24] = boolInt(x.Awaiting)

	var u *record.Unit
	rows, err := s.query(ctx, p.update, args...)
	if err == nil && rows.Next() {
		u, err = scanUnit(rows)
	}
	if rows != nil {
		if err == nil {
			err = rows.Err()
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
	}
	if u != nil && err == nil {
		return u, nil
	}
	if err != nil && !isSizeCheck(err) {
		return nil, fmt.Errorf("update %s: %w", unitWhat(k), err)
	}

	// Nothing was written: say why.
	cur, gerr := s.GetUnit(ctx, k)
	if gerr != nil {
		return nil, fmt.Errorf("update %s: %w", unitWhat(k), gerr)
	}
	if err != nil {
		store.Apply(cur, c)
		size := unitSize(cur)
		if k.Item == 0 {
			if t, terr := s.storedTask(ctx, k.ExecID, k.Task); terr == nil {
				t.Unit = cur
				size = taskSize(t)
			}
		}
		return nil, &store.TooLargeError{What: unitWhat(k), Size: size, Limit: store.MaxItemBytes}
	}
	if cerr := store.Check(cur, x); cerr != nil {
		return nil, fmt.Errorf("update %s: %w", unitWhat(k), cerr)
	}
	// It matches now: it did not when the update ran.
	return nil, fmt.Errorf("update %s: changed concurrently: %w", unitWhat(k), store.ErrConflict)
}
