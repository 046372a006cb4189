package types

import (
	"testing"

	"github.com/meridiandb/meridian/sql/pgerror"
)

func TestParseTypeName(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"int", "integer"}, {"INTEGER", "integer"}, {"int4", "integer"}, {"INT8", "bigint"}, {"bigint", "bigint"},
		{"smallint", "smallint"}, {"int2", "smallint"}, {"real", "real"}, {"float4", "real"}, {"float", "double precision"},
		{"float8", "double precision"}, {"double  precision", "double precision"}, {" Double Precision ", "double precision"},
		{"float(24)", "real"}, {"float(25)", "double precision"},
		{"numeric", "numeric"}, {"numeric(10)", "numeric(10,0)"}, {"numeric(10, 2)", "numeric(10,2)"}, {"NUMERIC ( 10 , 2 )", "numeric(10,2)"},
		{"decimal", "numeric"}, {"decimal(5,1)", "numeric(5,1)"}, {"numeric(5,6)", "numeric(5,6)"}, {"numeric(3,-2)", "numeric(3,-2)"},
		{"text", "text"}, {"string", "text"}, {"varchar", "character varying"}, {"varchar(20)", "character varying(20)"},
		{"character varying", "character varying"}, {"character  varying(7)", "character varying(7)"},
		{"char", "character(1)"}, {"char(3)", "character(3)"}, {"character(3)", "character(3)"}, {"character", "character(1)"},
		{"bpchar", "bpchar"}, {"bytea", "bytea"}, {"bool", "boolean"}, {"BOOLEAN", "boolean"}, {"date", "date"},
		{"timestamp", "timestamp without time zone"}, {"timestamp without time zone", "timestamp without time zone"},
		{"timestamp(3)", "timestamp without time zone"}, {"timestamp(3) with time zone", "timestamp with time zone"},
		{"timestamptz", "timestamp with time zone"}, {"timestamp with time zone", "timestamp with time zone"}, {"UUID", "uuid"},
	} {
		if got := mustType(t, c.in).String(); got != c.out {
			t.Errorf("%q → %q, want %q", c.in, got, c.out)
		}
	}
	for _, c := range []struct{ in, code, msg string }{
		{"foo", pgerror.CodeUndefinedObject, `type "foo" does not exist`},
		{"FOO", pgerror.CodeUndefinedObject, `type "foo" does not exist`},
		{"numeric(0)", pgerror.CodeInvalidParameterValue, "NUMERIC precision 0 must be between 1 and 1000"},
		{"numeric(1001)", pgerror.CodeInvalidParameterValue, "NUMERIC precision 1001 must be between 1 and 1000"},
		{"numeric(5,1001)", pgerror.CodeInvalidParameterValue, "NUMERIC scale 1001 must be between -1000 and 1000"},
		{"varchar(0)", pgerror.CodeInvalidParameterValue, "length for type varchar must be at least 1"},
		{"char(10485761)", pgerror.CodeInvalidParameterValue, "length for type bpchar cannot exceed 10485760"},
		{"float(0)", pgerror.CodeInvalidParameterValue, "precision for type float must be at least 1 bit"},
		{"float(54)", pgerror.CodeInvalidParameterValue, "precision for type float must be less than 54 bits"},
		{"timestamp(-1)", pgerror.CodeInvalidParameterValue, ""},
		{"int(3)", pgerror.CodeSyntaxError, `type modifier is not allowed for type "int"`},
		{"text(3)", pgerror.CodeSyntaxError, ""},
		{"numeric(1,2,3)", pgerror.CodeSyntaxError, ""},
		{"varchar(x)", pgerror.CodeSyntaxError, ""},
		{"varchar(3", pgerror.CodeSyntaxError, ""},
		{"varchar(3))", pgerror.CodeSyntaxError, ""},
		{"timetz", pgerror.CodeFeatureNotSupported, ""},
		{"int[][]", pgerror.CodeFeatureNotSupported, "Meridian does not support multidimensional arrays yet"},
		{"int array[]", pgerror.CodeFeatureNotSupported, ""},
		{"foo[]", pgerror.CodeUndefinedObject, `type "foo" does not exist`},
	} {
		_, err := ParseTypeName(c.in)
		expectErr(t, c.in, err, c.code, c.msg)
	}
}

func TestTypeMetadata(t *testing.T) {
	for _, c := range []struct {
		name     string
		oid      uint32
		size     int16
		typmod   int32
		fromOID  bool // FromOID(oid) gives back exactly this type
		typeName string
	}{
		{"int2", 21, 2, -1, true, "smallint"},
		{"int4", 23, 4, -1, true, "integer"},
		{"int8", 20, 8, -1, true, "bigint"},
		{"float4", 700, 4, -1, true, "real"},
		{"float8", 701, 8, -1, true, "double precision"},
		{"numeric", 1700, -1, -1, true, "numeric"},
		{"numeric(10,2)", 1700, -1, 10<<16 | 2 + 4, false, "numeric(10,2)"},
		{"numeric(3,-2)", 1700, -1, 3<<16 | 0x7fe + 4, false, "numeric(3,-2)"},
		{"text", 25, -1, -1, true, "text"},
		{"varchar", 1043, -1, -1, true, "character varying"},
		{"varchar(20)", 1043, -1, 24, false, "character varying(20)"},
		{"char(3)", 1042, -1, 7, false, "character(3)"},
		{"bpchar", 1042, -1, -1, true, "bpchar"},
		{"bytea", 17, -1, -1, true, "bytea"},
		{"bool", 16, 1, -1, true, "boolean"},
		{"date", 1082, 4, -1, true, "date"},
		{"timestamp", 1114, 8, -1, true, "timestamp without time zone"},
		{"timestamptz", 1184, 8, -1, true, "timestamp with time zone"},
		{"uuid", 2950, 16, -1, true, "uuid"},
		{"time", 1083, 8, -1, true, "time without time zone"},
		{"time(3)", 1083, 8, -1, true, "time without time zone"},
		{"interval", 1186, 16, -1, true, "interval"},
		{"jsonb", 3802, -1, -1, true, "jsonb"},
		{"json", 114, -1, -1, true, "json"},
		{"int[]", 1007, -1, -1, true, "integer[]"},
		{"int4 array", 1007, -1, -1, true, "integer[]"},
		{"bigint[]", 1016, -1, -1, true, "bigint[]"},
		{"int2[]", 1005, -1, -1, true, "smallint[]"},
		{"text[]", 1009, -1, -1, true, "text[]"},
		{"varchar(3)[]", 1015, -1, 7, false, "character varying(3)[]"},
		{"bool[]", 1000, -1, -1, true, "boolean[]"},
		{"float8[]", 1022, -1, -1, true, "double precision[]"},
		{"numeric[]", 1231, -1, -1, true, "numeric[]"},
		{"uuid[]", 2951, -1, -1, true, "uuid[]"},
		{"date[]", 1182, -1, -1, true, "date[]"},
		{"timestamp[]", 1115, -1, -1, true, "timestamp without time zone[]"},
		{"timestamptz[]", 1185, -1, -1, true, "timestamp with time zone[]"},
		{"bytea[]", 1001, -1, -1, true, "bytea[]"},
		{"interval[]", 1187, -1, -1, true, "interval[]"},
		{"jsonb[]", 3807, -1, -1, true, "jsonb[]"},
	} {
		typ := mustType(t, c.name)
		if typ.OID() != c.oid || typ.Size() != c.size || typ.TypeModifier() != c.typmod || typ.String() != c.typeName {
			t.Errorf("%s: oid %d size %d typmod %d name %q", c.name, typ.OID(), typ.Size(), typ.TypeModifier(), typ.String())
		}
		back, ok := FromOID(c.oid)
		if !ok || back.OID() != c.oid || (c.fromOID && back != typ) {
			t.Errorf("FromOID(%d) = %+v, %v", c.oid, back, ok)
		}
	}
	if Unknown.OID() != 705 || Unknown.Size() != -2 || Unknown.String() != "unknown" || Unknown.TypeModifier() != -1 {
		t.Errorf("unknown: %d %d %q", Unknown.OID(), Unknown.Size(), Unknown.String())
	}
	if back, ok := FromOID(705); !ok || back != Unknown {
		t.Errorf("FromOID(705) = %v, %v", back, ok)
	}
	if _, ok := FromOID(1185 + 1000); ok {
		t.Error("FromOID(2185) should fail")
	}
	// A hand-built integer type without a width behaves as bigint throughout.
	if w := (T{Family: IntFamily}); w.OID() != OIDInt8 || w.Size() != 8 || w.String() != "bigint" {
		t.Errorf("width-less int: %d %d %s", w.OID(), w.Size(), w.String())
	}
}
