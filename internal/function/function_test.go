package function

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
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
