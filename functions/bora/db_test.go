package main

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestDatabaseOfAnotherApplication: bora refuses to add its tables to a
// database that is not its own, and leaves it as it was.
func TestDatabaseOfAnotherApplication(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE orders (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(path)
	for _, args := range [][]string{
		{"run", "--db", path, "testdata/valid.yaml"},
		{"serve", "--addr", "127.0.0.1:0", "--db", path, "--exit-when-done"},
		{"show", "--db", path},
	} {
		code, _, stderr := run(t, args...)
		if code == 0 || !strings.Contains(stderr, "is not a Bora database: it holds the table orders of another application") {
			t.Errorf("bora %s: exit %d, stderr %q; want a refusal that says why", args[0], code, stderr)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the database was changed")
	}
}

// TestShowChangesNothing: bora show reads a database without writing to
// it, so that it works on one the user may only read.
func TestShowChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bora.db")
	if code, _, stderr := run(t, "run", "--db", path, "--quiet", "testdata/valid.yaml"); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	files := func() map[string][]byte {
		out := map[string][]byte{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			out[e.Name()] = b
		}
		return out
	}
	before := files()
	code, stdout, stderr := run(t, "show", "--db", path)
	if code != 0 || !strings.Contains(stdout, "SUCCESS") {
		t.Fatalf("show: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	after := files()
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("show changed %s", name)
		}
	}
	// A reader may open SQLite's log beside the file: empty.
	if wal := after["bora.db-wal"]; len(wal) > 0 && before["bora.db-wal"] == nil {
		t.Errorf("show wrote %d bytes of log", len(wal))
	}
}
