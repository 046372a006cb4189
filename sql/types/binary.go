package types

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

func badBinary() error {
	return pgerror.New(pgerror.CodeInvalidBinaryRepresent, "incorrect binary data format")
}

// PostgreSQL encodes infinite dates and timestamps as the extreme integers; Meridian has no
// such values, so they are refused rather than misread as far-off instants.
const (
	dateNegInfinity  = math.MinInt32
	datePosInfinity  = math.MaxInt32
	stampNegInfinity = math.MinInt64
	stampPosInfinity = math.MaxInt64
)

// jsonbVersion starts jsonb's binary form, which is otherwise its text.
const jsonbVersion = 1

// AppendBinary appends d in PostgreSQL's binary send format for t. d must not be nil.
func AppendBinary(b []byte, t T, d Datum) ([]byte, error) {
	switch t.Family {
	case BoolFamily:
		if d.(bool) {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case IntFamily:
		v := d.(int64)
		switch t.intWidth() {
		case 16:
			return binary.BigEndian.AppendUint16(b, uint16(v)), nil
		case 32:
			return binary.BigEndian.AppendUint32(b, uint32(v)), nil
		}
		return binary.BigEndian.AppendUint64(b, uint64(v)), nil
	case FloatFamily:
		if t.isFloat4() {
			return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(d.(float64)))), nil
		}
		return binary.BigEndian.AppendUint64(b, math.Float64bits(d.(float64))), nil
	case DecimalFamily:
		return appendNumericBinary(b, d.(*apd.Decimal))
	case StringFamily, UnknownFamily:
		// bpchar_send sends the blank-padded value; AppendText restores the padding.
		return AppendText(b, t, d), nil
	case BytesFamily:
		return append(b, d.([]byte)...), nil
	case DateFamily:
		return binary.BigEndian.AppendUint32(b, uint32(int32(daysSinceEpoch(d.(time.Time))))), nil
	case TimestampFamily, TimestampTZFamily:
		return binary.BigEndian.AppendUint64(b, uint64(microsSinceEpoch(d.(time.Time)))), nil
	case UUIDFamily:
		u := d.(UUID)
		return append(b, u[:]...), nil
	case TimeFamily:
		return binary.BigEndian.AppendUint64(b, uint64(d.(TimeOfDay))), nil
	case IntervalFamily:
		iv := d.(Interval)
		b = binary.BigEndian.AppendUint64(b, uint64(iv.Micros))
		b = binary.BigEndian.AppendUint32(b, uint32(iv.Days))
		return binary.BigEndian.AppendUint32(b, uint32(iv.Months)), nil
	case JSONBFamily:
		return AppendJSON(append(b, jsonbVersion), d.(JSON)), nil
	case JSONFamily:
		return append(b, d.(string)...), nil
	case ArrayFamily:
		return appendArrayBinary(b, t, d.(Array))
	case OIDFamily:
		return appendOidBinary(b, d), nil
	case RecordFamily:
		return appendRecordBinary(b, t, d.(Record))
	}
	return nil, pgerror.Unsupported("binary format for type " + t.String())
}

// AppendBinaryField appends d as one length-prefixed field of the binary formats that nest
// values (array elements, record fields, binary COPY columns): its length as an int32, -1
// for NULL, then its binary form for t.
func AppendBinaryField(b []byte, t T, d Datum) ([]byte, error) {
	if d == nil {
		return binary.BigEndian.AppendUint32(b, 0xffffffff), nil
	}
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := AppendBinary(b, t, d)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b, nil
}

// DecodeBinary parses PostgreSQL's binary receive format for t, applying t's modifiers as a
// receive function does. A value of the wrong length is 22P03.
func DecodeBinary(t T, b []byte) (Datum, error) {
	fixed := func(n int) error {
		if len(b) != n {
			return badBinary()
		}
		return nil
	}
	switch t.Family {
	case BoolFamily:
		if err := fixed(1); err != nil {
			return nil, err
		}
		return b[0] != 0, nil
	case IntFamily:
		switch w := t.intWidth(); {
		case w == 16 && len(b) == 2:
			return int64(int16(binary.BigEndian.Uint16(b))), nil
		case w == 32 && len(b) == 4:
			return int64(int32(binary.BigEndian.Uint32(b))), nil
		case w == 64 && len(b) == 8:
			return int64(binary.BigEndian.Uint64(b)), nil
		}
		return nil, badBinary()
	case FloatFamily:
		if t.isFloat4() {
			if err := fixed(4); err != nil {
				return nil, err
			}
			return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
		}
		if err := fixed(8); err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case DecimalFamily:
		d, err := decodeNumericBinary(b)
		if err != nil {
			return nil, err
		}
		return decimalDatum(fitDecimal(t, d))
	case StringFamily:
		return fitString(t, string(b), false)
	case BytesFamily:
		return append([]byte{}, b...), nil
	case DateFamily:
		if err := fixed(4); err != nil {
			return nil, err
		}
		days := int32(binary.BigEndian.Uint32(b))
		if days == dateNegInfinity || days == datePosInfinity {
			return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "infinite date values are not supported")
		}
		tm := dateFromDays(int64(days))
		if !dateInRange(tm) {
			return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date out of range")
		}
		return tm, nil
	case TimestampFamily, TimestampTZFamily:
		if err := fixed(8); err != nil {
			return nil, err
		}
		us := int64(binary.BigEndian.Uint64(b))
		if us == stampNegInfinity || us == stampPosInfinity {
			return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "infinite %s values are not supported", t.String())
		}
		tm := timeFromMicros(us)
		if !stampInRange(tm) {
			return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "timestamp out of range")
		}
		return tm, nil
	case UUIDFamily:
		if err := fixed(16); err != nil {
			return nil, err
		}
		var u UUID
		copy(u[:], b)
		return u, nil
	case OIDFamily:
		return decodeOidBinary(b)
	case TimeFamily:
		if err := fixed(8); err != nil {
			return nil, err
		}
		us := int64(binary.BigEndian.Uint64(b))
		if us < 0 || us > usPerDay {
			return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "time out of range")
		}
		return TimeOfDay(us), nil
	case IntervalFamily:
		if err := fixed(16); err != nil {
			return nil, err
		}
		return Interval{
			Micros: int64(binary.BigEndian.Uint64(b)),
			Days:   int32(binary.BigEndian.Uint32(b[8:])),
			Months: int32(binary.BigEndian.Uint32(b[12:])),
		}, nil
	case JSONBFamily:
		if len(b) == 0 || b[0] != jsonbVersion {
			v := -1
			if len(b) > 0 {
				v = int(b[0])
			}
			return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresent, "unsupported jsonb version number %d", v)
		}
		return ParseJSON(string(b[1:]))
	case JSONFamily:
		return ParseText(t, string(b))
	case ArrayFamily:
		return decodeArrayBinary(t, b)
	case UnknownFamily:
		return string(b), nil
	}
	return nil, pgerror.Unsupported("binary format for type " + t.String())
}
