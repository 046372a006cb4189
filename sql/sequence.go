package sql

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Sequences. A sequence's state is one key in the table key space of its descriptor ID,
// holding a kvpb.CounterState. nextval advances it with an IncrementRequest sent outside
// the statement's transaction, so that values are never handed out twice and never given
// back (PostgreSQL's sequences do not roll back either); setval writes it outside the
// transaction too. A session takes CACHE values at a time and hands them out itself.

// sequenceKey is where a sequence's counter lives.
func sequenceKey(id uint32) []byte { return rowenc.IndexPrefix(id) }

// sessionSequences is a session's sequence state.
type sessionSequences struct {
	// last is, per sequence ID, the value nextval last returned in the session (currval).
	last map[uint32]int64
	// lastSeq is the sequence nextval was last called on (lastval); hasLast says whether
	// there was one.
	lastSeq uint32
	hasLast bool
	// cached are values taken from a sequence and not yet handed out, per sequence ID.
	cached map[uint32]*cachedValues
}

// cachedValues are values a session took from a sequence: next, next+increment, …,
// remaining of them, taken from the sequence at descriptor version version.
type cachedValues struct {
	next, remaining, increment int64
	version                    uint64
}

func (ss *sessionSequences) record(seqID uint32, v int64) {
	if ss.last == nil {
		ss.last = map[uint32]int64{}
	}
	ss.last[seqID] = v
	ss.lastSeq, ss.hasLast = seqID, true
}

// take hands out the next cached value of the sequence, if the session holds one.
func (ss *sessionSequences) take(seq *catalog.Sequence) (int64, bool) {
	c := ss.cached[seq.ID]
	if c == nil || c.remaining == 0 || c.version != seq.Version {
		return 0, false
	}
	v := c.next
	c.remaining--
	if c.remaining > 0 {
		c.next += c.increment
	}
	return v, true
}

func (ss *sessionSequences) store(seq *catalog.Sequence, next, remaining int64) {
	if ss.cached == nil {
		ss.cached = map[uint32]*cachedValues{}
	}
	ss.cached[seq.ID] = &cachedValues{next: next, remaining: remaining, increment: seq.Increment, version: seq.Version}
}

// sequenceTypeBounds are the bounds of CREATE SEQUENCE ... AS type.
func sequenceTypeBounds(typeName string) (types.T, int64, int64, error) {
	if typeName == "" {
		return types.Int8, math.MinInt64, math.MaxInt64, nil
	}
	t, err := types.ParseTypeName(typeName)
	if err != nil {
		return types.T{}, 0, 0, err
	}
	switch t.Width {
	case 16:
		return t, math.MinInt16, math.MaxInt16, nil
	case 32:
		return t, math.MinInt32, math.MaxInt32, nil
	}
	if t.Family == types.IntFamily {
		return t, math.MinInt64, math.MaxInt64, nil
	}
	return types.T{}, 0, 0, pgerror.New(pgerror.CodeInvalidParameterValue, "sequence type must be smallint, integer, or bigint")
}

// sequenceOptions builds a sequence's parameters from CREATE SEQUENCE options, with
// PostgreSQL's defaults and checks, for values of the type named typeName ("" for bigint).
func sequenceOptions(name string, opts []*ast.SequenceOption, typeName string) (*catalog.Sequence, error) {
	typ, typeMin, typeMax, err := sequenceTypeBounds(typeName)
	if err != nil {
		return nil, err
	}
	seq := &catalog.Sequence{Name: name, Increment: 1, Cache: 1}
	var minSet, maxSet, startSet bool
	seen := map[ast.SequenceOptionType]bool{}
	for _, o := range opts {
		kind := o.Tp
		switch kind {
		case ast.SequenceNoMinValue:
			kind = ast.SequenceMinValue
		case ast.SequenceNoMaxValue:
			kind = ast.SequenceMaxValue
		case ast.SequenceNoCache:
			kind = ast.SequenceCache
		case ast.SequenceNoCycle:
			kind = ast.SequenceCycle
		}
		if seen[kind] {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "conflicting or redundant options")
		}
		seen[kind] = true
		switch o.Tp {
		case ast.SequenceOptionIncrementBy:
			seq.Increment = o.IntValue
		case ast.SequenceStartWith:
			seq.Start, startSet = o.IntValue, true
		case ast.SequenceMinValue:
			seq.Min, minSet = o.IntValue, true
		case ast.SequenceMaxValue:
			seq.Max, maxSet = o.IntValue, true
		case ast.SequenceCache:
			seq.Cache = o.IntValue
			if seq.Cache <= 0 {
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "CACHE (%d) must be greater than zero", seq.Cache)
			}
		case ast.SequenceCycle:
			seq.Cycle = true
		case ast.SequenceNoMinValue, ast.SequenceNoMaxValue, ast.SequenceNoCache, ast.SequenceNoCycle:
		default:
			return nil, pgerror.Unsupported("this sequence option")
		}
	}
	if seq.Increment == 0 {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "INCREMENT must not be zero")
	}
	if !minSet {
		seq.Min = typeMin
		if seq.Increment > 0 {
			seq.Min = 1
		}
	}
	if !maxSet {
		seq.Max = typeMax
		if seq.Increment < 0 {
			seq.Max = -1
		}
	}
	if seq.Min < typeMin || seq.Min > typeMax {
		return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "MINVALUE (%d) is out of range for sequence data type %s", seq.Min, typ.String())
	}
	if seq.Max < typeMin || seq.Max > typeMax {
		return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "MAXVALUE (%d) is out of range for sequence data type %s", seq.Max, typ.String())
	}
	if seq.Min >= seq.Max {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "MINVALUE (%d) must be less than MAXVALUE (%d)", seq.Min, seq.Max)
	}
	if !startSet {
		seq.Start = seq.Min
		if seq.Increment < 0 {
			seq.Start = seq.Max
		}
	}
	if seq.Start < seq.Min {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "START value (%d) cannot be less than MINVALUE (%d)", seq.Start, seq.Min)
	}
	if seq.Start > seq.Max {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "START value (%d) cannot be greater than MAXVALUE (%d)", seq.Start, seq.Max)
	}
	return seq, nil
}

type createSequencePlan struct {
	schemaChange
	schema, name string
	seq          *catalog.Sequence // parameters; a copy is stored
	ifNotExists  bool
}

func (s *Session) planCreateSequence(n *ast.CreateSequenceStmt, p *prepared) (plan, error) {
	if len(n.TblOptions) > 0 {
		return nil, pgerror.Unsupported("table options on a sequence")
	}
	typeName := ""
	if p.stmt.DDL != nil {
		typeName = p.stmt.DDL.SequenceType
	}
	seq, err := sequenceOptions(n.Name.Name.O, n.SeqOptions, typeName)
	if err != nil {
		return nil, err
	}
	return &createSequencePlan{schema: n.Name.Schema.O, name: n.Name.Name.O, seq: seq, ifNotExists: n.IfNotExists}, nil
}

func (p *createSequencePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	db, sc, err := s.creationSchema(ctx, x.txn, p.schema)
	if err != nil {
		return nil, err
	}
	if err := s.checkCreateIn(ctx, x.txn, db, sc); err != nil {
		return nil, err
	}
	seq := *p.seq
	seq.DatabaseID, seq.SchemaID = db.ID, sc.ID
	seq.ACL = &privilege.ACL{Owner: s.user}
	var notices []notice
	if err := s.srv.cat.CreateSequence(ctx, x.txn, &seq); err != nil {
		if !(p.ifNotExists && pgerror.Code(err) == pgerror.CodeDuplicateTable) {
			return nil, err
		}
		notices = append(notices, notice{Code: pgerror.CodeDuplicateTable, Message: fmt.Sprintf("relation %q already exists, skipping", p.name)})
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "CREATE SEQUENCE", notices: notices}, nil
}

// checkCreateIn requires the privilege to create a relation in schema sc of db: CREATE on
// the database for public (as before schemas), ownership for other schemas.
func (s *Session) checkCreateIn(ctx context.Context, t *txn.Txn, db *catalog.Database, sc *catalog.Schema) error {
	if sc.IsPublic() {
		return s.checkDatabase(ctx, t, db, privilege.Create)
	}
	ok, err := s.owns(ctx, t, sc.Privileges())
	if err != nil || ok {
		return err
	}
	return pgerror.New(CodeInsufficientPrivilege, "permission denied for schema %s", sc.Name)
}

type dropSequencePlan struct {
	schemaChange
	names    []*ast.TableName
	ifExists bool
	cascade  bool
}

func (p *dropSequencePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	var notices []notice
	for _, tn := range p.names {
		seq, err := s.lookupSequence(ctx, x.txn, tn.Schema.O, tn.Name.O, 0)
		if err != nil {
			if pgerror.Code(err) == pgerror.CodeUndefinedTable {
				if p.ifExists {
					notices = append(notices, notice{Code: pgerror.CodeUndefinedTable, Message: fmt.Sprintf("sequence %q does not exist, skipping", tn.Name.O)})
					continue
				}
				return nil, pgerror.New(pgerror.CodeUndefinedTable, "sequence %q does not exist", tn.Name.O)
			}
			return nil, err
		}
		if ok, err := s.owns(ctx, x.txn, seq.Privileges()); err != nil {
			return nil, err
		} else if !ok {
			return nil, pgerror.New(CodeInsufficientPrivilege, "must be owner of sequence %s", seq.Name)
		}
		if o := seq.OwnedBy; o != nil {
			owner, err := s.srv.cat.TableByID(ctx, x.txn, o.TableID)
			if err != nil {
				return nil, err
			}
			if owner != nil {
				col, _ := owner.ColumnByID(o.ColumnID)
				if !p.cascade {
					return nil, pgerror.New(pgerror.CodeDependentObjects, "cannot drop sequence %s because other objects depend on it", seq.Name).
						WithDetail(fmt.Sprintf("default value for column %s of table %s depends on sequence %s", col.Name, owner.Name, seq.Name)).
						WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
				}
				// CASCADE drops the default that draws from it.
				nt := cloneTable(owner)
				if c, ok := nt.ColumnByID(o.ColumnID); ok {
					c.Default, c.Identity = "", ""
				}
				nt.OwnedSequences = removeOwnedSequence(nt.OwnedSequences, seq.ID)
				if err := s.srv.cat.UpdateTable(ctx, x.txn, nt, ""); err != nil {
					return nil, err
				}
				notices = append(notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: fmt.Sprintf("drop cascades to default value for column %s of table %s", col.Name, owner.Name)})
			}
		}
		if err := dropSequence(ctx, x.txn, s.srv.cat, seq); err != nil {
			return nil, err
		}
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "DROP SEQUENCE", notices: notices}, nil
}

func removeOwnedSequence(owned []catalog.OwnedSequence, id uint32) []catalog.OwnedSequence {
	var out []catalog.OwnedSequence
	for _, o := range owned {
		if o.SequenceID != id {
			out = append(out, o)
		}
	}
	return out
}

// dropSequence removes a sequence's descriptor and its counter in t.
func dropSequence(ctx context.Context, t *txn.Txn, cat *catalog.Catalog, seq *catalog.Sequence) error {
	if err := cat.DropSequence(ctx, t, seq); err != nil {
		return err
	}
	start, end := rowenc.TableSpan(seq.ID)
	b := &txn.Batch{}
	b.DelRange(start, end)
	return t.Run(ctx, b)
}

// sequenceFuncs compiles the sequence functions the dialect renamed meridian_nextval and
// so on; ok is false for any other function.
func (c *compiler) sequenceFuncs(n *ast.FuncCallExpr, name string) (*scalar, bool, error) {
	fn, ok := strings.CutPrefix(name, pgdialect.SequenceFunctionPrefix)
	if !ok {
		return nil, false, nil
	}
	var want int
	switch fn {
	case "nextval", "currval":
		want = 1
	case "setval":
		if len(n.Args) == 3 {
			want = 3
		} else {
			want = 2
		}
	case "lastval":
		want = 0
	default:
		return nil, false, nil
	}
	if len(n.Args) != want {
		return nil, true, pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d argument(s) does not exist", fn, len(n.Args))
	}
	var args []*scalar
	for i, a := range n.Args {
		want := types.String
		switch {
		case fn == "setval" && i == 1:
			want = types.Int8
		case fn == "setval" && i == 2:
			want = types.Bool
		}
		arg, err := c.compileWant(a, want)
		if err != nil {
			return nil, true, err
		}
		args = append(args, arg)
	}
	argValue := func(ec *evalCtx, row []types.Datum, i int, t types.T) (types.Datum, error) {
		v, err := args[i].eval(ec, row)
		if err != nil || v == nil {
			return nil, err
		}
		from := args[i].typ
		if args[i].untyped {
			from = types.String
		}
		if from == t {
			return v, nil
		}
		return types.Cast(v, from, t)
	}
	return &scalar{typ: types.Int8, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		if fn == "lastval" {
			return ec.session.lastval(ec)
		}
		nameV, err := argValue(ec, row, 0, types.String)
		if err != nil || nameV == nil {
			return nil, err
		}
		seq, err := ec.session.sequenceNamed(ec, nameV.(string))
		if err != nil {
			return nil, err
		}
		switch fn {
		case "nextval":
			return ec.session.nextval(ec, seq)
		case "currval":
			v, ok := ec.session.sequences.last[seq.ID]
			if !ok {
				return nil, pgerror.New(pgerror.CodeObjectNotInPrereqState, "currval of sequence %q is not yet defined in this session", seq.Name)
			}
			return v, nil
		}
		val, err := argValue(ec, row, 1, types.Int8)
		if err != nil || val == nil {
			return nil, err
		}
		called := true
		if len(args) == 3 {
			cv, err := argValue(ec, row, 2, types.Bool)
			if err != nil || cv == nil {
				return nil, err
			}
			called = cv.(bool)
		}
		return ec.session.setval(ec, seq, val.(int64), called)
	}}, true, nil
}

// statementTxn is the transaction the expressions run in, nil where none runs.
func (ec *evalCtx) statementTxn() *txn.Txn {
	if ec.x == nil {
		return nil
	}
	return ec.x.txn
}

// sequenceNamed resolves the sequence a sequence function's text argument names, in the
// statement's transaction.
func (s *Session) sequenceNamed(ec *evalCtx, text string) (*catalog.Sequence, error) {
	if ec.statementTxn() == nil {
		return nil, pgerror.Unsupported("sequence functions in this context")
	}
	parts, err := parseQualifiedName(text)
	if err != nil {
		return nil, err
	}
	schema, name := "", parts[len(parts)-1]
	switch len(parts) {
	case 2:
		schema = parts[0]
	case 3:
		if parts[0] != s.database {
			return nil, pgerror.Unsupported("cross-database references")
		}
		schema = parts[1]
	}
	return s.lookupSequence(ec.ctx, ec.statementTxn(), schema, name, s.cacheVersion())
}

// nextval hands out the sequence's next value: from the session's cache, or by taking
// CACHE values from the counter.
func (s *Session) nextval(ec *evalCtx, seq *catalog.Sequence) (types.Datum, error) {
	if s.txnReadOnly || s.txn == nil && s.vars["default_transaction_read_only"] == "on" {
		return nil, pgerror.New(pgerror.CodeReadOnlySQLTransaction, "cannot execute nextval() in a read-only transaction")
	}
	v, ok := s.sequences.take(seq)
	if !ok {
		resp, err := s.srv.db.Increment(ec.ctx, &kvpb.IncrementRequest{
			Key: sequenceKey(seq.ID), Increment: seq.Increment, Count: max(seq.Cache, 1),
			Start: seq.Start, Min: seq.Min, Max: seq.Max, Cycle: seq.Cycle,
		})
		if err != nil {
			return nil, err
		}
		if resp.Count == 0 {
			if seq.Increment > 0 {
				return nil, pgerror.New(pgerror.CodeSequenceGeneratorLimit, "nextval: reached maximum value of sequence %q (%d)", seq.Name, seq.Max)
			}
			return nil, pgerror.New(pgerror.CodeSequenceGeneratorLimit, "nextval: reached minimum value of sequence %q (%d)", seq.Name, seq.Min)
		}
		v = resp.First
		if resp.Count > 1 {
			s.sequences.store(seq, resp.First+seq.Increment, resp.Count-1)
		}
	}
	s.sequences.record(seq.ID, v)
	return v, nil
}

// setval sets the sequence's counter outside the transaction: the next nextval returns v
// when called is false, the value after v when it is true.
func (s *Session) setval(ec *evalCtx, seq *catalog.Sequence, v int64, called bool) (types.Datum, error) {
	if s.txnReadOnly || s.txn == nil && s.vars["default_transaction_read_only"] == "on" {
		return nil, pgerror.New(pgerror.CodeReadOnlySQLTransaction, "cannot execute setval() in a read-only transaction")
	}
	if v < seq.Min || v > seq.Max {
		return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "setval: value %d is out of bounds for sequence %q (%d..%d)", v, seq.Name, seq.Min, seq.Max)
	}
	if err := s.srv.db.PutNonTxn(ec.ctx, sequenceKey(seq.ID), kvpb.CounterState{Value: v, Called: called}.Encode()); err != nil {
		return nil, err
	}
	delete(s.sequences.cached, seq.ID)
	if called {
		s.sequences.record(seq.ID, v)
	}
	return v, nil
}

// lastval is the value nextval last returned in the session, from whichever sequence.
func (s *Session) lastval(ec *evalCtx) (types.Datum, error) {
	if !s.sequences.hasLast {
		return nil, pgerror.New(pgerror.CodeObjectNotInPrereqState, "lastval is not yet defined in this session")
	}
	if ec.statementTxn() != nil {
		// PostgreSQL fails once the sequence is gone.
		if seq, err := s.srv.cat.SequenceByID(ec.ctx, ec.statementTxn(), s.sequences.lastSeq); err != nil {
			return nil, err
		} else if seq == nil {
			return nil, pgerror.New(pgerror.CodeObjectNotInPrereqState, "lastval is not yet defined in this session")
		}
	}
	return s.sequences.last[s.sequences.lastSeq], nil
}

// serialColumn describes a SERIAL or identity column of a table being created or altered:
// the owned sequence to make and the default that draws from it.
type serialColumn struct {
	colName  string
	identity string // catalog.IdentityAlways / IdentityByDefault, "" for SERIAL
	seq      *catalog.Sequence
}

// serialTypes maps the SERIAL pseudo-types to their integer types.
var serialTypes = map[string]string{
	"serial": "int4", "serial4": "int4", "bigserial": "int8", "serial8": "int8", "smallserial": "int2", "serial2": "int2",
}

// identityOptions parses the options of GENERATED … AS IDENTITY (options), given as the
// text of sequence options, for a column of type typ.
func identityOptions(seqName string, typ types.T, opts string) (*catalog.Sequence, error) {
	var list []*ast.SequenceOption
	if strings.TrimSpace(opts) != "" {
		node, err := parser.ParseOne("CREATE SEQUENCE s "+opts, opts)
		if err != nil {
			return nil, err
		}
		cs, ok := node.(*ast.CreateSequenceStmt)
		if !ok {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "invalid identity options")
		}
		list = cs.SeqOptions
	}
	return sequenceOptions(seqName, list, typ.String())
}

// serialSequenceName is PostgreSQL's name for the sequence of column col of table tbl.
func serialSequenceName(tbl, col string) string { return tbl + "_" + col + "_seq" }

// createOwnedSequences creates the sequences of the serial columns of tbl (already stored,
// with its ID, in the schema named schema) and records them as owned by it, in t. A name
// taken already gets a number appended, as in PostgreSQL.
func (s *Session) createOwnedSequences(ctx context.Context, t *txn.Txn, tbl *catalog.Table, schema string, serials []serialColumn) error {
	for _, sc := range serials {
		col, _, ok := tbl.ColumnByName(sc.colName)
		if !ok {
			return fmt.Errorf("serial column %q vanished", sc.colName)
		}
		seq := *sc.seq
		seq.DatabaseID, seq.SchemaID = tbl.DatabaseID, tbl.SchemaID
		seq.ACL = tbl.ACL
		seq.OwnedBy = &catalog.SequenceOwner{TableID: tbl.ID, ColumnID: col.ID}
		base := seq.Name
		for i := 1; ; i++ {
			err := s.srv.cat.CreateSequence(ctx, t, &seq)
			if err == nil {
				break
			}
			if pgerror.Code(err) != pgerror.CodeDuplicateTable || i >= 100 {
				return err
			}
			seq.Name = base + strconv.Itoa(i)
		}
		name := quoteIdentIfNeeded(seq.Name)
		if schema != catalog.PublicSchema {
			// Qualified, so that the default does not depend on search_path.
			name = quoteIdentIfNeeded(schema) + "." + name
		}
		col.Default = fmt.Sprintf("%snextval(%s)", pgdialect.SequenceFunctionPrefix, quoteSQLString(name))
		col.Identity = sc.identity
		tbl.OwnedSequences = append(tbl.OwnedSequences, catalog.OwnedSequence{SequenceID: seq.ID, ColumnID: col.ID})
	}
	return nil
}

func quoteSQLString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
