package types

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// Compare orders two values of type t for sorting: NULL after every value, float and numeric
// NaN after every number (PostgreSQL's btree order, in which NaN equals NaN), -0 equal to 0,
// strings and bytes bytewise (C collation), false before true and times by instant. It returns
// -1, 0 or +1.
func Compare(t T, a, b Datum) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	switch x := a.(type) {
	case bool:
		if y, ok := b.(bool); ok {
			return cmpBool(x, y)
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmpOrdered(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return compareFloat(x, y)
		}
	case *apd.Decimal:
		if y, ok := b.(*apd.Decimal); ok {
			return compareDecimal(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			if t.StringKind == Char {
				// Blank padding is insignificant for char(n).
				x, y = strings.TrimRight(x, " "), strings.TrimRight(y, " ")
			}
			return strings.Compare(x, y)
		}
	case []byte:
		if y, ok := b.([]byte); ok {
			return bytes.Compare(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case UUID:
		if y, ok := b.(UUID); ok {
			return bytes.Compare(x[:], y[:])
		}
	case TimeOfDay:
		if y, ok := b.(TimeOfDay); ok {
			return cmpOrdered(int64(x), int64(y))
		}
	case Interval:
		if y, ok := b.(Interval); ok {
			return CompareInterval(x, y)
		}
	case JSON:
		if y, ok := b.(JSON); ok {
			return CompareJSON(x, y)
		}
	case Array:
		if y, ok := b.(Array); ok {
			return compareArrays(t, x, y)
		}
	case Record:
		if y, ok := b.(Record); ok {
			return compareRecords(t, x, y)
		}
	case Oid:
		if y, ok := b.(Oid); ok {
			return cmpOrdered(int64(x.ID), int64(y.ID))
		}
		if y, ok := b.(int64); ok {
			return cmpOrdered(int64(x.ID), y)
		}
	}
	if y, ok := b.(Oid); ok {
		if x, ok := a.(int64); ok {
			return cmpOrdered(x, int64(y.ID))
		}
	}
	// Mixed numeric representations, e.g. an int64 sorted in a numeric column.
	return compareNumbers(a, b)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func cmpOrdered[V int64 | float64](a, b V) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareFloat(a, b float64) int {
	if c, ok := compareNaN(math.IsNaN(a), math.IsNaN(b)); ok {
		return c
	}
	return cmpOrdered(a, b)
}

func compareDecimal(a, b *apd.Decimal) int {
	if c, ok := compareNaN(isNaN(a), isNaN(b)); ok {
		return c
	}
	return a.Cmp(b)
}

// compareNaN orders NaN after every number, as PostgreSQL does; ok is false when neither
// value is NaN and the numbers themselves decide.
func compareNaN(aNaN, bNaN bool) (c int, ok bool) {
	switch {
	case aNaN && bNaN:
		return 0, true
	case aNaN:
		return 1, true
	case bNaN:
		return -1, true
	}
	return 0, false
}

// compareNumbers compares numbers of possibly different Go types: via float64 when either is a
// float (PostgreSQL would convert to float8 too), otherwise exactly via apd.
func compareNumbers(a, b Datum) int {
	_, af := a.(float64)
	_, bf := b.(float64)
	if af || bf {
		return compareFloat(toFloat64(a), toFloat64(b))
	}
	return compareDecimal(toDecimal(a), toDecimal(b))
}

func toFloat64(d Datum) float64 {
	switch v := d.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	case *apd.Decimal:
		f, err := toFloatType(v, Float8)
		if err != nil {
			return math.Inf(v.Sign())
		}
		return f.(float64)
	}
	return math.NaN()
}

func toDecimal(d Datum) *apd.Decimal {
	switch v := d.(type) {
	case int64:
		return apd.New(v, 0)
	case *apd.Decimal:
		return v
	case float64:
		out, err := toNumeric(v, Float8, Numeric)
		if err != nil {
			return numericNaN()
		}
		return out.(*apd.Decimal)
	}
	return numericNaN()
}

func opError(op string, lt, rt T) error {
	return pgerror.New(pgerror.CodeUndefinedFunction, "operator does not exist: %s %s %s", lt.String(), op, rt.String()).
		WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

func divByZero() error { return pgerror.New(pgerror.CodeDivisionByZero, "division by zero") }

// BinaryOp applies op (+ - * / % || = <> < <= > >=) to l of type lt and r of type rt and
// returns the result type and value. With a NULL operand the value is NULL but the type is
// still resolved (and an operator that does not exist is still an error), because the planner
// calls BinaryOp with nil operands to type expressions. An UnknownFamily operand, an untyped
// NULL, takes the other operand's type.
func BinaryOp(op string, lt T, l Datum, rt T, r Datum) (T, Datum, error) {
	if lt.Family == UnknownFamily {
		lt = rt
	}
	if rt.Family == UnknownFamily {
		rt = lt
	}
	switch op {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		return compareOp(op, lt, l, rt, r)
	case "||":
		return concatOp(lt, l, rt, r)
	case "->", "->>", "#>", "#>>", "?", "?|", "?&":
		return jsonOp(op, lt, l, rt, r)
	case "@>", "<@", "&&":
		return containmentOp(op, lt, l, rt, r)
	case "&", "|", "<<", ">>":
		return bitOp(op, lt, l, rt, r)
	case "+", "-", "*", "/", "%":
		if isTime(lt.Family) || isTime(rt.Family) || isClock(lt.Family) || isClock(rt.Family) {
			return dateArith(op, lt, l, rt, r)
		}
		if !isNumber(lt.Family) || !isNumber(rt.Family) {
			return T{}, nil, opError(op, lt, rt)
		}
		res := arithType(lt, rt)
		if op == "%" && res.Family == FloatFamily {
			return T{}, nil, opError(op, lt, rt) // PostgreSQL has no float modulo
		}
		if l == nil || r == nil {
			return res, nil, nil
		}
		v, err := arith(op, res, l, r)
		return res, v, err
	}
	return T{}, nil, opError(op, lt, rt)
}

// arithType is the result type of arithmetic between two number types: any float makes
// double precision (real only when both are real), then numeric, then the wider integer.
// PostgreSQL has no float-numeric operators and would pick numeric or float8 by implicit
// casts; Meridian always chooses double precision.
// bitOp is the integers' bitwise and, or and shifts. A shift keeps its left operand's type
// and, like PostgreSQL's, takes its count modulo the width.
func bitOp(op string, lt T, l Datum, rt T, r Datum) (T, Datum, error) {
	if lt.Family != IntFamily || rt.Family != IntFamily {
		return T{}, nil, opError(op, lt, rt)
	}
	res := arithType(lt, rt)
	if op == "<<" || op == ">>" {
		res = T{Family: IntFamily, Width: lt.intWidth()}
	}
	if l == nil || r == nil {
		return res, nil, nil
	}
	a, b := l.(int64), r.(int64)
	switch op {
	case "&":
		return res, a & b, nil
	case "|":
		return res, a | b, nil
	}
	shift := uint(b) % uint(res.intWidth())
	if op == ">>" {
		return res, a >> shift, nil
	}
	// Shifting left wraps within the type's width, as C's shift of a smaller integer does.
	v := a << shift
	switch res.intWidth() {
	case 16:
		v = int64(int16(v))
	case 32:
		v = int64(int32(v))
	}
	return res, v, nil
}

func arithType(lt, rt T) T {
	switch {
	case lt.Family == FloatFamily || rt.Family == FloatFamily:
		if lt.isFloat4() && rt.isFloat4() {
			return Float4
		}
		return Float8
	case lt.Family == DecimalFamily || rt.Family == DecimalFamily:
		return Numeric
	}
	return T{Family: IntFamily, Width: max(lt.intWidth(), rt.intWidth())}
}

func compareOp(op string, lt T, l Datum, rt T, r Datum) (T, Datum, error) {
	lf, rf := lt.Family, rt.Family
	// OIDs compare with each other whatever their kinds, and with integers, which PostgreSQL
	// casts to oid implicitly.
	comparable := lf == rf || isNumber(lf) && isNumber(rf) || isTime(lf) && isTime(rf) ||
		lf == OIDFamily && rf == IntFamily || lf == IntFamily && rf == OIDFamily
	switch {
	case lf == JSONFamily:
		comparable = false // json has no equality or ordering, only jsonb does
	case lf == ArrayFamily && rf == ArrayFamily:
		comparable = elemsComparable(lt, rt)
	}
	if !comparable {
		return T{}, nil, opError(op, lt, rt)
	}
	if l == nil || r == nil {
		return Bool, nil, nil
	}
	var c int
	switch {
	case lf == StringFamily:
		if lt.StringKind == Char && rt.StringKind == Char {
			c = Compare(lt, l, r)
		} else {
			// char(n) meets text as text, whose value has no padding.
			c = strings.Compare(strings.TrimRight(l.(string), padIf(lt)), strings.TrimRight(r.(string), padIf(rt)))
		}
	case lf == rf, lf == OIDFamily, rf == OIDFamily:
		c = Compare(lt, l, r)
	default:
		c = compareNumbersOrTimes(l, r)
	}
	var v bool
	switch op {
	case "=":
		v = c == 0
	case "<>", "!=":
		v = c != 0
	case "<":
		v = c < 0
	case "<=":
		v = c <= 0
	case ">":
		v = c > 0
	default:
		v = c >= 0
	}
	return Bool, v, nil
}

// padIf is the cutset that strips char(n) padding, or nothing for other string types.
func padIf(t T) string {
	if t.StringKind == Char {
		return " "
	}
	return ""
}

func compareNumbersOrTimes(l, r Datum) int {
	if x, ok := l.(time.Time); ok {
		// A date is its midnight and a timestamp its UTC reading, so instants compare directly.
		return x.Compare(r.(time.Time))
	}
	return compareNumbers(l, r)
}

// elemsComparable reports whether arrays of types a and b have elements one can compare.
func elemsComparable(a, b T) bool {
	ae, be := a.ElemType(), b.ElemType()
	return ae.Family == be.Family || isNumber(ae.Family) && isNumber(be.Family) || isTime(ae.Family) && isTime(be.Family) ||
		ae.Family == UnknownFamily || be.Family == UnknownFamily
}

// isClock reports the families of time of day and interval.
func isClock(f Family) bool { return f == TimeFamily || f == IntervalFamily }

// concatOp is ||: bytea || bytea is bytea; otherwise one side must be a string type and the
// other is converted with its output function, as anytextcat/textanycat do.
func concatOp(lt T, l Datum, rt T, r Datum) (T, Datum, error) {
	if lt.Family == ArrayFamily || rt.Family == ArrayFamily {
		return arrayConcat(lt, l, rt, r)
	}
	if lt.Family == JSONBFamily && rt.Family == JSONBFamily {
		if l == nil || r == nil {
			return JSONB, nil, nil
		}
		return JSONB, ConcatJSON(l.(JSON), r.(JSON)), nil
	}
	if lt.Family == BytesFamily && rt.Family == BytesFamily {
		if l == nil || r == nil {
			return Bytes, nil, nil
		}
		lb, rb := l.([]byte), r.([]byte)
		out := make([]byte, 0, len(lb)+len(rb))
		return Bytes, append(append(out, lb...), rb...), nil
	}
	if lt.Family != StringFamily && rt.Family != StringFamily {
		return T{}, nil, opError("||", lt, rt)
	}
	if l == nil || r == nil {
		return String, nil, nil
	}
	b := appendConcatOperand(nil, lt, l)
	b = appendConcatOperand(b, rt, r)
	return String, string(b), nil
}

func appendConcatOperand(b []byte, t T, d Datum) []byte {
	switch v := d.(type) {
	case string:
		return append(b, v...) // char(n) is converted to text, which drops the padding
	case bool:
		return strconv.AppendBool(b, v) // the cast to text spells the words out
	}
	return AppendText(b, t, d)
}

func arith(op string, t T, l, r Datum) (Datum, error) {
	switch t.Family {
	case IntFamily:
		return intArith(op, t, l.(int64), r.(int64))
	case FloatFamily:
		return floatArith(op, t, toFloat64(l), toFloat64(r))
	}
	return decimalDatum(decimalArith(op, toDecimal(l), toDecimal(r)))
}

func intArith(op string, t T, a, b int64) (Datum, error) {
	var v int64
	switch op {
	case "+":
		v = a + b
		if (b > 0 && v < a) || (b < 0 && v > a) {
			return nil, intOutOfRange(t)
		}
	case "-":
		v = a - b
		if (b > 0 && v > a) || (b < 0 && v < a) {
			return nil, intOutOfRange(t)
		}
	case "*":
		v = a * b
		if a != 0 && (v/a != b || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64)) {
			return nil, intOutOfRange(t)
		}
	case "/":
		if b == 0 {
			return nil, divByZero()
		}
		if a == math.MinInt64 && b == -1 {
			return nil, intOutOfRange(t)
		}
		v = a / b // Go truncates toward zero, like C
	case "%":
		if b == 0 {
			return nil, divByZero()
		}
		if b == -1 {
			return int64(0), nil // avoids the MinInt64 % -1 trap, as PostgreSQL does
		}
		v = a % b
	}
	if !intFits(t, v) {
		return nil, intOutOfRange(t)
	}
	return v, nil
}

// floatArith follows float8pl and friends: real arithmetic is done in single precision, and an
// infinite result from finite inputs (or zero from non-zero inputs) is out of range.
func floatArith(op string, t T, a, b float64) (Datum, error) {
	var v float64
	switch op {
	case "+":
		v = a + b
	case "-":
		v = a - b
	case "*":
		v = a * b
	case "/":
		if b == 0 && !math.IsNaN(a) {
			return nil, divByZero()
		}
		v = a / b
	}
	if t.isFloat4() {
		v = float64(float32(v))
	}
	switch {
	case math.IsInf(v, 0) && !math.IsInf(a, 0) && !math.IsInf(b, 0):
		return nil, floatOverflow()
	case v == 0 && a != 0 && op == "*" && b != 0, v == 0 && a != 0 && op == "/" && !math.IsInf(b, 0):
		return nil, floatUnderflow()
	}
	return v, nil
}

// dateArith handles the operators whose operands include a date, time, timestamp or
// interval: date ± integer, date - date (days), date/timestamp ± interval, timestamp -
// timestamp (an interval of days and time), date + time, time ± interval, time - time,
// interval ± interval, and interval times or divided by a number.
func dateArith(op string, lt T, l Datum, rt T, r Datum) (T, Datum, error) {
	lf, rf := lt.Family, rt.Family
	nullRes := l == nil || r == nil
	switch {
	case lf == DateFamily && rf == IntFamily && (op == "+" || op == "-"),
		lf == IntFamily && rf == DateFamily && op == "+":
		if nullRes {
			return Date, nil, nil
		}
		date, days := l, r
		if lf == IntFamily {
			date, days = r, l
		}
		n := days.(int64)
		if op == "-" {
			n = -n
		}
		// Bound n first so that the day arithmetic cannot overflow.
		if n > 1<<32 || n < -(1<<32) {
			return T{}, nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date out of range")
		}
		res := dateFromDays(daysSinceEpoch(date.(time.Time)) + n)
		if !dateInRange(res) {
			return T{}, nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date out of range")
		}
		return Date, res, nil
	case lf == DateFamily && rf == DateFamily && op == "-":
		if nullRes {
			return Int4, nil, nil
		}
		return Int4, daysSinceEpoch(l.(time.Time)) - daysSinceEpoch(r.(time.Time)), nil
	case isTime(lf) && rf == IntervalFamily && (op == "+" || op == "-"),
		lf == IntervalFamily && isTime(rf) && op == "+":
		res := Timestamp
		stamp, iv := l, r
		if lf == IntervalFamily {
			stamp, iv = r, l
			lf = rf
		}
		if lf == TimestampTZFamily {
			res = TimestampTZ
		}
		if nullRes {
			return res, nil, nil
		}
		x := iv.(Interval)
		if op == "-" {
			var ok bool
			if x, ok = negateInterval(x); !ok {
				return T{}, nil, intervalOverflow()
			}
		}
		v, err := AddInterval(stamp.(time.Time), x)
		return res, v, err
	case isTime(lf) && isTime(rf) && op == "-":
		if nullRes {
			return IntervalT, nil, nil
		}
		v, err := subtractStamps(l.(time.Time), r.(time.Time))
		return IntervalT, v, err
	case lf == DateFamily && rf == TimeFamily && (op == "+" || op == "-"),
		lf == TimeFamily && rf == DateFamily && op == "+":
		if nullRes {
			return Timestamp, nil, nil
		}
		date, tod := l, r
		if lf == TimeFamily {
			date, tod = r, l
		}
		us := int64(tod.(TimeOfDay))
		if op == "-" {
			us = -us
		}
		v, err := AddInterval(date.(time.Time), Interval{Micros: us})
		return Timestamp, v, err
	case lf == TimeFamily && rf == IntervalFamily && (op == "+" || op == "-"),
		lf == IntervalFamily && rf == TimeFamily && op == "+":
		if nullRes {
			return Time, nil, nil
		}
		tod, iv := l, r
		if lf == IntervalFamily {
			tod, iv = r, l
		}
		d := iv.(Interval).Micros % usPerDay
		if op == "-" {
			d = -d
		}
		us := (int64(tod.(TimeOfDay)) + d) % usPerDay
		if us < 0 {
			us += usPerDay
		}
		return Time, TimeOfDay(us), nil
	case lf == TimeFamily && rf == TimeFamily && op == "-":
		if nullRes {
			return IntervalT, nil, nil
		}
		return IntervalT, Interval{Micros: int64(l.(TimeOfDay)) - int64(r.(TimeOfDay))}, nil
	case lf == IntervalFamily && rf == IntervalFamily && (op == "+" || op == "-"):
		if nullRes {
			return IntervalT, nil, nil
		}
		v, err := addIntervals(l.(Interval), r.(Interval), op == "-")
		return IntervalT, v, err
	case lf == IntervalFamily && isNumber(rf) && (op == "*" || op == "/"),
		isNumber(lf) && rf == IntervalFamily && op == "*":
		if nullRes {
			return IntervalT, nil, nil
		}
		iv, n := l, r
		if lf != IntervalFamily {
			iv, n = r, l
		}
		v, err := scaleInterval(iv.(Interval), toFloat64(n), op == "/")
		return IntervalT, v, err
	}
	return T{}, nil, opError(op, lt, rt)
}

// UnaryMinus negates d of type t: integer negation is range-checked (-(-2^63) is 22003);
// numeric and float negation cannot fail.
func UnaryMinus(t T, d Datum) (Datum, error) {
	switch v := d.(type) {
	case nil:
		if !isNumber(t.Family) && t.Family != UnknownFamily && t.Family != IntervalFamily {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "operator does not exist: - %s", t.String())
		}
		return nil, nil
	case int64:
		if v == math.MinInt64 || !intFits(t, -v) {
			return nil, intOutOfRange(t)
		}
		return -v, nil
	case float64:
		return -v, nil
	case *apd.Decimal:
		if isNaN(v) {
			return v, nil
		}
		return decimalDatum(normDecimal(new(apd.Decimal).Neg(v)))
	case Interval:
		n, ok := negateInterval(v)
		if !ok {
			return nil, intervalOverflow()
		}
		return n, nil
	}
	return nil, pgerror.New(pgerror.CodeUndefinedFunction, "operator does not exist: - %s", t.String()).
		WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}
