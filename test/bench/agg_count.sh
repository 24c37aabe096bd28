#!/bin/bash
# Counting aggregates benchmark (run by `make bench`, inside a throwaway
# cluster started with jit=off).  5,000,000 rows; every aggregate is timed
# against its plain-SQL equivalent and against count(<same column>) over the
# same table, in the same run, with interleaved repetitions; serial ratios
# use the backend's CPU time (from /proc, summed over REPS runs), which other
# load on the machine does not inflate, or the best elapsed time where /proc
# is unreadable.  Then the parallel speed-up with 2 workers: elapsed time,
# PREPS repetitions each running serial then parallel back to back, the
# median of those paired ratios (and best serial / best parallel), next to
# the same figure for count(<same column>), the ceiling this machine gives
# any scan.  Prints ratios only.
#
# Targets: aggregate <= 1.0 x plain SQL; <= 1.15 x count(<same column>);
# 2 workers >= 1.5 x faster than serial.
set -euo pipefail
ROWS=${ROWS:-5000000}
REPS=${REPS:-7}
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

-- Serial: interleave every query of every repetition.
SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.bench_ms('SELECT count(stage), count(converted) FROM bench_count') IS NOT NULL AS warm \gset
SELECT pg_temp.bench_ms('SELECT count(stage), count(converted) FROM bench_count') IS NOT NULL AS warm \gset
DO $$
DECLARE
	rep int;
	q record;
BEGIN
	FOR rep IN 1 .. current_setting('bench.reps')::int LOOP
		INSERT INTO bench_run SELECT 'count(stage)', 'floor', rep, * FROM pg_temp.bench_run('SELECT count(stage) FROM bench_count');
		INSERT INTO bench_run SELECT 'count(converted)', 'floor', rep, * FROM pg_temp.bench_run('SELECT count(converted) FROM bench_count');
		FOR q IN SELECT * FROM bench_query ORDER BY ord LOOP
			INSERT INTO bench_run SELECT q.name, 'agg', rep, * FROM pg_temp.bench_run(q.sql);
			INSERT INTO bench_run SELECT q.name, 'plain', rep, * FROM pg_temp.bench_run(q.plain);
		END LOOP;
	END LOOP;
END
$$;

\pset footer off
SELECT CASE WHEN bool_and(cpu IS NOT NULL) AND sum(cpu) > 0 THEN 'cpu' ELSE 'wall' END AS clock
  FROM bench_run \gset
\echo serial, :rows rows, :reps interleaved runs, :clock time (cpu: backend CPU time summed over the runs; wall: best run)
\echo time ratios (targets: vs plain <= 1.00, vs count(same column) <= 1.15)
WITH med AS (
	SELECT name, kind,
		   CASE WHEN :'clock' = 'cpu' THEN sum(cpu) ELSE min(ms) END AS ms
	  FROM bench_run GROUP BY name, kind)
SELECT q.name AS aggregate,
	   to_char(a.ms / p.ms, 'FM0.00') AS vs_plain_sql,
	   to_char(a.ms / f.ms, 'FM0.00') AS "vs_count(col)",
	   CASE WHEN a.ms / p.ms <= 1.0 AND a.ms / f.ms <= 1.15 THEN 'ok' ELSE 'MISSED' END AS target
  FROM bench_query q
  JOIN med a ON a.name = q.name AND a.kind = 'agg'
  JOIN med p ON p.name = q.name AND p.kind = 'plain'
  JOIN med f ON f.name = q.floor AND f.kind = 'floor'
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
