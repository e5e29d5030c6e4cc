package sqlite_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/sqlite"
)

const crashEnv = "BORA_STORE_CRASH_DB"

// TestSurvivesKill kills a process that writes to the store with SIGKILL
// at several points and checks, each time, that the database is intact
// and holds every write the process saw succeed.
func TestSurvivesKill(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bora.db")
	s := openStore(t, path)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.CreateExecution(t.Context(), &record.Execution{ID: "crash", State: record.ExecRunning,
		Input: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	acked := -1
	for round, after := range []int{15, 40, 90} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		for n := 0; n < after && lines.Scan(); n++ {
			if i, err := strconv.Atoi(lines.Text()); err == nil {
				acked = i
			}
		}
		cmd.Process.Kill()
		cmd.Wait()

		raw, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		var check string
		if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity_check = %q, %v", round, check, err)
		}
		db, err := sqlite.New(raw)
		if err != nil {
			t.Fatal(err)
		}
		e, err := db.GetExecution(t.Context(), "crash")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if e.Version < int64(acked+1) {
			t.Errorf("round %d: head at version %d, but the writer saw version %d committed", round, e.Version, acked+1)
		}
		for i := 0; i <= acked; i++ {
			u, err := db.GetUnit(t.Context(), record.UnitKey{ExecID: "crash", Task: fmt.Sprintf("t#%d", i)})
			if err != nil || u.State != record.Running {
				t.Fatalf("round %d: unit %d acknowledged as claimed: %+v, %v", round, i, u, err)
			}
		}
		t.Logf("round %d: killed after write %d; head at version %d", round, acked, e.Version)
	}
}

// TestCrashWriter is the process TestSurvivesKill kills: it creates,
// claims and commits in a loop and prints the number of each step that
// succeeded, resuming where the store stands.
func TestCrashWriter(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("run by TestSurvivesKill")
	}
	s := openStore(t, path)
	ctx := t.Context()
	e, err := s.GetExecution(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	for i := int(e.Version); ; i++ {
		tk := plainTask("crash", i, time.Now())
		k := tk.Unit.UnitKey
		if err := s.CreateTask(ctx, tk); err != nil && !errors.Is(err, store.ErrExists) {
			t.Fatal(err)
		}
		_, err := s.UpdateUnit(ctx, k, record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "f"},
			record.UnitChange{State: record.Running, Started: time.Now()})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatal(err)
		}
		e.Version = int64(i + 1)
		e.Engine = json.RawMessage(fmt.Sprintf(`{"step":%d}`, i))
		if err := s.CommitExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		fmt.Println(i)
	}
}
