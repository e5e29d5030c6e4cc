package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// root is the repository's root directory.
var root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

// buildErr is the outcome of building the Lambda zips in TestMain; a test
// that deploys them fails with it.
var buildErr error

// arch is the architecture the suite deploys. The emulator runs a
// provided.al2023 bootstrap as a process of the host, so it must be the
// host's (amd64 on CI); arm64 zips fail there with "Exec format error".
// AWS itself runs Bora on arm64.
var arch = runtime.GOARCH

func TestMain(m *testing.M) {
	// Build only when there is an endpoint to deploy to and code to build:
	// otherwise every test skips and the build would only cost time.
	if _, err := boraZips(); err == nil && os.Getenv("AWS_ENDPOINT_URL") != "" {
		buildErr = buildLambdas()
	}
	code := m.Run()
	if !checkShared() {
		code = max(code, 1)
	}
	teardownShared()
	os.Exit(code)
}

// buildLambdas runs scripts/build-lambdas for the host's architecture.
func buildLambdas() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "build-lambdas"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ARCH="+arch)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/build-lambdas (ARCH=%s): %w\n%s", arch, err, out.String())
	}
	return nil
}

// zipPath is where scripts/build-lambdas puts a function's zip.
func zipPath(fn string) string {
	return filepath.Join(root, "dist", arch, fn+".zip")
}
