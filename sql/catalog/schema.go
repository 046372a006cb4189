package catalog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/txn"
)

// Names live in three levels, as in PostgreSQL: databases, the schemas of a database, and
// the relations (tables and sequences) of a schema. Every database has the schema public,
// which is built in: it has no descriptor, and its ID, PublicSchemaID, is the same in every
// database (namespace keys carry the database ID too). Other schemas are created with
// CREATE SCHEMA and have descriptors of their own.

// PublicSchemaID identifies the public schema of every database. It lies in the reserved
// range below FirstUserID, so no descriptor has it.
const PublicSchemaID uint32 = 1

// PublicSchema is the name of the built-in schema.
const PublicSchema = "public"

// ReservedSchemaNames are the schemas of PostgreSQL's system catalogs, which belong to the
// virtual catalog and cannot be created.
var ReservedSchemaNames = map[string]bool{"pg_catalog": true, "information_schema": true}

// Schema describes a schema created with CREATE SCHEMA.
type Schema struct {
	ID         uint32
	DatabaseID uint32
	Name       string
	// ACL is the schema's owner (who may create objects in it) and grants.
	ACL *privilege.ACL `json:",omitempty"`
}

type schemaKey struct {
	db   uint32
	name string
}

// Privileges returns the schema's access control list; public's is owned by root.
func (s *Schema) Privileges() privilege.ACL {
	if s.ACL == nil {
		return privilege.ACL{Owner: privilege.Root}
	}
	return *s.ACL
}

// IsPublic reports whether s is the built-in public schema.
func (s *Schema) IsPublic() bool { return s.ID == PublicSchemaID }

// ParentSchemaID is the ID of the schema holding the table.
func (t *Table) ParentSchemaID() uint32 {
	if t.SchemaID == 0 {
		return PublicSchemaID
	}
	return t.SchemaID
}

// Sequence describes a sequence. Its state is a counter in the table key space of its ID
// (see the SQL layer's sequence key), advanced outside transactions.
type Sequence struct {
	ID         uint32
	DatabaseID uint32
	SchemaID   uint32
	Name       string
	Increment  int64
	Start      int64
	Min, Max   int64
	// Cache is how many values a session takes at a time.
	Cache int64
	Cycle bool
	// OwnedBy, for the sequence of a SERIAL or identity column, is that column: the
	// sequence is dropped with it.
	OwnedBy *SequenceOwner `json:",omitempty"`
	ACL     *privilege.ACL `json:",omitempty"`
	Version uint64
}

// SequenceOwner is the column a sequence belongs to.
type SequenceOwner struct {
	TableID  uint32
	ColumnID uint32
}

// OwnedSequence is a sequence a table owns, and the column it serves.
type OwnedSequence struct {
	SequenceID uint32
	ColumnID   uint32
}

// ParentSchemaID is the ID of the schema holding the sequence.
func (s *Sequence) ParentSchemaID() uint32 {
	if s.SchemaID == 0 {
		return PublicSchemaID
	}
	return s.SchemaID
}

// Privileges returns the sequence's access control list.
func (s *Sequence) Privileges() privilege.ACL {
	if s.ACL == nil {
		return privilege.ACL{Owner: privilege.Root}
	}
	return *s.ACL
}

// publicSchema is the built-in schema of database db.
func publicSchema(db uint32) *Schema {
	return &Schema{ID: PublicSchemaID, DatabaseID: db, Name: PublicSchema}
}

// LookupSchema resolves a schema of a database by name: public, or one made by CREATE
// SCHEMA (3F000 when there is none).
func (c *Catalog) LookupSchema(ctx context.Context, t *txn.Txn, dbID uint32, name string, at uint64) (*Schema, error) {
	if name == PublicSchema {
		return publicSchema(dbID), nil
	}
	key := schemaKey{dbID, name}
	if at != 0 {
		c.mu.Lock()
		s, ok := c.schemas[key]
		c.mu.Unlock()
		if ok && s.version == at {
			return s.v, nil
		}
	}
	id, ok, err := c.getID(ctx, t, dbID, 0, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, pgerror.New(pgerror.CodeInvalidSchemaName, "schema %q does not exist", name)
	}
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil {
		return nil, err
	}
	if d == nil || d.Schema == nil {
		return nil, fmt.Errorf("namespace entry for schema %q points at missing descriptor %d", name, id)
	}
	if at != 0 {
		c.mu.Lock()
		c.schemas[key] = cached[*Schema]{d.Schema, at}
		c.mu.Unlock()
	}
	return d.Schema, nil
}

// SchemaByID returns the schema of database db with the given ID, nil if there is none.
func (c *Catalog) SchemaByID(ctx context.Context, t *txn.Txn, db, id uint32) (*Schema, error) {
	if id == PublicSchemaID || id == 0 {
		return publicSchema(db), nil
	}
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil || d == nil {
		return nil, err
	}
	return d.Schema, nil
}

// CreateSchema creates a schema in database db, owned by owner.
func (c *Catalog) CreateSchema(ctx context.Context, t *txn.Txn, db uint32, name, owner string) (*Schema, error) {
	if strings.HasPrefix(name, "pg_") {
		return nil, pgerror.New(pgerror.CodeReservedName, "unacceptable schema name %q", name).
			WithDetail(`The prefix "pg_" is reserved for system schemas.`)
	}
	if name == PublicSchema || ReservedSchemaNames[name] {
		return nil, pgerror.New(pgerror.CodeDuplicateSchema, "schema %q already exists", name)
	}
	if _, ok, err := c.getID(ctx, t, db, 0, name); err != nil {
		return nil, err
	} else if ok {
		return nil, pgerror.New(pgerror.CodeDuplicateSchema, "schema %q already exists", name)
	}
	id, err := c.nextID(ctx, t)
	if err != nil {
		return nil, err
	}
	acl := privilege.ACL{Owner: owner}
	sc := &Schema{ID: id, DatabaseID: db, Name: name, ACL: &acl}
	var b txn.Batch
	b.Put(namespaceKey(db, 0, name), binary.BigEndian.AppendUint32(nil, id))
	if err := putDescriptor(&b, id, descriptor{Schema: sc}); err != nil {
		return nil, err
	}
	return sc, t.Run(ctx, &b)
}

// DropSchema removes a schema's descriptor and name; the caller drops what it holds first.
func (c *Catalog) DropSchema(ctx context.Context, t *txn.Txn, sc *Schema) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	var b txn.Batch
	b.Del(namespaceKey(sc.DatabaseID, 0, sc.Name))
	b.Del(descriptorKey(sc.ID))
	return t.Run(ctx, &b)
}

// ListSchemas returns the names of a database's schemas, public included, sorted.
func (c *Catalog) ListSchemas(ctx context.Context, t *txn.Txn, db uint32) ([]string, error) {
	names, err := c.listNames(ctx, t, db, 0)
	if err != nil {
		return nil, err
	}
	names = append(names, PublicSchema)
	sort.Strings(names)
	return names, nil
}

// ListTablesIn returns the names of the tables (not sequences) of a schema, sorted.
func (c *Catalog) ListTablesIn(ctx context.Context, t *txn.Txn, dbID, schemaID uint32) ([]string, error) {
	rels, err := c.listRelations(ctx, t, dbID, schemaID)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range rels {
		if r.Table != nil {
			names = append(names, r.Table.Name)
		}
	}
	return names, nil
}

// listRelations reads the descriptors of the relations of a schema, sorted by name.
func (c *Catalog) listRelations(ctx context.Context, t *txn.Txn, dbID, schemaID uint32) ([]*descriptor, error) {
	prefix := namespaceKey(dbID, schemaID, "")
	var b txn.Batch
	b.Scan(prefix, encoding.PrefixEnd(prefix), 0, false)
	if err := t.Run(ctx, &b); err != nil {
		return nil, err
	}
	var out []*descriptor
	for _, kv := range b.Results[0].Rows {
		d, err := c.getDescriptor(ctx, t, binary.BigEndian.Uint32(kv.Value))
		if err != nil {
			return nil, err
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// DatabaseObjects are the schemas, tables, sequences and views of one database.
type DatabaseObjects struct {
	Schemas   []*Schema
	Tables    []*Table
	Sequences []*Sequence
	Views     []*View
}

// ObjectsOf reads every schema, table, sequence and view of database db in t.
func (c *Catalog) ObjectsOf(ctx context.Context, t *txn.Txn, db uint32) (*DatabaseObjects, error) {
	return c.objects(ctx, t, func(id uint32) bool { return id == db })
}

// AllObjects reads every schema, table, sequence and view of every database in t.
func (c *Catalog) AllObjects(ctx context.Context, t *txn.Txn) (*DatabaseObjects, error) {
	return c.objects(ctx, t, func(uint32) bool { return true })
}

func (c *Catalog) objects(ctx context.Context, t *txn.Txn, inDatabase func(uint32) bool) (*DatabaseObjects, error) {
	var b txn.Batch
	b.Scan(descriptorPrefix, encoding.PrefixEnd(descriptorPrefix), 0, false)
	if err := t.Run(ctx, &b); err != nil {
		return nil, err
	}
	out := &DatabaseObjects{}
	for _, kv := range b.Results[0].Rows {
		var d descriptor
		if err := json.Unmarshal(kv.Value, &d); err != nil {
			return nil, fmt.Errorf("decoding descriptor at %x: %w", kv.Key, err)
		}
		switch {
		case d.Schema != nil && inDatabase(d.Schema.DatabaseID):
			out.Schemas = append(out.Schemas, d.Schema)
		case d.Table != nil && inDatabase(d.Table.DatabaseID):
			out.Tables = append(out.Tables, d.Table)
		case d.Sequence != nil && inDatabase(d.Sequence.DatabaseID):
			out.Sequences = append(out.Sequences, d.Sequence)
		case d.View != nil && inDatabase(d.View.DatabaseID):
			out.Views = append(out.Views, d.View)
		}
	}
	return out, nil
}

// checkRelationNameFree fails with 42P07 when a table or sequence of the schema has the name.
func (c *Catalog) checkRelationNameFree(ctx context.Context, t *txn.Txn, db, schema uint32, name string) error {
	if _, ok, err := c.getID(ctx, t, db, schema, name); err != nil {
		return err
	} else if ok {
		return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", name)
	}
	return nil
}

// UpdateTable stores a changed table descriptor within t, a schema change: it bumps the
// schema version and the table's version. renamedFrom is the table's old name when the
// change renames it (its namespace entry moves), else "".
func (c *Catalog) UpdateTable(ctx context.Context, t *txn.Txn, tbl *Table, renamedFrom string) error {
	if err := tbl.Validate(); err != nil {
		return pgerror.New(pgerror.CodeInvalidTableDefinition, "%v", err)
	}
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	var b txn.Batch
	if renamedFrom != "" && renamedFrom != tbl.Name {
		if err := c.checkRelationNameFree(ctx, t, tbl.DatabaseID, tbl.ParentSchemaID(), tbl.Name); err != nil {
			return err
		}
		b.Del(namespaceKey(tbl.DatabaseID, tbl.ParentSchemaID(), renamedFrom))
		b.Put(namespaceKey(tbl.DatabaseID, tbl.ParentSchemaID(), tbl.Name), binary.BigEndian.AppendUint32(nil, tbl.ID))
	}
	tbl.Version++
	if err := putDescriptor(&b, tbl.ID, descriptor{Table: tbl}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// LookupSequence resolves a sequence of a schema by name. A table or view of that name is a
// 42809 error.
func (c *Catalog) LookupSequence(ctx context.Context, t *txn.Txn, dbID, schemaID uint32, name string, at uint64) (*Sequence, error) {
	return lookupRelation(ctx, c, t, func() map[tableKey]cached[*Sequence] { return c.sequences }, tableKey{dbID, schemaID, name}, at, "sequence",
		func(d *descriptor) (*Sequence, bool) { return d.Sequence, d.Table != nil || d.View != nil })
}

// SequenceByID reads the sequence with descriptor ID id in t; nil when there is none.
func (c *Catalog) SequenceByID(ctx context.Context, t *txn.Txn, id uint32) (*Sequence, error) {
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil || d == nil {
		return nil, err
	}
	return d.Sequence, nil
}

// CreateSequence assigns seq an ID and stores it within t.
func (c *Catalog) CreateSequence(ctx context.Context, t *txn.Txn, seq *Sequence) error {
	if err := c.checkRelationNameFree(ctx, t, seq.DatabaseID, seq.ParentSchemaID(), seq.Name); err != nil {
		return err
	}
	id, err := c.nextID(ctx, t)
	if err != nil {
		return err
	}
	seq.ID = id
	seq.Version = 1
	var b txn.Batch
	b.Put(namespaceKey(seq.DatabaseID, seq.ParentSchemaID(), seq.Name), binary.BigEndian.AppendUint32(nil, id))
	if err := putDescriptor(&b, id, descriptor{Sequence: seq}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// DropSequence removes a sequence's descriptor and name; the caller deletes its counter.
func (c *Catalog) DropSequence(ctx context.Context, t *txn.Txn, seq *Sequence) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	var b txn.Batch
	b.Del(namespaceKey(seq.DatabaseID, seq.ParentSchemaID(), seq.Name))
	b.Del(descriptorKey(seq.ID))
	return t.Run(ctx, &b)
}
