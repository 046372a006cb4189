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

// GetLocking reads key and locks it with strength s until the transaction ends
// (SELECT … FOR UPDATE / FOR SHARE).
func (b *Batch) GetLocking(key []byte, s kvpb.LockStrength) {
	b.reqs = append(b.reqs, &kvpb.GetRequest{Key: key, Locking: s})
}

// ScanLocking is Scan that locks every key it returns with strength s.
func (b *Batch) ScanLocking(start, end []byte, maxKeys int64, reverse bool, s kvpb.LockStrength) {
	b.reqs = append(b.reqs, &kvpb.ScanRequest{Span: kvpb.Span{Key: start, EndKey: end}, MaxKeys: maxKeys, Reverse: reverse, Locking: s})
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
