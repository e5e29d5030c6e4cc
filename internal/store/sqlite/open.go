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
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens (creating if missing) the SQLite database at path for Bora's
// store and queues: WAL journal, synchronous=NORMAL (a commit survives a
// process crash; only an OS crash or power loss can lose the last commits),
// a busy timeout for other processes' writes, and immediate transactions.
//
// The pool holds one connection. SQLite admits one writer at a time anyway;
// one connection makes the goroutines of this process queue in Go instead of
// polling SQLite's lock with sleeps, which is what a busy timeout does.
// Other processes are coordinated by SQLite's file locks.
func Open(path string) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite: bad path %q", path)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(OFF)")
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
	return db, nil
}
