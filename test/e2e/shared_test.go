package e2e

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/awsx"
)

// shared is the one stack of a test run: the scenarios run their
// executions side by side on it, each under its own execution ids.
var shared struct {
	once sync.Once
	s    *stack
	err  error
}

// sharedStack returns the run's stack, deploying it on first use. It skips
// the test when no endpoint is reachable (awsx.TestConfig).
func sharedStack(t *testing.T) *stack {
	t.Helper()
	cfg := awsx.TestConfig(t)
	shared.once.Do(func() {
		// The first deployment on a machine builds the functions for both
		// architectures and the CDK app; later ones take seconds.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		shared.s, shared.err = deploy(ctx, cfg)
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "e2e: deployed BoraLocal (run %s) in %s\n", shared.s.prefix, time.Since(start).Round(time.Millisecond))
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
