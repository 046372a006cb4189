package sql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Conflicts between transactions come up from the KV layers with the raw key they were over,
// which only this layer can name: here a key becomes a table and the primary key values of a
// row, the way PostgreSQL's details name rows ("Key (id)=(5)"), and the errors a client sees
// say what happened, where, and with which transaction.

// tableLookup finds a table by descriptor ID: nil when there is none, or it cannot be read.
type tableLookup func(id uint32) *catalog.Table

// sqlKey is a key as SQL names it.
type sqlKey struct {
	// table is nil when the key is no row of a table the catalog knows.
	table *catalog.Table
	// index names the secondary index the key is an entry of; "" for the primary index.
	index string
	// cols and vals are the columns the key holds (the primary key's; for an index entry,
	// the indexed columns and the primary key columns after them) and their values as
	// text; a span's bound may hold only the first few, and an undecodable key none.
	cols, vals []string
	// pretty is the whole key in one path (/Table/accounts/accounts_pkey/5), or the
	// generic rendering of a key outside any known table (/System/…, hex).
	pretty string
}

// describeKey names key in SQL terms. It never fails: a key that does not decode is shown in
// the generic form, since it only serves an error message.
func describeKey(key []byte, tables tableLookup) sqlKey {
	id, index, cols, ok := rowenc.DecodeTableKey(key)
	if !ok {
		if s, ok := catalog.PrettyKey(key); ok {
			return sqlKey{pretty: s}
		}
		return sqlKey{pretty: keys.Pretty(key)}
	}
	var tbl *catalog.Table
	if tables != nil {
		tbl = tables(id)
	}
	if tbl == nil || tbl.KeyID() != id {
		s := fmt.Sprintf("/Table/%d", id)
		if index != 0 {
			s += fmt.Sprintf("/%d", index)
		}
		return sqlKey{pretty: s + hexSuffix(cols)}
	}
	k := sqlKey{table: tbl, pretty: "/Table/" + tbl.Name}
	var ids []uint32
	var vals []types.Datum
	var err error
	switch idx := tbl.IndexByID(index); {
	case index == 0:
		return k
	case index == rowenc.PrimaryIndexID:
		k.pretty += "/" + tbl.PrimaryKeyName()
		ids = tbl.PrimaryKey
		vals, err = rowenc.DecodePrimaryKey(tbl, cols)
	case idx != nil:
		k.index = idx.Name
		k.pretty += "/" + idx.Name
		ids, vals, err = rowenc.DecodeIndexKey(tbl, idx, cols)
	default:
		k.pretty += fmt.Sprintf("/%d%s", index, hexSuffix(cols))
		return k
	}
	if err != nil {
		k.pretty += hexSuffix(cols)
		return k
	}
	for i, d := range vals {
		col := tbl.Columns[tbl.ColumnOrdinal(ids[i])]
		text, path := "NULL", "NULL"
		if d != nil {
			text = string(types.AppendText(nil, col.Type, d))
			path = text
			if col.Type.Family == types.StringFamily {
				path = strconv.Quote(text) // a string may hold the separator
			}
		}
		k.cols, k.vals = append(k.cols, col.Name), append(k.vals, text)
		k.pretty += "/" + path
	}
	return k
}

func hexSuffix(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return fmt.Sprintf("/0x%x", b)
}

// tuple is the key's columns and values as PostgreSQL's details show them: (a, b)=(1, x).
func (k sqlKey) tuple() string {
	return "(" + strings.Join(k.cols, ", ") + ")=(" + strings.Join(k.vals, ", ") + ")"
}

// terms names the key within a sentence: `table "accounts", key (id)=(5)`.
func (k sqlKey) terms() string {
	switch {
	case k.table == nil:
		return "key " + k.pretty
	case len(k.vals) == 0:
		return fmt.Sprintf("table %q", k.table.Name)
	case k.index != "":
		return fmt.Sprintf("table %q, index %q, key %s", k.table.Name, k.index, k.tuple())
	}
	return fmt.Sprintf("table %q, key %s", k.table.Name, k.tuple())
}

// tableByIDTimeout bounds the catalog read that names a conflict's table: the error goes to
// the client either way, in the generic form if the read does not finish.
const tableByIDTimeout = 2 * time.Second

// tableByID reads a table's descriptor for an error message, in a transaction of its own:
// the session's may be the one that failed.
func (s *Session) tableByID(id uint32) *catalog.Table {
	ctx, cancel := context.WithTimeout(context.Background(), tableByIDTimeout)
	defer cancel()
	var tbl *catalog.Table
	err := s.srv.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		var err error
		tbl, err = s.srv.cat.TableByID(ctx, t, id)
		return err
	})
	if err != nil {
		return nil
	}
	return tbl
}

// reasonWords says a retry reason the way a person would.
func reasonWords(r kvpb.RetryReason) string {
	switch r {
	case kvpb.RetryWriteTooOld:
		return "write too old"
	case kvpb.RetrySerializable:
		return "serialization conflict"
	case kvpb.RetryAborted:
		return "transaction aborted"
	case kvpb.RetryUncertainty:
		return "uncertain read"
	case kvpb.RetryConflict:
		return "write conflict"
	case kvpb.RetryCommitDeadline:
		return "commit deadline exceeded"
	case kvpb.RetryDeadlock:
		return "deadlock"
	case kvpb.RetryAsyncWriteFailure:
		return "lost write"
	}
	return strings.ToLower(strings.ReplaceAll(string(r), "_", " "))
}

// otherTxn names the other transaction of a conflict; its ID prefix is what logs and the
// other client's errors show of it.
func otherTxn(c *kvpb.ConflictingTxn) string {
	if id := c.ShortID(); id != "" {
		return "another transaction (" + id + ")"
	}
	return "another transaction"
}

// retryError is the client's error for a transaction that must restart: 40001 naming the
// reason and the conflict, or 40P01 for a deadlock's victim.
func retryError(re *kvpb.TransactionRetryError, tables tableLookup) *pgerror.Error {
	var key sqlKey
	where := ""
	if re.Key != nil {
		key = describeKey(re.Key, tables)
		where = key.terms()
	}
	other := otherTxn(re.Conflicting)
	detail := retryDetail(re, key)
	if re.Reason == kvpb.RetryDeadlock {
		msg := "deadlock detected"
		switch {
		case where != "" && re.Waiting:
			msg += fmt.Sprintf(": this transaction waited for a lock on %s held by %s, which was waiting, directly or not, for this one", where, other)
		case where != "":
			msg += fmt.Sprintf(": %s waited for this transaction's lock on %s while this transaction was waiting, directly or not, for it", other, where)
		}
		return &pgerror.Error{Code: pgerror.CodeDeadlockDetected, Message: msg, Detail: detail,
			Hint: "The transaction was aborted to break a deadlock with another transaction; retry it (SQLSTATE 40P01)."}
	}
	msg := "restart transaction: " + reasonWords(re.Reason)
	switch {
	case where != "":
		msg += ": " + conflictWords(re, where, other)
	case re.Message != "":
		msg += ": " + re.Message
	}
	return &pgerror.Error{Code: pgerror.CodeSerializationFailure, Message: msg, Detail: detail,
		Hint: "The transaction conflicted with a concurrent one; retry it (SQLSTATE 40001)."}
}

// conflictWords says what the other transaction did at where, by the reason of the restart.
func conflictWords(re *kvpb.TransactionRetryError, where, other string) string {
	switch re.Reason {
	case kvpb.RetrySerializable, kvpb.RetryWriteTooOld:
		return fmt.Sprintf("%s wrote to %s after this transaction read it", other, where)
	case kvpb.RetryUncertainty:
		return fmt.Sprintf("%s wrote to %s so close to this transaction's start that it may have come first", other, where)
	case kvpb.RetryAsyncWriteFailure:
		return fmt.Sprintf("this transaction's write to %s was not replicated (its range changed leaseholders)", where)
	case kvpb.RetryAborted:
		if re.Waiting {
			return fmt.Sprintf("this transaction was aborted while it waited for a lock on %s held by %s", where, other)
		}
		return fmt.Sprintf("%s needed this transaction's lock on %s and aborted it", other, where)
	}
	return fmt.Sprintf("conflict with %s on %s", other, where)
}

// retryDetail is the DETAIL of a restart: the KV layer's reason code and words (timestamps
// and all), the whole key, and what is known of the other transaction, one per line.
func retryDetail(re *kvpb.TransactionRetryError, key sqlKey) string {
	var lines []string
	reason := "Reason: " + string(re.Reason)
	if re.Message != "" {
		reason += ": " + re.Message
	}
	lines = append(lines, reason)
	if re.Key != nil {
		lines = append(lines, "Key: "+key.pretty)
	}
	if c := re.Conflicting; c != nil {
		switch id := c.ShortID(); {
		case id != "" && !c.Timestamp.IsEmpty():
			lines = append(lines, fmt.Sprintf("Conflicting transaction: %s, writing at %s", id, c.Timestamp))
		case id != "":
			lines = append(lines, "Conflicting transaction: "+id)
		case !c.Timestamp.IsEmpty():
			lines = append(lines, fmt.Sprintf("Conflicting write: committed at %s", c.Timestamp))
		}
	}
	return strings.Join(lines, "\n")
}

// lockNotAvailableError is the client's 55P03 for a statement that gave up on a lock, after
// lock_timeout or at once (NOWAIT): it names the relation in its message, like PostgreSQL's
// NOWAIT error, and the row and the lock's holder in its detail.
func lockNotAvailableError(lna *kvpb.LockNotAvailableError, tables tableLookup) *pgerror.Error {
	key := describeKey(lna.Key, tables)
	holder := "another transaction"
	if !lna.Holder.IsEmpty() {
		holder += fmt.Sprintf(" (%x)", lna.Holder[:4])
	}
	e := &pgerror.Error{Code: pgerror.CodeLockNotAvailable}
	switch {
	case key.table == nil:
		e.Message = "could not obtain lock on key " + key.pretty
		e.Detail = fmt.Sprintf("Key %s is locked by %s.", key.pretty, holder)
	case len(key.vals) == 0:
		e.Message = fmt.Sprintf("could not obtain lock on row in relation %q", key.table.Name)
		e.Detail = fmt.Sprintf("Key %s is locked by %s.", key.pretty, holder)
	default:
		e.Message = fmt.Sprintf("could not obtain lock on row in relation %q", key.table.Name)
		e.Detail = fmt.Sprintf("Key %s is locked by %s.", key.tuple(), holder)
	}
	if lna.Timeout != nowaitLockTimeout {
		e.Detail += fmt.Sprintf(" The statement waited for it longer than lock_timeout (%s).", lna.Timeout)
		e.Hint = "Another transaction holds a lock this statement waited for longer than lock_timeout."
	}
	return e
}
