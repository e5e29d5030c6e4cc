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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
	ssqlite "github.com/borawf/bora/internal/store/sqlite"
)

// TestKillAndServe kills `bora run` with SIGKILL in the middle of a
// with-items execution, then kills a `bora serve` on the same database in
// the middle too, then lets a last `bora serve` finish, and proves that the
// execution ends with every item's result, that no attempt of any item ran
// twice, and that only attempts cut short by a kill ran again.
func TestKillAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bora binary")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "bora")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	var (
		mu   sync.Mutex
		hits = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		time.Sleep(150 * time.Millisecond) // long enough to be cut by the kill
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
	}))
	defer srv.Close()
	count := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range hits {
			n += v
		}
		return n
	}

	dir := t.TempDir()
	wf := filepath.Join(dir, "items.yaml")
	const items = 24
	if err := os.WriteFile(wf, []byte(fmt.Sprintf(`
version: '2.0'
items:
  input: [url]
  tasks:
    fetch:
      with-items: i in <%% range(%d) %%>
      concurrency: 4
      safe-rerun: true
      action: std.http url=<%% $.url + '/item/' + str($.i) %%>
      publish:
        paths: <%% task().result.select($.content.path) %%>
  output:
    paths: <%% $.paths %%>
`, items)), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "bora.db")

	run := exec.Command(bin, "run", wf, "--db", db, "--lease", "1s", "--quiet",
		"--input", fmt.Sprintf(`{"url": %q}`, srv.URL))
	run.Stderr = os.Stderr
	began := time.Now()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	// killAt kills p with SIGKILL once the server has seen n requests.
	killAt := func(p *exec.Cmd, n int) int {
		t.Helper()
		// A process killed while it handled an engine event leaves it
		// hidden for its visibility timeout (10 s) before the next takes it.
		deadline := time.Now().Add(60 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				_ = p.Process.Kill()
				t.Fatalf("%s made %d requests in 60 s", p.Args[1], count())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := p.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.Wait()
		at := count()
		if at >= items {
			t.Fatalf("%s finished %d requests before the kill; nothing left to prove", p.Args[1], at)
		}
		return at
	}
	killedAt := killAt(run, items/4)
	t.Logf("%s: first kill done", time.Since(began).Round(time.Millisecond))

	// A serve picks the execution up after the lease of the killed run's
	// attempts expires, and is killed in its turn.
	first := exec.Command(bin, "serve", "--addr", "off", "--db", db, "--lease", "1s")
	first.Stderr = os.Stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	serveKilledAt := killAt(first, killedAt+items/4)
	t.Logf("%s: second kill done", time.Since(began).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve", "--addr", "off", "--db", db, "--lease", "1s", "--exit-when-done")
	if out, err := serve.CombinedOutput(); err != nil {
		t.Fatalf("bora serve: %v\n%s", err, out)
	}
	t.Logf("%s: finished", time.Since(began).Round(time.Millisecond))

	sdb, err := ssqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	st, err := ssqlite.New(sdb)
	if err != nil {
		t.Fatal(err)
	}
	page, _, err := st.ListExecutions(ctx, store.ListQuery{})
	if err != nil || len(page) != 1 {
		t.Fatalf("executions: %d, %v; want 1", len(page), err)
	}
	e := page[0]
	if e.State != record.ExecSuccess {
		t.Fatalf("execution %s is %s (%s), want SUCCESS", e.ID, e.State, e.StateInfo)
	}
	for i := range items {
		if !strings.Contains(string(e.Output), fmt.Sprintf(`"/item/%d"`, i)) {
			t.Errorf("output lacks item %d: %s", i, e.Output)
		}
	}
	tasks, err := st.ListTasks(ctx, e.ID)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks: %d, %v; want 1", len(tasks), err)
	}
	units, err := st.ListUnits(ctx, e.ID, tasks[0].Key)
	if err != nil || len(units) != items {
		t.Fatalf("units: %d, %v; want %d", len(units), err, items)
	}
	reruns := 0
	mu.Lock()
	defer mu.Unlock()
	for _, u := range units {
		n := hits[fmt.Sprintf("/item/%d", u.Item)]
		if u.State != record.Success {
			t.Errorf("item %d is %s", u.Item, u.State)
		}
		// Each attempt runs the action at most once; an attempt ends
		// without a run only when the kill came between claim and request.
		if n < 1 || n > u.Attempt {
			t.Errorf("item %d: %d requests over %d attempts: an attempt ran twice or none ran", u.Item, n, u.Attempt)
		}
		if u.Attempt > 1 {
			reruns++
		}
	}
	t.Logf("run killed after %d requests, serve after %d; %d items re-ran after a kill", killedAt, serveKilledAt, reruns)
}
