package listappend

import (
	"strconv"
	"time"
)

// OpKind is the kind of a micro-operation.
type OpKind int

const (
	// Append appends Op.Value to the list at Op.Key.
	Append OpKind = iota
	// Read returns the whole list at Op.Key in Op.List.
	Read
)

func (k OpKind) String() string {
	switch k {
	case Append:
		return "append"
	case Read:
		return "read"
	}
	return "OpKind(" + strconv.Itoa(int(k)) + ")"
}

// Op is one micro-operation of a transaction.
type Op struct {
	Kind OpKind
	Key  string
	// Value is what an Append appends. The checker identifies an append by its key and
	// value, so every value must be appended at most once per key in the whole history.
	Value int
	// List is what a Read returned. Nil means the result is unknown, so an empty list
	// must be given as a non-nil empty slice.
	List []int
}

// Status is what the client learned about a transaction's outcome.
type Status int

const (
	// Committed means the transaction is known to have committed.
	Committed Status = iota
	// Aborted means the transaction is known not to have taken effect.
	Aborted
	// Unknown means the client got an ambiguous result: the transaction may or may not
	// have committed. Any other value of Status is treated the same way.
	Unknown
)

func (s Status) String() string {
	switch s {
	case Committed:
		return "committed"
	case Aborted:
		return "aborted"
	case Unknown:
		return "unknown"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Txn is one transaction as a client saw it.
type Txn struct {
	// ID names the transaction in reports, as "T" followed by the ID; it should be unique.
	ID int
	// Ops are the micro-operations in the order the transaction ran them.
	Ops    []Op
	Status Status
	// Start is when the client invoked the transaction and End when it learned the outcome.
	// Only CheckWith with RealTime uses them; a transaction with either time zero, or
	// ending before it starts, is left out of the real-time order.
	Start, End time.Time
}
