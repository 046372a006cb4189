// A node-postgres (pg) session against Meridian, run by compat/node_test.go.
//
// Usage: node node_session.js URL. Prints "ok <step>" after each step it checked, "gap <step>:
// ..." for a step the server refused, and exits non-zero when a check fails.
'use strict';

const assert = require('assert');
const { Client, Pool, DatabaseError } = require('pg');

const url = process.argv[2];

function ok(step) {
  console.log('ok ' + step);
}

// step runs one step: a DatabaseError from the server makes it a gap, and the session goes on.
async function step(name, client, fn) {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof DatabaseError)) throw e;
    await client.query('ROLLBACK').catch(() => {});
    console.log(`gap ${name}: ${e.code} ${e.message}`);
    return;
  }
  ok(name);
}

async function main() {
  const client = new Client({ connectionString: url });
  await client.connect();
  const v = await client.query('SELECT current_user AS u, version() AS v');
  assert.strictEqual(v.rows[0].u, 'root');
  console.log('server: ' + v.rows[0].v + ', pg ' + require('pg/package.json').version + ', node ' + process.version);
  ok('connect with SCRAM-SHA-256');

  await client.query(`CREATE TABLE accounts (
    id INT PRIMARY KEY,
    owner TEXT NOT NULL UNIQUE,
    balance NUMERIC(12,2) NOT NULL DEFAULT 0)`);
  await client.query(`CREATE TABLE transfers (
    id BIGSERIAL PRIMARY KEY,
    src INT NOT NULL REFERENCES accounts (id),
    dst INT NOT NULL REFERENCES accounts (id),
    amount NUMERIC(12,2) NOT NULL,
    made_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
  await client.query(`CREATE TABLE kinds (
    id INT PRIMARY KEY,
    i INT, b BIGINT, n NUMERIC(12,2), t TEXT, ok BOOL, ts TIMESTAMPTZ, d DATE,
    u UUID, j JSONB, bin BYTEA, ia INT[], ta TEXT[])`);
  ok('create tables');

  // node-postgres sends every query with parameters through the extended protocol, its
  // values as text.
  const ts = new Date(Date.UTC(2024, 2, 10, 12, 34, 56, 789));
  const bin = Buffer.from([0, 0xff, 0x10, 0x61, 0x62, 0x63]);
  const ins = await client.query(
    'INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)',
    [1, 42, '9007199254740993', '12345.67', 'héllo, wörld', true, ts, '2024-02-29',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', { a: 1, b: [true, null, 'x'] }, bin, [1, 2, 3], ['a', 'b c', 'd"e']]);
  assert.strictEqual(ins.rowCount, 1);
  assert.strictEqual(ins.command, 'INSERT');
  for (const [id, owner] of [[1, 'ada'], [2, 'grace'], [3, 'edsger']]) {
    await client.query('INSERT INTO accounts (id, owner, balance) VALUES ($1, $2, $3)', [id, owner, 100]);
  }
  ok('insert with parameters');

  const r = await client.query('SELECT i, b, n, t, ok, ts, d::TEXT AS d, u, j, bin, ia, ta FROM kinds WHERE id = $1', [1]);
  const row = r.rows[0];
  assert.strictEqual(row.i, 42);
  assert.strictEqual(row.b, '9007199254740993'); // int8 arrives as a string
  assert.strictEqual(row.n, '12345.67');
  assert.strictEqual(row.t, 'héllo, wörld');
  assert.strictEqual(row.ok, true);
  assert.strictEqual(row.ts.getTime(), ts.getTime());
  assert.strictEqual(row.d, '2024-02-29');
  assert.strictEqual(row.u, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  assert.deepStrictEqual(row.j, { a: 1, b: [true, null, 'x'] });
  assert.ok(bin.equals(row.bin), 'bytea ' + row.bin.toString('hex'));
  assert.deepStrictEqual(row.ia, [1, 2, 3]);
  assert.deepStrictEqual(row.ta, ['a', 'b c', 'd"e']);
  // The fields' metadata: names and type OIDs.
  assert.deepStrictEqual(r.fields.map((f) => f.name), ['i', 'b', 'n', 't', 'ok', 'ts', 'd', 'u', 'j', 'bin', 'ia', 'ta']);
  assert.deepStrictEqual(r.fields.map((f) => f.dataTypeID), [23, 20, 1700, 25, 16, 1184, 25, 2950, 3802, 17, 1007, 1009]);
  ok('types round trip');
  ok('result fields');

  await client.query('INSERT INTO kinds (id, t) VALUES ($1, $2)', [2, null]);
  const nulls = await client.query('SELECT i, t, ts, j, ia, $1::TEXT IS NULL AS p FROM kinds WHERE id = 2', [null]);
  assert.deepStrictEqual(nulls.rows[0], { i: null, t: null, ts: null, j: null, ia: null, p: true });
  ok('nulls');

  const upd = await client.query('UPDATE accounts SET balance = balance + $1 WHERE owner = $2', [25, 'grace']);
  assert.strictEqual(upd.rowCount, 1);
  const del = await client.query('DELETE FROM accounts WHERE id = $1 RETURNING owner', [3]);
  assert.deepStrictEqual(del.rows, [{ owner: 'edsger' }]);
  ok('update and delete with parameters');

  await client.query('BEGIN');
  await client.query('INSERT INTO transfers (src, dst, amount) VALUES ($1, $2, $3)', [1, 2, '10.00']);
  await client.query('UPDATE accounts SET balance = balance - 10 WHERE id = 1');
  await client.query('COMMIT');
  ok('commit');

  await client.query('BEGIN');
  await client.query('DELETE FROM transfers');
  await client.query('ROLLBACK');
  assert.strictEqual((await client.query('SELECT count(*)::INT AS n FROM transfers')).rows[0].n, 1);
  await client.query('BEGIN');
  await assert.rejects(client.query('SELECT 1/0'), (e) => e.code === '22012');
  await assert.rejects(client.query('SELECT 1'), (e) => e.code === '25P02');
  await client.query('ROLLBACK');
  ok('rollback');

  // A named query is prepared once on the connection and executed by name after that.
  const balanceOf = (id) => client.query({ name: 'balance-of', text: 'SELECT balance FROM accounts WHERE id = $1', values: [id] });
  assert.strictEqual((await balanceOf(1)).rows[0].balance, '90.00');
  assert.strictEqual((await balanceOf(2)).rows[0].balance, '125.00');
  ok('prepared statement');

  // rowMode 'array' and a join with an aggregate.
  const j = await client.query({
    text: `SELECT a.owner, count(t.id)::INT, coalesce(sum(t.amount), 0)
           FROM accounts a LEFT JOIN transfers t ON t.src = a.id
           GROUP BY a.owner ORDER BY a.owner`,
    rowMode: 'array',
  });
  assert.deepStrictEqual(j.rows, [['ada', 1, '10.00'], ['grace', 0, '0']]);
  ok('join and aggregate');

  await assert.rejects(client.query('INSERT INTO accounts (id, owner) VALUES ($1, $2)', [9, 'ada']), (e) => {
    assert.ok(e instanceof DatabaseError);
    assert.strictEqual(e.code, '23505');
    assert.match(e.detail, /already exists/);
    assert.strictEqual(e.constraint, 'accounts_owner_key');
    assert.strictEqual(e.table, 'accounts');
    return true;
  });
  ok('unique violation is 23505');

  // Retry on 40001, with a second connection from a pool writing what the transaction read.
  const pool = new Pool({ connectionString: url, max: 2 });
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      await client.query('BEGIN');
      await client.query('SELECT balance FROM accounts WHERE id = 1');
      if (attempts === 1) await pool.query('UPDATE accounts SET balance = balance + 1 WHERE id = 1');
      await client.query('UPDATE accounts SET balance = balance - 5 WHERE id = 1');
      await client.query('COMMIT');
      break;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      if (e.code !== '40001' || attempts >= 5) throw e;
    }
  }
  await pool.end();
  assert.strictEqual(attempts, 2);
  assert.strictEqual((await client.query('SELECT balance FROM accounts WHERE id = 1')).rows[0].balance, '86.00');
  ok('retry on 40001');

  // Many statements in one simple query: one result per statement.
  await step('multi-statement query', client, async () => {
    const res = await client.query('SELECT 1 AS one; SELECT 2 AS two');
    assert.deepStrictEqual(res.map((x) => x.rows[0]), [{ one: 1 }, { two: 2 }]);
  });

  await client.end();
  console.log('done');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
