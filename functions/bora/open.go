package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/action/awslambda"
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
	if o.Actions, err = registry(pol); err != nil {
		fmt.Fprintf(stderr, "bora %s: %v\n", cmd, err)
		return nil, exitUsage
	}
	o.Log = cliLogger(stderr)
	o.CallbackURL = os.Getenv("BORA_CALLBACK_URL")
	b, err := embedded.Open(o)
	if err != nil {
		fmt.Fprintf(stderr, "bora %s: %v\n", cmd, err)
		return nil, exitFail
	}
	return b, exitOK
}

// registry is the embedded worker's actions: the standard ones and
// aws.lambda, which invokes through the SDK's default configuration (the
// environment's credentials and region, AWS_ENDPOINT_URL), loaded when a
// task first invokes a function.
func registry(pol action.Policy) (*action.Registry, error) {
	return awslambda.Registry(pol, awslambda.DefaultClient)
}

// start runs b until the returned stop is called. ctx ends on SIGINT or
// SIGTERM. stop ends the run gracefully: b stops receiving, running actions
// have b's grace period to finish, and those that do not are recorded as
// interrupted. While it waits, a second signal ends the process at once,
// as a kill does (the lease then ends its attempts).
func start(b *embedded.Bora, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopBora := b.Start(ctx)
	return ctx, func() {
		signalled := ctx.Err() != nil
		stopSignals() // from here a second signal kills the process
		if signalled {
			fmt.Fprintf(stderr, "bora: stopping; running actions have %s to finish (interrupt again to quit at once)\n", b.Grace())
		}
		stopBora()
	}
}
