package compat_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// nodeCompatDir is where scripts/install-deps unpacks Debian's node-pg when the machine's
// nodejs is not Debian's (see there).
const nodeCompatDir = "/usr/local/share/meridian-compat/nodejs"

// TestNodePostgres runs testdata/node_session.js with node-postgres (Debian's node-pg):
// SCRAM, the extended protocol with text parameters for every query with values, the common
// types through pg-types, result fields, named (prepared) queries, rowMode 'array',
// DatabaseError's code and detail, a Pool, and a multi-statement simple query.
func TestNodePostgres(t *testing.T) {
	node := need(t, "node", "nodejs")
	nodePath := strings.Join([]string{"/usr/share/nodejs", nodeCompatDir, os.Getenv("NODE_PATH")}, ":")
	env := []string{"NODE_PATH=" + nodePath}
	check := exec.Command(node, "-e", "require('pg')")
	check.Env = append(os.Environ(), env...)
	if err := check.Run(); err != nil {
		t.Skip("node-postgres is not installed (Debian package node-pg; scripts/install-deps installs it)")
	}
	n := startNode(t)
	out := runClient(t, env, node, testdata(t, "node_session.js"), rootURL(n))
	checkSteps(t, out, append(sessionSteps, "result fields", "multi-statement query"))
}
