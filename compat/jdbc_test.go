package compat_test

import (
	"os"
	"testing"
)

// jdbcJar is the PostgreSQL JDBC driver as Debian's libpostgresql-jdbc-java installs it.
const jdbcJar = "/usr/share/java/postgresql.jar"

// TestJDBC runs testdata/JdbcSession.java, a single-file Java program, with the PostgreSQL
// JDBC driver (pgjdbc): SCRAM, server-side prepared statements from the first execution
// (prepareThreshold=1), batches, the common types through setObject/getObject, generated
// keys, commit, rollback and savepoints, PSQLException's SQLSTATE and server message,
// ResultSetMetaData, DatabaseMetaData (getTables, getColumns, getPrimaryKeys, getIndexInfo,
// getImportedKeys) and the CopyManager.
func TestJDBC(t *testing.T) {
	java := need(t, "java", "default-jdk-headless")
	if _, err := os.Stat(jdbcJar); err != nil {
		t.Skipf("%s is missing (Debian package libpostgresql-jdbc-java; scripts/install-deps installs it)", jdbcJar)
	}
	n := startNode(t)
	out := runClient(t, nil, java, "-cp", jdbcJar, testdata(t, "JdbcSession.java"), n.SQLAddr(), rootPassword)
	checkSteps(t, out, append(sessionSteps, "ResultSetMetaData", "savepoint", "fetch size",
		"DatabaseMetaData.getTables", "DatabaseMetaData.getColumns", "DatabaseMetaData.getPrimaryKeys",
		"DatabaseMetaData.getIndexInfo", "DatabaseMetaData.getImportedKeys", "copy"))
}
