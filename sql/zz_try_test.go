package sql_test
import (
  "testing"
  "fmt"
  "github.com/meridiandb/meridian/sql/parser"
  "github.com/pingcap/tidb/pkg/parser/ast"
)
func TestX(t *testing.T) {
  for _, s := range []string{
    "ALTER TABLE t DROP FOREIGN KEY IF EXISTS x",
    "ALTER TABLE t ALTER COLUMN a SET DEFAULT meridian_set_not_null()",
    "SELECT meridian_nextval('s'), meridian_setval('s', 5, false), meridian_lastval()",
    "CREATE TABLE t (a enum('int') REFERENCES p MATCH FULL)",
    "CREATE TABLE t (a enum('int') DEFAULT meridian_identity('always', 'start with 5'))",
    "ALTER TABLE IF EXISTS t ADD COLUMN a enum('int')",
    "DROP SEQUENCE s.x",
    "CREATE SEQUENCE s NO MINVALUE NO MAXVALUE NO CYCLE",
    "CREATE SEQUENCE s INCREMENT BY -1 MINVALUE -10 MAXVALUE -1 START WITH -1",
    "CREATE SEQUENCE s AS bigint",
    "CREATE SEQUENCE s OWNED BY t.a",
    "SELECT * FROM a.b.c",
    "CREATE TABLE s.t (a enum('int'), CONSTRAINT fk FOREIGN KEY (a) REFERENCES s.p (id) ON DELETE NO ACTION ON UPDATE SET NULL)",
  } {
    n, err := parser.ParseOne(s, s)
    if err != nil { fmt.Printf("%s\n   ERR %v\n", s, err); continue }
    fmt.Printf("%s\n   %T %s\n", s, n, parser.RestoreSQL(n))
    if a, ok := n.(*ast.AlterTableStmt); ok { for _, sp := range a.Specs { fmt.Printf("   spec tp=%d %+v\n", sp.Tp, sp) } }
  }
}
