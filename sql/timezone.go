package sql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// Time zones: the TimeZone setting and AT TIME ZONE. Names come from the IANA database that
// Go reads (the binary embeds it with time/tzdata, so no system tzdata is needed), in any
// case as in PostgreSQL; offsets follow PostgreSQL's conventions, which differ by form.

// zoneCache keeps loaded locations: time.LoadLocation reads and parses the database each
// time.
var zoneCache sync.Map // lower-case name -> *time.Location

// loadZone loads an IANA zone by name, in any case, returning it with its canonical name.
func loadZone(name string) (*time.Location, bool) {
	key := strings.ToLower(name)
	if loc, ok := zoneCache.Load(key); ok {
		return loc.(*time.Location), true
	}
	// Go's own name for the process's zone is not a zone name, nor is a path.
	if key == "local" || key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return nil, false
	}
	// The database's names are case-sensitive files: try the name as given, then the usual
	// capitalizations (America/New_York, EST5EDT, Etc/GMT+5, America/Port-au-Prince).
	for _, candidate := range []string{name, titleZone(name), strings.ToUpper(name), etcZone(name)} {
		if candidate == "" {
			continue
		}
		if loc, err := time.LoadLocation(candidate); err == nil {
			zoneCache.Store(key, loc)
			return loc, true
		}
	}
	return nil, false
}

// titleZone capitalizes each word of a zone name: america/new_york -> America/New_York.
func titleZone(name string) string {
	b := []byte(strings.ToLower(name))
	start := true
	for i, c := range b {
		if start && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		start = c == '/' || c == '_' || c == '-'
	}
	s := string(b)
	// Short words between hyphens stay lower case (Port-au-Prince, Dar_es_Salaam).
	for _, w := range []string{"-Au-", "_Es_", "-De-", "_Da_"} {
		s = strings.ReplaceAll(s, w, strings.ToLower(w))
	}
	return s
}

// etcZone spells etc/gmt+5 as the database does: Etc/GMT+5.
func etcZone(name string) string {
	lower := strings.ToLower(name)
	if !strings.HasPrefix(lower, "etc/") {
		return ""
	}
	return "Etc/" + strings.ToUpper(name[4:])
}

// fixedZoneName is how PostgreSQL names a zone given as an offset (SET TIME ZONE 2, or an
// interval): the POSIX form <+02>-02, whose offsets run west of Greenwich.
func fixedZoneName(east int) string {
	abs := east
	if abs < 0 {
		abs = -abs
	}
	off := fmt.Sprintf("%02d", abs/3600)
	if rest := abs % 3600; rest != 0 {
		off += fmt.Sprintf(":%02d", rest/60)
		if rest%60 != 0 {
			off += fmt.Sprintf(":%02d", rest%60)
		}
	}
	if east < 0 {
		return "<-" + off + ">+" + off
	}
	return "<+" + off + ">-" + off
}

// maxZoneOffset bounds fixed offsets, as PostgreSQL's POSIX zones are bounded.
const maxZoneOffset = 168 * 3600

// parseTimeZoneSetting reads a TimeZone setting as PostgreSQL's check_timezone does,
// returning the value SHOW prints and the zone: INTERVAL '...' (an offset east of UTC, from
// SET TIME ZONE INTERVAL), a number of hours east of UTC (SET TIME ZONE -7), or a zone name
// or POSIX specification (see parseZone).
func parseTimeZoneSetting(val string) (string, *time.Location, error) {
	s := strings.TrimSpace(val)
	bad := func() (string, *time.Location, error) {
		return "", nil, errInvalidValue("TimeZone", val)
	}
	if len(s) > 8 && strings.EqualFold(s[:8], "interval") {
		text := strings.TrimSpace(s[8:])
		if len(text) < 2 || text[0] != '\'' || text[len(text)-1] != '\'' {
			return bad()
		}
		ivt, err := types.ParseInterval(strings.ReplaceAll(text[1:len(text)-1], "''", "'"))
		if err != nil {
			return bad()
		}
		switch {
		case ivt.Months != 0:
			return "", nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid interval value for time zone: month not allowed")
		case ivt.Days != 0:
			return "", nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid interval value for time zone: day not allowed")
		}
		east := int(ivt.Micros / 1_000_000)
		if east > maxZoneOffset || east < -maxZoneOffset {
			return bad()
		}
		name := fixedZoneName(east)
		return name, time.FixedZone(name, east), nil
	}
	if hours, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(hours) || math.Abs(hours*3600) > maxZoneOffset {
			return bad()
		}
		east := int(hours * 3600)
		name := fixedZoneName(east)
		return name, time.FixedZone(name, east), nil
	}
	name, loc, ok := parseZone(s)
	if !ok {
		return bad()
	}
	return name, loc, nil
}

// parseZone reads a zone name (America/New_York, UTC, EST5EDT) or a POSIX specification of
// a fixed offset (UTC+3, <+05>-05, +05:30), whose offsets, unlike SQL's, run west of
// Greenwich: UTC+3 is three hours behind UTC.
func parseZone(s string) (string, *time.Location, bool) {
	if loc, ok := loadZone(s); ok {
		return loc.String(), loc, true
	}
	name, west, ok := parsePOSIXZone(s)
	if !ok {
		return "", nil, false
	}
	display := strings.ToUpper(s)
	return display, time.FixedZone(name, -west), true
}

// parsePOSIXZone reads a POSIX TZ specification without daylight saving time: an
// abbreviation (letters, or anything within <>; PostgreSQL also allows none) and an offset
// [+|-]hh[:mm[:ss]] west of Greenwich.
func parsePOSIXZone(s string) (abbrev string, west int, ok bool) {
	i := 0
	switch {
	case strings.HasPrefix(s, "<"):
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", 0, false
		}
		abbrev, i = s[1:end], end+1
	default:
		for i < len(s) && unicode.IsLetter(rune(s[i])) {
			i++
		}
		abbrev = strings.ToUpper(s[:i])
	}
	rest := s[i:]
	sign := 1
	switch {
	case strings.HasPrefix(rest, "+"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "-"):
		sign, rest = -1, rest[1:]
	}
	parts := strings.Split(rest, ":")
	if len(parts) > 3 || rest == "" {
		return "", 0, false
	}
	limits := []int{167, 59, 59}
	secs := 0
	for k, p := range parts {
		if len(p) == 0 || len(p) > 3 || k > 0 && len(p) != 2 {
			return "", 0, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > limits[k] {
			return "", 0, false
		}
		secs = secs*60 + n
	}
	for k := len(parts); k < 3; k++ {
		secs *= 60
	}
	if abbrev == "" {
		abbrev = strings.TrimPrefix(strings.TrimPrefix(s[i:], "+"), "-")
	}
	return abbrev, sign * secs, true
}

// zoneAbbreviations are the abbreviations AT TIME ZONE reads besides zone names, with their
// offsets east of UTC: the common ones of PostgreSQL's default set that are not zone names
// themselves (EST, MST, HST, CET, EET, WET and UTC are).
var zoneAbbreviations = map[string]int{
	"z": 0, "zulu": 0, "ut": 0,
	"edt": -4 * 3600, "cst": -6 * 3600, "cdt": -5 * 3600, "mdt": -6 * 3600, "pst": -8 * 3600, "pdt": -7 * 3600,
	"akst": -9 * 3600, "akdt": -8 * 3600, "hdt": -9 * 3600, "ast": -4 * 3600, "adt": -3 * 3600,
	"nst": -(3*3600 + 1800), "ndt": -(2*3600 + 1800),
	"bst": 3600, "cest": 2 * 3600, "eest": 3 * 3600, "west": 3600, "msk": 3 * 3600,
	"jst": 9 * 3600, "kst": 9 * 3600, "hkt": 8 * 3600, "sgt": 8 * 3600,
	"aest": 10 * 3600, "aedt": 11 * 3600, "acst": 9*3600 + 1800, "awst": 8 * 3600,
	"nzst": 12 * 3600, "nzdt": 13 * 3600,
}

// zoneForAtTimeZone reads AT TIME ZONE's zone as PostgreSQL does: an abbreviation, else a
// name or POSIX specification (so '+02' is two hours west of UTC, as in PostgreSQL).
func zoneForAtTimeZone(s string) (*time.Location, error) {
	if east, ok := zoneAbbreviations[strings.ToLower(strings.TrimSpace(s))]; ok {
		return time.FixedZone(strings.ToUpper(s), east), nil
	}
	if _, loc, ok := parseZone(strings.TrimSpace(s)); ok {
		return loc, nil
	}
	return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "time zone %q not recognized", s)
}

// zoneOfInterval is AT TIME ZONE INTERVAL '...': an offset east of UTC.
func zoneOfInterval(iv types.Interval) (*time.Location, error) {
	if iv.Months != 0 || iv.Days != 0 {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "interval time zone %q must not include months or days", string(types.AppendText(nil, types.IntervalT, iv)))
	}
	east := int(iv.Micros / 1_000_000)
	return time.FixedZone(fixedZoneName(east), east), nil
}

// atTimeZone compiles timezone(zone, value), the dialect's form of value AT TIME ZONE zone:
// a timestamptz becomes the timestamp its instant reads in zone, a timestamp (or date)
// becomes the instant at which zone's clocks read it.
func (c *compiler) atTimeZone(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) != 2 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function timezone with %d argument(s) does not exist", len(n.Args))
	}
	zone, err := c.compileWant(n.Args[0], types.String)
	if err != nil {
		return nil, err
	}
	if zone.untyped {
		if zone, err = coerce(zone, types.String); err != nil {
			return nil, err
		}
	}
	if f := zone.typ.Family; f != types.StringFamily && f != types.IntervalFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function timezone(%s, unknown) does not exist", zone.typ.String()).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	val, err := c.compileWant(n.Args[1], types.TimestampTZ)
	if err != nil {
		return nil, err
	}
	if val.untyped {
		// An unknown literal is read as timestamptz, PostgreSQL's preferred time type.
		if val, err = coerce(val, types.TimestampTZ); err != nil {
			return nil, err
		}
	}
	resT := types.Timestamp
	switch val.typ.Family {
	case types.TimestampTZFamily:
	case types.TimestampFamily:
		resT = types.TimestampTZ
	case types.DateFamily:
		val = castScalar(val, types.TimestampTZ)
	default:
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function timezone(%s, %s) does not exist", zone.typ.String(), val.typ.String()).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	zoneOf := func(v types.Datum) (*time.Location, error) {
		if iv, ok := v.(types.Interval); ok {
			return zoneOfInterval(iv)
		}
		return zoneForAtTimeZone(v.(string))
	}
	// A constant zone is read once, and a bad one refused while compiling.
	var constLoc *time.Location
	if zone.constant && zone.val != nil {
		if constLoc, err = zoneOf(zone.val); err != nil {
			return nil, err
		}
	}
	return &scalar{typ: resT, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		v, err := val.eval(ec, row)
		if err != nil || v == nil {
			return nil, err
		}
		loc := constLoc
		if loc == nil {
			z, err := zone.eval(ec, row)
			if err != nil || z == nil {
				return nil, err
			}
			if loc, err = zoneOf(z); err != nil {
				return nil, err
			}
		}
		// Converting between the two timestamp types in zone is the cast between them
		// under a session in zone.
		st := &types.Settings{Location: loc}
		if resT == types.Timestamp {
			return types.CastWith(v, types.TimestampTZ, types.Timestamp, st)
		}
		return types.CastWith(v, types.Timestamp, types.TimestampTZ, st)
	}}, nil
}
