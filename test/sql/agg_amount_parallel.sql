-- Amount aggregates under a forced parallel plan and under partitionwise
-- aggregation (combine without parallelism): same results as a serial plan.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

SELECT setseed(0.31);
CREATE TABLE amt_par (
	id			integer,
	grp			integer,
	stage		pipeline.stage,
	amount		numeric,
	backlog		numeric,
	sales		numeric,
	booked_at	timestamptz,
	fulfilled_at timestamptz
) PARTITION BY RANGE (id);
CREATE TABLE amt_par_1 PARTITION OF amt_par FOR VALUES FROM (MINVALUE) TO (20000);
CREATE TABLE amt_par_2 PARTITION OF amt_par FOR VALUES FROM (20000) TO (40000);
CREATE TABLE amt_par_3 PARTITION OF amt_par FOR VALUES FROM (40000) TO (MAXVALUE);
INSERT INTO amt_par
SELECT i, i % 7,
	   CASE WHEN random() < 0.05 THEN NULL ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END,
	   CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 2200 - 200)::numeric, floor(random() * 4)::int) END,
	   CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
	   CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 1000)::numeric, 1) END,
	   b, CASE WHEN random() < 0.3 THEN NULL ELSE b + floor(random() * 60) * interval '1 day' END
  FROM (SELECT i, CASE WHEN random() < 0.05 THEN NULL
					   ELSE timestamptz '2024-01-01 00:00+00' + floor(random() * 120) * interval '1 day' END AS b
		  FROM generate_series(1, 60000) i) s;
-- a few huge amounts, so some partial states spill out of 128 bits
UPDATE amt_par SET amount = amount * 1e35 WHERE id % 9973 = 0;
ANALYZE amt_par;

CREATE VIEW amt_par_all AS
SELECT row(pipeline.backlog_ratio(backlog, sales),
		   pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-02-15 00:00+00'),
		   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, tstzrange('2024-02-01 00:00+00', '2024-03-01 00:00+00', '[)')),
		   pipeline.book_to_bill(amount, booked_at, fulfilled_at, tstzrange(NULL, '2024-03-01 00:00+00', '[)')),
		   pipeline.win_rate(stage, amount),
		   pipeline.weighted_pipeline(stage, amount))::text AS r
  FROM amt_par;
CREATE VIEW amt_par_grouped AS
SELECT string_agg(r, ' ' ORDER BY grp) AS r
  FROM (SELECT grp,
			   row(pipeline.backlog_ratio(backlog, sales),
				   pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-02-15 00:00+00'),
				   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, tstzrange('2024-02-01 00:00+00', '2024-03-01 00:00+00', '[)')),
				   pipeline.book_to_bill(amount, booked_at, fulfilled_at, tstzrange(NULL, '2024-03-01 00:00+00', '[)')),
				   pipeline.win_rate(stage, amount),
				   pipeline.weighted_pipeline(stage, amount))::text AS r
		  FROM amt_par GROUP BY grp) s;

-- serial answers
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = off;
SELECT r AS serial_all FROM amt_par_all \gset
SELECT r AS serial_grouped FROM amt_par_grouped \gset
-- and an independent plain-SQL computation of the ungrouped row
CREATE VIEW amt_par_plain AS
SELECT row(sum(backlog) FILTER (WHERE sales IS NOT NULL) / nullif(sum(sales) FILTER (WHERE backlog IS NOT NULL), 0),
		   coalesce(sum(amount) FILTER (WHERE booked_at < '2024-02-15 00:00+00' AND (fulfilled_at IS NULL OR fulfilled_at >= '2024-02-15 00:00+00')), 0),
		   coalesce(sum(amount) FILTER (WHERE booked_at < '2024-03-01 00:00+00' AND (fulfilled_at IS NULL OR fulfilled_at >= '2024-03-01 00:00+00')), 0)
		   / nullif(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at >= '2024-02-01 00:00+00' AND fulfilled_at < '2024-03-01 00:00+00'), 0),
		   coalesce(sum(amount) FILTER (WHERE booked_at < '2024-03-01 00:00+00'), 0)
		   / nullif(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at < '2024-03-01 00:00+00'), 0),
		   (SELECT coalesce(sum(a.amount) FILTER (WHERE c.kind = 'won'), 0) / nullif(sum(a.amount) FILTER (WHERE c.kind IN ('won', 'lost')), 0)
			  FROM amt_par a JOIN pipeline.stage_catalog c ON c.stage_type = 'pipeline.stage' AND c.stage = a.stage::text),
		   (SELECT coalesce(sum(a.amount * c.probability) FILTER (WHERE c.kind = 'open'), 0)
			  FROM amt_par a JOIN pipeline.stage_catalog c ON c.stage_type = 'pipeline.stage' AND c.stage = a.stage::text))::text
	   AS r
  FROM amt_par;
SELECT r = :'serial_all' AS serial_equals_plain_sql FROM amt_par_plain;

-- forced parallel plan
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_partitionwise_aggregate = off;
EXPLAIN (COSTS OFF) SELECT r FROM amt_par_all;
SELECT r = :'serial_all' AS parallel_equals_serial FROM amt_par_all;
EXPLAIN (COSTS OFF) SELECT r FROM amt_par_grouped;
SELECT r = :'serial_grouped' AS parallel_equals_serial FROM amt_par_grouped;
SELECT a.r AS parallel_all, g.r AS parallel_grouped FROM amt_par_all a, amt_par_grouped g \gset

-- partitionwise aggregation, no parallelism: partial states per partition,
-- combined
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF) SELECT r FROM amt_par_grouped;
SELECT r = :'serial_grouped' AS partitionwise_equals_serial FROM amt_par_grouped;
EXPLAIN (COSTS OFF) SELECT r FROM amt_par_all;
SELECT r = :'serial_all' AS partitionwise_equals_serial FROM amt_par_all;
SELECT a.r AS partitionwise_all, g.r AS partitionwise_grouped FROM amt_par_all a, amt_par_grouped g \gset

-- both together
SET max_parallel_workers_per_gather = 2;
SELECT r = :'serial_grouped' AS both_equal_serial FROM amt_par_grouped;
SELECT r = :'serial_all' AS both_equal_serial FROM amt_par_all;
SELECT a.r AS both_all, g.r AS both_grouped FROM amt_par_all a, amt_par_grouped g \gset

-- For a reader's eye: the answers compared above, field by field, for the
-- whole table and for group 3 (the fourth row of the grouped answer).
CREATE TYPE amt_par_fields AS (backlog_ratio text, backlog_amount text, backlog_ratio_period text,
							   book_to_bill text, win_rate text, weighted_pipeline text);
SELECT v.rows, v.plan, (v.r::amt_par_fields).*
  FROM (VALUES (1, 'all', 'serial', :'serial_all'), (2, 'all', 'plain SQL', (SELECT r FROM amt_par_plain)),
			   (3, 'all', 'parallel', :'parallel_all'), (4, 'all', 'partitionwise', :'partitionwise_all'),
			   (5, 'all', 'both', :'both_all'), (6, 'group 3', 'serial', split_part(:'serial_grouped', ' ', 4)),
			   (7, 'group 3', 'parallel', split_part(:'parallel_grouped', ' ', 4)),
			   (8, 'group 3', 'partitionwise', split_part(:'partitionwise_grouped', ' ', 4)),
			   (9, 'group 3', 'both', split_part(:'both_grouped', ' ', 4))) v(n, rows, plan, r)
 ORDER BY v.n;

RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET enable_partitionwise_aggregate;
DROP VIEW amt_par_all, amt_par_grouped, amt_par_plain;
DROP TYPE amt_par_fields;
DROP TABLE amt_par;
