-- A psql session against Meridian, run by compat/psql_test.go; its output is
-- psql_session.golden (go test ./compat -run TestPsql -rewrite regenerates it).
\conninfo
SELECT current_user, current_database(), current_schema();

CREATE TABLE accounts (
  id INT PRIMARY KEY,
  owner TEXT NOT NULL UNIQUE,
  balance NUMERIC(12,2) NOT NULL DEFAULT 0 CHECK (balance >= 0),
  opened DATE DEFAULT '2024-01-01'
);
CREATE TABLE transfers (
  id BIGSERIAL PRIMARY KEY,
  src INT NOT NULL REFERENCES accounts (id),
  dst INT NOT NULL REFERENCES accounts (id),
  amount NUMERIC(12,2) NOT NULL,
  note JSONB,
  tags TEXT[]
);
CREATE INDEX transfers_src_idx ON transfers (src);
CREATE VIEW rich AS SELECT owner, balance FROM accounts WHERE balance > 100;

-- The \d family.
\d
\dt
\d accounts
\d transfers
\d+ accounts
\di
\dv
\ds
\dn
\du
\l
\dt acc*

-- Data, with psql variables.
\set owner 'ada'
INSERT INTO accounts (id, owner, balance) VALUES (1, :'owner', 100), (2, 'grace', 250.5), (3, 'edsger', 0);
SELECT id AS last_id FROM accounts ORDER BY id DESC LIMIT 1 \gset
\echo last id is :last_id
BEGIN;
INSERT INTO transfers (src, dst, amount, note, tags) VALUES (2, 1, 50, '{"why": "rent"}', ARRAY['monthly']) RETURNING id;
UPDATE accounts SET balance = balance - 50 WHERE id = 2;
UPDATE accounts SET balance = balance + 50 WHERE id = 1;
COMMIT;
BEGIN;
DELETE FROM transfers;
ROLLBACK;
SELECT a.owner, a.balance, count(t.id) AS sent
  FROM accounts a LEFT JOIN transfers t ON t.src = a.id
  GROUP BY a.owner, a.balance ORDER BY a.owner;
SELECT * FROM rich;
\x on
SELECT * FROM transfers;
\x off

-- Errors, as psql prints them.
INSERT INTO accounts (id, owner) VALUES (4, 'ada');
UPDATE accounts SET balance = -1 WHERE id = 3;
SELECT * FROM missing;

-- PREPARE and EXECUTE in SQL.
PREPARE by_owner (TEXT) AS SELECT id, balance FROM accounts WHERE owner = $1;
EXECUTE by_owner ('grace');
DEALLOCATE by_owner;

-- \copy, which psql runs as COPY FROM STDIN / TO STDOUT.
\copy accounts (id, owner, balance) FROM stdin WITH (FORMAT csv)
10,copy1,1.50
11,copy2,2.00
\.
\copy (SELECT id, owner FROM accounts WHERE id >= 10 ORDER BY id) TO stdout WITH (FORMAT csv, HEADER)
