package types

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// OIDKind tells oid and its aliases apart; they share OIDFamily. The aliases (regclass,
// regtype, ...) hold an object's OID too but read and print it as the object's name. Turning a
// name into an OID and back needs the catalog, which this package does not see: the SQL layer
// resolves names when it casts to a reg* type and stores the name in the value (Oid.Name), so
// that printing it needs no catalog.
type OIDKind uint8

// The OID kinds. Kinds are stored in descriptors (a column's type), so new ones go at the end.
const (
	PlainOID OIDKind = iota
	RegClass
	RegType
	RegProc
	RegProcedure
	RegNamespace
	RegRole
)

// Oid is a value of OIDFamily: an object identifier, and for the reg* kinds the name it
// stands for, as resolved when the value was made ("" when unknown: it then prints as the
// number, as PostgreSQL prints an OID it cannot find).
type Oid struct {
	ID   uint32
	Name string
}

// More type OIDs: the object identifier types and the internal string types the catalogs use.
const (
	OIDName         uint32 = 19
	OIDQChar        uint32 = 18 // "char", a single byte
	OIDOid          uint32 = 26
	OIDRegClass     uint32 = 2205
	OIDRegType      uint32 = 2206
	OIDRegProc      uint32 = 24
	OIDRegProcedure uint32 = 2202
	OIDRegNamespace uint32 = 4089
	OIDRegRole      uint32 = 4096
)

// oidKinds describes each kind: its type OID, array type OID and name.
var oidKinds = [...]struct {
	oid, array uint32
	name       string
}{
	PlainOID:     {OIDOid, 1028, "oid"},
	RegClass:     {OIDRegClass, 2210, "regclass"},
	RegType:      {OIDRegType, 2211, "regtype"},
	RegProc:      {OIDRegProc, 1008, "regproc"},
	RegProcedure: {OIDRegProcedure, 2207, "regprocedure"},
	RegNamespace: {OIDRegNamespace, 4090, "regnamespace"},
	RegRole:      {OIDRegRole, 4097, "regrole"},
}

// Object identifier types.
var (
	OidT          = T{Family: OIDFamily}
	RegClassT     = T{Family: OIDFamily, OIDKind: RegClass}
	RegTypeT      = T{Family: OIDFamily, OIDKind: RegType}
	RegProcT      = T{Family: OIDFamily, OIDKind: RegProc}
	RegNamespaceT = T{Family: OIDFamily, OIDKind: RegNamespace}
	RegRoleT      = T{Family: OIDFamily, OIDKind: RegRole}
	// Name is PostgreSQL's name type, which the catalogs use for object names: text to
	// Meridian, with its own OID so that drivers see what they expect.
	Name = T{Family: StringFamily, StringKind: NameString}
	// QChar is PostgreSQL's "char": one byte, used by the catalogs for codes (relkind).
	QChar = T{Family: StringFamily, StringKind: QCharString}
)

func init() {
	for k, d := range oidKinds {
		arrayOIDs[d.oid] = d.array
		arrayElemOIDs[d.array] = d.oid
		typeNames[d.name] = T{Family: OIDFamily, OIDKind: OIDKind(k)}
	}
	arrayOIDs[OIDName], arrayElemOIDs[1003] = 1003, OIDName
	arrayOIDs[OIDQChar], arrayElemOIDs[1002] = 1002, OIDQChar
	typeNames["name"] = Name
	delete(unsupportedTypes, "oid")
}

// IsReg reports whether t is one of the reg* aliases of oid, whose values read and print as
// names.
func (t T) IsReg() bool { return t.Family == OIDFamily && t.OIDKind != PlainOID }

func (k OIDKind) info() (oid, array uint32, name string) {
	if int(k) < len(oidKinds) {
		d := oidKinds[k]
		return d.oid, d.array, d.name
	}
	return OIDOid, 1028, "oid"
}

// parseOid reads an OID's text: a number that fits in 32 bits, unsigned or (as PostgreSQL's
// oidin also accepts) negative within int4, which wraps around. The reg* types also read "-"
// as 0; their names the SQL layer resolves before it gets here.
func parseOid(t T, s string) (Datum, error) {
	v := strings.TrimSpace(s)
	if t.IsReg() && v == "-" {
		return Oid{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if t.IsReg() {
			return nil, pgerror.New(pgerror.CodeInvalidTextRepresent, `invalid input syntax for type %s: "%s"`, t.String(), s)
		}
		return nil, invalidText(t, s)
	}
	return oidFromInt(n, true)
}

// oidFromInt converts an integer to an OID. PostgreSQL's int4 to oid cast reinterprets
// negative values; int8's refuses what does not fit in 32 unsigned bits.
func oidFromInt(n int64, wrapNegative bool) (Datum, error) {
	switch {
	case n >= 0 && n <= math.MaxUint32:
		return Oid{ID: uint32(n)}, nil
	case wrapNegative && n < 0 && n >= math.MinInt32:
		return Oid{ID: uint32(int32(n))}, nil
	}
	return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "OID out of range")
}

// appendOid writes an OID's text: the number, or for reg* types the name when it is known
// ("-" for 0, as PostgreSQL prints InvalidOid).
func appendOid(b []byte, t T, v Oid) []byte {
	if t.IsReg() {
		if v.Name != "" {
			return append(b, v.Name...)
		}
		if v.ID == 0 {
			return append(b, '-')
		}
	}
	return strconv.AppendUint(b, uint64(v.ID), 10)
}

func appendOidBinary(b []byte, d Datum) []byte {
	return binary.BigEndian.AppendUint32(b, d.(Oid).ID)
}

func decodeOidBinary(b []byte) (Datum, error) {
	if len(b) != 4 {
		return nil, badBinary()
	}
	return Oid{ID: binary.BigEndian.Uint32(b)}, nil
}

// toOid converts a number or another OID kind to an OID. A reg* value keeps its name only
// within its own kind: the names of different kinds name different things.
func toOid(d Datum, from, to T) (Datum, error) {
	switch v := d.(type) {
	case Oid:
		if from.OIDKind != to.OIDKind {
			v.Name = ""
		}
		return v, nil
	case int64:
		return oidFromInt(v, from.intWidth() <= 32)
	}
	return nil, pgerror.New(pgerror.CodeCannotCoerce, "cannot cast type %s to %s", from.String(), to.String())
}

// oidCastable reports the casts among the OID types and integers, which PostgreSQL has as
// implicit (int to oid, any OID type to another) or assignment (oid to int) casts.
func oidCastable(from, to T) bool {
	f, t := from.Family, to.Family
	return f == OIDFamily && (t == OIDFamily || t == IntFamily) || t == OIDFamily && f == IntFamily
}
