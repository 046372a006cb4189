package sql

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
)

// The functions of the system catalogs that psql and drivers call (pg_get_userbyid,
// format_type, pg_table_is_visible, has_table_privilege, ...), the casts to the reg* types,
// which read and print object names, the regular expression operators and ARRAY(subquery).

// processStart is what pg_postmaster_start_time() reports.
var processStart = time.Now().UTC().Truncate(time.Microsecond)

// SetProcessID implements wire.ProcessIDSetter: pg_backend_pid() reports the process ID the
// client was given, which drivers compare with it.
func (s *Session) SetProcessID(pid uint32) { s.pid = pid }

func (s *Session) backendPID() int64 { return int64(s.pid) }

// errNeedsCatalog stops the compile-time folding of a function that reads the catalog.
var errNeedsCatalog = pgerror.New(pgerror.CodeInternalError, "evaluated outside a statement")

// snapshotOf returns the statement's catalog snapshot.
func snapshotOf(ec *evalCtx) (*catalogSnapshot, error) {
	if ec == nil || ec.x == nil {
		return nil, errNeedsCatalog
	}
	return ec.x.catalogSnapshot(ec.ctx)
}

// catalogFn is a catalog function: the types its arguments are compiled as, one list per
// accepted arity (types.Unknown takes the argument as it is, an untyped one as text), its
// result type and its body. strict functions return NULL for a NULL argument.
type catalogFn struct {
	sigs   [][]types.T
	ret    types.T
	strict bool
	fn     func(ec *evalCtx, args []types.Datum) (types.Datum, error)
}

var (
	anyT      = types.Unknown
	textArray = types.ArrayOf(types.String)
)

// nullFn is a function that has nothing to report in Meridian (comments, sequences of
// serial columns, ...): it returns NULL.
func nullFn(ret types.T, sigs ...[]types.T) catalogFn {
	return catalogFn{sigs: sigs, ret: ret, fn: func(*evalCtx, []types.Datum) (types.Datum, error) { return nil, nil }}
}

var catalogFns map[string]catalogFn

func init() {
	catalogFns = map[string]catalogFn{
		"pg_get_userbyid": {sigs: [][]types.T{{types.OidT}}, ret: types.Name, strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			snap, err := snapshotOf(ec)
			if err != nil {
				return nil, err
			}
			id := a[0].(types.Oid).ID
			if r, ok := snap.roleByOID[id]; ok {
				return r.Name, nil
			}
			if id == 0 {
				return privilege.Public, nil
			}
			return fmt.Sprintf("unknown (OID=%d)", id), nil
		}},
		"format_type": {sigs: [][]types.T{{types.OidT, types.Int4}}, ret: types.String, fn: func(_ *evalCtx, a []types.Datum) (types.Datum, error) {
			if a[0] == nil {
				return nil, nil
			}
			typmod := int64(-1)
			if a[1] != nil {
				typmod = a[1].(int64)
			}
			return formatType(a[0].(types.Oid).ID, int32(typmod)), nil
		}},
		"pg_table_is_visible": {sigs: [][]types.T{{types.OidT}}, ret: types.Bool, strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			snap, err := snapshotOf(ec)
			if err != nil {
				return nil, err
			}
			r, ok := snap.relByOID[a[0].(types.Oid).ID]
			if !ok {
				return nil, nil
			}
			return snap.relationVisible(r), nil
		}},
		"pg_type_is_visible": {sigs: [][]types.T{{types.OidT}}, ret: types.Bool, strict: true, fn: func(_ *evalCtx, a []types.Datum) (types.Datum, error) {
			if _, ok := builtinTypeByOID(a[0].(types.Oid).ID); !ok {
				return nil, nil
			}
			return true, nil // every type is in pg_catalog
		}},
		"pg_function_is_visible": {sigs: [][]types.T{{types.OidT}}, ret: types.Bool, strict: true, fn: func(*evalCtx, []types.Datum) (types.Datum, error) {
			return true, nil
		}},
		"pg_get_indexdef": {sigs: [][]types.T{{types.OidT}, {types.OidT, types.Int4, types.Bool}}, ret: types.String, strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			snap, err := snapshotOf(ec)
			if err != nil {
				return nil, err
			}
			r, ok := snap.relByOID[a[0].(types.Oid).ID]
			if !ok || r.index == nil {
				return nil, nil
			}
			col := int64(0)
			if len(a) > 1 {
				col = a[1].(int64)
			}
			if col > 0 {
				if int(col) > len(r.cols) {
					return "", nil
				}
				return quoteIdentIfNeeded(r.cols[col-1].name), nil
			}
			return indexDefinition(snap, r.index), nil
		}},
		"pg_get_constraintdef": {sigs: [][]types.T{{types.OidT}, {types.OidT, types.Bool}}, ret: types.String, strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			snap, err := snapshotOf(ec)
			if err != nil {
				return nil, err
			}
			id := a[0].(types.Oid).ID
			pretty := len(a) > 1 && a[1].(bool)
			for _, c := range snap.constraintList() {
				if c.oid == id {
					return constraintDef(snap, c, pretty), nil
				}
			}
			return nil, nil
		}},
		// Expressions are kept as normalized SQL text, which is what pg_attrdef.adbin and
		// the other pg_node_tree columns hold: pg_get_expr has only to return it.
		"pg_get_expr": {sigs: [][]types.T{{types.String, types.OidT}, {types.String, types.OidT, types.Bool}}, ret: types.String, strict: true, fn: func(_ *evalCtx, a []types.Datum) (types.Datum, error) {
			return a[0], nil
		}},
		"obj_description":   nullFn(types.String, []types.T{types.OidT}, []types.T{types.OidT, types.Name}),
		"col_description":   nullFn(types.String, []types.T{types.OidT, types.Int4}),
		"shobj_description": nullFn(types.String, []types.T{types.OidT, types.Name}),
		"pg_encoding_to_char": {sigs: [][]types.T{{types.Int4}}, ret: types.Name, strict: true, fn: func(_ *evalCtx, a []types.Datum) (types.Datum, error) {
			switch a[0].(int64) {
			case 0:
				return "SQL_ASCII", nil
			case 6:
				return "UTF8", nil
			}
			return "", nil
		}},
		"pg_char_to_encoding": {sigs: [][]types.T{{types.Name}}, ret: types.Int4, strict: true, fn: func(_ *evalCtx, a []types.Datum) (types.Datum, error) {
			switch strings.ToUpper(strings.ReplaceAll(a[0].(string), "-", "")) {
			case "UTF8", "UNICODE":
				return int64(6), nil
			case "SQL_ASCII":
				return int64(0), nil
			}
			return int64(-1), nil
		}},
		"has_table_privilege":    privilegeFn(tablePrivilege),
		"has_database_privilege": privilegeFn(databasePrivilege),
		"has_schema_privilege":   privilegeFn(schemaPrivilege),
		"has_column_privilege": {sigs: [][]types.T{{anyT, anyT, types.String}, {anyT, anyT, anyT, types.String}}, ret: types.Bool, strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			// A column's privileges are its table's: Meridian grants on tables only.
			if len(a) == 4 {
				a = []types.Datum{a[0], a[1], a[3]}
			} else {
				a = []types.Datum{a[0], a[2]}
			}
			return privilegeFn(tablePrivilege).fn(ec, a)
		}},
		"pg_has_role": privilegeFn(rolePrivilege),
		"current_schema": {sigs: [][]types.T{{}}, ret: types.Name, fn: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			t := ec.statementTxn()
			if t == nil {
				return nil, pgerror.Unsupported("current_schema() in this context")
			}
			name, err := ec.session.currentSchema(ec.ctx, t)
			if err != nil || name == "" {
				return nil, err
			}
			return name, nil
		}},
		"current_schemas": {sigs: [][]types.T{{types.Bool}}, ret: types.ArrayOf(types.Name), strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			t := ec.statementTxn()
			if t == nil {
				return nil, pgerror.Unsupported("current_schemas() in this context")
			}
			var out []types.Datum
			if a[0].(bool) {
				out = append(out, pgCatalogSchema)
			}
			db, err := ec.session.currentDatabase(ec.ctx, t)
			if err != nil {
				return nil, err
			}
			schemas, err := ec.session.pathSchemas(ec.ctx, t, db)
			if err != nil {
				return nil, err
			}
			for _, sc := range schemas {
				out = append(out, sc.Name)
			}
			return types.Array{Elems: out}, nil
		}},
		"pg_backend_pid": {sigs: [][]types.T{{}}, ret: types.Int4, fn: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			if ec == nil {
				return nil, errNeedsCatalog
			}
			return ec.session.backendPID(), nil
		}},
		"pg_postmaster_start_time": {sigs: [][]types.T{{}}, ret: types.TimestampTZ, fn: func(*evalCtx, []types.Datum) (types.Datum, error) {
			return processStart, nil
		}},
		"pg_conf_load_time": {sigs: [][]types.T{{}}, ret: types.TimestampTZ, fn: func(*evalCtx, []types.Datum) (types.Datum, error) {
			return processStart, nil
		}},
		"pg_is_in_recovery": {sigs: [][]types.T{{}}, ret: types.Bool, fn: func(*evalCtx, []types.Datum) (types.Datum, error) {
			return false, nil
		}},
		// A connection over TCP to the loopback, or a Unix socket: PostgreSQL returns NULL for
		// the latter; Meridian does not track the address here.
		"inet_server_addr":       nullFn(types.String, []types.T{}),
		"inet_server_port":       nullFn(types.Int4, []types.T{}),
		"inet_client_addr":       nullFn(types.String, []types.T{}),
		"inet_client_port":       nullFn(types.Int4, []types.T{}),
		"pg_relation_size":       sizeFn(types.RegClassT, []types.T{types.RegClassT, types.String}),
		"pg_table_size":          sizeFn(types.RegClassT),
		"pg_indexes_size":        sizeFn(types.RegClassT),
		"pg_total_relation_size": sizeFn(types.RegClassT),
		"pg_database_size":       sizeFn(anyT),
		"pg_size_pretty": {sigs: [][]types.T{{types.Numeric}}, ret: types.String, strict: true, fn: func(_ *evalCtx, a []types.Datum) (types.Datum, error) {
			f, err := types.Cast(a[0], types.Numeric, types.Float8)
			if err != nil {
				return nil, err
			}
			return sizePretty(f.(float64)), nil
		}},
		"pg_get_serial_sequence": {sigs: [][]types.T{{types.String, types.String}}, ret: types.String, strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			snap, err := snapshotOf(ec)
			if err != nil {
				return nil, err
			}
			return snap.serialSequence(a[0].(string), a[1].(string))
		}},
		// Meridian has no partitions, so a relation has no ancestors. psql asks for them in
		// a select list, as a set, inside IN (...) with the relation itself; Meridian has no
		// set-returning functions there, and a NULL stands in for the empty set: in an IN
		// list it matches nothing.
		"pg_partition_ancestors":          nullFn(types.RegClassT, []types.T{types.RegClassT}),
		"pg_get_statisticsobjdef_columns": nullFn(types.String, []types.T{types.OidT}),
		"pg_get_viewdef": {sigs: [][]types.T{{types.OidT}, {types.OidT, types.Bool}}, ret: types.String, strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			snap, err := snapshotOf(ec)
			if err != nil {
				return nil, err
			}
			if r, ok := snap.relByOID[a[0].(types.Oid).ID]; ok && r.view != nil {
				return viewDefinition(r.view), nil
			}
			return nil, nil
		}},
		"pg_get_triggerdef":                  nullFn(types.String, []types.T{types.OidT}, []types.T{types.OidT, types.Bool}),
		"pg_get_partkeydef":                  nullFn(types.String, []types.T{types.OidT}),
		"pg_get_function_result":             nullFn(types.String, []types.T{types.OidT}),
		"pg_get_function_arguments":          nullFn(types.String, []types.T{types.OidT}),
		"pg_get_function_identity_arguments": nullFn(types.String, []types.T{types.OidT}),
		"pg_tablespace_location": {sigs: [][]types.T{{types.OidT}}, ret: types.String, strict: true, fn: func(*evalCtx, []types.Datum) (types.Datum, error) {
			return "", nil
		}},
		// Meridian has no publications; every table could be published.
		"pg_relation_is_publishable": {sigs: [][]types.T{{types.RegClassT}}, ret: types.Bool, strict: true, fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			snap, err := snapshotOf(ec)
			if err != nil {
				return nil, err
			}
			r, ok := snap.relByOID[a[0].(types.Oid).ID]
			return ok && r.kind == 'r' && r.vt == nil, nil
		}},
	}
}

// sizeFn is a relation or database size function. Meridian's ranges hold a table's rows
// and its indexes together, replicated and compressed, so there is no size PostgreSQL's
// would compare with; it reports 0 bytes.
func sizeFn(arg types.T, more ...[]types.T) catalogFn {
	sigs := append([][]types.T{{arg}}, more...)
	return catalogFn{sigs: sigs, ret: types.Int8, strict: true, fn: func(*evalCtx, []types.Datum) (types.Datum, error) {
		return int64(0), nil
	}}
}

// sizePretty formats a byte count as pg_size_pretty does: bytes below 10 kB, then the
// largest unit that keeps the number below 20480 halves, rounded half up.
func sizePretty(n float64) string {
	const limit = 10 * 1024
	v := int64(n)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if v < limit {
		return fmt.Sprintf("%s%d bytes", sign, v)
	}
	v >>= 9 // one extra bit for rounding
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	for i, u := range units {
		if v < limit*2-1 || i == len(units)-1 {
			return fmt.Sprintf("%s%d %s", sign, (v+1)/2, u)
		}
		v >>= 10
	}
	return ""
}

// catalogFuncs compiles the catalog functions and ARRAY(subquery); ok is false for a name it
// does not own.
func (c *compiler) catalogFuncs(n *ast.FuncCallExpr, name string) (*scalar, bool, error) {
	if name == "meridian_array_subquery" {
		s, err := c.arraySubquery(n)
		return s, true, err
	}
	f, ok := catalogFns[name]
	if !ok {
		return nil, false, nil
	}
	var sig []types.T
	for _, s := range f.sigs {
		if len(s) == len(n.Args) {
			sig = s
		}
	}
	if sig == nil && !(len(f.sigs) == 0 && len(n.Args) == 0) {
		return nil, true, pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d argument(s) does not exist", name, len(n.Args)).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	args := make([]*scalar, len(n.Args))
	for i, e := range n.Args {
		a, err := c.catalogArg(e, sig[i])
		if err != nil {
			return nil, true, err
		}
		args[i] = a
	}
	s := &scalar{typ: f.ret, colOrd: -1}
	strict, fn := f.strict, f.fn
	s.eval = func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		vals, null, err := evalArgs(ec, row, args, strict)
		if err != nil || null {
			return nil, err
		}
		return fn(ec, vals)
	}
	return s, true, nil
}

// catalogArg compiles a catalog function's argument as type want: an untyped literal of a
// reg* type is a name to resolve, other values are cast.
func (c *compiler) catalogArg(e ast.ExprNode, want types.T) (*scalar, error) {
	if want.Family == types.UnknownFamily {
		a, err := c.compile(e)
		if err != nil {
			return nil, err
		}
		if a.untyped {
			a, _ = coerce(a, types.String)
		}
		return a, nil
	}
	if want.IsReg() {
		a, err := c.compile(e)
		if err != nil {
			return nil, err
		}
		return c.regCast(a, want)
	}
	a, err := c.compileWant(e, want)
	if err != nil {
		return nil, err
	}
	if a.typ.Family != want.Family || want.Family == types.OIDFamily && a.typ.OIDKind != want.OIDKind {
		if _, err := types.Cast(nil, a.typ, want); err != nil {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function argument of type %s cannot be %s", a.typ, want).
				WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
		}
		a = castScalar(a, want)
	}
	return a, nil
}

// regCast converts a value to an OID type. Text names the object (for the reg* types) and
// numbers are OIDs; either way the value's name is looked up, for its text form.
func (c *compiler) regCast(arg *scalar, t types.T) (*scalar, error) {
	if arg.untyped {
		arg, _ = coerce(arg, types.String)
		if arg.param != 0 {
			c.params.infer(arg.param, types.String)
		}
	}
	from := arg.typ
	switch from.Family {
	case types.StringFamily, types.OIDFamily, types.IntFamily, types.UnknownFamily:
	default:
		return nil, pgerror.New(pgerror.CodeCannotCoerce, "cannot cast type %s to %s", from, t)
	}
	inner := arg.eval
	return &scalar{typ: t, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		v, err := inner(ec, row)
		if err != nil || v == nil {
			return nil, err
		}
		var id types.Oid
		switch x := v.(type) {
		case string:
			if !t.IsReg() {
				return types.ParseText(t, x)
			}
			if n, err := types.ParseText(types.OidT, x); err == nil {
				id = n.(types.Oid)
			} else if strings.TrimSpace(x) == "-" {
				return types.Oid{}, nil
			} else {
				snap, err := snapshotOf(ec)
				if err != nil {
					return nil, err
				}
				return snap.resolveRegName(t.OIDKind, x)
			}
		default:
			o, err := types.Cast(v, from, types.OidT)
			if err != nil {
				return nil, err
			}
			id = o.(types.Oid)
		}
		if !t.IsReg() {
			return id, nil
		}
		snap, err := snapshotOf(ec)
		if err != nil {
			return nil, err
		}
		return snap.regName(t.OIDKind, id.ID), nil
	}}, nil
}

// resolveRegName reads a reg* value's text: the object's name.
func (s *catalogSnapshot) resolveRegName(k types.OIDKind, name string) (types.Datum, error) {
	switch k {
	case types.RegClass:
		if r, ok := s.relationByName(name); ok {
			return types.Oid{ID: r.oid, Name: s.qualifiedRelationName(r)}, nil
		}
		return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation %q does not exist", name)
	case types.RegType:
		if bt, ok := builtinTypeByName(name); ok {
			return types.Oid{ID: bt.oid, Name: formatType(bt.oid, -1)}, nil
		}
		t, err := types.ParseTypeName(strings.TrimPrefix(strings.TrimSpace(name), "pg_catalog."))
		if err != nil {
			return nil, pgerror.New(pgerror.CodeUndefinedObject, "type %q does not exist", name)
		}
		return types.Oid{ID: t.OID(), Name: formatType(t.OID(), -1)}, nil
	case types.RegProc, types.RegProcedure:
		base := strings.TrimPrefix(strings.TrimSpace(name), "pg_catalog.")
		if i := strings.IndexByte(base, '('); i >= 0 {
			base = base[:i]
		}
		for _, p := range builtinProcs() {
			if p.name == base {
				return types.Oid{ID: p.oid, Name: p.name}, nil
			}
		}
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %q does not exist", name)
	case types.RegNamespace:
		_, n, err := splitQualifiedName(name)
		if err != nil {
			return nil, err
		}
		if ns, ok := s.namespaceByName(n); ok {
			return types.Oid{ID: ns.oid, Name: quoteIdentIfNeeded(ns.name)}, nil
		}
		return nil, pgerror.New(pgerror.CodeInvalidSchemaName, "schema %q does not exist", n)
	case types.RegRole:
		_, n, err := splitQualifiedName(name)
		if err != nil {
			return nil, err
		}
		for _, r := range s.roles {
			if r.Name == n {
				return types.Oid{ID: roleOID(r.Name), Name: quoteIdentIfNeeded(r.Name)}, nil
			}
		}
		return nil, pgerror.New(pgerror.CodeUndefinedObject, "role %q does not exist", n)
	}
	return types.ParseText(types.OidT, name)
}

// regName is the reg* value of an OID: with the object's name when it exists.
func (s *catalogSnapshot) regName(k types.OIDKind, id uint32) types.Oid {
	out := types.Oid{ID: id}
	switch k {
	case types.RegClass:
		if r, ok := s.relByOID[id]; ok {
			out.Name = s.qualifiedRelationName(r)
		}
	case types.RegType:
		if _, ok := builtinTypeByOID(id); ok {
			out.Name = formatType(id, -1)
		}
	case types.RegProc, types.RegProcedure:
		for _, p := range builtinProcs() {
			if p.oid == id {
				out.Name = p.name
			}
		}
	case types.RegNamespace:
		if ns, ok := s.namespaceByOID(id); ok {
			out.Name = quoteIdentIfNeeded(ns.name)
		}
	case types.RegRole:
		if r, ok := s.roleByOID[id]; ok {
			out.Name = quoteIdentIfNeeded(r.Name)
		}
	}
	return out
}

// formatType is format_type(oid, typmod): the type's SQL name with its modifier.
func formatType(oid uint32, typmod int32) string {
	if t, ok := types.FromOID(oid); ok && t.Family != types.UnknownFamily {
		if typmod >= 0 {
			t = applyTypmod(t, typmod)
		}
		if t.Family == types.StringFamily && t.StringKind == types.Char && t.Width == 0 && typmod < 0 {
			return "character" // format_type(1042, NULL) in PostgreSQL
		}
		return t.String()
	}
	if bt, ok := builtinTypeByOID(oid); ok {
		return bt.name
	}
	return "???"
}

// applyTypmod puts an atttypmod back into a type: the inverse of types.T.TypeModifier.
func applyTypmod(t types.T, typmod int32) types.T {
	elem := t
	if t.Family == types.ArrayFamily {
		elem = t.ElemType()
	}
	switch elem.Family {
	case types.StringFamily:
		if elem.StringKind == types.VarChar || elem.StringKind == types.Char {
			elem.Width = typmod - 4
		}
	case types.DecimalFamily:
		v := typmod - 4
		elem.Precision, elem.Scale = v>>16&0xffff, v&0x7ff
		if elem.Scale&0x400 != 0 {
			elem.Scale -= 0x800 // a negative scale, sign-extended from 11 bits
		}
	}
	if t.Family == types.ArrayFamily {
		return types.ArrayOf(elem)
	}
	return elem
}

// indexDefinition is pg_get_indexdef's CREATE INDEX statement; like PostgreSQL's, it
// always qualifies the table.
func indexDefinition(s *catalogSnapshot, idx *indexInfo) string {
	var cols []string
	for k, id := range idx.cols {
		o := idx.table.ColumnOrdinal(id)
		col := quoteIdentIfNeeded(idx.table.Columns[o].Name)
		if k < len(idx.desc) && idx.desc[k] {
			col += " DESC"
		}
		cols = append(cols, col)
	}
	unique := ""
	if idx.unique {
		unique = "UNIQUE "
	}
	def := fmt.Sprintf("CREATE %sINDEX %s ON %s.%s USING btree (%s)", unique, quoteIdentIfNeeded(idx.name),
		quoteIdentIfNeeded(s.tableSchemaName(idx.table)), quoteIdentIfNeeded(idx.table.Name), strings.Join(cols, ", "))
	if len(idx.stored) > 0 {
		def += " INCLUDE (" + columnNameList(idx.table, idx.stored) + ")"
	}
	return def
}

// tableSchemaName is the name of the schema holding t.
func (s *catalogSnapshot) tableSchemaName(t *catalog.Table) string {
	ns, _ := s.namespaceByOID(schemaOID(t.ParentSchemaID()))
	return ns.name
}

// columnNameList lists columns given by ID, quoted as needed.
func columnNameList(t *catalog.Table, ids []uint32) string {
	var out []string
	for _, id := range ids {
		if o := t.ColumnOrdinal(id); o >= 0 {
			out = append(out, quoteIdentIfNeeded(t.Columns[o].Name))
		}
	}
	return strings.Join(out, ", ")
}

// constraintDef is pg_get_constraintdef's text of a constraint; pretty prints a CHECK
// expression with only the parentheses it needs.
func constraintDef(s *catalogSnapshot, c *constraintInfo, pretty bool) string {
	switch c.kind {
	case 'p', 'u':
		kind := "PRIMARY KEY"
		if c.kind == 'u' {
			kind = "UNIQUE"
		}
		def := kind + " (" + columnNameList(c.table, c.cols) + ")"
		if c.index != nil && len(c.index.stored) > 0 {
			def += " INCLUDE (" + columnNameList(c.table, c.index.stored) + ")"
		}
		return def
	case 'c':
		return "CHECK (" + deparseCheck(c.table, c.check, pretty) + ")"
	case 'f':
		// The referenced table is named as regclass output names it: qualified unless
		// visible on the search path.
		ref := quoteIdentIfNeeded(c.refTable.Name)
		if r, ok := s.relByOID[c.refTable.ID]; ok {
			ref = s.qualifiedRelationName(r)
		}
		def := fmt.Sprintf("FOREIGN KEY (%s) REFERENCES %s(%s)", columnNameList(c.table, c.cols), ref, columnNameList(c.refTable, c.refCols))
		for _, a := range []struct {
			what string
			code byte
		}{{"UPDATE", c.onUpdate}, {"DELETE", c.onDelete}} {
			if act := referenceActionName(a.code); act != "" {
				def += " ON " + a.what + " " + act
			}
		}
		return def
	}
	return ""
}

// referenceActionName spells a pg_constraint action code, "" for NO ACTION (the default,
// which pg_get_constraintdef leaves out).
func referenceActionName(code byte) string {
	switch code {
	case 'r':
		return "RESTRICT"
	case 'c':
		return "CASCADE"
	case 'n':
		return "SET NULL"
	case 'd':
		return "SET DEFAULT"
	}
	return ""
}

// privilegeCheck answers a has_*_privilege question for the roles acting, about an object
// named by text or OID; ok is false when an OID names nothing (the function returns NULL).
type privilegeCheck func(snap *catalogSnapshot, acting []string, superuser bool, obj types.Datum, privs string) (allowed, ok bool, err error)

// privilegeFn builds has_*_privilege([user,] object, privileges).
func privilegeFn(check privilegeCheck) catalogFn {
	return catalogFn{sigs: [][]types.T{{anyT, types.String}, {anyT, anyT, types.String}}, ret: types.Bool, strict: true,
		fn: func(ec *evalCtx, a []types.Datum) (types.Datum, error) {
			snap, err := snapshotOf(ec)
			if err != nil {
				return nil, err
			}
			acting, super := snap.acting, snap.superuser
			if len(a) == 3 {
				user, err := snap.roleNamed(a[0])
				if err != nil {
					return nil, err
				}
				acting, super = snap.actingRolesOf(user), user == privilege.Root
				a = a[1:]
			}
			allowed, ok, err := check(snap, acting, super, a[0], a[1].(string))
			if err != nil || !ok {
				return nil, err
			}
			return allowed, nil
		}}
}

// roleNamed reads a role argument: a name or an OID.
func (s *catalogSnapshot) roleNamed(d types.Datum) (string, error) {
	switch x := d.(type) {
	case string:
		if x == privilege.Public {
			return x, nil
		}
		for _, r := range s.roles {
			if r.Name == x {
				return r.Name, nil
			}
		}
		return "", pgerror.New(pgerror.CodeUndefinedObject, "role %q does not exist", x)
	case types.Oid:
		if r, ok := s.roleByOID[x.ID]; ok {
			return r.Name, nil
		}
	case int64:
		if r, ok := s.roleByOID[uint32(x)]; ok {
			return r.Name, nil
		}
	}
	return "", pgerror.New(pgerror.CodeUndefinedObject, "role with OID %v does not exist", d)
}

// actingRolesOf is ActingRoles computed from the snapshot's roles.
func (s *catalogSnapshot) actingRolesOf(user string) []string {
	byName := map[string]*catalog.Role{}
	for _, r := range s.roles {
		byName[r.Name] = r
	}
	out := []string{user, privilege.Public}
	seen := map[string]bool{user: true, privilege.Public: true}
	for i := 0; i < len(out); i++ {
		if r := byName[out[i]]; r != nil {
			for _, m := range r.MemberOf {
				if !seen[m] {
					seen[m] = true
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// parsePrivileges reads a has_*_privilege privilege list: names separated by commas, each
// perhaps WITH GRANT OPTION (which Meridian does not have: such a question is answered
// for the privilege itself).
func parsePrivileges(s string, allowed map[string]privilege.Kind) (privilege.Kind, error) {
	var k privilege.Kind
	for _, p := range strings.Split(s, ",") {
		p = strings.ToUpper(strings.Join(strings.Fields(p), " "))
		p = strings.TrimSuffix(p, " WITH GRANT OPTION")
		kind, ok := allowed[p]
		if !ok {
			return 0, pgerror.New(pgerror.CodeInvalidParameterValue, "unrecognized privilege type: %q", strings.TrimSpace(p))
		}
		k |= kind
	}
	return k, nil
}

var tablePrivileges = map[string]privilege.Kind{"SELECT": privilege.Select, "INSERT": privilege.Insert, "UPDATE": privilege.Update,
	"DELETE": privilege.Delete, "TRUNCATE": privilege.Delete, "REFERENCES": privilege.Select, "TRIGGER": privilege.Update}

func tablePrivilege(snap *catalogSnapshot, acting []string, super bool, obj types.Datum, privs string) (bool, bool, error) {
	want, err := parsePrivileges(privs, tablePrivileges)
	if err != nil {
		return false, false, err
	}
	var rel *relationInfo
	switch x := obj.(type) {
	case string:
		r, ok := snap.relationByName(x)
		if !ok {
			return false, false, pgerror.New(pgerror.CodeUndefinedTable, "relation %q does not exist", x)
		}
		rel = r
	case types.Oid:
		rel = snap.relByOID[x.ID]
	case int64:
		rel = snap.relByOID[uint32(x)]
	}
	if rel == nil {
		return false, false, nil
	}
	if super {
		return true, true, nil
	}
	if rel.acl == nil {
		return want&^privilege.Select == 0, true, nil // the catalogs are readable by all
	}
	return rel.acl.Allows(acting, want), true, nil
}

var databasePrivileges = map[string]privilege.Kind{"CREATE": privilege.Create, "CONNECT": privilege.Connect, "TEMPORARY": 0, "TEMP": 0}

func databasePrivilege(snap *catalogSnapshot, acting []string, super bool, obj types.Datum, privs string) (bool, bool, error) {
	want, err := parsePrivileges(privs, databasePrivileges)
	if err != nil {
		return false, false, err
	}
	var db *catalog.Database
	for _, d := range snap.dbs {
		switch x := obj.(type) {
		case string:
			if d.Name == x {
				db = d
			}
		case types.Oid:
			if d.ID == x.ID {
				db = d
			}
		case int64:
			if int64(d.ID) == x {
				db = d
			}
		}
	}
	if db == nil {
		if name, ok := obj.(string); ok {
			return false, false, pgerror.New(pgerror.CodeInvalidCatalogName, "database %q does not exist", name)
		}
		return false, false, nil
	}
	return super || db.Privileges().Allows(acting, want), true, nil
}

var schemaPrivileges = map[string]privilege.Kind{"USAGE": 0, "CREATE": privilege.Create}

// schemaPrivilege: every schema may be used; creating in public needs CREATE on the
// database, which is what creating a table asks for in Meridian, and in a created schema
// its ownership.
func schemaPrivilege(snap *catalogSnapshot, acting []string, super bool, obj types.Datum, privs string) (bool, bool, error) {
	want, err := parsePrivileges(privs, schemaPrivileges)
	if err != nil {
		return false, false, err
	}
	var ns namespaceInfo
	var ok bool
	switch x := obj.(type) {
	case string:
		if ns, ok = snap.namespaceByName(x); !ok {
			return false, false, pgerror.New(pgerror.CodeInvalidSchemaName, "schema %q does not exist", x)
		}
	case types.Oid:
		ns, ok = snap.namespaceByOID(x.ID)
	case int64:
		ns, ok = snap.namespaceByOID(uint32(x))
	}
	if !ok {
		return false, false, nil
	}
	if want == 0 || super {
		return true, true, nil
	}
	switch {
	case ns.oid == namespacePublic:
		return snap.database.Privileges().Allows(acting, want), true, nil
	case ns.acl != nil:
		return containsRole(acting, ns.owner), true, nil
	}
	return false, true, nil
}

var rolePrivileges = map[string]privilege.Kind{"MEMBER": 1, "USAGE": 1, "SET": 1}

// rolePrivilege is pg_has_role: membership, direct or through other roles (a superuser is a
// member of every role, as in PostgreSQL).
func rolePrivilege(snap *catalogSnapshot, acting []string, super bool, obj types.Datum, privs string) (bool, bool, error) {
	if _, err := parsePrivileges(privs, rolePrivileges); err != nil {
		return false, false, err
	}
	role, err := snap.roleNamed(obj)
	if err != nil {
		if _, isName := obj.(string); isName {
			return false, false, err
		}
		return false, false, nil
	}
	if super {
		return true, true, nil
	}
	for _, a := range acting {
		if a == role {
			return true, true, nil
		}
	}
	return false, true, nil
}

// arraySubquery compiles ARRAY(SELECT ...): the array of the subquery's one column, in the
// order of its rows.
func (c *compiler) arraySubquery(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) != 1 {
		return nil, pgerror.New(pgerror.CodeInternalError, "meridian_array_subquery takes 1 argument")
	}
	query, err := subqueryQuery(n.Args[0])
	if err != nil {
		return nil, err
	}
	sq, err := c.planSubquery(query)
	if err != nil {
		return nil, err
	}
	cols := visibleColumns(sq.plan.cols())
	if len(cols) != 1 {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "subquery must return only one column")
	}
	col := cols[0]
	elem := sq.plan.cols()[col].typ
	if elem.Family == types.ArrayFamily {
		return nil, pgerror.Unsupported("multidimensional arrays")
	}
	if elem.Family == types.UnknownFamily {
		elem = types.String
	}
	return &scalar{typ: types.ArrayOf(elem), colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		return sq.cached(ec, row, func() (any, error) {
			out := types.Array{Elems: []types.Datum{}}
			err := sq.run(ec, row, func(r []types.Datum) bool {
				out.Elems = append(out.Elems, r[col])
				return true
			})
			return out, err
		})
	}}, nil
}

// regexOps are the POSIX regular expression match operators: ~ matches, ~* matches ignoring
// case, !~ and !~* do not match. Patterns are Go regular expressions (RE2), which read
// PostgreSQL's common syntax the same way — classes, [[:alpha:]] brackets, anchors,
// quantifiers, groups, alternation, (?i) — but lack back references (\1), lookahead and
// lookbehind, and PostgreSQL's word-boundary escapes \m, \M, \y and \Y; a pattern using them is
// an invalid regular expression (2201B), never a different match.
var regexOps = map[string]struct{ not, ci bool }{"~": {}, "!~": {not: true}, "~*": {ci: true}, "!~*": {not: true, ci: true}}

// regexMatch compiles l op r for a regular expression operator.
func (c *compiler) regexMatch(op string, le, re ast.ExprNode) (*scalar, error) {
	spec := regexOps[op]
	l, err := c.compileWant(le, types.String)
	if err != nil {
		return nil, err
	}
	r, err := c.compileWant(re, types.String)
	if err != nil {
		return nil, err
	}
	for _, s := range []*scalar{l, r} {
		if s.untyped {
			*s = *castScalar(s, types.String)
		}
	}
	if l.typ.Family != types.StringFamily || r.typ.Family != types.StringFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "operator does not exist: %s %s %s", l.typ, op, r.typ).
			WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
	}
	cache := &regexCache{ci: spec.ci}
	if r.constant && r.val != nil {
		if _, err := cache.get(r.val.(string)); err != nil {
			return nil, err
		}
	}
	return c.derived(types.Bool, []*scalar{l, r}, func(v []types.Datum) (types.Datum, error) {
		rx, err := cache.get(v[1].(string))
		if err != nil {
			return nil, err
		}
		return rx.MatchString(v[0].(string)) != spec.not, nil
	}, true), nil
}

// regexCache keeps the compiled patterns of one operator.
type regexCache struct {
	ci bool
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

func (rc *regexCache) get(pat string) (*regexp.Regexp, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rx, ok := rc.m[pat]; ok {
		return rx, nil
	}
	src := pat
	if rc.ci {
		src = "(?i)" + src
	}
	rx, err := regexp.Compile(src)
	if err != nil {
		// Go's message names the problem and the offending part of the pattern.
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return nil, pgerror.New("2201B", "invalid regular expression: %s", msg)
	}
	if rc.m == nil || len(rc.m) > 64 {
		rc.m = map[string]*regexp.Regexp{}
	}
	rc.m[pat] = rx
	return rx, nil
}

// serialSequence is pg_get_serial_sequence(table, column): the schema-qualified name of the
// sequence a SERIAL or identity column owns, NULL for another column. The table's name is
// read as regclass input reads it; the column's is taken as it is, as in PostgreSQL.
func (s *catalogSnapshot) serialSequence(table, column string) (types.Datum, error) {
	r, ok := s.relationByName(table)
	if !ok {
		return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation %q does not exist", table)
	}
	if r.table == nil || r.kind != 'r' {
		return nil, nil
	}
	col, _, ok := r.table.ColumnByName(column)
	if !ok || col.Hidden {
		return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q of relation %q does not exist", column, r.name)
	}
	if seq := s.ownedSequence(r.table, col.ID); seq != nil {
		return quoteIdentIfNeeded(s.schemaName(seq)) + "." + quoteIdentIfNeeded(seq.name), nil
	}
	return nil, nil
}
