#!/bin/bash
# Benchmark of importing an existing history at attach (issue 13), run by
# `make bench` (BENCH=history_import) inside a throwaway cluster.  Prints
# the ratio of pipeline.attach(..., history_from => events) -- which creates
# the history table, validates every event against the ruleset, the row's
# current stage, ties and unknown keys, and loads it -- to the baseline an
# expert would call the floor: INSERT ... SELECT of the same events into a
# plain table with the same primary key.  Rounds are paired (baseline and
# import back to back, order alternating); the median of the per-round
# ratios is the figure.  Nothing here is asserted by `make test`.
#
# Target: at most 3x for EVENTS events (default 1,000,000).
set -euo pipefail

EVENTS=${EVENTS:-1000000}
ROUNDS=${ROUNDS:-3}
DB=pipeline_bench_import
KEYS=$((EVENTS / 4))

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export PGDATABASE=$DB
PSQL="psql -X -q -v ON_ERROR_STOP=1 -At"

# KEYS deals, each created in lead_generation and moved three times
# (prospecting, qualification, initial_contact), a day apart.
$PSQL <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pipeline;
CREATE TABLE deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL, entered_at timestamptz);
INSERT INTO deals SELECT i, 'initial_contact', NULL FROM generate_series(1, $KEYS) i;
CREATE TABLE events (id int, to_stage pipeline.stage, changed_at timestamptz, changed_by text);
INSERT INTO events
SELECT i, s.stage, timestamptz '2025-01-01' + (i % 1000) * interval '1 hour' + s.n * interval '1 day', 'crm'
  FROM generate_series(1, $KEYS) i,
       (VALUES (0, 'lead_generation'::pipeline.stage), (1, 'prospecting'), (2, 'qualification'),
               (3, 'initial_contact')) AS s(n, stage)
 ORDER BY random();
VACUUM ANALYZE deals, events;
SQL

. "$(dirname "$0")/lib/timing.sh"

baseline() {
	$PSQL -c "DROP TABLE IF EXISTS plain" -c "CREATE TABLE plain (id int NOT NULL, from_stage pipeline.stage,
		to_stage pipeline.stage, changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
		changed_by name NOT NULL DEFAULT current_user, seq bigint GENERATED ALWAYS AS IDENTITY,
		PRIMARY KEY (id, seq))" -c "CHECKPOINT"
	echo "INSERT INTO plain (id, to_stage, changed_at, changed_by) SELECT id, to_stage, changed_at, changed_by FROM events;" | time_script
}

import() {
	$PSQL -c "SET client_min_messages = warning" -c "SELECT pipeline.detach('deals')" \
		-c "DROP TABLE IF EXISTS deals_stage_history" -c "UPDATE deals SET entered_at = NULL" \
		-c "VACUUM deals" -c "CHECKPOINT" >/dev/null
	echo "SELECT pipeline.attach('deals', history_from => 'events', entered_at_column => 'entered_at');" | time_script
}

ratios=()
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then b=$(baseline); i=$(import); else i=$(import); b=$(baseline); fi
	ratio=$(awk -v a="$i" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
	ratios+=("$ratio")
	echo "round $r: INSERT ... SELECT ${b} ms, attach with history_from ${i} ms, ratio ${ratio}"
done
# the imported history is the events, one row each, chained
$PSQL <<'SQL'
SELECT format('check: history rows %s (events %s), keys whose last stage is not the row''s %s',
              (SELECT count(*) FROM deals_stage_history), (SELECT count(*) FROM events),
              (SELECT count(*) FROM deals d
                WHERE d.stage <> (SELECT h.to_stage FROM deals_stage_history h WHERE h.id = d.id
                                   ORDER BY h.changed_at DESC, h.seq DESC LIMIT 1)));
SQL
median=$(printf '%s\n' "${ratios[@]}" | median)
verdict=$(awk -v v="$median" 'BEGIN { print (v <= 3.0) ? "met" : "MISSED" }')
echo
echo "ratios (same run): import of $EVENTS events / INSERT ... SELECT into a plain table with the same index: median $median $verdict (target <= 3.0)"

psql -X -q -d postgres -c "DROP DATABASE $DB"
