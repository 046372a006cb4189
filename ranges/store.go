package ranges

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/ranges/raftnet"
)

var zeroTS hlc.Timestamp

// StoreConfig configures a store.
type StoreConfig struct {
	// Dir holds the Pebble database and the Raft logs of every replica.
	Dir     string
	NodeID  uint64
	StoreID uint64
	Clock   *hlc.Clock
	Logger  *slog.Logger
	// TxnLivenessThreshold is how long a transaction may go without a heartbeat before
	// others may abort it.
	TxnLivenessThreshold time.Duration
	// RaftSnapshotThreshold is the number of log entries after which Raft snapshots a range
	// and truncates its log (bounding replay on restart); 0 keeps hashicorp/raft's 8,192. A
	// snapshot copies all of the range's data, which under TPC-C at ten warehouses took a
	// tenth of each node's CPU; but eight times that kept gigabytes of bulk-load entries in
	// the logs of busy ranges and ran nodes out of memory on restart. Truncating by log size
	// without copying the range (its state is durable in Pebble) is the fix not yet made.
	RaftSnapshotThreshold uint64
	// GCTTL is how long overwritten and deleted versions stay readable; older ones are
	// collected, and reads below the collected horizon are refused. Default DefaultGCTTL.
	GCTTL time.Duration
	// GCInterval is how often the store collects garbage. Default DefaultGCInterval.
	GCInterval time.Duration
	// TxnRecordTTL is how long the record of a transaction that ended ABORTED, or was
	// abandoned PENDING, stays after its last sign of life; garbage collection removes it
	// then. Default DefaultTxnRecordTTL. See Store.recordMayBeGone.
	TxnRecordTTL time.Duration
	// SettleTxnRecord, if set, finishes what the dead coordinator of a transaction left
	// undone: garbage collection calls it with each STAGING or COMMITTED record silent for
	// TxnRecordTTL (such records may list intents nobody resolved), to recover the
	// transaction, resolve its intents and remove the record, across ranges.
	SettleTxnRecord func(ctx context.Context, rec *kvpb.Transaction) error
	// GCProtected, if set, returns the oldest timestamp a live reader anywhere in the cluster
	// reads at (zero: none): garbage collection keeps every version such a reader can see,
	// even past the GC TTL.
	GCProtected func() hlc.Timestamp
	// CacheBytes is the size of the block cache of the store's Pebble database: the data it
	// serves without reading and decompressing sstable blocks. Default mvcc.DefaultCacheBytes.
	CacheBytes int64

	// Transport carries the Raft traffic of the store's replicas to other nodes. Without one
	// the store is alone: its ranges can have no replicas elsewhere.
	Transport *raftnet.Transport
	// JoinOnly keeps an empty store from creating the first range: it belongs to a node
	// joining a cluster, and gets its replicas from the other nodes.
	JoinOnly bool
	// RaftHeartbeatTimeout is how long a follower waits without hearing from its leader
	// before it calls an election; leaders heartbeat ten times as often. Default
	// DefaultRaftHeartbeatTimeout, or 150ms for a store without a Transport.
	RaftHeartbeatTimeout time.Duration
	// LeaseGate, when set, must approve before a replica serves as the leaseholder of any
	// range but the first (which holds node liveness itself, and so cannot depend on it):
	// it is the node's liveness, whose expiry fences a leaseholder that can no longer show
	// the cluster it is alive (see docs/decisions.md).
	LeaseGate func() error
}

// DefaultRaftHeartbeatTimeout balances failover time against the idle cost of many ranges:
// a dead leader is replaced after 2-4s, and 1,000 idle replicas cost a few percent of a core
// (see docs/benchmarks.md).
const DefaultRaftHeartbeatTimeout = 2 * time.Second

// InvariantViolated begins every log message that reports a broken invariant of the data a
// store holds: such a line means a bug, and the chaos tests fail on it.
const InvariantViolated = "invariant violated"

// Store is the set of replicas on one disk.
type Store struct {
	cfg           StoreConfig
	db            *pebble.DB
	log           *slog.Logger
	transport     *raftnet.Transport
	ownsTransport bool

	mu       sync.RWMutex
	replicas map[uint64]*Replica
	// byStart lists the initialized replicas by start key, for routing.
	byStart []*Replica
	router  Router

	// lowWater is where new replicas' timestamp caches start: no write lands at or below it.
	lowWater hlc.Timestamp
	// spanMu keeps a replica's destruction from deleting keys that a snapshot of another
	// range is installing.
	spanMu sync.Mutex
	// persistedHigh is the store low water last persisted (see coverFutureWrite).
	persistedMu   sync.Mutex
	persistedHigh hlc.Timestamp

	stats storeStats

	// wg tracks background work (async intent resolution) stopped by Close.
	wg       sync.WaitGroup
	stopper  chan struct{}
	stopOnce sync.Once
}

// OpenStore opens (or creates) the store in cfg.Dir and starts the replicas it holds. A new
// store is bootstrapped with a single range covering the whole key space.
func OpenStore(ctx context.Context, cfg StoreConfig) (*Store, error) {
	if cfg.Clock == nil {
		return nil, errors.New("store: a clock is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NodeID == 0 {
		cfg.NodeID = 1
	}
	if cfg.StoreID == 0 {
		cfg.StoreID = 1
	}
	if cfg.TxnLivenessThreshold == 0 {
		cfg.TxnLivenessThreshold = 5 * time.Second
	}
	if cfg.GCTTL == 0 {
		cfg.GCTTL = DefaultGCTTL
	}
	if cfg.TxnRecordTTL == 0 {
		cfg.TxnRecordTTL = DefaultTxnRecordTTL
	}
	if cfg.GCInterval == 0 {
		cfg.GCInterval = DefaultGCInterval
	}
	if cfg.RaftHeartbeatTimeout == 0 {
		cfg.RaftHeartbeatTimeout = DefaultRaftHeartbeatTimeout
		if cfg.Transport == nil {
			// Alone, a store's groups have one voter each and nobody to disagree with:
			// short timeouts just make the first election (at every start) quick.
			cfg.RaftHeartbeatTimeout = 150 * time.Millisecond
		}
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "raft"), 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	opts := mvcc.Options(cfg.CacheBytes)
	db, err := mvcc.Open(filepath.Join(cfg.Dir, "data"), opts)
	opts.Cache.Unref()
	if err != nil {
		return nil, fmt.Errorf("store: opening pebble: %w", err)
	}
	s := &Store{cfg: cfg, db: db, log: cfg.Logger, transport: cfg.Transport, replicas: make(map[uint64]*Replica), stopper: make(chan struct{})}
	report := func(key []byte, intentTS, commitTS hlc.Timestamp) {
		s.log.Error(InvariantViolated+": an intent was committed below its own timestamp",
			"key", keys.Pretty(key), "intent", intentTS, "commit", commitTS)
	}
	mvcc.CommitBelowIntent.CompareAndSwap(nil, &report) // one process, one report (tests run many stores)
	if s.transport == nil {
		s.transport, s.ownsTransport = raftnet.New(cfg.NodeID, nil, cfg.Logger), true
	}
	if s.lowWater, err = startClock(ctx, db, cfg.Clock); err != nil {
		s.Close()
		return nil, err
	}
	s.persistedHigh = s.lowWater
	if err := s.removeTombstonedLeftovers(); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	descs, err := s.loadDescriptors()
	if err != nil {
		s.Close()
		return nil, err
	}
	bootstrap := len(descs) == 0 && !cfg.JoinOnly
	if len(descs) > 0 && !s.ownsTransport {
		// A restart: keep the promises the replicas may have made to their leaders before
		// it (see Replica.extendLease).
		s.transport.RefuseVotesFor(cfg.RaftHeartbeatTimeout)
	}
	if bootstrap {
		d := &kvpb.RangeDescriptor{
			RangeID: 1, StartKey: keys.KeyMin, EndKey: keys.KeyMax,
			Replicas: []kvpb.ReplicaDescriptor{{NodeID: cfg.NodeID, StoreID: cfg.StoreID, ReplicaID: 1}},
		}
		b := db.NewIndexedBatch()
		err := writeDescriptor(b, d, d, cfg.Clock.Now(), localTimestamp(cfg.Clock))
		if err == nil {
			err = b.Commit(pebble.Sync)
		}
		b.Close()
		if err != nil {
			s.Close()
			return nil, err
		}
		descs = append(descs, d)
	}
	for _, d := range descs {
		// After a restart nothing is known about past reads: assume they reached the
		// present, pushing any write below "now" (plus the max clock offset) above it.
		r, err := newReplica(ctx, s, d, s.lowWater)
		if err != nil {
			s.Close()
			return nil, err
		}
		if bootstrap {
			// A range just made holds nothing another clock, or an earlier run of this
			// one, wrote (see takeLease).
			r.inheritedMinValid.Store(1)
		}
		s.addReplica(r)
	}
	// A message for a range this store has no replica of means the range is being given
	// one here.
	s.transport.SetUnknownRangeHandler(s.createReplica)
	if s.ownsTransport {
		// Alone, the store elects itself leader of every range; wait for that, so that it
		// is ready to serve when OpenStore returns.
		for _, r := range s.replicas {
			if err := r.awaitSoleLeaseholder(ctx); err != nil {
				s.Close()
				return nil, err
			}
		}
	}
	s.wg.Add(1)
	go s.gcLoop()
	return s, nil
}

func (s *Store) loadDescriptors() ([]*kvpb.RangeDescriptor, error) {
	it, err := spanIter(s.db, prefixSpan(keys.RangeIDPrefix))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []*kvpb.RangeDescriptor
	for ok := it.First(); ok; ok = it.Next() {
		k, _, err := mvcc.DecodeKey(it.Key())
		if err != nil {
			return nil, err
		}
		if len(k) != len(keys.RangeIDPrefix)+8+4 || string(k[len(k)-4:]) != "desc" {
			continue
		}
		v, _, err := mvcc.GetUnversioned(s.db, k)
		if err != nil {
			return nil, err
		}
		d, err := decodeDescriptor(v)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, it.Error()
}

func (s *Store) addReplica(r *Replica) {
	s.mu.Lock()
	s.replicas[r.rangeID] = r
	s.mu.Unlock()
	s.descriptorChanged(r)
}

// descriptorChanged re-indexes the store's replicas after r's descriptor changed.
func (s *Store) descriptorChanged(r *Replica) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byStart = s.byStart[:0]
	for _, r := range s.replicas {
		if r.initialized() {
			s.byStart = append(s.byStart, r)
		}
	}
	sort.Slice(s.byStart, func(i, j int) bool {
		return string(s.byStart[i].Desc().StartKey) < string(s.byStart[j].Desc().StartKey)
	})
}

// createReplica starts an empty replica of range rangeID, which its Raft leader fills with
// a snapshot. It is how a replica arrives on a store.
func (s *Store) createReplica(ctx context.Context, rangeID uint64) error {
	s.mu.Lock()
	if _, ok := s.replicas[rangeID]; ok {
		s.mu.Unlock()
		return nil
	}
	select {
	case <-s.stopper:
		s.mu.Unlock()
		return errors.New("store is closing")
	default:
	}
	// A range merged away sends no more messages once its leader stops, but one may still
	// be on the way: it must not bring the range back.
	if gone, err := s.tombstoned(rangeID); err != nil || gone {
		s.mu.Unlock()
		if err != nil {
			return err
		}
		return fmt.Errorf("r%d was merged away on this store", rangeID)
	}
	// Hold the lock while starting, so that concurrent messages create one replica.
	defer s.mu.Unlock()
	r, err := newReplica(ctx, s, &kvpb.RangeDescriptor{RangeID: rangeID}, s.cfg.Clock.Now().Add(int64(s.cfg.Clock.MaxOffset())))
	if err != nil {
		return err
	}
	s.replicas[rangeID] = r
	s.log.Info("created replica to receive a snapshot", "range", rangeID)
	return nil
}

// Replica returns the store's replica of range rangeID, or nil.
func (s *Store) Replica(rangeID uint64) *Replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.replicas[rangeID]
}

// DB is the store's Pebble database (for introspection and tests).
func (s *Store) DB() *pebble.DB { return s.db }

// Clock is the store's clock.
func (s *Store) Clock() *hlc.Clock { return s.cfg.Clock }

// LookupReplica returns the replica whose range holds key.
func (s *Store) LookupReplica(key []byte) (*Replica, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := keys.Addr(key)
	i := sort.Search(len(s.byStart), func(i int) bool {
		return string(s.byStart[i].Desc().StartKey) > string(a)
	})
	if i > 0 {
		if r := s.byStart[i-1]; r.Desc().ContainsKey(key) {
			return r, nil
		}
	}
	return nil, &kvpb.RangeNotFoundError{Key: key, StoreID: s.cfg.StoreID}
}

// Descriptors returns the descriptors of every range on the store, in key order.
func (s *Store) Descriptors() []kvpb.RangeDescriptor {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]kvpb.RangeDescriptor, 0, len(s.byStart))
	for _, r := range s.byStart {
		out = append(out, *r.Desc())
	}
	return out
}

// Send evaluates a batch on the range that holds its keys. Every key of the batch must lie in
// one range; the transaction layer splits batches by range before sending.
func (s *Store) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	var r *Replica
	var err error
	if ba.RangeID != 0 {
		s.mu.RLock()
		r = s.replicas[ba.RangeID]
		s.mu.RUnlock()
		if r == nil {
			// The range may have been merged into (or replaced by) one whose replica here
			// holds the keys: that descriptor is the sender's way forward.
			key := batchAnchor(ba)
			if other := s.leaseholderFor(key); other != nil {
				return nil, &kvpb.RangeKeyMismatchError{RangeID: ba.RangeID, Key: key, Ranges: []kvpb.RangeDescriptor{*other.Desc()}}
			}
			return nil, &kvpb.RangeNotFoundError{RangeID: ba.RangeID, StoreID: s.cfg.StoreID}
		}
	} else {
		key := batchAnchor(ba)
		if r, err = s.LookupReplica(key); err != nil {
			return nil, err
		}
	}
	return r.Send(ctx, ba)
}

// Router sends batches to whichever range, on whichever node, holds their keys (the
// node's DistSender).
type Router interface {
	RangeForKey(ctx context.Context, key []byte) (kvpb.RangeDescriptor, error)
	Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error)
}

// SetRouter gives the store the way to reach ranges it does not hold, for pushing and
// resolving other transactions met while evaluating. Without one, the store routes among
// its own replicas.
func (s *Store) SetRouter(r Router) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.router = r
}

// route sends ba (with no RangeID) to the range that holds its keys. The range found may
// split or merge before the batch arrives (RangeKeyMismatchError, nothing applied): the
// batch is routed again by fresh descriptors, for as long as ctx allows.
func (s *Store) route(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	for attempt := 0; ; attempt++ {
		routed := *ba
		if router := s.currentRouter(); router != nil {
			d, err := router.RangeForKey(ctx, batchAnchor(ba))
			if err != nil {
				return nil, err
			}
			routed.RangeID = d.RangeID
		}
		br, err := s.sendToRange(ctx, &routed)
		var mismatch *kvpb.RangeKeyMismatchError
		if !errors.As(err, &mismatch) {
			return br, err
		}
		if attempt >= 2 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("rerouting after %v: %w", err, ctx.Err())
			case <-time.After(time.Duration(min(attempt, 25)) * 10 * time.Millisecond):
			}
		}
	}
}

// sendToRange sends ba to range ba.RangeID, wherever it is (or, alone, to whichever local
// replica holds its keys when it names no range).
func (s *Store) sendToRange(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	if router := s.currentRouter(); router != nil {
		return router.Send(ctx, ba)
	}
	return s.Send(ctx, ba)
}

func (s *Store) currentRouter() Router {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.router
}

// batchAnchor is a key that decides which range a batch is for.
func batchAnchor(ba *kvpb.BatchRequest) []byte {
	for _, req := range ba.Requests {
		if h := req.Header(); h.Key != nil {
			return h.Key
		}
	}
	if ba.Txn != nil {
		return ba.Txn.Key
	}
	return keys.KeyMin
}

// RangeForKey returns the descriptor of the range holding key.
func (s *Store) RangeForKey(_ context.Context, key []byte) (kvpb.RangeDescriptor, error) {
	r, err := s.LookupReplica(key)
	if err != nil {
		return kvpb.RangeDescriptor{}, err
	}
	return *r.Desc(), nil
}

// async runs f in the background, tracked so Close waits for it.
func (s *Store) async(f func(ctx context.Context)) {
	select {
	case <-s.stopper:
		return
	default:
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.stopper:
				cancel()
			case <-ctx.Done():
			}
		}()
		f(ctx)
	}()
}

// Close stops background work and every replica, then closes the database.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stopper) })
	s.wg.Wait()
	s.mu.Lock()
	replicas := s.replicas
	s.replicas = map[uint64]*Replica{}
	s.byStart = nil
	s.mu.Unlock()
	// Replicas stop without the store lock: a replica applying a descriptor change takes it.
	var errs []error
	for _, r := range replicas {
		errs = append(errs, r.close())
	}
	if s.ownsTransport {
		errs = append(errs, s.transport.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
		s.db = nil
	}
	return errors.Join(errs...)
}

// storeStats are a store's counters, shared by its replicas.
type storeStats struct {
	proposals, applied, appliedBytes, lockPushes, snapshotsSent atomic.Int64
}

// StoreStats are counts of what a store's replicas did since it opened.
type StoreStats struct {
	// Proposals counts the commands the store's leaseholders proposed to Raft; Applied and
	// AppliedBytes, the commands its replicas applied (a follower's too) and their size.
	Proposals, Applied, AppliedBytes int64
	// LockPushes counts the times a request waiting for another transaction's lock or
	// intent pushed its holder.
	LockPushes int64
	// SnapshotsSent counts the copies of a range's state made to send to a replica too far
	// behind for the log (or a new one).
	SnapshotsSent int64
}

// Stats returns the store's counts so far.
func (s *Store) Stats() StoreStats {
	return StoreStats{
		Proposals: s.stats.proposals.Load(), Applied: s.stats.applied.Load(), AppliedBytes: s.stats.appliedBytes.Load(),
		LockPushes: s.stats.lockPushes.Load(), SnapshotsSent: s.stats.snapshotsSent.Load(),
	}
}

// EngineMetrics are the store's Pebble metrics: compactions, flushes, the block cache, the
// WAL, the levels.
func (s *Store) EngineMetrics() *pebble.Metrics { return s.db.Metrics() }
