package sql

import (
	"fmt"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/pgerror"
)

func TestToPGErrorTransactionErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
		msg  string
	}{
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryDeadlock, Message: "aborted to break a cycle"}, pgerror.CodeDeadlockDetected, "deadlock detected"},
		{fmt.Errorf("wrapped: %w", &kvpb.TransactionRetryError{Reason: kvpb.RetryDeadlock}), pgerror.CodeDeadlockDetected, "deadlock detected"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryWriteTooOld, Message: "write too old"}, pgerror.CodeSerializationFailure, "restart transaction: write too old"},
		{&kvpb.LockNotAvailableError{Key: []byte("k"), Timeout: time.Second}, pgerror.CodeLockNotAvailable, "canceling statement due to lock timeout"},
		{&kvpb.BatchTimestampBeforeGCError{Timestamp: hlc.Timestamp{WallTime: 5}, Threshold: hlc.Timestamp{WallTime: 9}}, pgerror.CodeSnapshotTooOld,
			"snapshot too old: cannot read at timestamp 0.000000005,0, at or below the GC threshold 0.000000009,0"},
	} {
		pe := pgerror.Flatten(toPGError(tc.err))
		if pe.Code != tc.code || pe.Message != tc.msg {
			t.Errorf("%v: got %s %q, want %s %q", tc.err, pe.Code, pe.Message, tc.code, tc.msg)
		}
	}
	pe := pgerror.Flatten(toPGError(&kvpb.LockNotAvailableError{Key: []byte("k"), Timeout: time.Second}))
	if pe.Detail == "" {
		t.Error("the lock timeout error lost the KV message")
	}
}

func TestParseInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"-10s":                -10 * time.Second,
		"-1m":                 -time.Minute,
		"-1h30m":              -90 * time.Minute,
		"-500ms":              -500 * time.Millisecond,
		"-10 seconds":         -10 * time.Second,
		"-1 hour 30 minutes":  -30 * time.Minute, // signs per field, as PostgreSQL reads them
		"-1 hour -30 minutes": -90 * time.Minute,
		"1 minute ago":        -time.Minute,
		"-2 days":             -48 * time.Hour,
		"-00:00:10":           -10 * time.Second,
		"-01:30":              -90 * time.Minute,
		"-1.5 s":              -1500 * time.Millisecond,
		"-3us":                -3 * time.Microsecond,
	} {
		got, ok := parseInterval(in)
		if !ok || got != want {
			t.Errorf("parseInterval(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "soon", "2026-11-25", "-1 fortnight", "-1 month", "10:99", "s"} {
		if d, ok := parseInterval(in); ok {
			t.Errorf("parseInterval(%q) = %v, want an error", in, d)
		}
	}
}

func TestParseAsOfString(t *testing.T) {
	now := hlc.Timestamp{WallTime: 1_800_000_000_000_000_000, Logical: 3}
	for in, want := range map[string]hlc.Timestamp{
		"-10s":                           {WallTime: now.WallTime - 10e9},
		"1732528800000000000":            {WallTime: 1732528800000000000},
		"1732528800000000000.0000000001": {WallTime: 1732528800000000000, Logical: 1},
		"1732528800000000000.00000005":   {WallTime: 1732528800000000000, Logical: 500},
		"2024-11-25 10:00:00":            {WallTime: time.Date(2024, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano()},
		"2024-11-25 10:00:00.25+01":      {WallTime: time.Date(2024, 11, 25, 9, 0, 0, 250e6, time.UTC).UnixNano()},
	} {
		got, err := parseAsOfString(in, now)
		if err != nil || got != want {
			t.Errorf("parseAsOfString(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday-ish", "1.00000000001", "1.9999999999", "1.5", ""} {
		if got, err := parseAsOfString(in, now); err == nil {
			t.Errorf("parseAsOfString(%q) = %v, want an error", in, got)
		}
	}
	// cluster_logical_timestamp() prints what AS OF SYSTEM TIME reads.
	ts := hlc.Timestamp{WallTime: 1732528800123456789, Logical: 42}
	if got, err := decimalToHLC(hlcToDecimal(ts)); err != nil || got != ts {
		t.Errorf("round trip of %v: got %v, %v", ts, got, err)
	}
}

func TestParseTimeSetting(t *testing.T) {
	for in, want := range map[string]struct {
		d    time.Duration
		show string
	}{
		"0":       {0, "0"},
		"1000":    {time.Second, "1s"},
		"1500":    {1500 * time.Millisecond, "1500ms"},
		"'250ms'": {}, // not a value: quotes are the client's
		"250ms":   {250 * time.Millisecond, "250ms"},
		"1s":      {time.Second, "1s"},
		"0.5s":    {500 * time.Millisecond, "500ms"},
		"2 min":   {2 * time.Minute, "2min"},
		"90min":   {90 * time.Minute, "90min"},
		"120min":  {2 * time.Hour, "2h"},
		"1d":      {24 * time.Hour, "1d"},
		"1500us":  {2 * time.Millisecond, "2ms"},
	} {
		d, show, err := parseTimeSetting("statement_timeout", in)
		if want.show == "" {
			if err == nil {
				t.Errorf("%q: want an error", in)
			}
			continue
		}
		if err != nil || d != want.d || show != want.show {
			t.Errorf("%q: got %v %q %v, want %v %q", in, d, show, err, want.d, want.show)
		}
	}
	for _, in := range []string{"", "soon", "10 fortnights", "-1", "1e99", "3000000000"} {
		if _, _, err := parseTimeSetting("lock_timeout", in); pgerror.Code(err) != pgerror.CodeInvalidParameterValue {
			t.Errorf("%q: got %v, want 22023", in, err)
		}
	}
}
