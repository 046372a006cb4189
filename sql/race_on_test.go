//go:build race

package sql_test

// raceEnabled reports a build with the race detector, which slows a node several times
// over: tests that move a lot of data scale down under it.
const raceEnabled = true
