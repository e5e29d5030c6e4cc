// Command api is the Lambda function behind Bora's HTTP API (API Gateway,
// payload format 2.0): it stores workflows, starts executions and sends
// commands, and never waits for an execution.
package main

import (
	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/action/awslambda"
	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/apigw"
	"github.com/borawf/bora/internal/function"
)

func main() {
	function.Start(func(d *function.Deps) (any, error) {
		rt, err := d.Runtime()
		if err != nil {
			return nil, err
		}
		// The worker's actions, for the checks of the workflows it stores.
		reg, _ := awslambda.Registry(action.Policy{}, awslambda.DefaultClient)
		h, err := api.New(api.Options{Store: d.Store, Runtime: rt, Actions: reg.Specs(), Log: d.Log})
		return apigw.Handler(h), err
	})
}
