package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/borawf/bora/internal/engine"
)

// Environment variables that set engine.Limits, read by the engine
// function and by bora run and bora serve. Unset means the default
// (docs/limits.md).
const (
	EnvExprMaxSteps  = "BORA_EXPR_MAX_STEPS"
	EnvExprMaxBytes  = "BORA_EXPR_MAX_BYTES"
	EnvMaxValueBytes = "BORA_MAX_VALUE_BYTES"
	EnvMaxInfoBytes  = "BORA_MAX_STATE_INFO_BYTES"
	EnvMaxDepth      = "BORA_MAX_DEPTH"
)

// LimitsFromEnv reads the limits from the environment through lookup
// (os.LookupEnv). Sizes take a KiB or MiB suffix ("256KiB", "4MiB"). It
// reports every bad value at once.
func LimitsFromEnv(lookup func(string) (string, bool)) (engine.Limits, error) {
	var l engine.Limits
	var errs []error
	for _, f := range []struct {
		name  string
		to    *int
		bytes bool
	}{
		{EnvExprMaxSteps, &l.ExprSteps, false},
		{EnvExprMaxBytes, &l.ExprBytes, true},
		{EnvMaxValueBytes, &l.ValueBytes, true},
		{EnvMaxInfoBytes, &l.InfoBytes, true},
		{EnvMaxDepth, &l.Depth, false},
	} {
		v, ok := lookup(f.name)
		if !ok || v == "" {
			continue
		}
		n, err := parseCount(v, f.bytes)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", f.name, v, err))
			continue
		}
		*f.to = n
	}
	if len(errs) == 0 {
		if err := l.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvMaxValueBytes, err))
		}
	}
	return l, errors.Join(errs...)
}

// parseCount reads a positive whole number, with a KiB or MiB suffix when
// bytes is set.
func parseCount(s string, bytes bool) (int, error) {
	unit := 1
	if bytes {
		for _, u := range []struct {
			suffix string
			n      int
		}{{"KiB", 1 << 10}, {"MiB", 1 << 20}} {
			if rest, ok := strings.CutSuffix(s, u.suffix); ok {
				s, unit = strings.TrimSpace(rest), u.n
				break
			}
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > (1<<31)/unit {
		want := "a positive whole number"
		if bytes {
			want += " of bytes, optionally with KiB or MiB"
		}
		return 0, fmt.Errorf("want %s", want)
	}
	return n * unit, nil
}
