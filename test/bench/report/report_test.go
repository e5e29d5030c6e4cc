package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, line string
		wantName   string
		want       map[string]float64
	}{
		{"go", "BenchmarkEmbedded/linear-1000-2   \t       1\t 713777547 ns/op\t     1321 allocs/task\t      1401 tasks/s",
			"BenchmarkEmbedded/linear-1000", map[string]float64{"ns/op": 713777547, "allocs/task": 1321, "tasks/s": 1401}},
		{"peer", "BenchmarkPeerMistral/with-items-1000-conc-50-1\t       1\t   906255368 ns/op\t      11.0 tasks/s",
			"BenchmarkPeerMistral/with-items-1000-conc-50", map[string]float64{"ns/op": 906255368, "tasks/s": 11}},
		{"per-operation units", "BenchmarkCost/linear-100-2 1 16743550494 ns/op 2.020 DynamoDB.GetItem-ru/task 0.01000 DynamoDB.Query/task",
			"BenchmarkCost/linear-100", map[string]float64{"ns/op": 16743550494, "DynamoDB.GetItem-ru/task": 2.02, "DynamoDB.Query/task": 0.01}},
		{"a name alone", "BenchmarkCost", "", nil},
		{"skipped peer", "BenchmarkPeerMistral: skipped: python3-mistral is not importable", "", nil},
		{"configuration", "cpu: AMD EPYC", "", nil},
		{"odd fields", "BenchmarkX-2 1 12 ns/op 3", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name, got, ok := parseLine(tc.line)
			if ok != (tc.want != nil) || name != tc.wantName {
				t.Fatalf("parseLine = %q, %v, %v; want %q, %v", name, got, ok, tc.wantName, tc.want != nil)
			}
			if d := cmp.Diff(tc.want, got); tc.want != nil && d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
		})
	}
}

func TestResultsMedian(t *testing.T) {
	t.Parallel()
	r := results{}
	for _, l := range []string{
		"BenchmarkEmbedded/linear-1000-2 1 1 ns/op 1401 tasks/s",
		"BenchmarkEmbedded/linear-1000-2 1 1 ns/op 1648 tasks/s",
		"BenchmarkEmbedded/linear-1000-2 1 1 ns/op 1594 tasks/s",
		"goos: linux",
	} {
		r.add(l)
	}
	if v, ok := r.get("BenchmarkEmbedded/linear-1000", "tasks/s"); !ok || v != 1594 {
		t.Errorf("median = %v, %v; want 1594", v, ok)
	}
	if _, ok := r.get("BenchmarkEmbedded/linear-1000", "allocs/task"); ok {
		t.Error("a unit no line has was found")
	}
}

// costLine is a BenchmarkCost line with round figures.
const costLine = "BenchmarkCost/linear-100-2 1 1 ns/op 6 sqs-req/task 3 sqs-fifo-req/task 4 wu/task 2 ru/task 2 lambda-inv/task 100 lambda-ms/task 1 SQS.SendMessageBatch/task 1 DynamoDB.PutItem-wu/task"

func TestCost(t *testing.T) {
	t.Parallel()
	r := results{}
	r.add(costLine)
	c, ok := costOf(r, "BenchmarkCost/linear-100")
	if !ok {
		t.Fatal("no cost")
	}
	want := cost{
		SQS:      (3*0.50 + 3*0.40) / 1e6,
		DynamoDB: (4*0.625 + 2*0.125) / 1e6,
		// 100 ms at 0.125 GB is 0.0125 GB-s.
		Lambda: 2*0.20/1e6 + 0.0125*0.0000133334,
	}
	for _, p := range []struct {
		name      string
		got, want float64
	}{{"SQS", c.SQS, want.SQS}, {"DynamoDB", c.DynamoDB, want.DynamoDB}, {"Lambda", c.Lambda, want.Lambda}} {
		if math.Abs(p.got-p.want) > 1e-15 {
			t.Errorf("%s: %g per task, want %g", p.name, p.got, p.want)
		}
	}
	if _, ok := costOf(results{}, "BenchmarkCost/linear-100"); ok {
		t.Error("a cost without a line")
	}
}

func TestPeerAndRatios(t *testing.T) {
	t.Parallel()
	configs := map[string]string{"temporal": "server v1.32.2, sdk v1.50.0", "mistral": "15.0.0"}
	mistralOnly := results{}
	mistralOnly.add("BenchmarkPeerMistral/linear-1000-1 1 1 ns/op 40 tasks/s")
	if name, v, ok := peer(mistralOnly, configs); !ok || v != 40 || !strings.HasPrefix(name, "Mistral 15.0.0") {
		t.Errorf("without Temporal the peer is %q at %v, want Mistral at 40", name, v)
	}
	r := results{}
	for _, l := range []string{
		"BenchmarkPeerMistral/linear-1000-1 1 1 ns/op 40 tasks/s",
		"BenchmarkPeerTemporal/linear-1000/memory-shipped-2 1 1 ns/op 20 tasks/s",
		"BenchmarkPeerTemporal/linear-1000/memory-raised-2 1 1 ns/op 200 tasks/s",
		"BenchmarkPeerTemporal/linear-1000/file-raised-2 1 1 ns/op 120 tasks/s",
		"BenchmarkEmbedded/linear-1000-2 1 1 ns/op 1500 tasks/s",
		"BenchmarkTransitionCostAWS/aws/loop-10-2 1 1 ns/op 4 wu/tr",
		"BenchmarkTransitionCostAWS/aws/loop-10000-2 1 1 ns/op 4.2 wu/tr",
		"BenchmarkTransitionCostAWS/aws/with-items-10-2 1 1 ns/op 4 wu/tr",
		"BenchmarkTransitionCostAWS/aws/with-items-10000-2 1 1 ns/op 4.6 wu/tr",
	} {
		r.add(l)
	}
	got := map[string]any{}
	for _, f := range figures(r, configs) {
		v, _ := f.value(r)
		got[f.key] = v
	}
	for k, want := range map[string]any{
		"peer_name":                         "Temporal (server v1.32.2, sdk v1.50.0; SQLite in memory, transfer poll limit raised)",
		"peer_tasks_per_second":             200.0,
		"throughput_ratio_vs_peer":          7.5,
		"mistral_tasks_per_second":          40.0,
		"transition_cost_ratio_10000_vs_10": 4.6 / 4,
	} {
		if d := cmp.Diff(want, got[k]); d != "" {
			t.Errorf("%s (-want +got):\n%s", k, d)
		}
	}
}

// TestLatestJSON writes the figures of a partial run and checks that
// latest.json is one flat object with every key of record, null where a
// figure was not measured, and that the README's table is read from it.
func TestLatestJSON(t *testing.T) {
	t.Parallel()
	r := results{}
	r.add(costLine)
	r.add("BenchmarkEmbedded/linear-1000-2 1 1 ns/op 1500 tasks/s 1300 allocs/task")
	fs := figures(r, nil)
	vals := make([]any, len(fs))
	for i, f := range fs {
		vals[i], _ = f.value(r)
	}
	path := filepath.Join(t.TempDir(), "latest.json")
	if err := writeJSON(path, map[string]any{"commit": "abc1234", "cores": 2}, fs, vals); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("latest.json is not JSON: %v\n%s", err, b)
	}
	for _, k := range []string{"sqs_requests_per_task", "dynamodb_requests_per_task", "dynamodb_write_units_per_task",
		"dynamodb_read_units_per_task", "lambda_invocations_per_task", "cost_usd_per_million_tasks",
		"transition_cost_ratio_10000_vs_10", "embedded_tasks_per_second", "peer_name", "peer_tasks_per_second",
		"throughput_ratio_vs_peer", "mistral_tasks_per_second", "allocs_per_task", "p50_transition_ms",
		"p99_transition_ms", "fanout_10000_peak_mb"} {
		v, ok := got[k]
		if !ok {
			t.Errorf("latest.json has no %s", k)
		}
		switch v.(type) {
		case map[string]any, []any:
			t.Errorf("%s is not flat: %v", k, v)
		}
	}
	if got["sqs_requests_per_task"] != 6.0 || got["embedded_tasks_per_second"] != 1500.0 || got["p50_transition_ms"] != nil {
		t.Errorf("figures: sqs %v, embedded %v, p50 %v; want 6, 1500, null", got["sqs_requests_per_task"], got["embedded_tasks_per_second"], got["p50_transition_ms"])
	}
	var out bytes.Buffer
	if err := printReadme(&out, path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| embedded throughput, 1,000-task chain | 1500 tasks/s | `go test -run '^$' -bench '^BenchmarkEmbedded$/^(linear-1000\\|with-items-1000-conc-50)$'") {
		t.Errorf("README table:\n%s", out.String())
	}
	if strings.Contains(out.String(), "outcome → next claim") {
		t.Errorf("README table shows a figure not measured:\n%s", out.String())
	}
}

func TestScaleModel(t *testing.T) {
	t.Parallel()
	r := results{}
	r.add("BenchmarkCost/linear-100-2 1 1 ns/op 4 wu/task 2 ru/task 1 engine-queue-sends/task 1 engine-inv/task 10 engine-ms/inv 1 worker-inv/task 20 worker-ms/inv")
	ls, ok := scaleLimits(r, benchChain)
	if !ok {
		t.Fatal("no limits")
	}
	got := map[string]float64{}
	for _, l := range ls {
		got[l.key] = math.Round(l.tasks)
	}
	// Executions of 10 tasks add 0.09 of an execution's own write units to
	// each task: 4.63 (their starts cost no engine event). A task a second
	// keeps 0.02 workers and 0.01 engines busy.
	want := map[string]float64{
		"stack_worker_max_concurrency":   500,
		"dynamodb_new_table_write_units": 864,
		"sqs_fifo_sends_smallest_region": 4500,
		"dynamodb_table_write_units":     8639,
		"dynamodb_table_read_units":      20000,
		"lambda_account_concurrency":     33333,
		"lambda_mapping_concurrency":     62500,
		"sqs_fifo_sends_largest_region":  70000,
		"dynamodb_definition_partition":  30000,
		"dynamodb_index_partition":       142222,
		// One execution's own limits, from the counts as measured.
		"one_execution_partition":  250,
		"one_execution_fifo_group": 100,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tasks/s at each limit (-want +got):\n%s", d)
	}
	first, _ := firstLimit(ls, false)
	fixed, _ := firstLimit(ls, true)
	if first.key != "stack_worker_max_concurrency" || fixed.key != "sqs_fifo_sends_smallest_region" {
		t.Errorf("first limit %s, first fixed limit %s; want the stack's worker cap and the FIFO quota of the smallest regions", first.key, fixed.key)
	}
	if _, ok := scaleLimits(results{}, benchChain); ok {
		t.Error("limits without counts")
	}
}

// TestRebuild computes latest.json again from a run's latest.txt, keeping
// the run's metadata.
func TestRebuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	txt, js := filepath.Join(dir, "latest.txt"), filepath.Join(dir, "latest.json")
	run := "# Bora embedded\ncpu: AMD EPYC\n" + costLine + "\nBenchmarkEmbedded/linear-1000-2 1 1 ns/op 1500 tasks/s\n"
	if err := os.WriteFile(txt, []byte(run), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(js, []byte(`{"commit": "abc1234", "embedded_tasks_per_second": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rebuildJSON(txt, js); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["commit"] != "abc1234" || got["embedded_tasks_per_second"] != 1500.0 || got["sqs_requests_per_task"] != 6.0 {
		t.Errorf("rebuilt: commit %v, embedded %v, sqs %v; want abc1234, 1500, 6", got["commit"], got["embedded_tasks_per_second"], got["sqs_requests_per_task"])
	}
}
