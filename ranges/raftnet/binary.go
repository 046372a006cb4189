package raftnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// A batch travels in a hand-written binary form: Raft's AppendEntries messages and their
// responses (nearly all the traffic) are written field by field, which costs a fraction of
// reflective MessagePack; any other message (votes, TimeoutNow, errors) is embedded as its
// MessagePack encoding. The form starts with binaryMark, a byte that never begins a
// MessagePack value, so a batch in MessagePack (from a node of an earlier version) still
// decodes. The layout, with uvarint integers and uvarint-length-prefixed byte strings:
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

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendHeader(b []byte, h *raft.RPCHeader) []byte {
	b = binary.AppendUvarint(b, uint64(h.ProtocolVersion))
	b = appendBytes(b, h.ID)
	return appendBytes(b, h.Addr)
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
			b = appendBytes(b, r.Leader)
			b = binary.AppendUvarint(b, r.PrevLogEntry)
			b = binary.AppendUvarint(b, r.PrevLogTerm)
			b = binary.AppendUvarint(b, r.LeaderCommitIndex)
			b = binary.AppendUvarint(b, uint64(len(r.Entries)))
			for _, l := range r.Entries {
				b = binary.AppendUvarint(b, l.Index)
				b = binary.AppendUvarint(b, l.Term)
				b = append(b, byte(l.Type))
				b = appendBytes(b, l.Data)
				b = appendBytes(b, l.Extensions)
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
			b = appendBytes(b, m)
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

var errTruncated = errors.New("raftnet: truncated message")

// reader decodes the binary form; its first error sticks and later reads return zeros.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errTruncated
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errTruncated
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// bytes returns a copy (nil when empty, as MessagePack decodes an empty byte string): Raft
// keeps entries' data after the batch's buffer is gone.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errTruncated
		return nil
	}
	var s []byte
	if n > 0 {
		s = append([]byte(nil), r.b[:n]...)
	}
	r.b = r.b[n:]
	return s
}

func (r *reader) header(h *raft.RPCHeader) {
	h.ProtocolVersion = raft.ProtocolVersion(r.uvarint())
	h.ID = r.bytes()
	h.Addr = r.bytes()
}

func decodeBatch(data []byte) ([]envelope, error) {
	r := &reader{b: data[1:]}
	count := r.uvarint()
	if r.err == nil && count > uint64(len(r.b)) { // every envelope takes at least a byte
		return nil, errTruncated
	}
	msgs := make([]envelope, 0, count)
	for i := uint64(0); i < count && r.err == nil; i++ {
		e := envelope{ID: r.uvarint(), RangeID: r.uvarint()}
		switch kind := r.byte(); kind {
		case kindAppend:
			ae := &raft.AppendEntriesRequest{}
			r.header(&ae.RPCHeader)
			ae.Term = r.uvarint()
			ae.Leader = r.bytes()
			ae.PrevLogEntry = r.uvarint()
			ae.PrevLogTerm = r.uvarint()
			ae.LeaderCommitIndex = r.uvarint()
			n := r.uvarint()
			if r.err == nil && n > uint64(len(r.b)) {
				return nil, errTruncated
			}
			if n > 0 {
				ae.Entries = make([]*raft.Log, 0, n)
				logs := make([]raft.Log, n)
				for j := range logs {
					l := &logs[j]
					l.Index = r.uvarint()
					l.Term = r.uvarint()
					l.Type = raft.LogType(r.byte())
					l.Data = r.bytes()
					l.Extensions = r.bytes()
					if at := r.uvarint(); at != 0 {
						l.AppendedAt = time.Unix(0, int64(at-1))
					}
					ae.Entries = append(ae.Entries, l)
				}
			}
			e.AppendEntries = ae
		case kindAppended:
			resp := &raft.AppendEntriesResponse{}
			r.header(&resp.RPCHeader)
			resp.Term = r.uvarint()
			resp.LastLog = r.uvarint()
			flags := r.byte()
			resp.Success, resp.NoRetryBackoff = flags&1 != 0, flags&2 != 0
			e.AppendEntriesResp = resp
		case kindOther:
			m := r.bytes()
			if r.err != nil {
				break
			}
			id, rangeID := e.ID, e.RangeID
			e = envelope{}
			if err := decode(m, &e); err != nil {
				return nil, err
			}
			e.ID, e.RangeID = id, rangeID
		default:
			if r.err == nil {
				return nil, fmt.Errorf("raftnet: unknown message kind %d", kind)
			}
		}
		msgs = append(msgs, e)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("raftnet: %d bytes after the last message", len(r.b))
	}
	return msgs, nil
}
