package pgdialect

import (
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/format"

	"github.com/meridiandb/meridian/sql/parser"
)

// TestQueryTrees checks how tidb reads the query rewrites, not only that it does: each
// statement is normalized, parsed and restored, and the restored text shows the tree (tidb
// parenthesizes nested joins and set operations). These are the shapes the planner relies on.
func TestQueryTrees(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// FULL JOIN: a left join marked in its condition, nesting like any other join.
		{"SELECT * FROM a FULL JOIN b ON a.x = b.y",
			"SELECT * FROM `a` LEFT JOIN `b` ON MERIDIAN_FULL_JOIN(`a`.`x`=`b`.`y`)"},
		{"SELECT * FROM a FULL OUTER JOIN b USING (x, y) JOIN c ON true",
			"SELECT * FROM (`a` LEFT JOIN `b` ON MERIDIAN_FULL_JOIN_USING(`x`, `y`)) JOIN `c` ON TRUE"},
		{"SELECT * FROM a JOIN b FULL JOIN c ON b.x = c.x ON a.x = b.x",
			"SELECT * FROM `a` JOIN (`b` LEFT JOIN `c` ON MERIDIAN_FULL_JOIN(`b`.`x`=`c`.`x`)) ON `a`.`x`=`b`.`x`"},
		{"SELECT * FROM a FULL JOIN b JOIN c ON b.x = c.x ON a.x = b.x",
			"SELECT * FROM `a` LEFT JOIN (`b` JOIN `c` ON `b`.`x`=`c`.`x`) ON MERIDIAN_FULL_JOIN(`a`.`x`=`b`.`x`)"},
		{"SELECT * FROM a, b FULL JOIN c ON true",
			"SELECT * FROM (`a`) JOIN (`b` LEFT JOIN `c` ON MERIDIAN_FULL_JOIN(TRUE))"},
		// The joins tidb reads natively.
		{"SELECT * FROM a LEFT OUTER JOIN b ON a.x = b.x RIGHT OUTER JOIN c USING (x) INNER JOIN d ON true CROSS JOIN e",
			"SELECT * FROM (((`a` LEFT JOIN `b` ON `a`.`x`=`b`.`x`) RIGHT JOIN `c` USING (`x`)) JOIN `d` ON TRUE) JOIN `e`"},
		{"SELECT * FROM a JOIN b USING (x) NATURAL JOIN c NATURAL LEFT JOIN d",
			"SELECT * FROM ((`a` JOIN `b` USING (`x`)) NATURAL JOIN `c`) NATURAL LEFT JOIN `d`"},
		// VALUES: a union, parenthesized among other set operations.
		{"VALUES (1, 'a'), (2, 'b') ORDER BY 1 LIMIT 1",
			"SELECT 1 AS `column1`,'a' AS `column2` UNION ALL SELECT 2,'b' ORDER BY 1 LIMIT 1"},
		{"SELECT 3 UNION VALUES (1), (2)",
			"SELECT 3 UNION (SELECT 1 AS `column1` UNION ALL SELECT 2)"},
		{"VALUES (1), (2) INTERSECT SELECT 1",
			"(SELECT 1 AS `column1` UNION ALL SELECT 2) INTERSECT SELECT 1"},
		{"SELECT * FROM (VALUES (1), (2)) AS v (a)",
			"SELECT * FROM (SELECT 1 AS `column1` UNION ALL SELECT 2) AS `v`"},
		{"INSERT INTO t VALUES (1), (2)",
			"INSERT INTO `t` VALUES (1),(2)"},
		// FROM items.
		{"SELECT * FROM generate_series(1, 3) AS g (n)",
			"SELECT * FROM (SELECT MERIDIAN_TABLE_FUNCTION(GENERATE_SERIES(1, 3))) AS `g`"},
		{"SELECT * FROM ONLY t",
			"SELECT * FROM `t`"},
		// DISTINCT ON.
		{"SELECT DISTINCT ON (a, b) a, b, c FROM t ORDER BY a, b",
			"SELECT MERIDIAN_DISTINCT_ON(`a`, `b`),`a`,`b`,`c` FROM `t` ORDER BY `a`,`b`"},
		// WITH ... INSERT.
		{"WITH x AS (SELECT 1) INSERT INTO t (a) SELECT * FROM x",
			"INSERT INTO `t` (`a`) WITH `x` AS (SELECT 1) SELECT * FROM `x`"},
	} {
		st, err := Normalize(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		n, err := parser.ParseOne(st.SQL, st.Original)
		if err != nil {
			t.Errorf("%s: tidb rejects %q: %v", tc.in, st.SQL, err)
			continue
		}
		var sb strings.Builder
		if err := n.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &sb)); err != nil {
			t.Errorf("%s: restore: %v", tc.in, err)
			continue
		}
		if got := sb.String(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
