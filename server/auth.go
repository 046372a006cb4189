package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/txn"
	"github.com/meridiandb/meridian/wire"
	"github.com/meridiandb/meridian/wire/scram"
)

// nodeAuth authenticates SQL clients against the roles of the catalog:
//
//   - a client certificate the TLS handshake verified proves the user named by its common
//     name;
//   - a user with a password proves it with SCRAM-SHA-256, in every mode; root's password
//     is Config.Password when the node was given one;
//   - a user without a password logs in without one only on an insecure node; on a secure
//     one (certificates or a root password) the exchange is played out against a mock
//     verifier and fails like a wrong password, as it does for users that do not exist.
//
// Whether the user exists, may log in and may connect to the database is decided afterwards,
// by the SQL session (sql.Server.NewBackend), whatever the method.
type nodeAuth struct {
	n *Node
	// secure: every user must prove who they are.
	secure bool
	// root is the verifier of Config.Password, nil without one.
	root *scram.Verifier
}

var (
	_ wire.SCRAMAuthenticator = (*nodeAuth)(nil)
	_ wire.CertAuthenticator  = (*nodeAuth)(nil)
)

func newNodeAuth(n *Node) (*nodeAuth, error) {
	a := &nodeAuth{n: n, secure: n.cfg.Password != "" || n.cfg.CertsDir != ""}
	if n.cfg.Password != "" {
		v, err := scram.NewVerifier(n.cfg.Password)
		if err != nil {
			return nil, fmt.Errorf("deriving root's password verifier: %w", err)
		}
		a.root = &v
	}
	return a, nil
}

// role reads user's role, nil if there is none.
func (a *nodeAuth) role(ctx context.Context, user string) (*catalog.Role, error) {
	if !a.n.isReady() {
		return nil, errNotReady
	}
	var r *catalog.Role
	err := a.n.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		var err error
		r, err = a.n.cat.LookupRole(ctx, t, user, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("looking up role %q: %w", user, err)
	}
	return r, nil
}

func (a *nodeAuth) PasswordRequired(ctx context.Context, user string) (bool, error) {
	if a.secure {
		return true, nil
	}
	r, err := a.role(ctx, user)
	if err != nil {
		return false, err
	}
	return r != nil && r.Verifier != "", nil
}

func (a *nodeAuth) SCRAMVerifier(ctx context.Context, user string) (scram.Verifier, bool, error) {
	if user == privilege.Root && a.root != nil {
		return *a.root, true, nil
	}
	r, err := a.role(ctx, user)
	if err != nil {
		return scram.Verifier{}, false, err
	}
	if r != nil && r.Verifier != "" {
		v, err := scram.Parse(r.Verifier)
		if err != nil {
			return scram.Verifier{}, false, fmt.Errorf("role %q: %w", user, err)
		}
		return v, true, nil
	}
	secret, err := a.n.cat.AuthSecret(ctx, a.n.db)
	if err != nil {
		return scram.Verifier{}, false, err
	}
	return scram.Mock(secret, user), false, nil
}

// CheckPassword is never asked (SCRAM replaces it); it checks a cleartext password against
// the same verifier all the same.
func (a *nodeAuth) CheckPassword(ctx context.Context, user, password string) error {
	v, ok, err := a.SCRAMVerifier(ctx, user)
	if err != nil {
		return err
	}
	if !ok || !v.Check(password) {
		return errors.New("password does not match")
	}
	return nil
}

func (a *nodeAuth) CertificateLogin(_ context.Context, user string, cert *x509.Certificate) (bool, error) {
	return cert.Subject.CommonName == user, nil
}

var errNotReady = pgerror.New(pgerror.CodeCannotConnectNow, "this node has not joined a cluster yet; run `meridian init --host <addr>` against one node of a new cluster")
