// Package ranges holds the replicas of ranges on a store. Each range is a Raft group
// (hashicorp/raft, its log kept in Pebble by package raftlog) whose state machine is the
// range's span of a Pebble database shared by every replica of the store. The leaseholder
// evaluates a batch under latches, turns its writes into a Pebble batch, proposes that batch
// through Raft, and every replica applies it together with the range's applied index so
// re-application is a no-op.
package ranges
