package sql

import (
	"sort"
	"strings"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
)

// The tables of pg_catalog, with PostgreSQL's column names and types (where Meridian lacks
// a type, the closest stands in: aclitem[] is text[], int2vector int2[], pg_node_tree text).
// Catalogs of features Meridian lacks (triggers, policies, publications, ...) exist with no
// rows, so that the queries of clients that look at them run.

// Well-known OIDs of PostgreSQL's catalog contents.
const (
	amHeap            uint32 = 2
	amBtree           uint32 = 403
	collationDefault  uint32 = 100
	collationC        uint32 = 950
	tablespaceDefault uint32 = 1663
	tablespaceGlobal  uint32 = 1664
	// encodingUTF8 is pg_database.encoding for UTF8.
	encodingUTF8 = 6
	// The pg_class OIDs of catalogs, which pg_description.classoid and friends name.
	classPgClass = 1259
)

// builtinType is a row of pg_type.
type builtinType struct {
	oid       uint32
	name      string
	t         types.T // the Meridian type; Family Unknown for pseudo-types
	length    int16
	typtype   byte // 'b' base, 'p' pseudo
	category  byte
	preferred bool
	io        string // stem of the I/O functions: io+"in", io+"out", ...
	align     byte
	storage   byte
	elem      uint32
	array     uint32
	collation uint32
}

var (
	builtinTypeList    []builtinType
	builtinTypesByOID  = map[uint32]*builtinType{}
	builtinTypesByName = map[string]*builtinType{}
)

func init() {
	base := []struct {
		t         types.T
		category  byte
		preferred bool
		io        string
		align     byte
		storage   byte
	}{
		{types.Bool, 'B', true, "bool", 'c', 'p'},
		{types.Bytes, 'U', false, "bytea", 'i', 'x'},
		{types.QChar, 'Z', false, "char", 'c', 'p'},
		{types.Name, 'S', false, "name", 'c', 'p'},
		{types.Int8, 'N', false, "int8", 'd', 'p'},
		{types.Int2, 'N', false, "int2", 's', 'p'},
		{types.Int4, 'N', false, "int4", 'i', 'p'},
		{types.RegProcT, 'N', false, "regproc", 'i', 'p'},
		{types.String, 'S', true, "text", 'i', 'x'},
		{types.OidT, 'N', true, "oid", 'i', 'p'},
		{types.JSONT, 'U', false, "json_", 'i', 'x'},
		{types.Float4, 'N', false, "float4", 'i', 'p'},
		{types.Float8, 'N', true, "float8", 'd', 'p'},
		{types.Unknown, 'X', false, "unknown", 'c', 'p'},
		{types.T{Family: types.StringFamily, StringKind: types.Char}, 'S', false, "bpchar", 'i', 'x'},
		{types.T{Family: types.StringFamily, StringKind: types.VarChar}, 'S', false, "varchar", 'i', 'x'},
		{types.Date, 'D', false, "date_", 'i', 'p'},
		{types.Time, 'D', false, "time_", 'd', 'p'},
		{types.Timestamp, 'D', false, "timestamp_", 'd', 'p'},
		{types.TimestampTZ, 'D', true, "timestamptz_", 'd', 'p'},
		{types.IntervalT, 'T', true, "interval_", 'd', 'p'},
		{types.Numeric, 'N', false, "numeric_", 'i', 'm'},
		{types.T{Family: types.OIDFamily, OIDKind: types.RegProcedure}, 'N', false, "regprocedure", 'i', 'p'},
		{types.RegClassT, 'N', false, "regclass", 'i', 'p'},
		{types.RegTypeT, 'N', false, "regtype", 'i', 'p'},
		{types.UUIDType, 'U', false, "uuid_", 'c', 'p'},
		{types.JSONB, 'U', false, "jsonb_", 'i', 'x'},
		{types.RegNamespaceT, 'N', false, "regnamespace", 'i', 'p'},
		{types.RegRoleT, 'N', false, "regrole", 'i', 'p'},
	}
	for _, b := range base {
		oid := b.t.OID()
		name := shortTypeName(b.t)
		if b.t.Family == types.UnknownFamily {
			name = "unknown"
		}
		bt := builtinType{oid: oid, name: name, t: b.t, length: b.t.Size(), typtype: 'b', category: b.category,
			preferred: b.preferred, io: b.io, align: b.align, storage: b.storage}
		if b.t.Family == types.StringFamily && b.t.StringKind != types.QCharString {
			bt.collation = collationDefault
			if b.t.StringKind == types.NameString {
				bt.collation = collationC
			}
		}
		if b.t.Family != types.UnknownFamily {
			at := types.ArrayOf(b.t)
			bt.array = at.OID()
			align := byte('i')
			if b.align == 'd' {
				align = 'd'
			}
			builtinTypeList = append(builtinTypeList, builtinType{oid: bt.array, name: "_" + name, t: at, length: -1, typtype: 'b',
				category: 'A', io: "array_", align: align, storage: 'x', elem: oid, collation: bt.collation})
		}
		builtinTypeList = append(builtinTypeList, bt)
	}
	for _, p := range []builtinType{
		{oid: 2249, name: "record", length: -1, io: "record_", align: 'd', storage: 'x'},
		{oid: 2275, name: "cstring", length: -2, io: "cstring_", align: 'c', storage: 'p'},
		{oid: 2276, name: "any", length: 4, io: "any_", align: 'i', storage: 'p'},
		{oid: 2277, name: "anyarray", length: -1, io: "anyarray_", align: 'd', storage: 'x'},
		{oid: 2278, name: "void", length: 4, io: "void_", align: 'i', storage: 'p'},
		{oid: 2279, name: "trigger", length: 4, io: "trigger_", align: 'i', storage: 'p'},
		{oid: 2283, name: "anyelement", length: 4, io: "anyelement_", align: 'i', storage: 'p'},
		{oid: 22, name: "int2vector", length: -1, io: "int2vector", align: 'i', storage: 'p', elem: types.OIDInt2},
		{oid: 30, name: "oidvector", length: -1, io: "oidvector", align: 'i', storage: 'p', elem: 26},
		{oid: 194, name: "pg_node_tree", length: -1, io: "pg_node_tree_", align: 'i', storage: 'x', collation: collationDefault},
		{oid: 1033, name: "aclitem", length: 12, io: "aclitem", align: 'i', storage: 'p', array: 1034},
	} {
		p.typtype, p.category = 'p', 'P'
		if p.elem != 0 || p.oid == 194 || p.oid == 1033 {
			p.typtype, p.category = 'b', 'A'
			if p.oid == 194 {
				p.category = 'Z'
			} else if p.oid == 1033 {
				p.category = 'U'
			}
		}
		builtinTypeList = append(builtinTypeList, p)
	}
	sort.Slice(builtinTypeList, func(i, j int) bool { return builtinTypeList[i].oid < builtinTypeList[j].oid })
	for i := range builtinTypeList {
		bt := &builtinTypeList[i]
		builtinTypesByOID[bt.oid] = bt
		builtinTypesByName[bt.name] = bt
	}
}

func builtinTypeByOID(oid uint32) (*builtinType, bool) {
	bt, ok := builtinTypesByOID[oid]
	return bt, ok
}

// builtinTypeByName finds a type by its pg_type name (int4, _text, record, ...).
func builtinTypeByName(name string) (*builtinType, bool) {
	n := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "pg_catalog.")
	bt, ok := builtinTypesByName[strings.Trim(n, `"`)]
	return bt, ok
}

// ioProc is the name of one of a type's I/O functions: in, out, recv or send.
func (bt *builtinType) ioProc(kind string) string { return bt.io + kind }

// builtinProc is a row of pg_proc. Meridian's functions are compiled by name, not looked
// up in a catalog; pg_proc lists some of them, for the clients that probe for a function
// and for regproc casts.
type builtinProc struct {
	oid     uint32
	name    string
	nargs   int
	rettype uint32
	kind    byte // 'f' function, 'a' aggregate, 'w' window
}

func builtinProcs() []builtinProc {
	return []builtinProc{
		{89, "version", 0, types.OIDText, 'f'},
		{870, "lower", 1, types.OIDText, 'f'},
		{871, "upper", 1, types.OIDText, 'f'},
		{1299, "now", 0, types.OIDTimestampTZ, 'f'},
		{1317, "length", 1, types.OIDInt4, 'f'},
		{1081, "format_type", 2, types.OIDText, 'f'},
		{1642, "pg_get_userbyid", 1, types.OIDName, 'f'},
		{2079, "pg_table_is_visible", 1, types.OIDBool, 'f'},
		{2147, "count", 1, types.OIDInt8, 'a'},
		{2108, "sum", 1, types.OIDInt8, 'a'},
		{2116, "max", 1, types.OIDInt4, 'a'},
		{2132, "min", 1, types.OIDInt4, 'a'},
		{2101, "avg", 1, types.OIDNumeric, 'a'},
		{2026, "pg_backend_pid", 0, types.OIDInt4, 'f'},
		{745, "current_user", 0, types.OIDName, 'f'},
		{861, "current_database", 0, types.OIDName, 'f'},
		{1402, "current_schema", 0, types.OIDName, 'f'},
		{3259, "gen_random_uuid", 0, types.OIDUUID, 'f'},
		{1067, "generate_series", 2, types.OIDInt4, 'f'},
		{2331, "unnest", 1, 2283, 'f'},
		{3100, "row_number", 0, types.OIDInt8, 'w'},
	}
}

// aclText renders an ACL as PostgreSQL's aclitem[]: grantee=privileges/grantor, the owner
// first, public as the empty name. letters maps each privilege to its letter. A nil ACL,
// or one with no grants, is NULL: PostgreSQL's default privileges.
func aclText(acl *privilege.ACL, ownerLetters string, letters []aclLetter) any {
	if acl == nil || len(acl.Grants) == 0 {
		return nil
	}
	out := []string{acl.Owner + "=" + ownerLetters + "/" + acl.Owner}
	for _, g := range acl.Grants {
		var sb strings.Builder
		for _, l := range letters {
			if g.Kinds&l.kind != 0 {
				sb.WriteByte(l.letter)
			}
		}
		grantee := g.Grantee
		if grantee == privilege.Public {
			grantee = ""
		}
		out = append(out, grantee+"="+sb.String()+"/"+acl.Owner)
	}
	return out
}

type aclLetter struct {
	kind   privilege.Kind
	letter byte
}

var (
	tableACLLetters    = []aclLetter{{privilege.Insert, 'a'}, {privilege.Select, 'r'}, {privilege.Update, 'w'}, {privilege.Delete, 'd'}}
	sequenceACLLetters = []aclLetter{{privilege.Select, 'r'}, {privilege.Update, 'w'}}
	schemaACLLetters   = []aclLetter{{privilege.Create, 'C'}}
	databaseACLLetters = []aclLetter{{privilege.Create, 'C'}, {privilege.Connect, 'c'}}
)

// typeAttrs are the pg_attribute columns that follow from a column's type.
func typeAttrs(t types.T) (length int16, byval bool, align, storage byte, collation uint32) {
	oid := t.OID()
	if bt, ok := builtinTypeByOID(oid); ok {
		return bt.length, bt.length > 0 && bt.length <= 8, bt.align, bt.storage, bt.collation
	}
	return t.Size(), false, 'i', 'x', 0
}

func init() {
	defineTable(pgCatalogSchema, "pg_database", 'r', `oid oid, datname name, datdba oid, encoding int4, datlocprovider char,
		datistemplate bool, datallowconn bool, datconnlimit int4, datfrozenxid xid, datminmxid xid, dattablespace oid,
		datcollate text, datctype text, daticulocale text, daticurules text, datcollversion text, datacl aclitem[]`,
		func(g *rowGen) error {
			for _, d := range g.snap.dbs {
				acl := d.Privileges()
				if err := g.add("oid", d.ID, "datname", d.Name, "datdba", roleOID(acl.Owner), "encoding", encodingUTF8,
					"datlocprovider", "c", "datallowconn", true, "datconnlimit", -1, "dattablespace", tablespaceDefault,
					"datcollate", "C.UTF-8", "datctype", "C.UTF-8", "datacl", databaseACL(d)); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_namespace", 'r', `oid oid, nspname name, nspowner oid, nspacl aclitem[]`, func(g *rowGen) error {
		for _, ns := range g.snap.namespaces {
			if err := g.add("oid", ns.oid, "nspname", ns.name, "nspowner", roleOID(ns.owner),
				"nspacl", aclText(ns.acl, "UC", schemaACLLetters)); err != nil {
				return err
			}
		}
		return nil
	})
	defineTable(pgCatalogSchema, "pg_class", 'r', `oid oid, relname name, relnamespace oid, reltype oid, reloftype oid,
		relowner oid, relam oid, relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4,
		reltoastrelid oid, relhasindex bool, relisshared bool, relpersistence char, relkind char, relnatts int2,
		relchecks int2, relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool,
		relforcerowsecurity bool, relispopulated bool, relreplident char, relispartition bool, relrewrite oid,
		relfrozenxid xid, relminmxid xid, relacl aclitem[], reloptions text[], relpartbound pg_node_tree`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				am, replident := uint32(0), "n"
				switch r.kind {
				case 'r':
					am, replident = amHeap, "d"
				case 'i':
					am = amBtree
				}
				var acl any
				checks := 0
				hasIndex, hasTriggers := false, false
				switch {
				case r.table != nil && r.kind == 'r':
					acl = aclText(r.acl, "arwdDxt", tableACLLetters)
					hasIndex = len(tableIndexes(r.table)) > 0
					checks = len(r.table.Checks)
					// PostgreSQL enforces foreign keys with triggers on both tables, and psql
					// lists a table's foreign keys, and those referencing it, only when it
					// has triggers.
					hasTriggers = len(r.table.ForeignKeys) > 0 || len(r.table.ReferencedBy) > 0
				case r.kind == 'S':
					acl = aclText(r.acl, "rwU", sequenceACLLetters)
				case r.view != nil:
					acl = aclText(r.acl, "arwdDxt", tableACLLetters)
				}
				if err := g.add("oid", r.oid, "relname", r.name, "relnamespace", r.ns, "relowner", roleOID(r.owner), "relam", am,
					"relfilenode", r.oid, "reltuples", float64(-1), "relhasindex", hasIndex, "relpersistence", "p",
					"relkind", string(r.kind), "relnatts", len(r.cols), "relchecks", checks, "relhastriggers", hasTriggers,
					"relispopulated", true, "relreplident", replident, "relacl", acl); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_attribute", 'r', `attrelid oid, attname name, atttypid oid, attstattarget int4,
		attlen int2, attnum int2, attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attalign char,
		attstorage char, attcompression char, attnotnull bool, atthasdef bool, atthasmissing bool, attidentity char,
		attgenerated char, attisdropped bool, attislocal bool, attinhcount int4, attcollation oid, attacl aclitem[],
		attoptions text[], attfdwoptions text[], attmissingval anyarray`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				for _, c := range r.cols {
					length, byval, align, storage, coll := typeAttrs(c.typ)
					ndims := 0
					if c.typ.Family == types.ArrayFamily {
						ndims = 1
					}
					if err := g.add("attrelid", r.oid, "attname", c.name, "atttypid", c.typ.OID(), "attstattarget", -1,
						"attlen", int(length), "attnum", c.num, "attndims", ndims, "attcacheoff", -1,
						"atttypmod", int(c.typ.TypeModifier()), "attbyval", byval, "attalign", string(align),
						"attstorage", string(storage), "attnotnull", c.notNull, "atthasdef", c.def != "",
						"attidentity", c.identity, "attislocal", true, "attcollation", coll); err != nil {
						return err
					}
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_type", 'r', `oid oid, typname name, typnamespace oid, typowner oid, typlen int2,
		typbyval bool, typtype char, typcategory char, typispreferred bool, typisdefined bool, typdelim char,
		typrelid oid, typsubscript regproc, typelem oid, typarray oid, typinput regproc, typoutput regproc,
		typreceive regproc, typsend regproc, typmodin regproc, typmodout regproc, typanalyze regproc, typalign char,
		typstorage char, typnotnull bool, typbasetype oid, typtypmod int4, typndims int4, typcollation oid,
		typdefaultbin pg_node_tree, typdefault text, typacl aclitem[]`,
		func(g *rowGen) error {
			for i := range builtinTypeList {
				bt := &builtinTypeList[i]
				subscript := ""
				if bt.category == 'A' && bt.elem != 0 {
					subscript = "array_subscript_handler"
				}
				if err := g.add("oid", bt.oid, "typname", bt.name, "typnamespace", namespacePgCatalog, "typowner", rootRoleOID,
					"typlen", int(bt.length), "typbyval", bt.length > 0 && bt.length <= 8, "typtype", string(bt.typtype),
					"typcategory", string(bt.category), "typispreferred", bt.preferred, "typisdefined", true, "typdelim", ",",
					"typsubscript", subscript, "typelem", bt.elem, "typarray", bt.array, "typinput", bt.ioProc("in"),
					"typoutput", bt.ioProc("out"), "typreceive", bt.ioProc("recv"), "typsend", bt.ioProc("send"),
					"typalign", string(bt.align), "typstorage", string(bt.storage), "typtypmod", -1,
					"typcollation", bt.collation); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_index", 'r', `indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2,
		indisunique bool, indnullsnotdistinct bool, indisprimary bool, indisexclusion bool, indimmediate bool,
		indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool, indislive bool, indisreplident bool,
		indkey int2vector, indcollation oidvector, indclass oidvector, indoption int2vector, indexprs pg_node_tree,
		indpred pg_node_tree`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				idx := r.index
				if idx == nil {
					continue
				}
				// indkey lists the key columns, then the INCLUDE ones; the per-column
				// options, collations and operator classes are the key columns' only.
				keys := idx.attNums()
				var options []int64
				var colls, classes []uint32
				for k, id := range idx.cols {
					o := idx.table.ColumnOrdinal(id)
					opt := int64(0)
					if k < len(idx.desc) && idx.desc[k] {
						opt = 3 // INDOPTION_DESC | INDOPTION_NULLS_FIRST, DESC's default
					}
					options = append(options, opt)
					_, _, _, _, coll := typeAttrs(idx.table.Columns[o].Type)
					colls = append(colls, coll)
					classes = append(classes, 0)
				}
				if err := g.add("indexrelid", idx.oid, "indrelid", idx.table.ID, "indnatts", len(keys),
					"indnkeyatts", len(idx.cols), "indisunique", idx.unique, "indisprimary", idx.primary,
					"indimmediate", true, "indisvalid", true, "indisready", true, "indislive", true, "indkey", keys,
					"indcollation", colls, "indclass", classes, "indoption", options); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_constraint", 'r', `oid oid, conname name, connamespace oid, contype char,
		condeferrable bool, condeferred bool, convalidated bool, conrelid oid, contypid oid, conindid oid,
		conparentid oid, confrelid oid, confupdtype char, confdeltype char, confmatchtype char, conislocal bool,
		coninhcount int4, connoinherit bool, conkey int2[], confkey int2[], conpfeqop oid[], conppeqop oid[],
		conffeqop oid[], confdelsetcols int2[], conexclop oid[], conbin pg_node_tree`,
		func(g *rowGen) error {
			for _, c := range g.snap.constraintList() {
				t := c.table
				kv := []any{"oid", c.oid, "conname", c.name, "connamespace", c.ns, "contype", string(c.kind),
					"convalidated", true, "conrelid", t.ID, "conislocal", true, "conkey", columnNumbers(t, c.cols),
					"confupdtype", " ", "confdeltype", " ", "confmatchtype", " "}
				if c.kind == 'c' {
					// A CHECK's conkey lists the columns it reads; conbin is its expression,
					// which pg_get_expr returns as it is.
					kv = append(kv, "conbin", deparseCheck(t, c.check, false))
				}
				if c.index != nil {
					kv = append(kv, "conindid", c.index.oid)
				}
				if c.refTable != nil {
					kv = append(kv, "confrelid", c.refTable.ID, "confkey", columnNumbers(c.refTable, c.refCols),
						"confupdtype", string(c.onUpdate), "confdeltype", string(c.onDelete), "confmatchtype", "s")
				}
				if err := g.add(kv...); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_attrdef", 'r', `oid oid, adrelid oid, adnum int2, adbin pg_node_tree`, func(g *rowGen) error {
		for _, r := range g.snap.relations {
			if r.kind != 'r' || r.table == nil {
				continue
			}
			for _, c := range r.cols {
				if c.def == "" {
					continue
				}
				// An attrdef's OID: the constraint range is per table, and a table has far
				// fewer constraints than 512, so defaults take the upper half.
				if err := g.add("oid", constraintOID(r.table.ID, 512+c.num), "adrelid", r.oid, "adnum", c.num,
					"adbin", g.snap.defaultText(r.table, c)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	empty := func(*rowGen) error { return nil }
	defineTable(pgCatalogSchema, "pg_description", 'r', `objoid oid, classoid oid, objsubid int4, description text`, empty)
	defineTable(pgCatalogSchema, "pg_shdescription", 'r', `objoid oid, classoid oid, description text`, empty)
	defineTable(pgCatalogSchema, "pg_roles", 'v', `rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool,
		rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword text,
		rolvaliduntil timestamptz, rolbypassrls bool, rolconfig text[], oid oid`,
		func(g *rowGen) error {
			for _, r := range g.snap.roles {
				super := r.Name == privilege.Root
				if err := g.add("rolname", r.Name, "rolsuper", super, "rolinherit", true, "rolcreaterole", super,
					"rolcreatedb", super, "rolcanlogin", r.Login, "rolreplication", super, "rolconnlimit", -1,
					"rolpassword", "********", "rolbypassrls", super, "oid", roleOID(r.Name)); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_user", 'v', `usename name, usesysid oid, usecreatedb bool, usesuper bool,
		userepl bool, usebypassrls bool, passwd text, valuntil timestamptz, useconfig text[]`,
		func(g *rowGen) error {
			for _, r := range g.snap.roles {
				if !r.Login {
					continue
				}
				super := r.Name == privilege.Root
				if err := g.add("usename", r.Name, "usesysid", roleOID(r.Name), "usecreatedb", super, "usesuper", super,
					"userepl", super, "usebypassrls", super, "passwd", "********"); err != nil {
					return err
				}
			}
			return nil
		})
	// pg_authid is pg_roles with the password column, which here is always NULL: the SCRAM
	// verifier is a secret the catalogs do not show, to anyone.
	defineTable(pgCatalogSchema, "pg_authid", 'r', `oid oid, rolname name, rolsuper bool, rolinherit bool,
		rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolbypassrls bool,
		rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz`,
		func(g *rowGen) error {
			for _, r := range g.snap.roles {
				super := r.Name == privilege.Root
				if err := g.add("oid", roleOID(r.Name), "rolname", r.Name, "rolsuper", super, "rolinherit", true,
					"rolcreaterole", super, "rolcreatedb", super, "rolcanlogin", r.Login, "rolreplication", super,
					"rolbypassrls", super, "rolconnlimit", -1); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_auth_members", 'r', `roleid oid, member oid, grantor oid, admin_option bool`,
		func(g *rowGen) error {
			for _, r := range g.snap.roles {
				for _, m := range r.MemberOf {
					if err := g.add("roleid", roleOID(m), "member", roleOID(r.Name), "grantor", rootRoleOID); err != nil {
						return err
					}
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_settings", 'v', `name text, setting text, unit text, category text,
		short_desc text, extra_desc text, context text, vartype text, source text, min_val text, max_val text,
		enumvals text[], boot_val text, reset_val text, sourcefile text, sourceline int4, pending_restart bool`,
		func(g *rowGen) error {
			names := make([]string, 0, len(g.snap.vars))
			for k := range g.snap.vars {
				names = append(names, k)
			}
			sort.Strings(names)
			defaults := defaultVarValues()
			for _, k := range names {
				v := g.snap.vars[k]
				vartype := "string"
				if v == "on" || v == "off" {
					vartype = "bool"
				}
				source := "default"
				if v != defaults[k] {
					source = "session"
				}
				if err := g.add("name", k, "setting", v, "category", "Meridian", "short_desc", "", "context", "user",
					"vartype", vartype, "source", source, "boot_val", defaults[k], "reset_val", defaults[k]); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_am", 'r', `oid oid, amname name, amhandler regproc, amtype char`, func(g *rowGen) error {
		if err := g.add("oid", amHeap, "amname", "heap", "amhandler", "heap_tableam_handler", "amtype", "t"); err != nil {
			return err
		}
		return g.add("oid", amBtree, "amname", "btree", "amhandler", "bthandler", "amtype", "i")
	})
	defineTable(pgCatalogSchema, "pg_proc", 'r', `oid oid, proname name, pronamespace oid, proowner oid, prolang oid,
		procost float4, prorows float4, provariadic oid, prosupport regproc, prokind char, prosecdef bool,
		proleakproof bool, proisstrict bool, proretset bool, provolatile char, proparallel char, pronargs int2,
		pronargdefaults int2, prorettype oid, proargtypes oidvector, proallargtypes oid[], proargmodes char[],
		proargnames text[], proargdefaults pg_node_tree, protrftypes oid[], prosrc text, probin text,
		prosqlbody pg_node_tree, proconfig text[], proacl aclitem[]`,
		func(g *rowGen) error {
			for _, p := range builtinProcs() {
				if err := g.add("oid", p.oid, "proname", p.name, "pronamespace", namespacePgCatalog, "proowner", rootRoleOID,
					"prolang", 12, "procost", 1, "prokind", string(p.kind), "proisstrict", true, "provolatile", "s",
					"proparallel", "s", "pronargs", p.nargs, "prorettype", p.rettype, "proargtypes", []uint32{},
					"prosrc", p.name); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_range", 'r', `rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid,
		rngsubopc oid, rngcanonical regproc, rngsubdiff regproc`, empty)
	defineTable(pgCatalogSchema, "pg_enum", 'r', `oid oid, enumtypid oid, enumsortorder float4, enumlabel name`, empty)
	defineTable(pgCatalogSchema, "pg_inherits", 'r', `inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool`, empty)
	defineTable(pgCatalogSchema, "pg_tablespace", 'r', `oid oid, spcname name, spcowner oid, spcacl aclitem[], spcoptions text[]`,
		func(g *rowGen) error {
			if err := g.add("oid", tablespaceDefault, "spcname", "pg_default", "spcowner", rootRoleOID); err != nil {
				return err
			}
			return g.add("oid", tablespaceGlobal, "spcname", "pg_global", "spcowner", rootRoleOID)
		})
	defineTable(pgCatalogSchema, "pg_collation", 'r', `oid oid, collname name, collnamespace oid, collowner oid,
		collprovider char, collisdeterministic bool, collencoding int4, collcollate text, collctype text,
		colliculocale text, collicurules text, collversion text`,
		func(g *rowGen) error {
			for _, c := range []struct {
				oid        uint32
				name, prov string
				locale     any
			}{{collationDefault, "default", "d", nil}, {collationC, "C", "c", "C"}, {951, "POSIX", "c", "POSIX"}} {
				if err := g.add("oid", c.oid, "collname", c.name, "collnamespace", namespacePgCatalog, "collowner", rootRoleOID,
					"collprovider", c.prov, "collisdeterministic", true, "collencoding", -1, "collcollate", c.locale,
					"collctype", c.locale); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_extension", 'r', `oid oid, extname name, extowner oid, extnamespace oid,
		extrelocatable bool, extversion text, extconfig oid[], extcondition text[]`, empty)
	defineTable(pgCatalogSchema, "pg_stat_activity", 'v', `datid oid, datname name, pid int4, leader_pid int4,
		usesysid oid, usename name, application_name text, client_addr inet, client_hostname text, client_port int4,
		backend_start timestamptz, xact_start timestamptz, query_start timestamptz, state_change timestamptz,
		wait_event_type text, wait_event text, state text, backend_xid xid, backend_xmin xid, query_id int8,
		query text, backend_type text`,
		func(g *rowGen) error {
			// This session only: sessions are not tracked across the node.
			s := g.snap
			return g.add("datid", s.database.ID, "datname", s.database.Name, "pid", s.sessionPID, "usesysid", roleOID(s.user),
				"usename", s.user, "application_name", s.vars["application_name"], "state", "active",
				"query_start", g.x.ec.txnTime, "xact_start", g.x.ec.txnTime, "backend_type", "client backend")
		})
	defineTable(pgCatalogSchema, "pg_policy", 'r', `oid oid, polname name, polrelid oid, polcmd char, polpermissive bool,
		polroles oid[], polqual pg_node_tree, polwithcheck pg_node_tree`, empty)
	defineTable(pgCatalogSchema, "pg_statistic_ext", 'r', `oid oid, stxrelid oid, stxname name, stxnamespace oid,
		stxowner oid, stxstattarget int4, stxkeys int2vector, stxkind char[], stxexprs pg_node_tree`, empty)
	defineTable(pgCatalogSchema, "pg_publication", 'r', `oid oid, pubname name, pubowner oid, puballtables bool,
		pubinsert bool, pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool`, empty)
	defineTable(pgCatalogSchema, "pg_publication_namespace", 'r', `oid oid, pnpubid oid, pnnspid oid`, empty)
	defineTable(pgCatalogSchema, "pg_publication_rel", 'r', `oid oid, prpubid oid, prrelid oid, prqual pg_node_tree,
		prattrs int2vector`, empty)
	defineTable(pgCatalogSchema, "pg_trigger", 'r', `oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid,
		tgtype int2, tgenabled char, tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid,
		tgdeferrable bool, tginitdeferred bool, tgnargs int2, tgattr int2vector, tgargs bytea, tgqual pg_node_tree,
		tgoldtable name, tgnewtable name`, empty)
	defineTable(pgCatalogSchema, "pg_rewrite", 'r', `oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char,
		is_instead bool, ev_qual pg_node_tree, ev_action pg_node_tree`, empty)
	// pg_depend holds what clients look for there: a SERIAL or identity column's sequence
	// depends on the column (deptype 'a', or 'i' for identity), which is how psql's \d of a
	// sequence finds "Owned by".
	defineTable(pgCatalogSchema, "pg_depend", 'r', `classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid,
		refobjsubid int4, deptype char`,
		func(g *rowGen) error {
			class := catalogTables[pgCatalogSchema]["pg_class"].oid
			for _, r := range g.snap.relations {
				if r.seq == nil || r.seq.OwnedBy == nil {
					continue
				}
				t := g.snap.tableByID[r.seq.OwnedBy.TableID]
				if t == nil {
					continue
				}
				col, ok := t.ColumnByID(r.seq.OwnedBy.ColumnID)
				if !ok {
					continue
				}
				deptype := "a"
				if g.snap.isIdentitySequence(r.seq) {
					deptype = "i"
				}
				if err := g.add("classid", class, "objid", r.oid, "refclassid", class, "refobjid", t.ID,
					"refobjsubid", t.ColumnOrdinal(col.ID)+1, "deptype", deptype); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_sequence", 'r', `seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8,
		seqmax int8, seqmin int8, seqcache int8, seqcycle bool`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				if r.seq == nil {
					continue
				}
				seq := r.seq
				if err := g.add("seqrelid", r.oid, "seqtypid", g.snap.sequenceType(seq).OID(), "seqstart", seq.Start,
					"seqincrement", seq.Increment, "seqmax", seq.Max, "seqmin", seq.Min, "seqcache", seq.Cache,
					"seqcycle", seq.Cycle); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_partitioned_table", 'r', `partrelid oid, partstrat char, partnatts int2,
		partdefid oid, partattrs int2vector, partclass oidvector, partcollation oidvector, partexprs pg_node_tree`, empty)
	defineTable(pgCatalogSchema, "pg_foreign_table", 'r', `ftrelid oid, ftserver oid, ftoptions text[]`, empty)
	defineTable(pgCatalogSchema, "pg_language", 'r', `oid oid, lanname name, lanowner oid, lanispl bool,
		lanpltrusted bool, lanplcallfoid oid, laninline oid, lanvalidator oid, lanacl aclitem[]`,
		func(g *rowGen) error {
			for _, l := range []struct {
				oid  uint32
				name string
			}{{12, "internal"}, {13, "c"}, {14, "sql"}} {
				if err := g.add("oid", l.oid, "lanname", l.name, "lanowner", rootRoleOID); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_tables", 'v', `schemaname name, tablename name, tableowner name, tablespace name,
		hasindexes bool, hasrules bool, hastriggers bool, rowsecurity bool`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				if r.kind != 'r' {
					continue
				}
				ns, _ := g.snap.namespaceByOID(r.ns)
				hasIndexes := r.table != nil && len(tableIndexes(r.table)) > 0
				if err := g.add("schemaname", ns.name, "tablename", r.name, "tableowner", r.owner, "hasindexes", hasIndexes); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_indexes", 'v', `schemaname name, tablename name, indexname name, tablespace name,
		indexdef text`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				if r.index == nil {
					continue
				}
				if err := g.add("schemaname", g.snap.schemaName(r), "tablename", r.table.Name, "indexname", r.name,
					"indexdef", indexDefinition(g.snap, r.index)); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_views", 'v', `schemaname name, viewname name, viewowner name, definition text`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				if r.kind != 'v' {
					continue
				}
				ns, _ := g.snap.namespaceByOID(r.ns)
				var def any
				if r.view != nil {
					def = viewDefinition(r.view)
				}
				if err := g.add("schemaname", ns.name, "viewname", r.name, "viewowner", r.owner, "definition", def); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(pgCatalogSchema, "pg_matviews", 'v', `schemaname name, matviewname name, matviewowner name,
		tablespace name, hasindexes bool, ispopulated bool, definition text`, empty)
	// pg_sequences leaves last_value NULL: the counter lives outside the descriptors, and
	// PostgreSQL too shows NULL for a sequence not yet used.
	defineTable(pgCatalogSchema, "pg_sequences", 'v', `schemaname name, sequencename name, sequenceowner name,
		data_type regtype, start_value int8, min_value int8, max_value int8, increment_by int8, cycle bool,
		cache_size int8, last_value int8`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				if r.seq == nil {
					continue
				}
				seq := r.seq
				typ := g.snap.sequenceType(seq)
				if err := g.add("schemaname", g.snap.schemaName(r), "sequencename", r.name, "sequenceowner", r.owner,
					"data_type", g.snap.regName(types.RegType, typ.OID()), "start_value", seq.Start, "min_value", seq.Min,
					"max_value", seq.Max, "increment_by", seq.Increment, "cycle", seq.Cycle, "cache_size", seq.Cache, "last_value", nil); err != nil {
					return err
				}
			}
			return nil
		})
}

// databaseACL renders a database's ACL as PostgreSQL's datacl: NULL while it is the
// default (the owner's privileges and CONNECT for public), else public's entry first, then
// the owner's, then the other grantees', as PostgreSQL orders them after a GRANT.
func databaseACL(d *catalog.Database) any {
	acl := d.Privileges()
	def := catalog.DefaultDatabaseACL(acl.Owner)
	if len(acl.Grants) == len(def.Grants) && (len(acl.Grants) == 0 || acl.Grants[0] == def.Grants[0]) {
		return nil
	}
	letters := func(k privilege.Kind) string {
		var sb strings.Builder
		for _, l := range databaseACLLetters {
			if k&l.kind != 0 {
				sb.WriteByte(l.letter)
			}
		}
		return sb.String()
	}
	var out []string
	for _, g := range acl.Grants {
		if g.Grantee == privilege.Public {
			out = append(out, "="+letters(g.Kinds)+"/"+acl.Owner)
		}
	}
	out = append(out, acl.Owner+"=Cc/"+acl.Owner)
	for _, g := range acl.Grants {
		if g.Grantee != privilege.Public {
			out = append(out, g.Grantee+"="+letters(g.Kinds)+"/"+acl.Owner)
		}
	}
	return out
}

// columnNumbers lists the attnums of columns given by ID.
func columnNumbers(t *catalog.Table, ids []uint32) []int64 {
	var out []int64
	for _, id := range ids {
		out = append(out, int64(t.ColumnOrdinal(id)+1))
	}
	return out
}

// defaultExprText shows a DEFAULT expression, kept as normalized SQL, the way
// pg_get_expr shows PostgreSQL's: a string literal with its cast to the column's type
// ('x'::text), and the current timestamp as now(), the function tidb's spelling stands for.
func defaultExprText(def string, t types.T) string {
	if def == "current_timestamp()" || def == "current_timestamp" {
		return "now()"
	}
	if isStringLiteral(def) {
		name := t.String()
		if t.Family == types.ArrayFamily {
			name = types.ArrayOf(baseOf(t.ElemType())).String()
		} else {
			name = baseOf(t).String()
		}
		return def + "::" + name
	}
	return def
}

// baseOf is t without its length or precision, as a literal's cast in a default shows it.
func baseOf(t types.T) types.T {
	switch t.Family {
	case types.StringFamily:
		t.Width = 0
	case types.DecimalFamily:
		t.Precision, t.Scale = 0, 0
	}
	return t
}

// isStringLiteral reports whether s is one single-quoted SQL string and nothing else.
func isStringLiteral(s string) bool {
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\'' {
			if s[i+1] != '\'' || i+1 == len(s)-1 {
				return false
			}
			i++
		}
	}
	return true
}
