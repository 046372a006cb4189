package hlc

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNowMonotonic(t *testing.T) {
	m := NewManualClock(100)
	c := NewClock(m.UnixNano, time.Second)
	steps := []struct {
		name    string
		advance int64
		want    Timestamp
	}{
		{"first reading", 0, Timestamp{WallTime: 100}},
		{"clock stalls", 0, Timestamp{WallTime: 100, Logical: 1}},
		{"clock stalls again", 0, Timestamp{WallTime: 100, Logical: 2}},
		{"clock advances", 5, Timestamp{WallTime: 105}},
		{"clock steps back", -50, Timestamp{WallTime: 105, Logical: 1}},
		{"clock still behind", 10, Timestamp{WallTime: 105, Logical: 2}},
		{"clock catches up", 100, Timestamp{WallTime: 165}},
	}
	for _, s := range steps {
		m.Increment(s.advance)
		if got := c.Now(); got != s.want {
			t.Fatalf("%s: Now() = %s, want %s", s.name, got, s.want)
		}
	}
}

func TestUpdate(t *testing.T) {
	const maxOffset = 100
	tests := []struct {
		name    string
		remote  Timestamp
		want    Timestamp // the clock after Update
		wantErr bool
	}{
		{"remote behind", Timestamp{WallTime: 500}, Timestamp{WallTime: 1000}, false},
		{"remote equal wall, higher logical", Timestamp{WallTime: 1000, Logical: 7}, Timestamp{WallTime: 1000, Logical: 7}, false},
		{"remote ahead within offset", Timestamp{WallTime: 1050, Logical: 3}, Timestamp{WallTime: 1050, Logical: 3}, false},
		{"remote exactly at the limit", Timestamp{WallTime: 1100}, Timestamp{WallTime: 1100}, false},
		{"remote beyond the limit", Timestamp{WallTime: 1101}, Timestamp{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewManualClock(1000)
			c := NewClock(m.UnixNano, maxOffset)
			got, err := c.Update(tt.remote)
			if tt.wantErr {
				var coe *ClockOffsetError
				if !errors.As(err, &coe) {
					t.Fatalf("Update(%s) error = %v, want *ClockOffsetError", tt.remote, err)
				}
				if now := c.Now(); now != (Timestamp{WallTime: 1000}) {
					t.Fatalf("rejected update moved the clock to %s", now)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Update(%s) = %s, %v; want %s", tt.remote, got, err, tt.want)
			}
			if next := c.Now(); !tt.remote.Less(next) || !got.Less(next) {
				t.Fatalf("Now() = %s after Update(%s): not later", next, tt.remote)
			}
		})
	}
}

func TestUpdateUnlimitedOffset(t *testing.T) {
	c := NewClock(NewManualClock(10).UnixNano, 0)
	far := Timestamp{WallTime: 1e18}
	if got, err := c.Update(far); err != nil || got != far {
		t.Fatalf("Update = %s, %v", got, err)
	}
}

// TestSkewedClocks exchanges messages between two nodes whose physical clocks disagree by
// less than the maximum offset: every receive is stamped after its send, in both directions,
// even as the fast node's clock pulls the slow one forward.
func TestSkewedClocks(t *testing.T) {
	slowPhys := NewManualClock(1_000_000)
	fastPhys := NewManualClock(1_000_000 + 400) // 400ns ahead, max offset 500ns
	slow := NewClock(slowPhys.UnixNano, 500)
	fast := NewClock(fastPhys.UnixNano, 500)
	var last Timestamp
	for i := 0; i < 100; i++ {
		from, to := fast, slow
		if i%3 == 0 {
			from, to = slow, fast
		}
		sent := from.Now()
		if _, err := to.Update(sent); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		recv := to.Now()
		if !sent.Less(recv) {
			t.Fatalf("message %d: received at %s, not after send %s", i, recv, sent)
		}
		if !last.Less(recv) {
			t.Fatalf("message %d: causality chain broken: %s then %s", i, last, recv)
		}
		last = recv
		slowPhys.Increment(int64(i % 3)) // both clocks tick unevenly, keeping their skew
		fastPhys.Increment(int64(2 - i%3))
	}
	// A node whose clock jumped too far ahead is refused.
	fastPhys.Increment(10_000)
	if _, err := slow.Update(fast.Now()); err == nil {
		t.Fatal("a timestamp 10µs ahead with a 500ns max offset was accepted")
	}
}

func TestNowConcurrent(t *testing.T) {
	c := NewClock(nil, DefaultMaxOffset)
	const goroutines, each = 8, 2000
	results := make([][]Timestamp, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				results[g] = append(results[g], c.Now())
			}
		}()
	}
	wg.Wait()
	seen := map[Timestamp]bool{}
	for _, rs := range results {
		for i, ts := range rs {
			if i > 0 && !rs[i-1].Less(ts) {
				t.Fatalf("not increasing within a goroutine: %s then %s", rs[i-1], ts)
			}
			if seen[ts] {
				t.Fatalf("timestamp %s handed out twice", ts)
			}
			seen[ts] = true
		}
	}
}

func TestClockOffsetErrorMessage(t *testing.T) {
	m := NewManualClock(1_000_000_000)
	c := NewClock(m.UnixNano, 250*time.Millisecond)
	if c.MaxOffset() != 250*time.Millisecond || c.PhysicalNow() != 1_000_000_000 {
		t.Fatalf("MaxOffset = %s, PhysicalNow = %d", c.MaxOffset(), c.PhysicalNow())
	}
	_, err := c.Update(Timestamp{WallTime: 2_000_000_000})
	var coe *ClockOffsetError
	if !errors.As(err, &coe) {
		t.Fatalf("error %v is not a *ClockOffsetError", err)
	}
	if coe.Physical != 1_000_000_000 || coe.MaxOffset != 250*time.Millisecond {
		t.Fatalf("error fields %+v", coe)
	}
	if msg := err.Error(); !strings.Contains(msg, "1s ahead") || !strings.Contains(msg, "250ms") {
		t.Fatalf("message %q does not name the offset and the limit", msg)
	}
}

// TestUpdateThenStepBack checks that a clock pulled forward by a remote timestamp stays
// ahead of it even when its own physical clock then steps backwards.
func TestUpdateThenStepBack(t *testing.T) {
	m := NewManualClock(1000)
	c := NewClock(m.UnixNano, 100)
	remote := Timestamp{WallTime: 1080, Logical: 4}
	if _, err := c.Update(remote); err != nil {
		t.Fatal(err)
	}
	m.Increment(-500)
	prev := remote
	for i := 0; i < 5; i++ {
		now := c.Now()
		if !prev.Less(now) || now.WallTime != 1080 {
			t.Fatalf("Now() = %s after %s", now, prev)
		}
		prev = now
	}
	m.Set(2000)
	if now := c.Now(); now != (Timestamp{WallTime: 2000}) {
		t.Fatalf("Now() = %s once the physical clock passed the remote one", now)
	}
}

// TestConcurrentNowAndUpdate runs Now and Update together under the race detector: every
// goroutine still sees its own readings strictly increase.
func TestConcurrentNowAndUpdate(t *testing.T) {
	m := NewManualClock(1_000_000)
	c := NewClock(m.UnixNano, time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last Timestamp
			for i := 0; i < 1000; i++ {
				var ts Timestamp
				switch i % 3 {
				case 0:
					m.Increment(int64(i%7) - 3)
					ts = c.Now()
				case 1:
					got, err := c.Update(Timestamp{WallTime: m.UnixNano() + 10, Logical: int32(i)})
					if err != nil {
						t.Error(err)
						return
					}
					ts = got
					if next := c.Now(); !ts.Less(next) {
						t.Errorf("Now() = %s not after Update result %s", next, ts)
						return
					}
					ts = c.Now()
				default:
					ts = c.Now()
				}
				if !last.Less(ts) {
					t.Errorf("goroutine %d: %s then %s", g, last, ts)
					return
				}
				last = ts
			}
		}()
	}
	wg.Wait()
}

// TestPhysicalNowNeverStepsBack: a machine clock stepped back does not take the clock's
// physical readings with it; they resume once the machine clock passes the highest one.
func TestPhysicalNowNeverStepsBack(t *testing.T) {
	m := NewManualClock(1000)
	c := NewClock(m.UnixNano, time.Second)
	for _, s := range []struct {
		set, want int64
	}{{1000, 1000}, {900, 1000}, {1000, 1000}, {1001, 1001}, {5, 1001}} {
		m.Set(s.set)
		if got := c.PhysicalNow(); got != s.want {
			t.Fatalf("machine clock at %d: PhysicalNow() = %d, want %d", s.set, got, s.want)
		}
	}
	// The hybrid clock never reads below a physical reading handed out before.
	if now := c.Now(); now.WallTime < 1001 {
		t.Fatalf("Now() = %s after a physical reading of 1001", now)
	}
}
