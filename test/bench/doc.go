// Package bench holds Bora's whole-system benchmarks: what a transition
// costs as an execution grows (BenchmarkTransitionCost, embedded and on an
// AWS endpoint), and the program that runs every figure `make bench`
// reports (./report). docs/bench.md says what each measures and how.
package bench
