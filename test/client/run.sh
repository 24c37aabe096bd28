#!/bin/bash
# Client tests (run by `make test` inside the throwaway cluster, after
# pg_regress): the application flow and BI discovery through the clients
# applications and BI tools use -- psycopg2 and SQLAlchemy (Debian), pgjdbc
# (Debian's libpostgresql-jdbc-java, as Metabase, Tableau and DBeaver),
# node-postgres (`pg` from npm, installed here into node_modules) and
# psqlODBC through unixODBC's isql (as Excel and Power BI).  Each prints
# "ok"/"FAIL" lines and "N passed, M failed"; connection settings come from
# PG* variables.  Exits non-zero if any suite fails.
set -uo pipefail
cd "$(dirname "$0")"
status=0
run() { echo "== $1"; shift; "$@" || status=1; }

run "python (psycopg2, SQLAlchemy)" /usr/bin/python3 -B test_clients.py "$@"

JAR=/usr/share/java/postgresql.jar
CLASSES=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-jdbc.XXXXXX")
trap 'rm -rf "$CLASSES"' EXIT
if javac -d "$CLASSES" -cp "$JAR" JdbcClients.java; then
	v=$(ls /usr/share/java/postgresql-[0-9]*.jar 2>/dev/null | head -n 1)
	v=${v##*-}
	run "jdbc (pgjdbc ${v%.jar})" \
		java -cp "$CLASSES:$JAR" JdbcClients
else
	echo "FAIL jdbc: JdbcClients.java does not compile"; status=1
fi

# pg comes from npm through tools/install-deps.sh (make test runs it first)
if [ -d node_modules/pg ]; then
	run "node (pg $(node -p "require('pg/package.json').version"))" node node_clients.js
else
	echo "FAIL node: test/client/node_modules/pg is missing (run tools/install-deps.sh)"; status=1
fi

run "odbc (psqlODBC, isql)" ./odbc_clients.sh
exit $status
