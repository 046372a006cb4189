package catalog

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/txn"
)

// IndexState is where a secondary index stands in an online schema change. An index is added
// DeleteOnly, then made WriteOnly, backfilled and made Public; it is dropped the opposite way.
// Each step is a schema change of its own (it bumps the schema version), so that every
// transaction works with exactly one state of the index: see docs/decisions.md, "Secondary
// indexes and their online backfill".
type IndexState uint8

// The index states. The zero value is no state, so that a descriptor written without one
// fails validation instead of reading as a public index.
const (
	// IndexDeleteOnly: writers delete the entries of rows they delete or change, and add
	// none; nothing reads the index.
	IndexDeleteOnly IndexState = iota + 1
	// IndexWriteOnly: writers maintain the index's entries (and check its uniqueness); nothing
	// reads it, since it may not yet (or no longer) hold an entry for every row.
	IndexWriteOnly
	// IndexPublic: the index holds an entry for every row; queries may read it.
	IndexPublic
)

func (s IndexState) String() string {
	switch s {
	case IndexDeleteOnly:
		return "DELETE_ONLY"
	case IndexWriteOnly:
		return "WRITE_ONLY"
	case IndexPublic:
		return "PUBLIC"
	}
	return fmt.Sprintf("IndexState(%d)", uint8(s))
}

// FirstSecondaryIndexID is the ID of a table's first secondary index; 1 is the primary
// index's (rowenc.PrimaryIndexID).
const FirstSecondaryIndexID = 2

// Index is a secondary index of a table. Its entries are keyed by the indexed columns, then
// by the primary key columns the index does not hold already (see package rowenc), so they
// point back at their rows.
type Index struct {
	// ID is the index's key space within its table; IDs are never reused.
	ID   uint32
	Name string
	// ColumnIDs are the indexed columns, in key order; ColumnDesc says which are stored
	// descending.
	ColumnIDs  []uint32
	ColumnDesc []bool
	// Unique indexes admit one row per value of their columns; NULLs never conflict.
	Unique bool `json:",omitempty"`
	// StoredColumnIDs are columns the index carries in its entries' values without
	// ordering by them (INCLUDE, CockroachDB's STORING), so that a query that needs only
	// them, the indexed and the primary key columns need not read the rows.
	StoredColumnIDs []uint32 `json:",omitempty"`
	// Constraint marks the index of a UNIQUE constraint (declared in CREATE TABLE or by
	// ALTER TABLE ADD CONSTRAINT): as in PostgreSQL, it goes with the constraint, by
	// ALTER TABLE DROP CONSTRAINT, not by DROP INDEX.
	Constraint bool `json:",omitempty"`
	State      IndexState
}

// Readable reports whether queries may read the index.
func (idx *Index) Readable() bool { return idx.State == IndexPublic }

// Writable reports whether writers add entries to the index (and check its uniqueness).
func (idx *Index) Writable() bool { return idx.State == IndexWriteOnly || idx.State == IndexPublic }

// HasKeyColumn reports whether the column with this ID is one of the index's key columns.
func (idx *Index) HasKeyColumn(id uint32) bool {
	for _, c := range idx.ColumnIDs {
		if c == id {
			return true
		}
	}
	return false
}

// IndexByName returns the table's secondary index named name, in any state, or nil.
func (t *Table) IndexByName(name string) *Index {
	for i := range t.Indexes {
		if t.Indexes[i].Name == name {
			return &t.Indexes[i]
		}
	}
	return nil
}

// IndexByID returns the table's secondary index with this ID, in any state, or nil.
func (t *Table) IndexByID(id uint32) *Index {
	for i := range t.Indexes {
		if t.Indexes[i].ID == id {
			return &t.Indexes[i]
		}
	}
	return nil
}

// KeySuffixColumns returns the primary key columns (IDs, and whether each is descending)
// that follow idx's own columns in its keys: those idx does not index itself.
func (t *Table) KeySuffixColumns(idx *Index) (ids []uint32, desc []bool) {
	for i, id := range t.PrimaryKey {
		if !idx.HasKeyColumn(id) {
			ids = append(ids, id)
			desc = append(desc, t.PrimaryKeyDesc[i])
		}
	}
	return ids, desc
}

// AllocateIndexID returns the ID for a new secondary index of t and advances t's counter.
func (t *Table) AllocateIndexID() uint32 {
	if t.NextIndexID < FirstSecondaryIndexID {
		t.NextIndexID = FirstSecondaryIndexID
	}
	id := t.NextIndexID
	t.NextIndexID++
	return id
}

// RemoveIndex removes the secondary index with this ID from t's descriptor.
func (t *Table) RemoveIndex(id uint32) {
	out := t.Indexes[:0:0]
	for _, idx := range t.Indexes {
		if idx.ID != id {
			out = append(out, idx)
		}
	}
	t.Indexes = out
}

// validateIndexes checks the secondary indexes of a table descriptor.
func (t *Table) validateIndexes() error {
	names := map[string]bool{t.PrimaryKeyName(): true}
	ids := map[uint32]bool{}
	for i := range t.Indexes {
		idx := &t.Indexes[i]
		switch {
		case idx.Name == "":
			return fmt.Errorf("index %d of %q has no name", idx.ID, t.Name)
		case names[idx.Name]:
			return fmt.Errorf("index name %q is used twice in table %q", idx.Name, t.Name)
		case idx.ID < FirstSecondaryIndexID || ids[idx.ID] || (t.NextIndexID != 0 && idx.ID >= t.NextIndexID):
			return fmt.Errorf("index %q of %q has invalid ID %d", idx.Name, t.Name, idx.ID)
		case idx.State < IndexDeleteOnly || idx.State > IndexPublic:
			return fmt.Errorf("index %q of %q has invalid state %d", idx.Name, t.Name, idx.State)
		case len(idx.ColumnIDs) == 0 || len(idx.ColumnIDs) != len(idx.ColumnDesc):
			return fmt.Errorf("index %q of %q has %d columns and %d directions", idx.Name, t.Name, len(idx.ColumnIDs), len(idx.ColumnDesc))
		}
		names[idx.Name], ids[idx.ID] = true, true
		seen := map[uint32]bool{}
		for _, id := range append(append([]uint32(nil), idx.ColumnIDs...), idx.StoredColumnIDs...) {
			if t.ColumnOrdinal(id) < 0 {
				return fmt.Errorf("index %q of %q names column %d, which does not exist", idx.Name, t.Name, id)
			}
			if seen[id] {
				return fmt.Errorf("index %q of %q names column %d twice", idx.Name, t.Name, id)
			}
			seen[id] = true
		}
	}
	return nil
}

// Index names share their database's relation namespace with tables, as in PostgreSQL: an
// index is found by name alone (DROP INDEX name), and no index may be named like a table.
// The primary key's index, <table>_pkey, takes its name there too. The key layout:
//
//	'i' parentID(4) name → table ID(4)
var indexNamePrefix = append(append([]byte(nil), keys.SystemPrefix...), 'i')

func indexNameKey(db, schema uint32, name string) []byte {
	k := binary.BigEndian.AppendUint32(append([]byte(nil), indexNamePrefix...), db)
	k = binary.BigEndian.AppendUint32(k, schema)
	return append(k, name...)
}

// LookupIndexTable returns the ID of the table of database dbID that has an index named
// name; ok is false when there is none. It reads in t (indexes are not cached).
func (c *Catalog) LookupIndexTable(ctx context.Context, t *txn.Txn, dbID, schemaID uint32, name string) (tableID uint32, ok bool, err error) {
	var b txn.Batch
	b.Get(indexNameKey(dbID, schemaID, name))
	if err := t.Run(ctx, &b); err != nil {
		return 0, false, err
	}
	rows := b.Results[0].Rows
	if len(rows) == 0 {
		return 0, false, nil
	}
	return binary.BigEndian.Uint32(rows[0].Value), true, nil
}

// RelationNameTaken reports whether a table or an index of database dbID is named name.
func (c *Catalog) RelationNameTaken(ctx context.Context, t *txn.Txn, dbID, schemaID uint32, name string) (bool, error) {
	var b txn.Batch
	b.Get(namespaceKey(dbID, schemaID, name))
	b.Get(indexNameKey(dbID, schemaID, name))
	if err := t.Run(ctx, &b); err != nil {
		return false, err
	}
	return len(b.Results[0].Rows) > 0 || len(b.Results[1].Rows) > 0, nil
}

// indexNames lists the names a table holds in the index namespace: its primary key's and
// its secondary indexes'.
func indexNames(tbl *Table) []string {
	names := []string{tbl.PrimaryKeyName()}
	for _, idx := range tbl.Indexes {
		names = append(names, idx.Name)
	}
	return names
}

// claimIndexNames checks that none of a new table's index names is taken by a relation and
// adds them to b.
func (c *Catalog) claimIndexNames(ctx context.Context, t *txn.Txn, tbl *Table, b *txn.Batch) error {
	if _, ok, err := c.LookupIndexTable(ctx, t, tbl.DatabaseID, tbl.ParentSchemaID(), tbl.Name); err != nil {
		return err
	} else if ok {
		return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", tbl.Name)
	}
	for _, name := range indexNames(tbl) {
		if name == tbl.Name {
			return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", name)
		}
		taken, err := c.RelationNameTaken(ctx, t, tbl.DatabaseID, tbl.ParentSchemaID(), name)
		if err != nil {
			return err
		}
		if taken {
			return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", name)
		}
		b.Put(indexNameKey(tbl.DatabaseID, tbl.ParentSchemaID(), name), binary.BigEndian.AppendUint32(nil, tbl.ID))
	}
	return nil
}

// releaseIndexNames adds to b the deletion of a dropped table's index names.
func releaseIndexNames(tbl *Table, b *txn.Batch) {
	for _, name := range indexNames(tbl) {
		b.Del(indexNameKey(tbl.DatabaseID, tbl.ParentSchemaID(), name))
	}
}

// WriteIndexChange stores tbl, whose secondary indexes changed, within t: a schema change.
// added are the names of indexes tbl gained, which must be free in the relation namespace
// (or among removed); removed are the names of those it lost.
func (c *Catalog) WriteIndexChange(ctx context.Context, t *txn.Txn, tbl *Table, added, removed []string) error {
	if err := tbl.Validate(); err != nil {
		return pgerror.New(pgerror.CodeInvalidTableDefinition, "%v", err)
	}
	var b txn.Batch
	freed := map[string]bool{}
	for _, name := range removed {
		b.Del(indexNameKey(tbl.DatabaseID, tbl.ParentSchemaID(), name))
		freed[name] = true
	}
	for _, name := range added {
		if freed[name] {
			b.Put(indexNameKey(tbl.DatabaseID, tbl.ParentSchemaID(), name), binary.BigEndian.AppendUint32(nil, tbl.ID))
			continue
		}
		taken, err := c.RelationNameTaken(ctx, t, tbl.DatabaseID, tbl.ParentSchemaID(), name)
		if err != nil {
			return err
		}
		if taken {
			return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", name)
		}
		b.Put(indexNameKey(tbl.DatabaseID, tbl.ParentSchemaID(), name), binary.BigEndian.AppendUint32(nil, tbl.ID))
	}
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	tbl.Version++
	if err := putDescriptor(&b, tbl.ID, descriptor{Table: tbl}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// prettyIndexName renders a key of the index namespace; ok is false for any other key.
func prettyIndexName(key []byte) (string, bool) {
	if len(key) < len(indexNamePrefix)+4 || !strings.HasPrefix(string(key), string(indexNamePrefix)) {
		return "", false
	}
	rest := key[len(indexNamePrefix):]
	return fmt.Sprintf("/System/index-name/%d/%q", binary.BigEndian.Uint32(rest), rest[4:]), true
}
