"""A psycopg2 session against Meridian, run by compat/psycopg2_test.go.

Usage: python3 psycopg2_session.py URL. Prints "ok <step>" after each step it checked and
exits non-zero at the first step that fails.
"""

import datetime
import decimal
import json
import sys
import uuid

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

psycopg2.extras.register_uuid()


def ok(step):
    print("ok " + step, flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def step(name, fn):
    """Runs one step: "ok <name>" if it passes; "gap <name>: ..." if the server refuses it,
    and the session goes on (the test decides which steps must pass)."""
    try:
        fn()
    except psycopg2.Error as e:
        conn.rollback()
        print("gap %s: %s %s" % (name, e.pgcode, str(e).strip().splitlines()[0]), flush=True)
        return
    ok(name)


url = sys.argv[1]
conn = psycopg2.connect(url)
with conn.cursor() as cur:
    cur.execute("SELECT current_user, version()")
    user, version = cur.fetchone()
    check(user == "root", "current_user " + user)
print("server: " + version + ", psycopg2 " + psycopg2.__version__ + ", libpq " + str(psycopg2.extensions.libpq_version()))
ok("connect with SCRAM-SHA-256")

with conn.cursor() as cur:
    cur.execute("""CREATE TABLE accounts (
        id INT PRIMARY KEY,
        owner TEXT NOT NULL UNIQUE,
        balance NUMERIC(12,2) NOT NULL DEFAULT 0)""")
    cur.execute("""CREATE TABLE transfers (
        id BIGSERIAL PRIMARY KEY,
        src INT NOT NULL REFERENCES accounts (id),
        dst INT NOT NULL REFERENCES accounts (id),
        amount NUMERIC(12,2) NOT NULL,
        made_at TIMESTAMPTZ NOT NULL DEFAULT now())""")
    cur.execute("""CREATE TABLE kinds (
        id INT PRIMARY KEY,
        i INT, b BIGINT, n NUMERIC(12,2), t TEXT, ok BOOL, ts TIMESTAMPTZ, d DATE,
        u UUID, j JSONB, bin BYTEA, ia INT[], ta TEXT[])""")
conn.commit()
ok("create tables")

# psycopg2 interpolates its parameters client-side and sends the simple query protocol.
ts = datetime.datetime(2024, 3, 10, 12, 34, 56, 789000, tzinfo=datetime.timezone.utc)
u = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
with conn.cursor() as cur:
    cur.execute(
        "INSERT INTO kinds VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (1, 42, 9007199254740993, decimal.Decimal("12345.67"), "héllo, wörld", True, ts,
         datetime.date(2024, 2, 29), u, psycopg2.extras.Json({"a": 1, "b": [True, None, "x"]}),
         psycopg2.Binary(b"\x00\xff\x10abc"), [1, 2, 3], ["a", "b c", 'd"e']))
    cur.executemany("INSERT INTO accounts (id, owner, balance) VALUES (%(id)s, %(owner)s, %(balance)s)",
                    [{"id": 1, "owner": "ada", "balance": 100},
                     {"id": 2, "owner": "grace", "balance": 100},
                     {"id": 3, "owner": "edsger", "balance": 100}])
    check(cur.rowcount == 3 or cur.rowcount == 1, "executemany rowcount %d" % cur.rowcount)
conn.commit()
ok("insert with parameters")

with conn.cursor() as cur:
    cur.execute("SELECT i, b, n, t, ok, ts, d, u, j, bin, ia, ta FROM kinds WHERE id = %s", (1,))
    row = cur.fetchone()
    want = (42, 9007199254740993, decimal.Decimal("12345.67"), "héllo, wörld", True, ts,
            datetime.date(2024, 2, 29), u, {"a": 1, "b": [True, None, "x"]}, b"\x00\xff\x10abc",
            [1, 2, 3], ["a", "b c", 'd"e'])
    got = tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
    check(got == want, "row read back as %r" % (got,))
    # cursor.description: names and type codes (OIDs) of the result's columns.
    names = [d.name for d in cur.description]
    codes = [d.type_code for d in cur.description]
    check(names == ["i", "b", "n", "t", "ok", "ts", "d", "u", "j", "bin", "ia", "ta"], "names %r" % names)
    check(codes == [23, 20, 1700, 25, 16, 1184, 1082, 2950, 3802, 17, 1007, 1009], "type codes %r" % codes)
    check(cur.description[2].precision == 12 and cur.description[2].scale == 2,
          "numeric(12,2) described as %r" % (cur.description[2],))
ok("types round trip")
ok("cursor.description")

with conn.cursor() as cur:
    cur.execute("INSERT INTO kinds (id, t, ia) VALUES (%s, %s, %s)", (2, None, None))
    cur.execute("SELECT i, t, ts, j, ia, %s IS NULL FROM kinds WHERE id = 2", (None,))
    check(cur.fetchone() == (None, None, None, None, None, True), "NULLs")
conn.commit()
ok("nulls")

with conn.cursor() as cur:
    cur.execute("UPDATE accounts SET balance = balance + %s WHERE owner = %s", (25, "grace"))
    check(cur.rowcount == 1, "update rowcount %d" % cur.rowcount)
    cur.execute("DELETE FROM accounts WHERE id = %s RETURNING owner", (3,))
    check(cur.fetchall() == [("edsger",)] and cur.rowcount == 1, "delete returning")
conn.commit()
ok("update and delete with parameters")

with conn:  # a transaction that commits at the end of the block
    with conn.cursor() as cur:
        cur.execute("INSERT INTO transfers (src, dst, amount) VALUES (%s, %s, %s) RETURNING id", (1, 2, decimal.Decimal("10.00")))
        check(cur.fetchone()[0] >= 1, "serial id")
        cur.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
with conn.cursor() as cur:
    cur.execute("SELECT balance FROM accounts WHERE id = 1")
    check(cur.fetchone()[0] == decimal.Decimal("90.00"), "balance after commit")
conn.commit()
ok("commit")

with conn.cursor() as cur:
    cur.execute("DELETE FROM transfers")
    cur.execute("UPDATE accounts SET balance = 0")
conn.rollback()
with conn.cursor() as cur:
    cur.execute("SELECT count(*), (SELECT sum(balance) FROM accounts) FROM transfers")
    check(cur.fetchone() == (1, decimal.Decimal("215.00")), "transfers and balances after rollback")
    # An error aborts the transaction until it is rolled back.
    try:
        cur.execute("SELECT 1/0")
        check(False, "division by zero succeeded")
    except psycopg2.errors.DivisionByZero:
        pass
    check(conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR, "status after an error")
    try:
        cur.execute("SELECT 1")
        check(False, "a statement ran in an aborted transaction")
    except psycopg2.errors.InFailedSqlTransaction:
        pass
conn.rollback()
ok("rollback")


def prepared():
    # psycopg2 has no protocol-level prepared statements: PREPARE and EXECUTE in SQL.
    with conn.cursor() as cur:
        cur.execute("PREPARE balance_of (INT) AS SELECT balance FROM accounts WHERE id = $1")
        for id_, want in ((1, decimal.Decimal("90.00")), (2, decimal.Decimal("125.00"))):
            cur.execute("EXECUTE balance_of (%s)", (id_,))
            check(cur.fetchone()[0] == want, "prepared balance of %d" % id_)
        cur.execute("DEALLOCATE balance_of")
    conn.commit()


step("prepared statement", prepared)

with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
    cur.execute("""SELECT a.owner, count(t.id) AS n, coalesce(sum(t.amount), 0) AS total
                   FROM accounts a LEFT JOIN transfers t ON t.src = a.id
                   GROUP BY a.owner ORDER BY a.owner""")
    rows = cur.fetchall()
    check([dict(r) for r in rows] == [{"owner": "ada", "n": 1, "total": decimal.Decimal("10.00")},
                                      {"owner": "grace", "n": 0, "total": 0}], "join %r" % rows)
conn.commit()
ok("join and aggregate")

with conn.cursor() as cur:
    try:
        cur.execute("INSERT INTO accounts (id, owner) VALUES (%s, %s)", (9, "ada"))
        check(False, "a duplicate owner was inserted")
    except psycopg2.errors.UniqueViolation as e:
        check(e.pgcode == "23505", "pgcode " + str(e.pgcode))
        check("already exists" in (e.diag.message_detail or ""), "detail %r" % e.diag.message_detail)
        check(e.diag.constraint_name == "accounts_owner_key" and e.diag.table_name == "accounts",
              "constraint %r of table %r" % (e.diag.constraint_name, e.diag.table_name))
conn.rollback()
ok("unique violation is 23505")

# Retry on 40001: another connection writes what the transaction read.
other = psycopg2.connect(url)
other.autocommit = True
attempts = 0
while True:
    attempts += 1
    try:
        with conn:
            with conn.cursor() as cur:
                cur.execute("SELECT balance FROM accounts WHERE id = 1")
                cur.fetchone()
                if attempts == 1:
                    with other.cursor() as ocur:
                        ocur.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
                cur.execute("UPDATE accounts SET balance = balance - 5 WHERE id = 1")
        break
    except psycopg2.errors.SerializationFailure:
        if attempts >= 5:
            raise
other.close()
check(attempts == 2, "committed after %d attempts" % attempts)
with conn.cursor() as cur:
    cur.execute("SELECT balance FROM accounts WHERE id = 1")
    check(cur.fetchone()[0] == decimal.Decimal("86.00"), "balance after the retry")
conn.commit()
ok("retry on 40001")


def named_cursor():
    # A named cursor is a server-side one: DECLARE ... CURSOR and FETCH.
    with conn.cursor(name="big") as cur:
        cur.itersize = 2
        cur.execute("SELECT id FROM accounts ORDER BY id")
        check([r[0] for r in cur] == [1, 2], "named cursor")
    conn.commit()


def copy():
    import io
    with conn.cursor() as cur:
        cur.copy_expert("COPY accounts (id, owner, balance) FROM STDIN", io.StringIO("10\tcopy1\t1.50\n11\tcopy2\t2.00\n"))
        check(cur.rowcount == 2, "copy rowcount %d" % cur.rowcount)
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT id, owner FROM accounts WHERE id >= 10 ORDER BY id) TO STDOUT", out)
        check(out.getvalue() == "10\tcopy1\n11\tcopy2\n", "copy out %r" % out.getvalue())
    conn.commit()


step("named cursor", named_cursor)
step("copy", copy)
conn.close()
print("done")
