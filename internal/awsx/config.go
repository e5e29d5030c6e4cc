// Package awsx holds what Bora's AWS adapters and entry points share: loading
// an aws.Config from the environment, the emulator check integration tests
// use, and a request-counting middleware that measures what a workflow costs.
//
// Nothing here knows which endpoint answers. The SDK itself honours
// AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>), so the same code talks to
// AWS, MiniStack or LocalStack.
package awsx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Environment variables read by this package.
const (
	// EnvEndpoint is the SDK's own endpoint override; integration tests
	// need it to find the emulator.
	EnvEndpoint = "AWS_ENDPOINT_URL"
	// EnvRequireEmulator makes integration tests fail, instead of skip,
	// when no endpoint is reachable (CI sets it to 1).
	EnvRequireEmulator = "BORA_REQUIRE_EMULATOR"
	// EnvLogRetries makes TestConfig's clients log every SDK retry.
	EnvLogRetries = "BORA_AWS_LOG_RETRIES"
	// EnvEmulator names the emulator behind AWS_ENDPOINT_URL, as
	// scripts/emulator env exports it: "ministack" or "localstack".
	EnvEmulator = "BORA_EMULATOR"
)

// Emulators, as EnvEmulator names them.
const (
	MiniStack  = "ministack"
	LocalStack = "localstack"
)

// Emulator returns the emulator that EnvEmulator names ("" on AWS or when
// unset), for the few tests that check what one emulator does not model.
func Emulator() string { return os.Getenv(EnvEmulator) }

// Config loads the SDK's default configuration (environment, shared files,
// instance role) and applies optFns.
func Config(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// TB is the part of testing.TB that TestConfig uses. It is declared here so
// that this package does not import testing into the binaries that use it.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// TestConfig returns a configuration for an integration test against the
// endpoint in AWS_ENDPOINT_URL. When the variable is unset or the endpoint
// does not accept a connection, the test is skipped with the reason, or
// fails if BORA_REQUIRE_EMULATOR=1. Missing region and credentials default
// to us-east-1 and static dummy keys, which every emulator accepts.
func TestConfig(t TB) aws.Config {
	t.Helper()
	endpoint := os.Getenv(EnvEndpoint)
	if err := probe(endpoint); err != nil {
		msg := fmt.Sprintf("no AWS endpoint: %v (start one with scripts/emulator start and eval \"$(scripts/emulator env)\")", err)
		if os.Getenv(EnvRequireEmulator) == "1" {
			t.Fatalf("%s; %s=1 requires it", msg, EnvRequireEmulator)
		}
		t.Skipf("%s", msg)
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cmp.Or(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")),
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := Config(ctx, opts...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if os.Getenv(EnvLogRetries) == "1" {
		cfg.ClientLogMode |= aws.LogRetries
	}
	return cfg
}

// probe checks that endpoint is set and accepts a TCP connection.
func probe(endpoint string) error {
	if endpoint == "" {
		return errors.New(EnvEndpoint + " is not set")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s=%q is not a URL", EnvEndpoint, endpoint)
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return fmt.Errorf("%s=%s is unreachable: %w", EnvEndpoint, endpoint, err)
	}
	return conn.Close()
}
