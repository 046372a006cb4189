// Package certstest makes certificates for tests that run TLS servers and clients.
package certstest

import (
	"testing"

	"github.com/meridiandb/meridian/internal/certs"
)

// Make creates, in a temporary directory it returns, a CA, a node certificate for the
// loopback address and a client certificate for each of users, as `meridian cert` does.
func Make(t testing.TB, users ...string) string {
	t.Helper()
	dir := t.TempDir()
	o := certs.Options{Dir: dir}
	if err := certs.CreateCA(o); err != nil {
		t.Fatal(err)
	}
	if err := certs.CreateNode(o, []string{"127.0.0.1", "localhost"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if err := certs.CreateClient(o, u); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
