package catalog

import (
	"fmt"
	"strings"

	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
)

// Column is one column of a table.
type Column struct {
	ID       uint32
	Name     string
	Type     types.T
	Nullable bool
	// Default is the DEFAULT expression as normalized SQL text, "" for none (NULL).
	Default string
	// Hidden columns (the implicit rowid) are not part of SELECT * or INSERT without a list.
	Hidden bool
	// Identity is IdentityAlways or IdentityByDefault for a GENERATED … AS IDENTITY column,
	// whose default draws from the sequence the table owns for it.
	Identity string `json:",omitempty"`
}

// Table describes a table: its columns and primary key.
type Table struct {
	ID         uint32
	DatabaseID uint32
	Name       string
	Columns    []Column
	// PrimaryKey lists the primary key's column IDs in key order; PrimaryKeyDesc says which
	// are stored descending.
	PrimaryKey     []uint32
	PrimaryKeyDesc []bool
	NextColumnID   uint32
	Version        uint64
	// ACL is the table's owner and grants; nil (a table made before privileges existed)
	// means owned by root, with no grants.
	ACL *privilege.ACL `json:",omitempty"`
	// SchemaID is the schema holding the table; 0 (a table made before schemas) means
	// public. See ParentSchemaID.
	SchemaID uint32 `json:",omitempty"`
	// Checks, ForeignKeys (this table's references to others) and ReferencedBy (other
	// tables' references to this one) are its constraints besides the primary key; see
	// constraints.go.
	Checks       []CheckConstraint `json:",omitempty"`
	ForeignKeys  []ForeignKey      `json:",omitempty"`
	ReferencedBy []ForeignKeyRef   `json:",omitempty"`
	// OwnedSequences are the sequences of its SERIAL and identity columns, dropped with it.
	OwnedSequences []OwnedSequence `json:",omitempty"`
	// Indexes are the table's secondary indexes, public or on their way in or out (see
	// Index.State); NextIndexID is the ID the next one takes (see AllocateIndexID).
	Indexes     []Index `json:",omitempty"`
	NextIndexID uint32  `json:",omitempty"`
	// DataID, when set, is the ID whose key space holds the table's rows and index entries
	// instead of ID's: TRUNCATE gives the table a fresh, empty key space this way, so that
	// emptying it is one descriptor write rather than a tombstone per row (see KeyID).
	DataID uint32 `json:",omitempty"`
}

// KeyID is the ID that prefixes the keys of the table's data (rowenc.TableSpan).
func (t *Table) KeyID() uint32 {
	if t.DataID != 0 {
		return t.DataID
	}
	return t.ID
}

// Privileges returns the table's access control list.
func (t *Table) Privileges() privilege.ACL {
	if t.ACL == nil {
		return privilege.ACL{Owner: privilege.Root}
	}
	return *t.ACL
}

// Database describes a database.
type Database struct {
	ID   uint32
	Name string
	// ACL is the database's owner and grants; nil (a database made before privileges
	// existed) means DefaultDatabaseACL(root).
	ACL *privilege.ACL `json:",omitempty"`
}

// DefaultDatabaseACL is a new database's: its owner's, and CONNECT for public, as in
// PostgreSQL.
func DefaultDatabaseACL(owner string) privilege.ACL {
	return privilege.ACL{Owner: owner, Grants: []privilege.Grant{{Grantee: privilege.Public, Kinds: privilege.Connect}}}
}

// Privileges returns the database's access control list.
func (d *Database) Privileges() privilege.ACL {
	if d.ACL == nil {
		return DefaultDatabaseACL(privilege.Root)
	}
	return *d.ACL
}

// descriptor is the stored form: exactly one field is set.
type descriptor struct {
	Database *Database `json:",omitempty"`
	Table    *Table    `json:",omitempty"`
	Schema   *Schema   `json:",omitempty"`
	Sequence *Sequence `json:",omitempty"`
	View     *View     `json:",omitempty"`
}

// ColumnByName returns the column named name (case-sensitive, as stored) and its ordinal.
func (t *Table) ColumnByName(name string) (*Column, int, bool) {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i], i, true
		}
	}
	return nil, -1, false
}

// ColumnOrdinal returns the position of the column with the given ID.
func (t *Table) ColumnOrdinal(id uint32) int {
	for i := range t.Columns {
		if t.Columns[i].ID == id {
			return i
		}
	}
	return -1
}

// PrimaryKeyOrdinals returns the positions of the primary key columns.
func (t *Table) PrimaryKeyOrdinals() []int {
	out := make([]int, len(t.PrimaryKey))
	for i, id := range t.PrimaryKey {
		out[i] = t.ColumnOrdinal(id)
	}
	return out
}

// IsPrimaryKeyColumn reports whether the column with this ID is part of the primary key.
func (t *Table) IsPrimaryKeyColumn(id uint32) bool {
	for _, pk := range t.PrimaryKey {
		if pk == id {
			return true
		}
	}
	return false
}

// PrimaryKeyName is the primary key constraint's name, as PostgreSQL would name it.
func (t *Table) PrimaryKeyName() string { return t.Name + "_pkey" }

// PrimaryKeyColumnNames lists the primary key columns' names.
func (t *Table) PrimaryKeyColumnNames() []string {
	var names []string
	for _, o := range t.PrimaryKeyOrdinals() {
		names = append(names, t.Columns[o].Name)
	}
	return names
}

// Validate checks a table descriptor's internal consistency.
func (t *Table) Validate() error {
	seen := map[string]bool{}
	for _, c := range t.Columns {
		if seen[c.Name] {
			return fmt.Errorf("column %q specified more than once", c.Name)
		}
		seen[c.Name] = true
	}
	if len(t.PrimaryKey) == 0 {
		return fmt.Errorf("table %q has no primary key", t.Name)
	}
	for _, id := range t.PrimaryKey {
		if t.ColumnOrdinal(id) < 0 {
			return fmt.Errorf("primary key column %d of %q does not exist", id, t.Name)
		}
	}
	return t.validateIndexes()
}

func (t *Table) String() string {
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, c.Name+" "+c.Type.String())
	}
	return fmt.Sprintf("%s(%s)", t.Name, strings.Join(cols, ", "))
}
