package catalog

import (
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
)

func TestLeaseRecordEncoding(t *testing.T) {
	for _, tc := range []struct {
		v     uint64
		until hlc.Timestamp
	}{
		{1, hlc.Timestamp{WallTime: 1}},
		{42, hlc.Timestamp{WallTime: 1_764_000_000_000_000_000, Logical: 7}},
		{1 << 63, hlc.Timestamp{WallTime: 1<<62 + 3, Logical: 1<<31 - 1}},
	} {
		v, until, err := decodeLease(encodeLease(tc.v, tc.until))
		if err != nil || v != tc.v || until != tc.until {
			t.Errorf("lease (%d, %s) decoded as (%d, %s), %v", tc.v, tc.until, v, until, err)
		}
	}
	for _, bad := range [][]byte{nil, make([]byte, 8), make([]byte, 21)} {
		if _, _, err := decodeLease(bad); err == nil {
			t.Errorf("decodeLease(%d bytes): no error", len(bad))
		}
	}
}

// TestLeaseRenewalTimedByHeldLease: a lease is renewed when half the window it was taken with
// is left, however long the next one will be. Timed by the next window (8 times the last
// acquisition's time), a renewal after an acquisition slower than the one before began after
// the lease it replaced had run out, and the node's transactions read the version meanwhile.
func TestLeaseRenewalTimedByHeldLease(t *testing.T) {
	const maxOffset = 500 * time.Millisecond
	m := hlc.NewManualClock(int64(100 * time.Second))
	l := &leases{clock: hlc.NewClock(m.UnixNano, maxOffset), renewWant: make(chan struct{}, 1)}
	// Taken at 100s with the shortest window; the acquisition took 600ms, so the next
	// window is 4.8s.
	read := l.clock.Now()
	l.held, l.from, l.until, l.span = true, read, read.Add(int64(maxOffset+leaseWindow)), leaseWindow
	l.lastTook.Store(int64(600 * time.Millisecond))
	if got := l.window(); got != 4800*time.Millisecond {
		t.Fatalf("next window %s, want 4.8s", got)
	}
	for _, tc := range []struct {
		after time.Duration
		due   time.Duration
		asks  bool // a transaction then asks for a renewal
	}{
		{0, 250 * time.Millisecond, false},
		{200 * time.Millisecond, 50 * time.Millisecond, false},
		{250 * time.Millisecond, 0, true},
		{400 * time.Millisecond, -150 * time.Millisecond, true},
	} {
		m.Set(int64(100*time.Second + tc.after))
		if due := l.untilRenewal(l.until, l.span); due != tc.due {
			t.Errorf("%s after the read: renewal due in %s, want %s", tc.after, due, tc.due)
		}
		if _, ok := l.leasedVersion(l.clock.Now()); !ok {
			t.Errorf("%s after the read: the lease did not serve", tc.after)
		}
		select {
		case <-l.renewWant:
			if !tc.asks {
				t.Errorf("%s after the read: a transaction asked for a renewal", tc.after)
			}
		default:
			if tc.asks {
				t.Errorf("%s after the read: no transaction asked for a renewal", tc.after)
			}
		}
	}
}
