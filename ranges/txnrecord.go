package ranges

import (
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

func readTxnRecord(r pebble.Reader, anchor []byte, id mvcc.TxnID) (*kvpb.Transaction, error) {
	v, ok, err := mvcc.GetUnversioned(r, keys.TxnRecordKey(anchor, id))
	if err != nil || !ok {
		return nil, err
	}
	var t kvpb.Transaction
	decode := t.UnmarshalBinary
	if len(v) > 0 && v[0] == '{' {
		decode = func(v []byte) error { return json.Unmarshal(v, &t) } // written by an earlier version
	}
	if err := decode(v); err != nil {
		return nil, fmt.Errorf("decoding transaction record %x: %w", id, err)
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
