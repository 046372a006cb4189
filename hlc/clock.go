package hlc

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxOffset is the largest clock offset between nodes that Meridian tolerates unless
// configured otherwise.
const DefaultMaxOffset = 500 * time.Millisecond

// UnixNano is the system wall clock in nanoseconds since the Unix epoch.
func UnixNano() int64 { return time.Now().UnixNano() }

// ClockOffsetError reports a remote timestamp too far ahead of the local physical clock: one
// of the two clocks is broken, and accepting the timestamp would drag this clock with it.
type ClockOffsetError struct {
	Remote    Timestamp
	Physical  int64
	MaxOffset time.Duration
}

func (e *ClockOffsetError) Error() string {
	return fmt.Sprintf("remote timestamp %s is %s ahead of the local clock, more than the maximum offset %s",
		e.Remote, time.Duration(e.Remote.WallTime-e.Physical), e.MaxOffset)
}

// Clock is a hybrid logical clock: it follows the physical clock, never goes backwards, and
// moves past every timestamp it has seen, so causally related events get ordered timestamps.
type Clock struct {
	physicalNow func() int64
	maxOffset   time.Duration
	// highPhys is the highest physical reading handed out (see PhysicalNow).
	highPhys atomic.Int64

	mu   sync.Mutex
	last Timestamp
}

// NewClock returns a clock reading physicalNow (nil: UnixNano). A positive maxOffset makes
// Update reject remote timestamps further ahead than that.
func NewClock(physicalNow func() int64, maxOffset time.Duration) *Clock {
	if physicalNow == nil {
		physicalNow = UnixNano
	}
	return &Clock{physicalNow: physicalNow, maxOffset: maxOffset}
}

// MaxOffset is the configured maximum clock offset.
func (c *Clock) MaxOffset() time.Duration { return c.maxOffset }

// PhysicalNow reads the physical clock, but never returns less than an earlier reading: a
// node's readings stand for the order of events on it (a value's local timestamp against a
// transaction's observation of the node, see ranges/mvcc.ReadOptions), which a machine clock
// stepped back would turn around.
func (c *Clock) PhysicalNow() int64 {
	phys := c.physicalNow()
	for {
		high := c.highPhys.Load()
		if phys <= high {
			return high
		}
		if c.highPhys.CompareAndSwap(high, phys) {
			return phys
		}
	}
}

// Now returns a timestamp after every timestamp the clock returned or was updated with.
func (c *Clock) Now() Timestamp {
	phys := c.PhysicalNow()
	c.mu.Lock()
	defer c.mu.Unlock()
	if phys > c.last.WallTime {
		c.last = Timestamp{WallTime: phys}
	} else {
		// The physical clock stalled or stepped back: order events by the logical counter.
		c.last = c.last.Next()
	}
	return c.last
}

// Update moves the clock past remote, a timestamp received from another node, and returns the
// clock's new reading. A remote timestamp more than MaxOffset ahead of the physical clock is
// rejected with a *ClockOffsetError and leaves the clock unchanged.
func (c *Clock) Update(remote Timestamp) (Timestamp, error) {
	phys := c.PhysicalNow()
	if c.maxOffset > 0 && remote.WallTime-phys > int64(c.maxOffset) {
		return Timestamp{}, &ClockOffsetError{Remote: remote, Physical: phys, MaxOffset: c.maxOffset}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if phys > c.last.WallTime {
		c.last = Timestamp{WallTime: phys}
	}
	if c.last.Less(remote) {
		c.last = remote
	}
	return c.last, nil
}

// ManualClock is a physical clock that tests move by hand.
type ManualClock struct {
	mu    sync.Mutex
	nanos int64
}

// NewManualClock returns a manual clock reading nanos.
func NewManualClock(nanos int64) *ManualClock { return &ManualClock{nanos: nanos} }

// UnixNano reads the clock; pass it to NewClock.
func (m *ManualClock) UnixNano() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nanos
}

// Increment moves the clock by nanos (negative steps it back).
func (m *ManualClock) Increment(nanos int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nanos += nanos
}

// Set sets the clock.
func (m *ManualClock) Set(nanos int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nanos = nanos
}
