package mvcc

import (
	"bytes"
	"errors"

	"github.com/cockroachdb/pebble"
)

// Evaluating a batch reads a handful of single keys, most of them several times: a locking
// read reads the key, looks for newer versions and writes a lock; a write reads the key's
// intent and versions first; resolving an intent reads its meta and its provisional value.
// Building a Pebble iterator (a stack of memtable, level and sstable iterators) and closing
// it costs more than most of these reads; re-bounding and re-seeking one iterator is cheap,
// and it keeps the sstables it has open when the next key lies in them. So the one-key
// operations on a reader wrapped by Shared or SharedWriter take one iterator, kept by the
// wrapper, instead of building their own. Over an indexed batch, re-bounding the iterator
// also brings the batch's later writes into its view.

// iterCache is the iterator a wrapper keeps. An operation holds it from newIter to
// closeIter; one that starts while it is held (none does today) builds its own.
type iterCache struct {
	it   *pebble.Iterator
	held bool
}

// sharer is a reader wrapped to share its iterator.
type sharer interface {
	iters() (*iterCache, pebble.Reader)
}

// SharedReader is a pebble.Reader whose one-key reads share one iterator (see Shared).
type SharedReader struct {
	pebble.Reader
	c iterCache
}

// Shared wraps r. CloseIter must be called before r is closed.
func Shared(r pebble.Reader) *SharedReader { return &SharedReader{Reader: r} }

func (s *SharedReader) iters() (*iterCache, pebble.Reader) { return &s.c, s.Reader }

// CloseIter closes the shared iterator, if one was built; the reader stays open.
func (s *SharedReader) CloseIter() error { return s.c.close() }

// SharedReadWriter is a ReadWriter (an indexed batch) whose one-key operations share one
// iterator (see SharedWriter).
type SharedReadWriter struct {
	ReadWriter
	c iterCache
}

// SharedWriter wraps rw. CloseIter must be called before rw is committed or closed.
func SharedWriter(rw ReadWriter) *SharedReadWriter { return &SharedReadWriter{ReadWriter: rw} }

func (s *SharedReadWriter) iters() (*iterCache, pebble.Reader) { return &s.c, s.ReadWriter }

// CloseIter closes the shared iterator, if one was built; the batch stays open.
func (s *SharedReadWriter) CloseIter() error { return s.c.close() }

func (c *iterCache) close() error {
	if c.it == nil {
		return nil
	}
	err := c.it.Close()
	c.it, c.held = nil, false
	return err
}

// newIter returns an iterator of r bounded to [lower, upper): the shared one if r shares
// and it is free. The caller releases it with closeIter.
func newIter(r pebble.Reader, lower, upper []byte) (*pebble.Iterator, error) {
	if s, ok := r.(sharer); ok {
		c, base := s.iters()
		if !c.held {
			if c.it == nil {
				it, err := base.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
				if err != nil {
					return nil, err
				}
				c.it = it
			} else {
				c.it.SetOptions(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
			}
			c.held = true
			return c.it, nil
		}
		r = base
	}
	return r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
}

// closeIter releases an iterator from newIter: the shared one goes back to its wrapper.
func closeIter(r pebble.Reader, it *pebble.Iterator) error {
	if s, ok := r.(sharer); ok {
		if c, _ := s.iters(); c.it == it {
			c.held = false
			return it.Error()
		}
	}
	return it.Close()
}

// getExact reads engine key k, whose user key has the engine prefix prefix, and returns a
// copy of its value; found is false when there is no such engine key. On a sharing reader
// it seeks the shared iterator; otherwise it is a Pebble Get.
func getExact(r pebble.Reader, prefix, k []byte) (value []byte, found bool, err error) {
	if _, ok := r.(sharer); !ok {
		v, closer, err := r.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		value = append([]byte(nil), v...)
		return value, true, closer.Close()
	}
	upper := immediateSuccessor(make([]byte, 0, len(prefix)), prefix)
	it, err := newIter(r, prefix, upper)
	if err != nil {
		return nil, false, err
	}
	if it.SeekPrefixGE(k) && bytes.Equal(it.Key(), k) {
		value, found = append([]byte(nil), it.Value()...), true
	}
	return value, found, closeIter(r, it)
}
