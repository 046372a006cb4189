package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// schemaChange is embedded by plans that change descriptors.
type schemaChange struct{}

func (schemaChange) changesSchema() bool     { return true }
func (schemaChange) columns() []resultColumn { return nil }

type createDatabasePlan struct {
	schemaChange
	name        string
	ifNotExists bool
}

func (p *createDatabasePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	// Meridian has no CREATEDB attribute: only the superuser creates databases.
	if err := x.session.requireSuperuser("create database"); err != nil {
		return nil, err
	}
	err := x.session.srv.cat.CreateDatabase(ctx, x.txn, p.name, x.session.user)
	if err != nil && !(p.ifNotExists && pgerror.Code(err) == pgerror.CodeDuplicateDatabase) {
		return nil, err
	}
	var notices []notice
	if err != nil {
		notices = append(notices, notice{Code: pgerror.CodeDuplicateDatabase, Message: fmt.Sprintf("database %q already exists, skipping", p.name)})
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "CREATE DATABASE", notices: notices}, nil
}

type dropDatabasePlan struct {
	schemaChange
	name     string
	ifExists bool
}

func (p *dropDatabasePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	if p.name == s.database {
		return nil, pgerror.New(pgerror.CodeObjectInUse, "cannot drop the currently open database")
	}
	d, err := s.srv.cat.LookupDatabase(ctx, x.txn, p.name, 0)
	if err != nil {
		if p.ifExists && pgerror.Code(err) == pgerror.CodeInvalidCatalogName {
			if err := x.finishRead(ctx); err != nil {
				return nil, err
			}
			return &result{tag: "DROP DATABASE", notices: []notice{{Code: pgerror.CodeInvalidCatalogName, Message: fmt.Sprintf("database %q does not exist, skipping", p.name)}}}, nil
		}
		return nil, err
	}
	if err := s.checkDatabaseOwner(ctx, x.txn, d); err != nil {
		return nil, err
	}
	// Everything in it goes; foreign keys never leave a database, so none survives.
	objs, err := s.srv.cat.ObjectsOf(ctx, x.txn, d.ID)
	if err != nil {
		return nil, err
	}
	for _, tbl := range objs.Tables {
		if err := dropTable(ctx, x.txn, s.srv.cat, tbl); err != nil {
			return nil, err
		}
	}
	for _, seq := range objs.Sequences {
		if err := dropSequence(ctx, x.txn, s.srv.cat, seq); err != nil {
			return nil, err
		}
	}
	for _, v := range objs.Views {
		if err := s.srv.cat.DropView(ctx, x.txn, v); err != nil {
			return nil, err
		}
	}
	for _, sc := range objs.Schemas {
		if err := s.srv.cat.DropSchema(ctx, x.txn, sc); err != nil {
			return nil, err
		}
	}
	if err := s.srv.cat.DropDatabase(ctx, x.txn, d); err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "DROP DATABASE"}, nil
}

// dropTable removes a table's descriptor in t. Its rows are not deleted one by one: the
// catalog records its key space as dropped, and the whole span is cleared at once when it is
// past the GC TTL (see Server.ClearDroppedData), so a drop costs the same whatever the table
// holds.
func dropTable(ctx context.Context, t *txn.Txn, cat *catalog.Catalog, tbl *catalog.Table) error {
	if err := cat.DropTable(ctx, t, tbl); err != nil {
		return fmt.Errorf("dropping table %q: %w", tbl.Name, err)
	}
	return nil
}

type createTablePlan struct {
	schemaChange
	schema      string // "" for an unqualified name: the first schema of search_path
	table       *catalog.Table
	ifNotExists bool
	// foreignKeys are resolved, and serials' sequences made, once the table has its ID.
	foreignKeys []fkDef
	serials     []serialColumn
	indexes     []indexDef // the secondary indexes and UNIQUE constraints declared
}

// columnType recovers the PostgreSQL type the dialect carried through tidb's grammar as
// enum('<type>').
func columnType(def *ast.ColumnDef) (types.T, error) {
	elems := def.Tp.GetElems()
	if len(elems) != 1 {
		return types.T{}, pgerror.New(pgerror.CodeSyntaxError, "invalid type for column %q", def.Name.Name.O)
	}
	return types.ParseTypeName(elems[0])
}

func (s *Session) planCreateTable(ctx context.Context, t *txn.Txn, n *ast.CreateTableStmt, stored map[int][]string) (plan, error) {
	switch {
	case n.Select != nil:
		return nil, pgerror.Unsupported("CREATE TABLE AS")
	case n.ReferTable != nil:
		return nil, pgerror.Unsupported("CREATE TABLE LIKE")
	case n.Partition != nil:
		return nil, pgerror.Unsupported("partitioned tables")
	case n.TemporaryKeyword != ast.TemporaryNone:
		return nil, pgerror.Unsupported("temporary tables")
	}
	tbl := &catalog.Table{Name: n.Table.Name.O, NextColumnID: 1}
	var checks []checkDef
	var fks []fkDef
	var serials []serialColumn
	var pk []string
	var pkDesc []bool
	var indexes []indexDef
	setPK := func(cols []string, desc []bool) error {
		if pk != nil {
			return pgerror.New(pgerror.CodeInvalidTableDefinition, "multiple primary keys for table %q are not allowed", tbl.Name)
		}
		pk, pkDesc = cols, desc
		return nil
	}
	for _, def := range n.Cols {
		col, serial, err := s.newColumn(tbl, def)
		if err != nil {
			return nil, err
		}
		if serial != nil {
			serials = append(serials, *serial)
		}
		tbl.NextColumnID++
		for _, opt := range def.Options {
			if handled, err := columnConstraintOption(&col, opt, &checks, &fks); handled || err != nil {
				if err != nil {
					return nil, err
				}
				continue
			}
			switch opt.Tp {
			case ast.ColumnOptionNotNull:
				col.Nullable = false
			case ast.ColumnOptionNull:
				col.Nullable = true
			case ast.ColumnOptionPrimaryKey:
				if err := setPK([]string{col.Name}, []bool{false}); err != nil {
					return nil, err
				}
			case ast.ColumnOptionDefaultValue:
				if serial != nil {
					return nil, pgerror.New(pgerror.CodeSyntaxError, "multiple default values specified for column %q of table %q", col.Name, tbl.Name)
				}
				if ident, err := identityColumn(tbl, &col, opt.Expr); err != nil {
					return nil, err
				} else if ident != nil {
					serial = ident
					serials = append(serials, *ident)
					continue
				}
				if v, ok := opt.Expr.(*parser.Value); ok && v.Val == nil {
					continue // DEFAULT NULL is no default
				}
				col.Default = parser.RestoreSQL(opt.Expr)
				if _, err := compileDefault(s, &col); err != nil {
					return nil, err
				}
			case ast.ColumnOptionUniqKey:
				indexes = append(indexes, indexDef{columns: []pgdialect.IndexColumn{{Name: col.Name}}, unique: true, constraint: true})
			case ast.ColumnOptionCollate:
				return nil, pgerror.Unsupported("COLLATE")
			case ast.ColumnOptionGenerated:
				return nil, pgerror.Unsupported("generated columns")
			default:
				return nil, pgerror.Unsupported("this column option")
			}
		}
		tbl.Columns = append(tbl.Columns, col)
	}
	for k, c := range n.Constraints {
		switch c.Tp {
		case ast.ConstraintPrimaryKey:
			var cols []string
			var desc []bool
			for _, k := range c.Keys {
				if k.Expr != nil || k.Column == nil {
					return nil, pgerror.Unsupported("expressions in a primary key")
				}
				cols = append(cols, k.Column.Name.O)
				desc = append(desc, k.Desc)
			}
			if err := setPK(cols, desc); err != nil {
				return nil, err
			}
		case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex, ast.ConstraintIndex, ast.ConstraintKey:
			def, err := indexDefFromConstraint(c, stored[k])
			if err != nil {
				return nil, err
			}
			indexes = append(indexes, def)
		case ast.ConstraintForeignKey, ast.ConstraintCheck:
			check, fk, err := tableConstraintDef(c)
			if err != nil {
				return nil, err
			}
			if check != nil {
				checks = append(checks, *check)
			}
			if fk != nil {
				fks = append(fks, *fk)
			}
		default:
			return nil, pgerror.Unsupported("this table constraint")
		}
	}
	if pk == nil {
		// Without a primary key, rows are keyed by a hidden, unique row ID.
		name := "rowid"
		for _, c := range tbl.Columns {
			if c.Name == name {
				name = "rowid_1"
			}
		}
		tbl.Columns = append(tbl.Columns, catalog.Column{ID: tbl.NextColumnID, Name: name, Type: types.Int8, Default: "unique_rowid()", Hidden: true})
		tbl.NextColumnID++
		pk, pkDesc = []string{name}, []bool{false}
	}
	for i, name := range pk {
		col, _, ok := tbl.ColumnByName(name)
		if !ok {
			return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q named in key does not exist", name)
		}
		for _, id := range tbl.PrimaryKey {
			if id == col.ID {
				return nil, pgerror.New(pgerror.CodeDuplicateColumn, "column %q appears twice in primary key constraint", name)
			}
		}
		if !rowenc.KeyEncodable(col.Type) {
			return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "column %q of type %s cannot be part of a primary key", name, col.Type.String()).
				WithHint("Meridian cannot yet key rows by json, jsonb or array values; key the table by another column.")
		}
		col.Nullable = false // primary key columns are NOT NULL
		tbl.PrimaryKey = append(tbl.PrimaryKey, col.ID)
		tbl.PrimaryKeyDesc = append(tbl.PrimaryKeyDesc, pkDesc[i])
	}
	if err := tbl.Validate(); err != nil {
		if strings.Contains(err.Error(), "more than once") {
			return nil, pgerror.New(pgerror.CodeDuplicateColumn, "%v", err)
		}
		return nil, pgerror.New(pgerror.CodeInvalidTableDefinition, "%v", err)
	}
	for _, c := range checks {
		if _, err := s.addCheck(tbl, c); err != nil {
			return nil, err
		}
	}
	for _, def := range indexes {
		if _, err := buildIndex(tbl, def, def.name); err != nil {
			return nil, err
		}
	}
	return &createTablePlan{schema: n.Table.Schema.O, table: tbl, ifNotExists: n.IfNotExists, foreignKeys: fks, serials: serials, indexes: indexes}, nil
}

func (p *createTablePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	d, sc, err := s.creationSchema(ctx, x.txn, p.schema)
	if err != nil {
		return nil, err
	}
	if err := s.checkCreateIn(ctx, x.txn, d, sc); err != nil {
		return nil, err
	}
	tbl := cloneTable(p.table) // a fresh copy each execution: CreateTable assigns the ID
	tbl.DatabaseID, tbl.SchemaID = d.ID, sc.ID
	tbl.ACL = &privilege.ACL{Owner: s.user} // the creator owns it
	if err := s.addTableIndexes(ctx, x.txn, tbl, p.indexes); err != nil {
		return nil, err
	}
	var notices []notice
	if err := s.srv.cat.CreateTable(ctx, x.txn, tbl); err != nil {
		if !(p.ifNotExists && pgerror.Code(err) == pgerror.CodeDuplicateTable) {
			return nil, err
		}
		notices = append(notices, notice{Code: pgerror.CodeDuplicateTable, Message: fmt.Sprintf("relation %q already exists, skipping", tbl.Name)})
	} else if len(p.foreignKeys) > 0 || len(p.serials) > 0 {
		if err := s.finishCreateTable(ctx, x.txn, tbl, sc, p.foreignKeys, p.serials); err != nil {
			return nil, err
		}
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "CREATE TABLE", notices: notices}, nil
}

type dropTablePlan struct {
	schemaChange
	tables   []*ast.TableName
	ifExists bool
	cascade  bool
}

func (s *Session) planDropTable(n *ast.DropTableStmt, opts *pgdialect.DDL) (plan, error) {
	if n.IsView {
		return &dropViewPlan{names: n.Tables, ifExists: n.IfExists, cascade: opts != nil && opts.Cascade}, nil
	}
	return &dropTablePlan{tables: n.Tables, ifExists: n.IfExists, cascade: opts != nil && opts.Cascade}, nil
}

func (p *dropTablePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	var notices []notice
	var tables []*catalog.Table
	for _, tn := range p.tables {
		// Read the descriptor transactionally: the cache may be stale.
		tbl, err := s.lookupTableAt(ctx, x.txn, tn.Schema.O, tn.Name.O, 0)
		if err != nil {
			if p.ifExists && pgerror.Code(err) == pgerror.CodeUndefinedTable {
				notices = append(notices, notice{Code: pgerror.CodeUndefinedTable, Message: fmt.Sprintf("table %q does not exist, skipping", tn.Name.O)})
				continue
			}
			if pgerror.Code(err) == pgerror.CodeWrongObjectType {
				hint := "Use DROP SEQUENCE to remove a sequence."
				if _, verr := s.lookupViewAt(ctx, x.txn, tn.Schema.O, tn.Name.O, 0); verr == nil {
					hint = "Use DROP VIEW to remove a view."
				}
				return nil, pgerror.Flatten(err).WithHint(hint)
			}
			return nil, err
		}
		if err := s.checkTableOwner(ctx, x.txn, tbl); err != nil {
			return nil, err
		}
		tables = append(tables, tbl)
	}
	more, err := s.dropTables(ctx, x.txn, tables, p.cascade)
	if err != nil {
		return nil, err
	}
	notices = append(notices, more...)
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "DROP TABLE", notices: notices}, nil
}
