package ranges

import (
	"context"
	"sync"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// latchManager serializes requests whose spans conflict: writers exclude everyone on their
// spans, readers exclude only writers. A request holds its latches from evaluation until its
// writes are applied, so a later conflicting request always evaluates on top of them.
type latchManager struct {
	mu   sync.Mutex
	held map[*latchGuard]struct{}
}

type latchSpan struct {
	span  kvpb.Span
	write bool
}

type latchGuard struct {
	spans []latchSpan
	done  chan struct{}
}

func newLatchManager() *latchManager {
	return &latchManager{held: make(map[*latchGuard]struct{})}
}

func (g *latchGuard) conflicts(o *latchGuard) bool {
	for _, a := range g.spans {
		for _, b := range o.spans {
			if (a.write || b.write) && a.span.Overlaps(b.span) {
				return true
			}
		}
	}
	return false
}

// acquire waits until no held latch conflicts with spans, then holds them.
func (m *latchManager) acquire(ctx context.Context, spans []latchSpan) (*latchGuard, error) {
	g := &latchGuard{spans: spans, done: make(chan struct{})}
	for {
		m.mu.Lock()
		var wait *latchGuard
		for h := range m.held {
			if g.conflicts(h) {
				wait = h
				break
			}
		}
		if wait == nil {
			m.held[g] = struct{}{}
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
	m.mu.Unlock()
	close(g.done)
}
