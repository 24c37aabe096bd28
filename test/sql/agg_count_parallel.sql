-- Counting aggregates under a forced parallel plan and under partitionwise
-- aggregation (both call the combine function): the plan shows Partial
-- Aggregate, and the answers equal the serial ones and the plain-SQL
-- reference, per group.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

\i test/sql/include/side_by_side.sql

SELECT setseed(0.31);
CREATE TABLE agg_count_par AS
SELECT i AS id, floor(random() * 25)::int AS grp,
	   CASE WHEN random() < 0.05 THEN NULL
			ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END AS s,
	   CASE WHEN random() < 0.05 THEN NULL
			ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END AS t,
	   CASE WHEN random() < 0.05 THEN NULL ELSE random() < 0.25 END AS b
  FROM generate_series(1, 60000) i;
ANALYZE agg_count_par;

-- Plain SQL reference for pipeline.stage (hand-derived from docs/stages.md:
-- open stages are lead_generation..negotiation, won closed_won..follow_up,
-- lost closed_lost; "reached target" for target <= follow_up is
-- target <= s <= follow_up, except that an open s never reaches a won target).
CREATE VIEW agg_count_par_expected AS
SELECT grp,
	   count(*) FILTER (WHERE b)::float8 / nullif(count(b), 0) AS conv_bool,
	   count(*) FILTER (WHERE s BETWEEN 'proposal' AND 'follow_up')::float8 / nullif(count(s), 0) AS conv,
	   count(*) FILTER (WHERE s IN ('closed_won', 'follow_up'))::float8
		   / nullif(count(*) FILTER (WHERE s BETWEEN 'qualification' AND 'follow_up'), 0) AS step,
	   count(*) FILTER (WHERE s IN ('closed_won', 'follow_up'))::float8
		   / nullif(count(*) FILTER (WHERE s IN ('closed_won', 'follow_up', 'closed_lost')), 0) AS win,
	   CASE WHEN count(s) > 0 THEN ARRAY[
		   count(*) FILTER (WHERE s BETWEEN 'lead_generation' AND 'follow_up'),
		   count(*) FILTER (WHERE s BETWEEN 'prospecting' AND 'follow_up'),
		   count(*) FILTER (WHERE s BETWEEN 'qualification' AND 'follow_up'),
		   count(*) FILTER (WHERE s BETWEEN 'initial_contact' AND 'follow_up'),
		   count(*) FILTER (WHERE s BETWEEN 'proposal' AND 'follow_up'),
		   count(*) FILTER (WHERE s BETWEEN 'negotiation' AND 'follow_up'),
		   count(*) FILTER (WHERE s BETWEEN 'closed_won' AND 'follow_up'),
		   count(*) FILTER (WHERE s = 'follow_up')] END AS funnel,
	   max(s) FILTER (WHERE s <> 'closed_lost') AS furthest
  FROM agg_count_par GROUP BY grp;

CREATE VIEW agg_count_par_v AS
SELECT grp, pipeline.conversion_rate(b) AS conv_bool, pipeline.conversion_rate(s, 'proposal') AS conv,
	   pipeline.conversion_rate(s, 'qualification', 'closed_won') AS step, pipeline.win_rate(s) AS win,
	   pipeline.funnel(s) AS funnel, pipeline.furthest_stage(s) AS furthest,
	   pipeline.conversion_rate(s, t) AS conv_var
  FROM agg_count_par GROUP BY grp;

-- Serial answers.
SET max_parallel_workers_per_gather = 0;
CREATE TABLE agg_count_par_serial AS SELECT * FROM agg_count_par_v;
SELECT count(*) AS groups FROM agg_count_par_serial;
SELECT * FROM agg_count_par_serial a FULL JOIN agg_count_par_expected e USING (grp)
 WHERE (a.conv_bool, a.conv, a.step, a.win, a.funnel, a.furthest)
	   IS DISTINCT FROM (e.conv_bool, e.conv, e.step, e.win, e.funnel, e.furthest);
-- For a reader's eye: one group, the serial answers beside the reference.
SELECT grp, x.* FROM agg_count_par_serial a JOIN agg_count_par_expected e USING (grp),
	   pg_temp.side_by_side(to_json(a), to_json(e), '{grp}') x WHERE grp = 3;

-- Forced parallel plan.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;	-- the workers do all the partial work
EXPLAIN (COSTS OFF) SELECT * FROM agg_count_par_v;
EXPLAIN (COSTS OFF)
SELECT pipeline.win_rate(s), pipeline.funnel(s), pipeline.furthest_stage(s) FROM agg_count_par;

SELECT * FROM agg_count_par_v p FULL JOIN agg_count_par_serial s USING (grp)
 WHERE p IS DISTINCT FROM s;
-- For a reader's eye: the same group, parallel beside serial.
SELECT grp, x.* FROM agg_count_par_v p JOIN agg_count_par_serial s USING (grp),
	   pg_temp.side_by_side(to_json(p), to_json(s), '{grp}') x WHERE grp = 3;
-- Ungrouped, parallel vs serial.
CREATE TABLE agg_count_par_one AS
SELECT pipeline.conversion_rate(b) AS conv_bool, pipeline.conversion_rate(s, t) AS conv,
	   pipeline.win_rate(s) AS win, pipeline.funnel(s) AS funnel, pipeline.furthest_stage(s) AS furthest
  FROM agg_count_par;
SET max_parallel_workers_per_gather = 0;
SELECT o = (SELECT ROW(pipeline.conversion_rate(b), pipeline.conversion_rate(s, t), pipeline.win_rate(s),
					   pipeline.funnel(s), pipeline.furthest_stage(s))::agg_count_par_one
			  FROM agg_count_par) AS parallel_equals_serial
  FROM agg_count_par_one o;
-- the ungrouped row, parallel (the table) beside serial
SELECT x.* FROM agg_count_par_one o,
	   (SELECT pipeline.conversion_rate(b) AS conv_bool, pipeline.conversion_rate(s, t) AS conv, pipeline.win_rate(s) AS win,
			   pipeline.funnel(s) AS funnel, pipeline.furthest_stage(s) AS furthest FROM agg_count_par) s,
	   pg_temp.side_by_side(to_json(o), to_json(s)) x;
RESET parallel_leader_participation;

-- Partitionwise aggregation: partial aggregates per partition, combined
-- above the Append, without parallelism.
CREATE TABLE agg_count_part (LIKE agg_count_par) PARTITION BY HASH (id);
CREATE TABLE agg_count_part_0 PARTITION OF agg_count_part FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE agg_count_part_1 PARTITION OF agg_count_part FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE agg_count_part_2 PARTITION OF agg_count_part FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO agg_count_part SELECT * FROM agg_count_par;
ANALYZE agg_count_part;
CREATE VIEW agg_count_part_v AS
SELECT grp, pipeline.conversion_rate(b) AS conv_bool, pipeline.conversion_rate(s, 'proposal') AS conv,
	   pipeline.conversion_rate(s, 'qualification', 'closed_won') AS step, pipeline.win_rate(s) AS win,
	   pipeline.funnel(s) AS funnel, pipeline.furthest_stage(s) AS furthest,
	   pipeline.conversion_rate(s, t) AS conv_var
  FROM agg_count_part GROUP BY grp;
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF) SELECT * FROM agg_count_part_v;
SELECT * FROM agg_count_part_v p FULL JOIN agg_count_par_serial s USING (grp)
 WHERE p IS DISTINCT FROM s;
-- the same group, partitionwise beside serial
SELECT grp, x.* FROM agg_count_part_v p JOIN agg_count_par_serial s USING (grp),
	   pg_temp.side_by_side(to_json(p), to_json(s), '{grp}') x WHERE grp = 3;

-- Both at once: parallel partial aggregation per partition.
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT * FROM agg_count_part_v p FULL JOIN agg_count_par_serial s USING (grp)
 WHERE p IS DISTINCT FROM s;
-- ... and both at once
SELECT grp, x.* FROM agg_count_part_v p JOIN agg_count_par_serial s USING (grp),
	   pg_temp.side_by_side(to_json(p), to_json(s), '{grp}') x WHERE grp = 3;
RESET ALL;

DROP VIEW agg_count_part_v, agg_count_par_v, agg_count_par_expected;
DROP TABLE agg_count_part, agg_count_par_one, agg_count_par_serial, agg_count_par;
