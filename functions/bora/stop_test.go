package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// TestSIGTERMDrains sends SIGTERM to `bora run` while its actions run: it
// stops taking work, lets the running actions finish, records their
// outcomes and exits; no attempt is left RUNNING, and none whose action
// completed is recorded as lost.
func TestSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bora binary")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "bora")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var started, finished atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		time.Sleep(700 * time.Millisecond)
		finished.Add(1)
		fmt.Fprint(w, `"done"`)
	}))
	defer srv.Close()

	dir := t.TempDir()
	wf := filepath.Join(dir, "slow.yaml")
	if err := os.WriteFile(wf, []byte(`
version: '2.0'
slow:
  input: [url]
  tasks:
    fetch:
      with-items: i in <% range(9) %>
      concurrency: 3
      action: std.http url=<% $.url %>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "bora.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := exec.CommandContext(ctx, bin, "run", wf, "--db", db, "--lease", "1m", "--quiet", "--input", fmt.Sprintf(`{"url": %q}`, srv.URL))
	var stderr strings.Builder
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	for started.Load() < 3 {
		if ctx.Err() != nil {
			t.Fatal("the actions did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := run.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := run.Wait()
	if code := run.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "stopping; running actions have 10s to finish") {
		t.Fatalf("bora run: %v, exit %d, stderr %q; want exit 1 after a graceful stop", err, code, stderr.String())
	}

	st, closeDB, err := embedded.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	page, _, err := st.ListExecutions(ctx, store.ListQuery{})
	if err != nil || len(page) != 1 {
		t.Fatalf("executions: %d, %v", len(page), err)
	}
	tasks, err := st.ListTasks(ctx, page[0].ID)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks: %d, %v", len(tasks), err)
	}
	units, err := st.ListUnits(ctx, page[0].ID, tasks[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	succeeded := 0
	for _, u := range units {
		switch {
		case u.State == record.Running:
			t.Errorf("item %d left RUNNING", u.Item)
		case u.State == record.Error && record.IsLost(u.Error):
			t.Errorf("item %d recorded lost although every action finished within the grace: %s", u.Item, u.Error)
		case u.State == record.Success:
			succeeded++
		}
	}
	if n := int(finished.Load()); succeeded != n {
		t.Errorf("%d items SUCCESS, %d actions finished: every finished action must be recorded", succeeded, n)
	}
	t.Logf("stopped after %d requests started; %d recorded", started.Load(), succeeded)
}
