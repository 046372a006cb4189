package listappend_test

import (
	"fmt"

	"github.com/meridiandb/meridian/check/listappend"
)

func ExampleCheck() {
	// T2 sees T1's append to y but not its append to x: a read skew.
	history := []listappend.Txn{
		{ID: 1, Ops: []listappend.Op{
			{Kind: listappend.Append, Key: "x", Value: 1},
			{Kind: listappend.Append, Key: "y", Value: 1},
		}},
		{ID: 2, Ops: []listappend.Op{
			{Kind: listappend.Read, Key: "x", List: []int{}},
			{Kind: listappend.Read, Key: "y", List: []int{1}},
		}},
		{ID: 3, Ops: []listappend.Op{
			{Kind: listappend.Read, Key: "x", List: []int{1}},
		}},
	}
	res := listappend.Check(history)
	fmt.Println(res.OK)
	for _, a := range res.Anomalies {
		fmt.Println(a.Txns, a)
	}
	// Output:
	// false
	// [2 1] G-single: T2 -rw(x)-> T1 -wr(y)-> T2: T2 read x as empty, but T1 appended its first value, 1; T2 observed T1's append of 1 to y
}
