#!/bin/bash
# Load and faults (make stress; a short version, ~45 s, fits make test:
# LOAD_SECONDS=8 LOAD_CLIENTS=4 LOAD_TPS_SECONDS=2 LOAD_CRASH_SECONDS=6).
# Starts its own throwaway cluster from PG_CONFIG's binaries (loopback only:
# listen_addresses=127.0.0.1, trust for local connections), creates the
# extension (already installed, e.g. by tools/run-stress.sh) and drives it
# with pgbench:
#   1. TPS of the same workload with and without the pipeline triggers;
#   2. LOAD_CLIENTS clients making legal and illegal transitions on
#      LOAD_ROWS shared rows for LOAD_SECONDS, ~10% of them rolled back by
#      the client, every commit acknowledged to the client logged client-side
#      (pgbench \shell after COMMIT);
#   3. the same with a backend killed with SIGKILL mid-load (the postmaster
#      restarts every session and runs crash recovery);
#   4. the same with pg_ctl stop -m immediate mid-load, then start.
# After each phase, for every row: the history is an unbroken chain (first
# from_stage NULL, each from_stage = the previous to_stage) ending at the
# current stage; every move in it is legal (pipeline.can_transition); every
# history row matches a ledger row written in the same transaction; every
# acknowledged commit is there (nothing committed lost); no rolled-back one
# is (nothing uncommitted appears); unacknowledged commits are bounded by the
# number of sessions cut off.  Prints figures; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_LOAD=${LOAD_SECONDS:-60}
CLIENTS=${LOAD_CLIENTS:-8}
ROWS=${LOAD_ROWS:-64}
TPS_SECONDS=${LOAD_TPS_SECONDS:-$(( SECONDS_LOAD / 6 > 5 ? SECONDS_LOAD / 6 : 5 ))}
CRASH_SECONDS=${LOAD_CRASH_SECONDS:-$(( SECONDS_LOAD / 3 > 8 ? SECONDS_LOAD / 3 : 8 ))}
PG_CONFIG=${PG_CONFIG:-pg_config}
BIN=$("$PG_CONFIG" --bindir)
PORT=${LOAD_PORT:-$(( 20000 + $$ % 20000 ))}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-load.XXXXXX")
chmod 755 "$WORK"
DATA=$WORK/data
if [ "$(id -u)" -eq 0 ]; then AS_PG="runuser -u postgres --"; else AS_PG=""; fi
pass=0
fail=0
ok() { echo "ok    - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL  - $1"; fail=$((fail + 1)); }

export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=load
unset PGPASSWORD PGSERVICE PGSYSCONFDIR 2>/dev/null || true
q() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
qa() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

pg() { $AS_PG "$BIN/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w "$@" >/dev/null; }
stop_cluster() { [ -f "$DATA/postmaster.pid" ] && pg stop -m fast || true; }
trap 'stop_cluster; rm -rf "$WORK"' EXIT

[ -n "$AS_PG" ] && chown postgres "$WORK"
$AS_PG "$BIN/initdb" -D "$DATA" -U postgres -A trust --no-sync >/dev/null
cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
max_connections = $(( CLIENTS * 2 + 20 ))
restart_after_crash = on
log_min_messages = warning
CONF
pg start
echo "# cluster: PostgreSQL $(qa -d postgres -c 'SHOW server_version'), port $PORT (127.0.0.1 only), fsync $(qa -d postgres -c 'SHOW fsync'), synchronous_commit $(qa -d postgres -c 'SHOW synchronous_commit')"
echo "# bounds: $CLIENTS clients, $ROWS shared rows, load ${SECONDS_LOAD}s, TPS runs ${TPS_SECONDS}s each, crash phases ${CRASH_SECONDS}s each"

q -d postgres -c "CREATE DATABASE load"
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pipeline;
-- lenient plus recycling won rows, so that rows keep moving for the whole run
SELECT pipeline.copy_ruleset('pipeline.stage', 'lenient', 'load');
SELECT pipeline.allow_transition('pipeline.stage', 'load', 'follow_up', 'lead_generation');
CREATE SCHEMA load;
CREATE TABLE load.deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric NOT NULL DEFAULT 1);
CREATE TABLE load.plain (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric NOT NULL DEFAULT 1);
SELECT pipeline.attach('load.deals', ruleset => 'load');
-- one row per committed transition, written in the transaction that made it
CREATE TABLE load.ledger (token bigint PRIMARY KEY, client int NOT NULL, id int NOT NULL,
                          from_stage pipeline.stage NOT NULL, to_stage pipeline.stage NOT NULL, seq bigint NOT NULL);
CREATE TABLE load.stats (outcome text PRIMARY KEY, n bigint NOT NULL DEFAULT 0);

-- One attempt: half the time a legal next stage, half the time any stage
-- (mostly illegal); a refused move is caught (23514) and counted.
CREATE FUNCTION load.try_move(p_client int, p_token bigint, p_id int, p_pick int, p_legal int)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	cur pipeline.stage;
	nxt pipeline.stage[];
	target pipeline.stage;
	s bigint;
BEGIN
	SELECT d.stage INTO cur FROM load.deals d WHERE d.id = p_id FOR UPDATE;
	nxt := pipeline.next_stages(cur, 'load');
	IF p_legal = 1 AND cardinality(nxt) > 0 THEN
		target := nxt[1 + p_pick % cardinality(nxt)];
	ELSE
		target := (enum_range(NULL::pipeline.stage))[1 + p_pick % 9];
	END IF;
	IF target = cur THEN
		RETURN 'same';
	END IF;
	BEGIN
		UPDATE load.deals SET stage = target WHERE id = p_id;
	EXCEPTION WHEN check_violation THEN
		RETURN 'refused';
	END;
	SELECT max(h.seq) INTO s FROM load.deals_stage_history h WHERE h.id = p_id;
	INSERT INTO load.ledger VALUES (p_token, p_client, p_id, cur, target, s);
	RETURN 'moved';
END
$$;

-- The TPS workload: one random update of a row, refused moves caught; the
-- same on a table with and without the pipeline.
CREATE FUNCTION load.tps_move(p_table regclass, p_id int, p_pick int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		EXECUTE format('UPDATE %s SET stage = $1 WHERE id = $2', p_table)
		  USING (enum_range(NULL::pipeline.stage))[1 + p_pick % 9], p_id;
	EXCEPTION WHEN check_violation THEN
		RETURN 'refused';
	END;
	RETURN 'moved';
END
$$;
SQL
q -c "INSERT INTO load.deals (id, stage) SELECT g, 'lead_generation' FROM generate_series(1, $ROWS) g"
q -c "INSERT INTO load.plain (id, stage) SELECT g, 'lead_generation' FROM generate_series(1, $ROWS) g"

# ---------------------------------------------------------------------------
# pgbench scripts
# ---------------------------------------------------------------------------
mkdir -p "$WORK/acked" "$WORK/rolledback"
cat > "$WORK/commit.sql" <<PGB
\set id random(1, $ROWS)
\set pick random(0, 1000000)
\set legal random(0, 1)
\set token random(1, 9000000000000000000)
BEGIN;
SELECT load.try_move(:client_id, :token, :id, :pick, :legal) AS outcome \gset
COMMIT;
\shell echo :token :outcome >> $WORK/acked/:client_id
PGB
cat > "$WORK/rollback.sql" <<PGB
\set id random(1, $ROWS)
\set pick random(0, 1000000)
\set token random(1, 9000000000000000000)
BEGIN;
SELECT load.try_move(:client_id, :token, :id, :pick, 1) AS outcome \gset
ROLLBACK;
\shell echo :token :outcome >> $WORK/rolledback/:client_id
PGB
for t in deals plain; do
	cat > "$WORK/tps_$t.sql" <<PGB
\set id random(1, $ROWS)
\set pick random(0, 1000000)
SELECT load.tps_move('load.$t', :id, :pick);
PGB
done

# run_load SECONDS: the verified workload; returns pgbench's status
run_load() {
	"$BIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$1" -f "$WORK/commit.sql@9" -f "$WORK/rollback.sql@1" \
		> "$WORK/pgbench.out" 2>&1
}

# verify LABEL ALLOWED_IN_DOUBT: every check after a phase
verify() {
	local label=$1 in_doubt_max=$2
	cat "$WORK"/acked/* 2>/dev/null | sort -u > "$WORK/acked.txt" || true
	cat "$WORK"/rolledback/* 2>/dev/null | sort -u > "$WORK/rolledback.txt" || true
	q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS load_acked, load_rolledback;
		CREATE TABLE load_acked (token bigint, outcome text); CREATE TABLE load_rolledback (token bigint, outcome text)"
	q -c "\\copy load_acked FROM '$WORK/acked.txt' (DELIMITER ' ')"
	q -c "\\copy load_rolledback FROM '$WORK/rolledback.txt' (DELIMITER ' ')"
	local r
	r=$(qa <<'SQL'
WITH h AS (
	SELECT h.*, lag(h.to_stage) OVER w AS prev_to, row_number() OVER w AS n,
	       count(*) OVER (PARTITION BY h.id) AS total
	  FROM load.deals_stage_history h WINDOW w AS (PARTITION BY h.id ORDER BY h.seq)
)
SELECT (SELECT count(*) FROM load.deals) AS rows_checked,
       (SELECT count(*) FROM h) AS history_rows,
       -- chain: first from NULL, each from = previous to
       (SELECT count(*) FROM h WHERE (n = 1 AND from_stage IS NOT NULL)
                                   OR (n > 1 AND from_stage IS DISTINCT FROM prev_to)) AS broken_links,
       -- ends at the current stage
       (SELECT count(*) FROM load.deals d
         WHERE d.stage IS DISTINCT FROM (SELECT h.to_stage FROM h WHERE h.id = d.id AND h.n = h.total)) AS wrong_ends,
       -- only legal moves
       (SELECT count(*) FROM h WHERE NOT pipeline.can_transition(from_stage, to_stage, 'load')) AS illegal_moves,
       -- history rows (transitions) <-> ledger rows of the same transaction
       (SELECT count(*) FROM h WHERE from_stage IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM load.ledger l WHERE l.seq = h.seq AND l.id = h.id
                            AND l.from_stage = h.from_stage AND l.to_stage = h.to_stage)) AS history_without_ledger,
       (SELECT count(*) FROM load.ledger l
         WHERE NOT EXISTS (SELECT 1 FROM h WHERE h.seq = l.seq AND h.id = l.id)) AS ledger_without_history,
       -- client-side view
       (SELECT count(*) FROM load_acked) AS acked,
       -- acknowledged moves missing: committed work lost
       (SELECT count(*) FROM load_acked a WHERE a.outcome = 'moved'
           AND NOT EXISTS (SELECT 1 FROM load.ledger l WHERE l.token = a.token)) AS acked_moves_lost,
       -- moves the client rolled back that appear anyway
       (SELECT count(*) FROM load_rolledback r WHERE EXISTS (SELECT 1 FROM load.ledger l WHERE l.token = r.token)) AS rolled_back_present,
       (SELECT count(*) FROM load.ledger l WHERE NOT EXISTS (SELECT 1 FROM load_acked a WHERE a.token = l.token)) AS committed_not_acked,
       (SELECT count(*) FROM load.ledger) AS ledger_rows
SQL
)
	IFS='|' read -r rows hist broken wrong_end illegal hist_no_ledger ledger_no_hist acked acked_lost rb_present not_acked ledger <<< "$r"
	local acked_moves refused rb_moves
	acked_moves=$(grep -c ' moved$' "$WORK/acked.txt" || true)
	refused=$(grep -c ' refused$' "$WORK/acked.txt" || true)
	rb_moves=$(grep -c ' moved$' "$WORK/rolledback.txt" || true)
	echo "# $label: rows checked $rows, history rows $hist; client-acknowledged commits $acked ($acked_moves moves, $refused illegal moves refused), moves rolled back by the client $rb_moves; committed moves on the server $ledger, of which committed but unacknowledged $not_acked"
	[ "$acked_lost" -eq 0 ] && ok "$label: every acknowledged move is committed ($acked_moves of $acked_moves)" \
		|| bad "$label: $acked_lost acknowledged moves lost"
	[ "$broken" -eq 0 ] && ok "$label: every history is an unbroken chain" || bad "$label: $broken broken links"
	[ "$wrong_end" -eq 0 ] && ok "$label: every history ends at the row's current stage" || bad "$label: $wrong_end histories end elsewhere"
	[ "$illegal" -eq 0 ] && ok "$label: only legal moves in history" || bad "$label: $illegal illegal moves in history"
	[ "$hist_no_ledger" -eq 0 ] && [ "$ledger_no_hist" -eq 0 ] && ok "$label: history and committed moves match one to one" \
		|| bad "$label: $hist_no_ledger history rows without a committed move, $ledger_no_hist moves without history"
	[ "$rb_present" -eq 0 ] && ok "$label: no rolled-back move appears ($rb_moves rolled back)" \
		|| bad "$label: $rb_present rolled-back moves appear"
	[ "$not_acked" -le "$in_doubt_max" ] && ok "$label: committed-but-unacknowledged moves $not_acked <= $in_doubt_max sessions cut off" \
		|| bad "$label: $not_acked committed moves were never acknowledged (max $in_doubt_max)"
	echo "$ledger" > "$WORK/ledger_count"
}

# ---------------------------------------------------------------------------
echo "# 1. TPS with and without the pipeline (${TPS_SECONDS}s each, $CLIENTS clients, one random update of $ROWS shared rows per transaction, refused moves caught)"
# tps TABLE [PGOPTIONS]: pgbench's tps for the update workload on TABLE
tps() {
	PGOPTIONS=${2:-} "$BIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$TPS_SECONDS" -f "$WORK/tps_$1.sql" 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
tps_plain=$(tps plain)
tps_deals=$(tps deals)
echo "# TPS without the pipeline (same table, no triggers): $tps_plain"
echo "# TPS with the pipeline (enforce + history):          $tps_deals   (ratio $(ratio "$tps_deals" "$tps_plain"))"
tps_plain_async=$(tps plain "-c synchronous_commit=off")
tps_deals_async=$(tps deals "-c synchronous_commit=off")
echo "# with synchronous_commit=off (CPU-bound): without $tps_plain_async, with $tps_deals_async   (ratio $(ratio "$tps_deals_async" "$tps_plain_async"))"
[ -n "$tps_plain" ] && [ -n "$tps_deals" ] && ok "TPS measured" || bad "TPS not measured"
# start the verified phases from one creation row per row (TRUNCATE: a
# DELETE would be history too)
q -c "TRUNCATE load.deals, load.deals_stage_history, load.ledger; INSERT INTO load.deals (id, stage) SELECT g, 'lead_generation' FROM generate_series(1, $ROWS) g"

# ---------------------------------------------------------------------------
echo "# 2. ${SECONDS_LOAD}s of legal and illegal transitions, $CLIENTS clients on $ROWS rows"
if run_load "$SECONDS_LOAD"; then ok "load ran without a client error"; else bad "load: pgbench failed"; tail -n 5 "$WORK/pgbench.out"; fi
echo "# pgbench: $(grep -E '^number of transactions actually processed' "$WORK/pgbench.out" | sed 's/^number of //'), $(grep -E '^tps' "$WORK/pgbench.out")"
verify "load" 0

# ---------------------------------------------------------------------------
wait_up() {
	local i
	for i in $(seq 1 300); do
		qa -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
faults=0
echo "# 3. kill -9 of a backend after $(( CRASH_SECONDS / 2 ))s of a ${CRASH_SECONDS}s load"
run_load "$CRASH_SECONDS" & bench=$!
sleep $(( CRASH_SECONDS / 2 ))
victim=$(qa -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND backend_type = 'client backend' ORDER BY random() LIMIT 1")
kill -9 "$victim"
wait "$bench" || true
if wait_up; then
	ok "server restarted after SIGKILL of backend $victim ($(grep -c 'terminated by signal 9' "$WORK/server.log") 'terminated by signal 9' in the log)"
	faults=$((faults + 1))
else
	bad "server did not come back after SIGKILL"
fi
grep -q "all server processes terminated; reinitializing" "$WORK/server.log" && ok "crash recovery ran (all sessions reset)" || bad "no crash recovery in the log"
verify "kill -9" "$CLIENTS"

echo "# 4. pg_ctl stop -m immediate after $(( CRASH_SECONDS / 2 ))s of a ${CRASH_SECONDS}s load, then start"
run_load "$CRASH_SECONDS" & bench=$!
sleep $(( CRASH_SECONDS / 2 ))
pg stop -m immediate
wait "$bench" || true
pg start
if wait_up; then ok "server started after an immediate stop"; faults=$((faults + 1)); else bad "server did not start"; fi
verify "immediate stop" "$(( 2 * CLIENTS ))"

# ---------------------------------------------------------------------------
echo "# figures: faults survived $faults; over all phases: committed moves $(cat "$WORK/ledger_count"), client-acknowledged commits $(wc -l < "$WORK/acked.txt"), client rollbacks $(wc -l < "$WORK/rolledback.txt")"
grep -q "terminated by signal" "$WORK/server.log" && echo "# server log: $(grep -c 'terminated by signal' "$WORK/server.log") backend(s) terminated by signal (the SIGKILL above)"
if grep -E "PANIC|TRAP:|terminated by signal (6|11)" "$WORK/server.log"; then bad "server log shows a crash of our own"; else ok "no PANIC, assertion or segfault in the server log"; fi

echo "load: ${SECONDS}s in all; $pass passed, $fail failed"
[ "$fail" -eq 0 ]
