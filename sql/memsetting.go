package sql

import (
	"strconv"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// defaultStatementMemory is the statement_memory_limit of a new session: the most one
// statement's operators (sorts, hash tables, groups, results held for a client) may hold.
const defaultStatementMemory = "256MB"

// memoryUnits are PostgreSQL's units for memory settings.
var memoryUnits = []struct {
	name  string
	bytes int64
}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"B", 1}}

// parseMemorySetting reads a memory setting as PostgreSQL writes them ('64MB', '512kB', a
// plain number of kilobytes); 0 means no limit.
func parseMemorySetting(name, val string) (int64, string, error) {
	v := strings.TrimSpace(val)
	bad := pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter %q: %q", name, val).
		WithHint(`Valid units for this parameter are "B", "kB", "MB", "GB", and "TB".`)
	num, unit := v, "kB"
	for _, u := range memoryUnits {
		if strings.HasSuffix(strings.ToLower(v), strings.ToLower(u.name)) {
			num, unit = strings.TrimSpace(v[:len(v)-len(u.name)]), u.name
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, "", bad
	}
	for _, u := range memoryUnits {
		if u.name == unit {
			return n * u.bytes, strconv.FormatInt(n, 10) + u.name, nil
		}
	}
	return 0, "", bad
}

// memoryLimit is the session's statement_memory_limit in bytes (0: none).
func (s *Session) memoryLimit() int64 {
	n, _, err := parseMemorySetting("statement_memory_limit", s.vars["statement_memory_limit"])
	if err != nil {
		return 0
	}
	return n
}
