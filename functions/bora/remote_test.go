package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/console/consoletest"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// boraBinary builds the bora command once per test run.
func boraBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the bora binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bora-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "bora")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	consoletest.Stop()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

var apiAt = regexp.MustCompile(`API at (http://\S+)/v1`)

// serve starts `bora serve` on a free port of 127.0.0.1 with a new
// database and returns the endpoint it prints.
func serve(t *testing.T, extra ...string) string {
	t.Helper()
	bin := boraBinary(t)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "bora.db")}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), envToken+"=", envEndpoint+"=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("bora serve printed no first line: %v; stderr: %s", err, stderr.String())
	}
	m := apiAt.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("bora serve's first line %q names no API address", line)
	}
	return m[1]
}

// TestClientAgainstServe drives a real bora serve with the client
// commands: submit, start, get, watch, and their errors.
func TestClientAgainstServe(t *testing.T) {
	t.Parallel()
	ep := serve(t)
	type step struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}
	steps := []step{
		{"submit", []string{"--endpoint", ep, "submit", "testdata/greet.yaml"}, 0,
			[]string{"testdata/greet.yaml: workflow greet version 1 stored"}, nil},
		{"submit again", []string{"submit", "--endpoint=" + ep, "testdata/greet.yaml"}, 0,
			[]string{"version 1 unchanged"}, nil},
		{"submit an invalid document", []string{"--endpoint", ep, "submit", "testdata/invalid.yaml"}, 1,
			nil, []string{"bora submit: the document has 1 error", "testdata/invalid.yaml:6:7: "}},
		{"submit a missing file", []string{"--endpoint", ep, "submit", "testdata/none.yaml"}, 1,
			nil, []string{"testdata/none.yaml", "no such file"}},
		{"start and watch", []string{"--endpoint", ep, "start", "greet", "--input", `{"name": "Bora"}`, "--watch"}, 0,
			[]string{"running greet (execution ", "hello#1", "bye#1", "SUCCESS in", `output: {"greeting":"hello Bora"}`}, nil},
		{"start an unknown workflow", []string{"--endpoint", ep, "start", "nope"}, 2,
			nil, []string{`bora start: there is no workflow "nope"`}},
		{"start with a wrong input", []string{"--endpoint", ep, "start", "greet", "--input", `{"nom": 1}`}, 2,
			nil, []string{"bora start: Invalid input", "unexpected=['nom']"}},
		{"start with input that is not JSON", []string{"--endpoint", ep, "start", "greet", "--input", `{`}, 2,
			nil, []string{"--input is not valid JSON"}},
		{"get an unknown execution", []string{"--endpoint", ep, "get", "nope"}, 2,
			nil, []string{`bora get: there is no execution "nope"`}},
		{"no endpoint", []string{"get", "x"}, 2,
			nil, []string{"no API endpoint: give --endpoint URL or set BORA_ENDPOINT"}},
		{"endpoint not a URL", []string{"--endpoint", "127.0.0.1:8080", "get", "x"}, 2,
			nil, []string{"want an http or https URL"}},
		{"nobody listening", []string{"--endpoint", "http://127.0.0.1:1", "get", "x"}, 1,
			nil, []string{"bora get: cannot reach http://127.0.0.1:1", "is bora serve running"}},
		{"endpoint on a local command", []string{"--endpoint", ep, "run", "testdata/greet.yaml"}, 2,
			nil, []string{"bora run: --endpoint"}},
	}
	for _, s := range steps {
		code, stdout, stderr := run(t, s.args...)
		if code != s.wantCode {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", s.name, code, s.wantCode, stdout, stderr)
			continue
		}
		for _, w := range s.wantStdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", s.name, w, stdout)
			}
		}
		for _, w := range s.wantStderr {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", s.name, w, stderr)
			}
		}
	}

	// start prints the id; get and watch find the execution by it.
	code, stdout, stderr := run(t, "--endpoint", ep, "start", "greet", "--idempotency-key", "k1")
	m := regexp.MustCompile(`execution (\S+) of greet version 1 started`).FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		t.Fatalf("start: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	id := m[1]
	if code, stdout, _ = run(t, "--endpoint", ep, "start", "greet", "--idempotency-key", "k1"); code != 0 || !strings.Contains(stdout, id+" of greet version 1 already started") {
		t.Errorf("start with the same key: exit %d, %s", code, stdout)
	}
	if code, _, stderr = run(t, "--endpoint", ep, "start", "greet", "--idempotency-key", "k1", "--input", `{"name": "x"}`); code != 2 || !strings.Contains(stderr, `Idempotency-Key "k1" was used for a request with a different input`) {
		t.Errorf("start with the same key and another input: exit %d, %s", code, stderr)
	}
	if code, stdout, stderr = run(t, "--endpoint", ep, "watch", id, "--quiet", "--json"); code != 0 || !strings.Contains(stdout, `"state": "SUCCESS"`) {
		t.Errorf("watch: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if code, stdout, _ = run(t, "--endpoint", ep, "get", id); code != 0 || !strings.Contains(stdout, id+" greet SUCCESS") || !strings.Contains(stdout, "hello#1") {
		t.Errorf("get: exit %d\n%s", code, stdout)
	}
}

func TestServeToken(t *testing.T) {
	t.Parallel()
	ep := serve(t, "--token", "s3cret")
	code, _, stderr := run(t, "--endpoint", ep, "get", "x")
	if code != 2 || !strings.Contains(stderr, "bearer token") || !strings.Contains(stderr, "--token or BORA_TOKEN") {
		t.Errorf("without the token: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "--endpoint", ep, "--token", "s3cret", "get", "x")
	if code != 2 || !strings.Contains(stderr, `there is no execution "x"`) {
		t.Errorf("with the token: exit %d, %s", code, stderr)
	}
}

func TestServeRefusesOpenAddressWithoutToken(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "example.com:0"} {
		code, _, stderr := run(t, "serve", "--addr", addr, "--token", "", "--db", filepath.Join(t.TempDir(), "x.db"))
		if code != 2 || !strings.Contains(stderr, "set a token") {
			t.Errorf("serve --addr %s: exit %d, %s", addr, code, stderr)
		}
	}
	if code, _, stderr := run(t, "serve", "--addr", "nonsense", "--db", filepath.Join(t.TempDir(), "x.db")); code != 2 || !strings.Contains(stderr, "HOST:PORT") {
		t.Errorf("serve --addr nonsense: exit %d, %s", code, stderr)
	}
}

// TestRemoteListAndCommands lists executions and steers them through a
// real bora serve.
func TestRemoteListAndCommands(t *testing.T) {
	t.Parallel()
	ep := serve(t)
	slow := filepath.Join(t.TempDir(), "slow.yaml")
	if err := os.WriteFile(slow, []byte("version: '2.0'\nslow:\n  tasks:\n    wait:\n      action: std.sleep seconds=30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flaky := filepath.Join(t.TempDir(), "flaky.yaml")
	if err := os.WriteFile(flaky, []byte("version: '2.0'\nflaky:\n  tasks:\n    check:\n      action: std.echo output=<% env().ok %>\n      fail-on: <% not task().result %>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{slow, flaky} {
		if code, _, stderr := run(t, "--endpoint", ep, "submit", f); code != 0 {
			t.Fatalf("submit %s: %s", f, stderr)
		}
	}
	start := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := run(t, append([]string{"--endpoint", ep, "start"}, args...)...)
		m := regexp.MustCompile(`execution (\S+) of`).FindStringSubmatch(stdout)
		if code != 0 || m == nil {
			t.Fatalf("start %v: exit %d %s %s", args, code, stdout, stderr)
		}
		return m[1]
	}
	id := start("slow")

	if code, stdout, _ := run(t, "--endpoint", ep, "pause", id, "--reason", "lunch"); code != 0 || !strings.Contains(stdout, "PAUSED") {
		t.Errorf("pause: exit %d %s", code, stdout)
	}
	if code, stdout, _ := run(t, "--endpoint", ep, "list", "--state", "paused"); code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "PAUSED") {
		t.Errorf("list --state paused: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := run(t, "--endpoint", ep, "pause", id); code != 2 || !strings.Contains(stderr, "is PAUSED: pause needs it RUNNING") {
		t.Errorf("pause of a paused execution: exit %d %s", code, stderr)
	}
	if code, stdout, stderr := run(t, "--endpoint", ep, "cancel", id, "--reason", "enough", "--json", "--quiet"); code != 1 || !strings.Contains(stdout, `"state": "CANCELLED"`) {
		t.Errorf("cancel: exit %d %s %s", code, stdout, stderr)
	}

	// A failed execution runs its task again with a new env.
	fid := start("flaky", "--env", `{"ok": false}`)
	if code, _, stderr := run(t, "--endpoint", ep, "watch", fid, "--quiet"); code != 1 {
		t.Errorf("watch of a failing execution: exit %d %s, want 1", code, stderr)
	}
	code, stdout, _ := run(t, "--endpoint", ep, "list", "--workflow", "flaky", "--json")
	var row struct{ ID, State string }
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(stdout, "\n", 2)[0]), &row) != nil || row.State != "ERROR" {
		t.Fatalf("list --workflow flaky: exit %d %s", code, stdout)
	}
	if code, stdout, stderr := run(t, "--endpoint", ep, "rerun", row.ID, "check", "--env", `{"ok": true}`); code != 0 || !strings.Contains(stdout, "check#2") || !strings.Contains(stdout, "SUCCESS in") {
		t.Errorf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--endpoint", ep, "list", "--since", "yesterday"}, "--since \"yesterday\": want an RFC 3339 time"},
		{[]string{"--endpoint", ep, "list", "--state", "done"}, "state must be one of RUNNING"},
		{[]string{"--endpoint", ep, "pause", id, "--db", "x.db"}, "not both"},
		{[]string{"pause", id}, "give --db PATH (an embedded database) or --endpoint URL"},
		{[]string{"--endpoint", ep, "rerun", row.ID}, "usage: bora pause"},
	} {
		if code, _, stderr := run(t, tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d %s, want 2 saying %q", tc.args, code, stderr, tc.want)
		}
	}
	if code, stdout, _ := run(t, "--endpoint", ep, "list", "--workflows"); code != 0 || !regexp.MustCompile(`(?m)^flaky\s+1\s`).MatchString(stdout) || !strings.Contains(stdout, "slow") {
		t.Errorf("list --workflows: exit %d\n%s", code, stdout)
	}
}

// TestServeAccessLog: with BORA_LOG=info, bora serve logs each request.
func TestServeAccessLog(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(boraBinary(t), "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "bora.db"))
	cmd.Env = append(os.Environ(), "BORA_LOG=info", envToken+"=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	m := apiAt.FindStringSubmatch(line)
	if err != nil || m == nil {
		_ = cmd.Process.Kill()
		t.Fatalf("first line %q: %v", line, err)
	}
	code, _, _ := run(t, "--endpoint", m[1], "get", "nope")
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("bora serve ended with %v on an interrupt", err)
	}
	if code != 2 || !regexp.MustCompile(`msg=request method=GET path=/v1/executions/nope status=404 duration=\S+ request_id=[0-9a-f]+`).MatchString(stderr.String()) {
		t.Errorf("get: exit %d; serve's log:\n%s", code, stderr.String())
	}
}
