package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/awsx"
)

// shared is the one stack of a test run: deploying costs seconds, and the
// scenarios run their executions side by side on it, each under its own
// execution ids.
var shared struct {
	once sync.Once
	s    *stack
	err  error
}

// boraZips are the deployment packages of Bora's functions that have code.
// It reports the engine or worker missing; the reconciler is optional.
func boraZips() (map[string]string, error) {
	zips := map[string]string{}
	for _, fn := range []string{fnEngine, fnWorker, fnReconciler} {
		if hasCode(fn) {
			zips[fn] = zipPath(fn)
		} else if fn != fnReconciler {
			return nil, fmt.Errorf("functions/%s has no Go code yet", fn)
		}
	}
	return zips, nil
}

// hasCode reports whether functions/<fn> holds a non-test Go file.
func hasCode(fn string) bool {
	files, _ := filepath.Glob(filepath.Join(root, "functions", fn, "*.go"))
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			return true
		}
	}
	return false
}

// sharedStack returns the run's stack, deploying it on first use. It skips
// the test when no endpoint is reachable (awsx.TestConfig).
func sharedStack(t *testing.T) *stack {
	t.Helper()
	cfg := awsx.TestConfig(t)
	zips, err := boraZips()
	if err != nil {
		if os.Getenv(awsx.EnvRequireEmulator) == "1" {
			t.Fatalf("cannot deploy Bora: %v", err)
		}
		t.Skipf("cannot deploy Bora: %v", err)
	}
	if buildErr != nil {
		t.Fatalf("build the Lambda functions: %v", buildErr)
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		shared.s, shared.err = deploy(ctx, cfg, stackConfig{Zips: zips})
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "e2e: deployed %s in %s\n", shared.s.prefix, time.Since(start).Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		t.Fatalf("deploy Bora: %v", shared.err)
	}
	return shared.s
}

// checkShared reports dead-lettered messages of the run; it returns false
// when there were any.
func checkShared() bool {
	if shared.s == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := shared.s.checkDLQs(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: %v\n", err)
		return false
	}
	return true
}

// teardownShared removes the run's stack, unless BORA_E2E_KEEP=1.
func teardownShared() {
	s := shared.s
	if s == nil {
		return
	}
	if os.Getenv("BORA_E2E_KEEP") == "1" {
		fmt.Fprintf(os.Stderr, "e2e: kept %s (BORA_E2E_KEEP=1)\n", s.prefix)
		return
	}
	if err := s.teardown(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: tear down %s: %v\n", s.prefix, err)
	}
}

// waitFor polls cond until it reports done, for at most timeout. On
// timeout the test fails with what, cond's last status and diag's report.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (done bool, status string), diag func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var status string
	for {
		var done bool
		done, status = cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	report := ""
	if diag != nil {
		report = "\n" + diag()
	}
	t.Fatalf("%s: not done within %s; last seen: %s%s", what, timeout, status, report)
}
