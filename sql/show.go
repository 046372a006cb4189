package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// showPlan answers SHOW statements.
type showPlan struct {
	noSchemaChange
	cols []resultColumn
	rows func(ctx context.Context, x *execCtx) ([][]types.Datum, error)
}

func (p *showPlan) columns() []resultColumn { return p.cols }

func (p *showPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	rows, err := p.rows(ctx, x)
	if err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{cols: p.cols, rows: rows, tag: fmt.Sprintf("SHOW %d", len(rows))}, nil
}

func textColumns(names ...string) []resultColumn {
	cols := make([]resultColumn, len(names))
	for i, n := range names {
		cols[i] = resultColumn{name: n, typ: types.String}
	}
	return cols
}

func (s *Session) planShow(n *ast.ShowStmt) (plan, error) {
	switch n.Tp {
	case ast.ShowDatabases:
		return &showPlan{cols: textColumns("database_name"), rows: func(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
			names, err := s.srv.cat.ListDatabases(ctx, x.txn)
			if err != nil {
				return nil, err
			}
			return singleColumn(names), nil
		}}, nil
	case ast.ShowTables:
		return &showPlan{cols: textColumns("schema_name", "table_name"), rows: func(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
			return s.showTables(ctx, x.txn, n.DBName)
		}}, nil
	case ast.ShowRegions:
		return s.planShowRanges(n)
	case ast.ShowIndex:
		return s.planShowIndexes(n.Table)
	case ast.ShowVariables:
		if n.GlobalScope {
			if n.Pattern == nil {
				return nil, pgerror.Unsupported("SHOW ALL CLUSTER SETTINGS")
			}
			v, ok := n.Pattern.Pattern.(*parser.Value)
			if !ok {
				return nil, pgerror.Unsupported("this SHOW")
			}
			return s.planShowClusterSetting(strings.ToLower(v.GetString()))
		}
		if n.Pattern == nil {
			return s.planShowAll(), nil
		}
		v, ok := n.Pattern.Pattern.(*parser.Value)
		if !ok {
			return nil, pgerror.Unsupported("this SHOW")
		}
		return s.planShowVar(v.GetString())
	}
	return nil, pgerror.Unsupported("this SHOW statement")
}

func singleColumn(vals []string) [][]types.Datum {
	rows := make([][]types.Datum, len(vals))
	for i, v := range vals {
		rows[i] = []types.Datum{v}
	}
	return rows
}

// explainPlan describes another plan without running it.
type explainPlan struct {
	noSchemaChange
	lines []string
}

func (p *explainPlan) columns() []resultColumn { return textColumns("info") }

func (p *explainPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{cols: p.columns(), rows: singleColumn(p.lines), tag: fmt.Sprintf("EXPLAIN %d", len(p.lines))}, nil
}

// explainer is implemented by plans EXPLAIN can describe: one line per operator, outermost
// first, each input indented under its consumer.
type explainer interface {
	explain() []string
}

func (s *Session) planExplain(ctx context.Context, t *txn.Txn, n *ast.ExplainStmt, p *prepared) (plan, error) {
	inner := *p
	inner.node = n.Stmt
	pl, err := s.buildPlan(ctx, t, &inner)
	if err != nil {
		return nil, err
	}
	if n.Analyze {
		sp, ok := pl.(*selectPlan)
		if !ok {
			return nil, pgerror.Unsupported("EXPLAIN ANALYZE of this statement")
		}
		return &analyzePlan{inner: sp}, nil
	}
	ex, ok := pl.(explainer)
	if !ok {
		return nil, pgerror.Unsupported("EXPLAIN of this statement")
	}
	return &explainPlan{lines: ex.explain()}, nil
}
