package ranges

import (
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

func readTxnRecord(r pebble.Reader, anchor []byte, id mvcc.TxnID) (*kvpb.Transaction, error) {
	v, ok, err := mvcc.GetUnversioned(r, keys.TxnRecordKey(anchor, id))
	if err != nil || !ok {
		return nil, err
	}
	t, err := decodeTxnRecord(v)
	if err != nil {
		return nil, fmt.Errorf("decoding transaction record %x: %w", id, err)
	}
	return t, nil
}

func decodeTxnRecord(v []byte) (*kvpb.Transaction, error) {
	var t kvpb.Transaction
	decode := t.UnmarshalBinary
	if len(v) > 0 && v[0] == '{' {
		decode = func(v []byte) error { return json.Unmarshal(v, &t) } // written by an earlier version
	}
	if err := decode(v); err != nil {
		return nil, err
	}
	return &t, nil
}

func writeTxnRecord(w pebble.Writer, t *kvpb.Transaction) error {
	if len(t.ObservedTimestamps) > 0 {
		// They matter only to the coordinator's reads; the record need not carry them.
		c := *t
		c.ObservedTimestamps = nil
		t = &c
	}
	b, err := t.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encoding transaction record: %w", err)
	}
	return mvcc.PutUnversioned(w, keys.TxnRecordKey(t.Key, t.ID), b)
}

func deleteTxnRecord(w pebble.Writer, t *mvcc.TxnMeta) error {
	return mvcc.DeleteUnversioned(w, keys.TxnRecordKey(t.Key, t.ID))
}

// Records of finished transactions are removed by their coordinators once the intents are
// resolved (kvpb.RemoveTxnRecordRequest). Those of transactions aborted by others, or
// abandoned, have nobody to remove them: garbage collection does, TxnRecordTTL after the
// transaction's last sign of life. A removed ABORTED record must not come back as anything
// else, or a coordinator that never heard of its abort could commit a transaction whose
// intents were already removed; so no record is created any more for a transaction that
// started more than half of TxnRecordTTL ago (recordMayBeGone): it counts as aborted. (The
// half leaves room for the clocks of the nodes that collect and that create.) A
// transaction that runs that long writes its record within a second of its first write,
// with its first heartbeat, and is not affected.

// recordMayBeGone reports whether a transaction without a record may have had one that
// garbage collection removed: then it must be taken as aborted, never given a new record.
func (s *Store) recordMayBeGone(meta *mvcc.TxnMeta) bool {
	return meta.MinTimestamp.Less(s.cfg.Clock.Now().Add(-int64(s.cfg.TxnRecordTTL / 2)))
}

// collectTxnRecords removes the records anchored on range d of transactions that ended
// ABORTED or were left PENDING, with no sign of life since before cutoff, and returns how
// many it removed. COMMITTED records may list intents nobody has resolved yet, and STAGING
// ones need status recovery: they stay, for Store.settleOldRecords.
func collectTxnRecords(rw mvcc.ReadWriter, d *kvpb.RangeDescriptor, cutoff hlc.Timestamp) (int, error) {
	gone, err := scanTxnRecords(rw, d, func(rec *kvpb.Transaction) bool {
		return (rec.Status == kvpb.Aborted || rec.Status == kvpb.Pending) && lastActive(rec).Less(cutoff)
	})
	if err != nil {
		return 0, err
	}
	for _, rec := range gone {
		if err := deleteTxnRecord(rw, &rec.TxnMeta); err != nil {
			return 0, err
		}
	}
	return len(gone), nil
}

// lastActive is the transaction's last sign of life its record shows.
func lastActive(rec *kvpb.Transaction) hlc.Timestamp {
	return rec.LastHeartbeat.Forward(rec.MinTimestamp).Forward(rec.WriteTimestamp)
}

// scanTxnRecords returns the records anchored on range d that match.
func scanTxnRecords(r pebble.Reader, d *kvpb.RangeDescriptor, match func(*kvpb.Transaction) bool) ([]*kvpb.Transaction, error) {
	sp := txnRecordSpan(d)
	it, err := r.NewIter(&pebble.IterOptions{
		LowerBound: mvcc.EncodeKey(sp.Key, hlc.Timestamp{}),
		UpperBound: mvcc.EncodeKey(sp.EndKey, hlc.Timestamp{}),
	})
	if err != nil {
		return nil, err
	}
	var out []*kvpb.Transaction
	for it.First(); it.Valid(); it.Next() {
		rec, err := decodeTxnRecord(it.Value())
		if err != nil {
			err = fmt.Errorf("decoding transaction record at %q: %w", it.Key(), err)
			_ = it.Close()
			return nil, err
		}
		if d.ContainsKey(rec.Key) && match(rec) {
			out = append(out, rec)
		}
	}
	return out, it.Close()
}

// txnRecordSpan holds the records anchored on range d, and perhaps a few more: an anchor
// that extends d's end key sorts oddly (its record key puts a zero byte after it), so a
// reader checks the anchors.
func txnRecordSpan(d *kvpb.RangeDescriptor) kvpb.Span {
	prefix := func(anchor []byte) []byte { return append(append([]byte(nil), keys.TxnRecordPrefix...), anchor...) }
	return kvpb.Span{Key: prefix(d.StartKey), EndKey: keys.PrefixEnd(prefix(d.EndKey))}
}

// recordGone is txn as it stands when its record may have been collected: aborted.
func recordGone(txn *kvpb.Transaction) *kvpb.Transaction {
	rec := txn.Clone()
	rec.Status, rec.AbortReason = kvpb.Aborted, kvpb.RetryRecordExpired
	return rec
}
