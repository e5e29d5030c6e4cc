package sqlite_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/queue/sqlite"
	storesqlite "github.com/borawf/bora/internal/store/sqlite"
)

const (
	crashEnv  = "BORA_QUEUE_CRASH_DB"
	crashMode = "BORA_QUEUE_CRASH_MODE"
)

// TestSurvivesKill kills a sending process and then a consuming process
// with SIGKILL and checks that nothing is lost: every message whose Send
// returned is there, and every message not deleted comes back.
func TestSurvivesKill(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bora.db")
	// run starts a client, kills it once it acknowledged lines operations,
	// and returns every operation it acknowledged and those it began but did
	// not acknowledge before it died.
	run := func(mode string, lines int) (acked, begun []string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashClient$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path, crashMode+"="+mode)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pending := map[string]bool{}
		sc := bufio.NewScanner(out)
		killed := false
		for sc.Scan() {
			if b, ok := strings.CutPrefix(sc.Text(), "begin "); ok {
				pending[b] = true
			}
			if b, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				acked = append(acked, b)
				delete(pending, b)
			}
			if len(acked) >= lines && !killed {
				cmd.Process.Kill() // then read what it wrote before it died
				killed = true
			}
		}
		cmd.Wait()
		for b := range pending {
			begun = append(begun, b)
		}
		return acked, begun
	}

	sent, _ := run("send", 60)
	deleted, deleting := run("consume", 25)
	if len(sent) < 60 || len(deleted) < 25 {
		t.Fatalf("the clients acknowledged %d sends and %d deletes, want 60 and 25", len(sent), len(deleted))
	}

	db, err := storesqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	q := newQueue(t, db, "crash", sqlite.Options{})
	gone := map[string]bool{}
	for _, b := range deleted {
		gone[b] = true
	}
	want := map[string]bool{}
	for _, b := range sent {
		if !gone[b] {
			want[b] = true
		}
	}
	for _, b := range deleting {
		delete(want, b) // its Delete may or may not have happened
	}
	// What the consumer held when it died comes back after its timeout.
	got := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !containsAll(got, want) {
		msgs, err := q.Receive(t.Context(), queue.MaxBatch, time.Second, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if gone[string(m.Body)] {
				t.Errorf("message %s came back after its delete succeeded", m.Body)
			}
			got[string(m.Body)] = true
		}
	}
	for b := range want {
		if !got[b] {
			t.Errorf("message %s was lost", b)
		}
	}
	t.Logf("%d sends and %d deletes acknowledged before the kills; %d messages received after", len(sent), len(deleted), len(got))
}

func containsAll(have, want map[string]bool) bool {
	for k := range want {
		if !have[k] {
			return false
		}
	}
	return true
}

// TestCrashClient is the process TestSurvivesKill kills. In send mode it
// sends messages and acknowledges each Send that returned; in consume mode
// it receives with a short visibility timeout and acknowledges each Delete
// that returned.
func TestCrashClient(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("run by TestSurvivesKill")
	}
	db, err := storesqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue(t, db, "crash", sqlite.Options{})
	ctx := t.Context()
	switch os.Getenv(crashMode) {
	case "send":
		for i := 0; ; i++ {
			b := fmt.Sprintf("m%04d", i)
			if err := q.Send(ctx, queue.Out{Body: []byte(b)}); err != nil {
				t.Fatal(err)
			}
			fmt.Println("ack", b)
		}
	case "consume":
		for {
			msgs, err := q.Receive(ctx, 3, time.Second, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				fmt.Println("begin", string(m.Body))
				if err := q.Delete(ctx, m.Handle); err != nil {
					t.Fatal(err)
				}
				fmt.Println("ack", string(m.Body))
			}
		}
	}
}
