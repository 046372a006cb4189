package sql

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/wire"
)

// Session settings: SET, SHOW, RESET, SET LOCAL, set_config() and current_setting(), and
// the ParameterStatus messages that keep drivers informed. Every setting has an entry in
// sessionVars; a session holds the values (Session.vars) as SHOW prints them, keyed by the
// lower-case name. Names with a dot (myapp.user_id) are custom settings, which any session
// may set and read, as in PostgreSQL.

// sessionVar describes one session setting.
type sessionVar struct {
	// name is the setting's name as SHOW's column, SHOW ALL and ParameterStatus spell it.
	name        string
	def         string
	description string
	// check validates a value given by SET (or a startup parameter) and returns it as SHOW
	// prints it; nil keeps the value as given. It may read the session's current values.
	check func(s *Session, val string) (string, error)
	// readOnly settings cannot be changed: 55P02.
	readOnly bool
	// reported settings are sent to the client as ParameterStatus at startup and whenever
	// they change.
	reported bool
	// txn marks settings that describe the open transaction (SET applies to it, see
	// setTxnVar) rather than the session.
	txn bool
	// show computes the value SHOW reports, for settings that are not stored.
	show func(s *Session) string
}

// normalized adapts normalizeVar, the check of the transaction and timeout settings.
func normalized(name string) func(*Session, string) (string, error) {
	return func(_ *Session, val string) (string, error) { return normalizeVar(name, val) }
}

// sessionVars are the settings, by lower-case name.
var sessionVars = func() map[string]*sessionVar {
	vars := []*sessionVar{
		{name: "application_name", reported: true, description: "Sets the application name to be reported in statistics and logs."},
		{name: "bytea_output", def: "hex", check: checkByteaOutput, description: "Sets the output format for bytea."},
		{name: "client_encoding", def: "UTF8", reported: true, check: checkClientEncoding, description: "Sets the client's character set encoding."},
		{name: "DateStyle", def: "ISO, MDY", reported: true, check: checkDateStyle, description: "Sets the display format for date and time values."},
		{name: "default_transaction_isolation", def: "serializable", check: normalized("default_transaction_isolation"), description: "Sets the transaction isolation level of each new transaction."},
		{name: "default_transaction_priority", def: "normal", check: normalized("default_transaction_priority"), description: "Sets the priority of each new transaction (low, normal, high)."},
		{name: "default_transaction_read_only", def: "off", reported: true, check: normalized("default_transaction_read_only"), description: "Sets the default read-only status of new transactions."},
		{name: "extra_float_digits", def: "1", check: checkExtraFloatDigits, description: "Sets the number of digits displayed for floating-point values."},
		{name: "integer_datetimes", def: "on", readOnly: true, reported: true, description: "Shows whether datetimes are integer based."},
		{name: "IntervalStyle", def: "postgres", reported: true, check: checkIntervalStyle, description: "Sets the display format for interval values."},
		{name: "is_superuser", readOnly: true, reported: true, show: func(s *Session) string { return onOff(s.superuser()) }, description: "Shows whether the current user is a superuser."},
		{name: "max_identifier_length", def: "63", readOnly: true, description: "Shows the maximum identifier length."},
		{name: "max_index_keys", def: "32", readOnly: true, description: "Shows the maximum number of index keys."},
		{name: "lock_timeout", def: "0", check: normalized("lock_timeout"), description: "Sets the maximum allowed duration of any wait for a lock."},
		{name: "statement_memory_limit", def: defaultStatementMemory, check: normalized("statement_memory_limit"), description: "Sets the most memory one statement's operators may hold (Meridian)."},
		{name: "search_path", def: "public", description: "Sets the schema search order for names that are not schema-qualified."},
		{name: "server_encoding", def: "UTF8", readOnly: true, description: "Shows the server (database) character set encoding."},
		{name: "server_version", def: "16.0", readOnly: true, description: "Shows the server version."},
		{name: "server_version_num", def: "160000", readOnly: true, description: "Shows the server version as an integer."},
		{name: "session_authorization", reported: true, check: checkSessionAuthorization, show: func(s *Session) string { return s.user }, description: "Sets the session user name."},
		{name: "standard_conforming_strings", def: "on", reported: true, check: checkStandardStrings, description: "Causes '...' strings to treat backslashes literally."},
		{name: "statement_timeout", def: "0", check: normalized("statement_timeout"), description: "Sets the maximum allowed duration of any statement."},
		{name: "TimeZone", def: "UTC", reported: true, check: checkTimeZone, description: "Sets the time zone for displaying and interpreting time stamps."},
		{name: "transaction_isolation", def: "serializable", txn: true, check: normalized("transaction_isolation"), description: "Sets the current transaction's isolation level."},
		{name: "transaction_priority", def: "normal", txn: true, check: normalized("transaction_priority"), description: "Sets the current transaction's priority (low, normal, high)."},
		{name: "transaction_read_only", def: "off", txn: true, check: normalized("transaction_read_only"), description: "Sets the current transaction's read-only status."},
	}
	m := make(map[string]*sessionVar, len(vars))
	for _, v := range vars {
		m[strings.ToLower(v.name)] = v
	}
	return m
}()

// reportedVars are the reported settings in the order they are reported.
var reportedVars = func() []string {
	var names []string
	for key, v := range sessionVars {
		if v.reported {
			names = append(names, key)
		}
	}
	sort.Strings(names)
	return names
}()

// defaultVarValues are the settings' defaults, by lower-case name.
func defaultVarValues() map[string]string {
	m := make(map[string]string, len(sessionVars))
	for key, v := range sessionVars {
		if v.show == nil {
			m[key] = v.def
		}
	}
	return m
}

// isCustomVar reports whether name is a custom setting's (it has a dot, like myapp.x).
func isCustomVar(name string) bool { return strings.Contains(name, ".") }

// lookupVar finds a setting by name, in any case.
func lookupVar(name string) (key string, v *sessionVar, err error) {
	key = strings.ToLower(name)
	if v, ok := sessionVars[key]; ok {
		return key, v, nil
	}
	if isCustomVar(key) {
		return key, &sessionVar{name: key}, nil
	}
	return "", nil, errUnknownVar(name)
}

func errUnknownVar(name string) error {
	return pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter %q", strings.ToLower(name))
}

func errInvalidValue(name, val string) *pgerror.Error {
	return pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter %q: %q", name, val)
}

// applyStartupParams applies the startup packet's parameters that name settings, as
// PostgreSQL does (JDBC sends TimeZone, DateStyle and extra_float_digits there), and makes
// them the values RESET returns to. Other parameters (user, database, options, ...) are not
// settings and are left alone.
func (s *Session) applyStartupParams(params map[string]string) error {
	s.vars = defaultVarValues()
	for name, val := range params {
		key, v, err := lookupVar(name)
		if err != nil || isCustomVar(key) || v.txn || v.readOnly {
			continue
		}
		nv, err := s.checkVar(key, v, val)
		if err != nil {
			return err
		}
		s.vars[key] = nv
	}
	s.resetVals = make(map[string]string, len(s.vars))
	for k, v := range s.vars {
		s.resetVals[k] = v
	}
	s.settingsChanged()
	return nil
}

// checkVar validates a new value of a setting.
func (s *Session) checkVar(key string, v *sessionVar, val string) (string, error) {
	if v.check == nil {
		return val, nil
	}
	return v.check(s, val)
}

// resetValue is what RESET (SET ... TO DEFAULT) gives a setting: its value at the start of
// the session.
func (s *Session) resetValue(key string) (string, bool) {
	if v, ok := s.resetVals[key]; ok {
		return v, true
	}
	v, ok := sessionVars[key]
	if !ok {
		return "", false // a custom setting: RESET empties it, as in PostgreSQL
	}
	return v.def, true
}

// showVarValue is a setting's value as SHOW and current_setting() report it.
func (s *Session) showVarValue(key string) string {
	if v, ok := sessionVars[key]; ok && v.show != nil {
		return v.show(s)
	}
	return s.showVar(key)
}

// varChange is a setting's state within the open transaction, as PostgreSQL keeps it: the
// value before the transaction, and how it was changed since.
type varChange struct {
	prior string // the value when the transaction began; "" with !existed
	// existed is false for a custom setting the transaction created.
	existed bool
	state   varChangeState
	// masked is the value a SET LOCAL hid after a SET in the same transaction: the value
	// the commit keeps.
	masked string
}

type varChangeState int

const (
	changedBySet      varChangeState = iota // SET: kept at commit
	changedByLocal                          // SET LOCAL: undone at commit
	changedBySetLocal                       // SET, then SET LOCAL: the SET's value at commit
)

// assignVar sets a setting for the session (SET) or, with local, until the end of the
// transaction (SET LOCAL), to val, the value as checked. Inside a transaction, the change
// is undone if it rolls back.
func (s *Session) assignVar(key, val string, local bool) {
	if s.txn != nil {
		if s.txnVars == nil {
			s.txnVars = map[string]*varChange{}
		}
		cur, existed := s.vars[key]
		ch, ok := s.txnVars[key]
		switch {
		case !ok:
			ch = &varChange{prior: cur, existed: existed, state: changedBySet}
			if local {
				ch.state = changedByLocal
			}
			s.txnVars[key] = ch
		case !local:
			ch.state, ch.masked = changedBySet, ""
		case ch.state == changedBySet:
			ch.state, ch.masked = changedBySetLocal, cur
		}
	}
	s.vars[key] = val
	s.settingsChanged()
}

// endTxnVars settles the settings the transaction changed as it ends: SET values stay if it
// committed; SET LOCAL values, and everything if it rolled back, go back.
func (s *Session) endTxnVars(committed bool) {
	if len(s.txnVars) == 0 {
		return
	}
	for key, ch := range s.txnVars {
		val, keep := ch.prior, ch.existed
		switch {
		case committed && ch.state == changedBySet:
			continue
		case committed && ch.state == changedBySetLocal:
			val, keep = ch.masked, true
		}
		if keep {
			s.vars[key] = val
		} else {
			delete(s.vars, key)
		}
	}
	s.txnVars = nil
	s.settingsChanged()
}

// settingsChanged drops what is derived from the settings.
func (s *Session) settingsChanged() { s.typeSettingsCache = nil }

// typeSettings are the settings that change how values convert (TimeZone,
// extra_float_digits, bytea_output), for the types package.
func (s *Session) typeSettings() *types.Settings {
	if s.typeSettingsCache != nil {
		return s.typeSettingsCache
	}
	st := &types.Settings{Location: time.UTC, ExtraFloatDigits: 1}
	if _, loc, err := parseTimeZoneSetting(s.vars["timezone"]); err == nil {
		st.Location = loc
	}
	if n, err := strconv.Atoi(s.vars["extra_float_digits"]); err == nil {
		st.ExtraFloatDigits = n
	}
	st.ByteaEscape = s.vars["bytea_output"] == "escape"
	s.typeSettingsCache = st
	return st
}

// settings are the session's conversion settings, or the defaults without a session (as when
// a constant is folded while compiling).
func (ec *evalCtx) settings() *types.Settings {
	if ec == nil || ec.session == nil {
		return types.DefaultSettings
	}
	return ec.session.typeSettings()
}

// StartupParameters implements wire.ParameterReporter.
func (s *Session) StartupParameters() []wire.Parameter {
	s.reported = make(map[string]string, len(reportedVars))
	out := make([]wire.Parameter, 0, len(reportedVars))
	for _, key := range reportedVars {
		val := s.showVarValue(key)
		s.reported[key] = val
		out = append(out, wire.Parameter{Name: sessionVars[key].name, Value: val})
	}
	return out
}

// ChangedParameters implements wire.ParameterReporter.
func (s *Session) ChangedParameters() []wire.Parameter {
	var out []wire.Parameter
	for _, key := range reportedVars {
		val := s.showVarValue(key)
		if last, ok := s.reported[key]; ok && last == val {
			continue
		}
		if s.reported == nil {
			s.reported = map[string]string{}
		}
		s.reported[key] = val
		out = append(out, wire.Parameter{Name: sessionVars[key].name, Value: val})
	}
	return out
}

var _ wire.ParameterReporter = (*Session)(nil)

// parseBool reads a Boolean setting as PostgreSQL does: on/off, true/false, yes/no, 1/0 and
// their unambiguous prefixes.
func parseBoolSetting(val string) (bool, bool) {
	v := strings.ToLower(strings.TrimSpace(val))
	switch {
	case v == "":
		return false, false
	case v == "on" || v == "1" || strings.HasPrefix("true", v) || strings.HasPrefix("yes", v):
		return true, true
	case len(v) >= 2 && strings.HasPrefix("off", v) || v == "0" || strings.HasPrefix("false", v) || strings.HasPrefix("no", v):
		return false, true
	}
	return false, false
}

func checkStandardStrings(_ *Session, val string) (string, error) {
	on, ok := parseBoolSetting(val)
	switch {
	case !ok:
		return "", pgerror.New(pgerror.CodeInvalidParameterValue, "parameter \"standard_conforming_strings\" requires a Boolean value")
	case !on:
		return "", pgerror.New(pgerror.CodeFeatureNotSupported, "standard_conforming_strings = off is not supported").
			WithHint("Meridian reads backslashes in '...' strings literally; use E'...' strings for escapes.")
	}
	return "on", nil
}

func checkByteaOutput(_ *Session, val string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(val)); v {
	case "hex", "escape":
		return v, nil
	}
	return "", errInvalidValue("bytea_output", val).WithHint("Available values: escape, hex.")
}

func checkIntervalStyle(_ *Session, val string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(val)); v {
	case "postgres":
		return v, nil
	case "postgres_verbose", "sql_standard", "iso_8601":
		return "", pgerror.New(pgerror.CodeFeatureNotSupported, "IntervalStyle %s is not supported", v).
			WithHint("Meridian writes intervals in the postgres style only.")
	}
	return "", errInvalidValue("IntervalStyle", val).WithHint("Available values: postgres, postgres_verbose, sql_standard, iso_8601.")
}

func checkExtraFloatDigits(_ *Session, val string) (string, error) {
	n, err := strconv.Atoi(strings.TrimSpace(val))
	if err != nil {
		return "", errInvalidValue("extra_float_digits", val)
	}
	if n < -15 || n > 3 {
		return "", pgerror.New(pgerror.CodeInvalidParameterValue, "%d is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)", n)
	}
	return strconv.Itoa(n), nil
}

// checkSessionAuthorization accepts only the session's own user: changing the user a
// session acts as (SET SESSION AUTHORIZATION) is not supported.
func checkSessionAuthorization(s *Session, val string) (string, error) {
	if val == s.user || strings.EqualFold(val, "default") {
		return val, nil
	}
	return "", pgerror.Unsupported("SET SESSION AUTHORIZATION")
}

// encodings are PostgreSQL's encoding names, by their forms with letters lower-cased and
// everything but letters and digits dropped (as PostgreSQL compares them), including its
// aliases.
var encodings = func() map[string]string {
	m := map[string]string{}
	for _, name := range []string{"BIG5", "EUC_CN", "EUC_JIS_2004", "EUC_JP", "EUC_KR", "EUC_TW", "GB18030", "GBK",
		"ISO_8859_5", "ISO_8859_6", "ISO_8859_7", "ISO_8859_8", "JOHAB", "KOI8R", "KOI8U", "LATIN1", "LATIN2",
		"LATIN3", "LATIN4", "LATIN5", "LATIN6", "LATIN7", "LATIN8", "LATIN9", "LATIN10", "MULE_INTERNAL", "SJIS",
		"SHIFT_JIS_2004", "SQL_ASCII", "UHC", "UTF8", "WIN866", "WIN874", "WIN1250", "WIN1251", "WIN1252",
		"WIN1253", "WIN1254", "WIN1255", "WIN1256", "WIN1257", "WIN1258"} {
		m[cleanEncodingName(name)] = name
	}
	for alias, name := range map[string]string{"unicode": "UTF8", "utf-8": "UTF8", "alt": "WIN866", "koi8": "KOI8R",
		"mskanji": "SJIS", "shiftjis": "SJIS", "win": "WIN1251", "tcvn": "WIN1258", "iso88591": "LATIN1",
		"iso88592": "LATIN2", "iso88593": "LATIN3", "iso88594": "LATIN4", "iso88599": "LATIN5",
		"iso885910": "LATIN6", "iso885913": "LATIN7", "iso885914": "LATIN8", "iso885915": "LATIN9",
		"iso885916": "LATIN10", "cp1252": "WIN1252", "windows1252": "WIN1252", "cp1251": "WIN1251"} {
		m[cleanEncodingName(alias)] = name
	}
	return m
}()

func cleanEncodingName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// encodingName is the encoding name names, if PostgreSQL knows it.
func encodingName(name string) (string, bool) {
	enc, ok := encodings[cleanEncodingName(name)]
	return enc, ok
}

// checkClientEncoding accepts UTF8 (by any of its names): Meridian converts to no other.
func checkClientEncoding(_ *Session, val string) (string, error) {
	enc, ok := encodingName(val)
	switch {
	case !ok:
		return "", errInvalidValue("client_encoding", val)
	case enc != "UTF8":
		return "", pgerror.New(pgerror.CodeFeatureNotSupported, "conversion between %s and UTF8 is not supported", enc)
	}
	return enc, nil
}

// checkDateStyle reads DateStyle as PostgreSQL does: an output style (ISO, SQL, Postgres,
// German) and an input field order (MDY, DMY, YMD and their synonyms), either of which may
// be omitted to keep the current one. Meridian writes dates in ISO style only; the field
// order only matters for input Meridian does not read (such as 01/02/2024), so any is
// accepted and shown.
func checkDateStyle(s *Session, val string) (string, error) {
	cur := strings.Split(s.vars["datestyle"], ", ")
	style, order := "ISO", "MDY"
	if len(cur) == 2 {
		style, order = cur[0], cur[1]
	}
	var newStyle, newOrder string
	conflict := func(kind *string, v string) error {
		if *kind != "" && *kind != v {
			return errInvalidValue("DateStyle", val).WithDetail(`Conflicting "datestyle" specifications.`)
		}
		*kind = v
		return nil
	}
	words := strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(words) == 0 {
		return "", errInvalidValue("DateStyle", val)
	}
	for _, w := range words {
		var err error
		switch strings.ToLower(w) {
		case "iso":
			err = conflict(&newStyle, "ISO")
		case "sql":
			err = conflict(&newStyle, "SQL")
		case "postgres":
			err = conflict(&newStyle, "Postgres")
		case "german":
			err = conflict(&newStyle, "German")
		case "ymd":
			err = conflict(&newOrder, "YMD")
		case "dmy", "euro", "european":
			err = conflict(&newOrder, "DMY")
		case "mdy", "us", "noneuro", "noneuropean":
			err = conflict(&newOrder, "MDY")
		case "default":
			err = firstErr(conflict(&newStyle, "ISO"), conflict(&newOrder, "MDY"))
		default:
			return "", errInvalidValue("DateStyle", val).WithDetail(`Unrecognized key word: "` + w + `".`)
		}
		if err != nil {
			return "", err
		}
	}
	if newStyle != "" {
		style = newStyle
	}
	if newOrder != "" {
		order = newOrder
	}
	if style != "ISO" {
		return "", pgerror.New(pgerror.CodeFeatureNotSupported, "DateStyle %s is not supported", style).
			WithHint("Meridian writes dates and times in the ISO style only.")
	}
	return style + ", " + order, nil
}

func checkTimeZone(_ *Session, val string) (string, error) {
	name, _, err := parseTimeZoneSetting(val)
	return name, err
}

// stableLiteral is a string literal of a type whose input depends on the session settings
// (a timestamptz written without a zone). It is checked while compiling but read when
// evaluated, under the settings then, so that a plan kept across SET TimeZone stays right;
// the value is kept until the settings change.
func stableLiteral(t types.T, text string) (*scalar, error) {
	if _, err := types.ParseText(t, text); err != nil {
		return nil, err
	}
	var lastSettings *types.Settings
	var last types.Datum
	return &scalar{typ: t, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
		st := ec.settings()
		if st == lastSettings {
			return last, nil
		}
		v, err := types.ParseTextWith(t, text, st)
		if err != nil {
			return nil, err
		}
		lastSettings, last = st, v
		return v, nil
	}}, nil
}

// stableDerived is compiler.derived for a strict function whose result depends on the
// session settings (extract from a timestamptz): it is never computed while compiling, and f
// gets the settings of the evaluation.
func stableDerived(t types.T, args []*scalar, f func([]types.Datum, *types.Settings) (types.Datum, error)) *scalar {
	return &scalar{typ: t, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		vals := make([]types.Datum, len(args))
		for i, a := range args {
			v, err := a.eval(ec, row)
			if err != nil || v == nil {
				return nil, err
			}
			vals[i] = v
		}
		return f(vals, ec.settings())
	}}
}
