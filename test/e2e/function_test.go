package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// userFunction is the name of the function the suite deploys beside the
// stack, standing for a user's function that workflows invoke with
// aws.lambda (test/lambda). It is deployed again by every run, so that it
// runs the code of the run.
const userFunction = "bora-e2e-user-function"

var userFn struct {
	once sync.Once
	err  error
}

// deployUserFunction deploys test/lambda to the emulator, once per run,
// and returns its name.
func deployUserFunction(t *testing.T, s *stack) string {
	t.Helper()
	userFn.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		userFn.err = s.deployFunction(ctx, userFunction, "./test/lambda")
	})
	if userFn.err != nil {
		t.Fatalf("deploy the user function: %v", userFn.err)
	}
	return userFunction
}

// deployFunction builds the Go package pkg as a provided.al2023 bootstrap
// for the host's architecture (the emulator runs it as a process of the
// host), as scripts/build-lambdas builds Bora's, and creates or updates
// the function name with it.
func (s *stack) deployFunction(ctx context.Context, name, pkg string) error {
	dir, err := os.MkdirTemp("", "bora-e2e-fn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, pkg)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	code, err := zipBootstrap(bin)
	if err != nil {
		return err
	}
	arch := ltypes.ArchitectureX8664
	if goruntime.GOARCH == "arm64" {
		arch = ltypes.ArchitectureArm64
	}
	env := &ltypes.Environment{Variables: map[string]string{"AWS_ENDPOINT_URL": os.Getenv("AWS_ENDPOINT_URL")}}
	_, err = s.lam.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String(name),
		Runtime:       ltypes.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Architectures: []ltypes.Architecture{arch},
		// The emulator does not check the role; on AWS it would be the
		// function's execution role.
		Role:        aws.String("arn:aws:iam::000000000000:role/bora-e2e-user-function"),
		Code:        &ltypes.FunctionCode{ZipFile: code},
		Timeout:     aws.Int32(30),
		Environment: env,
	})
	var exists *ltypes.ResourceConflictException
	switch {
	case err == nil:
		return lambda.NewFunctionActiveV2Waiter(s.lam).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 2*time.Minute)
	case !errors.As(err, &exists):
		return fmt.Errorf("create function %s: %w", name, err)
	}
	if _, err := s.lam.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: code}); err != nil {
		return fmt.Errorf("update function %s: %w", name, err)
	}
	wait := lambda.NewFunctionUpdatedV2Waiter(s.lam)
	if err := wait.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 2*time.Minute); err != nil {
		return err
	}
	if _, err := s.lam.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), Environment: env}); err != nil {
		return fmt.Errorf("configure function %s: %w", name, err)
	}
	return wait.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 2*time.Minute)
}

// zipBootstrap returns a deployment package holding the file bin as an
// executable "bootstrap" at the archive's root.
func zipBootstrap(bin string) ([]byte, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := z.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
