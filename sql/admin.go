package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Admin is what SQL needs from the cluster beyond transactions: splitting ranges and
// describing them.
type Admin interface {
	// SplitAt splits the range holding key so that a range starts at key.
	SplitAt(ctx context.Context, key []byte) error
	// UnsplitAt merges the range that starts at key into the range on its left.
	UnsplitAt(ctx context.Context, key []byte) error
	// RangesIn describes the ranges that hold keys in [start, end), in key order.
	RangesIn(ctx context.Context, start, end []byte) ([]RangeInfo, error)
}

// Errors of Admin.UnsplitAt that SQL reports as invalid parameters.
var (
	ErrNoRangeBoundary = errors.New("no range boundary there")
	ErrMergeFirstRange = errors.New("cannot merge into the first range: it holds the meta and system spans")
)

// RangeInfo describes one range for SHOW RANGES.
type RangeInfo struct {
	RangeID          uint64
	StartKey, EndKey []byte
	Replicas         []uint64
	// Localities are the replicas' localities, in the order of Replicas.
	Localities       []string
	Leaseholder      uint64
	ApproximateBytes int64
}

func (s *Session) admin() (Admin, error) {
	if s.srv.cfg.Admin == nil {
		return nil, pgerror.Unsupported("range administration on this node")
	}
	return s.srv.cfg.Admin, nil
}

// splitPlan runs ALTER TABLE t SPLIT AT VALUES (...), ...: one split per row of values, each
// at the primary key prefix the row spells; or ALTER TABLE t UNSPLIT AT VALUES (...), ...,
// which merges the range starting at each such key into the one on its left.
type splitPlan struct {
	noSchemaChange
	unsplit bool
	table   string
	keys    [][]byte
	pretty  []string
}

func (s *Session) planSplit(ctx context.Context, t *txn.Txn, n *ast.SplitRegionStmt, p *prepared) (plan, error) {
	if n.IndexName.O != "" || n.SplitOpt == nil || len(n.SplitOpt.ValueLists) == 0 {
		return nil, pgerror.Unsupported("this form of SPLIT")
	}
	tbl, err := s.resolveTable(ctx, t, n.Table)
	if err != nil {
		return nil, err
	}
	if err := s.checkTableOwner(ctx, t, tbl); err != nil {
		return nil, err
	}
	ords := tbl.PrimaryKeyOrdinals()
	plan := &splitPlan{table: tbl.Name, unsplit: n.SplitSyntaxOpt != nil && n.SplitSyntaxOpt.HasRegionFor}
	c := &compiler{params: p.params, session: s, excludedOffset: -1}
	for _, row := range n.SplitOpt.ValueLists {
		if len(row) > len(ords) {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "too many split values: the primary key of %q has %d columns", tbl.Name, len(ords))
		}
		vals := make([]types.Datum, len(row))
		var parts []string
		for i, e := range row {
			col := tbl.Columns[ords[i]]
			sc, err := c.compileWant(e, col.Type)
			if err != nil {
				return nil, err
			}
			if sc, err = coerce(sc, col.Type); err != nil {
				return nil, err
			}
			if !sc.constant {
				return nil, pgerror.New(pgerror.CodeSyntaxError, "split values must be constants")
			}
			if sc.val == nil {
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "cannot split at NULL")
			}
			vals[i] = sc.val
			parts = append(parts, string(types.AppendText(nil, col.Type, sc.val)))
		}
		key, err := rowenc.KeyPrefix(tbl, vals)
		if err != nil {
			return nil, err
		}
		plan.keys = append(plan.keys, key)
		plan.pretty = append(plan.pretty, "/"+strings.Join(parts, "/"))
	}
	return plan, nil
}

func (p *splitPlan) columns() []resultColumn { return textColumns("key", "pretty") }

func (p *splitPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	adm, err := x.session.admin()
	if err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	verb, do, tag := "splitting", adm.SplitAt, "SPLIT"
	if p.unsplit {
		verb, do, tag = "unsplitting", adm.UnsplitAt, "UNSPLIT"
	}
	res := &result{cols: p.columns(), tag: fmt.Sprintf("%s %d", tag, len(p.keys))}
	for i, k := range p.keys {
		if err := do(ctx, k); err != nil {
			switch {
			case errors.Is(err, ErrNoRangeBoundary):
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "no range boundary at %s", p.pretty[i])
			case errors.Is(err, ErrMergeFirstRange):
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "%s", ErrMergeFirstRange.Error())
			}
			return nil, fmt.Errorf("%s %q at %s: %w", verb, p.table, p.pretty[i], err)
		}
		res.rows = append(res.rows, []types.Datum{fmt.Sprintf("%x", k), p.pretty[i]})
	}
	return res, nil
}

// planShowRanges answers SHOW RANGES FROM TABLE t.
func (s *Session) planShowRanges(n *ast.ShowStmt) (plan, error) {
	cols := []resultColumn{
		{name: "range_id", typ: types.Int8}, {name: "start_key", typ: types.String}, {name: "end_key", typ: types.String},
		{name: "replicas", typ: types.String}, {name: "lease_holder", typ: types.Int8},
		{name: "replica_localities", typ: types.String}, {name: "range_size", typ: types.Int8},
	}
	return &showPlan{cols: cols, rows: func(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
		adm, err := s.admin()
		if err != nil {
			return nil, err
		}
		tbl, err := s.resolveTable(ctx, x.txn, n.Table)
		if err != nil {
			return nil, err
		}
		// Range boundaries are primary key values: showing them is reading the table.
		if err := s.checkTable(ctx, x.txn, tbl, privilege.Select); err != nil {
			return nil, err
		}
		start, end := rowenc.TableSpan(tbl.KeyID())
		infos, err := adm.RangesIn(ctx, start, end)
		if err != nil {
			return nil, err
		}
		rows := make([][]types.Datum, 0, len(infos))
		for _, ri := range infos {
			reps := make([]string, len(ri.Replicas))
			for i, r := range ri.Replicas {
				reps[i] = fmt.Sprint(r)
			}
			rows = append(rows, []types.Datum{
				int64(ri.RangeID), rowenc.PrettyKey(tbl, ri.StartKey), rowenc.PrettyKey(tbl, ri.EndKey),
				"{" + strings.Join(reps, ",") + "}", int64(ri.Leaseholder),
				"{" + strings.Join(ri.Localities, ",") + "}", ri.ApproximateBytes,
			})
		}
		return rows, nil
	}}, nil
}
