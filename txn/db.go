package txn

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Sender evaluates a batch whose keys all lie in one range.
type Sender interface {
	Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error)
}

// RangeLookup finds the range that holds a key.
type RangeLookup interface {
	RangeForKey(ctx context.Context, key []byte) (kvpb.RangeDescriptor, error)
}

// DB starts transactions against a cluster of ranges.
type DB struct {
	sender            Sender
	lookup            RangeLookup
	clock             *hlc.Clock
	log               *slog.Logger
	HeartbeatInterval time.Duration
	// NodeID is the node the DB runs on: its transactions' gateway.
	NodeID uint64

	// serialCommits turns parallel commits off (see SetParallelCommits).
	serialCommits atomic.Bool
	// serialWrites turns write pipelining off (see SetWritePipelining).
	serialWrites atomic.Bool
	// bufferWrites turns write buffering on (see SetWriteBuffering).
	bufferWrites atomic.Bool
	// holdLimit bounds how long commits' background work waits for the client's answer
	// (see HoldBackground).
	holdLimit time.Duration

	// resolver sends finished transactions' intent resolutions, merged by range.
	resolver *resolveBatcher
	stats    dbStats

	// open holds the transactions begun and not yet finished, whose reads MVCC garbage
	// collection must not pull the versions from under (OldestReadTimestamp).
	openMu sync.Mutex
	open   map[*Txn]struct{}

	wg       sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once
}

// NewDB returns a DB sending through sender and routing with lookup.
func NewDB(sender Sender, lookup RangeLookup, clock *hlc.Clock, log *slog.Logger) *DB {
	if log == nil {
		log = slog.Default()
	}
	db := &DB{sender: sender, lookup: lookup, clock: clock, log: log, HeartbeatInterval: time.Second, holdLimit: defaultHoldLimit, stop: make(chan struct{})}
	db.resolver = newResolveBatcher(func(ctx context.Context, ba *kvpb.BatchRequest) error {
		_, err := db.sender.Send(ctx, ba)
		return err
	}, db.goAsync)
	return db
}

// Stats are counts of what a DB's transactions did since it was made.
type Stats struct {
	// Commits counts transactions committed; Rollbacks, those rolled back after they
	// wrote (their writes undone). A read-only transaction's end is neither.
	Commits, Rollbacks int64
	// Restarts counts transaction attempts that failed with a retryable error (SQLSTATE
	// 40001): the client, or the SQL layer for it, runs them again.
	Restarts int64
	// ResolveBatches counts the batches of finished transactions' intent resolutions sent
	// to ranges, and ResolveCalls the transactions' resolutions (one per transaction and
	// range) they carried: the ratio is how many transactions a consensus write served.
	ResolveBatches, ResolveCalls int64
}

type dbStats struct {
	commits, rollbacks, restarts atomic.Int64
}

// Stats returns the DB's counts so far.
func (db *DB) Stats() Stats {
	batches, calls := db.resolver.counts()
	return Stats{
		Commits: db.stats.commits.Load(), Rollbacks: db.stats.rollbacks.Load(), Restarts: db.stats.restarts.Load(),
		ResolveBatches: batches, ResolveCalls: calls,
	}
}

// Clock is the clock that stamps transactions.
func (db *DB) Clock() *hlc.Clock { return db.clock }

// Close stops background work (heartbeats, asynchronous intent resolution).
func (db *DB) Close() {
	db.stopOnce.Do(func() { close(db.stop) })
	db.wg.Wait()
}

// goAsync runs f on a goroutine owned by db, with a context cancelled by Close.
func (db *DB) goAsync(f func(ctx context.Context)) bool {
	select {
	case <-db.stop:
		return false
	default:
	}
	db.wg.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer db.wg.Done()
		defer cancel()
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-db.stop:
				cancel()
			case <-done:
			}
		}()
		f(ctx)
	}()
	return true
}

// NewTxn begins a transaction at the current time.
func (db *DB) NewTxn() *Txn {
	now := db.clock.Now()
	t := db.newTxnAt(now, now)
	// The start is the transaction's observation of its gateway: a reading of the gateway's
	// clock no lower than its physical clock, taken (as an observation must be) no earlier
	// than the transaction began.
	t.proto.Observe(kvpb.ObservedTimestamp{NodeID: db.NodeID, Timestamp: now})
	return t
}

// NewTxnAt begins a read-only transaction reading at ts (AS OF SYSTEM TIME).
func (db *DB) NewTxnAt(ts hlc.Timestamp) *Txn {
	t := db.newTxnAt(ts, ts)
	t.SetFixedTimestamp(ts)
	return t
}

func (db *DB) newTxnAt(ts, minTS hlc.Timestamp) *Txn {
	t := &Txn{db: db, proto: db.newProto(ts, minTS), pipelining: !db.serialWrites.Load(), buffering: db.bufferWrites.Load()}
	db.openTxn(t)
	return t
}

// newProto is the state of a new transaction reading at ts.
func (db *DB) newProto(ts, minTS hlc.Timestamp) *kvpb.Transaction {
	var id mvcc.TxnID
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return &kvpb.Transaction{
		TxnMeta: mvcc.TxnMeta{
			ID:             id,
			WriteTimestamp: ts,
			MinTimestamp:   minTS,
			Priority:       txnPriority(NormalPriority),
		},
		ReadTimestamp:          ts,
		GlobalUncertaintyLimit: ts.Add(int64(db.clock.MaxOffset())),
		GatewayNodeID:          db.NodeID,
	}
}

// RunTxn runs f in a transaction and commits it, retrying from scratch on retryable errors.
// It is for internal work such as catalog updates.
func (db *DB) RunTxn(ctx context.Context, f func(ctx context.Context, t *Txn) error) error {
	t := db.NewTxn()
	for attempt := 0; ; attempt++ {
		err := f(ctx, t)
		if err == nil {
			err = t.Commit(ctx)
		}
		if err == nil {
			return nil
		}
		if !IsRetryable(err) || attempt >= 100 || ctx.Err() != nil {
			_ = t.Rollback(ctx)
			return err
		}
		if rerr := t.Restart(ctx, err); rerr != nil {
			return rerr
		}
	}
}

// OldestReadTimestamp is the lowest read timestamp of the transactions begun on this DB and
// not yet finished (committed or rolled back), or the zero timestamp if there are none.
func (db *DB) OldestReadTimestamp() hlc.Timestamp {
	db.openMu.Lock()
	defer db.openMu.Unlock()
	var oldest hlc.Timestamp
	for t := range db.open {
		if ts := t.ReadTimestamp(); oldest.IsEmpty() || ts.Less(oldest) {
			oldest = ts
		}
	}
	return oldest
}

func (db *DB) openTxn(t *Txn) {
	db.openMu.Lock()
	if db.open == nil {
		db.open = make(map[*Txn]struct{})
	}
	db.open[t] = struct{}{}
	db.openMu.Unlock()
}

func (db *DB) closeTxn(t *Txn) {
	db.openMu.Lock()
	delete(db.open, t)
	db.openMu.Unlock()
}

// IsRetryable reports whether err means "run the transaction again".
func IsRetryable(err error) bool {
	var re *kvpb.TransactionRetryError
	return errors.As(err, &re)
}
