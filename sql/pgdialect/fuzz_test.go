package pgdialect

import (
	"testing"

	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
)

// FuzzNormalize feeds arbitrary text to Normalize and, when it is accepted, the output to the
// tidb parser: neither may panic, and every error must carry a SQLSTATE.
func FuzzNormalize(f *testing.F) {
	f.Add("SELECT 1")
	f.Add("BEGIN TRANSACTION AS OF SYSTEM TIME '-1s', PRIORITY HIGH")
	f.Add("SET TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY PRIORITY LOW")
	f.Add("SELECT * FROM t AS OF SYSTEM TIME '-1s' WHERE k = 1 FOR NO KEY UPDATE OF t NOWAIT OFFSET 1")
	f.Add("SELECT j->'a'->>0, a[1:2], ARRAY[1, 2]::int8[] FROM t WHERE j @> $1 AND k = ANY($2) AND j ? 'x'")
	f.Add("SELECT extract(epoch FROM now() - interval '1 hour'), x::text[] || ARRAY['y']")
	f.Fuzz(func(t *testing.T, sql string) {
		st, err := Normalize(sql)
		if err != nil {
			if pgerror.Code(err) == pgerror.CodeInternalError {
				t.Fatalf("unclassified error for %q: %v", sql, err)
			}
			return
		}
		parseOutput(st)
	})
}

// FuzzSplit is FuzzNormalize for whole query strings.
func FuzzSplit(f *testing.F) {
	f.Add("SELECT 1; SELECT 2")
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, err := Split(sql)
		if err != nil {
			if pgerror.Code(err) == pgerror.CodeInternalError {
				t.Fatalf("unclassified error for %q: %v", sql, err)
			}
			return
		}
		for _, st := range stmts {
			parseOutput(st)
		}
	})
}

func parseOutput(st Statement) {
	if st.SQL != "" {
		_, _ = parser.ParseOne(st.SQL, st.Original)
	}
	if st.Returning != "" {
		_, _ = parser.ParseOne("SELECT "+st.Returning, st.Original)
	}
}

func BenchmarkNormalizePointSelect(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize("SELECT v FROM kv WHERE k = $1"); err != nil {
			b.Fatal(err)
		}
	}
}
