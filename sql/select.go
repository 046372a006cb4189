package sql

import (
	"math"

	"context"
	"fmt"
	"github.com/cockroachdb/apd/v3"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// source is the rows a statement reads: one table, narrowed by the key constraint its WHERE
// clause implies, then filtered by the whole WHERE clause.
type source struct {
	table  *catalog.Table
	scan   *tableScan
	filter *scalar
	comp   *compiler
}

// planSource resolves a single-table FROM clause (of UPDATE or DELETE) and compiles WHERE
// against it.
func (s *Session) planSource(ctx context.Context, t *txn.Txn, refs *ast.TableRefsClause, where ast.ExprNode, params *paramTypes) (*source, error) {
	tbl, name, err := s.resolveSingleTable(ctx, t, refs)
	if err != nil {
		return nil, err
	}
	pl := &planner{s: s, ctx: ctx, txn: t, params: params}
	c := pl.topScope().compiler(tableScope(tbl, name))
	var conds []ast.ExprNode
	if where != nil {
		conds = conjuncts(where)
	}
	src, err := newSource(c, tbl, conds, s.tableStats(ctx, tbl))
	if err != nil {
		return nil, err
	}
	if src.scan.index == nil && src.scan.isPoint() {
		// The rows are read to be changed: read them locked, as FOR UPDATE does. A row
		// another transaction is writing is then waited for and read as it committed it,
		// and the transaction moves its reads past that commit instead of failing at its
		// own (PostgreSQL re-reads such a row too). Only point reads lock: a scan would
		// lock rows the WHERE clause then drops.
		src.scan.locking = kvpb.LockExclusive
	}
	return src, nil
}

// resolveSingleTable resolves the one table of a FROM (or INTO) clause, returning it with the
// name its columns are qualified by (the alias, if any).
func (s *Session) resolveSingleTable(ctx context.Context, t *txn.Txn, refs *ast.TableRefsClause) (*catalog.Table, string, error) {
	tn, alias, err := singleTable(refs)
	if err != nil {
		return nil, "", err
	}
	tbl, err := s.resolveTable(ctx, t, tn)
	if err != nil {
		return nil, "", err
	}
	if alias != "" {
		return tbl, alias, nil
	}
	return tbl, tbl.Name, nil
}

// singleTable extracts the one table of a FROM clause.
func singleTable(refs *ast.TableRefsClause) (*ast.TableName, string, error) {
	if refs == nil || refs.TableRefs == nil {
		return nil, "", pgerror.New(pgerror.CodeSyntaxError, "missing FROM clause")
	}
	j := refs.TableRefs
	if j.Right != nil {
		return nil, "", pgerror.Unsupported("joins")
	}
	ts, ok := j.Left.(*ast.TableSource)
	if !ok {
		if _, isJoin := j.Left.(*ast.Join); isJoin {
			return nil, "", pgerror.Unsupported("joins")
		}
		return nil, "", pgerror.Unsupported("this FROM clause")
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil, "", pgerror.Unsupported("subqueries in FROM")
	}
	return tn, ts.AsName.O, nil
}

// pass reports whether row satisfies the filter (NULL counts as false).
func (src *source) pass(ec *evalCtx, row []types.Datum) (bool, error) {
	if src.filter == nil {
		return true, nil
	}
	v, err := src.filter.eval(ec, row)
	if err != nil || v == nil {
		return false, err
	}
	return v.(bool), nil
}

// each calls f for every row of the source that passes the filter; f returns false to stop.
func (src *source) each(ctx context.Context, x *execCtx, pageRows int64, f func(row []types.Datum) (bool, error)) error {
	return src.scan.run(ctx, x.txn, x.ec, pageRows, func(row []types.Datum) (bool, error) {
		ok, err := src.pass(x.ec, row)
		if err != nil || !ok {
			return true, err
		}
		return f(row)
	})
}

// selectPlan is a query: a tree of relational operators whose rows stream to the client.
type selectPlan struct {
	noSchemaChange
	cols []resultColumn
	node relNode
	lock *lockSpec // the top query's locking clause, nil if none
}

// lockSpec is a query's locking clause.
type lockSpec struct {
	strength kvpb.LockStrength
	name     string // "FOR UPDATE" or "FOR SHARE", for messages
	nowait   bool
	tables   []*ast.TableName // OF tables; empty: every table of the FROM clause
}

// lockStrengthOf reads tidb's locking clause. PostgreSQL's four strengths come normalized to
// two (FOR NO KEY UPDATE is FOR UPDATE, FOR KEY SHARE is FOR SHARE): Meridian's locks are
// exclusive or shared.
func lockStrengthOf(li *ast.SelectLockInfo) (lockSpec, error) {
	switch li.LockType {
	case ast.SelectLockForUpdate:
		return lockSpec{strength: kvpb.LockExclusive, name: "FOR UPDATE", tables: li.Tables}, nil
	case ast.SelectLockForUpdateNoWait:
		return lockSpec{strength: kvpb.LockExclusive, name: "FOR UPDATE", nowait: true, tables: li.Tables}, nil
	case ast.SelectLockForShare:
		return lockSpec{strength: kvpb.LockShared, name: "FOR SHARE", tables: li.Tables}, nil
	case ast.SelectLockForShareNoWait:
		return lockSpec{strength: kvpb.LockShared, name: "FOR SHARE", nowait: true, tables: li.Tables}, nil
	case ast.SelectLockForUpdateSkipLocked:
		return lockSpec{}, pgerror.Unsupported("SELECT ... FOR UPDATE SKIP LOCKED")
	case ast.SelectLockForShareSkipLocked:
		return lockSpec{}, pgerror.Unsupported("SELECT ... FOR SHARE SKIP LOCKED")
	}
	return lockSpec{}, pgerror.Unsupported("this locking clause")
}

func (p *selectPlan) columns() []resultColumn { return p.cols }

func (p *selectPlan) explain() []string { return explainTree(p.node, nil) }

// planSelect plans a query statement (SELECT, or a set operation of them).
func (s *Session) planSelect(ctx context.Context, t *txn.Txn, n ast.ResultSetNode, p *prepared) (*selectPlan, error) {
	pl := &planner{s: s, ctx: ctx, txn: t, params: p.params, aliases: p.stmt.ColumnAliases}
	node, err := pl.planQuery(n, pl.topScope())
	if err != nil {
		return nil, err
	}
	sp := &selectPlan{node: node}
	if sel, ok := n.(*ast.SelectStmt); ok && sel.LockInfo != nil && sel.LockInfo.LockType != ast.SelectLockNone {
		lock, err := lockStrengthOf(sel.LockInfo)
		if err != nil {
			return nil, err
		}
		sp.lock = &lock
	}
	for _, col := range node.cols() {
		rc := resultColumn{name: col.name, typ: col.typ, tableID: col.tableID, attrNum: col.attrNum}
		if col.untyped {
			rc.typ = types.String
		}
		sp.cols = append(sp.cols, rc)
	}
	return sp, nil
}

type field struct {
	expr ast.ExprNode
	name string
	// scopeOrd is the input column a * expanded to, else -1.
	scopeOrd int
}

// expandFields expands * and names each output column as PostgreSQL does. A leading
// meridian_distinct_on(…) field (the front end's form of DISTINCT ON) is returned apart.
func expandFields(fl *ast.FieldList, scope []scopeColumn, input relNode) ([]field, []ast.ExprNode, error) {
	var out []field
	var distinctOn []ast.ExprNode
	for i, f := range fl.Fields {
		if f.WildCard != nil {
			tn := f.WildCard.Table.O
			if len(scope) == 0 && tn == "" {
				return nil, nil, pgerror.New(pgerror.CodeSyntaxError, "SELECT * with no tables specified is not valid")
			}
			found := false
			for ord, col := range scope {
				if tn != "" && col.table != tn {
					continue
				}
				found = true
				if col.hidden {
					continue
				}
				out = append(out, field{expr: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(col.table), Name: ast.NewCIStr(col.name)}},
					name: col.name, scopeOrd: ord})
			}
			if tn != "" && !found {
				return nil, nil, pgerror.New(pgerror.CodeUndefinedTable, "missing FROM-clause entry for table %q", tn)
			}
			continue
		}
		if fc, ok := f.Expr.(*ast.FuncCallExpr); ok && fc.FnName.L == "meridian_distinct_on" && i == 0 {
			distinctOn = fc.Args
			continue
		}
		fd := field{expr: f.Expr, name: f.AsName.O, scopeOrd: -1}
		if fd.name == "" {
			fd.name = outputName(f.Expr)
		}
		out = append(out, fd)
	}
	return out, distinctOn, nil
}

func compileFields(c *compiler, fields []field) ([]*scalar, error) {
	out := make([]*scalar, len(fields))
	for i, f := range fields {
		if f.scopeOrd >= 0 {
			out[i] = c.columnAt(f.scopeOrd)
			continue
		}
		s, err := c.compile(f.expr)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func outputIndex(fields []field, name string) int {
	for i, f := range fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

// outputName is PostgreSQL's name for an unaliased output expression.
func outputName(e ast.ExprNode) string {
	switch n := e.(type) {
	case *ast.ColumnNameExpr:
		return n.Name.Name.O
	case *ast.ParenthesesExpr:
		return outputName(n.Expr)
	case *ast.AggregateFuncExpr:
		if n.F == ast.AggFuncGroupConcat {
			return "string_agg" // the dialect's spelling of it
		}
		return strings.ToLower(n.F)
	case *ast.FuncCallExpr:
		name := n.FnName.L
		if name == "meridian_cast" && len(n.Args) == 2 {
			// A cast is named by its operand when that has a name of its own; a cast of a
			// cast is named by the outer type, as in PostgreSQL ('int4'::text::regtype).
			inner := n.Args[0]
			for {
				fc, ok := inner.(*ast.FuncCallExpr)
				if !ok || fc.FnName.L != "meridian_cast" || len(fc.Args) != 2 {
					break
				}
				inner = fc.Args[0]
			}
			if inner := outputName(inner); inner != "?column?" {
				return inner
			}
			if v, ok := n.Args[1].(*parser.Value); ok {
				if t, err := types.ParseTypeName(v.GetString()); err == nil {
					return shortTypeName(t)
				}
			}
			return "?column?"
		}
		switch name {
		case "meridian_ilike", parser.ConcatOp, "meridian_op", "meridian_any", "meridian_all", "meridian_slice":
			return "?column?" // operators: ILIKE, ||, the JSON and array operators, ANY/ALL
		case "meridian_nextval", "meridian_currval", "meridian_setval", "meridian_lastval":
			return strings.TrimPrefix(name, "meridian_") // the sequence functions (sequence.go)
		case "meridian_array", "meridian_array_subquery":
			return "array"
		case "meridian_extract":
			return "extract"
		case "trim":
			// PostgreSQL's grammar turns TRIM into the function for its direction.
			if len(n.Args) == 3 {
				if d, ok := n.Args[2].(*ast.TrimDirectionExpr); ok {
					switch d.Direction {
					case ast.TrimLeading:
						return "ltrim"
					case ast.TrimTrailing:
						return "rtrim"
					}
				}
			}
			return "btrim"
		case "meridian_subscript":
			if len(n.Args) == 2 {
				return outputName(n.Args[0]) // a[1] is named a
			}
		case pgdialect.FieldCall:
			if len(n.Args) == 2 {
				if v, ok := n.Args[1].(*parser.Value); ok {
					return v.GetString() // (r).x is named x
				}
			}
		}
		return name
	case *ast.CaseExpr:
		return "case"
	case *ast.WindowFuncExpr:
		return strings.ToLower(n.Name)
	case *ast.ExistsSubqueryExpr:
		return "exists"
	case *ast.SubqueryExpr:
		// A scalar subquery is named by its one output column.
		if sel, ok := n.Query.(*ast.SelectStmt); ok && sel.Fields != nil && len(sel.Fields.Fields) == 1 {
			if f := sel.Fields.Fields[0]; f.WildCard == nil {
				if f.AsName.O != "" {
					return f.AsName.O
				}
				return outputName(f.Expr)
			}
		}
	}
	return "?column?"
}

// checkComparable refuses to sort or group by json, which, unlike jsonb, has no equality or
// ordering in PostgreSQL (nor arrays of it).
func checkComparable(t types.T, what string) error {
	if t.Family == types.JSONFamily || t.Family == types.ArrayFamily && t.Elem == types.JSONFamily {
		return pgerror.New(pgerror.CodeUndefinedFunction, "could not identify an %s operator for type %s", what, t.String()).
			WithHint("Cast the value to jsonb, which has both.")
	}
	return nil
}

// shortTypeName is the pg_type.typname of t, which PostgreSQL uses to name cast columns.
func shortTypeName(t types.T) string {
	switch t.Family {
	case types.BoolFamily:
		return "bool"
	case types.IntFamily:
		return fmt.Sprintf("int%d", t.Width/8)
	case types.FloatFamily:
		return fmt.Sprintf("float%d", t.Width/8)
	case types.DecimalFamily:
		return "numeric"
	case types.StringFamily:
		switch t.StringKind {
		case types.VarChar:
			return "varchar"
		case types.Char:
			return "bpchar"
		case types.NameString:
			return "name"
		case types.QCharString:
			return "char"
		}
		return "text"
	case types.BytesFamily:
		return "bytea"
	case types.DateFamily:
		return "date"
	case types.TimestampFamily:
		return "timestamp"
	case types.TimestampTZFamily:
		return "timestamptz"
	case types.UUIDFamily:
		return "uuid"
	case types.TimeFamily:
		return "time"
	case types.IntervalFamily:
		return "interval"
	case types.JSONBFamily:
		return "jsonb"
	case types.JSONFamily:
		return "json"
	case types.ArrayFamily:
		return shortTypeName(t.ElemType()) // '{1}'::int[] is named int4, as in PostgreSQL
	case types.OIDFamily:
		return t.String()
	}
	return "unknown"
}

func groupItems(g *ast.GroupByClause) []ast.ExprNode {
	if g == nil {
		return nil
	}
	out := make([]ast.ExprNode, len(g.Items))
	for i, it := range g.Items {
		out[i] = it.Expr
	}
	return out
}

// checkGrouped rejects a column reference outside aggregates that GROUP BY does not name,
// either as the column itself or inside a grouped expression.
func checkGrouped(e ast.ExprNode, g *ast.GroupByClause, fields []field, inScope []scopeColumn) error {
	v := &ungroupedFinder{grouped: map[string]bool{}, groupedText: map[string]bool{}}
	for _, it := range groupItems(g) {
		it = resolveGroupItem(it, fields, inScope)
		if cn, ok := it.(*ast.ColumnNameExpr); ok {
			v.grouped[cn.Name.Name.O] = true
		}
		v.groupedText[exprText(it)] = true
	}
	e.Accept(v)
	if v.bad != "" {
		return pgerror.New(pgerror.CodeGroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", v.bad)
	}
	return nil
}

// resolveGroupItem turns a GROUP BY position, or the name of an output column that is not
// an input column, into the output expression.
func resolveGroupItem(item ast.ExprNode, fields []field, inScope []scopeColumn) ast.ExprNode {
	switch x := item.(type) {
	case *ast.PositionExpr:
		if x.P == nil && x.N >= 1 && x.N <= len(fields) {
			return fields[x.N-1].expr
		}
	case *ast.ColumnNameExpr:
		if x.Name.Table.O == "" && !resolves(x.Name, inScope) {
			if i := outputIndex(fields, x.Name.Name.O); i >= 0 {
				return fields[i].expr
			}
		}
	}
	return item
}

type ungroupedFinder struct {
	grouped     map[string]bool
	groupedText map[string]bool
	bad         string
}

func (v *ungroupedFinder) Enter(n ast.Node) (ast.Node, bool) {
	if e, ok := n.(ast.ExprNode); ok && v.groupedText[exprText(e)] {
		return n, true
	}
	switch x := n.(type) {
	case *ast.AggregateFuncExpr, *ast.WindowFuncExpr, *ast.SubqueryExpr, *ast.ExistsSubqueryExpr:
		return n, true
	case *ast.ColumnNameExpr:
		if !v.grouped[x.Name.Name.O] && v.bad == "" {
			v.bad = x.Name.Name.O
		}
		return n, true
	}
	return n, v.bad != ""
}

func (v *ungroupedFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// exprText is an expression's SQL text, for EXPLAIN and for matching expressions.
func exprText(e ast.ExprNode) string { return parser.DisplaySQL(e) }

// nowaitLockTimeout is the lock timeout of a NOWAIT locking read: the shortest positive wait,
// so that the read fails at the first lock another transaction holds. lock_timeout counts in
// milliseconds, so a LockNotAvailableError with this timeout comes from a NOWAIT.
const nowaitLockTimeout = time.Nanosecond

func evalInt(ec *evalCtx, s *scalar, what string) (int64, bool, error) {
	if s == nil {
		return 0, false, nil
	}
	v, err := s.eval(ec, nil)
	if err != nil || v == nil {
		return 0, false, err
	}
	n, ok := v.(int64)
	if d, isDec := v.(*apd.Decimal); isDec && !ok {
		// LIMIT ALL arrives as the largest unsigned 64-bit number: no limit.
		if i, err := d.Int64(); err == nil {
			n, ok = i, true
		} else if d.Negative {
			n, ok = -1, true
		} else {
			n, ok = math.MaxInt64, true
		}
	}
	if !ok {
		return 0, false, pgerror.New(pgerror.CodeDatatypeMismatch, "argument of %s must be type bigint", what)
	}
	if n < 0 {
		if what == "LIMIT" {
			return 0, false, pgerror.New("2201W", "LIMIT must not be negative")
		}
		return 0, false, pgerror.New("2201X", "OFFSET must not be negative")
	}
	return n, true, nil
}
