package sql

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/sql/catalog"
)

// The cost model is small: it estimates how many rows each operator produces, from the
// statistics ANALYZE collects (row counts, distinct values per column) and fixed
// selectivities where it knows nothing, and the planner compares those estimates to pick
// join algorithms and hash-join build sides.
const (
	// defaultTableRows is the size assumed for a table never analyzed.
	defaultTableRows = 1000
	// defaultDistinct is the number of distinct values assumed for a column without
	// statistics.
	defaultDistinct = 10
	// rangeSelectivity and otherSelectivity are the fractions of rows assumed to pass a
	// range condition and any other condition.
	rangeSelectivity = 1.0 / 3
	otherSelectivity = 1.0 / 3
	// lookupCostFactor is how much more a row found by a lookup costs than a row read by
	// a scan.
	lookupCostFactor = 10
)

// scanEstimate estimates the rows a scan of tbl with conditions conds returns.
func scanEstimate(tbl *catalog.Table, st *tableStats, conds []ast.ExprNode) float64 {
	rows := float64(defaultTableRows)
	if st != nil {
		rows = float64(st.RowCount)
	}
	distinct := func(name string) float64 {
		col, _, ok := tbl.ColumnByName(name)
		if !ok {
			return defaultDistinct
		}
		if cs := st.column(col.ID); cs != nil && cs.Distinct > 0 {
			return float64(cs.Distinct)
		}
		if len(tbl.PrimaryKey) == 1 && tbl.PrimaryKey[0] == col.ID {
			return rows // a one-column key is unique
		}
		return defaultDistinct
	}
	est := rows
	for _, c := range conds {
		est *= conditionSelectivity(c, distinct)
	}
	return max(est, 1)
}

// conditionSelectivity is the fraction of rows a condition is expected to pass.
func conditionSelectivity(e ast.ExprNode, distinct func(col string) float64) float64 {
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	colName := func(x ast.ExprNode) (string, bool) {
		cn, ok := x.(*ast.ColumnNameExpr)
		if !ok {
			return "", false
		}
		return cn.Name.Name.O, true
	}
	switch n := e.(type) {
	case *ast.BinaryOperationExpr:
		switch n.Op {
		case opcode.EQ:
			if c, ok := colName(n.L); ok {
				return 1 / distinct(c)
			}
			if c, ok := colName(n.R); ok {
				return 1 / distinct(c)
			}
		case opcode.LT, opcode.LE, opcode.GT, opcode.GE:
			return rangeSelectivity
		case opcode.LogicAnd:
			return conditionSelectivity(n.L, distinct) * conditionSelectivity(n.R, distinct)
		case opcode.LogicOr:
			a, b := conditionSelectivity(n.L, distinct), conditionSelectivity(n.R, distinct)
			return min(a+b, 1)
		}
	case *ast.PatternInExpr:
		if c, ok := colName(n.Expr); ok && !n.Not && n.Sel == nil {
			return min(float64(len(n.List))/distinct(c), 1)
		}
	case *ast.BetweenExpr:
		return rangeSelectivity * rangeSelectivity * 2
	}
	return otherSelectivity
}

// tableRows is the estimated size of a scanned table before its conditions.
func tableRows(n *scanNode) float64 {
	if n.stats != nil {
		return float64(n.stats.RowCount)
	}
	return defaultTableRows
}

// estimateRows estimates how many rows a plan produces.
func estimateRows(n relNode) float64 {
	switch x := n.(type) {
	case *scanNode:
		return x.est
	case *valuesNode:
		return float64(len(x.rows))
	case *filterNode:
		return max(estimateRows(x.input)*otherSelectivity, 1)
	case *projectNode:
		return estimateRows(x.input)
	case *limitNode:
		if x.limit != nil && x.limit.constant && x.limit.val != nil {
			return min(float64(x.limit.val.(int64)), estimateRows(x.input))
		}
		return estimateRows(x.input)
	case *sortNode:
		return estimateRows(x.input)
	case *distinctNode:
		return max(estimateRows(x.input)/2, 1)
	case *aggNode:
		if len(x.groupBy) == 0 {
			return 1
		}
		return max(estimateRows(x.input)/defaultDistinct, 1)
	case *hashJoinNode:
		return joinEstimate(&x.joinSpec)
	case *mergeJoinNode:
		return joinEstimate(&x.joinSpec)
	case *lookupJoinNode:
		return joinEstimate(&x.joinSpec)
	case *nestedLoopJoinNode:
		return joinEstimate(&x.joinSpec)
	case *windowNode:
		return estimateRows(x.input)
	case *setOpNode:
		return estimateRows(x.left) + estimateRows(x.right)
	}
	return defaultTableRows
}

// joinEstimate assumes an equality join matches each row of the larger side about once (a
// key to foreign key join), and a join on other conditions passes a third of all pairs.
func joinEstimate(j *joinSpec) float64 {
	l, r := estimateRows(j.left), estimateRows(j.right)
	if len(j.leftKeys) > 0 {
		return max(l, r)
	}
	est := l * r
	if j.residual != nil {
		est *= otherSelectivity
	}
	return max(est, 1)
}
