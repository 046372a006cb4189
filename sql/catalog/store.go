package catalog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/txn"
)

// System key layout (under keys.SystemPrefix):
//
//	'n' parentID(4) name → ID(4)      namespace: databases have parent 0
//	'd' ID(4)            → descriptor (JSON)
//	'g'                  → next descriptor ID(4)
var (
	namespacePrefix  = append(append([]byte(nil), keys.SystemPrefix...), 'n')
	descriptorPrefix = append(append([]byte(nil), keys.SystemPrefix...), 'd')
	idGeneratorKey   = append(append([]byte(nil), keys.SystemPrefix...), 'g')
)

// FirstUserID is the first descriptor ID handed to user objects; lower IDs are reserved.
const FirstUserID = 100

// DefaultDatabase is the database every cluster starts with and connections default to.
const DefaultDatabase = "defaultdb"

func namespaceKey(parent uint32, name string) []byte {
	k := binary.BigEndian.AppendUint32(append([]byte(nil), namespacePrefix...), parent)
	return append(k, name...)
}

func descriptorKey(id uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), descriptorPrefix...), id)
}

// Catalog reads and writes descriptors, caching them per node.
type Catalog struct {
	gen    atomic.Uint64
	mu     sync.Mutex
	tables map[tableKey]*Table
	dbs    map[string]*Database
}

type tableKey struct {
	db   uint32
	name string
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
	c.tables = make(map[tableKey]*Table)
	c.dbs = make(map[string]*Database)
}

// Generation counts invalidations; plans made at an older generation must be rebuilt.
func (c *Catalog) Generation() uint64 { return c.gen.Load() }

// Bootstrap creates the databases a new cluster starts with. It is idempotent.
func (c *Catalog) Bootstrap(ctx context.Context, db *txn.DB) error {
	return db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		for _, name := range []string{DefaultDatabase, "postgres"} {
			if _, err := c.lookupDatabase(ctx, t, name, false); err == nil {
				continue
			}
			if err := c.CreateDatabase(ctx, t, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// nextID allocates a descriptor ID within t.
func nextID(ctx context.Context, t *txn.Txn) (uint32, error) {
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

func (c *Catalog) getID(ctx context.Context, t *txn.Txn, parent uint32, name string) (uint32, bool, error) {
	var b txn.Batch
	b.Get(namespaceKey(parent, name))
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

// LookupDatabase resolves a database by name. useCache is false inside transactions that
// changed the schema, which must see their own uncommitted descriptors.
func (c *Catalog) LookupDatabase(ctx context.Context, t *txn.Txn, name string, useCache bool) (*Database, error) {
	return c.lookupDatabase(ctx, t, name, useCache)
}

func (c *Catalog) lookupDatabase(ctx context.Context, t *txn.Txn, name string, useCache bool) (*Database, error) {
	if useCache {
		c.mu.Lock()
		d := c.dbs[name]
		c.mu.Unlock()
		if d != nil {
			return d, nil
		}
	}
	id, ok, err := c.getID(ctx, t, 0, name)
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
	if useCache {
		c.mu.Lock()
		c.dbs[name] = d.Database
		c.mu.Unlock()
	}
	return d.Database, nil
}

// LookupTable resolves a table of a database by name.
func (c *Catalog) LookupTable(ctx context.Context, t *txn.Txn, dbID uint32, name string, useCache bool) (*Table, error) {
	key := tableKey{dbID, name}
	if useCache {
		c.mu.Lock()
		tbl := c.tables[key]
		c.mu.Unlock()
		if tbl != nil {
			return tbl, nil
		}
	}
	id, ok, err := c.getID(ctx, t, dbID, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation %q does not exist", name)
	}
	d, err := c.getDescriptor(ctx, t, id)
	if err != nil {
		return nil, err
	}
	if d == nil || d.Table == nil {
		return nil, fmt.Errorf("namespace entry for table %q points at missing descriptor %d", name, id)
	}
	if useCache {
		c.mu.Lock()
		c.tables[key] = d.Table
		c.mu.Unlock()
	}
	return d.Table, nil
}

// CreateDatabase creates a database within t.
func (c *Catalog) CreateDatabase(ctx context.Context, t *txn.Txn, name string) error {
	if _, ok, err := c.getID(ctx, t, 0, name); err != nil {
		return err
	} else if ok {
		return pgerror.New(pgerror.CodeDuplicateDatabase, "database %q already exists", name)
	}
	id, err := nextID(ctx, t)
	if err != nil {
		return err
	}
	var b txn.Batch
	b.Put(namespaceKey(0, name), binary.BigEndian.AppendUint32(nil, id))
	if err := putDescriptor(&b, id, descriptor{Database: &Database{ID: id, Name: name}}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// CreateTable assigns tbl an ID and stores it within t.
func (c *Catalog) CreateTable(ctx context.Context, t *txn.Txn, tbl *Table) error {
	if err := tbl.Validate(); err != nil {
		return pgerror.New(pgerror.CodeInvalidTableDefinition, "%v", err)
	}
	if _, ok, err := c.getID(ctx, t, tbl.DatabaseID, tbl.Name); err != nil {
		return err
	} else if ok {
		return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", tbl.Name)
	}
	id, err := nextID(ctx, t)
	if err != nil {
		return err
	}
	tbl.ID = id
	tbl.Version = 1
	var b txn.Batch
	b.Put(namespaceKey(tbl.DatabaseID, tbl.Name), binary.BigEndian.AppendUint32(nil, id))
	if err := putDescriptor(&b, id, descriptor{Table: tbl}); err != nil {
		return err
	}
	return t.Run(ctx, &b)
}

// DropTable removes a table's descriptor and name; the caller deletes its data.
func (c *Catalog) DropTable(ctx context.Context, t *txn.Txn, tbl *Table) error {
	var b txn.Batch
	b.Del(namespaceKey(tbl.DatabaseID, tbl.Name))
	b.Del(descriptorKey(tbl.ID))
	return t.Run(ctx, &b)
}

// DropDatabase removes a database's descriptor and name, returning its tables (which the
// caller must drop first or together).
func (c *Catalog) DropDatabase(ctx context.Context, t *txn.Txn, d *Database) error {
	var b txn.Batch
	b.Del(namespaceKey(0, d.Name))
	b.Del(descriptorKey(d.ID))
	return t.Run(ctx, &b)
}

// ListDatabases returns every database, sorted by name.
func (c *Catalog) ListDatabases(ctx context.Context, t *txn.Txn) ([]string, error) {
	return c.listNames(ctx, t, 0)
}

// ListTables returns the names of a database's tables, sorted.
func (c *Catalog) ListTables(ctx context.Context, t *txn.Txn, dbID uint32) ([]string, error) {
	return c.listNames(ctx, t, dbID)
}

func (c *Catalog) listNames(ctx context.Context, t *txn.Txn, parent uint32) ([]string, error) {
	prefix := namespaceKey(parent, "")
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
