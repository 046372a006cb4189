package mvcc

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
)

// KeyValue is a value read at a version.
type KeyValue struct {
	Key       []byte
	Value     []byte
	Timestamp hlc.Timestamp
}

// ReadOptions shape what a read sees.
type ReadOptions struct {
	// Txn is the reading transaction: it sees its own intents of its current epoch.
	Txn *TxnMeta
	// Ignored are the write numbers Txn rolled back to savepoints: of its own intent it
	// sees the latest write not among them, or, if all are, the committed value beneath.
	Ignored []SeqRange
	// Uncertainty is the reader's uncertainty interval above the read timestamp.
	Uncertainty UncertaintyInterval
	// Inconsistent reads ignore other transactions' intents instead of failing.
	Inconsistent bool
	// Uncommitted lists transactions known to have been uncommitted after the reader
	// began, and pushed above its read timestamp: their intents above the read timestamp
	// are skipped rather than taken as uncertain, since whenever they commit, it is after
	// the reader began.
	Uncommitted []TxnID
}

// UncertaintyInterval holds the versions above a read timestamp that may have been written
// before the reader began, by a node whose clock ran ahead of the reader's or at a
// timestamp pushed into the future: skipping one could miss a write acknowledged before the
// reader started. Another writer's committed version at a timestamp in (read timestamp,
// GlobalLimit] fails the read (ReadWithinUncertaintyIntervalError), and another
// transaction's intent there conflicts (WriteIntentError), unless its local timestamp is
// above LocalLimit: then it was written after the reader began, and it is skipped like any
// version above the read timestamp.
type UncertaintyInterval struct {
	// GlobalLimit is the read timestamp plus the maximum clock offset, as of the reader's
	// start: no clock read higher when the reader began. Zero (or at most the read
	// timestamp): the reader has no uncertainty interval.
	GlobalLimit hlc.Timestamp
	// LocalLimit is a physical clock reading of the node serving the read, taken after the
	// reader began (an observed timestamp), and above the local timestamp of every value
	// written there by another node's clock: a version whose local timestamp is above it
	// was written after the reader began. Zero: nothing is known, GlobalLimit applies.
	LocalLimit hlc.Timestamp
}

func (o *ReadOptions) uncommitted(id TxnID) bool {
	for _, u := range o.Uncommitted {
		if u == id {
			return true
		}
	}
	return false
}

// ScanOptions shape a scan.
type ScanOptions struct {
	ReadOptions
	// MaxKeys bounds the keys returned; 0 means no bound.
	MaxKeys int64
	Reverse bool
}

// ScanResult is what a scan found.
type ScanResult struct {
	KVs []KeyValue
	// ResumeKey is set when MaxKeys stopped the scan: scanning forward, the key to continue
	// from; in reverse, the exclusive end to continue below.
	ResumeKey []byte
}

// ReadWriter reads and writes: an indexed Pebble batch, whose reads see its own writes.
type ReadWriter interface {
	pebble.Reader
	pebble.Writer
}

// maxIntentsPerError bounds the intents a scan collects before failing, so a scan over a
// large uncommitted write does not build an unbounded error.
const maxIntentsPerError = 100

// nextsBeforeSeek is how many versions a reader steps over before it seeks: stepping is
// cheaper than seeking when the wanted version is near, and seeking bounds the cost when a key
// has many versions above the read timestamp.
const nextsBeforeSeek = 4

// keyPrefix is the escaped, terminated user key every engine key of that user key starts with.
func keyPrefix(userKey []byte) []byte { return appendEscaped(nil, userKey) }

// keySpace returns, in one allocation, the user key's prefix, the prefix's upper bound (the
// smallest engine key after all of the user key's), and room for one version key: a one-key
// operation needs all three.
func keySpace(userKey []byte) (prefix, upper, version []byte) {
	n := len(userKey) + 2
	for _, c := range userKey {
		if c == 0 {
			n++
		}
	}
	buf := make([]byte, 0, 3*n+tsLen+1)
	prefix = appendEscaped(buf, userKey)
	upper = append(buf[n:n], prefix...)
	upper[n-1]++ // the terminator 0x00 0x01 becomes 0x00 0x02
	version = append(buf[2*n:2*n], prefix...)
	return prefix[:n:n], upper[:n:n], version
}

// versionTS returns the timestamp of engine key k if it is a version of the user key with this
// prefix, and whether its value carries a header; ok is false when k is the meta slot or
// belongs to another user key.
func versionTS(k, prefix []byte) (ts hlc.Timestamp, header, ok bool, err error) {
	if !bytes.HasPrefix(k, prefix) || len(k) == len(prefix) {
		return hlc.Timestamp{}, false, false, nil
	}
	ts, header, err = decodeVersionSuffix(k[len(prefix):])
	return ts, header, err == nil, err
}

// reader evaluates what a reader at ts sees of individual user keys with one iterator.
type reader struct {
	it *pebble.Iterator
	// prefixSeek makes seeks SeekPrefixGE so bloom filters can skip sstables; only for an
	// iterator that reads a single user key.
	prefixSeek bool
	ts         hlc.Timestamp
	// limit is ts forwarded to the global uncertainty limit: the newest version that
	// matters. localLimit is the highest local timestamp of a version in (ts, limit] that
	// counts as possibly written before the reader began.
	limit, localLimit hlc.Timestamp
	opts              ReadOptions
	buf               []byte
}

func newReader(it *pebble.Iterator, ts hlc.Timestamp, opts ReadOptions) *reader {
	r := &reader{it: it, ts: ts, limit: ts.Forward(opts.Uncertainty.GlobalLimit), localLimit: opts.Uncertainty.LocalLimit, opts: opts}
	if r.localLimit.IsEmpty() {
		// Every version's local timestamp is at most its timestamp: all of (ts, limit] counts.
		r.localLimit = r.limit
	}
	return r
}

func (r *reader) seek(k []byte) bool {
	if r.prefixSeek {
		return r.it.SeekPrefixGE(k)
	}
	return r.it.SeekGE(k)
}

func (r *reader) seekVersion(prefix []byte, ts hlc.Timestamp) bool {
	r.buf = appendTimestamp(append(r.buf[:0], prefix...), ts)
	return r.seek(r.buf)
}

// readKey resolves what the reader sees of the user key with this prefix. If positioned, the
// iterator is already on the key's first engine key (as in a forward scan); otherwise readKey
// seeks. It returns the visible version's value (valid until the iterator moves) and
// timestamp, found=false when there is none or it is a tombstone, or a conflicting intent.
func (r *reader) readKey(prefix []byte, positioned bool) (value []byte, vts hlc.Timestamp, found bool, intent *TxnMeta, err error) {
	it := r.it
	if !positioned && !r.seek(prefix) {
		return nil, vts, false, nil, it.Error()
	}
	var skip hlc.Timestamp // a provisional value this reader must not see
	hasMeta := false
	if it.Valid() && bytes.Equal(it.Key(), prefix) {
		// Only the reader's own intent may need its history, and only once it rolled
		// back to a savepoint.
		im, err := decodeIntentMeta(it.Value(), r.opts.Txn != nil && len(r.opts.Ignored) > 0)
		if err != nil {
			return nil, vts, false, nil, fmt.Errorf("key %x: %w", prefix, err)
		}
		meta := im.TxnMeta
		own := r.opts.Txn != nil && r.opts.Txn.ID == meta.ID
		if own && meta.Epoch == r.opts.Txn.Epoch {
			// The transaction reads its own latest write not rolled back, whatever its
			// timestamp.
			value, current, found := im.visible(r.opts.Ignored)
			switch {
			case current:
				r.seekVersion(prefix, meta.WriteTimestamp)
				value, _, err := r.provisional(prefix, meta.WriteTimestamp)
				if err != nil {
					return nil, vts, false, nil, err
				}
				return value, meta.WriteTimestamp, len(value) > 0, nil, nil
			case found:
				// A value of the history: a subslice of the meta, valid until the
				// iterator moves.
				return value, meta.WriteTimestamp, len(value) > 0, nil, nil
			}
			// Every write of the key rolled back: what is beneath counts, as below.
		}
		hasMeta, skip = true, meta.WriteTimestamp
		it.Next()
		if !own && !r.opts.Inconsistent && meta.WriteTimestamp.LessEq(r.limit) {
			conflict := meta.WriteTimestamp.LessEq(r.ts)
			if !conflict && !r.opts.uncommitted(meta.ID) {
				// Within the uncertainty interval: the provisional value, next, tells
				// whether it was written before the reader began.
				_, local, err := r.provisional(prefix, meta.WriteTimestamp)
				if err != nil {
					return nil, vts, false, nil, err
				}
				conflict = local.LessEq(r.localLimit)
			}
			if conflict {
				return nil, vts, false, &meta, nil
			}
		}
		// An older epoch of the reader, or its own intent with every write rolled back, an
		// intent above the limit or known to be later than the reader, or an inconsistent
		// read: the provisional value is invisible and the committed versions below it count.
	}
	seeked := false
	for n := 0; it.Valid(); n++ {
		v, header, ok, err := versionTS(it.Key(), prefix)
		if err != nil || !ok {
			return nil, vts, false, nil, err
		}
		if r.limit.Less(v) {
			if n >= nextsBeforeSeek && !seeked {
				seeked = true
				r.seekVersion(prefix, r.limit)
			} else {
				it.Next()
			}
			continue
		}
		if hasMeta && v == skip {
			it.Next()
			continue
		}
		value, local, err := decodeValue(v, header, it.Value())
		if err != nil {
			return nil, vts, false, nil, fmt.Errorf("key %x at %s: %w", prefix, v, err)
		}
		if r.ts.Less(v) {
			if local.LessEq(r.localLimit) {
				return nil, vts, false, nil, &ReadWithinUncertaintyIntervalError{ReadTimestamp: r.ts, ExistingTimestamp: v, LocalTimestamp: local, Key: appendUnescaped(nil, prefix)}
			}
			// Written after the reader began: as invisible as any later version.
			it.Next()
			continue
		}
		return value, v, len(value) > 0, nil, nil
	}
	return nil, vts, false, nil, it.Error()
}

// provisional decodes the version the iterator is on, which must be an intent's provisional
// value at ts: the writer's bytes (valid until the iterator moves) and its local timestamp.
func (r *reader) provisional(prefix []byte, ts hlc.Timestamp) ([]byte, hlc.Timestamp, error) {
	it := r.it
	if it.Valid() {
		v, header, ok, err := versionTS(it.Key(), prefix)
		if err != nil {
			return nil, hlc.Timestamp{}, err
		}
		if ok && v == ts {
			value, local, err := decodeValue(v, header, it.Value())
			if err != nil {
				return nil, hlc.Timestamp{}, fmt.Errorf("key %x at %s: %w", prefix, v, err)
			}
			return value, local, nil
		}
	}
	if err := it.Error(); err != nil {
		return nil, hlc.Timestamp{}, err
	}
	return nil, hlc.Timestamp{}, fmt.Errorf("key %x: intent without provisional value at %s", prefix, ts)
}

// Get reads key as of ts. It returns nil when the key has no value at ts.
func Get(r pebble.Reader, key []byte, ts hlc.Timestamp, opts ReadOptions) (*KeyValue, error) {
	prefix, upper, buf := keySpace(key)
	it, err := newIter(r, prefix, upper)
	if err != nil {
		return nil, err
	}
	defer closeIter(r, it)
	rd := newReader(it, ts, opts)
	rd.prefixSeek, rd.buf = true, buf
	value, vts, found, intent, err := rd.readKey(prefix, false)
	switch {
	case err != nil:
		return nil, err
	case intent != nil:
		return nil, &WriteIntentError{Intents: []Intent{{Key: append([]byte(nil), key...), Txn: *intent}}}
	case !found:
		return nil, nil
	}
	// One allocation holds both the key and the value.
	b := make([]byte, 0, len(key)+len(value))
	b = append(append(b, key...), value...)
	return &KeyValue{Key: b[:len(key):len(key)], Value: b[len(key):], Timestamp: vts}, nil
}

// Scan reads the keys of [start, end) as of ts, in order (or reverse order), omitting deleted
// keys. Other transactions' intents it meets fail the scan with a WriteIntentError listing
// them all (up to maxIntentsPerError), so the caller can resolve them in one round.
func Scan(r pebble.Reader, start, end []byte, ts hlc.Timestamp, opts ScanOptions) (ScanResult, error) {
	var res ScanResult
	it, err := newIter(r, EncodeKey(start, hlc.Timestamp{}), EncodeKey(end, hlc.Timestamp{}))
	if err != nil {
		return res, err
	}
	defer closeIter(r, it)
	rd := newReader(it, ts, opts.ReadOptions)
	var intents []Intent
	// arena holds the keys and values returned; subslices stay valid when it grows.
	var arena, prefix []byte
	ok := it.First()
	if opts.Reverse {
		ok = it.Last()
	}
	for ok {
		n, err := keyPrefixLen(it.Key())
		if err != nil {
			return ScanResult{}, err
		}
		prefix = append(prefix[:0], it.Key()[:n]...)
		if opts.MaxKeys > 0 && int64(len(res.KVs)) == opts.MaxKeys && len(intents) == 0 {
			userKey, _, err := DecodeKey(prefix)
			if err != nil {
				return ScanResult{}, err
			}
			if opts.Reverse {
				// The immediate successor of userKey: an exclusive end that keeps userKey.
				res.ResumeKey = append(userKey, 0)
			} else {
				res.ResumeKey = userKey
			}
			break
		}
		value, vts, found, intent, err := rd.readKey(prefix, !opts.Reverse)
		if err != nil {
			return ScanResult{}, err
		}
		switch {
		case intent != nil:
			userKey, _, err := DecodeKey(prefix)
			if err != nil {
				return ScanResult{}, err
			}
			intents = append(intents, Intent{Key: userKey, Txn: *intent})
		case found && len(intents) == 0:
			// Once the scan has failed only intents matter; skip copying values.
			k0 := len(arena)
			arena = appendUnescaped(arena, prefix)
			v0 := len(arena)
			arena = append(arena, value...)
			res.KVs = append(res.KVs, KeyValue{Key: arena[k0:v0:v0], Value: arena[v0:len(arena):len(arena)], Timestamp: vts})
		}
		if len(intents) == maxIntentsPerError {
			break
		}
		if opts.Reverse {
			ok = prevKey(it, prefix)
		} else {
			ok = nextKey(it, prefix, rd)
		}
	}
	if err := it.Error(); err != nil {
		return ScanResult{}, err
	}
	if len(intents) > 0 {
		return ScanResult{}, &WriteIntentError{Intents: intents}
	}
	return res, nil
}

// nextKey moves a forward iterator to the first engine key of the next user key, stepping over
// the remaining versions of the current one when they are few and seeking when they are not.
func nextKey(it *pebble.Iterator, prefix []byte, rd *reader) bool {
	ok := it.Valid()
	for i := 0; ok && bytes.HasPrefix(it.Key(), prefix); i++ {
		if i == nextsBeforeSeek {
			rd.buf = append(rd.buf[:0], prefix...)
			rd.buf[len(rd.buf)-1]++
			return it.SeekGE(rd.buf)
		}
		ok = it.Next()
	}
	return ok
}

// prevKey moves a reverse scan's iterator from somewhere in the user key with this prefix to
// the last engine key of the previous user key: readKey leaves it on one of the key's newest
// entries, so a few steps back usually beat a seek.
func prevKey(it *pebble.Iterator, prefix []byte) bool {
	if !it.Valid() || !bytes.HasPrefix(it.Key(), prefix) {
		return it.SeekLT(prefix)
	}
	for i := 0; ; i++ {
		if i == nextsBeforeSeek {
			return it.SeekLT(prefix)
		}
		if !it.Prev() || !bytes.HasPrefix(it.Key(), prefix) {
			return it.Valid()
		}
	}
}
