package catalog

import "fmt"

// CheckConstraint is a CHECK constraint: a boolean expression every row must not make
// false (NULL passes).
type CheckConstraint struct {
	Name string
	// Expr is the expression as normalized SQL text over the table's column names; renaming
	// a column rewrites it.
	Expr string
}

// ReferenceAction is what a foreign key does to referencing rows when the referenced row
// is deleted or its key updated.
type ReferenceAction uint8

// Reference actions, as PostgreSQL names them.
const (
	NoAction ReferenceAction = iota
	Restrict
	Cascade
	SetNull
	SetDefault
)

func (a ReferenceAction) String() string {
	switch a {
	case NoAction:
		return "NO ACTION"
	case Restrict:
		return "RESTRICT"
	case Cascade:
		return "CASCADE"
	case SetNull:
		return "SET NULL"
	case SetDefault:
		return "SET DEFAULT"
	}
	return fmt.Sprintf("ReferenceAction(%d)", a)
}

// ForeignKey is a FOREIGN KEY constraint of the referencing (child) table: the values of
// Columns, when none is NULL (MATCH SIMPLE), must be those of ReferencedColumns in a row of
// ReferencedTable, a table of the same database (possibly this one). The referenced
// columns are, for now, the referenced table's primary key.
type ForeignKey struct {
	Name              string
	Columns           []uint32
	ReferencedTable   uint32
	ReferencedColumns []uint32
	OnDelete          ReferenceAction
	OnUpdate          ReferenceAction
}

// ForeignKeyRef names a foreign key of another table (or this one) that references this
// table: the referenced table keeps these so that deleting or updating its rows can find
// the referencing ones.
type ForeignKeyRef struct {
	Table uint32
	Name  string
}

// ForeignKeyByName returns the table's foreign key constraint of that name.
func (t *Table) ForeignKeyByName(name string) (*ForeignKey, bool) {
	for i := range t.ForeignKeys {
		if t.ForeignKeys[i].Name == name {
			return &t.ForeignKeys[i], true
		}
	}
	return nil, false
}

// ColumnByID returns the column with the given ID.
func (t *Table) ColumnByID(id uint32) (*Column, bool) {
	if o := t.ColumnOrdinal(id); o >= 0 {
		return &t.Columns[o], true
	}
	return nil, false
}

// Identity column kinds (Column.Identity).
const (
	IdentityAlways    = "always"
	IdentityByDefault = "by default"
)
