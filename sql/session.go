package sql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
	"github.com/meridiandb/meridian/wire"
)

// Config configures a SQL server.
type Config struct {
	DB      *txn.DB
	Catalog *catalog.Catalog
	NodeID  uint64
	Logger  *slog.Logger
	// Admin splits and describes ranges; nil where the node cannot (SQL tests).
	Admin Admin
	// TempDir is where operators that outgrow statement_memory_limit write what they hold
	// (a sort's sorted runs); empty: the system's temporary directory.
	TempDir string
	// MaxTempStorage bounds the bytes the server's statements hold in TempDir at once;
	// 0: DefaultMaxTempStorage.
	MaxTempStorage int64
}

// DefaultMaxTempStorage is the temporary disk a node's statements may hold at once unless
// configured otherwise.
const DefaultMaxTempStorage = 32 << 30

// Server creates SQL sessions on a node.
type Server struct {
	cfg     Config
	db      *txn.DB
	cat     *catalog.Catalog
	log     *slog.Logger
	lastRow atomic.Int64
	stats   statsCache
	// tempDisk is what the server's statements hold in temporary files.
	tempDisk diskBudget
}

// NewServer returns a SQL server.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxTempStorage == 0 {
		cfg.MaxTempStorage = DefaultMaxTempStorage
	}
	return &Server{cfg: cfg, db: cfg.DB, cat: cfg.Catalog, log: cfg.Logger, tempDisk: diskBudget{limit: cfg.MaxTempStorage}}
}

// uniqueRowID returns a cluster-unique, roughly time-ordered row ID for tables without a
// primary key: microseconds since the epoch shifted left, with the node ID in the low bits.
func (s *Server) uniqueRowID() int64 {
	for {
		last := s.lastRow.Load()
		id := time.Now().UnixMicro()<<10 | int64(s.cfg.NodeID&0x3ff)
		if id <= last {
			id = last + 1<<10
		}
		if s.lastRow.CompareAndSwap(last, id) {
			return id
		}
	}
}

// NewBackend starts a session for a client connection; it implements the wire.Config hook.
func (s *Server) NewBackend(ctx context.Context, user, database string, params map[string]string) (wire.Backend, error) {
	if database == "" {
		database = catalog.DefaultDatabase
	}
	sess := &Session{srv: s, user: user, database: database}
	if err := sess.applyStartupParams(params); err != nil {
		return nil, err
	}
	err := s.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		d, err := s.cat.LookupDatabase(ctx, t, database, 0)
		if err != nil {
			return err
		}
		return sess.checkLogin(ctx, t, d)
	})
	if err != nil {
		return nil, toPGError(err, nil)
	}
	return sess, nil
}

// Session is one client's SQL session.
type Session struct {
	srv      *Server
	user     string
	database string
	vars     map[string]string
	// pid is the process ID the client was given (pg_backend_pid()).
	pid uint32
	// resetVals are the settings' values at the start of the session, which RESET restores;
	// txnVars the settings the open transaction changed (see vars.go).
	resetVals map[string]string
	txnVars   map[string]*varChange
	// typeSettingsCache holds typeSettings until a setting changes; reported holds the
	// values last sent as ParameterStatus.
	typeSettingsCache *types.Settings
	reported          map[string]string

	// txn is the explicit transaction (BEGIN ... COMMIT), nil outside one.
	txn *txn.Txn
	// txnFailed: a statement of the explicit transaction failed; only ROLLBACK is accepted.
	txnFailed bool
	// txnReadOnly: the explicit transaction may only read (READ ONLY, AS OF SYSTEM TIME).
	txnReadOnly bool
	// txnAsOf is the timestamp an explicit AS OF SYSTEM TIME transaction reads at, or empty.
	txnAsOf hlc.Timestamp
	// txnUsed: the explicit transaction has run a query (anything but SET and SHOW of
	// session settings), after which it can no longer become AS OF SYSTEM TIME or read-write.
	txnUsed bool
	// txnSchemaChanged: the explicit transaction changed the schema, so it must read
	// descriptors itself rather than from the shared cache, and invalidate it at commit.
	txnSchemaChanged bool
	// schemaVersion is the cluster schema version read by schemaTxn at attempt schemaEpoch,
	// or 0 when schemaTxn reads AS OF SYSTEM TIME.
	schemaVersion uint64
	schemaTxn     *txn.Txn
	schemaEpoch   int
	// fixedTxn is the latest transaction pinned AS OF SYSTEM TIME.
	fixedTxn *txn.Txn
	// savepoints are the explicit transaction's savepoints, oldest first (see txnctl.go).
	savepoints []savepoint
	// sequences is the session's sequence state: currval, lastval, cached values.
	sequences sessionSequences
	// sqlPrepared are the statements of SQL's PREPARE, by name (sqlprepare.go).
	sqlPrepared map[string]*prepared
	// cursors are the explicit transaction's cursors, by name (cursor.go).
	cursors map[string]*cursor
	// unanswered release the background work of the statements run since the client was
	// last sent its answers (see txn.HoldBackground and AnswerSent).
	unanswered []func()
}

var _ wire.Backend = (*Session)(nil)

// TxnStatus implements wire.Backend.
func (s *Session) TxnStatus() byte {
	switch {
	case s.txn == nil:
		return 'I'
	case s.txnFailed:
		return 'E'
	}
	return 'T'
}

// Sync implements wire.Backend. Each Execute runs in its own implicit transaction, so there
// is nothing left to finish at Sync.
func (s *Session) Sync(context.Context) error { return nil }

// AnswerSent implements wire.AnswerListener: the statements answered may now finish their
// commits' work in the background.
func (s *Session) AnswerSent() {
	for _, release := range s.unanswered {
		release()
	}
	clear(s.unanswered)
	s.unanswered = s.unanswered[:0]
}

// Close implements wire.Backend.
func (s *Session) Close() {
	if s.txn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.txn.Rollback(ctx)
		s.txn = nil
	}
}

// SimpleQuery implements wire.Backend.
func (s *Session) SimpleQuery(ctx context.Context, query string, w wire.ResultWriter) error {
	stmts, err := pgdialect.Split(query)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return w.Empty()
	}
	for _, st := range stmts {
		if st.Copy != nil {
			if err := s.runCopy(ctx, st.Copy, w); err != nil {
				return err
			}
			continue
		}
		if st.Prepared != nil {
			if err := s.runPreparedCommand(ctx, st.Prepared, w); err != nil { // sqlprepare.go
				return err
			}
			continue
		}
		if st.Cursor != nil {
			if err := s.runCursorCommand(ctx, st.Cursor, w); err != nil { // cursor.go
				return err
			}
			continue
		}
		if st.Empty() {
			if err := w.Empty(); err != nil {
				return err
			}
			continue
		}
		p, err := s.prepare(ctx, st, nil)
		if err != nil {
			return s.fail(err)
		}
		if p.numParams() > 0 {
			return s.fail(pgerror.New(pgerror.CodeUndefinedParameter, "there is no parameter $1"))
		}
		if err := s.runSimple(ctx, p, nil, w); err != nil {
			return err
		}
	}
	return nil
}

// runSimple runs a statement of a simple query, describing and streaming its rows to w.
func (s *Session) runSimple(ctx context.Context, p *prepared, params []types.Datum, w wire.ResultWriter) error {
	rw := newRowWriter(w, nil, true, s.typeSettings())
	res, err := s.executeTo(ctx, p, params, &rw.heldRows)
	if err != nil {
		return err
	}
	if res.streamed {
		return rw.finish(res)
	}
	return writeResult(w, res, nil, true, s.typeSettings())
}

// fail marks an explicit transaction failed after a statement error and returns the error.
func (s *Session) fail(err error) error {
	if s.txn != nil {
		s.txnFailed = true
	}
	return s.toPGError(err)
}

func writeResult(w wire.ResultWriter, res *result, formats []int16, describe bool, st *types.Settings) error {
	if res.cols != nil {
		cols := wireColumns(res.cols, formats)
		if describe {
			if err := w.Describe(cols); err != nil {
				return err
			}
		}
		for _, row := range res.rows {
			if err := writeRow(w, row, res.cols, formats, st); err != nil {
				return err
			}
		}
	}
	return complete(w, res)
}

func formatFor(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return 0
}

func wireColumns(cols []resultColumn, formats []int16) []wire.Column {
	out := make([]wire.Column, len(cols))
	for i, c := range cols {
		out[i] = wire.Column{
			Name: c.name, TypeOID: c.typ.OID(), TypeSize: c.typ.Size(), TypeModifier: c.typ.TypeModifier(),
			Format: formatFor(formats, i), TableOID: c.tableID, TableAttrNum: c.attrNum,
		}
	}
	return out
}

// writeRow encodes row in formats and sends it to w.
func writeRow(w wire.ResultWriter, row []types.Datum, cols []resultColumn, formats []int16, st *types.Settings) error {
	vals, err := encodeRow(row, cols, formats, st)
	if err != nil {
		return err
	}
	return w.Row(vals)
}

func encodeRow(row []types.Datum, cols []resultColumn, formats []int16, st *types.Settings) ([][]byte, error) {
	vals := make([][]byte, len(row))
	for i, d := range row {
		if d == nil {
			continue
		}
		if formatFor(formats, i) == 1 {
			b, err := types.AppendBinary([]byte{}, cols[i].typ, d) // non-nil: nil would mean NULL
			if err != nil {
				return nil, err
			}
			vals[i] = b
		} else {
			vals[i] = types.AppendTextWith([]byte{}, cols[i].typ, d, st)
		}
	}
	return vals, nil
}

// toPGError classifies errors from lower layers with PostgreSQL SQLSTATEs, naming the keys
// of conflicts in SQL terms.
func (s *Session) toPGError(err error) error {
	return toPGError(err, s.tableByID)
}

// toPGError classifies errors from lower layers with PostgreSQL SQLSTATEs. tables names the
// tables of conflicting keys; with nil, or where it finds nothing, keys show in generic form.
func toPGError(err error, tables tableLookup) error {
	if err == nil {
		return nil
	}
	var pe *pgerror.Error
	if errors.As(err, &pe) {
		return err
	}
	var re *kvpb.TransactionRetryError
	if errors.As(err, &re) {
		return retryError(re, tables)
	}
	var lna *kvpb.LockNotAvailableError
	if errors.As(err, &lna) {
		return lockNotAvailableError(lna, tables)
	}
	var gc *kvpb.BatchTimestampBeforeGCError
	if errors.As(err, &gc) {
		// PostgreSQL's "snapshot too old" (72000) is this very condition: the versions a
		// read at this timestamp needs may have been garbage collected.
		return &pgerror.Error{Code: pgerror.CodeSnapshotTooOld,
			Message: fmt.Sprintf("snapshot too old: cannot read at timestamp %s, at or below the GC threshold %s", gc.Timestamp, gc.Threshold),
			Hint:    "Older versions of the data have been garbage collected; read at a later timestamp (AS OF SYSTEM TIME)."}
	}
	var ambiguous *kvpb.AmbiguousResultError
	if errors.As(err, &ambiguous) {
		return &pgerror.Error{Code: pgerror.CodeStatementCompletionUnknown, Message: err.Error(),
			Hint: "The node committing the transaction became unreachable: it may or may not have committed. Check before retrying."}
	}
	var unavailable *txn.RangeUnavailableError
	if errors.As(err, &unavailable) && !errors.Is(err, context.Canceled) {
		return pgerror.New(pgerror.CodeCannotConnectNow, "%v", err)
	}
	if errors.Is(err, context.Canceled) {
		return pgerror.New(pgerror.CodeQueryCanceled, "canceling statement due to user request")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return pgerror.New(pgerror.CodeQueryCanceled, "canceling statement due to statement timeout")
	}
	if errors.Is(err, txn.ErrReadOnly) {
		return pgerror.New(pgerror.CodeReadOnlySQLTransaction, "cannot execute a write in a read-only transaction")
	}
	return pgerror.New(pgerror.CodeInternalError, "internal error: %v", err)
}

// maxAutoRetries bounds server-side retries of implicit transactions.
const maxAutoRetries = 50

// errStatementTimeout is PostgreSQL's error for a statement that ran past statement_timeout.
var errStatementTimeout = pgerror.New(pgerror.CodeQueryCanceled, "canceling statement due to statement timeout")

// execute runs a prepared statement with bound parameters, within statement_timeout, and
// returns a query's rows in its result.
func (s *Session) execute(ctx context.Context, p *prepared, params []types.Datum) (*result, error) {
	return s.executeTo(ctx, p, params, nil)
}

// executeTo runs a statement within statement_timeout, streaming a query's rows to sink
// (nil: they are returned in the result).
func (s *Session) executeTo(ctx context.Context, p *prepared, params []types.Datum, sink *heldRows) (*result, error) {
	// A commit's background work waits until the client has its answer.
	ctx, release := txn.HoldBackground(ctx)
	s.unanswered = append(s.unanswered, release)
	timeout := s.durationVar("statement_timeout")
	if timeout <= 0 {
		return s.executeStmt(ctx, p, params, sink)
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := s.executeStmt(sctx, p, params, sink)
	if err != nil && ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		// Whatever the statement was doing when its time ran out (waiting for a lock,
		// reading, retrying), it failed because of the timeout.
		return nil, errStatementTimeout
	}
	return res, err
}

func (s *Session) executeStmt(ctx context.Context, p *prepared, params []types.Datum, sink *heldRows) (*result, error) {
	switch n := p.node.(type) {
	case *ast.BeginStmt:
		return s.begin(ctx, p, params)
	case *ast.CommitStmt:
		return s.commit(ctx)
	case *ast.RollbackStmt:
		if n.SavepointName != "" {
			return s.rollbackToSavepoint(ctx, n.SavepointName)
		}
		return s.rollback(ctx)
	case *ast.SavepointStmt:
		return s.savepoint(n.Name)
	case *ast.ReleaseSavepointStmt:
		return s.releaseSavepoint(n.Name)
	}
	if m := p.stmt.TxnModes; m != nil && m.AsOf {
		return s.setTransactionAsOf(ctx, p, params)
	}
	if s.txn != nil {
		if s.txnFailed {
			return nil, errTxnAborted()
		}
		res, err := s.runExplicit(ctx, p, params, sink)
		if errors.Is(err, errQueryClosed) {
			// A pulled query closed by its portal or cursor, maybe after the transaction
			// ended: nothing failed.
			return nil, err
		}
		if err != nil {
			return nil, s.fail(err)
		}
		if !sessionOnly(p.node) {
			s.txnUsed = true
		}
		return res, nil
	}
	asOf, err := asOfClause(p.node)
	if err != nil {
		return nil, err
	}
	var t *txn.Txn
	var fixed hlc.Timestamp
	readOnly := s.vars["default_transaction_read_only"] == "on"
	if asOf != nil {
		if fixed, err = s.evalAsOf(ctx, asOf.TsExpr, p.params, params); err != nil {
			return nil, s.toPGError(err)
		}
		t, readOnly = s.newFixedTxn(fixed), true
		p.plan = nil // plan against the schema as of then
	} else {
		t = s.srv.db.NewTxn()
	}
	if what := statementWrites(p); readOnly && what != "" {
		return nil, errReadOnly(what)
	}
	t.SetPriority(s.defaultPriority())
	for attempt := 0; ; attempt++ {
		t.SetLockTimeout(s.durationVar("lock_timeout"))
		res, err := s.runInTxn(ctx, t, p, params, true, sink)
		if err == nil {
			return res, nil
		}
		if txn.IsRetryable(err) && attempt < maxAutoRetries && ctx.Err() == nil && sink.retryable() {
			// Restart keeps the priority, and a historical read's timestamp.
			if rerr := t.Restart(ctx, err); rerr != nil {
				return nil, s.toPGError(rerr)
			}
			continue
		}
		rbCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = t.Rollback(rbCtx)
		cancel()
		return nil, s.toPGError(err)
	}
}

// runExplicit runs a statement in the session's explicit transaction.
func (s *Session) runExplicit(ctx context.Context, p *prepared, params []types.Datum, sink *heldRows) (*result, error) {
	asOf, err := asOfClause(p.node)
	if err != nil {
		return nil, err
	}
	if asOf != nil {
		// Only a transaction begun AS OF SYSTEM TIME may repeat its own timestamp.
		ts, err := s.evalAsOf(ctx, asOf.TsExpr, p.params, params)
		if err != nil {
			return nil, err
		}
		if s.txnAsOf.IsEmpty() {
			return nil, pgerror.New(pgerror.CodeActiveSQLTransaction, "AS OF SYSTEM TIME cannot be used inside a transaction block; use BEGIN AS OF SYSTEM TIME")
		}
		if ts != s.txnAsOf {
			return nil, pgerror.New(pgerror.CodeActiveSQLTransaction, "inconsistent AS OF SYSTEM TIME timestamp: the transaction reads at %s, the statement asks for %s", s.txnAsOf, ts)
		}
	}
	if !s.txnAsOf.IsEmpty() {
		p.plan = nil // plan against the schema as of the transaction's time
	}
	if what := statementWrites(p); s.txnReadOnly && what != "" {
		return nil, errReadOnly(what)
	}
	s.txn.SetLockTimeout(s.durationVar("lock_timeout"))
	return s.runInTxn(ctx, s.txn, p, params, false, sink)
}

// runInTxn plans (if the schema changed since preparing) and runs p in t. With autocommit,
// the statement commits t itself, so that a mutation commits together with its writes.
func (s *Session) runInTxn(ctx context.Context, t *txn.Txn, p *prepared, params []types.Datum, autocommit bool, sink *heldRows) (*result, error) {
	if err := s.syncSchema(ctx, t); err != nil {
		return nil, err
	}
	pl, err := s.planFor(ctx, t, p)
	if err != nil {
		return nil, err
	}
	readTS := t.ReadTimestamp()
	ec := &evalCtx{ctx: ctx, params: params, txnTime: time.Unix(0, readTS.WallTime).UTC().Truncate(time.Microsecond), session: s, readTS: readTS}
	x := &execCtx{ec: ec, txn: t, session: s, autocommit: autocommit, mem: &memAccount{limit: s.memoryLimit()}}
	if sink != nil {
		x.sink = sink
	}
	ec.x = x
	res, err := pl.run(ctx, x)
	if err != nil {
		return nil, err
	}
	if pl.changesSchema() {
		if autocommit {
			s.srv.cat.Invalidate()
		} else {
			s.txnSchemaChanged = true
		}
	}
	return res, nil
}

// begin starts an explicit transaction with the modes of BEGIN: READ ONLY, AS OF SYSTEM TIME
// (a read-only transaction pinned at that timestamp) and PRIORITY; without them, the
// session's defaults (default_transaction_read_only, default_transaction_priority).
func (s *Session) begin(ctx context.Context, p *prepared, params []types.Datum) (*result, error) {
	n := p.node.(*ast.BeginStmt)
	if s.txn != nil {
		return &result{tag: "BEGIN", notices: []notice{{Code: pgerror.CodeActiveSQLTransaction, Message: "there is already a transaction in progress"}}}, nil
	}
	modes := p.stmt.TxnModes
	if modes == nil {
		modes = &pgdialect.TxnModes{}
	}
	prio := s.defaultPriority()
	if modes.Priority != "" {
		var err error
		if prio, err = txn.ParseUserPriority(modes.Priority); err != nil {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "%v", err)
		}
	}
	var t *txn.Txn
	var asOf hlc.Timestamp
	if n.AsOf != nil {
		var err error
		if asOf, err = s.evalAsOf(ctx, n.AsOf.TsExpr, p.params, params); err != nil {
			return nil, s.toPGError(err)
		}
		t = s.newFixedTxn(asOf)
	} else {
		t = s.srv.db.NewTxn()
	}
	t.SetPriority(prio)
	s.txn = t
	s.txnFailed, s.txnSchemaChanged, s.txnUsed = false, false, false
	s.txnAsOf = asOf
	s.txnReadOnly = n.ReadOnly || !asOf.IsEmpty() || s.vars["default_transaction_read_only"] == "on" && !modes.ReadWrite
	return &result{tag: "BEGIN"}, nil
}

// endTxn forgets the explicit transaction.
func (s *Session) endTxn() {
	s.txn, s.txnFailed, s.txnSchemaChanged = nil, false, false
	s.txnReadOnly, s.txnAsOf, s.txnUsed = false, hlc.Timestamp{}, false
	s.savepoints = nil
	s.closeCursors()
}

func (s *Session) commit(ctx context.Context) (*result, error) {
	if s.txn == nil {
		return &result{tag: "COMMIT", notices: []notice{{Code: pgerror.CodeNoActiveSQLTransaction, Message: "there is no transaction in progress"}}}, nil
	}
	t, failed, ddl := s.txn, s.txnFailed, s.txnSchemaChanged
	s.endTxn()
	if failed {
		s.endTxnVars(false)
		_ = t.Rollback(ctx)
		return &result{tag: "ROLLBACK"}, nil
	}
	if err := t.Commit(ctx); err != nil {
		s.endTxnVars(false)
		rbCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = t.Rollback(rbCtx)
		cancel()
		return nil, s.toPGError(err)
	}
	s.endTxnVars(true)
	if ddl {
		s.srv.cat.Invalidate()
	}
	return &result{tag: "COMMIT"}, nil
}

func (s *Session) rollback(ctx context.Context) (*result, error) {
	if s.txn == nil {
		return &result{tag: "ROLLBACK", notices: []notice{{Code: pgerror.CodeNoActiveSQLTransaction, Message: "there is no transaction in progress"}}}, nil
	}
	t := s.txn
	s.endTxn()
	s.endTxnVars(false)
	if err := t.Rollback(ctx); err != nil {
		return nil, s.toPGError(err)
	}
	return &result{tag: "ROLLBACK"}, nil
}

// notice is a warning sent with a statement's result.
type notice struct {
	Code, Message string
}

// result is a statement's output: its rows, unless they streamed to the client.
type result struct {
	cols     []resultColumn
	rows     [][]types.Datum
	streamed bool
	tag      string
	notices  []notice
}

type resultColumn struct {
	name    string
	typ     types.T
	tableID uint32
	attrNum uint16
}

// prepared is a parsed statement with its parameter types and (once planned) its plan.
type prepared struct {
	stmt   pgdialect.Statement
	node   ast.StmtNode
	params *paramTypes
	plan   plan
	gen    uint64 // catalog generation the plan was made at
	path   string // search_path the plan resolved names with
	// version is the schema version the plan was made at: a transaction that reads
	// another (an older one, whose descriptors may differ) must plan again.
	version uint64
}

func (p *prepared) numParams() int { return len(p.params.types) }

// prepare parses a normalized statement and plans it, which settles its parameter types and
// result columns. paramOIDs are the client's declared parameter types.
func (s *Session) prepare(ctx context.Context, st pgdialect.Statement, paramOIDs []uint32) (*prepared, error) {
	var node ast.StmtNode
	if !st.Special() {
		var err error
		if node, err = parser.ParseOne(st.SQL, st.Original); err != nil {
			return nil, err
		}
	}
	n := st.NumParams
	if len(paramOIDs) > n {
		n = len(paramOIDs)
	}
	pt := &paramTypes{types: make([]types.T, n), order: st.ParamOrder}
	for i, oid := range paramOIDs {
		if oid == 0 {
			continue
		}
		t, ok := types.FromOID(oid)
		if !ok {
			return nil, pgerror.New(pgerror.CodeUndefinedObject, "parameter $%d has unsupported type OID %d", i+1, oid)
		}
		pt.types[i] = t
	}
	p := &prepared{stmt: st, node: node, params: pt}
	switch node.(type) {
	case *ast.BeginStmt, *ast.CommitStmt, *ast.RollbackStmt, *ast.SavepointStmt, *ast.ReleaseSavepointStmt:
		pt.defaultToText()
		return p, nil
	}
	if m := st.TxnModes; m != nil && m.AsOf {
		pt.defaultToText() // SET TRANSACTION AS OF SYSTEM TIME: nothing to plan
		return p, nil
	}
	// Plan now, in the session's transaction or a throwaway one, to learn the types.
	t := s.txn
	throwaway := false
	if asOf, _ := asOfClause(node); t == nil || s.txnFailed || asOf != nil {
		// A statement with its own AS OF SYSTEM TIME is planned again when it runs.
		t, throwaway = s.srv.db.NewTxn(), true
		defer t.Rollback(ctx)
	}
	for attempt := 0; ; attempt++ {
		err := s.planPrepared(ctx, t, p)
		if err == nil {
			break
		}
		// A throwaway transaction that must restart (its reads of descriptors raced a
		// schema change) is restarted here, as an implicit statement's would be.
		if !throwaway || !txn.IsRetryable(err) || attempt >= maxAutoRetries || ctx.Err() != nil {
			return nil, err
		}
		if rerr := t.Restart(ctx, err); rerr != nil {
			return nil, rerr
		}
	}
	pt.defaultToText()
	return p, nil
}

// planPrepared plans p in t. Whichever the transaction, the statement is planned with the
// descriptors and roles of the schema version it reads (in the session's, of its time if
// it reads AS OF SYSTEM TIME): the catalog caches them by version, so planning in a
// transaction at another version than the session last read would cache present
// descriptors under an old version, and a denial would not be as fresh as a GRANT made
// since on another node.
func (s *Session) planPrepared(ctx context.Context, t *txn.Txn, p *prepared) error {
	if err := s.syncSchema(ctx, t); err != nil {
		return err
	}
	_, err := s.planFor(ctx, t, p)
	return err
}

// defaultToText types the parameters nothing typed as text, as PostgreSQL does.
func (p *paramTypes) defaultToText() {
	for i := range p.types {
		if p.types[i].Family == types.UnknownFamily {
			p.types[i] = types.String
		}
	}
}

// planFor returns p's plan, re-planning if the schema changed since it was made.
func (s *Session) planFor(ctx context.Context, t *txn.Txn, p *prepared) (plan, error) {
	gen := s.srv.cat.Generation()
	if p.plan != nil && p.gen == gen && p.version == s.schemaVersion && !s.txnSchemaChanged && p.path == s.vars["search_path"] {
		return p.plan, nil
	}
	pl, err := s.buildPlan(ctx, t, p)
	if err != nil {
		return nil, err
	}
	p.plan, p.gen, p.path, p.version = pl, gen, s.vars["search_path"], s.schemaVersion
	if s.txnSchemaChanged {
		// Planned with the transaction's own uncommitted descriptors: no later transaction
		// may reuse it (after a ROLLBACK the schema version is the one it was planned at,
		// and a TRUNCATE rolled back would leave it reading the table's discarded key
		// space). Generations start at 1.
		p.gen = 0
	}
	return pl, nil
}

// Prepare implements wire.Backend.
func (s *Session) Prepare(ctx context.Context, query string, paramOIDs []uint32) (wire.PreparedStatement, error) {
	st, err := pgdialect.Normalize(query)
	if err != nil {
		return nil, err
	}
	if st.Copy != nil {
		return &copyStatement{s: s, c: st.Copy}, nil
	}
	if st.Prepared != nil {
		return nil, pgerror.Unsupported(st.Prepared.Verb + " in the extended query protocol")
	}
	if st.Cursor != nil {
		return nil, pgerror.Unsupported(st.Cursor.Verb + " in the extended query protocol")
	}
	if st.Empty() {
		return &preparedStatement{s: s, empty: true}, nil
	}
	p, err := s.prepare(ctx, st, paramOIDs)
	if err != nil {
		return nil, s.fail(err)
	}
	return &preparedStatement{s: s, p: p}, nil
}

type preparedStatement struct {
	s     *Session
	p     *prepared
	empty bool
}

func (ps *preparedStatement) ParamOIDs() []uint32 {
	if ps.empty {
		return nil
	}
	out := make([]uint32, len(ps.p.params.types))
	for i, t := range ps.p.params.types {
		out[i] = t.OID()
	}
	return out
}

func (ps *preparedStatement) Columns() []wire.Column {
	if ps.empty || ps.p.plan == nil || ps.p.plan.columns() == nil {
		return nil
	}
	return wireColumns(ps.p.plan.columns(), nil)
}

func (ps *preparedStatement) Bind(ctx context.Context, params [][]byte, paramFormats []int16, resultFormats []int16) (wire.Portal, error) {
	if ps.empty {
		return &portal{empty: true}, nil
	}
	pt := ps.p.params.types
	if len(params) != len(pt) {
		return nil, pgerror.New(pgerror.CodeProtocolViolation, "bind message supplies %d parameters, but prepared statement requires %d", len(params), len(pt))
	}
	vals := make([]types.Datum, len(params))
	for i, raw := range params {
		if raw == nil {
			continue
		}
		var err error
		if formatFor(paramFormats, i) == 1 {
			vals[i], err = types.DecodeBinary(pt[i], raw)
		} else {
			vals[i], err = types.ParseTextWith(pt[i], string(raw), ps.s.typeSettings())
		}
		if err != nil {
			return nil, err
		}
	}
	return &portal{s: ps.s, p: ps.p, params: vals, formats: resultFormats}, nil
}

func (ps *preparedStatement) Close() {}

type portal struct {
	s       *Session
	p       *prepared
	params  []types.Datum
	formats []int16
	empty   bool

	ran bool         // executed to its end without a row limit
	tag string       // that execution's command tag
	q   *pulledQuery // executed with a row limit: the statement, waiting between Executes
}

func (po *portal) Columns() []wire.Column {
	if po.empty || po.p.plan == nil || po.p.plan.columns() == nil {
		return nil
	}
	return wireColumns(po.p.plan.columns(), po.formats)
}

func (po *portal) Execute(ctx context.Context, maxRows int, w wire.ResultWriter) (bool, error) {
	switch {
	case po.empty:
		return false, w.Empty()
	case po.ran:
		return false, w.Complete(po.tag)
	case po.q == nil && maxRows <= 0:
		// Run to completion in one Execute: the rows stream.
		rw := newRowWriter(w, po.formats, false, po.s.typeSettings())
		res, err := po.s.executeTo(ctx, po.p, po.params, &rw.heldRows)
		if err != nil {
			return false, err
		}
		po.ran, po.tag = true, res.tag
		if res.streamed {
			return false, rw.finish(res)
		}
		return false, writeResult(w, res, po.formats, false, po.s.typeSettings())
	case po.q == nil:
		po.q = po.s.pull(ctx, po.p, po.params)
	case po.s.txn != nil && po.s.txnFailed:
		return false, errTxnAborted()
	}
	n := maxRows
	if n <= 0 {
		n = -1
	}
	st := po.s.typeSettings()
	done, err := po.q.take(ctx, n, func(row []types.Datum) error {
		return writeRow(w, row, po.q.columns(), po.formats, st)
	})
	if err != nil || !done {
		return !done && err == nil, err
	}
	return false, complete(w, po.q.res)
}

func (po *portal) Close() {
	if po.q != nil {
		po.q.close()
	}
}

// planning helpers shared by statements.

// cacheVersion is the schema version at which the current transaction may use cached
// descriptors, or 0 when it must read them (it changed the schema itself).
func (s *Session) cacheVersion() uint64 {
	if s.txnSchemaChanged {
		return 0
	}
	return s.schemaVersion
}

// syncSchema reads the cluster's schema version in t, once per transaction attempt, before
// anything is planned in it.
func (s *Session) syncSchema(ctx context.Context, t *txn.Txn) error {
	if s.schemaTxn == t && s.schemaEpoch == t.Epoch() {
		return nil
	}
	v, err := s.srv.cat.SchemaVersion(ctx, t, t == s.fixedTxn)
	if err != nil {
		return err
	}
	if t == s.fixedTxn {
		// A historical transaction reads the descriptors of its time, never the cache: the
		// cache holds descriptors by the version they were read at, and a statement
		// prepared next, which plans at the present with the last version read, would
		// otherwise cache present descriptors under this old version.
		v = 0
	}
	s.schemaVersion, s.schemaTxn, s.schemaEpoch = v, t, t.Epoch()
	return nil
}

// resolveTable finds a table named by a statement.
func (s *Session) resolveTable(ctx context.Context, t *txn.Txn, tn *ast.TableName) (*catalog.Table, error) {
	return s.resolveTableName(ctx, t, tn) // names.go: schemas and search_path
}

func (s *Session) currentDatabase(ctx context.Context, t *txn.Txn) (*catalog.Database, error) {
	return s.srv.cat.LookupDatabase(ctx, t, s.database, s.cacheVersion())
}

func describeErr(what string, err error) error {
	return fmt.Errorf("%s: %w", what, err)
}
