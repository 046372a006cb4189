// Package rowenc maps SQL rows to key-value pairs. A row's key is its table's prefix followed by
// the order-preserving encodings of its primary key columns, so that primary key order is key
// order and a bound primary key becomes a point or a span; its value holds the other columns in
// a compact, non-ordered form tagged by column ID, so that columns can be added and dropped
// without rewriting rows. Secondary index entries (index.go) are keyed by their indexed
// columns, then by the primary key, and point back at their rows.
package rowenc
