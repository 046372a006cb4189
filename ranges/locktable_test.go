package ranges

import (
	"testing"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// TestLockTableTurns walks waiters through one key's queue: who pushes, who waits, who goes.
func TestLockTableTurns(t *testing.T) {
	holder := mvcc.TxnMeta{ID: mvcc.TxnID{1}}
	other, third := mvcc.TxnID{2}, mvcc.TxnID{3}
	key := []byte("k")

	t.Run("others push the holder", func(t *testing.T) {
		lt := newLockTable()
		w := lt.enqueue(key, &holder, other)
		if tn := lt.next(w); !tn.push || tn.holder.ID != holder.ID {
			t.Fatalf("turn %+v, want a push of the holder", tn)
		}
	})

	t.Run("the holder never waits for its own lock", func(t *testing.T) {
		// The holder came back for its key (to write it again) while another transaction
		// was queued first, waiting for the holder: waiting its turn would never end.
		lt := newLockTable()
		first := lt.enqueue(key, &holder, other)
		mine := lt.enqueue(key, nil, holder.ID)
		if tn := lt.next(mine); !tn.proceed {
			t.Fatalf("the holder's turn %+v, want to proceed", tn)
		}
		lt.leave(mine, &holder)
		if tn := lt.next(first); !tn.push {
			t.Fatalf("the first waiter's turn %+v after the holder went, want a push", tn)
		}
	})

	t.Run("a released lock goes to the head of the queue", func(t *testing.T) {
		lt := newLockTable()
		first := lt.enqueue(key, &holder, other)
		second := lt.enqueue(key, nil, third)
		lt.released(kvpb.Span{Key: key}, holder.ID)
		if tn := lt.next(second); tn.proceed || tn.push {
			t.Fatalf("the second waiter's turn %+v, want to wait", tn)
		}
		if tn := lt.next(first); !tn.proceed {
			t.Fatalf("the first waiter's turn %+v, want to proceed", tn)
		}
		if tn := lt.next(second); tn.proceed {
			t.Fatalf("the second waiter went while the first held the reservation")
		}
		lt.leave(first, &mvcc.TxnMeta{ID: other})
		if tn := lt.next(second); !tn.push || tn.holder.ID != other {
			t.Fatalf("the second waiter's turn %+v, want a push of the first, now holding", tn)
		}
	})
}
