package sqlite_test

import (
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/queue/queuetest"
	"github.com/borawf/bora/internal/queue/sqlite"
	storesqlite "github.com/borawf/bora/internal/store/sqlite"
)

func openDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := storesqlite.Open(filepath.Join(t.TempDir(), "bora.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newQueue(t testing.TB, db *sql.DB, name string, o sqlite.Options) *sqlite.Queue {
	t.Helper()
	q, err := sqlite.New(db, name, o)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	return q
}

func TestQueue(t *testing.T) {
	t.Parallel()
	db := openDB(t) // one database for all: queues are told apart by name
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) (queue.Queue, queue.Queue) {
		name := "q-" + rand.Text()
		var dlq queue.Queue
		so := sqlite.Options{FIFO: o.FIFO}
		if o.MaxReceives > 0 {
			so.MaxReceives, so.DeadLetter = o.MaxReceives, name+"-dlq"
			dlq = newQueue(t, db, so.DeadLetter, sqlite.Options{FIFO: o.FIFO})
		}
		return newQueue(t, db, name, so), dlq
	})
}

func TestMain(m *testing.M) {
	queuetest.RaiseParallel(16)
	os.Exit(m.Run())
}
