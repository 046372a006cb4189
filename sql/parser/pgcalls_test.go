package parser

import (
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

func TestRewriteCalls(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"select concat(a, b)", "select CONCAT(a, b)"},
		{`select "concat"(a), x.concat(a), 'concat(a)'`, `select CONCAT(a), x.concat(a), 'concat(a)'`},
		{"select mod(a, 2), div(a, 2), a % 2", `select "mod"(a, 2), "div"(a, 2), a % 2`},
		{"select string_agg(a, ',') from t", "select group_concat(meridian_agg('string_agg', a, ',') ) from t"},
		{"select string_agg(distinct a, ',' order by a desc) from t",
			"select group_concat(distinct meridian_agg('string_agg',  a, ',' ) order by a desc) from t"},
		{"select bool_and(b) over (partition by c) from t", "select group_concat(meridian_agg('bool_and', b) ) over (partition by c) from t"},
		{"select sum(a order by b), sum(a), count(distinct a) from t",
			"select group_concat(meridian_agg('sum', a ) order by b), sum(a), count(distinct a) from t"},
		{"select array_agg((select x from y order by z limit 1)) from t",
			"select group_concat(meridian_agg('array_agg', (select x from y order by z limit 1)) ) from t"},
		{"insert into every(a) values (1)", "insert into every(a) values (1)"},
		{"create table string_agg(a int)", "create table string_agg(a int)"},
		{"select 'it''s string_agg(' || a", "select 'it''s string_agg(' || a"},
	} {
		got, err := rewriteCalls(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("rewriteCalls(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{
		"select count(*) filter (where a) from t",
		"select percentile_cont(0.5) within group (order by a) from t",
		"select string_agg(a, ',' order by a) over () from t",
	} {
		if _, err := rewriteCalls(in); err == nil {
			t.Errorf("rewriteCalls(%q): no error", in)
		}
	}
}

// TestCallsRoundTrip checks that the fixed tree prints back as SQL that parses to the same
// calls: || stays the operator, concat() the function, carried aggregates themselves.
func TestCallsRoundTrip(t *testing.T) {
	stmt, err := ParseOne("select a || b, concat(a, b), stddev(c), string_agg(a, ',') from t", "")
	if err != nil {
		t.Fatal(err)
	}
	fields := stmt.(*ast.SelectStmt).Fields.Fields
	want := []string{ConcatOp, "concat", "stddev", "string_agg"}
	name := func(e ast.ExprNode) string {
		switch x := e.(type) {
		case *ast.FuncCallExpr:
			return x.FnName.L
		case *ast.AggregateFuncExpr:
			return strings.ToLower(x.F)
		}
		return ""
	}
	for i, f := range fields {
		if got := name(f.Expr); got != want[i] {
			t.Errorf("field %d is %q, want %q", i, got, want[i])
		}
		again, err := ParseOne("select "+RestoreSQL(f.Expr), "")
		if err != nil {
			t.Fatalf("%s: %v", RestoreSQL(f.Expr), err)
		}
		if got := name(again.(*ast.SelectStmt).Fields.Fields[0].Expr); got != want[i] {
			t.Errorf("restored field %d (%s) is %q, want %q", i, RestoreSQL(f.Expr), got, want[i])
		}
	}
}
