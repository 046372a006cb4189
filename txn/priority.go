package txn

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// UserPriority is the priority class a session asks for (SET TRANSACTION PRIORITY).
type UserPriority int

// Priority classes. A HIGH transaction that meets a lock held by a lower class pushes the
// holder out of its way (aborting a writer, or moving it above a reader) instead of waiting;
// a LOW one is pushed by every other class. Within NORMAL, priorities are drawn at random and
// only decide which transaction of a deadlock is aborted.
const (
	NormalPriority UserPriority = iota
	LowPriority
	HighPriority
)

const (
	MinTxnPriority = kvpb.MinTxnPriority
	MaxTxnPriority = kvpb.MaxTxnPriority
)

// ParseUserPriority reads LOW, NORMAL or HIGH (any case).
func ParseUserPriority(s string) (UserPriority, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "LOW":
		return LowPriority, nil
	case "NORMAL":
		return NormalPriority, nil
	case "HIGH":
		return HighPriority, nil
	}
	return 0, fmt.Errorf("unknown transaction priority %q (want LOW, NORMAL or HIGH)", s)
}

func (p UserPriority) String() string {
	switch p {
	case LowPriority:
		return "low"
	case HighPriority:
		return "high"
	}
	return "normal"
}

// txnPriority draws the stored priority for a class.
func txnPriority(p UserPriority) int32 {
	switch p {
	case LowPriority:
		return MinTxnPriority
	case HighPriority:
		return MaxTxnPriority
	}
	return MinTxnPriority + 1 + rand.Int32N(MaxTxnPriority-MinTxnPriority-1)
}

// SetPriority sets the transaction's priority class. It may be called before the transaction
// runs anything, and again later (SET TRANSACTION PRIORITY inside the transaction): the new
// class applies to its later requests.
func (t *Txn) SetPriority(p UserPriority) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.priority = p
	t.proto.Priority = txnPriority(p)
}

// Priority is the transaction's priority class.
func (t *Txn) Priority() UserPriority {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.priority
}

// SetLockTimeout bounds how long each of the transaction's requests waits for a lock held by
// another transaction (lock_timeout); 0 waits without bound. A request that gives up fails
// with kvpb.LockNotAvailableError.
func (t *Txn) SetLockTimeout(d time.Duration) { t.lockTimeout = d }
