package wire

import (
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// flushThreshold is how much result data is buffered before it is written, so that a large
// result streams to the client in bounded memory instead of piling up until ReadyForQuery.
const flushThreshold = 64 << 10

// resultWriter turns a backend's results into protocol messages on the session's buffer.
type resultWriter struct {
	ss *session
	// copyIn is the COPY FROM STDIN the statement started, nil if none.
	copyIn *copyInReader
	// copyingOut: a COPY TO STDOUT is under way, which Complete ends with CopyDone.
	copyingOut bool
}

func (w *resultWriter) Describe(cols []Column) error {
	return w.send(rowDescription(cols), 0)
}

func (w *resultWriter) Row(values [][]byte) error {
	size := 7 + 4*len(values) // message header, column count and one length word per value
	for _, v := range values {
		size += len(v)
	}
	return w.send(&pgproto3.DataRow{Values: values}, size)
}

func (w *resultWriter) Complete(tag string) error {
	if w.copyingOut {
		w.copyingOut = false
		if err := w.send(&pgproto3.CopyDone{}, 0); err != nil {
			return err
		}
	}
	return w.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)}, 0)
}

func (w *resultWriter) Empty() error {
	return w.send(&pgproto3.EmptyQueryResponse{}, 0)
}

func (w *resultWriter) Notice(severity, code, message string) error {
	return w.send(&pgproto3.NoticeResponse{
		Severity: severity, SeverityUnlocalized: severity, Code: code, Message: message,
	}, len(message))
}

// send buffers msg, flushing once enough is pending. Once writing has failed it returns the
// failure, so the backend can stop producing rows nobody will receive.
func (w *resultWriter) send(msg pgproto3.BackendMessage, size int) error {
	ss := w.ss
	if ss.werr != nil {
		return ss.werr
	}
	ss.be.Send(msg)
	ss.pending += size
	if ss.pending >= flushThreshold {
		return ss.flush()
	}
	return nil
}

func rowDescription(cols []Column) *pgproto3.RowDescription {
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, c := range cols {
		fields[i] = pgproto3.FieldDescription{
			Name:                 []byte(c.Name),
			TableOID:             c.TableOID,
			TableAttributeNumber: c.TableAttrNum,
			DataTypeOID:          c.TypeOID,
			DataTypeSize:         c.TypeSize,
			TypeModifier:         c.TypeModifier,
			Format:               c.Format,
		}
	}
	return &pgproto3.RowDescription{Fields: fields}
}

// errorResponse renders err, with the SQLSTATE and fields pgerror gives it, at severity.
func errorResponse(err error, severity string) *pgproto3.ErrorResponse {
	pe := pgerror.Flatten(err)
	return &pgproto3.ErrorResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                pe.Code,
		Message:             pe.Message,
		Detail:              pe.Detail,
		Hint:                pe.Hint,
		Where:               pe.Where,
		Position:            int32(pe.Position),
		SchemaName:          pe.Schema,
		TableName:           pe.Table,
		ColumnName:          pe.Column,
		ConstraintName:      pe.Constraint,
	}
}
