package privilege

import (
	"slices"
	"strings"
)

// Names of the built-in roles.
const (
	// Root is the built-in superuser: it bypasses every privilege check and cannot be dropped.
	Root = "root"
	// Public is the pseudo-role every role belongs to; it cannot log in, be created or dropped.
	Public = "public"
)

// Kind is a set of privileges.
type Kind uint32

// The privileges.
const (
	Select Kind = 1 << iota
	Insert
	Update
	Delete
	Create
	Connect
)

// The privileges each kind of object has; ALL means these.
const (
	TableAll    = Select | Insert | Update | Delete
	DatabaseAll = Create | Connect
)

var names = []struct {
	k    Kind
	name string
}{
	{Select, "SELECT"}, {Insert, "INSERT"}, {Update, "UPDATE"}, {Delete, "DELETE"},
	{Create, "CREATE"}, {Connect, "CONNECT"},
}

// Parse reads one privilege name (any case); ALL is not a single privilege and is not parsed.
func Parse(name string) (Kind, bool) {
	for _, n := range names {
		if strings.EqualFold(n.name, name) {
			return n.k, true
		}
	}
	return 0, false
}

// Names lists the privileges of k in their canonical order, upper case.
func (k Kind) Names() []string {
	var out []string
	for _, n := range names {
		if k&n.k != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (k Kind) String() string { return strings.Join(k.Names(), ", ") }

// Grant is the privileges one role was granted.
type Grant struct {
	Grantee string
	Kinds   Kind
}

// ACL is who may use a database or table: its owner, who holds every privilege (and alone may
// change or drop it), and what has been granted to others. Grants are sorted by grantee, and
// no grant is empty.
type ACL struct {
	Owner  string
	Grants []Grant `json:",omitempty"`
}

// Clone returns a copy of a that shares nothing with it.
func (a ACL) Clone() ACL {
	a.Grants = slices.Clone(a.Grants)
	return a
}

// Grant adds k to grantee's privileges.
func (a *ACL) Grant(grantee string, k Kind) {
	i, found := slices.BinarySearchFunc(a.Grants, grantee, func(g Grant, name string) int { return strings.Compare(g.Grantee, name) })
	if found {
		a.Grants[i].Kinds |= k
		return
	}
	a.Grants = slices.Insert(a.Grants, i, Grant{Grantee: grantee, Kinds: k})
}

// Revoke removes k from grantee's privileges.
func (a *ACL) Revoke(grantee string, k Kind) {
	i, found := slices.BinarySearchFunc(a.Grants, grantee, func(g Grant, name string) int { return strings.Compare(g.Grantee, name) })
	if !found {
		return
	}
	a.Grants[i].Kinds &^= k
	if a.Grants[i].Kinds == 0 {
		a.Grants = slices.Delete(a.Grants, i, i+1)
	}
}

// Granted returns the privileges granted to grantee itself (not through memberships).
func (a ACL) Granted(grantee string) Kind {
	for _, g := range a.Grants {
		if g.Grantee == grantee {
			return g.Kinds
		}
	}
	return 0
}

// Mentions reports whether role owns the object or holds a privilege on it.
func (a ACL) Mentions(role string) bool {
	return a.Owner == role || a.Granted(role) != 0
}

// Allows reports whether a user who acts as the roles in acting (the user itself, the roles
// it is a member of, directly or not, and public) holds every privilege of want: by ownership,
// or by grants to any of them.
func (a ACL) Allows(acting []string, want Kind) bool {
	var have Kind
	for _, r := range acting {
		if r == a.Owner {
			return true
		}
		have |= a.Granted(r)
	}
	return have&want == want
}
