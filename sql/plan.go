package sql

import (
	"context"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/txn"
)

// plan is an executable statement.
type plan interface {
	// columns are the result columns, nil for statements that return no rows.
	columns() []resultColumn
	run(ctx context.Context, x *execCtx) (*result, error)
	changesSchema() bool
}

// execCtx is the state of one execution of a plan.
type execCtx struct {
	ec         *evalCtx
	txn        *txn.Txn
	session    *Session
	autocommit bool
	// mem is the statement's memory budget.
	mem *memAccount
	// stats, when non-nil, counts each node's rows (EXPLAIN ANALYZE).
	stats map[relNode]*nodeStats
	// sink, when non-nil, receives a query's rows as they are produced.
	sink rowSink
	// pgCatalog is the statement's view of the catalog for the system catalogs, read
	// when one is first used (pgcatalog.go).
	pgCatalog *catalogSnapshot
}

// finishRead commits an implicit read-only statement.
func (x *execCtx) finishRead(ctx context.Context) error {
	if x.autocommit {
		return x.txn.Commit(ctx)
	}
	return nil
}

// write sends a statement's writes; an implicit transaction commits with them, in one
// round when they all land on one range.
func (x *execCtx) write(ctx context.Context, b *txn.Batch) error {
	if x.autocommit {
		return x.txn.CommitInBatch(ctx, b)
	}
	if b.Len() == 0 {
		return nil
	}
	return x.txn.Run(ctx, b)
}

// noSchemaChange is embedded by plans that only touch data.
type noSchemaChange struct{}

func (noSchemaChange) changesSchema() bool { return false }

func (s *Session) buildPlan(ctx context.Context, t *txn.Txn, p *prepared) (plan, error) {
	if p.stmt.Access != nil {
		return s.planAccess(p.stmt.Access)
	}
	if pl, ok, err := s.planSchemaStatement(ctx, t, p); ok { // schema_ddl.go
		return pl, err
	}
	if p.stmt.Index != nil {
		return s.planIndexStatement(ctx, t, p.stmt.Index)
	}
	if p.stmt.Maintenance != nil {
		return s.planMaintenance(ctx, t, p.stmt.Maintenance)
	}
	if p.stmt.Truncate != nil {
		return s.planTruncate(ctx, t, p.stmt.Truncate) // truncate.go
	}
	switch n := p.node.(type) {
	case *ast.SelectStmt:
		return s.planSelect(ctx, t, n, p)
	case *ast.SetOprStmt:
		return s.planSelect(ctx, t, n, p)
	case *ast.InsertStmt:
		return s.planInsert(ctx, t, n, p)
	case *ast.UpdateStmt:
		return s.planUpdate(ctx, t, n, p)
	case *ast.DeleteStmt:
		return s.planDelete(ctx, t, n, p)
	case *ast.CreateDatabaseStmt:
		return &createDatabasePlan{name: n.Name.O, ifNotExists: n.IfNotExists}, nil
	case *ast.DropDatabaseStmt:
		return &dropDatabasePlan{name: n.Name.O, ifExists: n.IfExists}, nil
	case *ast.CreateTableStmt:
		return s.planCreateTable(ctx, t, n, p.stmt.StoredColumns)
	case *ast.DropTableStmt:
		return s.planDropTable(n, p.stmt.DDL)
	case *ast.CreateViewStmt:
		return s.planCreateView(n, p.stmt)
	case *ast.ShowStmt:
		return s.planShow(n)
	case *ast.SetStmt:
		return s.planSet(n, p.stmt)
	case *ast.ExplainStmt:
		return s.planExplain(ctx, t, n, p)
	case *ast.SplitRegionStmt:
		return s.planSplit(ctx, t, n, p)
	}
	return nil, pgerror.Unsupported(statementName(p.stmt.Original))
}

// statementName names a statement by its leading keyword, for "not supported" errors: with
// the kind of object for CREATE, ALTER and DROP (CREATE OR REPLACE VIEW, DROP TRIGGER).
func statementName(sql string) string {
	f := strings.Fields(sql)
	if len(f) == 0 {
		return "empty statements"
	}
	name := []string{strings.ToUpper(f[0])}
	if !slices.Contains([]string{"CREATE", "ALTER", "DROP"}, name[0]) {
		return name[0]
	}
	for _, w := range f[1:] {
		w = strings.ToUpper(strings.TrimRight(w, "(;"))
		if w == "" || strings.IndexFunc(w, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
			break
		}
		name = append(name, w)
		if !objectKindModifiers[w] {
			break
		}
	}
	return strings.Join(name, " ")
}

// objectKindModifiers are the words that may come between CREATE (ALTER, DROP) and the kind
// of object.
var objectKindModifiers = map[string]bool{"OR": true, "REPLACE": true, "TEMP": true, "TEMPORARY": true,
	"MATERIALIZED": true, "RECURSIVE": true, "UNLOGGED": true, "GLOBAL": true, "LOCAL": true,
	"DEFAULT": true, "TRUSTED": true, "PROCEDURAL": true, "CONSTRAINT": true, "EVENT": true, "FOREIGN": true}
