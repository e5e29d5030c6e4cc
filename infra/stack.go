package infra

import (
	"path/filepath"
	"runtime"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/borawf/bora/internal/action"
)

// The stacks of the app in ./app. Their templates are written to
// cdk.out/<name>.template.json.
const (
	// StackName is the stack `make deploy` deploys to AWS: arm64 code from
	// dist/arm64.
	StackName = "Bora"
	// LocalStackName is the stack `make deploy-local` deploys to the
	// emulator (see NewLocalStack).
	LocalStackName = "BoraLocal"
	// EndpointParameter is the local stack's parameter holding the
	// emulator's URL, which its functions get as AWS_ENDPOINT_URL.
	EndpointParameter = "EndpointUrl"
)

// Output keys of the stacks.
const (
	OutTable              = "TableName"
	OutEngineQueue        = "EngineQueueName"
	OutTaskQueue          = "TaskQueueName"
	OutTimerQueue         = "TimerQueueName"
	OutEngineDeadLetters  = "EngineDeadLetterQueueName"
	OutTaskDeadLetters    = "TaskDeadLetterQueueName"
	OutTimerDeadLetters   = "TimerDeadLetterQueueName"
	OutEngineFunction     = "EngineFunctionName"
	OutWorkerFunction     = "WorkerFunctionName"
	OutReconcilerFunction = "ReconcilerFunctionName"
	OutAPIFunction        = "ApiFunctionName"
	OutAPIURL             = "ApiUrl"
	OutCompletionsARN     = "CompletionsArn"
)

// StackProps configures NewStack.
type StackProps struct {
	awscdk.StackProps
	Bora Props
}

// Stack is a stack that holds Bora and outputs the names a user or a test
// needs to reach it.
type Stack struct {
	awscdk.Stack
	Bora *Bora
}

// NewStack creates a stack holding Bora, with outputs.
func NewStack(scope constructs.Construct, id string, props *StackProps) *Stack {
	return newStack(scope, id, props, variant{})
}

// variant is what a stack changes in NewStack.
type variant struct {
	// prepare may add to the stack and change Bora's props before Bora
	// is created.
	prepare func(awscdk.Stack, *Props)
	// apiURL is the URL clients reach the API at; nil means the API's own
	// endpoint.
	apiURL func(*Bora) *string
}

// newStack is NewStack, changed by v.
func newStack(scope constructs.Construct, id string, props *StackProps, v variant) *Stack {
	var sp awscdk.StackProps
	var bp Props
	if props != nil {
		sp, bp = props.StackProps, props.Bora
	}
	if sp.Description == nil {
		sp.Description = jsii.String("Bora: a Mistral-compatible workflow engine on Lambda, SQS and DynamoDB")
	}
	if sp.AnalyticsReporting == nil {
		sp.AnalyticsReporting = jsii.Bool(false)
	}
	st := awscdk.NewStack(scope, jsii.String(id), &sp)
	if v.prepare != nil {
		v.prepare(st, &bp)
	}
	b := NewBora(st, jsii.String("Bora"), &bp)
	if b.Table == nil { // invalid props, reported on the construct
		return &Stack{Stack: st, Bora: b}
	}
	out := func(key, what string, v *string) {
		awscdk.NewCfnOutput(st, jsii.String(key), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(what)})
	}
	out(OutTable, "Bora's DynamoDB table", b.Table.TableName())
	out(OutEngineQueue, "the engine queue (FIFO): engine events and commands", b.Events.Queue.QueueName())
	out(OutTaskQueue, "the task queue: one message per action to run", b.Tasks.Queue.QueueName())
	out(OutTimerQueue, "the timer queue: delayed engine events", b.Timers.Queue.QueueName())
	out(OutEngineDeadLetters, "the engine queue's dead-letter queue", b.Events.DeadLetters.QueueName())
	out(OutTaskDeadLetters, "the task queue's dead-letter queue", b.Tasks.DeadLetters.QueueName())
	out(OutTimerDeadLetters, "the timer queue's dead-letter queue", b.Timers.DeadLetters.QueueName())
	out(OutEngineFunction, "the engine function", b.Functions[Engine].FunctionName())
	out(OutWorkerFunction, "the worker function", b.Functions[Worker].FunctionName())
	out(OutReconcilerFunction, "the reconciler function", b.Functions[Reconciler].FunctionName())
	out(OutAPIFunction, "the API function", b.Functions[API].FunctionName())
	apiURL := b.API.ApiEndpoint()
	if v.apiURL != nil {
		apiURL = v.apiURL(b)
	}
	out(OutAPIURL, "Bora's HTTP API: bora --endpoint <this URL>", apiURL)
	if v.apiURL != nil {
		b.setCallbackURL(apiURL)
	}
	if arn := b.CompletionsARN(); arn != nil {
		out(OutCompletionsARN, "allow execute-api:Invoke on this ARN to what completes asynchronous actions (POST /v1/completions/{id})", arn)
	}
	return &Stack{Stack: st, Bora: b}
}

// NewAWSStack is the stack `make deploy` deploys: Bora with its defaults,
// running the arm64 packages in dist/arm64.
func NewAWSStack(scope constructs.Construct, dist string) *Stack {
	return NewStack(scope, StackName, &StackProps{Bora: Props{
		Code:         filepath.Join(dist, "arm64"),
		Architecture: awslambda.Architecture_ARM_64(),
	}})
}

// Settings of the emulator variant. Its timeouts are short so that a
// message that fails comes back within seconds: an engine event that
// fails on every delivery reaches the dead-letter queue after
// MaxReceives × LocalEngineTimeout.
const (
	LocalEngineTimeout = 5 * time.Second
	LocalWorkerTimeout = 15 * time.Second
)

// NewLocalStack is the stack `make deploy-local` deploys to the emulator,
// and the end-to-end suite runs on. It is the AWS stack with these
// differences, each for the emulator alone:
//   - The packages are the host's architecture (dist/<GOARCH>): the
//     emulator runs a function's bootstrap as a process of the host, so
//     it cannot run arm64 code on amd64. AWS runs what Architecture says.
//   - Every function gets AWS_ENDPOINT_URL from the EndpointUrl parameter:
//     the emulator does not tell a provided.al2023 process where it is, and
//     without it the SDK would call AWS. On AWS the SDK finds its endpoints.
//   - Short timeouts (LocalEngineTimeout, LocalWorkerTimeout), and the
//     table and log groups are deleted with the stack.
//   - The ApiUrl output is the emulator's path for the API,
//     <EndpointUrl>/_aws/execute-api/<api id>/$default, and the worker's
//     callback URL (BORA_CALLBACK_URL) is that path's completion route.
func NewLocalStack(scope constructs.Construct, dist string) *Stack {
	arch := awslambda.Architecture_X86_64()
	if runtime.GOARCH == "arm64" {
		arch = awslambda.Architecture_ARM_64()
	}
	props := &StackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("Bora on a local AWS emulator (MiniStack): not for AWS"),
		},
		Bora: Props{
			Code:              filepath.Join(dist, runtime.GOARCH),
			Architecture:      arch,
			RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
			EngineTimeout:     LocalEngineTimeout,
			WorkerTimeout:     LocalWorkerTimeout,
			ReconcilerTimeout: LocalWorkerTimeout,
		},
	}
	var endpoint *string
	return newStack(scope, LocalStackName, props, variant{
		prepare: func(st awscdk.Stack, p *Props) {
			endpoint = awscdk.NewCfnParameter(st, jsii.String(EndpointParameter), &awscdk.CfnParameterProps{
				Type:        jsii.String("String"),
				Default:     "http://127.0.0.1:4566",
				Description: jsii.String("The emulator's URL, as the functions reach it (their AWS_ENDPOINT_URL)"),
			}).ValueAsString()
			// The emulator runs the functions on this host, where the
			// end-to-end suite's servers listen: the worker may reach them.
			p.Environment = map[string]*string{"AWS_ENDPOINT_URL": endpoint, action.EnvNetworkAllow: jsii.String("127.0.0.0/8, ::1")}
		},
		// The emulator serves an API at a path of its own port; AWS at
		// the API's own host name (its ApiEndpoint).
		apiURL: func(b *Bora) *string {
			return awscdk.Fn_Join(jsii.String(""), &[]*string{
				endpoint, jsii.String("/_aws/execute-api/"), b.API.ApiId(), jsii.String("/$default"),
			})
		},
	})
}
