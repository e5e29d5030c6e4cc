package function

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
)

func TestConfigNamesEveryMissingVariable(t *testing.T) {
	t.Setenv(EnvTable, "t")
	t.Setenv(EnvEngineQueue, "")
	t.Setenv(EnvTaskQueue, "")
	t.Setenv(EnvTimerQueue, "q")
	_, err := ConfigFromEnv()
	if err == nil || !strings.Contains(err.Error(), EnvEngineQueue) || !strings.Contains(err.Error(), EnvTaskQueue) || strings.Contains(err.Error(), EnvTable) {
		t.Fatalf("error = %v, want one message naming %s and %s only", err, EnvEngineQueue, EnvTaskQueue)
	}
	t.Setenv(EnvEngineQueue, "e")
	t.Setenv(EnvTaskQueue, "k")
	if _, err := ConfigFromEnv(); err != nil {
		t.Fatalf("complete configuration: %v", err)
	}
}

func TestConfigReadsRetention(t *testing.T) {
	t.Setenv(EnvTable, "t")
	t.Setenv(EnvEngineQueue, "e")
	t.Setenv(EnvTaskQueue, "k")
	t.Setenv(EnvTimerQueue, "q")
	for _, tt := range []struct {
		env  string
		want time.Duration
		bad  bool
	}{
		{env: "", want: 0},
		{env: "0", want: 0},
		{env: "720h", want: 720 * time.Hour},
		{env: "2592000s", want: 30 * 24 * time.Hour},
		{env: "30d", bad: true},
		{env: "-1h", bad: true},
	} {
		t.Setenv(EnvRetention, tt.env)
		c, err := ConfigFromEnv()
		if tt.bad {
			if err == nil || !strings.Contains(err.Error(), EnvRetention) {
				t.Errorf("%s=%q: error = %v, want one naming %s", EnvRetention, tt.env, err, EnvRetention)
			}
			continue
		}
		if err != nil || c.Retention != tt.want {
			t.Errorf("%s=%q: retention %v, error %v; want %v", EnvRetention, tt.env, c.Retention, err, tt.want)
		}
	}
}

func TestProcessReportsFailures(t *testing.T) {
	t.Parallel()
	msg := func(id, group string) events.SQSMessage {
		return events.SQSMessage{MessageId: id, Body: "{}", Attributes: map[string]string{"MessageGroupId": group}}
	}
	tests := []struct {
		name string
		in   []events.SQSMessage
		fail map[string]bool
		want []string
	}{
		{"none fail", []events.SQSMessage{msg("1", "a"), msg("2", "b")}, nil, []string{}},
		{"a failure holds back its group only", []events.SQSMessage{msg("1", "a"), msg("2", "a"), msg("3", "b")}, map[string]bool{"1": true}, []string{"1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := process(context.Background(), events.SQSEvent{Records: tt.in}, func(_ context.Context, m events.SQSMessage) error {
				if tt.fail[m.MessageId] {
					return errors.New("boom")
				}
				return nil
			})
			got := []string{}
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
			// No failures must be an empty list, never null: AWS accepts
			// both, but not every poller does.
			b, _ := json.Marshal(resp)
			if strings.Contains(string(b), "null") {
				t.Errorf("response %s holds a null", b)
			}
		})
	}
}

type redrive map[string]string

func (r redrive) GetQueueAttributes(context.Context, *awssqs.GetQueueAttributesInput, ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error) {
	return &awssqs.GetQueueAttributesOutput{Attributes: r}, nil
}

// TestEngineRedriveLimit: the engine function's redrive limit is the
// setting when given, else the engine queue's own; without either it does
// not start, saying why.
func TestEngineRedriveLimit(t *testing.T) {
	withPolicy := redrive{"RedrivePolicy": `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":"7"}`}
	for _, tt := range []struct {
		name    string
		env     string
		queue   redrive
		want    int
		wantErr string
	}{
		{name: "from the queue", queue: withPolicy, want: 7},
		{name: "set", env: "4", queue: redrive{}, want: 4},
		{name: "neither", queue: redrive{}, wantErr: "no redrive policy (no dead-letter queue); give the engine queue a dead-letter queue, or set BORA_ENGINE_MAX_RECEIVES"},
		{name: "bad setting", env: "ten", queue: withPolicy, wantErr: `BORA_ENGINE_MAX_RECEIVES="ten": want the engine queue's redrive limit`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvMaxReceives, tt.env)
			d := &Deps{Store: nil, Events: nil, Log: nil, Queues: tt.queue, EngineQueue: "https://q"}
			h, err := d.Engine(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if h.MaxReceives != tt.want || err != nil && strings.Contains(err.Error(), EnvMaxReceives) {
				t.Errorf("MaxReceives = %d, %v; want %d", h.MaxReceives, err, tt.want)
			}
		})
	}
}
