// Package kvpb defines the key-value requests that transactions send to ranges and the
// responses and errors that come back. A BatchRequest is the unit of work a range evaluates
// atomically: the transaction layer groups a statement's reads and writes into batches, and a
// range's leaseholder evaluates each batch under latches, replicating its writes through Raft.
package kvpb
