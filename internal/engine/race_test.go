//go:build race

package engine

// The race detector slows the scale tests tenfold; they use fewer tasks
// under it (the flatness they show does not depend on the count).
const scaleN = 300
