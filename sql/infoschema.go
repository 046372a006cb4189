package sql

import (
	"slices"
	"strconv"

	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
)

// information_schema: the SQL standard's views of the catalog, with PostgreSQL's columns.
// Like PostgreSQL's, the views of tables and columns show only what the user has some
// privilege on. The standard's domains are their base types here (sql_identifier is name,
// cardinal_number int4, yes_or_no varchar(3), character_data text).

// yesNo spells a boolean as the standard's yes_or_no.
func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// columnTypeInfo holds the information_schema columns that describe a column's type.
type columnTypeInfo struct {
	dataType, udtName                        string
	charMaxLen, charOctetLen                 any
	numPrecision, numRadix, numScale, dtPrec any
}

// describeColumnType fills columnTypeInfo as PostgreSQL's information_schema.columns does.
func describeColumnType(t types.T) columnTypeInfo {
	info := columnTypeInfo{udtName: shortTypeName(t), dataType: baseOf(t).String()}
	if t.Family == types.ArrayFamily {
		info.dataType = "ARRAY"
		info.udtName = "_" + shortTypeName(t.ElemType())
		return info
	}
	switch t.Family {
	case types.StringFamily:
		switch t.StringKind {
		case types.VarChar, types.Char:
			if t.Width > 0 {
				info.charMaxLen = int64(t.Width)
				info.charOctetLen = int64(t.Width) * 4 // UTF8's longest character
			} else {
				info.charOctetLen = int64(1 << 30)
			}
			if t.StringKind == types.Char {
				info.dataType = "character"
			}
		case types.Text:
			info.charOctetLen = int64(1 << 30)
		}
	case types.IntFamily:
		info.numPrecision, info.numRadix, info.numScale = int64(t.Size())*8, int64(2), int64(0)
	case types.FloatFamily:
		info.numPrecision, info.numRadix = int64(53), int64(2)
		if t.Size() == 4 {
			info.numPrecision = int64(24)
		}
	case types.DecimalFamily:
		info.numRadix = int64(10)
		if t.Precision > 0 {
			info.numPrecision, info.numScale = int64(t.Precision), int64(t.Scale)
		}
	case types.DateFamily:
		info.dtPrec = int64(0)
	case types.TimeFamily, types.TimestampFamily, types.TimestampTZFamily, types.IntervalFamily:
		info.dtPrec = int64(6)
	}
	return info
}

func init() {
	is := infoSchemaSchema
	defineTable(is, "schemata", 'v', `catalog_name sql_identifier, schema_name sql_identifier, schema_owner sql_identifier,
		default_character_set_catalog sql_identifier, default_character_set_schema sql_identifier,
		default_character_set_name sql_identifier, sql_path character_data`,
		func(g *rowGen) error {
			for _, ns := range g.snap.namespaces {
				if err := g.add("catalog_name", g.snap.database.Name, "schema_name", ns.name, "schema_owner", ns.owner); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(is, "tables", 'v', `table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier,
		table_type character_data, self_referencing_column_name sql_identifier, reference_generation character_data,
		user_defined_type_catalog sql_identifier, user_defined_type_schema sql_identifier,
		user_defined_type_name sql_identifier, is_insertable_into yes_or_no, is_typed yes_or_no,
		commit_action character_data`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				if r.kind != 'r' && r.kind != 'v' || !g.snap.tableVisibleTo(r) {
					continue
				}
				ns, _ := g.snap.namespaceByOID(r.ns)
				typ, insertable := "BASE TABLE", r.vt == nil && r.view == nil
				if r.kind == 'v' {
					typ = "VIEW"
				}
				if err := g.add("table_catalog", g.snap.database.Name, "table_schema", ns.name, "table_name", r.name,
					"table_type", typ, "is_insertable_into", yesNo(insertable), "is_typed", "NO"); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(is, "columns", 'v', `table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier,
		column_name sql_identifier, ordinal_position cardinal_number, column_default character_data,
		is_nullable yes_or_no, data_type character_data, character_maximum_length cardinal_number,
		character_octet_length cardinal_number, numeric_precision cardinal_number,
		numeric_precision_radix cardinal_number, numeric_scale cardinal_number, datetime_precision cardinal_number,
		interval_type character_data, interval_precision cardinal_number, character_set_catalog sql_identifier,
		character_set_schema sql_identifier, character_set_name sql_identifier, collation_catalog sql_identifier,
		collation_schema sql_identifier, collation_name sql_identifier, domain_catalog sql_identifier,
		domain_schema sql_identifier, domain_name sql_identifier, udt_catalog sql_identifier, udt_schema sql_identifier,
		udt_name sql_identifier, scope_catalog sql_identifier, scope_schema sql_identifier, scope_name sql_identifier,
		maximum_cardinality cardinal_number, dtd_identifier sql_identifier, is_self_referencing yes_or_no,
		is_identity yes_or_no, identity_generation character_data, identity_start character_data,
		identity_increment character_data, identity_maximum character_data, identity_minimum character_data,
		identity_cycle yes_or_no, is_generated character_data, generation_expression character_data,
		is_updatable yes_or_no`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				if r.kind != 'r' && r.kind != 'v' || !g.snap.tableVisibleTo(r) {
					continue
				}
				ns, _ := g.snap.namespaceByOID(r.ns)
				for _, c := range r.cols {
					ti := describeColumnType(c.typ)
					var def any
					if c.def != "" {
						def = g.snap.defaultText(r.table, c)
					}
					kv := []any{"table_catalog", g.snap.database.Name, "table_schema", ns.name, "table_name", r.name,
						"column_name", c.name, "ordinal_position", c.num, "column_default", def, "is_nullable", yesNo(!c.notNull),
						"data_type", ti.dataType, "character_maximum_length", ti.charMaxLen,
						"character_octet_length", ti.charOctetLen, "numeric_precision", ti.numPrecision,
						"numeric_precision_radix", ti.numRadix, "numeric_scale", ti.numScale,
						"datetime_precision", ti.dtPrec, "udt_catalog", g.snap.database.Name, "udt_schema", pgCatalogSchema,
						"udt_name", ti.udtName, "dtd_identifier", strconv.Itoa(c.num), "is_self_referencing", "NO",
						"is_identity", yesNo(c.identity != ""), "identity_cycle", "NO", "is_generated", "NEVER",
						"is_updatable", yesNo(r.vt == nil)}
					if c.identity != "" {
						gen := "BY DEFAULT"
						if c.identity == "a" {
							gen = "ALWAYS"
						}
						kv = append(kv, "identity_generation", gen)
						if rel := g.snap.ownedSequence(r.table, c.id); rel != nil {
							seq := rel.seq
							kv = append(kv, "identity_start", strconv.FormatInt(seq.Start, 10),
								"identity_increment", strconv.FormatInt(seq.Increment, 10),
								"identity_maximum", strconv.FormatInt(seq.Max, 10),
								"identity_minimum", strconv.FormatInt(seq.Min, 10), "identity_cycle", yesNo(seq.Cycle))
						}
					}
					if err := g.add(kv...); err != nil {
						return err
					}
				}
			}
			return nil
		})
	constraintTypes := map[byte]string{'p': "PRIMARY KEY", 'u': "UNIQUE", 'c': "CHECK", 'f': "FOREIGN KEY"}
	defineTable(is, "table_constraints", 'v', `constraint_catalog sql_identifier, constraint_schema sql_identifier,
		constraint_name sql_identifier, table_catalog sql_identifier, table_schema sql_identifier,
		table_name sql_identifier, constraint_type character_data, is_deferrable yes_or_no,
		initially_deferred yes_or_no, enforced yes_or_no, nulls_distinct yes_or_no`,
		func(g *rowGen) error {
			return g.eachConstraint(func(r *relationInfo, c *constraintInfo) error {
				var nullsDistinct any
				if c.kind == 'u' {
					nullsDistinct = "YES"
				}
				schema := g.snap.schemaName(r)
				return g.add("constraint_catalog", g.snap.database.Name, "constraint_schema", schema,
					"constraint_name", c.name, "table_catalog", g.snap.database.Name, "table_schema", schema,
					"table_name", r.name, "constraint_type", constraintTypes[c.kind], "is_deferrable", "NO",
					"initially_deferred", "NO", "enforced", "YES", "nulls_distinct", nullsDistinct)
			})
		})
	defineTable(is, "key_column_usage", 'v', `constraint_catalog sql_identifier, constraint_schema sql_identifier,
		constraint_name sql_identifier, table_catalog sql_identifier, table_schema sql_identifier,
		table_name sql_identifier, column_name sql_identifier, ordinal_position cardinal_number,
		position_in_unique_constraint cardinal_number`,
		func(g *rowGen) error {
			return g.eachConstraint(func(r *relationInfo, c *constraintInfo) error {
				if c.kind == 'c' {
					return nil
				}
				// A foreign key's columns give their position in the referenced
				// constraint's key, matched through the referenced columns.
				var ref *constraintInfo
				if c.kind == 'f' {
					ref = g.snap.referencedConstraint(c)
				}
				schema := g.snap.schemaName(r)
				for k, id := range c.cols {
					var posInUnique any
					if ref != nil && k < len(c.refCols) {
						for p, rc := range ref.cols {
							if rc == c.refCols[k] {
								posInUnique = p + 1
							}
						}
					}
					name := r.table.Columns[r.table.ColumnOrdinal(id)].Name
					if err := g.add("constraint_catalog", g.snap.database.Name, "constraint_schema", schema,
						"constraint_name", c.name, "table_catalog", g.snap.database.Name, "table_schema", schema,
						"table_name", r.name, "column_name", name, "ordinal_position", k+1,
						"position_in_unique_constraint", posInUnique); err != nil {
						return err
					}
				}
				return nil
			})
		})
	defineTable(is, "constraint_column_usage", 'v', `table_catalog sql_identifier, table_schema sql_identifier,
		table_name sql_identifier, column_name sql_identifier, constraint_catalog sql_identifier,
		constraint_schema sql_identifier, constraint_name sql_identifier`,
		func(g *rowGen) error {
			return g.eachConstraint(func(r *relationInfo, c *constraintInfo) error {
				// The columns a constraint uses: a foreign key's are the referenced ones.
				t, cols := r.table, c.cols
				if c.kind == 'f' {
					t, cols = c.refTable, c.refCols
				}
				for _, id := range cols {
					if err := g.add("table_catalog", g.snap.database.Name, "table_schema", g.snap.tableSchemaName(t),
						"table_name", t.Name, "column_name", t.Columns[t.ColumnOrdinal(id)].Name,
						"constraint_catalog", g.snap.database.Name, "constraint_schema", g.snap.schemaName(r),
						"constraint_name", c.name); err != nil {
						return err
					}
				}
				return nil
			})
		})
	defineTable(is, "check_constraints", 'v', `constraint_catalog sql_identifier, constraint_schema sql_identifier,
		constraint_name sql_identifier, check_clause character_data`,
		func(g *rowGen) error {
			return g.eachConstraint(func(r *relationInfo, c *constraintInfo) error {
				if c.kind != 'c' {
					return nil
				}
				// PostgreSQL's check_clause is pg_get_constraintdef without its "CHECK ".
				return g.add("constraint_catalog", g.snap.database.Name, "constraint_schema", g.snap.schemaName(r),
					"constraint_name", c.name, "check_clause", "("+deparseCheck(r.table, c.check, false)+")")
			})
		})
	ruleNames := map[byte]string{'a': "NO ACTION", 'r': "RESTRICT", 'c': "CASCADE", 'n': "SET NULL", 'd': "SET DEFAULT"}
	defineTable(is, "referential_constraints", 'v', `constraint_catalog sql_identifier, constraint_schema sql_identifier,
		constraint_name sql_identifier, unique_constraint_catalog sql_identifier,
		unique_constraint_schema sql_identifier, unique_constraint_name sql_identifier, match_option character_data,
		update_rule character_data, delete_rule character_data`,
		func(g *rowGen) error {
			return g.eachConstraint(func(r *relationInfo, c *constraintInfo) error {
				if c.kind != 'f' {
					return nil
				}
				var uniqueCatalog, uniqueSchema, uniqueName any
				if ref := g.snap.referencedConstraint(c); ref != nil {
					uniqueCatalog, uniqueSchema, uniqueName = g.snap.database.Name, g.snap.tableSchemaName(ref.table), ref.name
				}
				return g.add("constraint_catalog", g.snap.database.Name, "constraint_schema", g.snap.schemaName(r),
					"constraint_name", c.name, "unique_constraint_catalog", uniqueCatalog,
					"unique_constraint_schema", uniqueSchema, "unique_constraint_name", uniqueName,
					"match_option", "NONE", "update_rule", ruleNames[c.onUpdate], "delete_rule", ruleNames[c.onDelete])
			})
		})
	empty := func(*rowGen) error { return nil }
	defineTable(is, "views", 'v', `table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier,
		view_definition character_data, check_option character_data, is_updatable yes_or_no,
		is_insertable_into yes_or_no, is_trigger_updatable yes_or_no, is_trigger_deletable yes_or_no,
		is_trigger_insertable_into yes_or_no`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				if r.view == nil || !g.snap.tableVisibleTo(r) {
					continue
				}
				// PostgreSQL shows the definition to the view's owner only.
				var def any
				if g.snap.superuser || slices.Contains(g.snap.acting, r.owner) {
					def = viewDefinition(r.view)
				}
				if err := g.add("table_catalog", g.snap.database.Name, "table_schema", g.snap.schemaName(r), "table_name", r.name,
					"view_definition", def, "check_option", "NONE", "is_updatable", "NO", "is_insertable_into", "NO",
					"is_trigger_updatable", "NO", "is_trigger_deletable", "NO", "is_trigger_insertable_into", "NO"); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(is, "sequences", 'v', `sequence_catalog sql_identifier, sequence_schema sql_identifier,
		sequence_name sql_identifier, data_type character_data, numeric_precision cardinal_number,
		numeric_precision_radix cardinal_number, numeric_scale cardinal_number, start_value character_data,
		minimum_value character_data, maximum_value character_data, increment character_data,
		cycle_option yes_or_no`,
		func(g *rowGen) error {
			for _, r := range g.snap.relations {
				// An identity column's sequence is left out, as in PostgreSQL.
				if r.seq == nil || !g.snap.tableVisibleTo(r) || g.snap.isIdentitySequence(r.seq) {
					continue
				}
				seq, typ := r.seq, g.snap.sequenceType(r.seq)
				if err := g.add("sequence_catalog", g.snap.database.Name, "sequence_schema", g.snap.schemaName(r),
					"sequence_name", r.name, "data_type", typ.String(), "numeric_precision", int(typ.Size())*8,
					"numeric_precision_radix", 2, "numeric_scale", 0, "start_value", strconv.FormatInt(seq.Start, 10),
					"minimum_value", strconv.FormatInt(seq.Min, 10), "maximum_value", strconv.FormatInt(seq.Max, 10),
					"increment", strconv.FormatInt(seq.Increment, 10), "cycle_option", yesNo(seq.Cycle)); err != nil {
					return err
				}
			}
			return nil
		})
	defineTable(is, "routines", 'v', `specific_catalog sql_identifier, specific_schema sql_identifier,
		specific_name sql_identifier, routine_catalog sql_identifier, routine_schema sql_identifier,
		routine_name sql_identifier, routine_type character_data, data_type character_data,
		type_udt_catalog sql_identifier, type_udt_schema sql_identifier, type_udt_name sql_identifier,
		routine_body character_data, routine_definition character_data, external_name character_data,
		external_language character_data, is_deterministic yes_or_no, security_type character_data`, empty)
	defineTable(is, "triggers", 'v', `trigger_catalog sql_identifier, trigger_schema sql_identifier,
		trigger_name sql_identifier, event_manipulation character_data, event_object_catalog sql_identifier,
		event_object_schema sql_identifier, event_object_table sql_identifier, action_order cardinal_number,
		action_condition character_data, action_statement character_data, action_orientation character_data,
		action_timing character_data`, empty)
	defineTable(is, "character_sets", 'v', `character_set_catalog sql_identifier, character_set_schema sql_identifier,
		character_set_name sql_identifier, character_repertoire sql_identifier, form_of_use sql_identifier,
		default_collate_catalog sql_identifier, default_collate_schema sql_identifier,
		default_collate_name sql_identifier`,
		func(g *rowGen) error {
			return g.add("character_set_name", "UTF8", "character_repertoire", "UCS", "form_of_use", "UTF8",
				"default_collate_catalog", g.snap.database.Name, "default_collate_schema", pgCatalogSchema,
				"default_collate_name", "C")
		})
	defineTable(is, "table_privileges", 'v', `grantor sql_identifier, grantee sql_identifier,
		table_catalog sql_identifier, table_schema sql_identifier, table_name sql_identifier,
		privilege_type character_data, is_grantable yes_or_no, with_hierarchy yes_or_no`,
		func(g *rowGen) error {
			kinds := []privilege.Kind{privilege.Insert, privilege.Select, privilege.Update, privilege.Delete}
			for _, r := range g.snap.relations {
				if r.acl == nil || r.kind != 'r' {
					continue
				}
				add := func(grantee string, k privilege.Kind, grantable bool) error {
					for _, kind := range kinds {
						if k&kind == 0 {
							continue
						}
						// Only what the user holds, grants or owns is shown, as in PostgreSQL.
						if !g.snap.superuser && !containsRole(g.snap.acting, grantee) && !containsRole(g.snap.acting, r.acl.Owner) {
							continue
						}
						if err := g.add("grantor", r.acl.Owner, "grantee", grantee, "table_catalog", g.snap.database.Name,
							"table_schema", g.snap.schemaName(r), "table_name", r.name, "privilege_type", kind.String(),
							"is_grantable", yesNo(grantable), "with_hierarchy", yesNo(kind == privilege.Select)); err != nil {
							return err
						}
					}
					return nil
				}
				if err := add(r.acl.Owner, privilege.TableAll, true); err != nil {
					return err
				}
				for _, gr := range r.acl.Grants {
					grantee := gr.Grantee
					if grantee == privilege.Public {
						grantee = "PUBLIC"
					}
					if err := add(grantee, gr.Kinds, false); err != nil {
						return err
					}
				}
			}
			return nil
		})
}

func containsRole(roles []string, r string) bool {
	for _, x := range roles {
		if x == r || r == "PUBLIC" && x == privilege.Public {
			return true
		}
	}
	return false
}

// eachConstraint calls f for every constraint of the tables the user may see.
func (g *rowGen) eachConstraint(f func(r *relationInfo, c *constraintInfo) error) error {
	for _, r := range g.snap.relations {
		if r.kind != 'r' || r.table == nil || !g.snap.tableVisibleTo(r) {
			continue
		}
		for _, c := range g.snap.tableConstraints(r.table) {
			if err := f(r, c); err != nil {
				return err
			}
		}
	}
	return nil
}
