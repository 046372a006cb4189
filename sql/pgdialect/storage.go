package pgdialect

import (
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// tableStorageParameters are PostgreSQL's storage parameters of tables (besides the
// autovacuum_ and toast. families): they tune its heap, vacuum and TOAST, none of which
// Meridian has, so CREATE TABLE accepts them and keeps nothing.
var tableStorageParameters = wordSet(`fillfactor toast_tuple_target parallel_workers
vacuum_index_cleanup vacuum_truncate log_autovacuum_min_duration user_catalog_table oids`)

// storageParameters reads, at i, CREATE TABLE's WITH (name [= value] [, ...]) or WITHOUT
// OIDS, if there, and returns where it ends (i itself when there is neither). Unknown
// parameters and out-of-range fill factors are refused with 22023, as PostgreSQL does.
func (r *rewriter) storageParameters(i int) (int, error) {
	if i+1 < len(r.toks) && r.toks[i].is("without") && r.toks[i+1].is("oids") {
		return i + 2, nil
	}
	if i+1 >= len(r.toks) || !r.toks[i].is("with") || !r.toks[i+1].isOp("(") {
		return i, nil
	}
	closeIdx := r.matchParen(i + 1)
	if closeIdx < 0 {
		return 0, r.syntaxError(len(r.toks))
	}
	j := i + 2
	for j < closeIdx {
		if !isName(r.toks[j]) {
			return 0, r.syntaxError(j)
		}
		name := r.toks[j].text
		j++
		if j+1 < closeIdx && r.toks[j].isOp(".") && isName(r.toks[j+1]) {
			name += "." + r.toks[j+1].text
			j += 2
		}
		value := ""
		if j < closeIdx && r.toks[j].isOp("=") {
			j++
			if j >= closeIdx {
				return 0, r.syntaxError(j)
			}
			t := r.toks[j]
			if t.isOp("-") && j+1 < closeIdx {
				j++
				t = r.toks[j]
				t.text = "-" + t.text
			}
			if t.kind != tokNumber && t.kind != tokString && !isName(t) {
				return 0, r.syntaxError(j)
			}
			value = t.text
			j++
		}
		if err := checkStorageParameter(name, value); err != nil {
			return 0, err
		}
		if j < closeIdx {
			if !r.toks[j].isOp(",") || j+1 == closeIdx {
				return 0, r.syntaxError(j)
			}
			j++
		}
	}
	return closeIdx + 1, nil
}

func checkStorageParameter(name, value string) error {
	base, toast := strings.CutPrefix(name, "toast.")
	known := tableStorageParameters[name] || strings.HasPrefix(base, "autovacuum_") ||
		toast && (base == "vacuum_index_cleanup" || base == "vacuum_truncate")
	if !known {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "unrecognized parameter %q", name)
	}
	switch name {
	case "fillfactor":
		f, err := strconv.Atoi(value)
		if err != nil {
			return pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for integer option %q: %s", name, value)
		}
		if f < 10 || f > 100 {
			return pgerror.New(pgerror.CodeInvalidParameterValue, "value %s out of bounds for option %q", value, name).
				WithDetail(`Valid values are between "10" and "100".`)
		}
	case "oids":
		if value == "" || strings.EqualFold(value, "true") || strings.EqualFold(value, "on") || value == "1" {
			return pgerror.New(pgerror.CodeFeatureNotSupported, "tables declared WITH OIDS are not supported")
		}
	}
	return nil
}
