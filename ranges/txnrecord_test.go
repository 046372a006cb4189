package ranges

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// TestTxnRecordForms: a record is written in the binary form and read back whole, without
// the coordinator's observed timestamps; a record an earlier version wrote as JSON still
// reads.
func TestTxnRecordForms(t *testing.T) {
	db, err := mvcc.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := hlc.Timestamp{WallTime: 1700000000000000000, Logical: 2}
	rec := &kvpb.Transaction{
		TxnMeta:        mvcc.TxnMeta{ID: mvcc.TxnID{1, 2}, Key: []byte("anchor"), Epoch: 1, WriteTimestamp: ts, MinTimestamp: ts, Priority: 7},
		Status:         kvpb.Staging,
		ReadTimestamp:  ts,
		LockSpans:      []kvpb.Span{{Key: []byte("a")}, {Key: []byte("b"), EndKey: []byte("c")}},
		InFlightWrites: []kvpb.InFlightWrite{{Key: []byte("b"), Sequence: 3}},
		IgnoredSeqNums: []mvcc.SeqRange{{Start: 1, End: 2}},
	}
	withObserved := *rec
	withObserved.ObservedTimestamps = []kvpb.ObservedTimestamp{{NodeID: 2, Timestamp: ts}}
	if err := writeTxnRecord(db, &withObserved); err != nil {
		t.Fatal(err)
	}
	got, err := readTxnRecord(db, rec.Key, rec.ID)
	if err != nil || !reflect.DeepEqual(got, rec) {
		t.Fatalf("binary record: %+v, %v; want %+v", got, err, rec)
	}

	old := *rec
	old.ID = mvcc.TxnID{3}
	b, err := json.Marshal(&old)
	if err != nil {
		t.Fatal(err)
	}
	if err := mvcc.PutUnversioned(db, keys.TxnRecordKey(old.Key, old.ID), b); err != nil {
		t.Fatal(err)
	}
	got, err = readTxnRecord(db, old.Key, old.ID)
	if err != nil || !reflect.DeepEqual(got, &old) {
		t.Fatalf("JSON record: %+v, %v; want %+v", got, err, &old)
	}
}
