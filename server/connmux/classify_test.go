package connmux

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
)

const (
	http2Prefix    = "PRI * HTTP/2.0"
	http2Preface   = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	gossipPreamble = "MRDNGSP1"
)

// pgMessage returns a pgwire untyped first message: int32 length, int32 code, then rest.
func pgMessage(code uint32, rest ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(rest)))
	b = binary.BigEndian.AppendUint32(b, code)
	return append(b, rest...)
}

func TestClassify(t *testing.T) {
	node := [][]byte{[]byte(http2Prefix), []byte(gossipPreamble)}
	sslRequest := pgMessage(80877103)
	startup := pgMessage(196608, []byte("user\x00root\x00\x00")...)
	tests := []struct {
		name     string
		prefixes [][]byte
		in       string
		idx      int
		need     int
	}{
		{"no prefixes, no bytes", nil, "", -1, 0},
		{"no prefixes", nil, "PRI", -1, 0},
		{"no bytes yet", node, "", -1, len(http2Prefix)},
		{"P could be http2", node, "P", -1, len(http2Prefix) - 1},
		{"M could be gossip", node, "M", -1, len(gossipPreamble) - 1},
		{"gossip partial", node, "MRD", -1, 5},
		{"gossip one short", node, gossipPreamble[:7], -1, 1},
		{"gossip exact", node, gossipPreamble, 1, 0},
		{"gossip with payload", node, gossipPreamble + "xyz", 1, 0},
		{"http2 partial", node, "PRI * HTTP/", -1, 3},
		{"http2 exact", node, http2Prefix, 0, 0},
		{"http2 full preface", node, http2Preface, 0, 0},
		{"http1 diverges late", node, "PRI * HTTP/1.1", -1, 0},
		{"diverges after P", node, "PRX", -1, 0},
		{"diverges after MRD", node, "MRDX", -1, 0},
		{"http1 GET", node, "GET / HTTP/1.1\r\n", -1, 0},
		{"pgwire first byte", node, "\x00", -1, 0},
		{"pgwire SSLRequest", node, string(sslRequest), -1, 0},
		{"pgwire startup", node, string(startup), -1, 0},
		{"pgwire SSLRequest, no prefixes", nil, string(sslRequest), -1, 0},
		// Mux rejects overlapping prefixes; classify itself prefers the first full match.
		{"overlap first full match", [][]byte{[]byte("AB"), []byte("ABCD")}, "AB", 0, 0},
		{"overlap longer first", [][]byte{[]byte("ABCD"), []byte("AB")}, "ABC", 1, 0},
		{"overlap shorter pending", [][]byte{[]byte("ABCD"), []byte("AB")}, "A", -1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, need := classify(tt.prefixes, []byte(tt.in))
			if idx != tt.idx || need != tt.need {
				t.Errorf("classify(%q) = (%d, %d), want (%d, %d)", tt.in, idx, need, tt.idx, tt.need)
			}
		})
	}
}

func TestPeekedConnReplaysThenReads(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := replay(a, []byte("abc"))
	go func() {
		b.Write([]byte("defg"))
		b.Close()
	}()
	var got []byte
	one := make([]byte, 2)
	for {
		n, err := c.Read(one)
		got = append(got, one[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != "abcdefg" {
		t.Fatalf("read %q, want %q", got, "abcdefg")
	}
	if replay(a, nil) != a {
		t.Fatal("replay with no bytes should return the conn itself")
	}
}
