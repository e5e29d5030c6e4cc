// Command lambda is the Lambda function the end-to-end suite deploys to the
// emulator and invokes from workflows with the aws.lambda action. What it
// does is chosen by its payload's "do":
//
//   - echo: returns {"value": <value>, "bora": <the event's bora object>}.
//   - fail: fails with a Declined error whose message names <value>.
//   - flaky: fails with a Busy error until the attempt numbered <until>,
//     then returns {"attempt": n}.
//
// Invoked asynchronously (aws.lambda with async: true), it completes its
// attempt itself, as a function handing work to a slower system would once
// that system answered: it posts the completion to the event's
// bora.callback_url, SigV4-signed with its own credentials.
//
//   - callback: completes with {"result": {"value": <value>, "attempt": n,
//     "callback_id": <the callback id>}}. When the task asked for
//     heartbeats (the event's bora.heartbeat_seconds), it sends one first
//     and adds the deadline of the answer as "heartbeat_deadline".
//   - callback-fail: completes with {"error": {"reason": "<value> refused",
//     "attempt": n}}.
//   - callback-flaky: as callback-fail until the attempt numbered <until>,
//     then as callback.
//
// It is not part of Bora: it stands for a user's function.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
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

func handle(ctx context.Context, ev event) (any, error) {
	attempt, _ := ev.Bora["attempt"].(float64)
	n := int(attempt)
	switch ev.Payload.Do {
	case "echo":
		return map[string]any{"value": ev.Payload.Value, "bora": ev.Bora}, nil
	case "fail":
		return nil, &Declined{What: ev.Payload.Value}
	case "flaky":
		if n < ev.Payload.Until {
			return nil, &Busy{Attempt: n}
		}
		return map[string]any{"attempt": attempt}, nil
	case "callback", "callback-fail", "callback-flaky":
		id, _ := ev.Bora["callback_id"].(string)
		url, _ := ev.Bora["callback_url"].(string)
		if id == "" || url == "" {
			return nil, fmt.Errorf("%s: the event has no bora.callback_id and bora.callback_url: invoke the function with async: true, from a worker that knows its API's address", ev.Payload.Do)
		}
		// Lambda keeps no response of an asynchronous invocation, and
		// invokes it again after an error (twice by default): an error
		// here is one another try may cure.
		if ev.Payload.Do == "callback-fail" || (ev.Payload.Do == "callback-flaky" && n < ev.Payload.Until) {
			return nil, post(ctx, url, map[string]any{"error": map[string]any{"reason": fmt.Sprintf("%v refused", ev.Payload.Value), "attempt": n}}, nil)
		}
		result := map[string]any{"value": ev.Payload.Value, "attempt": n, "callback_id": id}
		if _, ok := ev.Bora["heartbeat_seconds"]; ok {
			var beat struct {
				Deadline string `json:"deadline"`
			}
			if err := post(ctx, url+"/heartbeat", nil, &beat); err != nil {
				return nil, err
			}
			result["heartbeat_deadline"] = beat.Deadline
		}
		return nil, post(ctx, url, map[string]any{"result": result}, nil)
	}
	return nil, fmt.Errorf("unknown payload.do %q: want echo, fail, flaky, callback, callback-fail or callback-flaky", ev.Payload.Do)
}

// loadConfig reads the function's credentials and region from its
// environment, once: Lambda sets them for its execution role.
var loadConfig = sync.OnceValues(func() (aws.Config, error) {
	return config.LoadDefaultConfig(context.Background())
})

// executeAPIHost matches an API Gateway host name and captures its region.
var executeAPIHost = regexp.MustCompile(`^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// post sends a completion (or, with a nil body, a heartbeat) to url,
// signed for API Gateway's IAM authorization (the function's role needs
// execute-api:Invoke on the completion route), and decodes the answer
// into out. One the API refuses as stale (409: the attempt timed out, was
// cancelled or completed already) is not an error: trying again cannot
// change it.
func post(ctx context.Context, url string, completion, out any) error {
	cfg, err := loadConfig()
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	var body []byte
	if completion != nil {
		if body, err = json.Marshal(completion); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("callback_url %q: %w", url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	region := cfg.Region
	if m := executeAPIHost.FindStringSubmatch(req.URL.Hostname()); m != nil {
		region = m[1]
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusOK:
		log.Printf("%s: %s", req.URL.Path, answer)
		if out != nil {
			return json.Unmarshal(answer, out)
		}
		return nil
	case resp.StatusCode == http.StatusConflict:
		log.Printf("%s: refused as stale: %s", req.URL.Path, answer)
		return nil
	}
	return errors.New("post to " + req.URL.Path + ": " + resp.Status + ": " + string(answer))
}

func main() { lambda.Start(handle) }
