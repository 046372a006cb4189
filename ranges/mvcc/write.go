package mvcc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
)

var errZeroTimestamp = errors.New("mvcc: write at the zero timestamp, which is the meta slot")

// Put writes value at key: a committed version at ts if txn is nil, else an intent of txn at
// ts (its WriteTimestamp). An empty value is a tombstone, as with Delete. local is the
// write's local timestamp: the physical clock reading of the leaseholder evaluating it (see
// ReadOptions.Uncertainty). It is kept only when below ts, and stays with the value when
// the intent is pushed or committed higher.
func Put(rw ReadWriter, key []byte, ts, local hlc.Timestamp, value []byte, txn *TxnMeta) error {
	return write(rw, key, ts, local, value, txn, false)
}

// Delete writes a tombstone at key (same rules as Put).
func Delete(rw ReadWriter, key []byte, ts, local hlc.Timestamp, txn *TxnMeta) error {
	return write(rw, key, ts, local, nil, txn, false)
}

// ConditionalPut writes like Put; with expectAbsent it fails with *ConditionFailedError if the
// key has a live value: its newest committed value, or the writer's own intent.
func ConditionalPut(rw ReadWriter, key []byte, ts, local hlc.Timestamp, value []byte, txn *TxnMeta, expectAbsent bool) error {
	err := write(rw, key, ts, local, value, txn, expectAbsent)
	var cfe *ConditionFailedError
	if errors.As(err, &cfe) {
		cfe.Key = append([]byte(nil), key...)
	}
	return err
}

// write checks, in order: other transactions' intents (the caller must resolve them before
// anything else about the key is meaningful), the condition, and then whether a committed
// version at or above ts makes the write too old.
func write(rw ReadWriter, key []byte, ts, local hlc.Timestamp, value []byte, txn *TxnMeta, expectAbsent bool) error {
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
	defer it.Close()

	var own *TxnMeta  // the writer's own intent on key, of any epoch
	var ownKey []byte // the engine key of its provisional value
	if it.SeekPrefixGE(prefix) && bytes.Equal(it.Key(), prefix) {
		meta, err := decodeMeta(it.Value())
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		if txn == nil || meta.ID != txn.ID {
			return &WriteIntentError{Intents: []Intent{{Key: append([]byte(nil), key...), Txn: meta}}}
		}
		if txn.Epoch < meta.Epoch {
			// A restarted transaction's intents replace old ones, never the other way round.
			return fmt.Errorf("mvcc: write of key %q by epoch %d of transaction %s, which already wrote at epoch %d",
				key, txn.Epoch, txn.ID, meta.Epoch)
		}
		if meta.Epoch == txn.Epoch && txn.Sequence != 0 && meta.Sequence == txn.Sequence {
			return nil // this very request wrote the intent: it is being sent again
		}
		own = &meta
		it.Next()
	}
	var newest hlc.Timestamp // the newest committed version
	liveKnown := false       // the live value was the writer's own intent
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
				liveKnown = true
				if err := checkAbsent(expectAbsent, v, header, it.Value(), hlc.Timestamp{}); err != nil {
					return err
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
	m := *txn
	m.WriteTimestamp = ts
	return rw.Set(prefix, encodeMeta(&m), nil)
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
