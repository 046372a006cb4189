package server

// The isolation-anomaly suite: the classic anomalies of Adya's thesis (G0, G1a, G1b, G1c,
// OTV, PMP, P4, G-single, G2-item, G2), each as a small script of two or three concurrent
// SQL sessions in testdata/anomalies, run against a three-node cluster whose sessions
// connect to different nodes and whose tables are split into several ranges, so that every
// transaction spans ranges and gateways. Every anomaly must be prevented.
//
// # Script language
//
// A script is a list of lines; blank lines and lines starting with # are ignored.
//
//	setup: SQL
//	    Run in order on one connection before the sessions start; if one fails, the whole
//	    setup runs again, up to three times (the setup is not under test). Scripts drop
//	    and create their own tables: the cluster is shared. After the setup, every table
//	    named in an ALTER TABLE ... SPLIT AT must span two ranges or more, and the sessions
//	    start once the maximum clock offset has passed (see anomalyOptions.settle).
//
//	sN: SQL [&] [=> EXPECT] [-> EXPECT] [as NAME]
//	    A statement of session sN (s1 connects to node 1, s2 to node 2, s3 to node 3). Each
//	    session runs its statements in order on its own connection and goroutine. The script
//	    waits for the statement to finish before it goes on to the next line, unless the line
//	    ends in & ("may block"): then the statement is started and the script goes on once it
//	    finished or after a short grace period, whichever is first (the grace period only
//	    lets the statement reach the database and block there; nothing depends on timing).
//	    Later statements of the same session queue behind it. A session holds at most one
//	    transaction, from "begin" to "commit" or "rollback"; statements outside it are
//	    autocommitted.
//
//	sN: wait
//	    Wait until everything started in session sN has finished.
//
//	check: SQL -> EXPECT
//	    Run on a fresh connection (a different node each time) once every session finished.
//
// Every statement may fail with SQLSTATE 40001 or 40P01 (the database may abort any
// transaction to keep it serializable, at any statement or at commit); the session's
// transaction is then aborted: its remaining statements are skipped and its commit becomes
// a rollback. A COMMIT may also fail with 40003 (result ambiguous): the run must then be
// explained by the transaction having committed or by its not having committed. Any other
// error, or a statement that does not finish within anomalyStepTimeout, fails the test
// (with a hang, every goroutine's stack is written to a file named in the failure).
//
// EXPECT lists the allowed results, separated by |. A result is "empty" or rows separated
// by ; with values separated by , (as PostgreSQL prints them in text, NULL for null); row
// order counts, so queries that return several rows should ORDER BY. A result may be
// guarded by [CONDITIONS], all of which must hold for it to be allowed:
//
//	sN     session sN's transaction committed
//	!sN    session sN's transaction did not commit
//	NAME=R the statement captured with "as NAME" returned R (a single value or "empty")
//
// An unguarded result is allowed whatever the outcome. Results are checked once all
// sessions finished, when the outcome of every transaction is known:
//
//	-> EXPECT  must hold if the statement's transaction committed (or, outside a
//	           transaction, if the statement succeeded): a committed transaction must not
//	           observe an anomaly, but an aborted one may have read anything.
//	=> EXPECT  must hold whenever the statement succeeded, even in a transaction that then
//	           aborted: it forbids reading uncommitted data (G1a, G1b, G1c).
//
// So a script lists, for each outcome (which transactions committed), what each statement
// may return and what the final state may be: the results of some serial order of the
// committed transactions. The anomaly's forbidden result is not among them, so a database
// that shows it fails, whether the transactions that saw it commit or not (for =>).
//
// An example, the lost update (P4):
//
//	s1: begin
//	s2: begin
//	s1: select v from t where id = 1 => 10
//	s2: select v from t where id = 1 => 10
//	s1: update t set v = 11 where id = 1
//	s2: update t set v = 12 where id = 1 &
//	s1: commit
//	s2: commit
//	check: select v from t where id = 1 -> [s1 !s2] 11 | [!s1 s2] 12 | [!s1 !s2] 10
//
// s2's update may wait for s1 (it is marked &), and either may be aborted; but no result is
// allowed with both committed: both read 10, so neither came after the other.
//
// TestIsolationAnomaliesDetected runs every script against a fake database with a
// serializable history, which must pass, and with histories showing the anomaly, which
// must fail; TestIsolationAnomaliesHarness tests the rest of the harness.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meridiandb/meridian/hlc"
)

// anomalyStepTimeout bounds each statement of a script; only a hung database reaches it.
const anomalyStepTimeout = 30 * time.Second

// anomalyGrace is how long the script gives a "may block" statement to finish before it
// goes on to the next line.
const anomalyGrace = 250 * time.Millisecond

// TestIsolationAnomalies runs every script of testdata/anomalies against one three-node
// cluster (see the language above).
func TestIsolationAnomalies(t *testing.T) {
	scripts := loadAnomalyScripts(t)
	nodes := startCluster(t, 3)
	waitFirstRangeEverywhere(t, nodes)
	for _, sc := range scripts {
		t.Run(sc.name, func(t *testing.T) {
			connectTo := func(ctx context.Context, _ string, node int) (anomalyConn, error) {
				c, err := pgx.Connect(ctx, nodes[node%len(nodes)].SQLURL("root"))
				if err != nil {
					return nil, err
				}
				return pgAnomalyConn{c}, nil
			}
			rep := runAnomalyScript(context.Background(), sc, connectTo, anomalyOptions{
				stepTimeout: anomalyStepTimeout, grace: anomalyGrace, dumpGoroutines: true, checkSplits: true,
				settle: hlc.DefaultMaxOffset + 100*time.Millisecond,
			})
			for _, h := range rep.history {
				t.Log(h)
			}
			t.Logf("outcome: %s", rep.outcome)
			for _, f := range rep.failures {
				t.Errorf("%s: %s", sc.name, f)
			}
		})
	}
}

func loadAnomalyScripts(t *testing.T) []*anomalyScript {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "anomalies", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata/anomalies")
	}
	var scripts []*anomalyScript
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := parseAnomalyScript(filepath.Base(f), string(b))
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, sc)
	}
	return scripts
}

// ---- the script language ----

type anomalyScript struct {
	name     string
	setup    []string
	steps    []*anomalyStep // session statements and waits, in order
	checks   []*anomalyStep
	sessions []string // in order of first appearance
	captures map[string]*anomalyStep
}

type anomalyStep struct {
	n       int // position among the script's steps, from 1
	line    int
	session string // "check" for checks
	sql     string
	wait    bool
	async   bool
	strict  []anomalyAlt // =>
	loose   []anomalyAlt // ->
	capture string
	inTxn   bool // between the session's begin and its commit or rollback (both included)
}

func (s *anomalyStep) String() string {
	if s.session == "check" {
		return fmt.Sprintf("line %d (check: %s)", s.line, s.sql)
	}
	if s.wait {
		return fmt.Sprintf("step %d, line %d (%s: wait)", s.n, s.line, s.session)
	}
	return fmt.Sprintf("step %d, line %d (%s: %s)", s.n, s.line, s.session, s.sql)
}

// anomalyAlt is one allowed result and the conditions under which it is allowed.
type anomalyAlt struct {
	committed    []string
	notCommitted []string
	vars         map[string]string
	rows         string // normalized: "1,10; 2,20" or "empty"
	text         string // as written
}

var (
	anomalySessionRE = regexp.MustCompile(`^s[0-9]+$`)
	anomalyNameRE    = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	anomalyArrowRE   = regexp.MustCompile(`\s(->|=>)\s`)
	anomalyCaptureRE = regexp.MustCompile(`\s+as\s+(\S+)\s*$`)
)

func parseAnomalyScript(name, text string) (*anomalyScript, error) {
	sc := &anomalyScript{name: name, captures: map[string]*anomalyStep{}}
	type txnState struct{ began, open bool }
	txns := map[string]*txnState{}
	sc2 := bufio.NewScanner(strings.NewReader(text))
	lineNo := 0
	fail := func(format string, args ...any) (*anomalyScript, error) {
		return nil, fmt.Errorf("%s:%d: %s", name, lineNo, fmt.Sprintf(format, args...))
	}
	for sc2.Scan() {
		lineNo++
		line := strings.TrimSpace(sc2.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		who, rest, ok := strings.Cut(line, ":")
		if !ok {
			return fail("want \"setup:\", \"check:\" or \"sN:\" at the start of the line")
		}
		who, rest = strings.TrimSpace(who), strings.TrimSpace(rest)
		if rest == "" {
			return fail("nothing after %q", who+":")
		}
		switch {
		case who == "setup":
			if len(sc.steps) > 0 {
				return fail("setup after the first session statement")
			}
			sc.setup = append(sc.setup, rest)
			continue
		case who == "check":
		case anomalySessionRE.MatchString(who):
			if !slices.Contains(sc.sessions, who) {
				sc.sessions = append(sc.sessions, who)
			}
		default:
			return fail("unknown line kind %q", who)
		}
		st := &anomalyStep{line: lineNo, session: who}
		if who != "check" && rest == "wait" {
			st.wait = true
			st.n = len(sc.steps) + 1
			sc.steps = append(sc.steps, st)
			continue
		}
		// Split off the expectations: SQL [&] (=> EXPECT | -> EXPECT)* [as NAME].
		sqlPart := rest
		if loc := anomalyArrowRE.FindStringIndex(rest); loc != nil {
			sqlPart = rest[:loc[0]]
			exp := rest[loc[0]:]
			if m := anomalyCaptureRE.FindStringSubmatch(exp); m != nil {
				st.capture = m[1]
				exp = exp[:len(exp)-len(m[0])]
				if !anomalyNameRE.MatchString(st.capture) || anomalySessionRE.MatchString(st.capture) {
					return fail("bad capture name %q", st.capture)
				}
				if sc.captures[st.capture] != nil {
					return fail("%q captured twice", st.capture)
				}
				sc.captures[st.capture] = st
			}
			for exp != "" {
				loc := anomalyArrowRE.FindStringSubmatchIndex(exp)
				if loc == nil || loc[0] != 0 {
					return fail("cannot parse expectation %q", exp)
				}
				arrow := exp[loc[2]:loc[3]]
				exp = exp[loc[1]:]
				body := exp
				if next := anomalyArrowRE.FindStringIndex(exp); next != nil {
					body, exp = exp[:next[0]], exp[next[0]:]
				} else {
					exp = ""
				}
				alts, err := parseAnomalyAlts(body)
				if err != nil {
					return fail("%v", err)
				}
				dst := &st.loose
				if arrow == "=>" {
					dst = &st.strict
				}
				if *dst != nil {
					return fail("two %s expectations", arrow)
				}
				*dst = alts
			}
		}
		sqlPart = strings.TrimSpace(sqlPart)
		if s, ok := strings.CutSuffix(sqlPart, "&"); ok && who != "check" {
			st.async, sqlPart = true, strings.TrimSpace(s)
		}
		if sqlPart == "" {
			return fail("no SQL")
		}
		st.sql = sqlPart
		if who == "check" {
			if st.loose == nil || st.strict != nil || st.capture != "" {
				return fail("a check needs \"-> EXPECT\" and nothing else")
			}
			sc.checks = append(sc.checks, st)
			continue
		}
		ts := txns[who]
		if ts == nil {
			ts = &txnState{}
			txns[who] = ts
		}
		switch anomalyStmtKind(st.sql) {
		case "begin":
			if ts.began {
				return fail("session %s begins a second transaction (one per session)", who)
			}
			ts.began, ts.open = true, true
			st.inTxn = true
		case "commit", "rollback":
			if !ts.open {
				return fail("session %s ends a transaction it has not begun", who)
			}
			ts.open, st.inTxn = false, true
		default:
			st.inTxn = ts.open
		}
		st.n = len(sc.steps) + 1
		sc.steps = append(sc.steps, st)
	}
	if err := sc2.Err(); err != nil {
		return nil, err
	}
	lineNo = 0
	for s, ts := range txns {
		if ts.open {
			return fail("session %s never ends its transaction", s)
		}
	}
	if len(sc.checks) == 0 {
		return fail("no check")
	}
	for _, st := range append(slices.Clone(sc.steps), sc.checks...) {
		if st.wait && txns[st.session] == nil {
			lineNo = st.line
			return fail("%s waits but runs nothing", st.session)
		}
		for _, alt := range append(slices.Clone(st.strict), st.loose...) {
			for _, s := range append(slices.Clone(alt.committed), alt.notCommitted...) {
				if ts := txns[s]; ts == nil || !ts.began {
					lineNo = st.line
					return fail("[%s]: session %s has no transaction", strings.Join(alt.conds(), " "), s)
				}
			}
			for v := range alt.vars {
				if sc.captures[v] == nil {
					lineNo = st.line
					return fail("%s is never captured", v)
				}
			}
		}
	}
	return sc, nil
}

// anomalyStmtKind classifies transaction control statements.
func anomalyStmtKind(sql string) string {
	f := strings.Fields(strings.ToLower(strings.TrimSuffix(sql, ";")))
	if len(f) == 0 {
		return ""
	}
	switch f[0] {
	case "begin", "start":
		return "begin"
	case "commit", "end":
		return "commit"
	case "rollback", "abort":
		return "rollback"
	}
	return ""
}

func parseAnomalyAlts(s string) ([]anomalyAlt, error) {
	var alts []anomalyAlt
	for _, part := range strings.Split(s, "|") {
		part = strings.TrimSpace(part)
		alt := anomalyAlt{text: part}
		if strings.HasPrefix(part, "[") {
			end := strings.Index(part, "]")
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ in %q", part)
			}
			for _, c := range strings.Fields(part[1:end]) {
				switch {
				case anomalySessionRE.MatchString(c):
					alt.committed = append(alt.committed, c)
				case strings.HasPrefix(c, "!") && anomalySessionRE.MatchString(c[1:]):
					alt.notCommitted = append(alt.notCommitted, c[1:])
				case strings.Contains(c, "="):
					k, v, _ := strings.Cut(c, "=")
					if !anomalyNameRE.MatchString(k) {
						return nil, fmt.Errorf("bad condition %q", c)
					}
					if alt.vars == nil {
						alt.vars = map[string]string{}
					}
					alt.vars[k] = normalizeAnomalyRows(v)
				default:
					return nil, fmt.Errorf("bad condition %q (want sN, !sN or NAME=VALUE)", c)
				}
			}
			part = strings.TrimSpace(part[end+1:])
		}
		if part == "" {
			return nil, fmt.Errorf("no result in %q (write \"empty\" for no rows)", alt.text)
		}
		alt.rows = normalizeAnomalyRows(part)
		alts = append(alts, alt)
	}
	return alts, nil
}

func (a anomalyAlt) conds() []string {
	var c []string
	c = append(c, a.committed...)
	for _, s := range a.notCommitted {
		c = append(c, "!"+s)
	}
	for _, k := range slices.Sorted(maps.Keys(a.vars)) {
		c = append(c, k+"="+a.vars[k])
	}
	return c
}

// normalizeAnomalyRows spells an expected result as formatAnomalyRows spells an actual one.
func normalizeAnomalyRows(s string) string {
	s = strings.TrimSpace(s)
	if s == "empty" {
		return s
	}
	var rows [][]string
	for _, r := range strings.Split(s, ";") {
		var vals []string
		for _, v := range strings.Split(r, ",") {
			vals = append(vals, strings.TrimSpace(v))
		}
		rows = append(rows, vals)
	}
	return formatAnomalyRows(rows)
}

func formatAnomalyRows(rows [][]string) string {
	if len(rows) == 0 {
		return "empty"
	}
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = strings.Join(r, ",")
	}
	return strings.Join(parts, "; ")
}

// ---- running a script ----

// anomalyConn is one SQL session. Exec returns the rows (in text) and the command tag.
type anomalyConn interface {
	Exec(ctx context.Context, sql string) (rows [][]string, tag string, err error)
	Close()
}

type pgAnomalyConn struct{ c *pgx.Conn }

func (p pgAnomalyConn) Exec(ctx context.Context, sql string) ([][]string, string, error) {
	rs, err := p.c.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, "", err
	}
	var rows [][]string
	for rs.Next() {
		raw := rs.RawValues()
		row := make([]string, len(raw))
		for i, v := range raw {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = string(v)
			}
		}
		rows = append(rows, row)
	}
	rs.Close()
	return rows, rs.CommandTag().String(), rs.Err()
}

func (p pgAnomalyConn) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.c.Close(ctx)
}

type anomalyOptions struct {
	stepTimeout    time.Duration
	grace          time.Duration
	dumpGoroutines bool // on a hung statement, write every goroutine's stack to a file
	checkSplits    bool // check that the setup's splits left tables on several ranges
	// settle is a pause after the setup. Meridian may write above the present (after a
	// lease moves, by up to the maximum clock offset), and a transaction that then reads
	// such a value within its uncertainty window restarts: without the pause, the
	// scripts' transactions would often abort on the setup's rows before they conflict.
	settle time.Duration
}

// anomalyResult is what one step did.
type anomalyResult struct {
	step     *anomalyStep
	done     chan struct{}
	ran      bool   // sent to the database
	skipped  string // why it was not sent
	rows     string // normalized result, if it succeeded
	tag      string
	err      error
	code     string // SQLSTATE of err
	timedOut bool
	took     time.Duration // for the log only
}

func (r *anomalyResult) ok() bool { return r.ran && r.err == nil }

func (r *anomalyResult) String() string {
	switch {
	case r.skipped != "":
		return "skipped: " + r.skipped
	case !r.ran:
		return "not run"
	case r.timedOut:
		return fmt.Sprintf("did not finish within the step timeout: %v", r.err)
	case r.err != nil:
		return fmt.Sprintf("error %s: %v", r.code, r.err)
	case r.rows != "empty":
		return r.rows
	}
	return r.tag
}

// anomalySession runs one session's steps in order.
type anomalySession struct {
	name      string
	conn      anomalyConn
	queue     chan *anomalyResult
	pending   []*anomalyResult // dispatched; read by the script's goroutine only
	exited    chan struct{}
	inTxn     bool
	failed    bool // the transaction hit an error and is aborted
	hung      bool
	committed bool
	ambiguous bool   // the commit's outcome is unknown (40003)
	ended     string // how the transaction ended
}

func isRetryCode(code string) bool { return code == "40001" || code == "40P01" }

func (s *anomalySession) run(ctx context.Context, opts anomalyOptions, onHang func()) {
	defer close(s.exited)
	for r := range s.queue {
		s.exec(ctx, r, opts, onHang)
		close(r.done)
	}
}

func (s *anomalySession) exec(ctx context.Context, r *anomalyResult, opts anomalyOptions, onHang func()) {
	kind := anomalyStmtKind(r.step.sql)
	switch {
	case s.hung:
		r.skipped = "an earlier statement of the session hung"
		return
	case s.inTxn && s.failed && kind != "commit" && kind != "rollback":
		r.skipped = "the transaction already failed"
		return
	case s.inTxn && s.failed:
		// End the aborted transaction; a COMMIT would answer ROLLBACK anyway.
		r.skipped = "the transaction already failed; sent ROLLBACK instead"
		sctx, cancel := context.WithTimeout(ctx, opts.stepTimeout)
		_, _, err := s.conn.Exec(sctx, "ROLLBACK")
		cancel()
		if err != nil {
			r.ran, r.err, r.code = true, err, pgCode(err)
		}
		s.inTxn = false
		return
	}
	sctx, cancel := context.WithTimeout(ctx, opts.stepTimeout)
	start := time.Now()
	rows, tag, err := s.conn.Exec(sctx, r.step.sql)
	r.took = time.Since(start)
	timedOut := sctx.Err() != nil && err != nil
	cancel()
	r.ran, r.tag = true, tag
	if err != nil {
		r.err, r.code, r.timedOut = err, pgCode(err), timedOut
		if timedOut {
			s.hung = true
			onHang()
		}
		switch {
		case s.inTxn && timedOut:
			s.failed, s.ended = true, "hung"
			if kind == "commit" || kind == "rollback" {
				s.inTxn = false
				s.ambiguous = kind == "commit" // a hung COMMIT may or may not have happened
			}
		case s.inTxn && kind == "commit" && r.code == "40003":
			s.inTxn, s.ambiguous, s.ended = false, true, "outcome unknown (40003 at commit)"
		case s.inTxn && (kind == "commit" || kind == "rollback"):
			s.inTxn, s.ended = false, "aborted at "+kind+" ("+r.code+")"
		case s.inTxn:
			s.failed = true
			s.ended = "aborted (" + r.code + ")"
		}
		return
	}
	r.rows = formatAnomalyRows(rows)
	switch kind {
	case "begin":
		s.inTxn = true
	case "commit":
		s.inTxn = false
		s.committed = tag == "COMMIT"
		s.ended = "committed"
		if !s.committed {
			s.ended = "aborted: COMMIT answered " + tag
		}
	case "rollback":
		s.inTxn, s.ended = false, "rolled back"
	}
}

type anomalyReport struct {
	failures []string
	history  []string
	outcome  string
}

// anomalyConnector opens a connection for who ("setup", "sN" or "check") to node number
// node (counted from 0, modulo the cluster's size).
type anomalyConnector func(ctx context.Context, who string, node int) (anomalyConn, error)

// runAnomalyScript runs sc, with session sN connected to node N-1 and each check on a fresh
// connection to the next node, and reports every deviation from the script.
func runAnomalyScript(ctx context.Context, sc *anomalyScript, connectTo anomalyConnector, opts anomalyOptions) *anomalyReport {
	rep := &anomalyReport{}
	var mu sync.Mutex // failf runs on session goroutines too
	failf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		rep.failures = append(rep.failures, fmt.Sprintf(format, args...))
	}

	// The setup is not under test: if it fails (a node busy enough to lose a Raft
	// leadership answers 40003 or XX000), it starts again from the top, on another node,
	// up to three times. Each failure is logged.
	var setup anomalyConn
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, opts.stepTimeout)
		conn, err := connectTo(cctx, "setup", attempt-1)
		cancel()
		if err != nil {
			err = fmt.Errorf("setup: connect: %w", err)
		}
		for _, q := range sc.setup {
			if err != nil {
				break
			}
			sctx, cancel := context.WithTimeout(ctx, opts.stepTimeout)
			if _, _, err = conn.Exec(sctx, q); err != nil {
				err = fmt.Errorf("setup %q: %w", q, err)
			}
			cancel()
		}
		if err == nil {
			setup = conn
			break
		}
		if conn != nil {
			conn.Close()
		}
		if attempt == 3 {
			failf("%v (attempt %d, giving up)", err, attempt)
			return rep
		}
		rep.history = append(rep.history, fmt.Sprintf("SETUP FAILED, starting it again: %v", err))
	}
	splitRE := regexp.MustCompile(`(?i)^alter\s+table\s+(\S+)\s+split\s+at\b`)
	for _, q := range sc.setup {
		m := splitRE.FindStringSubmatch(q)
		if m == nil || !opts.checkSplits {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, opts.stepTimeout)
		rows, _, err := setup.Exec(sctx, "SHOW RANGES FROM TABLE "+m[1])
		cancel()
		if err != nil {
			failf("SHOW RANGES FROM TABLE %s: %v", m[1], err)
		} else if len(rows) < 2 {
			failf("table %s spans %d range(s) after its split, want several", m[1], len(rows))
		} else {
			rep.history = append(rep.history, fmt.Sprintf("table %s: %d ranges", m[1], len(rows)))
		}
	}
	setup.Close()
	if len(rep.failures) > 0 {
		return rep
	}
	time.Sleep(opts.settle)

	var hangOnce sync.Once
	onHang := func() {
		hangOnce.Do(func() {
			if !opts.dumpGoroutines {
				return
			}
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
			path := filepath.Join(os.TempDir(), fmt.Sprintf("meridian-anomaly-%s-goroutines.txt", sc.name))
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				failf("writing the goroutine dump: %v", err)
				return
			}
			failf("a statement hung; every goroutine's stack, taken then, is in %s", path)
		})
	}
	sessions := map[string]*anomalySession{}
	for _, name := range sc.sessions {
		n, _ := strconv.Atoi(strings.TrimPrefix(name, "s"))
		cctx, cancel := context.WithTimeout(ctx, opts.stepTimeout)
		conn, err := connectTo(cctx, name, n-1)
		cancel()
		if err != nil {
			failf("%s: connect: %v", name, err)
			for _, s := range sessions {
				s.conn.Close()
			}
			return rep
		}
		s := &anomalySession{name: name, conn: conn, queue: make(chan *anomalyResult, len(sc.steps)), exited: make(chan struct{})}
		sessions[name] = s
	}
	for _, s := range sessions {
		go s.run(ctx, opts, onHang)
	}
	results := make([]*anomalyResult, len(sc.steps))
	// await waits for r, allowing each statement queued before it its full timeout; the
	// sessions enforce the timeouts, so this only trips if a client ignores its context.
	abandoned := false
	await := func(s *anomalySession, r *anomalyResult) bool {
		backstop := time.NewTimer(opts.stepTimeout*time.Duration(len(s.pending)+1) + 10*time.Second)
		defer backstop.Stop()
		select {
		case <-r.done:
			return true
		case <-backstop.C:
			onHang()
			failf("%s never returned, even after its timeout", r.step)
			abandoned = true
			return false
		}
	}
	for i, st := range sc.steps {
		if abandoned {
			break
		}
		s := sessions[st.session]
		if st.wait {
			for _, r := range s.pending {
				if !await(s, r) {
					break
				}
			}
			continue
		}
		r := &anomalyResult{step: st, done: make(chan struct{})}
		results[i] = r
		s.pending = append(s.pending, r)
		s.queue <- r
		if st.async {
			grace := time.NewTimer(opts.grace)
			select {
			case <-r.done:
			case <-grace.C:
			}
			grace.Stop()
			continue
		}
		await(s, r)
	}
	for _, name := range sc.sessions {
		s := sessions[name]
		close(s.queue)
		if !abandoned {
			for _, r := range s.pending {
				if !await(s, r) {
					break
				}
			}
		}
	}
	if abandoned {
		// Give up; the stuck clients end when the database stops.
		return rep
	}
	for _, s := range sessions {
		<-s.exited
		s.conn.Close()
	}

	// Every transaction's outcome is known (but for ambiguous commits): check what each
	// statement returned, and the final state.
	committed := map[string]bool{}
	var outcome, unknown []string
	for _, name := range sc.sessions {
		s := sessions[name]
		if s.ended != "" {
			committed[name] = s.committed
			outcome = append(outcome, name+" "+s.ended)
		}
		if s.ambiguous {
			unknown = append(unknown, name)
		}
	}
	rep.outcome = strings.Join(outcome, ", ")
	vars := map[string]string{}
	for _, r := range results {
		if r != nil && r.step.capture != "" && r.ok() {
			vars[r.step.capture] = r.rows
		}
	}
	for _, r := range results {
		if r == nil {
			continue
		}
		st := r.step
		rep.history = append(rep.history, fmt.Sprintf("%-3s %s: %s  =>  %s  (%s)", strconv.Itoa(st.n)+".", st.session, anomalyStepText(st), r, r.took.Round(time.Millisecond)))
		switch {
		case r.ran && r.err != nil && r.timedOut:
			failf("%s: %s", st, r)
		case r.ran && r.err != nil && r.code == "40003" && anomalyStmtKind(st.sql) == "commit":
			// Ambiguous: the expectations below must hold with or without the commit.
		case r.ran && r.err != nil && !isRetryCode(r.code):
			failf("%s: %s (only 40001 and 40P01 may fail a statement)", st, r)
		case r.ok() && anomalyStmtKind(st.sql) == "commit" && r.tag != "COMMIT":
			failf("%s: COMMIT answered %q though no statement of the transaction failed", st, r.tag)
		}
	}
	type checkResult struct {
		ck  *anomalyStep
		got string
	}
	var checks []checkResult
	for i, ck := range sc.checks {
		cctx, cancel := context.WithTimeout(ctx, opts.stepTimeout)
		conn, err := connectTo(cctx, "check", i)
		if err != nil {
			cancel()
			failf("%s: connect: %v", ck, err)
			continue
		}
		rows, _, err := conn.Exec(cctx, ck.sql)
		cancel()
		conn.Close()
		if err != nil {
			failf("%s: %v", ck, err)
			continue
		}
		got := formatAnomalyRows(rows)
		rep.history = append(rep.history, fmt.Sprintf("check: %s  =>  %s", ck.sql, got))
		checks = append(checks, checkResult{ck, got})
	}
	evaluate := func(committed map[string]bool) (failures []string) {
		add := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
		for _, r := range results {
			if r == nil || !r.ok() {
				continue
			}
			st := r.step
			if st.strict != nil && !anomalyAllowed(st.strict, r.rows, committed, vars) {
				add("%s returned %s; allowed, whether or not %s commits: %s (outcome: %s)", st, r.rows, st.session, anomalyAltsText(st.strict, committed, vars), rep.outcome)
			}
			if st.loose != nil && (!st.inTxn || committed[st.session]) && !anomalyAllowed(st.loose, r.rows, committed, vars) {
				who := "the statement"
				if st.inTxn {
					who = "committed transaction " + st.session
				}
				add("%s: %s observed %s; allowed: %s (outcome: %s)", st, who, r.rows, anomalyAltsText(st.loose, committed, vars), rep.outcome)
			}
		}
		for _, c := range checks {
			if !anomalyAllowed(c.ck.loose, c.got, committed, vars) {
				add("%s: final state %s is not that of a serial order of the committed transactions; allowed: %s (outcome: %s)",
					c.ck, c.got, anomalyAltsText(c.ck.loose, committed, vars), rep.outcome)
			}
		}
		return failures
	}
	// An ambiguous commit may have happened or not: the run passes if either explains it.
	var first []string
	for mask := 0; mask < 1<<len(unknown); mask++ {
		c := maps.Clone(committed)
		for i, name := range unknown {
			c[name] = mask&(1<<i) != 0
		}
		f := evaluate(c)
		if len(f) == 0 {
			first = nil
			break
		}
		if mask == 0 {
			first = f
		}
	}
	for _, f := range first {
		failf("%s", f)
	}
	return rep
}

func anomalyStepText(st *anomalyStep) string {
	if st.async {
		return st.sql + " &"
	}
	return st.sql
}

func (a anomalyAlt) applies(committed map[string]bool, vars map[string]string) bool {
	for _, s := range a.committed {
		if !committed[s] {
			return false
		}
	}
	for _, s := range a.notCommitted {
		if committed[s] {
			return false
		}
	}
	for k, v := range a.vars {
		if got, ok := vars[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func anomalyAllowed(alts []anomalyAlt, got string, committed map[string]bool, vars map[string]string) bool {
	for _, a := range alts {
		if a.applies(committed, vars) && a.rows == got {
			return true
		}
	}
	return false
}

// anomalyAltsText lists the results allowed in this outcome.
func anomalyAltsText(alts []anomalyAlt, committed map[string]bool, vars map[string]string) string {
	var s []string
	for _, a := range alts {
		if a.applies(committed, vars) {
			s = append(s, a.rows)
		}
	}
	if len(s) == 0 {
		return "nothing (no serial order explains this outcome)"
	}
	return strings.Join(s, " | ")
}

// ---- the harness's own test, against a scripted fake database ----

// fakeAnomalyDB answers each session's statements from a table of canned responses, keyed
// "sN: SQL" (or "sN: SQL #2" for the second time the session sends it; "check: SQL" for
// checks). Statements without a response succeed with no rows.
type fakeAnomalyDB struct {
	responses map[string]fakeAnomalyResp
	used      map[string]bool
	mu        sync.Mutex
	ended     map[string]chan struct{} // closed when the session's transaction ends
}

type fakeAnomalyResp struct {
	rows  string // as in scripts; "" is no rows
	code  string // fail with this SQLSTATE
	tag   string // command tag, if not the statement's first word
	after string // block until this session's transaction ends
	hang  bool   // block until the statement's context expires
}

func newFakeAnomalyDB(responses map[string]fakeAnomalyResp) *fakeAnomalyDB {
	return &fakeAnomalyDB{responses: responses, used: map[string]bool{}, ended: map[string]chan struct{}{}}
}

func (db *fakeAnomalyDB) endedCh(session string) chan struct{} {
	db.mu.Lock()
	defer db.mu.Unlock()
	ch := db.ended[session]
	if ch == nil {
		ch = make(chan struct{})
		db.ended[session] = ch
	}
	return ch
}

type fakeAnomalyConn struct {
	db      *fakeAnomalyDB
	session string
	seen    map[string]int
}

func (c *fakeAnomalyConn) Exec(ctx context.Context, sql string) ([][]string, string, error) {
	c.seen[sql]++
	key := c.session + ": " + sql
	if c.seen[sql] > 1 {
		key += " #" + strconv.Itoa(c.seen[sql])
	}
	c.db.mu.Lock()
	resp, ok := c.db.responses[key]
	c.db.used[key] = true
	c.db.mu.Unlock()
	kind := anomalyStmtKind(sql)
	if resp.after != "" {
		select {
		case <-c.db.endedCh(resp.after):
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
	if resp.hang {
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	if kind == "commit" || kind == "rollback" {
		close(c.db.endedCh(c.session))
	}
	if resp.code != "" {
		return nil, "", &pgconn.PgError{Code: resp.code, Message: "fake error"}
	}
	tag := strings.ToUpper(strings.Fields(sql)[0])
	if resp.tag != "" {
		tag = resp.tag
	}
	if !ok || resp.rows == "" || resp.rows == "empty" {
		return nil, tag, nil
	}
	var rows [][]string
	for _, r := range strings.Split(resp.rows, ";") {
		var vals []string
		for _, v := range strings.Split(r, ",") {
			vals = append(vals, strings.TrimSpace(v))
		}
		rows = append(rows, vals)
	}
	return rows, tag, nil
}

func (c *fakeAnomalyConn) Close() {}

func (db *fakeAnomalyDB) connect(_ context.Context, who string, _ int) (anomalyConn, error) {
	return &fakeAnomalyConn{db: db, session: who, seen: map[string]int{}}, nil
}

// fakeAnomalyHistory is one run of a script against the fake: the responses that differ
// from "success, no rows", and a piece of the failure the harness must report ("" for
// none: the history is serializable and must pass).
type fakeAnomalyHistory struct {
	responses map[string]fakeAnomalyResp
	want      string
}

func rowsResp(rows string) fakeAnomalyResp { return fakeAnomalyResp{rows: rows} }

// fakeAnomalyHistories holds, for every script of testdata/anomalies, a serializable
// history, which must pass, and histories showing the anomaly, which must fail. Each
// anomalous history is the serializable one with the responses given replaced.
var fakeAnomalyHistories = map[string]struct {
	serial    map[string]fakeAnomalyResp
	anomalies []fakeAnomalyHistory
}{
	"g0": {
		serial: map[string]fakeAnomalyResp{
			"s2: update t set v = 12 where id = 1":   {after: "s1"}, // waits for s1
			"s1: select v from t where id = 1":       rowsResp("11"),
			"s2: select id, v from t order by id":    rowsResp("1,12; 2,22"),
			"check: select id, v from t order by id": rowsResp("1,12; 2,22"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s2: update t set v = 12 where id = 1":   {}, // does not wait
				"check: select id, v from t order by id": rowsResp("1,11; 2,22"),
			}, "final state 1,11; 2,22 is not"},
			{map[string]fakeAnomalyResp{
				"s2: update t set v = 12 where id = 1": {},
				"s1: select v from t where id = 1":     rowsResp("12"),
			}, "(s1: select v from t where id = 1) returned 12"},
		},
	},
	"g0-crossed": {
		serial: map[string]fakeAnomalyResp{
			"s1: update t set v = 21 where id = 2":   {after: "s2"},   // deadlock: waits for s2 ...
			"s2: update t set v = 12 where id = 1":   {code: "40P01"}, // ... which is aborted
			"check: select id, v from t order by id": rowsResp("1,11; 2,21"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s1: update t set v = 21 where id = 2":   {},
				"s2: update t set v = 12 where id = 1":   {},
				"check: select id, v from t order by id": rowsResp("1,12; 2,21"),
			}, "final state 1,12; 2,21 is not"},
		},
	},
	"g1a": {
		serial: map[string]fakeAnomalyResp{
			"s2: select v from t where id = 1":                    rowsResp("10"),
			"s3: select id, v from t order by id":                 rowsResp("1,10; 2,20"),
			"s2: select v from t where id = 2":                    rowsResp("20"),
			"s2: update t set v = v + 5 where id = 1 returning v": rowsResp("15"),
			"s3: select id, v from t order by id #2":              rowsResp("1,15; 2,20"),
			"check: select id, v from t order by id":              rowsResp("1,15; 2,20"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{"s2: select v from t where id = 1": rowsResp("101")},
				"(s2: select v from t where id = 1) returned 101"},
			{map[string]fakeAnomalyResp{"s3: select id, v from t order by id": rowsResp("1,101; 2,201")},
				"(s3: select id, v from t order by id) returned 1,101; 2,201"},
			{map[string]fakeAnomalyResp{"s2: select id from t where v > 100": rowsResp("1")},
				"(s2: select id from t where v > 100) returned 1"},
			{map[string]fakeAnomalyResp{
				"s2: update t set v = v + 5 where id = 1 returning v": rowsResp("106"),
				"check: select id, v from t order by id":              rowsResp("1,106; 2,20"),
			}, "returning v) returned 106"},
		},
	},
	"g1b": {
		serial: map[string]fakeAnomalyResp{
			"s2: select v from t where id = 1":       rowsResp("10"),
			"s3: select v from t where id = 1":       rowsResp("10"),
			"s2: select v from t where id = 1 #2":    rowsResp("10"),
			"s2: select v from t where id = 2":       rowsResp("20"),
			"s3: select v from t where id = 1 #2":    rowsResp("11"),
			"check: select id, v from t order by id": rowsResp("1,11; 2,21"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{"s2: select v from t where id = 1 #2": rowsResp("101")},
				"(s2: select v from t where id = 1) returned 101"},
			{map[string]fakeAnomalyResp{"s3: select v from t where id = 1": rowsResp("101")},
				"(s3: select v from t where id = 1) returned 101"},
			{map[string]fakeAnomalyResp{"s2: select v from t where id = 1 #2": rowsResp("11")},
				"committed transaction s2 observed 11"},
		},
	},
	"g1c": {
		serial: map[string]fakeAnomalyResp{
			"s1: select v from t where id = 2":       rowsResp("20"),
			"s2: select v from t where id = 1":       rowsResp("10"),
			"s2: commit":                             {code: "40001"},
			"check: select id, v from t order by id": rowsResp("1,11; 2,20"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s1: select v from t where id = 2":       rowsResp("22"),
				"s2: select v from t where id = 1":       rowsResp("11"),
				"s2: commit":                             {},
				"check: select id, v from t order by id": rowsResp("1,11; 2,22"),
			}, "(s1: select v from t where id = 2) returned 22"},
			{map[string]fakeAnomalyResp{
				"s2: commit":                             {},
				"check: select id, v from t order by id": rowsResp("1,11; 2,22"),
			}, "final state 1,11; 2,22 is not"},
		},
	},
	"otv": {
		serial: map[string]fakeAnomalyResp{
			"s2: update t set v = 12 where id = 1":   {after: "s1"},
			"s3: select v from t where id = 1":       rowsResp("11"),
			"s3: select v from t where id = 2":       rowsResp("19"),
			"s3: select v from t where id = 1 #2":    rowsResp("11"),
			"s3: select v from t where id = 2 #2":    rowsResp("19"),
			"check: select id, v from t order by id": rowsResp("1,12; 2,18"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{"s3: select v from t where id = 2 #2": rowsResp("18")},
				"committed transaction s3 observed 18"},
			{map[string]fakeAnomalyResp{"s3: select v from t where id = 2": rowsResp("18")},
				"(s3: select v from t where id = 2) returned 18"},
			{map[string]fakeAnomalyResp{"s3: select v from t where id = 2": rowsResp("20")},
				"committed transaction s3 observed 20"},
		},
	},
	"pmp-read": {
		serial: map[string]fakeAnomalyResp{
			"s1: select count(*) from t":             rowsResp("2"),
			"check: select id, v from t order by id": rowsResp("1,10; 2,20; 3,30"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{"s1: select id from t where v % 3 = 0": rowsResp("3")},
				"committed transaction s1 observed 3"},
			{map[string]fakeAnomalyResp{"s1: select count(*) from t": rowsResp("3")},
				"committed transaction s1 observed 3"},
		},
	},
	"pmp-write": {
		serial: map[string]fakeAnomalyResp{
			"s1: update t set v = v + 10 returning id, v": rowsResp("1,20; 2,30"),
			"s2: delete from t where v = 20 returning id": {after: "s1", rows: "1"},
			"check: select id, v from t order by id":      rowsResp("2,30"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s2: delete from t where v = 20 returning id": {after: "s1", rows: "2"},
				"check: select id, v from t order by id":      rowsResp("1,20"),
			}, "committed transaction s2 observed 2"},
		},
	},
	"p4": {
		serial: map[string]fakeAnomalyResp{
			"s1: select v from t where id = 1":       rowsResp("10"),
			"s2: select v from t where id = 1":       rowsResp("10"),
			"s2: update t set v = 12 where id = 1":   {after: "s1", code: "40001"},
			"check: select id, v from t order by id": rowsResp("1,11; 2,20"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s2: update t set v = 12 where id = 1":   {after: "s1"},
				"check: select id, v from t order by id": rowsResp("1,12; 2,20"),
			}, "final state 1,12; 2,20 is not"},
		},
	},
	"g-single": {
		serial: map[string]fakeAnomalyResp{
			"s1: select v from t where id = 1":       rowsResp("10"),
			"s2: select v from t where id = 1":       rowsResp("10"),
			"s2: select v from t where id = 2":       rowsResp("20"),
			"s1: select v from t where id = 2":       rowsResp("20"),
			"s1: select sum(v) from t":               rowsResp("30"),
			"check: select id, v from t order by id": rowsResp("1,12; 2,18"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{"s1: select v from t where id = 2": rowsResp("18")},
				"committed transaction s1 observed 18"},
			{map[string]fakeAnomalyResp{"s1: select sum(v) from t": rowsResp("28")},
				"committed transaction s1 observed 28"},
		},
	},
	"g-single-write-1": {
		serial: map[string]fakeAnomalyResp{
			"s1: select v from t where id = 1":                  rowsResp("10"),
			"s2: select id, v from t order by id":               rowsResp("1,10; 2,20"),
			"s2: update t set v = 12 where id = 1 returning id": rowsResp("1"),
			"s2: update t set v = 18 where id = 2 returning id": rowsResp("2"),
			"s1: commit":                             {code: "40001"},
			"check: select id, v from t order by id": rowsResp("1,12; 2,18"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{"s1: commit": {}},
				"committed transaction s1 observed empty; allowed: nothing"},
		},
	},
	"g-single-write-2": {
		serial: map[string]fakeAnomalyResp{
			"s1: select v from t where id = 1":                  rowsResp("10"),
			"s2: select id, v from t order by id":               rowsResp("1,10; 2,20"),
			"s2: update t set v = 12 where id = 1 returning id": rowsResp("1"),
			"s1: delete from t where v = 20 returning id":       rowsResp("2"),
			"s2: update t set v = 18 where id = 2 returning id": {after: "s1", code: "40001"},
			"check: select id, v from t order by id":            rowsResp("1,10"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s2: update t set v = 18 where id = 2 returning id": {after: "s1"},
				"check: select id, v from t order by id":            rowsResp("1,12"),
			}, "final state 1,12 is not"},
		},
	},
	"g2-item": {
		serial: map[string]fakeAnomalyResp{
			"s1: select v from t where id = 1":       rowsResp("10"),
			"s1: select v from t where id = 2":       rowsResp("20"),
			"s2: select v from t where id = 1":       rowsResp("10"),
			"s2: select v from t where id = 2":       rowsResp("20"),
			"s2: update t set v = 21 where id = 2":   {code: "40001"},
			"check: select id, v from t order by id": rowsResp("1,11; 2,20"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s2: update t set v = 21 where id = 2":   {},
				"check: select id, v from t order by id": rowsResp("1,11; 2,21"),
			}, "final state 1,11; 2,21 is not"},
		},
	},
	"g2-predicate": {
		serial: map[string]fakeAnomalyResp{
			"s2: commit":                             {code: "40001"},
			"check: select id, v from t order by id": rowsResp("1,10; 2,20; 3,30"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s2: commit":                             {},
				"check: select id, v from t order by id": rowsResp("1,10; 2,20; 3,30; 4,42"),
			}, "final state 1,10; 2,20; 3,30; 4,42 is not"},
		},
	},
	"g2-oncall": {
		serial: map[string]fakeAnomalyResp{
			"s1: select count(*) from doctors where on_call": rowsResp("2"),
			"s2: select count(*) from doctors where on_call": rowsResp("2"),
			"s2: commit": {code: "40001"},
			"check: select name from doctors where on_call order by id": rowsResp("bob"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s2: commit": {},
				"check: select name from doctors where on_call order by id": rowsResp(""),
			}, "final state empty is not"},
		},
	},
	"g2-signup": {
		serial: map[string]fakeAnomalyResp{
			"s1: select count(*) from shifts where shift = 2": rowsResp("1"),
			"s2: select count(*) from shifts where shift = 2": rowsResp("1"),
			"s1: commit": {code: "40001"},
			"check: select doctor from shifts where shift = 2 order by doctor": rowsResp("5; 27"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s1: commit": {},
				"check: select doctor from shifts where shift = 2 order by doctor": rowsResp("5; 12; 27"),
			}, "final state 5; 12; 27 is not"},
		},
	},
	"g2-two-edges": {
		serial: map[string]fakeAnomalyResp{
			"s1: select id, v from t order by id":                 rowsResp("1,10; 2,20"),
			"s2: update t set v = v + 5 where id = 2 returning v": rowsResp("25"),
			"s3: select v from t where id = 2":                    rowsResp("25"),
			"s3: select v from t where id = 1":                    rowsResp("10"),
			"s1: commit":                                          {code: "40001"},
			"check: select id, v from t order by id":              rowsResp("1,10; 2,25"),
		},
		anomalies: []fakeAnomalyHistory{
			{map[string]fakeAnomalyResp{
				"s1: commit":                             {},
				"check: select id, v from t order by id": rowsResp("1,0; 2,25"),
			}, "final state 1,0; 2,25 is not"},
		},
	},
}

// runFakeAnomaly runs sc against the fake with responses, and checks that every response
// was asked for (so the table above follows the scripts).
func runFakeAnomaly(t *testing.T, sc *anomalyScript, responses map[string]fakeAnomalyResp, opts anomalyOptions) *anomalyReport {
	t.Helper()
	db := newFakeAnomalyDB(responses)
	rep := runAnomalyScript(context.Background(), sc, db.connect, opts)
	for k := range responses {
		if !db.used[k] {
			t.Errorf("%s: the script never sent %q", sc.name, k)
		}
	}
	return rep
}

var fakeAnomalyOptions = anomalyOptions{stepTimeout: 5 * time.Second, grace: 20 * time.Millisecond}

// TestIsolationAnomaliesDetected runs every script against a fake database twice: with a
// serializable history, which must pass, and with histories that show the script's
// anomaly, which must fail with the anomaly named.
func TestIsolationAnomaliesDetected(t *testing.T) {
	for _, sc := range loadAnomalyScripts(t) {
		t.Run(sc.name, func(t *testing.T) {
			h, ok := fakeAnomalyHistories[sc.name]
			if !ok {
				t.Fatalf("no fake histories for %s", sc.name)
			}
			rep := runFakeAnomaly(t, sc, h.serial, fakeAnomalyOptions)
			if len(rep.failures) > 0 {
				t.Errorf("a serializable history failed:\n%s\n%s", strings.Join(rep.failures, "\n"), strings.Join(rep.history, "\n"))
			}
			if len(h.anomalies) == 0 {
				t.Fatal("no anomalous history")
			}
			for i, a := range h.anomalies {
				responses := maps.Clone(h.serial)
				maps.Copy(responses, a.responses)
				rep := runFakeAnomaly(t, sc, responses, fakeAnomalyOptions)
				j := slices.IndexFunc(rep.failures, func(f string) bool { return strings.Contains(f, a.want) })
				if j < 0 {
					t.Errorf("anomalous history %d passed, or failed otherwise than with %q: %q\n%s", i+1, a.want, rep.failures, strings.Join(rep.history, "\n"))
					continue
				}
				t.Logf("caught: %s", rep.failures[j])
			}
		})
	}
	for name := range fakeAnomalyHistories {
		if _, err := os.Stat(filepath.Join("testdata", "anomalies", name)); err != nil {
			t.Errorf("fake histories for a script that does not exist: %v", err)
		}
	}
}

// TestIsolationAnomaliesHarness covers the rest of the harness: hangs, script-level waits, unexpected
// errors, silent rollbacks, and the parser's complaints.
func TestIsolationAnomaliesHarness(t *testing.T) {
	const base = `
setup: create table t (id int primary key, v int not null)
s1: begin
s2: begin
s1: update t set v = 11 where id = 1
s2: update t set v = 12 where id = 1 STEP2
s1: commit
s2: commit
check: select v from t where id = 1 -> [s1 !s2] 11 | [!s1 s2] 12 | [s1 s2] 12 | [!s1 !s2] 10
`
	parse := func(stepMark string) *anomalyScript {
		t.Helper()
		sc, err := parseAnomalyScript("inline", strings.Replace(base, "STEP2", stepMark, 1))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	blocked := map[string]fakeAnomalyResp{"s2: update t set v = 12 where id = 1": {after: "s1"}, "check: select v from t where id = 1": rowsResp("12")}
	short := anomalyOptions{stepTimeout: 300 * time.Millisecond, grace: 20 * time.Millisecond}
	expectFailure := func(rep *anomalyReport, want string) {
		t.Helper()
		if !slices.ContainsFunc(rep.failures, func(f string) bool { return strings.Contains(f, want) }) {
			t.Errorf("want a failure with %q, got %q", want, rep.failures)
		}
	}

	t.Run("a blocking step marked & lets the other session go on", func(t *testing.T) {
		if rep := runFakeAnomaly(t, parse("&"), blocked, short); len(rep.failures) > 0 {
			t.Errorf("%q", rep.failures)
		}
	})
	t.Run("a blocking step not marked & is reported as hung", func(t *testing.T) {
		rep := runFakeAnomaly(t, parse(""), blocked, short)
		expectFailure(rep, "step 4, line 6 (s2: update t set v = 12 where id = 1): did not finish within the step timeout")
	})
	t.Run("wait waits for the session", func(t *testing.T) {
		sc, err := parseAnomalyScript("inline", `
s1: begin
s2: begin
s2: update t set v = 12 where id = 1 &
s2: wait
s1: commit
s2: commit
check: select 1 -> 1
`)
		if err != nil {
			t.Fatal(err)
		}
		rep := runFakeAnomaly(t, sc, map[string]fakeAnomalyResp{"s2: update t set v = 12 where id = 1": {after: "s1"}, "check: select 1": rowsResp("1")}, short)
		expectFailure(rep, "did not finish within the step timeout")
	})
	t.Run("errors other than 40001 and 40P01 fail", func(t *testing.T) {
		rep := runFakeAnomaly(t, parse("&"), map[string]fakeAnomalyResp{
			"s2: update t set v = 12 where id = 1": {after: "s1", code: "55P03"},
			"check: select v from t where id = 1":  rowsResp("11"),
		}, short)
		expectFailure(rep, "error 55P03")
	})
	t.Run("40001 aborts the transaction, and skips the rest of it", func(t *testing.T) {
		db := newFakeAnomalyDB(map[string]fakeAnomalyResp{
			"s2: update t set v = 12 where id = 1": {code: "40001"},
			"check: select v from t where id = 1":  rowsResp("11"),
		})
		rep := runAnomalyScript(context.Background(), parse("&"), db.connect, short)
		if len(rep.failures) > 0 {
			t.Errorf("%q", rep.failures)
		}
		if !db.used["s2: ROLLBACK"] || db.used["s2: commit"] {
			t.Errorf("s2's commit should have been a ROLLBACK: %v", db.used)
		}
		if rep.outcome != "s1 committed, s2 aborted (40001)" {
			t.Errorf("outcome %q", rep.outcome)
		}
	})
	t.Run("an ambiguous commit passes if either outcome explains the run", func(t *testing.T) {
		for check, want := range map[string]string{"12": "", "11": "", "13": "final state 13 is not"} {
			rep := runFakeAnomaly(t, parse("&"), map[string]fakeAnomalyResp{
				"s2: commit":                          {code: "40003"},
				"check: select v from t where id = 1": rowsResp(check),
			}, short)
			if want == "" && len(rep.failures) > 0 {
				t.Errorf("check %s: %q", check, rep.failures)
			} else if want != "" {
				expectFailure(rep, want)
			}
		}
	})
	t.Run("a failing setup runs again, then gives up", func(t *testing.T) {
		rep := runFakeAnomaly(t, parse("&"), map[string]fakeAnomalyResp{
			"setup: create table t (id int primary key, v int not null)": {code: "XX000"},
		}, short)
		expectFailure(rep, "(attempt 3, giving up)")
		if n := len(slices.DeleteFunc(rep.history, func(h string) bool { return !strings.HasPrefix(h, "SETUP FAILED") })); n != 2 {
			t.Errorf("%d setup failures logged, want 2", n)
		}
	})
	t.Run("a COMMIT that silently rolls back fails", func(t *testing.T) {
		rep := runFakeAnomaly(t, parse("&"), map[string]fakeAnomalyResp{
			"s2: commit":                          {tag: "ROLLBACK"},
			"check: select v from t where id = 1": rowsResp("11"),
		}, short)
		expectFailure(rep, `COMMIT answered "ROLLBACK"`)
	})
	t.Run("the parser", func(t *testing.T) {
		for script, want := range map[string]string{
			"s1: begin\ncheck: select 1 -> 1":                                    "never ends its transaction",
			"s1: commit\ncheck: select 1 -> 1":                                   "ends a transaction it has not begun",
			"s1: begin\ns1: commit\ns1: begin\ns1: commit\ncheck: select 1 -> 1": "second transaction",
			"s1: select 1 -> 1":                                                  "no check",
			"s1: select 1 -> [s2] 1\ncheck: select 1 -> 1":                       "session s2 has no transaction",
			"s1: select 1 -> [y=1] 1\ncheck: select 1 -> 1":                      "y is never captured",
			"s1: select 1 -> [what] 1\ncheck: select 1 -> 1":                     "bad condition",
			"s1: select 1 -> [s1] \ncheck: select 1 -> 1":                        "no result",
			"s1: select 1\nsetup: select 2\ncheck: select 1 -> 1":                "setup after",
			"check: select 1 => 1":                                               "a check needs",
			"x1: select 1\ncheck: select 1 -> 1":                                 "unknown line kind",
			"s1: select 1 -> 1 -> 2\ncheck: select 1 -> 1":                       "two -> expectations",
		} {
			if _, err := parseAnomalyScript("inline", script); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %v, want %q", script, err, want)
			}
		}
		sc, err := parseAnomalyScript("inline", "s1: begin\ns1: select v from t where id = 1 & => 1 | 2 -> [s1 !s2 x=1] 1;2, 3 as x\ns1: commit\ns2: begin\ns2: commit\ncheck: select 1 -> 1")
		if err != nil {
			t.Fatal(err)
		}
		st := sc.steps[1]
		if !st.async || st.sql != "select v from t where id = 1" || st.capture != "x" || len(st.strict) != 2 || len(st.loose) != 1 ||
			st.loose[0].rows != "1; 2,3" || !slices.Equal(st.loose[0].conds(), []string{"s1", "!s2", "x=1"}) || !st.inTxn {
			t.Errorf("parsed %+v, loose %+v", st, st.loose)
		}
	})
}
