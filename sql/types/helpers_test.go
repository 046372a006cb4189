package types

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

func dec(s string) *apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return d
}

func mustType(t *testing.T, name string) T {
	t.Helper()
	typ, err := ParseTypeName(name)
	if err != nil {
		t.Fatalf("ParseTypeName(%q): %v", name, err)
	}
	return typ
}

// expectErr checks that err is a *pgerror.Error with the given SQLSTATE and, if msg is not
// empty, exactly that message.
func expectErr(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var pe *pgerror.Error
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v (%T), want *pgerror.Error %s", what, err, err, code)
		return
	}
	if pe.Code != code {
		t.Errorf("%s: code %s (%q), want %s", what, pe.Code, pe.Message, code)
	}
	if msg != "" && pe.Message != msg {
		t.Errorf("%s: message %q, want %q", what, pe.Message, msg)
	}
}

func text(typ T, d Datum) string {
	if d == nil {
		return "NULL"
	}
	return string(AppendText(nil, typ, d))
}

// splitCode splits "22003: message" test expectations.
func splitCode(s string) (code, msg string) {
	code, msg, _ = strings.Cut(s, ": ")
	return code, msg
}
