package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// root is the repository's root directory.
var root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

func TestMain(m *testing.M) {
	code := m.Run()
	if !checkShared() {
		code = max(code, 1)
	}
	os.Exit(code)
}
