package dynamo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/dynamo"
	"github.com/borawf/bora/internal/store/storetest"
)

// newTable creates a table with a unique name on the endpoint in
// AWS_ENDPOINT_URL (or skips) and deletes it when the test ends.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	cfg := awsx.TestConfig(t)
	client := dynamodb.NewFromConfig(cfg)
	var b [6]byte
	_, _ = rand.Read(b[:])
	table := "bora-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	return client, table
}

func TestContract(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := dynamo.New(client, table)
	storetest.Run(t, func(t *testing.T) store.Store { return s })
}

func TestCreateTableTwice(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	if err := dynamo.CreateTable(t.Context(), client, table); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
}
