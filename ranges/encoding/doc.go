// Package encoding turns SQL values into byte strings whose bytewise order is the values' SQL
// order, so that keys built by appending column values sort like the tuples they encode. Every
// value starts with a marker byte naming its kind, which lets decoders tell NULL from a value.
// NULL sorts after every value in ascending order and before every value in descending order,
// as PostgreSQL sorts NULLs by default. A descending encoding is the ascending one with every
// byte inverted, which reverses the order of any prefix-free encoding.
package encoding
