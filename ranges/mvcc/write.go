package mvcc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
)

var errZeroTimestamp = errors.New("mvcc: write at the zero timestamp, which is the meta slot")

// Put writes value at key: a committed version at ts if txn is nil, else an intent of txn at
// ts (its WriteTimestamp). An empty value is a tombstone, as with Delete.
func Put(rw ReadWriter, key []byte, ts hlc.Timestamp, value []byte, txn *TxnMeta) error {
	return write(rw, key, ts, value, txn, false)
}

// Delete writes a tombstone at key (same rules as Put).
func Delete(rw ReadWriter, key []byte, ts hlc.Timestamp, txn *TxnMeta) error {
	return write(rw, key, ts, nil, txn, false)
}

// ConditionalPut writes like Put; with expectAbsent it fails with *ConditionFailedError if the
// key has a live value: its newest committed value, or the writer's own intent.
func ConditionalPut(rw ReadWriter, key []byte, ts hlc.Timestamp, value []byte, txn *TxnMeta, expectAbsent bool) error {
	return write(rw, key, ts, value, txn, expectAbsent)
}

// write checks, in order: other transactions' intents (the caller must resolve them before
// anything else about the key is meaningful), the condition, and then whether a committed
// version at or above ts makes the write too old.
func write(rw ReadWriter, key []byte, ts hlc.Timestamp, value []byte, txn *TxnMeta, expectAbsent bool) error {
	if ts.IsEmpty() {
		return errZeroTimestamp
	}
	prefix, upper, version := keySpace(key)
	it, err := newIter(rw, prefix, upper)
	if err != nil {
		return err
	}
	defer it.Close()

	var own *TxnMeta // the writer's own intent on key, of any epoch
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
		v, ok, err := versionTS(it.Key(), prefix)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if own != nil && v == own.WriteTimestamp {
			if own.Epoch == txn.Epoch {
				liveKnown = true
				if expectAbsent && len(it.Value()) > 0 {
					return &ConditionFailedError{ActualValue: append([]byte(nil), it.Value()...)}
				}
			}
			continue
		}
		newest = v
		if expectAbsent && !liveKnown && len(it.Value()) > 0 {
			return &ConditionFailedError{ActualValue: append([]byte(nil), it.Value()...), Timestamp: v}
		}
		break
	}
	if err := it.Error(); err != nil {
		return err
	}
	if !newest.IsEmpty() && ts.LessEq(newest) {
		return &WriteTooOldError{Timestamp: ts, ActualTimestamp: newest.Next()}
	}
	if own != nil && own.WriteTimestamp != ts {
		// The transaction's write timestamp moved: its provisional value moves with it.
		if err := rw.Delete(appendTimestamp(version, own.WriteTimestamp), nil); err != nil {
			return err
		}
	}
	if value == nil {
		value = []byte{}
	}
	if err := rw.Set(appendTimestamp(version, ts), value, nil); err != nil {
		return err
	}
	if txn == nil {
		return nil
	}
	m := *txn
	m.WriteTimestamp = ts
	return rw.Set(prefix, encodeMeta(&m), nil)
}
