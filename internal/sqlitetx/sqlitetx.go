// Package sqlitetx runs the calls of Bora's SQLite store and queues that
// share one database in one transaction, carried by a context: the writes
// of an engine step, its commit, the messages it sends and the deletion of
// the event it applied commit together; so do a task's outcome and the
// event that announces it. One transaction costs one lock and one append
// to the write-ahead log, however many statements it holds, which is what
// a write costs embedded.
//
// The adapters run every statement through Stmts, which uses the
// transaction a context carries for their database, and the database
// otherwise.
package sqlitetx

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

type key struct{ db *sql.DB }

// txn is a transaction and what waits for its end.
type txn struct {
	tx    *sql.Tx
	mu    sync.Mutex
	after []func(committed bool)
}

// Run runs fn with a context that carries one transaction on db, and
// commits it when fn returns nil (rolls it back otherwise). When ctx
// already carries a transaction on db, fn runs in it, and the outer Run
// commits.
func Run(ctx context.Context, db *sql.DB, fn func(ctx context.Context) error) (err error) {
	if From(ctx, db) != nil {
		return fn(ctx)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := &txn{tx: tx}
	defer func() {
		t.mu.Lock()
		after := t.after
		t.mu.Unlock()
		for _, f := range after {
			f(err == nil)
		}
	}()
	if err := fn(context.WithValue(ctx, key{db}, t)); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// After calls f once the transaction ctx carries on db has ended, telling
// whether it committed; without a transaction, at once, as committed.
func After(ctx context.Context, db *sql.DB, f func(committed bool)) {
	t, _ := ctx.Value(key{db}).(*txn)
	if t == nil {
		f(true)
		return
	}
	t.mu.Lock()
	t.after = append(t.after, f)
	t.mu.Unlock()
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// From returns the transaction ctx carries on db, or nil.
func From(ctx context.Context, db *sql.DB) *sql.Tx {
	if t, _ := ctx.Value(key{db}).(*txn); t != nil {
		return t.tx
	}
	return nil
}

// Stmts are the prepared statements of one database, each prepared once
// and run on the database or, within a transaction Run started, on it.
// Statements must be prepared before they are first run in a transaction
// (Prepare, when the adapter is made): the pool of Bora's database holds
// one connection, which the transaction has; one that is not is prepared
// on the transaction for that run.
type Stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// NewStmts returns the statements of db.
func NewStmts(db *sql.DB) *Stmts { return &Stmts{db: db, m: map[string]*sql.Stmt{}} }

// Prepare prepares statements ahead of their use.
func (s *Stmts) Prepare(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if _, ok := s.m[q]; ok {
			st.Close()
		} else {
			s.m[q] = st
		}
		s.mu.Unlock()
	}
	return nil
}

// stmt returns q prepared for ctx, and what to do once it has run.
func (s *Stmts) stmt(ctx context.Context, q string) (*sql.Stmt, func(), error) {
	tx := From(ctx, s.db)
	s.mu.Lock()
	st, ok := s.m[q]
	s.mu.Unlock()
	switch {
	case ok && tx != nil:
		return tx.StmtContext(ctx, st), func() {}, nil
	case ok:
		return st, func() {}, nil
	case tx != nil:
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		return st, func() { st.Close() }, nil
	}
	if err := s.Prepare(ctx, q); err != nil {
		return nil, nil, err
	}
	return s.stmt(ctx, q)
}

// Exec runs a statement.
func (s *Stmts) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, done, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	defer done()
	return st.ExecContext(s.running(ctx), args...)
}

// running is the context a statement runs under: within a transaction, one
// that is never cancelled. The transaction took the database's write lock
// when it began, under ctx, and ends when ctx does (database/sql rolls it
// back, and its later statements fail); a statement of it, which waits for
// no lock, runs to its end. Without a context that can end, the SQLite
// driver starts no goroutine per statement to watch it.
func (s *Stmts) running(ctx context.Context) context.Context {
	if From(ctx, s.db) != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// Query runs a query; close its rows.
func (s *Stmts) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, done, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(s.running(ctx), args...)
	if err != nil {
		done()
		return nil, err
	}
	// A statement prepared for this run only is closed with its
	// transaction; rows keep it open until then.
	return rows, nil
}

// QueryRow runs a query of one row.
func (s *Stmts) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, _, err := s.stmt(ctx, q)
	if err != nil {
		// A Row cannot carry the error: let the database say it again,
		// on the transaction when there is one.
		if tx := From(ctx, s.db); tx != nil {
			return tx.QueryRowContext(ctx, q, args...)
		}
		return s.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(s.running(ctx), args...)
}
