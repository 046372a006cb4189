package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
	"github.com/meridiandb/meridian/wire/scram"
)

// SQLSTATEs of role and privilege statements.
const (
	codeReservedName     = "42939"
	codeInvalidGrant     = "0LP01"
	codeDependentObjects = "2BP01"
)

// accessStatementName names an access statement for messages, e.g. "CREATE ROLE".
func accessStatementName(a *pgdialect.Access) string {
	switch a.Kind {
	case pgdialect.CreateRole:
		return "CREATE ROLE"
	case pgdialect.AlterRole:
		return "ALTER ROLE"
	case pgdialect.DropRole:
		return "DROP ROLE"
	case pgdialect.GrantPrivileges, pgdialect.GrantRole:
		return "GRANT"
	case pgdialect.RevokePrivileges, pgdialect.RevokeRole:
		return "REVOKE"
	case pgdialect.ShowGrants:
		return "SHOW GRANTS"
	}
	return "SHOW ROLES"
}

// accessPlan runs a statement about roles and privileges.
type accessPlan struct {
	schemaChange
	a *pgdialect.Access
	// kinds are the privileges of GRANT or REVOKE (ALL resolved for the kind of object).
	kinds privilege.Kind
}

func (s *Session) planAccess(a *pgdialect.Access) (plan, error) {
	switch a.Kind {
	case pgdialect.ShowRoles:
		return s.planShowRoles(), nil
	case pgdialect.ShowGrants:
		return s.planShowGrants(a), nil
	}
	p := &accessPlan{a: a}
	if a.Kind == pgdialect.GrantPrivileges || a.Kind == pgdialect.RevokePrivileges {
		var err error
		if p.kinds, err = privilegeKinds(a); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// privilegeKinds turns GRANT and REVOKE's privilege names into the privileges of their
// object's kind.
func privilegeKinds(a *pgdialect.Access) (privilege.Kind, error) {
	all, object := privilege.TableAll, "table"
	if a.OnDatabase {
		all, object = privilege.DatabaseAll, "database"
	}
	if a.Privileges == nil {
		return all, nil
	}
	var k privilege.Kind
	for _, name := range a.Privileges {
		p, ok := privilege.Parse(name)
		switch {
		case !ok && slices.Contains([]string{"TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN", "TEMPORARY", "TEMP", "USAGE", "EXECUTE"}, name):
			return 0, pgerror.Unsupported("the privilege " + name)
		case !ok:
			return 0, pgerror.New(pgerror.CodeSyntaxError, "unrecognized privilege type %q", strings.ToLower(name))
		case p&all == 0:
			return 0, pgerror.New(codeInvalidGrant, "invalid privilege type %s for %s", name, object)
		}
		k |= p
	}
	return k, nil
}

func (p *accessPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	var res *result
	var err error
	switch p.a.Kind {
	case pgdialect.CreateRole:
		res, err = p.createRole(ctx, x)
	case pgdialect.AlterRole:
		res, err = p.alterRole(ctx, x)
	case pgdialect.DropRole:
		res, err = p.dropRole(ctx, x)
	case pgdialect.GrantPrivileges, pgdialect.RevokePrivileges:
		res, err = p.grantPrivileges(ctx, x)
	case pgdialect.GrantRole, pgdialect.RevokeRole:
		res, err = p.grantRole(ctx, x)
	default:
		return nil, fmt.Errorf("unexpected access statement %d", p.a.Kind)
	}
	if err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// checkRoleName refuses names of roles that cannot be created, altered or dropped.
func checkRoleName(name string) error {
	if name == privilege.Public || name == "none" || name == "current_user" || name == "session_user" || name == "current_role" {
		return pgerror.New(codeReservedName, "role name %q is reserved", name)
	}
	if strings.HasPrefix(name, "pg_") {
		return pgerror.New(codeReservedName, "role name %q is reserved", name).
			WithDetail(`Role names starting with "pg_" are reserved.`)
	}
	return nil
}

func roleNotFound(name string) error {
	return pgerror.New(pgerror.CodeUndefinedObject, "role %q does not exist", name)
}

// applyPassword sets r's verifier from a statement's password options. A password that is
// already a SCRAM-SHA-256 verifier is stored as it is, as PostgreSQL does (dumps carry them);
// an empty one removes the password with a notice, as in PostgreSQL.
func applyPassword(r *catalog.Role, o pgdialect.RoleOptions, notices *[]notice) error {
	switch {
	case o.PasswordNull:
		r.Verifier = ""
	case o.Password == nil:
	case *o.Password == "":
		r.Verifier = ""
		*notices = append(*notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: "empty string is not a valid password, clearing password"})
	default:
		if v, err := scram.Parse(*o.Password); err == nil {
			r.Verifier = v.String()
			return nil
		}
		v, err := scram.NewVerifier(*o.Password)
		if err != nil {
			return fmt.Errorf("computing the password verifier: %w", err)
		}
		r.Verifier = v.String()
	}
	return nil
}

func (p *accessPlan) createRole(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	tag := "CREATE ROLE"
	if err := s.requireSuperuser("create role"); err != nil {
		return nil, err
	}
	name := p.a.Roles[0]
	if err := checkRoleName(name); err != nil {
		return nil, err
	}
	r := &catalog.Role{Name: name, Login: p.a.User}
	if o := p.a.Options.Login; o != nil {
		r.Login = *o
	}
	var notices []notice
	if err := applyPassword(r, p.a.Options, &notices); err != nil {
		return nil, err
	}
	if err := s.srv.cat.CreateRole(ctx, x.txn, r); err != nil {
		return nil, err
	}
	return &result{tag: tag, notices: notices}, nil
}

func (p *accessPlan) alterRole(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	name := p.a.Roles[0]
	o := p.a.Options
	// A user may change its own password, and only that, as in PostgreSQL.
	self := name == s.user && o.Login == nil
	if !self {
		if err := s.requireSuperuser("alter role"); err != nil {
			return nil, err
		}
	}
	if name == privilege.Public {
		return nil, checkRoleName(name)
	}
	r, err := s.srv.cat.LookupRole(ctx, x.txn, name, 0)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, roleNotFound(name)
	}
	nr := *r
	if o.Login != nil {
		if name == privilege.Root && !*o.Login {
			return nil, pgerror.New(CodeInsufficientPrivilege, "root must keep LOGIN: it is the superuser of last resort")
		}
		nr.Login = *o.Login
	}
	var notices []notice
	if err := applyPassword(&nr, o, &notices); err != nil {
		return nil, err
	}
	if err := s.srv.cat.PutRole(ctx, x.txn, &nr); err != nil {
		return nil, err
	}
	return &result{tag: "ALTER ROLE", notices: notices}, nil
}

func (p *accessPlan) dropRole(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	cat := s.srv.cat
	if err := s.requireSuperuser("drop role"); err != nil {
		return nil, err
	}
	res := &result{tag: "DROP ROLE"}
	dbs, tables, err := cat.Descriptors(ctx, x.txn)
	if err != nil {
		return nil, err
	}
	objs, err := cat.AllObjects(ctx, x.txn)
	if err != nil {
		return nil, err
	}
	for _, name := range p.a.Roles {
		switch {
		case name == privilege.Root:
			return nil, pgerror.New(pgerror.CodeObjectInUse, "cannot drop role %s because it is required by the database system", name)
		case name == s.user:
			return nil, pgerror.New(pgerror.CodeObjectInUse, "current user cannot be dropped")
		case name == privilege.Public:
			return nil, checkRoleName(name)
		}
		r, err := cat.LookupRole(ctx, x.txn, name, 0)
		if err != nil {
			return nil, err
		}
		if r == nil {
			if p.a.IfExists {
				res.notices = append(res.notices, notice{Code: pgerror.CodeUndefinedObject, Message: fmt.Sprintf("role %q does not exist, skipping", name)})
				continue
			}
			return nil, roleNotFound(name)
		}
		// As in PostgreSQL, a role that owns something or holds privileges stays until they
		// are dropped or revoked, so that nothing is left owned by nobody.
		var deps []string
		for _, d := range dbs {
			deps = appendDependencies(deps, name, d.Privileges(), "database "+d.Name)
		}
		for _, t := range tables {
			deps = appendDependencies(deps, name, t.Privileges(), "table "+t.Name)
		}
		for _, sc := range objs.Schemas {
			deps = appendDependencies(deps, name, sc.Privileges(), "schema "+sc.Name)
		}
		for _, seq := range objs.Sequences {
			if seq.OwnedBy == nil { // an owned sequence goes with its table
				deps = appendDependencies(deps, name, seq.Privileges(), "sequence "+seq.Name)
			}
		}
		for _, v := range objs.Views {
			deps = appendDependencies(deps, name, v.Privileges(), "view "+v.Name)
		}
		if len(deps) > 0 {
			return nil, pgerror.New(codeDependentObjects, "role %q cannot be dropped because some objects depend on it", name).
				WithDetail(strings.Join(deps, "\n"))
		}
		if err := dropMemberships(ctx, x.txn, cat, name); err != nil {
			return nil, err
		}
		if err := cat.DropRole(ctx, x.txn, name); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func appendDependencies(deps []string, role string, acl privilege.ACL, object string) []string {
	if acl.Owner == role {
		deps = append(deps, "owner of "+object)
	}
	if acl.Granted(role) != 0 {
		deps = append(deps, "privileges for "+object)
	}
	return deps
}

// dropMemberships removes role from every other role's memberships.
func dropMemberships(ctx context.Context, t *txn.Txn, cat *catalog.Catalog, role string) error {
	roles, err := cat.ListRoles(ctx, t)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if i := slices.Index(r.MemberOf, role); i >= 0 {
			nr := *r
			nr.MemberOf = slices.Delete(slices.Clone(r.MemberOf), i, i+1)
			if err := cat.PutRole(ctx, t, &nr); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkGrantees requires every grantee to be an existing role or public.
func checkGrantees(ctx context.Context, t *txn.Txn, cat *catalog.Catalog, names []string) error {
	for _, g := range names {
		if g == privilege.Public {
			continue
		}
		r, err := cat.LookupRole(ctx, t, g, 0)
		if err != nil {
			return err
		}
		if r == nil {
			return roleNotFound(g)
		}
	}
	return nil
}

func (p *accessPlan) grantPrivileges(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	cat := s.srv.cat
	grant := p.a.Kind == pgdialect.GrantPrivileges
	tag := "GRANT"
	if !grant {
		tag = "REVOKE"
	}
	if err := checkGrantees(ctx, x.txn, cat, p.a.Grantees); err != nil {
		return nil, err
	}
	change := func(acl privilege.ACL) privilege.ACL {
		acl = acl.Clone()
		for _, g := range p.a.Grantees {
			if grant {
				acl.Grant(g, p.kinds)
			} else {
				acl.Revoke(g, p.kinds)
			}
		}
		return acl
	}
	for _, obj := range p.a.Objects {
		if p.a.OnDatabase {
			d, err := cat.LookupDatabase(ctx, x.txn, obj.Name, 0)
			if err != nil {
				return nil, err
			}
			// Only the owner may grant: Meridian has no grant options.
			if err := s.checkDatabaseOwner(ctx, x.txn, d); err != nil {
				return nil, pgerror.New(CodeInsufficientPrivilege, "permission denied for database %s", d.Name)
			}
			if err := cat.SetDatabaseACL(ctx, x.txn, d, change(d.Privileges())); err != nil {
				return nil, err
			}
			continue
		}
		tbl, err := s.resolveObjectTable(ctx, x.txn, obj)
		if pgerror.Code(err) == pgerror.CodeWrongObjectType {
			// A view takes the grants a table does.
			if v, verr := s.lookupViewAt(ctx, x.txn, obj.Schema, obj.Name, 0); verr == nil {
				if ok, err := s.owns(ctx, x.txn, v.Privileges()); err != nil {
					return nil, err
				} else if !ok {
					return nil, pgerror.New(CodeInsufficientPrivilege, "permission denied for view %s", v.Name)
				}
				nv := *v
				acl := change(v.Privileges())
				nv.ACL = &acl
				if err := cat.UpdateView(ctx, x.txn, &nv, ""); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		if err := s.checkTableOwner(ctx, x.txn, tbl); err != nil {
			return nil, pgerror.New(CodeInsufficientPrivilege, "permission denied for table %s", tbl.Name)
		}
		if err := cat.SetTableACL(ctx, x.txn, tbl, change(tbl.Privileges())); err != nil {
			return nil, err
		}
	}
	return &result{tag: tag}, nil
}

// resolveObjectTable reads the table a GRANT, REVOKE or SHOW GRANTS names, bypassing the
// cache: the statement is about to change it, or must show its latest grants.
func (s *Session) resolveObjectTable(ctx context.Context, t *txn.Txn, obj pgdialect.ObjectName) (*catalog.Table, error) {
	return s.lookupTableAt(ctx, t, obj.Schema, obj.Name, 0)
}

func (p *accessPlan) grantRole(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	cat := s.srv.cat
	grant := p.a.Kind == pgdialect.GrantRole
	tag := "GRANT ROLE"
	if !grant {
		tag = "REVOKE ROLE"
	}
	if err := s.requireSuperuser("grant roles"); err != nil {
		return nil, err
	}
	res := &result{tag: tag}
	for _, role := range p.a.Roles {
		if role == privilege.Root {
			return nil, pgerror.New(codeInvalidGrant, "membership in root cannot be granted: superuser status is not inherited")
		}
		if role == privilege.Public {
			return nil, roleNotFound(role)
		}
		if r, err := cat.LookupRole(ctx, x.txn, role, 0); err != nil {
			return nil, err
		} else if r == nil {
			return nil, roleNotFound(role)
		}
		for _, member := range p.a.Grantees {
			if member == privilege.Public {
				return nil, pgerror.New(codeInvalidGrant, "cannot grant roles to public")
			}
			m, err := cat.LookupRole(ctx, x.txn, member, 0)
			if err != nil {
				return nil, err
			}
			if m == nil {
				return nil, roleNotFound(member)
			}
			nm := *m
			has := slices.Contains(m.MemberOf, role)
			switch {
			case grant && has:
				res.notices = append(res.notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: fmt.Sprintf("role %q is already a member of role %q", member, role)})
				continue
			case grant:
				// A cycle would make every role in it a member of itself.
				cycle, err := cat.IsMember(ctx, x.txn, role, member)
				if err != nil {
					return nil, err
				}
				if cycle || role == member {
					return nil, pgerror.New(codeInvalidGrant, "role %q is a member of role %q", role, member)
				}
				nm.MemberOf = append(slices.Clone(m.MemberOf), role)
				slices.Sort(nm.MemberOf)
			case !has:
				res.notices = append(res.notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: fmt.Sprintf("role %q is not a member of role %q", member, role)})
				continue
			default:
				nm.MemberOf = slices.DeleteFunc(slices.Clone(m.MemberOf), func(r string) bool { return r == role })
			}
			if err := cat.PutRole(ctx, x.txn, &nm); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// planShowRoles answers SHOW ROLES and SHOW USERS (the same list, as in CockroachDB).
func (s *Session) planShowRoles() plan {
	return &showPlan{cols: textColumns("username", "options", "member_of"), rows: func(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
		roles, err := s.srv.cat.ListRoles(ctx, x.txn)
		if err != nil {
			return nil, err
		}
		rows := make([][]types.Datum, len(roles))
		for i, r := range roles {
			var opts []string
			if r.Name == privilege.Root {
				opts = append(opts, "SUPERUSER")
			}
			if r.Login {
				opts = append(opts, "LOGIN")
			} else {
				opts = append(opts, "NOLOGIN")
			}
			if r.Verifier != "" {
				opts = append(opts, "PASSWORD")
			}
			rows[i] = []types.Datum{r.Name, strings.Join(opts, ", "), "{" + strings.Join(r.MemberOf, ",") + "}"}
		}
		return rows, nil
	}}
}

// planShowGrants answers SHOW GRANTS [ON [TABLE] t, ... | ON DATABASE d, ...] [FOR r, ...]:
// one row per privilege held, the owner's as ALL. Without ON it shows the current database
// and its tables.
func (s *Session) planShowGrants(a *pgdialect.Access) plan {
	cols := []resultColumn{
		{name: "database_name", typ: types.String}, {name: "schema_name", typ: types.String},
		{name: "object_name", typ: types.String}, {name: "object_type", typ: types.String},
		{name: "grantee", typ: types.String}, {name: "privilege_type", typ: types.String},
	}
	return &showPlan{cols: cols, rows: func(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
		cat := s.srv.cat
		var rows [][]types.Datum
		add := func(db string, schema types.Datum, object, kind string, acl privilege.ACL) {
			want := func(grantee string) bool { return len(a.Roles) == 0 || slices.Contains(a.Roles, grantee) }
			if want(acl.Owner) {
				rows = append(rows, []types.Datum{db, schema, object, kind, acl.Owner, "ALL"})
			}
			for _, g := range acl.Grants {
				if !want(g.Grantee) || g.Grantee == acl.Owner {
					continue
				}
				for _, n := range g.Kinds.Names() {
					rows = append(rows, []types.Datum{db, schema, object, kind, g.Grantee, n})
				}
			}
		}
		if err := checkGrantees(ctx, x.txn, cat, a.Roles); err != nil {
			return nil, err
		}
		switch {
		case a.OnDatabase:
			for _, obj := range a.Objects {
				d, err := cat.LookupDatabase(ctx, x.txn, obj.Name, 0)
				if err != nil {
					return nil, err
				}
				add(d.Name, nil, d.Name, "database", d.Privileges())
			}
		case len(a.Objects) > 0:
			for _, obj := range a.Objects {
				tbl, err := s.resolveObjectTable(ctx, x.txn, obj)
				if err != nil {
					return nil, err
				}
				d, err := cat.DatabaseByID(ctx, x.txn, tbl.DatabaseID)
				if err != nil {
					return nil, err
				}
				if d == nil {
					return nil, fmt.Errorf("table %q of database %d, which does not exist", tbl.Name, tbl.DatabaseID)
				}
				sc, err := cat.SchemaByID(ctx, x.txn, tbl.DatabaseID, tbl.ParentSchemaID())
				if err != nil {
					return nil, err
				}
				if sc == nil {
					return nil, fmt.Errorf("table %q of schema %d, which does not exist", tbl.Name, tbl.ParentSchemaID())
				}
				add(d.Name, sc.Name, tbl.Name, "table", tbl.Privileges())
			}
		default:
			d, err := cat.LookupDatabase(ctx, x.txn, s.database, 0)
			if err != nil {
				return nil, err
			}
			add(d.Name, nil, d.Name, "database", d.Privileges())
			names, err := cat.ListTables(ctx, x.txn, d.ID)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				tbl, err := cat.LookupTable(ctx, x.txn, d.ID, n, 0)
				if err != nil {
					return nil, err
				}
				add(d.Name, "public", tbl.Name, "table", tbl.Privileges())
			}
		}
		return rows, nil
	}}
}
