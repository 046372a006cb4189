// Package mvcc stores multi-version values in Pebble. Every user key has versions at hybrid
// logical clock timestamps (a reader at timestamp ts sees the newest version at or below ts),
// deletion tombstones (versions with an empty value), and at most one intent: the provisional
// write of an unfinished transaction, stored as an ordinary version at the transaction's write
// timestamp plus a meta record, in the key's meta slot, that names the transaction (a compact
// binary TxnMeta, version byte first) and so tells resolution and readers where the
// provisional value lives. When a transaction writes a key again, the meta also keeps the
// values of its earlier writes with their sequence numbers (the intent history), so that a
// rollback to a savepoint, which makes the transaction ignore a range of its sequence
// numbers, can bring an earlier value back for its reads and its commit. Readers and writers that meet another transaction's intent get a
// WriteIntentError so the layer above can push or wait for that transaction; the transaction's
// own reads see its intent. Every version also has a local timestamp, the clock reading of
// the leaseholder that evaluated the write, which readers weigh against their uncertainty
// interval (see UncertaintyInterval); it is stored, in a header of the value, only when it is
// below the version's timestamp (see value.go). Engine keys are escape(userKey) 0x00 0x01
// [^wall(8) ^logical(4) [0x01: the value has a header]]: escaping (0x00 becomes 0x00 0xff) and
// the 0x00 0x01 terminator keep user keys in order and make the encoding prefix-free, so
// bytewise order puts each key's meta slot (no suffix) first, its versions newest first (the
// timestamp is inverted), and all of them before the next user key; EncodeKey(k, zero) is thus
// an inclusive lower bound and an exclusive upper bound for user spans. Open installs
// Comparer, which is Pebble's bytewise comparer plus a Split at the terminator so that bloom
// filters cover user keys and point reads can skip sstables.
package mvcc
