// Command report runs every benchmark `make bench` reports, in one run on
// one machine, prints one table (figure, value, the benchmark that
// measured it) and writes the figures to test/bench/results/latest.json, a
// flat JSON object, and every line the benchmarks printed to latest.txt
// (Go's benchmark format, for benchstat).
//
//	go run ./test/bench/report                 # everything (make bench runs it on the emulator)
//	go run ./test/bench/report -only embedded  # some steps; writes nothing unless -json is given
//	go run ./test/bench/report -readme test/bench/results/latest.json
//
// The AWS figures need the emulator's endpoint in the environment
// (scripts/emulator run does it). docs/bench.md describes every figure.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"time"
)

// temporalToolchain is the Go release the peer's module is built with: its
// server needs a newer Go than Bora's module.
const temporalToolchain = "go1.26.10"

// A step is one command of the run.
type step struct {
	id, title string
	dir       string   // relative to the repository's root
	env       []string // added to the environment
	args      []string
	// show is the command as the table's reader would type it.
	show string
	// optional steps measure a peer: when one fails, its figures are
	// missing and the run goes on.
	optional bool
}

func steps(root, tmp string) []step {
	gotest := func(bench, pkg string, extra ...string) []string {
		return append([]string{gobin(), "test", "-run", "^$", "-bench", bench, "-benchtime", "1x", "-timeout", "60m"}, append(extra, pkg)...)
	}
	show := func(args []string) string {
		var b strings.Builder
		for i, a := range args {
			if i > 0 {
				b.WriteByte(' ')
			}
			if i == 0 && a == gobin() {
				a = "go"
			}
			if strings.ContainsAny(a, "^$|(){}*") {
				a = "'" + a + "'"
			}
			b.WriteString(a)
		}
		return b.String()
	}
	peer := filepath.Join(tmp, "temporal-peer")
	s := []step{
		{id: "embedded", title: "Bora embedded: a 1,000-task chain and a 1,000-item with-items at concurrency 50, three runs each",
			args: gotest("^BenchmarkEmbedded$/^(linear-1000|with-items-1000-conc-50)$", "./internal/embedded/", "-count", "3")},
		{id: "temporal-build", title: "building the Temporal peer (its own module; the first build takes minutes)", dir: "test/bench/temporal",
			env: []string{"GOTOOLCHAIN=" + temporalToolchain}, args: []string{gobin(), "build", "-o", peer, "."},
			show: "cd test/bench/temporal && GOTOOLCHAIN=" + temporalToolchain + " go build .", optional: true},
		{id: "temporal", title: "Temporal: the same shapes, in memory and on a file, its poll limit as shipped and raised", dir: "test/bench/temporal",
			args: []string{peer, "-linear", "1000", "-items", "1000", "-concurrency", "50"},
			show: "cd test/bench/temporal && GOTOOLCHAIN=" + temporalToolchain + " go run . -linear 1000 -items 1000 -concurrency 50", optional: true},
		{id: "mistral", title: "Mistral 15: the same shapes", args: []string{"./scripts/bench-peer", "-linear", "1000", "-items", "1000", "-concurrency", "50", "-timeout", "600"}, optional: true},
		{id: "latency", title: "Bora embedded: latency from a task's outcome to the next task's claim, over 1,000 transitions",
			args: gotest("^BenchmarkLatency$", "./test/bench/")},
		{id: "fanout", title: "Bora embedded: one with-items of 10,000 items",
			args: gotest("^BenchmarkFanOut$/^items-10000-conc-0$", "./internal/embedded/")},
		{id: "cost", title: "AWS requests per task on the emulator: a 100-task chain, a 100-item with-items, a 10-way fork with a join",
			env: []string{"BORA_REQUIRE_EMULATOR=1"}, args: gotest("^BenchmarkCost$", "./test/e2e/")},
		{id: "transition", title: "write units per transition on the emulator's DynamoDB, executions of 10 and 10,000 tasks",
			env: []string{"BORA_REQUIRE_EMULATOR=1", "BORA_BENCH_SIZES=10,10000"}, args: gotest("^BenchmarkTransitionCostAWS$", "./test/bench/")},
	}
	for i := range s {
		if s[i].show == "" {
			s[i].show = show(s[i].args)
			for _, e := range s[i].env {
				if strings.HasPrefix(e, "BORA_REQUIRE_EMULATOR") {
					// A step on the emulator: scripts/emulator run
					// starts one for the command.
					s[i].show = "scripts/emulator run " + s[i].show
				} else {
					s[i].show = e + " " + s[i].show
				}
			}
		}
	}
	return s
}

// gobin is the go command: $GO, as make passes it, or go.
func gobin() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

func main() {
	only := flag.String("only", "", "run only the steps whose id matches this regular expression (embedded, temporal, mistral, latency, fanout, cost, transition)")
	out := flag.String("json", "", "where to write the figures (default test/bench/results/latest.json; none with -only)")
	readme := flag.String("readme", "", "print the README's figures table from this latest.json, and run nothing")
	rebuild := flag.String("rebuild", "", "compute the figures again from this latest.txt into the -json file (default: beside it), and run nothing")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fatal(err)
	}
	if *readme != "" {
		if err := printReadme(os.Stdout, *readme, root); err != nil {
			fatal(err)
		}
		return
	}
	if *rebuild != "" {
		if err := rebuildJSON(*rebuild, cmpOr(*out, strings.TrimSuffix(*rebuild, ".txt")+".json")); err != nil {
			fatal(err)
		}
		return
	}
	jsonPath := *out
	if jsonPath == "" && *only == "" {
		jsonPath = filepath.Join(root, "test", "bench", "results", "latest.json")
	}
	var pick *regexp.Regexp
	if *only != "" {
		if pick, err = regexp.Compile(*only); err != nil {
			fatal(err)
		}
	}
	if err := run(root, pick, jsonPath); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// run runs the steps, prints the table and writes the figures.
func run(root string, pick *regexp.Regexp, jsonPath string) error {
	tmp, err := os.MkdirTemp("", "bora-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	all := steps(root, tmp)
	var todo []step
	for _, s := range all {
		if pick == nil || pick.MatchString(s.id) || (s.id == "temporal-build" && pick.MatchString("temporal")) {
			todo = append(todo, s)
		}
	}
	r := results{}
	configs := map[string]string{}
	var raw bytes.Buffer
	notes := map[string]string{} // step id → why it failed
	meta := map[string]any{
		"measured_at":        time.Now().UTC().Format(time.RFC3339),
		"commit":             commit(root),
		"go_version":         goruntime.Version(),
		"cores":              goruntime.NumCPU(),
		"load_average_start": loadAverage(),
	}
	start := time.Now()
	skip := map[string]bool{}
	for i, s := range todo {
		if skip[s.id] {
			continue
		}
		fmt.Printf("[%d/%d] %s\n      $ %s\n", i+1, len(todo), s.title, s.show)
		fmt.Fprintf(&raw, "# %s\n# $ %s\n", s.title, s.show)
		t0 := time.Now()
		err := runStep(root, s, r, configs, &raw)
		fmt.Printf("      %s in %s\n", map[bool]string{true: "done", false: "FAILED"}[err == nil], time.Since(t0).Round(time.Second))
		if err != nil {
			notes[s.id] = err.Error()
			if s.id == "temporal-build" {
				skip["temporal"] = true
			}
		}
	}
	meta["load_average_end"] = loadAverage()
	meta["duration_s"] = int(time.Since(start).Seconds())
	meta["cpu"] = configs["cpu"]

	fs := figures(r, configs)
	vals := make([]any, len(fs))
	shown := make([]string, len(fs))
	var missing []string
	labelW, valueW := len("figure"), len("value")
	for i, f := range fs {
		v, why := f.value(r)
		vals[i], shown[i] = v, format(v)
		if v == nil {
			shown[i] = "—"
			if pick == nil || pick.MatchString(f.step) {
				missing = append(missing, fmt.Sprintf("%s: %s", f.key, why))
			}
		}
		labelW, valueW = max(labelW, len([]rune(f.label))), max(valueW, len([]rune(shown[i])))
	}
	fmt.Printf("\n%-*s  %*s  %s\n", labelW, "figure", valueW, "value", "measured by")
	for i, f := range fs {
		fmt.Printf("%-*s  %*s  %s\n", labelW, f.label, valueW, shown[i], f.bench)
	}
	fmt.Println("\nCommands (make bench runs them all, on the emulator):")
	for _, s := range all {
		if s.id != "temporal-build" {
			fmt.Printf("  %-10s %s\n", s.id, s.show)
		}
	}
	for id, n := range notes {
		fmt.Printf("step %s failed: %s\n", id, n)
	}
	if jsonPath != "" {
		meta["notes"] = strings.Join(sortedNotes(notes), "; ")
		if err := writeJSON(jsonPath, meta, fs, vals); err != nil {
			return err
		}
		txt := strings.TrimSuffix(jsonPath, ".json") + ".txt"
		if err := os.WriteFile(txt, raw.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s and %s\n", rel(root, jsonPath), rel(root, txt))
	}
	var required []string
	for _, s := range todo {
		if !s.optional && notes[s.id] != "" {
			required = append(required, s.id)
		}
	}
	if len(required) > 0 {
		return fmt.Errorf("steps failed: %s", strings.Join(required, ", "))
	}
	for _, m := range missing {
		fmt.Println("not measured:", m)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// rebuildJSON computes the figures of a run from its latest.txt again and
// writes them to jsonPath, keeping the run's metadata found there: what a
// change of the report's figures needs, without measuring again.
func rebuildJSON(txt, jsonPath string) error {
	b, err := os.ReadFile(txt)
	if err != nil {
		return err
	}
	r, configs := results{}, map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if r.add(line) {
			continue
		}
		if k, v, ok := configLine(line); ok {
			if _, seen := configs[k]; !seen {
				configs[k] = v
			}
		}
	}
	meta := map[string]any{}
	if old, err := os.ReadFile(jsonPath); err == nil {
		_ = json.Unmarshal(old, &meta)
	}
	fs := figures(r, configs)
	vals := make([]any, len(fs))
	for i, f := range fs {
		vals[i], _ = f.value(r)
	}
	if err := writeJSON(jsonPath, meta, fs, vals); err != nil {
		return err
	}
	fmt.Printf("wrote %s from %s\n", jsonPath, txt)
	return nil
}

// runStep runs one step, echoing what it prints in short and keeping all
// of it in raw, and records its benchmark and configuration lines.
func runStep(root string, s step, r results, configs map[string]string, raw io.Writer) error {
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Dir = filepath.Join(root, s.dir)
	cmd.Env = append(os.Environ(), s.env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); done <- err }()
	var tail []string
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(raw, line)
		if r.add(line) {
			fmt.Println("      " + brief(line))
			continue
		}
		if k, v, ok := configLine(line); ok {
			if _, seen := configs[k]; !seen {
				configs[k] = v
			}
		}
		if strings.Contains(line, "skipped:") {
			fmt.Println("      " + line)
		}
		tail = append(tail, line)
		if len(tail) > 15 {
			tail = tail[1:]
		}
	}
	if err := <-done; err != nil {
		for _, l := range tail {
			fmt.Println("      | " + l)
		}
		return fmt.Errorf("%s: %w", s.show, err)
	}
	return nil
}

// configLine reads a configuration line of Go's benchmark format
// ("cpu: AMD EPYC"; the peers add "temporal:", "mistral:").
func configLine(line string) (key, value string, ok bool) {
	k, v, found := strings.Cut(line, ": ")
	if !found || k == "" || strings.ContainsAny(k, " \t") || k != strings.ToLower(k) {
		return "", "", false
	}
	return k, strings.TrimSpace(v), true
}

// shown are the units a benchmark line is echoed with, when it has them.
var shown = []string{"tasks/s", "cpu-µs/task", "allocs/task", "p50-µs", "p99-µs", "peak-MB", "µs/item",
	"sqs-req/task", "ddb-req/task", "wu/task", "ru/task", "lambda-inv/task", "wu/tr"}

// brief is a benchmark line as the run echoes it: its name and the units
// of shown it has.
func brief(line string) string {
	name, v, _ := parseLine(line)
	var b strings.Builder
	b.WriteString(name)
	for _, u := range shown {
		if x, ok := v[u]; ok {
			fmt.Fprintf(&b, "  %s %s", format(x), u)
		}
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// format shows a figure: three significant digits, at least two decimals
// below 10.
func format(v any) string {
	switch x := v.(type) {
	case float64:
		switch {
		case x >= 1000:
			return fmt.Sprintf("%.0f", x)
		case x >= 10:
			return fmt.Sprintf("%.1f", x)
		default:
			return fmt.Sprintf("%.2f", x)
		}
	case string:
		return clip(x, 60)
	}
	return fmt.Sprint(v)
}

// writeJSON writes the metadata and the figures as one flat object, in the
// table's order.
func writeJSON(path string, meta map[string]any, fs []figure, vals []any) error {
	var b bytes.Buffer
	b.WriteString("{\n")
	first := true
	put := func(k string, v any) error {
		if f, ok := v.(float64); ok {
			v = round(f)
		}
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if !first {
			b.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(&b, "  %q: %s", k, j)
		return nil
	}
	for _, k := range []string{"measured_at", "commit", "go_version", "cpu", "cores", "load_average_start", "load_average_end", "duration_s", "notes"} {
		if err := put(k, meta[k]); err != nil {
			return err
		}
	}
	for i, f := range fs {
		if err := put(f.key, vals[i]); err != nil {
			return err
		}
	}
	b.WriteString("\n}\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// round keeps four significant digits: the figures are not more precise.
func round(f float64) float64 {
	if f == 0 {
		return 0
	}
	var v float64
	if _, err := fmt.Sscanf(fmt.Sprintf("%.4g", f), "%g", &v); err != nil {
		return f
	}
	return v
}

func sortedNotes(m map[string]string) []string {
	var out []string
	for _, id := range []string{"embedded", "temporal-build", "temporal", "mistral", "latency", "fanout", "cost", "transition"} {
		if n, ok := m[id]; ok {
			out = append(out, id+": "+n)
		}
	}
	return out
}

// repoRoot is the repository's root: the directory with Bora's go.mod
// above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/borawf/bora\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside Bora's repository")
		}
		dir = parent
	}
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}

// commit is the commit the run measured, "+dirty" when the work tree had
// changes.
func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += "+dirty"
	}
	return c
}

// loadAverage is the one-minute load average, as Linux reports it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
