package scram

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// The example exchange of RFC 7677, section 3.
const (
	rfcPassword    = "pencil"
	rfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfcSalt        = "W22ZaJ0SNY7soEsUEjb6gQ=="
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcVerifier(t *testing.T) Verifier {
	t.Helper()
	salt, err := b64.DecodeString(rfcSalt)
	if err != nil {
		t.Fatal(err)
	}
	v, err := DeriveVerifier(rfcPassword, salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fixedNonce(n string) func() (string, error) { return func() (string, error) { return n, nil } }

// TestRFC7677 replays the RFC's exchange: the verifier derived from "pencil" must accept the
// RFC's proof and answer with the RFC's server signature.
func TestRFC7677(t *testing.T) {
	v := rfcVerifier(t)
	e := NewExchange(v, true)
	e.serverNonce = fixedNonce(rfcServerNonce)
	sf, err := e.First([]byte(rfcClientFirst))
	if err != nil {
		t.Fatal(err)
	}
	if string(sf) != rfcServerFirst {
		t.Fatalf("server-first = %q, want %q", sf, rfcServerFirst)
	}
	final, err := e.Final([]byte(rfcClientFinal))
	if err != nil {
		t.Fatal(err)
	}
	if string(final) != rfcServerFinal {
		t.Fatalf("server-final = %q, want %q", final, rfcServerFinal)
	}
}

func TestVerifierTextRoundTrip(t *testing.T) {
	v := rfcVerifier(t)
	s := v.String()
	if !strings.HasPrefix(s, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$") {
		t.Fatalf("String() = %q", s)
	}
	w, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if w.Iterations != v.Iterations || !bytes.Equal(w.Salt, v.Salt) || !bytes.Equal(w.StoredKey, v.StoredKey) || !bytes.Equal(w.ServerKey, v.ServerKey) {
		t.Fatalf("Parse(String()) = %+v, want %+v", w, v)
	}
	if !w.Check("pencil") || w.Check("pencil2") {
		t.Fatal("Check disagrees with the password")
	}
	for _, bad := range []string{"", "md5abc", "SCRAM-SHA-256$x:abc$def:ghi", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA", "SCRAM-SHA-256$0:W22Z$" + s[len(s)-89:]} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestNewVerifierSalts(t *testing.T) {
	a, err := NewVerifier("secret")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewVerifier("secret")
	if bytes.Equal(a.Salt, b.Salt) || bytes.Equal(a.StoredKey, b.StoredKey) {
		t.Fatal("two verifiers of one password share a salt")
	}
	if a.Iterations != 4096 || len(a.Salt) != 16 || !a.Check("secret") {
		t.Fatalf("verifier %v", a)
	}
}

// client computes a client-final-message the way a driver does.
func client(t *testing.T, password, gs2, clientFirstBare, serverFirst string) string {
	t.Helper()
	var nonce, salt string
	iters := 0
	for _, a := range strings.Split(serverFirst, ",") {
		switch {
		case strings.HasPrefix(a, "r="):
			nonce = a[2:]
		case strings.HasPrefix(a, "s="):
			salt = a[2:]
		case strings.HasPrefix(a, "i="):
			for _, c := range a[2:] {
				iters = iters*10 + int(c-'0')
			}
		}
	}
	rawSalt, _ := b64.DecodeString(salt)
	salted, err := pbkdf2.Key(sha256.New, Normalize(password), rawSalt, iters, 32)
	if err != nil {
		t.Fatal(err)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	withoutProof := "c=" + b64.EncodeToString([]byte(gs2)) + ",r=" + nonce
	h := hmac.New(sha256.New, stored[:])
	h.Write([]byte(clientFirstBare + "," + serverFirst + "," + withoutProof))
	sig := h.Sum(nil)
	for i := range clientKey {
		clientKey[i] ^= sig[i]
	}
	return withoutProof + ",p=" + b64.EncodeToString(clientKey)
}

func run(t *testing.T, v Verifier, real bool, password, gs2 string) error {
	t.Helper()
	e := NewExchange(v, real)
	bare := "n=,r=clientnonce123"
	sf, err := e.First([]byte(gs2 + bare))
	if err != nil {
		return err
	}
	_, err = e.Final([]byte(client(t, password, gs2, bare, string(sf))))
	return err
}

func TestExchange(t *testing.T) {
	v, err := NewVerifier("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := run(t, v, true, "correct horse", "n,,"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := run(t, v, true, "correct horse", "y,,"); err != nil {
		t.Fatalf("right password, client capable of channel binding: %v", err)
	}
	if err := run(t, v, true, "wrong", "n,,"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	// A mock verifier fails even for a client that guessed its keys: here, its own password.
	if err := run(t, v, false, "correct horse", "n,,"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("mock verifier: %v", err)
	}
}

func TestNormalizedPassword(t *testing.T) {
	// U+00AA (feminine ordinal) normalizes to "a" under NFKC, and U+00AD (soft hyphen) is
	// mapped to nothing: SASLprep applies both.
	v, err := NewVerifier("p\u00aa\u00adss")
	if err != nil {
		t.Fatal(err)
	}
	if err := run(t, v, true, "pass", "n,,"); err != nil {
		t.Fatalf("normalized password: %v", err)
	}
}

func TestMockSaltIsStable(t *testing.T) {
	secret := []byte("cluster secret")
	a, b := Mock(secret, "ghost"), Mock(secret, "ghost")
	if !bytes.Equal(a.Salt, b.Salt) || len(a.Salt) != 16 || a.Iterations != 4096 {
		t.Fatalf("mock salts %x %x", a.Salt, b.Salt)
	}
	if c := Mock(secret, "other"); bytes.Equal(a.Salt, c.Salt) {
		t.Fatal("two users share a mock salt")
	}
}

func TestMalformedMessages(t *testing.T) {
	v := rfcVerifier(t)
	for _, first := range []string{
		"", "n", "n,", "p=tls-server-end-point,,n=,r=abc", "x,,n=,r=abc", "n,a=admin,n=,r=abc",
		"n,,m=ext,n=,r=abc", "n,,r=abc", "n,,n=", "n,,n=,x=abc", "n,,n=,r=", "n,,n=,r=a b",
	} {
		if _, err := NewExchange(v, true).First([]byte(first)); err == nil {
			t.Errorf("First(%q) succeeded", first)
		} else if _, ok := err.(*MalformedError); !ok {
			t.Errorf("First(%q) = %v, want a MalformedError", first, err)
		}
	}
	for _, final := range []string{
		"", "c=biws,r=x", "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
		"c=biws,r=other,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=short",
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	} {
		e := NewExchange(v, true)
		e.serverNonce = fixedNonce(rfcServerNonce)
		if _, err := e.First([]byte(rfcClientFirst)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Final([]byte(final)); err == nil {
			t.Errorf("Final(%q) succeeded", final)
		} else if _, ok := err.(*MalformedError); !ok {
			t.Errorf("Final(%q) = %v, want a MalformedError", final, err)
		}
	}
}
