//go:build !race

package engine

// scaleN is the number of tasks and items of the scale tests.
const scaleN = 1000
