package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
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

// planSource resolves a single-table FROM clause and compiles WHERE against it.
func (s *Session) planSource(ctx context.Context, t *txn.Txn, refs *ast.TableRefsClause, where ast.ExprNode, params *paramTypes) (*source, error) {
	tbl, name, err := s.resolveSingleTable(ctx, t, refs)
	if err != nil {
		return nil, err
	}
	c := &compiler{scope: tableScope(tbl, name), params: params, session: s, excludedOffset: -1}
	src := &source{table: tbl, comp: c, scan: &tableScan{table: tbl}}
	if where != nil {
		f, err := c.compileWant(where, types.Bool)
		if err != nil {
			return nil, err
		}
		if f.typ.Family != types.BoolFamily {
			return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "argument of WHERE must be type boolean, not type %s", f.typ.String())
		}
		src.filter = f
		if src.scan.kc, err = c.constrainKey(tbl, where); err != nil {
			return nil, err
		}
		if err := c.planIndexScan(src.scan, where); err != nil {
			return nil, err
		}
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

type orderItem struct {
	expr   *scalar // evaluated on the input (or aggregated) row
	outIdx int     // >= 0: sort by this output column instead
	desc   bool
}

type selectPlan struct {
	noSchemaChange
	cols []resultColumn
	src  *source // nil: SELECT without FROM, one empty input row

	aggregated bool
	aggs       []*aggregate
	groupBy    []*scalar
	having     *scalar

	outputs  []*scalar
	order    []orderItem
	distinct bool
	limit    *scalar
	offset   *scalar

	lock *lockSpec // the locking clause (FOR UPDATE, FOR SHARE), nil if none
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

// planLocking applies the locking clause to the plan: the table scan locks the rows it
// returns. That is every row the scan reads from its key spans, before the rest of the WHERE
// clause filters them: for a point lookup or a key range the spans hold just the rows asked
// for, and a filter on other columns locks the rows of the scanned spans it rejects too (as
// CockroachDB does), which only makes the lock coarser, never unsafe. A scan stopped early by
// LIMIT locks only the rows it read (with such a filter it reads pages of scanPageSize rows),
// as PostgreSQL, whose locking sits below LIMIT, locks the rows OFFSET skips; rows that a
// sort then puts past the LIMIT stay locked too.
func (p *selectPlan) planLocking(n *ast.SelectStmt) error {
	lk := p.lock
	switch {
	case n.Distinct:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "%s is not allowed with DISTINCT clause", lk.name)
	case n.GroupBy != nil:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "%s is not allowed with GROUP BY clause", lk.name)
	case n.Having != nil:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "%s is not allowed with HAVING clause", lk.name)
	case p.aggregated:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "%s is not allowed with aggregate functions", lk.name)
	}
	for _, tn := range lk.tables {
		if tn.Schema.O != "" {
			return pgerror.New(pgerror.CodeSyntaxError, "%s must specify unqualified relation names", lk.name)
		}
		if p.src == nil || tn.Name.O != p.src.comp.scope[0].table {
			return pgerror.New(pgerror.CodeUndefinedTable, "relation %q in %s clause not found in FROM clause", tn.Name.O, lk.name)
		}
	}
	if p.src != nil {
		p.src.scan.locking = lk.strength
	}
	return nil
}

func (p *selectPlan) columns() []resultColumn { return p.cols }

func (p *selectPlan) explain() []string {
	var lines []string
	if p.limit != nil || p.offset != nil {
		lines = append(lines, "limit")
	}
	if p.distinct {
		lines = append(lines, "distinct")
	}
	if len(p.order) > 0 {
		lines = append(lines, "sort")
	}
	if p.aggregated {
		lines = append(lines, "group")
	}
	if p.src == nil {
		return append(lines, "values (1 row)")
	}
	if p.src.filter != nil {
		lines = append(lines, "filter")
	}
	return append(lines, p.src.scan.explain())
}

func (s *Session) planSelect(ctx context.Context, t *txn.Txn, n *ast.SelectStmt, params *paramTypes) (*selectPlan, error) {
	switch {
	case n.Kind != ast.SelectStmtKindSelect:
		return nil, pgerror.Unsupported("VALUES and TABLE statements")
	case n.With != nil:
		return nil, pgerror.Unsupported("WITH")
	case len(n.WindowSpecs) > 0:
		return nil, pgerror.Unsupported("window functions")
	case n.SelectIntoOpt != nil:
		return nil, pgerror.Unsupported("SELECT INTO")
	}
	p := &selectPlan{distinct: n.Distinct}
	if n.LockInfo != nil && n.LockInfo.LockType != ast.SelectLockNone {
		lock, err := lockStrengthOf(n.LockInfo)
		if err != nil {
			return nil, err
		}
		p.lock = &lock
	}
	var c *compiler
	if n.From != nil {
		src, err := s.planSource(ctx, t, n.From, n.Where, params)
		if err != nil {
			return nil, err
		}
		want := privilege.Select
		if p.lock != nil {
			// As PostgreSQL: locking rows asks for the right to change them.
			want |= privilege.Update
		}
		if err := s.checkTable(ctx, t, src.table, want); err != nil {
			return nil, err
		}
		p.src, c = src, src.comp
	} else {
		if n.Where != nil {
			return nil, pgerror.Unsupported("WHERE without FROM")
		}
		c = &compiler{params: params, session: s, excludedOffset: -1}
	}

	// Output expressions, first allowing aggregates to find out whether the query aggregates.
	fields, err := expandFields(n.Fields, c.scope, p.src)
	if err != nil {
		return nil, err
	}
	var aggs []*aggregate
	ac := *c
	ac.aggs = &aggs
	outputs, err := compileFields(&ac, fields)
	if err != nil {
		return nil, err
	}
	p.aggregated = len(aggs) > 0 || n.GroupBy != nil || n.Having != nil
	if p.aggregated {
		if p.src == nil {
			return nil, pgerror.Unsupported("aggregates without FROM")
		}
		for _, item := range groupItems(n.GroupBy) {
			g, err := c.compile(item)
			if err != nil {
				return nil, err
			}
			if err := checkComparable(g.typ, "equality"); err != nil {
				return nil, err
			}
			p.groupBy = append(p.groupBy, g)
		}
		for _, f := range fields {
			if err := checkGrouped(f.expr, n.GroupBy); err != nil {
				return nil, err
			}
		}
		if n.Having != nil {
			if p.having, err = ac.compileWant(n.Having.Expr, types.Bool); err != nil {
				return nil, err
			}
		}
	} else {
		if outputs, err = compileFields(c, fields); err != nil {
			return nil, err
		}
	}
	p.outputs = outputs
	for i, f := range fields {
		rc := resultColumn{name: f.name, typ: outputs[i].typ}
		if outputs[i].untyped {
			rc.typ = types.String
		}
		if f.colOrd >= 0 && p.src != nil {
			rc.tableID, rc.attrNum = p.src.table.ID, uint16(f.colOrd+1)
		}
		p.cols = append(p.cols, rc)
	}

	orderComp := c
	if p.aggregated {
		orderComp = &ac
	}
	if n.OrderBy != nil {
		for _, item := range n.OrderBy.Items {
			oi := orderItem{outIdx: -1, desc: item.Desc}
			if pos, ok := item.Expr.(*ast.PositionExpr); ok {
				if pos.P != nil || pos.N < 1 || pos.N > len(fields) {
					return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "ORDER BY position %d is not in select list", pos.N)
				}
				oi.outIdx = pos.N - 1
			} else if cn, ok := item.Expr.(*ast.ColumnNameExpr); ok && cn.Name.Table.O == "" && outputIndex(fields, cn.Name.Name.O) >= 0 {
				oi.outIdx = outputIndex(fields, cn.Name.Name.O)
			} else {
				e, err := orderComp.compile(item.Expr)
				if err != nil {
					return nil, err
				}
				oi.expr = e
			}
			var t types.T
			if oi.expr != nil {
				t = oi.expr.typ
			} else {
				t = p.cols[oi.outIdx].typ
			}
			if err := checkComparable(t, "ordering"); err != nil {
				return nil, err
			}
			p.order = append(p.order, oi)
		}
		if p.src != nil && !p.aggregated && !p.distinct && p.scanSatisfiesOrder(n.OrderBy) {
			p.order = nil
		}
	}
	p.aggs = aggs // complete now: HAVING and ORDER BY may add aggregates too
	if p.lock != nil {
		if err := p.planLocking(n); err != nil {
			return nil, err
		}
	}
	if n.Limit != nil {
		if n.Limit.Count != nil {
			if p.limit, err = c.compileWant(n.Limit.Count, types.Int8); err != nil {
				return nil, err
			}
		}
		if n.Limit.Offset != nil {
			if p.offset, err = c.compileWant(n.Limit.Offset, types.Int8); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// scanSatisfiesOrder reports whether reading the primary key forwards or backwards yields
// ORDER BY's order, and if so sets the scan direction.
func (p *selectPlan) scanSatisfiesOrder(ob *ast.OrderByClause) bool {
	if p.src.scan.index != nil {
		return false // an index scan yields the index's order
	}
	tbl := p.src.table
	ords := tbl.PrimaryKeyOrdinals()
	if len(ob.Items) > len(ords) {
		return false
	}
	reverse := false
	for i, item := range ob.Items {
		cn, ok := item.Expr.(*ast.ColumnNameExpr)
		if !ok || cn.Name.Name.O != tbl.Columns[ords[i]].Name {
			return false
		}
		r := item.Desc != tbl.PrimaryKeyDesc[i]
		if i == 0 {
			reverse = r
		} else if r != reverse {
			return false
		}
	}
	p.src.scan.reverse = reverse
	return true
}

type field struct {
	expr   ast.ExprNode
	name   string
	colOrd int // the input column when the field is a bare column reference, else -1
}

// expandFields expands * and names each output column as PostgreSQL does.
func expandFields(fl *ast.FieldList, scope []scopeColumn, src *source) ([]field, error) {
	var out []field
	for _, f := range fl.Fields {
		if f.WildCard != nil {
			if src == nil {
				return nil, pgerror.New(pgerror.CodeSyntaxError, "SELECT * with no tables specified is not valid")
			}
			if tn := f.WildCard.Table.O; tn != "" && tn != scope[0].table {
				return nil, pgerror.New(pgerror.CodeUndefinedTable, "missing FROM-clause entry for table %q", tn)
			}
			for i, col := range src.table.Columns {
				if col.Hidden {
					continue
				}
				out = append(out, field{
					expr: &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: ast.NewCIStr(col.Name)}},
					name: col.Name, colOrd: i,
				})
			}
			continue
		}
		fd := field{expr: f.Expr, name: f.AsName.O, colOrd: -1}
		if cn, ok := f.Expr.(*ast.ColumnNameExpr); ok && src != nil {
			if _, ord, ok := src.table.ColumnByName(cn.Name.Name.O); ok {
				fd.colOrd = ord
			}
		}
		if fd.name == "" {
			fd.name = outputName(f.Expr)
		}
		out = append(out, fd)
	}
	return out, nil
}

func compileFields(c *compiler, fields []field) ([]*scalar, error) {
	out := make([]*scalar, len(fields))
	for i, f := range fields {
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
		return strings.ToLower(n.F)
	case *ast.FuncCallExpr:
		name := n.FnName.L
		if name == "meridian_cast" && len(n.Args) == 2 {
			if inner := outputName(n.Args[0]); inner != "?column?" {
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
		case "meridian_ilike", ast.Concat, "meridian_op", "meridian_any", "meridian_all", "meridian_slice":
			return "?column?" // operators: ILIKE, ||, the JSON and array operators, ANY/ALL
		case "meridian_array":
			return "array"
		case "meridian_extract":
			return "extract"
		case "meridian_subscript":
			if len(n.Args) == 2 {
				return outputName(n.Args[0]) // a[1] is named a
			}
		}
		return name
	case *ast.CaseExpr:
		return "case"
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

// checkGrouped rejects a column reference outside aggregates that GROUP BY does not name.
func checkGrouped(e ast.ExprNode, g *ast.GroupByClause) error {
	v := &ungroupedFinder{}
	for _, it := range groupItems(g) {
		if cn, ok := it.(*ast.ColumnNameExpr); ok {
			if v.grouped == nil {
				v.grouped = map[string]bool{}
			}
			v.grouped[cn.Name.Name.O] = true
		}
	}
	e.Accept(v)
	if v.bad != "" {
		return pgerror.New(pgerror.CodeGroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", v.bad)
	}
	return nil
}

type ungroupedFinder struct {
	grouped map[string]bool
	bad     string
}

func (v *ungroupedFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.AggregateFuncExpr:
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

// outRow is an output row with the values it sorts by.
type outRow struct {
	vals []types.Datum
	keys []types.Datum
}

// nowaitLockTimeout is the lock timeout of a NOWAIT locking read: the shortest positive wait,
// so that the read fails at the first lock another transaction holds. lock_timeout counts in
// milliseconds, so a LockNotAvailableError with this timeout comes from a NOWAIT.
const nowaitLockTimeout = time.Nanosecond

func (p *selectPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	if p.lock != nil && p.lock.nowait {
		x.txn.SetLockTimeout(nowaitLockTimeout)
		defer x.txn.SetLockTimeout(x.session.durationVar("lock_timeout"))
	}
	// A lock NOWAIT could not take fails like one waited for too long: the 55P03 names the
	// relation and the row (lockNotAvailableError).
	rows, err := p.rows(ctx, x)
	if err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{cols: p.cols, rows: rows, tag: fmt.Sprintf("SELECT %d", len(rows))}, nil
}

func evalInt(ec *evalCtx, s *scalar, what string) (int64, bool, error) {
	if s == nil {
		return 0, false, nil
	}
	v, err := s.eval(ec, nil)
	if err != nil || v == nil {
		return 0, false, err
	}
	n, ok := v.(int64)
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

func (p *selectPlan) rows(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
	ec := x.ec
	limit, hasLimit, err := evalInt(ec, p.limit, "LIMIT")
	if err != nil {
		return nil, err
	}
	offset, _, err := evalInt(ec, p.offset, "OFFSET")
	if err != nil {
		return nil, err
	}
	var out []outRow
	project := func(row []types.Datum) error {
		o := outRow{vals: make([]types.Datum, len(p.outputs))}
		for i, s := range p.outputs {
			v, err := s.eval(ec, row)
			if err != nil {
				return err
			}
			o.vals[i] = v
		}
		for _, oi := range p.order {
			if oi.outIdx >= 0 {
				o.keys = append(o.keys, o.vals[oi.outIdx])
				continue
			}
			v, err := oi.expr.eval(ec, row)
			if err != nil {
				return err
			}
			o.keys = append(o.keys, v)
		}
		out = append(out, o)
		return nil
	}
	// Without sorting, grouping or DISTINCT the scan can stop once LIMIT is satisfied.
	streaming := len(p.order) == 0 && !p.aggregated && !p.distinct
	switch {
	case p.src == nil:
		if err := project(nil); err != nil {
			return nil, err
		}
	case p.aggregated:
		if err := p.aggregate(ctx, x, project); err != nil {
			return nil, err
		}
	default:
		var page int64
		if streaming && hasLimit {
			page = scanPageSize
			if p.src.filter == nil {
				page = max(limit+offset, 1)
			}
		}
		err := p.src.each(ctx, x, page, func(row []types.Datum) (bool, error) {
			if err := project(row); err != nil {
				return false, err
			}
			return !(streaming && hasLimit && int64(len(out)) >= limit+offset), nil
		})
		if err != nil {
			return nil, err
		}
	}
	if p.distinct {
		out = distinctRows(p.cols, out)
	}
	if len(p.order) > 0 {
		p.sort(out)
	}
	if offset > 0 {
		if offset >= int64(len(out)) {
			out = nil
		} else {
			out = out[offset:]
		}
	}
	if hasLimit && int64(len(out)) > limit {
		out = out[:limit]
	}
	rows := make([][]types.Datum, len(out))
	for i := range out {
		rows[i] = out[i].vals
	}
	return rows, nil
}

func distinctRows(cols []resultColumn, in []outRow) []outRow {
	seen := map[string]bool{}
	var out []outRow
	var key []byte
	for _, r := range in {
		key = key[:0]
		for i, v := range r.vals {
			if v == nil {
				key = append(key, 0)
				continue
			}
			key = append(key, 1)
			key = types.AppendGroupKey(key, cols[i].typ, v)
			key = append(key, 0xff)
		}
		if !seen[string(key)] {
			seen[string(key)] = true
			out = append(out, r)
		}
	}
	return out
}

func (p *selectPlan) sort(out []outRow) {
	typs := make([]types.T, len(p.order))
	for i, oi := range p.order {
		if oi.outIdx >= 0 {
			typs[i] = p.cols[oi.outIdx].typ
		} else {
			typs[i] = oi.expr.typ
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		for i, oi := range p.order {
			c := types.Compare(typs[i], out[a].keys[i], out[b].keys[i])
			if c == 0 {
				continue
			}
			if oi.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
}

// group is the running state of one GROUP BY group.
type group struct {
	first  []types.Datum
	states []*aggState
}

// aggregate groups the source's rows and hands each group's row to project. A group's row is
// the aggregate results, then the group's first input row, then the number of aggregates
// (see columnReader).
func (p *selectPlan) aggregate(ctx context.Context, x *execCtx, project func([]types.Datum) error) error {
	ec := x.ec
	groups := map[string]*group{}
	var order []string
	var key []byte
	err := p.src.each(ctx, x, 0, func(row []types.Datum) (bool, error) {
		key = key[:0]
		for _, g := range p.groupBy {
			v, err := g.eval(ec, row)
			if err != nil {
				return false, err
			}
			if v == nil {
				key = append(key, 0)
				continue
			}
			key = append(key, 1)
			key = types.AppendGroupKey(key, g.typ, v)
			key = append(key, 0xff)
		}
		gr, ok := groups[string(key)]
		if !ok {
			gr = &group{first: row}
			for _, a := range p.aggs {
				gr.states = append(gr.states, newAggState(a))
			}
			groups[string(key)] = gr
			order = append(order, string(key))
		}
		for _, st := range gr.states {
			if err := st.add(ec, row); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	// Without GROUP BY, an aggregate over no rows still yields one row.
	if len(p.groupBy) == 0 && len(groups) == 0 {
		gr := &group{first: make([]types.Datum, len(p.src.table.Columns))}
		for _, a := range p.aggs {
			gr.states = append(gr.states, newAggState(a))
		}
		groups[""] = gr
		order = append(order, "")
	}
	for _, k := range order {
		gr := groups[k]
		row := make([]types.Datum, 0, len(p.aggs)+len(gr.first)+1)
		for _, st := range gr.states {
			v, err := st.result()
			if err != nil {
				return err
			}
			row = append(row, v)
		}
		row = append(row, gr.first...)
		row = append(row, len(p.aggs))
		if p.having != nil {
			v, err := p.having.eval(ec, row)
			if err != nil {
				return err
			}
			if v == nil || !v.(bool) {
				continue
			}
		}
		if err := project(row); err != nil {
			return err
		}
	}
	return nil
}
