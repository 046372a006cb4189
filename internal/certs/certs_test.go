package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateAndVerify(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir}
	if err := CreateCA(o); err != nil {
		t.Fatal(err)
	}
	if err := CreateNode(o, []string{"127.0.0.1", "localhost", "db.example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := CreateClient(o, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{CAKey, NodeKey, "client.alice.key"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	pool, err := CAPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	node, err := tls.LoadX509KeyPair(filepath.Join(dir, NodeCert), filepath.Join(dir, NodeKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost", "db.example.com"} {
		if _, err := node.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("node certificate for %s: %v", host, err)
		}
	}
	if _, err := node.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "other.example.com"}); err == nil {
		t.Error("node certificate verified for a host it does not name")
	}
	crt, key := ClientFiles(dir, "alice")
	client, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	if client.Leaf.Subject.CommonName != "alice" {
		t.Errorf("client certificate CN %q", client.Leaf.Subject.CommonName)
	}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}

	// A TLS handshake with both: the server sees the verified client certificate.
	srvCfg, err := ServerTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan *tls.ConnectionState, 1)
	go func() {
		s := tls.Server(a, srvCfg)
		if err := s.Handshake(); err != nil {
			t.Errorf("server handshake: %v", err)
			done <- nil
			return
		}
		st := s.ConnectionState()
		done <- &st
	}()
	c := tls.Client(b, &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{client}})
	if err := c.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	st := <-done
	if st == nil || len(st.VerifiedChains) == 0 || st.VerifiedChains[0][0].Subject.CommonName != "alice" {
		t.Fatalf("server did not verify the client certificate: %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, CAKey: filepath.Join(t.TempDir(), "safe", "ca.key"), Lifetime: 24 * time.Hour}
	if err := CreateNode(o, []string{"localhost"}); err == nil || !strings.Contains(err.Error(), "create-ca") {
		t.Fatalf("node certificate without a CA: %v", err)
	}
	if err := CreateCA(o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, CAKey)); err == nil {
		t.Fatal("the CA key went into the certs directory, not where it was asked to go")
	}
	if err := CreateCA(o); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("second CA: %v", err)
	}
	o.Overwrite = true
	if err := CreateCA(o); err != nil {
		t.Fatalf("overwriting the CA: %v", err)
	}
	if err := CreateNode(Options{Dir: dir, CAKey: o.CAKey}, []string{"localhost"}); err == nil || !strings.Contains(err.Error(), "outlive") {
		t.Fatalf("certificate outliving its CA: %v", err)
	}
	if err := CreateNode(o, nil); err == nil {
		t.Fatal("node certificate without hosts")
	}
	if err := CreateClient(o, "../evil"); err == nil {
		t.Fatal("client certificate with a path in the user name")
	}
}
