package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/internal/certs"
	"github.com/meridiandb/meridian/placement"
	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/raftnet"
	"github.com/meridiandb/meridian/ranges/rpc"
	"github.com/meridiandb/meridian/server/connmux"
	"github.com/meridiandb/meridian/server/gossip"
	"github.com/meridiandb/meridian/sql"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/txn"
	"github.com/meridiandb/meridian/wire"
)

// Config configures a node.
type Config struct {
	// StoreDir holds the node's data; it is created if missing.
	StoreDir string
	// CacheBytes is the store's block cache (see ranges.StoreConfig.CacheBytes).
	CacheBytes int64
	// MaxTempStorage bounds the disk the node's statements hold at once in temporary files
	// (sorts, joins and aggregations past their memory budget); 0: DefaultMaxTempStorage.
	MaxTempStorage int64
	// ListenAddr is the one address for SQL clients, other nodes (RPC) and gossip (which
	// also uses its port number on UDP), e.g. "127.0.0.1:26257"; port 0 picks one.
	ListenAddr string
	// AdvertiseAddr is the address other nodes use to reach this one; default the bound
	// ListenAddr.
	AdvertiseAddr string
	// HTTPAddr is the HTTP status address; "" disables it.
	HTTPAddr string
	// Join lists nodes of the cluster to join. Empty means a single-node cluster that
	// initializes itself and replicates nothing. A node with Join and no identity yet waits
	// until `meridian init` makes it the first node, or until a listed node admits it.
	Join []string
	// Locality places the node, e.g. {"region": "us-east1", "zone": "a"}.
	Locality map[string]string
	// Password, when set, is root's password on this node (root may also have one of its
	// own, set with ALTER USER, which this one overrides), and makes the node secure: every
	// SQL user must then prove who they are, with a password (SCRAM-SHA-256) or a client
	// certificate.
	Password string
	// CertsDir holds the node's certificates (ca.crt, node.crt, node.key; see
	// internal/certs). With it the node is secure: SQL clients must use TLS, and every user
	// must prove who they are.
	CertsDir string
	// Insecure runs the node in plain text, where users without a password log in without
	// one (users with a password still need it). A node without CertsDir and Password runs
	// so anyway; Insecure says it was meant, and refuses CertsDir and Password.
	Insecure bool
	// MaxOffset is the largest clock offset tolerated between nodes.
	MaxOffset time.Duration
	Logger    *slog.Logger

	// ReplicationFactor is how many replicas each range gets (default 3, or fewer while the
	// cluster has fewer nodes).
	ReplicationFactor int
	// TimeUntilStoreDead is how long a node may be unreachable before its replicas are
	// replaced elsewhere (server.time_until_store_dead; default 5 minutes).
	TimeUntilStoreDead time.Duration
	// RaftHeartbeatTimeout tunes Raft's failure detection (see ranges.StoreConfig).
	RaftHeartbeatTimeout time.Duration
	// ReplicateInterval is how often the leaseholders check their ranges' replicas and
	// whether they should split (default 1s).
	ReplicateInterval time.Duration
	// RangeMaxBytes is the size above which a range splits (default 64 MiB).
	RangeMaxBytes int64
	// LoadSplitQPS is the request rate above which a range splits (default 2500/s).
	LoadSplitQPS float64
	// DisableMergeQueue keeps small neighbouring ranges apart unless the cluster setting
	// kv.range_merge.queue_enabled says otherwise.
	DisableMergeQueue bool
	// MergeMinAge is how long both ranges must have kept their spans before the merge queue
	// merges them (default 30s): long enough to measure their load.
	MergeMinAge time.Duration
	// GossipTiming tunes gossip's failure detection; the zero value is the LAN default.
	GossipTiming gossip.Timing
	// LivenessTTL is how long a node's liveness heartbeat keeps it live (default
	// DefaultLivenessTTL).
	LivenessTTL time.Duration
	// GCTTL and GCInterval configure MVCC garbage collection (ranges.StoreConfig).
	GCTTL, GCInterval time.Duration
	// SimulatedLatency, for tests, benchmarks and demos on one machine, gives the one-way
	// delay between this node and a peer by their localities (the peer's as gossip has it,
	// nil if unknown): every message between them is held that long on the connection this
	// node dials (rpc.Dialer.SimulateLatency), so that one machine's nodes behave like a
	// cluster spread over zones or regions.
	SimulatedLatency func(local, peer map[string]string) time.Duration
}

// Node is a running Meridian node.
type Node struct {
	cfg   Config
	log   *slog.Logger
	clock *hlc.Clock

	ln        net.Listener
	mux       *connmux.Mux
	grpc      *grpc.Server
	dialer    *rpc.Dialer
	transport *raftnet.Transport
	wire      *wire.Server
	httpLn    net.Listener
	http      *http.Server
	advertise string

	// Set once the node knows its place in a cluster (see initialize); ready is closed then.
	nodeID  atomic.Uint64
	ready   chan struct{}
	readyMu sync.Mutex // serializes initialize
	store   *ranges.Store
	ds      *txn.DistSender
	db      *txn.DB
	cat     *catalog.Catalog
	sql     *sql.Server
	gossip  *gossip.Gossip
	cluster string

	initCh chan chan error // Init requests for a waiting node

	addrMu sync.Mutex
	addrs  map[uint64]string // node addresses learned outside gossip (from Join answers)

	localities sync.Map // node ID → its locality, once gossip knew it (localityOf)

	deadMu    sync.Mutex
	deadSince map[uint64]time.Time

	live      liveness
	settings  clusterSettings
	draining  atomic.Bool // decommissioning: leases and replicas move away
	startedAt time.Time
	// heartbeatsPaused stops liveness heartbeats (tests of a node that cannot heartbeat).
	heartbeatsPaused atomic.Bool
	// leaseMoveDeferred is when a lease move to even out leases was first put off for the
	// range's unreplicated locks (replicate loop only; see deferLeaseMove).
	leaseMoveDeferred map[uint64]deferredMove
	// removedSince is when each replica was first seen removed (replicate loop only).
	removedSince map[uint64]time.Time
	tagsMu       sync.Mutex
	lastTags     map[string]string

	ctx    context.Context // canceled by Stop; owns background work
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start starts serving. A node that already belongs to a cluster, or a single-node one,
// opens its store before returning; a node waiting to join or be initialized returns at
// once and gets ready in the background (see Ready). The context bounds start-up only.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxOffset == 0 {
		cfg.MaxOffset = hlc.DefaultMaxOffset
	}
	if cfg.ReplicateInterval == 0 {
		cfg.ReplicateInterval = time.Second
	}
	if cfg.TimeUntilStoreDead == 0 {
		cfg.TimeUntilStoreDead = placement.DefaultTimeUntilDead
	}
	if cfg.RangeMaxBytes == 0 {
		cfg.RangeMaxBytes = ranges.DefaultRangeMaxBytes
	}
	if cfg.MergeMinAge == 0 {
		cfg.MergeMinAge = 30 * time.Second
	}
	if cfg.LoadSplitQPS == 0 {
		cfg.LoadSplitQPS = 2500
	}
	n := &Node{cfg: cfg, log: cfg.Logger, ready: make(chan struct{}), initCh: make(chan chan error),
		addrs: map[uint64]string{}, deadSince: map[uint64]time.Time{}, startedAt: time.Now()}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.Stop()
		}
	}()
	n.clock = hlc.NewClock(hlc.UnixNano, cfg.MaxOffset)

	if n.ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.ListenAddr, err)
	}
	n.advertise = cfg.AdvertiseAddr
	if n.advertise == "" {
		n.advertise = n.ln.Addr().String()
	}
	n.mux = connmux.New(n.ln, connmux.Options{Logger: cfg.Logger})
	grpcLn := n.mux.Match([]byte("PRI * HTTP/2.0"))
	n.mux.Handle([]byte(gossip.StreamPreamble), n.handleGossipStream)
	n.dialer = rpc.NewDialer(n.resolve)
	if cfg.SimulatedLatency != nil {
		n.dialer.SimulateLatency(func(peer uint64) time.Duration { return cfg.SimulatedLatency(cfg.Locality, n.localityOf(peer)) })
	}
	n.transport = raftnet.New(0, n.dialer, cfg.Logger)
	n.grpc = rpc.NewServer(cfg.Logger)
	n.transport.Register(n.grpc)
	rpc.RegisterKVServer(n.grpc, kvService{n})
	n.grpc.RegisterService(&nodeServiceDesc, n)

	if cfg.Insecure && (cfg.CertsDir != "" || cfg.Password != "") {
		return nil, errors.New("an insecure node takes no certificates and no password")
	}
	wcfg := wire.Config{NewBackend: n.newBackend, Logger: cfg.Logger}
	if cfg.CertsDir != "" {
		if wcfg.TLS, err = certs.ServerTLS(cfg.CertsDir); err != nil {
			return nil, err
		}
		wcfg.RequireTLS = true
	}
	auth, err := newNodeAuth(n)
	if err != nil {
		return nil, err
	}
	wcfg.Auth = auth
	n.wire = wire.NewServer(wcfg)
	if cfg.HTTPAddr != "" {
		if n.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("listening for HTTP on %s: %w", cfg.HTTPAddr, err)
		}
	}
	n.goBackground("connection multiplexer", func(context.Context) error { return n.mux.Serve() })
	n.goBackground("RPC server", func(context.Context) error { return n.grpc.Serve(grpcLn) })
	sqlLn := n.mux.Default()
	n.goBackground("SQL server", func(ctx context.Context) error { return n.wire.Serve(ctx, sqlLn) })
	if n.httpLn != nil {
		n.http = &http.Server{Handler: n.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		n.goBackground("HTTP server", func(context.Context) error {
			if err := n.http.Serve(n.httpLn); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}

	id, err := loadIdentity(cfg.StoreDir)
	if err != nil {
		return nil, err
	}
	switch {
	case id != nil:
		if err := n.initialize(ctx, *id, false); err != nil {
			return nil, err
		}
	case len(cfg.Join) == 0:
		if err := n.initialize(ctx, identity{ClusterID: newClusterID(), NodeID: 1}, true); err != nil {
			return nil, err
		}
	default:
		n.log.Info("waiting to join a cluster, or for `meridian init`", "join", cfg.Join)
		n.goBackground("cluster admission", n.awaitAdmission)
	}
	return n, nil
}

// tempDir makes the directory in the store where statements that outgrow their memory budget
// write (a sort's runs), empty. Their files are unlinked as soon as they are made, so only a
// crash between the two leaves one, which this clears.
func (n *Node) tempDir() (string, error) {
	dir := filepath.Join(n.cfg.StoreDir, "temp")
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clearing the temporary directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("making the temporary directory: %w", err)
	}
	return dir, nil
}

// goBackground runs f until it returns or the node stops, logging its failure.
func (n *Node) goBackground(what string, f func(ctx context.Context) error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := f(n.ctx); err != nil && n.ctx.Err() == nil {
			n.log.Error(what+" stopped", "err", err)
		}
	}()
}

func newClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clustered reports whether the node runs with others (it was given --join).
func (n *Node) clustered() bool { return len(n.cfg.Join) > 0 }

// initialize gives the node its identity and opens its store. With bootstrap, the node is
// the first of a new cluster and creates the first range.
func (n *Node) initialize(ctx context.Context, id identity, bootstrap bool) error {
	n.readyMu.Lock()
	defer n.readyMu.Unlock()
	select {
	case <-n.ready:
		return errors.New("node is already initialized")
	default:
	}
	if err := saveIdentity(n.cfg.StoreDir, id); err != nil {
		return fmt.Errorf("saving node identity: %w", err)
	}
	n.nodeID.Store(id.NodeID)
	n.cluster = id.ClusterID
	n.transport.SetNodeID(id.NodeID)
	scfg := ranges.StoreConfig{
		Dir: n.cfg.StoreDir, NodeID: id.NodeID, StoreID: id.NodeID, Clock: n.clock, Logger: n.log,
		JoinOnly: !bootstrap, RaftHeartbeatTimeout: n.cfg.RaftHeartbeatTimeout, CacheBytes: n.cfg.CacheBytes,
	}
	if n.clustered() {
		scfg.LeaseGate = n.leaseGate
	}
	scfg.GCProtected = n.gcProtected
	scfg.GCTTL, scfg.GCInterval = n.cfg.GCTTL, n.cfg.GCInterval
	scfg.SettleTxnRecord = n.settleTxnRecord
	dscfg := txn.DistSenderConfig{NodeID: id.NodeID, Nodes: n.liveNodeIDs, Clock: n.clock}
	if n.clustered() {
		scfg.Transport = n.transport
		dscfg.Dialer = n.dialer
	}
	var err error
	if n.store, err = ranges.OpenStore(ctx, scfg); err != nil {
		return fmt.Errorf("opening store in %s: %w", n.cfg.StoreDir, err)
	}
	dscfg.Local = n.store
	n.ds = txn.NewDistSender(dscfg)
	n.store.SetRouter(n.ds)
	n.db = txn.NewDB(n.ds, n.ds, n.clock, n.log)
	n.db.NodeID = id.NodeID
	n.db.SetWriteBuffering(true) // kv.transaction.write_buffering_enabled's default, until read
	cat := catalog.New()
	n.cat = cat
	if bootstrap || !n.clustered() {
		if err := n.bootstrapCluster(ctx, cat, id.ClusterID); err != nil {
			return err
		}
	}
	if n.clustered() {
		// Alone, a node reads the schema version from its own store at little cost, and
		// its schema changes need not wait for leases.
		cat.EnableLeases(n.db, n.clock, id.NodeID, n.log)
	}
	tempDir, err := n.tempDir()
	if err != nil {
		return err
	}
	n.sql = sql.NewServer(sql.Config{DB: n.db, Catalog: cat, NodeID: id.NodeID, Logger: n.log, Admin: admin{n},
		TempDir: tempDir, MaxTempStorage: n.cfg.MaxTempStorage})
	if n.clustered() {
		if err := n.startGossip(ctx); err != nil {
			return err
		}
		n.goBackground("liveness heartbeat", n.livenessLoop)
		n.goBackground("schema leases", cat.RunLeases)
		n.goBackground("replicate queue", n.replicateLoop)
	}
	n.goBackground("split queue", n.splitLoop)
	n.goBackground("dropped data removal", n.droppedDataLoop)
	n.goBackground("cluster settings", n.settingsLoop)
	close(n.ready)
	n.log.Info("node ready", "node", id.NodeID, "cluster", id.ClusterID, "bootstrap", bootstrap)
	return nil
}

// bootstrapCluster writes what a new cluster starts with: its ID and the SQL catalog's
// databases. It is idempotent.
func (n *Node) bootstrapCluster(ctx context.Context, cat *catalog.Catalog, clusterID string) error {
	err := n.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		var b txn.Batch
		b.Get(keys.ClusterIDKey)
		if err := t.Run(ctx, &b); err != nil {
			return err
		}
		if len(b.Results[0].Rows) > 0 {
			return nil
		}
		var w txn.Batch
		w.Put(keys.ClusterIDKey, []byte(clusterID))
		w.Put(keys.NodeIDGeneratorKey, binary.BigEndian.AppendUint64(nil, 1))
		w.Put(keys.RangeIDGeneratorKey, binary.BigEndian.AppendUint64(nil, 1))
		return t.Run(ctx, &w)
	})
	if err != nil {
		return fmt.Errorf("bootstrapping the cluster: %w", err)
	}
	if err := cat.Bootstrap(ctx, n.db); err != nil {
		return fmt.Errorf("bootstrapping the catalog: %w", err)
	}
	return nil
}

// awaitAdmission waits for a node without identity to get one: from `meridian init`, or
// from a node of the cluster it was told to join.
func (n *Node) awaitAdmission(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, addr := range n.cfg.Join {
			if addr == n.advertise {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := askToJoin(actx, addr, n.advertise)
			cancel()
			if err != nil {
				n.log.Debug("join attempt failed", "addr", addr, "err", err)
				continue
			}
			n.addrMu.Lock()
			n.addrs[resp.Responder] = resp.ResponderAddr
			n.addrMu.Unlock()
			return n.initialize(ctx, identity{ClusterID: resp.ClusterID, NodeID: resp.NodeID}, false)
		}
		select {
		case done := <-n.initCh:
			err := n.initialize(ctx, identity{ClusterID: newClusterID(), NodeID: 1}, true)
			done <- err
			return err
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// initCluster serves Init.
func (n *Node) initCluster(ctx context.Context) (*initResponse, error) {
	if n.isReady() {
		return nil, status.Errorf(codes.AlreadyExists, "cluster has already been initialized (node n%d of cluster %s)", n.nodeID.Load(), n.cluster)
	}
	if !n.clustered() {
		return nil, status.Error(codes.FailedPrecondition, "node was started without --join; it initializes itself")
	}
	done := make(chan error, 1)
	select {
	case n.initCh <- done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case err := <-done:
		if err != nil {
			return nil, status.Errorf(codes.Internal, "initializing: %v", err)
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &initResponse{ClusterID: n.cluster, NodeID: n.nodeID.Load()}, nil
}

// admit serves Join: it gives the joining node the next node ID.
func (n *Node) admit(ctx context.Context, req *joinRequest) (*joinResponse, error) {
	if !n.isReady() {
		return nil, status.Error(codes.Unavailable, "this node has not joined a cluster yet")
	}
	id, err := n.allocate(ctx, keys.NodeIDGeneratorKey)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "allocating a node ID: %v", err)
	}
	n.log.Info("admitted a node", "node", id, "addr", req.Addr)
	n.addrMu.Lock()
	n.addrs[id] = req.Addr
	n.addrMu.Unlock()
	return &joinResponse{ClusterID: n.cluster, NodeID: id, Responder: n.nodeID.Load(), ResponderAddr: n.advertise}, nil
}

func (n *Node) isReady() bool {
	select {
	case <-n.ready:
		return true
	default:
		return false
	}
}

// Ready is closed once the node has its identity and its store is open.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// NodeID is the node's ID, or 0 before it has one.
func (n *Node) NodeID() uint64 { return n.nodeID.Load() }

func (n *Node) startGossip(ctx context.Context) error {
	g, err := gossip.Start(ctx, gossip.Config{
		NodeID: n.nodeID.Load(), BindAddr: n.ln.Addr().String(), AdvertiseAddr: n.advertise,
		Locality: n.cfg.Locality, Logger: n.log, Timing: n.cfg.GossipTiming,
	})
	if err != nil {
		return fmt.Errorf("starting gossip: %w", err)
	}
	n.gossip = g
	n.goBackground("gossip join", func(ctx context.Context) error {
		var peers []string
		for _, a := range n.cfg.Join {
			if a != n.advertise {
				peers = append(peers, a)
			}
		}
		if len(peers) == 0 {
			return nil
		}
		_, err := g.Join(ctx, peers)
		return err
	})
	n.goBackground("gossip events", func(ctx context.Context) error {
		for {
			select {
			case ev, ok := <-g.Events():
				if !ok {
					return nil
				}
				n.deadMu.Lock()
				if ev.Member.Status == gossip.StatusAlive {
					delete(n.deadSince, ev.Member.NodeID)
				} else if _, ok := n.deadSince[ev.Member.NodeID]; !ok {
					n.deadSince[ev.Member.NodeID] = time.Now()
				}
				n.deadMu.Unlock()
			case <-ctx.Done():
				return nil
			}
		}
	})
	return nil
}

func (n *Node) handleGossipStream(c net.Conn) {
	g := n.gossipIfStarted()
	if g == nil {
		c.Close()
		return
	}
	_ = g.Transport().HandleStream(c)
}

func (n *Node) gossipIfStarted() *gossip.Gossip {
	if !n.isReady() {
		return nil
	}
	return n.gossip
}

// resolve finds a node's address: from gossip, or from what joining taught us.
func (n *Node) resolve(id uint64) (string, error) {
	if g := n.gossipIfStarted(); g != nil {
		for _, m := range g.Members() {
			if m.NodeID == id {
				return m.Addr, nil
			}
		}
	}
	n.addrMu.Lock()
	defer n.addrMu.Unlock()
	if a, ok := n.addrs[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("n%d is not known to this node", id)
}

// localityOf is the locality gossip knows of node id, nil if none yet. A node's locality
// is fixed while it runs, so what is found is kept (it is asked at every message between
// nodes under SimulatedLatency).
func (n *Node) localityOf(id uint64) map[string]string {
	if l, ok := n.localities.Load(id); ok {
		return l.(map[string]string)
	}
	if g := n.gossipIfStarted(); g != nil {
		for _, m := range g.Members() {
			if m.NodeID == id && m.Locality != nil {
				n.localities.Store(id, m.Locality)
				return m.Locality
			}
		}
	}
	return nil
}

// liveNodeIDs lists the nodes gossip believes alive, this one included.
func (n *Node) liveNodeIDs() []uint64 {
	ids := []uint64{n.nodeID.Load()}
	if g := n.gossipIfStarted(); g != nil {
		for _, m := range g.Members() {
			if m.Status == gossip.StatusAlive && m.NodeID != ids[0] {
				ids = append(ids, m.NodeID)
			}
		}
	}
	n.addrMu.Lock()
	for id := range n.addrs {
		ids = append(ids, id)
	}
	n.addrMu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// kvService serves other nodes' batches from the local store.
type kvService struct{ n *Node }

func (s kvService) Batch(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	if !s.n.isReady() {
		return nil, &kvpb.RangeNotFoundError{RangeID: ba.RangeID}
	}
	return s.n.store.Send(ctx, ba)
}

func (n *Node) newBackend(ctx context.Context, user, database string, params map[string]string) (wire.Backend, error) {
	if !n.isReady() {
		return nil, errNotReady
	}
	return n.sql.NewBackend(ctx, user, database, params)
}

// SQLAddr is the address the node listens on (for SQL, RPC and gossip).
func (n *Node) SQLAddr() string { return n.ln.Addr().String() }

// HTTPAddr is the address the HTTP listener is bound to, or "" if there is none.
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// SQLURL is a connection URL for the node's default database: root's carries Config.Password,
// and on a node with certificates the URL verifies the node's (sslmode=verify-full) and
// presents the user's client certificate if the certs directory has one.
func (n *Node) SQLURL(user string) string {
	u := url.URL{Scheme: "postgresql", User: url.User(user), Host: n.SQLAddr(), Path: "/" + catalog.DefaultDatabase}
	if user == privilege.Root && n.cfg.Password != "" {
		u.User = url.UserPassword(user, n.cfg.Password)
	}
	if n.cfg.CertsDir == "" {
		u.RawQuery = "sslmode=disable"
		return u.String()
	}
	dir, err := filepath.Abs(n.cfg.CertsDir)
	if err != nil {
		dir = n.cfg.CertsDir
	}
	q := url.Values{"sslmode": {"verify-full"}, "sslrootcert": {filepath.Join(dir, certs.CACert)}}
	if crt, key := certs.ClientFiles(dir, user); fileExists(crt) && fileExists(key) {
		q.Set("sslcert", crt)
		q.Set("sslkey", key)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Stop stops serving and closes the store. It is safe to call more than once.
func (n *Node) Stop() {
	n.once.Do(func() {
		n.cancel()
		if n.wire != nil {
			_ = n.wire.Close()
		}
		if n.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = n.http.Shutdown(ctx)
			cancel()
		} else if n.httpLn != nil {
			_ = n.httpLn.Close()
		}
		if n.gossip != nil {
			_ = n.gossip.Close()
		}
		if n.grpc != nil {
			n.grpc.Stop()
		}
		if n.mux != nil {
			_ = n.mux.Close()
		} else if n.ln != nil {
			_ = n.ln.Close()
		}
		n.wg.Wait()
		if n.db != nil {
			n.db.Close()
		}
		if n.store != nil {
			if err := n.store.Close(); err != nil {
				n.log.Error("closing store", "err", err)
			}
		}
		if n.transport != nil {
			_ = n.transport.Close()
		}
		if n.dialer != nil {
			_ = n.dialer.Close()
		}
	})
}

// settleTxnRecord finishes an abandoned transaction for garbage collection (see
// ranges.StoreConfig.SettleTxnRecord), once the node is ready.
func (n *Node) settleTxnRecord(ctx context.Context, rec *kvpb.Transaction) error {
	select {
	case <-n.ready:
		return n.db.SettleRecord(ctx, rec)
	default:
		return nil
	}
}
