package sqs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
)

// fakeAdmin records the queues created and gives each an ARN.
type fakeAdmin struct {
	created map[string]map[string]string // name → attributes
}

func (f *fakeAdmin) CreateQueue(_ context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	f.created[*in.QueueName] = in.Attributes
	return &sqs.CreateQueueOutput{QueueUrl: ptr("https://sqs/000/" + *in.QueueName)}, nil
}

func (f *fakeAdmin) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	name := (*in.QueueUrl)[len("https://sqs/000/"):]
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{string(types.QueueAttributeNameQueueArn): "arn:aws:sqs:us-east-1:000:" + name}}, nil
}

func TestCreateQueues(t *testing.T) {
	t.Parallel()
	f := &fakeAdmin{created: map[string]map[string]string{}}
	got, err := CreateQueues(t.Context(), f, "p-",
		Spec{Name: "engine", FIFO: true, MaxReceives: 5, HighThroughput: true},
		Spec{Name: "task", MaxReceives: 3, VisibilityTimeout: 90 * time.Second},
		Spec{Name: "timer"},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []Created{
		{URL: "https://sqs/000/p-engine.fifo", ARN: "arn:aws:sqs:us-east-1:000:p-engine.fifo",
			DLQURL: "https://sqs/000/p-engine-dlq.fifo", DLQARN: "arn:aws:sqs:us-east-1:000:p-engine-dlq.fifo"},
		{URL: "https://sqs/000/p-task", ARN: "arn:aws:sqs:us-east-1:000:p-task",
			DLQURL: "https://sqs/000/p-task-dlq", DLQARN: "arn:aws:sqs:us-east-1:000:p-task-dlq"},
		{URL: "https://sqs/000/p-timer", ARN: "arn:aws:sqs:us-east-1:000:p-timer"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("created (-want +got):\n%s", d)
	}
	wantAttrs := map[string]map[string]string{
		"p-engine-dlq.fifo": {"FifoQueue": "true", "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId", "MessageRetentionPeriod": "1209600"},
		"p-engine.fifo": {"FifoQueue": "true", "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId", "VisibilityTimeout": "30",
			"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000:p-engine-dlq.fifo","maxReceiveCount":"5"}`},
		"p-task-dlq": {"MessageRetentionPeriod": "1209600"},
		"p-task": {"VisibilityTimeout": "90",
			"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000:p-task-dlq","maxReceiveCount":"3"}`},
		"p-timer": {"VisibilityTimeout": "30"},
	}
	if d := cmp.Diff(wantAttrs, f.created); d != "" {
		t.Errorf("queue attributes (-want +got):\n%s", d)
	}
}

type attrs map[string]string

func (a attrs) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: a}, nil
}

func TestRedrive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  string
		want    int
		wantARN string
		wantErr string
	}{
		{"quoted count", `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":"5"}`, 5, "arn:dlq", ""},
		{"number count", `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":3}`, 3, "arn:dlq", ""},
		{"no policy", ``, 0, "", "no redrive policy"},
		{"bad count", `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":"0"}`, 0, "", "want a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := attrs{}
			if tt.policy != "" {
				a["RedrivePolicy"] = tt.policy
			}
			n, arn, err := Redrive(context.Background(), a, "https://q")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.want || arn != tt.wantARN {
				t.Errorf("Redrive = %d, %q, %v; want %d, %q", n, arn, err, tt.want, tt.wantARN)
			}
		})
	}
}
