package sql

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// Operators that outgrow their share of the statement's memory budget write rows to
// temporary files: a sort as sorted runs, merged when its input ends (an external merge
// sort, spillFile); a hash join and an aggregation as partitions by the hash of a key, each
// handled in memory in turn (partitionFile). A file is removed from its directory as soon as
// it is created, so that nothing is left behind however the statement or the node ends; it
// lives until its operator closes it.

// spillFanIn is the most runs merged at once: each holds a read buffer and a row in memory.
// More runs are merged in passes, each writing longer runs, until this many remain.
const spillFanIn = 32

// spillPartitions is how many partitions an operator that outgrows its budget splits its rows
// into by the hash of their keys (a hash join, an aggregation), so that each part fits in
// turn: a hash join then handles a right input of up to about this many budgets.
const spillPartitions = 32

// spillReadBuffer is the read buffer of each run being merged.
const spillReadBuffer = 32 << 10

// diskBudget bounds the temporary disk a server's statements hold at once, so that a query
// spilling without end fills its limit, not the disk the store needs.
type diskBudget struct {
	limit int64
	used  atomic.Int64
}

// grow charges n bytes about to be written.
func (b *diskBudget) grow(n int64) error {
	if u := b.used.Add(n); u > b.limit {
		b.used.Add(-n)
		return pgerror.New(pgerror.CodeDiskFull, "temporary disk space exhausted: the node's statements hold %s in temporary files and asked for %s more, past its limit of %s (--max-disk-temp-storage)",
			formatBytes(u-n), formatBytes(n), formatBytes(b.limit)).
			WithHint("Raise statement_memory_limit, so that less goes to disk, or make the query hold less.")
	}
	return nil
}

// errCannotSpill says that a row holds a value the spill encoding does not know; the
// operator then fails as it would without a disk (53200).
var errCannotSpill = errors.New("cannot spill")

// spillFile is a temporary file of sorted runs.
type spillFile struct {
	disk *diskBudget
	mem  *memAccount // told, at close, how much was written
	f    *os.File
	w    *bufio.Writer
	size int64     // bytes written so far
	runs []runSpan // the runs, in the order written
	buf  []byte    // a row's encoding, reused
	open int64     // where the run being written starts
}

// runSpan is where a run lies in its file.
type runSpan struct{ off, len int64 }

func newSpillFile(dir string, disk *diskBudget) (*spillFile, error) {
	f, err := createUnlinked(dir, "sort")
	if err != nil {
		return nil, err
	}
	return &spillFile{disk: disk, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// newSpillFile opens a file of sorted runs for an operator of the statement.
func (x *execCtx) newSpillFile() (*spillFile, error) {
	f, err := newSpillFile(x.session.srv.cfg.TempDir, &x.session.srv.tempDisk)
	if err == nil {
		f.mem = x.mem
	}
	return f, err
}

// newPartitionFile opens a file of spillPartitions partitions for an operator of the
// statement.
func (x *execCtx) newPartitionFile() (*partitionFile, error) {
	f, err := newPartitionFile(x.session.srv.cfg.TempDir, &x.session.srv.tempDisk, spillPartitions)
	if err == nil {
		f.mem = x.mem
	}
	return f, err
}

// createUnlinked creates a temporary file in dir for an operator (what) and unlinks it at
// once: its space is freed when it is closed, or when the process ends.
func createUnlinked(dir, what string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "meridian-"+what+"-*")
	if err != nil {
		return nil, spillIOError(err, "creating a temporary file for a %s in %s", what, dir)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, spillIOError(err, "unlinking the %s's temporary file", what)
	}
	return f, nil
}

// close closes the file, which frees its disk, returns it to the budget, and counts it
// among the statement's bytes spilled.
func (s *spillFile) close() error {
	s.disk.used.Add(-s.size)
	s.mem.spill(s.size)
	return s.f.Close()
}

// add appends row to the run being written.
func (s *spillFile) add(row []types.Datum) error {
	b, err := appendSpillRow(s.buf[:0], row)
	if err != nil {
		return err
	}
	s.buf = b
	if err := s.disk.grow(int64(len(b))); err != nil {
		return err
	}
	s.size += int64(len(b))
	if _, err := s.w.Write(b); err != nil {
		return spillIOError(err, "writing a sorted run")
	}
	return nil
}

// appendSpillRow appends row's encoding: its length, the number of values, and each value.
func appendSpillRow(b []byte, row []types.Datum) ([]byte, error) {
	start := len(b)
	b = binary.AppendUvarint(b, uint64(len(row)))
	var err error
	for _, d := range row {
		if b, err = appendSpillDatum(b, d); err != nil {
			return nil, err
		}
	}
	// The length goes in front; rows are short next to the copy this costs.
	var n [binary.MaxVarintLen64]byte
	hdr := binary.PutUvarint(n[:], uint64(len(b)-start))
	b = append(b, n[:hdr]...)
	copy(b[start+hdr:], b[start:len(b)-hdr])
	copy(b[start:], n[:hdr])
	return b, nil
}

// decodeSpillRow decodes a row's values (after its length).
func decodeSpillRow(b []byte) ([]types.Datum, error) {
	cols, k := binary.Uvarint(b)
	if k <= 0 || cols > uint64(len(b)) {
		return nil, errCorruptSpill
	}
	b = b[k:]
	row := make([]types.Datum, cols)
	for i := range row {
		var err error
		if row[i], b, err = decodeSpillDatum(b); err != nil {
			return nil, err
		}
	}
	if len(b) != 0 {
		return nil, errCorruptSpill
	}
	return row, nil
}

// endRun closes the run being written, and flushes it to the file.
func (s *spillFile) endRun() error {
	if err := s.w.Flush(); err != nil {
		return spillIOError(err, "writing a sorted run")
	}
	if s.size > s.open {
		s.runs = append(s.runs, runSpan{off: s.open, len: s.size - s.open})
	}
	s.open = s.size
	return nil
}

// runReader reads the rows of one run back.
type runReader struct {
	r     *bufio.Reader
	buf   []byte
	order int // the run's place among those being merged
}

func (s *spillFile) reader(sp runSpan, order int) *runReader {
	return &runReader{r: bufio.NewReaderSize(io.NewSectionReader(s.f, sp.off, sp.len), spillReadBuffer), order: order}
}

// next returns the run's next row, or nil at its end.
func (rr *runReader) next() ([]types.Datum, error) {
	n, err := binary.ReadUvarint(rr.r)
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, spillIOError(err, "reading a sorted run")
	}
	if uint64(cap(rr.buf)) < n {
		rr.buf = make([]byte, n)
	}
	b := rr.buf[:n]
	if _, err := io.ReadFull(rr.r, b); err != nil {
		return nil, spillIOError(err, "reading a sorted run")
	}
	return decodeSpillRow(b)
}

// mergeRuns merges runs of s in order of cmp, calling emit with each row until it returns
// false. Past spillFanIn runs, it first merges them in groups into longer runs, written at
// the file's end, until few enough remain.
func (s *spillFile) mergeRuns(cmp func(a, b []types.Datum) int, emit emitFn) error {
	runs := s.runs
	for len(runs) > spillFanIn {
		var longer []runSpan
		for len(runs) > 0 {
			group := runs[:min(spillFanIn, len(runs))]
			runs = runs[len(group):]
			if err := s.merge(group, cmp, func(row []types.Datum) (bool, error) {
				return true, s.add(row)
			}); err != nil {
				return err
			}
			start := s.open
			if err := s.endRun(); err != nil {
				return err
			}
			longer = append(longer, runSpan{off: start, len: s.open - start})
		}
		runs = longer
	}
	return s.merge(runs, cmp, emit)
}

// merge merges the given runs into emit.
func (s *spillFile) merge(runs []runSpan, cmp func(a, b []types.Datum) int, emit emitFn) error {
	h := &runHeap{cmp: cmp}
	for i, sp := range runs {
		rr := s.reader(sp, i)
		row, err := rr.next()
		if err != nil {
			return err
		}
		if row != nil {
			h.heads = append(h.heads, runHead{row: row, from: rr})
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		top := &h.heads[0]
		if more, err := emit(top.row); err != nil || !more {
			return err
		}
		row, err := top.from.next()
		if err != nil {
			return err
		}
		if row == nil {
			heap.Pop(h)
			continue
		}
		top.row = row
		heap.Fix(h, 0)
	}
	return nil
}

type runHead struct {
	row  []types.Datum
	from *runReader
}

// runHeap orders the runs being merged by their next rows. Runs were written in input order
// and a run's rows are in stable order, so ties go to the earlier run: the merge is stable
// too, as the in-memory sort is.
type runHeap struct {
	heads []runHead
	cmp   func(a, b []types.Datum) int
}

func (h *runHeap) Len() int { return len(h.heads) }
func (h *runHeap) Less(i, j int) bool {
	if c := h.cmp(h.heads[i].row, h.heads[j].row); c != 0 {
		return c < 0
	}
	return h.heads[i].from.order < h.heads[j].from.order
}
func (h *runHeap) Swap(i, j int) { h.heads[i], h.heads[j] = h.heads[j], h.heads[i] }
func (h *runHeap) Push(x any)    { h.heads = append(h.heads, x.(runHead)) }
func (h *runHeap) Pop() any {
	last := h.heads[len(h.heads)-1]
	h.heads = h.heads[:len(h.heads)-1]
	return last
}

var errCorruptSpill = pgerror.New(pgerror.CodeIOError, "a sort's temporary file is corrupt")

// spillIOError classifies a failure of the temporary file as PostgreSQL does: 53100 when the
// disk is full, 58030 otherwise.
func spillIOError(err error, format string, args ...any) error {
	code := pgerror.CodeIOError
	if errors.Is(err, syscall.ENOSPC) {
		code = pgerror.CodeDiskFull
	}
	return pgerror.Wrap(err, code, format, args...)
}

// The spill encoding of a value: a tag naming its Go type, then its payload. It is private
// to one statement's temporary file, so it keeps exactly what the value is in memory
// (nanoseconds of a time, an OID's name), unlike the stored row encoding.
const (
	spillNull byte = iota
	spillFalse
	spillTrue
	spillInt
	spillFloat
	spillDecimal
	spillString
	spillBytes
	spillTime
	spillUUID
	spillTimeOfDay
	spillOid
	spillInterval
	spillJSON
	spillArray
	spillRecord
)

func appendSpillDatum(b []byte, d types.Datum) ([]byte, error) {
	switch v := d.(type) {
	case nil:
		return append(b, spillNull), nil
	case bool:
		if v {
			return append(b, spillTrue), nil
		}
		return append(b, spillFalse), nil
	case int64:
		return binary.AppendVarint(append(b, spillInt), v), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, spillFloat), math.Float64bits(v)), nil
	case *apd.Decimal:
		return appendSpillBytes(append(b, spillDecimal), v.String()), nil
	case string:
		return appendSpillBytes(append(b, spillString), v), nil
	case []byte:
		return appendSpillBytes(append(b, spillBytes), string(v)), nil
	case time.Time:
		enc, err := v.MarshalBinary() // the instant to the nanosecond, and its zone's offset
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errCannotSpill, err)
		}
		return appendSpillBytes(append(b, spillTime), string(enc)), nil
	case types.UUID:
		return append(append(b, spillUUID), v[:]...), nil
	case types.TimeOfDay:
		return binary.AppendVarint(append(b, spillTimeOfDay), int64(v)), nil
	case types.Oid:
		b = binary.AppendUvarint(append(b, spillOid), uint64(v.ID))
		return appendSpillBytes(b, v.Name), nil
	case types.Interval:
		b = binary.AppendVarint(append(b, spillInterval), int64(v.Months))
		b = binary.AppendVarint(b, int64(v.Days))
		return binary.AppendVarint(b, v.Micros), nil
	case types.JSON:
		return appendSpillBytes(append(b, spillJSON), string(types.AppendJSON(nil, v))), nil
	case types.Array:
		return appendSpillList(append(b, spillArray), v.Elems)
	case types.Record:
		return appendSpillList(append(b, spillRecord), v)
	}
	return nil, fmt.Errorf("%w: a value of %T", errCannotSpill, d)
}

func appendSpillBytes(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendSpillList(b []byte, elems []types.Datum) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(elems)))
	var err error
	for _, e := range elems {
		if b, err = appendSpillDatum(b, e); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func decodeSpillDatum(b []byte) (types.Datum, []byte, error) {
	if len(b) == 0 {
		return nil, nil, errCorruptSpill
	}
	tag, b := b[0], b[1:]
	varint := func() (int64, bool) {
		v, n := binary.Varint(b)
		b = b[max(n, 0):]
		return v, n > 0
	}
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		b = b[max(n, 0):]
		return v, n > 0
	}
	str := func() (string, bool) {
		n, ok := uvarint()
		if !ok || n > uint64(len(b)) {
			return "", false
		}
		s := string(b[:n])
		b = b[n:]
		return s, true
	}
	list := func() ([]types.Datum, bool) {
		n, ok := uvarint()
		if !ok || n > uint64(len(b)) { // each element takes at least a byte
			return nil, false
		}
		elems := make([]types.Datum, n)
		for i := range elems {
			var err error
			if elems[i], b, err = decodeSpillDatum(b); err != nil {
				return nil, false
			}
		}
		return elems, true
	}
	var d types.Datum
	ok := true
	switch tag {
	case spillNull:
	case spillFalse:
		d = false
	case spillTrue:
		d = true
	case spillInt:
		var v int64
		v, ok = varint()
		d = v
	case spillFloat:
		if ok = len(b) >= 8; ok {
			d, b = math.Float64frombits(binary.BigEndian.Uint64(b)), b[8:]
		}
	case spillDecimal:
		var s string
		if s, ok = str(); ok {
			dec, _, err := apd.NewFromString(s)
			d, ok = dec, err == nil
		}
	case spillString:
		d, ok = str()
	case spillBytes:
		var s string
		s, ok = str()
		d = []byte(s)
	case spillTime:
		var enc string
		if enc, ok = str(); ok {
			var t time.Time
			ok = t.UnmarshalBinary([]byte(enc)) == nil
			d = t
		}
	case spillUUID:
		var u types.UUID
		if ok = len(b) >= len(u); ok {
			copy(u[:], b)
			d, b = u, b[len(u):]
		}
	case spillTimeOfDay:
		var v int64
		v, ok = varint()
		d = types.TimeOfDay(v)
	case spillOid:
		id, ok1 := uvarint()
		name, ok2 := str()
		d, ok = types.Oid{ID: uint32(id), Name: name}, ok1 && ok2 && id <= math.MaxUint32
	case spillInterval:
		months, ok1 := varint()
		days, ok2 := varint()
		micros, ok3 := varint()
		d, ok = types.Interval{Months: int32(months), Days: int32(days), Micros: micros}, ok1 && ok2 && ok3
	case spillJSON:
		var s string
		if s, ok = str(); ok {
			j, err := types.ParseJSON(s)
			d, ok = j, err == nil
		}
	case spillArray:
		var elems []types.Datum
		elems, ok = list()
		d = types.Array{Elems: elems}
	case spillRecord:
		var elems []types.Datum
		elems, ok = list()
		d = types.Record(elems)
	default:
		ok = false
	}
	if !ok {
		return nil, nil, errCorruptSpill
	}
	return d, b, nil
}

// partitionFile holds rows split into partitions (a hash join's, by the hash of the join
// key), in one temporary file: each partition's rows are gathered in a small buffer and
// written as a chunk when it fills, so a partition is read back chunk by chunk, in the order
// its rows came.
type partitionFile struct {
	disk   *diskBudget
	mem    *memAccount // told, at close, how much was written
	f      *os.File
	size   int64
	bufs   [][]byte    // per partition: rows not yet written
	chunks [][]runSpan // per partition: where its written rows lie
}

// partitionChunk is the size at which a partition's buffered rows are written.
const partitionChunk = 16 << 10

func newPartitionFile(dir string, disk *diskBudget, partitions int) (*partitionFile, error) {
	f, err := createUnlinked(dir, "partition")
	if err != nil {
		return nil, err
	}
	return &partitionFile{disk: disk, f: f, bufs: make([][]byte, partitions), chunks: make([][]runSpan, partitions)}, nil
}

// close closes the file, which frees its disk, returns it to the budget, and counts it
// among the statement's bytes spilled.
func (p *partitionFile) close() error {
	p.disk.used.Add(-p.size)
	p.mem.spill(p.size)
	return p.f.Close()
}

// add puts row in partition part.
func (p *partitionFile) add(part int, row []types.Datum) error {
	b, err := appendSpillRow(p.bufs[part], row)
	if err != nil {
		return err
	}
	p.bufs[part] = b
	if len(b) >= partitionChunk {
		return p.flush(part)
	}
	return nil
}

func (p *partitionFile) flush(part int) error {
	b := p.bufs[part]
	if len(b) == 0 {
		return nil
	}
	if err := p.disk.grow(int64(len(b))); err != nil {
		return err
	}
	if _, err := p.f.WriteAt(b, p.size); err != nil {
		p.disk.used.Add(-int64(len(b)))
		return spillIOError(err, "writing a join partition")
	}
	p.chunks[part] = append(p.chunks[part], runSpan{off: p.size, len: int64(len(b))})
	p.size += int64(len(b))
	p.bufs[part] = b[:0]
	return nil
}

// finish writes what every partition still buffers, and frees the buffers.
func (p *partitionFile) finish() error {
	for part := range p.bufs {
		if err := p.flush(part); err != nil {
			return err
		}
		p.bufs[part] = nil
	}
	return nil
}

// rows calls emit with the rows of partition part, in the order they were added, until it
// returns false.
func (p *partitionFile) rows(part int, emit emitFn) error {
	var buf []byte
	for _, c := range p.chunks[part] {
		if int64(cap(buf)) < c.len {
			buf = make([]byte, c.len)
		}
		b := buf[:c.len]
		if _, err := p.f.ReadAt(b, c.off); err != nil {
			return spillIOError(err, "reading a join partition")
		}
		for len(b) > 0 {
			n, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < n {
				return errCorruptSpill
			}
			row, err := decodeSpillRow(b[k : k+int(n)])
			if err != nil {
				return err
			}
			b = b[k+int(n):]
			if more, err := emit(row); err != nil || !more {
				return err
			}
		}
	}
	return nil
}

// load reads partition part into memory for an operator of the statement, charging its
// rows to the budget; if they do not fit, the budget's error says, in detail, what was
// split. The caller shrinks the budget by held once done with the rows.
func (p *partitionFile) load(x *execCtx, part int, detail string) (rows [][]types.Datum, held int64, err error) {
	err = p.rows(part, func(r []types.Datum) (bool, error) {
		sz := rowSize(r)
		if err := x.mem.grow(sz); err != nil {
			var pe *pgerror.Error
			if errors.As(err, &pe) {
				err = pe.WithDetail(detail)
			}
			return false, err
		}
		held += sz
		rows = append(rows, r)
		return true, nil
	})
	return rows, held, err
}

// deduper passes the first row of each key (DISTINCT, UNION). It remembers the keys it has
// passed until they outgrow its share of the budget; from then on, a row of a key it
// remembers is dropped, and a row of any other key goes to disk, in partitions by key, to
// be deduplicated a partition at a time by finish. The rows that finish passes come after
// the others, so a deduper may only spill where its output order does not matter.
type deduper struct {
	x     *execCtx
	seen  *keyCounts // spillable: the deduper may go to disk (see above)
	parts *partitionFile
	seed  maphash.Seed
}

func newDeduper(x *execCtx, spillable bool) *deduper {
	seen := newKeyCounts()
	seen.spillable = spillable
	return &deduper{x: x, seen: seen, seed: maphash.MakeSeed()}
}

// first reports whether row, whose key is key, should pass now: its key was not seen, and
// the row did not go to disk instead.
func (d *deduper) first(key []byte, row []types.Datum) (bool, error) {
	if d.parts != nil {
		if d.seen.count(key) > 0 {
			return false, nil
		}
		return false, d.parts.add(int(maphash.Bytes(d.seed, key)%spillPartitions), row)
	}
	first, err := d.seen.firstTime(d.x, key)
	if err == nil || !d.seen.spillable || len(d.seen.m) == 0 || !isOutOfMemory(err) {
		return first, err
	}
	if d.parts, err = d.x.newPartitionFile(); err != nil {
		return false, err
	}
	return false, d.parts.add(int(maphash.Bytes(d.seed, key)%spillPartitions), row)
}

// finish passes the first row of each key the rows on disk hold (none of which was passed
// before, and each of which lies in one partition), then frees what the deduper holds.
func (d *deduper) finish(ctx context.Context, keyOf func([]types.Datum) []byte, emit emitFn) error {
	d.seen.release(d.x)
	d.seen = newKeyCounts() // what it held goes, with its charge
	if d.parts == nil {
		return nil
	}
	defer func() {
		_ = d.parts.close()
		d.parts = nil
	}()
	if err := d.parts.finish(); err != nil {
		return err
	}
	stopped := false
	for p := range spillPartitions {
		if err := ctx.Err(); err != nil {
			return err
		}
		inPart := newKeyCounts()
		err := d.parts.rows(p, func(row []types.Datum) (bool, error) {
			first, err := inPart.firstTime(d.x, keyOf(row))
			if err != nil || !first {
				return err == nil, err
			}
			more, err := emit(row)
			stopped = !more
			return more, err
		})
		inPart.release(d.x)
		if err != nil || stopped {
			return err
		}
	}
	return nil
}

// close frees what the deduper holds, if finish did not.
func (d *deduper) close() {
	d.seen.release(d.x)
	if d.parts != nil {
		_ = d.parts.close()
	}
}

// isOutOfMemory reports whether err is the memory budget's 53200.
func isOutOfMemory(err error) bool {
	var pe *pgerror.Error
	return errors.As(err, &pe) && pe.Code == pgerror.CodeOutOfMemory
}
