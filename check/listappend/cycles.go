package listappend

import (
	"slices"
	"strings"
)

// cycles reports one witness cycle per strongly connected component of the dependency
// graph. Real-time edges are considered separately, so that a component is blamed on
// them only if it has no cycle without them.
func (c *checker) cycles(g *graph, realtime bool) {
	var nodes []int
	for i, ok := range g.in {
		if ok {
			nodes = append(nodes, i)
		}
	}
	s := newSearcher(g)
	const deps = ww | wr | rw
	cyclic := make([]bool, len(g.h))
	for _, comp := range s.components(nodes, deps) {
		for _, v := range comp {
			cyclic[v] = true
		}
		c.addCycle(s.witness(comp, 0))
	}
	if !realtime {
		return
	}
	for _, comp := range s.components(nodes, deps|rt) {
		if slices.ContainsFunc(comp, func(v int) bool { return cyclic[v] }) {
			continue
		}
		c.addCycle(s.witness(comp, rt))
	}
}

func (c *checker) addCycle(kind string, cycle []edge) {
	ids := make([]int, len(cycle))
	var b strings.Builder
	b.WriteString(c.name(cycle[0].from))
	for i, e := range cycle {
		ids[i] = c.h[e.from].ID
		b.WriteString(" -" + e.label() + "-> " + c.name(e.to))
	}
	b.WriteString(": ")
	for i, e := range cycle {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.describe(c.h))
	}
	c.anomalies = append(c.anomalies, Anomaly{Kind: kind, Txns: ids, Explanation: b.String()})
}

// searcher finds components and cycles in subgraphs of a graph: those induced by a set
// of nodes and restricted to a mask of edge kinds. Its per-node scratch space is reused
// across searches; generation counters stand in for clearing it.
type searcher struct {
	g      *graph
	member []uint32 // member[v] == memberGen: v is in the current node set
	seen   []uint32 // seen[v] == seenGen: the current search reached v
	via    []edge   // the edge by which the current search reached v
	index  []int    // Tarjan's discovery order, -1 if undiscovered
	low    []int
	onStk  []bool

	memberGen, seenGen uint32
}

func newSearcher(g *graph) *searcher {
	n := len(g.out)
	return &searcher{
		g:      g,
		member: make([]uint32, n),
		seen:   make([]uint32, n),
		via:    make([]edge, n),
		index:  make([]int, n),
		low:    make([]int, n),
		onStk:  make([]bool, n),
	}
}

// restrict makes nodes the current node set.
func (s *searcher) restrict(nodes []int) {
	s.memberGen++
	for _, v := range nodes {
		s.member[v] = s.memberGen
	}
}

// edges calls yield for each edge out of v within the current node set whose kind is in mask.
func (s *searcher) edges(v int, mask edgeKind, yield func(edge) bool) bool {
	for _, e := range s.g.out[v] {
		if e.kind&mask != 0 && s.member[e.to] == s.memberGen && !yield(e) {
			return false
		}
	}
	return true
}

// components returns the strongly connected components, with at least two nodes each,
// of the subgraph induced by nodes with edges of the kinds in mask. It runs Tarjan's
// algorithm with an explicit stack, since histories can be deep enough to make
// recursion costly.
func (s *searcher) components(nodes []int, mask edgeKind) [][]int {
	s.restrict(nodes)
	for _, v := range nodes {
		s.index[v] = -1
	}
	type frame struct{ v, next int } // next: index of the next edge of v to follow
	var (
		comps [][]int
		stack []int
		calls []frame
		count int
	)
	discover := func(v int) {
		s.index[v], s.low[v] = count, count
		count++
		stack = append(stack, v)
		s.onStk[v] = true
		calls = append(calls, frame{v: v})
	}
	for _, root := range nodes {
		if s.index[root] >= 0 {
			continue
		}
		discover(root)
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			if out := s.g.out[v]; f.next < len(out) {
				e := out[f.next]
				f.next++
				w := e.to
				switch {
				case e.kind&mask == 0 || s.member[w] != s.memberGen:
				case s.index[w] < 0:
					discover(w)
				case s.onStk[w]:
					s.low[v] = min(s.low[v], s.index[w])
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				p := calls[len(calls)-1].v
				s.low[p] = min(s.low[p], s.low[v])
			}
			if s.low[v] != s.index[v] {
				continue
			}
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				s.onStk[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				slices.Sort(comp)
				comps = append(comps, comp)
			}
		}
	}
	// Tarjan emits components in reverse topological order; history order reads better.
	slices.SortFunc(comps, func(a, b []int) int { return a[0] - b[0] })
	return comps
}

// search runs a breadth-first search from start over edges of the kinds in mask within
// the current node set, until stop accepts an edge, which it returns. Afterwards path
// can trace how the search reached any node it saw.
func (s *searcher) search(start int, mask edgeKind, stop func(edge) bool) (edge, bool) {
	s.seenGen++
	s.seen[start] = s.seenGen
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		var found edge
		done := !s.edges(v, mask, func(e edge) bool {
			if stop(e) {
				found = e
				return false
			}
			if s.seen[e.to] != s.seenGen {
				s.seen[e.to] = s.seenGen
				s.via[e.to] = e
				queue = append(queue, e.to)
			}
			return true
		})
		if done {
			return found, true
		}
	}
	return edge{}, false
}

// path returns the edges by which the last search went from start to last.from,
// followed by last.
func (s *searcher) path(start int, last edge) []edge {
	p := []edge{last}
	for v := last.from; v != start; v = s.via[v].from {
		p = append(p, s.via[v])
	}
	slices.Reverse(p)
	return p
}

// cycleThrough returns a shortest cycle through v using edges of the kinds in mask
// within the current node set, or nil.
func (s *searcher) cycleThrough(v int, mask edgeKind) []edge {
	last, ok := s.search(v, mask, func(e edge) bool { return e.to == v })
	if !ok {
		return nil
	}
	return s.path(v, last)
}

// witness classifies a strongly connected component by its most specific cycle and
// returns that cycle. Extra is 0, or rt to allow real-time edges; the caller makes sure
// that then every cycle needs one.
func (s *searcher) witness(comp []int, extra edgeKind) (string, []edge) {
	suffix := ""
	if extra != 0 {
		suffix = "-realtime"
	}
	for _, c := range []struct {
		kind string
		mask edgeKind
	}{{"G0", ww}, {"G1c", ww | wr}} {
		if sub := s.components(comp, c.mask|extra); len(sub) > 0 {
			return c.kind + suffix, s.cycleThrough(sub[0][0], c.mask|extra)
		}
	}
	s.restrict(comp)
	if cycle := s.singleAntiDependency(comp, ww|wr|extra); cycle != nil {
		return "G-single" + suffix, cycle
	}
	return "G2" + suffix, s.cycleThrough(comp[0], ww|wr|rw|extra)
}

// singleAntiDependency returns a cycle within the current node set, which holds comp,
// made of one rw edge and a path back over edges of the kinds in mask, or nil if none
// exists. Anti-dependencies are grouped by target so that one search from each target
// settles all of them.
func (s *searcher) singleAntiDependency(comp []int, mask edgeKind) []edge {
	var targets []int
	into := make(map[int]map[int]edge) // target -> source -> the rw edge
	for _, v := range comp {
		s.edges(v, rw, func(e edge) bool {
			srcs := into[e.to]
			if srcs == nil {
				srcs = make(map[int]edge)
				into[e.to] = srcs
				targets = append(targets, e.to)
			}
			if _, ok := srcs[e.from]; !ok {
				srcs[e.from] = e
			}
			return true
		})
	}
	for _, t := range targets {
		srcs := into[t]
		last, ok := s.search(t, mask, func(e edge) bool { _, ok := srcs[e.to]; return ok })
		if ok {
			return append([]edge{srcs[last.to]}, s.path(t, last)...)
		}
	}
	return nil
}
