package sql

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
)

// The system catalogs: pg_catalog and information_schema are virtual tables whose rows are
// computed, for each statement, from one snapshot of the catalog read in the statement's
// transaction (catalogSnapshot). Each catalog table is one definition (name, columns as
// "name type" text, a function producing its rows) registered by defineTable; the rows
// come from a few derived lists — namespaces (snapshotNamespaces), relations (tables,
// their public indexes, sequences: snapshotRelations, tableIndexes) and constraints
// (primary keys, UNIQUE, CHECK, foreign keys: constraintList) — which every catalog table
// reads.
//
// Object identifiers. PostgreSQL clients join catalogs on OIDs and keep them between
// statements (psql looks a table up, then asks for its columns by OID), so OIDs are stable:
//   - databases and tables: their descriptor IDs;
//   - sequences: their descriptor IDs too;
//   - indexes (primary and secondary): indexOID(table, index ID), a reserved high range;
//   - constraints: constraintOID(table, n), another one;
//   - the catalogs' own tables: counted down from 2^32-1;
//   - namespaces: pg_catalog 11, public 2200 (PostgreSQL's), information_schema 13,
//     pg_toast 99, and a created schema its descriptor ID (see schemaOID);
//   - roles: root is 10 (PostgreSQL's bootstrap superuser), public 0, others a hash of
//     the name (roles have no IDs), in a range of their own;
//   - types: PostgreSQL's OIDs.

// Namespace OIDs.
const (
	namespacePgCatalog  uint32 = 11
	namespacePublic     uint32 = 2200
	namespaceInfoSchema uint32 = 13
	namespaceToast      uint32 = 99
)

// Schema names.
const (
	pgCatalogSchema  = "pg_catalog"
	infoSchemaSchema = "information_schema"
	publicSchema     = "public"
)

// rootRoleOID is root's OID: PostgreSQL's bootstrap superuser's.
const rootRoleOID uint32 = 10

// indexOID is the OID of a table's index. Table IDs below 2^21 and index IDs below 2^10 fit.
func indexOID(tableID, indexID uint32) uint32 {
	return 1<<31 | (tableID&(1<<21-1))<<10 | indexID&(1<<10-1)
}

// constraintOID is the OID of a table's n-th constraint.
func constraintOID(tableID uint32, n int) uint32 {
	return 3<<30 | (tableID&(1<<20-1))<<10 | uint32(n)&(1<<10-1)
}

// roleOID is a role's OID: roles are stored by name and have no IDs, so all but root's are
// a hash of the name, in a range no other OID uses. Two names could share one; with the
// handful of roles a cluster has, that is unlikely, and would only confuse the catalogs.
func roleOID(name string) uint32 {
	switch name {
	case privilege.Root:
		return rootRoleOID
	case privilege.Public:
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return 1<<30 | h.Sum32()&(1<<30-1)
}

// catalogColumn is a column of a catalog table.
type catalogColumn struct {
	name string
	typ  types.T
}

// catalogTable defines one table (or view) of pg_catalog or information_schema.
type catalogTable struct {
	schema string
	name   string
	kind   byte // 'r' for a table, 'v' for a view (pg_class.relkind)
	cols   []catalogColumn
	index  map[string]int
	oid    uint32
	gen    func(g *rowGen) error
}

// catalogTables holds the definitions by schema, then name.
var catalogTables = map[string]map[string]*catalogTable{pgCatalogSchema: {}, infoSchemaSchema: {}}

// catalogTableList is every definition in registration order (which fixes their OIDs).
var catalogTableList []*catalogTable

func zeroBased(t types.T) types.T {
	t.ZeroBased = true
	return t
}

// catalogTypeNames maps the type names of catalog column definitions that Meridian has no
// type for to the type that stands in for them.
var catalogTypeNames = map[string]types.T{
	"char":            types.QChar,
	"aclitem[]":       types.ArrayOf(types.String),
	"pg_node_tree":    types.String,
	"int2vector":      zeroBased(types.ArrayOf(types.Int2)),
	"oidvector":       zeroBased(types.ArrayOf(types.OidT)),
	"xid":             types.Int8,
	"anyarray":        types.String,
	"inet":            types.String,
	"sql_identifier":  types.Name,
	"character_data":  types.String,
	"cardinal_number": types.Int4,
	"yes_or_no":       {Family: types.StringFamily, StringKind: types.VarChar, Width: 3},
	"time_stamp":      types.TimestampTZ,
}

// defineTable registers a catalog table. cols lists "name type" pairs separated by commas.
func defineTable(schema, name string, kind byte, cols string, gen func(g *rowGen) error) *catalogTable {
	t := &catalogTable{schema: schema, name: name, kind: kind, gen: gen, index: map[string]int{}}
	for _, def := range strings.Split(cols, ",") {
		f := strings.Fields(def)
		if len(f) < 2 {
			panic(fmt.Sprintf("catalog table %s.%s: bad column %q", schema, name, def))
		}
		typName := strings.Join(f[1:], " ")
		typ, ok := catalogTypeNames[typName]
		if !ok {
			var err error
			if typ, err = types.ParseTypeName(typName); err != nil {
				panic(fmt.Sprintf("catalog table %s.%s: column %s: %v", schema, name, f[0], err))
			}
		}
		t.index[f[0]] = len(t.cols)
		t.cols = append(t.cols, catalogColumn{name: f[0], typ: typ})
	}
	catalogTableList = append(catalogTableList, t)
	t.oid = math.MaxUint32 - uint32(len(catalogTableList)-1)
	catalogTables[schema][name] = t
	return t
}

// virtual returns the planner's view of the table.
func (t *catalogTable) virtual() *virtualTable {
	vt := &virtualTable{name: t.name}
	for i, c := range t.cols {
		vt.columns = append(vt.columns, scopeColumn{name: c.name, typ: c.typ, tableID: t.oid, attrNum: uint16(i + 1)})
	}
	vt.rows = func(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
		snap, err := x.catalogSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		if rows, ok := snap.rows[t]; ok {
			return rows, nil
		}
		g := &rowGen{ctx: ctx, x: x, snap: snap, t: t}
		if err := t.gen(g); err != nil {
			return nil, err
		}
		snap.rows[t] = g.rows
		return g.rows, nil
	}
	return vt
}

// rowGen collects a catalog table's rows.
type rowGen struct {
	ctx  context.Context
	x    *execCtx
	snap *catalogSnapshot
	t    *catalogTable
	rows [][]types.Datum
}

// add adds a row given as column name, value pairs. Columns not given are NULL in
// information_schema; in pg_catalog, whose columns are mostly NOT NULL, they take their
// type's zero (false, 0, ”), or NULL for arrays and text, as PostgreSQL's catalogs have for
// what Meridian does not have.
func (g *rowGen) add(kv ...any) error {
	row := make([]types.Datum, len(g.t.cols))
	if g.t.schema == pgCatalogSchema {
		for i, c := range g.t.cols {
			row[i] = zeroDatum(c.typ)
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		name, _ := kv[i].(string)
		ord, ok := g.t.index[name]
		if !ok {
			return fmt.Errorf("catalog table %s has no column %q", g.t.name, name)
		}
		d, err := catalogDatum(g.t.cols[ord].typ, kv[i+1])
		if err != nil {
			return fmt.Errorf("catalog table %s, column %s: %w", g.t.name, name, err)
		}
		row[ord] = d
	}
	g.rows = append(g.rows, row)
	return nil
}

func zeroDatum(t types.T) types.Datum {
	switch t.Family {
	case types.BoolFamily:
		return false
	case types.IntFamily:
		return int64(0)
	case types.FloatFamily:
		return float64(0)
	case types.OIDFamily:
		return types.Oid{}
	case types.StringFamily:
		if t.StringKind == types.NameString || t.StringKind == types.QCharString {
			return ""
		}
	}
	return nil
}

// catalogDatum converts a Go value to a datum of type t.
func catalogDatum(t types.T, v any) (types.Datum, error) {
	if v == nil {
		return nil, nil
	}
	switch t.Family {
	case types.OIDFamily:
		switch x := v.(type) {
		case uint32:
			return types.Oid{ID: x}, nil
		case types.Oid:
			return x, nil
		case int:
			return types.Oid{ID: uint32(x)}, nil
		case string: // a reg* value known by name only (typinput's function names)
			return types.Oid{Name: x}, nil
		}
	case types.IntFamily:
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case uint32:
			return int64(x), nil
		}
	case types.FloatFamily:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		}
	case types.BoolFamily:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case types.StringFamily:
		switch x := v.(type) {
		case string:
			return x, nil
		case byte:
			return string(x), nil
		}
	case types.TimestampTZFamily, types.TimestampFamily:
		if x, ok := v.(time.Time); ok {
			return x, nil
		}
	case types.ArrayFamily:
		elem := t.ElemType()
		var elems []types.Datum
		switch x := v.(type) {
		case types.Array:
			return x, nil
		case []string:
			for _, s := range x {
				elems = append(elems, s)
			}
		case []int64:
			for _, n := range x {
				elems = append(elems, n)
			}
		case []uint32:
			for _, n := range x {
				d, err := catalogDatum(elem, n)
				if err != nil {
					return nil, err
				}
				elems = append(elems, d)
			}
		default:
			return nil, fmt.Errorf("cannot make a %s of %T", t, v)
		}
		return types.Array{Elems: elems}, nil
	}
	return nil, fmt.Errorf("cannot make a %s of %T", t, v)
}

// lookupVirtual resolves pg_catalog.x and information_schema.x, and an unqualified name of
// a pg_catalog table (pg_catalog is implicitly first on PostgreSQL's search path) unless a
// table of the current database has that name.
func (p *planner) lookupVirtual(tn *ast.TableName) (*virtualTable, error) {
	schema := strings.ToLower(tn.Schema.O)
	switch schema {
	case pgCatalogSchema, infoSchemaSchema:
		t, ok := catalogTables[schema][tn.Name.O]
		if !ok {
			return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s.%s\" does not exist", schema, tn.Name.O)
		}
		return t.virtual(), nil
	case "":
		t, ok := catalogTables[pgCatalogSchema][tn.Name.O]
		if !ok {
			return nil, nil
		}
		if _, err := p.s.resolveTable(p.ctx, p.txn, tn); err == nil || pgerror.Code(err) == pgerror.CodeWrongObjectType {
			return nil, nil // the real table (or view) wins
		} else if pgerror.Code(err) != pgerror.CodeUndefinedTable {
			return nil, err
		}
		return t.virtual(), nil
	}
	return nil, nil
}

// catalogSnapshot is what the catalog tables of one statement are computed from, read once
// in its transaction.
type catalogSnapshot struct {
	user     string
	database *catalog.Database
	dbs      []*catalog.Database
	// tables and sequences are the current database's, by ID.
	tables     []*catalog.Table
	tableByID  map[uint32]*catalog.Table
	sequences  []*catalog.Sequence
	views      []*catalog.View
	schemas    []*catalog.Schema
	roles      []*catalog.Role
	roleByOID  map[uint32]*catalog.Role
	namespaces []namespaceInfo
	// relations are every relation of the current database (tables, their indexes,
	// sequences) and the catalog tables, each with its columns; relByName finds them by
	// namespace OID, then name.
	relations []*relationInfo
	relByOID  map[uint32]*relationInfo
	relByName map[uint32]map[string]*relationInfo
	// path is the session's search_path, as schema names.
	path       []string
	acting     []string
	superuser  bool
	rows       map[*catalogTable][][]types.Datum
	vars       map[string]string
	sessionPID int64
	// constraints of every table, made on first use (constraintList).
	constraintsOnce sync.Once
	constraints     []*constraintInfo
	conByTable      map[uint32][]*constraintInfo
}

// catalogSnapshot returns the statement's snapshot, reading it the first time.
func (x *execCtx) catalogSnapshot(ctx context.Context) (*catalogSnapshot, error) {
	if x.pgCatalog != nil {
		return x.pgCatalog, nil
	}
	s := x.session
	cat := s.srv.cat
	snap := &catalogSnapshot{user: s.user, tableByID: map[uint32]*catalog.Table{}, roleByOID: map[uint32]*catalog.Role{},
		relByOID: map[uint32]*relationInfo{}, relByName: map[uint32]map[string]*relationInfo{},
		rows: map[*catalogTable][][]types.Datum{}, vars: s.vars, superuser: s.superuser(), path: s.searchPath()}
	dbs, _, err := cat.Descriptors(ctx, x.txn)
	if err != nil {
		return nil, err
	}
	sort.Slice(dbs, func(i, j int) bool { return dbs[i].ID < dbs[j].ID })
	snap.dbs = dbs
	for _, d := range dbs {
		if d.Name == s.database {
			snap.database = d
		}
	}
	if snap.database == nil {
		return nil, pgerror.New(pgerror.CodeInvalidCatalogName, "database %q does not exist", s.database)
	}
	objs, err := cat.ObjectsOf(ctx, x.txn, snap.database.ID)
	if err != nil {
		return nil, err
	}
	snap.tables, snap.sequences, snap.schemas, snap.views = objs.Tables, objs.Sequences, objs.Schemas, objs.Views
	sort.Slice(snap.views, func(i, j int) bool { return snap.views[i].ID < snap.views[j].ID })
	sort.Slice(snap.tables, func(i, j int) bool { return snap.tables[i].ID < snap.tables[j].ID })
	sort.Slice(snap.sequences, func(i, j int) bool { return snap.sequences[i].ID < snap.sequences[j].ID })
	sort.Slice(snap.schemas, func(i, j int) bool { return snap.schemas[i].ID < snap.schemas[j].ID })
	for _, t := range snap.tables {
		snap.tableByID[t.ID] = t
	}
	if snap.roles, err = cat.ListRoles(ctx, x.txn); err != nil {
		return nil, err
	}
	for _, r := range snap.roles {
		snap.roleByOID[roleOID(r.Name)] = r
	}
	if snap.acting, err = cat.ActingRoles(ctx, x.txn, s.user, 0); err != nil {
		return nil, err
	}
	snap.namespaces = snapshotNamespaces(snap)
	snap.relations = snapshotRelations(snap)
	for _, r := range snap.relations {
		snap.relByOID[r.oid] = r
		byName := snap.relByName[r.ns]
		if byName == nil {
			byName = map[string]*relationInfo{}
			snap.relByName[r.ns] = byName
		}
		byName[r.name] = r
	}
	snap.sessionPID = s.backendPID()
	x.pgCatalog = snap
	return snap, nil
}

// namespaceInfo is a schema.
type namespaceInfo struct {
	oid   uint32
	name  string
	owner string
	// acl is a schema's grants; nil for the built-in ones.
	acl *privilege.ACL
}

// schemaOID is the namespace OID of the schema with descriptor ID id: public's is
// PostgreSQL's, a created schema's its descriptor ID, unless that is one of the built-in
// namespaces' OIDs (descriptor IDs start at 100, so only 2200 can be), which moves to a
// range no descriptor ID reaches.
func schemaOID(id uint32) uint32 {
	switch id {
	case catalog.PublicSchemaID, 0:
		return namespacePublic
	case namespacePgCatalog, namespaceInfoSchema, namespaceToast, namespacePublic:
		return 1<<29 | id
	}
	return id
}

// snapshotNamespaces lists the schemas of the current database: the built-in ones, then
// those made by CREATE SCHEMA.
func snapshotNamespaces(s *catalogSnapshot) []namespaceInfo {
	out := []namespaceInfo{
		{oid: namespacePgCatalog, name: pgCatalogSchema, owner: privilege.Root},
		{oid: namespaceToast, name: "pg_toast", owner: privilege.Root},
		{oid: namespacePublic, name: publicSchema, owner: privilege.Root},
		{oid: namespaceInfoSchema, name: infoSchemaSchema, owner: privilege.Root},
	}
	for _, sc := range s.schemas {
		acl := sc.Privileges()
		out = append(out, namespaceInfo{oid: schemaOID(sc.ID), name: sc.Name, owner: acl.Owner, acl: &acl})
	}
	return out
}

func (s *catalogSnapshot) namespaceByOID(oid uint32) (namespaceInfo, bool) {
	for _, n := range s.namespaces {
		if n.oid == oid {
			return n, true
		}
	}
	return namespaceInfo{}, false
}

func (s *catalogSnapshot) namespaceByName(name string) (namespaceInfo, bool) {
	for _, n := range s.namespaces {
		if n.name == name {
			return n, true
		}
	}
	return namespaceInfo{}, false
}

// schemaName is the name of a relation's namespace.
func (s *catalogSnapshot) schemaName(r *relationInfo) string {
	ns, _ := s.namespaceByOID(r.ns)
	return ns.name
}

// relationInfo is a relation as pg_class, pg_attribute and information_schema show it.
type relationInfo struct {
	oid   uint32
	name  string
	ns    uint32
	kind  byte // pg_class.relkind: 'r' table, 'i' index, 'v' view, 'S' sequence
	owner string
	acl   *privilege.ACL // nil: not subject to grants (the catalogs)
	cols  []columnInfo
	// table is the table itself, or the table an index belongs to.
	table *catalog.Table
	index *indexInfo
	seq   *catalog.Sequence
	view  *catalog.View
	// vt is the catalog table, for the catalogs' own relations.
	vt *catalogTable
}

// columnInfo is a column of a relation (pg_attribute).
type columnInfo struct {
	num     int // attnum, from 1
	name    string
	typ     types.T
	notNull bool
	// def is the DEFAULT expression as stored, "" for none (and for an identity column,
	// whose values come from its sequence, as PostgreSQL has no pg_attrdef row for it).
	def      string
	identity string // pg_attribute.attidentity: "", "a" or "d"
	id       uint32 // the table column's ID
}

// indexInfo is an index of a table.
type indexInfo struct {
	oid    uint32
	name   string
	table  *catalog.Table
	cols   []uint32 // key column IDs in key order
	desc   []bool
	stored []uint32 // INCLUDE column IDs
	unique bool
	// primary marks the primary key; constraint a unique index made by a UNIQUE
	// constraint, which pg_constraint lists.
	primary, constraint bool
}

// attNums lists the table attnums of the index's columns: the key columns, then the
// INCLUDE columns (pg_index.indkey).
func (idx *indexInfo) attNums() []int64 {
	return columnNumbers(idx.table, append(append([]uint32(nil), idx.cols...), idx.stored...))
}

// constraintInfo is a table constraint (pg_constraint).
type constraintInfo struct {
	oid   uint32
	name  string
	kind  byte // 'p' primary key, 'u' unique, 'c' check, 'f' foreign key
	table *catalog.Table
	ns    uint32
	cols  []uint32 // the constrained columns' IDs (for a CHECK, those it reads)
	// index is the index of a primary key or unique constraint, and for a foreign key the
	// referenced table's unique index it relies on (pg_constraint.conindid).
	index *indexInfo
	// check is a CHECK constraint's expression as stored; refTable and refCols what a
	// foreign key references, with its actions (pg_constraint's confupdtype, confdeltype
	// codes).
	check              string
	refTable           *catalog.Table
	refCols            []uint32
	onUpdate, onDelete byte
}

// tableIndexes lists a table's indexes that queries may read: its primary key, unless it
// is the hidden row ID PostgreSQL would not have, and its public secondary indexes (those
// being built or dropped do not exist yet, or any more, for the catalogs).
func tableIndexes(t *catalog.Table) []*indexInfo {
	var out []*indexInfo
	if hasVisiblePrimaryKey(t) {
		out = append(out, &indexInfo{oid: indexOID(t.ID, 1), name: t.PrimaryKeyName(), table: t, cols: t.PrimaryKey,
			desc: t.PrimaryKeyDesc, unique: true, primary: true})
	}
	for i := range t.Indexes {
		idx := &t.Indexes[i]
		if !idx.Readable() {
			continue
		}
		out = append(out, &indexInfo{oid: indexOID(t.ID, idx.ID), name: idx.Name, table: t, cols: idx.ColumnIDs,
			desc: idx.ColumnDesc, stored: idx.StoredColumnIDs, unique: idx.Unique, constraint: idx.Unique && idx.Constraint})
	}
	return out
}

func hasVisiblePrimaryKey(t *catalog.Table) bool {
	for _, o := range t.PrimaryKeyOrdinals() {
		if o < 0 || t.Columns[o].Hidden {
			return false
		}
	}
	return len(t.PrimaryKey) > 0
}

// referenceActionCodes are pg_constraint's letters for the foreign key actions.
var referenceActionCodes = map[catalog.ReferenceAction]byte{catalog.NoAction: 'a', catalog.Restrict: 'r',
	catalog.Cascade: 'c', catalog.SetNull: 'n', catalog.SetDefault: 'd'}

// constraintList returns every constraint of the database's tables, table by table.
func (s *catalogSnapshot) constraintList() []*constraintInfo {
	s.constraintsOnce.Do(func() {
		s.conByTable = map[uint32][]*constraintInfo{}
		for _, t := range s.tables {
			cons := s.makeTableConstraints(t)
			s.conByTable[t.ID] = cons
			s.constraints = append(s.constraints, cons...)
		}
	})
	return s.constraints
}

// tableConstraints lists a table's constraints.
func (s *catalogSnapshot) tableConstraints(t *catalog.Table) []*constraintInfo {
	s.constraintList()
	return s.conByTable[t.ID]
}

// makeTableConstraints lists a table's constraints: its primary key, its UNIQUE
// constraints, CHECK constraints and foreign keys, in that order, which numbers their OIDs.
func (s *catalogSnapshot) makeTableConstraints(t *catalog.Table) []*constraintInfo {
	var out []*constraintInfo
	ns := schemaOID(t.ParentSchemaID())
	add := func(c *constraintInfo) {
		c.oid, c.table, c.ns = constraintOID(t.ID, len(out)), t, ns
		out = append(out, c)
	}
	for _, idx := range tableIndexes(t) {
		switch {
		case idx.primary:
			add(&constraintInfo{name: idx.name, kind: 'p', cols: idx.cols, index: idx})
		case idx.constraint:
			add(&constraintInfo{name: idx.name, kind: 'u', cols: idx.cols, index: idx})
		}
	}
	for _, c := range t.Checks {
		ci := &constraintInfo{name: c.Name, kind: 'c', check: c.Expr}
		if e, err := parseCheck(&c); err == nil {
			for _, name := range columnNamesIn(e) {
				if col, _, ok := t.ColumnByName(name); ok {
					ci.cols = append(ci.cols, col.ID)
				}
			}
		}
		add(ci)
	}
	for _, fk := range t.ForeignKeys {
		ref := s.tableByID[fk.ReferencedTable]
		if ref == nil {
			continue // in another database: cannot be, but the catalogs must not fail on it
		}
		ci := &constraintInfo{name: fk.Name, kind: 'f', cols: fk.Columns, refTable: ref, refCols: fk.ReferencedColumns,
			onUpdate: referenceActionCodes[fk.OnUpdate], onDelete: referenceActionCodes[fk.OnDelete]}
		ci.index = uniqueIndexOn(ref, fk.ReferencedColumns)
		add(ci)
	}
	return out
}

// uniqueIndexOn finds the unique index of t whose key is exactly cols (in any order), as
// PostgreSQL finds the index a foreign key relies on.
func uniqueIndexOn(t *catalog.Table, cols []uint32) *indexInfo {
	for _, idx := range tableIndexes(t) {
		if idx.unique && sameColumnSet(idx.cols, cols) {
			return idx
		}
	}
	return nil
}

func sameColumnSet(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

// referencedConstraint is the primary key or unique constraint a foreign key's referenced
// columns make up, for information_schema; nil when there is none.
func (s *catalogSnapshot) referencedConstraint(fk *constraintInfo) *constraintInfo {
	for _, c := range s.tableConstraints(fk.refTable) {
		if (c.kind == 'p' || c.kind == 'u') && sameColumnSet(c.cols, fk.refCols) {
			return c
		}
	}
	return nil
}

// identityCodes are pg_attribute.attidentity's letters.
var identityCodes = map[string]string{catalog.IdentityAlways: "a", catalog.IdentityByDefault: "d"}

// tableColumns lists a table's visible columns as pg_attribute numbers them: by position,
// as RowDescription does.
func tableColumns(t *catalog.Table) []columnInfo {
	var out []columnInfo
	for i, c := range t.Columns {
		if c.Hidden {
			continue
		}
		ci := columnInfo{num: i + 1, name: c.Name, typ: c.Type, notNull: !c.Nullable || t.IsPrimaryKeyColumn(c.ID), def: c.Default, id: c.ID}
		if c.Identity != "" {
			ci.identity, ci.def, ci.notNull = identityCodes[c.Identity], "", true
		}
		out = append(out, ci)
	}
	return out
}

// sequenceColumns are the columns of a sequence relation, as in PostgreSQL.
var sequenceColumns = []columnInfo{
	{num: 1, name: "last_value", typ: types.Int8, notNull: true},
	{num: 2, name: "log_cnt", typ: types.Int8, notNull: true},
	{num: 3, name: "is_called", typ: types.Bool, notNull: true},
}

// snapshotRelations lists the relations of the current database and of the catalogs.
func snapshotRelations(s *catalogSnapshot) []*relationInfo {
	var out []*relationInfo
	for _, t := range s.tables {
		acl := t.Privileges()
		rel := &relationInfo{oid: t.ID, name: t.Name, ns: schemaOID(t.ParentSchemaID()), kind: 'r', owner: acl.Owner, acl: &acl,
			table: t, cols: tableColumns(t)}
		out = append(out, rel)
		for _, idx := range tableIndexes(t) {
			ir := &relationInfo{oid: idx.oid, name: idx.name, ns: rel.ns, kind: 'i', owner: acl.Owner, table: t, index: idx}
			for k, id := range append(append([]uint32(nil), idx.cols...), idx.stored...) {
				o := t.ColumnOrdinal(id)
				ir.cols = append(ir.cols, columnInfo{num: k + 1, name: t.Columns[o].Name, typ: t.Columns[o].Type, id: id})
			}
			out = append(out, ir)
		}
	}
	for _, seq := range s.sequences {
		acl := seq.Privileges()
		out = append(out, &relationInfo{oid: seq.ID, name: seq.Name, ns: schemaOID(seq.ParentSchemaID()), kind: 'S',
			owner: acl.Owner, acl: &acl, seq: seq, cols: sequenceColumns})
	}
	for _, v := range s.views {
		acl := v.Privileges()
		rel := &relationInfo{oid: v.ID, name: v.Name, ns: schemaOID(v.ParentSchemaID()), kind: 'v', owner: acl.Owner, acl: &acl, view: v}
		for i, c := range v.Columns {
			rel.cols = append(rel.cols, columnInfo{num: i + 1, name: c.Name, typ: c.Type})
		}
		out = append(out, rel)
	}
	for _, vt := range catalogTableList {
		ns := namespacePgCatalog
		if vt.schema == infoSchemaSchema {
			ns = namespaceInfoSchema
		}
		rel := &relationInfo{oid: vt.oid, name: vt.name, ns: ns, kind: vt.kind, owner: privilege.Root, vt: vt}
		for i, c := range vt.cols {
			rel.cols = append(rel.cols, columnInfo{num: i + 1, name: c.name, typ: c.typ})
		}
		out = append(out, rel)
	}
	return out
}

// viewDefinition is a view's body as pg_views, pg_get_viewdef and information_schema.views
// show it: as its creator wrote it, in the shape of PostgreSQL's (a leading space, a
// closing semicolon), which clients print as they get it.
func viewDefinition(v *catalog.View) string {
	return " " + v.Definition + ";"
}

// pathNamespaces are the namespaces an unqualified name is looked up in, in order:
// pg_catalog first unless the search path places it, then the search path's schemas that
// exist.
func (s *catalogSnapshot) pathNamespaces() []uint32 {
	var out []uint32
	explicit := false
	for _, p := range s.path {
		explicit = explicit || p == pgCatalogSchema
	}
	if !explicit {
		out = append(out, namespacePgCatalog)
	}
	for _, p := range s.path {
		if ns, ok := s.namespaceByName(p); ok {
			out = append(out, ns.oid)
		}
	}
	return out
}

// relationVisible reports whether a relation is visible on the search path: its bare name
// finds it, no relation of that name coming first (pg_table_is_visible).
func (s *catalogSnapshot) relationVisible(r *relationInfo) bool {
	for _, ns := range s.pathNamespaces() {
		if found, ok := s.relByName[ns][r.name]; ok {
			return found == r
		}
	}
	return false
}

// searchPath is the session's search_path as a list of schema names.
func (s *catalogSnapshot) searchPath() []string { return s.path }

// relationByName resolves a relation name as regclass input does: "name" on the search
// path (pg_catalog first), or "schema.name".
func (s *catalogSnapshot) relationByName(name string) (*relationInfo, bool) {
	schema, rel, err := splitQualifiedName(name)
	if err != nil {
		return nil, false
	}
	path := s.pathNamespaces()
	if schema != "" {
		ns, ok := s.namespaceByName(schema)
		if !ok {
			return nil, false
		}
		path = []uint32{ns.oid}
	}
	for _, ns := range path {
		if r, ok := s.relByName[ns][rel]; ok {
			return r, true
		}
	}
	return nil, false
}

// splitQualifiedName reads "a", "a.b", `"A"."b"` as PostgreSQL reads a name in text:
// unquoted parts fold to lower case.
func splitQualifiedName(s string) (schema, name string, err error) {
	var parts []string
	var cur strings.Builder
	quoted, inQuotes := false, false
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			inQuotes = !inQuotes
			quoted = true
		case !inQuotes && c == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		case !inQuotes && !quoted && c >= 'A' && c <= 'Z':
			cur.WriteByte(c + 'a' - 'A')
		default:
			cur.WriteByte(c)
		}
		if c == '.' && !inQuotes {
			quoted = false
		}
	}
	if inQuotes {
		return "", "", pgerror.New(pgerror.CodeInvalidName, "invalid name syntax")
	}
	parts = append(parts, cur.String())
	switch len(parts) {
	case 1:
		return "", parts[0], nil
	case 2:
		return parts[0], parts[1], nil
	}
	return "", "", pgerror.New(pgerror.CodeInvalidName, "improper relation name (too many dotted names): %s", s)
}

// qualifiedRelationName is the name regclass output shows: bare when visible, else
// qualified.
func (s *catalogSnapshot) qualifiedRelationName(r *relationInfo) string {
	if s.relationVisible(r) {
		return quoteIdentIfNeeded(r.name)
	}
	ns, _ := s.namespaceByOID(r.ns)
	return quoteIdentIfNeeded(ns.name) + "." + quoteIdentIfNeeded(r.name)
}

// quoteIdentIfNeeded quotes an identifier as quote_ident does.
func quoteIdentIfNeeded(s string) string { return quoteIdent(s) }

// tableVisibleTo reports whether the session may see a table's rows, for the
// information_schema views, which show only what the user has some privilege on.
func (s *catalogSnapshot) tableVisibleTo(r *relationInfo) bool {
	if r.acl == nil || s.superuser {
		return true
	}
	if r.acl.Allows(s.acting, privilege.TableAll) {
		return true
	}
	for _, k := range []privilege.Kind{privilege.Select, privilege.Insert, privilege.Update, privilege.Delete} {
		if r.acl.Allows(s.acting, k) {
			return true
		}
	}
	return false
}

// sequenceType is a sequence's data type, which the descriptor does not keep: a SERIAL or
// identity column's sequence has the column's type; another is integer or smallint when
// its bounds are that type's (as CREATE SEQUENCE ... AS makes them), else bigint.
func (s *catalogSnapshot) sequenceType(seq *catalog.Sequence) types.T {
	if o := seq.OwnedBy; o != nil {
		if t := s.tableByID[o.TableID]; t != nil {
			if c, ok := t.ColumnByID(o.ColumnID); ok && c.Type.Family == types.IntFamily {
				return c.Type
			}
		}
	}
	for _, t := range []types.T{types.Int2, types.Int4} {
		_, lo, hi, err := sequenceTypeBounds(t.String())
		if err == nil && (seq.Max == hi || seq.Min == lo) {
			return t
		}
	}
	return types.Int8
}

// ownedSequence is the relation of the sequence table t owns for the column with ID col
// (a SERIAL or identity column's), nil if none.
func (s *catalogSnapshot) ownedSequence(t *catalog.Table, col uint32) *relationInfo {
	for _, o := range t.OwnedSequences {
		if o.ColumnID == col {
			if r, ok := s.relByOID[o.SequenceID]; ok && r.seq != nil {
				return r
			}
		}
	}
	return nil
}

// isIdentitySequence reports whether seq belongs to an identity column (not SERIAL).
func (s *catalogSnapshot) isIdentitySequence(seq *catalog.Sequence) bool {
	if o := seq.OwnedBy; o != nil {
		if t := s.tableByID[o.TableID]; t != nil {
			c, ok := t.ColumnByID(o.ColumnID)
			return ok && c.Identity != ""
		}
	}
	return false
}
