package infra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/store/dynamo"
)

// TestStackOnLocalStack deploys the template of the stack `make deploy`
// deploys to AWS (the Bora stack) to LocalStack's CloudFormation, without
// what LocalStack cannot run here (see withoutUnsupported), and checks what
// it created: the table against the one dynamo.CreateTable makes, each
// queue against its template and its dead-letter queue, each alarm against
// its template and the queue it watches, and the stack's outputs.
//
// It runs on LocalStack only (make test-localstack): MiniStack's
// CloudFormation does not apply the table's TimeToLiveSpecification, and
// its CloudWatch does not answer the SDK's CBOR protocol.
func TestStackOnLocalStack(t *testing.T) {
	cfg := awsx.TestConfig(t)
	if awsx.Emulator() != awsx.LocalStack {
		t.Skipf("deploys to LocalStack only (make test-localstack); %s=%q", awsx.EnvEmulator, awsx.Emulator())
	}
	s := synth(t, func(app awscdk.App) *Stack { return NewAWSStack(app, fakeDist(t)) })
	tpl, left, err := withoutUnsupported(s.json)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("left out: %s", strings.Join(left, ", "))
	d := deployStack(t, cfg, tpl)
	t.Run("table", func(t *testing.T) { checkTable(t, cfg, d) })
	t.Run("queues", func(t *testing.T) { checkQueues(t, d) })
	t.Run("alarms", func(t *testing.T) { checkAlarms(t, cfg, d) })
	t.Run("outputs", func(t *testing.T) { checkOutputs(t, d) })
}

// unsupported are the resource types left out on LocalStack: its Lambda
// runs functions only in Docker containers (and the packages would have to
// be published as assets first), and API Gateway's HTTP APIs are not in
// its community edition.
var unsupported = []string{"AWS::Lambda::", "AWS::ApiGatewayV2::"}

// withoutUnsupported returns a copy of a template without the resources of
// the unsupported types, without every resource and output that refers to
// one of those (Ref, Fn::GetAtt, Fn::Sub, DependsOn), again until none is
// left, and without the CDK's bootstrap version check, which reads an SSM
// parameter that `cdk bootstrap` creates. It returns the logical ids it
// left out, sorted.
func withoutUnsupported(tpl map[string]any) (map[string]any, []string, error) {
	var out map[string]any
	b, err := json.Marshal(tpl)
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, nil, err
	}
	res, _ := out["Resources"].(map[string]any)
	if len(res) == 0 {
		return nil, nil, fmt.Errorf("the template has no resources")
	}
	gone := map[string]bool{}
	for id, r := range res {
		for _, prefix := range unsupported {
			if strings.HasPrefix(typeOf(r), prefix) {
				gone[id] = true
			}
		}
	}
	refersToGone := func(v any) bool {
		for ref := range refs(v) {
			if gone[ref] {
				return true
			}
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for id, r := range res {
			if !gone[id] && refersToGone(r) {
				gone[id], changed = true, true
			}
		}
	}
	for id := range gone {
		delete(res, id)
	}
	if outs, ok := out["Outputs"].(map[string]any); ok {
		maps.DeleteFunc(outs, func(_ string, o any) bool { return refersToGone(o) })
	}
	if params, ok := out["Parameters"].(map[string]any); ok {
		delete(params, "BootstrapVersion")
	}
	if rules, ok := out["Rules"].(map[string]any); ok {
		delete(rules, "CheckBootstrapVersion")
	}
	return out, slices.Sorted(maps.Keys(gone)), nil
}

func typeOf(r any) string {
	m, _ := r.(map[string]any)
	s, _ := m["Type"].(string)
	return s
}

// subRef matches ${Name} and ${Name.Attribute} in Fn::Sub, not ${!Literal}.
var subRef = regexp.MustCompile(`\$\{([^!}.][^}.]*)(?:\.[^}]*)?\}`)

// refs returns the logical ids v refers to (and pseudo parameters such as
// AWS::Region, which name no resource).
func refs(v any) map[string]bool {
	out := map[string]bool{}
	add := func(v any) {
		if s, ok := v.(string); ok {
			out[s] = true
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch k {
				case "Ref":
					add(x)
				case "Fn::GetAtt":
					if a, ok := x.([]any); ok && len(a) > 0 {
						add(a[0])
					} else if s, ok := x.(string); ok {
						add(strings.SplitN(s, ".", 2)[0])
					}
				case "Fn::Sub":
					s, _ := x.(string)
					if a, ok := x.([]any); ok && len(a) > 0 {
						s, _ = a[0].(string)
					}
					for _, m := range subRef.FindAllStringSubmatch(s, -1) {
						out[m[1]] = true
					}
				case "DependsOn":
					if a, ok := x.([]any); ok {
						for _, e := range a {
							add(e)
						}
					} else {
						add(x)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

func TestWithoutUnsupported(t *testing.T) {
	tpl := map[string]any{
		"Parameters": map[string]any{"BootstrapVersion": map[string]any{}, "Keep": map[string]any{}},
		"Rules":      map[string]any{"CheckBootstrapVersion": map[string]any{}},
		"Resources": map[string]any{
			"Fn":      map[string]any{"Type": "AWS::Lambda::Function"},
			"Api":     map[string]any{"Type": "AWS::ApiGatewayV2::Api"},
			"Role":    map[string]any{"Type": "AWS::IAM::Role"},
			"Queue":   map[string]any{"Type": "AWS::SQS::Queue"},
			"Mapping": map[string]any{"Type": "AWS::SQS::QueuePolicy", "Properties": map[string]any{"Target": map[string]any{"Fn::GetAtt": []any{"Fn", "Arn"}}}},
			"Rule":    map[string]any{"Type": "AWS::Events::Rule", "Properties": map[string]any{"Arn": map[string]any{"Fn::Sub": "${Fn.Arn}/x"}}},
			"After":   map[string]any{"Type": "AWS::Logs::LogGroup", "DependsOn": []any{"Rule"}},
			"Uses":    map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{"Name": map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Ref": "Api"}}}}}},
			"Literal": map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{"Name": map[string]any{"Fn::Sub": "${!Fn}-${AWS::Region}-${Queue}"}}},
		},
		"Outputs": map[string]any{
			"FnName":    map[string]any{"Value": map[string]any{"Ref": "Fn"}},
			"QueueName": map[string]any{"Value": map[string]any{"Fn::GetAtt": "Queue.QueueName"}},
		},
	}
	got, left, err := withoutUnsupported(tpl)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"After", "Api", "Fn", "Mapping", "Rule", "Uses"}, left); diff != "" {
		t.Errorf("left out (-want +got):\n%s", diff)
	}
	kept := func(section string) []string {
		m, _ := got[section].(map[string]any)
		return slices.Sorted(maps.Keys(m))
	}
	for _, c := range []struct {
		section string
		want    []string
	}{
		{"Resources", []string{"Literal", "Queue", "Role"}},
		{"Outputs", []string{"QueueName"}},
		{"Parameters", []string{"Keep"}},
		{"Rules", nil},
	} {
		if diff := cmp.Diff(c.want, kept(c.section)); diff != "" {
			t.Errorf("%s kept (-want +got):\n%s", c.section, diff)
		}
	}
	if len(tpl["Resources"].(map[string]any)) != 9 {
		t.Error("withoutUnsupported changed its argument")
	}
}

// deployedStack is a stack created from a template: the physical id of
// each resource and the attributes of each queue, by logical id, and the
// stack's outputs.
type deployedStack struct {
	tpl      map[string]any
	physical map[string]string
	queues   map[string]map[string]string
	outputs  map[string]string
}

// deployStack creates a stack from tpl on the endpoint of cfg and waits
// until it is complete, or fails with the events of the resources that
// failed. When the test ends it deletes the stack and the table the stack
// retains.
func deployStack(t *testing.T, cfg aws.Config, tpl map[string]any) *deployedStack {
	t.Helper()
	ctx := t.Context()
	cf := cloudformation.NewFromConfig(cfg)
	body, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "bora-test-" + hex.EncodeToString(b[:])
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    &name,
		TemplateBody: aws.String(string(body)),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityIam, cftypes.CapabilityCapabilityNamedIam},
	}); err != nil {
		t.Fatalf("create stack: %v", err)
	}
	d := &deployedStack{tpl: tpl, physical: map[string]string{}, queues: map[string]map[string]string{}, outputs: map[string]string{}}
	t.Cleanup(func() { d.delete(t, cfg, name) })
	w := cloudformation.NewStackCreateCompleteWaiter(cf, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, 2*time.Second
	})
	stack, err := w.WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: &name}, 3*time.Minute)
	if err != nil {
		t.Fatalf("stack %s: %v%s", name, err, failedEvents(ctx, cf, name))
	}
	for _, s := range stack.Stacks {
		for _, o := range s.Outputs {
			d.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	}
	res, err := cf.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: &name})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.StackResources {
		d.physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
	}
	q := sqs.NewFromConfig(cfg)
	for id := range d.ofType("AWS::SQS::Queue") {
		a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(d.physical[id]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("queue %s (%s): %v", id, d.physical[id], err)
		}
		d.queues[id] = a.Attributes
	}
	return d
}

// failedEvents lists the stack's events that report a failure.
func failedEvents(ctx context.Context, cf *cloudformation.Client, name string) string {
	ev, err := cf.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: &name})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, e := range ev.StackEvents {
		if strings.HasSuffix(string(e.ResourceStatus), "FAILED") {
			fmt.Fprintf(&b, "\n  %s (%s) %s: %s", aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType),
				e.ResourceStatus, aws.ToString(e.ResourceStatusReason))
		}
	}
	return b.String()
}

func (d *deployedStack) delete(t *testing.T, cfg aws.Config, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cf := cloudformation.NewFromConfig(cfg)
	if _, err := cf.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: &name}); err != nil {
		t.Errorf("delete stack %s: %v", name, err)
		return
	}
	w := cloudformation.NewStackDeleteCompleteWaiter(cf, func(o *cloudformation.StackDeleteCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, 2*time.Second
	})
	if err := w.Wait(ctx, &cloudformation.DescribeStacksInput{StackName: &name}, time.Minute); err != nil {
		t.Errorf("delete stack %s: %v", name, err)
	}
	// The AWS stack keeps its table when it is deleted (DeletionPolicy Retain).
	for id := range d.ofType("AWS::DynamoDB::Table") {
		_, _ = dynamodb.NewFromConfig(cfg).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(d.physical[id])})
	}
}

// ofType returns the deployed template's resources of one type by logical id.
func (d *deployedStack) ofType(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range d.tpl["Resources"].(map[string]any) {
		if typeOf(r) == typ {
			out[id] = r.(map[string]any)
		}
	}
	return out
}

// resolve evaluates a template value the way CloudFormation did, for the
// values compared here: scalars, Ref, and Fn::GetAtt of a queue's Arn,
// QueueName or QueueUrl.
func (d *deployedStack) resolve(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case map[string]any:
		if id, ok := v["Ref"].(string); ok && d.physical[id] != "" {
			return d.physical[id], nil
		}
		a, _ := v["Fn::GetAtt"].([]any)
		if len(a) == 2 {
			id, _ := a[0].(string)
			if q, ok := d.queues[id]; ok {
				switch a[1] {
				case "Arn":
					return q["QueueArn"], nil
				case "QueueName":
					return d.physical[id][strings.LastIndex(d.physical[id], "/")+1:], nil
				case "QueueUrl":
					return d.physical[id], nil
				}
			}
		}
	}
	return "", fmt.Errorf("cannot resolve %v", v)
}

// checkTable compares the table the stack created with the one
// dynamo.CreateTable creates on the same endpoint: keys, attribute types,
// indexes and their projections, billing mode and TTL attribute.
func checkTable(t *testing.T, cfg aws.Config, d *deployedStack) {
	tables := d.ofType("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("the template declares %d tables, want 1", len(tables))
	}
	client := dynamodb.NewFromConfig(cfg)
	ref := "bora-test-ref-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := dynamo.CreateTable(t.Context(), client, ref); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &ref}) })
	for id := range tables {
		if diff := cmp.Diff(describeTable(t, client, ref), describeTable(t, client, d.physical[id])); diff != "" {
			t.Errorf("table %s against dynamo.CreateTable's (-CreateTable +stack):\n%s", id, diff)
		}
	}
}

// tableShape is what the store relies on of its table.
type tableShape struct {
	Keys       string
	Attributes []string
	Indexes    []string
	Billing    ddbtypes.BillingMode
	TTL        string
}

func describeTable(t *testing.T, client *dynamodb.Client, name string) tableShape {
	t.Helper()
	out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		t.Fatalf("describe table %s: %v", name, err)
	}
	keys := func(ks []ddbtypes.KeySchemaElement) string {
		var s []string
		for _, k := range ks {
			s = append(s, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
		}
		return strings.Join(s, ", ")
	}
	tb := out.Table
	s := tableShape{Keys: keys(tb.KeySchema)}
	if tb.BillingModeSummary != nil {
		s.Billing = tb.BillingModeSummary.BillingMode
	}
	for _, a := range tb.AttributeDefinitions {
		s.Attributes = append(s.Attributes, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
	}
	for _, g := range tb.GlobalSecondaryIndexes {
		s.Indexes = append(s.Indexes, fmt.Sprintf("%s: %s; %s %v", aws.ToString(g.IndexName), keys(g.KeySchema),
			g.Projection.ProjectionType, slices.Sorted(slices.Values(g.Projection.NonKeyAttributes))))
	}
	slices.Sort(s.Attributes)
	slices.Sort(s.Indexes)
	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: &name})
	if err != nil {
		t.Fatalf("describe TTL of %s: %v", name, err)
	}
	if x := ttl.TimeToLiveDescription; x != nil && x.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled {
		s.TTL = aws.ToString(x.AttributeName)
	}
	return s
}

// deadLetterQueue returns the logical id of the queue a queue's redrive
// policy names, or "".
func deadLetterQueue(r map[string]any) string {
	p, _ := r["Properties"].(map[string]any)
	rp, _ := p["RedrivePolicy"].(map[string]any)
	target, _ := rp["deadLetterTargetArn"].(map[string]any)
	a, _ := target["Fn::GetAtt"].([]any)
	if len(a) != 2 || a[1] != "Arn" {
		return ""
	}
	id, _ := a[0].(string)
	return id
}

// checkQueues checks that each queue has the attributes its template
// gives it, that each queue but a dead-letter queue has one, in its
// redrive policy with the template's maxReceiveCount, and that a FIFO
// queue's dead-letter queue is FIFO too.
func checkQueues(t *testing.T, d *deployedStack) {
	queues := d.ofType("AWS::SQS::Queue")
	if len(queues) == 0 {
		t.Fatal("the template declares no queue")
	}
	isDLQ := map[string]bool{}
	for _, r := range queues {
		if dlq := deadLetterQueue(r); dlq != "" {
			isDLQ[dlq] = true
		}
	}
	for id, r := range queues {
		got := d.queues[id]
		props, _ := r["Properties"].(map[string]any)
		for k, v := range props {
			if k == "RedrivePolicy" || k == "QueueName" || k == "Tags" {
				continue
			}
			want, err := d.resolve(v)
			if err != nil {
				t.Logf("queue %s: %s not compared: %v", id, k, err)
			} else if got[k] != want {
				t.Errorf("queue %s: %s = %q, want %q", id, k, got[k], want)
			}
		}
		dlq := deadLetterQueue(r)
		if dlq == "" {
			if !isDLQ[id] {
				t.Errorf("queue %s has no dead-letter queue and is none", id)
			}
			continue
		}
		var policy struct {
			Target string `json:"deadLetterTargetArn"`
			Max    any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(got["RedrivePolicy"]), &policy); err != nil {
			t.Errorf("queue %s: redrive policy %q: %v", id, got["RedrivePolicy"], err)
			continue
		}
		if want := d.queues[dlq]["QueueArn"]; policy.Target != want {
			t.Errorf("queue %s: dead-letter target %s, want %s (%s)", id, policy.Target, want, dlq)
		}
		rp := props["RedrivePolicy"].(map[string]any)
		if g, w := fmt.Sprint(policy.Max), fmt.Sprint(rp["maxReceiveCount"]); g != w {
			t.Errorf("queue %s: maxReceiveCount %s, want %s", id, g, w)
		}
		if got["FifoQueue"] != d.queues[dlq]["FifoQueue"] {
			t.Errorf("queue %s (FifoQueue %q) has a dead-letter queue %s of FifoQueue %q", id, got["FifoQueue"], dlq, d.queues[dlq]["FifoQueue"])
		}
	}
}

// checkAlarms checks that each alarm has the settings its template gives
// it, watching the stack's queues, and that every dead-letter queue has an
// alarm on its visible messages.
func checkAlarms(t *testing.T, cfg aws.Config, d *deployedStack) {
	cw := cloudwatch.NewFromConfig(cfg)
	watched := map[string]bool{} // names of the queues whose visible messages an alarm watches
	for id, r := range d.ofType("AWS::CloudWatch::Alarm") {
		out, err := cw.DescribeAlarms(t.Context(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{d.physical[id]}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.MetricAlarms) != 1 {
			t.Errorf("alarm %s (%s): %d found", id, d.physical[id], len(out.MetricAlarms))
			continue
		}
		a := out.MetricAlarms[0]
		got := map[string]string{
			"MetricName":         aws.ToString(a.MetricName),
			"Namespace":          aws.ToString(a.Namespace),
			"Statistic":          string(a.Statistic),
			"ComparisonOperator": string(a.ComparisonOperator),
			"Threshold":          strconv.FormatFloat(aws.ToFloat64(a.Threshold), 'f', -1, 64),
			"EvaluationPeriods":  strconv.Itoa(int(aws.ToInt32(a.EvaluationPeriods))),
			"DatapointsToAlarm":  strconv.Itoa(int(aws.ToInt32(a.DatapointsToAlarm))),
			"Period":             strconv.Itoa(int(aws.ToInt32(a.Period))),
			"TreatMissingData":   aws.ToString(a.TreatMissingData),
		}
		props, _ := r["Properties"].(map[string]any)
		for k, g := range got {
			v, ok := props[k]
			if !ok {
				continue
			}
			if want, err := d.resolve(v); err != nil {
				t.Errorf("alarm %s: %s: %v", id, k, err)
			} else if g != want {
				t.Errorf("alarm %s: %s = %q, want %q", id, k, g, want)
			}
		}
		var want, have []string
		dims, _ := props["Dimensions"].([]any)
		for _, x := range dims {
			m, _ := x.(map[string]any)
			v, err := d.resolve(m["Value"])
			if err != nil {
				t.Errorf("alarm %s: dimension %v: %v", id, m["Name"], err)
			}
			want = append(want, fmt.Sprintf("%v=%s", m["Name"], v))
		}
		for _, dm := range a.Dimensions {
			have = append(have, aws.ToString(dm.Name)+"="+aws.ToString(dm.Value))
			if aws.ToString(dm.Name) == "QueueName" && aws.ToString(a.MetricName) == "ApproximateNumberOfMessagesVisible" {
				watched[aws.ToString(dm.Value)] = true
			}
		}
		slices.Sort(want)
		slices.Sort(have)
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("alarm %s: dimensions (-template +created):\n%s", id, diff)
		}
	}
	for id, r := range d.ofType("AWS::SQS::Queue") {
		dlq := deadLetterQueue(r)
		if dlq == "" {
			continue
		}
		name, _ := d.resolve(map[string]any{"Fn::GetAtt": []any{dlq, "QueueName"}})
		if !watched[name] {
			t.Errorf("the dead-letter queue of %s (%s) has no alarm on its visible messages", id, name)
		}
	}
}

// checkOutputs checks that the outputs the stack kept name what it created.
func checkOutputs(t *testing.T, d *deployedStack) {
	outs, _ := d.tpl["Outputs"].(map[string]any)
	if len(outs) == 0 {
		t.Fatal("the deployed template has no outputs")
	}
	for key, o := range outs {
		v, _ := o.(map[string]any)
		want, err := d.resolve(v["Value"])
		if err != nil {
			t.Errorf("output %s: %v", key, err)
			continue
		}
		if got := d.outputs[key]; got != want {
			t.Errorf("output %s = %q, want %q", key, got, want)
		}
	}
}
