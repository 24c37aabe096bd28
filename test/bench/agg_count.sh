#!/bin/bash
# Counting aggregates benchmark (run by `make bench`, inside a throwaway
# cluster started with jit=off).  5,000,000 rows; every aggregate is timed
# against its plain-SQL equivalent and against count(<same column>) over the
# same table, in the same run.  Serial: each of REPS repetitions runs the
# aggregate, its plain SQL and its floor back to back (order reversed every
# other repetition); the figure is the median of the elapsed-time ratios
# within a repetition, which the drift in this machine's speed (2x between
# identical runs) does not move, with the ratios of the backend's CPU time
# (from /proc, summed over the repetitions) beside it.  Then the parallel
# speed-up with 2 workers: PREPS repetitions each running serial then
# parallel back to back, the median of those paired ratios (and best serial
# / best parallel), next to the same figure for count(<same column>), the
# ceiling this machine gives any scan.  Prints ratios only.
#
# Targets: aggregate <= 1.0 x plain SQL; <= 1.15 x count(<same column>);
# 2 workers >= 1.5 x faster than serial.
set -euo pipefail
ROWS=${ROWS:-5000000}
REPS=${REPS:-9}
PREPS=${PREPS:-11}

psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -v reps="$REPS" -v preps="$PREPS" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
DROP TABLE IF EXISTS bench_count;
SELECT setseed(0.5);
CREATE TABLE bench_count AS
SELECT i AS id,
	   (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] AS stage,
	   random() < 0.3 AS converted,
	   (random() * 1000)::numeric(12, 2) AS amount
  FROM generate_series(1, :rows) i;
VACUUM (FREEZE, ANALYZE) bench_count;
RESET client_min_messages;

CREATE TEMP TABLE bench_query (name text PRIMARY KEY, ord int, sql text, plain text, floor text);
INSERT INTO bench_query VALUES
 ('conversion_rate(converted)', 1,
  'SELECT pipeline.conversion_rate(converted) FROM bench_count',
  'SELECT count(*) FILTER (WHERE converted)::float8 / nullif(count(converted), 0) FROM bench_count',
  'count(converted)'),
 ('conversion_rate(stage, target)', 2,
  $$SELECT pipeline.conversion_rate(stage, 'proposal') FROM bench_count$$,
  $$SELECT count(*) FILTER (WHERE stage BETWEEN 'proposal' AND 'follow_up')::float8 / nullif(count(stage), 0) FROM bench_count$$,
  'count(stage)'),
 ('conversion_rate(stage, from, to)', 3,
  $$SELECT pipeline.conversion_rate(stage, 'qualification', 'closed_won') FROM bench_count$$,
  $$SELECT count(*) FILTER (WHERE stage IN ('closed_won', 'follow_up'))::float8
		 / nullif(count(*) FILTER (WHERE stage BETWEEN 'qualification' AND 'follow_up'), 0) FROM bench_count$$,
  'count(stage)'),
 ('win_rate(stage)', 4,
  'SELECT pipeline.win_rate(stage) FROM bench_count',
  $$SELECT count(*) FILTER (WHERE stage IN ('closed_won', 'follow_up'))::float8
		 / nullif(count(*) FILTER (WHERE stage IN ('closed_won', 'follow_up', 'closed_lost')), 0) FROM bench_count$$,
  'count(stage)'),
 ('funnel(stage)', 5,
  'SELECT pipeline.funnel(stage) FROM bench_count',
  $$SELECT ARRAY[count(*) FILTER (WHERE stage BETWEEN 'lead_generation' AND 'follow_up'),
				 count(*) FILTER (WHERE stage BETWEEN 'prospecting' AND 'follow_up'),
				 count(*) FILTER (WHERE stage BETWEEN 'qualification' AND 'follow_up'),
				 count(*) FILTER (WHERE stage BETWEEN 'initial_contact' AND 'follow_up'),
				 count(*) FILTER (WHERE stage BETWEEN 'proposal' AND 'follow_up'),
				 count(*) FILTER (WHERE stage BETWEEN 'negotiation' AND 'follow_up'),
				 count(*) FILTER (WHERE stage BETWEEN 'closed_won' AND 'follow_up'),
				 count(*) FILTER (WHERE stage = 'follow_up')] FROM bench_count$$,
  'count(stage)'),
 ('furthest_stage(stage)', 6,
  'SELECT pipeline.furthest_stage(stage) FROM bench_count',
  $$SELECT max(stage) FILTER (WHERE stage <> 'closed_lost') FROM bench_count$$,
  'count(stage)');

CREATE TEMP TABLE bench_run (name text, kind text, rep int, ms float8, cpu float8);

-- CPU time of this backend, in clock ticks (utime + stime of /proc/self/stat):
-- unlike elapsed time, it does not grow when other processes compete for
-- the machine's cores.  NULL where /proc cannot be read.
CREATE FUNCTION pg_temp.cpu_ticks() RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	f text[];
BEGIN
	f := string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ');
	RETURN f[12]::float8 + f[13]::float8;
EXCEPTION WHEN OTHERS THEN
	RETURN NULL;
END
$$;

-- Run a query once; return its elapsed milliseconds and CPU ticks.
CREATE FUNCTION pg_temp.bench_run(q text, OUT ms float8, OUT cpu float8) LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	c0 float8;
	r record;
BEGIN
	c0 := pg_temp.cpu_ticks();
	t0 := clock_timestamp();
	EXECUTE q INTO r;
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
	cpu := pg_temp.cpu_ticks() - c0;
END
$$;

CREATE FUNCTION pg_temp.bench_ms(q text) RETURNS float8 LANGUAGE sql AS $$
	SELECT ms FROM pg_temp.bench_run(q)
$$;

CREATE FUNCTION pg_temp.plan_has(q text, pattern text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		IF strpos(line, pattern) > 0 THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;

SET bench.reps = :reps;

-- Serial: every aggregate runs next to its own floor and plain-SQL runs
-- (so the ratios do not drift with the speed of the machine), in an order
-- reversed on every other repetition (so neither side always runs first).
SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.bench_ms('SELECT count(stage), count(converted) FROM bench_count') IS NOT NULL AS warm \gset
SELECT pg_temp.bench_ms('SELECT count(stage), count(converted) FROM bench_count') IS NOT NULL AS warm \gset
DO $$
DECLARE
	rep int;
	q record;
	k text;
BEGIN
	FOR rep IN 1 .. current_setting('bench.reps')::int LOOP
		FOR q IN SELECT * FROM bench_query ORDER BY ord LOOP
			FOREACH k IN ARRAY CASE WHEN rep % 2 = 1 THEN ARRAY['floor', 'agg', 'plain']
									ELSE ARRAY['plain', 'agg', 'floor'] END LOOP
				INSERT INTO bench_run
				SELECT q.name, k, rep, *
				  FROM pg_temp.bench_run(CASE k WHEN 'agg' THEN q.sql WHEN 'plain' THEN q.plain
												ELSE 'SELECT ' || q.floor || ' FROM bench_count' END);
			END LOOP;
		END LOOP;
	END LOOP;
END
$$;

\pset footer off
\echo serial, :rows rows, :reps repetitions, each running the aggregate, its plain SQL and count(<same column>) back to back
\echo time ratios (targets: vs plain <= 1.00, vs count(same column) <= 1.15): median over the repetitions of the
\echo elapsed-time ratio within each; cpu_*: the same ratios of backend CPU time summed over the repetitions
WITH pair AS (
	SELECT a.name,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY a.ms / p.ms) AS vs_plain,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY a.ms / f.ms) AS vs_floor,
		   sum(a.cpu) / nullif(sum(p.cpu), 0) AS cpu_vs_plain,
		   sum(a.cpu) / nullif(sum(f.cpu), 0) AS cpu_vs_floor
	  FROM bench_run a
	  JOIN bench_run p ON p.name = a.name AND p.rep = a.rep AND p.kind = 'plain'
	  JOIN bench_run f ON f.name = a.name AND f.rep = a.rep AND f.kind = 'floor'
	 WHERE a.kind = 'agg'
	 GROUP BY a.name)
SELECT q.name AS aggregate,
	   to_char(r.vs_plain, 'FM0.00') AS vs_plain_sql,
	   to_char(r.vs_floor, 'FM0.00') AS "vs_count(col)",
	   CASE WHEN r.vs_plain <= 1.0 AND r.vs_floor <= 1.15 THEN 'ok' ELSE 'MISSED' END AS target,
	   coalesce(to_char(r.cpu_vs_plain, 'FM0.00'), '-') AS cpu_vs_plain,
	   coalesce(to_char(r.cpu_vs_floor, 'FM0.00'), '-') AS "cpu_vs_count(col)"
  FROM bench_query q
  JOIN pair r ON r.name = q.name
 ORDER BY q.ord;

-- Parallel speed-up: 2 workers against serial, interleaved.
TRUNCATE bench_run;
SET bench.reps = :preps;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
DO $$
DECLARE
	rep int;
	q record;
BEGIN
	FOR rep IN 1 .. current_setting('bench.reps')::int LOOP
		FOR q IN SELECT name, ord, sql FROM bench_query
				 UNION ALL
				 SELECT f, 0, 'SELECT ' || f || ' FROM bench_count'
				   FROM (VALUES ('count(stage)'), ('count(converted)')) v(f)
				 ORDER BY ord, name LOOP
			PERFORM set_config('max_parallel_workers_per_gather', '0', true);
			INSERT INTO bench_run SELECT q.name, 'serial', rep, * FROM pg_temp.bench_run(q.sql);
			PERFORM set_config('max_parallel_workers_per_gather', '2', true);
			INSERT INTO bench_run SELECT q.name, 'parallel', rep, * FROM pg_temp.bench_run(q.sql);
		END LOOP;
	END LOOP;
END
$$;
SET max_parallel_workers_per_gather = 2;
SELECT pg_temp.plan_has('SELECT pipeline.win_rate(stage) FROM bench_count', 'Partial Aggregate')
	   AND pg_temp.plan_has('SELECT pipeline.win_rate(stage) FROM bench_count', 'Workers Planned: 2')
	   AS plan_is_parallel;
\echo parallel, :preps interleaved runs, elapsed time: serial / 2 workers (target >= 1.50; needs 2 idle cores)
\echo paired: median over the runs of (serial run / the parallel run right after it) -- robust to drift in the speed of the machine;
\echo best: best serial / best parallel; count(col): the paired figure for count(<same column>) -- what this machine gives any scan
WITH paired AS (
	SELECT s.name, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.ms / p.ms) AS ratio,
		   min(s.ms) / min(p.ms) AS best
	  FROM bench_run s
	  JOIN bench_run p ON p.name = s.name AND p.rep = s.rep AND p.kind = 'parallel'
	 WHERE s.kind = 'serial'
	 GROUP BY s.name)
SELECT q.name AS aggregate,
	   to_char(a.ratio, 'FM0.00') AS speedup_paired,
	   to_char(a.best, 'FM0.00') AS speedup_best,
	   to_char(f.ratio, 'FM0.00') AS "count(col)",
	   CASE WHEN a.ratio >= 1.5 THEN 'ok' ELSE 'MISSED' END AS target
  FROM bench_query q
  JOIN paired a ON a.name = q.name
  JOIN paired f ON f.name = q.floor
 ORDER BY q.ord;

DROP TABLE bench_count;
SQL
