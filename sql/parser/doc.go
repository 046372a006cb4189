// Package parser turns normalized statement text into tidb ASTs. It installs Meridian's own
// value-expression driver into the tidb parser (literals and placeholders become nodes that
// carry plain Go values) and runs the parser in the modes that make the grammar closest to
// PostgreSQL: ANSI quotes, || as concatenation and literal backslashes.
package parser
