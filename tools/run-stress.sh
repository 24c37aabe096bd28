#!/bin/bash
# `make stress`: the long hardening runs that do not fit in `make test`,
# against a private throwaway server, each printing its bounds and figures:
#   1. fuzz    the state input functions (text and binary), STRESS_FUZZ_CASES
#              text cases (default 300000) and STRESS_FUZZ_BINARY binary ones
#              (default 20000): no internal error, every accepted state reads
#              back to itself, and of each kind some cases accepted and some
#              rejected.
#   2. sqlsmith against a database with the extension, a registered custom
#              stage type and attached plain and partitioned tables with
#              history, for STRESS_SQLSMITH_SECONDS (default 120): no backend
#              terminated by a signal.
#   3. memory  peak private memory (RssAnon of /proc/PID/status, sampled
#              every 20 ms) of one backend: the aggregates over 1M and 10M
#              rows, a HashAggregate over 1M groups of 1 and of 10 rows, and
#              a bulk UPDATE through the triggers with history of 100k and
#              of 900k rows, against the same UPDATE on a table with no-op
#              plpgsql BEFORE and AFTER ROW triggers (PostgreSQL itself keeps
#              memory per row for those: the after-trigger queue, and in
#              the executor for a BEFORE UPDATE row trigger).  STRESS_ROWS (default 10000000) scales the first two.
#   4. load    every test/stress/*.sh (load and faults: concurrent writers,
#              kill -9 and immediate shutdown mid-load), each starting its
#              own throwaway server and printing its own figures.
#   5. valgrind (only with STRESS_VALGRIND=1) tools/run-valgrind.sh.
# STRESS_ONLY="fuzz sqlsmith memory load" picks parts.  Exits non-zero when a
# bound is broken.  PG_CONFIG picks the server (its extension dir receives
# the build, as in `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

FUZZ_CASES=${STRESS_FUZZ_CASES:-300000}
FUZZ_BINARY=${STRESS_FUZZ_BINARY:-20000}
SMITH_SECONDS=${STRESS_SQLSMITH_SECONDS:-120}
ROWS=${STRESS_ROWS:-10000000}
ONLY=${STRESS_ONLY:-fuzz sqlsmith memory load}
PORT=${STRESS_PORT:-54331}
# growth allowed between the small and the large run of one workload
SLACK_KB=${STRESS_SLACK_KB:-16384}

# what the runs need besides the server: sqlsmith, bc
for tool in sqlsmith bc; do
	command -v "$tool" >/dev/null || $SUDO apt-get install -y -q "$tool" >/dev/null || true
done

build_and_install
BINDIR=$("$PG_CONFIG" --bindir)
DIR=$(mktemp -d /tmp/pipeline-stress.XXXXXX)
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
	RUN_AS=(runuser -u postgres --)
	chown postgres "$DIR"
fi
LOG=$DIR/server.log
PSQL=("$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres)

cleanup() {
	"${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
	[ -n "${KEEP_STRESS_DIR:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT

"${RUN_AS[@]}" "$BINDIR/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
"${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$DIR/data" -l "$LOG" -w \
	-o "-p $PORT -k $DIR -c log_line_prefix='%m [%p] %e ' -c log_error_verbosity=verbose -c shared_buffers=128MB -c max_parallel_workers_per_gather=2 -c fsync=off -c max_wal_size=4GB" \
	start >/dev/null
echo "stress: $("$BINDIR/postgres" --version), scratch $DIR"
status=0
crashed() { grep -c "terminated by signal" "$LOG" || true; }

# ---------------------------------------------------------------------------
if [[ " $ONLY " == *" fuzz "* ]]; then
	"${PSQL[@]}" -c "CREATE DATABASE fuzz"
	"${PSQL[@]}" -d fuzz -c "CREATE EXTENSION pipeline" >/dev/null
	"${PSQL[@]}" -d fuzz -f test/stress/fuzz_states.sql >/dev/null
	start=$(date +%s)
	out=$("${PSQL[@]}" -d fuzz -At -F ' ' -c "SELECT * FROM fuzz_states($FUZZ_CASES, $FUZZ_BINARY, 0.4711)" 2>"$DIR/fuzz.warnings") || status=1
	read -r cases accepted rejected internal roundtrip bcases baccepted brejected codes <<<"$out"
	echo "fuzz: text cases $cases: accepted $accepted, rejected $rejected;" \
		"binary cases $bcases: accepted $baccepted, rejected $brejected;" \
		"internal errors $internal; round-trip failures $roundtrip; $(( $(date +%s) - start ))s"
	echo "fuzz: rejections by SQLSTATE: $codes"
	if [ "${internal:-1}" != 0 ] || [ "${roundtrip:-1}" != 0 ]; then
		status=1
		head -n 50 "$DIR/fuzz.warnings"
	fi
	# a mutator that only ever produced garbage (or only valid states) would
	# pass the checks above without testing one of the two paths
	for n in "${accepted:-0}" "${rejected:-0}" "${baccepted:-0}" "${brejected:-0}"; do
		if [ "$n" = 0 ]; then
			echo "fuzz: all cases of one kind were accepted, or all rejected: only one path was tested"
			status=1
			break
		fi
	done
	echo "fuzz: crashed backends: $(crashed)"
fi

# ---------------------------------------------------------------------------
if [[ " $ONLY " == *" sqlsmith "* ]]; then
	if ! command -v sqlsmith >/dev/null; then
		echo "sqlsmith: not installed (apt-get install sqlsmith)" >&2
		status=1
	else
		"${PSQL[@]}" -c "CREATE DATABASE smith"
		"${PSQL[@]}" -d smith -f test/stress/sqlsmith_setup.sql >/dev/null
		before=$(crashed)
		deadline=$(( $(date +%s) + SMITH_SECONDS ))
		queries=0
		runs=0
		seed=1
		while [ "$(date +%s)" -lt "$deadline" ]; do
			left=$(( deadline - $(date +%s) ))
			runs=$((runs + 1))
			timeout --signal=INT --kill-after=5 "$left" sqlsmith --verbose --exclude-catalog --seed=$seed \
				--target="host=$DIR port=$PORT dbname=smith user=smith" \
				>"$DIR/smith.$seed.out" 2>"$DIR/smith.$seed.err" || true
			# one progress character per query: . ok, e error, C crash, t timeout, S syntax
			n=$(grep -a -v -e ':' -e '^Loading' -e '^Generating' -e '^SQLsmith' "$DIR/smith.$seed.err" | tr -cd '.eCtS' | wc -c)
			queries=$((queries + n))
			seed=$((seed + 1))
			# the server restarts after a crash; wait until it accepts again
			for _ in $(seq 1 30); do
				"$BINDIR/pg_isready" -q -h "$DIR" -p "$PORT" && break
				sleep 1
			done
		done
		crashes=$(( $(crashed) - before ))
		echo "sqlsmith: ${SMITH_SECONDS}s, $runs runs, $queries queries, backends terminated by a signal: $crashes"
		# internal errors (XX000) and the statements that raised them
		internal=$(grep -a -c ' XX000 ERROR:' "$LOG" || true)
		# ours: raised in one of our source files (LOCATION: function, file.c:line)
		srcs=$(cd src && ls *.c | paste -sd '|')
		ours=$(awk -v re=" ($srcs):[0-9]+$" '/ XX000 ERROR:/ { f = 1; next } f && /LOCATION:/ { f = 0; if ($0 ~ re) n++ } END { print n + 0 }' "$LOG")
		echo "sqlsmith: internal errors (XX000) in the server log: $internal, raised in pipeline's C code: $ours"
		grep -a -A2 ' XX000 ERROR:' "$LOG" | grep -a -v 'STATEMENT' | head -n 24
		[ "$ours" -eq 0 ] || status=1
		echo "sqlsmith: most frequent errors of the last run:"
		grep -a -E '^[0-9]+\s+ERROR:' "$DIR/smith.$((seed - 1)).err" | sort -rn | head -n 8 | sed 's/^/  /' || true
		if [ "$crashes" -ne 0 ]; then
			status=1
			grep -a -B2 -A8 "terminated by signal" "$LOG" | head -n 60
		fi
	fi
fi

# ---------------------------------------------------------------------------
# peak_rss LABEL SQL...: runs the SQL in a fresh session and prints the
# backend's peak RssAnon in kB, sampled every 20 ms.
peak_rss() {
	local label=$1 sql=$2 pidfile=$DIR/pid.$RANDOM pid="" peak=0 base="" v
	rm -f "$pidfile"
	{
		printf '\\pset tuples_only on\n\\pset format unaligned\n\\o %s\nSELECT pg_backend_pid();\n\\o\n' "$pidfile"
		printf '%s\n' "$sql"
	} | "${PSQL[@]}" -d mem >/dev/null &
	local client=$!
	while kill -0 "$client" 2>/dev/null; do
		if [ -z "$pid" ] && [ -s "$pidfile" ]; then
			pid=$(tr -dc '0-9' <"$pidfile")
		fi
		if [ -n "$pid" ]; then
			v=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
			if [ -n "$v" ]; then
				[ -z "$base" ] && base=$v
				[ "$v" -gt "$peak" ] && peak=$v
			fi
		fi
		sleep 0.02
	done
	wait "$client" || { echo "memory: $label failed" >&2; return 1; }
	echo "$peak"
}

# check_bound LABEL SMALL_KB LARGE_KB ROWS_ADDED: prints the figures and
# fails when the large run grew by more than SLACK_KB.
check_bound() {
	local label=$1 small=$2 large=$3 added=$4 verdict=ok
	if [ $((large - small)) -gt "$SLACK_KB" ]; then
		verdict="GROWS (more than ${SLACK_KB} kB)"
		status=1
	fi
	printf 'memory: %-58s %8d kB -> %8d kB, %+d kB, %.2f bytes/row: %s\n' "$label" "$small" "$large" \
		$((large - small)) "$(echo "($large - $small) * 1024 / $added" | bc -l)" "$verdict"
}

if [[ " $ONLY " == *" memory "* ]]; then
	small=$((ROWS / 10))
	"${PSQL[@]}" -c "CREATE DATABASE mem"
	"${PSQL[@]}" -d mem >/dev/null <<EOF
SET client_min_messages = warning;
CREATE EXTENSION pipeline;
CREATE UNLOGGED TABLE agg_rows AS
SELECT i AS id, i % $small AS grp,
	   (ARRAY['lead_generation', 'prospecting', 'qualification', 'initial_contact', 'proposal',
			  'negotiation', 'closed_won', 'follow_up', 'closed_lost'])[1 + i % 9]::pipeline.stage AS stage,
	   ((i::bigint * 7919) % 1000000) / 100.0 AS amount,
	   timestamptz '2025-01-01' + (i % 10000) * interval '1 hour' AS booked_at,
	   CASE WHEN i % 3 = 0 THEN timestamptz '2025-01-01' + (i % 10000 + 500) * interval '1 hour' END AS fulfilled_at
  FROM generate_series(1, $ROWS) AS i;
VACUUM ANALYZE agg_rows;
CREATE TABLE upd_tracked (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric);
INSERT INTO upd_tracked SELECT i, 'lead_generation', i FROM generate_series(1, 1000000) AS i;
SELECT pipeline.attach('upd_tracked');
CREATE TABLE upd_plain (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric);
INSERT INTO upd_plain SELECT i, 'lead_generation', i FROM generate_series(1, 1000000) AS i;
CREATE FUNCTION noop_trigger() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER noop_before BEFORE UPDATE ON upd_plain FOR EACH ROW EXECUTE FUNCTION noop_trigger();
CREATE TRIGGER noop_after AFTER UPDATE ON upd_plain FOR EACH ROW EXECUTE FUNCTION noop_trigger();
VACUUM ANALYZE upd_tracked, upd_plain;
EOF
	echo "memory: $ROWS rows; jit off, work_mem 64MB, hash_mem_multiplier 2, no parallel workers; peak RssAnon of the backend"
	aggs="pipeline.win_rate(stage), pipeline.funnel(stage), pipeline.furthest_stage(stage),
		pipeline.conversion_rate(stage, 'proposal'::pipeline.stage),
		pipeline.conversion_rate(stage, 'proposal'::pipeline.stage, 'closed_won'::pipeline.stage),
		pipeline.conversion_rate(amount > 100), pipeline.weighted_pipeline(stage, amount),
		pipeline.win_rate(stage, amount), pipeline.backlog_ratio(amount, amount + 1),
		pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2025-06-01'),
		pipeline.backlog_ratio(amount, booked_at, fulfilled_at, '[2025-01-01,2025-06-01)'),
		pipeline.book_to_bill(amount, booked_at, fulfilled_at, '[2025-01-01,2025-06-01)')"
	# jit off: LLVM's JIT takes 10-25 MB once per query above its cost
	# thresholds, which would show as a step between the two sizes
	set_plain="SET jit = off; SET max_parallel_workers_per_gather = 0; SET work_mem = '64MB'; SET hash_mem_multiplier = 2;"
	a=$(peak_rss "aggregates $small" "$set_plain SELECT $aggs FROM agg_rows WHERE id <= $small;")
	b=$(peak_rss "aggregates $ROWS" "$set_plain SELECT $aggs FROM agg_rows;")
	check_bound "12 aggregates, one group: $small vs $ROWS rows" "$a" "$b" $((ROWS - small))

	hash="$set_plain SET enable_sort = off;"
	"${PSQL[@]}" -d mem -At -c "$hash EXPLAIN (COSTS OFF) SELECT grp, pipeline.funnel(stage) FROM agg_rows GROUP BY grp" | head -n 1 | sed 's/^/memory: plan: /'
	a=$(peak_rss "hash 1 row per group" "$hash SELECT count(*) FROM (SELECT grp, $aggs FROM agg_rows WHERE id <= $small GROUP BY grp) AS g;")
	b=$(peak_rss "hash 10 rows per group" "$hash SELECT count(*) FROM (SELECT grp, $aggs FROM agg_rows GROUP BY grp) AS g;")
	check_bound "HashAggregate, $small groups: 1 vs 10 rows per group" "$a" "$b" $((ROWS - small))

	a=$(peak_rss "update tracked 100k" "SET jit = off; UPDATE upd_tracked SET stage = 'prospecting' WHERE id <= 100000;")
	b=$(peak_rss "update tracked 900k" "SET jit = off; UPDATE upd_tracked SET stage = 'prospecting' WHERE id > 100000;")
	c=$(peak_rss "update plain 100k" "SET jit = off; UPDATE upd_plain SET stage = 'prospecting' WHERE id <= 100000;")
	d=$(peak_rss "update plain 900k" "SET jit = off; UPDATE upd_plain SET stage = 'prospecting' WHERE id > 100000;")
	hist=$("${PSQL[@]}" -d mem -At -c "SELECT count(*) FROM upd_tracked_stage_history WHERE from_stage IS NOT NULL")
	printf 'memory: %-58s %8d kB -> %8d kB, %.2f bytes/row\n' "UPDATE, no-op BEFORE+AFTER ROW triggers: 100k vs 900k rows" "$c" "$d" \
		"$(echo "($d - $c) * 1024 / 800000" | bc -l)"
	printf 'memory: %-58s %8d kB -> %8d kB, %.2f bytes/row (%s history rows written)\n' \
		"UPDATE through pipeline triggers: 100k vs 900k rows" "$a" "$b" \
		"$(echo "($b - $a) * 1024 / 800000" | bc -l)" "$hist"
	# our triggers may add no per-row memory beyond what any row trigger costs
	if [ $(( (b - a) - (d - c) )) -gt "$SLACK_KB" ]; then
		echo "memory: the pipeline triggers grow memory per row beyond what PostgreSQL keeps per row for any row trigger"
		status=1
	else
		echo "memory: pipeline triggers add $(( (b - a) - (d - c) )) kB over no-op plpgsql row triggers for 800k more rows: ok"
	fi
	echo "memory: crashed backends: $(crashed)"
fi

# ---------------------------------------------------------------------------
if [[ " $ONLY " == *" load "* ]]; then
	for s in test/stress/*.sh; do
		[ -x "$s" ] || continue
		echo "== $s"
		PG_CONFIG="$PG_CONFIG" "$s" || status=1
	done
fi

# ---------------------------------------------------------------------------
if [ -n "${STRESS_VALGRIND:-}" ]; then
	tools/run-valgrind.sh || status=1
fi

[ "$(crashed)" -eq 0 ] || { echo "stress: the server log reports crashed backends" >&2; status=1; }
if [ $status -eq 0 ]; then echo "stress: all bounds held"; else echo "stress: FAILED" >&2; fi
exit $status
