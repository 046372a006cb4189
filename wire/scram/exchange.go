package scram

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// nonceLen is the number of random bytes in the server's part of the nonce (PostgreSQL's
// SCRAM_RAW_NONCE_LEN).
const nonceLen = 18

// ErrAuthFailed is the error of Exchange.Final when the proof does not match: a wrong
// password, or a mock verifier.
var ErrAuthFailed = errors.New("scram: authentication failed")

// MalformedError reports a message that does not follow the protocol. The exchange is over.
type MalformedError struct {
	Detail string
}

func (e *MalformedError) Error() string { return "malformed SCRAM message: " + e.Detail }

func malformed(format string, args ...any) error {
	return &MalformedError{Detail: fmt.Sprintf(format, args...)}
}

// Exchange is the server's side of one SCRAM-SHA-256 authentication: First answers the
// client-first-message, Final checks the client-final-message and answers it.
type Exchange struct {
	v    Verifier
	real bool
	// serverNonce makes the server's part of the nonce; tests replace it.
	serverNonce func() (string, error)

	step            int
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string // the client's and the server's parts together
}

// NewExchange starts an exchange against v. real is false for a mock verifier (see Mock): the
// exchange then runs as usual but Final always fails.
func NewExchange(v Verifier, real bool) *Exchange {
	return &Exchange{v: v, real: real, serverNonce: randomNonce}
}

func randomNonce() (string, error) {
	raw := make([]byte, nonceLen)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("scram: generating a nonce: %w", err)
	}
	return b64.EncodeToString(raw), nil
}

// First reads the client-first-message (gs2 header and bare message) and returns the
// server-first-message: the combined nonce, the salt and the iteration count.
func (e *Exchange) First(clientFirst []byte) ([]byte, error) {
	if e.step != 0 {
		return nil, errors.New("scram: First called twice")
	}
	e.step = 1
	msg := string(clientFirst)
	// gs2-header = gs2-cbind-flag "," [authzid] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return nil, malformed("missing the GS2 header")
	}
	switch {
	case flag == "n" || flag == "y":
		// "y": the client could bind the channel but believes the server cannot, which is
		// true (no SCRAM-SHA-256-PLUS is offered), so it is no downgrade.
	case strings.HasPrefix(flag, "p="):
		return nil, malformed("the client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data")
	default:
		return nil, malformed("unexpected channel-binding flag %q", flag)
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, malformed("missing the end of the GS2 header")
	}
	if authzid != "" {
		return nil, malformed("client uses authorization identity, but it is not supported")
	}
	e.gs2Header = flag + ",,"
	e.clientFirstBare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return nil, malformed("expected a user name and a nonce")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return nil, malformed("unsupported mandatory extension")
	}
	// The user name is ignored, as PostgreSQL does: the startup packet named the user.
	if !strings.HasPrefix(attrs[0], "n=") {
		return nil, malformed("expected attribute \"n\", got %q", attrName(attrs[0]))
	}
	cnonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return nil, malformed("expected attribute \"r\", got %q", attrName(attrs[1]))
	}
	if cnonce == "" || !printable(cnonce) {
		return nil, malformed("invalid client nonce")
	}
	snonce, err := e.serverNonce()
	if err != nil {
		return nil, err
	}
	e.nonce = cnonce + snonce
	e.serverFirst = "r=" + e.nonce + ",s=" + b64.EncodeToString(e.v.Salt) + ",i=" + strconv.Itoa(e.v.Iterations)
	return []byte(e.serverFirst), nil
}

// Final reads the client-final-message and checks its proof. On success it returns the
// server-final-message, which proves to the client that the server knows the verifier; on a
// wrong proof it returns ErrAuthFailed.
func (e *Exchange) Final(clientFinal []byte) ([]byte, error) {
	if e.step != 1 {
		return nil, errors.New("scram: Final called out of order")
	}
	e.step = 2
	msg := string(clientFinal)
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, malformed("the proof must be the last attribute")
	}
	withoutProof, proofText := msg[:i], msg[i+len(",p="):]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 {
		return nil, malformed("expected channel binding and nonce")
	}
	cb, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return nil, malformed("expected attribute \"c\", got %q", attrName(attrs[0]))
	}
	cbData, err := b64.DecodeString(cb)
	if err != nil || string(cbData) != e.gs2Header {
		return nil, malformed("SCRAM channel binding check failed")
	}
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return nil, malformed("expected attribute \"r\", got %q", attrName(attrs[1]))
	}
	if nonce != e.nonce {
		return nil, malformed("nonce does not match")
	}
	proof, err := b64.DecodeString(proofText)
	if err != nil || len(proof) != sha256.Size {
		return nil, malformed("invalid proof")
	}
	authMessage := e.clientFirstBare + "," + e.serverFirst + "," + withoutProof
	// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof holds if
	// H(ClientKey) is the StoredKey.
	sig := mac(e.v.StoredKey, authMessage)
	clientKey := make([]byte, sha256.Size)
	for k := range clientKey {
		clientKey[k] = proof[k] ^ sig[k]
	}
	got := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(got[:], e.v.StoredKey) != 1 || !e.real {
		return nil, ErrAuthFailed
	}
	return []byte("v=" + b64.EncodeToString(mac(e.v.ServerKey, authMessage))), nil
}

// printable reports whether s holds only printable ASCII other than ',' (RFC 5802's
// "printable" production).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

func attrName(attr string) string {
	name, _, _ := strings.Cut(attr, "=")
	return name
}
