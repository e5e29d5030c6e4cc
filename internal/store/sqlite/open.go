// Package sqlite is the embedded Store: every record in one SQLite file
// (pure Go, modernc.org/sqlite) in WAL mode.
//
// Each conditional write is one SQL statement (INSERT … ON CONFLICT DO
// NOTHING, UPDATE … WHERE … RETURNING), so it has the all-or-nothing,
// condition-checked semantics of a DynamoDB conditional write, and a process
// killed at any point leaves every write either done or not done. Items are
// held to store.MaxItemBytes, counted as the bytes of their keys and values
// plus a fixed allowance for attribute names and numbers, by CHECK
// constraints, so an oversized update fails in the same statement.
package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// AppID is the application_id Bora marks its databases with ("Bora").
const AppID = 0x426f7261

// ErrNotBora is wrapped by the error of opening a database that belongs to
// another application.
var ErrNotBora = errors.New("not a Bora database")

// ownTables are the tables Bora's store and queues create: a database
// holding only these (and SQLite's own) was made by Bora, marked or not.
var ownTables = []string{"definitions", "definition_parts", "definition_deletions", "executions", "tasks", "units", "triggers", "queue_messages", "queue_dedup"}

// Open opens (creating if missing) the SQLite database at path for Bora's
// store and queues: WAL journal, synchronous=NORMAL (a commit survives a
// process crash; only an OS crash or power loss can lose the last commits),
// a busy timeout for other processes' writes, and immediate transactions.
// The WAL is folded back into the database (a checkpoint, SQLite's only
// fsync in this mode) once it holds 8,000 pages (32 MB) rather than
// SQLite's 1,000: a busy engine rewrites the same few pages, so a rarer
// checkpoint copies each of them once for many commits (a 1,000-task
// chain: 14 fsyncs instead of 59).
//
// The pool holds one connection. SQLite admits one writer at a time anyway;
// one connection makes the goroutines of this process queue in Go instead of
// polling SQLite's lock with sleeps, which is what a busy timeout does.
// Other processes are coordinated by SQLite's file locks.
func Open(path string) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite: bad path %q", path)
	}
	// Before anything is set on it (the journal mode changes the file), a
	// file that exists must be Bora's.
	if _, err := os.Stat(path); err == nil {
		db, err := OpenReadOnly(path)
		if err != nil {
			return nil, err
		}
		db.Close()
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(OFF)")
	q.Add("_pragma", "wal_autocheckpoint(8000)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := claim(db, path, true); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenReadOnly opens an existing Bora database for reading only (bora
// show): it writes nothing, creates nothing, and works on a file the
// process may not write, or in a directory it may not write (then as an
// unchanging snapshot, should SQLite be unable to share the log).
func OpenReadOnly(path string) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite: bad path %q", path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	var errs []error
	for _, extra := range []string{"", "&immutable=1"} {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "query_only(1)")
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&"+q.Encode()+extra)
		if err == nil {
			db.SetMaxOpenConns(1)
			if err = db.Ping(); err == nil {
				if err = claim(db, path, false); err != nil {
					db.Close()
					return nil, err
				}
				if _, err = db.Exec(`SELECT count(*) FROM sqlite_master`); err == nil {
					return db, nil
				}
			}
			db.Close()
		}
		if len(errs) == 0 || err.Error() != errs[0].Error() {
			errs = append(errs, err)
		}
	}
	return nil, fmt.Errorf("open sqlite %s read-only: %w", path, errors.Join(errs...))
}

// claim checks that the database is Bora's: marked with AppID, or new, or
// holding only Bora's tables (made by a Bora from before the mark). With
// mark, an unmarked one is marked. Another application's database is
// refused as it is: Bora does not add its tables to it.
func claim(db *sql.DB, path string, mark bool) error {
	var id int64
	if err := db.QueryRow(`PRAGMA application_id`).Scan(&id); err != nil {
		return fmt.Errorf("open sqlite %s: read its application_id: %w", path, err)
	}
	switch {
	case id == AppID:
		return nil
	case id != 0:
		return fmt.Errorf("%s is %w: it belongs to another application (its application_id is %#x); give Bora a file of its own", path, ErrNotBora, id)
	}
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("open sqlite %s: list its tables: %w", path, err)
	}
	var others []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("open sqlite %s: list its tables: %w", path, err)
		}
		if !slices.Contains(ownTables, name) {
			others = append(others, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("open sqlite %s: list its tables: %w", path, err)
	}
	if len(others) > 0 {
		word := "table"
		if len(others) > 1 {
			word = "tables"
		}
		if len(others) > 5 {
			others = append(others[:5], "…")
		}
		return fmt.Errorf("%s is %w: it holds the %s %s of another application; give Bora a file of its own", path, ErrNotBora, word, strings.Join(others, ", "))
	}
	if !mark {
		return nil
	}
	if _, err := db.Exec(fmt.Sprintf(`PRAGMA application_id = %d`, AppID)); err != nil {
		return fmt.Errorf("open sqlite %s: mark it as Bora's: %w", path, err)
	}
	return nil
}
