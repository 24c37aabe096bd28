#!/bin/bash
# History views benchmark (run by `make bench`, BENCH=views for this one
# alone).  A table of DEALS rows (default 1,100,000) attached with history,
# whose history holds about 5 rows per deal (about 5,000,000); each view is
# timed against `SELECT count(*) FROM <history>` measured in the same run,
# interleaved, median of REPS.  Prints ratios (and the baseline's own time,
# so "the funnel answers in seconds" can be read off); asserts nothing.
set -euo pipefail
DEALS=${DEALS:-1100000}
REPS=${REPS:-5}

psql -X -q -v ON_ERROR_STOP=1 -v deals="$DEALS" -v reps="$REPS" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
DROP TABLE IF EXISTS bench_deals, bench_deals_stage_history CASCADE;
SELECT setseed(0.77) \gset
-- Walks: 1..8 steps forward from lead_generation (won after negotiation,
-- follow-up after won); a third of the walks that stop before winning end
-- lost.  The history is loaded directly (the views do not care how it was
-- written); attach then finds every row already has history.
CREATE TABLE bench_walk AS
SELECT i AS id, 1 + floor(random() * 8)::int AS steps, random() < 0.33 AS lost,
	   timestamptz '2026-01-01' + random() * interval '200 days' AS t0,
	   round((random() * 50000)::numeric, 2) AS amount
  FROM generate_series(1, :deals) i;
CREATE TABLE bench_deals_stage_history (id integer NOT NULL, from_stage pipeline.stage,
	to_stage pipeline.stage NOT NULL, changed_at timestamptz NOT NULL,
	changed_by name NOT NULL DEFAULT CURRENT_USER, seq bigint GENERATED ALWAYS AS IDENTITY NOT NULL);
INSERT INTO bench_deals_stage_history (id, from_stage, to_stage, changed_at)
SELECT w.id,
	   CASE WHEN j > 1 THEN (enum_range(NULL::pipeline.stage))[j - 1] END,
	   CASE WHEN j = w.steps AND w.lost AND j <= 6 THEN 'closed_lost'::pipeline.stage
			ELSE (enum_range(NULL::pipeline.stage))[j] END,
	   w.t0 + j * interval '3 days' + random() * interval '2 days'
  FROM bench_walk w, generate_series(1, w.steps) j
 ORDER BY 4;
CREATE INDEX ON bench_deals_stage_history (id, seq);
CREATE TABLE bench_deals (id integer PRIMARY KEY, amount numeric(12,2), stage pipeline.stage NOT NULL);
INSERT INTO bench_deals
SELECT DISTINCT ON (h.id) h.id, w.amount, h.to_stage
  FROM bench_deals_stage_history h JOIN bench_walk w USING (id) ORDER BY h.id, h.seq DESC;
SELECT pipeline.attach('bench_deals') \gset
SELECT pipeline.set_rotting_after('pipeline.stage', 'proposal', '30 days') \gset
SELECT pipeline.set_rotting_after('pipeline.stage', 'negotiation', '20 days') \gset
VACUUM (FREEZE, ANALYZE) bench_deals, bench_deals_stage_history;
RESET client_min_messages;

SELECT count(*) AS deals, (SELECT count(*) FROM bench_deals_stage_history) AS history_rows FROM bench_deals \gset
\echo 'views over' :history_rows 'history rows of' :deals 'deals; median of' :reps 'interleaved runs'

CREATE TEMP TABLE q (ord int PRIMARY KEY, name text, sql text);
INSERT INTO q VALUES
 (0, 'baseline: count(*) FROM history', 'SELECT count(*) FROM bench_deals_stage_history'),
 (1, 'bench_deals_funnel (all rows)', 'SELECT * FROM bench_deals_funnel'),
 (2, 'same funnel via pipeline.funnel(furthest_stage)',
	 'SELECT pipeline.funnel(f) FROM (SELECT pipeline.furthest_stage(h.to_stage) AS f FROM bench_deals_stage_history h
	   WHERE h.id IN (SELECT id FROM bench_deals) GROUP BY h.id) x'),
 (3, 'bench_deals_stage_durations', 'SELECT * FROM bench_deals_stage_durations'),
 (4, 'bench_deals_rotting (count)', 'SELECT count(*) FROM bench_deals_rotting'),
 (5, 'bench_deals_stage_visits (count)', 'SELECT count(*) FROM bench_deals_stage_visits'),
 (6, 'bench_deals_stage_visits WHERE id = <one deal>', 'SELECT * FROM bench_deals_stage_visits WHERE id = 424242');
CREATE TEMP TABLE t (ord int, ms float8);
SET bench.reps = :reps;
DO $$
DECLARE
	r	record;
	t0	timestamptz;
BEGIN
	FOR rep IN 1 .. current_setting('bench.reps')::int LOOP
		FOR r IN SELECT * FROM q ORDER BY ord LOOP
			t0 := clock_timestamp();
			EXECUTE r.sql;
			INSERT INTO t VALUES (r.ord, 1000 * extract(epoch FROM clock_timestamp() - t0));
		END LOOP;
	END LOOP;
END
$$;
WITH m AS (SELECT ord, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM t GROUP BY ord)
SELECT q.name AS query, round((m.ms / b.ms)::numeric, 2) AS "× baseline",
	   CASE WHEN q.ord = 0 THEN round(m.ms::numeric) || ' ms' ELSE round((m.ms / b.ms)::numeric * round(b.ms::numeric)) || ' ms' END AS "≈ time"
  FROM m JOIN q USING (ord), (SELECT ms FROM m WHERE ord = 0) b ORDER BY q.ord;
SQL
