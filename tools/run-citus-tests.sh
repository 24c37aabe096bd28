#!/bin/bash
# `make test-citus` (and `make bench-citus`): the distributed cases on a
# real Citus cluster -- a coordinator and two workers started with pg_ctl
# from the Citus installed in PG_CONFIG's PostgreSQL, on private ports
# (CITUS_PORT and the next two; by default the first free three from
# 58700) with a private socket directory, stopped and removed at the end.  Builds and installs the
# extension into that PostgreSQL first, like `make test`.  Citus itself is
# never built here: without PG_CONFIG's pkglibdir/citus.so the run is
# skipped (exit 0), as on CI, where Debian has no Citus package.
#
#   tools/run-citus-tests.sh           test/citus/run.sh: "ok"/"not ok" lines
#                                      and "citus: N passed, M failed"
#   tools/run-citus-tests.sh --bench   test/citus/bench.sh: distributed
#                                      aggregates against plain SQL
#
# CITUS_KEEP=1 leaves the cluster running (and says how to reach it).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

mode=test
[ "${1:-}" = "--bench" ] && mode=bench

BINDIR=$("$PG_CONFIG" --bindir)
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
if [ ! -f "$PKGLIBDIR/citus.so" ]; then
	echo "citus: skipped -- Citus is not installed in this PostgreSQL ($PKGLIBDIR/citus.so not found; PG_CONFIG=$PG_CONFIG)"
	exit 0
fi

build_and_install

# The servers refuse to run as root: as root, run them as "postgres".
if [ "$(id -u)" -eq 0 ]; then
	as_server() { runuser -u postgres -- "$@"; }
else
	as_server() { "$@"; }
fi

# Three free ports: CITUS_PORT and the next two, or (without CITUS_PORT)
# the first free triple from 58700 on, so that runs can go side by side.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
BASE=${CITUS_PORT:-58700}
for ((try = 0; ; try++)); do
	PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")
	busy=""
	for p in "${PORTS[@]}"; do port_in_use "$p" && busy=$p; done
	[ -z "$busy" ] && break
	if [ -n "${CITUS_PORT:-}" ] || [ "$try" -ge 20 ]; then
		echo "citus: port $busy is in use; set CITUS_PORT to another base port" >&2
		exit 1
	fi
	BASE=$((BASE + 3))
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-citus.XXXXXX")
chmod 755 "$WORK"
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK"
SOCK=$WORK/sock
as_server mkdir -p "$SOCK"

stop_cluster() {
	for i in 0 1 2; do
		[ -f "$WORK/n$i/postmaster.pid" ] && as_server "$BINDIR/pg_ctl" -D "$WORK/n$i" -m fast -w stop >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
if [ -z "${CITUS_KEEP:-}" ]; then
	trap stop_cluster EXIT
else
	trap 'echo "citus: cluster kept: PGHOST=$SOCK, ports ${PORTS[*]}, data in $WORK"' EXIT
fi

for i in 0 1 2; do
	as_server "$BINDIR/initdb" -D "$WORK/n$i" -U postgres --auth=trust >/dev/null
	cat >>"$WORK/n$i/postgresql.conf" <<CONF
port = ${PORTS[$i]}
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'citus'
wal_level = logical
max_prepared_transactions = 100
max_connections = 200
fsync = off
synchronous_commit = off
jit = off
shared_buffers = 256MB
CONF
	as_server "$BINDIR/pg_ctl" -D "$WORK/n$i" -l "$WORK/n$i.log" -w start >/dev/null
done

export PGHOST=$SOCK PGUSER=postgres PGDATABASE=postgres
export PSQL_BIN=$BINDIR/psql
export COORD=${PORTS[0]} WORKER1=${PORTS[1]} WORKER2=${PORTS[2]}
for p in "${PORTS[@]}"; do
	"$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 -p "$p" -c "CREATE EXTENSION citus" >/dev/null
done
"$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 -p "$COORD" >/dev/null <<SQL
SELECT citus_set_coordinator_host('127.0.0.1', $COORD);
SELECT citus_add_node('127.0.0.1', $WORKER1);
SQL
echo "# Citus $("$PSQL_BIN" -X -At -p "$COORD" -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'")," \
	"$("$PSQL_BIN" -X -At -p "$COORD" -c "SELECT split_part(version(), ' on ', 1)"):" \
	"coordinator :$COORD, worker :$WORKER1 (worker :$WORKER2 is added by the run)"

if [ "$mode" = bench ]; then
	"$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 -p "$COORD" -c "SELECT citus_add_node('127.0.0.1', $WORKER2)" >/dev/null
	bash test/citus/bench.sh
else
	bash test/citus/run.sh
fi
