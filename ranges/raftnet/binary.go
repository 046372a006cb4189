package raftnet

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/internal/wirebin"
)

// A batch travels in a hand-written binary form: Raft's AppendEntries messages and their
// responses (nearly all the traffic) are written field by field, which costs a fraction of
// reflective MessagePack; any other message (votes, TimeoutNow, errors) is embedded as its
// MessagePack encoding. The form starts with binaryMark, a byte that never begins a
// MessagePack value, so a batch in MessagePack (from a node of an earlier version) still
// decodes. The layout, with uvarint integers and byte strings as wirebin.AppendBytes writes them:
//
//	binaryMark, count, then per envelope: ID, RangeID, kind, and
//	  kindAppend:   header, Term, Leader, PrevLogEntry, PrevLogTerm, LeaderCommitIndex,
//	                entry count, per entry: Index, Term, Type, Data, Extensions, AppendedAt
//	                (0 for the zero time, else 1 + nanoseconds since 1970)
//	  kindAppended: header, Term, LastLog, flags (1 Success, 2 NoRetryBackoff)
//	  kindOther:    the envelope's MessagePack encoding
//
// where header is ProtocolVersion, ID, Addr.
const binaryMark = 0xc1

const (
	kindOther byte = iota
	kindAppend
	kindAppended
)

func appendHeader(b []byte, h *raft.RPCHeader) []byte {
	b = binary.AppendUvarint(b, uint64(h.ProtocolVersion))
	b = wirebin.AppendBytes(b, h.ID)
	return wirebin.AppendBytes(b, h.Addr)
}

func encodeBatch(msgs []envelope) ([]byte, error) {
	size := 8
	for i := range msgs {
		size += 64
		if ae := msgs[i].AppendEntries; ae != nil {
			for _, l := range ae.Entries {
				size += 48 + len(l.Data) + len(l.Extensions)
			}
		}
	}
	b := make([]byte, 0, size)
	b = append(b, binaryMark)
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for i := range msgs {
		e := &msgs[i]
		b = binary.AppendUvarint(b, e.ID)
		b = binary.AppendUvarint(b, e.RangeID)
		switch {
		case e.AppendEntries != nil && e.alone():
			r := e.AppendEntries
			b = append(b, kindAppend)
			b = appendHeader(b, &r.RPCHeader)
			b = binary.AppendUvarint(b, r.Term)
			b = wirebin.AppendBytes(b, r.Leader)
			b = binary.AppendUvarint(b, r.PrevLogEntry)
			b = binary.AppendUvarint(b, r.PrevLogTerm)
			b = binary.AppendUvarint(b, r.LeaderCommitIndex)
			b = binary.AppendUvarint(b, uint64(len(r.Entries)))
			for _, l := range r.Entries {
				b = binary.AppendUvarint(b, l.Index)
				b = binary.AppendUvarint(b, l.Term)
				b = append(b, byte(l.Type))
				b = wirebin.AppendBytes(b, l.Data)
				b = wirebin.AppendBytes(b, l.Extensions)
				var at uint64
				if !l.AppendedAt.IsZero() {
					at = uint64(l.AppendedAt.UnixNano()) + 1
				}
				b = binary.AppendUvarint(b, at)
			}
		case e.AppendEntriesResp != nil && e.alone():
			r := e.AppendEntriesResp
			b = append(b, kindAppended)
			b = appendHeader(b, &r.RPCHeader)
			b = binary.AppendUvarint(b, r.Term)
			b = binary.AppendUvarint(b, r.LastLog)
			var flags byte
			if r.Success {
				flags |= 1
			}
			if r.NoRetryBackoff {
				flags |= 2
			}
			b = append(b, flags)
		default:
			m, err := encode(e)
			if err != nil {
				return nil, err
			}
			b = append(b, kindOther)
			b = wirebin.AppendBytes(b, m)
		}
	}
	return b, nil
}

// alone reports whether the envelope carries one message and no error: the binary kinds
// carry exactly that.
func (e *envelope) alone() bool {
	n := 0
	for _, set := range []bool{e.AppendEntries != nil, e.RequestVote != nil, e.RequestPreVote != nil, e.TimeoutNow != nil,
		e.AppendEntriesResp != nil, e.RequestVoteResp != nil, e.RequestPreVoteResp != nil, e.TimeoutNowResp != nil} {
		if set {
			n++
		}
	}
	return n == 1 && e.Error == ""
}

func readHeader(r *wirebin.Reader, h *raft.RPCHeader) {
	h.ProtocolVersion = raft.ProtocolVersion(r.Uvarint())
	h.ID = r.Bytes()
	h.Addr = r.Bytes()
}

func decodeBatch(data []byte) ([]envelope, error) {
	r := wirebin.NewReader(data[1:])
	count := r.Count(3)
	msgs := make([]envelope, 0, count)
	for i := 0; i < count && r.Err() == nil; i++ {
		e := envelope{ID: r.Uvarint(), RangeID: r.Uvarint()}
		switch kind := r.Byte(); kind {
		case kindAppend:
			ae := &raft.AppendEntriesRequest{}
			readHeader(r, &ae.RPCHeader)
			ae.Term = r.Uvarint()
			ae.Leader = r.Bytes()
			ae.PrevLogEntry = r.Uvarint()
			ae.PrevLogTerm = r.Uvarint()
			ae.LeaderCommitIndex = r.Uvarint()
			if n := r.Count(6); n > 0 {
				ae.Entries = make([]*raft.Log, 0, n)
				logs := make([]raft.Log, n)
				for j := range logs {
					l := &logs[j]
					l.Index = r.Uvarint()
					l.Term = r.Uvarint()
					l.Type = raft.LogType(r.Byte())
					l.Data = r.Bytes()
					l.Extensions = r.Bytes()
					if at := r.Uvarint(); at != 0 {
						l.AppendedAt = time.Unix(0, int64(at-1))
					}
					ae.Entries = append(ae.Entries, l)
				}
			}
			e.AppendEntries = ae
		case kindAppended:
			resp := &raft.AppendEntriesResponse{}
			readHeader(r, &resp.RPCHeader)
			resp.Term = r.Uvarint()
			resp.LastLog = r.Uvarint()
			flags := r.Byte()
			resp.Success, resp.NoRetryBackoff = flags&1 != 0, flags&2 != 0
			e.AppendEntriesResp = resp
		case kindOther:
			m := r.Bytes()
			if r.Err() != nil {
				break
			}
			id, rangeID := e.ID, e.RangeID
			e = envelope{}
			if err := decode(m, &e); err != nil {
				return nil, err
			}
			e.ID, e.RangeID = id, rangeID
		default:
			if r.Err() == nil {
				return nil, fmt.Errorf("raftnet: unknown message kind %d", kind)
			}
		}
		msgs = append(msgs, e)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("raftnet: %w", err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("raftnet: %d bytes after the last message", r.Len())
	}
	return msgs, nil
}
