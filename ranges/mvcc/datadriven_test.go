package mvcc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
)

// TestDataDriven runs the scripts in testdata/. Commands:
//
//	txn name=A ts=20 [epoch=1]                                  define or update a transaction
//	put|del|cput k=a ts=10 [local=8] [v=x] [txn=A] [seq=3] [absent] [ignore=2-3,5-5]
//	                                                            write (cput: absent = expectAbsent);
//	                                                            local: its local timestamp (default ts);
//	                                                            seq: the write's sequence number
//	legacy-put k=a ts=10 [v=x]                                  a version as stored before local timestamps
//	get k=a ts=15 [txn=A] [unc=20] [local-limit=17] [inconsistent] [uncommitted=A]
//	scan k=a end=z ts=15 [max=2] [reverse] [txn=A] [unc=20] [local-limit=17] [inconsistent]
//	                                                            unc, local-limit: the uncertainty interval
//	resolve k=a txn=A commit|abort [ts=25] [ignore=2-3]
//	resolve-range k=a end=z txn=A commit|abort [ts=25] [ignore=2-3]
//	                                                            ignore (on reads, cput and
//	                                                            resolve): the txn's ignored
//	                                                            sequence ranges
//	push k=a txn=A ts=25                                        move A's intent up to 25
//	refresh k=a [end=z] from=10 to=20 txn=A
//	gc k=a end=z ts=25
//	dump                                                        every engine key, decoded, with
//	                                                            local timestamps kept in headers
//	flush                                                       flush memtables to sstables
//
// Keys and values accept Go escapes (k=a\x00). Timestamps are wall[.logical].
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		db := openMem(t)
		txns := map[string]*TxnMeta{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			e := &ddEnv{t: t, d: d, txns: txns}
			return e.run(db)
		})
	})
}

type ddEnv struct {
	t    *testing.T
	d    *datadriven.TestData
	txns map[string]*TxnMeta
}

func (e *ddEnv) arg(name string) (string, bool) {
	for _, a := range e.d.CmdArgs {
		if a.Key == name {
			if len(a.Vals) == 0 {
				return "", true
			}
			return a.Vals[0], true
		}
	}
	return "", false
}

func (e *ddEnv) bytes(name string) []byte {
	v, ok := e.arg(name)
	if !ok {
		return nil
	}
	s, err := strconv.Unquote(`"` + v + `"`)
	if err != nil {
		e.t.Fatalf("%s: bad %s=%s: %v", e.d.Pos, name, v, err)
	}
	return []byte(s)
}

func (e *ddEnv) mustBytes(name string) []byte {
	if _, ok := e.arg(name); !ok {
		e.t.Fatalf("%s: missing %s", e.d.Pos, name)
	}
	b := e.bytes(name)
	if b == nil {
		b = []byte{}
	}
	return b
}

func parseTS(t *testing.T, s string) hlc.Timestamp {
	wall, logical, _ := strings.Cut(s, ".")
	w, err := strconv.ParseInt(wall, 10, 64)
	if err != nil {
		t.Fatalf("bad timestamp %q", s)
	}
	var l int64
	if logical != "" {
		if l, err = strconv.ParseInt(logical, 10, 32); err != nil {
			t.Fatalf("bad timestamp %q", s)
		}
	}
	return hlc.Timestamp{WallTime: w, Logical: int32(l)}
}

func fmtTS(ts hlc.Timestamp) string {
	if ts.Logical == 0 {
		return strconv.FormatInt(ts.WallTime, 10)
	}
	return fmt.Sprintf("%d.%d", ts.WallTime, ts.Logical)
}

func (e *ddEnv) ts(name string) hlc.Timestamp {
	v, ok := e.arg(name)
	if !ok {
		return hlc.Timestamp{}
	}
	return parseTS(e.t, v)
}

func (e *ddEnv) txn() *TxnMeta {
	name, ok := e.arg("txn")
	if !ok {
		return nil
	}
	txn, ok := e.txns[name]
	if !ok {
		e.t.Fatalf("%s: unknown txn %s", e.d.Pos, name)
	}
	if v, ok := e.arg("seq"); ok {
		seq, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			e.t.Fatalf("%s: bad seq=%s", e.d.Pos, v)
		}
		numbered := *txn
		numbered.Sequence = int32(seq)
		return &numbered
	}
	return txn
}

// ignored parses ignore=a-b,c-d: sequence ranges the transaction rolled back.
func (e *ddEnv) ignored() []SeqRange {
	var out []SeqRange
	for _, a := range e.d.CmdArgs {
		if a.Key != "ignore" {
			continue
		}
		for _, v := range a.Vals {
			from, to, _ := strings.Cut(v, "-")
			start, err1 := strconv.ParseInt(from, 10, 32)
			end, err2 := strconv.ParseInt(to, 10, 32)
			if err1 != nil || err2 != nil {
				e.t.Fatalf("%s: bad ignore=%s", e.d.Pos, v)
			}
			out = append(out, SeqRange{Start: int32(start), End: int32(end)})
		}
	}
	return out
}

func (e *ddEnv) txnName(id TxnID) string {
	for name, txn := range e.txns {
		if txn.ID == id {
			return name
		}
	}
	return id.String()
}

func (e *ddEnv) readOptions() ReadOptions {
	_, inconsistent := e.arg("inconsistent")
	unc := UncertaintyInterval{GlobalLimit: e.ts("unc"), LocalLimit: e.ts("local-limit")}
	opts := ReadOptions{Txn: e.txn(), Ignored: e.ignored(), Uncertainty: unc, Inconsistent: inconsistent}
	if name, ok := e.arg("uncommitted"); ok {
		txn, ok := e.txns[name]
		if !ok {
			e.t.Fatalf("%s: unknown txn %s", e.d.Pos, name)
		}
		opts.Uncommitted = []TxnID{txn.ID}
	}
	return opts
}

// fmtErr prints the package's errors compactly, with txn names instead of IDs.
func (e *ddEnv) fmtErr(err error) string {
	var (
		wie *WriteIntentError
		wto *WriteTooOldError
		cfe *ConditionFailedError
		rwu *ReadWithinUncertaintyIntervalError
		rce *RefreshConflictError
	)
	switch {
	case errors.As(err, &wie):
		var b strings.Builder
		b.WriteString("error: WriteIntentError:")
		for _, in := range wie.Intents {
			fmt.Fprintf(&b, " %q(txn=%s ts=%s epoch=%d)", in.Key, e.txnName(in.Txn.ID), fmtTS(in.Txn.WriteTimestamp), in.Txn.Epoch)
		}
		return b.String()
	case errors.As(err, &wto):
		return fmt.Sprintf("error: WriteTooOldError: ts=%s actual=%s", fmtTS(wto.Timestamp), fmtTS(wto.ActualTimestamp))
	case errors.As(err, &cfe):
		return fmt.Sprintf("error: ConditionFailedError: actual=%q", cfe.ActualValue)
	case errors.As(err, &rwu):
		return fmt.Sprintf("error: ReadWithinUncertaintyIntervalError: read=%s existing=%s local=%s",
			fmtTS(rwu.ReadTimestamp), fmtTS(rwu.ExistingTimestamp), fmtTS(rwu.LocalTimestamp))
	case errors.As(err, &rce):
		return fmt.Sprintf("error: RefreshConflictError: key=%q ts=%s", rce.Key, fmtTS(rce.Timestamp))
	}
	return "error: " + err.Error()
}

// batch runs f in an indexed batch, committing it only if f succeeds.
func (e *ddEnv) batch(db *pebble.DB, f func(b *pebble.Batch) (string, error)) string {
	b := db.NewIndexedBatch()
	defer b.Close()
	out, err := f(b)
	if err != nil {
		return e.fmtErr(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		e.t.Fatal(err)
	}
	if out == "" {
		out = "ok"
	}
	return out
}

func (e *ddEnv) run(db *pebble.DB) string {
	d := e.d
	switch d.Cmd {
	case "txn":
		name, _ := e.arg("name")
		txn, ok := e.txns[name]
		if !ok {
			txn = &TxnMeta{Key: []byte("anchor-" + name)}
			txn.ID[0] = byte(len(e.txns) + 1)
			txn.MinTimestamp = e.ts("ts")
			e.txns[name] = txn
		}
		txn.WriteTimestamp = e.ts("ts")
		if v, ok := e.arg("epoch"); ok {
			ep, _ := strconv.Atoi(v)
			txn.Epoch = int32(ep)
		}
		return fmt.Sprintf("txn %s: ts=%s epoch=%d", name, fmtTS(txn.WriteTimestamp), txn.Epoch)

	case "put", "del", "cput":
		return e.batch(db, func(b *pebble.Batch) (string, error) {
			key, ts, txn := e.mustBytes("k"), e.ts("ts"), e.txn()
			local := ts
			if _, ok := e.arg("local"); ok {
				local = e.ts("local")
			}
			switch d.Cmd {
			case "put":
				return "", Put(b, key, ts, local, e.mustBytes("v"), txn)
			case "del":
				return "", Delete(b, key, ts, local, txn)
			}
			_, absent := e.arg("absent")
			return "", ConditionalPut(b, key, ts, local, e.mustBytes("v"), txn, absent, e.ignored())
		})

	case "legacy-put":
		// The engine key and bare value, as every version was written before local
		// timestamps: such a version's local timestamp is its timestamp.
		return e.batch(db, func(b *pebble.Batch) (string, error) {
			return "", b.Set(EncodeKey(e.mustBytes("k"), e.ts("ts")), e.bytes("v"), nil)
		})

	case "push":
		txn := e.txn()
		return e.batch(db, func(b *pebble.Batch) (string, error) {
			moved, err := PushIntent(b, e.mustBytes("k"), txn.ID, e.ts("ts"))
			return fmt.Sprintf("moved=%t", moved), err
		})

	case "get":
		kv, err := Get(db, e.mustBytes("k"), e.ts("ts"), e.readOptions())
		if err != nil {
			return e.fmtErr(err)
		}
		if kv == nil {
			return "<absent>"
		}
		return fmt.Sprintf("%q@%s -> %q", kv.Key, fmtTS(kv.Timestamp), kv.Value)

	case "scan":
		_, reverse := e.arg("reverse")
		var maxKeys int64
		if v, ok := e.arg("max"); ok {
			maxKeys, _ = strconv.ParseInt(v, 10, 64)
		}
		res, err := Scan(db, e.mustBytes("k"), e.mustBytes("end"), e.ts("ts"),
			ScanOptions{ReadOptions: e.readOptions(), MaxKeys: maxKeys, Reverse: reverse})
		if err != nil {
			return e.fmtErr(err)
		}
		var b strings.Builder
		for _, kv := range res.KVs {
			fmt.Fprintf(&b, "%q@%s -> %q\n", kv.Key, fmtTS(kv.Timestamp), kv.Value)
		}
		if res.ResumeKey != nil {
			fmt.Fprintf(&b, "resume: %q\n", res.ResumeKey)
		}
		if b.Len() == 0 {
			return "<empty>"
		}
		return b.String()

	case "resolve", "resolve-range":
		_, commit := e.arg("commit")
		txn := e.txn()
		return e.batch(db, func(b *pebble.Batch) (string, error) {
			if d.Cmd == "resolve" {
				found, err := ResolveIntent(b, e.mustBytes("k"), txn.ID, commit, e.ts("ts"), e.ignored())
				return fmt.Sprintf("found=%t", found), err
			}
			n, err := ResolveIntentRange(b, e.mustBytes("k"), e.mustBytes("end"), txn.ID, commit, e.ts("ts"), e.ignored())
			return fmt.Sprintf("resolved=%d", n), err
		})

	case "refresh":
		var id TxnID
		if txn := e.txn(); txn != nil {
			id = txn.ID
		}
		if err := CheckNoNewerWrites(db, e.mustBytes("k"), e.bytes("end"), e.ts("from"), e.ts("to"), id); err != nil {
			return e.fmtErr(err)
		}
		return "ok"

	case "newest":
		var id TxnID
		if txn := e.txn(); txn != nil {
			id = txn.ID
		}
		ts, err := NewestAbove(db, e.mustBytes("k"), e.bytes("end"), e.ts("above"), id)
		if err != nil {
			return e.fmtErr(err)
		}
		if ts.IsEmpty() {
			return "none"
		}
		return fmt.Sprintf("ts=%s", ts)

	case "gc":
		return e.batch(db, func(b *pebble.Batch) (string, error) {
			st, err := GC(b, e.mustBytes("k"), e.mustBytes("end"), e.ts("ts"))
			return fmt.Sprintf("removed=%d", st.VersionsRemoved), err
		})

	case "flush":
		if err := db.Flush(); err != nil {
			e.t.Fatal(err)
		}
		return "ok"

	case "dump":
		it, err := db.NewIter(nil)
		if err != nil {
			e.t.Fatal(err)
		}
		defer it.Close()
		var b strings.Builder
		for ok := it.First(); ok; ok = it.Next() {
			k, ts, err := DecodeKey(it.Key())
			if err != nil {
				e.t.Fatal(err)
			}
			if ts.IsEmpty() {
				m, err := decodeIntentMeta(it.Value(), true)
				if err != nil {
					e.t.Fatal(err)
				}
				fmt.Fprintf(&b, "%q meta: txn=%s ts=%s epoch=%d", k, e.txnName(m.ID), fmtTS(m.WriteTimestamp), m.Epoch)
				if m.Sequence != 0 {
					fmt.Fprintf(&b, " seq=%d", m.Sequence)
				}
				for _, h := range m.History {
					fmt.Fprintf(&b, " [seq %d: %q]", h.Sequence, h.Value)
				}
				b.WriteString("\n")
				continue
			}
			n, err := keyPrefixLen(it.Key())
			if err != nil {
				e.t.Fatal(err)
			}
			_, header, err := decodeVersionSuffix(it.Key()[n:])
			if err != nil {
				e.t.Fatal(err)
			}
			value, local, err := decodeValue(ts, header, it.Value())
			if err != nil {
				e.t.Fatal(err)
			}
			shown := fmt.Sprintf("%q", value)
			if len(value) == 0 {
				shown = "<tombstone>"
			}
			if header {
				shown += " local=" + fmtTS(local)
			}
			fmt.Fprintf(&b, "%q@%s -> %s\n", k, fmtTS(ts), shown)
		}
		if b.Len() == 0 {
			return "<empty>"
		}
		return b.String()
	}
	e.t.Fatalf("%s: unknown command %s", d.Pos, d.Cmd)
	return ""
}
