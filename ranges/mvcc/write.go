package mvcc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
)

var errZeroTimestamp = errors.New("mvcc: write at the zero timestamp, which is the meta slot")

// Put writes value at key: a committed version at ts if txn is nil, else an intent of txn at
// ts (its WriteTimestamp). An empty value is a tombstone, as with Delete. local is the
// write's local timestamp: the physical clock reading of the leaseholder evaluating it (see
// ReadOptions.Uncertainty). It is kept only when below ts, and stays with the value when
// the intent is pushed or committed higher.
//
// A numbered write (txn.Sequence > 0) over the transaction's own intent of the same epoch
// keeps the value it replaces in the intent's history, so that a rollback to a savepoint can
// restore it; one numbered at or below the intent's own number is a replay of a write
// already made (or superseded), and changes nothing.
func Put(rw ReadWriter, key []byte, ts, local hlc.Timestamp, value []byte, txn *TxnMeta) error {
	return write(rw, key, ts, local, value, txn, false, nil)
}

// Delete writes a tombstone at key (same rules as Put).
func Delete(rw ReadWriter, key []byte, ts, local hlc.Timestamp, txn *TxnMeta) error {
	return write(rw, key, ts, local, nil, txn, false, nil)
}

// ConditionalPut writes like Put; with expectAbsent it fails with *ConditionFailedError if the
// key has a live value: its newest committed value, or the writer's own intent. ignored are
// the writer's rolled-back write numbers: of its own intent it judges the latest write not
// among them, or, if all are, the committed value beneath.
func ConditionalPut(rw ReadWriter, key []byte, ts, local hlc.Timestamp, value []byte, txn *TxnMeta, expectAbsent bool, ignored []SeqRange) error {
	err := write(rw, key, ts, local, value, txn, expectAbsent, ignored)
	var cfe *ConditionFailedError
	if errors.As(err, &cfe) {
		cfe.Key = append([]byte(nil), key...)
	}
	return err
}

// write checks, in order: other transactions' intents (the caller must resolve them before
// anything else about the key is meaningful), the condition, and then whether a committed
// version at or above ts makes the write too old.
func write(rw ReadWriter, key []byte, ts, local hlc.Timestamp, value []byte, txn *TxnMeta, expectAbsent bool, ignored []SeqRange) error {
	if ts.IsEmpty() {
		return errZeroTimestamp
	}
	if local.IsEmpty() {
		// Taking the version's timestamp instead would be wrong for a write pushed into
		// the future: readers would think it written later than it was.
		return errNoLocalTimestamp
	}
	prefix, upper, version := keySpace(key)
	it, err := newIter(rw, prefix, upper)
	if err != nil {
		return err
	}
	defer closeIter(rw, it)

	var own *intentMeta // the writer's own intent on key, of any epoch
	var ownKey []byte   // the engine key of its provisional value
	// ownLive is the writer's latest write to key in this epoch not rolled back: whether
	// there is one, and whether it is the provisional value or (ownValue) from the history.
	var ownLive, ownCurrent bool
	var ownValue []byte
	var history []IntentWrite // the history the intent keeps after this write
	if it.SeekPrefixGE(prefix) && bytes.Equal(it.Key(), prefix) {
		meta, err := decodeIntentMeta(it.Value(), true)
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		if txn == nil || meta.ID != txn.ID {
			return &WriteIntentError{Intents: []Intent{{Key: append([]byte(nil), key...), Txn: meta.TxnMeta}}}
		}
		if txn.Epoch < meta.Epoch {
			// A restarted transaction's intents replace old ones, never the other way round.
			return fmt.Errorf("mvcc: write of key %q by epoch %d of transaction %s, which already wrote at epoch %d",
				key, txn.Epoch, txn.ID, meta.Epoch)
		}
		if meta.Epoch == txn.Epoch && txn.Sequence != 0 && txn.Sequence <= meta.Sequence {
			// This very request wrote the intent and is being sent again, or an earlier
			// request arrives late, after a later write of the key (a stale duplicate):
			// either way its effect is already there or superseded.
			return nil
		}
		if meta.Epoch == txn.Epoch {
			// Copied: the iterator moves on. The history keeps rolled-back writes too;
			// readers and resolution skip them.
			for _, h := range meta.History {
				history = append(history, IntentWrite{Sequence: h.Sequence, Value: append([]byte(nil), h.Value...)})
			}
			var found bool
			ownValue, ownCurrent, found = meta.visible(ignored)
			ownLive = found
			if found && !ownCurrent {
				ownValue = append([]byte(nil), ownValue...)
			}
		}
		own = &meta
		it.Next()
	}
	var newest hlc.Timestamp // the newest committed version
	liveKnown := false       // the live value was the writer's own write
	if ownLive && !ownCurrent {
		liveKnown = true
		if expectAbsent && len(ownValue) > 0 {
			return &ConditionFailedError{ActualValue: ownValue}
		}
	}
	for ; it.Valid(); it.Next() {
		v, header, ok, err := versionTS(it.Key(), prefix)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if own != nil && v == own.WriteTimestamp {
			ownKey = append([]byte(nil), it.Key()...)
			if own.Epoch == txn.Epoch {
				replaced, _, err := decodeValue(v, header, it.Value())
				if err != nil {
					return fmt.Errorf("key %q at %s: %w", key, v, err)
				}
				history = append(history, IntentWrite{Sequence: own.Sequence, Value: append([]byte(nil), replaced...)})
				if ownCurrent {
					liveKnown = true
					if err := checkAbsent(expectAbsent, v, header, it.Value(), hlc.Timestamp{}); err != nil {
						return err
					}
				}
			}
			continue
		}
		newest = v
		if !liveKnown {
			if err := checkAbsent(expectAbsent, v, header, it.Value(), v); err != nil {
				return err
			}
		}
		break
	}
	if err := it.Error(); err != nil {
		return err
	}
	if !newest.IsEmpty() && ts.LessEq(newest) {
		return &WriteTooOldError{Timestamp: ts, ActualTimestamp: newest.Next()}
	}
	if own != nil && ownKey == nil {
		return fmt.Errorf("key %q: intent without provisional value at %s", key, own.WriteTimestamp)
	}
	k, stored := encodeVersion(version, ts, local, value)
	if ownKey != nil && !bytes.Equal(ownKey, k) {
		// The transaction's write timestamp moved, or the value's header came or went:
		// the provisional value is replaced, never left beside the new one.
		if err := rw.Delete(ownKey, nil); err != nil {
			return err
		}
	}
	if err := rw.Set(k, stored, nil); err != nil {
		return err
	}
	if txn == nil {
		return nil
	}
	m := intentMeta{TxnMeta: *txn}
	if txn.Sequence != 0 {
		// An unnumbered write can never be rolled back, so what it replaced never comes
		// back: only a numbered one keeps a history.
		m.History = history
	}
	m.WriteTimestamp = ts
	return rw.Set(prefix, encodeIntentMeta(&m), nil)
}

// checkAbsent fails an expectAbsent write that finds the live value stored (for the version
// at v) not deleted; ts is the committed version's timestamp, zero for the writer's own
// intent.
func checkAbsent(expectAbsent bool, v hlc.Timestamp, header bool, stored []byte, ts hlc.Timestamp) error {
	if !expectAbsent {
		return nil
	}
	value, _, err := decodeValue(v, header, stored)
	if err != nil {
		return err
	}
	if len(value) > 0 {
		return &ConditionFailedError{ActualValue: append([]byte(nil), value...), Timestamp: ts}
	}
	return nil
}

// ClearRange removes every version, intent and meta of the user keys in [start, end) with a
// single range deletion: no key is read and nothing is left per key. It bypasses MVCC, so
// it is only for data that no reader may see any more (see kvpb.ClearRangeRequest).
func ClearRange(w pebble.Writer, start, end []byte) error {
	return w.DeleteRange(EncodeKey(start, hlc.Timestamp{}), EncodeKey(end, hlc.Timestamp{}), nil)
}
