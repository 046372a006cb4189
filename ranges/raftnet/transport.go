package raftnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/ranges/rpc"
)

const (
	// callTimeout bounds how long a Raft request waits for its response. Raft retries failed
	// requests itself, so a lost one costs one timeout, not progress.
	callTimeout = 5 * time.Second
	// maxBatch caps the envelopes coalesced into one stream message.
	maxBatch = 512
	// queueLen is how many requests to one peer may wait to be sent.
	queueLen = 4096
	// snapshotChunkSize is the data carried by one snapshot stream message.
	snapshotChunkSize = 256 << 10
	// heartbeatLinger is how long a batch that holds only heartbeats (or their answers)
	// waits for more before it is sent. Idle ranges' heartbeats trickle in one at a time;
	// gathering them into one write per few milliseconds more than halves the idle cost
	// (ranges/raftnet idle benchmark). Anything else goes out at once.
	heartbeatLinger = 5 * time.Millisecond
)

// ErrClosed is returned by calls on a closed Transport or Group.
var ErrClosed = errors.New("raftnet: transport closed")

// Transport is a node's Raft transport: it serves the Raft service for every group on the
// node and sends their messages to peers.
type Transport struct {
	nodeID atomic.Uint64 // 0 until the node knows its ID (see SetNodeID)
	dialer *rpc.Dialer
	log    *slog.Logger

	ctx    context.Context // canceled by Close; owns every goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	groups    map[uint64]*Group
	peers     map[peerKey]*peer
	onUnknown func(ctx context.Context, rangeID uint64) error

	// start is when the transport was made, and quietUntil how long after it (in
	// nanoseconds, on the monotonic clock) its groups refuse their votes (see
	// RefuseVotesFor).
	start      time.Time
	quietUntil atomic.Int64
}

// New returns the Raft transport of node nodeID, which dials peers through dialer. A nil
// dialer gives a transport for a node alone, whose groups have no other members. A node
// that does not know its ID yet (it is joining a cluster) passes 0 and calls SetNodeID
// before creating groups; until then messages to it find no groups.
func New(nodeID uint64, dialer *rpc.Dialer, log *slog.Logger) *Transport {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		dialer: dialer, log: log, ctx: ctx, cancel: cancel,
		groups: map[uint64]*Group{}, peers: map[peerKey]*peer{}, start: time.Now(),
	}
	t.nodeID.Store(nodeID)
	return t
}

// RefuseVotesFor makes the node's replicas refuse their votes, and pre-votes, to candidates
// for d from now, except in an election a leader asked for (a leadership transfer). A node
// that restarts calls it before its replicas start: before the restart, each of them may
// have been part of the quorum its leader's lease counts on, having promised not to vote
// for another leader for a heartbeat timeout after hearing from it, and a restarted Raft
// instance remembers no such promise.
func (t *Transport) RefuseVotesFor(d time.Duration) {
	t.quietUntil.Store(int64(time.Since(t.start) + d))
}

// RefusesVotes reports whether the node's replicas refuse their votes now (see
// RefuseVotesFor).
func (t *Transport) RefusesVotes() bool {
	return time.Since(t.start) < time.Duration(t.quietUntil.Load())
}

// refusedVote is the refusal to env's vote or pre-vote request while the node keeps quiet,
// or nil. Its term is zero, which no candidate takes for a newer term of its own.
func (t *Transport) refusedVote(env envelope) any {
	if !t.RefusesVotes() {
		return nil
	}
	switch {
	case env.RequestVote != nil && !env.RequestVote.LeadershipTransfer:
		return &raft.RequestVoteResponse{Granted: false}
	case env.RequestPreVote != nil:
		return &raft.RequestPreVoteResponse{Granted: false}
	}
	return nil
}

// SetNodeID tells the transport its node's ID, once the node has one.
func (t *Transport) SetNodeID(id uint64) { t.nodeID.Store(id) }

// SetUnknownRangeHandler installs f, called when a message arrives for a range that has no
// group on this node (a replica being added here). f creates the replica, whose group then
// takes the message; if f fails or creates none, the sender gets an error.
func (t *Transport) SetUnknownRangeHandler(f func(ctx context.Context, rangeID uint64) error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onUnknown = f
}

// Register serves the Raft service on s.
func (t *Transport) Register(s *grpc.Server) { s.RegisterService(&serviceDesc, t) }

// Close stops every stream and fails every call in flight. Groups must be closed by their
// Raft instances (raft.Raft.Shutdown closes its transport).
func (t *Transport) Close() error {
	t.cancel()
	t.wg.Wait()
	return nil
}

// Group returns a new raft.Transport for range rangeID. A range has at most one open Group.
func (t *Transport) Group(rangeID uint64) (*Group, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if _, ok := t.groups[rangeID]; ok {
		return nil, fmt.Errorf("raftnet: r%d already has a transport on n%d", rangeID, t.nodeID.Load())
	}
	g := &Group{t: t, rangeID: rangeID, consumeCh: make(chan raft.RPC), done: make(chan struct{})}
	t.groups[rangeID] = g
	return g, nil
}

func (t *Transport) removeGroup(g *Group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.groups[g.rangeID] == g {
		delete(t.groups, g.rangeID)
	}
}

// group finds the group of rangeID, asking the unknown-range handler to create it if needed.
func (t *Transport) group(ctx context.Context, rangeID uint64) (*Group, error) {
	t.mu.Lock()
	g, create := t.groups[rangeID], t.onUnknown
	t.mu.Unlock()
	if g != nil {
		return g, nil
	}
	if create == nil {
		return nil, fmt.Errorf("r%d has no replica on n%d", rangeID, t.nodeID.Load())
	}
	if err := create(ctx, rangeID); err != nil {
		return nil, fmt.Errorf("creating replica of r%d on n%d: %w", rangeID, t.nodeID.Load(), err)
	}
	t.mu.Lock()
	g = t.groups[rangeID]
	t.mu.Unlock()
	if g == nil {
		return nil, fmt.Errorf("r%d has no replica on n%d", rangeID, t.nodeID.Load())
	}
	return g, nil
}

// conn returns the connection to node nodeID.
func (t *Transport) conn(nodeID uint64) (*grpc.ClientConn, error) {
	if t.dialer == nil {
		return nil, fmt.Errorf("raftnet: n%d has no network to reach n%d", t.nodeID.Load(), nodeID)
	}
	return t.dialer.Conn(nodeID)
}

// peerKey names one of the streams to a node. Heartbeats travel on a stream of their own:
// behind a large append on a shared stream (a bulk write's entries, megabytes) they would
// arrive late, and a leader that hears no answers within its lease steps down, failing the
// very write that delayed them.
type peerKey struct {
	nodeID     uint64
	heartbeats bool
}

func (t *Transport) peer(key peerKey) (*peer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return nil, ErrClosed
	}
	p, ok := t.peers[key]
	if !ok {
		p = &peer{t: t, nodeID: key.nodeID, queue: make(chan *call, queueLen), pending: map[uint64]*call{}}
		t.peers[key] = p
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			p.run()
		}()
	}
	return p, nil
}

// roundTrip sends a request envelope to target and waits for its response.
func (t *Transport) roundTrip(target raft.ServerAddress, env envelope) (envelope, error) {
	nodeID, err := NodeID(target)
	if err != nil {
		return envelope{}, err
	}
	p, err := t.peer(peerKey{nodeID: nodeID, heartbeats: isHeartbeatRequest(env)})
	if err != nil {
		return envelope{}, err
	}
	return p.call(env)
}

// call is one request in flight to a peer.
type call struct {
	env  envelope
	done chan struct{} // closed when resp or err is set
	resp envelope
	err  error
}

// peer sends requests to one node over one stream, reconnecting as needed.
type peer struct {
	t      *Transport
	nodeID uint64
	queue  chan *call

	mu      sync.Mutex
	pending map[uint64]*call
	nextID  uint64
}

func (p *peer) call(env envelope) (envelope, error) {
	c := &call{env: env, done: make(chan struct{})}
	p.mu.Lock()
	p.nextID++
	c.env.ID = p.nextID
	p.pending[c.env.ID] = c
	p.mu.Unlock()

	timer := time.NewTimer(callTimeout)
	defer timer.Stop()
	select {
	case p.queue <- c:
	case <-timer.C:
		p.finish(c.env.ID, envelope{}, fmt.Errorf("raftnet: n%d: send queue full", p.nodeID))
	case <-p.t.ctx.Done():
		p.finish(c.env.ID, envelope{}, ErrClosed)
	}
	select {
	case <-c.done:
	case <-timer.C:
		p.finish(c.env.ID, envelope{}, fmt.Errorf("raftnet: n%d did not answer r%d within %s", p.nodeID, env.RangeID, callTimeout))
		<-c.done
	case <-p.t.ctx.Done():
		p.finish(c.env.ID, envelope{}, ErrClosed)
		<-c.done
	}
	return c.resp, c.err
}

// finish completes the pending call id, if it is still pending.
func (p *peer) finish(id uint64, resp envelope, err error) {
	p.mu.Lock()
	c := p.pending[id]
	delete(p.pending, id)
	p.mu.Unlock()
	if c == nil {
		return // already answered, timed out, or failed
	}
	if err == nil && resp.Error != "" {
		err = fmt.Errorf("n%d: %s", p.nodeID, resp.Error)
	}
	c.resp, c.err = resp, err
	close(c.done)
}

// failPending fails every call awaiting a response: the stream that carried them is gone.
func (p *peer) failPending(err error) {
	p.mu.Lock()
	ids := make([]uint64, 0, len(p.pending))
	for id := range p.pending {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	for _, id := range ids {
		p.finish(id, envelope{}, err)
	}
}

var messagesStream = grpc.StreamDesc{StreamName: "Messages", ServerStreams: true, ClientStreams: true}

const (
	messagesMethod = "/meridian.Raft/Messages"
	snapshotMethod = "/meridian.Raft/Snapshot"
)

// run owns the peer's stream: it connects when there is something to send, sends batches
// until the stream breaks, and starts over.
func (p *peer) run() {
	ctx := p.t.ctx
	backoff := 20 * time.Millisecond
	for {
		var first *call
		select {
		case first = <-p.queue:
		case <-ctx.Done():
			p.failPending(ErrClosed)
			return
		}
		started := time.Now()
		err := p.stream(ctx, first)
		if time.Since(started) > time.Second {
			backoff = 20 * time.Millisecond // the stream worked; this is a new failure
		}
		p.failPending(fmt.Errorf("raftnet: stream to n%d: %w", p.nodeID, err))
		if ctx.Err() != nil {
			p.failPending(ErrClosed)
			return
		}
		// Back off before reconnecting; what is queued meanwhile fails fast so that Raft
		// retries on its own schedule instead of waiting for a dead peer.
		wait := backoff/2 + rand.N(backoff)
		backoff = min(backoff*2, time.Second)
		deadline := time.After(wait)
	drain:
		for {
			select {
			case c := <-p.queue:
				p.finish(c.env.ID, envelope{}, fmt.Errorf("raftnet: n%d unreachable: %w", p.nodeID, err))
			case <-deadline:
				break drain
			case <-ctx.Done():
				p.failPending(ErrClosed)
				return
			}
		}
	}
}

// stream opens a stream, sends first and everything queued after it, and returns when the
// stream fails.
func (p *peer) stream(ctx context.Context, first *call) error {
	conn, err := p.t.conn(p.nodeID)
	if err != nil {
		p.finish(first.env.ID, envelope{}, err)
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := conn.NewStream(ctx, &messagesStream, messagesMethod)
	if err != nil {
		p.finish(first.env.ID, envelope{}, err)
		return err
	}
	recvErr := make(chan error, 1)
	go func() {
		for {
			var b batch
			if err := s.RecvMsg(&b); err != nil {
				recvErr <- err
				return
			}
			for _, e := range b.Msgs {
				p.finish(e.ID, e, nil)
			}
		}
	}()
	defer func() {
		cancel()
		<-recvErr
	}()
	next := first
	for {
		msgs := gather(next.env, p.queue, func(c *call) envelope { return c.env }, isHeartbeatRequest, heartbeatLinger)
		if err := s.SendMsg(&batch{Msgs: msgs}); err != nil {
			return err
		}
		select {
		case next = <-p.queue:
		case err := <-recvErr:
			recvErr <- err // for the deferred wait
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// gather makes a batch from first and whatever is queued behind it. A batch of heartbeats
// lingers up to linger for more (see heartbeatLinger); a message of any other kind ends the
// wait, and the batch goes with what is queued by then.
func gather[T any](first envelope, queue <-chan T, env func(T) envelope, lingers func(envelope) bool, linger time.Duration) []envelope {
	msgs := []envelope{first}
	var deadline <-chan time.Time
	if lingers(first) {
		t := time.NewTimer(linger)
		defer t.Stop()
		deadline = t.C
	}
	add := func(item T) {
		e := env(item)
		msgs = append(msgs, e)
		if !lingers(e) {
			deadline = nil
		}
	}
	for len(msgs) < maxBatch {
		select {
		case item := <-queue:
			add(item)
			continue
		default:
		}
		if deadline == nil {
			return msgs
		}
		select {
		case item := <-queue:
			add(item)
		case <-deadline:
			return msgs
		}
	}
	return msgs
}

func isHeartbeatRequest(e envelope) bool {
	return e.AppendEntries != nil && isHeartbeat(e.AppendEntries)
}

// isHeartbeatAnswer reports whether e answers a heartbeat (marked by serveHeartbeat).
func isHeartbeatAnswer(e envelope) bool { return e.heartbeat }

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "meridian.Raft",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{
		{StreamName: "Messages", ServerStreams: true, ClientStreams: true,
			Handler: func(srv any, ss grpc.ServerStream) error { return srv.(*Transport).serveMessages(ss) }},
		{StreamName: "Snapshot", ClientStreams: true,
			Handler: func(srv any, ss grpc.ServerStream) error { return srv.(*Transport).serveSnapshot(ss) }},
	},
}

// serveMessages handles one peer's stream: each request goes to its group, and responses go
// back, coalesced, as they are ready.
func (t *Transport) serveMessages(ss grpc.ServerStream) error {
	ctx, cancel := context.WithCancel(ss.Context())
	var handlers sync.WaitGroup
	defer func() {
		cancel()
		handlers.Wait()
	}()
	out := make(chan envelope, queueLen)
	sendErr := make(chan error, 1)
	handlers.Add(1)
	go func() {
		defer handlers.Done()
		for {
			var first envelope
			select {
			case first = <-out:
			case <-ctx.Done():
				return
			}
			msgs := gather(first, out, func(e envelope) envelope { return e }, isHeartbeatAnswer, heartbeatLinger)
			if err := ss.SendMsg(&batch{Msgs: msgs}); err != nil {
				sendErr <- err
				return
			}
		}
	}()
	for {
		var b batch
		if err := ss.RecvMsg(&b); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		select {
		case err := <-sendErr:
			return err
		default:
		}
		for _, env := range b.Msgs {
			if t.serveHeartbeat(ctx, env, out) {
				continue
			}
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				t.serveRequest(ctx, env, out)
			}()
		}
	}
}

// serveHeartbeat answers a heartbeat inline through the group's heartbeat handler, which
// Raft keeps off its main loop; it reports false when env is not one it can take that way.
func (t *Transport) serveHeartbeat(ctx context.Context, env envelope, out chan<- envelope) bool {
	if env.AppendEntries == nil || !isHeartbeat(env.AppendEntries) {
		return false
	}
	t.mu.Lock()
	g := t.groups[env.RangeID]
	t.mu.Unlock()
	if g == nil {
		return false
	}
	g.mu.Lock()
	hb := g.heartbeat
	g.mu.Unlock()
	if hb == nil {
		return false
	}
	respCh := make(chan raft.RPCResponse, 1)
	hb(raft.RPC{Command: env.AppendEntries, RespChan: respCh})
	env.heartbeat = true
	select {
	case r := <-respCh:
		reply(ctx, env, r, out)
	default:
		// Raft drops heartbeats while shutting down without answering.
		reply(ctx, env, raft.RPCResponse{Error: ErrClosed}, out)
	}
	return true
}

// serveRequest hands one request to its group's Raft loop and sends back the answer.
func (t *Transport) serveRequest(ctx context.Context, env envelope, out chan<- envelope) {
	if refusal := t.refusedVote(env); refusal != nil {
		reply(ctx, env, raft.RPCResponse{Response: refusal}, out)
		return
	}
	g, err := t.group(ctx, env.RangeID)
	if err != nil {
		reply(ctx, env, raft.RPCResponse{Error: err}, out)
		return
	}
	cmd, err := env.command()
	if err != nil {
		reply(ctx, env, raft.RPCResponse{Error: err}, out)
		return
	}
	respCh := make(chan raft.RPCResponse, 1)
	select {
	case g.consumeCh <- raft.RPC{Command: cmd, RespChan: respCh}:
	case <-g.done:
		reply(ctx, env, raft.RPCResponse{Error: ErrClosed}, out)
		return
	case <-ctx.Done():
		return
	}
	select {
	case r := <-respCh:
		reply(ctx, env, r, out)
	case <-g.done:
		reply(ctx, env, raft.RPCResponse{Error: ErrClosed}, out)
	case <-ctx.Done():
	}
}

func reply(ctx context.Context, req envelope, r raft.RPCResponse, out chan<- envelope) {
	resp := envelope{ID: req.ID, RangeID: req.RangeID, heartbeat: req.heartbeat}
	if r.Error != nil {
		resp.Error = r.Error.Error()
	} else if err := resp.setResponse(r.Response); err != nil {
		resp.Error = err.Error()
	}
	select {
	case out <- resp:
	case <-ctx.Done():
	}
}

// serveSnapshot receives one snapshot stream and feeds it to the group's Raft loop.
func (t *Transport) serveSnapshot(ss grpc.ServerStream) error {
	ctx := ss.Context()
	var first snapshotChunk
	if err := ss.RecvMsg(&first); err != nil {
		return err
	}
	if first.Request == nil {
		return ss.SendMsg(&snapshotReply{Error: "snapshot stream did not start with a request"})
	}
	g, err := t.group(ctx, first.RangeID)
	if err != nil {
		return ss.SendMsg(&snapshotReply{Error: err.Error()})
	}
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		data := first.Data
		for {
			if len(data) > 0 {
				if _, err := pw.Write(data); err != nil {
					copied <- err
					return
				}
			}
			var c snapshotChunk
			if err := ss.RecvMsg(&c); err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				pw.CloseWithError(err)
				copied <- err
				return
			}
			data = c.Data
		}
	}()
	respCh := make(chan raft.RPCResponse, 1)
	var resp raft.RPCResponse
	select {
	case g.consumeCh <- raft.RPC{Command: first.Request, Reader: pr, RespChan: respCh}:
		select {
		case resp = <-respCh:
		case <-g.done:
			resp.Error = ErrClosed
		case <-ctx.Done():
			resp.Error = ctx.Err()
		}
	case <-g.done:
		resp.Error = ErrClosed
	case <-ctx.Done():
		resp.Error = ctx.Err()
	}
	// Unblock the copier if Raft stopped reading early, and wait for it: the stream must not
	// be read after this handler returns.
	pr.CloseWithError(errors.New("snapshot already answered"))
	<-copied
	r := &snapshotReply{}
	if resp.Error != nil {
		r.Error = resp.Error.Error()
	} else if ir, ok := resp.Response.(*raft.InstallSnapshotResponse); ok {
		r.Response = ir
	} else {
		r.Error = fmt.Sprintf("unexpected snapshot response %T", resp.Response)
	}
	return ss.SendMsg(r)
}
