package awsx

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
)

// Op names one API operation of one service, as the SDK names them
// ("DynamoDB", "UpdateItem"; "SQS", "SendMessageBatch").
type Op struct {
	Service   string
	Operation string
}

func (o Op) String() string { return o.Service + "." + o.Operation }

// Snapshot is what a Counter has seen.
type Snapshot struct {
	// Requests counts HTTP requests per operation, retries included: each
	// is a request AWS bills.
	Requests map[Op]int64
	// Calls counts the operations the SDK was asked to perform, each once
	// however many requests its retries took: Requests less Calls is the
	// number of retries.
	Calls map[Op]int64
	// ReadUnits and WriteUnits sum DynamoDB's ConsumedCapacity, as reported
	// by calls made with ReturnConsumedCapacity set (the dynamo store sets
	// it on every call).
	ReadUnits  float64
	WriteUnits float64
	// EmptyReceives counts the SQS ReceiveMessage requests (among
	// Requests) that returned no message: a poller's idle polls, which AWS
	// bills by the time a queue is polled rather than by the work done.
	EmptyReceives int64
	// Units splits ReadUnits and WriteUnits by operation (DynamoDB
	// operations that reported capacity only).
	Units map[Op]Capacity
	// FIFORequests counts the SQS requests (among Requests) made to FIFO
	// queues (a queue URL ending in .fifo), which AWS prices apart, and
	// EmptyFIFOReceives those of them among EmptyReceives.
	FIFORequests, EmptyFIFOReceives int64
	// Messages counts the SQS messages the calls asked to send, each
	// once however many requests it took, and MessageBytes their size as
	// SQS measures it (body, and each attribute's name, type and value).
	Messages, MessageBytes int64
}

// Capacity is DynamoDB capacity consumed: read and write units.
type Capacity struct{ Read, Write float64 }

// Total is the number of requests made to service ("" for every service).
func (s Snapshot) Total(service string) int64 { return sumOf(s.Requests, service) }

// CallTotal is the number of operations asked of service ("" for every
// service), each once however many requests its retries took: what the
// code using the clients does, apart from how the network behaved.
func (s Snapshot) CallTotal(service string) int64 { return sumOf(s.Calls, service) }

// sumOf adds the counts of service's operations ("" for every service).
func sumOf(counts map[Op]int64, service string) int64 {
	var n int64
	for op, c := range counts {
		if service == "" || op.Service == service {
			n += c
		}
	}
	return n
}

// String lists the counts, one operation a line, sorted by name, then the
// capacity units.
func (s Snapshot) String() string {
	ops := slices.SortedFunc(maps.Keys(s.Requests), func(a, b Op) int { return strings.Compare(a.String(), b.String()) })
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "%-36s %d\n", op, s.Requests[op])
	}
	if s.EmptyReceives > 0 {
		fmt.Fprintf(&b, "%-36s %d\n", "  of which empty", s.EmptyReceives)
	}
	fmt.Fprintf(&b, "%-36s %.1f\n%-36s %.1f\n", "DynamoDB read units", s.ReadUnits, "DynamoDB write units", s.WriteUnits)
	return b.String()
}

// Sub returns what happened between prev and s.
func (s Snapshot) Sub(prev Snapshot) Snapshot {
	return Snapshot{
		Requests:          subCounts(s.Requests, prev.Requests),
		Calls:             subCounts(s.Calls, prev.Calls),
		ReadUnits:         s.ReadUnits - prev.ReadUnits,
		WriteUnits:        s.WriteUnits - prev.WriteUnits,
		EmptyReceives:     s.EmptyReceives - prev.EmptyReceives,
		Units:             subUnits(s.Units, prev.Units),
		FIFORequests:      s.FIFORequests - prev.FIFORequests,
		EmptyFIFOReceives: s.EmptyFIFOReceives - prev.EmptyFIFOReceives,
		Messages:          s.Messages - prev.Messages,
		MessageBytes:      s.MessageBytes - prev.MessageBytes,
	}
}

// subUnits is now less prev, nil when nothing changed.
func subUnits(now, prev map[Op]Capacity) map[Op]Capacity {
	var d map[Op]Capacity
	for op, c := range now {
		p := prev[op]
		if c.Read != p.Read || c.Write != p.Write {
			if d == nil {
				d = map[Op]Capacity{}
			}
			d[op] = Capacity{Read: c.Read - p.Read, Write: c.Write - p.Write}
		}
	}
	return d
}

func subCounts(now, prev map[Op]int64) map[Op]int64 {
	d := make(map[Op]int64, len(now))
	for op, c := range now {
		if c -= prev[op]; c != 0 {
			d[op] = c
		}
	}
	return d
}

// Counter counts the AWS requests made by the clients built from a
// configuration it is attached to. It is safe for concurrent use.
type Counter struct {
	mu   sync.Mutex
	snap Snapshot
}

// NewCounter returns an empty counter.
func NewCounter() *Counter {
	return &Counter{snap: Snapshot{Requests: map[Op]int64{}, Calls: map[Op]int64{}}}
}

// Attach makes every client later built from cfg report to c.
func (c *Counter) Attach(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, c.AddTo)
}

// AddTo adds the counting middleware to one operation's stack; it is an
// SDK API option (func(*middleware.Stack) error).
func (c *Counter) AddTo(stack *middleware.Stack) error {
	// The initialize step runs once per operation; the deserialize step
	// runs once per attempt (retries live in the finalize step between
	// them). Added first, the deserialize middleware wraps the operation's
	// deserializer and so sees its typed output.
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BoraCallCounter", c.call), middleware.Before); err != nil {
		return err
	}
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("BoraRequestCounter", c.handle), middleware.Before)
}

func (c *Counter) call(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	op := Op{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx)}
	msgs, size := sent(in.Parameters)
	c.mu.Lock()
	c.snap.Calls[op]++
	c.snap.Messages += msgs
	c.snap.MessageBytes += size
	c.mu.Unlock()
	if fifoQueue(in.Parameters) {
		ctx = middleware.WithStackValue(ctx, fifoKey{}, true)
	}
	return next.HandleInitialize(ctx, in)
}

// fifoKey marks, among an operation's stack values, a request to a FIFO
// queue.
type fifoKey struct{}

// fifoQueue tells whether an SQS input names a FIFO queue.
func fifoQueue(params any) bool {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("QueueUrl")
	if !f.IsValid() {
		return false
	}
	u, ok := f.Interface().(*string)
	return ok && u != nil && strings.HasSuffix(*u, ".fifo")
}

// sent counts the messages an SQS send asks for and their size.
func sent(params any) (n, size int64) {
	switch in := params.(type) {
	case *sqs.SendMessageInput:
		return 1, messageSize(in.MessageBody, in.MessageAttributes)
	case *sqs.SendMessageBatchInput:
		for _, e := range in.Entries {
			n++
			size += messageSize(e.MessageBody, e.MessageAttributes)
		}
	}
	return n, size
}

// messageSize is a message's size as SQS counts it: the body, and the
// name, data type and value of each attribute.
func messageSize(body *string, attrs map[string]sqstypes.MessageAttributeValue) int64 {
	var n int
	if body != nil {
		n = len(*body)
	}
	for name, a := range attrs {
		n += len(name)
		if a.DataType != nil {
			n += len(*a.DataType)
		}
		if a.StringValue != nil {
			n += len(*a.StringValue)
		}
		n += len(a.BinaryValue)
	}
	return int64(n)
}

func (c *Counter) handle(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	op := Op{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx)}
	read, write := consumed(out.Result)
	r, ok := out.Result.(*sqs.ReceiveMessageOutput)
	empty := ok && err == nil && len(r.Messages) == 0
	fifo, _ := middleware.GetStackValue(ctx, fifoKey{}).(bool)
	c.mu.Lock()
	c.snap.Requests[op]++
	c.snap.ReadUnits += read
	c.snap.WriteUnits += write
	if read != 0 || write != 0 {
		if c.snap.Units == nil {
			c.snap.Units = map[Op]Capacity{}
		}
		u := c.snap.Units[op]
		u.Read += read
		u.Write += write
		c.snap.Units[op] = u
	}
	if empty {
		c.snap.EmptyReceives++
	}
	if fifo {
		c.snap.FIFORequests++
		if empty {
			c.snap.EmptyFIFOReceives++
		}
	}
	c.mu.Unlock()
	return out, md, err
}

// Snapshot returns a copy of the counts so far.
func (c *Counter) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap
	s.Requests = maps.Clone(c.snap.Requests)
	s.Calls = maps.Clone(c.snap.Calls)
	s.Units = maps.Clone(c.snap.Units)
	return s
}

// Reset sets every count to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap = Snapshot{Requests: map[Op]int64{}, Calls: map[Op]int64{}}
}

// consumed extracts the capacity units a DynamoDB output reports.
func consumed(result any) (read, write float64) {
	switch o := result.(type) {
	case *dynamodb.GetItemOutput:
		return units(o.ConsumedCapacity), 0
	case *dynamodb.QueryOutput:
		return units(o.ConsumedCapacity), 0
	case *dynamodb.ScanOutput:
		return units(o.ConsumedCapacity), 0
	case *dynamodb.BatchGetItemOutput:
		return sumUnits(o.ConsumedCapacity), 0
	case *dynamodb.TransactGetItemsOutput:
		return sumUnits(o.ConsumedCapacity), 0
	case *dynamodb.PutItemOutput:
		return 0, units(o.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		return 0, units(o.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		return 0, units(o.ConsumedCapacity)
	case *dynamodb.BatchWriteItemOutput:
		return 0, sumUnits(o.ConsumedCapacity)
	case *dynamodb.TransactWriteItemsOutput:
		return 0, sumUnits(o.ConsumedCapacity)
	}
	return 0, 0
}

func units(c *ddbtypes.ConsumedCapacity) float64 {
	if c == nil || c.CapacityUnits == nil {
		return 0
	}
	return *c.CapacityUnits
}

func sumUnits(cs []ddbtypes.ConsumedCapacity) float64 {
	var n float64
	for i := range cs {
		n += units(&cs[i])
	}
	return n
}
