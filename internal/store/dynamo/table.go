package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// Names a deployment of the table needs beyond its keys and indexes.
const (
	// TTLAttribute holds a finished item's expiry (epoch seconds) when the
	// store has a retention (WithRetention); TTL must be enabled on it.
	TTLAttribute = aTTL
	// IndexByState lists execution heads by state (ListExecutions).
	IndexByState = indexByState
	// IndexDue lists unfinished execution heads by due time (DueExecutions,
	// the reconciler's sweep).
	IndexDue = indexDue
)

// TableDefinition is the one description of Bora's table: its keys,
// attribute types and global secondary indexes, with on-demand capacity.
// CreateTable creates it as it is; the CDK construct in infra/ translates
// it, so that the deployed table is the table the store was written for.
func TableDefinition(table string) *dynamodb.CreateTableInput {
	s := types.ScalarAttributeTypeS
	keys := func(pk, sk string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: ptr(pk), KeyType: types.KeyTypeHash},
			{AttributeName: ptr(sk), KeyType: types.KeyTypeRange},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName:   &table,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: ptr(aPK), AttributeType: s},
			{AttributeName: ptr(aSK), AttributeType: s},
			{AttributeName: ptr(aStatePK), AttributeType: s},
			{AttributeName: ptr(aStateSK), AttributeType: s},
			{AttributeName: ptr(aDuePK), AttributeType: s},
			{AttributeName: ptr(aDueSK), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: keys(aPK, aSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			{
				IndexName: ptr(indexByState),
				KeySchema: keys(aStatePK, aStateSK),
				Projection: &types.Projection{
					ProjectionType:   types.ProjectionTypeInclude,
					NonKeyAttributes: []string{aParent},
				},
			},
			{
				IndexName:  ptr(indexDue),
				KeySchema:  keys(aDuePK, aDueSK),
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			},
		},
	}
}

// CreateTable creates Bora's table (TableDefinition), waits until it is
// active and enables TTL on TTLAttribute. A table that already exists is
// left as it is. On AWS the CDK construct in infra/ creates the table; this
// is for tests.
func CreateTable(ctx context.Context, client TableAPI, table string) error {
	_, err := client.CreateTable(ctx, TableDefinition(table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 5*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: &table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: ptr(aTTL),
			Enabled:       ptr(true),
		},
	})
	// A second enable of TTL on the same attribute is refused with a
	// ValidationException ("TimeToLive is already enabled").
	if err != nil && !isAlreadyEnabled(err) {
		return fmt.Errorf("enable TTL on %s: %w", table, err)
	}
	return nil
}
