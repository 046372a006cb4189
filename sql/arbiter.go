package sql

import (
	"context"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// arbiter is a unique constraint an INSERT ... ON CONFLICT (or UPSERT) checks its proposed
// rows against, as PostgreSQL's arbiter indexes: the primary key (index nil) or a public
// unique index.
type arbiter struct {
	index *catalog.Index
}

// conflictArbiters chooses the arbiters of an INSERT in mode with ON CONFLICT clause oc:
// UPSERT's is the primary key (as in CockroachDB); ON CONFLICT (cols) takes the unique
// constraints over exactly those columns, ON CONFLICT ON CONSTRAINT the one named, and
// ON CONFLICT DO NOTHING without either every unique constraint.
func conflictArbiters(tbl *catalog.Table, oc *pgdialect.OnConflict, mode conflictMode) ([]arbiter, error) {
	switch {
	case mode == conflictError:
		return nil, nil
	case mode == conflictUpsert:
		return []arbiter{{}}, nil
	case oc != nil && oc.Constraint != "":
		if oc.Constraint == tbl.PrimaryKeyName() {
			return []arbiter{{}}, nil
		}
		if idx := tbl.IndexByName(oc.Constraint); idx != nil && idx.Unique && idx.Constraint && idx.Readable() {
			return []arbiter{{index: idx}}, nil
		}
		return nil, pgerror.New(pgerror.CodeUndefinedObject, "constraint %q for table %q does not exist", oc.Constraint, tbl.Name)
	case oc != nil && len(oc.Columns) > 0:
		var out []arbiter
		if sameColumns(oc.Columns, tbl.PrimaryKeyColumnNames()) {
			out = append(out, arbiter{})
		}
		for i := range tbl.Indexes {
			idx := &tbl.Indexes[i]
			if idx.Unique && idx.Readable() && sameColumns(oc.Columns, columnNames(tbl, idx.ColumnIDs)) {
				out = append(out, arbiter{index: idx})
			}
		}
		if out == nil {
			return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
		}
		return out, nil
	}
	out := []arbiter{{}}
	for i := range tbl.Indexes {
		if idx := &tbl.Indexes[i]; idx.Unique && idx.Readable() {
			out = append(out, arbiter{index: idx})
		}
	}
	return out, nil
}

func columnNames(tbl *catalog.Table, ids []uint32) []string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = tbl.Columns[tbl.ColumnOrdinal(id)].Name
	}
	return names
}

// key is row's key in the arbiter's constraint: its primary key, or its unique index entry's
// key; nil when the row cannot conflict there (a NULL in the index's columns).
func (a arbiter) key(tbl *catalog.Table, row []types.Datum) ([]byte, error) {
	if a.index == nil {
		return rowenc.PrimaryKey(tbl, row)
	}
	e, err := rowIndexEntry(tbl, a.index, row)
	if err != nil || !e.conflicts {
		return nil, err
	}
	return e.key, nil
}

// arbiterSlot is what the statement knows about one arbiter key: the row holding it (nil
// once a row of the statement moved off it), and whether the statement wrote that row.
type arbiterSlot struct {
	row     []types.Datum
	touched bool
}

// writeWithConflicts adds to b the writes of an INSERT ... ON CONFLICT or UPSERT: each
// proposed row is inserted, unless it conflicts in an arbiter with a row, which DO NOTHING
// leaves alone and DO UPDATE and UPSERT update. The rows the proposed ones may conflict with
// are read in two batched rounds (arbiter keys, then the rows unique index entries point
// at); what the statement itself writes is tracked as it goes, so a later proposed row sees
// the earlier ones. It returns the rows inserted or updated.
func (p *insertPlan) writeWithConflicts(ctx context.Context, x *execCtx, b *txn.Batch, rows [][]types.Datum) ([][]types.Datum, []rowChange, error) {
	tbl := p.table
	keys := make([][][]byte, len(rows)) // keys[i][j]: proposed row i's key in arbiter j
	rb := &txn.Batch{}
	var asked [][]byte
	seen := map[string]bool{}
	for i, row := range rows {
		keys[i] = make([][]byte, len(p.arbiters))
		for j, a := range p.arbiters {
			k, err := a.key(tbl, row)
			if err != nil {
				return nil, nil, err
			}
			keys[i][j] = k
			if k != nil && !seen[string(k)] {
				seen[string(k)] = true
				rb.Get(k)
				asked = append(asked, k)
			}
		}
	}
	if err := x.txn.Run(ctx, rb); err != nil {
		return nil, nil, err
	}
	// Unique index entries point at rows, which a second round reads.
	existing := map[string][]types.Datum{}
	rowKeys := map[string][]string{} // primary key → the arbiter keys it was found under
	lb := &txn.Batch{}
	scratch := make([]types.Datum, len(tbl.Columns))
	for i, r := range rb.Results {
		for _, kv := range r.Rows {
			_, indexID, _, _ := rowenc.DecodeTableKey(kv.Key)
			if indexID == rowenc.PrimaryIndexID {
				row := make([]types.Datum, len(tbl.Columns))
				if err := rowenc.DecodeRow(tbl, kv.Key, kv.Value, row); err != nil {
					return nil, nil, err
				}
				existing[string(asked[i])] = row
				continue
			}
			idx := tbl.IndexByID(indexID)
			if idx == nil {
				continue
			}
			pk, err := entryPrimaryKey(tbl, idx, kv.Key, kv.Value, scratch)
			if err != nil {
				return nil, nil, err
			}
			if rowKeys[string(pk)] == nil {
				lb.Get(pk)
			}
			rowKeys[string(pk)] = append(rowKeys[string(pk)], string(asked[i]))
		}
	}
	if lb.Len() > 0 {
		if err := x.txn.Run(ctx, lb); err != nil {
			return nil, nil, err
		}
		for _, r := range lb.Results {
			for _, kv := range r.Rows {
				row := make([]types.Datum, len(tbl.Columns))
				if err := rowenc.DecodeRow(tbl, kv.Key, kv.Value, row); err != nil {
					return nil, nil, err
				}
				for _, k := range rowKeys[string(kv.Key)] {
					existing[k] = row
				}
			}
		}
	}
	var conflicting [][]types.Datum
	for _, row := range existing {
		conflicting = append(conflicting, row)
	}
	owners, err := readEntryOwners(ctx, x.txn, tbl, conflicting)
	if err != nil {
		return nil, nil, err
	}

	slots := map[string]arbiterSlot{}
	lookup := func(k []byte) arbiterSlot {
		if s, ok := slots[string(k)]; ok {
			return s
		}
		return arbiterSlot{row: existing[string(k)]}
	}
	// record notes that row now holds its arbiter keys, and old (if any) no longer its own.
	record := func(old, row []types.Datum) error {
		if old != nil {
			for _, a := range p.arbiters {
				k, err := a.key(tbl, old)
				if err != nil {
					return err
				}
				if k != nil {
					slots[string(k)] = arbiterSlot{}
				}
			}
		}
		for _, a := range p.arbiters {
			k, err := a.key(tbl, row)
			if err != nil {
				return err
			}
			if k != nil {
				slots[string(k)] = arbiterSlot{row: row, touched: true}
			}
		}
		return nil
	}
	var changed [][]types.Datum
	var changes []rowChange
	for i, proposed := range rows {
		var found arbiterSlot
		for _, k := range keys[i] {
			if k == nil {
				continue
			}
			if s := lookup(k); s.row != nil {
				found = s
				break
			}
		}
		if found.row == nil {
			if err := p.cons.checkRow(x.ec, proposed); err != nil {
				return nil, nil, err
			}
			k, v, err := rowenc.EncodeRow(tbl, proposed)
			if err != nil {
				return nil, nil, err
			}
			b.PutIfAbsent(k, v)
			if err := putIndexEntries(b, tbl, proposed); err != nil {
				return nil, nil, err
			}
			if err := record(nil, proposed); err != nil {
				return nil, nil, err
			}
			changed = append(changed, proposed)
			changes = append(changes, rowChange{new: proposed})
			continue
		}
		if p.mode == conflictDoNothing {
			continue
		}
		if found.touched {
			return nil, nil, pgerror.New("21000", "ON CONFLICT DO UPDATE command cannot affect row a second time").
				WithHint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
		}
		old := found.row
		updated := append([]types.Datum(nil), old...)
		switch p.mode {
		case conflictUpsert:
			for _, ord := range p.targets {
				updated[ord] = proposed[ord]
			}
		case conflictDoUpdate:
			in := append(append([]types.Datum(nil), old...), proposed...)
			for _, a := range p.updates {
				v, err := a.expr.eval(x.ec, in)
				if err != nil {
					return nil, nil, err
				}
				if updated[a.ord], err = assign(tbl, a.ord, a.expr, v, x.ec.settings()); err != nil {
					return nil, nil, err
				}
			}
		}
		if err := p.cons.checkRow(x.ec, updated); err != nil {
			return nil, nil, err
		}
		oldKey, err := rowenc.PrimaryKey(tbl, old)
		if err != nil {
			return nil, nil, err
		}
		if err := writeUpdatedRow(b, tbl, oldKey, updated); err != nil {
			return nil, nil, err
		}
		if err := updateIndexEntries(b, tbl, old, updated, owners); err != nil {
			return nil, nil, err
		}
		if err := record(old, updated); err != nil {
			return nil, nil, err
		}
		changed = append(changed, updated)
		changes = append(changes, rowChange{old: old, new: updated})
	}
	return changed, changes, nil
}
