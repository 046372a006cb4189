package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/wire"
)

// SQL's PREPARE, EXECUTE and DEALLOCATE keep prepared statements by name in the session,
// apart from the extended protocol's named statements (which the wire layer keeps):
// PostgreSQL shares one namespace between the two. EXECUTE evaluates its arguments as
// expressions cast to the statement's parameter types, then runs the statement as a Bind and
// Execute would. They run in simple queries, where psql and psycopg2 send them.

// Codes of prepared statements.
const (
	codeInvalidSQLStatementName = "26000"
	codeDuplicatePreparedStmt   = "42P05"
)

func (s *Session) runPreparedCommand(ctx context.Context, c *pgdialect.PreparedCommand, w wire.ResultWriter) error {
	if s.txn != nil && s.txnFailed {
		return errTxnAborted()
	}
	var err error
	switch c.Verb {
	case "PREPARE":
		err = s.sqlPrepare(ctx, c)
	case "EXECUTE":
		return s.sqlExecute(ctx, c, w)
	case "DEALLOCATE":
		err = s.sqlDeallocate(c)
	}
	if err != nil {
		return s.fail(err)
	}
	tag := c.Verb
	if c.Verb == "DEALLOCATE" && c.Name == "" {
		tag = "DEALLOCATE ALL"
	}
	return writeResult(w, &result{tag: tag}, nil, true, s.typeSettings())
}

func (s *Session) sqlPrepare(ctx context.Context, c *pgdialect.PreparedCommand) error {
	if _, ok := s.sqlPrepared[c.Name]; ok {
		return pgerror.New(codeDuplicatePreparedStmt, "prepared statement %q already exists", c.Name)
	}
	oids := make([]uint32, len(c.Types))
	for i, name := range c.Types {
		t, err := types.ParseTypeName(name)
		if err != nil {
			return err
		}
		oids[i] = t.OID()
	}
	st, err := pgdialect.Normalize(c.Body)
	if err != nil {
		return err
	}
	if st.Empty() || st.Special() || st.Copy != nil {
		return pgerror.Unsupported("PREPARE of this statement")
	}
	p, err := s.prepare(ctx, st, oids)
	if err != nil {
		return err
	}
	if s.sqlPrepared == nil {
		s.sqlPrepared = map[string]*prepared{}
	}
	s.sqlPrepared[c.Name] = p
	return nil
}

func (s *Session) sqlExecute(ctx context.Context, c *pgdialect.PreparedCommand, w wire.ResultWriter) error {
	p, ok := s.sqlPrepared[c.Name]
	if !ok {
		return s.fail(pgerror.New(codeInvalidSQLStatementName, "prepared statement %q does not exist", c.Name))
	}
	if len(c.Args) != p.numParams() {
		return s.fail(pgerror.New(pgerror.CodeSyntaxError, "wrong number of parameters for prepared statement %q", c.Name).
			WithDetail(fmt.Sprintf("Expected %d parameters but got %d.", p.numParams(), len(c.Args))))
	}
	if c.Explain {
		// The plan does not depend on the arguments: it is the statement's, shown with its
		// parameters, as a generic plan.
		explain := *p
		explain.node = &ast.ExplainStmt{Stmt: p.node}
		explain.plan = nil
		return s.runSimple(ctx, &explain, nil, w)
	}
	var params []types.Datum
	if len(c.Args) > 0 {
		// The arguments, each cast to its parameter's type, in one SELECT.
		exprs := make([]string, len(c.Args))
		for i, a := range c.Args {
			exprs[i] = fmt.Sprintf("CAST((%s) AS %s)", a, p.params.types[i].String())
		}
		st, err := pgdialect.Normalize("SELECT " + strings.Join(exprs, ", "))
		if err != nil {
			return s.fail(err)
		}
		args, err := s.prepare(ctx, st, nil)
		if err != nil {
			return s.fail(err)
		}
		if args.numParams() > 0 {
			return s.fail(pgerror.New(pgerror.CodeUndefinedParameter, "there is no parameter $1"))
		}
		res, err := s.execute(ctx, args, nil)
		if err != nil {
			return err
		}
		params = res.rows[0]
	}
	return s.runSimple(ctx, p, params, w)
}

func (s *Session) sqlDeallocate(c *pgdialect.PreparedCommand) error {
	if c.Name == "" {
		s.sqlPrepared = nil
		return nil
	}
	if _, ok := s.sqlPrepared[c.Name]; !ok {
		return pgerror.New(codeInvalidSQLStatementName, "prepared statement %q does not exist", c.Name)
	}
	delete(s.sqlPrepared, c.Name)
	return nil
}
