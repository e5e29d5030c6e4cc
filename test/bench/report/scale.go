package main

import (
	"math"
)

// The scale model of docs/scale.md: from the per-task counts of the
// 100-task chain measured on the emulator, the rate of tasks per second at
// which each of AWS's published limits (and the stack's own settings) is
// met by executions of tasksPerExecution such tasks.
const (
	tasksPerExecution = 10
	// The DynamoDB store spreads each index key over this many shards
	// (dynamo.DefaultStateShards, DefaultDueShards); an execution writes
	// its by-state RUNNING shard twice (filed, moved out) and its due
	// shard twice. shardSkew is how much more than its share the busiest
	// of 32 shards takes at 10,000 executions a second
	// (TestScaleModel: 702 write units against 625).
	indexShards = 32
	shardSkew   = 1.125
	// DynamoDB: per partition, per table (on demand, adjustable), and a new
	// on-demand table's initial warm throughput.
	partitionWriteUnits = 1000.0
	partitionReadUnits  = 3000.0
	tableWriteUnits     = 40000.0
	tableReadUnits      = 40000.0
	newTableWriteUnits  = 4000.0
	// SQS FIFO high throughput mode (the engine queue's): SendMessage or
	// SendMessageBatch requests a second per queue, in us-east-1, us-west-2
	// and eu-west-1, and in the regions with the smallest quota.
	fifoSendsLargest  = 70000.0
	fifoSendsSmallest = 4500.0
	// Lambda: account concurrency (default, adjustable); concurrent
	// invocations of one standard-queue event source mapping; the Bora
	// stack's default cap on the worker's mapping (WorkerMaxConcurrency).
	accountConcurrency  = 1000.0
	mappingConcurrency  = 1250.0
	stackWorkerMaxConcy = 10.0
	// The engine handles at most this many events of one FIFO group per
	// invocation, one after another.
	engineBatch = 10
)

// A scaleLimit is one limit and the tasks a second at which the reference
// workload meets it.
type scaleLimit struct {
	key, what  string
	adjustable bool // a quota or setting that can be raised
	perExec    bool // a limit of one execution, not of all of them
	tasks      float64
}

// perTask are the counts of a task the model reads from a BenchmarkCost
// line, by unit.
type perTask map[string]float64

// measuredTasks is the length of the chain the counts are measured on.
const measuredTasks = 100

// forExecutionsOf returns the counts per task of executions of n tasks: the
// measured chain spreads an execution's own work over 100 tasks. An
// execution's own: 7 write units (3 to create its head, 1 for its start
// step, 3 at its end; docs/aws.md). Its start step is taken by the request
// that starts it: no start event, no engine invocation.
func (v perTask) forExecutionsOf(n int) perTask {
	k := 1/float64(n) - 1/float64(measuredTasks)
	out := perTask{}
	for u, x := range v {
		out[u] = x
	}
	out["wu/task"] += 7 * k
	return out
}

// Concurrency a task a second keeps busy: invocations per task times their
// duration in seconds.
func (v perTask) worker() float64 { return v["worker-inv/task"] * v["worker-ms/inv"] / 1000 }
func (v perTask) engine() float64 { return v["engine-inv/task"] * v["engine-ms/inv"] / 1000 }

// limitDefs are the limits, each with the tasks a second at which the
// counts meet it.
var limitDefs = []struct {
	key, what           string
	adjustable, perExec bool
	tasks               func(v perTask) float64
}{
	{"stack_worker_max_concurrency", "the stack's worker mapping cap (WorkerMaxConcurrency, default 10)", true, false,
		func(v perTask) float64 { return stackWorkerMaxConcy / v.worker() }},
	{"dynamodb_new_table_write_units", "DynamoDB: a new on-demand table's initial 4,000 write units/s", true, false,
		func(v perTask) float64 { return newTableWriteUnits / v["wu/task"] }},
	{"sqs_fifo_sends_smallest_region", "SQS FIFO high throughput: 4,500 sends/s per queue (smallest regions)", false, false,
		func(v perTask) float64 { return fifoSendsSmallest / v["engine-queue-sends/task"] }},
	{"dynamodb_table_write_units", "DynamoDB: table quota, 40,000 write units/s", true, false,
		func(v perTask) float64 { return tableWriteUnits / v["wu/task"] }},
	{"dynamodb_table_read_units", "DynamoDB: table quota, 40,000 read units/s", true, false,
		func(v perTask) float64 { return tableReadUnits / v["ru/task"] }},
	{"lambda_account_concurrency", "Lambda: account concurrency, 1,000", true, false,
		func(v perTask) float64 { return accountConcurrency / (v.worker() + v.engine()) }},
	{"lambda_mapping_concurrency", "Lambda: 1,250 concurrent invocations of the worker's mapping", false, false,
		func(v perTask) float64 { return mappingConcurrency / v.worker() }},
	{"sqs_fifo_sends_largest_region", "SQS FIFO high throughput: 70,000 sends/s per queue (us-east-1)", false, false,
		func(v perTask) float64 { return fifoSendsLargest / v["engine-queue-sends/task"] }},
	{"dynamodb_definition_partition", "DynamoDB: 3,000 read units/s on a workflow's definitions (each start reads the latest)", false, false,
		func(perTask) float64 { return partitionReadUnits * tasksPerExecution }},
	{"dynamodb_index_partition", "DynamoDB: 1,000 write units/s on the busiest index shard", false, false,
		// An execution started a second writes its busiest shard
		// 2 × shardSkew / indexShards units a second.
		func(perTask) float64 { return partitionWriteUnits / (2 * shardSkew / indexShards) * tasksPerExecution }},
	{"one_execution_partition", "one execution: 1,000 write units/s on its partition", false, true,
		func(v perTask) float64 { return partitionWriteUnits / v["wu/task"] }},
	{"one_execution_fifo_group", "one execution: its events one at a time through one FIFO group", false, true,
		// A chain's engine invocation handles one event: its time is an
		// event's, and a task is one event.
		func(v perTask) float64 { return 1000 / math.Max(v["engine-ms/inv"], 1) }},
}

// scaleLimits computes every limit from the counts of one BenchmarkCost
// line; ok is false when the line lacks a count.
func scaleLimits(r results, bench string) ([]scaleLimit, bool) {
	v := perTask{}
	for _, u := range []string{"wu/task", "ru/task", "engine-queue-sends/task",
		"engine-inv/task", "engine-ms/inv", "worker-inv/task", "worker-ms/inv"} {
		x, ok := r.get(bench, u)
		if !ok || x <= 0 {
			return nil, false
		}
		v[u] = x
	}
	ref := v.forExecutionsOf(tasksPerExecution)
	out := make([]scaleLimit, len(limitDefs))
	for i, d := range limitDefs {
		counts := ref
		if d.perExec {
			counts = v // one long execution: its own work is spread thin
		}
		out[i] = scaleLimit{key: d.key, what: d.what, adjustable: d.adjustable, perExec: d.perExec, tasks: d.tasks(counts)}
	}
	return out, true
}

// firstLimit is the limit of all executions met at the lowest rate, among
// the fixed ones only when asked.
func firstLimit(ls []scaleLimit, fixedOnly bool) (scaleLimit, bool) {
	var first scaleLimit
	found := false
	for _, l := range ls {
		if l.perExec || (fixedOnly && l.adjustable) {
			continue
		}
		if !found || l.tasks < first.tasks {
			first, found = l, true
		}
	}
	return first, found
}

// scaleFigures are the model's figures, for the table and latest.json.
func scaleFigures() []figure {
	pick := func(f func(ls []scaleLimit) any) func(results) (any, string) {
		return func(r results) (any, string) {
			ls, ok := scaleLimits(r, benchChain)
			if !ok {
				return nil, benchChain + " not measured"
			}
			return f(ls), ""
		}
	}
	first := func(fixed, name bool) func(results) (any, string) {
		return pick(func(ls []scaleLimit) any {
			l, _ := firstLimit(ls, fixed)
			if name {
				return l.what
			}
			return l.tasks
		})
	}
	const by = "model (docs/scale.md) on " + benchChain
	fs := []figure{
		{"scale_first_limit", "scale: the first limit met", "cost", by, first(false, true)},
		{"scale_first_limit_tasks_per_second", "scale: tasks/s at which it is met", "cost", by, first(false, false)},
		{"scale_first_fixed_limit", "scale: the first limit no quota request or setting raises", "cost", by, first(true, true)},
		{"scale_first_fixed_limit_tasks_per_second", "scale: tasks/s at which it is met", "cost", by, first(true, false)},
	}
	for i, d := range limitDefs {
		fs = append(fs, figure{"scale_tasks_per_second_" + d.key, "scale: tasks/s at " + d.what, "cost", by,
			pick(func(ls []scaleLimit) any { return ls[i].tasks })})
	}
	return fs
}
