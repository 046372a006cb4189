package sql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Index maintenance. Every statement that writes rows writes their index entries in the same
// batch, so they commit together: an index in WriteOnly or Public state gains the entries of
// the rows written and loses those of the rows deleted or changed; one in DeleteOnly state
// only loses them. An update touches an index only where the row's entry there changes (an
// indexed, stored or primary key column changed).
//
// A unique index's entry is keyed by the indexed values alone (unless one is NULL), so it is
// written with a conditional put: a second row with the same values fails it, in the same
// transaction, with 23505. While such an index is being built (not yet public), an entry at
// a row's key may belong to another row, one written since the build began, whose duplicate
// the backfill has yet to find: the entry is deleted only if it points at the row being
// changed (see readEntryOwners), or the other row would lose its entry.

// indexEntry is a row's entry in one index.
type indexEntry struct {
	key, value []byte
	// conflicts: the key holds the indexed values alone (a unique index, no NULL among
	// them), so another row's entry may sit at it.
	conflicts bool
}

func rowIndexEntry(tbl *catalog.Table, idx *catalog.Index, row []types.Datum) (indexEntry, error) {
	k, v, err := rowenc.IndexEntry(tbl, idx, row)
	if err != nil {
		return indexEntry{}, err
	}
	return indexEntry{key: k, value: v, conflicts: idx.Unique && !rowenc.IndexKeyHasNull(tbl, idx, row)}, nil
}

// putEntry adds the write of a new entry to b: a conditional put where it may conflict.
func putEntry(b *txn.Batch, e indexEntry) {
	if e.conflicts {
		b.PutIfAbsent(e.key, e.value)
	} else {
		b.Put(e.key, e.value)
	}
}

// putIndexEntries adds to b the entries of a new row in every index writers maintain.
func putIndexEntries(b *txn.Batch, tbl *catalog.Table, row []types.Datum) error {
	for i := range tbl.Indexes {
		idx := &tbl.Indexes[i]
		if !idx.Writable() {
			continue
		}
		e, err := rowIndexEntry(tbl, idx, row)
		if err != nil {
			return err
		}
		putEntry(b, e)
	}
	return nil
}

// entryOwners are the entry keys, of unique indexes being built or dropped, that point at
// the rows a statement is about to change (see readEntryOwners); nil when the table has no
// such index.
type entryOwners map[string]bool

// owns reports whether the row whose entry in idx is e may delete or rewrite the entry at
// e's key: always, unless the key is shared (a unique index) and the index is not public.
func (o entryOwners) owns(idx *catalog.Index, e indexEntry) bool {
	return !e.conflicts || idx.Readable() || o[string(e.key)]
}

// readEntryOwners reads, for the rows olds about to be changed or deleted, which of their
// entries in non-public unique indexes exist and point at them. Public indexes need no
// read: each row's entry is there, and only that row has its values.
func readEntryOwners(ctx context.Context, t *txn.Txn, tbl *catalog.Table, olds [][]types.Datum) (entryOwners, error) {
	b := &txn.Batch{}
	var pks [][]byte
	var idxs []*catalog.Index
	for i := range tbl.Indexes {
		idx := &tbl.Indexes[i]
		if !idx.Unique || idx.Readable() {
			continue
		}
		for _, old := range olds {
			e, err := rowIndexEntry(tbl, idx, old)
			if err != nil {
				return nil, err
			}
			if !e.conflicts {
				continue
			}
			pk, err := rowenc.PrimaryKey(tbl, old)
			if err != nil {
				return nil, err
			}
			b.Get(e.key)
			pks, idxs = append(pks, pk), append(idxs, idx)
		}
	}
	owners := entryOwners{}
	if b.Len() == 0 {
		return owners, nil
	}
	if err := t.Run(ctx, b); err != nil {
		return nil, err
	}
	row := make([]types.Datum, len(tbl.Columns))
	for i, r := range b.Results {
		for _, kv := range r.Rows {
			pk, err := entryPrimaryKey(tbl, idxs[i], kv.Key, kv.Value, row)
			if err != nil {
				return nil, err
			}
			if bytes.Equal(pk, pks[i]) {
				owners[string(kv.Key)] = true
			}
		}
	}
	return owners, nil
}

// entryPrimaryKey returns the primary key of the row an index entry points at; row is
// scratch space of len(tbl.Columns).
func entryPrimaryKey(tbl *catalog.Table, idx *catalog.Index, key, value []byte, row []types.Datum) ([]byte, error) {
	if err := rowenc.DecodeIndexEntry(tbl, idx, key, value, row); err != nil {
		return nil, err
	}
	return rowenc.PrimaryKey(tbl, row)
}

// deleteIndexEntries adds to b the deletion of a deleted row's entries, in every index.
func deleteIndexEntries(b *txn.Batch, tbl *catalog.Table, old []types.Datum, owners entryOwners) error {
	for i := range tbl.Indexes {
		idx := &tbl.Indexes[i]
		e, err := rowIndexEntry(tbl, idx, old)
		if err != nil {
			return err
		}
		if owners.owns(idx, e) {
			b.Del(e.key)
		}
	}
	return nil
}

// updateIndexEntries adds to b what changing row old into row updated does to its entries:
// nothing in an index where the entry stays the same, a new value where only that changes,
// else the deletion of the old entry and (unless the index is delete-only) the new one.
func updateIndexEntries(b *txn.Batch, tbl *catalog.Table, old, updated []types.Datum, owners entryOwners) error {
	for i := range tbl.Indexes {
		idx := &tbl.Indexes[i]
		oe, err := rowIndexEntry(tbl, idx, old)
		if err != nil {
			return err
		}
		if !idx.Writable() {
			if owners.owns(idx, oe) {
				b.Del(oe.key)
			}
			continue
		}
		ne, err := rowIndexEntry(tbl, idx, updated)
		if err != nil {
			return err
		}
		owned := owners.owns(idx, oe)
		if bytes.Equal(oe.key, ne.key) {
			if owned && !bytes.Equal(oe.value, ne.value) {
				b.Put(ne.key, ne.value)
			}
			continue
		}
		if owned {
			b.Del(oe.key)
		}
		putEntry(b, ne)
	}
	return nil
}

// deleteRowsIndexEntries adds to b the deletion of the entries of rows deleted by one
// statement.
func deleteRowsIndexEntries(ctx context.Context, t *txn.Txn, b *txn.Batch, tbl *catalog.Table, rows [][]types.Datum) error {
	if len(tbl.Indexes) == 0 {
		return nil
	}
	owners, err := readEntryOwners(ctx, t, tbl, rows)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := deleteIndexEntries(b, tbl, row, owners); err != nil {
			return err
		}
	}
	return nil
}

// uniqueViolation turns a failed uniqueness check into PostgreSQL's 23505, naming the
// constraint (the primary key or a unique index) by the key the check failed on, and the
// duplicate values in DETAIL, as PostgreSQL does.
func uniqueViolation(err error, tbl *catalog.Table) error {
	var cfe *mvcc.ConditionFailedError
	if !errors.As(err, &cfe) {
		return err
	}
	name, cols, vals := tbl.PrimaryKeyName(), []string(nil), []string(nil)
	if id, indexID, enc, ok := rowenc.DecodeTableKey(cfe.Key); ok && id == tbl.KeyID() {
		if indexID == rowenc.PrimaryIndexID {
			if pk, err := rowenc.DecodePrimaryKey(tbl, enc); err == nil {
				cols, vals = describeValues(tbl, tbl.PrimaryKey, pk)
			}
		} else if idx := tbl.IndexByID(indexID); idx != nil {
			name = idx.Name
			if ids, v, err := rowenc.DecodeIndexKey(tbl, idx, enc); err == nil && len(v) >= len(idx.ColumnIDs) {
				n := len(idx.ColumnIDs)
				cols, vals = describeValues(tbl, ids[:n], v[:n])
			}
		}
	}
	e := pgerror.New(pgerror.CodeUniqueViolation, "duplicate key value violates unique constraint %q", name)
	if cols != nil {
		e = e.WithDetail(fmt.Sprintf("Key (%s)=(%s) already exists.", strings.Join(cols, ", "), strings.Join(vals, ", ")))
	}
	return violation(e, tbl, "", name)
}

// violation names, on an integrity violation, the table (with its schema when it is public,
// the only one named without a lookup), column and constraint it is about, as PostgreSQL's
// ErrorResponse does: drivers expose them (pgx's PgError.ConstraintName, psycopg2's
// diag.constraint_name, JDBC's ServerErrorMessage.getConstraint).
func violation(e *pgerror.Error, tbl *catalog.Table, column, constraint string) *pgerror.Error {
	schema := ""
	if tbl.ParentSchemaID() == catalog.PublicSchemaID {
		schema = "public"
	}
	return e.WithObject(schema, tbl.Name, column, constraint)
}

// describeValues names the columns ids and renders their values vals as PostgreSQL's error
// details do.
func describeValues(tbl *catalog.Table, ids []uint32, vals []types.Datum) (cols, texts []string) {
	for i, id := range ids {
		if i >= len(vals) {
			break
		}
		col := tbl.Columns[tbl.ColumnOrdinal(id)]
		text := "null"
		if vals[i] != nil {
			text = string(types.AppendText(nil, col.Type, vals[i]))
		}
		cols, texts = append(cols, col.Name), append(texts, text)
	}
	return cols, texts
}
