// A PostgreSQL JDBC driver (pgjdbc) session against Meridian, run by compat/jdbc_test.go as a
// single-file source program: java -cp postgresql.jar JdbcSession.java HOST:PORT PASSWORD.
// Prints "ok <step>" after each step it checked, "gap <step>: ..." for a step the server
// refused, and exits non-zero when a check fails.

import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

import org.postgresql.PGConnection;
import org.postgresql.util.PGobject;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

public class JdbcSession {
    static Connection conn;

    static void ok(String step) {
        System.out.println("ok " + step);
    }

    static void check(boolean cond, String what) {
        if (!cond) {
            throw new AssertionError(what);
        }
    }

    interface Step {
        void run() throws Exception;
    }

    // step runs one step: an SQLException from the server makes it a gap, and the session
    // goes on (the test decides which steps must pass).
    static void step(String name, Step s) throws Exception {
        try {
            s.run();
        } catch (SQLException e) {
            if (!conn.getAutoCommit()) {
                conn.rollback();
            }
            System.out.println("gap " + name + ": " + e.getSQLState() + " " + e.getMessage().split("\n")[0]);
            return;
        }
        ok(name);
    }

    static Connection connect(String hostPort, String password) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", "root");
        props.setProperty("password", password);
        props.setProperty("sslmode", "disable");
        // Server-side prepared statements from the first execution on.
        props.setProperty("prepareThreshold", "1");
        return DriverManager.getConnection("jdbc:postgresql://" + hostPort + "/defaultdb", props);
    }

    public static void main(String[] args) throws Exception {
        conn = connect(args[0], args[1]);
        DatabaseMetaData md = conn.getMetaData();
        System.out.println("server: " + md.getDatabaseProductName() + " " + md.getDatabaseProductVersion()
                + ", driver " + md.getDriverName() + " " + md.getDriverVersion() + ", java " + System.getProperty("java.version"));
        ok("connect with SCRAM-SHA-256");

        try (Statement st = conn.createStatement()) {
            st.execute("CREATE TABLE accounts (id INT PRIMARY KEY, owner TEXT NOT NULL UNIQUE, balance NUMERIC(12,2) NOT NULL DEFAULT 0)");
            st.execute("CREATE TABLE transfers (id BIGSERIAL PRIMARY KEY, src INT NOT NULL REFERENCES accounts (id), "
                    + "dst INT NOT NULL REFERENCES accounts (id), amount NUMERIC(12,2) NOT NULL, made_at TIMESTAMPTZ NOT NULL DEFAULT now())");
            st.execute("CREATE TABLE kinds (id INT PRIMARY KEY, i INT, b BIGINT, n NUMERIC(12,2), t TEXT, ok BOOL, ts TIMESTAMPTZ, "
                    + "d DATE, u UUID, j JSONB, bin BYTEA, ia INT[], ta TEXT[])");
        }
        ok("create tables");

        OffsetDateTime ts = OffsetDateTime.of(2024, 3, 10, 12, 34, 56, 789000000, ZoneOffset.UTC);
        UUID u = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        byte[] bin = {0, (byte) 0xff, 0x10, 'a', 'b', 'c'};
        PGobject json = new PGobject();
        json.setType("jsonb");
        json.setValue("{\"a\": 1, \"b\": [true, null, \"x\"]}");
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO kinds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setInt(1, 1);
            ps.setInt(2, 42);
            ps.setLong(3, 9007199254740993L);
            ps.setBigDecimal(4, new BigDecimal("12345.67"));
            ps.setString(5, "héllo, wörld");
            ps.setBoolean(6, true);
            ps.setObject(7, ts);
            ps.setObject(8, LocalDate.of(2024, 2, 29));
            ps.setObject(9, u);
            ps.setObject(10, json);
            ps.setBytes(11, bin);
            ps.setArray(12, conn.createArrayOf("int4", new Integer[] {1, 2, 3}));
            ps.setArray(13, conn.createArrayOf("text", new String[] {"a", "b c", "d\"e"}));
            check(ps.executeUpdate() == 1, "insert count");
        }
        // A batch: pgjdbc sends the executions in one round trip.
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO accounts (id, owner, balance) VALUES (?, ?, ?)")) {
            String[] owners = {"ada", "grace", "edsger"};
            for (int i = 0; i < owners.length; i++) {
                ps.setInt(1, i + 1);
                ps.setString(2, owners[i]);
                ps.setBigDecimal(3, new BigDecimal(100));
                ps.addBatch();
            }
            int[] counts = ps.executeBatch();
            check(Arrays.equals(counts, new int[] {1, 1, 1}), "batch counts " + Arrays.toString(counts));
        }
        ok("insert with parameters");

        try (PreparedStatement ps = conn.prepareStatement("SELECT i, b, n, t, ok, ts, d, u, j, bin, ia, ta FROM kinds WHERE id = ?")) {
            ps.setInt(1, 1);
            try (ResultSet rs = ps.executeQuery()) {
                check(rs.next(), "a row");
                check(rs.getInt(1) == 42 && rs.getLong(2) == 9007199254740993L, "ints");
                check(rs.getBigDecimal(3).equals(new BigDecimal("12345.67")), "numeric " + rs.getBigDecimal(3));
                check(rs.getString(4).equals("héllo, wörld") && rs.getBoolean(5), "text, bool");
                check(rs.getObject(6, OffsetDateTime.class).isEqual(ts), "timestamptz " + rs.getObject(6, OffsetDateTime.class));
                check(rs.getObject(7, LocalDate.class).equals(LocalDate.of(2024, 2, 29)), "date");
                check(rs.getObject(8).equals(u), "uuid " + rs.getObject(8));
                check(rs.getString(9).equals("{\"a\": 1, \"b\": [true, null, \"x\"]}"), "jsonb " + rs.getString(9));
                check(Arrays.equals(rs.getBytes(10), bin), "bytea");
                check(Arrays.equals((Integer[]) rs.getArray(11).getArray(), new Integer[] {1, 2, 3}), "int[]");
                check(Arrays.equals((String[]) rs.getArray(12).getArray(), new String[] {"a", "b c", "d\"e"}), "text[]");
                ResultSetMetaData rmd = rs.getMetaData();
                List<String> cols = new ArrayList<>();
                for (int c = 1; c <= rmd.getColumnCount(); c++) {
                    cols.add(rmd.getColumnName(c) + ":" + rmd.getColumnTypeName(c));
                }
                check(cols.equals(List.of("i:int4", "b:int8", "n:numeric", "t:text", "ok:bool", "ts:timestamptz", "d:date",
                        "u:uuid", "j:jsonb", "bin:bytea", "ia:_int4", "ta:_text")), "result columns " + cols);
                check(rmd.getPrecision(3) == 12 && rmd.getScale(3) == 2, "numeric(12,2) " + rmd.getPrecision(3) + "," + rmd.getScale(3));
                check(rmd.getTableName(1).equals("kinds"), "the column's table " + rmd.getTableName(1));
            }
        }
        ok("types round trip");
        ok("ResultSetMetaData");

        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO kinds (id, i, t, ts, ia) VALUES (?, ?, ?, ?, ?)")) {
            ps.setInt(1, 2);
            ps.setNull(2, Types.INTEGER);
            ps.setNull(3, Types.VARCHAR);
            ps.setNull(4, Types.TIMESTAMP_WITH_TIMEZONE);
            ps.setNull(5, Types.ARRAY);
            ps.executeUpdate();
        }
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT i, t, ts, j, ia FROM kinds WHERE id = 2")) {
            check(rs.next(), "a row");
            rs.getInt(1);
            check(rs.wasNull(), "int NULL");
            for (int c = 2; c <= 5; c++) {
                check(rs.getObject(c) == null, "NULL in column " + c);
            }
        }
        ok("nulls");

        try (PreparedStatement up = conn.prepareStatement("UPDATE accounts SET balance = balance + ? WHERE owner = ?");
                PreparedStatement del = conn.prepareStatement("DELETE FROM accounts WHERE id = ?")) {
            up.setBigDecimal(1, new BigDecimal(25));
            up.setString(2, "grace");
            check(up.executeUpdate() == 1, "update count");
            del.setInt(1, 3);
            check(del.executeUpdate() == 1, "delete count");
        }
        ok("update and delete with parameters");

        conn.setAutoCommit(false);
        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO transfers (src, dst, amount) VALUES (?, ?, ?)",
                Statement.RETURN_GENERATED_KEYS)) {
            ps.setInt(1, 1);
            ps.setInt(2, 2);
            ps.setBigDecimal(3, new BigDecimal("10.00"));
            ps.executeUpdate();
            try (ResultSet keys = ps.getGeneratedKeys()) {
                check(keys.next() && keys.getLong("id") >= 1, "generated key");
            }
        }
        try (Statement st = conn.createStatement()) {
            st.executeUpdate("UPDATE accounts SET balance = balance - 10 WHERE id = 1");
        }
        conn.commit();
        ok("commit");

        try (Statement st = conn.createStatement()) {
            st.executeUpdate("DELETE FROM transfers");
            conn.rollback();
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM transfers")) {
                check(rs.next() && rs.getInt(1) == 1, "count after rollback");
            }
            conn.commit();
        }
        ok("rollback");

        step("savepoint", () -> {
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("UPDATE accounts SET balance = balance + 1000 WHERE id = 2");
                Savepoint sp = conn.setSavepoint("before_delete");
                st.executeUpdate("DELETE FROM transfers");
                conn.rollback(sp);
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM transfers")) {
                    check(rs.next() && rs.getInt(1) == 1, "count after rollback to savepoint");
                }
                conn.rollback();
            }
        });

        try (PreparedStatement ps = conn.prepareStatement("SELECT balance FROM accounts WHERE id = ?")) {
            BigDecimal[] want = {null, new BigDecimal("90.00"), new BigDecimal("125.00")};
            for (int round = 0; round < 3; round++) { // executed again and again: one server-side statement
                for (int id = 1; id <= 2; id++) {
                    ps.setInt(1, id);
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next() && rs.getBigDecimal(1).equals(want[id]), "balance of " + id);
                    }
                }
            }
        }
        conn.commit();
        ok("prepared statement");

        try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery("SELECT a.owner, count(t.id), coalesce(sum(t.amount), 0) FROM accounts a "
                        + "LEFT JOIN transfers t ON t.src = a.id GROUP BY a.owner ORDER BY a.owner")) {
            List<String> got = new ArrayList<>();
            while (rs.next()) {
                got.add(rs.getString(1) + " " + rs.getLong(2) + " " + rs.getBigDecimal(3));
            }
            check(got.equals(List.of("ada 1 10.00", "grace 0 0")), "join " + got);
        }
        conn.commit();
        ok("join and aggregate");

        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO accounts (id, owner) VALUES (?, ?)")) {
            ps.setInt(1, 9);
            ps.setString(2, "ada");
            ps.executeUpdate();
            check(false, "a duplicate owner was inserted");
        } catch (PSQLException e) {
            ServerErrorMessage m = e.getServerErrorMessage();
            check("23505".equals(e.getSQLState()) && m != null && m.getDetail().contains("already exists"), "duplicate: " + e);
            check("accounts_owner_key".equals(m.getConstraint()) && "accounts".equals(m.getTable()), "constraint " + m.getConstraint());
            conn.rollback();
        }
        ok("unique violation is 23505");

        try (Connection other = connect(args[0], args[1])) {
            int attempts = 0;
            for (;;) {
                attempts++;
                try (Statement st = conn.createStatement()) {
                    st.executeQuery("SELECT balance FROM accounts WHERE id = 1").close();
                    if (attempts == 1) {
                        try (Statement ost = other.createStatement()) {
                            ost.executeUpdate("UPDATE accounts SET balance = balance + 1 WHERE id = 1");
                        }
                    }
                    st.executeUpdate("UPDATE accounts SET balance = balance - 5 WHERE id = 1");
                    conn.commit();
                    break;
                } catch (SQLException e) {
                    conn.rollback();
                    if (!"40001".equals(e.getSQLState()) || attempts >= 5) {
                        throw e;
                    }
                }
            }
            check(attempts == 2, "committed after " + attempts + " attempts");
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT balance FROM accounts WHERE id = 1")) {
                check(rs.next() && rs.getBigDecimal(1).equals(new BigDecimal("86.00")), "balance after the retry");
            }
            conn.commit();
        }
        ok("retry on 40001");

        // With autocommit off and a fetch size, the driver executes the portal 100 rows at a
        // time (Execute with a row limit); the server takes them from the running query, so
        // the 50,000 rows pass under a statement memory budget far below their size.
        step("fetch size", () -> {
            try (Statement st = conn.createStatement()) {
                st.execute("SET statement_memory_limit = '256kB'");
                st.setFetchSize(100);
                long rows = 0, sum = 0;
                try (ResultSet rs = st.executeQuery("SELECT g FROM generate_series(1, 50000) AS g")) {
                    while (rs.next()) {
                        rows++;
                        sum += rs.getLong(1);
                    }
                }
                check(rows == 50000 && sum == 50000L * 50001 / 2, "rows fetched 100 at a time: " + rows);
                st.execute("RESET statement_memory_limit");
            }
            conn.commit();
        });
        conn.setAutoCommit(true);

        step("DatabaseMetaData.getTables", () -> {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
                }
            }
            check(tables.equals(List.of("accounts:TABLE", "kinds:TABLE", "transfers:TABLE")), "tables " + tables);
        });
        step("DatabaseMetaData.getColumns", () -> {
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "accounts", "%")) {
                while (rs.next()) {
                    cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("DATA_TYPE")
                            + ":" + rs.getString("IS_NULLABLE"));
                }
            }
            check(cols.equals(List.of("id:int4:" + Types.INTEGER + ":NO", "owner:text:" + Types.VARCHAR + ":NO",
                    "balance:numeric:" + Types.NUMERIC + ":NO")), "columns " + cols);
        });
        step("DatabaseMetaData.getPrimaryKeys", () -> {
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "accounts")) {
                check(rs.next() && rs.getString("COLUMN_NAME").equals("id") && !rs.next(), "primary key");
            }
        });
        step("DatabaseMetaData.getIndexInfo", () -> {
            List<String> idx = new ArrayList<>();
            try (ResultSet rs = md.getIndexInfo(null, "public", "accounts", false, false)) {
                while (rs.next()) {
                    idx.add(rs.getString("INDEX_NAME") + ":" + rs.getString("COLUMN_NAME") + ":" + rs.getBoolean("NON_UNIQUE"));
                }
            }
            check(idx.contains("accounts_pkey:id:false") && idx.contains("accounts_owner_key:owner:false"), "indexes " + idx);
        });
        step("DatabaseMetaData.getImportedKeys", () -> {
            List<String> fks = new ArrayList<>();
            try (ResultSet rs = md.getImportedKeys(null, "public", "transfers")) {
                while (rs.next()) {
                    fks.add(rs.getString("FKCOLUMN_NAME") + "->" + rs.getString("PKTABLE_NAME") + "." + rs.getString("PKCOLUMN_NAME"));
                }
            }
            check(fks.equals(List.of("dst->accounts.id", "src->accounts.id")), "foreign keys " + fks);
        });

        step("copy", () -> {
            org.postgresql.copy.CopyManager cm = conn.unwrap(PGConnection.class).getCopyAPI();
            long n = cm.copyIn("COPY accounts (id, owner, balance) FROM STDIN WITH (FORMAT csv)",
                    new java.io.StringReader("10,copy1,1.50\n11,copy2,2.00\n"));
            check(n == 2, "copied " + n);
        });

        conn.close();
        System.out.println("done");
    }
}
