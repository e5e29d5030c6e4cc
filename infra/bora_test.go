package infra

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/function"
	"github.com/borawf/bora/internal/store/dynamo"
)

// The tests synthesize stacks in the jsii runtime, one Node.js process that
// serves every call in turn, so they do not run in parallel.

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// fakeDist returns a directory laid out as `make build` lays out dist/,
// with a stand-in zip per function: synthesis only hashes and copies them.
func fakeDist(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, arch := range []string{"arm64", "amd64"} {
		if err := os.MkdirAll(filepath.Join(dir, arch), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, fn := range []string{Engine, Worker, Reconciler, API} {
			if err := os.WriteFile(filepath.Join(dir, arch, fn+".zip"), []byte(arch+"/"+fn), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// synthesized is a stack and its template.
type synthesized struct {
	stack *Stack
	tpl   assertions.Template
	json  map[string]any
	// nag lists cdk-nag's findings on the stack that are not suppressed.
	nag []string
}

// resources returns the template's resources of one type, by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// id is the logical id of a construct's CloudFormation resource.
func (s *synthesized) id(c constructs.Construct) string {
	el := c.Node().DefaultChild().(awscdk.CfnElement)
	return fmt.Sprint(s.stack.Resolve(s.stack.GetLogicalId(el)))
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// newApp returns an app with the context of cdk.json (its feature flags),
// as the CDK CLI gives the app in ./app.
func newApp(t *testing.T) awscdk.App {
	t.Helper()
	b, err := os.ReadFile("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ Context map[string]any }
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &cfg.Context})
}

// synth builds a stack with build and synthesizes it, checked by cdk-nag.
func synth(t *testing.T, build func(app awscdk.App) *Stack) *synthesized {
	t.Helper()
	app := newApp(t)
	st := build(app)
	Check(app)
	tpl := assertions.Template_FromStack(st.Stack, nil)
	raw, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	s := &synthesized{stack: st, tpl: tpl}
	if err := json.Unmarshal(raw, &s.json); err != nil {
		t.Fatal(err)
	}
	a := assertions.Annotations_FromStack(st.Stack)
	pattern := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))
	for kind, found := range map[string]*[]*cxapi.SynthesisMessage{
		"error":   a.FindError(jsii.String("*"), pattern),
		"warning": a.FindWarning(jsii.String("*"), pattern),
	} {
		for _, m := range *found {
			s.nag = append(s.nag, fmt.Sprintf("%s on %s: %v", kind, *m.Id, m.Entry.Data))
		}
	}
	return s
}

// The stacks of the app, synthesized once for the tests that only read them.
var stacks struct {
	once       sync.Once
	aws, local *synthesized
}

func appStacks(t *testing.T) (aws, local *synthesized) {
	t.Helper()
	stacks.once.Do(func() {
		dist := fakeDist(t)
		stacks.aws = synth(t, func(app awscdk.App) *Stack { return NewAWSStack(app, dist) })
		stacks.local = synth(t, func(app awscdk.App) *Stack { return NewLocalStack(app, dist) })
	})
	if stacks.aws == nil {
		t.Fatal("the app's stacks did not synthesize")
	}
	return stacks.aws, stacks.local
}

// both runs f on each of the app's stacks.
func both(t *testing.T, f func(t *testing.T, s *synthesized)) {
	aws, local := appStacks(t)
	t.Run(StackName, func(t *testing.T) { f(t, aws) })
	t.Run(LocalStackName, func(t *testing.T) { f(t, local) })
}

// must turns a failed template assertion (a panic from the jsii runtime)
// into a test error.
func must(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

func TestTableIsTheStoresTable(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		def := dynamo.TableDefinition("")
		// The store's definition, as CloudFormation spells it.
		var want struct {
			AttributeDefinitions   any
			KeySchema              any
			GlobalSecondaryIndexes any
		}
		b, _ := json.Marshal(def)
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		tables := s.resources("AWS::DynamoDB::Table")
		if len(tables) != 1 {
			t.Fatalf("%d tables, want 1", len(tables))
		}
		for _, tb := range tables {
			p := props(tb)
			for _, f := range []struct {
				name string
				want any
			}{{"AttributeDefinitions", want.AttributeDefinitions}, {"KeySchema", want.KeySchema}, {"GlobalSecondaryIndexes", want.GlobalSecondaryIndexes}} {
				if diff := cmp.Diff(jsonNormal(f.want), jsonNormal(p[f.name])); diff != "" {
					t.Errorf("%s differs from dynamo.TableDefinition (-store +template):\n%s", f.name, diff)
				}
			}
		}
		must(t, "on-demand, PITR, TTL", func() {
			s.tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"BillingMode":                      "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"TimeToLiveSpecification":          map[string]any{"AttributeName": dynamo.TTLAttribute, "Enabled": true},
			})
		})
	})
}

// jsonNormal orders a decoded JSON value's lists of named things by name,
// so that two definitions compare whatever order they list them in.
func jsonNormal(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonNormal(e)
		}
		slices.SortStableFunc(out, func(a, b any) int { return strings.Compare(nameOf(a), nameOf(b)) })
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if e != nil { // an unset field of the SDK's type
				out[k] = jsonNormal(e)
			}
		}
		return out
	}
	return v
}

func nameOf(v any) string {
	m, _ := v.(map[string]any)
	for _, k := range []string{"IndexName", "AttributeName"} {
		if s, ok := m[k].(string); ok {
			return s
		}
	}
	return ""
}

func TestRetentionReachesTheStore(t *testing.T) {
	dist := fakeDist(t)
	for _, tt := range []struct {
		name      string
		retention time.Duration
		env       string
		ttl       bool
	}{
		{"default", 0, "2592000s", true},
		{"a week", 7 * 24 * time.Hour, "604800s", true},
		{"kept forever", KeepForever, "0s", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := synth(t, func(app awscdk.App) *Stack {
				return NewStack(app, "Test", &StackProps{Bora: Props{Code: filepath.Join(dist, "arm64"), Retention: tt.retention}})
			})
			for id, fn := range s.resources("AWS::Lambda::Function") {
				env := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
				if got := env[function.EnvRetention]; got != tt.env {
					t.Errorf("%s: %s = %v, want %s", id, function.EnvRetention, got, tt.env)
				}
			}
			ttl := s.tpl.FindResources(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"Properties": map[string]any{"TimeToLiveSpecification": assertions.Match_ObjectLike(&map[string]any{"Enabled": true})},
			})
			if got := len(*ttl) == 1; got != tt.ttl {
				t.Errorf("TTL enabled: %v, want %v", got, tt.ttl)
			}
		})
	}
}

func TestQueues(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		b := s.stack.Bora
		queues := s.resources("AWS::SQS::Queue")
		if len(queues) != 6 {
			t.Errorf("%d queues, want 3 and their dead-letter queues", len(queues))
		}
		for _, q := range []*Queue{b.Events, b.Tasks, b.Timers} {
			p, dp := props(queues[s.id(q.Queue)]), props(queues[s.id(q.DeadLetters)])
			redrive := p["RedrivePolicy"].(map[string]any)
			if got := fmt.Sprint(redrive["deadLetterTargetArn"]); got != fmt.Sprint(map[string]any{"Fn::GetAtt": []any{s.id(q.DeadLetters), "Arn"}}) {
				t.Errorf("%s: dead-letter target %s, want its own dead-letter queue", q.name, got)
			}
			if redrive["maxReceiveCount"] != float64(DefaultMaxReceives) {
				t.Errorf("%s: maxReceiveCount %v, want %d", q.name, redrive["maxReceiveCount"], DefaultMaxReceives)
			}
			if dp["VisibilityTimeout"] != p["VisibilityTimeout"] {
				t.Errorf("%s: dead letters hidden %v s on receipt, want the queue's %v s", q.name, dp["VisibilityTimeout"], p["VisibilityTimeout"])
			}
			if dp["MessageRetentionPeriod"] != float64(14*24*3600) {
				t.Errorf("%s: dead letters kept %v s, want 14 days", q.name, dp["MessageRetentionPeriod"])
			}
			for _, qp := range []map[string]any{p, dp} {
				if qp["SqsManagedSseEnabled"] != true {
					t.Errorf("%s: not encrypted at rest (SqsManagedSseEnabled %v)", q.name, qp["SqsManagedSseEnabled"])
				}
				fifo := q == b.Events
				if (qp["FifoQueue"] == true) != fifo {
					t.Errorf("%s: FifoQueue %v, want %v", q.name, qp["FifoQueue"], fifo)
				}
				if fifo && (qp["DeduplicationScope"] != "messageGroup" || qp["FifoThroughputLimit"] != "perMessageGroupId") {
					t.Errorf("%s: not high-throughput FIFO: %v, %v", q.name, qp["DeduplicationScope"], qp["FifoThroughputLimit"])
				}
			}
		}
		// Every queue refuses requests without TLS.
		policies := s.resources("AWS::SQS::QueuePolicy")
		secured := map[string]bool{}
		for _, pol := range policies {
			doc, _ := json.Marshal(props(pol)["PolicyDocument"])
			if !strings.Contains(string(doc), `"aws:SecureTransport":"false"`) || !strings.Contains(string(doc), `"Effect":"Deny"`) {
				continue
			}
			for _, ref := range props(pol)["Queues"].([]any) {
				secured[fmt.Sprint(ref.(map[string]any)["Ref"])] = true
			}
		}
		for id := range queues {
			if !secured[id] {
				t.Errorf("queue %s accepts requests without TLS", id)
			}
		}
	})
}

// TestVisibilityCoversConsumer checks, for every event source mapping, that
// the queue hides a message at least as long as its function may run, as
// AWS requires; with the defaults, the emulator's settings and the longest
// timeouts Lambda allows.
func TestVisibilityCoversConsumer(t *testing.T) {
	check := func(t *testing.T, s *synthesized) {
		t.Helper()
		queues, fns := s.resources("AWS::SQS::Queue"), s.resources("AWS::Lambda::Function")
		esms := s.resources("AWS::Lambda::EventSourceMapping")
		if len(esms) != 4 {
			t.Errorf("%d event source mappings, want 4 (the engine's dead letters too)", len(esms))
		}
		for id, m := range esms {
			p := props(m)
			q := queues[p["EventSourceArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)]
			fn := fns[p["FunctionName"].(map[string]any)["Ref"].(string)]
			vis, timeout := props(q)["VisibilityTimeout"].(float64), props(fn)["Timeout"].(float64)
			if vis < timeout {
				t.Errorf("%s: visibility timeout %v s is shorter than the function's timeout %v s", id, vis, timeout)
			}
		}
	}
	both(t, check)
	dist := fakeDist(t)
	t.Run("longest timeouts", func(t *testing.T) {
		s := synth(t, func(app awscdk.App) *Stack {
			return NewStack(app, "Test", &StackProps{Bora: Props{
				Code: filepath.Join(dist, "arm64"), EngineTimeout: 15 * time.Minute, WorkerTimeout: 15 * time.Minute,
			}})
		})
		check(t, s)
	})
}

func TestFunctions(t *testing.T) {
	aws, local := appStacks(t)
	for _, tt := range []struct {
		s       *synthesized
		arch    string
		timeout map[string]float64
	}{
		{aws, "arm64", map[string]float64{Engine: 30, Worker: 300, Reconciler: 60, API: 10}},
		{local, hostArch(), map[string]float64{Engine: 5, Worker: 15, Reconciler: 15, API: 10}},
	} {
		t.Run(*tt.s.stack.StackName(), func(t *testing.T) {
			b := tt.s.stack.Bora
			fns := tt.s.resources("AWS::Lambda::Function")
			if len(fns) != 4 {
				t.Errorf("%d functions, want 4", len(fns))
			}
			logs := tt.s.resources("AWS::Logs::LogGroup")
			for _, name := range []string{Engine, Worker, Reconciler, API} {
				p := props(fns[tt.s.id(b.Functions[name])])
				if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
					t.Errorf("%s: runtime %v, handler %v; want provided.al2023, bootstrap", name, p["Runtime"], p["Handler"])
				}
				if diff := cmp.Diff([]any{tt.arch}, p["Architectures"]); diff != "" {
					t.Errorf("%s: architectures (-want +got):\n%s", name, diff)
				}
				if p["Timeout"] != tt.timeout[name] {
					t.Errorf("%s: timeout %v, want %v", name, p["Timeout"], tt.timeout[name])
				}
				if p["RecursiveLoop"] != "Allow" {
					t.Errorf("%s: RecursiveLoop %v: Lambda would stop long executions", name, p["RecursiveLoop"])
				}
				if _, ok := p["ReservedConcurrentExecutions"]; ok {
					t.Errorf("%s: reserves concurrency by default", name)
				}
				lg := p["LoggingConfig"].(map[string]any)["LogGroup"].(map[string]any)["Ref"].(string)
				if lg != tt.s.id(b.LogGroups[name]) {
					t.Errorf("%s: logs to %s, want its own log group", name, lg)
				}
				if got := props(logs[lg])["RetentionInDays"]; got != 30.0 {
					t.Errorf("%s: log retention %v days, want 30", name, got)
				}
				env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
				ref := func(c constructs.Construct) any { return map[string]any{"Ref": tt.s.id(c)} }
				want := map[string]any{
					function.EnvTable:         ref(b.Table),
					function.EnvEngineQueue:   ref(b.Events.Queue),
					function.EnvTaskQueue:     ref(b.Tasks.Queue),
					function.EnvTimerQueue:    ref(b.Timers.Queue),
					function.EnvTimerQueueARN: map[string]any{"Fn::GetAtt": []any{tt.s.id(b.Timers.Queue), "Arn"}},
					function.EnvMaxReceives:   "5",
					function.EnvRetention:     "2592000s",
				}
				if name == Engine {
					want[function.EnvDeadLetterARN] = map[string]any{"Fn::GetAtt": []any{tt.s.id(b.Events.DeadLetters), "Arn"}}
				}
				if name == Worker {
					// The completion route asynchronous actions hand out:
					// the ApiUrl output's, and nothing else depends on the API.
					want[function.EnvCallbackURL] = map[string]any{"Fn::Join": []any{"", []any{
						map[string]any{"Fn::GetAtt": []any{tt.s.id(b.API), "ApiEndpoint"}}, "/v1/completions",
					}}}
				}
				if tt.s == local {
					want["AWS_ENDPOINT_URL"] = map[string]any{"Ref": EndpointParameter}
					want[action.EnvNetworkAllow] = "127.0.0.0/8, ::1"
					if name == Worker {
						want[function.EnvCallbackURL] = map[string]any{"Fn::Join": []any{"", []any{
							map[string]any{"Ref": EndpointParameter}, "/_aws/execute-api/", ref(b.API), "/$default/v1/completions",
						}}}
					}
				}
				if diff := cmp.Diff(want, env); diff != "" {
					t.Errorf("%s: environment (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

func hostArch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

func TestReservedConcurrency(t *testing.T) {
	dist := fakeDist(t)
	s := synth(t, func(app awscdk.App) *Stack {
		return NewStack(app, "Test", &StackProps{Bora: Props{
			Code: filepath.Join(dist, "arm64"), EngineReservedConcurrency: 5, WorkerReservedConcurrency: 50, WorkerMaxConcurrency: 40,
		}})
	})
	fns := s.resources("AWS::Lambda::Function")
	b := s.stack.Bora
	for name, want := range map[string]any{Engine: 5.0, Worker: 50.0, Reconciler: nil, API: nil} {
		if got := props(fns[s.id(b.Functions[name])])["ReservedConcurrentExecutions"]; got != want {
			t.Errorf("%s: reserved concurrency %v, want %v", name, got, want)
		}
	}
	must(t, "worker mapping", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
			"FunctionName":  map[string]any{"Ref": s.id(b.Functions[Worker])},
			"ScalingConfig": map[string]any{"MaximumConcurrency": 40},
		})
	})
}

func TestMappings(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		b := s.stack.Bora
		for _, m := range []struct {
			fn, name string
			q        constructs.Construct
			batch    int
			scaling  any
		}{
			{Engine, "events", b.Events.Queue, 10, assertions.Match_Absent()},
			{Engine, "timers", b.Timers.Queue, 10, assertions.Match_Absent()},
			{Engine, "engine dead letters", b.Events.DeadLetters, 10, assertions.Match_Absent()},
			{Worker, "tasks", b.Tasks.Queue, 1, map[string]any{"MaximumConcurrency": DefaultWorkerConcurrency}},
		} {
			must(t, fmt.Sprintf("%s ← %s", m.fn, m.name), func() {
				s.tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
					"FunctionName":          map[string]any{"Ref": s.id(b.Functions[m.fn])},
					"EventSourceArn":        map[string]any{"Fn::GetAtt": []any{s.id(m.q), "Arn"}},
					"BatchSize":             m.batch,
					"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
					"ScalingConfig":         m.scaling,
				})
			})
		}
	})
}

func TestReconcilerSchedule(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		fn := s.id(s.stack.Bora.Functions[Reconciler])
		must(t, "schedule", func() {
			s.tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
				"ScheduleExpression": "rate(1 minute)",
				"State":              "ENABLED",
				"Targets":            []any{assertions.Match_ObjectLike(&map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{fn, "Arn"}}})},
			})
		})
		must(t, "permission", func() {
			s.tpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
				"Action":       "lambda:InvokeFunction",
				"FunctionName": map[string]any{"Fn::GetAtt": []any{fn, "Arn"}},
				"Principal":    "events.amazonaws.com",
			})
		})
	})
}

func TestAlarms(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		b := s.stack.Bora
		if n := len(s.resources("AWS::CloudWatch::Alarm")); n != 7 {
			t.Errorf("%d alarms, want 7", n)
		}
		// The engine consumes its dead letters: an alarm on their arrival.
		must(t, "engine dead-lettered", func() {
			s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"MetricName":         "NumberOfMessagesReceived",
				"Namespace":          "AWS/SQS",
				"Statistic":          "Sum",
				"Period":             300,
				"Dimensions":         []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{s.id(b.Events.DeadLetters), "QueueName"}}}},
				"Threshold":          1,
				"ComparisonOperator": "GreaterThanOrEqualToThreshold",
				"TreatMissingData":   "notBreaching",
			})
		})
		for _, a := range []struct {
			q         *Queue
			ageSecond int
		}{{b.Events, 900}, {b.Tasks, 900}, {b.Timers, 1800}} {
			must(t, a.q.name+" dead letters", func() {
				s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
					"MetricName":         "ApproximateNumberOfMessagesVisible",
					"Namespace":          "AWS/SQS",
					"Dimensions":         []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{s.id(a.q.DeadLetters), "QueueName"}}}},
					"Threshold":          1,
					"ComparisonOperator": "GreaterThanOrEqualToThreshold",
					"TreatMissingData":   "notBreaching",
				})
			})
			must(t, a.q.name+" oldest message", func() {
				s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
					"MetricName": "ApproximateAgeOfOldestMessage",
					"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{s.id(a.q.Queue), "QueueName"}}}},
					"Threshold":  a.ageSecond,
				})
			})
		}
	})
}

func TestAlarmActions(t *testing.T) {
	dist := fakeDist(t)
	s := synth(t, func(app awscdk.App) *Stack {
		return newStack(app, "Test", &StackProps{Bora: Props{Code: filepath.Join(dist, "arm64")}}, variant{prepare: func(st awscdk.Stack, p *Props) {
			topic := awssns.NewTopic(st, jsii.String("Pager"), &awssns.TopicProps{EnforceSSL: jsii.Bool(true)})
			p.AlarmActions = []awscloudwatch.IAlarmAction{awscloudwatchactions.NewSnsAction(topic)}
		}})
	})
	topic := ""
	for id := range s.resources("AWS::SNS::Topic") {
		topic = id
	}
	for id, a := range s.resources("AWS::CloudWatch::Alarm") {
		if diff := cmp.Diff([]any{map[string]any{"Ref": topic}}, props(a)["AlarmActions"]); diff != "" {
			t.Errorf("%s: alarm actions (-want +got):\n%s", id, diff)
		}
	}
}

// grant is one action a role may take on one resource, named by the
// logical id of the resource (and the index, for a table's index).
type grant struct{ action, resource string }

// grants lists what each function's role may do, by function.
func (s *synthesized) grants(t *testing.T) map[string][]grant {
	t.Helper()
	roleOf := map[string]string{}
	for name, fn := range s.stack.Bora.Functions {
		roleOf[s.id(fn.Role().(constructs.Construct))] = name
	}
	out := map[string][]grant{}
	for id, pol := range s.resources("AWS::IAM::Policy") {
		p := props(pol)
		for _, r := range p["Roles"].([]any) {
			name, ok := roleOf[r.(map[string]any)["Ref"].(string)]
			if !ok {
				t.Errorf("policy %s is for a role that is not a function's: %v", id, r)
				continue
			}
			for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				if st["Effect"] != "Allow" || st["Condition"] != nil {
					t.Errorf("%s: unexpected statement %v", name, st)
				}
				for _, a := range list(st["Action"]) {
					for _, res := range list(st["Resource"]) {
						out[name] = append(out[name], grant{a.(string), resourceName(t, res)})
					}
				}
			}
		}
	}
	for _, g := range out {
		slices.SortFunc(g, func(a, b grant) int { return strings.Compare(a.action+a.resource, b.action+b.resource) })
	}
	return out
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// resourceName reads {"Fn::GetAtt": [id, "Arn"]} as id and the join of a
// table's ARN with "/index/<name>" as id/index/<name>; any other resource
// fails the test: a literal ARN or a wildcard has no place in Bora's grants.
func resourceName(t *testing.T, res any) string {
	t.Helper()
	if m, ok := res.(map[string]any); ok {
		if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 && ga[1] == "Arn" {
			return ga[0].(string)
		}
		if j, ok := m["Fn::Join"].([]any); ok && j[0] == "" {
			parts := j[1].([]any)
			if len(parts) == 2 {
				if suffix, ok := parts[1].(string); ok && regexp.MustCompile(`^/index/[a-z-]+$`).MatchString(suffix) {
					return resourceName(t, parts[0]) + suffix
				}
			}
		}
	}
	t.Errorf("grant on resource %v: want a resource of the stack named by GetAtt", res)
	return fmt.Sprint(res)
}

func TestGrantsAreLeastPrivilege(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		b := s.stack.Bora
		table := s.id(b.Table)
		var send, consume = []string{"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"},
			[]string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage"}
		want := map[string][]grant{}
		add := func(fn string, actions []string, resources ...string) {
			for _, a := range actions {
				for _, r := range resources {
					want[fn] = append(want[fn], grant{a, r})
				}
			}
		}
		for _, fn := range []string{Engine, Worker, Reconciler, API} {
			add(fn, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, s.id(b.LogGroups[fn]))
			add(fn, storeActions, table)
		}
		add(Reconciler, storeActions, table+"/index/"+dynamo.IndexDue)
		add(API, storeActions, table+"/index/"+dynamo.IndexByState)
		add(API, send, s.id(b.Events.Queue), s.id(b.Tasks.Queue), s.id(b.Timers.Queue))
		add(Engine, send, s.id(b.Events.Queue), s.id(b.Tasks.Queue), s.id(b.Timers.Queue))
		add(Engine, consume, s.id(b.Events.Queue), s.id(b.Timers.Queue), s.id(b.Events.DeadLetters))
		add(Worker, send, s.id(b.Events.Queue))
		add(Worker, consume, s.id(b.Tasks.Queue))
		add(Reconciler, send, s.id(b.Events.Queue), s.id(b.Tasks.Queue), s.id(b.Timers.Queue))
		got := s.grants(t)
		for fn, g := range want {
			slices.SortFunc(g, func(a, b grant) int { return strings.Compare(a.action+a.resource, b.action+b.resource) })
			g = slices.Compact(g)
			if diff := cmp.Diff(g, slices.Compact(got[fn]), cmp.AllowUnexported(grant{})); diff != "" {
				t.Errorf("grants of the %s role (-want +got):\n%s", fn, diff)
			}
		}
		if extra := slices.Collect(maps.Keys(got)); len(extra) != 4 {
			t.Errorf("policies for %v, want the four functions' roles", extra)
		}
		for id, r := range s.resources("AWS::IAM::Role") {
			p := props(r)
			if p["ManagedPolicyArns"] != nil || p["Policies"] != nil {
				t.Errorf("role %s has managed or inline policies: %v %v", id, p["ManagedPolicyArns"], p["Policies"])
			}
			doc, _ := json.Marshal(p["AssumeRolePolicyDocument"])
			if !strings.Contains(string(doc), `"Service":"lambda.amazonaws.com"`) || strings.Count(string(doc), `"Principal"`) != 1 {
				t.Errorf("role %s may be assumed by %s, want Lambda alone", id, doc)
			}
		}
		// No policy of the template allows a wildcard action. (The queues'
		// policies deny every action, sqs:*, to requests without TLS.)
		for _, typ := range []string{"AWS::IAM::Policy", "AWS::SQS::QueuePolicy"} {
			for id, pol := range s.resources(typ) {
				for _, st := range props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					st := st.(map[string]any)
					for _, a := range list(st["Action"]) {
						if st["Effect"] == "Allow" && strings.Contains(a.(string), "*") {
							t.Errorf("%s allows the wildcard action %s", id, a)
						}
					}
				}
			}
		}
	})
}

func TestNoFixedPhysicalNames(t *testing.T) {
	names := map[string]string{
		"AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName", "AWS::Lambda::Function": "FunctionName",
		"AWS::IAM::Role": "RoleName", "AWS::IAM::Policy": "", "AWS::Logs::LogGroup": "LogGroupName",
		"AWS::Events::Rule": "Name", "AWS::CloudWatch::Alarm": "AlarmName",
	}
	both(t, func(t *testing.T, s *synthesized) {
		for id, r := range s.json["Resources"].(map[string]any) {
			typ := r.(map[string]any)["Type"].(string)
			if f := names[typ]; f != "" && props(r.(map[string]any))[f] != nil {
				t.Errorf("%s (%s) has a fixed %s: two stacks could not live in one account", id, typ, f)
			}
		}
	})
}

func TestOutputs(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		b := s.stack.Bora
		getAtt := func(c constructs.Construct, attr string) any {
			return map[string]any{"Fn::GetAtt": []any{s.id(c), attr}}
		}
		ref := func(c constructs.Construct) any { return map[string]any{"Ref": s.id(c)} }
		want := map[string]any{
			OutTable:              ref(b.Table),
			OutEngineQueue:        getAtt(b.Events.Queue, "QueueName"),
			OutTaskQueue:          getAtt(b.Tasks.Queue, "QueueName"),
			OutTimerQueue:         getAtt(b.Timers.Queue, "QueueName"),
			OutEngineDeadLetters:  getAtt(b.Events.DeadLetters, "QueueName"),
			OutTaskDeadLetters:    getAtt(b.Tasks.DeadLetters, "QueueName"),
			OutTimerDeadLetters:   getAtt(b.Timers.DeadLetters, "QueueName"),
			OutEngineFunction:     ref(b.Functions[Engine]),
			OutWorkerFunction:     ref(b.Functions[Worker]),
			OutReconcilerFunction: ref(b.Functions[Reconciler]),
			OutAPIFunction:        ref(b.Functions[API]),
			OutAPIURL:             getAtt(b.API, "ApiEndpoint"),
			OutCompletionsARN:     completionsARN(s),
		}
		if *s.stack.StackName() == LocalStackName {
			want[OutAPIURL] = map[string]any{"Fn::Join": []any{"", []any{
				map[string]any{"Ref": EndpointParameter}, "/_aws/execute-api/", ref(b.API), "/$default",
			}}}
		}
		got := map[string]any{}
		for k, o := range s.json["Outputs"].(map[string]any) {
			got[k] = o.(map[string]any)["Value"]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outputs (-want +got):\n%s", diff)
		}
	})
}

func TestLocalStackDiffers(t *testing.T) {
	aws, local := appStacks(t)
	must(t, "endpoint parameter", func() {
		local.tpl.HasParameter(jsii.String(EndpointParameter), map[string]any{"Type": "String", "Default": "http://127.0.0.1:4566"})
	})
	if ps := aws.tpl.FindParameters(jsii.String(EndpointParameter), nil); len(*ps) != 0 {
		t.Errorf("the AWS stack has the emulator's endpoint parameter")
	}
	for _, tt := range []struct {
		s      *synthesized
		policy string
	}{{aws, "Retain"}, {local, "Delete"}} {
		for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::Logs::LogGroup"} {
			for id, r := range tt.s.resources(typ) {
				if r["DeletionPolicy"] != tt.policy {
					t.Errorf("%s: %s has DeletionPolicy %v, want %s", *tt.s.stack.StackName(), id, r["DeletionPolicy"], tt.policy)
				}
			}
		}
	}
}

// TestAwsSolutions runs cdk-nag's AwsSolutions rules on the app's stacks:
// no finding may be left unsuppressed, error or warning.
func TestAwsSolutions(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		for _, f := range s.nag {
			t.Errorf("cdk-nag %s", f)
		}
	})
}

// synthesisErrors synthesizes a stack of props, changed by then, and
// returns the errors that failed its synthesis (the validation report the CDK writes), or "".
func synthesisErrors(t *testing.T, props Props, then ...func(*Stack)) (errs string) {
	t.Helper()
	app := newApp(t)
	st := NewStack(app, "Test", &StackProps{Bora: props})
	for _, f := range then {
		f(st)
	}
	// A resource, so that the template is not empty.
	awscdk.NewCfnWaitConditionHandle(st.Stack, jsii.String("Placeholder"), nil)
	defer func() {
		if recover() == nil {
			return
		}
		b, err := os.ReadFile(filepath.Join(*app.Outdir(), "validation-report.json"))
		if err != nil {
			t.Fatalf("synthesis failed without a validation report: %v", err)
		}
		errs = string(b)
	}()
	app.Synth(nil)
	return ""
}

func TestInvalidPropsFailSynthesis(t *testing.T) {
	dist := fakeDist(t)
	code := filepath.Join(dist, "arm64")
	if got := synthesisErrors(t, Props{Code: code}); got != "" {
		t.Fatalf("valid props fail the synthesis: %s", got)
	}
	for _, tt := range []struct {
		name  string
		props Props
		want  string
	}{
		{"no code", Props{}, "Props.Code is required"},
		{"negative retention", Props{Code: code, Retention: -time.Hour}, "KeepForever"},
		{"retention under an hour", Props{Code: code, Retention: time.Minute}, "under an hour"},
		{"worker concurrency 1", Props{Code: code, WorkerMaxConcurrency: 1}, "WorkerMaxConcurrency 1"},
		{"worker batch 11", Props{Code: code, WorkerBatchSize: 11}, "WorkerBatchSize 11"},
		{"engine timeout 16 minutes", Props{Code: code, EngineTimeout: 16 * time.Minute}, "EngineTimeout 16m0s"},
		{"worker timeout 1.5 s", Props{Code: code, WorkerTimeout: 1500 * time.Millisecond}, "WorkerTimeout 1.5s"},
		{"reconcile every 90 s", Props{Code: code, ReconcileEvery: 90 * time.Second}, "ReconcileEvery 1m30s"},
		{"max receives 0 is the default", Props{Code: code, MaxReceives: 1001}, "MaxReceives 1001"},
		{"memory 64", Props{Code: code, MemoryMB: 64}, "MemoryMB 64"},
		{"negative reservation", Props{Code: code, WorkerReservedConcurrency: -1}, "reserved concurrency"},
		{"API timeout 31 s", Props{Code: code, APITimeout: 31 * time.Second}, "APITimeout 31s"},
		{"JWT over http", Props{Code: code, JWT: &JWT{Issuer: "http://issuer.example", Audience: []string{"a"}}}, "JWT.Issuer"},
		{"JWT without audience", Props{Code: code, JWT: &JWT{Issuer: "https://issuer.example"}}, "JWT.Audience"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := synthesisErrors(t, tt.props); !strings.Contains(got, tt.want) {
				t.Errorf("synthesis errors %q, want one saying %q", got, tt.want)
			}
		})
	}
}

func TestAPI(t *testing.T) {
	both(t, func(t *testing.T, s *synthesized) {
		b := s.stack.Bora
		api, fn := s.id(b.API), s.id(b.Functions[API])
		must(t, "api", func() {
			s.tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Api"), jsii.Number(1))
			// An HTTP API needs a name, not a unique one: the stack's.
			s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{
				"ProtocolType": "HTTP", "Name": map[string]any{"Ref": "AWS::StackName"},
			})
		})
		must(t, "one route, every request to the API function, IAM authorization", func() {
			s.tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Route"), jsii.Number(1))
			s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{
				"ApiId":             map[string]any{"Ref": api},
				"RouteKey":          "$default",
				"AuthorizationType": "AWS_IAM",
			})
			s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Integration"), map[string]any{
				"ApiId":                map[string]any{"Ref": api},
				"IntegrationType":      "AWS_PROXY",
				"IntegrationUri":       map[string]any{"Fn::GetAtt": []any{fn, "Arn"}},
				"PayloadFormatVersion": "2.0",
			})
			s.tpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
				"Action":       "lambda:InvokeFunction",
				"FunctionName": map[string]any{"Fn::GetAtt": []any{fn, "Arn"}},
				"Principal":    "apigateway.amazonaws.com",
			})
		})
		must(t, "the $default stage logs every request", func() {
			s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
				"ApiId":      map[string]any{"Ref": api},
				"StageName":  "$default",
				"AutoDeploy": true,
				"AccessLogSettings": map[string]any{
					"DestinationArn": map[string]any{"Fn::GetAtt": []any{s.id(b.APILogs), "Arn"}},
					"Format":         assertions.Match_StringLikeRegexp(jsii.String(`\$context\.requestId`)),
				},
			})
		})
	})
}

func TestJWTAuthorizer(t *testing.T) {
	dist := fakeDist(t)
	issuer := "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example"
	s := synth(t, func(app awscdk.App) *Stack {
		return NewStack(app, "Test", &StackProps{Bora: Props{Code: filepath.Join(dist, "arm64"), JWT: &JWT{Issuer: issuer, Audience: []string{"bora-cli"}}}})
	})
	must(t, "authorizer", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), map[string]any{
			"AuthorizerType":   "JWT",
			"IdentitySource":   []any{"$request.header.Authorization"},
			"JwtConfiguration": map[string]any{"Issuer": issuer, "Audience": []any{"bora-cli"}},
		})
	})
	must(t, "route", func() {
		s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{
			"RouteKey":          "$default",
			"AuthorizationType": "JWT",
			"AuthorizerId":      map[string]any{"Ref": assertions.Match_AnyValue()},
		})
	})
	for _, f := range s.nag {
		t.Errorf("cdk-nag %s", f)
	}
}

// completionsARN is the template's value of the CompletionsARN of s's Bora:
// POST /v1/completions/* of its API, in any stage.
func completionsARN(s *synthesized) any {
	ref := func(id string) any { return map[string]any{"Ref": id} }
	return map[string]any{"Fn::Join": []any{"", []any{
		"arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":",
		ref(s.id(s.stack.Bora.API)), "/*/POST/v1/completions/*",
	}}}
}

// A user's function that completes asynchronous actions is granted the
// completion route and nothing else; with a JWT authorizer there is no
// grant to give.
func TestGrantComplete(t *testing.T) {
	dist := fakeDist(t)
	var user awsiam.Role
	s := synth(t, func(app awscdk.App) *Stack {
		st := NewStack(app, "Test", &StackProps{Bora: Props{Code: filepath.Join(dist, "arm64")}})
		user = awsiam.NewRole(st.Stack, jsii.String("UserFunctionRole"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		})
		st.Bora.GrantComplete(user)
		// The route's path ends in the callback id, so the grant ends in a
		// wildcard, which cdk-nag asks the user to justify (docs/deploy.md).
		cdknag.NagSuppressions_AddResourceSuppressions(user, &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String("Completes Bora's asynchronous actions: the completion route's last segment is the attempt's callback id."),
			AppliesTo: &[]any{cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::.*\/POST\/v1\/completions\/\*$/`)}},
		}}, jsii.Bool(true))
		return st
	})
	for _, f := range s.nag {
		t.Errorf("cdk-nag %s", f)
	}
	var got []any
	for _, pol := range s.resources("AWS::IAM::Policy") {
		p := props(pol)
		if cmp.Equal(p["Roles"], []any{map[string]any{"Ref": s.id(user)}}) {
			got = append(got, p["PolicyDocument"].(map[string]any)["Statement"].([]any)...)
		}
	}
	want := []any{map[string]any{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": completionsARN(s)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the user role's grants (-want +got):\n%s", diff)
	}

	code := filepath.Join(dist, "arm64")
	jwt := &JWT{Issuer: "https://issuer.example", Audience: []string{"bora"}}
	errs := synthesisErrors(t, Props{Code: code, JWT: jwt}, func(st *Stack) {
		if arn := st.Bora.CompletionsARN(); arn != nil {
			t.Errorf("CompletionsARN with a JWT authorizer = %s, want nil", *arn)
		}
		st.Bora.GrantComplete(awsiam.NewRole(st.Stack, jsii.String("UserFunctionRole"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		}))
	})
	if !strings.Contains(errs, "GrantComplete") || !strings.Contains(errs, "JWT") {
		t.Errorf("GrantComplete on a JWT-authorized API: synthesis errors %q, want one saying why", errs)
	}
}

// A callback URL given in Props.Environment (the API behind a domain of
// its own, say) is the worker's, not the API's endpoint.
func TestCallbackURLFromProps(t *testing.T) {
	dist := fakeDist(t)
	const url = "https://bora.example.com/v1/completions"
	s := synth(t, func(app awscdk.App) *Stack {
		return NewStack(app, "Test", &StackProps{Bora: Props{
			Code: filepath.Join(dist, "arm64"), Environment: map[string]*string{function.EnvCallbackURL: jsii.String(url)},
		}})
	})
	p := props(s.resources("AWS::Lambda::Function")[s.id(s.stack.Bora.Functions[Worker])])
	if got := p["Environment"].(map[string]any)["Variables"].(map[string]any)[function.EnvCallbackURL]; got != url {
		t.Errorf("the worker's %s = %v, want %s", function.EnvCallbackURL, got, url)
	}
}
