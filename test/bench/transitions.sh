#!/bin/bash
# Benchmark of enforced stage transitions (issue 3), run by `make bench`
# (BENCH=transitions) inside a throwaway cluster.  Prints ratios between
# variants measured in this same run, interleaved round by round (medians
# of ROUNDS rounds); nothing here is asserted by `make test`.
#
# Tables: (id int primary key, stage pipeline.stage not null, amount numeric,
#          entered_at timestamptz)
#   none      no trigger
#   noop      a do-nothing C BEFORE ROW trigger (test/bench/noop_trigger.c,
#             compiled here and loaded from a temporary directory)
#   enforce   pipeline.attach(..., track_history => false)
#   plpgsql   PL/pgSQL BEFORE UPDATE trigger checking a rules table
#   enforceat pipeline.attach(..., track_history => false, entered_at_column => 'entered_at')
#   hist      pipeline.attach(...) (enforcement + history)
#   histat    pipeline.attach(..., entered_at_column => 'entered_at')
#   plhist    PL/pgSQL enforcement + PL/pgSQL AFTER UPDATE history insert
#
# Bulk: BULK_ROWS rows, updated one stage at a time in single statements
# (lead_generation -> prospecting -> qualification -> initial_contact).
# Single-row: SINGLE_ROWS separate UPDATE statements, one row each.
set -euo pipefail
cd "$(dirname "$0")"

BULK_ROWS=${BULK_ROWS:-500000}
SINGLE_ROWS=${SINGLE_ROWS:-4000}
ROUNDS=${ROUNDS:-3}
PG_CONFIG=${PG_CONFIG:-pg_config}
DB=pipeline_bench

work=$(mktemp -d /tmp/pipeline-bench.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

# The do-nothing C trigger: built from source, loaded by absolute path.
$($PG_CONFIG --cc) $($PG_CONFIG --cflags_sl) -O2 -shared \
	-I"$($PG_CONFIG --includedir-server)" noop_trigger.c -o "$work/noop_trigger.so"
chmod 755 "$work/noop_trigger.so"

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
PSQL="psql -X -q -v ON_ERROR_STOP=1 -At"

$PSQL >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pipeline;
CREATE FUNCTION bench_noop_trigger() RETURNS trigger
	AS '$work/noop_trigger.so', 'bench_noop_trigger' LANGUAGE C;

-- the same rules as the strict ruleset, as a table for PL/pgSQL
CREATE TABLE rules (from_stage pipeline.stage, to_stage pipeline.stage, PRIMARY KEY (from_stage, to_stage));
INSERT INTO rules SELECT from_stage::pipeline.stage, to_stage::pipeline.stage
  FROM pipeline.transition_rules
 WHERE stage_type = 'pipeline.stage' AND ruleset = 'strict' AND from_stage IS NOT NULL;

CREATE FUNCTION plpgsql_enforce() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.stage IS DISTINCT FROM OLD.stage AND NOT EXISTS
		(SELECT 1 FROM rules WHERE from_stage = OLD.stage AND to_stage = NEW.stage) THEN
		RAISE EXCEPTION 'illegal stage transition from "%" to "%"', OLD.stage, NEW.stage
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
\$\$;

DO \$\$
DECLARE
	v text;
BEGIN
	FOREACH v IN ARRAY ARRAY['none', 'noop', 'enforce', 'enforceat', 'plpgsql', 'hist', 'histat', 'plhist'] LOOP
		EXECUTE format('CREATE TABLE bulk_%s (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric, entered_at timestamptz)', v);
		EXECUTE format('CREATE TABLE single_%s (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric, entered_at timestamptz)', v);
	END LOOP;
END
\$\$;

CREATE TRIGGER noop BEFORE UPDATE ON bulk_noop FOR EACH ROW EXECUTE FUNCTION bench_noop_trigger();
CREATE TRIGGER noop BEFORE UPDATE ON single_noop FOR EACH ROW EXECUTE FUNCTION bench_noop_trigger();
SELECT pipeline.attach('bulk_enforce', track_history => false);
SELECT pipeline.attach('single_enforce', track_history => false);
CREATE TRIGGER enforce BEFORE UPDATE ON bulk_plpgsql FOR EACH ROW EXECUTE FUNCTION plpgsql_enforce();
CREATE TRIGGER enforce BEFORE UPDATE ON single_plpgsql FOR EACH ROW EXECUTE FUNCTION plpgsql_enforce();
SELECT pipeline.attach('bulk_hist');
SELECT pipeline.attach('single_hist');
SELECT pipeline.attach('bulk_enforceat', track_history => false, entered_at_column => 'entered_at');
SELECT pipeline.attach('single_enforceat', track_history => false, entered_at_column => 'entered_at');
SELECT pipeline.attach('bulk_histat', entered_at_column => 'entered_at');
SELECT pipeline.attach('single_histat', entered_at_column => 'entered_at');

-- PL/pgSQL history: the same table shape, the same row
CREATE TABLE bulk_plhist_stage_history (LIKE bulk_hist_stage_history INCLUDING ALL);
CREATE TABLE single_plhist_stage_history (LIKE single_hist_stage_history INCLUDING ALL);
CREATE FUNCTION plpgsql_history_bulk() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	INSERT INTO bulk_plhist_stage_history (id, from_stage, to_stage, changed_at, changed_by)
	VALUES (NEW.id, OLD.stage, NEW.stage, clock_timestamp(), current_user);
	RETURN NULL;
END
\$\$;
CREATE FUNCTION plpgsql_history_single() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	INSERT INTO single_plhist_stage_history (id, from_stage, to_stage, changed_at, changed_by)
	VALUES (NEW.id, OLD.stage, NEW.stage, clock_timestamp(), current_user);
	RETURN NULL;
END
\$\$;
CREATE TRIGGER enforce BEFORE UPDATE ON bulk_plhist FOR EACH ROW EXECUTE FUNCTION plpgsql_enforce();
CREATE TRIGGER enforce BEFORE UPDATE ON single_plhist FOR EACH ROW EXECUTE FUNCTION plpgsql_enforce();
CREATE TRIGGER history AFTER UPDATE ON bulk_plhist FOR EACH ROW
	WHEN (OLD.stage IS DISTINCT FROM NEW.stage) EXECUTE FUNCTION plpgsql_history_bulk();
CREATE TRIGGER history AFTER UPDATE ON single_plhist FOR EACH ROW
	WHEN (OLD.stage IS DISTINCT FROM NEW.stage) EXECUTE FUNCTION plpgsql_history_single();
SQL

# reset TABLE ROWS: fresh rows at lead_generation, triggers off, vacuumed,
# history emptied, dirty buffers flushed outside the measurement
reset_table() {
	local t=$1 n=$2 h=""
	case $t in *hist|*histat) h="TRUNCATE ${t}_stage_history;" ;; esac
	$PSQL <<SQL
SET session_replication_role = replica;
TRUNCATE $t; $h
INSERT INTO $t SELECT i, 'lead_generation', i FROM generate_series(1, $n) i;
RESET session_replication_role;
VACUUM (ANALYZE, FREEZE) $t;
SQL
}

. lib/timing.sh	# (the script runs in test/bench)

single_script="$work/single.sql"
for i in $(seq 1 "$SINGLE_ROWS"); do
	echo "UPDATE TABLE_NAME SET stage = 'prospecting' WHERE id = $i;"
done > "$single_script"
CHUNKS=4
chunk=$(( (SINGLE_ROWS + CHUNKS - 1) / CHUNKS ))

declare -A results
variants=(none noop enforce enforceat plpgsql hist histat plhist)
nv=${#variants[@]}
steps=(prospecting qualification initial_contact)

# Interleaving is fine-grained because the machine may be shared: every
# stage step (bulk) and every chunk of single-row statements is run for all
# variants back to back, in an order rotated each time, and the parts
# are summed per variant.
echo "bulk: $BULK_ROWS rows x ${#steps[@]} single-statement stage steps; single-row: $SINGLE_ROWS statements; $ROUNDS rounds, interleaved per step/chunk"
for r in $(seq 1 "$ROUNDS"); do
	declare -A acc=()
	for v in "${variants[@]}"; do
		reset_table "bulk_$v" "$BULK_ROWS"
		reset_table "single_$v" "$SINGLE_ROWS"
		acc[bulk_$v]=0
		acc[single_$v]=0
	done
	$PSQL -c "CHECKPOINT"	# flush the resets' dirty buffers outside the measurements
	n=0
	for step in "${steps[@]}"; do
		for k in $(seq 0 $((nv - 1))); do
			v=${variants[$(( (k + r + n) % nv ))]}
			ms=$(echo "UPDATE bulk_$v SET stage = '$step';" | time_script)
			acc[bulk_$v]=$(awk -v a="${acc[bulk_$v]}" -v b="$ms" 'BEGIN { print a + b }')
		done
		n=$((n + 1))
	done
	for c in $(seq 0 $((CHUNKS - 1))); do
		for k in $(seq 0 $((nv - 1))); do
			v=${variants[$(( (k + r + c) % nv ))]}
			ms=$(sed -n "$((c * chunk + 1)),$(((c + 1) * chunk))p" "$single_script" | sed "s/TABLE_NAME/single_$v/" | time_script)
			acc[single_$v]=$(awk -v a="${acc[single_$v]}" -v b="$ms" 'BEGIN { print a + b }')
		done
	done
	for key in "${!acc[@]}"; do
		results[$key]+="${acc[$key]} "
	done
	echo "round $r done"
done

minimum() { tr ' ' '\n' | grep -v '^$' | sort -g | head -n 1; }
declare -A med best
for key in "${!results[@]}"; do
	med[$key]=$(echo "${results[$key]}" | median)
	best[$key]=$(echo "${results[$key]}" | minimum)
done

echo
echo "ms per variant: best and median of $ROUNDS rounds [all rounds]"
for kind in bulk single; do
	for v in "${variants[@]}"; do
		printf '  %-6s %-8s %10s %10s   [%s]\n' "$kind" "$v" "${best[${kind}_$v]}" "${med[${kind}_$v]}" "${results[${kind}_$v]% }"
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
verdict() { awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { print ((op == "<=" && v <= t) || (op == ">=" && v >= t)) ? "met" : "MISSED" }'; }
# check NAME NUM DEN OP TARGET [invert]: ratio NUM/DEN (or DEN/NUM for rates)
check() {
	local rb rm
	if [ "${6:-}" = invert ]; then
		rb=$(ratio "${best[$3]}" "${best[$2]}"); rm=$(ratio "${med[$3]}" "${med[$2]}")
	else
		rb=$(ratio "${best[$2]}" "${best[$3]}"); rm=$(ratio "${med[$2]}" "${med[$3]}")
	fi
	printf '  %-56s best %6s %-6s  median %6s %-6s  (target %s %s)\n' "$1" \
		"$rb" "$(verdict "$rb" "$4" "$5")" "$rm" "$(verdict "$rm" "$4" "$5")" "$4" "$5"
}
info() {
	printf '  %-56s best %6s         median %6s\n' "$1" "$(ratio "${best[$2]}" "${best[$3]}")" "$(ratio "${med[$2]}" "${med[$3]}")"
}
echo
echo "ratios (same run):"
check "bulk enforce / do-nothing C trigger" bulk_enforce bulk_noop "<=" 1.05
check "bulk enforce / no trigger" bulk_enforce bulk_none "<=" 1.25
check "bulk enforce / PL/pgSQL enforce" bulk_enforce bulk_plpgsql "<=" 0.45
check "bulk enforce+history / PL/pgSQL enforce+history" bulk_hist bulk_plhist "<=" 0.60
check "single-row rate with enforcement / rate without trigger" single_enforce single_none ">=" 0.90 invert
echo "  with an entered-at column:"
check "bulk enforce+history / PL/pgSQL enforce+history" bulk_histat bulk_plhist "<=" 0.60
check "single-row rate with enforcement / rate without trigger" single_enforceat single_none ">=" 0.90 invert
echo "  (for information)"
info "bulk do-nothing C trigger / no trigger (time)" bulk_noop bulk_none
info "bulk PL/pgSQL enforce / no trigger (time)" bulk_plpgsql bulk_none
info "single-row enforce / do-nothing C trigger (time)" single_enforce single_noop
info "single-row enforce / PL/pgSQL enforce (time)" single_enforce single_plpgsql
info "single-row enforce+history / PL/pgSQL enf.+history (time)" single_hist single_plhist

psql -X -q -d postgres -c "DROP DATABASE $DB"
