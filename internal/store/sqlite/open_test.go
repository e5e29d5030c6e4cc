package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store/sqlite"
)

// foreign makes a database of another application at path.
func foreign(t *testing.T, path string, appID int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`CREATE TABLE users (id INTEGER, name TEXT)`, `INSERT INTO users VALUES (1, 'alice')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if appID != 0 {
		if _, err := db.Exec(fmt.Sprintf("PRAGMA application_id = %d", appID)); err != nil {
			t.Fatal(err)
		}
	}
}

// tables lists the tables of the database at path.
func tables(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// TestOpenRefusesAnotherApplicationsDatabase: Bora adds its tables only to
// a database of its own (or a new one), and says so of another's, which it
// leaves as it was.
func TestOpenRefusesAnotherApplicationsDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		appID int
		want  string
	}{
		{"tables of another application", 0, "is not a Bora database: it holds the table users of another application"},
		{"another application's id", 0x12345678, "belongs to another application (its application_id is 0x12345678)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "app.db")
			foreign(t, path, tt.appID)
			for _, open := range []func(string) (*sql.DB, error){sqlite.Open, sqlite.OpenReadOnly} {
				db, err := open(path)
				if err == nil {
					db.Close()
				}
				if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, sqlite.ErrNotBora) {
					t.Errorf("open = %v, want ErrNotBora saying %q", err, tt.want)
				}
			}
			if got := tables(t, path); len(got) != 1 || got[0] != "users" {
				t.Errorf("tables after the refusal: %v, want only users", got)
			}
		})
	}
}

// TestOpenClaimsItsOwn: a new database, and one an earlier Bora made
// before databases were marked, are Bora's.
func TestOpenClaimsItsOwn(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bora.db")
	openStore(t, path)
	// Unmarked, as an earlier Bora left it: still Bora's.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA application_id = 0`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	openStore(t, path)
}

// TestOpenReadOnly: a database opened read-only serves every read of the
// store and refuses writes; it creates nothing.
func TestOpenReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bora.db")
	s := openStore(t, path)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.CreateExecution(ctx, &record.Execution{ID: "e1", Workflow: "wf", State: record.ExecSuccess, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ro, err := sqlite.Existing(db)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ro.GetExecution(ctx, "e1"); err != nil || e.State != record.ExecSuccess {
		t.Errorf("read-only GetExecution = %v, %v", e, err)
	}
	if err := ro.CreateExecution(ctx, &record.Execution{ID: "e2", Workflow: "wf", State: record.ExecRunning, CreatedAt: now, UpdatedAt: now}); err == nil {
		t.Error("a write through a read-only database succeeded")
	}
	// A database that is not there is not created.
	missing := filepath.Join(t.TempDir(), "missing.db")
	if db, err := sqlite.OpenReadOnly(missing); err == nil {
		db.Close()
		t.Error("OpenReadOnly of a missing file succeeded")
	}
}
