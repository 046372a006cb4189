package txn

import (
	"context"
	"sync"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
)

// pointResult is what one request of sendPoints got: its response and the write timestamp
// its batch came back with, or its error.
type pointResult struct {
	resp kvpb.Response
	ts   hlc.Timestamp
	err  error
}

// pointMode is how sendPoints sends writes.
type pointMode uint8

const (
	replicated    pointMode = iota // answered once replicated
	pipelined                      // answered once proposed (write pipelining)
	besideStaging                  // in flight beside a staged record: never sent twice
)

// sendPoints sends requests on single keys at txn, one batch per range (as the range cache
// has it), the batches at once: n writes, proofs or reads over k ranges cost k requests,
// each evaluated and replicated once, instead of n. The requests must not depend on each
// other: their order within a range's batch is not theirs. A batch whose range changed shape
// since it was looked up applied nothing, and its requests go again by fresh descriptors.
// An error of a batch is the error of each of its requests. mode says how writes go.
func (t *Txn) sendPoints(ctx context.Context, txn *kvpb.Transaction, reqs []kvpb.Request, mode pointMode) []pointResult {
	out := make([]pointResult, len(reqs))
	pending := make([]int, len(reqs))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		groups, err := t.groupByRange(ctx, reqs, pending)
		if err != nil {
			for _, i := range pending {
				out[i].err = err
			}
			return out
		}
		var (
			mu       sync.Mutex
			again    []int
			mismatch error
		)
		inParallel(len(groups), func(g int) {
			idx := groups[g].idx
			part := make([]kvpb.Request, len(idx))
			for j, i := range idx {
				part[j] = reqs[i]
			}
			br, err := t.db.sender.Send(ctx, &kvpb.BatchRequest{Txn: txn, RangeID: groups[g].rangeID, Requests: part,
				LockTimeout: t.lockTimeout, AsyncConsensus: mode == pipelined, WithStaging: mode == besideStaging})
			if isRangeKeyMismatch(err) {
				mu.Lock()
				again, mismatch = append(again, idx...), err
				mu.Unlock()
				return
			}
			if err != nil {
				for _, i := range idx {
					out[i].err = err
				}
				return
			}
			t.observe(br)
			ts := txn.WriteTimestamp
			if br.Txn != nil {
				ts = br.Txn.WriteTimestamp
			}
			for j, i := range idx {
				out[i] = pointResult{resp: br.Responses[j], ts: ts}
			}
		})
		if len(again) > 0 {
			if werr := awaitReroute(ctx, attempt, mismatch); werr != nil {
				for _, i := range again {
					out[i].err = werr
				}
				return out
			}
		}
		pending = again
	}
	return out
}

// rangeGroup is the requests (by index) that one range holds the keys of.
type rangeGroup struct {
	rangeID uint64
	idx     []int
}

// groupByRange groups reqs[i], for i in which, by the range holding their keys, in the
// order the ranges first appear.
func (t *Txn) groupByRange(ctx context.Context, reqs []kvpb.Request, which []int) ([]rangeGroup, error) {
	var groups []rangeGroup
	for _, i := range which {
		d, err := t.db.lookup.RangeForKey(ctx, reqs[i].Header().Key)
		if err != nil {
			return nil, err
		}
		g := len(groups) - 1
		for g >= 0 && groups[g].rangeID != d.RangeID {
			g--
		}
		if g < 0 {
			groups = append(groups, rangeGroup{rangeID: d.RangeID})
			g = len(groups) - 1
		}
		groups[g].idx = append(groups[g].idx, i)
	}
	return groups, nil
}
