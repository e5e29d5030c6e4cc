// Package storetest is the contract suite of the Store port: every behaviour
// an adapter must have, one subtest each. Each adapter's tests call Run.
//
// The suite uses unique execution ids and definition names in every subtest,
// and filters what it lists by them, so it can run against a store that other
// tests (or earlier runs) share, such as one DynamoDB table.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/store"
)

// Run runs every behaviour of the Store port against stores made by
// newStore. newStore may return a fresh store per call or the same one; the
// subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Definitions", definitionTests},
		{"Executions", executionTests},
		{"Tasks", taskTests},
		{"Units", unitTests},
		{"TooLarge", tooLargeTests},
		{"Triggers", triggerTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newStore(t))
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// ctx returns a context that ends with the test.
func ctx(t *testing.T) context.Context {
	t.Helper()
	return t.Context()
}

// uid returns a new unique id with a readable prefix.
func uid(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "storetest-" + prefix + "-" + hex.EncodeToString(b[:])
}

// now returns the current time at the millisecond precision stores keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// diffOpts compare records: times by instant (cmp uses time.Time.Equal),
// JSON values byte for byte with nil and empty alike.
var diffOpts = []cmp.Option{cmp.Comparer(func(a, b json.RawMessage) bool { return bytes.Equal(a, b) })}

func mustDiff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, diffOpts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// raw is shorthand for a JSON value whose bytes must survive unchanged,
// spacing included.
func raw(s string) json.RawMessage { return json.RawMessage(s) }

// bigJSON returns a JSON string value of exactly n bytes.
func bigJSON(n int) json.RawMessage {
	return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`)
}
