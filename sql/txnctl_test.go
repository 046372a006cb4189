package sql

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
)

func TestToPGErrorTransactionErrors(t *testing.T) {
	tables := lookupIn(testTables())
	accounts5 := rowKey(t, testTables()[104], int64(5), nil)
	other := &kvpb.ConflictingTxn{ID: mvcc.TxnID{0x1a, 0x2b, 0x3c, 0x4d, 9}, Timestamp: hlc.Timestamp{WallTime: 1700000000000000000, Logical: 2}}
	committed := &kvpb.ConflictingTxn{Timestamp: hlc.Timestamp{WallTime: 1700000000000000000}}
	for _, tc := range []struct {
		err    error
		code   string
		msg    string
		detail string
	}{
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryDeadlock, Message: "aborted to break a cycle"}, pgerror.CodeDeadlockDetected,
			"deadlock detected", "Reason: ABORT_REASON_DEADLOCK: aborted to break a cycle"},
		{fmt.Errorf("wrapped: %w", &kvpb.TransactionRetryError{Reason: kvpb.RetryDeadlock}), pgerror.CodeDeadlockDetected,
			"deadlock detected", "Reason: ABORT_REASON_DEADLOCK"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryDeadlock, Message: "aborted", Key: accounts5, Waiting: true, Conflicting: other},
			pgerror.CodeDeadlockDetected,
			`deadlock detected: this transaction waited for a lock on table "accounts", key (id)=(5) held by another transaction (1a2b3c4d), which was waiting, directly or not, for this one`,
			"Reason: ABORT_REASON_DEADLOCK: aborted\nKey: /Table/accounts/accounts_pkey/5\nConflicting transaction: 1a2b3c4d, writing at 1700000000.000000000,2"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryDeadlock, Message: "aborted", Key: accounts5, Conflicting: other},
			pgerror.CodeDeadlockDetected,
			`deadlock detected: another transaction (1a2b3c4d) waited for this transaction's lock on table "accounts", key (id)=(5) while this transaction was waiting, directly or not, for it`,
			"Reason: ABORT_REASON_DEADLOCK: aborted\nKey: /Table/accounts/accounts_pkey/5\nConflicting transaction: 1a2b3c4d, writing at 1700000000.000000000,2"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryWriteTooOld, Message: "write too old"}, pgerror.CodeSerializationFailure,
			"restart transaction: write too old: write too old", "Reason: RETRY_WRITE_TOO_OLD: write too old"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryWriteTooOld, Key: accounts5, Conflicting: other}, pgerror.CodeSerializationFailure,
			`restart transaction: write too old: another transaction (1a2b3c4d) wrote to table "accounts", key (id)=(5) after this transaction read it`,
			"Reason: RETRY_WRITE_TOO_OLD\nKey: /Table/accounts/accounts_pkey/5\nConflicting transaction: 1a2b3c4d, writing at 1700000000.000000000,2"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetrySerializable, Message: "a read is no longer valid", Key: accounts5, Conflicting: committed},
			pgerror.CodeSerializationFailure,
			`restart transaction: serialization conflict: another transaction wrote to table "accounts", key (id)=(5) after this transaction read it`,
			"Reason: RETRY_SERIALIZABLE: a read is no longer valid\nKey: /Table/accounts/accounts_pkey/5\nConflicting write: committed at 1700000000.000000000,0"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetrySerializable, Message: "the commit was pushed 11 times"}, pgerror.CodeSerializationFailure,
			"restart transaction: serialization conflict: the commit was pushed 11 times", "Reason: RETRY_SERIALIZABLE: the commit was pushed 11 times"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryUncertainty, Key: accounts5, Conflicting: committed}, pgerror.CodeSerializationFailure,
			`restart transaction: uncertain read: another transaction wrote to table "accounts", key (id)=(5) so close to this transaction's start that it may have come first`,
			"Reason: RETRY_UNCERTAINTY\nKey: /Table/accounts/accounts_pkey/5\nConflicting write: committed at 1700000000.000000000,0"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryAborted, Aborted: true, Key: accounts5, Conflicting: &kvpb.ConflictingTxn{ID: other.ID}},
			pgerror.CodeSerializationFailure,
			`restart transaction: transaction aborted: another transaction (1a2b3c4d) needed this transaction's lock on table "accounts", key (id)=(5) and aborted it`,
			"Reason: ABORT_REASON_ABORTED\nKey: /Table/accounts/accounts_pkey/5\nConflicting transaction: 1a2b3c4d"},
		{&kvpb.TransactionRetryError{Reason: kvpb.RetryConflict, Key: []byte{0x03, 'd', 0, 0, 0, 104}}, pgerror.CodeSerializationFailure,
			"restart transaction: write conflict: conflict with another transaction on key /System/descriptor/104",
			"Reason: RETRY_CONFLICT\nKey: /System/descriptor/104"},
		{&kvpb.TransactionRetryError{Reason: "RETRY_SOMETHING_NEW", Key: []byte{0x05, 0xff, 0x00}}, pgerror.CodeSerializationFailure,
			"restart transaction: retry something new: conflict with another transaction on key /0x05ff00",
			"Reason: RETRY_SOMETHING_NEW\nKey: /0x05ff00"},
		{&kvpb.LockNotAvailableError{Key: []byte("k"), Timeout: time.Second}, pgerror.CodeLockNotAvailable,
			"could not obtain lock on key /0x6b", "Key /0x6b is locked by another transaction. The statement waited for it longer than lock_timeout (1s)."},
		{&kvpb.LockNotAvailableError{Key: accounts5, Holder: other.ID, Timeout: 100 * time.Millisecond}, pgerror.CodeLockNotAvailable,
			`could not obtain lock on row in relation "accounts"`,
			"Key (id)=(5) is locked by another transaction (1a2b3c4d). The statement waited for it longer than lock_timeout (100ms)."},
		{fmt.Errorf("scanning: %w", &kvpb.LockNotAvailableError{Key: accounts5, Holder: other.ID, Timeout: nowaitLockTimeout}), pgerror.CodeLockNotAvailable,
			`could not obtain lock on row in relation "accounts"`, "Key (id)=(5) is locked by another transaction (1a2b3c4d)."},
		{&kvpb.LockNotAvailableError{Key: rowenc.IndexPrefix(104), Holder: other.ID, Timeout: time.Second}, pgerror.CodeLockNotAvailable,
			`could not obtain lock on row in relation "accounts"`,
			"Key /Table/accounts/accounts_pkey is locked by another transaction (1a2b3c4d). The statement waited for it longer than lock_timeout (1s)."},
		{&kvpb.BatchTimestampBeforeGCError{Timestamp: hlc.Timestamp{WallTime: 5}, Threshold: hlc.Timestamp{WallTime: 9}}, pgerror.CodeSnapshotTooOld,
			"snapshot too old: cannot read at timestamp 0.000000005,0, at or below the GC threshold 0.000000009,0", ""},
	} {
		pe := pgerror.Flatten(toPGError(tc.err, tables))
		if pe.Code != tc.code || pe.Message != tc.msg || pe.Detail != strings.ReplaceAll(tc.detail, "\\n", "\n") {
			t.Errorf("%v:\n got %s %q\n     detail %q\nwant %s %q\n     detail %q", tc.err, pe.Code, pe.Message, pe.Detail, tc.code, tc.msg, tc.detail)
		}
		if pe.Hint == "" && pe.Code != pgerror.CodeSnapshotTooOld && !strings.Contains(tc.detail, "is locked by") {
			t.Errorf("%v: no hint", tc.err)
		}
	}
	// Without a catalog, conflicts still map, with keys in generic form.
	pe := pgerror.Flatten(toPGError(&kvpb.TransactionRetryError{Reason: kvpb.RetrySerializable, Key: accounts5}, nil))
	if pe.Code != pgerror.CodeSerializationFailure || !strings.Contains(pe.Message, "key /Table/104/1/0x118000000000000005") {
		t.Errorf("without a catalog: %s %q", pe.Code, pe.Message)
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
