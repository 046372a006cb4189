package sql

import (
	"context"
	"fmt"
	"math"

	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/wire"
)

// Cursors (DECLARE ... CURSOR FOR query, FETCH, MOVE, CLOSE), as psycopg2's named cursors
// use them: DECLARE starts the query in the explicit transaction (as a pulledQuery, so it
// holds only the rows in flight), and FETCH and MOVE take rows from it in order. Cursors
// live until they are closed or the transaction ends (WITHOUT HOLD); only forward fetches
// are supported.

// cursor is a declared cursor's query.
type cursor struct {
	q *pulledQuery
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
			s.closeCursors()
		} else if cur, ok := s.cursors[c.Name]; ok {
			cur.q.close()
			delete(s.cursors, c.Name)
		} else {
			return s.fail(pgerror.New(codeInvalidCursorName, "cursor %q does not exist", c.Name))
		}
		return writeResult(w, &result{tag: "CLOSE CURSOR"}, nil, true, s.typeSettings())
	}
	cur, ok := s.cursors[c.Name]
	if !ok {
		return s.fail(pgerror.New(codeInvalidCursorName, "cursor %q does not exist", c.Name))
	}
	n := int(min(c.Count, math.MaxInt))
	if c.Verb == "MOVE" {
		moved := 0
		if _, err := cur.q.take(ctx, n, func([]types.Datum) error { moved++; return nil }); err != nil {
			return err
		}
		return writeResult(w, &result{tag: fmt.Sprintf("MOVE %d", moved)}, nil, true, s.typeSettings())
	}
	// The rows are sent as they are taken, after the description, which needs the
	// columns: they are known once the query has started.
	st := s.typeSettings()
	fetched := 0
	describe := func() error {
		if fetched > 0 {
			return nil
		}
		return w.Describe(wireColumns(cur.q.columns(), nil))
	}
	if _, err := cur.q.take(ctx, n, func(row []types.Datum) error {
		if err := describe(); err != nil {
			return err
		}
		fetched++
		return writeRow(w, row, cur.q.columns(), nil, st)
	}); err != nil {
		return err
	}
	if err := describe(); err != nil {
		return err
	}
	return w.Complete(fmt.Sprintf("FETCH %d", fetched))
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
	// Start the query now, up to its first row: it reads as of the DECLARE, and an error
	// it meets at once is DECLARE's.
	q := s.pull(ctx, p, nil)
	if _, err := q.take(ctx, 0, nil); err != nil {
		q.close()
		return err
	}
	if s.cursors == nil {
		s.cursors = map[string]*cursor{}
	}
	s.cursors[c.Name] = &cursor{q: q}
	return nil
}

// closeCursors closes every cursor of the transaction.
func (s *Session) closeCursors() {
	for _, cur := range s.cursors {
		cur.q.close()
	}
	s.cursors = nil
}
