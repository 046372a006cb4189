package sql

import (
	"encoding/binary"
	"io"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/wire"
)

// copyEncoder writes the rows of a COPY TO STDOUT in its format, one CopyData message per
// row as PostgreSQL sends them.
type copyEncoder struct {
	opts *pgdialect.CopyOptions
	cols []resultColumn
	st   *types.Settings
	// forceQuote marks the columns whose values CSV always quotes (FORCE_QUOTE).
	forceQuote []bool
	buf, val   []byte
}

// newCopyEncoder prepares the encoding of cols; tbl is the table copied, nil for a query.
func (s *Session) newCopyEncoder(c *pgdialect.Copy, cols []resultColumn, tbl *catalog.Table) (*copyEncoder, error) {
	e := &copyEncoder{opts: &c.Options, cols: cols, st: s.typeSettings(), forceQuote: make([]bool, len(cols))}
	for i := range e.forceQuote {
		e.forceQuote[i] = c.Options.ForceQuoteAll
	}
	for _, name := range c.Options.ForceQuote {
		found := false
		for i, col := range cols {
			if col.name == name {
				e.forceQuote[i], found = true, true
			}
		}
		switch {
		case found:
		case tbl == nil:
			return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q does not exist", name)
		default:
			if _, _, ok := tbl.ColumnByName(name); !ok {
				return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q of relation %q does not exist", name, tbl.Name)
			}
			return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "FORCE_QUOTE column %q not referenced by COPY", name)
		}
	}
	return e, nil
}

// start sends CopyOutResponse and what precedes the rows: the binary header, or the header
// line of column names.
func (e *copyEncoder) start(w wire.ResultWriter) (io.Writer, error) {
	format, codes := copyFormatCodes(e.opts.Format, len(e.cols))
	out, err := w.CopyOut(format, codes)
	if err != nil {
		return nil, err
	}
	b := e.buf[:0]
	switch {
	case e.opts.Format == pgdialect.CopyBinary:
		b = append(b, binarySignature...)
		b = binary.BigEndian.AppendUint32(b, 0) // flags
		b = binary.BigEndian.AppendUint32(b, 0) // header extension length
	case e.opts.Header:
		for i, col := range e.cols {
			if i > 0 {
				b = append(b, e.opts.Delimiter)
			}
			if e.opts.Format == pgdialect.CopyCSV {
				b = e.appendCSV(b, []byte(col.name), false)
			} else {
				b = e.appendText(b, []byte(col.name))
			}
		}
		b = append(b, '\n')
	default:
		return out, nil
	}
	e.buf = b
	_, err = out.Write(b)
	return out, err
}

// writeRow sends one row.
func (e *copyEncoder) writeRow(out io.Writer, row []types.Datum) error {
	b := e.buf[:0]
	if e.opts.Format == pgdialect.CopyBinary {
		b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
		for i, d := range row {
			var err error
			if b, err = types.AppendBinaryField(b, e.cols[i].typ, d); err != nil {
				return err
			}
		}
	} else {
		csv := e.opts.Format == pgdialect.CopyCSV
		for i, d := range row {
			if i > 0 {
				b = append(b, e.opts.Delimiter)
			}
			if d == nil {
				b = append(b, e.opts.Null...)
				continue
			}
			e.val = types.AppendTextWith(e.val[:0], e.cols[i].typ, d, e.st)
			if csv {
				b = e.appendCSV(b, e.val, e.forceQuote[i])
			} else {
				b = e.appendText(b, e.val)
			}
		}
		b = append(b, '\n')
	}
	e.buf = b
	_, err := out.Write(b)
	return err
}

// finish sends what follows the rows: the binary trailer.
func (e *copyEncoder) finish(out io.Writer) error {
	if e.opts.Format != pgdialect.CopyBinary {
		return nil
	}
	_, err := out.Write([]byte{0xff, 0xff})
	return err
}

// appendText writes a value in the text format: a backslash and the delimiter are escaped
// with a backslash, and the control characters with names as \b \f \n \r \t \v; other bytes
// go as they are.
func (e *copyEncoder) appendText(b, v []byte) []byte {
	delim := e.opts.Delimiter
	for _, c := range v {
		if c < 0x20 {
			var name byte
			switch c {
			case '\b':
				name = 'b'
			case '\f':
				name = 'f'
			case '\n':
				name = 'n'
			case '\r':
				name = 'r'
			case '\t':
				name = 't'
			case '\v':
				name = 'v'
			}
			switch {
			case name != 0:
				b = append(b, '\\', name)
			case c == delim:
				b = append(b, '\\', c)
			default:
				b = append(b, c)
			}
			continue
		}
		if c == '\\' || c == delim {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return b
}

// appendCSV writes a value in CSV, quoted when it must be (it holds the delimiter, the quote,
// a line end, equals the NULL string, or is \. alone in a row of one column, which would end
// the data) or when force says so; within quotes the quote and escape characters are preceded
// by the escape character.
func (e *copyEncoder) appendCSV(b, v []byte, force bool) []byte {
	o := e.opts
	quote := force || string(v) == o.Null || len(e.cols) == 1 && string(v) == `\.`
	for i := 0; !quote && i < len(v); i++ {
		c := v[i]
		quote = c == o.Delimiter || c == o.Quote || c == '\n' || c == '\r'
	}
	if !quote {
		return append(b, v...)
	}
	b = append(b, o.Quote)
	for _, c := range v {
		if c == o.Quote || c == o.Escape {
			b = append(b, o.Escape)
		}
		b = append(b, c)
	}
	return append(b, o.Quote)
}
