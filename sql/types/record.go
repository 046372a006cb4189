package types

import (
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
)

// Record is a value of an anonymous composite type (PostgreSQL's record): one value per
// field of its type's shape, nil for NULL.
type Record []Datum

// RecordField is one field of a record type.
type RecordField struct {
	Name string
	Type T
}

// recordShapes interns the shapes of record types, so that a T stays a small comparable
// value: a record type is RecordFamily plus its shape's number. Records live only while a
// statement runs (no column is ever declared as one), so numbers are never stored and the
// registry only grows by the distinct shapes functions return, a handful.
var recordShapes struct {
	sync.RWMutex
	byKey map[string]int32
	list  [][]RecordField
}

// RecordType returns the record type with the given fields.
func RecordType(fields []RecordField) T {
	var key strings.Builder
	for _, f := range fields {
		key.WriteString(f.Name)
		key.WriteByte(0)
		key.WriteString(f.Type.String())
		key.WriteByte(0)
	}
	recordShapes.RLock()
	id, ok := recordShapes.byKey[key.String()]
	recordShapes.RUnlock()
	if ok {
		return T{Family: RecordFamily, Width: id}
	}
	recordShapes.Lock()
	defer recordShapes.Unlock()
	if id, ok := recordShapes.byKey[key.String()]; ok {
		return T{Family: RecordFamily, Width: id}
	}
	if recordShapes.byKey == nil {
		recordShapes.byKey = map[string]int32{}
	}
	id = int32(len(recordShapes.list))
	recordShapes.list = append(recordShapes.list, append([]RecordField(nil), fields...))
	recordShapes.byKey[key.String()] = id
	return T{Family: RecordFamily, Width: id}
}

// RecordFields returns the fields of a record type t (nil for any other type).
func (t T) RecordFields() []RecordField {
	if t.Family != RecordFamily {
		return nil
	}
	recordShapes.RLock()
	defer recordShapes.RUnlock()
	if int(t.Width) >= len(recordShapes.list) {
		return nil
	}
	return recordShapes.list[t.Width]
}

// appendRecord writes record_out's form: (a,b) with NULL fields empty, and fields that are
// empty or hold a delimiter, quote, backslash or blank double-quoted with " and \ doubled.
func appendRecord(b []byte, t T, r Record, st *Settings) []byte {
	fields := t.RecordFields()
	b = append(b, '(')
	var buf []byte
	for i, v := range r {
		if i > 0 {
			b = append(b, ',')
		}
		if v == nil {
			continue
		}
		ft := Unknown
		if i < len(fields) {
			ft = fields[i].Type
		}
		buf = AppendTextWith(buf[:0], ft, v, st)
		if len(buf) > 0 && !strings.ContainsAny(string(buf), "(),\"\\ \t\n\r\v\f") {
			b = append(b, buf...)
			continue
		}
		b = append(b, '"')
		for _, c := range buf {
			if c == '"' || c == '\\' {
				b = append(b, c)
			}
			b = append(b, c)
		}
		b = append(b, '"')
	}
	return append(b, ')')
}

// appendRecordBinary writes record_send's form: the field count, then per field its type
// OID and its length-prefixed binary value (-1 for NULL).
func appendRecordBinary(b []byte, t T, r Record) ([]byte, error) {
	fields := t.RecordFields()
	b = binary.BigEndian.AppendUint32(b, uint32(len(r)))
	for i, v := range r {
		ft := Unknown
		if i < len(fields) {
			ft = fields[i].Type
		}
		b = binary.BigEndian.AppendUint32(b, ft.OID())
		var err error
		if b, err = AppendBinaryField(b, ft, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// compareRecords orders records field by field, as PostgreSQL's btree comparison of records
// does: a NULL field sorts after any value.
func compareRecords(t T, a, b Record) int {
	fields := t.RecordFields()
	for i := 0; i < len(a) && i < len(b); i++ {
		ft := Unknown
		if i < len(fields) {
			ft = fields[i].Type
		}
		if c := Compare(ft, a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmpOrdered(int64(len(a)), int64(len(b)))
}

// appendRecordGroupKey writes a record's fields length-prefixed, so that they cannot run
// into each other.
func appendRecordGroupKey(b []byte, t T, r Record) []byte {
	fields := t.RecordFields()
	b = append(b, '(')
	for i, v := range r {
		if v == nil {
			b = append(b, 'N')
			continue
		}
		ft := Unknown
		if i < len(fields) {
			ft = fields[i].Type
		}
		k := AppendGroupKey(nil, ft, v)
		b = strconv.AppendInt(b, int64(len(k)), 10)
		b = append(b, ':')
		b = append(b, k...)
	}
	return append(b, ')')
}
