package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/runtime"
)

// openEmbedded opens the embedded Bora of a command with the limits set in
// the environment (runtime.LimitsFromEnv) and the command's logger. On
// failure it prints why and returns the exit code: 2 for a bad setting, 1
// when the database cannot be opened.
func openEmbedded(cmd string, o embedded.Options, stderr io.Writer) (*embedded.Bora, int) {
	limits, err := runtime.LimitsFromEnv(os.LookupEnv)
	pol, perr := action.PolicyFromEnv(os.LookupEnv, false)
	if err = errors.Join(err, perr); err != nil {
		fmt.Fprintf(stderr, "bora %s: %v\n", cmd, err)
		return nil, exitUsage
	}
	o.Limits = limits
	o.Actions = action.NewRegistryWith(pol)
	o.Log = cliLogger(stderr)
	b, err := embedded.Open(o)
	if err != nil {
		fmt.Fprintf(stderr, "bora %s: %v\n", cmd, err)
		return nil, exitFail
	}
	return b, exitOK
}
