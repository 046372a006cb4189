package types

import (
	"github.com/cockroachdb/apd/v3"
)

// Family is a group of types sharing one value representation.
type Family uint8

// The type families. Each documents the Go type that holds its non-NULL values (a Datum).
const (
	UnknownFamily     Family = iota // only NULL literals before type inference; Datum is nil
	BoolFamily                      // bool
	IntFamily                       // int64; Width 16, 32 or 64
	FloatFamily                     // float64; Width 32 or 64
	DecimalFamily                   // *apd.Decimal; Precision/Scale 0 means unconstrained
	StringFamily                    // string; Width is the max length in characters, 0 = unlimited
	BytesFamily                     // []byte
	DateFamily                      // time.Time at UTC midnight
	TimestampFamily                 // time.Time in UTC, read as a wall-clock reading without zone
	TimestampTZFamily               // time.Time in UTC, an instant
	UUIDFamily                      // UUID
	// The families below were added later; family numbers are stored in row values and
	// descriptors, so new ones only ever go at the end.
	TimeFamily     // TimeOfDay
	IntervalFamily // Interval
	JSONBFamily    // JSON, the parsed, normalized document
	JSONFamily     // string, the document's text as given (validated)
	ArrayFamily    // Array; Elem is the element family, the other fields the element's modifiers
	OIDFamily      // Oid; OIDKind tells oid, regclass, regtype, ... apart (see oid.go)
	RecordFamily   // Record; Width numbers the record's shape (see RecordType)
)

// StringKind tells text, varchar(n) and char(n) apart; they share StringFamily.
type StringKind uint8

// The string kinds.
const (
	Text StringKind = iota
	VarChar
	Char
	// NameString and QCharString are PostgreSQL's name and "char", which the system
	// catalogs use; values are text, the types differ only in their OIDs and names.
	NameString
	QCharString
)

// T is a SQL type: a family plus the modifiers that constrain its values.
type T struct {
	Family     Family
	Width      int32 // bits for IntFamily/FloatFamily; max characters for StringFamily (0 = none)
	Precision  int32 // DecimalFamily total digits; 0 = unconstrained
	Scale      int32 // DecimalFamily digits after the point
	StringKind StringKind
	// Elem is the element family of an ArrayFamily type; Width, Precision, Scale and
	// StringKind then describe the element. Keeping the element inline keeps T a comparable
	// value that the catalog stores as is.
	Elem Family `json:",omitempty"`
	// OIDKind tells the OIDFamily types apart (oid, regclass, regtype, ...).
	OIDKind OIDKind `json:",omitempty"`
	// ZeroBased marks the arrays of the system catalogs that PostgreSQL types int2vector
	// and oidvector, whose subscripts start at 0 (indoption[0] is the first key column's).
	ZeroBased bool `json:",omitempty"`
}

// Datum is one SQL value: nil for NULL, otherwise the Go type its Family documents.
type Datum = any

// Decimal is the arbitrary-precision decimal used for DecimalFamily values.
type Decimal = apd.Decimal

// UUID is a 16-byte RFC 4122 UUID value.
type UUID [16]byte

// Common types.
var (
	Unknown     = T{Family: UnknownFamily}
	Bool        = T{Family: BoolFamily}
	Int2        = T{Family: IntFamily, Width: 16}
	Int4        = T{Family: IntFamily, Width: 32}
	Int8        = T{Family: IntFamily, Width: 64}
	Float4      = T{Family: FloatFamily, Width: 32}
	Float8      = T{Family: FloatFamily, Width: 64}
	Numeric     = T{Family: DecimalFamily}
	String      = T{Family: StringFamily, StringKind: Text}
	Bytes       = T{Family: BytesFamily}
	Date        = T{Family: DateFamily}
	Timestamp   = T{Family: TimestampFamily}
	TimestampTZ = T{Family: TimestampTZFamily}
	UUIDType    = T{Family: UUIDFamily}
	Time        = T{Family: TimeFamily}
	IntervalT   = T{Family: IntervalFamily}
	JSONB       = T{Family: JSONBFamily}
	JSONT       = T{Family: JSONFamily}
)

// ArrayOf is the one-dimensional array type whose elements are of type elem.
func ArrayOf(elem T) T {
	a := elem
	a.Elem, a.Family = elem.Family, ArrayFamily
	return a
}

// ElemType is the element type of an array type t.
func (t T) ElemType() T {
	e := t
	e.Family, e.Elem, e.ZeroBased = t.Elem, UnknownFamily, false
	return e
}

// TimeOfDay is a time without time zone: microseconds since midnight, 0 to 24:00:00 inclusive
// (PostgreSQL accepts 24:00:00 as the end of a day).
type TimeOfDay int64

// Interval is PostgreSQL's interval: months, days and microseconds kept apart, because a
// month has no fixed number of days and a day no fixed number of hours across DST changes.
type Interval struct {
	Months int32
	Days   int32
	Micros int64
}

// Array is a one-dimensional array with lower bound 1. Elements are Datums of the array
// type's element type; nil elements are NULL.
type Array struct {
	Elems []Datum
}

// PostgreSQL type OIDs (pg_type.oid) for the types Meridian supports.
const (
	OIDBool        uint32 = 16
	OIDBytea       uint32 = 17
	OIDInt8        uint32 = 20
	OIDInt2        uint32 = 21
	OIDInt4        uint32 = 23
	OIDText        uint32 = 25
	OIDFloat4      uint32 = 700
	OIDFloat8      uint32 = 701
	OIDUnknown     uint32 = 705
	OIDRecord      uint32 = 2249
	OIDBpchar      uint32 = 1042
	OIDVarchar     uint32 = 1043
	OIDDate        uint32 = 1082
	OIDTimestamp   uint32 = 1114
	OIDTimestampTZ uint32 = 1184
	OIDNumeric     uint32 = 1700
	OIDUUID        uint32 = 2950
	OIDTime        uint32 = 1083
	OIDInterval    uint32 = 1186
	OIDJSON        uint32 = 114
	OIDJSONB       uint32 = 3802
)
