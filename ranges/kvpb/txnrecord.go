package kvpb

import "github.com/meridiandb/meridian/ranges/mvcc"

// RemoveTxnRecordRequest removes the record of a finished transaction whose intents have
// all been resolved: its coordinator sends it last, so that records do not pile up. Only a
// record holding Status goes; any other (a record written since, or none) is left as it is.
type RemoveTxnRecordRequest struct {
	Txn    mvcc.TxnMeta
	Status TxnStatus
}

// RemoveTxnRecordResponse says whether the record was there, holding the status, and so
// was removed.
type RemoveTxnRecordResponse struct{ Removed bool }

// Header is the record's anchor key, which routes the request to the record's range.
func (r *RemoveTxnRecordRequest) Header() Span { return Span{Key: r.Txn.Key} }

// IsWrite is true: the record is deleted.
func (*RemoveTxnRecordRequest) IsWrite() bool { return true }
