// Package txn is the client side of transactions. A Txn coordinates one serializable
// transaction: it stamps batches with the transaction's state, splits them by range, tracks
// the spans it read (to refresh them if its timestamp is pushed) and the spans it wrote (to
// resolve their intents at commit), heartbeats its record while it holds intents, and commits
// in one phase when every write lands on one range.
package txn
