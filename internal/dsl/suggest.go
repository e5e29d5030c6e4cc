package dsl

import (
	"fmt"
	"strings"
)

// distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours each cost one.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice: the swap looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// closest returns the candidate nearest to s, if it is near enough to be
// what the author meant, or "".
func closest(s string, candidates []string) string {
	best, bestD := "", 0
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := distance(ls, strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	limit := max(1, min(3, min(len([]rune(s)), len([]rune(best)))/4))
	if bestD > limit {
		return ""
	}
	return best
}

// didYouMean returns "; did you mean `x`?" or, when nothing is close, the
// list of valid choices (when given).
func didYouMean(s string, candidates []string, listIfFar bool) string {
	if c := closest(s, candidates); c != "" {
		return fmt.Sprintf("; did you mean `%s`?", c)
	}
	if listIfFar && len(candidates) > 0 {
		return "; valid: " + strings.Join(candidates, ", ")
	}
	return ""
}
