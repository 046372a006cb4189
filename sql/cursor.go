package sql

import (
	"context"
	"fmt"

	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/wire"
)

// Cursors (DECLARE ... CURSOR FOR query, FETCH, MOVE, CLOSE), as psycopg2's named cursors
// use them: DECLARE runs the query in the explicit transaction and keeps its rows, within
// statement_memory_limit; FETCH hands them out in order. Cursors live until they are closed
// or the transaction ends (WITHOUT HOLD); only forward fetches are supported.

// cursor is a declared cursor's rows and how many were fetched.
type cursor struct {
	cols []resultColumn
	rows [][]types.Datum
	pos  int
}

const (
	codeInvalidCursorName       = "34000"
	codeDuplicateCursor         = "42P03"
	codeInvalidCursorDefinition = "42P11"
)

func (s *Session) runCursorCommand(ctx context.Context, c *pgdialect.CursorCommand, w wire.ResultWriter) error {
	if s.txn != nil && s.txnFailed {
		return errTxnAborted()
	}
	switch c.Verb {
	case "DECLARE":
		if err := s.declareCursor(ctx, c); err != nil {
			return err
		}
		return writeResult(w, &result{tag: "DECLARE CURSOR"}, nil, true, s.typeSettings())
	case "CLOSE":
		if c.Name == "" {
			s.cursors = nil
		} else if _, ok := s.cursors[c.Name]; !ok {
			return s.fail(pgerror.New(codeInvalidCursorName, "cursor %q does not exist", c.Name))
		}
		delete(s.cursors, c.Name)
		return writeResult(w, &result{tag: "CLOSE CURSOR"}, nil, true, s.typeSettings())
	}
	cur, ok := s.cursors[c.Name]
	if !ok {
		return s.fail(pgerror.New(codeInvalidCursorName, "cursor %q does not exist", c.Name))
	}
	n := len(cur.rows) - cur.pos
	if c.Count >= 0 && int64(n) > c.Count {
		n = int(c.Count)
	}
	rows := cur.rows[cur.pos : cur.pos+n]
	cur.pos += n
	if c.Verb == "MOVE" {
		return writeResult(w, &result{tag: fmt.Sprintf("MOVE %d", n)}, nil, true, s.typeSettings())
	}
	res := &result{cols: cur.cols, rows: rows, tag: fmt.Sprintf("FETCH %d", n)}
	return writeResult(w, res, nil, true, s.typeSettings())
}

func (s *Session) declareCursor(ctx context.Context, c *pgdialect.CursorCommand) error {
	if s.txn == nil {
		return pgerror.New(pgerror.CodeNoActiveSQLTransaction, "DECLARE CURSOR can only be used in transaction blocks")
	}
	if _, ok := s.cursors[c.Name]; ok {
		return s.fail(pgerror.New(codeDuplicateCursor, "cursor %q already exists", c.Name))
	}
	st, err := pgdialect.Normalize(c.Query)
	if err != nil {
		return s.fail(err)
	}
	if st.Empty() || st.Special() || st.Copy != nil {
		return s.fail(pgerror.New(pgerror.CodeSyntaxError, "DECLARE CURSOR needs a query"))
	}
	p, err := s.prepare(ctx, st, nil)
	if err != nil {
		return s.fail(err)
	}
	if p.numParams() > 0 {
		return s.fail(pgerror.New(pgerror.CodeUndefinedParameter, "there is no parameter $1"))
	}
	if p.plan == nil || p.plan.columns() == nil {
		return s.fail(pgerror.New(codeInvalidCursorDefinition, "cursor can only scan a query that returns rows"))
	}
	res, err := s.execute(ctx, p, nil)
	if err != nil {
		return err
	}
	if s.cursors == nil {
		s.cursors = map[string]*cursor{}
	}
	s.cursors[c.Name] = &cursor{cols: res.cols, rows: res.rows}
	return nil
}
