package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results are the benchmark lines a run printed: for each benchmark (its
// name without the -GOMAXPROCS suffix), one map of unit to value per line.
type results map[string][]map[string]float64

// procs is the -N suffix Go (and the peers' scripts) add to a benchmark's
// name.
var procs = regexp.MustCompile(`-\d+$`)

// parseLine reads one line of Go's benchmark format,
//
//	BenchmarkName/sub-2   1   123 ns/op   4.07 wu/task ...
//
// and returns the name without its -N suffix and the values by unit.
func parseLine(line string) (name string, values map[string]float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return "", nil, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return "", nil, false
	}
	values = map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		values[f[i+1]] = v
	}
	return procs.ReplaceAllString(f[0], ""), values, true
}

// add records a line if it is a benchmark result.
func (r results) add(line string) bool {
	name, v, ok := parseLine(line)
	if ok {
		r[name] = append(r[name], v)
	}
	return ok
}

// get returns the median, over the benchmark's lines, of one unit's
// values, and whether any line had it.
func (r results) get(name, unit string) (float64, bool) {
	var vs []float64
	for _, line := range r[name] {
		if v, ok := line[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

// all returns every value of one unit, in the order the lines came.
func (r results) all(name, unit string) []float64 {
	var vs []float64
	for _, line := range r[name] {
		if v, ok := line[unit]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// units lists the units a benchmark reported, sorted.
func (r results) units(name string) []string {
	var us []string
	for _, line := range r[name] {
		for u := range line {
			if !slices.Contains(us, u) {
				us = append(us, u)
			}
		}
	}
	slices.Sort(us)
	return us
}
