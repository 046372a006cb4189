package sql

import (
	"context"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Name resolution with schemas. A qualified name s.t names relation t of schema s of the
// session's database; when the database has no schema s but a database s exists, it names
// t of that database's public schema (the MySQL-family reading of db.t, which earlier
// Meridian versions and CockroachDB accept). An unqualified name is looked up in the schemas
// of search_path, in order, skipping those that do not exist; a new relation goes into the
// first of them that exists.

// searchPath returns the schemas of the session's search_path, in order: quoted names keep
// their case, others are folded, and "$user" is the session user's name.
func (s *Session) searchPath() []string {
	var out []string
	for _, item := range strings.Split(s.vars["search_path"], ",") {
		item = strings.TrimSpace(item)
		if len(item) >= 2 && item[0] == '"' && item[len(item)-1] == '"' {
			item = strings.ReplaceAll(item[1:len(item)-1], `""`, `"`)
			if item == "$user" {
				item = s.user
			}
		} else {
			item = strings.ToLower(item)
		}
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

// pathSchemas resolves the schemas of search_path that exist in the session's database.
func (s *Session) pathSchemas(ctx context.Context, t *txn.Txn, db *catalog.Database) ([]*catalog.Schema, error) {
	var out []*catalog.Schema
	for _, name := range s.searchPath() {
		if catalog.ReservedSchemaNames[name] {
			continue // the virtual catalogs hold no tables of this kind
		}
		sc, err := s.srv.cat.LookupSchema(ctx, t, db.ID, name, s.cacheVersion())
		if pgerror.Code(err) == pgerror.CodeInvalidSchemaName {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// currentSchema is current_schema(): the first schema of search_path that exists, "" if none.
func (s *Session) currentSchema(ctx context.Context, t *txn.Txn) (string, error) {
	db, err := s.currentDatabase(ctx, t)
	if err != nil {
		return "", err
	}
	schemas, err := s.pathSchemas(ctx, t, db)
	if err != nil || len(schemas) == 0 {
		return "", err
	}
	return schemas[0].Name, nil
}

// qualifiedSchema resolves the schema part of a qualified name: a schema of the session's
// database or, failing that, the public schema of the database of that name. ok is false
// when neither exists.
func (s *Session) qualifiedSchema(ctx context.Context, t *txn.Txn, schema string, at uint64) (*catalog.Schema, bool, error) {
	db, err := s.srv.cat.LookupDatabase(ctx, t, s.database, at)
	if pgerror.Code(err) == pgerror.CodeInvalidCatalogName {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	sc, err := s.srv.cat.LookupSchema(ctx, t, db.ID, schema, at)
	if err == nil {
		return sc, true, nil
	}
	if pgerror.Code(err) != pgerror.CodeInvalidSchemaName {
		return nil, false, err
	}
	other, err := s.srv.cat.LookupDatabase(ctx, t, schema, at)
	if pgerror.Code(err) == pgerror.CodeInvalidCatalogName {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &catalog.Schema{ID: catalog.PublicSchemaID, DatabaseID: other.ID, Name: catalog.PublicSchema}, true, nil
}

// relationLookup looks a relation up in one schema; 42P01 means "not there".
type relationLookup[T any] func(db, schema uint32, name string, at uint64) (T, error)

// resolveRelation finds the relation schema.name (schema "" for an unqualified name) with
// lookup, reading descriptors at version at.
func resolveRelation[T any](ctx context.Context, s *Session, t *txn.Txn, schema, name string, at uint64, lookup relationLookup[T]) (T, error) {
	var zero T
	if schema != "" {
		sc, ok, err := s.qualifiedSchema(ctx, t, schema, at)
		if err != nil {
			return zero, err
		}
		if !ok {
			return zero, pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
		}
		v, err := lookup(sc.DatabaseID, sc.ID, name, at)
		if pgerror.Code(err) == pgerror.CodeUndefinedTable {
			return zero, pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
		}
		return v, err
	}
	db, err := s.srv.cat.LookupDatabase(ctx, t, s.database, at)
	if pgerror.Code(err) == pgerror.CodeInvalidCatalogName {
		// Read as of a time before the database existed.
		return zero, pgerror.New(pgerror.CodeUndefinedTable, "relation %q does not exist", name)
	}
	if err != nil {
		return zero, err
	}
	schemas, err := s.pathSchemas(ctx, t, db)
	if err != nil {
		return zero, err
	}
	for _, sc := range schemas {
		v, err := lookup(db.ID, sc.ID, name, at)
		if pgerror.Code(err) == pgerror.CodeUndefinedTable {
			continue
		}
		return v, err
	}
	return zero, pgerror.New(pgerror.CodeUndefinedTable, "relation %q does not exist", name)
}

// resolveTableName finds the table a statement names, with the session's cache version.
func (s *Session) resolveTableName(ctx context.Context, t *txn.Txn, tn *ast.TableName) (*catalog.Table, error) {
	return s.lookupTableAt(ctx, t, tn.Schema.O, tn.Name.O, s.cacheVersion())
}

// lookupTableAt finds table schema.name reading descriptors at version at (0: from t).
func (s *Session) lookupTableAt(ctx context.Context, t *txn.Txn, schema, name string, at uint64) (*catalog.Table, error) {
	return resolveRelation(ctx, s, t, schema, name, at, func(db, sc uint32, name string, at uint64) (*catalog.Table, error) {
		return s.srv.cat.LookupTableIn(ctx, t, db, sc, name, at)
	})
}

// lookupSequence finds sequence schema.name reading descriptors at version at.
func (s *Session) lookupSequence(ctx context.Context, t *txn.Txn, schema, name string, at uint64) (*catalog.Sequence, error) {
	return resolveRelation(ctx, s, t, schema, name, at, func(db, sc uint32, name string, at uint64) (*catalog.Sequence, error) {
		return s.srv.cat.LookupSequence(ctx, t, db, sc, name, at)
	})
}

// creationSchema is the schema a new relation named schema.name goes into (schema "" for
// an unqualified name), and its database.
func (s *Session) creationSchema(ctx context.Context, t *txn.Txn, schema string) (*catalog.Database, *catalog.Schema, error) {
	if schema != "" {
		if catalog.ReservedSchemaNames[schema] {
			return nil, nil, pgerror.New(CodeInsufficientPrivilege, "permission denied for schema %s", schema)
		}
		sc, ok, err := s.qualifiedSchema(ctx, t, schema, 0)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, pgerror.New(pgerror.CodeInvalidSchemaName, "schema %q does not exist", schema)
		}
		db, err := s.srv.cat.DatabaseByID(ctx, t, sc.DatabaseID)
		if err != nil {
			return nil, nil, err
		}
		if db == nil {
			return nil, nil, pgerror.New(pgerror.CodeInvalidSchemaName, "schema %q does not exist", schema)
		}
		return db, sc, nil
	}
	db, err := s.srv.cat.LookupDatabase(ctx, t, s.database, 0)
	if err != nil {
		return nil, nil, err
	}
	schemas, err := s.pathSchemas(ctx, t, db)
	if err != nil {
		return nil, nil, err
	}
	if len(schemas) == 0 {
		return nil, nil, pgerror.New(pgerror.CodeInvalidSchemaName, "no schema has been selected to create in")
	}
	return db, schemas[0], nil
}

// parseQualifiedName splits the text of a relation's name, as nextval('…') takes it: dotted
// parts, each a double-quoted identifier (kept) or a plain one (folded to lower case).
func parseQualifiedName(text string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	invalid := pgerror.New(pgerror.CodeInvalidName, "invalid name syntax")
	i := 0
	for {
		if i < len(text) && text[i] == '"' {
			i++
			for {
				if i >= len(text) {
					return nil, invalid
				}
				if text[i] == '"' {
					if i+1 < len(text) && text[i+1] == '"' {
						cur.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				cur.WriteByte(text[i])
				i++
			}
		} else {
			start := i
			for i < len(text) && text[i] != '.' && text[i] != '"' {
				i++
			}
			cur.WriteString(strings.ToLower(strings.TrimSpace(text[start:i])))
		}
		if cur.Len() == 0 {
			return nil, invalid
		}
		parts = append(parts, cur.String())
		cur.Reset()
		if i >= len(text) {
			break
		}
		if text[i] != '.' {
			return nil, invalid
		}
		i++
	}
	if len(parts) > 3 {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "improper relation name (too many dotted names): %s", text)
	}
	return parts, nil
}

// showTables lists the tables of every schema of the session's database, or of the schema
// (or, failing that, the database) from names.
func (s *Session) showTables(ctx context.Context, t *txn.Txn, from string) ([][]types.Datum, error) {
	cat := s.srv.cat
	db, err := s.currentDatabase(ctx, t)
	if err != nil {
		return nil, err
	}
	var schemas []*catalog.Schema
	if from != "" {
		sc, ok, err := s.qualifiedSchema(ctx, t, from, s.cacheVersion())
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, pgerror.New(pgerror.CodeInvalidSchemaName, "schema %q does not exist", from)
		}
		schemas = []*catalog.Schema{sc}
	} else {
		names, err := cat.ListSchemas(ctx, t, db.ID)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			sc, err := cat.LookupSchema(ctx, t, db.ID, name, s.cacheVersion())
			if err != nil {
				return nil, err
			}
			schemas = append(schemas, sc)
		}
	}
	var rows [][]types.Datum
	for _, sc := range schemas {
		names, err := cat.ListTablesIn(ctx, t, sc.DatabaseID, sc.ID)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			rows = append(rows, []types.Datum{sc.Name, name})
		}
	}
	return rows, nil
}
