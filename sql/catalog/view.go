package catalog

import (
	"context"
	"encoding/binary"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// View describes a view: a stored query that queries naming the view read as a derived
// table. It shares the relation namespace with tables and sequences.
type View struct {
	ID         uint32
	DatabaseID uint32
	SchemaID   uint32
	Name       string
	// Query is the body the planner re-parses whenever a query names the view: normalized
	// SQL (what the parser reads), with every relation it reads schema-qualified and every
	// * expanded, so that it means at each use what it meant at creation whatever the
	// search_path, and later columns of its tables do not change its shape.
	Query string
	// ColumnAliases are the alias lists of the body's FROM items, which the normalized SQL
	// cannot carry (pgdialect.Statement.ColumnAliases).
	ColumnAliases map[string][]string `json:",omitempty"`
	// Definition is the body as its creator wrote it, for pg_views and pg_get_viewdef.
	Definition string
	// Columns are the view's output columns, named and typed at creation.
	Columns []ViewColumn
	// DependsOn lists the IDs of the tables and views the body reads. The dependency is
	// kept on this side only: finding a relation's dependents scans the views of its
	// database (ViewsDependingOn), which only DDL does, rather than keeping back-references
	// on tables, which every table change would have to carry along.
	DependsOn []uint32       `json:",omitempty"`
	ACL       *privilege.ACL `json:",omitempty"`
	Version   uint64
}

// ViewColumn is an output column of a view.
type ViewColumn struct {
	Name string
	Type types.T
}

// ParentSchemaID is the ID of the schema holding the view.
func (v *View) ParentSchemaID() uint32 {
	if v.SchemaID == 0 {
		return PublicSchemaID
	}
	return v.SchemaID
}

// Privileges returns the view's access control list.
func (v *View) Privileges() privilege.ACL {
	if v.ACL == nil {
		return privilege.ACL{Owner: privilege.Root}
	}
	return *v.ACL
}

// DependsOnRelation reports whether the view's body reads the relation with ID id.
func (v *View) DependsOnRelation(id uint32) bool {
	for _, d := range v.DependsOn {
		if d == id {
			return true
		}
	}
	return false
}

// LookupView resolves a view of a schema by name. A table or sequence of that name is a
// 42809 error.
func (c *Catalog) LookupView(ctx context.Context, t *txn.Txn, dbID, schemaID uint32, name string, at uint64) (*View, error) {
	return lookupRelation(ctx, c, t, func() map[tableKey]cached[*View] { return c.views }, tableKey{dbID, schemaID, name}, at, "view",
		func(d *descriptor) (*View, bool) { return d.View, d.Table != nil || d.Sequence != nil })
}

// ViewByID reads the view with descriptor ID id in t; nil when there is none.
func (c *Catalog) ViewByID(ctx context.Context, t *txn.Txn, id uint32) (*View, error) {
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil || d == nil {
		return nil, err
	}
	return d.View, nil
}

// CreateView assigns v an ID and stores it within t.
func (c *Catalog) CreateView(ctx context.Context, t *txn.Txn, v *View) error {
	taken, err := c.RelationNameTaken(ctx, t, v.DatabaseID, v.ParentSchemaID(), v.Name)
	if err != nil {
		return err
	}
	if taken {
		return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", v.Name)
	}
	id, err := c.nextID(ctx, t)
	if err != nil {
		return err
	}
	v.ID = id
	v.Version = 1
	var b txn.Batch
	b.Put(namespaceKey(v.DatabaseID, v.ParentSchemaID(), v.Name), binary.BigEndian.AppendUint32(nil, id))
	if err := putDescriptor(&b, id, descriptor{View: v}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// UpdateView stores a changed view descriptor within t (CREATE OR REPLACE, a rename, a
// grant), bumping the schema version and the view's. renamedFrom is the view's old name
// when the change renames it, else "".
func (c *Catalog) UpdateView(ctx context.Context, t *txn.Txn, v *View, renamedFrom string) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	var b txn.Batch
	if renamedFrom != "" && renamedFrom != v.Name {
		taken, err := c.RelationNameTaken(ctx, t, v.DatabaseID, v.ParentSchemaID(), v.Name)
		if err != nil {
			return err
		}
		if taken {
			return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", v.Name)
		}
		b.Del(namespaceKey(v.DatabaseID, v.ParentSchemaID(), renamedFrom))
		b.Put(namespaceKey(v.DatabaseID, v.ParentSchemaID(), v.Name), binary.BigEndian.AppendUint32(nil, v.ID))
	}
	v.Version++
	if err := putDescriptor(&b, v.ID, descriptor{View: v}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// DropView removes a view's descriptor and name. The caller checks its dependents.
func (c *Catalog) DropView(ctx context.Context, t *txn.Txn, v *View) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	var b txn.Batch
	b.Del(namespaceKey(v.DatabaseID, v.ParentSchemaID(), v.Name))
	b.Del(descriptorKey(v.ID))
	return t.Run(ctx, &b)
}

// ViewsDependingOn lists the views of database db whose bodies read the relation with ID
// id, read in t.
func (c *Catalog) ViewsDependingOn(ctx context.Context, t *txn.Txn, db, id uint32) ([]*View, error) {
	objs, err := c.ObjectsOf(ctx, t, db)
	if err != nil {
		return nil, err
	}
	var out []*View
	for _, v := range objs.Views {
		if v.DependsOnRelation(id) {
			out = append(out, v)
		}
	}
	return out, nil
}
