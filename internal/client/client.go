// Package client talks to Bora's HTTP API (internal/api): `bora serve` or
// the API Gateway of a deployed stack, whose requests it signs with SigV4
// (service execute-api) and the default AWS credential chain.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/runtime"
)

// Signing says whether requests are signed with SigV4.
type Signing int

// Signing modes.
const (
	// SignAuto signs requests to an API Gateway endpoint: an
	// execute-api host, or an emulator's /_aws/execute-api/ path.
	SignAuto Signing = iota
	SignAlways
	SignNever
)

// Options configure a Client.
type Options struct {
	// Token is sent as a bearer token (bora serve --token).
	Token string
	// Sign says when to sign requests with SigV4.
	Sign Signing
	// Region signs requests; default: from an execute-api host name, else
	// the AWS configuration's region, else us-east-1.
	Region string
	// HTTP is the client requests go through; default one with a 60 s
	// timeout.
	HTTP *http.Client
	// Credentials signs requests; default: the default credential chain,
	// loaded on the first signed request.
	Credentials aws.CredentialsProvider
	// UserAgent names the caller.
	UserAgent string
}

// Client is a client of one Bora API endpoint.
type Client struct {
	base   *url.URL
	o      Options
	sign   bool
	signer *v4.Signer
	mu     sync.Mutex // guards the credentials and region loaded on first use
}

// executeAPIHost matches API Gateway's host names: <api>.execute-api.<region>.amazonaws.com.
var executeAPIHost = regexp.MustCompile(`^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// New returns a client of the API at endpoint: the URL the API's routes
// hang under (http://127.0.0.1:8080 for bora serve, the stack's ApiUrl
// output on AWS).
func New(endpoint string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want an http or https URL, such as http://127.0.0.1:8080", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("endpoint %q: want a URL without user, query or fragment", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, o: o}
	m := executeAPIHost.FindStringSubmatch(u.Hostname())
	switch o.Sign {
	case SignAlways:
		c.sign = true
	case SignAuto:
		c.sign = m != nil || strings.HasPrefix(u.Path, "/_aws/execute-api/")
	}
	if c.o.Region == "" && m != nil {
		c.o.Region = m[1]
	}
	if c.o.HTTP == nil {
		c.o.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if c.sign {
		c.signer = v4.NewSigner()
	}
	return c, nil
}

// Signs reports whether the client signs its requests.
func (c *Client) Signs() bool { return c.sign }

// Endpoint returns the endpoint's URL.
func (c *Client) Endpoint() string { return c.base.String() }

// Error is an answer of the server that is not a problem document (a
// proxy's or API Gateway's own).
type Error struct {
	Status int
	Body   string
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Body)
	var gw struct {
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(msg), &gw) == nil && gw.Message != "" {
		msg = gw.Message
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if msg == "" {
		return fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("the server answered %d %s: %s", e.Status, http.StatusText(e.Status), msg)
}

// request is one call of the API.
type request struct {
	method, path string
	query        url.Values
	body         []byte
	ctype        string
	header       map[string]string
	// retry says that sending the request twice does what sending it
	// once does.
	retry bool
}

// do sends a request and decodes a 2xx answer into out. An API error
// comes back as an *api.Problem, another error status as an *Error.
func (c *Client) do(ctx context.Context, q request, out any) (*http.Response, error) {
	attempts := 1
	if q.retry {
		attempts = 4
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(100<<i) * time.Millisecond):
			}
		}
		resp, body, err := c.send(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			last = err
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if out != nil {
				if err := json.Unmarshal(body, out); err != nil {
					return resp, fmt.Errorf("%s %s: the answer is not what the API sends: %v", q.method, q.path, err)
				}
			}
			return resp, nil
		}
		last = decodeError(resp, body)
		if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests &&
			resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusGatewayTimeout {
			return resp, last
		}
	}
	return nil, last
}

func decodeError(resp *http.Response, body []byte) error {
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		var p api.Problem
		if json.Unmarshal(body, &p) == nil && p.Type != "" {
			if p.Status == 0 {
				p.Status = resp.StatusCode
			}
			return &p
		}
	}
	return &Error{Status: resp.StatusCode, Body: string(body)}
}

// maxAnswer bounds what the client reads of an answer.
const maxAnswer = 64 << 20

func (c *Client) send(ctx context.Context, q request) (*http.Response, []byte, error) {
	u := *c.base
	u.Path = c.base.Path + api.BasePath + q.path
	u.RawQuery = q.query.Encode()
	req, err := http.NewRequestWithContext(ctx, q.method, u.String(), bytes.NewReader(q.body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if q.body != nil {
		req.Header.Set("Content-Type", q.ctype)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	if c.o.UserAgent != "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	if err := c.Authorize(ctx, req, q.body); err != nil {
		return nil, nil, err
	}
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the answer: %w", q.method, u.Path, err)
	}
	return resp, body, nil
}

// Authorize adds the client's credentials to a request for its endpoint:
// the bearer token, and a SigV4 signature of body when the client signs.
// Set every header before: a signature covers them. bora console signs
// the browser's calls with it.
func (c *Client) Authorize(ctx context.Context, req *http.Request, body []byte) error {
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	if c.sign {
		return c.signRequest(ctx, req, body)
	}
	return nil
}

// signRequest signs req with SigV4 for API Gateway.
func (c *Client) signRequest(ctx context.Context, req *http.Request, body []byte) error {
	provider, region, err := c.credentials(ctx)
	if err != nil {
		return err
	}
	creds, err := provider.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("AWS credentials to sign the request: %w", err)
	}
	sum := sha256.Sum256(body)
	return c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", region, time.Now())
}

// credentials loads the default credential chain and region on first use;
// requests may be signed from several goroutines (bora console).
func (c *Client) credentials(ctx context.Context) (aws.CredentialsProvider, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.o.Credentials == nil || c.o.Region == "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("load AWS credentials to sign the request: %w", err)
		}
		if c.o.Credentials == nil {
			c.o.Credentials = cfg.Credentials
		}
		if c.o.Region == "" {
			c.o.Region = cfg.Region
		}
		if c.o.Region == "" {
			c.o.Region = "us-east-1"
		}
	}
	if c.o.Credentials == nil {
		return nil, "", errors.New("no AWS credentials to sign the request with (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	return c.o.Credentials, c.o.Region, nil
}

// NewKey returns a fresh Idempotency-Key.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SubmitWorkflow stores a workflow document (YAML).
func (c *Client) SubmitWorkflow(ctx context.Context, src []byte) (*api.Submitted, error) {
	var out api.Submitted
	// Storing the same document twice stores it once.
	_, err := c.do(ctx, request{method: "POST", path: "/workflows", body: src, ctype: "application/yaml", retry: true}, &out)
	return &out, err
}

// ValidateWorkflow checks a workflow document without storing it.
func (c *Client) ValidateWorkflow(ctx context.Context, src []byte) (*api.Validated, error) {
	var out api.Validated
	_, err := c.do(ctx, request{method: "POST", path: "/workflows/validate", body: src, ctype: "application/yaml", retry: true}, &out)
	return &out, err
}

// GetWorkflow reads a stored workflow; version 0 is the latest.
func (c *Client) GetWorkflow(ctx context.Context, name string, version int) (*api.Workflow, error) {
	p := "/workflows/" + url.PathEscape(name)
	if version > 0 {
		p += fmt.Sprintf("/versions/%d", version)
	}
	var out api.Workflow
	_, err := c.do(ctx, request{method: "GET", path: p, retry: true}, &out)
	return &out, err
}

// StartExecution starts an execution. key is its Idempotency-Key: the
// client retries a request that failed on the way with the same key, so
// that it starts one execution; empty means a fresh one.
func (c *Client) StartExecution(ctx context.Context, q api.StartRequest, key string) (doc *runtime.Document, created bool, err error) {
	if key == "" {
		key = NewKey()
	}
	body, err := json.Marshal(q)
	if err != nil {
		return nil, false, err
	}
	var out runtime.Document
	resp, err := c.do(ctx, request{method: "POST", path: "/executions", body: body, ctype: "application/json",
		header: map[string]string{api.IdempotencyKeyHeader: key}, retry: true}, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, resp.StatusCode == http.StatusCreated, nil
}

// GetExecution reads an execution with its task executions.
func (c *Client) GetExecution(ctx context.Context, id string) (*runtime.Document, error) {
	var out runtime.Document
	_, err := c.do(ctx, request{method: "GET", path: "/executions/" + url.PathEscape(id), retry: true}, &out)
	return &out, err
}

// ListWorkflows reads a page of stored workflows, by name.
func (c *Client) ListWorkflows(ctx context.Context, prefix, cursor string, limit int) (*api.WorkflowPage, error) {
	q := url.Values{}
	set(q, "prefix", prefix)
	set(q, "cursor", cursor)
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var out api.WorkflowPage
	_, err := c.do(ctx, request{method: "GET", path: "/workflows", query: q, retry: true}, &out)
	return &out, err
}

// DeleteWorkflow deletes a stored workflow.
func (c *Client) DeleteWorkflow(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: "DELETE", path: "/workflows/" + url.PathEscape(name)}, nil)
	return err
}

// ExecutionFilter selects executions to list.
type ExecutionFilter struct {
	Workflow     string
	State        string
	Since, Until time.Time
	TopLevel     bool
	Limit        int
	Cursor       string
}

// ListExecutions reads a page of executions, newest first.
func (c *Client) ListExecutions(ctx context.Context, f ExecutionFilter) (*api.ExecutionPage, error) {
	q := url.Values{}
	set(q, "workflow", f.Workflow)
	set(q, "state", f.State)
	set(q, "cursor", f.Cursor)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.TopLevel {
		q.Set("top_level", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	var out api.ExecutionPage
	_, err := c.do(ctx, request{method: "GET", path: "/executions", query: q, retry: true}, &out)
	return &out, err
}

// Command sends a command (pause, resume, cancel, rerun) to an execution
// and returns the execution as it was. key is the request's
// Idempotency-Key: the client retries a failed request with it, and the
// server applies the command once; empty means a fresh one.
func (c *Client) Command(ctx context.Context, id, op string, q api.CommandRequest, key string) (*runtime.Document, error) {
	if key == "" {
		key = NewKey()
	}
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	var out runtime.Document
	_, err = c.do(ctx, request{method: "POST", path: "/executions/" + url.PathEscape(id) + "/" + op, body: body,
		ctype: "application/json", header: map[string]string{api.IdempotencyKeyHeader: key}, retry: true}, &out)
	return &out, err
}

// Complete sends the outcome of an asynchronous action's attempt (POST
// /v1/completions/{id}). It is not retried: a completion that took effect
// before its answer was lost would be refused as stale when sent again.
func (c *Client) Complete(ctx context.Context, id string, q api.CompletionRequest) (*api.CompletionAnswer, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	var out api.CompletionAnswer
	_, err = c.do(ctx, request{method: "POST", path: "/completions/" + url.PathEscape(id), body: body, ctype: "application/json"}, &out)
	return &out, err
}

// Heartbeat says that an asynchronous action's attempt is still being
// worked on (POST /v1/completions/{id}/heartbeat). Sending it again is
// harmless, so it is retried like a read.
func (c *Client) Heartbeat(ctx context.Context, id string) (*api.HeartbeatAnswer, error) {
	var out api.HeartbeatAnswer
	_, err := c.do(ctx, request{method: "POST", path: "/completions/" + url.PathEscape(id) + "/heartbeat", retry: true}, &out)
	return &out, err
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}
