#!/bin/bash
# Benchmark of the history analytics (issue 14), run by `make bench`
# (BENCH=history_analytics) inside a throwaway cluster: over a history of
# HISTORY rows of KEYS keys (default 5,000,000 of 1,000,000), each of
#   <prefix>_stage_at(now())         vs DISTINCT ON the latest row per key + its furthest stage
#   <prefix>_funnel                  vs a GROUP BY of the furthest stage per key, cumulated per stage
#   <prefix>_stage_durations         vs lead() over each key's history, then avg and percentiles
#   furthest_stage GROUP BY key      vs max() GROUP BY key
# is run back to back with the plain SQL an expert writes for the same
# answer (checked equal first), ROUNDS times, order alternating; the
# median of the per-round ratios is printed with the target.  Serial, JIT
# off.  Nothing here is asserted by `make test`.
set -euo pipefail

HISTORY=${HISTORY:-5000000}
KEYS=${KEYS:-1000000}
ROUNDS=${ROUNDS:-3}
DB=pipeline_bench_history

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
PSQL="psql -X -q -v ON_ERROR_STOP=1 -At"
. "$(dirname "$0")/lib/timing.sh"

# KEYS deals with HISTORY/KEYS history rows each: a walk forward through
# the open stages, some won, some lost, a day or so apart (imported).
$PSQL <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pipeline;
CREATE TABLE deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric);
CREATE TABLE events (id int, to_stage pipeline.stage, changed_at timestamptz);
INSERT INTO events
SELECT k, s.stage, timestamptz '2025-01-01' + (k % 5000) * interval '1 hour' + n * interval '1 day 3 hours'
  FROM generate_series(1, $KEYS) k,
       LATERAL (SELECT n, CASE WHEN n < $HISTORY / $KEYS - 1 THEN (enum_range(NULL::pipeline.stage))[1 + n]
                               WHEN k % 3 = 0 THEN 'closed_lost'::pipeline.stage
                               ELSE (enum_range(NULL::pipeline.stage))[1 + n] END AS stage
                  FROM generate_series(0, $HISTORY / $KEYS - 1) n) s;
INSERT INTO deals SELECT DISTINCT ON (id) id, to_stage, id % 1000 FROM events ORDER BY id, changed_at DESC;
SELECT pipeline.attach('deals', ruleset => 'lenient', history_from => 'events');
DROP TABLE events;
VACUUM ANALYZE deals, deals_stage_history;
SQL

declare -A ours plain
ours[stage_at]="SELECT count(*), count(DISTINCT stage), count(furthest_stage) FROM deals_stage_at(now())"
plain[stage_at]="SELECT count(*), count(DISTINCT stage), count(furthest) FROM (
  SELECT l.id, l.to_stage AS stage, l.changed_at, f.furthest
    FROM (SELECT DISTINCT ON (h.id) h.id, h.to_stage, h.changed_at FROM deals_stage_history h
           WHERE h.changed_at < now() ORDER BY h.id, h.changed_at DESC, h.seq DESC) l
    JOIN (SELECT h.id, max(h.to_stage) FILTER (WHERE h.to_stage <> 'closed_lost') AS furthest
            FROM deals_stage_history h WHERE h.changed_at < now() GROUP BY h.id) f USING (id)
   WHERE l.to_stage IS NOT NULL) x"
ours[funnel]="SELECT string_agg(reached::text, ',' ORDER BY ordinal) FROM deals_funnel"
plain[funnel]="SELECT string_agg(n::text, ',' ORDER BY s) FROM (
  SELECT s.s, count(f.furthest) FILTER (WHERE f.furthest >= s.s) AS n
    FROM unnest(enum_range(NULL::pipeline.stage)) s(s)
    CROSS JOIN (SELECT h.id, max(h.to_stage) FILTER (WHERE h.to_stage <> 'closed_lost') AS furthest
                  FROM deals_stage_history h JOIN deals d ON d.id = h.id GROUP BY h.id) f
   WHERE s.s <> 'closed_lost' GROUP BY s.s) x"
ours[durations]="SELECT string_agg(concat_ws(':', stage, visits, round(avg_days::numeric, 6)), ',' ORDER BY ordinal) FROM deals_stage_durations"
plain[durations]="SELECT string_agg(concat_ws(':', to_stage, visits, round(avg_days::numeric, 6)), ',' ORDER BY to_stage) FROM (
  SELECT to_stage, count(*) AS visits, extract(epoch FROM avg(d)) / 86400 AS avg_days,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.9) WITHIN GROUP (ORDER BY d)
    FROM (SELECT h.to_stage, lead(h.changed_at) OVER (PARTITION BY h.id ORDER BY h.changed_at, h.seq) - h.changed_at AS d
            FROM deals_stage_history h) v
   WHERE d IS NOT NULL AND to_stage IS NOT NULL GROUP BY to_stage) x"
ours[furthest]="SELECT count(*), count(f) FROM (SELECT id, pipeline.furthest_stage(to_stage) AS f FROM deals_stage_history GROUP BY id) x"
plain[furthest]="SELECT count(*), count(f) FROM (SELECT id, max(to_stage) AS f FROM deals_stage_history GROUP BY id) x"
declare -A target=([stage_at]=1.0 [funnel]=0.6 [durations]=0.5 [furthest]=1.2)
SETTINGS="SET jit = off; SET max_parallel_workers_per_gather = 0; SET work_mem = '256MB';"

run() { echo "$SETTINGS $1;" | cpu_script; }
for m in stage_at funnel durations furthest; do
	a=$(echo "$SETTINGS ${ours[$m]};" | $PSQL | tail -n 1)
	b=$(echo "$SETTINGS ${plain[$m]};" | $PSQL | tail -n 1)
	[ "$a" = "$b" ] && echo "$m: same answer ($a)" || echo "$m: ANSWERS DIFFER: ours $a, plain SQL $b"
done
declare -A ratios
for r in $(seq 1 "$ROUNDS"); do
	for m in stage_at funnel durations furthest; do
		if [ $((r % 2)) -eq 1 ]; then o=$(run "${ours[$m]}"); p=$(run "${plain[$m]}"); else p=$(run "${plain[$m]}"); o=$(run "${ours[$m]}"); fi
		ratios[$m]+="$(awk -v a="$o" -v b="$p" 'BEGIN { printf "%.3f", a / b }') "
		echo "round $r $m: ours ${o} ms, plain SQL ${p} ms"
	done
done
echo
echo "ratios (same run, median of $ROUNDS paired rounds; $HISTORY history rows of $KEYS keys):"
for m in stage_at funnel durations furthest; do
	med=$(echo "${ratios[$m]}" | median)
	printf '  %-12s ours / plain SQL  %6s %-6s (target <= %s)   [%s]\n' "$m" "$med" \
		"$(awk -v v="$med" -v t="${target[$m]}" 'BEGIN { print (v <= t) ? "met" : "MISSED" }')" "${target[$m]}" "${ratios[$m]% }"
done

psql -X -q -d postgres -c "DROP DATABASE $DB"
