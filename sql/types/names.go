package types

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// intWidth is t's integer width in bits; a zero Width means the widest, bigint, so that a
// hand-built T{Family: IntFamily} behaves like int8 everywhere.
func (t T) intWidth() int32 {
	if t.Width == 16 || t.Width == 32 {
		return t.Width
	}
	return 64
}

// isFloat4 reports whether t is real rather than double precision.
func (t T) isFloat4() bool { return t.Family == FloatFamily && t.Width == 32 }

// OID is t's PostgreSQL type OID, as RowDescription and pg_type report it.
func (t T) OID() uint32 {
	switch t.Family {
	case BoolFamily:
		return OIDBool
	case IntFamily:
		switch t.intWidth() {
		case 16:
			return OIDInt2
		case 32:
			return OIDInt4
		}
		return OIDInt8
	case FloatFamily:
		if t.isFloat4() {
			return OIDFloat4
		}
		return OIDFloat8
	case DecimalFamily:
		return OIDNumeric
	case StringFamily:
		switch t.StringKind {
		case VarChar:
			return OIDVarchar
		case Char:
			return OIDBpchar
		case NameString:
			return OIDName
		case QCharString:
			return OIDQChar
		}
		return OIDText
	case BytesFamily:
		return OIDBytea
	case DateFamily:
		return OIDDate
	case TimestampFamily:
		return OIDTimestamp
	case TimestampTZFamily:
		return OIDTimestampTZ
	case UUIDFamily:
		return OIDUUID
	case TimeFamily:
		return OIDTime
	case IntervalFamily:
		return OIDInterval
	case JSONBFamily:
		return OIDJSONB
	case JSONFamily:
		return OIDJSON
	case ArrayFamily:
		if oid, ok := arrayOIDs[t.ElemType().OID()]; ok {
			return oid
		}
	case OIDFamily:
		oid, _, _ := t.OIDKind.info()
		return oid
	case RecordFamily:
		return OIDRecord
	}
	return OIDUnknown
}

// arrayOIDs maps element type OIDs to their array types' OIDs (pg_type.typarray).
var arrayOIDs = map[uint32]uint32{
	OIDBool: 1000, OIDBytea: 1001, OIDInt2: 1005, OIDInt4: 1007, OIDText: 1009, OIDBpchar: 1014,
	OIDVarchar: 1015, OIDInt8: 1016, OIDFloat4: 1021, OIDFloat8: 1022, OIDTimestamp: 1115,
	OIDDate: 1182, OIDTime: 1183, OIDTimestampTZ: 1185, OIDInterval: 1187, OIDNumeric: 1231,
	OIDUUID: 2951, OIDJSONB: 3807, OIDJSON: 199,
}

// arrayElemOIDs is arrayOIDs inverted.
var arrayElemOIDs = func() map[uint32]uint32 {
	m := make(map[uint32]uint32, len(arrayOIDs))
	for e, a := range arrayOIDs {
		m[a] = e
	}
	return m
}()

// Size is pg_type.typlen: the fixed size in bytes, -1 for variable length, -2 for unknown
// (which PostgreSQL stores as a C string).
func (t T) Size() int16 {
	switch t.Family {
	case BoolFamily:
		return 1
	case IntFamily:
		return int16(t.intWidth() / 8)
	case FloatFamily:
		if t.isFloat4() {
			return 4
		}
		return 8
	case DateFamily:
		return 4
	case TimestampFamily, TimestampTZFamily, TimeFamily:
		return 8
	case IntervalFamily:
		return 16
	case UUIDFamily:
		return 16
	case OIDFamily:
		return 4
	case StringFamily:
		switch t.StringKind {
		case NameString:
			return 64
		case QCharString:
			return 1
		}
	case UnknownFamily:
		return -2
	}
	return -1
}

// TypeModifier is pg_attribute.atttypmod: the declared length or precision plus the 4-byte
// varlena header PostgreSQL folds into it, or -1 when the type has no modifier.
func (t T) TypeModifier() int32 {
	if t.Family == ArrayFamily {
		return t.ElemType().TypeModifier() // an array column reports its element's modifier
	}
	switch t.Family {
	case StringFamily:
		if t.StringKind != Text && t.Width > 0 {
			return t.Width + 4
		}
	case DecimalFamily:
		if t.Precision > 0 {
			// PostgreSQL 15+ packs a possibly negative scale into the low 11 bits.
			return (t.Precision<<16 | t.Scale&0x7ff) + 4
		}
	}
	return -1
}

// String is PostgreSQL's name for t, as format_type prints it; error messages use it.
func (t T) String() string {
	switch t.Family {
	case BoolFamily:
		return "boolean"
	case IntFamily:
		switch t.intWidth() {
		case 16:
			return "smallint"
		case 32:
			return "integer"
		}
		return "bigint"
	case FloatFamily:
		if t.isFloat4() {
			return "real"
		}
		return "double precision"
	case DecimalFamily:
		if t.Precision > 0 {
			return fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
		}
		return "numeric"
	case StringFamily:
		switch t.StringKind {
		case VarChar:
			if t.Width > 0 {
				return fmt.Sprintf("character varying(%d)", t.Width)
			}
			return "character varying"
		case Char:
			if t.Width > 0 {
				return fmt.Sprintf("character(%d)", t.Width)
			}
			return "bpchar" // blank-padded char of any length, e.g. a parameter of OID 1042
		case NameString:
			return "name"
		case QCharString:
			return `"char"`
		}
		return "text"
	case BytesFamily:
		return "bytea"
	case DateFamily:
		return "date"
	case TimestampFamily:
		return "timestamp without time zone"
	case TimestampTZFamily:
		return "timestamp with time zone"
	case UUIDFamily:
		return "uuid"
	case TimeFamily:
		return "time without time zone"
	case IntervalFamily:
		return "interval"
	case JSONBFamily:
		return "jsonb"
	case JSONFamily:
		return "json"
	case ArrayFamily:
		return t.ElemType().String() + "[]"
	case OIDFamily:
		_, _, name := t.OIDKind.info()
		return name
	case RecordFamily:
		return "record"
	}
	return "unknown"
}

// FromOID returns the type with the given OID, without modifiers.
func FromOID(oid uint32) (T, bool) {
	switch oid {
	case OIDBool:
		return Bool, true
	case OIDInt2:
		return Int2, true
	case OIDInt4:
		return Int4, true
	case OIDInt8:
		return Int8, true
	case OIDFloat4:
		return Float4, true
	case OIDFloat8:
		return Float8, true
	case OIDNumeric:
		return Numeric, true
	case OIDText:
		return String, true
	case OIDVarchar:
		return T{Family: StringFamily, StringKind: VarChar}, true
	case OIDBpchar:
		return T{Family: StringFamily, StringKind: Char}, true
	case OIDBytea:
		return Bytes, true
	case OIDDate:
		return Date, true
	case OIDTimestamp:
		return Timestamp, true
	case OIDTimestampTZ:
		return TimestampTZ, true
	case OIDUUID:
		return UUIDType, true
	case OIDTime:
		return Time, true
	case OIDInterval:
		return IntervalT, true
	case OIDJSONB:
		return JSONB, true
	case OIDJSON:
		return JSONT, true
	case OIDUnknown:
		return Unknown, true
	case OIDName:
		return Name, true
	case OIDQChar:
		return QChar, true
	}
	for k, d := range oidKinds {
		if d.oid == oid {
			return T{Family: OIDFamily, OIDKind: OIDKind(k)}, true
		}
	}
	if elem, ok := arrayElemOIDs[oid]; ok {
		e, _ := FromOID(elem)
		return ArrayOf(e), true
	}
	return T{}, false
}

// typeNames maps PostgreSQL type names and aliases, lower case with single spaces, to types
// without modifiers.
var typeNames = map[string]T{
	"bool": Bool, "boolean": Bool,
	"int2": Int2, "smallint": Int2,
	"int": Int4, "int4": Int4, "integer": Int4,
	"int8": Int8, "bigint": Int8,
	"float4": Float4, "real": Float4,
	"float": Float8, "float8": Float8, "double precision": Float8,
	"numeric": Numeric, "decimal": Numeric, "dec": Numeric,
	"text": String, "string": String,
	"varchar":           {Family: StringFamily, StringKind: VarChar},
	"character varying": {Family: StringFamily, StringKind: VarChar},
	"char varying":      {Family: StringFamily, StringKind: VarChar},
	// SQL says a bare CHAR is CHAR(1); bpchar is PostgreSQL's unbounded internal name.
	"char":      {Family: StringFamily, StringKind: Char, Width: 1},
	"character": {Family: StringFamily, StringKind: Char, Width: 1},
	"bpchar":    {Family: StringFamily, StringKind: Char},
	"bytea":     Bytes,
	"date":      Date,
	"timestamp": Timestamp, "timestamp without time zone": Timestamp,
	"timestamptz": TimestampTZ, "timestamp with time zone": TimestampTZ,
	"uuid":    UUIDType,
	"unknown": Unknown,
	"time":    Time, "time without time zone": Time,
	"interval": IntervalT,
	"jsonb":    JSONB,
	"json":     JSONT,
}

// unsupportedTypes are real PostgreSQL types Meridian lacks; naming them is a 0A000 rather than
// "does not exist", which would mislead a user porting a schema.
var unsupportedTypes = map[string]bool{
	"time with time zone": true, "timetz": true, "money": true, "inet": true, "cidr": true,
	"macaddr": true, "xml": true, "bit": true, "bit varying": true, "varbit": true, "oid": true,
	"serial": true, "bigserial": true, "smallserial": true,
}

// ParseTypeName parses a PostgreSQL type name such as "varchar(20)", "NUMERIC (10, 2)" or
// "timestamp(3) with time zone". Names are case-insensitive and runs of spaces are ignored.
func ParseTypeName(name string) (T, error) {
	s := strings.ToLower(strings.TrimSpace(name))
	if base, ok := cutArraySuffix(s); ok {
		return parseArrayTypeName(name, base)
	}
	var mods []int32
	hasMods := false
	if open := strings.IndexByte(s, '('); open >= 0 {
		end := strings.IndexByte(s, ')')
		if end < open || strings.ContainsAny(s[end+1:], "()") {
			return T{}, syntaxError(name)
		}
		for _, part := range strings.Split(s[open+1:end], ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 32)
			if err != nil {
				return T{}, syntaxError(name)
			}
			mods = append(mods, int32(n))
		}
		hasMods = true
		s = s[:open] + " " + s[end+1:]
	}
	s = strings.Join(strings.Fields(s), " ")
	t, ok := typeNames[s]
	if !ok {
		if unsupportedTypes[s] {
			return T{}, pgerror.New(pgerror.CodeFeatureNotSupported, "type %s is not supported", s)
		}
		return T{}, pgerror.New(pgerror.CodeUndefinedObject, `type "%s" does not exist`, s)
	}
	if !hasMods {
		return t, nil
	}
	return applyTypeModifiers(s, t, mods)
}

// parseArrayTypeName reads the element type of "base[]" or "base ARRAY". Only one dimension
// is kept: a declared bound ("int[3]") reaches here without its number, as PostgreSQL ignores
// it too, but a second dimension is refused rather than stored as a flat array.
func parseArrayTypeName(name, base string) (T, error) {
	if _, ok := cutArraySuffix(base); ok {
		return T{}, pgerror.Unsupported("multidimensional arrays")
	}
	elem, err := ParseTypeName(base)
	if err != nil {
		return T{}, err
	}
	if elem.Family == UnknownFamily {
		return T{}, pgerror.New(pgerror.CodeUndefinedObject, `type "%s" does not exist`, strings.TrimSpace(name))
	}
	return ArrayOf(elem), nil
}

// cutArraySuffix splits "base[]" or "base array" (lower case) into base.
func cutArraySuffix(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if base, ok := strings.CutSuffix(s, "[]"); ok {
		return strings.TrimSpace(base), true
	}
	if base, ok := strings.CutSuffix(s, " array"); ok {
		return strings.TrimSpace(base), true
	}
	return "", false
}

func syntaxError(name string) error {
	return pgerror.New(pgerror.CodeSyntaxError, `syntax error in type name "%s"`, strings.TrimSpace(name))
}

// applyTypeModifiers validates the parenthesised modifiers of the type named s, with
// PostgreSQL's limits and messages.
func applyTypeModifiers(s string, t T, mods []int32) (T, error) {
	switch {
	case t.Family == StringFamily && t.StringKind != Text && len(mods) == 1:
		const maxLen = 10485760
		base := "varchar"
		if t.StringKind == Char {
			base = "bpchar"
		}
		if mods[0] < 1 {
			return T{}, pgerror.New(pgerror.CodeInvalidParameterValue, "length for type %s must be at least 1", base)
		}
		if mods[0] > maxLen {
			return T{}, pgerror.New(pgerror.CodeInvalidParameterValue, "length for type %s cannot exceed %d", base, maxLen)
		}
		t.Width = mods[0]
		return t, nil
	case t.Family == DecimalFamily && len(mods) <= 2:
		p, sc := mods[0], int32(0)
		if len(mods) == 2 {
			sc = mods[1]
		}
		if p < 1 || p > 1000 {
			return T{}, pgerror.New(pgerror.CodeInvalidParameterValue, "NUMERIC precision %d must be between 1 and 1000", p)
		}
		if sc < -1000 || sc > 1000 {
			return T{}, pgerror.New(pgerror.CodeInvalidParameterValue, "NUMERIC scale %d must be between -1000 and 1000", sc)
		}
		t.Precision, t.Scale = p, sc
		return t, nil
	case s == "float" && len(mods) == 1:
		switch {
		case mods[0] < 1:
			return T{}, pgerror.New(pgerror.CodeInvalidParameterValue, "precision for type float must be at least 1 bit")
		case mods[0] > 53:
			return T{}, pgerror.New(pgerror.CodeInvalidParameterValue, "precision for type float must be less than 54 bits")
		case mods[0] <= 24:
			return Float4, nil
		}
		return Float8, nil
	case (t.Family == TimestampFamily || t.Family == TimestampTZFamily || t.Family == TimeFamily || t.Family == IntervalFamily) && len(mods) == 1:
		if mods[0] < 0 {
			return T{}, pgerror.New(pgerror.CodeInvalidParameterValue, "%s(%d) precision must not be negative", strings.ToUpper(strings.Fields(t.String())[0]), mods[0])
		}
		// Fractional-second precision is accepted but not kept: values keep microseconds.
		return t, nil
	}
	return T{}, pgerror.New(pgerror.CodeSyntaxError, `type modifier is not allowed for type "%s"`, s)
}
