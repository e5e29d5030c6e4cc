package sqlitetx_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/borawf/bora/internal/sqlitetx"
	"github.com/borawf/bora/internal/store/sqlite"
)

// open opens Bora's database (a pool of one connection) with a table, and a
// second handle on the same file, which sees only what was committed.
func open(t *testing.T) (*sql.DB, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tx.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	other, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return db, other
}

// insert is the statement the tests prepare and run.
const insert = `INSERT INTO kv VALUES (?, ?)`

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM kv`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRun(t *testing.T) {
	t.Parallel()
	db, other := open(t)
	st := sqlitetx.NewStmts(db)
	if err := st.Prepare(t.Context(), insert); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// Calls in Run join one transaction: the other handle sees nothing
	// until it commits; a nested Run joins the outer one.
	err := sqlitetx.Run(ctx, db, func(ctx context.Context) error {
		if sqlitetx.From(ctx, db) == nil {
			t.Error("no transaction in Run's context")
		}
		if _, err := st.Exec(ctx, insert, "a", "1"); err != nil {
			return err
		}
		// Not prepared ahead: prepared on the transaction, not on the
		// pool's one connection, which the transaction holds.
		if _, err := st.Exec(ctx, `INSERT INTO kv VALUES ('b', '2')`); err != nil {
			return err
		}
		if n := count(t, other); n != 0 {
			t.Errorf("another connection sees %d rows before the commit", n)
		}
		return sqlitetx.Run(ctx, db, func(ctx context.Context) error {
			_, err := st.Exec(ctx, insert, "c", "3")
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, other); n != 3 {
		t.Errorf("%d rows after the commit, want 3", n)
	}

	// An error rolls everything back, inner writes included.
	boom := errors.New("boom")
	err = sqlitetx.Run(ctx, db, func(ctx context.Context) error {
		if _, err := st.Exec(ctx, insert, "d", "4"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Run error = %v, want boom", err)
	}
	if n := count(t, other); n != 3 {
		t.Errorf("%d rows after a rollback, want 3", n)
	}
	// Outside Run, statements run on the database.
	if _, err := st.Exec(ctx, insert, "e", "5"); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := st.QueryRow(ctx, `SELECT v FROM kv WHERE k = ?`, "e").Scan(&v); err != nil || v != "5" {
		t.Errorf("QueryRow = %q, %v", v, err)
	}
}

// A transaction whose context ends commits nothing, though its statements
// run to their end (they run under a context that is not cancelled).
func TestRunCancelled(t *testing.T) {
	t.Parallel()
	db, other := open(t)
	st := sqlitetx.NewStmts(db)
	if err := st.Prepare(t.Context(), insert); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	err := sqlitetx.Run(ctx, db, func(ctx context.Context) error {
		if _, err := st.Exec(ctx, insert, "a", "1"); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Fatal("a transaction whose context ended committed")
	}
	if n := count(t, other); n != 0 {
		t.Errorf("%d rows committed, want 0", n)
	}
	// The connection is free again for the next transaction.
	if err := sqlitetx.Run(t.Context(), db, func(ctx context.Context) error {
		_, err := st.Exec(ctx, insert, "b", "2")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, other); n != 1 {
		t.Errorf("%d rows after the next transaction, want 1", n)
	}
}
