// Package txn is the client side of transactions. A Txn coordinates one serializable
// transaction: it stamps batches with the transaction's state, splits them by range (sending
// independent writes to their ranges at once), tracks the spans it read (to refresh them
// when its timestamp is pushed, or when a read meets a value in its uncertainty interval)
// and the spans it wrote (to resolve their intents at commit), and heartbeats its record
// while it holds intents. It commits in one phase when every write lands on one range, and
// otherwise, when the commit comes with the last writes, in one round of consensus with
// them (parallel commits: a STAGING record naming the writes in flight).
package txn
