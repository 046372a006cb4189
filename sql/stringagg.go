package sql

import (
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// string_agg(x, 'sep' [ORDER BY ...]), which the dialect spells as tidb's group_concat: the
// non-NULL values as text, joined by the separator, in the order ORDER BY gives (else in
// the order the rows come); NULL when there are none.

// aggOrder is an ORDER BY item of an ordered aggregate.
type aggOrder struct {
	key  *scalar
	desc bool
}

// stringAggValue is one value of string_agg and its sort keys.
type stringAggValue struct {
	text string
	keys []types.Datum
}

// stringAggSeparator splits group_concat's arguments into the value and the separator.
func stringAggSeparator(args []ast.ExprNode) ([]ast.ExprNode, string, error) {
	if len(args) != 2 {
		return nil, "", pgerror.New(pgerror.CodeUndefinedFunction, "function string_agg with %d argument(s) does not exist", len(args))
	}
	v, ok := args[1].(*parser.Value)
	if !ok {
		return nil, "", pgerror.Unsupported("string_agg with a separator that is not a string literal")
	}
	sep, _ := v.Val.(string)
	return args[:1], sep, nil
}

func compileAggOrder(c *compiler, ob *ast.OrderByClause) ([]aggOrder, error) {
	if ob == nil {
		return nil, nil
	}
	var out []aggOrder
	for _, item := range ob.Items {
		k, err := c.compile(item.Expr)
		if err != nil {
			return nil, err
		}
		if k.untyped {
			k, _ = coerce(k, types.String)
		}
		out = append(out, aggOrder{key: k, desc: item.Desc})
	}
	return out, nil
}

func (s *aggState) addString(ec *evalCtx, row []types.Datum, v types.Datum) error {
	val := stringAggValue{text: string(types.AppendText(nil, s.agg.arg.typ, v))}
	for _, o := range s.agg.order {
		k, err := o.key.eval(ec, row)
		if err != nil {
			return err
		}
		val.keys = append(val.keys, k)
	}
	if ec != nil && ec.x != nil && ec.x.mem != nil {
		if err := ec.x.mem.grow(int64(len(val.text) + 32)); err != nil {
			return err
		}
	}
	vals, _ := s.acc.([]stringAggValue)
	s.acc = append(vals, val)
	return nil
}

func (s *aggState) stringResult() (types.Datum, error) {
	vals, _ := s.acc.([]stringAggValue)
	if len(vals) == 0 {
		return nil, nil
	}
	if order := s.agg.order; len(order) > 0 {
		sort.SliceStable(vals, func(i, j int) bool {
			for k, o := range order {
				c := types.Compare(o.key.typ, vals[i].keys[k], vals[j].keys[k])
				if o.desc {
					c = -c
				}
				if c != 0 {
					return c < 0
				}
			}
			return false
		})
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = v.text
	}
	return strings.Join(parts, s.agg.sep), nil
}
