package expr

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// knownDeviations are reference cases where Bora answers differently from
// Mistral on purpose, with the reason; the docs list them too.
var knownDeviations = map[string]string{
	"$.m.keys()": "Go maps have no order: Bora lists keys sorted, Python in insertion order",
	"'abc ab abc'.replace({ab => yy, abc => xx})": "Go maps keep no order: Bora replaces the longest keys first, Python in the order written",
	"list(let(x => range(2)) -> $x)": "Bora knows an argument is an iterator by the expression that computes it; " +
		"an iterator kept in a variable is a list to it",
}

// statementsOnly is the reason Bora renders a template with statements but
// no {{ }} expression, where Mistral fails: it looks for an expression
// before it renders ("list index out of range").
const statementsOnly = "Mistral fails on a template with statements and no {{ }}; Bora renders it"

func init() {
	for _, tc := range templateCases {
		if !strings.Contains(tc.expr, "{{") && !tc.wantErr {
			knownDeviations[tc.expr] = statementsOnly
		}
	}
}

// referencePython is the interpreter that has Debian's python3-mistral.
const referencePython = "/usr/bin/python3"

// TestReferenceMatchesMistral evaluates every reference case with Mistral's
// own evaluators (testdata/reference.py) and checks that the case's want
// is what Mistral answers, so that the cases stay true to Mistral as they
// grow. It skips when python3-mistral is not installed.
func TestReferenceMatchesMistral(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Mistral's expression evaluators (about 3 s); skipped with -short")
	}
	if err := exec.Command(referencePython, "-c", "import mistral.expressions.yaql_expression").Run(); err != nil {
		t.Skipf("Mistral is not importable with %s (install python3-mistral): %v", referencePython, err)
	}
	t.Parallel()

	var in bytes.Buffer
	data := json.RawMessage(referenceData)
	enc := json.NewEncoder(&in)
	cases := slices.Concat(referenceCases, templateCases, iteratorCases, timeCases, regexCases, moreCases)
	for _, tc := range cases {
		if err := enc.Encode(map[string]any{"lang": langName(tc.lang), "expr": tc.expr, "data": data}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, referencePython, "testdata/reference.py")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("testdata/reference.py: %v\n%s", err, stderr.String())
	}

	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	i := 0
	for sc.Scan() {
		if i >= len(cases) {
			t.Fatalf("more answers than cases: %s", sc.Text())
		}
		tc := cases[i]
		i++
		var ans struct {
			Value json.RawMessage `json:"value"`
			Error *string         `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ans); err != nil {
			t.Fatalf("answer %q: %v", sc.Text(), err)
		}
		name := langName(tc.lang) + "/" + tc.expr
		if _, ok := knownDeviations[tc.expr]; ok {
			continue
		}
		switch {
		case tc.wantErr && ans.Error == nil:
			t.Errorf("%s: Mistral answers %s, the case wants an error", name, ans.Value)
		case !tc.wantErr && ans.Error != nil:
			t.Errorf("%s: Mistral fails (%s), the case wants %s", name, firstLine(*ans.Error), tc.want)
		case !tc.wantErr:
			if diff := cmp.Diff(decodeJSON(t, tc.want), decodeJSON(t, string(ans.Value))); diff != "" {
				t.Errorf("%s: the case disagrees with Mistral (-case +Mistral):\n%s", name, diff)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(cases) {
		t.Fatalf("got %d answers for %d cases\n%s", i, len(cases), stderr.String())
	}
}

// whole marks a reference case that is a whole string, delimiters
// included, evaluated as Mistral evaluates a workflow value.
const whole dialect = 2

func langName(d dialect) string {
	if d == whole {
		return "Template"
	}
	return d.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
