// Command lambda is the Lambda function the end-to-end suite deploys to the
// emulator and invokes from workflows with the aws.lambda action. What it
// does is chosen by its payload's "do":
//
//   - echo: returns {"value": <value>, "bora": <the event's bora object>}.
//   - fail: fails with a Declined error whose message names <value>.
//   - flaky: fails with a Busy error until the attempt numbered <until>,
//     then returns {"attempt": n}.
//
// It is not part of Bora: it stands for a user's function.
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
)

// event is what aws.lambda sends.
type event struct {
	Payload struct {
		Do    string `json:"do"`
		Value any    `json:"value"`
		Until int    `json:"until"`
	} `json:"payload"`
	Bora map[string]any `json:"bora"`
}

// Declined is a function error; Lambda reports its type's name as the
// errorType.
type Declined struct{ What any }

func (d *Declined) Error() string { return fmt.Sprintf("%v declined", d.What) }

// Busy is the error of a flaky call.
type Busy struct{ Attempt int }

func (b *Busy) Error() string { return fmt.Sprintf("busy at attempt %d", b.Attempt) }

func handle(_ context.Context, ev event) (any, error) {
	attempt, _ := ev.Bora["attempt"].(float64)
	switch ev.Payload.Do {
	case "echo":
		return map[string]any{"value": ev.Payload.Value, "bora": ev.Bora}, nil
	case "fail":
		return nil, &Declined{What: ev.Payload.Value}
	case "flaky":
		if int(attempt) < ev.Payload.Until {
			return nil, &Busy{Attempt: int(attempt)}
		}
		return map[string]any{"attempt": attempt}, nil
	}
	return nil, fmt.Errorf("unknown payload.do %q: want echo, fail or flaky", ev.Payload.Do)
}

func main() { lambda.Start(handle) }
