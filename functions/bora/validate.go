package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/dsl"
)

// stdin is where `bora validate -` reads; tests replace it.
var stdin io.Reader = os.Stdin

// runValidate checks workflow files: `FILE: ok` for each valid one (after
// its warnings), its diagnostics otherwise. Exit 0 when all are valid, 1
// when any is not, 2 on a usage error.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("q", false, "print only errors: no \"FILE: ok\" lines and no warnings")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "Usage: bora validate [-q] FILE...")
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Validate checks Mistral v2 workflow files (workflows or workbooks) and")
		fmt.Fprintln(out, "prints every problem as FILE:LINE:COL: message. A file named - is read")
		fmt.Fprintln(out, "from standard input. Exit status: 0 if every file is valid, 1 if any is")
		fmt.Fprintln(out, "not, 2 on a usage error.")
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Flags:")
		fs.PrintDefaults()
	}
	if wantsHelp(args) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "bora validate: no files given")
		fs.Usage()
		return exitUsage
	}
	code := exitOK
	for _, file := range fs.Args() {
		src, err := readSource(file)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", file, err)
			code = exitFail
			continue
		}
		name := file
		if file == "-" {
			name = "<stdin>"
		}
		b, diags := dsl.Load(name, src)
		if b != nil {
			diags = append(diags, dsl.CheckActions(b, knownActions())...)
		}
		for _, d := range diags {
			if *quiet && d.Severity == dsl.Warning {
				continue
			}
			fmt.Fprintln(stdout, d.String())
		}
		if diags.HasErrors() {
			code = exitFail
		} else if !*quiet {
			fmt.Fprintf(stdout, "%s: ok\n", name)
		}
	}
	return code
}

// wantsHelp reports whether the flags (before any file name) ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			return true
		case a == "--" || !strings.HasPrefix(a, "-") || a == "-":
			return false
		}
	}
	return false
}

// readSource reads a workflow document, refusing one over
// dsl.MaxSourceBytes before reading the rest of it.
func readSource(file string) ([]byte, error) {
	r := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return readAtMost(r, dsl.MaxSourceBytes, "the limit of a workflow document")
}

// readAtMost reads r whole unless it holds more than limit bytes.
func readAtMost(r io.Reader, limit int, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("more than %d bytes, over %s", limit, what)
	}
	return data, nil
}

// knownActions is the catalogue of the actions the embedded worker runs,
// for the loader's action checks.
func knownActions() map[string]dsl.ActionSpec {
	reg, _ := registry(action.Policy{})
	return reg.Specs()
}
