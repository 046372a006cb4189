package register

import (
	"fmt"
	"time"
)

// An OpKind is the kind of operation applied to a register.
type OpKind int

const (
	Read  OpKind = iota // returns the register's value
	Write               // sets the register to Value
	CAS                 // sets the register to Value if it holds Expect
)

func (k OpKind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	case CAS:
		return "cas"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// An Op is one operation in a history: a client's call on the register named
// by Key, and its outcome.
//
// Return is ignored when Unknown is set, because an operation with an
// ambiguous outcome may take effect at any point after Call.
type Op struct {
	Client  int
	Key     string
	Kind    OpKind
	Value   int  // value written by Write, or new value of CAS
	Expect  int  // value CAS expects to find
	Result  int  // value returned by Read
	OK      bool // the operation completed; for CAS, that it swapped
	Unknown bool // ambiguous outcome: it may or may not have taken effect
	Call    time.Time
	Return  time.Time
}

// String describes the operation and its outcome, such as
// `client 3 cas("k", 1, 2) -> ok`.
func (o Op) String() string {
	return fmt.Sprintf("client %d %s", o.Client, o.describe())
}

// describe is String without the client, which porcupine's visualization
// already shows as a row.
func (o Op) describe() string {
	var s string
	switch o.Kind {
	case Read:
		s = fmt.Sprintf("read(%q)", o.Key)
		if !o.Unknown {
			return fmt.Sprintf("%s -> %d", s, o.Result)
		}
	case Write:
		s = fmt.Sprintf("write(%q, %d)", o.Key, o.Value)
		if !o.Unknown {
			return s
		}
	case CAS:
		s = fmt.Sprintf("cas(%q, %d, %d)", o.Key, o.Expect, o.Value)
		if !o.Unknown {
			if o.OK {
				return s + " -> ok"
			}
			return s + " -> fail"
		}
	default:
		s = fmt.Sprintf("%v(%q)", o.Kind, o.Key)
	}
	return s + " -> ?"
}
