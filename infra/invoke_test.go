package infra

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"
)

// invokeGrants returns, by function, the resources its role may call
// lambda:InvokeFunction on, as JSON.
func (s *synthesized) invokeGrants(t *testing.T) map[string][]string {
	t.Helper()
	roleOf := map[string]string{}
	for name, fn := range s.stack.Bora.Functions {
		roleOf[s.id(fn.Role().(constructs.Construct))] = name
	}
	out := map[string][]string{}
	for _, pol := range s.resources("AWS::IAM::Policy") {
		p := props(pol)
		for _, r := range p["Roles"].([]any) {
			name := roleOf[r.(map[string]any)["Ref"].(string)]
			for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				for _, a := range list(st["Action"]) {
					if !strings.HasPrefix(a.(string), "lambda:") {
						continue
					}
					if a != "lambda:InvokeFunction" {
						t.Errorf("%s may %s", name, a)
					}
					for _, res := range list(st["Resource"]) {
						b, _ := json.Marshal(res)
						out[name] = append(out[name], string(b))
					}
				}
			}
		}
	}
	return out
}

// The worker may invoke the functions InvokeFunctions lists, each as
// written, and no function may invoke anything by default.
func TestInvokeFunctions(t *testing.T) {
	aws, local := appStacks(t)
	for _, s := range []*synthesized{aws, local} {
		if g := s.invokeGrants(t); len(g) != 0 {
			t.Errorf("%s: lambda grants %v, want none by default", *s.stack.StackName(), g)
		}
	}

	dist := fakeDist(t)
	s := synth(t, func(app awscdk.App) *Stack {
		return newStack(app, "Invoke", &StackProps{Bora: Props{Code: filepath.Join(dist, "arm64")}}, variant{prepare: func(_ awscdk.Stack, p *Props) {
			p.InvokeFunctions = []*string{
				jsii.String("charge"),
				jsii.String("notify:prod"),
				jsii.String("arn:aws:lambda:eu-west-1:123456789012:function:refund"),
				awscdk.Fn_ImportValue(jsii.String("PaymentsFunctionArn")),
			}
		}})
	})
	arn := func(name string) string {
		return `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":lambda:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":function:` + name + `"]]}`
	}
	want := map[string][]string{Worker: {
		arn("charge"), arn("notify:prod"),
		`"arn:aws:lambda:eu-west-1:123456789012:function:refund"`,
		`{"Fn::ImportValue":"PaymentsFunctionArn"}`,
	}}
	got := s.invokeGrants(t)
	for _, g := range got {
		slices.Sort(g)
	}
	slices.Sort(want[Worker])
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lambda grants (-want +got):\n%s", diff)
	}
	for _, f := range s.nag {
		t.Errorf("cdk-nag %s", f)
	}
}

func TestInvokeFunctionsChecked(t *testing.T) {
	code := filepath.Join(fakeDist(t), "arm64")
	for _, bad := range []string{"my function", "charge:", "charge:a:b", ""} {
		got := synthesisErrors(t, Props{Code: code, InvokeFunctions: []*string{jsii.String(bad)}})
		if !strings.Contains(got, "is neither a Lambda function's name") {
			t.Errorf("InvokeFunctions %q: synthesis errors %q, want one saying what is wrong", bad, got)
		}
	}
}
