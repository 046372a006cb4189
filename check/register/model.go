package register

import (
	"fmt"
	"maps"
	"slices"

	"github.com/anishathalye/porcupine"
)

// input and output are an operation as porcupine sees it.
type input struct {
	key    string
	kind   OpKind
	value  int
	expect int
}

type output struct {
	result  int
	ok      bool
	unknown bool
}

// newModel returns the sequential specification of a register for porcupine.
// Each partition holds the operations on one key. Its state is the value of
// the register as an int, except before the first step, where it is nil:
// porcupine's Init is not told which partition it starts, so step looks the
// initial value up by the key of the first operation instead.
func (h *history) newModel() porcupine.Model {
	step := func(state, in, out any) (bool, any) {
		i, o := in.(input), out.(output)
		v, ok := state.(int)
		if !ok {
			v = h.initial[i.key]
		}
		switch i.kind {
		case Read:
			return o.unknown || o.result == v, v
		case Write:
			return true, i.value
		case CAS:
			if v == i.expect {
				// An ambiguous CAS that could swap here need not have:
				// porcupine is free to linearize it later instead, after
				// everything that could observe it, since it never returns.
				return o.ok || o.unknown, i.value
			}
			return !o.ok || o.unknown, v
		}
		return false, v
	}
	return porcupine.Model{
		Partition: partition,
		Init:      func() any { return nil },
		Step:      step,
		Hash: func(state any) uint64 {
			v, ok := state.(int)
			if !ok {
				return 0
			}
			return uint64(v) * 0x9e3779b97f4a7c15
		},
		DescribeOperation: func(in, out any) string {
			i, o := in.(input), out.(output)
			op := Op{Key: i.key, Kind: i.kind, Value: i.value, Expect: i.expect, Result: o.result, OK: o.ok, Unknown: o.unknown}
			return op.describe()
		},
		DescribeState: func(state any) string {
			if v, ok := state.(int); ok {
				return fmt.Sprint(v)
			}
			return "initial"
		},
		DescribeOperationMetadata: func(meta any) string {
			return fmt.Sprintf("client %d", h.ops[meta.(int)].Client)
		},
	}
}

// partition splits a history by key, in key order so that the explanation of
// a failure can find porcupine's partitions again.
func partition(ops []porcupine.Operation) [][]porcupine.Operation {
	byKey := make(map[string][]porcupine.Operation)
	for _, op := range ops {
		k := op.Input.(input).key
		byKey[k] = append(byKey[k], op)
	}
	parts := make([][]porcupine.Operation, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		parts = append(parts, byKey[k])
	}
	return parts
}
