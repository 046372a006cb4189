package sql

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// keyConstraint is what a WHERE clause pins down about a table's primary key: candidate values
// for a prefix of its columns (one for =, several for IN), then optionally a range on the next
// column. The values are expressions that do not depend on the row (literals, parameters,
// now()), so spans are computed once per execution.
type keyConstraint struct {
	// exact are the WHERE conjuncts the spans express exactly: a row in the spans
	// satisfies them, so they need no filter (see newSource).
	exact    []ast.ExprNode
	eqs      [][]*scalar
	eqText   []string
	lo, hi   *scalar
	loIncl   bool
	hiIncl   bool
	rangeCol int
	rngText  []string
}

// maxPointSpans bounds the cartesian product of IN lists; beyond it the prefix is scanned.
const maxPointSpans = 10000

// tableScan reads a table's rows, restricted to the spans its key constraint allows.
type tableScan struct {
	table   *catalog.Table
	kc      *keyConstraint
	reverse bool
	// locking is how the scan locks the rows it reads (SELECT ... FOR UPDATE / FOR SHARE).
	locking kvpb.LockStrength
	// index, when set, is the access path chosen instead of the primary index (see
	// planIndexScan); kc and reverse are then unused.
	index *indexScan
}

// isPoint reports whether every execution reads single rows by full primary key.
func (s *tableScan) isPoint() bool {
	return s.kc != nil && len(s.kc.eqs) == len(s.table.PrimaryKey) && s.kc.lo == nil && s.kc.hi == nil
}

func (s *tableScan) explain() string {
	if s.index != nil {
		return s.withLocking().explain()
	}
	switch s.locking {
	case kvpb.LockExclusive:
		return s.explainScan() + " (locking FOR UPDATE)"
	case kvpb.LockShared:
		return s.explainScan() + " (locking FOR SHARE)"
	}
	return s.explainScan()
}

func (s *tableScan) explainScan() string {
	name := s.table.Name
	switch {
	case s.kc == nil:
		dir := ""
		if s.reverse {
			dir = " (reverse)"
		}
		return fmt.Sprintf("full scan %s@%s%s", name, s.table.PrimaryKeyName(), dir)
	case s.isPoint():
		return fmt.Sprintf("point lookup %s@%s: %s", name, s.table.PrimaryKeyName(), strings.Join(s.kc.eqText, " AND "))
	}
	conds := append(append([]string(nil), s.kc.eqText...), s.kc.rngText...)
	dir := ""
	if s.reverse {
		dir = " (reverse)"
	}
	return fmt.Sprintf("range scan %s@%s%s: %s", name, s.table.PrimaryKeyName(), dir, strings.Join(conds, " AND "))
}

// keySpan is one span to read; a point span has end == nil.
type keySpan struct{ start, end []byte }

// spans evaluates the key constraint into the spans to read, in key order.
func (s *tableScan) spans(ec *evalCtx) ([]keySpan, error) {
	if s.kc == nil {
		// The primary index only: the table's span holds its secondary indexes too.
		start, end := rowenc.PrimarySpan(s.table.KeyID())
		return []keySpan{{start, end}}, nil
	}
	t := s.table
	return s.kc.spans(ec, t, keyColumns{prefix: rowenc.IndexPrefix(t.KeyID()), ords: t.PrimaryKeyOrdinals(), desc: t.PrimaryKeyDesc}, s.isPoint())
}

// keyColumns are the leading columns of an index's keys, which a key constraint bounds.
type keyColumns struct {
	prefix []byte // the index's key prefix
	ords   []int  // the table ordinals of its key columns
	desc   []bool
	// nullable: the columns may hold NULLs (a secondary index), which no comparison
	// matches: a range open on the side where they sort stops short of them.
	nullable bool
}

// spans evaluates the constraint on the key columns kcols into the spans to read, in key
// order; with point, every span is a single key (all columns pinned, keys holding no more).
func (kc *keyConstraint) spans(ec *evalCtx, t *catalog.Table, kcols keyColumns, point bool) ([]keySpan, error) {
	ords := kcols.ords
	prefixes := [][]byte{kcols.prefix}
	// complete: every pinned column is in the prefixes; when their product grows too large,
	// the prefixes stop short and neither single keys nor the range apply.
	complete := true
	for i, cands := range kc.eqs {
		col := t.Columns[ords[i]]
		var vals [][]byte
		seen := map[string]bool{}
		add := func(v types.Datum) error {
			if v == nil {
				return nil // = NULL matches nothing
			}
			enc, err := rowenc.AppendKeyDatum(nil, col.Type, v, kcols.desc[i])
			if err != nil {
				return err
			}
			if !seen[string(enc)] {
				seen[string(enc)] = true
				vals = append(vals, enc)
			}
			return nil
		}
		for _, c := range cands {
			v, err := c.eval(ec, nil)
			if err != nil {
				return nil, err
			}
			if arr, ok := v.(types.Array); ok && col.Type.Family != types.ArrayFamily {
				// The elements of col = ANY(array).
				for _, e := range arr.Elems {
					if err := add(e); err != nil {
						return nil, err
					}
				}
				continue
			}
			if err := add(v); err != nil {
				return nil, err
			}
		}
		if len(prefixes)*len(vals) > maxPointSpans {
			complete = false // scan the prefixes so far; the filter checks the rest
			break
		}
		next := make([][]byte, 0, len(prefixes)*len(vals))
		for _, p := range prefixes {
			for _, v := range vals {
				next = append(next, append(append([]byte(nil), p...), v...))
			}
		}
		prefixes = next
	}
	sortKeys(prefixes)
	var out []keySpan
	for _, p := range prefixes {
		if point && complete {
			out = append(out, keySpan{start: p})
			continue
		}
		start, end := p, encoding.PrefixEnd(p)
		if complete && (kc.lo != nil || kc.hi != nil) {
			col := t.Columns[ords[kc.rangeCol]]
			desc := kcols.desc[kc.rangeCol]
			// In a descending column, the low value bounds the end of the span.
			loIncl, hiIncl := kc.loIncl, kc.hiIncl
			lo, hi := kc.lo, kc.hi
			empty := false
			if desc {
				lo, hi = hi, lo
				loIncl, hiIncl = hiIncl, loIncl
			}
			if kcols.nullable {
				// NULLs sort after every value ascending and before every value
				// descending: an open side there would read them.
				null, err := rowenc.AppendKeyDatum(append([]byte(nil), p...), col.Type, nil, desc)
				if err != nil {
					return nil, err
				}
				if !desc && hi == nil {
					end = null
				} else if desc && lo == nil {
					start = encoding.PrefixEnd(null)
				}
			}
			for _, b := range []struct {
				s         *scalar
				key       *[]byte
				endOfSpan bool // the bound's key is the span's exclusive end
				incl      bool
			}{{lo, &start, false, loIncl}, {hi, &end, true, hiIncl}} {
				if b.s == nil {
					continue
				}
				v, err := b.s.eval(ec, nil)
				if err != nil {
					return nil, err
				}
				if v == nil {
					empty = true // a comparison with NULL matches nothing
					break
				}
				k, err := rowenc.AppendKeyDatum(append([]byte(nil), p...), col.Type, v, desc)
				if err != nil {
					return nil, err
				}
				// An exclusive start and an inclusive end both move past every key that
				// starts with the bound.
				if b.incl == b.endOfSpan {
					k = encoding.PrefixEnd(k)
				}
				*b.key = k
			}
			if empty {
				continue
			}
			if bytes.Compare(start, end) >= 0 {
				continue
			}
		}
		out = append(out, keySpan{start, end})
	}
	return out, nil
}

func sortKeys(ks [][]byte) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && bytes.Compare(ks[j], ks[j-1]) < 0; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

// scanPageSize is how many rows one request reads when the caller may stop early.
const scanPageSize = 1024

// firstScanPage and maxScanPage bound the pages of a scan that reads to the end.
const (
	firstScanPage = 1024
	maxScanPage   = 32768
)

// run reads the table's rows in the scan's order, calling emit for each; emit returns false
// to stop early (a satisfied LIMIT). Rows passed to emit are fresh slices.
func (s *tableScan) run(ctx context.Context, t *txn.Txn, ec *evalCtx, pageRows int64, emit func(row []types.Datum) (bool, error)) error {
	if s.index != nil {
		return s.withLocking().run(ctx, t, ec, pageRows, emit)
	}
	spans, err := s.spans(ec)
	if err != nil {
		return err
	}
	if s.reverse {
		for i, j := 0, len(spans)-1; i < j; i, j = i+1, j-1 {
			spans[i], spans[j] = spans[j], spans[i]
		}
	}
	tbl := s.table
	decode := func(key, value []byte) ([]types.Datum, error) {
		row := make([]types.Datum, len(tbl.Columns))
		if err := rowenc.DecodeRow(tbl, key, value, row); err != nil {
			return nil, err
		}
		return row, nil
	}
	// Point lookups go out together in one batch.
	if len(spans) > 0 && spans[0].end == nil {
		b := &txn.Batch{}
		for _, sp := range spans {
			if s.locking != kvpb.LockNone {
				b.GetLocking(sp.start, s.locking)
			} else {
				b.Get(sp.start)
			}
		}
		if err := t.Run(ctx, b); err != nil {
			return err
		}
		for _, r := range b.Results {
			for _, kv := range r.Rows {
				row, err := decode(kv.Key, kv.Value)
				if err != nil {
					return err
				}
				if more, err := emit(row); err != nil || !more {
					return err
				}
			}
		}
		return nil
	}
	// Without a page size the scan reads in pages that grow, so that a small table costs
	// one request and a large one streams through bounded memory.
	grow := pageRows <= 0
	if grow {
		pageRows = firstScanPage
	}
	for _, sp := range spans {
		start, end := sp.start, sp.end
		for {
			b := &txn.Batch{}
			if s.locking != kvpb.LockNone {
				b.ScanLocking(start, end, pageRows, s.reverse, s.locking)
			} else {
				b.Scan(start, end, pageRows, s.reverse)
			}
			if err := t.Run(ctx, b); err != nil {
				return err
			}
			res := b.Results[0]
			rows := res.Rows
			for _, kv := range rows {
				row, err := decode(kv.Key, kv.Value)
				if err != nil {
					return err
				}
				if more, err := emit(row); err != nil || !more {
					return err
				}
			}
			if res.ResumeKey == nil {
				break
			}
			if grow && pageRows < maxScanPage {
				pageRows *= 2
			}
			if s.reverse {
				end = res.ResumeKey
			} else {
				start = res.ResumeKey
			}
		}
	}
	return nil
}

// constrainKey derives a key constraint for table from a WHERE clause, compiling the bound
// expressions with c (whose scope is the table's columns).
func (c *compiler) constrainKey(t *catalog.Table, where ast.ExprNode) (*keyConstraint, error) {
	return c.constrainColumns(t, t.PrimaryKeyOrdinals(), where)
}

// constrainColumns derives from a WHERE clause a constraint on the key columns ords (table
// ordinals, in key order) of one of t's indexes.
func (c *compiler) constrainColumns(t *catalog.Table, ords []int, where ast.ExprNode) (*keyConstraint, error) {
	if where == nil {
		return nil, nil
	}
	type bound struct {
		op   opcode.Op
		expr ast.ExprNode
		conj ast.ExprNode // the conjunct the bound comes from
	}
	pkPos := map[string]int{}
	for i, o := range ords {
		pkPos[t.Columns[o].Name] = i
	}
	byCol := make([][]bound, len(ords))
	inLists := make([][]ast.ExprNode, len(ords))
	anyArrays := make([]ast.ExprNode, len(ords))
	colOf := func(e ast.ExprNode) (int, bool) {
		for {
			p, ok := e.(*ast.ParenthesesExpr)
			if !ok {
				break
			}
			e = p.Expr
		}
		cn, ok := e.(*ast.ColumnNameExpr)
		if !ok || (cn.Name.Table.O != "" && cn.Name.Table.O != c.scope[0].table) {
			return 0, false
		}
		i, ok := pkPos[cn.Name.Name.O]
		return i, ok
	}
	flip := map[opcode.Op]opcode.Op{opcode.EQ: opcode.EQ, opcode.LT: opcode.GT, opcode.LE: opcode.GE, opcode.GT: opcode.LT, opcode.GE: opcode.LE}
	for _, conj := range conjuncts(where) {
		switch n := conj.(type) {
		case *ast.BinaryOperationExpr:
			if _, ok := flip[n.Op]; !ok {
				continue
			}
			if i, ok := colOf(n.L); ok && rowIndependent(n.R) {
				byCol[i] = append(byCol[i], bound{n.Op, n.R, conj})
			} else if i, ok := colOf(n.R); ok && rowIndependent(n.L) {
				byCol[i] = append(byCol[i], bound{flip[n.Op], n.L, conj})
			}
		case *ast.PatternInExpr:
			if n.Not || n.Sel != nil {
				continue
			}
			if i, ok := colOf(n.Expr); ok && inLists[i] == nil {
				indep := true
				for _, e := range n.List {
					indep = indep && rowIndependent(e)
				}
				if indep {
					inLists[i] = n.List
				}
			}
		case *ast.FuncCallExpr:
			// col = ANY(array): the array's elements, known when the statement runs, pin
			// the column like an IN list.
			if n.FnName.L != "meridian_any" || len(n.Args) != 3 {
				continue
			}
			if op, err := opName(n.Args[0]); err != nil || op != "=" {
				continue
			}
			if i, ok := colOf(n.Args[1]); ok && inLists[i] == nil && rowIndependent(n.Args[2]) {
				anyArrays[i] = n.Args[2]
			}
		case *ast.BetweenExpr:
			if n.Not {
				continue
			}
			if i, ok := colOf(n.Expr); ok && rowIndependent(n.Left) && rowIndependent(n.Right) {
				byCol[i] = append(byCol[i], bound{opcode.GE, n.Left, nil}, bound{opcode.LE, n.Right, nil})
			}
		}
	}
	kc := &keyConstraint{}
	// The spans express a comparison exactly when the column is an integer (its key
	// encoding orders and equates like the comparison) and every column before it is
	// pinned by one equality (an IN list may be cut short: see spans).
	exactSoFar := true
	exact := func(i int, b bound) {
		if exactSoFar && b.conj != nil && t.Columns[ords[i]].Type.Family == types.IntFamily {
			kc.exact = append(kc.exact, b.conj)
		}
	}
	compileBound := func(i int, e ast.ExprNode) (*scalar, bool, error) {
		col := t.Columns[ords[i]]
		s, err := c.compileWant(e, col.Type)
		if err != nil {
			return nil, false, err
		}
		if s.typ.Family != col.Type.Family {
			return nil, false, nil // compared across types: leave it to the filter
		}
		return s, true, nil
	}
	for i := range ords {
		colName := t.Columns[ords[i]].Name
		var eq []*scalar
		var eqText string
		for _, b := range byCol[i] {
			if b.op == opcode.EQ {
				s, ok, err := compileBound(i, b.expr)
				if err != nil {
					return nil, err
				}
				if ok {
					eq, eqText = []*scalar{s}, fmt.Sprintf("%s = %s", colName, parser.RestoreSQL(b.expr))
					exact(i, b)
					break
				}
			}
		}
		if eq == nil && inLists[i] != nil {
			exactSoFar = false
			var texts []string
			for _, e := range inLists[i] {
				s, ok, err := compileBound(i, e)
				if err != nil {
					return nil, err
				}
				if !ok {
					eq = nil
					break
				}
				eq = append(eq, s)
				texts = append(texts, parser.RestoreSQL(e))
			}
			eqText = fmt.Sprintf("%s IN (%s)", colName, strings.Join(texts, ", "))
		}
		if eq == nil && anyArrays[i] != nil {
			col := t.Columns[ords[i]]
			s, err := c.compileWant(anyArrays[i], types.ArrayOf(col.Type))
			if err != nil {
				return nil, err
			}
			if s.typ.Family == types.ArrayFamily && s.typ.Elem == col.Type.Family {
				exactSoFar = false
				eq = []*scalar{s}
				eqText = fmt.Sprintf("%s = ANY(%s)", colName, parser.RestoreSQL(anyArrays[i]))
			}
		}
		if eq != nil {
			kc.eqs = append(kc.eqs, eq)
			kc.eqText = append(kc.eqText, eqText)
			continue
		}
		// A range on this column ends the usable prefix.
		for _, b := range byCol[i] {
			s, ok, err := compileBound(i, b.expr)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			switch b.op {
			case opcode.GT, opcode.GE:
				if kc.lo == nil {
					exact(i, b)
					kc.lo, kc.loIncl = s, b.op == opcode.GE
					kc.rngText = append(kc.rngText, fmt.Sprintf("%s %s %s", colName, binaryOpNames[b.op], parser.RestoreSQL(b.expr)))
				}
			case opcode.LT, opcode.LE:
				if kc.hi == nil {
					exact(i, b)
					kc.hi, kc.hiIncl = s, b.op == opcode.LE
					kc.rngText = append(kc.rngText, fmt.Sprintf("%s %s %s", colName, binaryOpNames[b.op], parser.RestoreSQL(b.expr)))
				}
			}
		}
		kc.rangeCol = i
		break
	}
	if len(kc.eqs) == 0 && kc.lo == nil && kc.hi == nil {
		return nil, nil
	}
	return kc, nil
}

// conjuncts splits an expression on top-level ANDs.
func conjuncts(e ast.ExprNode) []ast.ExprNode {
	switch n := e.(type) {
	case *ast.ParenthesesExpr:
		return conjuncts(n.Expr)
	case *ast.BinaryOperationExpr:
		if n.Op == opcode.LogicAnd {
			return append(conjuncts(n.L), conjuncts(n.R)...)
		}
	}
	return []ast.ExprNode{e}
}

// rowIndependent reports whether e can be evaluated without a row: no column references,
// subqueries or aggregates.
func rowIndependent(e ast.ExprNode) bool {
	v := &dependencyFinder{}
	e.Accept(v)
	return !v.found
}

type dependencyFinder struct{ found bool }

func (v *dependencyFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.ColumnNameExpr, *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.AggregateFuncExpr, *ast.ValuesExpr, *ast.DefaultExpr:
		v.found = true
		return n, true
	}
	return n, v.found
}

func (v *dependencyFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }
