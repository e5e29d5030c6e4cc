package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Check runs cdk-nag's AwsSolutions rules on everything in scope when it is
// synthesized: a finding that is not suppressed is an error on its
// resource, and fails the synthesis. Bora's stacks pass every rule without
// a suppression; one added later belongs beside its resource
// (cdknag.NagSuppressions_AddResourceSuppressions), with its reason.
func Check(scope constructs.Construct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(false),
	}), nil)
}
