package catalog

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/txn"
)

// Role is a user or a role: a name that can hold privileges, be a member of other roles and,
// with Login, connect. Roles are stored like descriptors, under the system span, and every
// change to one bumps the schema version, so that the privileges cached with plans and
// descriptors on every node follow it.
type Role struct {
	Name string
	// Login: the role may connect (CREATE USER, or CREATE ROLE ... LOGIN).
	Login bool
	// Verifier is the SCRAM-SHA-256 verifier of the role's password in PostgreSQL's text form
	// (package wire/scram); "" when the role has no password. The password itself is never
	// stored.
	Verifier string `json:",omitempty"`
	// MemberOf lists the roles granted to this one, sorted: it holds their privileges too.
	MemberOf []string `json:",omitempty"`
}

// builtinRoot is root as it is before anyone changes it: it exists in every cluster without a
// stored record.
func builtinRoot() *Role { return &Role{Name: privilege.Root, Login: true} }

func roleKey(name string) []byte { return append(append([]byte(nil), rolePrefix...), name...) }

// LookupRole reads a role in t, or returns nil if there is none. at is t's schema version for
// the cache, or 0 to read it from t.
func (c *Catalog) LookupRole(ctx context.Context, t *txn.Txn, name string, at uint64) (*Role, error) {
	if at != 0 {
		c.mu.Lock()
		r, ok := c.roles[name]
		c.mu.Unlock()
		if ok && r.version == at {
			return r.v, nil
		}
	}
	var b txn.Batch
	b.Get(roleKey(name))
	if err := t.Run(ctx, &b); err != nil {
		return nil, err
	}
	var r *Role
	if rows := b.Results[0].Rows; len(rows) == 1 {
		r = &Role{}
		if err := json.Unmarshal(rows[0].Value, r); err != nil {
			return nil, fmt.Errorf("decoding role %q: %w", name, err)
		}
	} else if name == privilege.Root {
		r = builtinRoot()
	}
	if at != 0 {
		c.mu.Lock()
		c.roles[name] = cached[*Role]{r, at}
		c.mu.Unlock()
	}
	return r, nil
}

// CreateRole stores a new role within t.
func (c *Catalog) CreateRole(ctx context.Context, t *txn.Txn, r *Role) error {
	old, err := c.LookupRole(ctx, t, r.Name, 0)
	if err != nil {
		return err
	}
	if old != nil {
		return pgerror.New(pgerror.CodeDuplicateObject, "role %q already exists", r.Name)
	}
	return c.PutRole(ctx, t, r)
}

// PutRole writes a role within t, replacing what was stored under its name.
func (c *Catalog) PutRole(ctx context.Context, t *txn.Txn, r *Role) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding role %q: %w", r.Name, err)
	}
	var b txn.Batch
	b.Put(roleKey(r.Name), v)
	return t.Run(ctx, &b)
}

// DropRole deletes a role within t; the caller removes it from other roles' MemberOf.
func (c *Catalog) DropRole(ctx context.Context, t *txn.Txn, name string) error {
	if err := c.bumpSchemaVersion(ctx, t); err != nil {
		return err
	}
	var b txn.Batch
	b.Del(roleKey(name))
	return t.Run(ctx, &b)
}

// ListRoles reads every role in t, root included, sorted by name.
func (c *Catalog) ListRoles(ctx context.Context, t *txn.Txn) ([]*Role, error) {
	var b txn.Batch
	b.Scan(rolePrefix, encoding.PrefixEnd(rolePrefix), 0, false)
	if err := t.Run(ctx, &b); err != nil {
		return nil, err
	}
	var out []*Role
	hasRoot := false
	for _, kv := range b.Results[0].Rows {
		r := &Role{}
		if err := json.Unmarshal(kv.Value, r); err != nil {
			return nil, fmt.Errorf("decoding role at %x: %w", kv.Key, err)
		}
		hasRoot = hasRoot || r.Name == privilege.Root
		out = append(out, r)
	}
	if !hasRoot {
		out = append(out, builtinRoot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ActingRoles lists the roles user acts as: itself, every role it is a member of, directly or
// through other roles, and public. at is t's schema version, as for LookupRole.
func (c *Catalog) ActingRoles(ctx context.Context, t *txn.Txn, user string, at uint64) ([]string, error) {
	out := []string{user, privilege.Public}
	seen := map[string]bool{user: true, privilege.Public: true}
	for i := 0; i < len(out); i++ {
		if out[i] == privilege.Public {
			continue
		}
		r, err := c.LookupRole(ctx, t, out[i], at)
		if err != nil {
			return nil, err
		}
		if r == nil {
			continue
		}
		for _, m := range r.MemberOf {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// IsMember reports whether role is member, or a member of it through other roles.
func (c *Catalog) IsMember(ctx context.Context, t *txn.Txn, member, role string) (bool, error) {
	acting, err := c.ActingRoles(ctx, t, member, 0)
	if err != nil {
		return false, err
	}
	return slices.Contains(acting, role), nil
}

// authSecretLen is the size of the mock-authentication secret.
const authSecretLen = 32

// AuthSecret returns the cluster's secret for mock authentication (package wire/scram's
// Mock): the salt an unknown user is shown derives from it, so it must be the same on every
// node and across restarts, or a client could tell unknown users from real ones by asking
// twice. It is made the first time a node asks.
func (c *Catalog) AuthSecret(ctx context.Context, db *txn.DB) ([]byte, error) {
	c.secretMu.Lock()
	defer c.secretMu.Unlock()
	if c.secret != nil {
		return c.secret, nil
	}
	var secret []byte
	err := db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		var b txn.Batch
		b.Get(authSecretKey)
		if err := t.Run(ctx, &b); err != nil {
			return err
		}
		if rows := b.Results[0].Rows; len(rows) == 1 {
			secret = rows[0].Value
			return nil
		}
		secret = make([]byte, authSecretLen)
		rand.Read(secret) // crypto/rand.Read never fails
		var w txn.Batch
		w.Put(authSecretKey, secret)
		return t.Run(ctx, &w)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the authentication secret: %w", err)
	}
	c.secret = secret
	return secret, nil
}
