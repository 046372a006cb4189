package sql

import (
	"context"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/txn"
)

// Privilege checks. Statements check what they touch as they are planned, in the transaction
// they run in, against descriptors and roles read at its schema version: a GRANT or REVOKE
// bumps that version, so a plan made before it is made again, and the change holds for every
// statement whose transaction reads the version after it commits, on every node.

// CodeInsufficientPrivilege is PostgreSQL's SQLSTATE for a denied privilege.
const CodeInsufficientPrivilege = "42501"

// superuser reports whether the session's user bypasses privilege checks.
func (s *Session) superuser() bool { return s.user == privilege.Root }

// Superuser implements wire.SuperuserReporter.
func (s *Session) Superuser() bool { return s.superuser() }

// actingRoles lists the roles the session's user acts as in t: itself, the roles it is a
// member of, and public.
func (s *Session) actingRoles(ctx context.Context, t *txn.Txn) ([]string, error) {
	return s.srv.cat.ActingRoles(ctx, t, s.user, s.cacheVersion())
}

// checkTable requires want on tbl.
func (s *Session) checkTable(ctx context.Context, t *txn.Txn, tbl *catalog.Table, want privilege.Kind) error {
	if s.superuser() {
		return nil
	}
	acting, err := s.actingRoles(ctx, t)
	if err != nil {
		return err
	}
	if !tbl.Privileges().Allows(acting, want) {
		return pgerror.New(CodeInsufficientPrivilege, "permission denied for table %s", tbl.Name)
	}
	return nil
}

// checkTableOwner requires the session's user to own tbl (or be a member of its owner), as
// changing or dropping a table does.
func (s *Session) checkTableOwner(ctx context.Context, t *txn.Txn, tbl *catalog.Table) error {
	ok, err := s.owns(ctx, t, tbl.Privileges())
	if err != nil || ok {
		return err
	}
	return pgerror.New(CodeInsufficientPrivilege, "must be owner of table %s", tbl.Name)
}

// checkDatabase requires want on d.
func (s *Session) checkDatabase(ctx context.Context, t *txn.Txn, d *catalog.Database, want privilege.Kind) error {
	if s.superuser() {
		return nil
	}
	acting, err := s.actingRoles(ctx, t)
	if err != nil {
		return err
	}
	if !d.Privileges().Allows(acting, want) {
		return pgerror.New(CodeInsufficientPrivilege, "permission denied for database %s", d.Name)
	}
	return nil
}

// checkDatabaseOwner requires the session's user to own d.
func (s *Session) checkDatabaseOwner(ctx context.Context, t *txn.Txn, d *catalog.Database) error {
	ok, err := s.owns(ctx, t, d.Privileges())
	if err != nil || ok {
		return err
	}
	return pgerror.New(CodeInsufficientPrivilege, "must be owner of database %s", d.Name)
}

func (s *Session) owns(ctx context.Context, t *txn.Txn, acl privilege.ACL) (bool, error) {
	if s.superuser() {
		return true, nil
	}
	acting, err := s.actingRoles(ctx, t)
	if err != nil {
		return false, err
	}
	for _, r := range acting {
		if r == acl.Owner {
			return true, nil
		}
	}
	return false, nil
}

// requireSuperuser refuses what only root may do; what names the action as PostgreSQL's
// "permission denied to ..." does.
func (s *Session) requireSuperuser(what string) error {
	if s.superuser() {
		return nil
	}
	return pgerror.New(CodeInsufficientPrivilege, "permission denied to %s", what)
}

// checkLogin decides whether the session's user may start a session on d: the role must
// exist and may log in, and hold CONNECT on the database.
func (s *Session) checkLogin(ctx context.Context, t *txn.Txn, d *catalog.Database) error {
	r, err := s.srv.cat.LookupRole(ctx, t, s.user, 0)
	if err != nil {
		return err
	}
	if r == nil {
		return pgerror.New(pgerror.CodeInvalidAuthorization, "role %q does not exist", s.user)
	}
	if !r.Login {
		return pgerror.New(pgerror.CodeInvalidAuthorization, "role %q is not permitted to log in", s.user)
	}
	if err := s.checkDatabase(ctx, t, d, privilege.Connect); err != nil {
		return pgerror.New(CodeInsufficientPrivilege, "permission denied for database %s", d.Name).
			WithDetail("User does not have CONNECT privilege.")
	}
	return nil
}
