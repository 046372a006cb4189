package privilege

import (
	"reflect"
	"testing"
)

func TestACL(t *testing.T) {
	a := ACL{Owner: "olga"}
	a.Grant("bob", Select|Insert)
	a.Grant("alice", Select)
	a.Grant("bob", Update)
	want := []Grant{{"alice", Select}, {"bob", Select | Insert | Update}}
	if !reflect.DeepEqual(a.Grants, want) {
		t.Fatalf("grants %v, want %v", a.Grants, want)
	}
	c := a.Clone()
	c.Revoke("alice", Select)
	c.Revoke("nobody", Select)
	if len(c.Grants) != 1 || len(a.Grants) != 2 {
		t.Fatalf("revoke: %v (clone of %v)", c.Grants, a.Grants)
	}
	for _, tc := range []struct {
		acting []string
		want   Kind
		ok     bool
	}{
		{[]string{"olga"}, TableAll, true},
		{[]string{"alice", "public"}, Select, true},
		{[]string{"alice", "public"}, Select | Insert, false},
		{[]string{"carol", "bob", "public"}, Select | Update, true},
		{[]string{"carol", "public"}, Select, false},
		{nil, 0, true},
	} {
		if got := a.Allows(tc.acting, tc.want); got != tc.ok {
			t.Errorf("Allows(%v, %v) = %v", tc.acting, tc.want, got)
		}
	}
	if !a.Mentions("olga") || !a.Mentions("bob") || a.Mentions("carol") {
		t.Error("Mentions")
	}
}

func TestNames(t *testing.T) {
	if got := (TableAll | Connect).String(); got != "SELECT, INSERT, UPDATE, DELETE, CONNECT" {
		t.Fatalf("String() = %q", got)
	}
	if k, ok := Parse("delete"); !ok || k != Delete {
		t.Fatal("Parse(delete)")
	}
	if _, ok := Parse("all"); ok {
		t.Fatal("ALL parsed as one privilege")
	}
}
