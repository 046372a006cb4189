package pgdialect

import (
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// AccessKind is which statement about users, roles or privileges an Access is.
type AccessKind int

// The statements of Access.
const (
	CreateRole       AccessKind = iota + 1 // CREATE USER | ROLE
	AlterRole                              // ALTER USER | ROLE
	DropRole                               // DROP USER | ROLE
	GrantPrivileges                        // GRANT privileges ON ... TO
	RevokePrivileges                       // REVOKE privileges ON ... FROM
	GrantRole                              // GRANT role TO role
	RevokeRole                             // REVOKE role FROM role
	ShowGrants                             // SHOW GRANTS [ON ...] [FOR ...]
	ShowRoles                              // SHOW USERS | ROLES
)

// Access is a statement about users, roles and privileges. The tidb grammar has MySQL's
// forms of these (user@host names, IDENTIFIED BY), which cannot carry PostgreSQL's, so the
// dialect parses them itself: Statement.SQL is empty and the engine runs the Access.
type Access struct {
	Kind AccessKind
	// User is set for CREATE USER and ALTER USER: a user is a role that can log in.
	User bool
	// Roles are the roles created, altered or dropped; for GRANT and REVOKE of a role, the
	// roles granted; for SHOW GRANTS, those named by FOR.
	Roles []string
	// IfExists is DROP's IF EXISTS.
	IfExists bool
	// Options are CREATE and ALTER's role options.
	Options RoleOptions
	// Privileges are GRANT and REVOKE's privilege names, upper case; nil with ALL.
	Privileges []string
	// OnDatabase: the objects of GRANT, REVOKE or SHOW GRANTS are databases, not tables.
	OnDatabase bool
	// Objects are the tables or databases of GRANT, REVOKE and SHOW GRANTS ON.
	Objects []ObjectName
	// Grantees receive (GRANT) or lose (REVOKE) the privileges or roles.
	Grantees []string
}

// RoleOptions are the options of CREATE and ALTER USER or ROLE. Unset options are nil.
type RoleOptions struct {
	Login *bool
	// Password is the new password; PasswordNull is set for PASSWORD NULL, which removes it.
	Password     *string
	PasswordNull bool
}

// ObjectName names a table (Schema may be empty, or a database as Meridian's schemas are) or
// a database (Name only).
type ObjectName struct {
	Schema, Name string
}

// isAccess reports whether the statement is one for accessStatement.
func (r *rewriter) isAccess() bool {
	if len(r.toks) < 2 {
		return len(r.toks) == 1 && r.toks[0].is("grant", "revoke")
	}
	first, second := r.toks[0], r.toks[1]
	switch {
	case first.is("grant", "revoke"):
		return true
	case first.is("create", "alter", "drop"):
		return second.is("user", "role")
	case first.is("show"):
		return second.is("grants", "users", "roles")
	}
	return false
}

// accessStatement parses a statement isAccess recognized.
func (r *rewriter) accessStatement() (Statement, error) {
	p := &accessParser{r: r}
	a, err := p.parse()
	if err != nil {
		return Statement{}, err
	}
	return Statement{Access: a}, nil
}

// accessParser reads an access statement's tokens left to right.
type accessParser struct {
	r *rewriter
	i int
}

func (p *accessParser) peek(words ...string) bool {
	return p.i < len(p.r.toks) && p.r.toks[p.i].is(words...)
}

func (p *accessParser) accept(words ...string) bool {
	if p.peek(words...) {
		p.i++
		return true
	}
	return false
}

func (p *accessParser) expect(word string) error {
	if !p.accept(word) {
		return p.r.syntaxError(p.i)
	}
	return nil
}

func (p *accessParser) acceptOp(op string) bool {
	if p.i < len(p.r.toks) && p.r.toks[p.i].isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *accessParser) atEnd() bool { return p.i >= len(p.r.toks) }

func (p *accessParser) end() error {
	if !p.atEnd() {
		return p.r.syntaxError(p.i)
	}
	return nil
}

// name reads one identifier (folded unless quoted).
func (p *accessParser) name() (string, error) {
	if p.atEnd() || !isName(p.r.toks[p.i]) {
		return "", p.r.syntaxError(p.i)
	}
	p.i++
	return p.r.toks[p.i-1].text, nil
}

// names reads a comma-separated list of identifiers.
func (p *accessParser) names() ([]string, error) {
	var out []string
	for {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

func (p *accessParser) parse() (*Access, error) {
	first := p.r.toks[0]
	p.i = 1
	switch {
	case first.is("create", "alter"):
		a := &Access{Kind: CreateRole, User: p.r.toks[1].is("user")}
		if first.is("alter") {
			a.Kind = AlterRole
		}
		p.i = 2
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		a.Roles = []string{n}
		if a.Kind == AlterRole && p.peek("rename", "set", "reset") {
			return nil, p.r.unsupported("ALTER ROLE ... " + strings.ToUpper(p.r.toks[p.i].text))
		}
		p.accept("with")
		if err := p.roleOptions(&a.Options); err != nil {
			return nil, err
		}
		if a.Kind == AlterRole && a.Options == (RoleOptions{}) {
			return nil, p.r.syntaxError(p.i)
		}
		return a, nil
	case first.is("drop"):
		a := &Access{Kind: DropRole}
		p.i = 2
		if p.accept("if") {
			if err := p.expect("exists"); err != nil {
				return nil, err
			}
			a.IfExists = true
		}
		var err error
		if a.Roles, err = p.names(); err != nil {
			return nil, err
		}
		return a, p.end()
	case first.is("grant", "revoke"):
		return p.grant(first.is("grant"))
	case first.is("show"):
		p.i = 2
		if p.r.toks[1].is("users", "roles") {
			return &Access{Kind: ShowRoles}, p.end()
		}
		a := &Access{Kind: ShowGrants}
		if p.accept("on") {
			if err := p.objects(a); err != nil {
				return nil, err
			}
		}
		if p.accept("for") {
			var err error
			if a.Roles, err = p.names(); err != nil {
				return nil, err
			}
		}
		return a, p.end()
	}
	return nil, p.r.syntaxError(0)
}

// roleOptions reads CREATE and ALTER's options up to the end of the statement.
func (p *accessParser) roleOptions(o *RoleOptions) error {
	yes, no := true, false
	var sawLogin, sawPassword bool
	// As in PostgreSQL, an option may be given once.
	redundant := func(seen *bool) error {
		if *seen {
			return pgerror.New(pgerror.CodeSyntaxError, "conflicting or redundant options")
		}
		*seen = true
		return nil
	}
	for !p.atEnd() {
		t := p.r.toks[p.i]
		switch {
		case t.is("login", "nologin"):
			if err := redundant(&sawLogin); err != nil {
				return err
			}
			p.i++
			o.Login = &no
			if t.is("login") {
				o.Login = &yes
			}
		case t.is("encrypted", "password"):
			if err := redundant(&sawPassword); err != nil {
				return err
			}
			p.i++
			if t.is("encrypted") && !p.accept("password") {
				return p.r.syntaxError(p.i)
			}
			if p.accept("null") {
				o.PasswordNull, o.Password = true, nil
				continue
			}
			if p.atEnd() || p.r.toks[p.i].kind != tokString {
				return p.r.syntaxError(p.i)
			}
			pw := p.r.toks[p.i].text
			p.i++
			o.Password, o.PasswordNull = &pw, false
		case t.is("superuser", "nosuperuser", "createdb", "nocreatedb", "createrole", "nocreaterole",
			"inherit", "noinherit", "replication", "noreplication", "bypassrls", "nobypassrls",
			"connection", "valid", "in", "role", "admin", "user", "sysid", "unencrypted"):
			return p.r.unsupported("the role option " + strings.ToUpper(t.text))
		default:
			return p.r.syntaxError(p.i)
		}
	}
	return nil
}

// grant reads GRANT and REVOKE, of privileges or of roles.
func (p *accessParser) grant(isGrant bool) (*Access, error) {
	verb := "GRANT"
	if !isGrant {
		verb = "REVOKE"
		if p.peek("grant", "admin") {
			return nil, p.r.unsupported("REVOKE " + strings.ToUpper(p.r.toks[p.i].text) + " OPTION FOR")
		}
	}
	// Privileges are granted ON something; roles are not.
	on := p.r.topLevelIndex(1, func(t token) bool { return t.is("on") })
	a := &Access{}
	if on < 0 {
		a.Kind = GrantRole
		if !isGrant {
			a.Kind = RevokeRole
		}
		var err error
		if a.Roles, err = p.names(); err != nil {
			return nil, err
		}
	} else {
		a.Kind = GrantPrivileges
		if !isGrant {
			a.Kind = RevokePrivileges
		}
		if err := p.privileges(a); err != nil {
			return nil, err
		}
		if err := p.expect("on"); err != nil {
			return nil, err
		}
		if err := p.objects(a); err != nil {
			return nil, err
		}
	}
	if isGrant {
		if err := p.expect("to"); err != nil {
			return nil, err
		}
	} else if err := p.expect("from"); err != nil {
		return nil, err
	}
	p.accept("group") // TO GROUP g is an old spelling of TO g
	var err error
	if a.Grantees, err = p.names(); err != nil {
		return nil, err
	}
	switch {
	case p.peek("with"):
		return nil, p.r.unsupported(verb + " ... WITH " + strings.ToUpper(p.tokText(p.i+1)) + " OPTION")
	case p.peek("granted"):
		return nil, p.r.unsupported(verb + " ... GRANTED BY")
	case !isGrant && p.peek("cascade"):
		return nil, p.r.unsupported("REVOKE ... CASCADE")
	case !isGrant:
		p.accept("restrict")
	}
	return a, p.end()
}

func (p *accessParser) tokText(i int) string {
	if i < len(p.r.toks) {
		return p.r.toks[i].text
	}
	return ""
}

// privileges reads ALL [PRIVILEGES] or a list of privilege names.
func (p *accessParser) privileges(a *Access) error {
	if p.accept("all") {
		p.accept("privileges")
		return nil
	}
	for {
		if p.atEnd() || p.r.toks[p.i].kind != tokIdent {
			return p.r.syntaxError(p.i)
		}
		a.Privileges = append(a.Privileges, strings.ToUpper(p.r.toks[p.i].text))
		p.i++
		if p.i < len(p.r.toks) && p.r.toks[p.i].isOp("(") {
			return p.r.unsupported("column privileges")
		}
		if !p.acceptOp(",") {
			return nil
		}
	}
}

// objects reads what privileges are on: [TABLE] t[, ...] or DATABASE d[, ...].
func (p *accessParser) objects(a *Access) error {
	switch {
	case p.accept("database"):
		a.OnDatabase = true
		names, err := p.names()
		if err != nil {
			return err
		}
		for _, n := range names {
			a.Objects = append(a.Objects, ObjectName{Name: n})
		}
		return nil
	case p.peek("schema", "sequence", "function", "procedure", "routine", "type", "domain", "language",
		"foreign", "large", "tablespace", "parameter", "all"):
		return p.r.unsupported("privileges ON " + strings.ToUpper(p.r.toks[p.i].text))
	}
	p.accept("table")
	for {
		n, err := p.name()
		if err != nil {
			return err
		}
		obj := ObjectName{Name: n}
		if p.acceptOp(".") {
			if obj.Name, err = p.name(); err != nil {
				return err
			}
			obj.Schema = n
		}
		a.Objects = append(a.Objects, obj)
		if !p.acceptOp(",") {
			return nil
		}
	}
}
