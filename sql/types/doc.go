// Package types defines Meridian's SQL types and the PostgreSQL-compatible behaviour of their
// values: type names, OIDs and modifiers as the catalog and wire protocol report them; text and
// binary input/output in the formats PostgreSQL clients expect (DateStyle ISO, TimeZone UTC,
// extra_float_digits 1); explicit and assignment casts; the total order used for sorting; and the
// built-in arithmetic, concatenation and comparison operators. Every user-facing failure is a
// *pgerror.Error carrying the SQLSTATE PostgreSQL would report, so drivers and applications see
// the same errors they would from PostgreSQL. Values of type char(n) are held without their
// trailing blank padding, which is added back only on output, because PostgreSQL ignores that
// padding in comparisons and casts. Besides the scalar types there are time, interval (months,
// days and microseconds kept apart), jsonb (a normalized tree), json (the text as given) and
// one-dimensional arrays of any of them; docs/types.md lists what is and is not supported.
package types
