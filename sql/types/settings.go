package types

import "time"

// Settings are the session settings that change how values convert to and from text and
// between the time types: PostgreSQL's TimeZone, extra_float_digits and bytea_output.
// Functions without them (AppendText, ParseText, Cast, ...) use DefaultSettings.
type Settings struct {
	// Location is the session time zone (TimeZone): timestamptz values print in it, and
	// text without a zone, timestamp and date values convert to timestamptz in it.
	Location *time.Location
	// ExtraFloatDigits is extra_float_digits: above 0, floats print in the shortest form
	// that reads back exactly; at 0 and below, rounded to 15 (real: 6) plus it significant
	// digits.
	ExtraFloatDigits int
	// ByteaEscape is bytea_output = escape (else hex).
	ByteaEscape bool
}

// DefaultSettings are PostgreSQL's defaults: TimeZone UTC, extra_float_digits 1, bytea_output
// hex.
var DefaultSettings = &Settings{Location: time.UTC, ExtraFloatDigits: 1}

// location is the session time zone, UTC for nil settings.
func (st *Settings) location() *time.Location {
	if st == nil || st.Location == nil {
		return time.UTC
	}
	return st.Location
}
