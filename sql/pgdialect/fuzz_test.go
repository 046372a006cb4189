package pgdialect

import (
	"os"
	"path/filepath"
	"strings"
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
	f.Add("SELECT DISTINCT ON (a) * FROM a FULL JOIN b USING (x) JOIN (VALUES (1, 2), ($1, 3)) AS v (c, d) ON true")
	f.Add("WITH x AS MATERIALIZED (VALUES (1)) INSERT INTO t SELECT * FROM generate_series(1, 3) g (n) UNION VALUES (2)")
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

// TestTruncatedInputs normalizes every prefix of every datadriven input, a cheap stand-in
// for fuzzing the half-written statements where the rewrites' index arithmetic breaks: none
// may panic or fail without a SQLSTATE.
func TestTruncatedInputs(t *testing.T) {
	files, err := filepath.Glob("testdata/normalize/*")
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range strings.Split(string(data), "\n\n") {
			in, _, ok := strings.Cut(block, "\n----\n")
			if !ok {
				continue
			}
			_, in, _ = strings.Cut(strings.TrimLeft(in, "\n"), "\n") // drop the command line
			for n := 1; n <= len(in); n++ {
				prefix := in[:n]
				tried++
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s: panic on %q: %v", file, prefix, p)
						}
					}()
					st, err := Normalize(prefix)
					if err != nil {
						if pgerror.Code(err) == pgerror.CodeInternalError {
							t.Fatalf("%s: unclassified error for %q: %v", file, prefix, err)
						}
						return
					}
					parseOutput(st)
				}()
			}
		}
	}
	if tried < 1000 {
		t.Fatalf("only %d prefixes: the testdata format changed?", tried)
	}
	t.Logf("%d prefixes", tried)
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
