package sql

import (
	"reflect"
	"testing"

	"github.com/meridiandb/meridian/sql/pgerror"
)

func TestParseQualifiedName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		code string
	}{
		{in: "s", want: []string{"s"}},
		{in: "App.Seq", want: []string{"app", "seq"}},
		{in: `"App"."My.Seq"`, want: []string{"App", "My.Seq"}},
		{in: `db.s."q""x"`, want: []string{"db", "s", `q"x`}},
		{in: "", code: pgerror.CodeInvalidName},
		{in: "a..b", code: pgerror.CodeInvalidName},
		{in: `"unterminated`, code: pgerror.CodeInvalidName},
		{in: `"a"b`, code: pgerror.CodeInvalidName},
		{in: "a.b.c.d", code: pgerror.CodeSyntaxError},
	} {
		got, err := parseQualifiedName(tc.in)
		if tc.code != "" {
			if pgerror.Code(err) != tc.code {
				t.Errorf("%q: got %v, %v; want error %s", tc.in, got, err, tc.code)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSearchPath(t *testing.T) {
	s := &Session{user: "bob", vars: map[string]string{"search_path": `"$user", Public, "MySchema", `}}
	if got, want := s.searchPath(), []string{"bob", "public", "MySchema"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("searchPath() = %q, want %q", got, want)
	}
}
