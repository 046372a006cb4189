package txn

import (
	"bytes"
	"context"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// Write buffering: a transaction's blind writes (Put, Delete: the writes of UPDATE and
// DELETE after their locking reads, which conditions nothing) stay on the coordinator until
// the commit, and go to their ranges with it, in the commit's one batch per range: one round
// of consensus per range for the whole transaction instead of one per range and statement.
// A write with a condition (the ConditionalPut of INSERT) is sent at once, so that its
// failure (a duplicate key) is the statement's error, as in PostgreSQL.
//
// Nothing else changes meaning. The transaction's own reads see its writes: a batch that
// touches a buffered key sends the buffer first (a flush, as pipelined writes). Other
// transactions never saw a transaction's intents before it committed anyway; they now meet
// its writes at the commit, where a write that lands above the transaction's timestamp
// (someone read or wrote the key since) pushes the commit above it, and the reads are
// refreshed there as after any push. A write that the transaction locked first (UPDATE's
// locking read) is protected by that lock meanwhile. A rollback to a savepoint drops the
// buffered writes made since; a rollback or restart drops them all, with nothing to undo.

// maxBufferedWrites bounds the writes a transaction keeps: past it they are flushed, so that
// a large transaction does not hold its writes in memory and send them all at its commit.
const maxBufferedWrites = 1024

// SetWriteBuffering turns write buffering on or off (kv.transaction.write_buffering_enabled)
// for the transactions the DB starts from now on. It is off in a new DB: a blind write then
// meets other transactions' locks, and they meet its intent, when it is made, which tests
// of this package's lock handling rely on. SQL never writes blind before it has read, or
// locked, what it writes, and a node turns buffering on by that cluster setting.
func (db *DB) SetWriteBuffering(on bool) { db.bufferWrites.Store(on) }

// bufferable reports whether b holds only blind writes of distinct keys, which can wait for
// the commit.
func bufferable(b *Batch) bool {
	if len(b.reqs) == 0 || len(b.reqs) > maxBufferedWrites {
		return false
	}
	for _, req := range b.reqs {
		switch req.(type) {
		case *kvpb.PutRequest, *kvpb.DeleteRequest:
		default:
			return false
		}
	}
	return distinctKeys(b.reqs)
}

// buffer keeps b's writes until the commit, answering them now.
func (t *Txn) buffer(b *Batch) {
	t.numberWrites(b)
	t.setAnchor(b)
	t.buffered = append(t.buffered, b.reqs...)
	b.Results = make([]Result, len(b.reqs))
	// As for a write sent: a long transaction keeps its record alive, so that whoever meets
	// its locks meanwhile does not take it for abandoned.
	t.startHeartbeat()
}

// flushFor sends the buffered writes if any request of reqs touches one of their keys, or if
// adding n more writes would pass the bound: the requests then see, or follow, them.
func (t *Txn) flushFor(ctx context.Context, reqs []kvpb.Request, n int) error {
	if len(t.buffered) == 0 {
		return nil
	}
	if len(t.buffered)+n > maxBufferedWrites || t.touchesBuffer(reqs) {
		return t.flush(ctx)
	}
	return nil
}

func (t *Txn) touchesBuffer(reqs []kvpb.Request) bool {
	for _, req := range reqs {
		h := req.Header()
		for _, w := range t.buffered {
			k := w.Header().Key
			if bytes.Equal(k, h.Key) || len(h.EndKey) > 0 && bytes.Compare(h.Key, k) <= 0 && bytes.Compare(k, h.EndKey) < 0 {
				return true
			}
		}
	}
	return false
}

// flush sends the buffered writes, as pipelined writes.
func (t *Txn) flush(ctx context.Context) error {
	b := &Batch{reqs: t.takeBuffered()}
	return t.send(ctx, b, false)
}

func (t *Txn) takeBuffered() []kvpb.Request {
	reqs := t.buffered
	t.buffered = nil
	return reqs
}

// dropBufferedAfter forgets the buffered writes numbered above seq (a rollback to a
// savepoint taken at seq).
func (t *Txn) dropBufferedAfter(seq int32) {
	kept := t.buffered[:0]
	for _, req := range t.buffered {
		if *kvpb.WriteSequence(req) <= seq {
			kept = append(kept, req)
		}
	}
	clear(t.buffered[len(kept):])
	t.buffered = kept
}
