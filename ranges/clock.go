package ranges

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// startClock makes the clock read above every timestamp written before a restart, and returns
// the new low water for timestamp caches. Writes before the restart were at most at the
// previous low water or at the physical time of the previous run; waiting until the physical
// clock passes the previous low water (at most the maximum clock offset, and only right after
// a quick restart) keeps acknowledged writes visible to the reads that follow.
func startClock(ctx context.Context, db *pebble.DB, clock *hlc.Clock) (hlc.Timestamp, error) {
	v, ok, err := mvcc.GetUnversioned(db, keys.StoreLowWaterKey)
	if err != nil {
		return hlc.Timestamp{}, err
	}
	if ok {
		prev, err := decodeTimestamp(v)
		if err != nil {
			return hlc.Timestamp{}, fmt.Errorf("store low water: %w", err)
		}
		if wait := time.Duration(prev.WallTime - clock.PhysicalNow()); wait >= 0 {
			t := time.NewTimer(wait + time.Microsecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return hlc.Timestamp{}, ctx.Err()
			}
		}
		if _, err := clock.Update(prev); err != nil {
			return hlc.Timestamp{}, err
		}
	}
	lowWater := clock.Now().Add(int64(clock.MaxOffset()))
	if err := mvcc.PutUnversioned(db, keys.StoreLowWaterKey, encodeTimestamp(lowWater)); err != nil {
		return hlc.Timestamp{}, err
	}
	if err := db.LogData(nil, pebble.Sync); err != nil {
		return hlc.Timestamp{}, err
	}
	return lowWater, nil
}

// coverFutureWrite makes sure a restarted store's clock starts above ts, a timestamp a
// write landed at. Writes at or below the physical time need nothing (the physical clock
// passes them before any restart); one pushed into the future (above a lease change's or a
// split's low water) raises the persisted store low water, which startClock waits out.
// The new low water is a maximum clock offset ahead, so the writes of the next moments are
// covered by one sync.
func (s *Store) coverFutureWrite(ts hlc.Timestamp) error {
	clock := s.cfg.Clock
	if ts.WallTime <= clock.PhysicalNow() {
		return nil
	}
	s.persistedMu.Lock()
	defer s.persistedMu.Unlock()
	if ts.LessEq(s.persistedHigh) {
		return nil
	}
	next := ts.Add(int64(clock.MaxOffset()))
	b := s.db.NewBatch()
	defer b.Close()
	if err := mvcc.PutUnversioned(b, keys.StoreLowWaterKey, encodeTimestamp(next)); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("persisting the store low water: %w", err)
	}
	s.persistedHigh = next
	return nil
}
