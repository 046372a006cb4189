package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// indexScan reads a table's rows through a public secondary index: the index entries in the
// spans its key constraint allows, then, unless the entries hold every column of the table
// and no lock is taken, the rows themselves from the primary index, looked up in batches (an
// index join). It emits whole table rows, in index order, laid out as tableScan's, so that
// it can stand in for one (see tableScan.index).
type indexScan struct {
	table *catalog.Table
	index *catalog.Index
	kc    *keyConstraint
	// covering: the entries hold every column (indexed, primary key or stored), so a scan
	// that takes no locks needs no index join.
	covering bool
	// locking is how the rows read are locked (SELECT ... FOR UPDATE / FOR SHARE): the rows
	// of the primary index are, so a locking scan always joins.
	locking kvpb.LockStrength
}

// indexJoinBatch bounds how many rows one batch of an index join looks up.
const indexJoinBatch = 1000

func newIndexScan(tbl *catalog.Table, idx *catalog.Index, kc *keyConstraint) *indexScan {
	held := map[uint32]bool{}
	for _, id := range rowenc.IndexColumnIDs(tbl, idx) {
		held[id] = true
	}
	covering := true
	for _, c := range tbl.Columns {
		covering = covering && held[c.ID]
	}
	return &indexScan{table: tbl, index: idx, kc: kc, covering: covering}
}

// withLocking is the index scan of s, locking as s does.
func (s *tableScan) withLocking() *indexScan {
	ix := *s.index
	ix.locking = s.locking
	return &ix
}

// join reports whether the scan looks its rows up in the primary index.
func (ix *indexScan) join() bool { return !ix.covering || ix.locking != kvpb.LockNone }

// isPoint reports whether every execution reads single entries: a unique index with all its
// columns pinned, whose keys then hold nothing more.
func (ix *indexScan) isPoint() bool {
	return ix.index.Unique && len(ix.kc.eqs) == len(ix.index.ColumnIDs) && ix.kc.lo == nil && ix.kc.hi == nil
}

// explain describes the scan, e.g. "index scan t@t_b_idx: b = 5 (lookup t@t_pkey)".
func (ix *indexScan) explain() string {
	conds := append(append([]string(nil), ix.kc.eqText...), ix.kc.rngText...)
	line := fmt.Sprintf("index scan %s@%s: %s", ix.table.Name, ix.index.Name, strings.Join(conds, " AND "))
	if ix.join() {
		line += fmt.Sprintf(" (lookup %s@%s)", ix.table.Name, ix.table.PrimaryKeyName())
	}
	switch ix.locking {
	case kvpb.LockExclusive:
		line += " (locking FOR UPDATE)"
	case kvpb.LockShared:
		line += " (locking FOR SHARE)"
	}
	return line
}

func (ix *indexScan) keyColumns() keyColumns {
	ords := make([]int, len(ix.index.ColumnIDs))
	for i, id := range ix.index.ColumnIDs {
		ords[i] = ix.table.ColumnOrdinal(id)
	}
	return keyColumns{prefix: rowenc.IndexKeyPrefix(ix.table.KeyID(), ix.index.ID), ords: ords, desc: ix.index.ColumnDesc, nullable: true}
}

// run reads the rows in index order, calling emit for each (fresh slices); emit returns false
// to stop early. pageRows is how many entries to read at a time (0: all at once, or
// indexJoinBatch when joining).
func (ix *indexScan) run(ctx context.Context, t *txn.Txn, ec *evalCtx, pageRows int64, emit func(row []types.Datum) (bool, error)) error {
	spans, err := ix.kc.spans(ec, ix.table, ix.keyColumns(), ix.isPoint())
	if err != nil {
		return err
	}
	if ix.join() && (pageRows == 0 || pageRows > indexJoinBatch) {
		pageRows = indexJoinBatch
	}
	if len(spans) > 0 && spans[0].end == nil {
		// Point lookups of a unique index go out together, in batches.
		for len(spans) > 0 {
			n := min(len(spans), indexJoinBatch)
			b := &txn.Batch{}
			for _, sp := range spans[:n] {
				b.Get(sp.start)
			}
			spans = spans[n:]
			if err := t.Run(ctx, b); err != nil {
				return err
			}
			var kvs [][2][]byte
			for _, r := range b.Results {
				for _, kv := range r.Rows {
					kvs = append(kvs, [2][]byte{kv.Key, kv.Value})
				}
			}
			if more, err := ix.emitEntries(ctx, t, kvs, emit); err != nil || !more {
				return err
			}
		}
		return nil
	}
	for _, sp := range spans {
		start := sp.start
		for start != nil {
			b := &txn.Batch{}
			b.Scan(start, sp.end, pageRows, false)
			if err := t.Run(ctx, b); err != nil {
				return err
			}
			res := b.Results[0]
			kvs := make([][2][]byte, len(res.Rows))
			for i, kv := range res.Rows {
				kvs[i] = [2][]byte{kv.Key, kv.Value}
			}
			if more, err := ix.emitEntries(ctx, t, kvs, emit); err != nil || !more {
				return err
			}
			start = res.ResumeKey
		}
	}
	return nil
}

// emitEntries decodes index entries (key, value) and emits their rows: from the entries
// themselves, or looked up in the primary index. It returns false once emit stops the scan.
func (ix *indexScan) emitEntries(ctx context.Context, t *txn.Txn, kvs [][2][]byte, emit func(row []types.Datum) (bool, error)) (bool, error) {
	tbl := ix.table
	rows := make([][]types.Datum, len(kvs))
	for i, kv := range kvs {
		rows[i] = make([]types.Datum, len(tbl.Columns))
		if err := rowenc.DecodeIndexEntry(tbl, ix.index, kv[0], kv[1], rows[i]); err != nil {
			return false, err
		}
	}
	if ix.join() && len(rows) > 0 {
		b := &txn.Batch{}
		for _, row := range rows {
			pk, err := rowenc.PrimaryKey(tbl, row)
			if err != nil {
				return false, err
			}
			if ix.locking != kvpb.LockNone {
				b.GetLocking(pk, ix.locking)
			} else {
				b.Get(pk)
			}
		}
		if err := t.Run(ctx, b); err != nil {
			return false, err
		}
		for i, r := range b.Results {
			if len(r.Rows) == 0 {
				// The entry and its row were read at one timestamp: they agree, or the
				// index is corrupt.
				return false, pgerror.New(pgerror.CodeInternalError, "index %q of %q has an entry for a missing row", ix.index.Name, tbl.Name)
			}
			kv := r.Rows[0]
			if err := rowenc.DecodeRow(tbl, kv.Key, kv.Value, rows[i]); err != nil {
				return false, err
			}
		}
	}
	for _, row := range rows {
		if more, err := emit(row); err != nil || !more {
			return false, err
		}
	}
	return true, nil
}

// planIndexScan chooses how to read a table for its WHERE clause by estimated cost: the
// primary index (all of it, or the spans its key constraint gives) or a public secondary
// index whose leading columns WHERE constrains. An index's cost is the rows it is expected
// to read, times indexJoinCost when the rows must then be looked up in the primary index.
func (c *compiler) planIndexScan(scan *tableScan, where ast.ExprNode, st *tableStats) error {
	if where == nil {
		return nil
	}
	tbl := scan.table
	rows := float64(defaultTableRows)
	if st != nil {
		rows = float64(st.RowCount)
	}
	bestCost := rows
	if scan.kc != nil {
		bestCost = rows * keySelectivity(tbl, st, tbl.PrimaryKeyOrdinals(), scan.kc, true)
	}
	var best *indexScan
	for i := range tbl.Indexes {
		idx := &tbl.Indexes[i]
		if !idx.Readable() {
			continue
		}
		ords := make([]int, len(idx.ColumnIDs))
		for j, id := range idx.ColumnIDs {
			ords[j] = tbl.ColumnOrdinal(id)
		}
		kc, err := c.constrainColumns(tbl, ords, where)
		if err != nil {
			return err
		}
		if kc == nil {
			continue
		}
		cand := newIndexScan(tbl, idx, kc)
		cost := rows * keySelectivity(tbl, st, ords, kc, idx.Unique)
		if cand.join() {
			cost *= indexJoinCost
		}
		// At equal cost a covering index wins: its spans are never wider than the table's.
		if cost < bestCost || cost == bestCost && !cand.join() {
			best, bestCost = cand, cost
		}
	}
	scan.index = best
	return nil
}

// defaultIndexedDistinct is the number of distinct values assumed for an indexed column
// without statistics.
const defaultIndexedDistinct = 100

// indexJoinCost is how much more a row read through a secondary index costs when it must
// be looked up in the primary index too.
const indexJoinCost = 3

// keySelectivity estimates the fraction of a table's rows within a key constraint on the
// columns ords of an index (unique: a single-column unique index has a distinct value per
// row).
func keySelectivity(tbl *catalog.Table, st *tableStats, ords []int, kc *keyConstraint, unique bool) float64 {
	rows := float64(defaultTableRows)
	if st != nil {
		rows = float64(st.RowCount)
	}
	sel := 1.0
	for i, cands := range kc.eqs {
		// Without statistics an indexed column is taken to be selective: people index the
		// columns they look rows up by.
		d := float64(defaultIndexedDistinct)
		if cs := st.column(tbl.Columns[ords[i]].ID); cs != nil && cs.Distinct > 0 {
			d = float64(cs.Distinct)
		} else if unique && len(ords) == 1 {
			d = rows
		}
		sel *= min(float64(len(cands))/d, 1)
	}
	if unique && len(kc.eqs) == len(ords) && kc.lo == nil && kc.hi == nil {
		sel = min(sel, float64(len(kc.eqs[0]))/max(rows, 1))
	}
	if kc.lo != nil || kc.hi != nil {
		sel *= rangeSelectivity
	}
	return sel
}
