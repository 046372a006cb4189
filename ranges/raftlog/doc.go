// Package raftlog keeps the Raft logs and Raft stable state (term, vote) of all of a store's
// range replicas in the store's one Pebble database, each group under its own key prefix.
//
// Sharing the database that holds the ranges' state has three effects the design relies on.
// An append costs one write-ahead-log sync, and Pebble's commit pipeline folds concurrent
// appends of different ranges into the same sync. A node with thousands of replicas keeps
// one set of files, not one log file per range. And the log and the state it is applied to
// share one write-ahead log, so a state write that was applied without a sync is durable
// before any later log truncation is: the log can never lose an entry whose effects were lost.
package raftlog
