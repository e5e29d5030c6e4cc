package infra

import (
	"encoding/json"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/borawf/bora/internal/function"
)

// JWT configures the HTTP API's JWT authorizer, which then replaces IAM
// authorization: API Gateway accepts a request whose bearer token the
// issuer signed for one of the audiences.
type JWT struct {
	// Issuer is the token issuer's URL (an Amazon Cognito user pool's, say:
	// https://cognito-idp.<region>.amazonaws.com/<pool id>).
	Issuer string
	// Audience lists the accepted "aud" (or Cognito "client_id") values.
	Audience []string
}

// DefaultAPITimeout is the API function's timeout unless Props says
// otherwise; API Gateway waits at most 30 s for it.
const DefaultAPITimeout = 10 * time.Second

// accessLogFormat is what API Gateway logs per request: one JSON object.
var accessLogFormat = func() string {
	b, _ := json.Marshal(map[string]string{
		"requestId":      "$context.requestId",
		"time":           "$context.requestTime",
		"ip":             "$context.identity.sourceIp",
		"caller":         "$context.identity.caller",
		"user":           "$context.identity.user",
		"method":         "$context.httpMethod",
		"path":           "$context.path",
		"status":         "$context.status",
		"responseLength": "$context.responseLength",
		"latencyMs":      "$context.responseLatency",
		"error":          "$context.error.message",
		"integration":    "$context.integrationErrorMessage",
	})
	return string(b)
}()

// newAPI creates the HTTP API: one $default route, to the API function,
// behind IAM authorization (SigV4-signed requests of principals allowed
// execute-api:Invoke on it) or, when p.JWT is set, a JWT authorizer; its
// $default stage logs every request.
func (b *Bora) newAPI(scope constructs.Construct, p Props, fn awslambda.Function) {
	c := constructs.NewConstruct(scope, jsii.String("HttpApi"))
	var auth awsapigatewayv2.IHttpRouteAuthorizer = awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	if p.JWT != nil {
		auth = awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("Jwt"), jsii.String(p.JWT.Issuer), &awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
			JwtAudience: jsii.Strings(p.JWT.Audience...),
		})
	}
	api := awsapigatewayv2.NewHttpApi(c, jsii.String("Http"), &awsapigatewayv2.HttpApiProps{
		// An HTTP API must have a name, which need not be unique: the
		// stack's.
		ApiName:            awscdk.Aws_STACK_NAME(),
		Description:        jsii.String("Bora's HTTP API"),
		CreateDefaultStage: jsii.Bool(false),
		DefaultIntegration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Function"), fn, &awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		}),
		DefaultAuthorizer: auth,
	})
	logs := awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: p.RemovalPolicy,
	})
	stage := awsapigatewayv2.NewHttpStage(c, jsii.String("Stage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
	})
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})
	b.API, b.APIStage, b.APILogs, b.jwt = api, stage, logs, p.JWT != nil
}

// completionsPath is the API's completion route, under which a callback
// id names the attempt to complete (POST <API>/v1/completions/{id}).
const completionsPath = "/v1/completions"

// setCallbackURL gives the worker the completion route of the API that
// callers reach at apiURL (function.EnvCallbackURL), which asynchronous
// actions hand out with their callback id.
func (b *Bora) setCallbackURL(apiURL *string) {
	b.Functions[Worker].AddEnvironment(jsii.String(function.EnvCallbackURL), jsii.String(*apiURL+completionsPath), nil)
}

// CompletionsARN is the execute-api ARN of the completion route, POST
// /v1/completions/* in every stage: what a principal must be allowed
// execute-api:Invoke on to complete asynchronous actions (a function
// invoked by aws.lambda with async: true that completes its own attempt,
// say). It is nil when the API authorizes by JWT (Props.JWT).
func (b *Bora) CompletionsARN() *string {
	if b.API == nil || b.jwt {
		return nil
	}
	return b.API.ArnForExecuteApi(jsii.String("POST"), jsii.String(completionsPath+"/*"), nil)
}

// GrantComplete allows grantee to complete asynchronous actions through
// the API: execute-api:Invoke on CompletionsARN, and no other route. With
// Props.JWT the API takes tokens, not IAM grants: GrantComplete then fails
// the synthesis.
func (b *Bora) GrantComplete(grantee awsiam.IGrantable) awsiam.Grant {
	arn := b.CompletionsARN()
	if arn == nil {
		awscdk.Annotations_Of(b.Construct).AddError(jsii.String("bora: GrantComplete: the API authorizes requests by JWT (Props.JWT); a caller completes with a token from the issuer, not an IAM grant"))
		return awsiam.Grant_Drop(grantee, jsii.String("completions through a JWT-authorized API"))
	}
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("execute-api:Invoke"),
		ResourceArns: &[]*string{arn},
	})
}
