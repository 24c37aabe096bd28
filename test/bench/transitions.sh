#!/bin/bash
# Benchmark of enforced stage transitions (issue 3), run by `make bench`
# (BENCH=transitions) inside a throwaway cluster.  Prints ratios between
# variants measured in this same run, interleaved round by round (medians
# of ROUNDS rounds); nothing here is asserted by `make test`.
#
# Tables: (id int primary key, stage pipeline.stage not null, amount numeric)
#   none      no trigger
#   noop      a do-nothing C BEFORE ROW trigger (test/bench/noop_trigger.c,
#             compiled here and loaded from a temporary directory)
#   enforce   pipeline.attach(..., track_history => false)
#   plpgsql   PL/pgSQL BEFORE UPDATE trigger checking a rules table
#   hist      pipeline.attach(...) (enforcement + history)
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
	FOREACH v IN ARRAY ARRAY['none', 'noop', 'enforce', 'plpgsql', 'hist', 'plhist'] LOOP
		EXECUTE format('CREATE TABLE bulk_%s (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric)', v);
		EXECUTE format('CREATE TABLE single_%s (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric)', v);
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
	case $t in *hist) h="TRUNCATE ${t}_stage_history;" ;; esac
	$PSQL <<SQL
SET session_replication_role = replica;
TRUNCATE $t; $h
INSERT INTO $t SELECT i, 'lead_generation', i FROM generate_series(1, $n) i;
RESET session_replication_role;
VACUUM (ANALYZE, FREEZE) $t;
CHECKPOINT;
SQL
}

# elapsed milliseconds of a psql script (read from stdin), measured by the
# server's clock inside the session
time_script() {
	{
		echo "SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset"
		cat
		echo "SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);"
	} | $PSQL | tail -n 1
}

bulk_run() {
	local t=$1
	time_script <<SQL
UPDATE $t SET stage = 'prospecting';
UPDATE $t SET stage = 'qualification';
UPDATE $t SET stage = 'initial_contact';
SQL
}

single_script="$work/single.sql"
for i in $(seq 1 "$SINGLE_ROWS"); do
	echo "UPDATE TABLE_NAME SET stage = 'prospecting' WHERE id = $i;"
done > "$single_script"

single_run() {
	local t=$1
	sed "s/TABLE_NAME/$t/" "$single_script" | time_script
}

declare -A results
bulk_variants=(none noop enforce plpgsql hist plhist)
single_variants=(none noop enforce plpgsql hist plhist)

echo "bulk: $BULK_ROWS rows x 3 single-statement stage steps; single-row: $SINGLE_ROWS statements; $ROUNDS rounds, interleaved"
for r in $(seq 1 "$ROUNDS"); do
	# rotate the order every round so no variant always runs first
	for k in $(seq 0 5); do
		v=${bulk_variants[$(( (k + r) % 6 ))]}
		reset_table "bulk_$v" "$BULK_ROWS"
		results[bulk_$v]+="$(bulk_run "bulk_$v") "
	done
	for k in $(seq 0 5); do
		v=${single_variants[$(( (k + r) % 6 ))]}
		reset_table "single_$v" "$SINGLE_ROWS"
		results[single_$v]+="$(single_run "single_$v") "
	done
	echo "round $r done"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A med
for key in "${!results[@]}"; do
	med[$key]=$(echo "${results[$key]}" | median)
done

echo
echo "median ms (all rounds):"
for v in "${bulk_variants[@]}"; do
	printf '  bulk   %-8s %10s   [%s]\n' "$v" "${med[bulk_$v]}" "${results[bulk_$v]% }"
done
for v in "${single_variants[@]}"; do
	printf '  single %-8s %10s   [%s]\n' "$v" "${med[single_$v]}" "${results[single_$v]% }"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
check() {	# name value op target
	local ok
	ok=$(awk -v v="$2" -v t="$4" -v op="$3" 'BEGIN { print ((op == "<=" && v <= t) || (op == ">=" && v >= t)) ? "met" : "MISSED" }')
	printf '  %-58s %7s  (target %s %s) %s\n' "$1" "$2" "$3" "$4" "$ok"
}
echo
echo "ratios (same run):"
check "bulk enforce / do-nothing C trigger" "$(ratio "${med[bulk_enforce]}" "${med[bulk_noop]}")" "<=" 1.05
check "bulk enforce / no trigger" "$(ratio "${med[bulk_enforce]}" "${med[bulk_none]}")" "<=" 1.25
check "bulk enforce / PL/pgSQL enforce" "$(ratio "${med[bulk_enforce]}" "${med[bulk_plpgsql]}")" "<=" 0.45
check "bulk enforce+history / PL/pgSQL enforce+history" "$(ratio "${med[bulk_hist]}" "${med[bulk_plhist]}")" "<=" 0.60
check "single-row rate with enforcement / rate without trigger" "$(ratio "${med[single_none]}" "${med[single_enforce]}")" ">=" 0.90
echo "  (for information)"
printf '  %-58s %7s\n' "bulk do-nothing C trigger / no trigger" "$(ratio "${med[bulk_noop]}" "${med[bulk_none]}")"
printf '  %-58s %7s\n' "bulk PL/pgSQL enforce / no trigger" "$(ratio "${med[bulk_plpgsql]}" "${med[bulk_none]}")"
printf '  %-58s %7s\n' "single-row rate, enforce / do-nothing C trigger" "$(ratio "${med[single_noop]}" "${med[single_enforce]}")"
printf '  %-58s %7s\n' "single-row time, enforce / PL/pgSQL enforce" "$(ratio "${med[single_enforce]}" "${med[single_plpgsql]}")"
printf '  %-58s %7s\n' "single-row time, enforce+history / PL/pgSQL enf.+history" "$(ratio "${med[single_hist]}" "${med[single_plhist]}")"

psql -X -q -d postgres -c "DROP DATABASE $DB"
