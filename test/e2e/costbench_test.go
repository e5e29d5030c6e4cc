package e2e

import (
	"context"
	"maps"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/store/dynamo"
)

// BenchmarkCost runs TestCostPerTask's shapes (a 100-task chain, a 100-item
// with-items, a 10-way fork with a join) on the endpoint and reports, per
// task, every request by operation, the DynamoDB capacity units by
// operation, the sizes of the messages sent and of the items stored, and
// what the three Lambda functions would be invoked for and for how long.
// docs/bench.md says how each is measured; `make bench` turns them into
// costs at AWS's list prices.
//
// Lambda is modelled on the event source mappings: each receive that
// delivered messages is one invocation with that batch (the worker's
// mapping has a batch of one, as the harness's workers receive), and the
// invocation's duration is the time from the receive to the deletion of
// the batch's last message: the handlers' work, the requests they make
// included. The receive and the deletion are the mapping's, not the
// function's.
func BenchmarkCost(b *testing.B) {
	inv := &invocations{}
	inv.reset()
	r := newCostRig(b, func(p *embedded.Parts) {
		p.Events = timedQueue{Queue: p.Events, inv: inv, fn: "engine", sends: &inv.eventSends}
		p.Tasks = timedQueue{Queue: p.Tasks, inv: inv, fn: "worker"}
		p.Timers = timedQueue{Queue: p.Timers, inv: inv, fn: "engine"}
	})
	for _, c := range costShapes {
		b.Run(c.name, func(b *testing.B) {
			var total awsx.Snapshot
			var eventSends int64
			calls, billedMS := map[string]int64{}, map[string]int64{}
			var items itemSizes
			for range b.N {
				inv.reset()
				d, id := r.run(b, c)
				total = add(total, d)
				eventSends += inv.eventSends.Load()
				n, ms := inv.result()
				for fn := range n {
					calls[fn] += n[fn]
					billedMS[fn] += ms[fn]
				}
				items.add(b, r, id)
			}
			tasks := float64(c.tasks * b.N)
			per := func(v float64) float64 { return v / tasks }
			var empty, receives float64
			for op, n := range total.Requests {
				b.ReportMetric(per(float64(n)), op.String()+"/task")
				if u, ok := total.Units[op]; ok {
					if u.Write != 0 {
						b.ReportMetric(per(u.Write), op.String()+"-wu/task")
					}
					if u.Read != 0 {
						b.ReportMetric(per(u.Read), op.String()+"-ru/task")
					}
				}
				if op.Service == "SQS" && op.Operation == "ReceiveMessage" {
					receives = float64(n)
				}
			}
			empty = float64(total.EmptyReceives)
			sqsReq := float64(total.Total("SQS")) - empty
			b.ReportMetric(per(sqsReq), "sqs-req/task")
			// FIFO requests are priced apart; idle polls are not per task.
			b.ReportMetric(per(float64(total.FIFORequests-total.EmptyFIFOReceives)), "sqs-fifo-req/task")
			b.ReportMetric(per(receives-empty), "sqs-receives/task")
			b.ReportMetric(per(empty), "sqs-empty-receives/task")
			b.ReportMetric(per(float64(total.Total("DynamoDB"))), "ddb-req/task")
			b.ReportMetric(per(total.WriteUnits), "wu/task")
			b.ReportMetric(per(total.ReadUnits), "ru/task")
			b.ReportMetric(per(float64(total.Messages)), "msgs/task")
			// Each Send to the engine queue is a SendMessageBatch request
			// (more when it holds messages of more than ten groups): the
			// FIFO queue's throughput quota counts these.
			b.ReportMetric(per(float64(eventSends)), "engine-queue-sends/task")
			if total.Messages > 0 {
				b.ReportMetric(float64(total.MessageBytes)/float64(total.Messages), "msg-B")
			}
			var allCalls, allMS int64
			for fn, n := range calls {
				allCalls += n
				allMS += billedMS[fn]
				b.ReportMetric(per(float64(n)), fn+"-inv/task")
				b.ReportMetric(float64(billedMS[fn])/float64(n), fn+"-ms/inv")
			}
			b.ReportMetric(per(float64(allCalls)), "lambda-inv/task")
			b.ReportMetric(per(float64(allMS)), "lambda-ms/task")
			items.report(b)
		})
	}
}

// add sums two snapshots' requests, units and messages.
func add(a, b awsx.Snapshot) awsx.Snapshot {
	out := awsx.Snapshot{Requests: map[awsx.Op]int64{}, Units: map[awsx.Op]awsx.Capacity{}}
	for _, s := range []awsx.Snapshot{a, b} {
		for op, n := range s.Requests {
			out.Requests[op] += n
		}
		for op, u := range s.Units {
			v := out.Units[op]
			v.Read += u.Read
			v.Write += u.Write
			out.Units[op] = v
		}
		out.ReadUnits += s.ReadUnits
		out.WriteUnits += s.WriteUnits
		out.EmptyReceives += s.EmptyReceives
		out.FIFORequests += s.FIFORequests
		out.EmptyFIFOReceives += s.EmptyFIFOReceives
		out.Messages += s.Messages
		out.MessageBytes += s.MessageBytes
	}
	return out
}

// itemSizes sums the sizes of the items an execution left in the table,
// by kind: its head, its tasks (each with its unit of item 0), the units
// of items 1 and up.
type itemSizes struct {
	bytes, count, most map[string]int
}

func (s *itemSizes) add(tb testing.TB, r *costRig, id string) {
	tb.Helper()
	if s.bytes == nil {
		s.bytes, s.count, s.most = map[string]int{}, map[string]int{}, map[string]int{}
	}
	p := dynamodb.NewQueryPaginator(r.client, &dynamodb.QueryInput{
		TableName:                 &r.table,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "EX#" + id}},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		for _, it := range page.Items {
			sk, _ := it["sk"].(*types.AttributeValueMemberS)
			kind := "unit"
			switch {
			case sk == nil:
				continue
			case sk.Value == "META":
				kind = "head"
			case strings.HasPrefix(sk.Value, "T#"):
				kind = "task"
			}
			n := dynamo.ItemSize(it)
			s.bytes[kind] += n
			s.count[kind]++
			s.most[kind] = max(s.most[kind], n)
		}
	}
}

// report reports the mean and largest size of each kind of item.
func (s *itemSizes) report(b *testing.B) {
	for kind, n := range s.count {
		b.ReportMetric(float64(s.bytes[kind])/float64(n), kind+"-item-B")
		b.ReportMetric(float64(s.most[kind]), kind+"-item-B-max")
	}
}

// invocations models the Lambda invocations of the event source mappings:
// one per receive that delivered messages, lasting until the last of them
// is deleted or handed back.
type invocations struct {
	eventSends atomic.Int64 // Send calls to the engine queue: its SendMessageBatch requests
	mu         sync.Mutex
	open       map[string]*batchClock // by receipt handle
	calls      map[string]int64       // by function
	billed     map[string]int64       // milliseconds, each invocation rounded up as Lambda bills
}

type batchClock struct {
	fn    string
	start time.Time
	left  int
}

func (v *invocations) reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.open, v.calls, v.billed = map[string]*batchClock{}, map[string]int64{}, map[string]int64{}
	v.eventSends.Store(0)
}

// result returns, by function, the invocations and billed milliseconds
// since reset.
func (v *invocations) result() (calls, billedMS map[string]int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.calls), maps.Clone(v.billed)
}

func (v *invocations) received(fn string, msgs []queue.Message) {
	if len(msgs) == 0 {
		return
	}
	c := &batchClock{fn: fn, start: time.Now(), left: len(msgs)}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls[fn]++
	for _, m := range msgs {
		v.open[m.Handle] = c
	}
}

// done ends the handling of messages: when the last of a batch is done,
// the invocation ends.
func (v *invocations) done(handles ...string) {
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, h := range handles {
		c, ok := v.open[h]
		if !ok {
			continue
		}
		delete(v.open, h)
		if c.left--; c.left == 0 {
			v.billed[c.fn] += int64(math.Ceil(float64(now.Sub(c.start)) / float64(time.Millisecond)))
		}
	}
}

// timedQueue tells invocations when messages are received and when their
// handling ends.
type timedQueue struct {
	queue.Queue
	inv   *invocations
	fn    string        // the function the queue's mapping invokes
	sends *atomic.Int64 // counts Send calls, if not nil
}

func (q timedQueue) Send(ctx context.Context, msgs ...queue.Out) error {
	if q.sends != nil {
		q.sends.Add(1)
	}
	return q.Queue.Send(ctx, msgs...)
}

func (q timedQueue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]queue.Message, error) {
	msgs, err := q.Queue.Receive(ctx, n, wait, visibility)
	q.inv.received(q.fn, msgs)
	return msgs, err
}

func (q timedQueue) Delete(ctx context.Context, handles ...string) error {
	q.inv.done(handles...)
	return q.Queue.Delete(ctx, handles...)
}

func (q timedQueue) ChangeVisibility(ctx context.Context, handle string, d time.Duration) error {
	q.inv.done(handle)
	return q.Queue.ChangeVisibility(ctx, handle, d)
}
