package kvpb

import (
	"bytes"
	"fmt"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Span is a key span [Key, EndKey); an empty EndKey means the single key Key.
type Span struct {
	Key, EndKey []byte
}

// Contains reports whether key lies in s.
func (s Span) Contains(key []byte) bool {
	if len(s.EndKey) == 0 {
		return bytes.Equal(s.Key, key)
	}
	return bytes.Compare(s.Key, key) <= 0 && bytes.Compare(key, s.EndKey) < 0
}

// Overlaps reports whether s and o share a key.
func (s Span) Overlaps(o Span) bool {
	return s.startsBefore(o.Key) && o.startsBefore(s.Key)
}

// startsBefore reports whether key sorts before s's exclusive end, taking a point span as
// [Key, Key\x00) (so that key <= Key), without building that end key: latches compare
// spans by the million.
func (s Span) startsBefore(key []byte) bool {
	if len(s.EndKey) == 0 {
		return bytes.Compare(key, s.Key) <= 0
	}
	return bytes.Compare(key, s.EndKey) < 0
}

func (s Span) String() string {
	if len(s.EndKey) == 0 {
		return fmt.Sprintf("%q", s.Key)
	}
	return fmt.Sprintf("[%q,%q)", s.Key, s.EndKey)
}

// TxnStatus is the state of a transaction record.
type TxnStatus uint8

// Transaction states. STAGING belongs to parallel commits and is not produced yet.
const (
	Pending TxnStatus = iota
	Staging
	Committed
	Aborted
)

func (s TxnStatus) String() string {
	switch s {
	case Pending:
		return "PENDING"
	case Staging:
		return "STAGING"
	case Committed:
		return "COMMITTED"
	case Aborted:
		return "ABORTED"
	}
	return fmt.Sprintf("TxnStatus(%d)", s)
}

// Finalized reports whether the status can no longer change.
func (s TxnStatus) Finalized() bool { return s == Committed || s == Aborted }

// TxnRef names a transaction and its priority, for deadlock detection.
type TxnRef struct {
	ID       mvcc.TxnID
	Priority int32
}

// WaitEdge says that Waiter waits for Holder to finish.
type WaitEdge struct{ Waiter, Holder TxnRef }

// Bounds of transaction priorities (mvcc.TxnMeta.Priority): a transaction at MaxTxnPriority
// pushes any other aside without waiting, and one at MinTxnPriority is pushed aside by any
// other.
const (
	MinTxnPriority int32 = 1
	MaxTxnPriority int32 = 1<<31 - 1
)

// Transaction is the state of a transaction that travels with each of its batches and is
// persisted (in part) as its transaction record.
type Transaction struct {
	mvcc.TxnMeta
	Status TxnStatus
	// ReadTimestamp is where the transaction reads; WriteTimestamp (in TxnMeta) can be pushed
	// above it, in which case the reads must be refreshed before the transaction may commit.
	ReadTimestamp hlc.Timestamp
	// GlobalUncertaintyLimit is ReadTimestamp plus the maximum clock offset at the start.
	GlobalUncertaintyLimit hlc.Timestamp
	// ObservedTimestamps hold, per node, the lowest physical clock reading the node gave
	// the transaction (in a BatchResponse), all taken after it began; the gateway's is the
	// transaction's start. On a node it observed, the transaction's uncertainty interval
	// shrinks to the values written there before the observation (see
	// mvcc.UncertaintyInterval). They stay valid across restarts: the transaction began
	// before any of them.
	ObservedTimestamps []ObservedTimestamp `json:",omitempty" codec:",omitempty"`
	// LastHeartbeat is when the coordinator last proved the transaction alive.
	LastHeartbeat hlc.Timestamp
	// LockSpans are the spans holding the transaction's intents (kept in the record at commit).
	LockSpans []Span
	// GatewayNodeID is the node whose clock gave the transaction its timestamp. (Its
	// observation of that clock is in ObservedTimestamps.)
	GatewayNodeID uint64
	// InFlightWrites are, in a STAGING record, the writes whose success makes the
	// transaction committed.
	InFlightWrites []InFlightWrite `json:",omitempty"`
	// AbortReason says why an ABORTED record was aborted by another transaction.
	AbortReason RetryReason `json:",omitempty"`
	// AbortKey and AbortedBy, when another transaction aborted this one for a lock, are
	// that lock's key and the transaction that wanted it.
	AbortKey  []byte          `json:",omitempty" codec:",omitempty"`
	AbortedBy *ConflictingTxn `json:",omitempty" codec:",omitempty"`
	// IgnoredSeqNums are the write numbers (TxnMeta.Sequence of its intents) the transaction
	// rolled back to savepoints: sorted, disjoint and not adjacent. Its reads skip those
	// writes of its own, and its commit keeps of each intent the latest write not among
	// them. The record keeps them, so that whoever resolves the intents of a committed
	// transaction resolves them the same way.
	IgnoredSeqNums []mvcc.SeqRange `json:",omitempty" codec:",omitempty"`
}

// IgnoreSeqRange adds r to the transaction's ignored sequence numbers, merging it with the
// ranges it overlaps or touches.
func (t *Transaction) IgnoreSeqRange(r mvcc.SeqRange) {
	if r.End < r.Start {
		return
	}
	old := t.IgnoredSeqNums
	out := make([]mvcc.SeqRange, 0, len(old)+1)
	i := 0
	for ; i < len(old) && old[i].End+1 < r.Start; i++ {
		out = append(out, old[i])
	}
	for ; i < len(old) && old[i].Start <= r.End+1; i++ {
		r.Start, r.End = min(r.Start, old[i].Start), max(r.End, old[i].End)
	}
	out = append(out, r)
	t.IgnoredSeqNums = append(out, old[i:]...)
}

// Clone returns a deep-enough copy for the transaction layer to mutate independently.
func (t *Transaction) Clone() *Transaction {
	if t == nil {
		return nil
	}
	c := *t
	c.LockSpans = append([]Span(nil), t.LockSpans...)
	c.ObservedTimestamps = append([]ObservedTimestamp(nil), t.ObservedTimestamps...)
	c.IgnoredSeqNums = append([]mvcc.SeqRange(nil), t.IgnoredSeqNums...)
	return &c
}

// ObservedTimestamp is a physical clock reading of node NodeID, taken after the
// transaction that holds it began.
type ObservedTimestamp struct {
	NodeID    uint64
	Timestamp hlc.Timestamp
}

// ObservedTimestamp returns the transaction's observation of node nodeID's clock.
func (t *Transaction) ObservedTimestamp(nodeID uint64) (hlc.Timestamp, bool) {
	for _, o := range t.ObservedTimestamps {
		if o.NodeID == nodeID {
			return o.Timestamp, true
		}
	}
	return hlc.Timestamp{}, false
}

// Observe records o unless the transaction holds a lower observation of the same node: the
// lowest is the most useful, as fewer values were written before it. A zero node or
// timestamp is no observation.
func (t *Transaction) Observe(o ObservedTimestamp) {
	if o.NodeID == 0 || o.Timestamp.IsEmpty() {
		return
	}
	for i := range t.ObservedTimestamps {
		if t.ObservedTimestamps[i].NodeID == o.NodeID {
			if o.Timestamp.Less(t.ObservedTimestamps[i].Timestamp) {
				t.ObservedTimestamps[i].Timestamp = o.Timestamp
			}
			return
		}
	}
	t.ObservedTimestamps = append(t.ObservedTimestamps, o)
}

// Request is one operation in a batch.
type Request interface {
	// Header is the span the request touches.
	Header() Span
	// IsWrite reports whether evaluation may write (and so needs replication).
	IsWrite() bool
}

// Response is the result of one Request, in the same position of the batch.
type Response interface{}

// LockStrength is how a read locks the keys it returns (SELECT … FOR SHARE / FOR UPDATE).
type LockStrength uint8

// Lock strengths.
const (
	// LockNone: a plain read.
	LockNone LockStrength = iota
	// LockShared: the rows read may not be written by others until the transaction ends.
	// Under serializable isolation the timestamp cache already gives this guarantee (a
	// later writer lands above the read and the transaction that read commits below it),
	// so a shared lock is a plain read.
	LockShared
	// LockExclusive: the rows read are locked, so that other writers and exclusive readers
	// queue behind the transaction until it ends. The lock is held in the leaseholder's
	// memory, not replicated (see ranges.lockTable): it orders writers, and the
	// transaction's refreshes, not the lock, keep its reads valid should it be lost.
	LockExclusive
)

// GetRequest reads one key.
type GetRequest struct {
	Key     []byte
	Locking LockStrength `codec:",omitempty"`
}

// ScanRequest reads the keys of a span in order.
type ScanRequest struct {
	Span
	MaxKeys int64 // 0 = no limit
	Reverse bool
	Locking LockStrength `codec:",omitempty"`
}

// ScannedSpan is the part of the scan's span it read, given the resume key it stopped at
// (nil if it read to the end): a limited scan read only up to where it stopped.
func (r *ScanRequest) ScannedSpan(resumeKey []byte) Span {
	sp := r.Span
	if resumeKey != nil {
		if r.Reverse {
			sp.Key = resumeKey
		} else {
			sp.EndKey = resumeKey
		}
	}
	return sp
}

// PutRequest writes a value (an intent when transactional).
type PutRequest struct {
	Key, Value []byte
	// Sequence numbers the write within its transaction (see mvcc.TxnMeta.Sequence).
	Sequence int32 `codec:",omitempty"`
}

// ConditionalPutRequest writes a value only if no live value exists (ExpectAbsent), which is how
// INSERT detects a duplicate primary key.
type ConditionalPutRequest struct {
	Key, Value   []byte
	ExpectAbsent bool
	Sequence     int32 `codec:",omitempty"`
}

// IsPointWrite reports whether req writes exactly one key and reads nothing back but a
// condition (Put, ConditionalPut, Delete): the writes that are sent in parallel.
func IsPointWrite(req Request) bool { return WriteSequence(req) != nil }

// WriteSequence points to the sequence number of a point write (nil for other requests).
func WriteSequence(req Request) *int32 {
	switch r := req.(type) {
	case *PutRequest:
		return &r.Sequence
	case *ConditionalPutRequest:
		return &r.Sequence
	case *DeleteRequest:
		return &r.Sequence
	}
	return nil
}

// DeleteRequest writes a tombstone.
type DeleteRequest struct {
	Key      []byte
	Sequence int32 `codec:",omitempty"`
}

// DeleteRangeRequest writes tombstones over every live key of a span.
type DeleteRangeRequest struct {
	Span
	// Sequence numbers the tombstones' intents (see PutRequest).
	Sequence int32 `codec:",omitempty"`
}

// IntentSequence points to the sequence number of a request that leaves intents in a
// transaction: a point write or a DeleteRange (nil for other requests). Every such request
// is numbered, so that a rollback to a savepoint can name the writes it undoes.
func IntentSequence(req Request) *int32 {
	if r, ok := req.(*DeleteRangeRequest); ok {
		return &r.Sequence
	}
	return WriteSequence(req)
}

// EndTxnRequest commits or aborts the batch's transaction by writing its record, which lives on
// the range of the transaction's anchor key.
type EndTxnRequest struct {
	Commit bool
	// LockSpans are every span the transaction wrote; they are resolved after the commit.
	LockSpans []Span
	// InFlightWrites, for a commit, are writes sent alongside it whose outcome is not yet
	// known (parallel commits): the record becomes STAGING, and the transaction is committed
	// as soon as all of them succeed at or below its timestamp, without another round.
	InFlightWrites []InFlightWrite `codec:",omitempty"`
}

// InFlightWrite is a write of a STAGING transaction whose outcome is not yet known: its key
// and its number. The number matters: the transaction may hold an earlier intent on the same
// key (a lock, FOR UPDATE, before the write), which does not prove the write.
type InFlightWrite struct {
	Key      []byte
	Sequence int32 `codec:",omitempty"`
}

// QueryIntentRequest asks whether Txn has an intent on Key, written by its write number
// Sequence or a later one, and at what timestamp. It waits for a write still in flight on
// the key (its latches are held until it applies). With Prevent, an intent missing at or
// below Txn.WriteTimestamp can never be written there afterwards (the key's timestamp cache
// is raised to that timestamp): status recovery of a STAGING transaction uses it to prove,
// or to rule out, each of its in-flight writes.
type QueryIntentRequest struct {
	Key      []byte
	Txn      mvcc.TxnMeta
	Sequence int32 `codec:",omitempty"`
	Prevent  bool  `codec:",omitempty"`
}

// RecoverTxnRequest finishes an abandoned STAGING transaction (Txn, as its record was seen)
// after status recovery: COMMITTED if every in-flight write was found, else ABORTED. A
// record that is no longer that STAGING record is left as it is.
type RecoverTxnRequest struct {
	Txn                 mvcc.TxnMeta
	ImplicitlyCommitted bool
	// MissingWrite is the key of the in-flight write the recovery found missing (and made
	// impossible), when not ImplicitlyCommitted.
	MissingWrite []byte `codec:",omitempty"`
}

// HeartbeatTxnRequest creates or refreshes a PENDING transaction record.
type HeartbeatTxnRequest struct{ Now hlc.Timestamp }

// QueryTxnRequest reads the record of another transaction.
type QueryTxnRequest struct {
	Txn mvcc.TxnMeta
	// WaitingTxns asks also for the transactions waiting (directly or through others) for
	// Txn to finish, as far as the leaseholder of its record knows: deadlock detection.
	WaitingTxns bool `codec:",omitempty"`
}

// PushTxnRequest aborts another transaction if it is PENDING and either expired or Force is
// set. The pushee's record ends ABORTED (or is found finalized).
type PushTxnRequest struct {
	Pushee mvcc.TxnMeta
	Now    hlc.Timestamp
	// ExpireBefore: a pending transaction whose last heartbeat is before this is abandoned.
	ExpireBefore hlc.Timestamp
	Force        bool
	// PushTo, when set, asks to move a live pushee's timestamp up to PushTo instead of
	// aborting it: a reader's push, after which the reader can read below the pushee's
	// intents. The pushee then commits at PushTo or later, refreshing its own reads.
	PushTo hlc.Timestamp
	// Pusher is the transaction that pushes, if any. A pusher of a higher priority class
	// aborts (or moves) the pushee at once; otherwise it may wait.
	Pusher *mvcc.TxnMeta `codec:",omitempty"`
	// Wait asks the leaseholder of the pushee's record to hold the push until the pushee
	// finishes (or expires, or is found in a deadlock with the pusher and aborted), instead
	// of answering at once with the pushee still pending.
	Wait bool `codec:",omitempty"`
	// Reason is recorded as the abort reason when the push aborts the pushee.
	Reason RetryReason `codec:",omitempty"`
	// Key is the key of the pushee's lock the pusher wants, recorded with an abort (for
	// priority, or to break a deadlock) so that the pushee can say what it lost.
	Key []byte `codec:",omitempty"`
}

// ResolveIntentRequest finalizes the intents of a transaction in a span.
type ResolveIntentRequest struct {
	Span
	Txn mvcc.TxnMeta
	// Status is Committed or Aborted, or Pending to move live intents up to CommitTS after
	// their transaction was pushed.
	Status   TxnStatus
	CommitTS hlc.Timestamp
	// IgnoredSeqNums, for a commit, are the transaction's rolled-back write numbers
	// (Transaction.IgnoredSeqNums): of each intent the latest write not among them is
	// committed.
	IgnoredSeqNums []mvcc.SeqRange `codec:",omitempty"`
}

// RefreshRequest checks that nothing was written in a span between From and the batch
// timestamp, so that a transaction's reads stay valid at its new timestamp.
type RefreshRequest struct {
	Span
	From hlc.Timestamp
}

// GCRequest removes MVCC versions of a span that no read at or above Threshold can see.
type GCRequest struct {
	Span
	Threshold hlc.Timestamp
}

// ClearRangeRequest removes every version of every key of a span at once, with one range
// deletion in the storage engine, outside any transaction and MVCC: the data of a dropped or
// truncated table, which no descriptor names any more. Nobody may read the span at
// timestamps where it still held live data, so the range's GC threshold is raised to
// Threshold first (the time the data was dropped, already behind the GC horizon): a read
// that old is refused rather than answered from an emptied span. The span must lie on one
// range.
type ClearRangeRequest struct {
	Span
	Threshold hlc.Timestamp
}

// AdminSplitRequest splits the range holding SplitKey in two at SplitKey; the right-hand
// range gets ID NewRangeID (allocated by the caller) and the same replicas.
type AdminSplitRequest struct {
	SplitKey   []byte
	NewRangeID uint64
	// Sticky marks the split as asked for by a user: the merge queue leaves it alone.
	Sticky bool `codec:",omitempty"`
}

// AdminMergeRequest, sent to the leaseholder of range Left, merges the range to its right
// (Right, as the sender knows it) into it. Both must have replicas on the same nodes.
type AdminMergeRequest struct{ Left, Right RangeDescriptor }

// SubsumeRequest, sent by the leaseholder of Left during a merge to the leaseholder of
// Right, freezes Right: it serves nothing more until the merge ends.
type SubsumeRequest struct{ Left, Right RangeDescriptor }

// ResolveMergeRequest, sent by the leaseholder of a frozen range to the range on its left
// (found by LeftKey, the start key of the range that froze it), settles a merge whose
// coordinator went quiet: the left range either has merged the frozen one, or records that
// it never will.
type ResolveMergeRequest struct {
	LeftKey      []byte
	RightRangeID uint64
	FreezeIndex  uint64
}

// AdminRelocateRequest, sent to a range's leaseholder, moves the range one step towards
// having its replicas on exactly the nodes Targets: one replica added, or one removed, or
// the lease moved off a node that must go.
type AdminRelocateRequest struct {
	Range   RangeDescriptor
	Targets []uint64
}

// RangeStatsRequest asks the leaseholder of a range about it.
type RangeStatsRequest struct {
	Span
	// SizeLimit, when positive, asks for the exact size of the range's data (Bytes),
	// counted up to this limit.
	SizeLimit int64 `codec:",omitempty"`
}

// Responses.
type (
	RangeStatsResponse struct {
		NodeID           uint64  // the leaseholder that answered
		ApproximateBytes int64   // the range's size on disk, estimated
		QPS              float64 `codec:",omitempty"` // requests per second served lately
		// Bytes is the size of the range's keys and values (every version), counted up to
		// the request's SizeLimit: Bytes >= SizeLimit means "at least".
		Bytes int64 `codec:",omitempty"`
		// Age is how long the replica answering has held the range in its present shape:
		// its load is measured over no more than that.
		Age time.Duration `codec:",omitempty"`
	}
	AdminSplitResponse struct{ Left, Right RangeDescriptor }
	AdminMergeResponse struct{ Merged RangeDescriptor }
	SubsumeResponse    struct {
		// FreezeIndex is the Raft index of the command that froze the range; every replica
		// holds the log up to it.
		FreezeIndex uint64
		// FreezeTimestamp is above every read the frozen range served: the merged range
		// accepts no write below it.
		FreezeTimestamp hlc.Timestamp
		// GCThreshold is the frozen range's: the merged range keeps the later of the two.
		GCThreshold hlc.Timestamp
	}
	ResolveMergeResponse  struct{ Merged bool }
	AdminRelocateResponse struct {
		// Done: the replicas already were on the targets; nothing changed.
		Done bool
		// Range is the range's descriptor after the step.
		Range RangeDescriptor
	}
	GetResponse  struct{ Value *mvcc.KeyValue }
	ScanResponse struct {
		KVs       []mvcc.KeyValue
		ResumeKey []byte
	}
	PutResponse            struct{}
	ConditionalPutResponse struct{}
	DeleteResponse         struct{}
	DeleteRangeResponse    struct{ Keys [][]byte }
	EndTxnResponse         struct {
		OnePhaseCommit bool
		// Unresolved are the lock spans the range that evaluated the EndTxn did not hold,
		// and so left for the coordinator to resolve. Only that range knows them: the
		// coordinator's descriptor of it may be stale (it split since), and a span judged
		// local by that descriptor would be resolved by nobody.
		Unresolved []Span `codec:",omitempty"`
	}
	HeartbeatTxnResponse struct{ Txn *Transaction }
	QueryIntentResponse  struct {
		Found bool
		// Timestamp is where the intent found is.
		Timestamp hlc.Timestamp `codec:",omitempty"`
	}
	RecoverTxnResponse struct{ Txn *Transaction }
	QueryTxnResponse   struct {
		Txn   *Transaction // nil when there is no record
		Found bool
		// Waiting are the waits that end at Txn, directly or through others, as the
		// leaseholder of its record knows them (with WaitingTxns).
		Waiting []WaitEdge `codec:",omitempty"`
	}
	PushTxnResponse       struct{ Pushee *Transaction }
	ResolveIntentResponse struct{ Resolved int }
	RefreshResponse       struct{}
	ClearRangeResponse    struct{}
	GCResponse            struct {
		Removed int
		// TxnRecordsRemoved counts the records of long-aborted or abandoned transactions
		// removed.
		TxnRecordsRemoved int `codec:",omitempty"`
	}
)

func (r *GetRequest) Header() Span            { return Span{Key: r.Key} }
func (r *ScanRequest) Header() Span           { return r.Span }
func (r *PutRequest) Header() Span            { return Span{Key: r.Key} }
func (r *ConditionalPutRequest) Header() Span { return Span{Key: r.Key} }
func (r *DeleteRequest) Header() Span         { return Span{Key: r.Key} }
func (r *DeleteRangeRequest) Header() Span    { return r.Span }
func (r *EndTxnRequest) Header() Span         { return Span{} }
func (r *HeartbeatTxnRequest) Header() Span   { return Span{} }
func (r *QueryTxnRequest) Header() Span       { return Span{Key: r.Txn.Key} }
func (r *QueryIntentRequest) Header() Span    { return Span{Key: r.Key} }
func (r *RecoverTxnRequest) Header() Span     { return Span{Key: r.Txn.Key} }
func (r *PushTxnRequest) Header() Span        { return Span{Key: r.Pushee.Key} }
func (r *ResolveIntentRequest) Header() Span  { return r.Span }
func (r *RefreshRequest) Header() Span        { return r.Span }
func (r *GCRequest) Header() Span             { return r.Span }
func (r *ClearRangeRequest) Header() Span     { return r.Span }
func (r *AdminSplitRequest) Header() Span     { return Span{Key: r.SplitKey} }
func (r *RangeStatsRequest) Header() Span     { return r.Span }
func (r *AdminMergeRequest) Header() Span     { return Span{Key: r.Left.StartKey} }
func (r *SubsumeRequest) Header() Span        { return Span{Key: r.Right.StartKey} }
func (r *ResolveMergeRequest) Header() Span   { return Span{Key: r.LeftKey} }
func (r *AdminRelocateRequest) Header() Span  { return Span{Key: r.Range.StartKey} }

func (r *GetRequest) IsWrite() bool          { return r.Locking == LockExclusive }
func (r *ScanRequest) IsWrite() bool         { return r.Locking == LockExclusive }
func (*PutRequest) IsWrite() bool            { return true }
func (*ConditionalPutRequest) IsWrite() bool { return true }
func (*DeleteRequest) IsWrite() bool         { return true }
func (*DeleteRangeRequest) IsWrite() bool    { return true }
func (*EndTxnRequest) IsWrite() bool         { return true }
func (*HeartbeatTxnRequest) IsWrite() bool   { return true }
func (*QueryTxnRequest) IsWrite() bool       { return false }
func (*QueryIntentRequest) IsWrite() bool    { return false }
func (*RecoverTxnRequest) IsWrite() bool     { return true }
func (*PushTxnRequest) IsWrite() bool        { return true }
func (*ResolveIntentRequest) IsWrite() bool  { return true }
func (*RefreshRequest) IsWrite() bool        { return false }
func (*GCRequest) IsWrite() bool             { return true }
func (*ClearRangeRequest) IsWrite() bool     { return true }
func (*AdminSplitRequest) IsWrite() bool     { return true }
func (*RangeStatsRequest) IsWrite() bool     { return false }
func (*AdminMergeRequest) IsWrite() bool     { return true }
func (*SubsumeRequest) IsWrite() bool        { return true }
func (*ResolveMergeRequest) IsWrite() bool   { return true }
func (*AdminRelocateRequest) IsWrite() bool  { return true }

// BatchRequest is a group of requests a range evaluates atomically.
type BatchRequest struct {
	// Timestamp is where non-transactional requests read and write; for transactional batches
	// it is the transaction's read timestamp.
	Timestamp hlc.Timestamp
	// Txn is the transaction, or nil for non-transactional requests.
	Txn *Transaction
	// RangeID is the range the batch was addressed to (0: let the store route it).
	RangeID  uint64
	Requests []Request
	// LockTimeout, when positive, bounds how long the batch waits for another
	// transaction's lock before failing with LockNotAvailableError (lock_timeout).
	LockTimeout time.Duration `codec:",omitempty"`
	// AsyncConsensus asks the leaseholder to answer a transaction's point writes once they
	// are evaluated and proposed, without waiting for consensus (write pipelining). The
	// coordinator later proves each write with a QueryIntent before it relies on it.
	AsyncConsensus bool `codec:",omitempty"`
	// WithStaging marks the writes a parallel commit sends in flight beside its staged
	// record. Once the record is staged, any transaction that meets it may recover it and
	// resolve these very writes, so one sent again after its answer was lost could land after
	// its transaction finished, as a stray intent above the commit: such a batch is never
	// sent twice (see Replayable), and a lost answer leaves its outcome to status recovery.
	WithStaging bool `codec:",omitempty"`
	// Uncommitted is filled in by the leaseholder evaluating the batch, never sent: the
	// transactions it pushed above the batch's read timestamp while they were uncommitted
	// (see mvcc.ReadOptions.Uncommitted).
	Uncommitted []mvcc.TxnID
}

// IsWrite reports whether any request of the batch writes.
func (b *BatchRequest) IsWrite() bool {
	for _, r := range b.Requests {
		if r.IsWrite() {
			return true
		}
	}
	return false
}

// Replayable reports whether the batch may be applied twice with the effect of once, so
// that it can be sent again when it is not known whether it was applied: reads; the writes
// of an open transaction, which rewrite its own intents (a conditional write recognizes its
// own intent by its sequence number, and an unnumbered one cannot be replayed); and pushes,
// intent resolution and status recovery, which only move a transaction or its intents
// towards where they are going. Not a commit or the writes in flight beside one
// (WithStaging), nor any other write outside a transaction.
func (b *BatchRequest) Replayable() bool {
	if !b.IsWrite() {
		return true
	}
	if b.WithStaging {
		return false
	}
	if b.Txn == nil || b.HasCommit() {
		for _, r := range b.Requests {
			switch r.(type) {
			case *PushTxnRequest, *ResolveIntentRequest, *RecoverTxnRequest, *QueryIntentRequest, *QueryTxnRequest,
				*RemoveTxnRecordRequest, // a record removed is removed
				*ClearRangeRequest:      // clearing an emptied span again changes nothing
			default:
				return false
			}
		}
		return true
	}
	for _, r := range b.Requests {
		if cp, ok := r.(*ConditionalPutRequest); ok && cp.Sequence == 0 {
			return false
		}
	}
	return true
}

// HasCommit reports whether the batch commits its transaction.
func (b *BatchRequest) HasCommit() bool {
	for _, r := range b.Requests {
		if et, ok := r.(*EndTxnRequest); ok && et.Commit {
			return true
		}
	}
	return false
}

// BatchResponse holds one response per request, and the transaction as the range left it
// (its write timestamp may have been pushed).
type BatchResponse struct {
	Responses []Response
	Txn       *Transaction
	// Timestamp is the timestamp the batch was evaluated at.
	Timestamp hlc.Timestamp
	// Observed is the leaseholder's node and a reading of its physical clock taken while it
	// evaluated the batch: a transaction's coordinator collects these (see
	// Transaction.ObservedTimestamps). Zero when nothing was evaluated.
	Observed ObservedTimestamp
}
