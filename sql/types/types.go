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
)

// StringKind tells text, varchar(n) and char(n) apart; they share StringFamily.
type StringKind uint8

// The string kinds.
const (
	Text StringKind = iota
	VarChar
	Char
)

// T is a SQL type: a family plus the modifiers that constrain its values.
type T struct {
	Family     Family
	Width      int32 // bits for IntFamily/FloatFamily; max characters for StringFamily (0 = none)
	Precision  int32 // DecimalFamily total digits; 0 = unconstrained
	Scale      int32 // DecimalFamily digits after the point
	StringKind StringKind
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
)

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
	OIDBpchar      uint32 = 1042
	OIDVarchar     uint32 = 1043
	OIDDate        uint32 = 1082
	OIDTimestamp   uint32 = 1114
	OIDTimestampTZ uint32 = 1184
	OIDNumeric     uint32 = 1700
	OIDUUID        uint32 = 2950
)
