package raftnet

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
)

// Address is the Raft address of node nodeID.
func Address(nodeID uint64) raft.ServerAddress {
	return raft.ServerAddress(strconv.FormatUint(nodeID, 10))
}

// NodeID parses an address made by Address.
func NodeID(addr raft.ServerAddress) (uint64, error) {
	id, err := strconv.ParseUint(string(addr), 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("raftnet: %q is not a node address", addr)
	}
	return id, nil
}

// envelope is one Raft request or response of one group. Exactly one of the request fields
// (on the way out) or response fields (on the way back) is set, or Error.
type envelope struct {
	ID      uint64 // matches a response to its request on one stream
	RangeID uint64

	AppendEntries  *raft.AppendEntriesRequest  `codec:",omitempty"`
	RequestVote    *raft.RequestVoteRequest    `codec:",omitempty"`
	RequestPreVote *raft.RequestPreVoteRequest `codec:",omitempty"`
	TimeoutNow     *raft.TimeoutNowRequest     `codec:",omitempty"`

	AppendEntriesResp  *raft.AppendEntriesResponse  `codec:",omitempty"`
	RequestVoteResp    *raft.RequestVoteResponse    `codec:",omitempty"`
	RequestPreVoteResp *raft.RequestPreVoteResponse `codec:",omitempty"`
	TimeoutNowResp     *raft.TimeoutNowResponse     `codec:",omitempty"`

	Error string `codec:",omitempty"`

	// heartbeat marks, on this node only, a heartbeat's answer (never encoded).
	heartbeat bool
}

// command returns the request the envelope carries.
func (e *envelope) command() (any, error) {
	switch {
	case e.AppendEntries != nil:
		return e.AppendEntries, nil
	case e.RequestVote != nil:
		return e.RequestVote, nil
	case e.RequestPreVote != nil:
		return e.RequestPreVote, nil
	case e.TimeoutNow != nil:
		return e.TimeoutNow, nil
	}
	return nil, fmt.Errorf("raftnet: message %d for r%d carries no request", e.ID, e.RangeID)
}

// setResponse stores a group's response to the envelope's request.
func (e *envelope) setResponse(resp any) error {
	switch r := resp.(type) {
	case *raft.AppendEntriesResponse:
		e.AppendEntriesResp = r
	case *raft.RequestVoteResponse:
		e.RequestVoteResp = r
	case *raft.RequestPreVoteResponse:
		e.RequestPreVoteResp = r
	case *raft.TimeoutNowResponse:
		e.TimeoutNowResp = r
	default:
		return fmt.Errorf("raftnet: unexpected response type %T", resp)
	}
	return nil
}

// isHeartbeat reports whether an AppendEntries request is a bare heartbeat, which Raft
// handles on a fast path that does not wait behind log writes.
func isHeartbeat(r *raft.AppendEntriesRequest) bool {
	return r.Term != 0 && len(r.RPCHeader.Addr) != 0 && r.PrevLogEntry == 0 && r.PrevLogTerm == 0 &&
		len(r.Entries) == 0 && r.LeaderCommitIndex == 0
}

// batch is what travels on a peer stream: many envelopes, in either direction.
type batch struct {
	Msgs []envelope
}

// snapshotChunk is one message of a snapshot stream: the first carries the request header,
// every one may carry data.
type snapshotChunk struct {
	RangeID uint64                       `codec:",omitempty"`
	Request *raft.InstallSnapshotRequest `codec:",omitempty"`
	Data    []byte                       `codec:",omitempty"`
}

type snapshotReply struct {
	Response *raft.InstallSnapshotResponse `codec:",omitempty"`
	Error    string                        `codec:",omitempty"`
}

var handle = &codec.MsgpackHandle{WriteExt: true}

func encode(v any) ([]byte, error) {
	var b []byte
	err := codec.NewEncoderBytes(&b, handle).Encode(v)
	return b, err
}

func decode(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil { // malformed input must be an error, never a crash
			err = fmt.Errorf("raftnet: malformed message: %v", r)
		}
	}()
	return codec.NewDecoderBytes(b, handle).Decode(v)
}

// The methods below encode through method-less conversions of the types: go-msgpack would
// otherwise call MarshalBinary on the value it is encoding, forever.
type (
	plainBatch         batch
	plainSnapshotChunk snapshotChunk
	plainSnapshotReply snapshotReply
)

func (b *batch) MarshalBinary() ([]byte, error) { return encodeBatch(b.Msgs) }
func (b *batch) UnmarshalBinary(d []byte) error {
	*b = batch{}
	if len(d) > 0 && d[0] == binaryMark {
		msgs, err := decodeBatch(d)
		b.Msgs = msgs
		return err
	}
	return decode(d, (*plainBatch)(b)) // from a node that sends MessagePack
}
func (c *snapshotChunk) MarshalBinary() ([]byte, error) { return encode((*plainSnapshotChunk)(c)) }
func (c *snapshotChunk) UnmarshalBinary(d []byte) error {
	*c = snapshotChunk{}
	return decode(d, (*plainSnapshotChunk)(c))
}
func (r *snapshotReply) MarshalBinary() ([]byte, error) { return encode((*plainSnapshotReply)(r)) }
func (r *snapshotReply) UnmarshalBinary(d []byte) error {
	*r = snapshotReply{}
	return decode(d, (*plainSnapshotReply)(r))
}
