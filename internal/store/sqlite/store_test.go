package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/sqlite"
	"github.com/borawf/bora/internal/store/storetest"
)

func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := sqlite.New(db)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return openStore(t, filepath.Join(t.TempDir(), "bora.db"))
	})
}
