package raftnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
)

// Group is the raft.Transport of one range's replica on this node.
type Group struct {
	t         *Transport
	rangeID   uint64
	consumeCh chan raft.RPC

	mu        sync.Mutex
	heartbeat func(raft.RPC)
	acked     map[uint64]uint64 // node ID -> highest log index it acknowledged holding

	closeOnce sync.Once
	done      chan struct{}
}

var (
	_ raft.Transport   = (*Group)(nil)
	_ raft.WithPreVote = (*Group)(nil)
	_ raft.WithClose   = (*Group)(nil)
)

// Consumer implements raft.Transport.
func (g *Group) Consumer() <-chan raft.RPC { return g.consumeCh }

// LocalAddr implements raft.Transport: the node's address.
func (g *Group) LocalAddr() raft.ServerAddress { return Address(g.t.nodeID.Load()) }

// AppendEntriesPipeline implements raft.Transport. Pipelining is not supported yet; Raft then
// sends one AppendEntries at a time per follower, each carrying a batch of entries.
func (g *Group) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// AppendEntries implements raft.Transport.
func (g *Group) AppendEntries(_ raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	r, err := g.t.roundTrip(target, envelope{RangeID: g.rangeID, AppendEntries: args})
	if err != nil {
		return err
	}
	if r.AppendEntriesResp == nil {
		return errMissing("AppendEntries")
	}
	*resp = *r.AppendEntriesResp
	if resp.Success {
		g.acknowledge(target, resp.LastLog)
	}
	return nil
}

// RequestVote implements raft.Transport.
func (g *Group) RequestVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	r, err := g.t.roundTrip(target, envelope{RangeID: g.rangeID, RequestVote: args})
	if err != nil {
		return err
	}
	if r.RequestVoteResp == nil {
		return errMissing("RequestVote")
	}
	*resp = *r.RequestVoteResp
	return nil
}

// RequestPreVote implements raft.WithPreVote.
func (g *Group) RequestPreVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	r, err := g.t.roundTrip(target, envelope{RangeID: g.rangeID, RequestPreVote: args})
	if err != nil {
		return err
	}
	if r.RequestPreVoteResp == nil {
		return errMissing("RequestPreVote")
	}
	*resp = *r.RequestPreVoteResp
	return nil
}

// TimeoutNow implements raft.Transport.
func (g *Group) TimeoutNow(_ raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	r, err := g.t.roundTrip(target, envelope{RangeID: g.rangeID, TimeoutNow: args})
	if err != nil {
		return err
	}
	if r.TimeoutNowResp == nil {
		return errMissing("TimeoutNow")
	}
	*resp = *r.TimeoutNowResp
	return nil
}

func errMissing(what string) error {
	return fmt.Errorf("raftnet: %s answered without a response", what)
}

var snapshotStream = grpc.StreamDesc{StreamName: "Snapshot", ClientStreams: true}

// InstallSnapshot implements raft.Transport: it streams data to target in chunks.
func (g *Group) InstallSnapshot(_ raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	nodeID, err := NodeID(target)
	if err != nil {
		return err
	}
	conn, err := g.t.conn(nodeID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(g.t.ctx)
	defer cancel()
	go func() {
		select {
		case <-g.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	s, err := conn.NewStream(ctx, &snapshotStream, snapshotMethod)
	if err != nil {
		return fmt.Errorf("raftnet: snapshot of r%d to n%d: %w", g.rangeID, nodeID, err)
	}
	if err := s.SendMsg(&snapshotChunk{RangeID: g.rangeID, Request: args}); err != nil {
		return fmt.Errorf("raftnet: snapshot of r%d to n%d: %w", g.rangeID, nodeID, err)
	}
	buf := make([]byte, snapshotChunkSize)
	for {
		n, rerr := io.ReadFull(data, buf)
		if n > 0 {
			if err := s.SendMsg(&snapshotChunk{Data: buf[:n]}); err != nil {
				// The receiver may have answered early (and closed); its answer says why.
				break
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("raftnet: reading snapshot of r%d: %w", g.rangeID, rerr)
		}
	}
	if err := s.CloseSend(); err != nil {
		return fmt.Errorf("raftnet: snapshot of r%d to n%d: %w", g.rangeID, nodeID, err)
	}
	var r snapshotReply
	if err := s.RecvMsg(&r); err != nil {
		return fmt.Errorf("raftnet: snapshot of r%d to n%d: %w", g.rangeID, nodeID, err)
	}
	if r.Error != "" {
		return fmt.Errorf("raftnet: snapshot of r%d to n%d: %s", g.rangeID, nodeID, r.Error)
	}
	if r.Response == nil {
		return errMissing("InstallSnapshot")
	}
	*resp = *r.Response
	if resp.Success {
		g.acknowledge(target, args.LastLogIndex)
	}
	return nil
}

func (g *Group) acknowledge(target raft.ServerAddress, index uint64) {
	id, err := NodeID(target)
	if err != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.acked == nil {
		g.acked = map[uint64]uint64{}
	}
	g.acked[id] = max(g.acked[id], index)
}

// Acknowledged is the highest log index node nodeID has confirmed holding, as seen by this
// node while it was sending to it (that is, while it led the group). A leader uses it to
// tell when a new replica has caught up.
func (g *Group) Acknowledged(nodeID uint64) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.acked[nodeID]
}

// EncodePeer implements raft.Transport.
func (g *Group) EncodePeer(_ raft.ServerID, addr raft.ServerAddress) []byte { return []byte(addr) }

// DecodePeer implements raft.Transport.
func (g *Group) DecodePeer(b []byte) raft.ServerAddress { return raft.ServerAddress(b) }

// SetHeartbeatHandler implements raft.Transport.
func (g *Group) SetHeartbeatHandler(cb func(raft.RPC)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.heartbeat = cb
}

// Close implements raft.WithClose: the group stops taking messages and frees its range ID.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		close(g.done)
		g.t.removeGroup(g)
	})
	return nil
}

// CampaignNow makes this node's member of the group stand for election at once, as a
// leader handing its leadership over would (a TimeoutNow message, delivered locally). A
// range born of a split uses it on the node that led the range it split from, so that it
// has a leader without waiting out an election timeout (seconds, by default).
func (g *Group) CampaignNow(ctx context.Context) error {
	respCh := make(chan raft.RPCResponse, 1)
	req := &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersionMax, Addr: []byte(g.LocalAddr()),
	}}
	select {
	case g.consumeCh <- raft.RPC{Command: req, RespChan: respCh}:
	case <-g.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case resp := <-respCh:
		return resp.Error
	case <-g.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}
