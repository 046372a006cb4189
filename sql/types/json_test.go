package types

import (
	"encoding/hex"
	"slices"
	"testing"
)

func mustJSON(s string) JSON {
	j, err := ParseJSON(s)
	if err != nil {
		panic(err)
	}
	return j
}

// TestJSONText checks jsonb's canonical output: keys shorter first then bytewise, the last
// duplicate winning, numbers as numeric prints them, and jsonb's spacing.
func TestJSONText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"b": 1, "a": 2, "aa": [1, 2.50, "x"]}`, `{"a": 2, "b": 1, "aa": [1, 2.50, "x"]}`},
		{`{"a":1,"a":2}`, `{"a": 2}`},
		{` [ ] `, `[]`},
		{`{}`, `{}`},
		{`null`, `null`},
		{`true`, `true`},
		{`"\u00e9\n\"\\\/"`, `"é\n\"\\/"`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`1e2`, `100`},
		{`1.0`, `1.0`},
		{`-1.5E-3`, `-0.0015`},
		{`{"k":{"z":null,"y":[true,false]}}`, `{"k": {"y": [true, false], "z": null}}`},
		{"\"\x7f\"", "\"\x7f\""},
		{`"\u001f"`, `"\u001f"`},
	} {
		j, err := ParseJSON(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := string(AppendJSON(nil, j)); got != c.want {
			t.Errorf("%q: got %s, want %s", c.in, got, c.want)
		}
		// json keeps the text as given.
		if v, err := ParseText(JSONT, c.in); err != nil || v.(string) != c.in {
			t.Errorf("json %q: %v %v", c.in, v, err)
		}
	}
	for _, c := range []struct{ in, want string }{
		{`{"a":}`, `22P02: invalid input syntax for type json`},
		{`{a:1}`, `22P02: `},
		{`[1,]`, `22P02: `},
		{`01`, `22P02: `},
		{`tru`, `22P02: `},
		{`1 2`, `22P02: `},
		{``, `22P02: `},
		{`"abc`, `22P02: `},
		{"\"a\tb\"", `22P02: `},
		{`"\x"`, `22P02: `},
		{`"\u0000"`, `22P05: unsupported Unicode escape sequence`},
		{`"\ud83d"`, `22P02: `},
		{`1.`, `22P02: `},
		{`-`, `22P02: `},
		{"\"\xff\"", `22021: `},
	} {
		_, err := ParseText(JSONB, c.in)
		code, msg := splitCode(c.want)
		expectErr(t, c.in, err, code, msg)
	}
}

func TestJSONOperators(t *testing.T) {
	doc := mustJSON(`{"a": {"b": [10, 20, {"c": "x"}]}, "n": null, "s": "str", "t": [1, "two"]}`)
	path := func(p ...string) Array {
		out := Array{}
		for _, s := range p {
			out.Elems = append(out.Elems, s)
		}
		return out
	}
	for _, c := range []struct {
		op   string
		rt   T
		r    Datum
		want string
	}{
		{"->", String, "a", `{"b": [10, 20, {"c": "x"}]}`},
		{"->", String, "missing", "NULL"},
		{"->>", String, "s", "str"},
		{"->>", String, "n", "NULL"},
		{"->", String, "n", "null"},
		{"->>", String, "a", `{"b": [10, 20, {"c": "x"}]}`},
		{"#>", ArrayOf(String), path("a", "b", "2", "c"), `"x"`},
		{"#>>", ArrayOf(String), path("a", "b", "-1", "c"), "x"},
		{"#>", ArrayOf(String), path("a", "b", "x"), "NULL"},
		{"#>", ArrayOf(String), path(), `{"a": {"b": [10, 20, {"c": "x"}]}, "n": null, "s": "str", "t": [1, "two"]}`},
		{"?", String, "s", "t"},
		{"?", String, "x", "f"},
		{"?|", ArrayOf(String), path("x", "n"), "t"},
		{"?&", ArrayOf(String), path("s", "x"), "f"},
		{"->", Int4, int64(0), "NULL"},
		{"->", Bool, true, "42883: operator does not exist: jsonb -> boolean"},
	} {
		typ, v, err := BinaryOp(c.op, JSONB, doc, c.rt, c.r)
		if code, msg := splitCode(c.want); len(code) == 5 && code != c.want && err != nil {
			expectErr(t, c.op, err, code, msg)
			continue
		}
		if err != nil || text(typ, v) != c.want {
			t.Errorf("doc %s %v: %s %v, want %s", c.op, c.r, text(typ, v), err, c.want)
		}
	}
	arr := mustJSON(`[1, "two", [3]]`)
	for _, c := range []struct {
		i    int64
		want string
	}{{0, "1"}, {-1, "[3]"}, {3, "NULL"}, {-4, "NULL"}} {
		_, v, _ := BinaryOp("->", JSONB, arr, Int4, c.i)
		if text(JSONB, v) != c.want {
			t.Errorf("arr -> %d = %s, want %s", c.i, text(JSONB, v), c.want)
		}
	}
	// json operators give json text.
	if typ, v, err := BinaryOp("->", JSONT, `{"a": [1,2]}`, String, "a"); err != nil || typ != JSONT || v.(string) != "[1, 2]" {
		t.Errorf("json -> : %v %v %v", typ, v, err)
	}
	if _, _, err := BinaryOp("=", JSONT, `1`, JSONT, `1`); err == nil {
		t.Error("json = json should not exist")
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`{"a": 1, "b": [1, 2, 3]}`, `{"b": [3, 1]}`, true},
		{`{"a": 1}`, `{"a": 2}`, false},
		{`{"a": {"b": 1, "c": 2}}`, `{"a": {"c": 2}}`, true},
		{`[1, 2, [3, 4]]`, `[[4]]`, true},
		{`[1, 2, [3, 4]]`, `[4]`, false},
		{`["foo", "bar"]`, `"foo"`, true},
		{`"foo"`, `["foo"]`, false},
		{`{"a": 1}`, `[]`, false},
		{`[]`, `[]`, true},
		{`1`, `1.0`, true},
		{`[{"a": 1, "b": 2}]`, `[{"a": 1}]`, true},
	} {
		_, v, err := BinaryOp("@>", JSONB, mustJSON(c.a), JSONB, mustJSON(c.b))
		if err != nil || v.(bool) != c.want {
			t.Errorf("%s @> %s = %v %v, want %v", c.a, c.b, v, err, c.want)
		}
		_, v, _ = BinaryOp("<@", JSONB, mustJSON(c.b), JSONB, mustJSON(c.a))
		if v.(bool) != c.want {
			t.Errorf("%s <@ %s = %v, want %v", c.b, c.a, v, c.want)
		}
	}
	// The btree order, least first.
	order := []string{`[]`, `null`, `"a"`, `"b"`, `-1`, `1`, `false`, `true`, `[0, 0]`, `[1, 2, 3]`, `{"a": 1}`, `{"b": 0}`, `{"a": 1, "b": 2}`}
	for i := range order {
		for j := range order {
			got := CompareJSON(mustJSON(order[i]), mustJSON(order[j]))
			if want := cmpOrdered(int64(i), int64(j)); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	if CompareJSON(mustJSON(`1.0`), mustJSON(`1`)) != 0 {
		t.Error("1.0 and 1 are equal in jsonb")
	}
	for _, c := range []struct{ a, b, want string }{
		{`{"a": 1}`, `{"a": 2, "b": 3}`, `{"a": 2, "b": 3}`},
		{`[1]`, `[2, 3]`, `[1, 2, 3]`},
		{`1`, `[2]`, `[1, 2]`},
		{`{"a": 1}`, `2`, `[{"a": 1}, 2]`},
	} {
		_, v, err := BinaryOp("||", JSONB, mustJSON(c.a), JSONB, mustJSON(c.b))
		if err != nil || text(JSONB, v) != c.want {
			t.Errorf("%s || %s = %s %v, want %s", c.a, c.b, text(JSONB, v), err, c.want)
		}
	}
}

func TestJSONCastsAndToJSON(t *testing.T) {
	for _, c := range []struct {
		d    Datum
		from T
		to   T
		want string
	}{
		{mustJSON(`12.5`), JSONB, Numeric, "12.5"},
		{mustJSON(`12`), JSONB, Int4, "12"},
		{mustJSON(`true`), JSONB, Bool, "t"},
		{mustJSON(`"x"`), JSONB, Int4, `22023: cannot cast jsonb string to type integer`},
		{mustJSON(`{"a":1}`), JSONB, String, `{"a": 1}`},
		{`{"b":1,  "a":2}`, JSONT, JSONB, `{"a": 2, "b": 1}`},
		{mustJSON(`{"b":1}`), JSONB, JSONT, `{"b": 1}`},
		{`[1,2]`, String, JSONB, `[1, 2]`},
	} {
		v, err := Cast(c.d, c.from, c.to)
		if code, msg := splitCode(c.want); len(code) == 5 && code != c.want && err != nil {
			expectErr(t, c.want, err, code, msg)
			continue
		}
		if err != nil || text(c.to, v) != c.want {
			t.Errorf("cast %s to %s: %s %v, want %s", text(c.from, c.d), c.to, text(c.to, v), err, c.want)
		}
	}
	for _, c := range []struct {
		typ  T
		d    Datum
		want string
	}{
		{Int4, int64(5), `5`}, {Float8, 1.5, `1.5`}, {Float8, 1e20, `100000000000000000000`},
		{Bool, true, `true`}, {String, "a\"b", `"a\"b"`}, {Numeric, dec("NaN"), `"NaN"`},
		{Timestamp, ts("2024-01-01 10:00"), `"2024-01-01T10:00:00"`},
		{TimestampTZ, ts("2024-01-01 10:00"), `"2024-01-01T10:00:00+00:00"`},
		{Date, ts("2024-01-01"), `"2024-01-01"`},
		{IntervalT, iv("1 day"), `"1 day"`},
		{ArrayOf(Int4), Array{Elems: []Datum{int64(1), nil}}, `[1, null]`},
	} {
		j, err := ToJSON(c.typ, c.d)
		if err != nil || string(AppendJSON(nil, j)) != c.want {
			t.Errorf("to_jsonb(%s): %s %v, want %s", text(c.typ, c.d), AppendJSON(nil, j), err, c.want)
		}
	}
	if j := JSONObjectOf([]string{"b", "a", "b"}, []JSON{JSONBoolOf(true), JSONStringOf("x"), JSONBoolOf(false)}); string(AppendJSON(nil, j)) != `{"a": "x", "b": false}` {
		t.Errorf("JSONObjectOf: %s", AppendJSON(nil, j))
	}
	if typ := mustJSON(`[1]`).TypeName(); typ != "array" {
		t.Error(typ)
	}
}

func TestJSONBinary(t *testing.T) {
	b, err := AppendBinary(nil, JSONB, mustJSON(`{"a":1}`))
	if err != nil || hex.EncodeToString(b) != "01"+hex.EncodeToString([]byte(`{"a": 1}`)) {
		t.Errorf("jsonb binary: %x %v", b, err)
	}
	if _, err := DecodeBinary(JSONB, []byte("\x02{}")); err == nil {
		t.Error("jsonb version 2 accepted")
	}
	if v, err := DecodeBinary(JSONT, []byte(`{"a" : 1}`)); err != nil || v.(string) != `{"a" : 1}` {
		t.Errorf("json binary: %v %v", v, err)
	}
}

// TestArrayText checks array_in and array_out: quoting, NULL, white space and decoration.
func TestArrayText(t *testing.T) {
	for _, c := range []struct{ typ, in, want string }{
		{"int4[]", "{1,2,3}", "{1,2,3}"},
		{"int4[]", " { 1 , 2 } ", "{1,2}"},
		{"int4[]", "{}", "{}"},
		{"int8[]", "{NULL,-9223372036854775808}", "{NULL,-9223372036854775808}"},
		{"text[]", `{NULL,null,"NULL",nulls}`, `{NULL,NULL,"NULL",nulls}`},
		{"text[]", `{"a b",c,"d\"e","f\\g","",  h i  ,\ j\ }`, `{"a b",c,"d\"e","f\\g","","h i"," j "}`},
		{"text[]", `{"{x}", "a,b"}`, `{"{x}","a,b"}`},
		{"int4[]", "[1:2]={1,2}", "{1,2}"},
		{"bytea[]", `{"\\x0102"}`, `{"\\x0102"}`},
		{"timestamp[]", `{"2024-01-01 10:00:00"}`, `{"2024-01-01 10:00:00"}`},
		{"bool[]", `{t,false}`, `{t,f}`},
		{"numeric[]", `{1.50,NaN}`, `{1.50,NaN}`},
		{"varchar(2)[]", `{ab}`, `{ab}`},
		{"float8[]", `{1.5,Infinity}`, `{1.5,Infinity}`},
		{"uuid[]", `{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}`, `{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}`},
		{"jsonb[]", `{"{\"a\":1}",null}`, `{"{\"a\": 1}",NULL}`},
		{"interval[]", `{"1 day",01:00}`, `{"1 day",01:00:00}`},
	} {
		typ := mustType(t, c.typ)
		d, err := ParseText(typ, c.in)
		if err != nil {
			t.Errorf("%s %q: %v", c.typ, c.in, err)
			continue
		}
		if got := text(typ, d); got != c.want {
			t.Errorf("%s %q: got %s, want %s", c.typ, c.in, got, c.want)
		}
	}
	for _, c := range []struct{ typ, in, want string }{
		{"int4[]", "1,2", `22P02: malformed array literal: "1,2"`},
		{"int4[]", "{1,2", `22P02: `},
		{"int4[]", "{1,,2}", `22P02: `},
		{"int4[]", "{{1},{2}}", `0A000: Meridian does not support multidimensional arrays yet`},
		{"int4[]", "{1,a}", `22P02: invalid input syntax for type integer: "a"`},
		{"int4[]", "{1}x", `22P02: `},
		{"int4[]", "[0:1]={1,2}", `0A000: `},
		{"text[]", `{"a"b}`, `22P02: `},
		{"text[]", `{a"b"}`, `22P02: `},
		{"text[]", `{"a}`, `22P02: `},
		{"varchar(2)[]", `{abc}`, `22001: `},
	} {
		_, err := ParseText(mustType(t, c.typ), c.in)
		code, msg := splitCode(c.want)
		expectErr(t, c.typ+" "+c.in, err, code, msg)
	}
}

func TestArrayBinaryKnown(t *testing.T) {
	a := Array{Elems: []Datum{int64(1), nil}}
	b, err := AppendBinary(nil, ArrayOf(Int4), a)
	const want = "00000001" + "00000001" + "00000017" + "00000002" + "00000001" + "0000000400000001" + "ffffffff"
	if err != nil || hex.EncodeToString(b) != want {
		t.Errorf("int4[] binary: %x %v", b, err)
	}
	back, err := DecodeBinary(ArrayOf(Int4), b)
	if err != nil || Compare(ArrayOf(Int4), back, a) != 0 {
		t.Errorf("decode: %v %v", back, err)
	}
	empty, _ := AppendBinary(nil, ArrayOf(String), Array{})
	if hex.EncodeToString(empty) != "00000000"+"00000000"+"00000019" {
		t.Errorf("empty text[]: %x", empty)
	}
	for _, c := range []struct{ hex, want string }{
		{"0000000100000000000000140000000100000001000000080000000000000001", `42804: binary data has array element type 20 (bigint) instead of expected 23 (integer)`},
		{"00000002000000000000001700000001000000010000000100000001", `0A000: `},
		{"0000000100000000000000170000000100000000000000040000000a", `0A000: Meridian does not support array lower bounds other than 1 yet`},
		{"00000001000000000000001700000005000000010000000400000001", `22P03: `},
		{"000000010000000200000017", `22P03: invalid array flags`},
		{"0000", `22P03: `},
	} {
		raw, _ := hex.DecodeString(c.hex)
		_, err := DecodeBinary(ArrayOf(Int4), raw)
		code, msg := splitCode(c.want)
		expectErr(t, c.hex, err, code, msg)
	}
}

func TestArrayOperators(t *testing.T) {
	it := ArrayOf(Int4)
	arr := func(vs ...any) Array {
		out := Array{}
		for _, v := range vs {
			if i, ok := v.(int); ok {
				out.Elems = append(out.Elems, int64(i))
			} else {
				out.Elems = append(out.Elems, v)
			}
		}
		return out
	}
	for _, c := range []struct {
		op   string
		l    Datum
		rt   T
		r    Datum
		want string
	}{
		{"@>", arr(1, 2, 3), it, arr(3, 1), "t"},
		{"@>", arr(1, 2, 3), it, arr(4), "f"},
		{"@>", arr(1, nil), it, arr(nil), "f"},
		{"@>", arr(1), it, arr(), "t"},
		{"<@", arr(1, 1), it, arr(1, 2), "t"},
		{"&&", arr(1, 2), it, arr(2, 9), "t"},
		{"&&", arr(1, nil), it, arr(nil, 9), "f"},
		{"=", arr(1, nil), it, arr(1, nil), "t"},
		{"<", arr(1, 2), it, arr(1, 2, 0), "t"},
		{"<", arr(1, nil), it, arr(1, 5), "f"},
		{"<", arr(), it, arr(-5), "t"},
		{"||", arr(1), it, arr(2, 3), "{1,2,3}"},
		{"||", arr(1), Int4, int64(2), "{1,2}"},
		{"||", arr(1), Int4, nil, "{1,NULL}"},
		{"||", arr(1), it, nil, "{1}"},
		{"@>", arr(1), ArrayOf(Int8), Array{Elems: []Datum{int64(1)}}, "t"},
		{"=", arr(1), ArrayOf(String), Array{Elems: []Datum{"1"}}, "42883: operator does not exist: integer[] = text[]"},
		{"@>", arr(1), Int4, int64(1), "42883: operator does not exist: integer[] @> integer"},
	} {
		typ, v, err := BinaryOp(c.op, it, c.l, c.rt, c.r)
		if code, msg := splitCode(c.want); len(code) == 5 && code != c.want && err != nil {
			expectErr(t, c.op, err, code, msg)
			continue
		}
		if err != nil || text(typ, v) != c.want {
			t.Errorf("%s %s %s = %s %v, want %s", text(it, c.l), c.op, text(c.rt, c.r), text(typ, v), err, c.want)
		}
	}
	if typ, v, err := BinaryOp("||", Int4, int64(0), it, arr(1)); err != nil || typ != it || text(it, v) != "{0,1}" {
		t.Errorf("elem || array: %v %v", v, err)
	}
	a := arr(1, 2, 3)
	if a.Subscript(1) != int64(1) || a.Subscript(0) != nil || a.Subscript(4) != nil {
		t.Error("subscript")
	}
	if got := text(it, a.Slice(2, 9)); got != "{2,3}" {
		t.Errorf("slice: %s", got)
	}
	if got := text(it, a.Slice(3, 2)); got != "{}" {
		t.Errorf("empty slice: %s", got)
	}
	v, err := Cast(a, it, ArrayOf(String))
	if err != nil || text(ArrayOf(String), v) != "{1,2,3}" {
		t.Errorf("int[]::text[]: %v %v", v, err)
	}
	if _, err := Cast(Array{Elems: []Datum{"x"}}, ArrayOf(String), it); err == nil {
		t.Error("{x}::int[] should fail")
	}
	if v, err := AssignCast(Array{Elems: []Datum{int64(70000)}}, ArrayOf(Int8), ArrayOf(Int2)); err == nil {
		t.Errorf("70000 fits smallint[]: %v", v)
	}
	if !slices.Equal(ArrayAppend(nil, int64(1), true).(Array).Elems, []Datum{int64(1)}) {
		t.Error("append to NULL")
	}
}

// FuzzParseJSON: the parser never panics, and what it accepts prints as text that parses
// back to an equal value which prints the same.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5e3, "x\u00e9"]}`, `[]`, `null`, `"\ud83d\ude00"`, `{"a":1,"a":{"b":[true,false]}}`, `-0.0`, `[[[[]]]]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJSON(s)
		if err != nil {
			return
		}
		out := string(AppendJSON(nil, j))
		back, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, out, err)
		}
		if CompareJSON(j, back) != 0 || string(AppendJSON(nil, back)) != out {
			t.Fatalf("%q: %q does not round-trip", s, out)
		}
	})
}

// FuzzParseArray: array_in never panics, and what it accepts round-trips through array_out.
func FuzzParseArray(f *testing.F) {
	for _, s := range []string{`{1,2,3}`, `{"a b",NULL,"\\"}`, `[1:2]={x,y}`, `{}`, ` { a , "b" } `, `{{1}}`} {
		f.Add(s)
	}
	types := []T{ArrayOf(String), ArrayOf(Int4), ArrayOf(Numeric), ArrayOf(JSONB)}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			v, err := ParseText(typ, s)
			if err != nil {
				continue
			}
			out := string(AppendText(nil, typ, v))
			back, err := ParseText(typ, out)
			if err != nil || Compare(typ, v, back) != 0 {
				t.Fatalf("%s %q printed as %q: %v", typ, s, out, err)
			}
		}
	})
}
