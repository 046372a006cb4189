package wire

import (
	"io"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// The COPY sub-protocol. COPY FROM STDIN: the server sends CopyInResponse, the client
// CopyData messages and then CopyDone (or CopyFail to abort), and the statement completes.
// COPY TO STDOUT: CopyOutResponse, CopyData messages, CopyDone, then CommandComplete.
//
// An error during COPY FROM STDIN is reported at once, as PostgreSQL does: the client learns
// of it without sending the rest of its data (pgx and libpq watch for it while they send),
// and the CopyData, CopyDone and CopyFail it sent meanwhile are dropped by the message loop
// (see session.handle), as the protocol specifies.

func (w *resultWriter) CopyIn(format int16, columnFormats []int16) (io.Reader, error) {
	if w.copyIn != nil {
		return nil, pgerror.New(pgerror.CodeInternalError, "internal error: COPY FROM STDIN started twice")
	}
	if err := w.send(&pgproto3.CopyInResponse{OverallFormat: byte(format), ColumnFormatCodes: copyFormats(columnFormats)}, 0); err != nil {
		return nil, err
	}
	// The client sends nothing until it has seen CopyInResponse.
	if err := w.ss.flush(); err != nil {
		return nil, err
	}
	w.copyIn = &copyInReader{ss: w.ss}
	return w.copyIn, nil
}

func (w *resultWriter) CopyOut(format int16, columnFormats []int16) (io.Writer, error) {
	if err := w.send(&pgproto3.CopyOutResponse{OverallFormat: byte(format), ColumnFormatCodes: copyFormats(columnFormats)}, 0); err != nil {
		return nil, err
	}
	w.copyingOut = true
	return copyOutWriter{w}, nil
}

// copyFormats are the column format codes, never nil: pgproto3 encodes a nil slice as no
// columns, which is right, but keeps the intent visible.
func copyFormats(formats []int16) []uint16 {
	out := make([]uint16, len(formats))
	for i, f := range formats {
		out[i] = uint16(f)
	}
	return out
}

// copyOutWriter sends each Write as one CopyData message.
type copyOutWriter struct{ w *resultWriter }

func (c copyOutWriter) Write(p []byte) (int, error) {
	// pgproto3 encodes the message into its buffer as it is sent, so p may be reused.
	if err := c.w.send(&pgproto3.CopyData{Data: p}, 5+len(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// copyInReader reads the client's CopyData messages as one stream.
type copyInReader struct {
	ss *session
	// data is the unread rest of the current CopyData message. It aliases pgproto3's read
	// buffer, which is only read into again once data is used up.
	data []byte
	// err ends the stream once data is used up: io.EOF after CopyDone, the error of a
	// CopyFail, an unexpected message or a failed read.
	err error
	// readErr is a failure to read a message at all, which ends the session.
	readErr error
}

func (c *copyInReader) Read(p []byte) (int, error) {
	for len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		c.receive()
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

// receive reads the next message of the copy, as PostgreSQL's CopyGetData does.
func (c *copyInReader) receive() {
	msg, err := c.ss.be.Receive()
	if err != nil {
		c.readErr = err
		c.err = pgerror.New(codeConnectionFailure, "unexpected EOF on client connection during COPY from stdin")
		return
	}
	switch m := msg.(type) {
	case *pgproto3.CopyData:
		c.data = m.Data
	case *pgproto3.CopyDone:
		c.err = io.EOF
	case *pgproto3.CopyFail:
		c.err = pgerror.New(pgerror.CodeQueryCanceled, "COPY from stdin failed: %s", m.Message)
	case *pgproto3.Flush, *pgproto3.Sync:
		// Ignored, for client libraries that send them without noticing the statement was a
		// COPY (PostgreSQL does the same).
	default:
		if _, ok := msg.(*pgproto3.Terminate); ok {
			c.ss.done = true
		}
		c.err = protocolViolation("unexpected message type 0x%02X during COPY from stdin", messageType(msg))
	}
}

// messageType is a frontend message's type byte.
func messageType(msg pgproto3.FrontendMessage) byte {
	b, err := msg.Encode(nil)
	if err != nil || len(b) == 0 {
		return 0
	}
	return b[0]
}
