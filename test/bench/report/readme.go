package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// readmeRows are the figures the README's table shows, in its order.
var readmeRows = []struct{ key, what, unit string }{
	{"sqs_requests_per_task", "SQS requests per task, 100-task chain on the emulator", ""},
	{"dynamodb_requests_per_task", "DynamoDB requests per task, 100-task chain", ""},
	{"dynamodb_write_units_per_task", "DynamoDB write units per task, 100-task chain", ""},
	{"dynamodb_read_units_per_task", "DynamoDB read units per task, 100-task chain", ""},
	{"lambda_invocations_per_task", "Lambda invocations per task, 100-task chain", ""},
	{"cost_usd_per_million_tasks", "cost per million tasks (SQS, DynamoDB, Lambda arm64 128 MB at list prices)", "USD"},
	{"transition_cost_ratio_10000_vs_10", "write units per transition, 10,000 tasks ÷ 10 tasks", ""},
	{"embedded_tasks_per_second", "embedded throughput, 1,000-task chain", "tasks/s"},
	{"embedded_with_items_tasks_per_second", "embedded throughput, 1,000-item with-items at concurrency 50", "tasks/s"},
	{"peer_tasks_per_second", "peer throughput, 1,000-task chain", "tasks/s"},
	{"peer_with_items_tasks_per_second", "Temporal throughput, 1,000-item with-items at concurrency 50", "tasks/s"},
	{"throughput_ratio_vs_peer", "Bora ÷ peer, 1,000-task chain", "×"},
	{"mistral_tasks_per_second", "Mistral 15 throughput, 1,000-task chain", "tasks/s"},
	{"allocs_per_task", "heap allocations per task, embedded chain", ""},
	{"p50_transition_ms", "outcome → next claim, median", "ms"},
	{"p99_transition_ms", "outcome → next claim, 99th percentile", "ms"},
	{"fanout_10000_peak_mb", "peak heap, 10,000-item with-items", "MB"},
	{"scale_first_limit_tasks_per_second", "on AWS, the first limit met (docs/scale.md)", "tasks/s"},
	{"scale_first_fixed_limit_tasks_per_second", "on AWS, the first limit no quota request or setting raises", "tasks/s"},
}

// printReadme prints the README's figures table from a latest.json, each
// figure with the command that measured it.
func printReadme(w io.Writer, path, root string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	step := map[string]string{}
	for _, s := range steps(root, "") {
		step[s.id] = s.show
	}
	byKey := map[string]figure{}
	for _, f := range figures(results{}, nil) {
		byKey[f.key] = f
	}
	fmt.Fprintf(w, "Measured by `make bench` (test/bench/results/latest.json) at commit %v on %v cores (%v), load average %v → %v.\n\n",
		v["commit"], v["cores"], v["cpu"], v["load_average_start"], v["load_average_end"])
	fmt.Fprintln(w, "| what | figure | command |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, row := range readmeRows {
		x, ok := v[row.key]
		if !ok || x == nil {
			continue
		}
		shown := format(x)
		if row.unit != "" {
			shown += " " + row.unit
		}
		what := row.what
		switch row.key {
		case "peer_tasks_per_second":
			what += fmt.Sprintf(": %v", v["peer_name"])
		case "scale_first_limit_tasks_per_second":
			what += fmt.Sprintf(": %v", v["scale_first_limit"])
		case "scale_first_fixed_limit_tasks_per_second":
			what += fmt.Sprintf(": %v", v["scale_first_fixed_limit"])
		}
		f := byKey[row.key]
		// A | in a table cell ends the cell, even in code.
		cmd := strings.ReplaceAll(step[f.step], "|", `\|`)
		fmt.Fprintf(w, "| %s | %s | `%s` (%s) |\n", what, shown, cmd, strings.ReplaceAll(f.bench, "|", `\|`))
	}
	return nil
}
