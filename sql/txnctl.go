package sql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// This file holds the session's transaction controls beyond BEGIN and COMMIT: savepoints,
// AS OF SYSTEM TIME, read-only transactions, priorities, isolation levels, and statement
// and lock timeouts.

// followerReadOffset is how far behind the present follower_read_timestamp() reads: far
// enough behind the closed timestamp target (3 s) that any replica could serve the read, as
// CockroachDB's function does with its defaults.
const followerReadOffset = 4800 * time.Millisecond

// newFixedTxn starts a read-only transaction pinned at ts (AS OF SYSTEM TIME).
func (s *Session) newFixedTxn(ts hlc.Timestamp) *txn.Txn {
	t := s.srv.db.NewTxnAt(ts)
	s.fixedTxn = t
	return t
}

// asOfClause returns the AS OF SYSTEM TIME clause of a statement, nil if it has none.
// Meridian takes it only where CockroachDB's grammar puts it, after the FROM clause of a
// top-level SELECT (here: of one table), or under EXPLAIN of one.
func asOfClause(node ast.StmtNode) (*ast.AsOfClause, error) {
	if node == nil {
		return nil, nil // a statement the dialect parsed itself (pgdialect.Access, .Index)
	}
	f := &asOfFinder{}
	node.Accept(f)
	if len(f.found) == 0 {
		return nil, nil
	}
	stmt := node
	if ex, ok := node.(*ast.ExplainStmt); ok {
		stmt = ex.Stmt
	}
	if sel, ok := stmt.(*ast.SelectStmt); ok && len(f.found) == 1 && sel.From != nil {
		if tn, _, err := singleTable(sel.From); err == nil && tn == f.found[0] {
			return tn.AsOf, nil
		}
	}
	return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "AS OF SYSTEM TIME must be provided on the FROM clause of a top-level SELECT of one table")
}

type asOfFinder struct{ found []*ast.TableName }

func (f *asOfFinder) Enter(n ast.Node) (ast.Node, bool) {
	if tn, ok := n.(*ast.TableName); ok && tn.AsOf != nil {
		f.found = append(f.found, tn)
	}
	return n, false
}

func (f *asOfFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// evalAsOf computes the timestamp an AS OF SYSTEM TIME expression names, in the forms
// CockroachDB accepts:
//
//   - an interval, relative to now: '-10s', '-1h30m', '-5 minutes', INTERVAL '-10s';
//   - a timestamp: '2026-11-25 10:00:00', TIMESTAMPTZ '...', now() and other timestamp
//     expressions;
//   - a decimal of nanoseconds since the Unix epoch, with the logical part of the hybrid
//     timestamp as ten digits after the point: 1732528800000000000.0000000001
//     (cluster_logical_timestamp() prints the same form);
//   - follower_read_timestamp(): a timestamp far enough behind the present for any replica to
//     serve reads at.
//
// The result must not be in the future (22023).
func (s *Session) evalAsOf(ctx context.Context, e ast.ExprNode, params *paramTypes, vals []types.Datum) (hlc.Timestamp, error) {
	now := s.srv.db.Clock().Now()
	ec := &evalCtx{ctx: ctx, params: vals, txnTime: time.Unix(0, now.WallTime).UTC().Truncate(time.Microsecond), session: s, readTS: now}
	ts, err := s.asOfValue(ec, e, params, now)
	if err != nil {
		return hlc.Timestamp{}, err
	}
	if ts.WallTime <= 0 {
		return hlc.Timestamp{}, pgerror.New(pgerror.CodeInvalidParameterValue, "AS OF SYSTEM TIME: timestamp must be after the Unix epoch")
	}
	if now.Less(ts) {
		return hlc.Timestamp{}, pgerror.New(pgerror.CodeInvalidParameterValue, "AS OF SYSTEM TIME: cannot specify timestamp in the future").
			WithDetail(fmt.Sprintf("%s > %s (now)", ts, now))
	}
	return ts, nil
}

func (s *Session) asOfValue(ec *evalCtx, e ast.ExprNode, params *paramTypes, now hlc.Timestamp) (hlc.Timestamp, error) {
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	c := &compiler{params: params, session: s, excludedOffset: -1}
	if fc, ok := e.(*ast.FuncCallExpr); ok {
		switch fc.FnName.L {
		case "follower_read_timestamp":
			if len(fc.Args) != 0 {
				return hlc.Timestamp{}, pgerror.New(pgerror.CodeUndefinedFunction, "function follower_read_timestamp with %d argument(s) does not exist", len(fc.Args))
			}
			return now.Add(-int64(followerReadOffset)), nil
		case "meridian_cast":
			// Meridian has no interval type; an interval literal (INTERVAL '-10s',
			// '-10s'::interval) is read here as an offset from now.
			if len(fc.Args) != 2 {
				break
			}
			if tv, ok := fc.Args[1].(*parser.Value); ok {
				if name, _ := tv.Val.(string); strings.EqualFold(strings.TrimSpace(name), "interval") {
					arg, err := c.compileWant(fc.Args[0], types.String)
					if err != nil {
						return hlc.Timestamp{}, err
					}
					v, err := arg.eval(ec, nil)
					if err != nil {
						return hlc.Timestamp{}, err
					}
					str, ok := v.(string)
					if !ok {
						return hlc.Timestamp{}, errAsOfValue()
					}
					d, ok := parseInterval(str)
					if !ok {
						return hlc.Timestamp{}, pgerror.New(pgerror.CodeInvalidDatetimeFormat, "invalid input syntax for type interval: %q", str)
					}
					return relative(now, d), nil
				}
			}
		}
	}
	sc, err := c.compile(e)
	if err != nil {
		return hlc.Timestamp{}, err
	}
	v, err := sc.eval(ec, nil)
	if err != nil {
		return hlc.Timestamp{}, err
	}
	switch v := v.(type) {
	case nil:
		return hlc.Timestamp{}, pgerror.New(pgerror.CodeInvalidParameterValue, "AS OF SYSTEM TIME: timestamp must not be NULL")
	case string:
		return parseAsOfString(v, now)
	case int64:
		return hlc.Timestamp{WallTime: v}, nil
	case *apd.Decimal:
		return decimalToHLC(v)
	case time.Time:
		return timeToHLC(v), nil
	case types.Interval:
		// Relative to now, with PostgreSQL's fixed lengths for months (30 days) and days.
		days := int64(v.Months)*30 + int64(v.Days)
		const maxDays = math.MaxInt64 / int64(24*time.Hour)
		if days > maxDays || days < -maxDays {
			return hlc.Timestamp{}, errAsOfValue()
		}
		return relative(now, time.Duration(days)*24*time.Hour+time.Duration(v.Micros)*time.Microsecond), nil
	}
	return hlc.Timestamp{}, errAsOfValue()
}

func errAsOfValue() error {
	return pgerror.New(pgerror.CodeInvalidParameterValue, "AS OF SYSTEM TIME: value is neither timestamp, decimal, nor interval")
}

// parseAsOfString reads AS OF SYSTEM TIME text: a decimal, an interval relative to now, or a
// timestamp (in the session's time zone, UTC).
func parseAsOfString(s string, now hlc.Timestamp) (hlc.Timestamp, error) {
	str := strings.TrimSpace(s)
	if isDecimalText(str) {
		d, _, err := apd.NewFromString(str)
		if err == nil {
			return decimalToHLC(d)
		}
	}
	if d, ok := parseInterval(str); ok {
		return relative(now, d), nil
	}
	if v, err := types.ParseText(types.TimestampTZ, str); err == nil {
		return timeToHLC(v.(time.Time)), nil
	}
	return hlc.Timestamp{}, errAsOfValue()
}

// relative is now moved by d; a positive d (the future, which evalAsOf refuses) saturates
// rather than wrap around.
func relative(now hlc.Timestamp, d time.Duration) hlc.Timestamp {
	if d > 0 && now.WallTime > math.MaxInt64-int64(d) {
		return hlc.Timestamp{WallTime: math.MaxInt64}
	}
	return now.Add(int64(d))
}

// timeToHLC is the timestamp of t, clamped to the range of nanoseconds since the epoch
// (whose ends evalAsOf refuses as before the epoch or in the future).
func timeToHLC(t time.Time) hlc.Timestamp {
	switch {
	case t.Before(time.Unix(0, 0)):
		return hlc.Timestamp{}
	case t.After(time.Unix(0, math.MaxInt64)):
		return hlc.Timestamp{WallTime: math.MaxInt64}
	}
	return hlc.Timestamp{WallTime: t.UnixNano()}
}

func isDecimalText(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return s != "" && s != "."
}

// decimalToHLC reads nanoseconds since the epoch with the logical part as ten digits after the
// point, the form cluster_logical_timestamp() prints.
func decimalToHLC(d *apd.Decimal) (hlc.Timestamp, error) {
	if d.Negative || d.Form != apd.Finite {
		return hlc.Timestamp{}, pgerror.New(pgerror.CodeInvalidParameterValue, "AS OF SYSTEM TIME: timestamp must be after the Unix epoch")
	}
	text := d.Text('f')
	whole, frac, _ := strings.Cut(text, ".")
	wall, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return hlc.Timestamp{}, pgerror.New(pgerror.CodeInvalidParameterValue, "AS OF SYSTEM TIME: timestamp %s is out of range", text)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 10 {
		return hlc.Timestamp{}, pgerror.New(pgerror.CodeInvalidParameterValue, "AS OF SYSTEM TIME: the logical part of %s has more than 10 digits", text)
	}
	var logical int64
	if frac != "" {
		logical, _ = strconv.ParseInt(frac+strings.Repeat("0", 10-len(frac)), 10, 64)
		if logical > math.MaxInt32 {
			return hlc.Timestamp{}, pgerror.New(pgerror.CodeInvalidParameterValue, "AS OF SYSTEM TIME: the logical part of %s is out of range", text)
		}
	}
	return hlc.Timestamp{WallTime: wall, Logical: int32(logical)}, nil
}

// hlcToDecimal prints ts as decimalToHLC reads it.
func hlcToDecimal(ts hlc.Timestamp) *apd.Decimal {
	d, _, _ := apd.NewFromString(fmt.Sprintf("%d.%010d", ts.WallTime, ts.Logical))
	return d
}

// intervalUnits are the units of PostgreSQL's verbose interval syntax that have a fixed length.
var intervalUnits = map[string]time.Duration{
	"microsecond": time.Microsecond, "microseconds": time.Microsecond, "us": time.Microsecond, "usec": time.Microsecond, "usecs": time.Microsecond,
	"millisecond": time.Millisecond, "milliseconds": time.Millisecond, "ms": time.Millisecond, "msec": time.Millisecond, "msecs": time.Millisecond,
	"second": time.Second, "seconds": time.Second, "s": time.Second, "sec": time.Second, "secs": time.Second,
	"minute": time.Minute, "minutes": time.Minute, "m": time.Minute, "min": time.Minute, "mins": time.Minute,
	"hour": time.Hour, "hours": time.Hour, "h": time.Hour, "hr": time.Hour, "hrs": time.Hour,
	"day": 24 * time.Hour, "days": 24 * time.Hour, "d": 24 * time.Hour,
	"week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// parseInterval reads an interval of fixed length: Go's form ('-1h30m', '-500ms'), with
// the sign applying to the whole; PostgreSQL's verbose form ('-10 seconds', '1 minute ago',
// '-1 hour 30 minutes', each number with its own sign); or [-]HH:MM[:SS[.fraction]].
func parseInterval(s string) (time.Duration, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	f := strings.Fields(strings.TrimPrefix(s, "@"))
	ago := false
	if len(f) > 1 && f[len(f)-1] == "ago" {
		ago, f = true, f[:len(f)-1]
	}
	var total time.Duration
	if len(f) == 1 && strings.Contains(f[0], ":") {
		d, ok := parseClockInterval(f[0])
		if !ok {
			return 0, false
		}
		total = d
	} else {
		if len(f) == 0 {
			return 0, false
		}
		for len(f) > 0 {
			num, unitText := f[0], ""
			// "10s" or "10 s".
			k := len(num)
			for k > 0 && (num[k-1] < '0' || num[k-1] > '9') && num[k-1] != '.' {
				k--
			}
			if k < len(num) {
				num, unitText, f = num[:k], num[k:], f[1:]
			} else if len(f) >= 2 {
				unitText, f = f[1], f[2:]
			} else {
				return 0, false
			}
			unit, ok := intervalUnits[unitText]
			if !ok {
				return 0, false
			}
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || math.Abs(v*float64(unit)) > math.MaxInt64/2 {
				return 0, false
			}
			total += time.Duration(math.Round(v * float64(unit)))
		}
	}
	if ago {
		total = -total
	}
	return total, true
}

// parseClockInterval reads [-]HH:MM[:SS[.fraction]].
func parseClockInterval(s string) (time.Duration, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	h, err1 := strconv.ParseUint(parts[0], 10, 32)
	m, err2 := strconv.ParseUint(parts[1], 10, 32)
	if err1 != nil || err2 != nil || m >= 60 || h > 1_000_000 {
		return 0, false
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if len(parts) == 3 {
		sec, err := strconv.ParseFloat(parts[2], 64)
		if err != nil || sec < 0 || sec >= 60 {
			return 0, false
		}
		d += time.Duration(math.Round(sec * float64(time.Second)))
	}
	if neg {
		d = -d
	}
	return d, true
}

// statementWrites names a statement that writes or takes locks, "" for one that only
// reads: a read-only transaction refuses the first kind (25006).
func statementWrites(p *prepared) string {
	if a := p.stmt.Access; a != nil {
		if a.Kind == pgdialect.ShowGrants || a.Kind == pgdialect.ShowRoles {
			return ""
		}
		return accessStatementName(a)
	}
	if d := p.stmt.DDL; d != nil && d.Schema {
		switch p.node.(type) {
		case *ast.CreateDatabaseStmt:
			return "CREATE SCHEMA"
		case *ast.DropDatabaseStmt:
			return "DROP SCHEMA"
		}
	}
	if ix := p.stmt.Index; ix != nil {
		return ix.StatementName()
	}
	if p.stmt.Truncate != nil {
		return "TRUNCATE TABLE"
	}
	return writingStatement(p.node)
}

// writingStatement is statementWrites for a statement of the tidb grammar.
func writingStatement(node ast.StmtNode) string {
	switch n := node.(type) {
	case *ast.InsertStmt:
		if n.IsReplace {
			return "UPSERT"
		}
		return "INSERT"
	case *ast.UpdateStmt:
		return "UPDATE"
	case *ast.DeleteStmt:
		return "DELETE"
	case *ast.CreateDatabaseStmt:
		return "CREATE DATABASE"
	case *ast.DropDatabaseStmt:
		return "DROP DATABASE"
	case *ast.CreateTableStmt:
		return "CREATE TABLE"
	case *ast.DropTableStmt:
		return "DROP TABLE"
	case *ast.AlterTableStmt:
		return "ALTER TABLE"
	case *ast.CreateSequenceStmt:
		return "CREATE SEQUENCE"
	case *ast.DropSequenceStmt:
		return "DROP SEQUENCE"
	case *ast.CreateIndexStmt:
		return "CREATE INDEX"
	case *ast.DropIndexStmt:
		return "DROP INDEX"
	case *ast.TruncateTableStmt:
		return "TRUNCATE"
	case *ast.SetStmt:
		if len(n.Variables) > 0 && n.Variables[0].IsGlobal {
			return "SET CLUSTER SETTING"
		}
	case *ast.SelectStmt:
		if n.LockInfo != nil && n.LockInfo.LockType != ast.SelectLockNone {
			if s, err := lockStrengthOf(n.LockInfo); err == nil {
				return "SELECT " + s.name
			}
			return "SELECT FOR UPDATE"
		}
	}
	return ""
}

func errReadOnly(what string) error {
	return pgerror.New(pgerror.CodeReadOnlySQLTransaction, "cannot execute %s in a read-only transaction", what)
}

// sessionOnly reports statements that do not count as a transaction's first query: SET
// TRANSACTION ... AS OF SYSTEM TIME and READ WRITE may still follow them.
func sessionOnly(node ast.StmtNode) bool {
	switch n := node.(type) {
	case *ast.SetStmt:
		return len(n.Variables) == 0 || !n.Variables[0].IsGlobal
	case *ast.ShowStmt:
		return n.Tp == ast.ShowVariables && !n.GlobalScope
	}
	return false
}

// Settings that describe the open transaction rather than the session. SET changes the open
// transaction (outside one it warns and does nothing, as PostgreSQL's SET TRANSACTION does);
// SHOW reports the open transaction's, or outside one what the next transaction would get.
var txnSettings = map[string]bool{
	"transaction_isolation": true, "transaction_read_only": true, "transaction_priority": true,
}

// showVar is a setting's value as SHOW reports it.
func (s *Session) showVar(name string) string {
	switch name {
	case "transaction_read_only":
		if s.txn != nil {
			return onOff(s.txnReadOnly)
		}
		return s.vars["default_transaction_read_only"]
	case "transaction_priority":
		if s.txn != nil {
			return s.txn.Priority().String()
		}
		return s.defaultPriority().String()
	}
	return s.vars[name]
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// setTxnVar applies SET of a transaction setting to the open transaction.
func (s *Session) setTxnVar(name, val string) error {
	switch name {
	case "transaction_read_only":
		ro := val == "on"
		switch {
		case ro:
			s.txnReadOnly = true
		case !s.txnReadOnly:
		case !s.txnAsOf.IsEmpty():
			return pgerror.New(pgerror.CodeReadOnlySQLTransaction, "cannot set transaction read-write mode in a transaction reading AS OF SYSTEM TIME")
		case s.txnUsed:
			return pgerror.New(pgerror.CodeActiveSQLTransaction, "transaction read-write mode must be set before any query")
		default:
			s.txnReadOnly = false
		}
	case "transaction_priority":
		p, err := txn.ParseUserPriority(val)
		if err != nil {
			return err
		}
		s.txn.SetPriority(p)
	}
	// transaction_isolation: every level runs as SERIALIZABLE.
	return nil
}

// setTransactionAsOf runs SET TRANSACTION AS OF SYSTEM TIME: the transaction, which must not
// have run a query yet, starts over as a read-only one pinned at the timestamp.
func (s *Session) setTransactionAsOf(ctx context.Context, p *prepared, params []types.Datum) (*result, error) {
	if s.txn == nil {
		return &result{tag: "SET", notices: []notice{{Code: pgerror.CodeNoActiveSQLTransaction, Message: "SET TRANSACTION can only be used in transaction blocks"}}}, nil
	}
	if s.txnFailed {
		return nil, errTxnAborted()
	}
	n := p.node.(*ast.SetStmt)
	if len(n.Variables) != 1 || n.Variables[0].Value == nil {
		return nil, s.fail(pgerror.New(pgerror.CodeSyntaxError, "syntax error in SET TRANSACTION AS OF SYSTEM TIME"))
	}
	if s.txnUsed {
		return nil, s.fail(pgerror.New(pgerror.CodeActiveSQLTransaction, "SET TRANSACTION AS OF SYSTEM TIME must be called before any query"))
	}
	ts, err := s.evalAsOf(ctx, n.Variables[0].Value, p.params, params)
	if err != nil {
		return nil, s.fail(err)
	}
	prio := s.txn.Priority()
	if m := p.stmt.TxnModes; m != nil && m.Priority != "" {
		if prio, err = txn.ParseUserPriority(m.Priority); err != nil {
			return nil, s.fail(err)
		}
	}
	// Nothing was written yet (only SET and SHOW ran), so dropping the old transaction loses
	// nothing.
	_ = s.txn.Rollback(ctx)
	s.txn = s.newFixedTxn(ts)
	s.txn.SetPriority(prio)
	s.txnReadOnly, s.txnAsOf = true, ts
	return &result{tag: "SET"}, nil
}

// savepoint is a savepoint of the session's explicit transaction. Savepoints undo writes at
// the KV layer (see txn.Savepoint): schema changes, which are writes of descriptors in the
// same transaction, are undone with the rest. Session settings changed by SET since the
// savepoint stay, as they do after ROLLBACK.
type savepoint struct {
	name string
	kv   txn.Savepoint
}

// findSavepoint returns the index of the newest savepoint named name, or -1.
func (s *Session) findSavepoint(name string) int {
	for i := len(s.savepoints) - 1; i >= 0; i-- {
		if s.savepoints[i].name == name {
			return i
		}
	}
	return -1
}

func errNoSavepoint(name string) error {
	return pgerror.New(pgerror.CodeInvalidSavepointSpec, "savepoint %q does not exist", name)
}

func errOutsideTxnBlock(stmt string) error {
	return pgerror.New(pgerror.CodeNoActiveSQLTransaction, "%s can only be used in transaction blocks", stmt)
}

// savepoint runs SAVEPOINT name. A name may be used again: the newest savepoint of a name
// hides the older ones until it is released.
func (s *Session) savepoint(name string) (*result, error) {
	if s.txn == nil {
		return nil, errOutsideTxnBlock("SAVEPOINT")
	}
	if s.txnFailed {
		return nil, errTxnAborted()
	}
	s.savepoints = append(s.savepoints, savepoint{name: name, kv: s.txn.Savepoint()})
	return &result{tag: "SAVEPOINT"}, nil
}

// releaseSavepoint runs RELEASE [SAVEPOINT] name: it forgets the savepoint and every later
// one, keeping what was written since.
func (s *Session) releaseSavepoint(name string) (*result, error) {
	if s.txn == nil {
		return nil, errOutsideTxnBlock("RELEASE SAVEPOINT")
	}
	if s.txnFailed {
		return nil, errTxnAborted()
	}
	i := s.findSavepoint(name)
	if i < 0 {
		return nil, s.fail(errNoSavepoint(name))
	}
	s.savepoints = s.savepoints[:i]
	return &result{tag: "RELEASE"}, nil
}

// rollbackToSavepoint runs ROLLBACK TO [SAVEPOINT] name: it undoes what the transaction
// wrote since the savepoint, forgets the later savepoints and keeps this one, and returns an
// aborted transaction to the open state.
//
// After a serialization failure (40001) or a deadlock (40P01) the transaction must
// restart: its reads, or its writes, are no longer valid, so it cannot continue from a
// savepoint with work before it. Only a savepoint established before the transaction did
// anything (SAVEPOINT right after BEGIN, as CockroachDB's cockroach_restart is used) can
// be rolled back to, which restarts the transaction; any other fails with the same
// SQLSTATE, and the transaction stays aborted.
func (s *Session) rollbackToSavepoint(ctx context.Context, name string) (*result, error) {
	if s.txn == nil {
		return nil, errOutsideTxnBlock("ROLLBACK TO SAVEPOINT")
	}
	i := s.findSavepoint(name)
	if i < 0 {
		return nil, s.fail(errNoSavepoint(name))
	}
	if err := s.txn.RollbackToSavepoint(ctx, s.savepoints[i].kv); err != nil {
		var restart *txn.SavepointRestartError
		if errors.As(err, &restart) {
			cause := s.toPGError(restart.Cause)
			return nil, s.fail(&pgerror.Error{Code: pgerror.Code(cause),
				Message: fmt.Sprintf("cannot roll back to savepoint %q: the transaction must restart", name),
				Detail:  cause.Error(),
				Hint:    "Roll back the whole transaction and retry it. To retry with ROLLBACK TO SAVEPOINT instead, establish the savepoint first thing after BEGIN."})
		}
		return nil, s.fail(err)
	}
	s.savepoints = s.savepoints[:i+1]
	s.txnFailed = false
	return &result{tag: "ROLLBACK"}, nil
}

func errTxnAborted() error {
	return pgerror.New(pgerror.CodeInFailedSQLTransaction, "current transaction is aborted, commands ignored until end of transaction block")
}

// defaultPriority is the priority class of the session's new transactions.
func (s *Session) defaultPriority() txn.UserPriority {
	p, err := txn.ParseUserPriority(s.vars["default_transaction_priority"])
	if err != nil {
		return txn.NormalPriority
	}
	return p
}

// durationVar reads a time setting (statement_timeout, lock_timeout); 0 means none.
func (s *Session) durationVar(name string) time.Duration {
	d, _, err := parseTimeSetting(name, s.vars[name])
	if err != nil {
		return 0
	}
	return d
}

// maxTimeSetting is PostgreSQL's upper bound of millisecond settings (INT_MAX ms).
const maxTimeSetting = math.MaxInt32 * time.Millisecond

// timeUnits are PostgreSQL's units for time settings.
var timeUnits = []struct {
	name string
	d    time.Duration
}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"min", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}

// parseTimeSetting reads a millisecond setting as PostgreSQL does: a number of milliseconds,
// or a number with one of the units us, ms, s, min, h, d ('1s', '500ms', '1.5 min'). It
// returns the duration (rounded to milliseconds) and the value as SHOW prints it: in the
// largest unit that represents it exactly, as PostgreSQL does.
func parseTimeSetting(name, val string) (time.Duration, string, error) {
	str := strings.TrimSpace(val)
	k := 0
	for k < len(str) && (str[k] >= '0' && str[k] <= '9' || str[k] == '.' || k == 0 && (str[k] == '-' || str[k] == '+')) {
		k++
	}
	num, unitText := str[:k], strings.TrimSpace(str[k:])
	bad := pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter %q: %q", name, val).
		WithHint(`Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".`)
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, "", bad
	}
	unit := time.Millisecond
	if unitText != "" {
		found := false
		for _, u := range timeUnits {
			if unitText == u.name {
				unit, found = u.d, true
			}
		}
		if !found {
			return 0, "", bad
		}
	}
	ms := math.Round(v * float64(unit) / float64(time.Millisecond))
	if ms < 0 || ms > float64(maxTimeSetting/time.Millisecond) {
		return 0, "", pgerror.New(pgerror.CodeInvalidParameterValue, "%s ms is outside the valid range for parameter %q (0 .. %d)",
			strconv.FormatFloat(ms, 'f', -1, 64), name, int64(maxTimeSetting/time.Millisecond))
	}
	d := time.Duration(ms) * time.Millisecond
	return d, formatTimeSetting(d), nil
}

func formatTimeSetting(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	for i := len(timeUnits) - 1; i >= 1; i-- {
		if u := timeUnits[i]; d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

// normalizeVar checks a value for the settings whose values Meridian interprets and returns
// it as SHOW prints it; other settings keep the text they were given.
func normalizeVar(name, val string) (string, error) {
	lower := strings.ToLower(strings.TrimSpace(val))
	switch name {
	case "statement_timeout", "lock_timeout":
		_, v, err := parseTimeSetting(name, val)
		return v, err
	case "statement_memory_limit":
		_, v, err := parseMemorySetting(name, val)
		return v, err
	case "transaction_priority", "default_transaction_priority":
		p, err := txn.ParseUserPriority(val)
		if err != nil {
			return "", pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter %q: %q", name, val).
				WithHint("Available values: low, normal, high.")
		}
		return p.String(), nil
	case "transaction_read_only", "default_transaction_read_only":
		switch lower {
		case "on", "true", "yes", "1", "t", "y":
			return "on", nil
		case "off", "false", "no", "0", "f", "n":
			return "off", nil
		}
		return "", pgerror.New(pgerror.CodeInvalidParameterValue, "parameter %q requires a Boolean value", name)
	case "transaction_isolation", "default_transaction_isolation":
		// Every transaction runs SERIALIZABLE. A weaker level asked for is upgraded, which the
		// SQL standard allows and PostgreSQL itself does for READ UNCOMMITTED.
		switch strings.Join(strings.Fields(strings.NewReplacer("_", " ", "-", " ").Replace(lower)), " ") {
		case "serializable", "repeatable read", "read committed", "read uncommitted":
			return "serializable", nil
		}
		return "", pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter %q: %q", name, val).
			WithHint(`Available values: serializable, repeatable read, read committed, read uncommitted.`)
	}
	return val, nil
}
