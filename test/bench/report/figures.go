package main

import (
	"fmt"
	"regexp"
	"strings"
)

// AWS list prices (us-east-1), in US dollars, at which a task's requests
// are costed.
const (
	sqsStandardRequest = 0.40 / 1e6  // per request, standard queue
	sqsFIFORequest     = 0.50 / 1e6  // per request, FIFO queue
	dynamoWriteUnit    = 0.625 / 1e6 // per write request unit, on demand
	dynamoReadUnit     = 0.125 / 1e6 // per read request unit, on demand
	lambdaRequest      = 0.20 / 1e6  // per invocation
	lambdaARMGBSecond  = 0.0000133334
	lambdaMemoryGB     = 128.0 / 1024 // the memory the compute is costed at
)

// cost is what one task costs on AWS, by service, in US dollars.
type cost struct{ SQS, DynamoDB, Lambda float64 }

func (c cost) total() float64 { return c.SQS + c.DynamoDB + c.Lambda }

// costOf prices the per-task counts of one BenchmarkCost line: SQS
// requests (receives that delivered included, idle polls not: those cost
// by the hour), DynamoDB capacity units, and Lambda invocations with
// their billed milliseconds at 128 MB on arm64.
func costOf(r results, bench string) (cost, bool) {
	need := []string{"sqs-req/task", "sqs-fifo-req/task", "wu/task", "ru/task", "lambda-inv/task", "lambda-ms/task"}
	v := map[string]float64{}
	for _, u := range need {
		x, ok := r.get(bench, u)
		if !ok {
			return cost{}, false
		}
		v[u] = x
	}
	fifo := v["sqs-fifo-req/task"]
	return cost{
		SQS:      fifo*sqsFIFORequest + (v["sqs-req/task"]-fifo)*sqsStandardRequest,
		DynamoDB: v["wu/task"]*dynamoWriteUnit + v["ru/task"]*dynamoReadUnit,
		Lambda:   v["lambda-inv/task"]*lambdaRequest + v["lambda-ms/task"]/1000*lambdaMemoryGB*lambdaARMGBSecond,
	}, true
}

// A figure is one entry of the table and of latest.json.
type figure struct {
	key   string // latest.json's key
	label string // the table's words for it
	step  string // the step that measures it
	bench string // the benchmark (or what) it is read from
	// value returns the figure (a float64 or a string), or why there is
	// none.
	value func(r results) (any, string)
}

// unit reads one unit of one benchmark, the median of its lines.
func unit(bench, u string) func(results) (any, string) {
	return scaled(bench, u, 1)
}

// scaled reads one unit of one benchmark times k.
func scaled(bench, u string, k float64) func(results) (any, string) {
	return func(r results) (any, string) {
		v, ok := r.get(bench, u)
		if !ok {
			return nil, fmt.Sprintf("%s reported no %s", bench, u)
		}
		return v * k, ""
	}
}

// Benchmarks the figures are read from.
const (
	benchChain     = "BenchmarkCost/linear-100"
	benchLinear    = "BenchmarkEmbedded/linear-1000"
	benchItems     = "BenchmarkEmbedded/with-items-1000-conc-50"
	benchLatency   = "BenchmarkLatency"
	benchFanOut    = "BenchmarkFanOut/items-10000-conc-0"
	mistralLinear  = "BenchmarkPeerMistral/linear-1000"
	mistralItems   = "BenchmarkPeerMistral/with-items-1000-conc-50"
	temporalLinear = "BenchmarkPeerTemporal/linear-1000"
	temporalItems  = "BenchmarkPeerTemporal/with-items-1000-conc-50"
	transitionAWS  = "BenchmarkTransitionCostAWS/aws"
)

// costShapes are BenchmarkCost's shapes and their keys' prefixes.
var costShapes = []struct{ bench, key, label string }{
	{"BenchmarkCost/linear-100", "chain_100", "100-task chain"},
	{"BenchmarkCost/with-items-100", "with_items_100", "100-item with-items"},
	{"BenchmarkCost/fork-10-join", "fork_10_join", "10-way fork and join"},
}

// temporalSetups are the peer's setups, as its lines name them.
var temporalSetups = []struct{ name, label string }{
	{"memory-shipped", "SQLite in memory, as shipped"},
	{"memory-raised", "SQLite in memory, transfer poll limit raised"},
	{"file-shipped", "SQLite file, as shipped"},
	{"file-raised", "SQLite file, transfer poll limit raised"},
}

// transitionShapes are the shapes BenchmarkTransitionCostAWS runs at 10
// and 10,000 tasks: the ratio is the larger of theirs.
var transitionShapes = []string{"loop", "with-items"}

// bestTemporal returns the setup of the peer that ran the shape fastest,
// and its tasks/s.
func bestTemporal(r results, bench string) (setup string, tps float64, ok bool) {
	for _, s := range temporalSetups {
		if v, found := r.get(bench+"/"+s.name, "tasks/s"); found && v > tps {
			setup, tps, ok = s.name, v, true
		}
	}
	return setup, tps, ok
}

// peer is the peer the headline figures compare with: Temporal at its
// fastest setup on the chain, or Mistral when Temporal was not measured.
func peer(r results, configs map[string]string) (name string, tps float64, ok bool) {
	if setup, v, found := bestTemporal(r, temporalLinear); found {
		label := setup
		for _, s := range temporalSetups {
			if s.name == setup {
				label = s.label
			}
		}
		return fmt.Sprintf("Temporal (%s; %s)", strings.TrimSpace(configs["temporal"]), label), v, true
	}
	if v, found := r.get(mistralLinear, "tasks/s"); found {
		return fmt.Sprintf("Mistral %s (SQLite in memory)", configs["mistral"]), v, true
	}
	return "", 0, false
}

// figures lists every figure, in the table's order: those the issue of
// record names first, then the breakdowns.
func figures(r results, configs map[string]string) []figure {
	fs := []figure{
		{"sqs_requests_per_task", "SQS requests per task, 100-task chain (receives that delivered included)", "cost", benchChain, unit(benchChain, "sqs-req/task")},
		{"dynamodb_requests_per_task", "DynamoDB requests per task, 100-task chain", "cost", benchChain, unit(benchChain, "ddb-req/task")},
		{"dynamodb_write_units_per_task", "DynamoDB write units per task, 100-task chain", "cost", benchChain, unit(benchChain, "wu/task")},
		{"dynamodb_read_units_per_task", "DynamoDB read units per task, 100-task chain", "cost", benchChain, unit(benchChain, "ru/task")},
		{"lambda_invocations_per_task", "Lambda invocations per task, 100-task chain", "cost", benchChain, unit(benchChain, "lambda-inv/task")},
		{"cost_usd_per_million_tasks", "cost per million tasks, 100-task chain, USD (SQS + DynamoDB + Lambda)", "cost", benchChain, costFigure(benchChain, func(c cost) float64 { return c.total() })},
		{"transition_cost_ratio_10000_vs_10", "write units per transition, 10,000-task execution ÷ 10-task (larger of chain and with-items)", "transition", transitionAWS + "/{loop,with-items}-{10,10000}", transitionRatio},
		{"embedded_tasks_per_second", "embedded throughput, 1,000-task chain, tasks/s (median of 3)", "embedded", benchLinear, unit(benchLinear, "tasks/s")},
		{"peer_name", "peer", "temporal", temporalLinear, func(r results) (any, string) {
			if n, _, ok := peer(r, configs); ok {
				return n, ""
			}
			return nil, "no peer measured"
		}},
		{"peer_tasks_per_second", "peer throughput, 1,000-task chain, tasks/s", "temporal", temporalLinear, func(r results) (any, string) {
			if _, v, ok := peer(r, configs); ok {
				return v, ""
			}
			return nil, "no peer measured"
		}},
		{"throughput_ratio_vs_peer", "Bora's throughput ÷ the peer's, 1,000-task chain", "temporal", benchLinear + " ÷ peer", func(r results) (any, string) {
			b, ok1 := r.get(benchLinear, "tasks/s")
			_, p, ok2 := peer(r, configs)
			if !ok1 || !ok2 || p == 0 {
				return nil, "Bora or the peer not measured"
			}
			return b / p, ""
		}},
		{"mistral_tasks_per_second", "Mistral 15 throughput, 1,000-task chain, tasks/s", "mistral", mistralLinear, unit(mistralLinear, "tasks/s")},
		{"allocs_per_task", "heap allocations per task, embedded 1,000-task chain", "embedded", benchLinear, unit(benchLinear, "allocs/task")},
		{"p50_transition_ms", "latency from a task's outcome to the next task's claim, median, ms", "latency", benchLatency, scaled(benchLatency, "p50-µs", 1e-3)},
		{"p99_transition_ms", "latency from a task's outcome to the next task's claim, 99th percentile, ms", "latency", benchLatency, scaled(benchLatency, "p99-µs", 1e-3)},
		{"fanout_10000_peak_mb", "peak heap, one 10,000-item with-items, MB", "fanout", benchFanOut, unit(benchFanOut, "peak-MB")},
		// More of the same runs.
		{"embedded_cpu_us_per_task", "embedded CPU time per task, 1,000-task chain, µs", "embedded", benchLinear, unit(benchLinear, "cpu-µs/task")},
		{"embedded_with_items_tasks_per_second", "embedded throughput, 1,000-item with-items at concurrency 50, tasks/s (median of 3)", "embedded", benchItems, unit(benchItems, "tasks/s")},
		{"embedded_with_items_allocs_per_task", "heap allocations per task, embedded with-items", "embedded", benchItems, unit(benchItems, "allocs/task")},
		{"peer_with_items_tasks_per_second", "Temporal throughput, 1,000-item with-items at concurrency 50, tasks/s (its fastest setup)", "temporal", temporalItems, func(r results) (any, string) {
			if _, v, ok := bestTemporal(r, temporalItems); ok {
				return v, ""
			}
			return nil, "Temporal not measured"
		}},
		{"throughput_ratio_vs_peer_with_items", "Bora's throughput ÷ Temporal's, with-items", "temporal", benchItems + " ÷ " + temporalItems, func(r results) (any, string) {
			b, ok1 := r.get(benchItems, "tasks/s")
			_, p, ok2 := bestTemporal(r, temporalItems)
			if !ok1 || !ok2 || p == 0 {
				return nil, "Bora or Temporal not measured"
			}
			return b / p, ""
		}},
		{"mistral_with_items_tasks_per_second", "Mistral 15 throughput, with-items at concurrency 50, tasks/s", "mistral", mistralItems, unit(mistralItems, "tasks/s")},
		{"fanout_10000_us_per_item", "time per item, one 10,000-item with-items, µs", "fanout", benchFanOut, unit(benchFanOut, "µs/item")},
	}
	for _, sh := range []struct{ bench, key string }{{temporalLinear, "linear_1000"}, {temporalItems, "with_items_1000_conc_50"}} {
		for _, s := range temporalSetups {
			b := sh.bench + "/" + s.name
			fs = append(fs,
				figure{"temporal_" + sh.key + "_" + strings.ReplaceAll(s.name, "-", "_") + "_tasks_per_second", "Temporal, " + s.label + ", tasks/s", "temporal", b, unit(b, "tasks/s")},
				figure{"temporal_" + sh.key + "_" + strings.ReplaceAll(s.name, "-", "_") + "_cpu_us_per_task", "Temporal, " + s.label + ", CPU µs per task", "temporal", b, unit(b, "cpu-µs/task")})
		}
	}
	for _, sh := range transitionShapes {
		for _, n := range []int{10, 10000} {
			b := fmt.Sprintf("%s/%s-%d", transitionAWS, sh, n)
			fs = append(fs, figure{fmt.Sprintf("transition_%s_%d_write_units", strings.ReplaceAll(sh, "-", "_"), n), fmt.Sprintf("write units per transition, %s of %d", sh, n), "transition", b, unit(b, "wu/tr")})
		}
	}
	fs = append(fs, scaleFigures()...)
	for _, sh := range costShapes {
		fs = append(fs, costBreakdown(r, sh.bench, sh.key, sh.label)...)
	}
	return fs
}

// costFigure prices a BenchmarkCost line per million tasks.
func costFigure(bench string, part func(cost) float64) func(results) (any, string) {
	return func(r results) (any, string) {
		c, ok := costOf(r, bench)
		if !ok {
			return nil, bench + " not measured"
		}
		return part(c) * 1e6, ""
	}
}

// transitionRatio is the larger, over the shapes, of write units per
// transition at 10,000 tasks over those at 10.
func transitionRatio(r results) (any, string) {
	var most float64
	found := false
	for _, sh := range transitionShapes {
		a, ok1 := r.get(fmt.Sprintf("%s/%s-10", transitionAWS, sh), "wu/tr")
		z, ok2 := r.get(fmt.Sprintf("%s/%s-10000", transitionAWS, sh), "wu/tr")
		if ok1 && ok2 && a > 0 {
			most, found = max(most, z/a), true
		}
	}
	if !found {
		return nil, transitionAWS + " not measured at 10 and 10,000 tasks"
	}
	return most, ""
}

// opUnit is a per-operation unit of BenchmarkCost: "SQS.SendMessageBatch/task",
// "DynamoDB.UpdateItem-wu/task".
var opUnit = regexp.MustCompile(`^(SQS|DynamoDB)\.([A-Za-z]+)(-wu|-ru)?/task$`)

// costBreakdown is every figure of one BenchmarkCost shape.
func costBreakdown(r results, bench, key, label string) []figure {
	fs := []figure{
		{key + "_sqs_requests_per_task", "SQS requests per task, " + label, "cost", bench, unit(bench, "sqs-req/task")},
		{key + "_sqs_fifo_requests_per_task", "  of which to the FIFO engine queue", "cost", bench, unit(bench, "sqs-fifo-req/task")},
		{key + "_sqs_receives_per_task", "  of which receives that delivered (the pollers')", "cost", bench, unit(bench, "sqs-receives/task")},
		{key + "_sqs_empty_receives_per_task", "SQS idle polls per task in this run (not costed: by the hour)", "cost", bench, unit(bench, "sqs-empty-receives/task")},
		{key + "_messages_per_task", "SQS messages sent per task, " + label, "cost", bench, unit(bench, "msgs/task")},
		{key + "_message_bytes", "bytes per message sent, " + label, "cost", bench, unit(bench, "msg-B")},
		{key + "_dynamodb_requests_per_task", "DynamoDB requests per task, " + label, "cost", bench, unit(bench, "ddb-req/task")},
		{key + "_dynamodb_write_units_per_task", "DynamoDB write units per task, " + label, "cost", bench, unit(bench, "wu/task")},
		{key + "_dynamodb_read_units_per_task", "DynamoDB read units per task, " + label, "cost", bench, unit(bench, "ru/task")},
		{key + "_head_item_bytes", "bytes of the execution's head item, " + label, "cost", bench, unit(bench, "head-item-B")},
		{key + "_task_item_bytes", "bytes per task item (with its unit of item 0), " + label, "cost", bench, unit(bench, "task-item-B")},
	}
	if _, ok := r.get(bench, "unit-item-B"); ok {
		fs = append(fs, figure{key + "_unit_item_bytes", "bytes per unit item (items 1 and up), " + label, "cost", bench, unit(bench, "unit-item-B")})
	}
	fs = append(fs,
		figure{key + "_lambda_invocations_per_task", "Lambda invocations per task, " + label, "cost", bench, unit(bench, "lambda-inv/task")},
		figure{key + "_lambda_ms_per_task", "Lambda billed ms per task (handler time), " + label, "cost", bench, unit(bench, "lambda-ms/task")},
		figure{key + "_engine_ms_per_invocation", "  engine: billed ms per invocation", "cost", bench, unit(bench, "engine-ms/inv")},
		figure{key + "_worker_ms_per_invocation", "  worker: billed ms per invocation", "cost", bench, unit(bench, "worker-ms/inv")},
		figure{key + "_engine_queue_sends_per_task", "  sends (SendMessageBatch requests) to the engine queue per task", "cost", bench, unit(bench, "engine-queue-sends/task")})
	for _, u := range r.units(bench) {
		m := opUnit.FindStringSubmatch(u)
		if m == nil {
			continue
		}
		what, words := "requests", " requests per task"
		switch m[3] {
		case "-wu":
			what, words = "write_units", " write units per task"
		case "-ru":
			what, words = "read_units", " read units per task"
		}
		fs = append(fs, figure{
			fmt.Sprintf("%s_%s_%s_%s_per_task", key, strings.ToLower(m[1]), m[2], what),
			"  " + m[1] + "." + m[2] + words, "cost", bench, unit(bench, u)})
	}
	for _, part := range []struct {
		name string
		f    func(cost) float64
	}{
		{"sqs", func(c cost) float64 { return c.SQS }},
		{"dynamodb", func(c cost) float64 { return c.DynamoDB }},
		{"lambda", func(c cost) float64 { return c.Lambda }},
		{"total", cost.total},
	} {
		fs = append(fs, figure{key + "_cost_usd_per_million_tasks_" + part.name, "cost per million tasks, USD, " + part.name + ", " + label, "cost", bench, costFigure(bench, part.f)})
	}
	return fs
}
