#!/bin/bash
# Distributed aggregates against plain SQL on the same distributed table,
# run by tools/run-citus-tests.sh --bench (`make bench-citus`) on the
# cluster it started (coordinator + 2 workers; PGHOST, COORD, PSQL_BIN).
# ROWS rows (default 2,000,000) in 8 shards; every aggregate, grouped by a
# column that is not the distribution column (so Citus runs the transition
# function on the workers through worker_partial_agg and combines and
# finalizes on the coordinator), is timed next to the plain SQL an expert
# writes for the same answer (checked equal first), REPS times, the order
# of the two reversed every other time.  The figure is the median of the
# per-repetition ratios aggregate / plain SQL, which the drift of this
# machine's speed does not move.  Target: <= 1.20.
set -euo pipefail
ROWS=${ROWS:-2000000}
REPS=${REPS:-7}
PSQL=("$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 -p "$COORD")
# PART=aggregates or PART=transitions runs one of the two parts.
PART=${PART:-all}
median() { sort -n | awk '{ r[NR] = $1 } END { if (NR == 0) print 0; else print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }

if [ "$PART" != transitions ]; then

"${PSQL[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
DROP TABLE IF EXISTS bench_dist;
DROP TYPE IF EXISTS bench_stage CASCADE;
CREATE TYPE bench_stage AS ENUM ('new', 'qualified', 'demo', 'proposal', 'signed', 'renewed', 'lost');
SELECT pipeline.define_stages('bench_stage', won => ARRAY['signed', 'renewed'], lost => ARRAY['lost'],
	probabilities => ARRAY[0.1, 0.25, 0.4, 0.7, 1, 1, 0]);
CREATE TABLE bench_dist (
	id bigint PRIMARY KEY, region integer NOT NULL, stage pipeline.stage, dstage bench_stage,
	converted boolean, amount numeric(12, 2), backlog numeric(12, 2), sales numeric(12, 2),
	booked_at timestamptz, fulfilled_at timestamptz);
SELECT create_distributed_table('bench_dist', 'id', shard_count => 8);
INSERT INTO bench_dist
SELECT i, i % 8,
	   (enum_range(NULL::pipeline.stage))[1 + (i * 7) % 9],
	   (enum_range(NULL::bench_stage))[1 + (i * 5) % 7],
	   i % 3 = 0,
	   round(((i * 7919) % 2000000 - 100000) / 100.0, 2),
	   round(((i * 31) % 500000) / 100.0, 2), round(((i * 17) % 500000) / 100.0, 2),
	   timestamptz '2024-01-01 00:00+00' + (i % 180) * interval '1 day' + (i % 86400) * interval '1 second',
	   CASE WHEN i % 3 = 0 THEN NULL
			ELSE timestamptz '2024-01-01 00:00+00' + (i % 180 + i % 61) * interval '1 day' END
  FROM generate_series(1::bigint, $ROWS) i;
VACUUM ANALYZE bench_dist;
SQL

P="tstzrange('2024-03-01 00:00+00', '2024-04-01 00:00+00', '[)')"
L="timestamptz '2024-03-01 00:00+00'"
U="timestamptz '2024-04-01 00:00+00'"
WON="('closed_won', 'follow_up')"
CLOSED="('closed_won', 'follow_up', 'closed_lost')"
DWON="('signed', 'renewed')"
DCLOSED="('signed', 'renewed', 'lost')"
WEIGHT="CASE stage WHEN 'lead_generation' THEN 0.05 WHEN 'prospecting' THEN 0.10 WHEN 'qualification' THEN 0.20
	WHEN 'initial_contact' THEN 0.30 WHEN 'proposal' THEN 0.60 WHEN 'negotiation' THEN 0.80 END"
DWEIGHT="CASE dstage WHEN 'new' THEN 0.1 WHEN 'qualified' THEN 0.25 WHEN 'demo' THEN 0.4 WHEN 'proposal' THEN 0.7 END"
declare -a NAMES AGGS PLAINS
add() { NAMES+=("$1"); AGGS+=("$2"); PLAINS+=("$3"); }
add "conversion_rate(converted)" "pipeline.conversion_rate(converted)" \
	"count(*) FILTER (WHERE converted)::float8 / nullif(count(converted), 0)"
add "conversion_rate(stage, target)" "pipeline.conversion_rate(stage, 'proposal')" \
	"count(*) FILTER (WHERE stage BETWEEN 'proposal' AND 'follow_up')::float8 / nullif(count(stage), 0)"
add "conversion_rate(stage, from, to)" "pipeline.conversion_rate(stage, 'qualification', 'closed_won')" \
	"count(*) FILTER (WHERE stage IN $WON)::float8 / nullif(count(*) FILTER (WHERE stage BETWEEN 'qualification' AND 'follow_up'), 0)"
add "win_rate(stage)" "pipeline.win_rate(stage)" \
	"count(*) FILTER (WHERE stage IN $WON)::float8 / nullif(count(*) FILTER (WHERE stage IN $CLOSED), 0)"
add "funnel(stage)" "pipeline.funnel(stage)" \
	"ARRAY[count(*) FILTER (WHERE stage BETWEEN 'lead_generation' AND 'follow_up'),
	       count(*) FILTER (WHERE stage BETWEEN 'prospecting' AND 'follow_up'),
	       count(*) FILTER (WHERE stage BETWEEN 'qualification' AND 'follow_up'),
	       count(*) FILTER (WHERE stage BETWEEN 'initial_contact' AND 'follow_up'),
	       count(*) FILTER (WHERE stage BETWEEN 'proposal' AND 'follow_up'),
	       count(*) FILTER (WHERE stage BETWEEN 'negotiation' AND 'follow_up'),
	       count(*) FILTER (WHERE stage BETWEEN 'closed_won' AND 'follow_up'),
	       count(*) FILTER (WHERE stage = 'follow_up')]"
# (max() of an enum is polymorphic, which Citus cannot push down: the
# plain SQL on a distributed table takes the max of the stage's position.)
add "furthest_stage(stage)" "pipeline.furthest_stage(stage)" \
	"(enum_range(NULL::pipeline.stage))[max(CASE stage WHEN 'lead_generation' THEN 1 WHEN 'prospecting' THEN 2
	    WHEN 'qualification' THEN 3 WHEN 'initial_contact' THEN 4 WHEN 'proposal' THEN 5 WHEN 'negotiation' THEN 6
	    WHEN 'closed_won' THEN 7 WHEN 'follow_up' THEN 8 END)]"
add "win_rate(stage, amount)" "pipeline.win_rate(stage, amount)" \
	"coalesce(sum(amount) FILTER (WHERE stage IN $WON), 0) / nullif(sum(amount) FILTER (WHERE stage IN $CLOSED), 0)"
add "weighted_pipeline(stage, amount)" "pipeline.weighted_pipeline(stage, amount)" \
	"coalesce(sum(amount * $WEIGHT), 0)"
add "win_rate(custom)" "pipeline.win_rate(dstage)" \
	"count(*) FILTER (WHERE dstage IN $DWON)::float8 / nullif(count(*) FILTER (WHERE dstage IN $DCLOSED), 0)"
add "funnel(custom)" "pipeline.funnel(dstage)" \
	"ARRAY[count(*) FILTER (WHERE dstage BETWEEN 'new' AND 'renewed'),
	       count(*) FILTER (WHERE dstage BETWEEN 'qualified' AND 'renewed'),
	       count(*) FILTER (WHERE dstage BETWEEN 'demo' AND 'renewed'),
	       count(*) FILTER (WHERE dstage BETWEEN 'proposal' AND 'renewed'),
	       count(*) FILTER (WHERE dstage BETWEEN 'signed' AND 'renewed'),
	       count(*) FILTER (WHERE dstage = 'renewed')]"
add "weighted_pipeline(custom, amount)" "pipeline.weighted_pipeline(dstage, amount)" \
	"coalesce(sum(amount * $DWEIGHT), 0)"
add "backlog_ratio(backlog, sales)" "pipeline.backlog_ratio(backlog, sales)" \
	"sum(backlog) / nullif(sum(sales), 0)"
add "backlog_amount" "pipeline.backlog_amount(amount, booked_at, fulfilled_at, $U)" \
	"coalesce(sum(amount) FILTER (WHERE booked_at < $U AND (fulfilled_at IS NULL OR fulfilled_at >= $U)), 0)"
add "backlog_ratio(period)" "pipeline.backlog_ratio(amount, booked_at, fulfilled_at, $P)" \
	"coalesce(sum(amount) FILTER (WHERE booked_at < $U AND (fulfilled_at IS NULL OR fulfilled_at >= $U)), 0)
	 / nullif(sum(amount) FILTER (WHERE fulfilled_at >= $L AND fulfilled_at < $U), 0)"
add "book_to_bill" "pipeline.book_to_bill(amount, booked_at, fulfilled_at, $P)" \
	"coalesce(sum(amount) FILTER (WHERE booked_at >= $L AND booked_at < $U), 0)
	 / nullif(sum(amount) FILTER (WHERE fulfilled_at >= $L AND fulfilled_at < $U), 0)"

agg_sql() { echo "SELECT region, ${AGGS[$1]} AS v FROM bench_dist GROUP BY region"; }
plain_sql() { echo "SELECT region, ${PLAINS[$1]} AS v FROM bench_dist GROUP BY region"; }

# The plain SQL gives the same answer, to the last digit (compared as text).
for ((i = 0; i < ${#NAMES[@]}; i++)); do
	same=$("${PSQL[@]}" -At -c "SELECT (SELECT array_agg(v::text ORDER BY region) FROM ($(agg_sql "$i")) a)
	                              = (SELECT array_agg(v::text ORDER BY region) FROM ($(plain_sql "$i")) p)")
	if [ "$same" != t ]; then
		echo "bench-citus: ${NAMES[$i]} and its plain SQL disagree" >&2
		exit 1
	fi
done

# REPS interleaved repetitions: "name kind ms" lines.
times=$({
	echo '\o /dev/null'
	for ((i = 0; i < ${#NAMES[@]}; i++)); do agg_sql "$i"; echo ";"; plain_sql "$i"; echo ";"; done
	echo '\timing on'
	for ((r = 0; r < REPS; r++)); do
		for ((i = 0; i < ${#NAMES[@]}; i++)); do
			if ((r % 2 == 0)); then order="agg plain"; else order="plain agg"; fi
			for k in $order; do
				echo "\\echo @$i $k"
				if [ "$k" = agg ]; then agg_sql "$i"; else plain_sql "$i"; fi
				echo ";"
			done
		done
	done
} | "${PSQL[@]}" | awk '/^@/ { key = substr($1, 2) " " $2; next } /^Time:/ && key != "" { print key, $2; key = "" }')

nodes=$("${PSQL[@]}" -At -c "SELECT count(*) FROM pg_dist_node WHERE groupid <> 0")
echo "distributed aggregates vs plain SQL on the same distributed table: $ROWS rows, 8 shards on $nodes workers,"
echo "GROUP BY a column that is not the distribution column; $REPS interleaved repetitions."
echo "ratio = median over the repetitions of aggregate time / plain-SQL time (target <= 1.20); ms = medians"
printf '%-36s %9s %9s %7s\n' aggregate agg_ms plain_ms ratio
worst=0
for ((i = 0; i < ${#NAMES[@]}; i++)); do
	a=$(echo "$times" | awk -v i="$i" '$1 == i && $2 == "agg" { print $3 }' | median)
	p=$(echo "$times" | awk -v i="$i" '$1 == i && $2 == "plain" { print $3 }' | median)
	m=$(echo "$times" | awk -v i="$i" '$1 == i && $2 == "agg" { ta[++na] = $3 } $1 == i && $2 == "plain" { tp[++np] = $3 }
		END { for (k = 1; k <= na && k <= np; k++) print ta[k] / tp[k] }' | median)
	awk -v n="${NAMES[$i]}" -v a="$a" -v p="$p" -v m="$m" \
		'BEGIN { printf "%-36s %9.1f %9.1f %7.2f %s\n", n, a, p, m, (m <= 1.20 ? "ok" : "MISSED") }'
	worst=$(awk -v w="$worst" -v m="$m" 'BEGIN { print (m > w) ? m : w }')
done
echo "bench-citus: worst ratio $worst (target <= 1.20)"
"${PSQL[@]}" -c "DROP TABLE bench_dist; DROP TYPE bench_stage CASCADE" >/dev/null 2>&1 || true
fi
[ "$PART" = aggregates ] && exit 0

# ---------------------------------------------------------------------------
# Transitions: the cost of enforcement and history on a distributed table,
# against the same distributed table without the pipeline.  The triggers run
# on the shards and write history into the colocated shard on the same
# node (no distributed plan per history row).  TROWS rows in 8 shards,
# lenient ruleset (rows move back and forth between two open stages);
# single-row UPDATEs issued one by one from the coordinator (SINGLE of them
# in a DO block), and one UPDATE moving MULTI rows.
# ---------------------------------------------------------------------------
TROWS=${TROWS:-200000}
SINGLE=${SINGLE:-2000}
MULTI=${MULTI:-100000}
TREPS=${TREPS:-5}
"${PSQL[@]}" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
DROP TABLE IF EXISTS bench_tp, bench_ta, bench_ta_stage_history CASCADE;
CREATE TABLE bench_tp (id bigint PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric(12, 2));
CREATE TABLE bench_ta (id bigint PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric(12, 2));
SELECT create_distributed_table('bench_tp', 'id', shard_count => 8);
SELECT create_distributed_table('bench_ta', 'id', shard_count => 8, colocate_with => 'none');
INSERT INTO bench_tp SELECT i, 'prospecting', i FROM generate_series(1, $TROWS) i;
INSERT INTO bench_ta SELECT i, 'prospecting', i FROM generate_series(1, $TROWS) i;
SELECT pipeline.attach('bench_ta', ruleset => 'lenient');
VACUUM ANALYZE bench_tp, bench_ta, bench_ta_stage_history;
SQL
FLIP="stage = CASE WHEN stage = 'prospecting' THEN 'qualification'::pipeline.stage ELSE 'prospecting' END"
single_sql() { echo "DO \$\$ BEGIN FOR i IN 1..$SINGLE LOOP UPDATE $1 SET $FLIP WHERE id = i; END LOOP; END \$\$"; }
multi_sql() { echo "UPDATE $1 SET $FLIP WHERE id <= $MULTI"; }
ttimes=$({
	echo '\o /dev/null'
	echo '\timing on'
	for ((r = 0; r < TREPS; r++)); do
		if ((r % 2 == 0)); then order="bench_tp bench_ta"; else order="bench_ta bench_tp"; fi
		for t in $order; do echo "\\echo @single $t"; single_sql "$t"; echo ";"; done
		for t in $order; do echo "\\echo @multi $t"; multi_sql "$t"; echo ";"; done
	done
} | "${PSQL[@]}" | awk '/^@/ { key = substr($1, 2) " " $2; next } /^Time:/ && key != "" { print key, $2; key = "" }')
hist=$("${PSQL[@]}" -At -c "SELECT count(*) FROM bench_ta_stage_history")
echo "transitions on a distributed table ($TROWS rows, 8 shards): with the pipeline (enforcement + history)"
echo "against the same table without it; $TREPS interleaved repetitions, ratio = median of the per-repetition ratios"
printf '%-44s %9s %9s %7s\n' workload with_ms without_ms ratio
for w in single multi; do
	a=$(echo "$ttimes" | awk -v w="$w" '$1 == w && $2 == "bench_ta" { print $3 }' | median)
	p=$(echo "$ttimes" | awk -v w="$w" '$1 == w && $2 == "bench_tp" { print $3 }' | median)
	m=$(echo "$ttimes" | awk -v w="$w" '$1 == w && $2 == "bench_ta" { ta[++na] = $3 } $1 == w && $2 == "bench_tp" { tp[++np] = $3 }
		END { for (k = 1; k <= na && k <= np; k++) print ta[k] / tp[k] }' | median)
	label=$([ "$w" = single ] && echo "$SINGLE single-row UPDATEs from the coordinator" || echo "one UPDATE moving $MULTI rows")
	awk -v n="$label" -v a="$a" -v p="$p" -v m="$m" 'BEGIN { printf "%-44s %9.1f %9.1f %7.2f\n", n, a, p, m }'
done
expect=$((TROWS + TREPS * (SINGLE + MULTI)))
echo "bench-citus: history rows $hist (expected $expect: one creation row per row, one per move)"
"${PSQL[@]}" -c "SELECT pipeline.detach('bench_ta'); DROP TABLE bench_tp, bench_ta, bench_ta_stage_history CASCADE" >/dev/null 2>&1 || true
