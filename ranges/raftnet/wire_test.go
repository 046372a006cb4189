package raftnet

import (
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestBatchRoundTrip(t *testing.T) {
	hdr := raft.RPCHeader{ProtocolVersion: 3, ID: []byte("1"), Addr: []byte("1")}
	at := time.Unix(1700000000, 5).UTC()
	in := &batch{Msgs: []envelope{
		{ID: 1, RangeID: 9, AppendEntries: &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 4, PrevLogEntry: 10, PrevLogTerm: 3,
			Entries:           []*raft.Log{{Index: 11, Term: 4, Type: raft.LogCommand, Data: []byte{0, 1, 2}, Extensions: []byte("x"), AppendedAt: at}},
			LeaderCommitIndex: 10}},
		{ID: 2, RangeID: 9, RequestVote: &raft.RequestVoteRequest{RPCHeader: hdr, Term: 5, LastLogIndex: 11, LastLogTerm: 4, LeadershipTransfer: true}},
		{ID: 3, RangeID: 1, RequestPreVote: &raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 6, LastLogIndex: 2, LastLogTerm: 1}},
		{ID: 4, RangeID: 1, TimeoutNow: &raft.TimeoutNowRequest{RPCHeader: hdr}},
		{ID: 5, RangeID: 9, AppendEntriesResp: &raft.AppendEntriesResponse{RPCHeader: hdr, Term: 4, LastLog: 11, Success: true, NoRetryBackoff: true}},
		{ID: 6, RangeID: 9, RequestVoteResp: &raft.RequestVoteResponse{RPCHeader: hdr, Term: 5, Granted: true}},
		{ID: 7, RangeID: 1, RequestPreVoteResp: &raft.RequestPreVoteResponse{RPCHeader: hdr, Term: 6, Granted: true}},
		{ID: 8, RangeID: 1, TimeoutNowResp: &raft.TimeoutNowResponse{RPCHeader: hdr}},
		{ID: 9, RangeID: 1, Error: "no replica"},
	}}
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out batch
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got := out.Msgs[0].AppendEntries.Entries[0].AppendedAt; !got.Equal(at) {
		t.Fatalf("AppendedAt = %v, want %v", got, at)
	}
	out.Msgs[0].AppendEntries.Entries[0].AppendedAt = at // compare the rest exactly
	if !reflect.DeepEqual(in, &out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, *in)
	}
	for i := 0; i < len(b); i++ {
		if err := out.UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded without error", i)
		}
	}
	// A node of an earlier version sends MessagePack; it still decodes.
	old, err := encode((*plainBatch)(in))
	if err != nil {
		t.Fatal(err)
	}
	out = batch{}
	if err := out.UnmarshalBinary(old); err != nil {
		t.Fatal(err)
	}
	out.Msgs[0].AppendEntries.Entries[0].AppendedAt = at
	if !reflect.DeepEqual(in, &out) {
		t.Fatalf("MessagePack form:\n got %+v\nwant %+v", out, *in)
	}
}

// FuzzBatchDecode: no input makes decoding panic, and whatever decodes encodes and decodes
// again to the same messages.
func FuzzBatchDecode(f *testing.F) {
	hdr := raft.RPCHeader{ProtocolVersion: 3, ID: []byte("2"), Addr: []byte("2")}
	for _, msgs := range [][]envelope{
		{{ID: 1, RangeID: 2, AppendEntries: &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 1, Entries: []*raft.Log{{Index: 1, Data: []byte("d")}}}}},
		{{ID: 3, RangeID: 4, AppendEntriesResp: &raft.AppendEntriesResponse{RPCHeader: hdr, Term: 1, Success: true}}},
		{{ID: 5, RangeID: 6, Error: "no replica"}},
	} {
		b, err := encodeBatch(msgs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in batch
		if in.UnmarshalBinary(data) != nil {
			return
		}
		b, err := in.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v, which does not encode: %v", in, err)
		}
		var out batch
		if err := out.UnmarshalBinary(b); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if len(out.Msgs) != len(in.Msgs) {
			t.Fatalf("%d messages became %d", len(in.Msgs), len(out.Msgs))
		}
	})
}

// BenchmarkBatchCodec compares the binary form with MessagePack for a batch of one
// AppendEntries with one 200-byte entry and its response, both ways.
func BenchmarkBatchCodec(b *testing.B) {
	hdr := raft.RPCHeader{ProtocolVersion: 3, ID: []byte("1"), Addr: []byte("1")}
	in := &batch{Msgs: []envelope{
		{ID: 7, RangeID: 40, AppendEntries: &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 3, PrevLogEntry: 100, PrevLogTerm: 3, LeaderCommitIndex: 100,
			Entries: []*raft.Log{{Index: 101, Term: 3, Type: raft.LogCommand, Data: make([]byte, 200), AppendedAt: time.Now()}}}},
		{ID: 8, RangeID: 41, AppendEntriesResp: &raft.AppendEntriesResponse{RPCHeader: hdr, Term: 3, LastLog: 101, Success: true}},
	}}
	for _, c := range []struct {
		name string
		enc  func() ([]byte, error)
	}{
		{"binary", in.MarshalBinary},
		{"msgpack", func() ([]byte, error) { return encode((*plainBatch)(in)) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := c.enc()
				if err != nil {
					b.Fatal(err)
				}
				var out batch
				if err := out.UnmarshalBinary(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSnapshotMessagesRoundTrip(t *testing.T) {
	in := &snapshotChunk{RangeID: 3, Request: &raft.InstallSnapshotRequest{Term: 2, LastLogIndex: 40, LastLogTerm: 2,
		Configuration: []byte("cfg"), ConfigurationIndex: 1, Size: 1 << 20, SnapshotVersion: 1}, Data: []byte("data")}
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out snapshotChunk
	if err := out.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(in, &out) {
		t.Fatalf("chunk round trip: %+v, %v", out, err)
	}
	r := &snapshotReply{Response: &raft.InstallSnapshotResponse{Term: 2, Success: true}}
	if b, err = r.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	var rout snapshotReply
	if err := rout.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(r, &rout) {
		t.Fatalf("reply round trip: %+v, %v", rout, err)
	}
}

func TestGatherLingersOnlyForHeartbeats(t *testing.T) {
	hb := envelope{AppendEntries: &raft.AppendEntriesRequest{Term: 1, RPCHeader: raft.RPCHeader{Addr: []byte("1")}}}
	entries := envelope{AppendEntries: &raft.AppendEntriesRequest{Term: 1, PrevLogEntry: 4, RPCHeader: raft.RPCHeader{Addr: []byte("1")}}}
	id := func(e envelope) envelope { return e }
	// The linger is far longer than the test may run: a batch that lingers when it should
	// not hangs (and fails below), and one that should linger cannot time out by accident
	// on a slow machine.
	const forever = time.Hour
	gatherSoon := func(first envelope, q chan envelope) []envelope {
		t.Helper()
		done := make(chan []envelope, 1)
		go func() { done <- gather(first, q, id, isHeartbeatRequest, forever) }()
		select {
		case got := <-done:
			return got
		case <-time.After(10 * time.Second):
			t.Fatalf("gather of %+v lingered", first.AppendEntries)
			return nil
		}
	}

	// A heartbeat waits for the heartbeat that arrives later, and the entries after it end
	// the wait.
	q := make(chan envelope, 4)
	go func() {
		time.Sleep(20 * time.Millisecond)
		q <- hb
		q <- entries
	}()
	if got := gatherSoon(hb, q); len(got) != 3 {
		t.Fatalf("heartbeat batch has %d messages, want 3 (it should linger)", len(got))
	}
	// Anything else goes at once, with what is already queued.
	q = make(chan envelope, 4)
	q <- hb
	if got := gatherSoon(entries, q); len(got) != 2 {
		t.Fatalf("entries batch has %d messages, want 2", len(got))
	}
	// A heartbeat batch stops lingering when entries join it.
	q <- entries
	if got := gatherSoon(hb, q); len(got) != 2 {
		t.Fatalf("mixed batch has %d messages, want 2", len(got))
	}
	// A heartbeat batch goes when its linger ends.
	if got := gather(hb, q, id, isHeartbeatRequest, time.Millisecond); len(got) != 1 {
		t.Fatalf("lone heartbeat batch has %d messages, want 1", len(got))
	}
}

// TestRestartedNodeRefusesVotes: while a node keeps quiet after a restart, its replicas
// refuse votes and pre-votes (with a term no candidate takes for a newer one), except in an
// election a leader asked for; other messages, and votes after the quiet, go through.
func TestRestartedNodeRefusesVotes(t *testing.T) {
	tr := New(1, nil, nil)
	defer tr.Close()
	vote := envelope{RequestVote: &raft.RequestVoteRequest{Term: 7}}
	transfer := envelope{RequestVote: &raft.RequestVoteRequest{Term: 7, LeadershipTransfer: true}}
	preVote := envelope{RequestPreVote: &raft.RequestPreVoteRequest{Term: 7}}
	entries := envelope{AppendEntries: &raft.AppendEntriesRequest{Term: 7}}
	if tr.RefusesVotes() || tr.refusedVote(vote) != nil {
		t.Fatal("a node that did not restart refuses votes")
	}
	const quiet = 50 * time.Millisecond
	tr.RefuseVotesFor(quiet)
	for _, c := range []struct {
		name string
		env  envelope
		want any
	}{
		{"vote", vote, &raft.RequestVoteResponse{}},
		{"pre-vote", preVote, &raft.RequestPreVoteResponse{}},
		{"transfer", transfer, nil},
		{"entries", entries, nil},
	} {
		got := tr.refusedVote(c.env)
		if c.want == nil && got != nil || c.want != nil && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s while quiet: %+v, want %+v", c.name, got, c.want)
		}
	}
	time.Sleep(2 * quiet)
	if tr.RefusesVotes() || tr.refusedVote(vote) != nil {
		t.Fatal("votes still refused after the quiet")
	}
}
