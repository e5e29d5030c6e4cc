package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke runs scripts/smoke-local on the deployed stack, as `make
// deploy-local` does after deploying: the bora command stores a workflow
// through API Gateway's URL from the stack's outputs, SigV4-signed, starts
// an execution and follows it to SUCCESS; an unsigned request is refused.
func TestSmoke(t *testing.T) {
	t.Parallel()
	sharedStack(t) // deploys the stack and writes its outputs
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "smoke-local"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/smoke-local: %v\n%s", err, out)
	}
	t.Logf("scripts/smoke-local:\n%s", out)
}
