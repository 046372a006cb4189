package txn

import (
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Batch collects requests to send together. After Run, Results holds one result per request
// in the order they were added.
type Batch struct {
	reqs    []kvpb.Request
	Results []Result
}

// Result is the outcome of one request of a batch.
type Result struct {
	// Rows are the key-values read (one at most for Get).
	Rows []mvcc.KeyValue
	// ResumeKey is where a limited scan stopped, nil if it finished.
	ResumeKey []byte
	// Keys are the keys deleted by DelRange.
	Keys [][]byte
}

// Get reads key.
func (b *Batch) Get(key []byte) { b.reqs = append(b.reqs, &kvpb.GetRequest{Key: key}) }

// Scan reads up to maxKeys keys (0 = all) of [start, end), in reverse order if reverse.
func (b *Batch) Scan(start, end []byte, maxKeys int64, reverse bool) {
	b.reqs = append(b.reqs, &kvpb.ScanRequest{Span: kvpb.Span{Key: start, EndKey: end}, MaxKeys: maxKeys, Reverse: reverse})
}

// Put writes value at key.
func (b *Batch) Put(key, value []byte) {
	b.reqs = append(b.reqs, &kvpb.PutRequest{Key: key, Value: value})
}

// PutIfAbsent writes value at key, failing with a ConditionFailedError if key has a value.
func (b *Batch) PutIfAbsent(key, value []byte) {
	b.reqs = append(b.reqs, &kvpb.ConditionalPutRequest{Key: key, Value: value, ExpectAbsent: true})
}

// Del deletes key.
func (b *Batch) Del(key []byte) { b.reqs = append(b.reqs, &kvpb.DeleteRequest{Key: key}) }

// DelRange deletes every key of [start, end).
func (b *Batch) DelRange(start, end []byte) {
	b.reqs = append(b.reqs, &kvpb.DeleteRangeRequest{Span: kvpb.Span{Key: start, EndKey: end}})
}

// Len is the number of requests in the batch.
func (b *Batch) Len() int { return len(b.reqs) }

func (b *Batch) hasWrites() bool {
	for _, r := range b.reqs {
		if r.IsWrite() {
			return true
		}
	}
	return false
}
