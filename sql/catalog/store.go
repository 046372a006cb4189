package catalog

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/txn"
)

// System key layout (under keys.SystemPrefix):
//
//	'n' dbID(4) schemaID(4) name → ID(4)   namespace: databases are under (0, 0), schemas
//	                                       under (db, 0), tables and sequences under
//	                                       (db, schema); see schema.go
//	'd' ID(4)            → descriptor (JSON)
//	'g'                  → next descriptor ID(4)
//	'r' name             → role (JSON; see roles.go)
//	'a'                  → secret for mock authentication (see AuthSecret)
//	'i' parentID(4) name → table ID(4)  index names (see index.go)
//	'x' ID(4)            → droppedMarker  a dropped table's key space awaiting removal
//	                                       (see DroppedKeySpaces)
var (
	namespacePrefix  = append(append([]byte(nil), keys.SystemPrefix...), 'n')
	descriptorPrefix = append(append([]byte(nil), keys.SystemPrefix...), 'd')
	idGeneratorKey   = append(append([]byte(nil), keys.SystemPrefix...), 'g')
	rolePrefix       = append(append([]byte(nil), keys.SystemPrefix...), 'r')
	authSecretKey    = append(append([]byte(nil), keys.SystemPrefix...), 'a')
	droppedPrefix    = append(append([]byte(nil), keys.SystemPrefix...), 'x')
)

// droppedMarker is the value of a dropped key space's record: any non-empty value (an empty
// one is a deletion).
var droppedMarker = []byte{1}

func droppedKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), droppedPrefix...), id)
}

// FirstUserID is the first descriptor ID handed to user objects; lower IDs are reserved.
const FirstUserID = 100

// DefaultDatabase is the database every cluster starts with and connections default to.
const DefaultDatabase = "defaultdb"

func namespaceKey(db, schema uint32, name string) []byte {
	k := binary.BigEndian.AppendUint32(append([]byte(nil), namespacePrefix...), db)
	k = binary.BigEndian.AppendUint32(k, schema)
	return append(k, name...)
}

func descriptorKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), descriptorPrefix...), id)
}

// Catalog reads and writes descriptors, caching them per node. Every schema change bumps
// a cluster-wide schema version in its transaction; a transaction reads the version once
// (SchemaVersion), or takes it from the node's schema lease (lease.go), and uses only
// descriptors cached at that version, so a node never plans with a descriptor another node
// has since changed. The version is in the transaction's read set: a schema change that
// commits meanwhile makes it refresh or retry.
type Catalog struct {
	gen       atomic.Uint64
	newest    atomic.Uint64 // highest schema version seen
	mu        sync.Mutex
	tables    map[tableKey]cached[*Table]
	dbs       map[string]cached[*Database]
	roles     map[string]cached[*Role]
	schemas   map[schemaKey]cached[*Schema]
	sequences map[tableKey]cached[*Sequence]
	views     map[tableKey]cached[*View]

	leases *leases // nil: every transaction reads the version (see EnableLeases)

	secretMu sync.Mutex
	secret   []byte // AuthSecret, once read
}

// cached is a descriptor read at a schema version.
type cached[T any] struct {
	v       T
	version uint64
}

type tableKey struct {
	db, schema uint32
	name       string
}

// New returns an empty catalog cache.
func New() *Catalog {
	c := &Catalog{}
	c.Invalidate()
	return c
}

// Invalidate drops every cached descriptor; called after a schema change commits.
func (c *Catalog) Invalidate() {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables = make(map[tableKey]cached[*Table])
	c.dbs = make(map[string]cached[*Database])
	c.roles = make(map[string]cached[*Role])
	c.schemas = make(map[schemaKey]cached[*Schema])
	c.sequences = make(map[tableKey]cached[*Sequence])
	c.views = make(map[tableKey]cached[*View])
}

// SchemaVersion reads the cluster's schema version in t, for use as the cache version of
// lookups in t, or takes it from the node's schema lease when that covers t (not for a
// historical transaction). It is never 0, which means "do not use the cache".
func (c *Catalog) SchemaVersion(ctx context.Context, t *txn.Txn, historical bool) (uint64, error) {
	if c.leases != nil && !historical {
		if v, ok := c.leases.leasedVersion(t.ReadTimestamp()); ok && v >= c.newest.Load() {
			t.AssumeRead(keys.SchemaVersionKey)
			c.noteVersion(v)
			return v, nil
		}
	}
	var b txn.Batch
	b.Get(keys.SchemaVersionKey)
	if err := t.Run(ctx, &b); err != nil {
		return 0, err
	}
	v := schemaVersionOf(b.Results[0])
	c.noteVersion(v)
	return v, nil
}

// schemaVersionOf is the schema version a read of SchemaVersionKey found: the count of
// schema changes stored there, plus one (see SchemaVersion).
func schemaVersionOf(res txn.Result) uint64 {
	if len(res.Rows) == 1 {
		return 1 + binary.BigEndian.Uint64(res.Rows[0].Value)
	}
	return 1
}

// noteVersion records that the schema is at version v or later: a newer version than any
// seen drops every cached descriptor.
func (c *Catalog) noteVersion(v uint64) {
	for {
		newest := c.newest.Load()
		if v <= newest {
			break
		}
		if c.newest.CompareAndSwap(newest, v) {
			c.Invalidate() // plans made before this schema change must be rebuilt
			break
		}
	}
}

// bumpSchemaVersion records a schema change in t.
func (c *Catalog) bumpSchemaVersion(ctx context.Context, t *txn.Txn) error {
	var b txn.Batch
	b.Get(keys.SchemaVersionKey)
	if err := t.Run(ctx, &b); err != nil {
		return err
	}
	changes := schemaVersionOf(b.Results[0]) - 1
	var w txn.Batch
	w.Put(keys.SchemaVersionKey, binary.BigEndian.AppendUint64(nil, changes+1))
	if err := t.Run(ctx, &w); err != nil {
		return err
	}
	return c.awaitLeases(ctx, t)
}

// Generation counts invalidations; plans made at an older generation must be rebuilt.
func (c *Catalog) Generation() uint64 { return c.gen.Load() }

// Bootstrap creates the databases a new cluster starts with. It is idempotent.
func (c *Catalog) Bootstrap(ctx context.Context, db *txn.DB) error {
	return db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		for _, name := range []string{DefaultDatabase, "postgres"} {
			if _, err := c.lookupDatabase(ctx, t, name, 0); err == nil {
				continue
			}
			if err := c.CreateDatabase(ctx, t, name, privilege.Root); err != nil {
				return err
			}
		}
		return nil
	})
}

// nextID allocates a descriptor ID within t, which is creating a descriptor: it also bumps
// the schema version.
func (c *Catalog) nextID(ctx context.Context, t *txn.Txn) (uint32, error) {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return 0, err
	}
	var b txn.Batch
	b.Get(idGeneratorKey)
	if err := t.Run(ctx, &b); err != nil {
		return 0, err
	}
	id := uint32(FirstUserID)
	if rows := b.Results[0].Rows; len(rows) == 1 {
		id = binary.BigEndian.Uint32(rows[0].Value)
	}
	var w txn.Batch
	w.Put(idGeneratorKey, binary.BigEndian.AppendUint32(nil, id+1))
	return id, t.Run(ctx, &w)
}

func (c *Catalog) getID(ctx context.Context, t *txn.Txn, db, schema uint32, name string) (uint32, bool, error) {
	var b txn.Batch
	b.Get(namespaceKey(db, schema, name))
	if err := t.Run(ctx, &b); err != nil {
		return 0, false, err
	}
	rows := b.Results[0].Rows
	if len(rows) == 0 {
		return 0, false, nil
	}
	return binary.BigEndian.Uint32(rows[0].Value), true, nil
}

func (c *Catalog) getDescriptor(ctx context.Context, t *txn.Txn, id uint32) (*descriptor, error) {
	var b txn.Batch
	b.Get(descriptorKey(id))
	if err := t.Run(ctx, &b); err != nil {
		return nil, err
	}
	rows := b.Results[0].Rows
	if len(rows) == 0 {
		return nil, nil
	}
	var d descriptor
	if err := json.Unmarshal(rows[0].Value, &d); err != nil {
		return nil, fmt.Errorf("decoding descriptor %d: %w", id, err)
	}
	return &d, nil
}

func putDescriptor(b *txn.Batch, id uint32, d descriptor) error {
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	b.Put(descriptorKey(id), v)
	return nil
}

// LookupDatabase resolves a database by name. at is t's schema version (SchemaVersion), or
// 0 inside transactions that changed the schema, which must see their own uncommitted
// descriptors and so bypass the cache.
func (c *Catalog) LookupDatabase(ctx context.Context, t *txn.Txn, name string, at uint64) (*Database, error) {
	return c.lookupDatabase(ctx, t, name, at)
}

func (c *Catalog) lookupDatabase(ctx context.Context, t *txn.Txn, name string, at uint64) (*Database, error) {
	if at != 0 {
		c.mu.Lock()
		d, ok := c.dbs[name]
		c.mu.Unlock()
		if ok && d.version == at {
			return d.v, nil
		}
	}
	id, ok, err := c.getID(ctx, t, 0, 0, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, pgerror.New(pgerror.CodeInvalidCatalogName, "database %q does not exist", name)
	}
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil {
		return nil, err
	}
	if d == nil || d.Database == nil {
		return nil, fmt.Errorf("namespace entry for database %q points at missing descriptor %d", name, id)
	}
	if at != 0 {
		c.mu.Lock()
		c.dbs[name] = cached[*Database]{d.Database, at}
		c.mu.Unlock()
	}
	return d.Database, nil
}

// LookupTable resolves a table of a database's public schema by name.
func (c *Catalog) LookupTable(ctx context.Context, t *txn.Txn, dbID uint32, name string, at uint64) (*Table, error) {
	return c.LookupTableIn(ctx, t, dbID, PublicSchemaID, name, at)
}

// LookupTableIn resolves a table of a schema by name. A sequence or view of that name is a
// 42809 error: it is a relation, but not a table.
func (c *Catalog) LookupTableIn(ctx context.Context, t *txn.Txn, dbID, schemaID uint32, name string, at uint64) (*Table, error) {
	return lookupRelation(ctx, c, t, func() map[tableKey]cached[*Table] { return c.tables }, tableKey{dbID, schemaID, name}, at, "table",
		func(d *descriptor) (*Table, bool) { return d.Table, d.Sequence != nil || d.View != nil })
}

// lookupRelation finds the relation key names, of the kind of from: from returns the
// descriptor's relation of that kind and whether it is of the other kind (42809). cache
// returns, under c.mu (Invalidate replaces it), the map of what was read at each schema
// version; at 0 means read from t and cache nothing.
func lookupRelation[T comparable](ctx context.Context, c *Catalog, t *txn.Txn, cache func() map[tableKey]cached[T], key tableKey, at uint64, kind string, from func(*descriptor) (T, bool)) (T, error) {
	var zero T
	if at != 0 {
		c.mu.Lock()
		v, ok := cache()[key]
		c.mu.Unlock()
		if ok && v.version == at {
			return v.v, nil
		}
	}
	id, ok, err := c.getID(ctx, t, key.db, key.schema, key.name)
	if err != nil {
		return zero, err
	}
	if !ok {
		return zero, pgerror.New(pgerror.CodeUndefinedTable, "relation %q does not exist", key.name)
	}
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil {
		return zero, err
	}
	var v T
	if d != nil {
		var other bool
		if v, other = from(d); other {
			return zero, pgerror.New(pgerror.CodeWrongObjectType, "%q is not a %s", key.name, kind)
		}
	}
	if v == zero {
		return zero, fmt.Errorf("namespace entry for %s %q points at missing descriptor %d", kind, key.name, id)
	}
	if at != 0 {
		c.mu.Lock()
		cache()[key] = cached[T]{v, at}
		c.mu.Unlock()
	}
	return v, nil
}

// TableByID reads the table with descriptor ID id in t, bypassing the cache, which is keyed by
// name; nil when there is no such table.
func (c *Catalog) TableByID(ctx context.Context, t *txn.Txn, id uint32) (*Table, error) {
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil || d == nil {
		return nil, err
	}
	return d.Table, nil
}

// DatabaseByID reads the database with descriptor ID id in t, bypassing the cache; nil when
// there is no such database.
func (c *Catalog) DatabaseByID(ctx context.Context, t *txn.Txn, id uint32) (*Database, error) {
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil || d == nil {
		return nil, err
	}
	return d.Database, nil
}

// PrettyKey renders a key of the catalog's layout for people (/System/namespace/…,
// /System/descriptor/…); ok is false for any other key.
func PrettyKey(key []byte) (s string, ok bool) {
	switch {
	case bytes.Equal(key, idGeneratorKey):
		return "/System/descriptor-id-generator", true
	case bytes.Equal(key, authSecretKey):
		return "/System/auth-secret", true
	case bytes.HasPrefix(key, rolePrefix):
		return fmt.Sprintf("/System/role/%q", key[len(rolePrefix):]), true
	case bytes.HasPrefix(key, descriptorPrefix) && len(key) == len(descriptorPrefix)+4:
		return fmt.Sprintf("/System/descriptor/%d", binary.BigEndian.Uint32(key[len(descriptorPrefix):])), true
	case bytes.HasPrefix(key, indexNamePrefix):
		return prettyIndexName(key)
	case bytes.HasPrefix(key, namespacePrefix) && len(key) >= len(namespacePrefix)+4:
		rest := key[len(namespacePrefix):]
		if len(rest) < 8 {
			return "", false
		}
		return fmt.Sprintf("/System/namespace/%d/%d/%q", binary.BigEndian.Uint32(rest), binary.BigEndian.Uint32(rest[4:]), rest[8:]), true
	}
	return "", false
}

// CreateDatabase creates a database owned by owner within t.
func (c *Catalog) CreateDatabase(ctx context.Context, t *txn.Txn, name, owner string) error {
	if _, ok, err := c.getID(ctx, t, 0, 0, name); err != nil {
		return err
	} else if ok {
		return pgerror.New(pgerror.CodeDuplicateDatabase, "database %q already exists", name)
	}
	id, err := c.nextID(ctx, t)
	if err != nil {
		return err
	}
	var b txn.Batch
	b.Put(namespaceKey(0, 0, name), binary.BigEndian.AppendUint32(nil, id))
	acl := DefaultDatabaseACL(owner)
	if err := putDescriptor(&b, id, descriptor{Database: &Database{ID: id, Name: name, ACL: &acl}}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// CreateTable assigns tbl an ID and stores it within t.
func (c *Catalog) CreateTable(ctx context.Context, t *txn.Txn, tbl *Table) error {
	if err := tbl.Validate(); err != nil {
		return pgerror.New(pgerror.CodeInvalidTableDefinition, "%v", err)
	}
	if err := c.checkRelationNameFree(ctx, t, tbl.DatabaseID, tbl.ParentSchemaID(), tbl.Name); err != nil {
		return err
	}
	id, err := c.nextID(ctx, t)
	if err != nil {
		return err
	}
	tbl.ID = id
	tbl.Version = 1
	var b txn.Batch
	if err := c.claimIndexNames(ctx, t, tbl, &b); err != nil {
		return err
	}
	b.Put(namespaceKey(tbl.DatabaseID, tbl.ParentSchemaID(), tbl.Name), binary.BigEndian.AppendUint32(nil, id))
	if err := putDescriptor(&b, id, descriptor{Table: tbl}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// SetTableACL replaces a table's access control list within t: a schema change, which every
// node sees at its next read of the schema version.
func (c *Catalog) SetTableACL(ctx context.Context, t *txn.Txn, tbl *Table, acl privilege.ACL) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	nt := *tbl
	nt.ACL = &acl
	nt.Version++
	var b txn.Batch
	if err := putDescriptor(&b, nt.ID, descriptor{Table: &nt}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// SetDatabaseACL replaces a database's access control list within t.
func (c *Catalog) SetDatabaseACL(ctx context.Context, t *txn.Txn, d *Database, acl privilege.ACL) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	nd := *d
	nd.ACL = &acl
	var b txn.Batch
	if err := putDescriptor(&b, nd.ID, descriptor{Database: &nd}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// Descriptors reads every database and table descriptor in t, for what must look at all of
// them (dropping a role checks that nothing depends on it).
func (c *Catalog) Descriptors(ctx context.Context, t *txn.Txn) ([]*Database, []*Table, error) {
	var b txn.Batch
	b.Scan(descriptorPrefix, encoding.PrefixEnd(descriptorPrefix), 0, false)
	if err := t.Run(ctx, &b); err != nil {
		return nil, nil, err
	}
	var dbs []*Database
	var tables []*Table
	for _, kv := range b.Results[0].Rows {
		var d descriptor
		if err := json.Unmarshal(kv.Value, &d); err != nil {
			return nil, nil, fmt.Errorf("decoding descriptor at %x: %w", kv.Key, err)
		}
		switch {
		case d.Database != nil:
			dbs = append(dbs, d.Database)
		case d.Table != nil:
			tables = append(tables, d.Table)
		}
	}
	return dbs, tables, nil
}

// DropTable removes a table's descriptor and name, and records its key space as dropped:
// its data stays, unreachable, until it is past the GC TTL and removed wholesale (see
// DroppedKeySpaces), so dropping costs the same whatever the table holds, and a read at a
// timestamp before the drop still finds the rows.
func (c *Catalog) DropTable(ctx context.Context, t *txn.Txn, tbl *Table) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	var b txn.Batch
	b.Del(namespaceKey(tbl.DatabaseID, tbl.ParentSchemaID(), tbl.Name))
	b.Del(descriptorKey(tbl.ID))
	releaseIndexNames(tbl, &b)
	b.Put(droppedKey(tbl.KeyID()), droppedMarker)
	return t.Run(ctx, &b)
}

// TruncateTable empties tbl within t by giving it a fresh key space (a new DataID, see
// Table.KeyID) and recording the old one as dropped, like DropTable's. The rows are gone
// for whoever reads the new descriptor, while readers at earlier timestamps, and a
// rollback, still find them where they were; nothing is written per row.
func (c *Catalog) TruncateTable(ctx context.Context, t *txn.Txn, tbl *Table) (*Table, error) {
	id, err := c.nextID(ctx, t)
	if err != nil {
		return nil, err
	}
	old := tbl.KeyID()
	nt := *tbl
	nt.DataID = id
	if err := c.UpdateTable(ctx, t, &nt, ""); err != nil {
		return nil, err
	}
	var b txn.Batch
	b.Put(droppedKey(old), droppedMarker)
	if err := t.Run(ctx, &b); err != nil {
		return nil, err
	}
	return &nt, nil
}

// DroppedKeySpace is the key space of a dropped table's data, or of a truncated table's
// former data, waiting to be removed.
type DroppedKeySpace struct {
	// ID prefixes the keys of the data (it was the table's KeyID).
	ID uint32
	// DroppedAt is when the drop committed: reads below it may still see the data.
	DroppedAt hlc.Timestamp
}

// DroppedKeySpaces lists the key spaces dropped and not yet forgotten, read in a
// transaction of its own at the present time.
func (c *Catalog) DroppedKeySpaces(ctx context.Context, db *txn.DB) ([]DroppedKeySpace, error) {
	var out []DroppedKeySpace
	err := db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		out = out[:0]
		var b txn.Batch
		b.Scan(droppedPrefix, encoding.PrefixEnd(droppedPrefix), 0, false)
		if err := t.Run(ctx, &b); err != nil {
			return err
		}
		for _, kv := range b.Results[0].Rows {
			if len(kv.Key) != len(droppedPrefix)+4 {
				return fmt.Errorf("malformed dropped key space record %x", kv.Key)
			}
			out = append(out, DroppedKeySpace{ID: binary.BigEndian.Uint32(kv.Key[len(droppedPrefix):]), DroppedAt: kv.Timestamp})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing dropped key spaces: %w", err)
	}
	return out, nil
}

// ForgetDroppedKeySpace deletes the record of dropped key space id, once its data is gone.
func (c *Catalog) ForgetDroppedKeySpace(ctx context.Context, db *txn.DB, id uint32) error {
	err := db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		var b txn.Batch
		b.Del(droppedKey(id))
		return t.Run(ctx, &b)
	})
	if err != nil {
		return fmt.Errorf("forgetting dropped key space %d: %w", id, err)
	}
	return nil
}

// DropDatabase removes a database's descriptor and name, returning its tables (which the
// caller must drop first or together).
func (c *Catalog) DropDatabase(ctx context.Context, t *txn.Txn, d *Database) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	var b txn.Batch
	b.Del(namespaceKey(0, 0, d.Name))
	b.Del(descriptorKey(d.ID))
	return t.Run(ctx, &b)
}

// ListDatabases returns every database, sorted by name.
func (c *Catalog) ListDatabases(ctx context.Context, t *txn.Txn) ([]string, error) {
	return c.listNames(ctx, t, 0, 0)
}

// ListTables returns the names of the tables of a database's public schema, sorted.
func (c *Catalog) ListTables(ctx context.Context, t *txn.Txn, dbID uint32) ([]string, error) {
	return c.ListTablesIn(ctx, t, dbID, PublicSchemaID)
}

func (c *Catalog) listNames(ctx context.Context, t *txn.Txn, db, schema uint32) ([]string, error) {
	prefix := namespaceKey(db, schema, "")
	var b txn.Batch
	b.Scan(prefix, encoding.PrefixEnd(prefix), 0, false)
	if err := t.Run(ctx, &b); err != nil {
		return nil, err
	}
	var names []string
	for _, kv := range b.Results[0].Rows {
		names = append(names, string(kv.Key[len(prefix):]))
	}
	sort.Strings(names)
	return names, nil
}
