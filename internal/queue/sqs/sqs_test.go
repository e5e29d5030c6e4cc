package sqs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/queue/queuetest"
	"github.com/borawf/bora/internal/queue/sqs"
)

func TestMain(m *testing.M) {
	// The suite's subtests mostly wait out visibility timeouts.
	queuetest.RaiseParallel(32)
	os.Exit(m.Run())
}

func TestContract(t *testing.T) {
	cfg := awsx.TestConfig(t)
	client := awssqs.NewFromConfig(cfg)
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) (queue.Queue, queue.Queue) {
		t.Helper()
		var b [6]byte
		_, _ = rand.Read(b[:])
		created, err := sqs.CreateQueues(t.Context(), client, "bora-test-"+hex.EncodeToString(b[:])+"-",
			sqs.Spec{Name: "q", FIFO: o.FIFO, MaxReceives: o.MaxReceives})
		if err != nil {
			t.Fatal(err)
		}
		c := created[0]
		t.Cleanup(func() {
			for _, u := range []string{c.URL, c.DLQURL} {
				if u != "" {
					_, _ = client.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: &u})
				}
			}
		})
		q := sqs.New(client, c.URL, sqs.Options{})
		if c.DLQURL == "" {
			return q, nil
		}
		return q, sqs.New(client, c.DLQURL, sqs.Options{})
	})
}
