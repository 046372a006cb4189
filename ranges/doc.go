// Package ranges holds the replicas of ranges on a store. Each range is a Raft group
// (hashicorp/raft, its log kept in Pebble by package raftlog) whose state machine is the
// range's span of a Pebble database shared by every replica of the store. The leaseholder
// evaluates a batch under latches, turns its writes into a Pebble batch, proposes that batch
// through Raft, and every replica applies it together with the range's applied index so
// re-application is a no-op. Conflicts between transactions are settled on the leaseholder
// too: locking reads take locks held only in the leaseholder's lock table, writers queue
// there behind other transactions' locks and intents and push the holders, pushes wait at the holder's transaction record (where deadlocks are found and
// abandoned STAGING transactions recovered), and readers push writers above their reads.
package ranges
