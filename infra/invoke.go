package infra

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// functionNameRE matches what InvokeFunctions may hold besides an ARN: a
// function's name, optionally with a version or alias ("name:prod").
var functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_*-]{1,128}))?$`)

// checkInvokeFunctions reports the first entry of InvokeFunctions that is
// neither a function's name nor an ARN.
func checkInvokeFunctions(fns []*string) error {
	for _, f := range fns {
		switch {
		case f == nil:
			return fmt.Errorf("bora: InvokeFunctions holds a nil entry")
		case *awscdk.Token_IsUnresolved(f), strings.HasPrefix(*f, "arn:"):
		case !functionNameRE.MatchString(*f):
			return fmt.Errorf("bora: InvokeFunctions: %q is neither a Lambda function's name (name or name:alias) nor an ARN", *f)
		}
	}
	return nil
}

// grantInvoke lets the worker invoke the functions of InvokeFunctions, as
// aws.lambda tasks do, and nothing else: each entry is granted as it is
// written, so "name" is the function's unqualified ARN and "name:alias"
// that alias alone (a user who wants every version writes "name:*").
func grantInvoke(worker awslambda.Function, fns []*string) {
	if len(fns) == 0 {
		return
	}
	st := awscdk.Stack_Of(worker)
	arns := make([]*string, len(fns))
	for i, f := range fns {
		arns[i] = f
		if !*awscdk.Token_IsUnresolved(f) && !strings.HasPrefix(*f, "arn:") {
			arns[i] = st.FormatArn(&awscdk.ArnComponents{
				Service:      jsii.String("lambda"),
				Resource:     jsii.String("function"),
				ResourceName: f,
				ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
			})
		}
	}
	worker.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &arns,
	}))
}
