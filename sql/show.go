package sql

import (
	"context"
	"fmt"
	"sort"
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
			return &showPlan{cols: textColumns("name", "setting"), rows: func(context.Context, *execCtx) ([][]types.Datum, error) {
				var names []string
				for k := range s.vars {
					names = append(names, k)
				}
				sort.Strings(names)
				rows := make([][]types.Datum, len(names))
				for i, k := range names {
					rows[i] = []types.Datum{k, s.showVar(k)}
				}
				return rows, nil
			}}, nil
		}
		v, ok := n.Pattern.Pattern.(*parser.Value)
		if !ok {
			return nil, pgerror.Unsupported("this SHOW")
		}
		name := strings.ToLower(v.GetString())
		if _, ok := s.vars[name]; !ok {
			return nil, pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter %q", name)
		}
		return &showPlan{cols: textColumns(name), rows: func(context.Context, *execCtx) ([][]types.Datum, error) {
			return [][]types.Datum{{s.showVar(name)}}, nil
		}}, nil
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

// readOnlyVars are reported by SHOW but cannot be SET.
var readOnlyVars = map[string]bool{
	"server_version": true, "server_version_num": true, "server_encoding": true, "integer_datetimes": true,
}

// setPlan changes session variables.
type setPlan struct {
	noSchemaChange
	vars []setting
}

type setting struct{ name, val string }

func (p *setPlan) columns() []resultColumn { return nil }

func (p *setPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	res := &result{tag: "SET"}
	warned := false
	for _, v := range p.vars {
		if !txnSettings[v.name] {
			x.session.vars[v.name] = v.val
			continue
		}
		if x.autocommit {
			// As PostgreSQL: outside a transaction block there is nothing to change.
			if !warned {
				res.notices = append(res.notices, notice{Code: pgerror.CodeNoActiveSQLTransaction, Message: "SET TRANSACTION can only be used in transaction blocks"})
				warned = true
			}
			continue
		}
		if err := x.session.setTxnVar(v.name, v.val); err != nil {
			return nil, err
		}
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Session) planSet(n *ast.SetStmt) (plan, error) {
	p := &setPlan{}
	if len(n.Variables) == 1 && n.Variables[0].IsGlobal {
		return planClusterSetting(n.Variables[0])
	}
	for _, v := range n.Variables {
		name := strings.ToLower(v.Name)
		if v.IsGlobal {
			return nil, pgerror.Unsupported("SET GLOBAL")
		}
		def, known := defaultVars()[name]
		if !known {
			return nil, pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter %q", name)
		}
		if readOnlyVars[name] {
			return nil, pgerror.New("55P02", "parameter %q cannot be changed", name)
		}
		var val string
		switch e := v.Value.(type) {
		case *parser.Value:
			val = e.GetString()
		case *ast.DefaultExpr:
			val = def
		case *ast.ColumnNameExpr:
			val = e.Name.Name.O
		default:
			if v.Value == nil {
				val = def
			} else {
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter %q", name)
			}
		}
		if err := checkVar(name, val); err != nil {
			return nil, err
		}
		val, err := normalizeVar(name, val)
		if err != nil {
			return nil, err
		}
		p.vars = append(p.vars, setting{name, val})
	}
	return p, nil
}

// checkVar rejects settings Meridian cannot honour, so a driver learns at SET time.
func checkVar(name, val string) error {
	lower := strings.ToLower(strings.TrimSpace(val))
	switch name {
	case "client_encoding":
		if lower != "utf8" && lower != "utf-8" && lower != "unicode" {
			return pgerror.Unsupported("client_encoding " + val)
		}
	case "timezone":
		if lower != "utc" && lower != "etc/utc" && lower != "gmt" && lower != "0" && lower != "+00" && lower != "z" {
			return pgerror.Unsupported("time zones other than UTC")
		}
	case "standard_conforming_strings":
		if lower != "on" && lower != "true" {
			return pgerror.Unsupported("standard_conforming_strings = off")
		}
	}
	return nil
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
