package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestTriggerAgainstServe creates, lists, shows and deletes cron triggers
// on a real bora serve, which fires a due one.
func TestTriggerAgainstServe(t *testing.T) {
	t.Parallel()
	ep := serve(t)
	if code, _, stderr := run(t, "--endpoint", ep, "submit", "testdata/greet.yaml"); code != 0 {
		t.Fatalf("submit: %s", stderr)
	}
	type step struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}
	steps := []step{
		{"create", []string{"trigger", "create", "hourly", "greet", "--pattern", "0 * * * *", "--count", "3", "--input", `{"name": "cron"}`}, 0,
			[]string{"trigger hourly of greet created; it fires first at ", ":00:00Z"}, nil},
		{"create again", []string{"trigger", "create", "hourly", "greet", "--pattern", "0 * * * *", "--count", "3", "--input", `{"name":"cron"}`}, 0,
			[]string{"trigger hourly of greet already created"}, nil},
		{"another trigger of the name", []string{"trigger", "create", "hourly", "greet", "--pattern", "30 * * * *"}, 2,
			nil, []string{`bora trigger create: there is a trigger "hourly" already`}},
		{"bad pattern", []string{"trigger", "create", "bad", "greet", "--pattern", "* * *"}, 2,
			nil, []string{"has 3 fields, want 5"}},
		{"unknown workflow", []string{"trigger", "create", "x", "nope", "--pattern", "* * * * *"}, 2,
			nil, []string{`there is no workflow "nope"`}},
		{"wrong input", []string{"trigger", "create", "x", "greet", "--pattern", "* * * * *", "--input", `{"nom": 1}`}, 2,
			nil, []string{"unexpected=['nom']"}},
		{"bad count", []string{"trigger", "create", "x", "greet", "--pattern", "* * * * *", "--count", "-1"}, 2,
			nil, []string{"--count: want 1 or more"}},
		{"list", []string{"trigger", "list"}, 0,
			[]string{"NAME", "hourly", "greet", "0 * * * *", "3"}, nil},
		{"get", []string{"trigger", "get", "hourly"}, 0,
			[]string{"pattern", "0 * * * *", "remaining", `{"name":"cron"}`}, nil},
		{"no subcommand", []string{"trigger"}, 2, nil, []string{"usage: bora trigger create|list|get|delete"}},
		{"missing argument", []string{"trigger", "create", "x"}, 2, nil, []string{"usage: bora trigger"}},
		{"delete", []string{"trigger", "delete", "hourly"}, 0, []string{"trigger hourly deleted"}, nil},
		{"get a deleted one", []string{"trigger", "get", "hourly"}, 2, nil, []string{`bora trigger get: there is no trigger "hourly"`}},
		{"delete again", []string{"trigger", "delete", "hourly"}, 2, nil, []string{`there is no trigger "hourly"`}},
	}
	for _, s := range steps {
		args := append([]string{"--endpoint", ep}, s.args...)
		code, stdout, stderr := run(t, args...)
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

	// A trigger that fires once, in two seconds: bora serve fires it, its
	// execution runs, and the trigger is gone.
	first := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	if code, stdout, stderr := run(t, "--endpoint", ep, "trigger", "create", "soon", "greet", "--first-time", first, "--input", `{"name": "soon"}`, "--json"); code != 0 || !strings.Contains(stdout, `"remaining_executions": 1`) {
		t.Fatalf("create soon: exit %d\n%s\n%s", code, stdout, stderr)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, stdout, _ := run(t, "--endpoint", ep, "list", "--workflow", "greet", "--json")
		var e struct{ State string }
		if json.Unmarshal([]byte(stdout), &e) == nil && e.State == "SUCCESS" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trigger's execution did not succeed: %s", stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _, stderr := run(t, "--endpoint", ep, "trigger", "get", "soon"); code != 2 || !strings.Contains(stderr, `there is no trigger "soon"`) {
		t.Errorf("the trigger after its only fire: exit %d, %s", code, stderr)
	}
}
