package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
)

// The model: per user key, its committed versions (oldest first) and at most one intent.
type modelVersion struct {
	ts    hlc.Timestamp
	val   string        // "" is a tombstone
	local hlc.Timestamp // at most ts
}

type modelIntent struct {
	txn   TxnID
	epoch int32
	ts    hlc.Timestamp
	val   string
	local hlc.Timestamp // at most ts
}

// effectiveLocal is the local timestamp a version at ts written with local has: local, or
// ts itself when local is not below it.
func effectiveLocal(ts, local hlc.Timestamp) hlc.Timestamp {
	if local.Less(ts) {
		return local
	}
	return ts
}

type modelKey struct {
	versions []modelVersion
	intent   *modelIntent
}

type model map[string]*modelKey

func (m model) key(k string) *modelKey {
	mk, ok := m[k]
	if !ok {
		mk = &modelKey{}
		m[k] = mk
	}
	return mk
}

func (mk *modelKey) newest() hlc.Timestamp {
	if len(mk.versions) == 0 {
		return hlc.Timestamp{}
	}
	return mk.versions[len(mk.versions)-1].ts
}

// expected outcome of reading one key
type modelRead struct {
	val      string
	ts       hlc.Timestamp
	found    bool
	conflict bool
	uncert   *hlc.Timestamp
}

func (mk *modelKey) read(ts hlc.Timestamp, opts ReadOptions) modelRead {
	limit := ts.Forward(opts.Uncertainty.GlobalLimit)
	localLimit := opts.Uncertainty.LocalLimit
	if localLimit.IsEmpty() {
		localLimit = limit
	}
	var skip *hlc.Timestamp
	if in := mk.intent; in != nil {
		own := opts.Txn != nil && opts.Txn.ID == in.txn
		switch {
		case own && in.epoch == opts.Txn.Epoch:
			return modelRead{val: in.val, ts: in.ts, found: in.val != ""}
		case !own && !opts.Inconsistent && in.ts.LessEq(limit) && (in.ts.LessEq(ts) || in.local.LessEq(localLimit)):
			return modelRead{conflict: true}
		}
		skip = &in.ts
	}
	for i := len(mk.versions) - 1; i >= 0; i-- {
		v := mk.versions[i]
		if limit.Less(v.ts) || (skip != nil && *skip == v.ts) {
			continue
		}
		if ts.Less(v.ts) {
			if localLimit.Less(v.local) {
				continue // written after the reader began
			}
			t := v.ts
			return modelRead{uncert: &t}
		}
		return modelRead{val: v.val, ts: v.ts, found: v.val != ""}
	}
	return modelRead{}
}

func (mk *modelKey) empty() bool { return len(mk.versions) == 0 && mk.intent == nil }

// outcome renders a read, scan or write result so engine and model can be compared.
func outcome(kvs []KeyValue, err error) string {
	var wie *WriteIntentError
	var rwu *ReadWithinUncertaintyIntervalError
	var wto *WriteTooOldError
	var cfe *ConditionFailedError
	switch {
	case errors.As(err, &wie):
		var keys []string
		for _, in := range wie.Intents {
			keys = append(keys, fmt.Sprintf("%q", in.Key))
		}
		return "intents " + strings.Join(keys, ",")
	case errors.As(err, &rwu):
		return "uncertain " + rwu.ExistingTimestamp.String()
	case errors.As(err, &wto):
		return "too old " + wto.ActualTimestamp.String()
	case errors.As(err, &cfe):
		return fmt.Sprintf("condition failed %q", cfe.ActualValue)
	case err != nil:
		return "error " + err.Error()
	}
	var b strings.Builder
	for _, kv := range kvs {
		fmt.Fprintf(&b, "%q@%s=%q ", kv.Key, kv.Timestamp, kv.Value)
	}
	return b.String()
}

func (m model) get(k string, ts hlc.Timestamp, opts ReadOptions) string {
	r := m.key(k).read(ts, opts)
	switch {
	case r.conflict:
		return outcome(nil, &WriteIntentError{Intents: []Intent{{Key: []byte(k)}}})
	case r.uncert != nil:
		return outcome(nil, &ReadWithinUncertaintyIntervalError{ExistingTimestamp: *r.uncert})
	case !r.found:
		return outcome(nil, nil)
	}
	return outcome([]KeyValue{{Key: []byte(k), Value: []byte(r.val), Timestamp: r.ts}}, nil)
}

func (m model) scan(sorted []string, start, end string, ts hlc.Timestamp, opts ScanOptions) string {
	var keys []string
	for _, k := range sorted {
		if k >= start && k < end && !m.key(k).empty() {
			keys = append(keys, k)
		}
	}
	if opts.Reverse {
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
	}
	var kvs []KeyValue
	var intents []Intent
	for _, k := range keys {
		if opts.MaxKeys > 0 && int64(len(kvs)) == opts.MaxKeys && len(intents) == 0 {
			break
		}
		r := m.key(k).read(ts, opts.ReadOptions)
		switch {
		case r.uncert != nil:
			return outcome(nil, &ReadWithinUncertaintyIntervalError{ExistingTimestamp: *r.uncert})
		case r.conflict:
			intents = append(intents, Intent{Key: []byte(k)})
		case r.found && len(intents) == 0:
			kvs = append(kvs, KeyValue{Key: []byte(k), Value: []byte(r.val), Timestamp: r.ts})
		}
	}
	if len(intents) > 0 {
		return outcome(nil, &WriteIntentError{Intents: intents})
	}
	return outcome(kvs, nil)
}

// write applies a write to the model, returning the outcome the engine must match.
func (m model) write(k string, ts, local hlc.Timestamp, val string, txn *TxnMeta, expectAbsent bool) string {
	mk := m.key(k)
	var own *modelIntent
	if in := mk.intent; in != nil {
		if txn == nil || txn.ID != in.txn {
			return outcome(nil, &WriteIntentError{Intents: []Intent{{Key: []byte(k)}}})
		}
		own = in
	}
	if expectAbsent {
		live := ""
		if own != nil && own.epoch == txn.Epoch {
			live = own.val
		} else if n := len(mk.versions); n > 0 {
			live = mk.versions[n-1].val
		}
		if live != "" {
			return outcome(nil, &ConditionFailedError{ActualValue: []byte(live)})
		}
	}
	if newest := mk.newest(); !newest.IsEmpty() && ts.LessEq(newest) {
		return outcome(nil, &WriteTooOldError{ActualTimestamp: newest.Next()})
	}
	if txn == nil {
		mk.versions = append(mk.versions, modelVersion{ts, val, effectiveLocal(ts, local)})
	} else {
		mk.intent = &modelIntent{txn: txn.ID, epoch: txn.Epoch, ts: ts, val: val, local: effectiveLocal(ts, local)}
	}
	return outcome(nil, nil)
}

func (m model) resolve(k string, id TxnID, commit bool, commitTS hlc.Timestamp) bool {
	mk := m.key(k)
	in := mk.intent
	if in == nil || in.txn != id {
		return false
	}
	mk.intent = nil
	if commit {
		// The value keeps the local timestamp it was written with.
		mk.versions = append(mk.versions, modelVersion{commitTS, in.val, effectiveLocal(commitTS, in.local)})
		sort.Slice(mk.versions, func(i, j int) bool { return mk.versions[i].ts.Less(mk.versions[j].ts) })
	}
	return true
}

// push moves txn id's intent on k up to to, keeping its local timestamp, as PushIntent does.
func (m model) push(k string, id TxnID, to hlc.Timestamp) bool {
	in := m.key(k).intent
	if in == nil || in.txn != id || to.LessEq(in.ts) {
		return false
	}
	in.ts = to
	return true
}

func (m model) gc(threshold hlc.Timestamp) int64 {
	var removed int64
	for _, mk := range m {
		var kept []modelVersion
		keptOne := false
		for i := len(mk.versions) - 1; i >= 0; i-- {
			v := mk.versions[i]
			if threshold.Less(v.ts) || (mk.intent != nil && mk.intent.ts == v.ts) {
				kept = append(kept, v)
				continue
			}
			if !keptOne {
				keptOne = true
				if v.val != "" {
					kept = append(kept, v)
					continue
				}
			}
			removed++
		}
		for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
			kept[i], kept[j] = kept[j], kept[i]
		}
		mk.versions = kept
	}
	return removed
}

// TestRandomAgainstModel runs random writes, intent resolutions, GCs and reads (Get, paged
// forward and reverse Scan, with and without transactions, uncertainty and inconsistency)
// against Pebble and an in-memory model, and requires identical outcomes.
func TestRandomAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { runRandom(t, seed, 3000) })
	}
}

func runRandom(t *testing.T, seed int64, ops int) {
	db := openMem(t)
	rng := rand.New(rand.NewSource(seed))
	m := model{}
	keys := []string{"", "\x00", "a", "a\x00", "a\x00\x00", "a\x00\xff", "a\x01", "ab", "a\xff", "b", "\xff", "\xff\x00"}
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	bounds := append(append([]string(nil), sorted...), "\xff\xff")

	var nextID byte
	newTxn := func(now int64) *TxnMeta {
		nextID++
		txn := &TxnMeta{Key: []byte("anchor"), WriteTimestamp: hlc.Timestamp{WallTime: now}}
		txn.ID[0], txn.ID[15] = nextID, 0xff
		txn.MinTimestamp = txn.WriteTimestamp
		return txn
	}
	now := int64(10)
	txns := []*TxnMeta{newTxn(now), newTxn(now), newTxn(now)}
	randTS := func(spread int64) hlc.Timestamp {
		w := now - spread + rng.Int63n(2*spread+1)
		if w < 1 {
			w = 1
		}
		return hlc.Timestamp{WallTime: w, Logical: int32(rng.Intn(3))}
	}
	// readTS is near now, or anywhere in the past, where keys have many newer versions.
	readTS := func() hlc.Timestamp {
		if rng.Intn(2) == 0 {
			return hlc.Timestamp{WallTime: 1 + rng.Int63n(now), Logical: int32(rng.Intn(3))}
		}
		return randTS(6)
	}
	randReadOpts := func(ts hlc.Timestamp) ReadOptions {
		var o ReadOptions
		if rng.Intn(2) == 0 {
			o.Txn = txns[rng.Intn(len(txns))]
		}
		if rng.Intn(2) == 0 {
			o.Uncertainty.GlobalLimit = ts.Add(rng.Int63n(8) - 1)
			if rng.Intn(2) == 0 {
				o.Uncertainty.LocalLimit = ts.Add(rng.Int63n(8) - 3)
			}
		}
		o.Inconsistent = rng.Intn(4) == 0
		return o
	}
	// randLocal is a write's local timestamp: mostly below ts (a write pushed into the
	// future), sometimes above it (a transaction writing at an old timestamp).
	randLocal := func(ts hlc.Timestamp) hlc.Timestamp {
		w := ts.WallTime + rng.Int63n(9) - 6
		if w < 1 {
			w = 1
		}
		return hlc.Timestamp{WallTime: w, Logical: int32(rng.Intn(2))}
	}
	// reads is what Get and Scan read: the database, or half the time a snapshot whose
	// one-key reads share an iterator, kept until the next write so that reads of different
	// keys and spans take turns on it.
	var reads pebble.Reader = db
	var shared *SharedReader
	dropShared := func() {
		if shared != nil {
			if err := shared.CloseIter(); err != nil {
				t.Fatal(err)
			}
			shared.Reader.Close()
			shared, reads = nil, db
		}
	}
	defer dropShared()
	pickReader := func() {
		if shared == nil && rng.Intn(2) == 0 {
			shared = Shared(db.NewSnapshot())
			reads = shared
		}
	}
	// apply runs f in an indexed batch, committing it if f succeeds. Half the time the
	// batch is wrapped so that f's reads share an iterator, which a read before f has
	// already built and positioned; after f, reads through the shared iterator must see
	// what reads of the batch itself see, f's writes included.
	apply := func(f func(b ReadWriter) error) error {
		dropShared()
		b := db.NewIndexedBatch()
		defer b.Close()
		if rng.Intn(2) == 1 {
			if err := f(b); err != nil {
				return err
			}
			return b.Commit(pebble.NoSync)
		}
		sw := SharedWriter(b)
		defer sw.CloseIter() // before b.Close: deferred calls run last in, first out
		anyTS := hlc.Timestamp{WallTime: now + 10}
		if _, err := Get(sw, []byte(keys[rng.Intn(len(keys))]), anyTS, ReadOptions{Inconsistent: true}); err != nil {
			t.Fatal(err)
		}
		if err := f(sw); err != nil {
			return err
		}
		for _, k := range keys {
			for _, txn := range append([]*TxnMeta{nil}, txns...) {
				opts := ReadOptions{Txn: txn, Inconsistent: txn == nil}
				got, gerr := Get(sw, []byte(k), anyTS, opts)
				want, werr := Get(b, []byte(k), anyTS, opts)
				if !reflect.DeepEqual(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
					t.Fatalf("in a batch, %q through the shared iterator: %v, %v; through the batch: %v, %v", k, got, gerr, want, werr)
				}
			}
		}
		if err := sw.CloseIter(); err != nil { // a batch is committed with no iterator open
			t.Fatal(err)
		}
		return b.Commit(pebble.NoSync)
	}

	// seen counts outcomes, to check the run exercised what it claims to.
	seen := map[string]int{}
	defer func() {
		t.Logf("outcomes: %v", seen)
		for _, o := range []string{"intents", "uncertain", "too old", "condition failed", "ok"} {
			if seen[o] == 0 && !t.Failed() {
				t.Errorf("no %q outcome in %d operations", o, ops)
			}
		}
	}()
	count := func(o string) {
		kind := "ok"
		for _, k := range []string{"intents", "uncertain", "too old", "condition failed", "error"} {
			if strings.HasPrefix(o, k) {
				kind = k
				break
			}
		}
		seen[kind]++
	}
	for i := 0; i < ops; i++ {
		if rng.Intn(3) == 0 {
			now++
		}
		k := keys[rng.Intn(len(keys))]
		if rng.Intn(3) == 0 {
			k = "a" // a hot key piles up versions, so readers seek past many of them
		}
		op := rng.Intn(100)
		switch {
		case op < 20: // committed put or delete
			ts, val := randTS(4), fmt.Sprintf("v%d", i)
			if rng.Intn(4) == 0 {
				val = ""
			}
			local := randLocal(ts)
			want := m.write(k, ts, local, val, nil, false)
			got := outcome(nil, apply(func(b ReadWriter) error { return Put(b, []byte(k), ts, local, []byte(val), nil) }))
			count(want)
			if got != want {
				t.Fatalf("op %d: Put(%q@%s): got %s, want %s", i, k, ts, got, want)
			}

		case op < 40: // transactional write
			txn := txns[rng.Intn(len(txns))]
			val := fmt.Sprintf("t%d", i)
			if rng.Intn(5) == 0 {
				val = ""
			}
			absent := rng.Intn(3) == 0
			local := randLocal(txn.WriteTimestamp)
			want := m.write(k, txn.WriteTimestamp, local, val, txn, absent)
			got := outcome(nil, apply(func(b ReadWriter) error {
				return ConditionalPut(b, []byte(k), txn.WriteTimestamp, local, []byte(val), txn, absent, nil)
			}))
			count(want)
			if got != want {
				t.Fatalf("op %d: CPut(%q@%s, txn %d epoch %d, absent=%v): got %s, want %s",
					i, k, txn.WriteTimestamp, txn.ID[0], txn.Epoch, absent, got, want)
			}

		case op < 43: // a reader pushes one intent up
			txn := txns[rng.Intn(len(txns))]
			to := randTS(4)
			want := m.push(k, txn.ID, to)
			var got bool
			if err := apply(func(b ReadWriter) (err error) {
				got, err = PushIntent(b, []byte(k), txn.ID, to)
				return err
			}); err != nil || got != want {
				t.Fatalf("op %d: PushIntent(%q, %s): %v, %v; want %v", i, k, to, got, err, want)
			}

		case op < 45: // push or restart a transaction
			txn := txns[rng.Intn(len(txns))]
			txn.WriteTimestamp = txn.WriteTimestamp.Forward(hlc.Timestamp{WallTime: now, Logical: int32(rng.Intn(3))})
			if rng.Intn(2) == 0 {
				txn.Epoch++
			}

		case op < 50: // resolve one intent
			j := rng.Intn(len(txns))
			txn, commit := txns[j], rng.Intn(2) == 0
			commitTS := txn.WriteTimestamp
			want := m.resolve(k, txn.ID, commit, commitTS)
			var got bool
			if err := apply(func(b ReadWriter) (err error) {
				got, err = ResolveIntent(b, []byte(k), txn.ID, commit, commitTS, nil)
				return err
			}); err != nil || got != want {
				t.Fatalf("op %d: ResolveIntent(%q): %v, %v; want %v", i, k, got, err, want)
			}

		case op < 54: // finish a transaction: resolve all its intents, start a new one
			j := rng.Intn(len(txns))
			txn, commit := txns[j], rng.Intn(2) == 0
			commitTS := txn.WriteTimestamp
			want := 0
			for _, mk := range sorted {
				if m.resolve(mk, txn.ID, commit, commitTS) {
					want++
				}
			}
			var got int
			if err := apply(func(b ReadWriter) (err error) {
				got, err = ResolveIntentRange(b, []byte(bounds[0]), []byte(bounds[len(bounds)-1]), txn.ID, commit, commitTS, nil)
				return err
			}); err != nil || got != want {
				t.Fatalf("op %d: ResolveIntentRange: %d, %v; want %d", i, got, err, want)
			}
			txns[j] = newTxn(now)

		case op < 55: // move everything to sstables, where reads go through bloom filters
			dropShared() // a snapshot would keep reads on the memtable
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}

		case op < 57: // GC, checking that readers at or above the threshold see no change
			threshold := randTS(6)
			probes := []hlc.Timestamp{threshold, threshold.Next(), {WallTime: now + 5}}
			before := make([]string, len(probes))
			for p, ts := range probes {
				before[p] = m.scan(sorted, "", "\xff\xff", ts, ScanOptions{ReadOptions: ReadOptions{Inconsistent: true}})
			}
			want := m.gc(threshold)
			for p, ts := range probes {
				if after := m.scan(sorted, "", "\xff\xff", ts, ScanOptions{ReadOptions: ReadOptions{Inconsistent: true}}); after != before[p] {
					t.Fatalf("op %d: the GC rule changed what a reader at %s sees:\n%s\n%s", i, ts, before[p], after)
				}
			}
			var st GCStats
			if err := apply(func(b ReadWriter) (err error) {
				st, err = GC(b, []byte(bounds[0]), []byte(bounds[len(bounds)-1]), threshold)
				return err
			}); err != nil || st.VersionsRemoved != want {
				t.Fatalf("op %d: GC(%s) removed %d, %v; want %d", i, threshold, st.VersionsRemoved, err, want)
			}

		case op < 75: // Get
			ts := readTS()
			opts := randReadOpts(ts)
			pickReader()
			kv, err := Get(reads, []byte(k), ts, opts)
			var kvs []KeyValue
			if kv != nil {
				kvs = []KeyValue{*kv}
			}
			want := m.get(k, ts, opts)
			count(want)
			if got := outcome(kvs, err); got != want {
				t.Fatalf("op %d: Get(%q@%s, %+v): got %s, want %s", i, k, ts, opts, got, want)
			}

		default: // Scan, paged when the model expects success
			a, b := bounds[rng.Intn(len(bounds))], bounds[rng.Intn(len(bounds))]
			if a > b {
				a, b = b, a
			}
			ts := readTS()
			opts := ScanOptions{ReadOptions: randReadOpts(ts), Reverse: rng.Intn(2) == 0}
			pickReader()
			res, err := Scan(reads, []byte(a), []byte(b), ts, opts)
			want := m.scan(sorted, a, b, ts, opts)
			count(want)
			if got := outcome(res.KVs, err); got != want {
				t.Fatalf("op %d: Scan([%q,%q)@%s, %+v): got %s, want %s", i, a, b, ts, opts, got, want)
			}
			if err != nil || res.ResumeKey != nil {
				continue
			}
			opts.MaxKeys = 1 + rng.Int63n(3)
			var all []KeyValue
			start, end := []byte(a), []byte(b)
			for page := 0; ; page++ {
				res, err := Scan(reads, start, end, ts, opts)
				if err != nil || page > len(keys) {
					t.Fatalf("op %d: page %d of [%q,%q): %v", i, page, a, b, err)
				}
				if int64(len(res.KVs)) > opts.MaxKeys {
					t.Fatalf("op %d: page of %d keys, limit %d", i, len(res.KVs), opts.MaxKeys)
				}
				all = append(all, res.KVs...)
				if res.ResumeKey == nil {
					break
				}
				if opts.Reverse {
					if bytes.Compare(res.ResumeKey, end) >= 0 {
						t.Fatalf("op %d: reverse resume key %q does not shrink %q", i, res.ResumeKey, end)
					}
					end = res.ResumeKey
				} else {
					if bytes.Compare(res.ResumeKey, start) <= 0 {
						t.Fatalf("op %d: resume key %q does not advance past %q", i, res.ResumeKey, start)
					}
					start = res.ResumeKey
				}
			}
			if got := outcome(all, nil); got != want {
				t.Fatalf("op %d: paged Scan([%q,%q)@%s, %+v): got %s, want %s", i, a, b, ts, opts, got, want)
			}
		}
	}
}
