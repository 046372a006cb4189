package types

import (
	"math"
	"strconv"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// Cast converts d of type from to type to, as an explicit CAST(d AS to) or d::to does. A cast
// PostgreSQL has no path for is 42846 even when d is NULL, because PostgreSQL rejects it while
// planning; otherwise NULL casts to NULL.
func Cast(d Datum, from, to T) (Datum, error) {
	return CastWith(d, from, to, DefaultSettings)
}

// CastWith is Cast under the session settings st, which casts between text and timestamptz,
// and between timestamptz and the other time types, depend on (see CastUsesSettings).
func CastWith(d Datum, from, to T, st *Settings) (Datum, error) {
	if !explicitCastable(from, to) {
		return nil, pgerror.New(pgerror.CodeCannotCoerce, "cannot cast type %s to %s", from.String(), to.String())
	}
	return convert(d, from, to, true, st)
}

// CastUsesSettings reports whether a conversion from one type to the other depends on the
// session settings (PostgreSQL marks such casts stable rather than immutable), so that its
// result on a constant must not be computed once and kept.
func CastUsesSettings(from, to T) bool {
	if from.Family == ArrayFamily || to.Family == ArrayFamily {
		return CastUsesSettings(from.ElemType(), to.ElemType())
	}
	switch {
	case from.Family == to.Family:
		return false
	case from.Family == TimestampTZFamily || to.Family == TimestampTZFamily:
		// Text in and out, and the other time types, read the instant in the session zone.
		return true
	case to.Family == StringFamily:
		return from.Family == FloatFamily || from.Family == BytesFamily
	}
	return false
}

// AssignCast converts d for storage in a column of type to (INSERT, UPDATE): only PostgreSQL's
// implicit and assignment casts apply, a string too long for its column is 22001 rather than
// truncated (trailing blanks excepted), and numeric(p,s) rounds to its scale.
func AssignCast(d Datum, from, to T) (Datum, error) {
	return AssignCastWith(d, from, to, DefaultSettings)
}

// AssignCastWith is AssignCast under the session settings st.
func AssignCastWith(d Datum, from, to T, st *Settings) (Datum, error) {
	if !assignable(from, to) {
		return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "column is of type %s but expression is of type %s", to.String(), from.String()).
			WithHint("You will need to rewrite or cast the expression.")
	}
	return convert(d, from, to, false, st)
}

func isNumber(f Family) bool { return f == IntFamily || f == FloatFamily || f == DecimalFamily }

func isTime(f Family) bool { return f == DateFamily || f == TimestampFamily || f == TimestampTZFamily }

// explicitCastable mirrors pg_cast plus the automatic I/O conversion casts to and from string
// types that PostgreSQL allows explicitly.
func explicitCastable(from, to T) bool {
	if from.Family == ArrayFamily && to.Family == ArrayFamily {
		return explicitCastable(from.ElemType(), to.ElemType())
	}
	if extraCast(from, to) || oidCastable(from, to) {
		return true
	}
	switch {
	case from.Family == JSONBFamily && (to.Family == BoolFamily || isNumber(to.Family)):
		return true // jsonb's casts of a scalar to its SQL type (PostgreSQL 11+)
	case from.Family == to.Family, from.Family == UnknownFamily, to.Family == UnknownFamily:
		return true
	case from.Family == StringFamily, to.Family == StringFamily:
		return true
	case isNumber(from.Family) && isNumber(to.Family), isTime(from.Family) && isTime(to.Family):
		return true
	case from.Family == BoolFamily && to.Family == IntFamily, from.Family == IntFamily && to.Family == BoolFamily:
		// PostgreSQL only has int4 <-> boolean; int2 and int8 have no such cast.
		other := to
		if to.Family == BoolFamily {
			other = from
		}
		return other.intWidth() == 32
	}
	return false
}

// assignable mirrors the casts PostgreSQL applies in assignment context: implicit and
// assignment casts, including I/O conversion to (but not from) string types.
func assignable(from, to T) bool {
	if from.Family == ArrayFamily && to.Family == ArrayFamily {
		return assignable(from.ElemType(), to.ElemType())
	}
	if extraCast(from, to) || oidCastable(from, to) {
		return true
	}
	switch {
	case from.Family == to.Family, from.Family == UnknownFamily, to.Family == UnknownFamily:
		return true
	case to.Family == StringFamily:
		return true
	case isNumber(from.Family) && isNumber(to.Family), isTime(from.Family) && isTime(to.Family):
		return true
	}
	return false
}

// extraCast reports the implicit and assignment casts among the time, interval and JSON
// types: time <-> interval, timestamp(tz) -> time, json <-> jsonb.
func extraCast(from, to T) bool {
	f, t := from.Family, to.Family
	switch {
	case f == TimeFamily && t == IntervalFamily, f == IntervalFamily && t == TimeFamily:
		return true
	case (f == TimestampFamily || f == TimestampTZFamily) && t == TimeFamily:
		return true
	case f == JSONFamily && t == JSONBFamily, f == JSONBFamily && t == JSONFamily:
		return true
	}
	return false
}

// baseType is t without modifiers: the type an input function is called with before the
// modifier is applied with cast or assignment semantics.
func baseType(t T) T {
	switch t.Family {
	case DecimalFamily:
		return Numeric
	case StringFamily:
		t.Width = 0
	}
	return t
}

// convert does the value conversion once the cast is known to exist. explicit selects CAST
// semantics (silent truncation of strings) over assignment semantics.
func convert(d Datum, from, to T, explicit bool, st *Settings) (Datum, error) {
	if d == nil || to.Family == UnknownFamily {
		return d, nil
	}
	if j, ok := d.(JSON); ok && to.Family != JSONBFamily && to.Family != StringFamily && to.Family != JSONFamily {
		return jsonToScalar(j, to, explicit, st)
	}
	if s, ok := d.(string); ok && to.Family != StringFamily {
		// An untyped literal or a text value goes through to's input function; the modifier is
		// applied afterwards, as PostgreSQL does for a literal with an explicit cast.
		v, err := ParseTextWith(baseType(to), s, st)
		if err != nil || to.Family != DecimalFamily {
			return v, err
		}
		return decimalDatum(fitDecimal(to, v.(*apd.Decimal)))
	}
	switch to.Family {
	case StringFamily:
		return toString(d, from, to, explicit, st)
	case IntFamily:
		return toInt(d, to)
	case FloatFamily:
		return toFloatType(d, to)
	case DecimalFamily:
		return toNumeric(d, from, to)
	case BoolFamily:
		switch v := d.(type) {
		case bool:
			return v, nil
		case int64:
			return v != 0, nil
		}
	case BytesFamily, UUIDFamily, JSONBFamily:
		return d, nil
	case OIDFamily:
		return toOid(d, from, to)
	case JSONFamily:
		if j, ok := d.(JSON); ok {
			return string(AppendJSON(nil, j)), nil
		}
	case ArrayFamily:
		if a, ok := d.(Array); ok {
			out := Array{Elems: make([]Datum, len(a.Elems))}
			for i, e := range a.Elems {
				v, err := convert(e, from.ElemType(), to.ElemType(), explicit, st)
				if err != nil {
					return nil, err
				}
				out.Elems[i] = v
			}
			return out, nil
		}
	case TimeFamily:
		switch v := d.(type) {
		case TimeOfDay:
			return v, nil
		case time.Time:
			if from.Family == TimestampTZFamily {
				v = wallClock(v, st.location())
			}
			return timeOfDayOf(v), nil
		case Interval:
			us := v.Micros % usPerDay
			if us < 0 {
				us += usPerDay
			}
			return TimeOfDay(us), nil
		}
	case IntervalFamily:
		switch v := d.(type) {
		case Interval:
			return v, nil
		case TimeOfDay:
			return Interval{Micros: int64(v)}, nil
		}
	case DateFamily:
		if v, ok := d.(time.Time); ok {
			if from.Family == TimestampTZFamily {
				v = wallClock(v, st.location())
			}
			return truncateToDate(v), nil
		}
	case TimestampFamily, TimestampTZFamily:
		// Date and timestamp values hold their reading in UTC fields, timestamptz values the
		// instant: between the two kinds the session time zone converts.
		if v, ok := d.(time.Time); ok {
			switch fromTZ, toTZ := from.Family == TimestampTZFamily, to.Family == TimestampTZFamily; {
			case fromTZ && !toTZ:
				return wallClock(v, st.location()), nil
			case !fromTZ && toTZ && isTime(from.Family):
				return instantAt(v.UTC(), st.location()), nil
			}
			return v.UTC(), nil
		}
	}
	return nil, pgerror.New(pgerror.CodeCannotCoerce, "cannot cast type %s to %s", from.String(), to.String())
}

// jsonToScalar is jsonb's cast to boolean or a number type: the value must be of the
// matching JSON kind.
func jsonToScalar(j JSON, to T, explicit bool, st *Settings) (Datum, error) {
	switch {
	case to.Family == BoolFamily && j.Kind == JSONBool:
		return j.Bool, nil
	case isNumber(to.Family) && j.Kind == JSONNumber:
		return convert(j.Num, Numeric, to, explicit, st)
	}
	return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "cannot cast jsonb %s to type %s", j.TypeName(), to.String())
}

func toString(d Datum, from, to T, explicit bool, st *Settings) (Datum, error) {
	var s string
	switch v := d.(type) {
	case string:
		s = v
	case bool:
		// The boolean-to-text cast spells the words out, unlike boolean's output function.
		s = strconv.FormatBool(v)
	default:
		s = string(AppendTextWith(nil, from, d, st))
	}
	return fitString(to, s, explicit)
}

func toInt(d Datum, to T) (Datum, error) {
	var v int64
	switch x := d.(type) {
	case int64:
		v = x
	case bool:
		if x {
			v = 1
		}
	case float64:
		// rint: halves round to even; the bounds are exact powers of two, so comparing
		// before converting is safe.
		r := math.RoundToEven(x)
		if math.IsNaN(r) || r < -(1<<63) || r >= 1<<63 {
			return nil, intOutOfRange(to)
		}
		v = int64(r)
	case *apd.Decimal:
		if x.Form != apd.Finite {
			what := "NaN"
			if x.Form == apd.Infinite {
				what = "infinity"
			}
			return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "cannot convert %s to %s", what, to.String())
		}
		r := new(apd.Decimal)
		if _, err := decimalCtx.RoundToIntegralValue(r, x); err != nil {
			return nil, intOutOfRange(to)
		}
		i, err := r.Int64()
		if err != nil {
			return nil, intOutOfRange(to)
		}
		v = i
	default:
		return nil, pgerror.New(pgerror.CodeCannotCoerce, "cannot cast value to %s", to.String())
	}
	if !intFits(to, v) {
		return nil, intOutOfRange(to)
	}
	return v, nil
}

func toFloatType(d Datum, to T) (Datum, error) {
	var f float64
	switch x := d.(type) {
	case int64:
		f = float64(x)
	case float64:
		f = x
	case *apd.Decimal:
		switch {
		case isNaN(x):
			f = math.NaN()
		case x.Form == apd.Infinite:
			f = math.Inf(1)
			if x.Negative {
				f = -f
			}
		default:
			var err error
			if f, err = strconv.ParseFloat(x.String(), 64); err != nil {
				return nil, floatOverflow()
			}
		}
	default:
		return nil, pgerror.New(pgerror.CodeCannotCoerce, "cannot cast value to %s", to.String())
	}
	if to.isFloat4() {
		return narrowFloat4(f)
	}
	return f, nil
}

// narrowFloat4 rounds f to real precision, rejecting values real cannot hold, as float84 does.
func narrowFloat4(f float64) (float64, error) {
	r := float32(f)
	switch {
	case math.IsInf(float64(r), 0) && !math.IsInf(f, 0):
		return 0, floatOverflow()
	case r == 0 && f != 0:
		return 0, floatUnderflow()
	}
	return float64(r), nil
}

func floatOverflow() error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: overflow")
}

func floatUnderflow() error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: underflow")
}

func toNumeric(d Datum, from, to T) (Datum, error) {
	switch x := d.(type) {
	case int64:
		return decimalDatum(fitDecimal(to, apd.New(x, 0)))
	case *apd.Decimal:
		return decimalDatum(fitDecimal(to, x))
	case float64:
		switch {
		case math.IsNaN(x):
			return numericNaN(), nil
		case math.IsInf(x, 0):
			return decimalDatum(fitDecimal(to, numericInf(x < 0)))
		}
		// float8_numeric keeps only DBL_DIG (FLT_DIG for real) significant digits, so 0.1
		// becomes 0.1 rather than the binary value's 55-digit expansion.
		digits := 15
		if from.isFloat4() {
			digits = 6
		}
		dd, _, err := apd.NewFromString(strconv.FormatFloat(x, 'g', digits, 64))
		if err != nil {
			return nil, numericOverflow()
		}
		return decimalDatum(fitDecimal(to, dd))
	}
	return nil, pgerror.New(pgerror.CodeCannotCoerce, "cannot cast value to %s", to.String())
}

func intOutOfRange(t T) error {
	switch t.intWidth() {
	case 16:
		return pgerror.New(pgerror.CodeNumericValueOutOfRange, "smallint out of range")
	case 32:
		return pgerror.New(pgerror.CodeNumericValueOutOfRange, "integer out of range")
	}
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "bigint out of range")
}
