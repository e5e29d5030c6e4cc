package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// run runs the CLI with args and returns its exit code and outputs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := dispatch(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring; "" means empty
		wantStderr string // substring; "" means empty
	}{
		{name: "no arguments", args: nil, wantCode: 2, wantStderr: "Commands:\n  validate"},
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "Usage:\n  bora <command> [arguments]"},
		{name: "-h", args: []string{"-h"}, wantCode: 0, wantStdout: "validate"},
		{name: "--help", args: []string{"--help"}, wantCode: 0, wantStdout: "Run 'bora help <command>'"},
		{name: "help of a command", args: []string{"help", "validate"}, wantCode: 0, wantStdout: "Usage: bora validate [-q] FILE..."},
		{name: "help of an unknown command", args: []string{"help", "nope"}, wantCode: 2, wantStderr: `unknown command "nope"`},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `bora: unknown command "frobnicate"`},
		{name: "close to a command", args: []string{"valid"}, wantCode: 2, wantStderr: `did you mean "validate"?`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d", code, tc.wantCode)
			}
			check := func(what, got, want string) {
				t.Helper()
				if want == "" && got != "" || !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", what, got, want)
				}
			}
			check("stdout", stdout, tc.wantStdout)
			check("stderr", stderr, tc.wantStderr)
		})
	}
}

func TestCommandsAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range commands {
		if seen[c.name] || c.name == "" || c.summary == "" || c.run == nil {
			t.Errorf("command %q: duplicate or incomplete", c.name)
		}
		seen[c.name] = true
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name: "valid file with a warning", args: []string{"testdata/valid.yaml"}, wantCode: 0,
			wantStdout: "testdata/valid.yaml:6:7: warning: `target` is ignored: Bora runs every action on its own workers\ntestdata/valid.yaml: ok\n",
		},
		{
			name: "quiet valid file", args: []string{"-q", "testdata/valid.yaml"}, wantCode: 0,
		},
		{
			name: "invalid file", args: []string{"testdata/invalid.yaml"}, wantCode: 1,
			wantStdout: "testdata/invalid.yaml:6:7: unknown task attribute `on-sucess`; did you mean `on-success`?\n",
		},
		{
			name: "valid and invalid", args: []string{"testdata/valid.yaml", "testdata/invalid.yaml"}, wantCode: 1,
			wantStdout: "testdata/valid.yaml:6:7: warning: `target` is ignored: Bora runs every action on its own workers\n" +
				"testdata/valid.yaml: ok\n" +
				"testdata/invalid.yaml:6:7: unknown task attribute `on-sucess`; did you mean `on-success`?\n",
		},
		{
			name: "aws.lambda is known, with its parameters", args: []string{"testdata/lambda.yaml"}, wantCode: 0,
			wantStdout: "testdata/lambda.yaml:8:5: warning: task `typo`: action `aws.lambda` takes no parameter `functon`; did you mean `function`?\n" +
				"testdata/lambda.yaml:8:5: warning: task `typo`: action `aws.lambda` needs the parameter `function`\n" +
				"testdata/lambda.yaml: ok\n",
		},
		{
			name: "missing file", args: []string{"testdata/missing.yaml"}, wantCode: 1,
			wantStderr: "testdata/missing.yaml: open testdata/missing.yaml: no such file or directory\n",
		},
		{
			name: "the examples", args: []string{"../../events/examples/hello.yaml", "../../events/examples/showcase.yaml",
				"../../events/examples/reverse.yaml", "../../events/examples/subworkflow.yaml"}, wantCode: 0,
			wantStdout: "../../events/examples/hello.yaml: ok\n../../events/examples/showcase.yaml: ok\n" +
				"../../events/examples/reverse.yaml: ok\n../../events/examples/subworkflow.yaml: ok\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, append([]string{"validate"}, tc.args...)...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d", code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantStdout, stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStderr, stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "no files", args: nil, wantCode: 2, wantStderr: "bora validate: no files given"},
		{name: "unknown flag", args: []string{"-x", "f.yaml"}, wantCode: 2, wantStderr: "flag provided but not defined: -x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, append([]string{"validate"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantStderr)
			}
		})
	}
}

// TestValidateStdin is not parallel: it replaces stdin.
func TestValidateStdin(t *testing.T) {
	old := stdin
	t.Cleanup(func() { stdin = old })
	stdin = strings.NewReader("version: '2.0'\nwf:\n  tasks:\n    a: {action: std.noop}\n")
	code, stdout, _ := run(t, "validate", "-")
	if code != 0 || stdout != "<stdin>: ok\n" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

// TestEveryCommandHasHelp: bora help <command> prints a usage line and
// exits 0, for every command.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		code, stdout, stderr := run(t, "help", c.name)
		head, _, _ := strings.Cut(stdout, "\n\n")
		if code != 0 || !strings.HasPrefix(strings.ToLower(head), "usage: bora ") || !strings.Contains(head, c.name) || stderr != "" {
			t.Errorf("bora help %s: exit %d\nstdout: %.200s\nstderr: %.200s", c.name, code, stdout, stderr)
		}
	}
}
