package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// Type OIDs the fake engine uses.
const (
	oidInt4 = 23
	oidText = 25
)

// fakeEnv is shared by the fake backends of one test server, so the test can observe them.
type fakeEnv struct {
	// started receives a value whenever a "block" statement starts waiting.
	started chan struct{}
	// noBlock makes "block" fail at once instead, and maxRows (if set) bounds "rows" and
	// "big", for the fuzzer, which could spell them.
	noBlock bool
	maxRows int

	opened  atomic.Int32
	closed  atomic.Int32
	syncs   atomic.Int32
	lastDB  atomic.Value // string
	lastApp atomic.Value // string

	mu       sync.Mutex
	syncErr  error // returned by the next Sync
	prepared []string
}

func newFakeEnv() *fakeEnv {
	return &fakeEnv{started: make(chan struct{}, 16)}
}

func (e *fakeEnv) newBackend(_ context.Context, user, database string, params map[string]string) (Backend, error) {
	if user == "nobody" {
		return nil, pgerror.New(pgerror.CodeInvalidAuthorization, "role %q does not exist", user)
	}
	if database == "missing" {
		return nil, pgerror.New(pgerror.CodeInvalidCatalogName, "database %q does not exist", database)
	}
	e.opened.Add(1)
	e.lastDB.Store(database)
	e.lastApp.Store(params["application_name"])
	return &fakeBackend{env: e, txn: 'I'}, nil
}

func (e *fakeEnv) setSyncErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.syncErr = err
}

// fakeBackend is a tiny engine whose statements are words:
//
//	select 1       one int4 row
//	rows N         N int4 rows 1..N
//	big N          N rows of one 1 KiB text value
//	insert         INSERT 0 1
//	begin / commit / rollback
//	notice         a warning, then SELECT 0
//	fail           42601 syntax error with detail, hint and position
//	block          waits for its context (simple protocol, Execute)
//	panic          panics (simple protocol, Execute)
//	echo $1 $2...  (extended only) one row echoing the parameters
//	copyin         COPY FROM STDIN: COPY <bytes read>; fails as soon as it reads "bad"
//	copyout N      COPY TO STDOUT of N lines "i\n"
type fakeBackend struct {
	env *fakeEnv
	txn byte
}

func (b *fakeBackend) TxnStatus() byte { return b.txn }

func (b *fakeBackend) Close() { b.env.closed.Add(1) }

func (b *fakeBackend) Sync(context.Context) error {
	b.env.syncs.Add(1)
	b.env.mu.Lock()
	err := b.env.syncErr
	b.env.syncErr = nil
	b.env.mu.Unlock()
	return err
}

func (b *fakeBackend) SimpleQuery(ctx context.Context, query string, w ResultWriter) error {
	var stmts []string
	for s := range strings.SplitSeq(query, ";") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	if len(stmts) == 0 {
		return w.Empty()
	}
	for _, s := range stmts {
		st, err := b.plan(s, nil)
		if err != nil {
			return b.failed(err)
		}
		if st.cols != nil {
			if err := w.Describe(st.cols); err != nil {
				return err
			}
		}
		p := &fakePortal{st: st, cols: st.cols}
		if _, err := p.Execute(ctx, 0, w); err != nil {
			return b.failed(err)
		}
	}
	return nil
}

// failed marks an open transaction failed, as an error inside one does.
func (b *fakeBackend) failed(err error) error {
	if b.txn == 'T' {
		b.txn = 'E'
	}
	return err
}

func (b *fakeBackend) Prepare(_ context.Context, query string, paramOIDs []uint32) (PreparedStatement, error) {
	b.env.mu.Lock()
	b.env.prepared = append(b.env.prepared, query)
	b.env.mu.Unlock()
	return b.plan(strings.TrimSpace(query), paramOIDs)
}

// plan "parses" one statement.
func (b *fakeBackend) plan(s string, paramOIDs []uint32) (*fakeStmt, error) {
	words := strings.Fields(strings.ToLower(s))
	if len(words) == 0 {
		// An empty prepared statement executes to EmptyQueryResponse, as in PostgreSQL.
		return &fakeStmt{b: b, kind: "empty"}, nil
	}
	st := &fakeStmt{b: b, kind: words[0]}
	intCol := []Column{{Name: "n", TypeOID: oidInt4, TypeSize: 4}}
	switch st.kind {
	case "select":
		if len(words) != 2 || words[1] != "1" {
			return nil, syntaxError(s)
		}
		st.kind, st.n, st.cols = "rows", 1, []Column{{Name: "?column?", TypeOID: oidInt4, TypeSize: 4}}
	case "rows", "big":
		if len(words) != 2 {
			return nil, syntaxError(s)
		}
		n, err := strconv.Atoi(words[1])
		if err != nil || (b.env.maxRows > 0 && n > b.env.maxRows) {
			return nil, syntaxError(s)
		}
		st.n, st.cols = n, intCol
		if st.kind == "big" {
			st.cols = []Column{{Name: "v", TypeOID: oidText, TypeSize: -1}}
		}
	case "echo":
		n := len(words) - 1
		st.params = make([]uint32, n)
		for i := range n {
			st.params[i] = oidText
			if i < len(paramOIDs) && paramOIDs[i] != 0 {
				st.params[i] = paramOIDs[i]
			}
			st.cols = append(st.cols, Column{Name: fmt.Sprintf("p%d", i+1), TypeOID: st.params[i], TypeSize: -1})
		}
	case "copyout":
		if len(words) != 2 {
			return nil, syntaxError(s)
		}
		n, err := strconv.Atoi(words[1])
		if err != nil {
			return nil, syntaxError(s)
		}
		st.n = n
	case "insert", "begin", "commit", "rollback", "notice", "block", "panic", "copyin":
	default:
		return nil, syntaxError(s)
	}
	return st, nil
}

func syntaxError(s string) error {
	e := pgerror.New(pgerror.CodeSyntaxError, "syntax error at or near %q", strings.Fields(s + " x")[0])
	e.Detail, e.Hint, e.Position = "the fake engine knows few words", "try select 1", 1
	return e
}

type fakeStmt struct {
	b      *fakeBackend
	kind   string
	n      int
	params []uint32
	cols   []Column
}

func (s *fakeStmt) ParamOIDs() []uint32 { return s.params }
func (s *fakeStmt) Columns() []Column   { return s.cols }
func (s *fakeStmt) Close()              {}

func (s *fakeStmt) Bind(_ context.Context, params [][]byte, paramFormats, resultFormats []int16) (Portal, error) {
	p := &fakePortal{st: s}
	for i, c := range s.cols {
		c.Format = formatOf(resultFormats, i)
		p.cols = append(p.cols, c)
	}
	if s.kind == "echo" {
		// Decode each parameter to text, to re-encode it in its result format.
		for i, v := range params {
			if v == nil {
				p.vals = append(p.vals, nil)
				continue
			}
			if s.params[i] == oidInt4 && formatOf(paramFormats, i) == 1 {
				if len(v) != 4 {
					return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresent, "insufficient data left in message")
				}
				v = []byte(strconv.Itoa(int(int32(binary.BigEndian.Uint32(v)))))
			}
			p.vals = append(p.vals, v)
		}
	}
	return p, nil
}

// formatOf applies the Bind message's format-code rule: none = text, one = for all.
func formatOf(codes []int16, i int) int16 {
	switch len(codes) {
	case 0:
		return 0
	case 1:
		return codes[0]
	default:
		return codes[i]
	}
}

type fakePortal struct {
	st   *fakeStmt
	cols []Column
	vals [][]byte // echo's parameters as text
	next int      // rows already sent
	done bool
}

func (p *fakePortal) Columns() []Column { return p.cols }
func (p *fakePortal) Close()            {}

func (p *fakePortal) Execute(ctx context.Context, maxRows int, w ResultWriter) (bool, error) {
	b := p.st.b
	switch p.st.kind {
	case "rows", "big":
		sent := 0
		for p.next < p.st.n {
			if maxRows > 0 && sent == maxRows {
				return true, nil
			}
			p.next++
			sent++
			var v []byte
			if p.st.kind == "big" {
				v = []byte(strings.Repeat("x", 1024))
			} else if p.cols[0].Format == 1 {
				v = binary.BigEndian.AppendUint32(nil, uint32(p.next))
			} else {
				v = []byte(strconv.Itoa(p.next))
			}
			if err := w.Row([][]byte{v}); err != nil {
				return false, err
			}
		}
		return false, w.Complete(fmt.Sprintf("SELECT %d", p.next))
	case "echo":
		row := make([][]byte, len(p.vals))
		for i, v := range p.vals {
			row[i] = v
			if v != nil && p.cols[i].TypeOID == oidInt4 && p.cols[i].Format == 1 {
				n, err := strconv.Atoi(string(v))
				if err != nil {
					return false, pgerror.New(pgerror.CodeInvalidTextRepresent, "invalid input syntax for type integer: %q", v)
				}
				row[i] = binary.BigEndian.AppendUint32(nil, uint32(n))
			}
		}
		if err := w.Row(row); err != nil {
			return false, err
		}
		return false, w.Complete("SELECT 1")
	case "insert":
		if b.txn == 'E' {
			return false, pgerror.New(pgerror.CodeInFailedSQLTransaction, "current transaction is aborted")
		}
		return false, w.Complete("INSERT 0 1")
	case "begin":
		b.txn = 'T'
		return false, w.Complete("BEGIN")
	case "commit", "rollback":
		b.txn = 'I'
		return false, w.Complete(strings.ToUpper(p.st.kind))
	case "notice":
		if err := w.Notice("WARNING", "01000", "careful"); err != nil {
			return false, err
		}
		return false, w.Complete("SELECT 0")
	case "block":
		if b.env.noBlock {
			return false, errors.New("blocking disabled")
		}
		b.env.started <- struct{}{}
		<-ctx.Done()
		// A plain error: the wire server must classify it from the context's cause.
		return false, errors.New("interrupted")
	case "panic":
		panic("boom")
	case "empty":
		return false, w.Empty()
	case "copyin":
		r, err := w.CopyIn(0, []int16{0})
		if err != nil {
			return false, err
		}
		// Read in small pieces, so that data comes from several reads per message.
		var n int
		var seen []byte
		buf := make([]byte, 3)
		for {
			k, err := r.Read(buf)
			n += k
			seen = append(seen, buf[:k]...)
			if strings.Contains(string(seen), "bad") {
				return false, pgerror.New(pgerror.CodeInvalidTextRepresent, "bad data after %d bytes", n)
			}
			if len(seen) > 2 {
				seen = seen[len(seen)-2:]
			}
			if err == io.EOF {
				return false, w.Complete(fmt.Sprintf("COPY %d", n))
			}
			if err != nil {
				return false, err
			}
		}
	case "copyout":
		out, err := w.CopyOut(0, []int16{0})
		if err != nil {
			return false, err
		}
		for i := 1; i <= p.st.n; i++ {
			if _, err := fmt.Fprintf(out, "%d\n", i); err != nil {
				return false, err
			}
		}
		return false, w.Complete(fmt.Sprintf("COPY %d", p.st.n))
	}
	return false, fmt.Errorf("fake: cannot execute %q", p.st.kind)
}
