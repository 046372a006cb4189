package mvcc

import (
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
)

// ResolveIntent finishes transaction id's intent on key: committing turns the provisional value
// into a version at commitTS (a zero commitTS keeps the intent's timestamp), with the local
// timestamp it was written with; aborting removes it. It reports whether there was such an
// intent; another transaction's intent is left alone.
//
// ignored are the write numbers the transaction rolled back to savepoints: a commit keeps
// the latest write of the key not among them (from the intent's history if need be), or
// removes the intent like an abort if the transaction rolled back every write of the key.
// A value from the history keeps the provisional value's local timestamp, which is later
// than its own: no reader can have seen it before the commit, after that last write, so
// the later clock reading is still a valid lower bound of when it became visible.
func ResolveIntent(rw ReadWriter, key []byte, id TxnID, commit bool, commitTS hlc.Timestamp, ignored []SeqRange) (bool, error) {
	meta, prefix, err := intentOf(rw, key, id)
	if meta == nil || err != nil {
		return false, err
	}
	if err := rw.Delete(prefix, nil); err != nil {
		return false, err
	}
	if commitTS.IsEmpty() {
		commitTS = meta.WriteTimestamp
	}
	if commit && commitTS.Less(meta.WriteTimestamp) {
		reportCommitBelowIntent(key, meta.WriteTimestamp, commitTS)
	}
	value, current, found := meta.visible(ignored)
	switch {
	case !commit || !found:
		k, _, _, found, err := versionAt(rw, prefix, meta.WriteTimestamp)
		if err != nil || !found {
			return true, err
		}
		return true, rw.Delete(k, nil)
	case !current:
		return true, replaceProvisional(rw, key, prefix, meta.WriteTimestamp, commitTS, value)
	case commitTS == meta.WriteTimestamp:
		// The provisional value already is the committed version; dropping the meta suffices.
		return true, nil
	}
	return true, moveProvisional(rw, key, prefix, meta.WriteTimestamp, commitTS)
}

// CommitBelowIntent, if set, is told of every intent committed below its own timestamp. That
// is never right: an intent lies where its write landed, above every read recorded below it
// (or a newer value), and committing it lower slips the write under a read that missed it.
// A coordinator must commit at or above every write it made; this is the check that it
// did, for a node to log, and for the chaos tests to find in the logs.
var CommitBelowIntent atomic.Pointer[func(key []byte, intentTS, commitTS hlc.Timestamp)]

func reportCommitBelowIntent(key []byte, intentTS, commitTS hlc.Timestamp) {
	if f := CommitBelowIntent.Load(); f != nil {
		(*f)(key, intentTS, commitTS)
	}
}

// PushIntent moves transaction id's intent on key up to timestamp to, when it is below it:
// the transaction was pushed there by a reader, which may then read the key below the intent.
// The provisional value keeps its local timestamp, and the intent its history. It reports
// whether the intent moved.
func PushIntent(rw ReadWriter, key []byte, id TxnID, to hlc.Timestamp) (bool, error) {
	meta, prefix, err := intentOf(rw, key, id)
	if meta == nil || err != nil || to.LessEq(meta.WriteTimestamp) {
		return false, err
	}
	if err := moveProvisional(rw, key, prefix, meta.WriteTimestamp, to); err != nil {
		return false, err
	}
	meta.WriteTimestamp = to
	return true, rw.Set(prefix, encodeIntentMeta(meta), nil)
}

// intentOf returns the meta, history included, of transaction id's intent on key (nil if key
// has no intent of id) and the key's engine prefix.
func intentOf(r pebble.Reader, key []byte, id TxnID) (*intentMeta, []byte, error) {
	prefix := keyPrefix(key)
	v, found, err := getExact(r, prefix, prefix)
	if !found || err != nil {
		return nil, prefix, err
	}
	meta, err := decodeIntentMeta(v, true) // v is a copy: the history may point into it
	if err != nil {
		return nil, prefix, fmt.Errorf("key %q: %w", key, err)
	}
	if meta.ID != id {
		return nil, prefix, nil
	}
	return &meta, prefix, nil
}

// moveProvisional moves an intent's provisional value from one timestamp to another. Its
// local timestamp stays: the value was written when it was written, wherever it lands, and a
// reader that began after a commit acknowledged at the new timestamp must still find it
// uncertain.
func moveProvisional(rw ReadWriter, key, prefix []byte, from, to hlc.Timestamp) error {
	value, local, err := takeProvisional(rw, key, prefix, from)
	if err != nil {
		return err
	}
	nk, nv := encodeVersion(prefix[:len(prefix):len(prefix)], to, local, value)
	return rw.Set(nk, nv, nil)
}

// replaceProvisional commits, at to, value in place of an intent's provisional value at
// from, with the provisional value's local timestamp (see ResolveIntent).
func replaceProvisional(rw ReadWriter, key, prefix []byte, from, to hlc.Timestamp, value []byte) error {
	_, local, err := takeProvisional(rw, key, prefix, from)
	if err != nil {
		return err
	}
	nk, nv := encodeVersion(prefix[:len(prefix):len(prefix)], to, local, value)
	return rw.Set(nk, nv, nil)
}

// takeProvisional deletes an intent's provisional value at ts and returns it (a copy) and its
// local timestamp.
func takeProvisional(rw ReadWriter, key, prefix []byte, ts hlc.Timestamp) ([]byte, hlc.Timestamp, error) {
	k, stored, header, found, err := versionAt(rw, prefix, ts)
	if err != nil {
		return nil, hlc.Timestamp{}, err
	}
	if !found {
		return nil, hlc.Timestamp{}, fmt.Errorf("key %q: intent without provisional value at %s", key, ts)
	}
	value, local, err := decodeValue(ts, header, stored)
	if err != nil {
		return nil, hlc.Timestamp{}, fmt.Errorf("key %q at %s: %w", key, ts, err)
	}
	return value, local, rw.Delete(k, nil)
}

// ResolveIntentRange resolves transaction id's intents in [start, end) as ResolveIntent does
// and returns how many it resolved.
func ResolveIntentRange(rw ReadWriter, start, end []byte, id TxnID, commit bool, commitTS hlc.Timestamp, ignored []SeqRange) (int, error) {
	// Collect first: the batch is written while resolving, and an iterator over it need not
	// see those writes consistently.
	keys, err := intentKeys(rw, start, end, id)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		ok, err := ResolveIntent(rw, k, id, commit, commitTS, ignored)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// intentKeys lists the user keys in [start, end) holding intents of id. It visits only each
// key's first engine key, where the meta slot sorts.
func intentKeys(r pebble.Reader, start, end []byte, id TxnID) ([][]byte, error) {
	it, err := newIter(r, EncodeKey(start, hlc.Timestamp{}), EncodeKey(end, hlc.Timestamp{}))
	if err != nil {
		return nil, err
	}
	defer closeIter(r, it)
	var keys [][]byte
	var next []byte
	for ok := it.First(); ok; ok = it.SeekGE(next) {
		n, err := keyPrefixLen(it.Key())
		if err != nil {
			return nil, err
		}
		if len(it.Key()) == n {
			m, err := decodeMeta(it.Value())
			if err != nil {
				return nil, err
			}
			if m.ID == id {
				keys = append(keys, appendUnescaped(nil, it.Key()))
			}
		}
		next = append(next[:0], it.Key()[:n]...)
		next[n-1]++
	}
	return keys, it.Error()
}

// CheckNoNewerWrites verifies that a read of [start, end) (the single key start when end is
// nil) at from is still valid at to: nothing was committed in (from, to], and no other
// transaction holds an intent at or below to. The transaction's own intents are its writes,
// which cannot invalidate its reads.
func CheckNoNewerWrites(r pebble.Reader, start, end []byte, from, to hlc.Timestamp, txnID TxnID) error {
	if end == nil {
		end = append(append([]byte(nil), start...), 0)
	}
	it, err := newIter(r, EncodeKey(start, hlc.Timestamp{}), EncodeKey(end, hlc.Timestamp{}))
	if err != nil {
		return err
	}
	defer closeIter(r, it)
	var prefix, buf []byte
	for ok := it.First(); ok; {
		n, err := keyPrefixLen(it.Key())
		if err != nil {
			return err
		}
		prefix = append(prefix[:0], it.Key()[:n]...)
		var skip hlc.Timestamp // the provisional value of an intent, judged by its meta
		hasMeta := false
		if len(it.Key()) == n {
			m, err := decodeMeta(it.Value())
			if err != nil {
				return fmt.Errorf("key %x: %w", prefix, err)
			}
			if m.ID != txnID && m.WriteTimestamp.LessEq(to) {
				return &RefreshConflictError{Key: appendUnescaped(nil, prefix), Timestamp: m.WriteTimestamp, Txn: m.ID}
			}
			hasMeta, skip = true, m.WriteTimestamp
		}
		// The newest versions at or below to decide: seek past everything newer.
		buf = appendTimestamp(append(buf[:0], prefix...), to)
		for ok = it.SeekGE(buf); ok; ok = it.Next() {
			v, _, isVersion, err := versionTS(it.Key(), prefix)
			if err != nil {
				return err
			}
			if !isVersion || !from.Less(v) {
				break
			}
			if hasMeta && v == skip {
				continue
			}
			return &RefreshConflictError{Key: appendUnescaped(nil, prefix), Timestamp: v}
		}
		buf = append(buf[:0], prefix...)
		buf[n-1]++
		ok = it.SeekGE(buf)
	}
	return it.Error()
}

// NewestAbove returns the newest committed version above ts in [start, end) (the single key
// start when end is nil); a zero timestamp if there is none. It is what a locking read at
// ts must know before it locks, and so it also fails, with a WriteIntentError naming them,
// on intents of transactions other than txn, at any timestamp: a lock must wait for them.
// Provisional values of txn's own intents are not committed and are skipped.
func NewestAbove(r pebble.Reader, start, end []byte, ts hlc.Timestamp, txn TxnID) (hlc.Timestamp, error) {
	var it *pebble.Iterator
	var err error
	var ok bool
	if end == nil {
		// One key: a prefix seek lets bloom filters skip the sstables without it.
		prefix, upper, _ := keySpace(start)
		if it, err = newIter(r, prefix, upper); err != nil {
			return hlc.Timestamp{}, err
		}
		ok = it.SeekPrefixGE(prefix)
	} else {
		if it, err = newIter(r, EncodeKey(start, hlc.Timestamp{}), EncodeKey(end, hlc.Timestamp{})); err != nil {
			return hlc.Timestamp{}, err
		}
		ok = it.First()
	}
	defer closeIter(r, it)
	var newest hlc.Timestamp
	var prefix []byte
	var intents []Intent
	for ok {
		n, err := keyPrefixLen(it.Key())
		if err != nil {
			return hlc.Timestamp{}, err
		}
		prefix = append(prefix[:0], it.Key()[:n]...)
		var provisional hlc.Timestamp
		hasMeta := len(it.Key()) == n
		if hasMeta {
			m, err := decodeMeta(it.Value())
			if err != nil {
				return hlc.Timestamp{}, fmt.Errorf("key %x: %w", prefix, err)
			}
			if m.ID != txn {
				intents = append(intents, Intent{Key: appendUnescaped(nil, prefix), Txn: m})
			}
			provisional = m.WriteTimestamp
			ok = it.Next()
		}
		// Versions come newest first: the first committed one decides.
		for ; ok; ok = it.Next() {
			v, _, isVersion, err := versionTS(it.Key(), prefix)
			if err != nil {
				return hlc.Timestamp{}, err
			}
			if !isVersion || !ts.Less(v) {
				break
			}
			if hasMeta && v == provisional {
				continue
			}
			newest = newest.Forward(v)
			break
		}
		if end == nil {
			break
		}
		prefix[n-1]++ // past every version of the key (prefix is this loop's own copy)
		ok = it.SeekGE(prefix)
	}
	if err := it.Error(); err != nil {
		return hlc.Timestamp{}, err
	}
	if len(intents) > 0 {
		return hlc.Timestamp{}, &WriteIntentError{Intents: intents}
	}
	return newest, nil
}

// IntentOf returns the meta of transaction id's intent on key, or nil if id has none there.
func IntentOf(r pebble.Reader, key []byte, id TxnID) (*TxnMeta, error) {
	meta, _, err := intentOf(r, key, id)
	if meta == nil {
		return nil, err
	}
	return &meta.TxnMeta, err
}
