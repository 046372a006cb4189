package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// ALTER TABLE ... ADD [CONSTRAINT name] PRIMARY KEY (columns) gives a primary key to a table
// created without one, whose rows are keyed by a hidden row ID (as pgbench -i does: it adds
// its tables' keys after loading them). The statement's transaction reads every row, checks
// the new key columns for NULLs (23502) and duplicates (23505), deletes the table's keys
// (its rows and its secondary indexes' entries, whose entries end with the primary key) and
// writes them again under the new key; the hidden row ID column goes. The descriptor commits
// with the rewritten rows, as every ALTER TABLE's does, so readers see the table keyed one
// way or the other, never both. The rows are held in memory while they are rewritten,
// within statement_memory_limit.

// addPrimaryKey applies ADD PRIMARY KEY to nt, the copy of the table's descriptor that the
// ALTER TABLE edits, and rewrites the rows. It must be the statement's only action.
func (s *Session) addPrimaryKey(ctx context.Context, x *execCtx, nt *catalog.Table, c *ast.Constraint, a *alteration, actions int) error {
	if len(nt.PrimaryKey) != 1 || !nt.Columns[nt.ColumnOrdinal(nt.PrimaryKey[0])].Hidden {
		return pgerror.New(pgerror.CodeInvalidTableDefinition, "multiple primary keys for table %q are not allowed", nt.Name)
	}
	if actions > 1 {
		return pgerror.Unsupported("ADD PRIMARY KEY together with other actions in one ALTER TABLE")
	}
	for _, idx := range nt.Indexes {
		if idx.State != catalog.IndexPublic {
			return pgerror.New(pgerror.CodeObjectNotInPrereqState, "index %q of table %q is being built or dropped", idx.Name, nt.Name).
				WithHint("Add the primary key once the index change is done.")
		}
	}
	var ids []uint32
	var desc []bool
	for _, k := range c.Keys {
		if k.Expr != nil || k.Column == nil {
			return pgerror.Unsupported("expressions in a primary key")
		}
		name := k.Column.Name.O
		col, _, ok := visibleColumn(nt, name)
		if !ok {
			return pgerror.New(pgerror.CodeUndefinedColumn, "column %q named in key does not exist", name)
		}
		if slices.Contains(ids, col.ID) {
			return pgerror.New(pgerror.CodeDuplicateColumn, "column %q appears twice in primary key constraint", name)
		}
		if !rowenc.KeyEncodable(col.Type) {
			return pgerror.New(pgerror.CodeFeatureNotSupported, "column %q of type %s cannot be part of a primary key", name, col.Type.String())
		}
		ids = append(ids, col.ID)
		desc = append(desc, k.Desc)
	}
	rowID := nt.PrimaryKey[0]
	nt.PrimaryKey, nt.PrimaryKeyDesc = ids, desc
	for _, id := range ids {
		nt.Columns[nt.ColumnOrdinal(id)].Nullable = false
	}
	nt.Columns = slices.DeleteFunc(nt.Columns, func(c catalog.Column) bool { return c.ID == rowID })
	if err := nt.Validate(); err != nil {
		return pgerror.New(pgerror.CodeInvalidTableDefinition, "%v", err)
	}
	return rekeyRows(ctx, x, a.original, nt)
}

// rekeyRows rewrites the rows of old, and its indexes' entries, under nt's primary key: it
// reads every row, then deletes the old keys and writes the new ones, page by page, so that
// no single write batch (and Raft command) grows with the table.
func rekeyRows(ctx context.Context, x *execCtx, old, nt *catalog.Table) error {
	var olds, rows [][]types.Datum
	seen := map[string]bool{}
	pkName := nt.PrimaryKeyName()
	start, end := rowenc.PrimarySpan(old.KeyID())
	err := scanRows(ctx, x.txn, old, start, end, func(oldRow []types.Datum) error {
		row := make([]types.Datum, len(nt.Columns))
		for i, c := range nt.Columns {
			row[i] = oldRow[old.ColumnOrdinal(c.ID)]
		}
		for _, o := range nt.PrimaryKeyOrdinals() {
			if row[o] == nil {
				return pgerror.New(pgerror.CodeNotNullViolation, "column %q of relation %q contains null values", nt.Columns[o].Name, nt.Name)
			}
		}
		k, err := rowenc.PrimaryKey(nt, row)
		if err != nil {
			return err
		}
		if seen[string(k)] {
			cols, vals := describeValues(nt, nt.PrimaryKey, primaryKeyValues(nt, row))
			return pgerror.New(pgerror.CodeUniqueViolation, "could not create unique index %q", pkName).
				WithDetail(fmt.Sprintf("Key (%s)=(%s) is duplicated.", strings.Join(cols, ", "), strings.Join(vals, ", ")))
		}
		seen[string(k)] = true
		if err := x.mem.grow(int64(len(k)) + rowSize(row) + rowSize(oldRow)); err != nil {
			return err
		}
		olds = append(olds, oldRow)
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return err
	}
	b := &txn.Batch{}
	flush := func(force bool) error {
		if b.Len() == 0 || !force && b.Len() < scanPageSize {
			return nil
		}
		err := x.txn.Run(ctx, b)
		b = &txn.Batch{}
		return err
	}
	// Every old key goes before any new one is written: a new key may equal an old one. The
	// rows go by ranged deletes of a page of them each (the scan met them in key order).
	for n := 0; n < len(olds); n += scanPageSize {
		from, err := rowenc.PrimaryKey(old, olds[n])
		if err != nil {
			return err
		}
		to := end
		if n+scanPageSize < len(olds) {
			if to, err = rowenc.PrimaryKey(old, olds[n+scanPageSize]); err != nil {
				return err
			}
		}
		b.DelRange(from, to)
		if err := flush(true); err != nil {
			return err
		}
	}
	for _, oldRow := range olds {
		for i := range old.Indexes {
			e, err := rowIndexEntry(old, &old.Indexes[i], oldRow)
			if err != nil {
				return err
			}
			b.Del(e.key)
		}
		if err := flush(false); err != nil {
			return err
		}
	}
	if err := flush(true); err != nil {
		return err
	}
	for _, row := range rows {
		k, v, err := rowenc.EncodeRow(nt, row)
		if err != nil {
			return err
		}
		b.Put(k, v)
		if err := putIndexEntries(b, nt, row); err != nil {
			return err
		}
		if err := flush(false); err != nil {
			return err
		}
	}
	return flush(true)
}

func primaryKeyValues(t *catalog.Table, row []types.Datum) []types.Datum {
	var out []types.Datum
	for _, o := range t.PrimaryKeyOrdinals() {
		out = append(out, row[o])
	}
	return out
}
