package ranges

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Defaults for MVCC garbage collection.
const (
	DefaultGCTTL        = 4 * time.Hour
	DefaultGCInterval   = 10 * time.Minute
	DefaultTxnRecordTTL = 2 * time.Hour
)

func encodeTimestamp(ts hlc.Timestamp) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(ts.WallTime))
	return binary.BigEndian.AppendUint32(b, uint32(ts.Logical))
}

func decodeTimestamp(b []byte) (hlc.Timestamp, error) {
	if len(b) != 12 {
		return hlc.Timestamp{}, errors.New("corrupt timestamp")
	}
	return hlc.Timestamp{WallTime: int64(binary.BigEndian.Uint64(b)), Logical: int32(binary.BigEndian.Uint32(b[8:]))}, nil
}

// gcThreshold reads the range's persisted GC threshold.
func (r *Replica) gcThreshold() (hlc.Timestamp, error) {
	v, ok, err := mvcc.GetUnversioned(r.store.db, keys.RangeGCThresholdKey(r.rangeID))
	if err != nil || !ok {
		return hlc.Timestamp{}, err
	}
	return decodeTimestamp(v)
}

// checkGCThreshold fails requests that would read below the GC threshold.
func (r *Replica) checkGCThreshold(ba *kvpb.BatchRequest) error {
	th := hlc.Timestamp{WallTime: r.gcThresholdWall.Load()}
	if !th.IsEmpty() && ba.Timestamp.LessEq(th) {
		return &kvpb.BatchTimestampBeforeGCError{Timestamp: ba.Timestamp, Threshold: th}
	}
	return nil
}

// gcLoop collects every range's versions older than the GC TTL, each GC interval, until the
// store closes.
func (s *Store) gcLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopper:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stopper:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := s.collectGarbage(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("MVCC garbage collection failed", "err", err)
		}
		cancel()
	}
}

// GCHorizon is the threshold garbage collection may raise ranges to now: now - TTL, or just
// below the oldest live reader's timestamp if that is lower. Nothing at or below it will be
// read again.
func (s *Store) GCHorizon() hlc.Timestamp {
	threshold := s.cfg.Clock.Now().Add(-int64(s.cfg.GCTTL))
	if s.cfg.GCProtected != nil {
		if oldest := s.cfg.GCProtected(); !oldest.IsEmpty() && oldest.LessEq(threshold) {
			threshold = hlc.Timestamp{WallTime: oldest.WallTime - 1}
		}
	}
	return threshold
}

// GCInterval is how often garbage is collected.
func (s *Store) GCInterval() time.Duration { return s.cfg.GCInterval }

// collectGarbage runs one GC pass over every range at the GC horizon.
func (s *Store) collectGarbage(ctx context.Context) error {
	threshold := s.GCHorizon()
	for _, listed := range s.Descriptors() {
		r := s.Replica(listed.RangeID)
		if r == nil || !r.IsLeaseholder() {
			continue // the leaseholder collects; followers apply what it proposes
		}
		// The range may have split since the list was taken (the passes over the ranges
		// before it take a while): its span now is what it accepts.
		d := r.Desc()
		start := maxKey(d.StartKey, keys.LocalMax)
		ba := &kvpb.BatchRequest{RangeID: d.RangeID, Requests: []kvpb.Request{
			&kvpb.GCRequest{Span: kvpb.Span{Key: start, EndKey: d.EndKey}, Threshold: threshold},
		}}
		if _, err := s.Send(ctx, ba); err != nil {
			var mismatch *kvpb.RangeKeyMismatchError
			if errors.As(err, &mismatch) {
				// The range split or merged since its descriptor was read: its new
				// shape (and the ranges split from it) are collected in the next pass. The
				// other ranges are not held up for it.
				s.log.Debug("skipping the GC of a range that changed shape", "range", d.RangeID, "err", err)
				continue
			}
			return fmt.Errorf("r%d: %w", d.RangeID, err)
		}
		s.settleOldRecords(ctx, d)
	}
	return nil
}

// settleTimeout bounds the settling of one abandoned transaction.
const settleTimeout = 30 * time.Second

// settleOldRecords hands the range's STAGING and COMMITTED records silent for TxnRecordTTL
// to cfg.SettleTxnRecord: their coordinators died before finishing them (see
// collectTxnRecords for the rest).
func (s *Store) settleOldRecords(ctx context.Context, d *kvpb.RangeDescriptor) {
	if s.cfg.SettleTxnRecord == nil {
		return
	}
	cutoff := s.cfg.Clock.Now().Add(-int64(s.cfg.TxnRecordTTL))
	old, err := scanTxnRecords(s.db, d, func(rec *kvpb.Transaction) bool {
		return (rec.Status == kvpb.Staging || rec.Status == kvpb.Committed) && lastActive(rec).Less(cutoff)
	})
	if err != nil {
		s.log.Warn("reading transaction records", "range", d.RangeID, "err", err)
		return
	}
	for _, rec := range old {
		// Bounded, so that an unavailable range does not hold up the collection of others.
		sctx, cancel := context.WithTimeout(ctx, settleTimeout)
		err := s.cfg.SettleTxnRecord(sctx, rec)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("settling an abandoned transaction", "txn", fmt.Sprintf("%x", rec.ID[:4]), "status", rec.Status, "err", err)
		}
	}
}
