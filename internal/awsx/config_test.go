package awsx

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// recordTB records how TestConfig ended a test.
type recordTB struct {
	skipped, failed string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	panic(r)
}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(r)
}

// run calls TestConfig and recovers the stop that Skipf and Fatalf stand for.
func (r *recordTB) run() {
	defer func() {
		if v := recover(); v != nil && v != r {
			panic(v)
		}
	}()
	TestConfig(r)
}

func TestTestConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()

	tests := []struct {
		name     string
		endpoint string
		require  string
		wantSkip string // substring; "" means no skip
		wantFail string
	}{
		{name: "unset skips", endpoint: "", wantSkip: "AWS_ENDPOINT_URL is not set"},
		{name: "unset fails when required", endpoint: "", require: "1", wantFail: "BORA_REQUIRE_EMULATOR=1"},
		{name: "unreachable skips", endpoint: "http://" + closedAddr, wantSkip: "unreachable"},
		{name: "unreachable fails when required", endpoint: "http://" + closedAddr, require: "1", wantFail: "unreachable"},
		{name: "not a URL skips", endpoint: "::", wantSkip: "is not a URL"},
		{name: "reachable returns config", endpoint: "http://" + ln.Addr().String(), require: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// t.Setenv forbids t.Parallel.
			t.Setenv(EnvEndpoint, tt.endpoint)
			t.Setenv(EnvRequireEmulator, tt.require)
			r := &recordTB{}
			r.run()
			check := func(what, got, want string) {
				t.Helper()
				if want == "" && got != "" {
					t.Errorf("unexpected %s: %s", what, got)
				}
				if want != "" && !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", what, got, want)
				}
			}
			check("skip", r.skipped, tt.wantSkip)
			check("failure", r.failed, tt.wantFail)
		})
	}
}
