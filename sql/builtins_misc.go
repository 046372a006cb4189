package sql

import (
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// Functions about values in general and about the session.

// numNulls is num_nulls and num_nonnulls.
func numNulls(nulls bool) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		n := int64(0)
		for _, d := range v {
			if (d == nil) == nulls {
				n++
			}
		}
		return n, nil
	}
}

func init() {
	register("num_nulls", overload{params: []types.T{anyType}, variadic: true, ret: int4, nullCall: true, fn: numNulls(true)})
	register("num_nonnulls", overload{params: []types.T{anyType}, variadic: true, ret: int4, nullCall: true, fn: numNulls(false)})
	register("current_setting", overload{params: []types.T{text}, ret: text, volatile: true, fn: currentSetting},
		overload{params: []types.T{text, types.Bool}, ret: text, volatile: true, fn: currentSetting})
}

// currentSetting is current_setting(name [, missing_ok]): the session variable's value as
// SHOW reports it.
func currentSetting(ec *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	name := strings.ToLower(v[0].(string))
	missingOK := len(v) == 2 && v[1].(bool)
	if ec != nil && ec.session != nil {
		if _, ok := ec.session.vars[name]; ok {
			return ec.session.showVar(name), nil
		}
	}
	if missingOK {
		return nil, nil
	}
	return nil, pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter \"%s\"", v[0].(string))
}
