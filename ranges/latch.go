package ranges

import (
	"bytes"
	"context"
	"slices"
	"sync"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// latchManager serializes requests whose spans conflict: writers exclude everyone on their
// spans, readers exclude only writers. A request holds its latches from evaluation until its
// writes are applied, so a later conflicting request always evaluates on top of them.
//
// While a transaction pipelines its writes, thousands of single-key writes can hold latches
// at once, waiting for consensus: the latches on single keys are indexed by key, so that a
// request of point spans looks up only its own keys (and the few held range spans), not
// every held latch.
type latchManager struct {
	mu   sync.Mutex
	held map[*latchGuard]struct{}
	// points indexes the held latches on single keys by key.
	points map[string][]pointLatch
	// ranged are the held guards with at least one span over a range of keys.
	ranged map[*latchGuard]struct{}
}

type latchSpan struct {
	span  kvpb.Span
	write bool
}

// pointLatch is a held latch on one key.
type pointLatch struct {
	g     *latchGuard
	write bool
}

type latchGuard struct {
	spans []latchSpan
	done  chan struct{}
	// all and writes are the guard's spans, and its write spans, sorted for conflicts.
	all, writes sortedSpans
	// hasRange tells a guard with a span over a range of keys.
	hasRange bool
}

// newLatchGuard holds spans.
func newLatchGuard(spans []latchSpan) *latchGuard {
	g := &latchGuard{spans: spans, done: make(chan struct{})}
	var all, writes []kvpb.Span
	for _, sp := range spans {
		all = append(all, sp.span)
		if sp.write {
			writes = append(writes, sp.span)
		}
		g.hasRange = g.hasRange || len(sp.span.EndKey) > 0
	}
	g.all, g.writes = newSortedSpans(all), newSortedSpans(writes)
	return g
}

func newLatchManager() *latchManager {
	return &latchManager{held: map[*latchGuard]struct{}{}, points: map[string][]pointLatch{}, ranged: map[*latchGuard]struct{}{}}
}

// conflicts reports whether g and o share a key that one of them writes.
func (g *latchGuard) conflicts(o *latchGuard) bool {
	return g.writes.overlaps(o.all) || g.all.overlaps(o.writes)
}

// sortedSpans are spans sorted by start key, with each one's exclusive end and the largest
// end among it and those before: whether a span overlaps any of them takes a binary search,
// so two requests of a thousand writes each compare in thousands of steps, not a million.
type sortedSpans struct {
	starts, ends, maxEnds [][]byte
}

func newSortedSpans(spans []kvpb.Span) sortedSpans {
	slices.SortFunc(spans, func(a, b kvpb.Span) int { return bytes.Compare(a.Key, b.Key) })
	s := sortedSpans{starts: make([][]byte, len(spans)), ends: make([][]byte, len(spans)), maxEnds: make([][]byte, len(spans))}
	for i, sp := range spans {
		end := sp.EndKey
		if len(end) == 0 {
			end = append(append(make([]byte, 0, len(sp.Key)+1), sp.Key...), 0) // a point: [Key, Key\x00)
		}
		s.starts[i], s.ends[i], s.maxEnds[i] = sp.Key, end, end
		if i > 0 && bytes.Compare(s.maxEnds[i-1], end) > 0 {
			s.maxEnds[i] = s.maxEnds[i-1]
		}
	}
	return s
}

// overlaps reports whether a span of s overlaps a span of o.
func (s sortedSpans) overlaps(o sortedSpans) bool {
	if len(s.starts) == 0 || len(o.starts) == 0 {
		return false
	}
	if len(s.starts) > len(o.starts) {
		s, o = o, s
	}
	// Cheap rejection: the two sets' bounds do not meet.
	if bytes.Compare(s.starts[0], o.maxEnds[len(o.maxEnds)-1]) >= 0 || bytes.Compare(o.starts[0], s.maxEnds[len(s.maxEnds)-1]) >= 0 {
		return false
	}
	for i, start := range s.starts {
		// The spans of o that start before this one ends; one of them overlaps it if its
		// end passes this one's start.
		n, _ := slices.BinarySearchFunc(o.starts, s.ends[i], bytes.Compare)
		if n > 0 && bytes.Compare(o.maxEnds[n-1], start) > 0 {
			return true
		}
	}
	return false
}

// blocker returns a held guard that conflicts with g, or nil. m.mu is held.
func (m *latchManager) blocker(g *latchGuard) *latchGuard {
	if g.hasRange {
		// A range may cover any held key: compare with every held guard.
		for h := range m.held {
			if g.conflicts(h) {
				return h
			}
		}
		return nil
	}
	for _, sp := range g.spans {
		for _, p := range m.points[string(sp.span.Key)] {
			if sp.write || p.write {
				return p.g
			}
		}
	}
	for h := range m.ranged {
		if g.conflicts(h) {
			return h
		}
	}
	return nil
}

// acquire waits until no held latch conflicts with spans, then holds them.
func (m *latchManager) acquire(ctx context.Context, spans []latchSpan) (*latchGuard, error) {
	g := newLatchGuard(spans)
	for {
		m.mu.Lock()
		wait := m.blocker(g)
		if wait == nil {
			m.held[g] = struct{}{}
			if g.hasRange {
				m.ranged[g] = struct{}{}
			}
			for _, sp := range g.spans {
				if len(sp.span.EndKey) == 0 {
					k := string(sp.span.Key)
					m.points[k] = append(m.points[k], pointLatch{g: g, write: sp.write})
				}
			}
			m.mu.Unlock()
			return g, nil
		}
		m.mu.Unlock()
		select {
		case <-wait.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (m *latchManager) release(g *latchGuard) {
	m.mu.Lock()
	delete(m.held, g)
	delete(m.ranged, g)
	for _, sp := range g.spans {
		if len(sp.span.EndKey) != 0 {
			continue
		}
		k := string(sp.span.Key)
		ps := slices.DeleteFunc(m.points[k], func(p pointLatch) bool { return p.g == g })
		if len(ps) == 0 {
			delete(m.points, k)
		} else {
			m.points[k] = ps
		}
	}
	m.mu.Unlock()
	close(g.done)
}
