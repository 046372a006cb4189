package sql

import (
	"context"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// SET, RESET, SHOW and the functions set_config() and current_setting().

// setPlan changes session settings.
type setPlan struct {
	noSchemaChange
	vars []setting
	// local: SET LOCAL, whose changes last until the end of the transaction.
	local bool
	// reset: the statement was RESET (its tag says so); resetAll: RESET ALL.
	reset, resetAll bool
}

// setting is one assignment of SET: a value, or the setting's reset value.
type setting struct {
	key   string
	v     *sessionVar
	val   string
	reset bool
}

func (p *setPlan) columns() []resultColumn { return nil }

func (p *setPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	res := &result{tag: "SET"}
	warn := func(msg string) {
		for _, n := range res.notices {
			if n.Message == msg {
				return
			}
		}
		res.notices = append(res.notices, notice{Code: pgerror.CodeNoActiveSQLTransaction, Message: msg})
	}
	if p.reset {
		res.tag = "RESET"
	}
	if p.resetAll {
		s.resetAllVars()
	}
	for _, st := range p.vars {
		if st.v.txn {
			if x.autocommit {
				// As PostgreSQL: outside a transaction block there is nothing to change.
				warn("SET TRANSACTION can only be used in transaction blocks")
				continue
			}
			val := st.val
			if st.reset {
				val, _ = s.resetValue(st.key)
			}
			val, err := s.checkVar(st.key, st.v, val)
			if err != nil {
				return nil, err
			}
			if err := s.setTxnVar(st.key, val); err != nil {
				return nil, err
			}
			continue
		}
		if p.local && x.autocommit {
			warn("SET LOCAL can only be used in transaction blocks")
			continue
		}
		if err := s.setVarValue(st, p.local); err != nil {
			return nil, err
		}
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// setVarValue checks and assigns one setting of SET or RESET.
func (s *Session) setVarValue(st setting, local bool) error {
	if st.reset {
		val, _ := s.resetValue(st.key)
		s.assignVar(st.key, val, local)
		return nil
	}
	val, err := s.checkVar(st.key, st.v, st.val)
	if err != nil {
		return err
	}
	s.assignVar(st.key, val, local)
	return nil
}

// resetAllVars is RESET ALL: every setting a session may change goes back to its value at
// the start of the session.
func (s *Session) resetAllVars() {
	for key := range s.vars {
		v, known := sessionVars[key]
		if known && (v.readOnly || v.txn || v.show != nil) {
			continue
		}
		if val, _ := s.resetValue(key); s.vars[key] != val {
			s.assignVar(key, val, false)
		}
	}
}

// planSet plans SET (SESSION or LOCAL), RESET and RESET ALL; st carries what tidb's SET
// cannot (LOCAL, ALL).
func (s *Session) planSet(n *ast.SetStmt, st pgdialect.Statement) (plan, error) {
	if len(n.Variables) == 1 && n.Variables[0].IsGlobal {
		return planClusterSetting(n.Variables[0])
	}
	p := &setPlan{local: st.SetLocal, reset: st.Reset, resetAll: st.ResetAll}
	if p.resetAll {
		return p, nil
	}
	for _, v := range n.Variables {
		if v.IsGlobal {
			return nil, pgerror.Unsupported("SET GLOBAL")
		}
		key, sv, err := lookupVar(v.Name)
		if err != nil {
			return nil, err
		}
		if sv.readOnly {
			return nil, pgerror.New(CodeCantChangeRuntimeParam, "parameter %q cannot be changed", key)
		}
		set := setting{key: key, v: sv}
		switch e := v.Value.(type) {
		case *parser.Value:
			set.val = e.GetString()
		case *ast.DefaultExpr:
			set.reset = true
		case *ast.ColumnNameExpr:
			set.val = e.Name.Name.O
		default:
			if v.Value != nil {
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter %q", key)
			}
			set.reset = true
		}
		p.vars = append(p.vars, set)
	}
	return p, nil
}

// CodeCantChangeRuntimeParam is PostgreSQL's SQLSTATE for setting a read-only parameter.
const CodeCantChangeRuntimeParam = "55P02"

// planShowVar answers SHOW name.
func (s *Session) planShowVar(name string) (plan, error) {
	key, v, err := lookupVar(name)
	if err != nil {
		return nil, err
	}
	return &showPlan{cols: textColumns(v.name), rows: func(context.Context, *execCtx) ([][]types.Datum, error) {
		val, err := s.currentSetting(key)
		if err != nil {
			return nil, err
		}
		return [][]types.Datum{{val}}, nil
	}}, nil
}

// currentSetting is a setting's value as SHOW and current_setting() report it; a custom
// setting must have been set.
func (s *Session) currentSetting(key string) (string, error) {
	if _, known := sessionVars[key]; !known {
		if _, set := s.vars[key]; !set {
			return "", errUnknownVar(key)
		}
	}
	return s.showVarValue(key), nil
}

// planShowAll answers SHOW ALL: every setting, with its description, by name.
func (s *Session) planShowAll() plan {
	return &showPlan{cols: textColumns("name", "setting", "description"), rows: func(context.Context, *execCtx) ([][]types.Datum, error) {
		keys := make([]string, 0, len(sessionVars))
		for key := range sessionVars {
			keys = append(keys, key)
		}
		for key := range s.vars {
			if _, known := sessionVars[key]; !known {
				keys = append(keys, key)
			}
		}
		sort.Strings(keys)
		rows := make([][]types.Datum, len(keys))
		for i, key := range keys {
			name, desc := key, ""
			if v, ok := sessionVars[key]; ok {
				name, desc = v.name, v.description
			}
			rows[i] = []types.Datum{name, s.showVarValue(key), desc}
		}
		return rows, nil
	}}
}

// settingFuncs compiles current_setting(name [, missing_ok]) and set_config(name, value,
// is_local); ok is false for other names. Both run when evaluated, never while compiling:
// set_config changes the session, and what either returns depends on it.
func (c *compiler) settingFuncs(n *ast.FuncCallExpr, name string) (s *scalar, ok bool, err error) {
	switch name {
	case "current_setting":
		s, err = c.currentSettingFunc(n)
	case "set_config":
		s, err = c.setConfigFunc(n)
	default:
		return nil, false, nil
	}
	return s, true, err
}

func (c *compiler) currentSettingFunc(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) < 1 || len(n.Args) > 2 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function current_setting with %d argument(s) does not exist", len(n.Args))
	}
	name, err := c.compileWant(n.Args[0], types.String)
	if err != nil {
		return nil, err
	}
	if name, err = coerce(name, types.String); err != nil {
		return nil, err
	}
	var missingOK *scalar
	if len(n.Args) == 2 {
		if missingOK, err = c.compileWant(n.Args[1], types.Bool); err != nil {
			return nil, err
		}
		if missingOK, err = coerce(missingOK, types.Bool); err != nil {
			return nil, err
		}
	}
	if name.typ.Family != types.StringFamily || missingOK != nil && missingOK.typ.Family != types.BoolFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function current_setting(%s) does not exist", name.typ.String())
	}
	return &scalar{typ: types.String, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		nv, err := name.eval(ec, row)
		if err != nil || nv == nil {
			return nil, err
		}
		val, err := ec.session.currentSetting(strings.ToLower(nv.(string)))
		if err == nil {
			return val, nil
		}
		if missingOK != nil {
			ok, merr := missingOK.eval(ec, row)
			if merr != nil {
				return nil, merr
			}
			if ok == true {
				return nil, nil
			}
		}
		return nil, err
	}}, nil
}

func (c *compiler) setConfigFunc(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) != 3 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function set_config with %d argument(s) does not exist", len(n.Args))
	}
	want := []types.T{types.String, types.String, types.Bool}
	args := make([]*scalar, 3)
	names := make([]string, 3)
	matches := true
	for i, a := range n.Args {
		s, err := c.compileWant(a, want[i])
		if err != nil {
			return nil, err
		}
		if s, err = coerce(s, want[i]); err != nil {
			return nil, err
		}
		args[i], names[i] = s, s.typ.String()
		matches = matches && s.typ.Family == want[i].Family
	}
	if !matches {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function set_config(%s) does not exist", strings.Join(names, ", ")).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	return &scalar{typ: types.String, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		vals := make([]types.Datum, 3)
		for i, a := range args {
			v, err := a.eval(ec, row)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		if vals[0] == nil {
			return nil, pgerror.New(CodeNullValueNotAllowed, "SET requires parameter name")
		}
		s := ec.session
		key, v, err := lookupVar(vals[0].(string))
		if err != nil {
			return nil, err
		}
		if v.readOnly {
			return nil, pgerror.New(CodeCantChangeRuntimeParam, "parameter %q cannot be changed", key)
		}
		if v.txn {
			return nil, pgerror.Unsupported("set_config of " + key)
		}
		set := setting{key: key, v: v, reset: vals[1] == nil}
		if vals[1] != nil {
			set.val = vals[1].(string)
		}
		local := vals[2] == true
		if local && s.txn == nil {
			// Outside a transaction block the change would end with the statement's own
			// transaction: the value is checked and reported, and nothing changes.
			if set.reset {
				val, _ := s.resetValue(key)
				return val, nil
			}
			return s.checkVar(key, v, set.val)
		}
		if err := s.setVarValue(set, local); err != nil {
			return nil, err
		}
		return s.showVarValue(key), nil
	}}, nil
}

// CodeNullValueNotAllowed is PostgreSQL's SQLSTATE for a NULL where none may be.
const CodeNullValueNotAllowed = "22004"
