package sql

import (
	"context"
	"fmt"
	"time"
)

// analyzePlan is EXPLAIN ANALYZE: it runs the query, dropping its rows, and shows the plan
// with the rows each operator produced (and how often it ran, when more than once).
type analyzePlan struct {
	noSchemaChange
	inner *selectPlan
}

func (p *analyzePlan) columns() []resultColumn { return textColumns("info") }

func (p *analyzePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	saved := x.sink
	defer func() { x.sink, x.stats = saved, nil }()
	rows := &discardRows{}
	x.sink, x.stats = rows, map[relNode]*nodeStats{}
	start := time.Now()
	if _, err := p.inner.run(ctx, x); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	lines := explainTree(p.inner.node, x.stats)
	lines = append(lines,
		fmt.Sprintf("rows returned: %d", rows.n),
		fmt.Sprintf("peak memory: %s", formatBytes(x.mem.peak)))
	if x.mem.spilled > 0 {
		lines = append(lines, fmt.Sprintf("spilled to disk: %s", formatBytes(x.mem.spilled)))
	}
	lines = append(lines,
		fmt.Sprintf("execution time: %.3f ms", float64(elapsed.Microseconds())/1000))
	return &result{cols: p.columns(), rows: singleColumn(lines), tag: fmt.Sprintf("EXPLAIN %d", len(lines))}, nil
}
