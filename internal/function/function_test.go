package function

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

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
