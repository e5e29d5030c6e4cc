package infra

import (
	"encoding/json"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
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
	b.API, b.APIStage, b.APILogs = api, stage, logs
}
