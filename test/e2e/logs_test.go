package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// logReader reads Lambda logs from CloudWatch Logs, from the log group the
// function names (its LoggingConfig), where the emulator writes each
// invocation's output as AWS does. Bora's
// module carries no CloudWatch Logs client, so the two calls it needs are
// made as signed JSON requests.
type logReader struct {
	cfg      aws.Config
	endpoint string
	client   *http.Client
}

func newLogReader(cfg aws.Config) *logReader {
	endpoint := os.Getenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		endpoint = *cfg.BaseEndpoint
	}
	return &logReader{cfg: cfg, endpoint: strings.TrimRight(endpoint, "/") + "/", client: &http.Client{Timeout: 10 * time.Second}}
}

// logLine is one log event.
type logLine struct {
	At      time.Time
	Message string
}

// call makes one CloudWatch Logs JSON call.
func (r *logReader) call(ctx context.Context, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Logs_20140328."+target)
	creds, err := r.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "logs", r.cfg.Region, time.Now()); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", target, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Lines returns the lines of log group group since since, oldest first,
// keeping only those that contain every one of the substrings in match.
func (r *logReader) Lines(ctx context.Context, group string, since time.Time, match ...string) ([]logLine, error) {
	var lines []logLine
	token := ""
	for page := 0; page < 100; page++ {
		in := map[string]any{
			"logGroupName": group,
			"startTime":    since.UnixMilli(),
		}
		if token != "" {
			in["nextToken"] = token
		}
		var out struct {
			Events []struct {
				Timestamp int64  `json:"timestamp"`
				Message   string `json:"message"`
			} `json:"events"`
			NextToken string `json:"nextToken"`
		}
		if err := r.call(ctx, "FilterLogEvents", in, &out); err != nil {
			if strings.Contains(err.Error(), "ResourceNotFound") {
				return lines, nil // not invoked yet
			}
			return lines, fmt.Errorf("read log group %s: %w", group, err)
		}
	next:
		for _, e := range out.Events {
			for _, m := range match {
				if !strings.Contains(e.Message, m) {
					continue next
				}
			}
			lines = append(lines, logLine{At: time.UnixMilli(e.Timestamp), Message: strings.TrimRight(e.Message, "\n")})
		}
		if out.NextToken == "" || out.NextToken == token {
			break
		}
		token = out.NextToken
	}
	return lines, nil
}

// Tail formats the last n lines of a log group (since since, containing
// match) for a failure message.
func (r *logReader) Tail(ctx context.Context, group string, since time.Time, n int, match ...string) string {
	lines, err := r.Lines(ctx, group, since, match...)
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "    (%v)\n", err)
	}
	if len(lines) > n {
		fmt.Fprintf(&b, "    ... %d earlier lines\n", len(lines)-n)
		lines = lines[len(lines)-n:]
	}
	for _, l := range lines {
		fmt.Fprintf(&b, "    %s %s\n", l.At.UTC().Format("15:04:05.000"), l.Message)
	}
	if len(lines) == 0 && err == nil {
		b.WriteString("    (no lines)\n")
	}
	return b.String()
}
