package catalog

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/txn"
)

// A schema lease lets a node use the schema version it read without reading it again in
// every transaction: reading it is a round trip to the system range's leaseholder, often
// another node, and every transaction of the cluster would queue on that one key.
//
// A node that holds a lease on version v until U has promised itself to use v only for
// transactions whose whole uncertainty interval ends at or before U, and has written the
// lease to the system span (SchemaLeaseKey). A schema change reads those records and
// commits above every U it finds, waiting for the clock to pass them: so no transaction
// that used v could have seen the change, even as uncertain. Before that it freezes leases
// (a record under SchemaLeaseFreezePrefix, removed once it has finished), so that nodes
// stop renewing theirs until it commits: a renewal meanwhile would fail its refresh; and it
// drops the lease of its own node and commits above its clock, since its own transactions
// are ordered by that clock.
//
// A transaction that uses a lease reads nothing; it records the version key among the
// spans it read, so that if it is pushed above a schema change its refresh fails.
type leases struct {
	db        *txn.DB
	clock     *hlc.Clock
	nodeID    uint64
	log       *slog.Logger
	lastTook  atomic.Int64  // how long the last acquisition took (nanoseconds)
	renewWant chan struct{} // asks the renewer (RunLeases) for a fresh lease
	served    atomic.Int64  // transactions that took the version from the lease
	lastUse   atomic.Int64  // when a transaction last asked for the lease (Unix nanoseconds)

	mu      sync.Mutex
	freezes map[[16]byte]bool // schema change transactions of this node that froze leases
	gen     uint64            // bumped when the lease is dropped; an older acquisition is not installed
	held    bool
	v       uint64
	from    hlc.Timestamp // the lease serves transactions reading at or after from
	until   hlc.Timestamp // U
	span    time.Duration // the window the lease was taken with
}

// leaseWindow is how long a lease serves after it is taken, at least. A node whose
// acquisitions take long (the system range's leaseholder is far away: another region) takes
// longer ones, leaseWindowAcquisitions times its last acquisition's time, up to
// leaseWindowMax: a lease must outlast the renewal that replaces it, or the node's
// transactions go without one, each paying the trip to read the version. A schema change
// waits out every node's lease, so those of distant nodes cost it more.
const (
	leaseWindow             = 500 * time.Millisecond
	leaseWindowMax          = 10 * time.Second
	leaseWindowAcquisitions = 8
)

// window is how long the node's next lease serves.
func (l *leases) window() time.Duration {
	w := leaseWindowAcquisitions * time.Duration(l.lastTook.Load())
	return min(max(w, leaseWindow), leaseWindowMax)
}

// leaseKeepWarm is how long after a transaction last asked for the lease the node keeps
// renewing it before it runs out. A transaction that finds no lease reads the version from the
// system range, a round trip to its leaseholder (across regions, often), and the lease is
// short: without this, the first statements after any pause of a second paid that trip, and
// a prepared statement twice (its planning and its execution). Past it an idle node writes
// nothing.
const leaseKeepWarm = 30 * time.Second

// leaseFreeze bounds how long a schema change keeps nodes from taking leases, should it
// never remove its freeze record (its node died).
const leaseFreeze = 30 * time.Second

// EnableLeases makes the catalog take schema leases for node nodeID (see leases). It is for
// clusters of several nodes: alone, a node reads the version from its own store. RunLeases
// must run for leases to be taken.
func (c *Catalog) EnableLeases(db *txn.DB, clock *hlc.Clock, nodeID uint64, log *slog.Logger) {
	c.leases = &leases{db: db, clock: clock, nodeID: nodeID, log: log,
		renewWant: make(chan struct{}, 1), freezes: map[[16]byte]bool{}}
}

// LeasedTransactions counts the transactions that took the schema version from the node's
// lease instead of reading it.
func (c *Catalog) LeasedTransactions() int64 {
	if c.leases == nil {
		return 0
	}
	return c.leases.served.Load()
}

// RunLeases takes and renews the node's schema lease while transactions ask for it, until
// ctx ends.
func (c *Catalog) RunLeases(ctx context.Context) error {
	l := c.leases
	if l == nil {
		return nil
	}
	var renew <-chan time.Time // renewal ahead of expiry, while the node is in use
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.renewWant:
		case <-renew:
		}
		renew = nil
		taken, err := c.acquireLease(ctx)
		select {
		case <-l.renewWant: // asked for while this one was being taken
		default:
		}
		if err != nil && ctx.Err() == nil {
			l.log.Warn("taking a schema lease", "err", err)
		}
		warm := time.Since(time.Unix(0, l.lastUse.Load())) < leaseKeepWarm
		switch {
		case taken && warm:
			l.mu.Lock()
			until, span := l.until, l.span
			l.mu.Unlock()
			renew = time.After(l.untilRenewal(until, span))
		case !taken:
			// Frozen by a schema change, or failed: transactions read the version
			// meanwhile, and the next one asks again, after a pause; a node in use tries
			// again after the pause by itself.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(leaseRetryPause):
			}
			if warm {
				renew = time.After(0)
			}
		}
	}
}

// leasedVersion returns the leased schema version for a transaction reading at ts, if the
// lease covers its uncertainty interval, and asks for a renewal when the lease is missing
// or nearly used up.
func (l *leases) leasedVersion(ts hlc.Timestamp) (uint64, bool) {
	l.lastUse.Store(time.Now().UnixNano())
	l.mu.Lock()
	v, held, from, until, span := l.v, l.held, l.from, l.until, l.span
	l.mu.Unlock()
	limit := ts.Add(int64(l.clock.MaxOffset()))
	ok := held && !ts.Less(from) && limit.LessEq(until)
	if ok {
		l.served.Add(1)
	}
	if !ok || l.untilRenewal(until, span) <= 0 {
		select {
		case l.renewWant <- struct{}{}:
		default:
		}
	}
	return v, ok
}

// untilRenewal is how long until a lease held until until, taken with window span, is due
// for renewal: when half of span is left. It is the lease's own window that counts, not the
// next one: after an acquisition slower than the one before, the next window is longer than
// the lease just taken, and a renewal timed by it began after that lease had run out.
func (l *leases) untilRenewal(until hlc.Timestamp, span time.Duration) time.Duration {
	usable := until.WallTime - int64(l.clock.MaxOffset()) - l.clock.PhysicalNow()
	return time.Duration(usable) - span/2
}

// drop forgets the node's lease, and keeps any acquisition under way from installing one.
func (l *leases) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	l.held = false
}

// leaseRetryPause is how long the node waits before it tries again to take a lease that a
// schema change froze or that failed.
const leaseRetryPause = 50 * time.Millisecond

// acquireLease reads the schema version and writes the node's lease on it, unless a schema
// change has frozen leases. It reports whether it took the lease.
func (c *Catalog) acquireLease(ctx context.Context) (bool, error) {
	l := c.leases
	l.mu.Lock()
	gen := l.gen
	l.mu.Unlock()
	var (
		v      uint64
		until  hlc.Timestamp
		frozen bool
	)
	start, window := time.Now(), l.window()
	err := l.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		var b txn.Batch
		b.Scan(keys.SchemaLeaseFreezePrefix, keys.PrefixEnd(keys.SchemaLeaseFreezePrefix), 0, false)
		b.Get(keys.SchemaVersionKey)
		if err := t.Run(ctx, &b); err != nil {
			return err
		}
		now := t.ReadTimestamp()
		frozen = false
		for _, row := range b.Results[0].Rows {
			if ts, err := decodeTimestamp(row.Value); err == nil && now.Less(ts) {
				frozen = true
				return nil
			}
		}
		v = schemaVersionOf(b.Results[1])
		until = now.Add(int64(l.clock.MaxOffset() + window))
		var w txn.Batch
		w.Put(keys.SchemaLeaseKey(l.nodeID), encodeLease(v, until))
		return t.Run(ctx, &w)
	})
	if err != nil {
		return false, err
	}
	l.lastTook.Store(int64(time.Since(start)))
	if frozen {
		return false, nil
	}
	c.noteVersion(v)
	from := l.clock.Now() // after the commit: the record is in place for every later reader
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen != gen {
		return false, nil // a schema change of this node began meanwhile
	}
	l.held, l.v, l.from, l.until, l.span = true, v, from, until, window
	return true, nil
}

// awaitLeases prepares schema change t to commit: it freezes leases, drops this node's,
// waits until every other node's lease has run out, and moves t's timestamp above this
// node's clock.
func (c *Catalog) awaitLeases(ctx context.Context, t *txn.Txn) error {
	l := c.leases
	if l == nil {
		return nil
	}
	// A schema change that bumps the version again (several descriptors in one
	// transaction) has nothing more to wait for: since its first bump no node, this one
	// included, has taken a lease, and it already commits above every lease there was.
	if first, err := l.freeze(ctx, t); err != nil || !first {
		return err
	}
	l.drop()
	// The leases are read in a transaction of their own, which starts after the freeze: a
	// renewal that read no freeze and commits after this read is pushed above it, and its
	// refresh then meets the freeze and fails. Read in t, which may have started before
	// the freeze, such a renewal would make t's refresh fail instead, attempt after attempt.
	var b txn.Batch
	if err := l.db.RunTxn(ctx, func(ctx context.Context, st *txn.Txn) error {
		b = txn.Batch{}
		b.Scan(keys.SchemaLeasePrefix, keys.PrefixEnd(keys.SchemaLeasePrefix), 0, false)
		return st.Run(ctx, &b)
	}); err != nil {
		return fmt.Errorf("reading schema leases: %w", err)
	}
	var last hlc.Timestamp
	for _, row := range b.Results[0].Rows {
		node, ok := keys.SchemaLeaseNode(row.Key)
		if !ok || node == l.nodeID {
			continue
		}
		_, until, err := decodeLease(row.Value)
		if err != nil {
			return fmt.Errorf("schema lease of node %d: %w", node, err)
		}
		last = last.Forward(until)
	}
	if wait := time.Duration(last.WallTime - l.clock.PhysicalNow()); wait > 0 {
		if wait > 2*(l.clock.MaxOffset()+leaseWindowMax) {
			return fmt.Errorf("a schema lease runs until %s, %s from now: clocks are off", last, wait)
		}
		timer := time.NewTimer(wait + time.Millisecond)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
	t.ForwardTimestamp(l.clock.Now().Forward(last.Next()))
	return nil
}

// freeze keeps every node from taking a schema lease until schema change t has finished.
// It reports false when t had frozen them already.
func (l *leases) freeze(ctx context.Context, t *txn.Txn) (bool, error) {
	id := t.ID()
	l.mu.Lock()
	done := l.freezes[id]
	l.freezes[id] = true
	l.mu.Unlock()
	if done {
		return false, nil
	}
	key := keys.SchemaLeaseFreezeKey(id)
	if err := l.db.RunTxn(ctx, func(ctx context.Context, ft *txn.Txn) error {
		var b txn.Batch
		b.Put(key, encodeTimestamp(l.clock.Now().Add(int64(leaseFreeze))))
		return ft.Run(ctx, &b)
	}); err != nil {
		l.mu.Lock()
		delete(l.freezes, id)
		l.mu.Unlock()
		return false, fmt.Errorf("freezing schema leases: %w", err)
	}
	t.OnFinish(func(ctx context.Context) {
		l.mu.Lock()
		delete(l.freezes, id)
		l.mu.Unlock()
		// Should this fail, the record lapses by itself.
		_ = l.db.RunTxn(ctx, func(ctx context.Context, ft *txn.Txn) error {
			var b txn.Batch
			b.Del(key)
			return ft.Run(ctx, &b)
		})
	})
	return true, nil
}

func encodeLease(v uint64, until hlc.Timestamp) []byte {
	return append(binary.BigEndian.AppendUint64(nil, v), encodeTimestamp(until)...)
}

func decodeLease(b []byte) (uint64, hlc.Timestamp, error) {
	if len(b) != 8+12 {
		return 0, hlc.Timestamp{}, fmt.Errorf("schema lease of %d bytes", len(b))
	}
	ts, err := decodeTimestamp(b[8:])
	return binary.BigEndian.Uint64(b), ts, err
}

func encodeTimestamp(ts hlc.Timestamp) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(ts.WallTime))
	return binary.BigEndian.AppendUint32(b, uint32(ts.Logical))
}

func decodeTimestamp(b []byte) (hlc.Timestamp, error) {
	if len(b) != 12 {
		return hlc.Timestamp{}, fmt.Errorf("timestamp of %d bytes", len(b))
	}
	return hlc.Timestamp{WallTime: int64(binary.BigEndian.Uint64(b)), Logical: int32(binary.BigEndian.Uint32(b[8:]))}, nil
}
