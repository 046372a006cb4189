package compat_test

import (
	"os/exec"
	"testing"
)

// TestPsycopg2 runs testdata/psycopg2_session.py with Debian's python3-psycopg2 (libpq
// underneath): SCRAM, client-side parameter interpolation over the simple query protocol,
// the common types through psycopg2's adapters, cursor.description, transactions through
// the connection's context manager, PREPARE/EXECUTE, psycopg2.errors' classes by SQLSTATE
// (UniqueViolation, SerializationFailure, DivisionByZero, InFailedSqlTransaction), named
// (server-side) cursors and COPY.
func TestPsycopg2(t *testing.T) {
	python := pythonWithPsycopg2(t)
	n := startNode(t)
	out := runClient(t, nil, python, testdata(t, "psycopg2_session.py"), rootURL(n))
	checkSteps(t, out, append(sessionSteps, "cursor.description", "named cursor", "copy"))
}

// pythonWithPsycopg2 finds a Python that imports psycopg2: the one on PATH, or Debian's,
// which python3-psycopg2 installs into when PATH has another (pyenv, a virtualenv).
func pythonWithPsycopg2(t *testing.T) string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import psycopg2").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with psycopg2 (Debian package python3-psycopg2; scripts/install-deps installs it)")
	return ""
}
