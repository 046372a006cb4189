// Package placement decides where a range's replicas belong. Plan looks at one range's
// replicas and the nodes of the cluster (their liveness, locality and load) and names the
// next single change to make: replace a replica on a dead or draining node, add a replica
// up to the configured count, spreading replicas across localities, or remove a surplus
// one. It decides only; the caller (the range's leaseholder) carries the change out, one
// change at a time, and asks again.
package placement
