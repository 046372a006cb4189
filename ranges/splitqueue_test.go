package ranges

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLoadStats(t *testing.T) {
	var l loadStats
	start := time.Unix(1700000000, 0)
	// 1,000 requests over one window, keys k000..k999 evenly: the median is near k500.
	for i := 0; i < 1000; i++ {
		l.record([]byte(fmt.Sprintf("k%03d", i)), start.Add(time.Duration(i)*loadWindow/1000))
	}
	if l.qps != 0 {
		t.Fatalf("rate known before the window ended: %v", l.qps)
	}
	l.record([]byte("k000"), start.Add(loadWindow)) // closes the window
	if want := 1000 / loadWindow.Seconds(); l.qps < want*0.99 || l.qps > want*1.01 {
		t.Fatalf("qps = %v, want about %v", l.qps, want)
	}
	if m := string(l.median); m < "k300" || m > "k700" {
		t.Fatalf("median sampled key %q is far from the middle", m)
	}
}

func TestSizeSplitKey(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	r := s.replicas[1]
	if _, ok := r.SizeSplitKey(1 << 10); ok {
		t.Fatal("an empty range wants to split")
	}
	for i := 0; i < 100; i++ {
		put(t, s, fmt.Sprintf("\x10key%03d", i), string(make([]byte, 100)))
	}
	if _, ok := r.SizeSplitKey(1 << 20); ok {
		t.Fatal("a 10 KiB range wants to split at 1 MiB")
	}
	put(t, s, "\x10key000", "x") // a write makes the range worth measuring again
	key, ok := r.SizeSplitKey(4 << 10)
	if !ok {
		t.Fatal("a 10 KiB range does not want to split at 4 KiB")
	}
	if k := string(key); k < "\x10key010" || k > "\x10key030" {
		t.Fatalf("split key %q does not halve the first 4 KiB", k)
	}
	if _, ok := r.SizeSplitKey(4 << 10); ok {
		t.Fatal("an unchanged range was measured again")
	}
}

// TestSizeEstimateSparesCounting: once a range has been counted, Pebble's estimate of its
// size on disk, scaled by what the count found per estimated byte, answers "bigger than the
// limit" without reading the range again, even where the compressed estimate alone is far
// below the limit.
func TestSizeEstimateSparesCounting(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	r := s.replicas[1]
	value := strings.Repeat("compressible ", 80) // about 1 KiB, a small fraction of it on disk
	for i := range 200 {
		put(t, s, fmt.Sprintf("\x10key%04d", i), value)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	first := r.dataBytes(1 << 30)
	if first < 200<<10 || r.sizeCounts.Load() != 1 {
		t.Fatalf("first count: %d bytes in %d counts", first, r.sizeCounts.Load())
	}
	for i := 200; i < 600; i++ {
		put(t, s, fmt.Sprintf("\x10key%04d", i), value)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	limit := 2 * first
	if approx := r.ApproximateBytes(); approx >= limit {
		t.Fatalf("the data compressed to %d bytes on disk, not below the limit of %d: the test proves nothing", approx, limit)
	}
	if got := r.dataBytes(limit); got != limit || r.sizeCounts.Load() != 1 {
		t.Fatalf("dataBytes(%d) = %d after %d counts; want the limit, from the estimate, without a second count", limit, got, r.sizeCounts.Load())
	}
}

func TestRecountAfter(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want time.Duration
	}{{0, 0}, {64 << 10, 0}, {1 << 20, 4 * time.Second}, {16 << 20, 64 * time.Second}, {64 << 20, 2 * time.Minute}} {
		if got := recountAfter(tc.n); got != tc.want {
			t.Errorf("recountAfter(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}
