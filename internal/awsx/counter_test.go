package awsx

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
)

// fakeHTTP answers each request with the next canned response.
type fakeHTTP struct {
	mu        sync.Mutex
	responses []fakeResponse
	calls     int
}

type fakeResponse struct {
	status int
	body   string
}

func (f *fakeHTTP) Do(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	r := fakeResponse{status: 200, body: "{}"}
	if f.calls < len(f.responses) {
		r = f.responses[f.calls]
	}
	f.calls++
	return &http.Response{
		StatusCode: r.status,
		Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(strings.NewReader(r.body)),
		Request:    req,
	}, nil
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

func fakeConfig(h aws.HTTPClient) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
		HTTPClient:   h,
		BaseEndpoint: aws.String("http://fake.invalid"),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = noBackoff{}
				o.MaxAttempts = 3
			})
		},
	}
}

func TestCounter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		responses []fakeResponse
		call      func(ctx context.Context, cfg aws.Config) error
		want      Snapshot
	}{
		{
			name:      "put item sums write units",
			responses: []fakeResponse{{200, `{"ConsumedCapacity":{"TableName":"t","CapacityUnits":2}}`}},
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{
					TableName:              aws.String("t"),
					Item:                   map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}},
					ReturnConsumedCapacity: ddbtypes.ReturnConsumedCapacityTotal,
				})
				return err
			},
			want: Snapshot{Requests: map[Op]int64{{"DynamoDB", "PutItem"}: 1}, Calls: map[Op]int64{{"DynamoDB", "PutItem"}: 1}, WriteUnits: 2,
				Units: map[Op]Capacity{{"DynamoDB", "PutItem"}: {Write: 2}}},
		},
		{
			name:      "get item sums read units",
			responses: []fakeResponse{{200, `{"ConsumedCapacity":{"TableName":"t","CapacityUnits":0.5}}`}},
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{
					TableName: aws.String("t"),
					Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}},
				})
				return err
			},
			want: Snapshot{Requests: map[Op]int64{{"DynamoDB", "GetItem"}: 1}, Calls: map[Op]int64{{"DynamoDB", "GetItem"}: 1}, ReadUnits: 0.5,
				Units: map[Op]Capacity{{"DynamoDB", "GetItem"}: {Read: 0.5}}},
		},
		{
			name: "retries count as requests",
			responses: []fakeResponse{
				{500, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}`},
				{200, `{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1}}`},
			},
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := dynamodb.NewFromConfig(cfg).UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName: aws.String("t"),
					Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}},
				})
				return err
			},
			want: Snapshot{Requests: map[Op]int64{{"DynamoDB", "UpdateItem"}: 2}, Calls: map[Op]int64{{"DynamoDB", "UpdateItem"}: 1}, WriteUnits: 1,
				Units: map[Op]Capacity{{"DynamoDB", "UpdateItem"}: {Write: 1}}},
		},
		{
			name:      "failed requests count",
			responses: []fakeResponse{{400, `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"no"}`}},
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := dynamodb.NewFromConfig(cfg).DeleteItem(ctx, &dynamodb.DeleteItemInput{
					TableName: aws.String("t"),
					Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}},
				})
				if err == nil {
					return errFake("want a conditional check failure")
				}
				return nil
			},
			want: Snapshot{Requests: map[Op]int64{{"DynamoDB", "DeleteItem"}: 1}, Calls: map[Op]int64{{"DynamoDB", "DeleteItem"}: 1}},
		},
		{
			name:      "batch write sums every table",
			responses: []fakeResponse{{200, `{"ConsumedCapacity":[{"TableName":"a","CapacityUnits":3},{"TableName":"b","CapacityUnits":4}]}`}},
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := dynamodb.NewFromConfig(cfg).BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
					RequestItems: map[string][]ddbtypes.WriteRequest{"a": {{PutRequest: &ddbtypes.PutRequest{
						Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "a"}},
					}}}},
				})
				return err
			},
			want: Snapshot{Requests: map[Op]int64{{"DynamoDB", "BatchWriteItem"}: 1}, Calls: map[Op]int64{{"DynamoDB", "BatchWriteItem"}: 1}, WriteUnits: 7,
				Units: map[Op]Capacity{{"DynamoDB", "BatchWriteItem"}: {Write: 7}}},
		},
		{
			name:      "sqs requests per operation",
			responses: []fakeResponse{{200, `{}`}, {200, `{}`}},
			call: func(ctx context.Context, cfg aws.Config) error {
				c := sqs.NewFromConfig(cfg)
				for range 2 {
					if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String("http://fake.invalid/000000000000/q"), ReceiptHandle: aws.String("h")}); err != nil {
						return err
					}
				}
				return nil
			},
			want: Snapshot{Requests: map[Op]int64{{"SQS", "DeleteMessage"}: 2}, Calls: map[Op]int64{{"SQS", "DeleteMessage"}: 2}},
		},
		{
			name:      "empty receives are told apart",
			responses: []fakeResponse{{200, `{}`}, {200, `{"Messages":[{"MessageId":"m","ReceiptHandle":"h","Body":"b"}]}`}},
			call: func(ctx context.Context, cfg aws.Config) error {
				c := sqs.NewFromConfig(cfg)
				for range 2 {
					if _, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String("http://fake.invalid/000000000000/q")}); err != nil {
						return err
					}
				}
				return nil
			},
			want: Snapshot{Requests: map[Op]int64{{"SQS", "ReceiveMessage"}: 2}, Calls: map[Op]int64{{"SQS", "ReceiveMessage"}: 2}, EmptyReceives: 1},
		},
		{
			name:      "empty fifo receives are told apart",
			responses: []fakeResponse{{200, `{}`}, {200, `{}`}},
			call: func(ctx context.Context, cfg aws.Config) error {
				c := sqs.NewFromConfig(cfg)
				for _, u := range []string{"http://fake.invalid/0/events.fifo", "http://fake.invalid/0/tasks"} {
					if _, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(u)}); err != nil {
						return err
					}
				}
				return nil
			},
			want: Snapshot{Requests: map[Op]int64{{"SQS", "ReceiveMessage"}: 2}, Calls: map[Op]int64{{"SQS", "ReceiveMessage"}: 2},
				EmptyReceives: 2, FIFORequests: 1, EmptyFIFOReceives: 1},
		},
		{
			name: "fifo requests and sent messages are counted",
			responses: []fakeResponse{
				{200, `{"Successful":[{"Id":"0","MessageId":"m0"},{"Id":"1","MessageId":"m1"}]}`},
				{200, `{"MessageId":"m2"}`},
				{200, `{}`},
			},
			call: func(ctx context.Context, cfg aws.Config) error {
				c := sqs.NewFromConfig(cfg)
				fifo, std := aws.String("http://fake.invalid/0/events.fifo"), aws.String("http://fake.invalid/0/tasks")
				if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: fifo, Entries: []sqstypes.SendMessageBatchRequestEntry{
					{Id: aws.String("0"), MessageBody: aws.String("hello"), MessageGroupId: aws.String("g")},
					{Id: aws.String("1"), MessageBody: aws.String("hi"), MessageGroupId: aws.String("g"), MessageAttributes: map[string]sqstypes.MessageAttributeValue{
						"k": {DataType: aws.String("String"), StringValue: aws.String("vv")},
					}},
				}}); err != nil {
					return err
				}
				if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: std, MessageBody: aws.String("abc")}); err != nil {
					return err
				}
				_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: fifo, ReceiptHandle: aws.String("h")})
				return err
			},
			want: Snapshot{
				Requests: map[Op]int64{{"SQS", "SendMessageBatch"}: 1, {"SQS", "SendMessage"}: 1, {"SQS", "DeleteMessage"}: 1},
				Calls:    map[Op]int64{{"SQS", "SendMessageBatch"}: 1, {"SQS", "SendMessage"}: 1, {"SQS", "DeleteMessage"}: 1},
				// "hello" 5 + "hi" 2 + "k" 1 + "String" 6 + "vv" 2 + "abc" 3.
				FIFORequests: 2, Messages: 3, MessageBytes: 19,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &fakeHTTP{responses: tt.responses}
			cfg := fakeConfig(h)
			c := NewCounter()
			c.Attach(&cfg)
			if err := tt.call(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Snapshot()); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
			if got, want := c.Snapshot().Total(""), int64(h.calls); got != want {
				t.Errorf("Total = %d, HTTP calls = %d", got, want)
			}
		})
	}
}

type errFake string

func (e errFake) Error() string { return string(e) }

func TestSnapshotSubAndReset(t *testing.T) {
	t.Parallel()
	h := &fakeHTTP{}
	cfg := fakeConfig(h)
	c := NewCounter()
	c.Attach(&cfg)
	client := sqs.NewFromConfig(cfg)
	del := func() {
		t.Helper()
		if _, err := client.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String("http://fake.invalid/0/q"), ReceiptHandle: aws.String("h")}); err != nil {
			t.Fatal(err)
		}
	}
	del()
	before := c.Snapshot()
	del()
	del()
	d := c.Snapshot().Sub(before)
	if diff := cmp.Diff(Snapshot{Requests: map[Op]int64{{"SQS", "DeleteMessage"}: 2}, Calls: map[Op]int64{{"SQS", "DeleteMessage"}: 2}}, d); diff != "" {
		t.Errorf("Sub (-want +got):\n%s", diff)
	}
	if got := d.Total("DynamoDB"); got != 0 {
		t.Errorf("Total(DynamoDB) = %d, want 0", got)
	}
	c.Reset()
	if got := c.Snapshot().Total(""); got != 0 {
		t.Errorf("after Reset, Total = %d, want 0", got)
	}
}

func TestCounterConcurrent(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(&fakeHTTP{})
	c := NewCounter()
	c.Attach(&cfg)
	client := sqs.NewFromConfig(cfg)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				_, _ = client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String("http://fake.invalid/0/q"), ReceiptHandle: aws.String("h")})
			}
		})
	}
	wg.Wait()
	if got := c.Snapshot().Total("SQS"); got != 40 {
		t.Errorf("Total(SQS) = %d, want 40", got)
	}
}

func TestSnapshotString(t *testing.T) {
	t.Parallel()
	s := Snapshot{
		Requests:   map[Op]int64{{"SQS", "SendMessageBatch"}: 3, {"DynamoDB", "UpdateItem"}: 2},
		ReadUnits:  1.5,
		WriteUnits: 4,
	}
	want := "DynamoDB.UpdateItem                  2\n" +
		"SQS.SendMessageBatch                 3\n" +
		"DynamoDB read units                  1.5\n" +
		"DynamoDB write units                 4.0\n"
	if diff := cmp.Diff(want, s.String()); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
}
