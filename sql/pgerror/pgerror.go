// Package pgerror carries PostgreSQL error semantics (SQLSTATE codes, messages, hints) through
// every layer, so that any failure reaches the client as an ErrorResponse a PostgreSQL driver
// understands.
package pgerror

import (
	"errors"
	"fmt"
)

// SQLSTATE codes Meridian emits. See the PostgreSQL manual, appendix "Error Codes".
const (
	CodeSuccessfulCompletion       = "00000"
	CodeFeatureNotSupported        = "0A000"
	CodeInvalidParameterValue      = "22023"
	CodeDataException              = "22000"
	CodeNumericValueOutOfRange     = "22003"
	CodeDivisionByZero             = "22012"
	CodeInvalidTextRepresent       = "22P02"
	CodeInvalidDatetimeFormat      = "22007"
	CodeDatetimeFieldOverflow      = "22008"
	CodeStringDataRightTrunc       = "22001"
	CodeInvalidBinaryRepresent     = "22P03"
	CodeNotNullViolation           = "23502"
	CodeUniqueViolation            = "23505"
	CodeCheckViolation             = "23514"
	CodeInvalidTransactionState    = "25000"
	CodeActiveSQLTransaction       = "25001"
	CodeNoActiveSQLTransaction     = "25P01"
	CodeInFailedSQLTransaction     = "25P02"
	CodeReadOnlySQLTransaction     = "25006"
	CodeInvalidAuthorization       = "28000"
	CodeInvalidPassword            = "28P01"
	CodeInvalidSavepointSpec       = "3B001"
	CodeInvalidCatalogName         = "3D000"
	CodeInvalidCursorName          = "34000"
	CodeSerializationFailure       = "40001"
	CodeStatementCompletionUnknown = "40003"
	CodeCannotConnectNow           = "57P03"
	CodeDeadlockDetected           = "40P01"
	CodeLockNotAvailable           = "55P03"
	CodeSnapshotTooOld             = "72000"
	CodeSyntaxError                = "42601"
	CodeUndefinedColumn            = "42703"
	CodeUndefinedFunction          = "42883"
	CodeUndefinedTable             = "42P01"
	CodeUndefinedObject            = "42704"
	CodeUndefinedParameter         = "42P02"
	CodeDuplicateColumn            = "42701"
	CodeDuplicateDatabase          = "42P04"
	CodeDuplicateTable             = "42P07"
	CodeDuplicateObject            = "42710"
	CodeAmbiguousColumn            = "42702"
	CodeDatatypeMismatch           = "42804"
	CodeInvalidColumnReference     = "42P10"
	CodeGroupingError              = "42803"
	CodeInvalidTableDefinition     = "42P16"
	CodeInvalidObjectDefinition    = "42P17"
	CodeIndeterminateDatatype      = "42P18"
	CodeInvalidName                = "42602"
	CodeProtocolViolation          = "08P01"
	CodeQueryCanceled              = "57014"
	CodeAdminShutdown              = "57P01"
	CodeOutOfMemory                = "53200"
	CodeDiskFull                   = "53100"
	CodeIOError                    = "58030"
	CodeCardinalityViolation       = "21000"
	CodeWindowingError             = "42P20"
	CodeInvalidRecursion           = "42P19"
	CodeProgramLimitExceeded       = "54000"
	CodeInternalError              = "XX000"
)

// Error is an error with a PostgreSQL SQLSTATE. Its fields map onto ErrorResponse fields.
type Error struct {
	Code    string
	Message string
	Detail  string
	Hint    string
	// Where is the context the error arose in (the ErrorResponse's W field, which psql shows
	// as CONTEXT), e.g. the line and column of COPY data.
	Where    string
	Position int // 1-based character offset into the statement text, 0 if unknown
	// Schema, Table, Column and Constraint name the object an integrity violation is about
	// (the ErrorResponse's s, t, c and n fields: pgx's PgError.ConstraintName, psycopg2's
	// diag.constraint_name), "" when there is none.
	Schema, Table, Column, Constraint string
	cause                             error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the error this one was built from, if any.
func (e *Error) Unwrap() error { return e.cause }

// New returns an Error with the given SQLSTATE and formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap gives err a SQLSTATE and a message prefix, keeping err as its cause. If err already
// carries a SQLSTATE, the existing code is kept: the innermost classification is the most precise.
func Wrap(err error, code, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	var pe *Error
	if errors.As(err, &pe) {
		return &Error{Code: pe.Code, Message: msg + ": " + pe.Message, Detail: pe.Detail, Hint: pe.Hint, Where: pe.Where,
			Schema: pe.Schema, Table: pe.Table, Column: pe.Column, Constraint: pe.Constraint, cause: err}
	}
	return &Error{Code: code, Message: msg + ": " + err.Error(), cause: err}
}

// WithHint returns a copy of e with a hint.
func (e *Error) WithHint(hint string) *Error {
	c := *e
	c.Hint = hint
	return &c
}

// WithDetail returns a copy of e with a detail line.
func (e *Error) WithDetail(detail string) *Error {
	c := *e
	c.Detail = detail
	return &c
}

// WithObject returns a copy of e naming the schema, table, column and constraint it is
// about ("" for those it is not).
func (e *Error) WithObject(schema, table, column, constraint string) *Error {
	c := *e
	c.Schema, c.Table, c.Column, c.Constraint = schema, table, column, constraint
	return &c
}

// WithWhere returns a copy of e with its context (CONTEXT) set to where.
func (e *Error) WithWhere(where string) *Error {
	c := *e
	c.Where = where
	return &c
}

// Code returns err's SQLSTATE: the code of the first *Error in its chain, or XX000 (internal
// error) for errors that were never classified.
func Code(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CodeInternalError
}

// Flatten returns err as an *Error, classifying an unclassified error as an internal error.
func Flatten(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Code: CodeInternalError, Message: err.Error(), cause: err}
}

// Unsupported returns the 0A000 error for a construct Meridian does not implement yet.
func Unsupported(construct string) *Error {
	return New(CodeFeatureNotSupported, "Meridian does not support %s yet", construct)
}

// Codes used by the SQL engine's name resolution.
const (
	CodeInvalidSchemaName = "3F000"
	CodeObjectInUse       = "55006"
	CodeWrongObjectType   = "42809"
	CodeDuplicateSchema   = "42P06"
	CodeReservedName      = "42939"
	CodeDependentObjects  = "2BP01"
)

// Codes of constraints and sequences.
const (
	CodeForeignKeyViolation    = "23503"
	CodeObjectNotInPrereqState = "55000"
	CodeSequenceGeneratorLimit = "2200H"
	CodeInvalidForeignKey      = "42830"
	CodeGeneratedAlways        = "428C9"
)

// Codes used by type conversion and input validation in sql/types.
const (
	CodeCannotCoerce             = "42846"
	CodeCharacterNotInRepertoire = "22021"
	CodeInvalidTZDisplacement    = "22009"
)
