package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
	"github.com/meridiandb/meridian/wire"
)

// COPY FROM STDIN and COPY TO STDOUT. Unlike other statements, COPY exchanges data with the
// client while it runs, so it runs against the wire.ResultWriter directly rather than
// producing a result: COPY FROM reads and inserts its rows in batches as they arrive, and
// COPY t TO sends the rows as the table scan reads them.
//
// COPY runs in the session's transaction, or in an implicit one of its own that it commits.
// An implicit COPY is not retried after a retryable error once it has consumed the client's
// data (COPY FROM) or sent rows (COPY TO): neither can be had again. The client gets the
// 40001 and may retry, as it would an explicit transaction.

// copyBatchRows is how many rows COPY FROM sends to the key-value layer in one batch.
const copyBatchRows = 1000

// runCopy runs a COPY statement, within statement_timeout.
func (s *Session) runCopy(ctx context.Context, c *pgdialect.Copy, w wire.ResultWriter) error {
	if timeout := s.durationVar("statement_timeout"); timeout > 0 {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := s.runCopyStmt(sctx, c, w)
		if err != nil && ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
			return s.fail(errStatementTimeout)
		}
		return err
	}
	return s.runCopyStmt(ctx, c, w)
}

func (s *Session) runCopyStmt(ctx context.Context, c *pgdialect.Copy, w wire.ResultWriter) error {
	if err := checkCopyEncoding(c.Options.Encoding); err != nil {
		return s.fail(err)
	}
	if c.Query != nil {
		return s.copyQueryTo(ctx, c, w)
	}
	if s.txn != nil {
		if s.txnFailed {
			return errTxnAborted()
		}
		if c.From && s.txnReadOnly {
			return s.fail(errReadOnly("COPY FROM"))
		}
		s.txn.SetLockTimeout(s.durationVar("lock_timeout"))
		n, err := s.copyTable(ctx, s.txn, c, w, false)
		if err != nil {
			return s.fail(err)
		}
		s.txnUsed = true
		return w.Complete(fmt.Sprintf("COPY %d", n))
	}
	if c.From && s.vars["default_transaction_read_only"] == "on" {
		return errReadOnly("COPY FROM")
	}
	for attempt := 0; ; attempt++ {
		t := s.srv.db.NewTxn()
		t.SetPriority(s.defaultPriority())
		t.SetLockTimeout(s.durationVar("lock_timeout"))
		started := false
		n, err := s.copyTable(ctx, t, c, &startWatcher{ResultWriter: w, started: &started}, true)
		if err == nil {
			return w.Complete(fmt.Sprintf("COPY %d", n))
		}
		rbCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = t.Rollback(rbCtx)
		cancel()
		// Before any data moved, a retryable error can be retried like any statement's.
		if !started && txn.IsRetryable(err) && attempt < maxAutoRetries && ctx.Err() == nil {
			continue
		}
		return s.toPGError(err)
	}
}

// startWatcher notes whether a COPY began exchanging data with the client.
type startWatcher struct {
	wire.ResultWriter
	started *bool
}

func (sw *startWatcher) CopyIn(format int16, columnFormats []int16) (io.Reader, error) {
	*sw.started = true
	return sw.ResultWriter.CopyIn(format, columnFormats)
}

func (sw *startWatcher) CopyOut(format int16, columnFormats []int16) (io.Writer, error) {
	*sw.started = true
	return sw.ResultWriter.CopyOut(format, columnFormats)
}

// copyTable runs COPY t FROM STDIN or COPY t TO STDOUT in t and returns the number of rows.
// With autocommit, it commits t.
func (s *Session) copyTable(ctx context.Context, t *txn.Txn, c *pgdialect.Copy, w wire.ResultWriter, autocommit bool) (int64, error) {
	if err := s.syncSchema(ctx, t); err != nil {
		return 0, err
	}
	tbl, err := s.resolveTable(ctx, t, &ast.TableName{Schema: ast.NewCIStr(c.Table.Schema), Name: ast.NewCIStr(c.Table.Name)})
	if err != nil {
		return 0, err
	}
	want := privilege.Select
	if c.From {
		want = privilege.Insert
	}
	if err := s.checkTable(ctx, t, tbl, want); err != nil {
		return 0, err
	}
	readTS := t.ReadTimestamp()
	x := &execCtx{
		ec:         &evalCtx{ctx: ctx, txnTime: time.Unix(0, readTS.WallTime).UTC().Truncate(time.Microsecond), session: s, readTS: readTS},
		txn:        t,
		session:    s,
		autocommit: autocommit,
	}
	if c.From {
		return s.copyFrom(ctx, x, tbl, c, w)
	}
	return s.copyTableTo(ctx, x, tbl, c, w)
}

// columnOrdinals are the table ordinals of the columns an INSERT or COPY names, or of all
// visible columns for nil.
func columnOrdinals(tbl *catalog.Table, names []string) ([]int, error) {
	if names == nil {
		var ords []int
		for i, col := range tbl.Columns {
			if !col.Hidden {
				ords = append(ords, i)
			}
		}
		return ords, nil
	}
	seen := map[int]bool{}
	ords := make([]int, len(names))
	for i, name := range names {
		_, ord, ok := tbl.ColumnByName(name)
		if !ok {
			return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q of relation %q does not exist", name, tbl.Name)
		}
		if seen[ord] {
			return nil, pgerror.New(pgerror.CodeDuplicateColumn, "column %q specified more than once", name)
		}
		seen[ord] = true
		ords[i] = ord
	}
	return ords, nil
}

// copyColumnFlags marks which of the copied columns (ords) an option's column list (FORCE_NULL
// and the like) names; each must be one of them.
func copyColumnFlags(tbl *catalog.Table, ords []int, names []string, option string) ([]bool, error) {
	flags := make([]bool, len(ords))
	for _, name := range names {
		_, ord, ok := tbl.ColumnByName(name)
		if !ok {
			return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q of relation %q does not exist", name, tbl.Name)
		}
		found := false
		for i, o := range ords {
			if o == ord {
				flags[i], found = true, true
			}
		}
		if !found {
			return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "%s column %q not referenced by COPY", option, name)
		}
	}
	return flags, nil
}

// checkCopyEncoding accepts COPY's ENCODING option when it names UTF8, the only encoding
// Meridian reads and writes.
func checkCopyEncoding(name string) error {
	if name == "" {
		return nil
	}
	enc, ok := encodingName(name)
	if !ok {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "argument to option \"encoding\" must be a valid encoding name")
	}
	if enc != "UTF8" {
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY with ENCODING %s is not supported: Meridian reads and writes UTF8 only", enc)
	}
	return nil
}

// copyFormatCodes are the column formats CopyInResponse and CopyOutResponse announce.
func copyFormatCodes(f pgdialect.CopyFormat, n int) (int16, []int16) {
	var code int16
	if f == pgdialect.CopyBinary {
		code = 1
	}
	codes := make([]int16, n)
	for i := range codes {
		codes[i] = code
	}
	return code, codes
}

// copyContext is the CONTEXT of an error in COPY data, as PostgreSQL words it: the table,
// the line (or binary row) and, where the error is about one value, the column and value.
type copyContext struct {
	table  string
	line   int64
	column string // "" when the error concerns the whole line
	value  []byte // the column's raw text (nil: NULL input, or binary data)
	binary bool
	// lineText is the line's text, shown for errors about the whole line; nil when the
	// error arose before the line was read whole.
	lineText []byte
}

// maxCopyContextBytes bounds the data an error's CONTEXT quotes, as PostgreSQL's does.
const maxCopyContextBytes = 100

func (cc *copyContext) String() string {
	switch {
	case cc.column != "" && cc.binary:
		return fmt.Sprintf("COPY %s, line %d, column %s", cc.table, cc.line, cc.column)
	case cc.column != "" && cc.value == nil:
		return fmt.Sprintf("COPY %s, line %d, column %s: null input", cc.table, cc.line, cc.column)
	case cc.column != "":
		return fmt.Sprintf("COPY %s, line %d, column %s: \"%s\"", cc.table, cc.line, cc.column, clipForContext(cc.value))
	case cc.lineText != nil && !cc.binary:
		return fmt.Sprintf("COPY %s, line %d: \"%s\"", cc.table, cc.line, clipForContext(cc.lineText))
	}
	return fmt.Sprintf("COPY %s, line %d", cc.table, cc.line)
}

// clipForContext shortens data quoted in an error to maxCopyContextBytes, at a character
// boundary, marking the cut with "...".
func clipForContext(b []byte) string {
	if len(b) <= maxCopyContextBytes {
		return string(b)
	}
	n := maxCopyContextBytes
	for n > 0 && b[n]&0xc0 == 0x80 {
		n--
	}
	return string(b[:n]) + "..."
}

// withCopyContext gives err the CONTEXT cc, unless it already has one.
func withCopyContext(err error, cc copyContext) error {
	pe := pgerror.Flatten(err)
	if pe.Where != "" {
		return err
	}
	return pe.WithWhere(cc.String())
}

// copyQueryTo runs COPY (query) TO STDOUT: the query runs as a statement of its own, and its
// rows are sent as they come from the result.
func (s *Session) copyQueryTo(ctx context.Context, c *pgdialect.Copy, w wire.ResultWriter) error {
	p, err := s.prepare(ctx, *c.Query, nil)
	if err != nil {
		return s.fail(err)
	}
	if p.plan == nil || p.plan.columns() == nil {
		if _, isSelect := p.node.(*ast.SelectStmt); !isSelect {
			return s.fail(pgerror.New(pgerror.CodeFeatureNotSupported, "COPY query must have a RETURNING clause"))
		}
		return s.fail(pgerror.Unsupported("COPY of this query"))
	}
	if p.numParams() > 0 {
		return s.fail(pgerror.New(pgerror.CodeUndefinedParameter, "there is no parameter $1"))
	}
	// The rows are taken from the query as it produces them, so a large result is never
	// held whole. The first take starts it, which gives the columns.
	q := s.pull(ctx, p, nil)
	defer q.close()
	if _, err := q.take(ctx, 0, nil); err != nil {
		return err
	}
	enc, err := s.newCopyEncoder(c, q.columns(), nil)
	if err != nil {
		return s.fail(err)
	}
	out, err := enc.start(w)
	if err != nil {
		return err
	}
	var n int64
	if _, err := q.take(ctx, -1, func(row []types.Datum) error {
		n++
		return enc.writeRow(out, row)
	}); err != nil {
		return err
	}
	if err := enc.finish(out); err != nil {
		return err
	}
	return w.Complete(fmt.Sprintf("COPY %d", n))
}

// copyTableTo runs COPY t TO STDOUT, sending the rows as the scan reads them.
func (s *Session) copyTableTo(ctx context.Context, x *execCtx, tbl *catalog.Table, c *pgdialect.Copy, w wire.ResultWriter) (int64, error) {
	ords, err := columnOrdinals(tbl, c.Columns)
	if err != nil {
		return 0, err
	}
	cols := make([]resultColumn, len(ords))
	for i, ord := range ords {
		cols[i] = resultColumn{name: tbl.Columns[ord].Name, typ: tbl.Columns[ord].Type}
	}
	enc, err := s.newCopyEncoder(c, cols, tbl)
	if err != nil {
		return 0, err
	}
	out, err := enc.start(w)
	if err != nil {
		return 0, err
	}
	var n int64
	vals := make([]types.Datum, len(ords))
	scan := &tableScan{table: tbl}
	err = scan.run(ctx, x.txn, x.ec, scanPageSize, func(row []types.Datum) (bool, error) {
		for i, ord := range ords {
			vals[i] = row[ord]
		}
		n++
		return true, enc.writeRow(out, vals)
	})
	if err != nil {
		return 0, err
	}
	if err := enc.finish(out); err != nil {
		return 0, err
	}
	if err := x.finishRead(ctx); err != nil {
		return 0, err
	}
	return n, nil
}

// copyStatement is COPY prepared in the extended protocol: it has no parameters and no
// result columns (Describe answers NoData, as PostgreSQL does), and runs when executed.
type copyStatement struct {
	s *Session
	c *pgdialect.Copy
}

func (cs *copyStatement) ParamOIDs() []uint32    { return nil }
func (cs *copyStatement) Columns() []wire.Column { return nil }
func (cs *copyStatement) Close()                 {}
func (cs *copyStatement) Bind(_ context.Context, params [][]byte, _, _ []int16) (wire.Portal, error) {
	if len(params) > 0 {
		return nil, pgerror.New(pgerror.CodeProtocolViolation, "bind message supplies %d parameters, but prepared statement requires 0", len(params))
	}
	return &copyPortal{cs: cs}, nil
}

// copyPortal runs a prepared COPY once.
type copyPortal struct {
	cs   *copyStatement
	done bool
}

func (cp *copyPortal) Columns() []wire.Column { return nil }
func (cp *copyPortal) Close()                 {}
func (cp *copyPortal) Execute(ctx context.Context, _ int, w wire.ResultWriter) (bool, error) {
	if cp.done {
		// PostgreSQL completes an exhausted portal again with an empty tag's worth of rows.
		return false, w.Complete("COPY 0")
	}
	cp.done = true
	return false, cp.cs.s.runCopy(ctx, cp.cs.c, w)
}
