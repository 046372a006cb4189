package parser

import (
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// The tidb parser is not safe for concurrent use and costly to build; keep a pool.
var pool = sync.Pool{New: func() any {
	p := parser.New()
	p.SetSQLMode(mysql.ModeANSIQuotes | mysql.ModePipesAsConcat | mysql.ModeNoBackslashEscapes)
	return p
}}

// ParseOne parses exactly one statement of normalized text. original is the client's text,
// used in error messages.
func ParseOne(text, original string) (ast.StmtNode, error) {
	text, err := rewriteCalls(text)
	if err != nil {
		return nil, err
	}
	p := pool.Get().(*parser.Parser)
	defer pool.Put(p)
	stmts, _, err := p.Parse(text, "", "")
	if err != nil {
		return nil, syntaxError(err, original)
	}
	if len(stmts) != 1 {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "expected one statement, found %d", len(stmts))
	}
	numberParams(stmts[0])
	stmts[0].Accept(callFixer{})
	return stmts[0], nil
}

// syntaxError rewords a tidb parse error for PostgreSQL clients.
func syntaxError(err error, original string) error {
	msg := err.Error()
	// tidb: "line 1 column 12 near \"FOO\" " — keep the "near" part, which names the spot.
	if i := strings.Index(msg, "near "); i >= 0 {
		near := strings.TrimSpace(msg[i+len("near "):])
		near = strings.TrimSuffix(near, `"`)
		near = strings.TrimPrefix(near, `"`)
		if len(near) > 40 {
			near = near[:40] + "..."
		}
		if near == "" {
			return pgerror.New(pgerror.CodeSyntaxError, "syntax error at end of input")
		}
		return pgerror.New(pgerror.CodeSyntaxError, "syntax error at or near \"%s\"", firstToken(near))
	}
	return pgerror.New(pgerror.CodeSyntaxError, "syntax error: %s", msg)
}

func firstToken(s string) string {
	if i := strings.IndexAny(s, " \t\n"); i > 0 {
		return s[:i]
	}
	return s
}
