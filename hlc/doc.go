// Package hlc implements hybrid logical clocks: timestamps made of a physical wall time and a
// logical counter. A clock never runs backwards, even when the machine's clock steps back, and
// moves past every timestamp it receives from other nodes, so that an event that causes another
// always has the smaller timestamp. Remote timestamps further ahead than the configured maximum
// clock offset are rejected: they mean some clock is broken, and following them would carry the
// error across the cluster.
package hlc
