package action_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/borawf/bora/internal/action"
)

// A user-defined action: it greets whoever `name` says, and refuses, for
// good, an input without a name. A workflow runs it with
//
//	tasks:
//	  greet:
//	    action: demo.greet name=<% $.who %>
func Example() {
	reg := action.NewRegistry()
	err := reg.Register("demo.greet", action.Func(func(ctx context.Context, in action.Input) (any, error) {
		name, ok := in.Params["name"].(string)
		if !ok {
			// Another attempt would fail the same way: no retry.
			return nil, action.NonRetryable(errors.New("demo.greet: parameter \"name\" must be a string"))
		}
		// in.IdempotencyKey names this attempt; pass it along with any side
		// effect so that the effect is tied to the attempt.
		return map[string]any{"greeting": "Hello, " + name + "!", "key": in.IdempotencyKey}, nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}

	greet, _ := reg.Lookup("demo.greet")
	out, err := greet.Run(context.Background(), action.Input{
		Params:         map[string]any{"name": "Ada"},
		IdempotencyKey: "exec-1/greet#1/0/1",
	})
	fmt.Println(out, err)

	_, err = greet.Run(context.Background(), action.Input{Params: map[string]any{}})
	fmt.Println(action.ErrorValue(err), action.IsNonRetryable(err))

	// Output:
	// map[greeting:Hello, Ada! key:exec-1/greet#1/0/1] <nil>
	// demo.greet: parameter "name" must be a string true
}

// An action that fails with structured error data, as std.fail does with
// error_data: the task's error is the data itself.
func ExampleFailure() {
	charge := action.Func(func(ctx context.Context, in action.Input) (any, error) {
		return nil, &action.Failure{Data: map[string]any{"code": "card_declined", "retry_after": 30}}
	})
	_, err := charge.Run(context.Background(), action.Input{})
	fmt.Println(action.ErrorValue(err))
	// Output: map[code:card_declined retry_after:30]
}
