package connmux

import "bytes"

// classify decides which of prefixes the first bytes b of a connection select.
//
// When need is 0 the decision is made: idx is the index of the first prefix that b starts
// with, or -1 when no prefix can match whatever bytes follow b (the connection goes to the
// default listener). Otherwise need > 0 and idx is -1: b is a proper prefix of at least one
// prefix and no prefix matched yet; need is the most further bytes any such prefix still
// wants, so reading up to need more bytes never reads past the longest candidate.
func classify(prefixes [][]byte, b []byte) (idx, need int) {
	for i, p := range prefixes {
		if bytes.HasPrefix(b, p) {
			return i, 0
		}
	}
	for _, p := range prefixes {
		if len(p) > len(b) && bytes.HasPrefix(p, b) {
			need = max(need, len(p)-len(b))
		}
	}
	return -1, need
}
