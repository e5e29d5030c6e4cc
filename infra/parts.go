package infra

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/borawf/bora/internal/store/dynamo"
)

// newTable creates the table from the store's own definition
// (dynamo.TableDefinition): the same keys, attribute types and indexes.
func newTable(scope constructs.Construct, p Props) awsdynamodb.Table {
	def := dynamo.TableDefinition("")
	attrTypes := map[string]awsdynamodb.AttributeType{}
	for _, a := range def.AttributeDefinitions {
		switch a.AttributeType {
		case types.ScalarAttributeTypeS:
			attrTypes[*a.AttributeName] = awsdynamodb.AttributeType_STRING
		case types.ScalarAttributeTypeN:
			attrTypes[*a.AttributeName] = awsdynamodb.AttributeType_NUMBER
		case types.ScalarAttributeTypeB:
			attrTypes[*a.AttributeName] = awsdynamodb.AttributeType_BINARY
		default:
			panic(fmt.Sprintf("bora: attribute %s has type %q, which the construct does not know", *a.AttributeName, a.AttributeType))
		}
	}
	keys := func(ks []types.KeySchemaElement) (pk, sk *awsdynamodb.Attribute) {
		for _, k := range ks {
			attr := &awsdynamodb.Attribute{Name: k.AttributeName, Type: attrTypes[*k.AttributeName]}
			if k.KeyType == types.KeyTypeHash {
				pk = attr
			} else {
				sk = attr
			}
		}
		return pk, sk
	}
	pk, sk := keys(def.KeySchema)
	props := &awsdynamodb.TableProps{
		PartitionKey: pk,
		SortKey:      sk,
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		RemovalPolicy: p.RemovalPolicy,
	}
	if p.Retention != KeepForever {
		props.TimeToLiveAttribute = jsii.String(dynamo.TTLAttribute)
	}
	t := awsdynamodb.NewTable(scope, jsii.String("Table"), props)
	for _, g := range def.GlobalSecondaryIndexes {
		gpk, gsk := keys(g.KeySchema)
		gp := &awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:    g.IndexName,
			PartitionKey: gpk,
			SortKey:      gsk,
		}
		switch g.Projection.ProjectionType {
		case types.ProjectionTypeKeysOnly:
			gp.ProjectionType = awsdynamodb.ProjectionType_KEYS_ONLY
		case types.ProjectionTypeInclude:
			gp.ProjectionType = awsdynamodb.ProjectionType_INCLUDE
			gp.NonKeyAttributes = jsii.Strings(g.Projection.NonKeyAttributes...)
		default:
			gp.ProjectionType = awsdynamodb.ProjectionType_ALL
		}
		t.AddGlobalSecondaryIndex(gp)
	}
	return t
}

// storeActions are the DynamoDB calls the store makes (dynamo.DynamoDBAPI),
// each a single-item or batch read or a conditional single-item write.
var storeActions = []string{
	"dynamodb:GetItem",
	"dynamodb:BatchGetItem",
	"dynamodb:Query",
	"dynamodb:PutItem",
	"dynamodb:UpdateItem",
}

// grantStore lets fn run the store on the table, and query the named
// indexes only.
func grantStore(t awsdynamodb.Table, fn awslambda.Function, indexes ...string) {
	resources := []*string{t.TableArn()}
	for _, ix := range indexes {
		resources = append(resources, jsii.String(*t.TableArn()+"/index/"+ix))
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(storeActions...),
		Resources: &resources,
	}))
}

// newQueue creates a queue, its dead-letter queue after maxReceives
// deliveries and their alarms. Its visibility timeout is its consumer's
// timeout: AWS refuses to map a queue whose visibility timeout is shorter
// than the function's, which could otherwise still run a batch when its
// messages are delivered again.
func newQueue(scope constructs.Construct, name string, p Props, fifo bool, consumerTimeout, ageAlarm time.Duration) *Queue {
	c := constructs.NewConstruct(scope, jsii.String(name))
	props := func() *awssqs.QueueProps {
		qp := &awssqs.QueueProps{
			Encryption: awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL: jsii.Bool(true),
		}
		if fifo {
			// Bora sends every message with a deduplication id and its
			// execution as the group; high throughput deduplicates and
			// throttles per group, so executions do not share a limit.
			qp.Fifo = jsii.Bool(true)
			qp.DeduplicationScope = awssqs.DeduplicationScope_MESSAGE_GROUP
			qp.FifoThroughputLimit = awssqs.FifoThroughputLimit_PER_MESSAGE_GROUP_ID
		}
		return qp
	}
	dp := props()
	// The longest SQS keeps a message: two weeks to look at what failed.
	dp.RetentionPeriod = awscdk.Duration_Days(jsii.Number(14))
	// The engine function consumes the engine's dead-letter queue too
	// (NewBora), so a dead letter hides as long as its consumer may run,
	// as the queue hides its messages.
	dp.VisibilityTimeout = seconds(consumerTimeout)
	dlq := awssqs.NewQueue(c, jsii.String("DeadLetters"), dp)
	qp := props()
	qp.VisibilityTimeout = seconds(consumerTimeout)
	qp.DeadLetterQueue = &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(p.MaxReceives)}
	q := awssqs.NewQueue(c, jsii.String("Queue"), qp)

	minute := awscdk.Duration_Minutes(jsii.Number(1))
	depth := dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}).
		CreateAlarm(c, jsii.String("DeadLettersAlarm"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(fmt.Sprintf("Bora's %s dead-letter queue holds messages that failed %d deliveries.", name, p.MaxReceives)),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	oldest := q.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}).
		CreateAlarm(c, jsii.String("OldestMessageAlarm"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(fmt.Sprintf("The oldest message of Bora's %s queue waits longer than %v.", name, ageAlarm)),
			Threshold:          jsii.Number(ageAlarm.Seconds()),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
	return &Queue{Queue: q, DeadLetters: dlq, DepthAlarm: depth, OldestAlarm: oldest, consumerTimeout: consumerTimeout, name: name}
}

// newFunction creates one of Bora's functions from <Code>/<name>.zip, with
// a role of its own that may write its log group and nothing else yet.
func (b *Bora) newFunction(scope constructs.Construct, name string, p Props, timeout time.Duration, reserved int, env map[string]*string) awslambda.Function {
	id := capitalize(name)
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	// A role of its own rather than the managed AWSLambdaBasicExecutionRole,
	// whose log grants cover every log group of the account.
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Bora's " + name + " function"),
	})
	props := &awslambda.FunctionProps{
		Description:  jsii.String("Bora's " + name),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: p.Architecture,
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(p.Code, name+".zip")), nil),
		Timeout:      seconds(timeout),
		MemorySize:   jsii.Number(p.MemoryMB),
		Environment:  &env,
		Role:         role,
		LogGroup:     logs,
		// The engine and the worker invoke each other through the queues
		// by design: an execution of n tasks is a chain of about 2n
		// invocations, which Lambda's recursive loop detection would stop
		// after 16.
		RecursiveLoop: awslambda.RecursiveLoop_ALLOW,
	}
	if reserved > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(reserved)
	}
	fn := awslambda.NewFunction(scope, jsii.String(id), props)
	logs.GrantWrite(role)
	b.Functions[name] = fn
	b.LogGroups[name] = logs
	return fn
}

// mapQueue makes fn consume q, reporting the messages it failed so that
// the others are deleted. maxConcurrency 0 leaves the mapping's default.
func mapQueue(fn awslambda.Function, q awssqs.IQueue, batch, maxConcurrency int) {
	props := &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(batch),
		ReportBatchItemFailures: jsii.Bool(true),
	}
	if maxConcurrency > 0 {
		props.MaxConcurrency = jsii.Number(maxConcurrency)
	}
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(q, props))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
