package types

import (
	"slices"
)

// isTextArray reports whether t is an array of a string type (text[], varchar[]).
func isTextArray(t T) bool { return t.Family == ArrayFamily && t.Elem == StringFamily }

// AsJSON reads a json (text) or jsonb value as jsonb. json text was validated on input, so
// a failure here is a programming error that still surfaces as an ordinary SQL error.
func AsJSON(d Datum) (JSON, error) {
	if s, ok := d.(string); ok {
		return ParseJSON(s)
	}
	return d.(JSON), nil
}

// jsonOp applies the JSON access operators: -> and ->> (by key or array index), #> and #>>
// (by path), and the existence operators ?, ?| and ?&. On json the operators work on the
// value as jsonb, so a json result comes out in jsonb's normalized text.
func jsonOp(op string, lt T, l Datum, rt T, r Datum) (T, Datum, error) {
	isJSON := lt.Family == JSONBFamily || lt.Family == JSONFamily
	var res T
	switch op {
	case "->", "->>":
		if !isJSON || rt.Family != IntFamily && rt.Family != StringFamily {
			return T{}, nil, opError(op, lt, rt)
		}
		res = lt
	case "#>", "#>>":
		if !isJSON || !isTextArray(rt) {
			return T{}, nil, opError(op, lt, rt)
		}
		res = lt
	case "?":
		if lt.Family != JSONBFamily || rt.Family != StringFamily {
			return T{}, nil, opError(op, lt, rt)
		}
		res = Bool
	default: // ?| and ?&
		if lt.Family != JSONBFamily || !isTextArray(rt) {
			return T{}, nil, opError(op, lt, rt)
		}
		res = Bool
	}
	if op == "->>" || op == "#>>" {
		res = String
	}
	if l == nil || r == nil {
		return res, nil, nil
	}
	j, err := AsJSON(l)
	if err != nil {
		return T{}, nil, err
	}
	var v JSON
	var ok bool
	switch op {
	case "?":
		return res, j.Exists(r.(string)), nil
	case "?|", "?&":
		any := op == "?|"
		for _, k := range r.(Array).Elems {
			if k == nil {
				continue // PostgreSQL skips NULL keys
			}
			if j.Exists(k.(string)) == any {
				return res, any, nil
			}
		}
		return res, !any, nil
	case "->", "->>":
		switch k := r.(type) {
		case int64:
			v, ok = j.Index(k)
		case string:
			v, ok = j.Get(k)
		}
	default:
		path := make([]string, 0, len(r.(Array).Elems))
		for _, p := range r.(Array).Elems {
			if p == nil {
				return res, nil, nil
			}
			path = append(path, p.(string))
		}
		v, ok = j.Path(path)
	}
	if !ok {
		return res, nil, nil
	}
	switch {
	case res.Family == StringFamily:
		s, ok := v.AsText()
		if !ok {
			return res, nil, nil
		}
		return res, s, nil
	case res.Family == JSONFamily:
		return res, string(AppendJSON(nil, v)), nil
	}
	return res, v, nil
}

// containmentOp applies @>, <@ (jsonb and arrays) and && (arrays).
func containmentOp(op string, lt T, l Datum, rt T, r Datum) (T, Datum, error) {
	switch {
	case lt.Family == JSONBFamily && rt.Family == JSONBFamily && op != "&&":
		if l == nil || r == nil {
			return Bool, nil, nil
		}
		a, b := l.(JSON), r.(JSON)
		if op == "<@" {
			a, b = b, a
		}
		return Bool, a.Contains(b), nil
	case lt.Family == ArrayFamily && rt.Family == ArrayFamily && elemsComparable(lt, rt):
		if l == nil || r == nil {
			return Bool, nil, nil
		}
		a, b := l.(Array), r.(Array)
		switch op {
		case "@>":
			return Bool, ArrayContains(lt, a, b), nil
		case "<@":
			return Bool, ArrayContains(rt, b, a), nil
		}
		return Bool, ArrayOverlaps(lt, a, b), nil
	}
	return T{}, nil, opError(op, lt, rt)
}

// arrayConcat is || with an array on either side: two arrays concatenate; an element
// joins the array at its end.
func arrayConcat(lt T, l Datum, rt T, r Datum) (T, Datum, error) {
	switch {
	case lt.Family == ArrayFamily && rt.Family == ArrayFamily:
		if !elemsComparable(lt, rt) {
			return T{}, nil, opError("||", lt, rt)
		}
		res := lt
		if lt.Elem == UnknownFamily {
			res = rt
		}
		switch {
		case l == nil:
			return res, r, nil
		case r == nil:
			return res, l, nil
		}
		a, b := l.(Array), r.(Array)
		return res, Array{Elems: append(slices.Clone(a.Elems), b.Elems...)}, nil
	case lt.Family == ArrayFamily && elemFits(lt, rt):
		return lt, ArrayAppend(l, r, false), nil
	case rt.Family == ArrayFamily && elemFits(rt, lt):
		return rt, ArrayAppend(r, l, true), nil
	}
	return T{}, nil, opError("||", lt, rt)
}

// elemFits reports whether a value of type e can be an element of arrays of type at.
func elemFits(at, e T) bool {
	ae := at.ElemType()
	return ae.Family == e.Family || isNumber(ae.Family) && isNumber(e.Family) || ae.Family == UnknownFamily
}

// ArrayAppend is array_append (array_prepend when front): a NULL array counts as empty, and
// a NULL element is appended as NULL.
func ArrayAppend(a, e Datum, front bool) Datum {
	var elems []Datum
	if a != nil {
		elems = a.(Array).Elems
	}
	out := make([]Datum, 0, len(elems)+1)
	if front {
		out = append(out, e)
	}
	out = append(out, elems...)
	if !front {
		out = append(out, e)
	}
	return Array{Elems: out}
}
