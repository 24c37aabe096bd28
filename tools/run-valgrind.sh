#!/bin/bash
# Runs the pg_regress suites against a private server whose backends run
# under valgrind memcheck, then reports every valgrind error whose stack
# passes through pipeline.so.  Exits non-zero when there is one.
#
#   tools/run-valgrind.sh [test ...]       (default: every test/sql suite)
#
# PG_CONFIG picks the server; the extension must already be installed into
# it (make PG_CONFIG=... install).  Best with a server built with
# --enable-cassert and -DUSE_VALGRIND (then palloc'd chunks are tracked
# exactly); with a stock build valgrind sees only whole malloc blocks.
# VALGRIND_SUPP names PostgreSQL's src/tools/valgrind.supp when available;
# test/stress/valgrind.supp (a minimal subset) is used besides.
# Scratch files go under VG_DIR (default /tmp/pipeline-valgrind.$$).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
BINDIR=$("$PG_CONFIG" --bindir)
VG_DIR=${VG_DIR:-/tmp/pipeline-valgrind.$$}
PORT=${VG_PORT:-54329}
RUN_AS=()
[ "$(id -u)" -eq 0 ] && RUN_AS=(runuser -u postgres --)

if [ $# -gt 0 ]; then
	TESTS="$*"
else
	TESTS=$(ls test/sql/*.sql | xargs -n1 basename | sed 's/\.sql$//' | tr '\n' ' ')
fi

rm -rf "$VG_DIR"
mkdir -p "$VG_DIR/logs"
[ "$(id -u)" -eq 0 ] && chown -R postgres "$VG_DIR"
"${RUN_AS[@]}" "$BINDIR/initdb" -D "$VG_DIR/data" -A trust -U postgres >/dev/null

SUPP=(--suppressions="$PWD/test/stress/valgrind.supp")
[ -n "${VALGRIND_SUPP:-}" ] && SUPP+=(--suppressions="$VALGRIND_SUPP")

echo "valgrind: starting $("$BINDIR/postgres" --version) under memcheck (logs in $VG_DIR/logs)"
"${RUN_AS[@]}" valgrind --quiet --tool=memcheck --trace-children=yes --track-origins=yes \
	--read-var-info=no --leak-check=no --num-callers=30 --error-limit=no \
	"${SUPP[@]}" --log-file="$VG_DIR/logs/%p.log" \
	"$BINDIR/postgres" -D "$VG_DIR/data" -p "$PORT" -k "$VG_DIR" \
	-c max_parallel_workers_per_gather=2 -c log_min_messages=warning \
	>"$VG_DIR/server.log" 2>&1 &
for _ in $(seq 1 120); do
	"$BINDIR/pg_isready" -q -h "$VG_DIR" -p "$PORT" && break
	sleep 1
done
if ! "$BINDIR/pg_isready" -q -h "$VG_DIR" -p "$PORT"; then
	echo "valgrind: the server did not start" >&2
	cat "$VG_DIR/server.log" "$VG_DIR"/logs/*.log >&2
	exit 2
fi

status=0
PGHOST="$VG_DIR" PGPORT=$PORT PGUSER=postgres \
	$MAKE -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS="$TESTS" ISOLATION= || status=$?
"${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$VG_DIR/data" -m fast -w stop >/dev/null || true

# Every error record: from "==PID== <what>" to the blank "==PID== " line.
errors=$(cat "$VG_DIR"/logs/*.log | awk '
	/^==[0-9]+== [A-Z]/ && !/ERROR SUMMARY|HEAP SUMMARY|LEAK SUMMARY|For lists|For counts|Memcheck|Copyright|Using Valgrind|Command:|Parent PID/ { rec = $0; inrec = 1; next }
	inrec && /^==[0-9]+== *$/ { print rec; print "----"; inrec = 0; next }
	inrec { rec = rec "\n" $0 }')
total=$(printf '%s\n' "$errors" | grep -c '^----$' || true)
ours=$(printf '%s\n' "$errors" | awk 'BEGIN { RS = "----\n" } /pipeline\.so/ { n++ } END { print n + 0 }')
crashes=$(grep -c "terminated by signal" "$VG_DIR/server.log" || true)
echo "valgrind: suites: $TESTS"
echo "valgrind: backend logs: $(ls "$VG_DIR"/logs | wc -l); valgrind errors: $total; through pipeline.so: $ours; crashed backends: $crashes"
if [ "$ours" -gt 0 ]; then
	printf '%s\n' "$errors" | awk 'BEGIN { RS = "----\n" } /pipeline\.so/ { print; print "----" }' | head -n 200
	status=1
fi
[ "$crashes" -eq 0 ] || status=1
exit $status
