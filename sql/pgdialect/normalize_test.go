package pgdialect

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
)

// TestNormalize runs the datadriven files under testdata/normalize. The "normalize" command
// normalizes one statement and "split" a whole query string; each prints the statements'
// SQL, parameter order, RETURNING and ON CONFLICT, or the error. Every SQL text produced must
// parse with tidb, and every RETURNING list as a select list.
func TestNormalize(t *testing.T) {
	datadriven.Walk(t, "testdata/normalize", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var stmts []Statement
			var err error
			switch d.Cmd {
			case "normalize":
				var st Statement
				st, err = Normalize(d.Input)
				stmts = []Statement{st}
			case "split":
				stmts, err = Split(d.Input)
			default:
				t.Fatalf("%s: unknown command %s", d.Pos, d.Cmd)
			}
			if err != nil {
				return formatError(err)
			}
			var sb strings.Builder
			if len(stmts) == 0 {
				sb.WriteString("(no statements)\n")
			}
			for _, st := range stmts {
				writeStatement(&sb, st)
				checkParses(t, d.Pos, st)
			}
			return sb.String()
		})
	})
}

func formatError(err error) string {
	pe := pgerror.Flatten(err)
	if pe.Position > 0 {
		return fmt.Sprintf("error %s: %s (position %d)\n", pe.Code, pe.Message, pe.Position)
	}
	return fmt.Sprintf("error %s: %s\n", pe.Code, pe.Message)
}

func writeStatement(sb *strings.Builder, st Statement) {
	if c := st.Prepared; c != nil {
		fmt.Fprintf(sb, "prepared: %s name=%q types=%q args=%q explain=%v\n", c.Verb, c.Name, c.Types, c.Args, c.Explain)
	}
	if a := st.Access; a != nil {
		fmt.Fprintf(sb, "access %d: user=%v roles=%q if_exists=%v privileges=%q on_database=%v objects=%v grantees=%q\n",
			a.Kind, a.User, a.Roles, a.IfExists, a.Privileges, a.OnDatabase, a.Objects, a.Grantees)
		o := a.Options
		if o.Login != nil {
			fmt.Fprintf(sb, "login: %v\n", *o.Login)
		}
		if o.Password != nil {
			fmt.Fprintf(sb, "password: %q\n", *o.Password)
		}
		if o.PasswordNull {
			sb.WriteString("password: NULL\n")
		}
		return
	}
	if ix := st.Index; ix != nil {
		if ix.Drop {
			fmt.Fprintf(sb, "drop index: indexes=%+v if_exists=%v cascade=%v concurrently=%v\n", ix.Indexes, ix.IfExists, ix.Cascade, ix.Concurrently)
			return
		}
		fmt.Fprintf(sb, "create index: name=%q table=%+v columns=%+v stored=%q unique=%v if_not_exists=%v concurrently=%v\n",
			ix.Name, ix.Table, ix.Columns, ix.Stored, ix.Unique, ix.IfNotExists, ix.Concurrently)
		return
	}
	if c := st.Copy; c != nil {
		writeCopy(sb, c)
		return
	}
	if st.SQL == "" {
		sb.WriteString("(empty)\n")
		return
	}
	fmt.Fprintf(sb, "%s\n", st.SQL)
	if st.NumParams > 0 {
		fmt.Fprintf(sb, "params: %v of %d\n", st.ParamOrder, st.NumParams)
	}
	if st.Returning != "" {
		fmt.Fprintf(sb, "returning: %s", st.Returning)
		if len(st.ReturningParamOrder) > 0 {
			fmt.Fprintf(sb, " params %v", st.ReturningParamOrder)
		}
		sb.WriteByte('\n')
	}
	if m := st.TxnModes; m != nil && *m != (TxnModes{}) {
		fmt.Fprintf(sb, "txn modes: priority=%q read_write=%v as_of=%v\n", m.Priority, m.ReadWrite, m.AsOf)
	}
	if d := st.DDL; d != nil {
		fmt.Fprintf(sb, "ddl: cascade=%v schema=%v drop_constraint_if_exists=%q sequence_type=%q\n", d.Cascade, d.Schema, d.DropConstraintIfExists, d.SequenceType)
	}
	if st.SetLocal {
		sb.WriteString("set local\n")
	}
	if st.ResetAll {
		sb.WriteString("reset all\n")
	} else if st.Reset {
		sb.WriteString("reset\n")
	}
	if oc := st.OnConflict; oc != nil {
		fmt.Fprintf(sb, "on conflict: columns=%v constraint=%q do_nothing=%v\n", oc.Columns, oc.Constraint, oc.DoNothing)
	}
	if len(st.StoredColumns) > 0 {
		fmt.Fprintf(sb, "stored columns: %v\n", st.StoredColumns)
	}
	aliases := slices.Sorted(maps.Keys(st.ColumnAliases))
	for _, a := range aliases {
		fmt.Fprintf(sb, "column aliases %q: %q\n", a, st.ColumnAliases[a])
	}
}

func writeCopy(sb *strings.Builder, c *Copy) {
	dir := "to"
	if c.From {
		dir = "from"
	}
	if c.Query != nil {
		fmt.Fprintf(sb, "copy %s query: %s\n", dir, c.Query.SQL)
	} else {
		fmt.Fprintf(sb, "copy %s table: %v columns=%q\n", dir, c.Table, c.Columns)
	}
	o := c.Options
	fmt.Fprintf(sb, "format=%s delimiter=%q null=%q", [...]string{"text", "csv", "binary"}[o.Format], o.Delimiter, o.Null)
	if o.Format == CopyCSV {
		fmt.Fprintf(sb, " quote=%q escape=%q", o.Quote, o.Escape)
	}
	if o.Header {
		fmt.Fprintf(sb, " header match=%v", o.HeaderMatch)
	}
	if o.Default != nil {
		fmt.Fprintf(sb, " default=%q", *o.Default)
	}
	if o.ForceQuoteAll {
		sb.WriteString(" force_quote=*")
	} else if o.ForceQuote != nil {
		fmt.Fprintf(sb, " force_quote=%q", o.ForceQuote)
	}
	if o.ForceNotNull != nil {
		fmt.Fprintf(sb, " force_not_null=%q", o.ForceNotNull)
	}
	if o.ForceNull != nil {
		fmt.Fprintf(sb, " force_null=%q", o.ForceNull)
	}
	if o.Encoding != "" {
		fmt.Fprintf(sb, " encoding=%q", o.Encoding)
	}
	sb.WriteByte('\n')
}

// stringLiterals matches the normalized SQL's string literals.
var stringLiterals = regexp.MustCompile(`'(?:[^']|'')*'`)

// checkParses asserts that tidb accepts what Normalize produced.
func checkParses(t *testing.T, pos string, st Statement) {
	t.Helper()
	if st.Copy != nil && st.Copy.Query != nil {
		checkParses(t, pos, *st.Copy.Query)
	}
	if st.SQL == "" {
		return
	}
	if _, err := parser.ParseOne(st.SQL, st.Original); err != nil {
		t.Errorf("%s: tidb rejects %q: %v", pos, st.SQL, err)
	}
	if st.Returning != "" {
		if _, err := parser.ParseOne("SELECT "+st.Returning, st.Original); err != nil {
			t.Errorf("%s: tidb rejects RETURNING list %q: %v", pos, st.Returning, err)
		}
	}
	// Only a string literal can hold another "?", such as the name in meridian_op('?', ...).
	if got := strings.Count(stringLiterals.ReplaceAllString(st.SQL, "''"), "?"); got != len(st.ParamOrder) {
		t.Errorf("%s: %d markers but ParamOrder has %d entries", pos, got, len(st.ParamOrder))
	}
}

// TestOriginal checks that each statement keeps its own trimmed client text.
func TestOriginal(t *testing.T) {
	stmts, err := Split("  SELECT 1 ;\n select 'a;b' -- c\n;;")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 || stmts[0].Original != "SELECT 1" || stmts[1].Original != "select 'a;b' -- c" {
		t.Fatalf("unexpected statements: %+v", stmts)
	}
	if stmts, err := Split(" -- nothing\n ; "); err != nil || stmts == nil || len(stmts) != 0 {
		t.Fatalf("want an empty, non-nil slice, got %#v, %v", stmts, err)
	}
}
