package sqs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// AdminAPI is the part of the SQS client CreateQueues uses.
type AdminAPI interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Spec describes a queue for CreateQueues.
type Spec struct {
	// Name is appended to the prefix; FIFO queues get the ".fifo" suffix.
	Name string
	FIFO bool
	// MaxReceives is the redrive policy's maxReceiveCount: after that many
	// receives a message moves to the dead-letter queue "<name>-dlq".
	// 0 means no dead-letter queue.
	MaxReceives int
	// VisibilityTimeout is the queue's default (30s when zero).
	VisibilityTimeout time.Duration
	// HighThroughput makes a FIFO queue deduplicate and throttle per
	// message group, as Bora's engine queue wants at scale.
	HighThroughput bool
}

// Created names a queue made by CreateQueues.
type Created struct {
	URL, ARN       string
	DLQURL, DLQARN string // empty without a dead-letter queue
}

// CreateQueues creates one queue per spec, named prefix+spec.Name, each with
// its dead-letter queue and redrive policy. Creating a queue that exists
// with the same attributes is not an error in SQS, so it can run again.
// On AWS the CDK app creates the queues; this is for tests and the
// end-to-end suite.
func CreateQueues(ctx context.Context, client AdminAPI, prefix string, specs ...Spec) ([]Created, error) {
	out := make([]Created, len(specs))
	for i, sp := range specs {
		name := prefix + sp.Name
		suffix := ""
		if sp.FIFO {
			suffix = ".fifo"
		}
		attrs := map[string]string{
			string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(seconds(cmp.Or(sp.VisibilityTimeout, 30*time.Second))),
		}
		fifoAttrs := func(a map[string]string) {
			if sp.FIFO {
				a[string(types.QueueAttributeNameFifoQueue)] = "true"
				if sp.HighThroughput {
					a[string(types.QueueAttributeNameDeduplicationScope)] = "messageGroup"
					a[string(types.QueueAttributeNameFifoThroughputLimit)] = "perMessageGroupId"
				}
			}
		}
		fifoAttrs(attrs)
		if sp.MaxReceives > 0 {
			dlqAttrs := map[string]string{
				// The longest retention SQS allows: 14 days to look at
				// what failed.
				string(types.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(14 * 24 * 3600),
			}
			fifoAttrs(dlqAttrs)
			url, arn, err := createQueue(ctx, client, name+"-dlq"+suffix, dlqAttrs)
			if err != nil {
				return nil, err
			}
			out[i].DLQURL, out[i].DLQARN = url, arn
			policy, _ := json.Marshal(map[string]string{
				"deadLetterTargetArn": arn,
				"maxReceiveCount":     strconv.Itoa(sp.MaxReceives),
			})
			attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(policy)
		}
		url, arn, err := createQueue(ctx, client, name+suffix, attrs)
		if err != nil {
			return nil, err
		}
		out[i].URL, out[i].ARN = url, arn
	}
	return out, nil
}

func createQueue(ctx context.Context, client AdminAPI, name string, attrs map[string]string) (url, arn string, err error) {
	c, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	a, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       c.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("read ARN of queue %s: %w", name, err)
	}
	return *c.QueueUrl, a.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}

// AttributesAPI is the part of the SQS client Redrive uses.
type AttributesAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// ErrNoRedrive reports a queue without a redrive policy: its failing
// messages are never dead-lettered.
var ErrNoRedrive = errors.New("the queue has no redrive policy (no dead-letter queue)")

// Redrive reads a queue's redrive policy: after how many receives a
// message moves to the dead-letter queue, and that queue's ARN.
func Redrive(ctx context.Context, client AttributesAPI, url string) (maxReceives int, deadLetterARN string, err error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return 0, "", fmt.Errorf("read the redrive policy of %s: %w", url, err)
	}
	raw := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if raw == "" {
		return 0, "", fmt.Errorf("%s: %w", url, ErrNoRedrive)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return 0, "", fmt.Errorf("the redrive policy of %s is not JSON: %w", url, err)
	}
	target, _ := p["deadLetterTargetArn"].(string)
	// AWS writes maxReceiveCount as a number or as a quoted one.
	n := 0
	switch v := p["maxReceiveCount"].(type) {
	case float64:
		n = int(v)
	case string:
		n, _ = strconv.Atoi(v)
	}
	if n < 1 {
		return 0, "", fmt.Errorf("the redrive policy of %s has maxReceiveCount %v, want a positive number", url, p["maxReceiveCount"])
	}
	return n, target, nil
}
