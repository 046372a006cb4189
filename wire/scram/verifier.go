package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	// Mechanism is the SASL mechanism name.
	Mechanism = "SCRAM-SHA-256"
	// DefaultIterations is PostgreSQL's default scram_iterations, and the count this package
	// stores verifiers with.
	DefaultIterations = 4096
	// saltLen is the length of a generated salt, PostgreSQL's SCRAM_DEFAULT_SALT_LEN.
	saltLen = 16
	// minIterations guards against verifiers that would make proofs cheap to brute-force.
	minIterations = 1
	// maxIterations bounds the work an (untrusted) stored verifier can make the server do.
	maxIterations = 1 << 24
)

// Verifier is what the server keeps of a password: enough to check a SCRAM proof, not enough
// to log in with (StoredKey is a hash of the client key the proof reveals).
type Verifier struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(ClientKey)
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// NewVerifier derives a verifier for password with a fresh random salt and DefaultIterations.
func NewVerifier(password string) (Verifier, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return Verifier{}, fmt.Errorf("generating a salt: %w", err)
	}
	return DeriveVerifier(password, salt, DefaultIterations)
}

// DeriveVerifier derives the verifier of password for a given salt and iteration count.
func DeriveVerifier(password string, salt []byte, iterations int) (Verifier, error) {
	if iterations < minIterations || iterations > maxIterations {
		return Verifier{}, fmt.Errorf("scram: iteration count %d out of range", iterations)
	}
	salted, err := pbkdf2.Key(sha256.New, Normalize(password), salt, iterations, sha256.Size)
	if err != nil {
		return Verifier{}, fmt.Errorf("scram: deriving the salted password: %w", err)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return Verifier{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  stored[:],
		ServerKey:  mac(salted, "Server Key"),
	}, nil
}

// Normalize prepares a password as SCRAM clients do before hashing it: SASLprep (RFC 4013
// with the stringprep tables of RFC 3454), as PostgreSQL applies it when it stores a verifier
// and libpq when it logs in. Non-ASCII spaces become spaces, characters "commonly mapped to
// nothing" are dropped, and the result is NFKC-normalized. As in PostgreSQL, a password the
// profile prohibits (control or private-use characters, unassigned code points, invalid
// UTF-8) is used as it is, so that every password can be set and used.
func Normalize(password string) string {
	plain := true
	for i := 0; i < len(password); i++ {
		if c := password[i]; c >= 0x80 || c < 0x20 || c == 0x7f {
			plain = false
			break
		}
	}
	if plain || !utf8.ValidString(password) {
		// SASLprep leaves printable ASCII as it is; it prohibits ASCII control characters.
		return password
	}
	var mapped []rune
	for _, r := range password {
		switch {
		case mappedToNothing(r):
			continue
		case nonASCIISpace(r):
			r = ' '
		case prohibited(r):
			return password
		}
		mapped = append(mapped, r)
	}
	out := norm.NFKC.String(string(mapped))
	for _, r := range out {
		if prohibited(r) || nonASCIISpace(r) {
			return password
		}
	}
	return out
}

// mappedToNothing is stringprep's table B.1.
func mappedToNothing(r rune) bool {
	switch {
	case r == 0x00ad, r == 0x034f, r == 0x1806, r >= 0x180b && r <= 0x180d, r >= 0x200b && r <= 0x200d,
		r == 0x2060, r >= 0xfe00 && r <= 0xfe0f, r == 0xfeff:
		return true
	}
	return false
}

// nonASCIISpace is stringprep's table C.1.2.
func nonASCIISpace(r rune) bool {
	switch {
	case r == 0x00a0, r == 0x1680, r >= 0x2000 && r <= 0x200b, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// prohibited approximates SASLprep's prohibited output (tables C.2 to C.9) and its refusal of
// unassigned code points, by Unicode category: control, private-use, surrogate, format and
// unassigned characters, and non-characters.
func prohibited(r rune) bool {
	if r < 0x20 || r == 0x7f {
		return true
	}
	if r >= 0xfdd0 && r <= 0xfdef || r&0xfffe == 0xfffe {
		return true
	}
	if unicode.In(r, unicode.Cc, unicode.Co, unicode.Cs, unicode.Cf) {
		return true
	}
	// Unassigned: in no general category at all.
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// Check reports whether password is the one v was derived from. It costs as much as a
// login: the iteration count's worth of hashing.
func (v Verifier) Check(password string) bool {
	w, err := DeriveVerifier(password, v.Salt, v.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(w.StoredKey, v.StoredKey) == 1 &&
		subtle.ConstantTimeCompare(w.ServerKey, v.ServerKey) == 1
}

var b64 = base64.StdEncoding

// String renders v in PostgreSQL's pg_authid.rolpassword form:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, all base64.
func (v Verifier) String() string {
	return fmt.Sprintf("%s$%d:%s$%s:%s", Mechanism, v.Iterations, b64.EncodeToString(v.Salt),
		b64.EncodeToString(v.StoredKey), b64.EncodeToString(v.ServerKey))
}

// ErrMalformed is the error of Parse for text that is not a SCRAM-SHA-256 verifier.
var ErrMalformed = errors.New("scram: malformed SCRAM-SHA-256 verifier")

// Parse reads a verifier in the form String writes.
func Parse(s string) (Verifier, error) {
	rest, ok := strings.CutPrefix(s, Mechanism+"$")
	if !ok {
		return Verifier{}, ErrMalformed
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return Verifier{}, ErrMalformed
	}
	iter, salt, ok1 := strings.Cut(params, ":")
	stored, server, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return Verifier{}, ErrMalformed
	}
	var v Verifier
	var err error
	if v.Iterations, err = strconv.Atoi(iter); err != nil || v.Iterations < minIterations || v.Iterations > maxIterations {
		return Verifier{}, ErrMalformed
	}
	if v.Salt, err = b64.DecodeString(salt); err != nil || len(v.Salt) == 0 {
		return Verifier{}, ErrMalformed
	}
	if v.StoredKey, err = b64.DecodeString(stored); err != nil || len(v.StoredKey) != sha256.Size {
		return Verifier{}, ErrMalformed
	}
	if v.ServerKey, err = b64.DecodeString(server); err != nil || len(v.ServerKey) != sha256.Size {
		return Verifier{}, ErrMalformed
	}
	return v, nil
}

// Mock returns a verifier for a user who has none (or does not exist), so that the exchange
// can be played out to its failure exactly as for a wrong password. Its salt is derived from
// secret and the user name, so it stays the same from one attempt to the next as a real
// user's would; secret must be kept from clients, or they could tell mock salts from real ones.
// No password matches it: its keys are random.
func Mock(secret []byte, user string) Verifier {
	salt := hmac.New(sha256.New, secret)
	salt.Write([]byte("meridian scram mock salt\x00"))
	salt.Write([]byte(user))
	keys := make([]byte, 2*sha256.Size)
	rand.Read(keys) // crypto/rand.Read never fails
	return Verifier{
		Salt:       salt.Sum(nil)[:saltLen],
		Iterations: DefaultIterations,
		StoredKey:  keys[:sha256.Size],
		ServerKey:  keys[sha256.Size:],
	}
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
