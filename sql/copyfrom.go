package sql

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
	"github.com/meridiandb/meridian/wire"
)

// copyFromState is one COPY FROM STDIN: it decodes the client's data a line (or binary
// row) at a time, fills in the rows as INSERT does, and writes them in batches.
type copyFromState struct {
	x      *execCtx
	tbl    *catalog.Table
	opts   *pgdialect.CopyOptions
	filler rowFiller
	// cols are the copied columns, in the data's order; typed stands for their types when
	// the values are assigned (fill), and is nil for a column whose value is DEFAULT.
	cols  []*catalog.Column
	typed []*scalar
	// forceNotNull and forceNull are CSV's FORCE_NOT_NULL and FORCE_NULL, per copied column.
	forceNotNull, forceNull []bool
	st                      *types.Settings
	in                      *bufio.Reader
	where                   copyContext

	// The record being decoded: each field's text as written (for the NULL and DEFAULT
	// markers) and its value; isNull marks NULL fields.
	raw, vals [][]byte
	isNull    []bool
	valBuf    []byte

	batch *txn.Batch
	// batchKeys are the keys of the batch's rows, so that a duplicate within a batch is
	// found, and reported with its line, before the batch is sent; batchFirst and
	// batchLast are the lines the batch holds.
	batchKeys             map[string]bool
	batchFirst, batchLast int64
	rows                  int64
	// cons are the table's CHECK and foreign-key constraints; changes the rows written,
	// kept for the foreign-key checks at the end (only when the table has foreign keys).
	cons    *mutationConstraints
	changes []rowChange
}

// codeBadCopyFileFormat is PostgreSQL's SQLSTATE for malformed COPY data.
const codeBadCopyFileFormat = "22P04"

func errBadCopyData(format string, args ...any) *pgerror.Error {
	return pgerror.New(codeBadCopyFileFormat, format, args...)
}

// copyFrom runs COPY t FROM STDIN in x's transaction, committing it with autocommit, and
// returns the number of rows.
func (s *Session) copyFrom(ctx context.Context, x *execCtx, tbl *catalog.Table, c *pgdialect.Copy, w wire.ResultWriter) (int64, error) {
	filler, err := s.newRowFiller(tbl, c.Columns)
	if err != nil {
		return 0, err
	}
	cons, err := s.planMutationConstraints(ctx, x.txn, tbl)
	if err != nil {
		return 0, err
	}
	cf := &copyFromState{
		x: x, tbl: tbl, opts: &c.Options, filler: filler, st: s.typeSettings(),
		where: copyContext{table: tbl.Name, binary: c.Options.Format == pgdialect.CopyBinary},
		batch: &txn.Batch{}, batchKeys: map[string]bool{}, cons: cons,
	}
	for _, ord := range filler.targets {
		col := &tbl.Columns[ord]
		cf.cols = append(cf.cols, col)
		cf.typed = append(cf.typed, &scalar{typ: col.Type, colOrd: -1})
	}
	if cf.forceNotNull, err = copyColumnFlags(tbl, filler.targets, c.Options.ForceNotNull, "FORCE_NOT_NULL"); err != nil {
		return 0, err
	}
	if cf.forceNull, err = copyColumnFlags(tbl, filler.targets, c.Options.ForceNull, "FORCE_NULL"); err != nil {
		return 0, err
	}
	format, codes := copyFormatCodes(c.Options.Format, len(cf.cols))
	r, err := w.CopyIn(format, codes)
	if err != nil {
		return 0, err
	}
	cf.in = bufio.NewReaderSize(r, 64<<10)
	if c.Options.Format == pgdialect.CopyBinary {
		err = cf.readBinary(ctx)
	} else {
		err = cf.readLines(ctx)
	}
	if err != nil {
		return 0, err
	}
	if err := cf.cons.write(ctx, x, cf.batch, cf.changes); err != nil {
		return 0, cf.batchError(err)
	}
	return cf.rows, nil
}

// add fills in one decoded record (cf.vals, cf.isNull, with DEFAULT where def is set) and
// adds its row to the batch, sending the batch when it is full.
func (cf *copyFromState) add(ctx context.Context, values []types.Datum, def []bool) error {
	row, err := cf.filler.fill(cf.x.ec, values, func(i int) *scalar {
		if def != nil && def[i] {
			return nil
		}
		return cf.typed[i]
	})
	if err != nil {
		return err
	}
	if err := cf.cons.checkRow(cf.x.ec, row); err != nil {
		return err
	}
	k, v, err := rowenc.EncodeRow(cf.tbl, row)
	if err != nil {
		return err
	}
	if cf.batchKeys[string(k)] {
		return errDuplicateKey(cf.tbl)
	}
	if cf.batch.Len() == 0 {
		cf.batchFirst = cf.where.line
	}
	cf.batchLast = cf.where.line
	cf.batchKeys[string(k)] = true
	cf.batch.PutIfAbsent(k, v)
	if err := putIndexEntries(cf.batch, cf.tbl, row); err != nil {
		return err
	}
	if len(cf.tbl.ForeignKeys) > 0 {
		cf.changes = append(cf.changes, rowChange{new: row})
	}
	cf.rows++
	if cf.batch.Len() < copyBatchRows {
		return nil
	}
	if err := cf.x.txn.Run(ctx, cf.batch); err != nil {
		return cf.batchError(err)
	}
	cf.batch = &txn.Batch{}
	clear(cf.batchKeys)
	return nil
}

// batchError reports a failed batch: which of its rows failed is not known, so the context
// names the lines the batch holds.
func (cf *copyFromState) batchError(err error) error {
	err = uniqueViolation(err, cf.tbl)
	var pe *pgerror.Error
	if !errors.As(err, &pe) {
		return err
	}
	if cf.batchFirst == cf.batchLast {
		return pe.WithWhere(fmt.Sprintf("COPY %s, line %d", cf.tbl.Name, cf.batchLast))
	}
	return pe.WithWhere(fmt.Sprintf("COPY %s, lines %d to %d", cf.tbl.Name, cf.batchFirst, cf.batchLast))
}

// lineError gives err the context of the current line.
func (cf *copyFromState) lineError(err error, text []byte) error {
	cc := cf.where
	cc.lineText = text
	return withCopyContext(err, cc)
}

// readLines reads the text and CSV formats.
func (cf *copyFromState) readLines(ctx context.Context) error {
	lr := &copyLineReader{r: cf.in, csv: cf.opts.Format == pgdialect.CopyCSV, quote: cf.opts.Quote, escape: cf.opts.Escape}
	if lr.escape == lr.quote {
		// A doubled quote then reads as leaving the quotes and entering them again, which
		// is all the line reader needs to know.
		lr.escape = 0
	}
	values := make([]types.Datum, len(cf.cols))
	var def []bool
	if cf.opts.Default != nil {
		def = make([]bool, len(cf.cols))
	}
	for {
		cf.where.line++
		more, err := lr.next()
		if err != nil {
			return cf.lineError(err, nil)
		}
		if !more {
			return nil
		}
		if lr.csv {
			err = cf.splitCSV(lr.line)
		} else {
			err = cf.splitText(lr.line)
		}
		if err != nil {
			return cf.lineError(err, validUTF8OrNil(lr.line))
		}
		if cf.where.line == 1 && cf.opts.Header {
			if cf.opts.HeaderMatch {
				if err := cf.matchHeader(); err != nil {
					return cf.lineError(err, lr.line)
				}
			}
			continue
		}
		if err := cf.convertFields(values, def); err != nil {
			return cf.lineError(err, lr.line)
		}
		if err := cf.add(ctx, values, def); err != nil {
			return cf.lineError(err, lr.line)
		}
	}
}

// validUTF8OrNil is b if it is valid UTF-8 and so may be quoted in an error, else nil.
func validUTF8OrNil(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return nil
}

// convertFields reads the fields of a text or CSV record as the copied columns' values.
func (cf *copyFromState) convertFields(values []types.Datum, def []bool) error {
	switch n := len(cf.vals); {
	case n > len(cf.cols):
		return errBadCopyData("extra data after last expected column")
	case n < len(cf.cols):
		return errBadCopyData("missing data for column %q", cf.cols[n].Name)
	}
	csv := cf.opts.Format == pgdialect.CopyCSV
	for i, col := range cf.cols {
		null := cf.isNull[i]
		switch {
		case csv && null && cf.forceNotNull[i]:
			null = false // the NULL string read as text
		case csv && !null && cf.forceNull[i] && string(cf.vals[i]) == cf.opts.Null:
			null = true
		}
		if def != nil {
			def[i] = string(cf.raw[i]) == *cf.opts.Default
			if def[i] {
				values[i] = nil
				continue
			}
		}
		if null {
			values[i] = nil
			continue
		}
		v, err := types.ParseTextWith(col.Type, string(cf.vals[i]), cf.st)
		if err != nil {
			cc := cf.where
			cc.column, cc.value = col.Name, cf.vals[i]
			return withCopyContext(err, cc)
		}
		values[i] = v
	}
	return nil
}

// matchHeader checks a header line against the copied columns (HEADER MATCH).
func (cf *copyFromState) matchHeader() error {
	if len(cf.vals) != len(cf.cols) {
		return errBadCopyData("wrong number of fields in header line: got %d, expected %d", len(cf.vals), len(cf.cols))
	}
	for i, col := range cf.cols {
		if cf.isNull[i] {
			return errBadCopyData("column name mismatch in header line field %d: got null value (\"%s\"), expected \"%s\"", i+1, cf.opts.Null, col.Name)
		}
		if string(cf.vals[i]) != col.Name {
			return errBadCopyData("column name mismatch in header line field %d: got \"%s\", expected \"%s\"", i+1, cf.vals[i], col.Name)
		}
	}
	return nil
}

// startRecord clears the fields of the previous record.
func (cf *copyFromState) startRecord() {
	cf.raw, cf.vals, cf.isNull, cf.valBuf = cf.raw[:0], cf.vals[:0], cf.isNull[:0], cf.valBuf[:0]
}

// endField records a field: raw as written, its value the bytes of valBuf from start.
func (cf *copyFromState) endField(raw []byte, start int, null bool) error {
	val := cf.valBuf[start:]
	if err := checkUTF8(val); err != nil {
		return err
	}
	cf.raw = append(cf.raw, raw)
	cf.vals = append(cf.vals, val)
	cf.isNull = append(cf.isNull, null)
	return nil
}

// checkUTF8 refuses bytes that are not UTF-8 text (a NUL included), as PostgreSQL does.
func checkUTF8(b []byte) error {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == 0 || r == utf8.RuneError && n <= 1 {
			want := 1
			switch c := b[i]; {
			case c&0xe0 == 0xc0:
				want = 2
			case c&0xf0 == 0xe0:
				want = 3
			case c&0xf8 == 0xf0:
				want = 4
			}
			seq := make([]string, 0, want)
			for _, c := range b[i:min(i+want, len(b))] {
				seq = append(seq, fmt.Sprintf("0x%02x", c))
			}
			return pgerror.New(pgerror.CodeCharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": %s", strings.Join(seq, " "))
		}
		i += n
	}
	return nil
}

// splitText splits a line of the text format into its fields, undoing the backslash escapes
// (\b \f \n \r \t \v, up to three octal digits, \x and up to two hex digits, and a backslash
// before any other character standing for that character). A field is NULL when its text as
// written equals the NULL string, so that \N is NULL but \\N is the text \N.
func (cf *copyFromState) splitText(line []byte) error {
	cf.startRecord()
	delim := cf.opts.Delimiter
	i := 0
	for {
		start, valStart := i, len(cf.valBuf)
		foundDelim := false
		for i < len(line) {
			c := line[i]
			i++
			if c == delim {
				foundDelim = true
				break
			}
			if c == '\\' {
				if i >= len(line) {
					break // a backslash ending the line stands for nothing
				}
				c = line[i]
				i++
				switch c {
				case '0', '1', '2', '3', '4', '5', '6', '7':
					v := int(c - '0')
					for k := 0; k < 2 && i < len(line) && line[i] >= '0' && line[i] <= '7'; k++ {
						v = v<<3 | int(line[i]-'0')
						i++
					}
					c = byte(v)
				case 'x':
					if i < len(line) && isHexDigit(line[i]) {
						v := hexValue(line[i])
						i++
						if i < len(line) && isHexDigit(line[i]) {
							v = v<<4 | hexValue(line[i])
							i++
						}
						c = v
					}
				case 'b':
					c = '\b'
				case 'f':
					c = '\f'
				case 'n':
					c = '\n'
				case 'r':
					c = '\r'
				case 't':
					c = '\t'
				case 'v':
					c = '\v'
				}
			}
			cf.valBuf = append(cf.valBuf, c)
		}
		end := i
		if foundDelim {
			end--
		}
		raw := line[start:end]
		if err := cf.endField(raw, valStart, string(raw) == cf.opts.Null); err != nil {
			return err
		}
		if !foundDelim {
			return nil
		}
	}
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// splitCSV splits a CSV record into its fields. Quotes may enclose any part of a field;
// within them the escape character (by default the quote itself) makes the next quote or
// escape character literal. An unquoted field equal to the NULL string is NULL.
func (cf *copyFromState) splitCSV(line []byte) error {
	cf.startRecord()
	delim, quote, escape := cf.opts.Delimiter, cf.opts.Quote, cf.opts.Escape
	i := 0
	for {
		start, valStart := i, len(cf.valBuf)
		foundDelim, sawQuote := false, false
	field:
		for i < len(line) {
			c := line[i]
			i++
			switch c {
			case delim:
				foundDelim = true
				break field
			case quote:
				sawQuote = true
				for {
					if i >= len(line) {
						return errBadCopyData("unterminated CSV quoted field")
					}
					c = line[i]
					i++
					if c == escape && i < len(line) && (line[i] == escape || line[i] == quote) {
						cf.valBuf = append(cf.valBuf, line[i])
						i++
						continue
					}
					if c == quote {
						break
					}
					cf.valBuf = append(cf.valBuf, c)
				}
			default:
				cf.valBuf = append(cf.valBuf, c)
			}
		}
		end := i
		if foundDelim {
			end--
		}
		raw := line[start:end]
		if err := cf.endField(raw, valStart, !sawQuote && string(raw) == cf.opts.Null); err != nil {
			return err
		}
		if !foundDelim {
			return nil
		}
	}
}

// lineEnd is the line ending a COPY's data uses, which the first line sets for all.
type lineEnd int

const (
	eolUnknown lineEnd = iota
	eolNL
	eolCR
	eolCRNL
)

// copyLineReader reads the records of the text and CSV formats: lines, except that in CSV a
// quoted field may span lines, and in text an escaped line end belongs to the line. The
// data ends at its end or at the end-of-copy marker \. on a line of its own (in text, at
// \. anywhere, as in PostgreSQL 16).
type copyLineReader struct {
	r     *bufio.Reader
	csv   bool
	quote byte
	// escape is CSV's escape character when it differs from the quote, else 0.
	escape byte
	eol    lineEnd
	line   []byte // the record read, without its line end
	done   bool   // the data has ended
}

// next reads the next record into line; false at the end of the data.
func (lr *copyLineReader) next() (bool, error) {
	lr.line = lr.line[:0]
	if lr.done {
		return false, nil
	}
	inQuote, lastWasEscape := false, false
	for {
		c, err := lr.r.ReadByte()
		if err == io.EOF {
			lr.done = true
			return len(lr.line) > 0, nil
		}
		if err != nil {
			return false, err
		}
		if lr.csv {
			// PostgreSQL's rule: an escape counts inside quotes, and only when it is not
			// itself escaped; with the escape equal to the quote this toggles on each quote.
			if inQuote && c == lr.escape && lr.escape != 0 {
				lastWasEscape = !lastWasEscape
			}
			if c == lr.quote && !lastWasEscape {
				inQuote = !inQuote
			}
			if c != lr.escape {
				lastWasEscape = false
			}
		}
		if (c == '\r' || c == '\n') && !inQuote {
			return true, lr.lineEnd(c)
		}
		if c == '\\' && (!lr.csv || len(lr.line) == 0) {
			c2, err := lr.r.ReadByte()
			if err == io.EOF {
				lr.line = append(lr.line, c)
				continue
			}
			if err != nil {
				return false, err
			}
			if c2 == '.' {
				end, err := lr.endMarker()
				if err != nil || end {
					return len(lr.line) > 0 && err == nil, err
				}
				// In CSV, \. followed by more is data.
				lr.line = append(lr.line, c, c2)
				continue
			}
			if !lr.csv {
				// Whatever follows a backslash is escaped, a line end included.
				lr.line = append(lr.line, c, c2)
				continue
			}
			if err := lr.r.UnreadByte(); err != nil {
				return false, err
			}
		}
		lr.line = append(lr.line, c)
	}
}

// lineEnd checks a line end against the data's style.
func (lr *copyLineReader) lineEnd(c byte) error {
	crError := func() error {
		if lr.csv {
			return errBadCopyData("unquoted carriage return found in data").WithHint("Use quoted CSV field to represent carriage return.")
		}
		return errBadCopyData("literal carriage return found in data").WithHint(`Use "\r" to represent carriage return.`)
	}
	if c == '\n' {
		if lr.eol == eolCR || lr.eol == eolCRNL {
			if lr.csv {
				return errBadCopyData("unquoted newline found in data").WithHint("Use quoted CSV field to represent newline.")
			}
			return errBadCopyData("literal newline found in data").WithHint(`Use "\n" to represent newline.`)
		}
		lr.eol = eolNL
		return nil
	}
	switch lr.eol {
	case eolNL:
		return crError()
	case eolCR:
		return nil
	}
	next, err := lr.r.Peek(1)
	if err != nil && err != io.EOF {
		return err
	}
	if len(next) == 1 && next[0] == '\n' {
		lr.r.ReadByte()
		lr.eol = eolCRNL
		return nil
	}
	if lr.eol == eolCRNL {
		return crError()
	}
	lr.eol = eolCR
	return nil
}

// endMarker reads what follows \. and reports whether it ends the data: a line end in the
// data's style, or the end of the stream. In text, \. followed by anything else is an
// error; in CSV it is data (and nothing is consumed). At the end, the rest of the stream is
// read and dropped, as PostgreSQL does.
func (lr *copyLineReader) endMarker() (bool, error) {
	next, err := lr.r.Peek(2)
	if err != nil && err != io.EOF {
		return false, err
	}
	var n int
	switch {
	case len(next) == 0:
	case next[0] == '\n':
		n = 1
		if lr.eol == eolCR || lr.eol == eolCRNL {
			if lr.csv {
				return false, nil
			}
			return false, errBadCopyData("end-of-copy marker does not match previous newline style")
		}
	case next[0] == '\r':
		n = 1
		crnl := len(next) == 2 && next[1] == '\n'
		if crnl {
			n = 2
		}
		if lr.eol == eolNL || lr.eol == eolCRNL && !crnl || lr.eol == eolCR && crnl {
			if lr.csv {
				return false, nil
			}
			return false, errBadCopyData("end-of-copy marker does not match previous newline style")
		}
	default:
		if lr.csv {
			return false, nil
		}
		return false, errBadCopyData("end-of-copy marker corrupt")
	}
	lr.r.Discard(n)
	lr.done = true
	_, err = io.Copy(io.Discard, lr.r)
	return true, err
}

// binarySignature starts the binary COPY format.
const binarySignature = "PGCOPY\n\xff\r\n\x00"

// readBinary reads the binary format: the signature, flags and header extension, then rows
// of a field count and length-prefixed fields in the types' binary forms, then -1.
func (cf *copyFromState) readBinary(ctx context.Context) error {
	var head [len(binarySignature) + 8]byte
	if _, err := io.ReadFull(cf.in, head[:len(binarySignature)]); err != nil || string(head[:len(binarySignature)]) != binarySignature {
		return firstErr(readError(err), errBadCopyData("COPY file signature not recognized"))
	}
	if _, err := io.ReadFull(cf.in, head[:4]); err != nil {
		return firstErr(readError(err), errBadCopyData("invalid COPY file header (missing flags)"))
	}
	flags := binary.BigEndian.Uint32(head[:4])
	if flags&(1<<16) != 0 {
		return errBadCopyData("invalid COPY file header (WITH OIDS)")
	}
	if flags&^(1<<16)>>16 != 0 {
		return errBadCopyData("unrecognized critical flags in COPY file header")
	}
	if _, err := io.ReadFull(cf.in, head[:4]); err != nil {
		return firstErr(readError(err), errBadCopyData("invalid COPY file header (missing length)"))
	}
	ext := int32(binary.BigEndian.Uint32(head[:4]))
	if ext < 0 {
		return errBadCopyData("invalid COPY file header (wrong length)")
	}
	if n, err := cf.in.Discard(int(ext)); n != int(ext) {
		return firstErr(readError(err), errBadCopyData("invalid COPY file header (wrong length)"))
	}
	values := make([]types.Datum, len(cf.cols))
	for {
		cf.where.line++
		var word [4]byte
		n, err := io.ReadFull(cf.in, word[:2])
		if n == 0 && err == io.EOF {
			return nil // the end of the data, without the trailer: PostgreSQL accepts it
		}
		if err != nil {
			return cf.lineError(firstErr(readError(err), errBadCopyData("unexpected EOF in COPY data")), nil)
		}
		count := int16(binary.BigEndian.Uint16(word[:2]))
		if count == -1 {
			// The trailer. Anything after it is an error; reading on also lets a CopyFail
			// the client sends now take effect.
			if _, err := cf.in.ReadByte(); err != io.EOF {
				return cf.lineError(firstErr(readError(err), errBadCopyData("received copy data after EOF marker")), nil)
			}
			return nil
		}
		if int(count) != len(cf.cols) {
			return cf.lineError(errBadCopyData("row field count is %d, expected %d", count, len(cf.cols)), nil)
		}
		for i, col := range cf.cols {
			cc := cf.where
			cc.column = col.Name
			if _, err := io.ReadFull(cf.in, word[:4]); err != nil {
				return withCopyContext(firstErr(readError(err), errBadCopyData("unexpected EOF in COPY data")), cc)
			}
			size := int32(binary.BigEndian.Uint32(word[:4]))
			switch {
			case size == -1:
				values[i] = nil
				continue
			case size < -1:
				return withCopyContext(errBadCopyData("invalid field size"), cc)
			}
			// A fresh buffer for each value: a decoded value may keep the bytes it was
			// decoded from.
			field := make([]byte, size)
			if _, err := io.ReadFull(cf.in, field); err != nil {
				return withCopyContext(firstErr(readError(err), errBadCopyData("unexpected EOF in COPY data")), cc)
			}
			v, err := types.DecodeBinary(col.Type, field)
			if err != nil {
				return withCopyContext(err, cc)
			}
			values[i] = v
		}
		if err := cf.add(ctx, values, nil); err != nil {
			return cf.lineError(err, nil)
		}
	}
}

// readError is err unless it only says the stream ended, which the caller words itself.
func readError(err error) error {
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil
	}
	return err
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
