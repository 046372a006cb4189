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
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// planSchemaStatement plans the DDL of schemas, sequences and ALTER TABLE; ok is false for
// any other statement.
func (s *Session) planSchemaStatement(ctx context.Context, t *txn.Txn, p *prepared) (plan, bool, error) {
	opts := p.stmt.DDL
	if opts == nil {
		opts = &pgdialect.DDL{}
	}
	switch n := p.node.(type) {
	case *ast.CreateDatabaseStmt:
		if opts.Schema {
			return &createSchemaPlan{name: n.Name.O, ifNotExists: n.IfNotExists}, true, nil
		}
	case *ast.DropDatabaseStmt:
		if opts.Schema {
			return &dropSchemaPlan{name: n.Name.O, ifExists: n.IfExists, cascade: opts.Cascade}, true, nil
		}
	case *ast.AlterTableStmt:
		if pl, ok, err := s.planAlterTableIndex(ctx, t, n, p.stmt.StoredColumns); ok {
			return pl, true, err
		}
		pl, err := s.planAlterTable(n, opts, p.stmt.View != nil && p.stmt.View.Alter)
		return pl, true, err
	case *ast.CreateSequenceStmt:
		pl, err := s.planCreateSequence(n, p)
		return pl, true, err
	case *ast.DropSequenceStmt:
		return &dropSequencePlan{names: n.Sequences, ifExists: n.IfExists, cascade: opts.Cascade}, true, nil
	}
	return nil, false, nil
}

// newColumn reads a column definition's name and type; for a SERIAL column it also returns
// the sequence to make for it.
func (s *Session) newColumn(tbl *catalog.Table, def *ast.ColumnDef) (catalog.Column, *serialColumn, error) {
	col := catalog.Column{ID: tbl.NextColumnID, Name: def.Name.Name.O, Nullable: true}
	elems := def.Tp.GetElems()
	if len(elems) == 1 {
		if intType, ok := serialTypes[strings.ToLower(elems[0])]; ok {
			typ, err := types.ParseTypeName(intType)
			if err != nil {
				return col, nil, err
			}
			seq, err := sequenceOptions(serialSequenceName(tbl.Name, col.Name), nil, intType)
			if err != nil {
				return col, nil, err
			}
			col.Type, col.Nullable = typ, false
			return col, &serialColumn{colName: col.Name, seq: seq}, nil
		}
	}
	typ, err := columnType(def)
	if err != nil {
		return col, nil, err
	}
	col.Type = typ
	return col, nil, nil
}

// columnConstraintOption reads a column's CHECK or REFERENCES option; handled is false for
// other options.
func columnConstraintOption(col *catalog.Column, opt *ast.ColumnOption, checks *[]checkDef, fks *[]fkDef) (bool, error) {
	switch opt.Tp {
	case ast.ColumnOptionCheck:
		if !opt.Enforced {
			return true, pgerror.Unsupported("NOT ENFORCED constraints")
		}
		*checks = append(*checks, checkDef{name: opt.ConstraintName, expr: opt.Expr})
		return true, nil
	case ast.ColumnOptionReference:
		d, err := newFKDef(opt.ConstraintName, []string{col.Name}, opt.Refer)
		if err != nil {
			return true, err
		}
		*fks = append(*fks, d)
		return true, nil
	}
	return false, nil
}

// identityColumn reads the dialect's stand-in for GENERATED … AS IDENTITY in a DEFAULT
// option; nil when the default is an ordinary one.
func identityColumn(tbl *catalog.Table, col *catalog.Column, e ast.ExprNode) (*serialColumn, error) {
	if p, ok := e.(*ast.ParenthesesExpr); ok {
		e = p.Expr
	}
	f, ok := e.(*ast.FuncCallExpr)
	if !ok || f.FnName.L != pgdialect.IdentityMarker || len(f.Args) != 2 {
		return nil, nil
	}
	var args [2]string
	for i, a := range f.Args {
		v, ok := a.(*parser.Value)
		if !ok {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "invalid identity column")
		}
		args[i], _ = v.Val.(string)
	}
	if col.Type.Family != types.IntFamily {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "identity column type must be smallint, integer, or bigint")
	}
	seq, err := identityOptions(serialSequenceName(tbl.Name, col.Name), col.Type, args[1])
	if err != nil {
		return nil, err
	}
	col.Nullable = false
	return &serialColumn{colName: col.Name, identity: args[0], seq: seq}, nil
}

// finishCreateTable makes the sequences of a new table's serial columns and resolves its
// foreign keys, now that it has an ID.
func (s *Session) finishCreateTable(ctx context.Context, t *txn.Txn, created *catalog.Table, sc *catalog.Schema, fks []fkDef, serials []serialColumn) error {
	edits := newTableEdits(s, t)
	tbl := edits.adopt(created)
	if err := s.createOwnedSequences(ctx, t, tbl, sc.Name, serials); err != nil {
		return err
	}
	for _, d := range fks {
		if err := s.addForeignKey(ctx, t, edits, tbl, d, true); err != nil {
			return err
		}
	}
	return edits.write(ctx)
}

// addForeignKey resolves d, a foreign key of tbl (an edited table), adds it, and records it
// on the referenced table.
func (s *Session) addForeignKey(ctx context.Context, t *txn.Txn, edits *tableEdits, tbl *catalog.Table, d fkDef, creating bool) error {
	fk, parent, err := s.resolveForeignKey(ctx, t, tbl, d, creating)
	if err != nil {
		return err
	}
	if parent.ID != tbl.ID {
		// Meridian has no REFERENCES privilege; referencing a table requires reading it.
		if err := s.checkTable(ctx, t, parent, privilege.Select); err != nil {
			return err
		}
		if parent, err = edits.get(ctx, parent.ID); err != nil {
			return err
		}
	}
	tbl.ForeignKeys = append(tbl.ForeignKeys, fk)
	addForeignKeyRef(parent, tbl.ID, fk.Name)
	return nil
}

// dropTables drops tables (owner checks done) with their owned sequences. Foreign keys
// between them go with them; one from another table makes the drop fail (2BP01) unless
// cascade, which drops that constraint.
func (s *Session) dropTables(ctx context.Context, t *txn.Txn, tables []*catalog.Table, cascade bool) ([]notice, error) {
	dropping := map[uint32]bool{}
	roots := map[uint32]string{}
	for _, tbl := range tables {
		dropping[tbl.ID] = true
		roots[tbl.ID] = "table " + s.displayName(ctx, t, tbl.DatabaseID, tbl.ParentSchemaID(), tbl.Name)
	}
	var notices []notice
	if len(tables) > 0 {
		more, err := s.dropDependentViews(ctx, t, tables[0].DatabaseID, roots, cascade)
		if err != nil {
			return nil, err
		}
		notices = more
	}
	edits := newTableEdits(s, t)
	for _, tbl := range tables {
		for _, ref := range tbl.ReferencedBy {
			if dropping[ref.Table] {
				continue
			}
			child, err := edits.get(ctx, ref.Table)
			if err != nil {
				return nil, err
			}
			if !cascade {
				return nil, pgerror.New(pgerror.CodeDependentObjects, "cannot drop table %s because other objects depend on it", tbl.Name).
					WithDetail(fmt.Sprintf("constraint %s on table %s depends on table %s", ref.Name, child.Name, tbl.Name)).
					WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
			}
			child.ForeignKeys = removeForeignKey(child.ForeignKeys, ref.Name)
			notices = append(notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: fmt.Sprintf("drop cascades to constraint %s on table %s", ref.Name, child.Name)})
		}
		for _, fk := range tbl.ForeignKeys {
			if dropping[fk.ReferencedTable] {
				continue
			}
			parent, err := edits.get(ctx, fk.ReferencedTable)
			if err != nil {
				return nil, err
			}
			removeForeignKeyRef(parent, tbl.ID, fk.Name)
		}
	}
	for _, tbl := range tables {
		edits.forget(tbl.ID)
		for _, o := range tbl.OwnedSequences {
			seq, err := s.srv.cat.SequenceByID(ctx, t, o.SequenceID)
			if err != nil {
				return nil, err
			}
			if seq != nil {
				if err := dropSequence(ctx, t, s.srv.cat, seq); err != nil {
					return nil, err
				}
			}
		}
		if err := dropTable(ctx, t, s.srv.cat, tbl); err != nil {
			return nil, err
		}
	}
	return notices, edits.write(ctx)
}

func removeForeignKey(fks []catalog.ForeignKey, name string) []catalog.ForeignKey {
	var out []catalog.ForeignKey
	for _, fk := range fks {
		if fk.Name != name {
			out = append(out, fk)
		}
	}
	return out
}

type createSchemaPlan struct {
	schemaChange
	name        string
	ifNotExists bool
}

func (p *createSchemaPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	db, err := s.srv.cat.LookupDatabase(ctx, x.txn, s.database, 0)
	if err != nil {
		return nil, err
	}
	if err := s.checkDatabase(ctx, x.txn, db, privilege.Create); err != nil {
		return nil, err
	}
	var notices []notice
	if _, err := s.srv.cat.CreateSchema(ctx, x.txn, db.ID, p.name, s.user); err != nil {
		if !(p.ifNotExists && pgerror.Code(err) == pgerror.CodeDuplicateSchema) {
			return nil, err
		}
		notices = append(notices, notice{Code: pgerror.CodeDuplicateSchema, Message: fmt.Sprintf("schema %q already exists, skipping", p.name)})
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "CREATE SCHEMA", notices: notices}, nil
}

type dropSchemaPlan struct {
	schemaChange
	name     string
	ifExists bool
	cascade  bool
}

func (p *dropSchemaPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	cat := s.srv.cat
	if catalog.ReservedSchemaNames[p.name] {
		return nil, pgerror.New(pgerror.CodeDependentObjects, "cannot drop schema %s because it is required by the database system", p.name)
	}
	if p.name == catalog.PublicSchema {
		return nil, pgerror.Unsupported("dropping schema public")
	}
	db, err := cat.LookupDatabase(ctx, x.txn, s.database, 0)
	if err != nil {
		return nil, err
	}
	sc, err := cat.LookupSchema(ctx, x.txn, db.ID, p.name, 0)
	if err != nil {
		if p.ifExists && pgerror.Code(err) == pgerror.CodeInvalidSchemaName {
			if err := x.finishRead(ctx); err != nil {
				return nil, err
			}
			return &result{tag: "DROP SCHEMA", notices: []notice{{Code: pgerror.CodeInvalidSchemaName, Message: fmt.Sprintf("schema %q does not exist, skipping", p.name)}}}, nil
		}
		return nil, err
	}
	if ok, err := s.owns(ctx, x.txn, sc.Privileges()); err != nil {
		return nil, err
	} else if !ok {
		return nil, pgerror.New(CodeInsufficientPrivilege, "must be owner of schema %s", sc.Name)
	}
	objs, err := cat.ObjectsOf(ctx, x.txn, db.ID)
	if err != nil {
		return nil, err
	}
	var tables []*catalog.Table
	var seqs []*catalog.Sequence
	var dependents []string
	for _, tbl := range objs.Tables {
		if tbl.ParentSchemaID() == sc.ID {
			tables = append(tables, tbl)
			dependents = append(dependents, fmt.Sprintf("table %s.%s depends on schema %s", sc.Name, tbl.Name, sc.Name))
		}
	}
	for _, seq := range objs.Sequences {
		if seq.ParentSchemaID() == sc.ID {
			seqs = append(seqs, seq)
			if seq.OwnedBy == nil {
				dependents = append(dependents, fmt.Sprintf("sequence %s.%s depends on schema %s", sc.Name, seq.Name, sc.Name))
			}
		}
	}
	views := map[uint32]string{}
	for _, v := range objs.Views {
		if v.ParentSchemaID() == sc.ID {
			views[v.ID] = fmt.Sprintf("view %s.%s", sc.Name, v.Name)
			dependents = append(dependents, fmt.Sprintf("view %s.%s depends on schema %s", sc.Name, v.Name, sc.Name))
		}
	}
	if len(dependents) > 0 && !p.cascade {
		return nil, pgerror.New(pgerror.CodeDependentObjects, "cannot drop schema %s because other objects depend on it", sc.Name).
			WithDetail(strings.Join(dependents, "\n")).
			WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
	}
	var notices []notice
	if len(dependents) == 1 {
		notices = append(notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: "drop cascades to " + strings.TrimSuffix(dependents[0], " depends on schema "+sc.Name)})
	} else if len(dependents) > 1 {
		notices = append(notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: fmt.Sprintf("drop cascades to %d other objects", len(dependents))})
	}
	// The schema's views go first, with the views elsewhere that read them; then its
	// tables, with the views elsewhere that read those.
	if _, err := s.dropDependentViews(ctx, x.txn, db.ID, views, true); err != nil {
		return nil, err
	}
	for _, v := range objs.Views {
		if _, ok := views[v.ID]; ok {
			if err := cat.DropView(ctx, x.txn, v); err != nil {
				return nil, err
			}
		}
	}
	more, err := s.dropTables(ctx, x.txn, tables, true)
	if err != nil {
		return nil, err
	}
	notices = append(notices, more...)
	for _, seq := range seqs {
		if seq.OwnedBy != nil {
			continue // gone with its table
		}
		if err := dropSequence(ctx, x.txn, cat, seq); err != nil {
			return nil, err
		}
	}
	if err := cat.DropSchema(ctx, x.txn, sc); err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "DROP SCHEMA", notices: notices}, nil
}
