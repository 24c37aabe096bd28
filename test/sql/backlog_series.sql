-- pipeline.backlog_series: every field of every period equals, value and
-- scale, what the per-period aggregates (and plain SQL) give over the same
-- rows; under parallel and partitionwise plans; state text and binary
-- round trips, a Citus-style combine of shipped states, malformed states
-- (22P02 / 22023, never an internal error) and every 22023 case.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
SET TimeZone = 'UTC';

-- 1. A small readable example: an order booked before the series and never
-- fulfilled, one fulfilled two days later, one fulfilled the day before it
-- was booked, one booked and fulfilled the same day, one after the series.
CREATE TABLE bs_small (id int, amount numeric, booked_at timestamptz, fulfilled_at timestamptz);
INSERT INTO bs_small VALUES
	(1, 5.5, '2025-12-30 09:00', NULL),
	(2, 10.00, '2026-01-01 10:00', '2026-01-03 00:00'),
	(3, 3, '2026-01-02 08:00', '2026-01-01 16:00'),
	(4, 1.25, '2026-01-02 00:00', '2026-01-02 05:00'),
	(5, -2.000, '2026-01-02 12:00', '2026-01-04 12:00'),
	(6, 7, '2026-01-09 00:00', NULL),
	(7, NULL, '2026-01-01 00:00', NULL),
	(8, 4, NULL, '2026-01-02 00:00');
SELECT to_char(lower(p.period), 'YYYY-MM-DD') AS day, p.booked, p.fulfilled, p.backlog_start, p.backlog_end,
	   p.book_to_bill, p.backlog_ratio
  FROM (SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 4) AS s
		  FROM bs_small) x, unnest(x.s) p;
-- the same periods, one per-period aggregate call each
CREATE VIEW bs_small_per_period AS
SELECT to_char(lo, 'YYYY-MM-DD') AS day,
	   coalesce(sum(amount) FILTER (WHERE booked_at >= lo AND booked_at < lo + interval '1 day'), 0) AS booked,
	   coalesce(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at >= lo
									  AND fulfilled_at < lo + interval '1 day'), 0) AS fulfilled,
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, lo) AS backlog_start,
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, lo + interval '1 day') AS backlog_end,
	   pipeline.book_to_bill(amount, booked_at, fulfilled_at, tstzrange(lo, lo + interval '1 day', '[)')) AS book_to_bill,
	   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, tstzrange(lo, lo + interval '1 day', '[)')) AS backlog_ratio
  FROM bs_small, generate_series(timestamptz '2026-01-01', '2026-01-04', '1 day') lo
 GROUP BY lo;
SELECT * FROM bs_small_per_period ORDER BY day;
SELECT count(*) AS periods,
	   count(*) FILTER (WHERE row(p.booked, p.fulfilled, p.backlog_start, p.backlog_end, p.book_to_bill, p.backlog_ratio)::text
						IS DISTINCT FROM row(w.booked, w.fulfilled, w.backlog_start, w.backlog_end, w.book_to_bill, w.backlog_ratio)::text)
	   AS mismatches
  FROM (SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 4) AS s FROM bs_small) x,
	   unnest(x.s) p
  FULL JOIN bs_small_per_period w ON w.day = to_char(lower(p.period), 'YYYY-MM-DD');

-- 2. Seeded random orders: NULLs, negative and zero amounts, mixed scales
-- (group 0: every amount has scale 2), amounts beyond 128 bits, rows
-- before and after the series, fulfilled before booked, instants exactly
-- on period boundaries.  Partitioned, for partitionwise aggregation.
SELECT setseed(0.4242);
CREATE TABLE bs (id int, grp int, amount numeric, booked_at timestamptz, fulfilled_at timestamptz)
	PARTITION BY RANGE (id);
CREATE TABLE bs_1 PARTITION OF bs FOR VALUES FROM (MINVALUE) TO (700);
CREATE TABLE bs_2 PARTITION OF bs FOR VALUES FROM (700) TO (1400);
CREATE TABLE bs_3 PARTITION OF bs FOR VALUES FROM (1400) TO (MAXVALUE);
INSERT INTO bs
SELECT i, i % 3,
	   CASE WHEN random() < 0.05 THEN NULL
			ELSE round(CASE WHEN random() < 0.01 THEN (random() - 0.3)::numeric * 1e40
							WHEN random() < 0.02 THEN 0
							ELSE (random() * 2200 - 200)::numeric END,
					   CASE WHEN i % 3 = 0 THEN 2 ELSE (i / 7) % 4 END) END,
	   b,
	   CASE WHEN b IS NULL OR random() < 0.3 THEN NULL
			WHEN random() < 0.05 THEN date_trunc('day', b, 'UTC') + floor(random() * 30) * interval '1 day'
			ELSE b + (random() * 100 - 10) * interval '1 day' END
  FROM (SELECT i, CASE WHEN random() < 0.05 THEN NULL
					   WHEN random() < 0.05 THEN timestamptz '2026-01-01 00:00+00' + floor(random() * 400) * interval '1 day'
					   ELSE timestamptz '2026-01-01 00:00+00' + (random() * 500 - 60) * interval '1 day' END AS b
		  FROM generate_series(1, 2100) i) s;
ANALYZE bs;
SELECT count(*) AS orders, count(*) FILTER (WHERE fulfilled_at < booked_at) AS fulfilled_before_booked,
	   count(*) FILTER (WHERE amount < 0) AS negative, count(*) FILTER (WHERE abs(amount) > 1e38) AS beyond_128_bits,
	   count(*) FILTER (WHERE amount IS NULL OR booked_at IS NULL) AS skipped
  FROM bs;

-- Every field of every period, per group and over all rows, against the
-- per-period aggregates and against plain SQL: text equality (value and
-- scale).  Rows up to max_id only, to keep the cross join small.
CREATE FUNCTION bs_check(o timestamptz, st interval, n int, max_id int DEFAULT 2147483647)
RETURNS TABLE (periods_compared bigint, mismatches_vs_aggregates bigint, mismatches_vs_plain_sql bigint)
LANGUAGE sql AS $f$
WITH got AS (
	SELECT coalesce(x.grp, -1) AS g, u.k,
		   row(u.period, u.booked, u.fulfilled, u.backlog_start, u.backlog_end, u.book_to_bill, u.backlog_ratio)::text AS r
	  FROM (SELECT grp, pipeline.backlog_series(amount, booked_at, fulfilled_at, o, st, n) AS s
			  FROM bs WHERE id <= max_id GROUP BY GROUPING SETS ((grp), ())) x,
		   unnest(x.s) WITH ORDINALITY AS u(period, booked, fulfilled, backlog_start, backlog_end,
											book_to_bill, backlog_ratio, k)
), per AS (
	SELECT k + 1 AS k, o + k * st AS lo, o + (k + 1) * st AS hi FROM generate_series(0, n - 1) k
), sums AS (
	SELECT coalesce(grp, -1) AS g, p.k, tstzrange(p.lo, p.hi, '[)') AS period,
		   coalesce(sum(amount) FILTER (WHERE booked_at >= p.lo AND booked_at < p.hi), 0) AS booked,
		   sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at >= p.lo AND fulfilled_at < p.hi) AS fulfilled,
		   coalesce(sum(amount) FILTER (WHERE booked_at < p.lo AND (fulfilled_at IS NULL OR fulfilled_at >= p.lo)), 0) AS plain_start,
		   coalesce(sum(amount) FILTER (WHERE booked_at < p.hi AND (fulfilled_at IS NULL OR fulfilled_at >= p.hi)), 0) AS plain_end,
		   pipeline.backlog_amount(amount, booked_at, fulfilled_at, p.lo) AS agg_start,
		   pipeline.backlog_amount(amount, booked_at, fulfilled_at, p.hi) AS agg_end,
		   pipeline.book_to_bill(amount, booked_at, fulfilled_at, tstzrange(p.lo, p.hi, '[)')) AS agg_btb,
		   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, tstzrange(p.lo, p.hi, '[)')) AS agg_ratio
	  FROM bs, per p WHERE id <= max_id
	 GROUP BY GROUPING SETS ((grp, p.k, p.lo, p.hi), (p.k, p.lo, p.hi))
), want AS (
	SELECT g, k,
		   row(period, booked, coalesce(fulfilled, 0), agg_start, agg_end, agg_btb, agg_ratio)::text AS agg,
		   row(period, booked, coalesce(fulfilled, 0), plain_start, plain_end,
			   booked / nullif(fulfilled, 0), plain_end / nullif(fulfilled, 0))::text AS plain
	  FROM sums
)
SELECT count(*),
	   count(*) FILTER (WHERE got.r IS DISTINCT FROM want.agg),
	   count(*) FILTER (WHERE got.r IS DISTINCT FROM want.plain)
  FROM got FULL JOIN want USING (g, k)
$f$;

-- evenly spaced boundaries (slot by division) ...
SELECT spec, c.*
  FROM (VALUES ('1 day x 400, rows before and after', timestamptz '2026-01-01', interval '1 day', 400, 2147483647),
			   ('1 week x 60', '2025-12-29', '1 week', 60, 2147483647),
			   ('36 hours x 250', '2025-12-15 06:00', '36 hours', 250, 2147483647),
			   ('1 year x 1 (one period)', '2026-02-01', '1 year', 1, 2147483647),
			   ('1 second x 1 (one tiny period)', '2026-03-01', '1 second', 1, 2147483647),
			   ('6 hours x 2500 (many periods)', '2025-12-20', '6 hours', 2500, 120)) v(spec, o, st, n, max_id),
	   LATERAL bs_check(o, st, n, max_id) c;
-- ... and calendar ones (binary search): months from the 31st follow the
-- calendar (origin + k months, not repeated addition), days across DST
SELECT spec, c.*
  FROM (VALUES ('1 month x 15 from Jan 31', timestamptz '2026-01-31', interval '1 month', 15),
			   ('1 month 3 days x 12', '2025-12-01', '1 month 3 days', 12)) v(spec, o, st, n),
	   LATERAL bs_check(o, st, n) c;
SELECT string_agg(to_char(lower(p.period), 'MM-DD'), ' ') AS month_bounds_from_jan_31
  FROM (SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-31', '1 month', 6) AS s FROM bs) x,
	   unnest(x.s) p;
SET TimeZone = 'America/New_York';
SELECT spec, c.*
  FROM (VALUES ('1 day x 150 across DST, New York', timestamptz '2026-01-01 00:00', interval '1 day', 150),
			   ('1 month x 14, New York', '2025-12-01 00:00', '1 month', 14),
			   ('1 week x 30 across DST, New York', '2026-02-02 00:00', '1 week', 30)) v(spec, o, st, n),
	   LATERAL bs_check(o, st, n) c;
SELECT count(DISTINCT upper(p.period) - lower(p.period)) AS distinct_day_lengths
  FROM (SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-03-01', '1 day', 20) AS s FROM bs) x,
	   unnest(x.s) p;
SET TimeZone = 'UTC';

-- empty groups and skipped rows
SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 3) IS NULL AS no_rows
  FROM bs WHERE false;
SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 3) IS NULL AS all_skipped
  FROM bs WHERE amount IS NULL OR booked_at IS NULL;
SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, NULL, '1 day', 3) IS NULL AS null_origin,
	   pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', NULL, 3) IS NULL AS null_step,
	   pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', NULL) IS NULL AS null_periods
  FROM bs_small;
-- a group whose rows qualify for nothing: zeros, and NULL ratios
SELECT p.* FROM (SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2030-01-01', '1 month', 2) AS s
				   FROM bs_small WHERE id = 6) x, unnest(x.s) p;

-- 3. Parallel and partitionwise plans give the serial answer.
CREATE FUNCTION bs_plan_has(query text, pattern text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line ~ pattern THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;
CREATE VIEW bs_all AS
SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 week', 60)::text AS r FROM bs;
CREATE VIEW bs_grouped AS
SELECT string_agg(r, ' ' ORDER BY grp) AS r
  FROM (SELECT grp, pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 400)::text AS r
		  FROM bs GROUP BY grp) s;
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = off;
SELECT r AS serial_all FROM bs_all \gset
SELECT r AS serial_grouped FROM bs_grouped \gset

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;	-- the workers' states come through the tuple queue
SELECT bs_plan_has('SELECT * FROM bs_all', 'Partial Aggregate') AS partial_aggregate,
	   bs_plan_has('SELECT * FROM bs_all', 'Gather') AS gather;
SELECT r = :'serial_all' AS parallel_equals_serial FROM bs_all;
SELECT bs_plan_has('SELECT * FROM bs_grouped', 'Partial (Hash|Group)?Aggregate') AS partial_aggregate,
	   bs_plan_has('SELECT * FROM bs_grouped', 'Gather') AS gather;
SELECT r = :'serial_grouped' AS parallel_equals_serial FROM bs_grouped;
RESET parallel_leader_participation;

SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
SELECT bs_plan_has('SELECT * FROM bs_all', 'Partial Aggregate') AS partial_aggregate,
	   bs_plan_has('SELECT * FROM bs_all', 'Gather') AS gather;
SELECT r = :'serial_all' AS partitionwise_equals_serial FROM bs_all;
SELECT r = :'serial_grouped' AS partitionwise_equals_serial FROM bs_grouped;
SET max_parallel_workers_per_gather = 2;
SELECT r = :'serial_all' AS both_equal_serial FROM bs_all;
SELECT r = :'serial_grouped' AS both_equal_serial FROM bs_grouped;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET enable_partitionwise_aggregate;

-- as a window function (the final function runs on the same state
-- repeatedly), and from PL/pgSQL, one plain call per row
SELECT count(*) AS window_rows,
	   bool_and(s IS NOT DISTINCT FROM (SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 4)
										  FROM bs_small b WHERE b.id <= w.id)) AS each_frame_equals_aggregate
  FROM (SELECT id, pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 4) OVER (ORDER BY id) AS s
		  FROM bs_small) w;
CREATE FUNCTION bs_plpgsql() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	s pipeline.backlog_series_state;
	o record;
BEGIN
	FOR o IN SELECT * FROM bs ORDER BY id LOOP
		s := pipeline._backlog_series_trans(s, o.amount, o.booked_at, o.fulfilled_at, '2026-01-01', '1 week', 60);
	END LOOP;
	RETURN pipeline._backlog_series_final(s)::text = (SELECT r FROM bs_all);
END
$$;
SELECT bs_plpgsql() AS plpgsql_calls_equal_aggregate;

-- 4. The state: partial states per "shard", shipped as text (as Citus
-- does), read back, combined in either order and finished.
CREATE AGGREGATE bs_partial(numeric, timestamptz, timestamptz, timestamptz, interval, integer) (
	SFUNC = pipeline._backlog_series_trans, STYPE = pipeline.backlog_series_state);
CREATE AGGREGATE bs_combine(pipeline.backlog_series_state) (
	SFUNC = pipeline._backlog_series_combine, STYPE = pipeline.backlog_series_state,
	FINALFUNC = pipeline._backlog_series_final);
CREATE TABLE bs_states AS
SELECT id % 5 AS shard, grp,
	   bs_partial(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 400)::text AS st
  FROM bs GROUP BY id % 5, grp;
SELECT count(*) AS states, count(*) FILTER (WHERE st ~ '^1 [0-9]+ 820540800000000 0:1:0 400 [0-9a-f]{16} (mixed|2) ') AS well_formed,
	   count(*) FILTER (WHERE st ~ ' ib[0-9]+=') AS with_inverted_rows,
	   count(*) FILTER (WHERE st ~ ' c[0-9]+/') AS mixed_scales
  FROM bs_states;
SELECT count(*) AS text_round_trip_changes
  FROM bs_states WHERE st::pipeline.backlog_series_state::text <> st;
SELECT string_agg(r, ' ' ORDER BY grp) = :'serial_grouped' AS shipped_states_combine_to_the_answer
  FROM (SELECT grp, bs_combine(st::pipeline.backlog_series_state ORDER BY shard)::text AS r FROM bs_states GROUP BY grp) s;
SELECT string_agg(r, ' ' ORDER BY grp) = :'serial_grouped' AS in_reverse_order_too
  FROM (SELECT grp, bs_combine(st::pipeline.backlog_series_state ORDER BY shard DESC)::text AS r FROM bs_states GROUP BY grp) s;
-- states combined across groups with plain calls: NULL on either side
SELECT pipeline._backlog_series_combine(NULL, NULL) IS NULL AS null_null,
	   pipeline._backlog_series_combine(st::pipeline.backlog_series_state, NULL)::text = st AS state_null,
	   pipeline._backlog_series_combine(NULL, st::pipeline.backlog_series_state)::text = st AS null_state,
	   pipeline._backlog_series_combine('1 0', st::pipeline.backlog_series_state)::text = st AS empty_state,
	   pipeline._backlog_series_combine(st::pipeline.backlog_series_state, '1 0')::text = st AS state_empty,
	   pipeline._backlog_series_final('1 0') IS NULL AS final_of_empty
  FROM bs_states WHERE shard = 1 AND grp = 1;
SELECT pipeline._backlog_series_combine(a.st::pipeline.backlog_series_state, b.st::pipeline.backlog_series_state)::text
	   = pipeline._backlog_series_combine(b.st::pipeline.backlog_series_state, a.st::pipeline.backlog_series_state)::text
	   AS combine_is_order_independent
  FROM bs_states a, bs_states b WHERE a.shard = 0 AND a.grp = 0 AND b.shard = 3 AND b.grp = 2;
-- binary round trip (COPY binary calls send and receive), and a table of states
CREATE TABLE bs_bin (shard int, grp int, st pipeline.backlog_series_state);
COPY (SELECT shard, grp, st::pipeline.backlog_series_state FROM bs_states) TO '/tmp/pipeline_backlog_series_state.bin' (FORMAT binary);
COPY bs_bin FROM '/tmp/pipeline_backlog_series_state.bin' (FORMAT binary);
SELECT count(*) AS copied, count(*) FILTER (WHERE b.st::text <> s.st) AS binary_round_trip_changes
  FROM bs_bin b JOIN bs_states s USING (shard, grp);
SELECT string_agg(r, ' ' ORDER BY grp) = :'serial_grouped' AS stored_states_combine_to_the_answer
  FROM (SELECT grp, bs_combine(st)::text AS r FROM bs_bin GROUP BY grp) s;

-- 5. Malformed states: 22P02 (or 22023 for another format version), and a
-- state that reads but does not add up: 22023 when finished.
CREATE FUNCTION bs_try(input text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	s pipeline.backlog_series_state;
BEGIN
	s := input::pipeline.backlog_series_state;
	PERFORM pipeline._backlog_series_final(s);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
SELECT (regexp_match(bs_partial(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 4)::text,
					 '^1 \d+ \d+ \S+ \d+ ([0-9a-f]{16}) '))[1] AS h4
  FROM bs_small \gset
SELECT input, bs_try(input) AS result
  FROM (VALUES (''), ('1'), ('2 0'), ('1 -1'), ('1 0 x'), ('1 1'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 0 0123456789abcdef - b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 100001 0123456789abcdef -'),
			   ('1 1 820540800000000 0:0:0 4 0123456789abcdef 2 b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:-1:0 4 0123456789abcdef 2 b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1 4 0123456789abcdef 2 b1=1:2:1:1.00'),
			   ('1 1 9223372036854775807 0:1:0 4 0123456789abcdef 2 b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789ABCDEF 2 b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcde 2 b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef x b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b5=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:1:1.00 b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=2:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:1:1.0'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:1:NaN'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:1:1e5'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:0:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 x1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 f1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef - b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:1:1.00 f1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b2=1:2:1:1.00 f2=1:2:1:1.00 ib2=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef mixed b1=1:2:1:1.00'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:1:1.00 c2/1=1'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef mixed b1=1:2:1:1.00 c2/1=1 c3/1=1'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef mixed b1=1:2:1:1.00 c2/1=0'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef mixed b1=1:2:1:1.00 c2/1=1 c2/1=1'),
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef mixed b1=1:2:1:1.00 c2/2=-1 c2/1=1'),
			   -- well-formed, but whose boundaries are not this session's: 22023
			   ('1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=1:2:1:1.00'),
			   -- well-formed and this session's, but the sums do not add up: 22023
			   ('1 2 820540800000000 0:1:0 4 ' || :'h4' || ' - b1=1:2:1:5.00 f1=1:2:1:3.00'),
			   -- and one that is right
			   ('1 2 820540800000000 0:1:0 4 ' || :'h4' || ' - b1=1:2:1:5.00 f1=1:2:1:5.00'),
			   ('1 2 820540800000000 0:1:0 4 ' || :'h4' || ' 2 b1=1:2:1:5.00 f3=1:2:1:5.00'),
			   ('1 2 820540800000000 0:1:0 4 ' || :'h4' || ' 2 b1=1:3:1:5.001 f3=1:3:1:5.001')
	   ) v(input);
\set VERBOSITY default
SELECT '1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b9=1:2:1:1.00'::pipeline.backlog_series_state;
SELECT '7 0'::pipeline.backlog_series_state;
\set VERBOSITY terse

-- A short fuzz run: 3000 mutations of real states, each rejected with an
-- ordinary SQLSTATE or accepted (then it reads back to itself, and the
-- final and combine functions raise no internal error).
CREATE FUNCTION bs_fuzz(n_cases int, seed float8) RETURNS TABLE (cases int, accepted int, rejected int,
	internal_errors int, round_trip_failures int) LANGUAGE plpgsql AS $$
DECLARE
	corpus text[];
	alphabet constant text := '0123456789:=/-. abcfimx';
	s text;
	state_v pipeline.backlog_series_state;
	pos int;
BEGIN
	PERFORM setseed(seed);
	SELECT array_agg(x) INTO corpus
	  FROM (SELECT bs_partial(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 4)::text AS x
			  FROM bs_small GROUP BY id % 4) p;
	corpus := corpus || ARRAY(SELECT st FROM bs_states WHERE shard = 2);
	corpus := corpus || ARRAY(SELECT bs_partial(amount, booked_at, fulfilled_at, '2026-01-01', '1 week', 8)::text
								FROM bs WHERE id < 40 GROUP BY grp);
	accepted := 0; rejected := 0; internal_errors := 0; round_trip_failures := 0;
	FOR i IN 1..n_cases LOOP
		s := corpus[1 + floor(random() * array_length(corpus, 1))::int];
		FOR k IN 1..1 + floor(random() * 3)::int LOOP
			pos := 1 + floor(random() * length(s))::int;
			CASE floor(random() * 5)::int
			WHEN 0 THEN s := overlay(s PLACING substr(alphabet, 1 + floor(random() * length(alphabet))::int, 1) FROM pos FOR 1);
			WHEN 1 THEN s := substr(s, 1, pos - 1) || substr(alphabet, 1 + floor(random() * length(alphabet))::int, 1) || substr(s, pos);
			WHEN 2 THEN s := substr(s, 1, pos - 1) || substr(s, pos + 1 + floor(random() * 3)::int);
			WHEN 3 THEN s := regexp_replace(s, '[0-9]+', (ARRAY['0', '-1', '1', '2', '400', '401', '9223372036854775807', '99999999999999999999'])[1 + floor(random() * 8)::int], 1, 1 + floor(random() * greatest(regexp_count(s, '[0-9]+'), 1))::int);
			ELSE s := substr(s, 1, pos - 1) || substr(s, pos, 12) || ' ' || substr(s, pos);
			END CASE;
		END LOOP;
		BEGIN
			state_v := s::pipeline.backlog_series_state;
			accepted := accepted + 1;
			IF state_v::text::pipeline.backlog_series_state::text <> state_v::text THEN
				round_trip_failures := round_trip_failures + 1;
			END IF;
			BEGIN
				PERFORM pipeline._backlog_series_final(state_v);
				PERFORM pipeline._backlog_series_combine(state_v, state_v);
			EXCEPTION WHEN OTHERS THEN
				IF SQLSTATE = 'XX000' THEN
					internal_errors := internal_errors + 1;
					RAISE NOTICE 'internal error % for %', SQLERRM, s;
				END IF;
			END;
		EXCEPTION WHEN OTHERS THEN
			rejected := rejected + 1;
			IF SQLSTATE = 'XX000' THEN
				internal_errors := internal_errors + 1;
				RAISE NOTICE 'internal error % for %', SQLERRM, s;
			END IF;
		END;
	END LOOP;
	cases := n_cases;
	RETURN NEXT;
END
$$;
SELECT cases, internal_errors, round_trip_failures, accepted > 0 AND rejected > 0 AS some_accepted_some_rejected
  FROM bs_fuzz(3000, 0.77);

-- 6. Every 22023 case, with its message.
CREATE FUNCTION bs_err(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE query;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
SELECT c AS call, bs_err('SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, ' || c || ') FROM bs_small') AS result
  FROM (VALUES ('''2026-01-01'', ''0'', 3'), ('''2026-01-01'', ''-1 day'', 3'), ('''2026-01-01'', ''-1 month 31 days'', 3'),
			   ('''2026-01-31'', ''1 month -29 days'', 3'), ('''2026-01-01'', ''1 day'', 0'),
			   ('''2026-01-01'', ''1 day'', -1'), ('''2026-01-01'', ''1 day'', 100001'),
			   ('''infinity'', ''1 day'', 3'), ('''-infinity'', ''1 day'', 3'),
			   ('''2026-01-01'', ''1 day'', 100000')) v(c);
-- origin, step or periods that vary within a group
SELECT bs_err($$SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01'::timestamptz + id * interval '1 hour', '1 day', 3) FROM bs_small$$) AS varying_origin;
SELECT bs_err($$SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', id * interval '1 day', 3) FROM bs_small$$) AS varying_step;
SELECT bs_err($$SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', id) FROM bs_small$$) AS varying_periods;
SELECT bs_err($$SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', CASE WHEN id < 4 THEN interval '1 day' ELSE interval '24 hours' END, 3) FROM bs_small$$) AS day_is_not_24_hours;
-- ... and partial states of different series
SELECT bs_err($$SELECT pipeline._backlog_series_combine(
	(SELECT bs_partial(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 4) FROM bs_small),
	(SELECT bs_partial(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 5) FROM bs_small))$$) AS combine_other_series;
SELECT bs_err($$SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 3) FROM bs_small WHERE amount = 'NaN'
				UNION ALL SELECT pipeline.backlog_series('NaN', now(), NULL, '2026-01-01', '1 day', 3)$$) AS nan_amount;
-- a state computed with other boundaries (another TimeZone, '1 day' across DST)
CREATE TABLE bs_utc_state AS
SELECT bs_partial(amount, booked_at, fulfilled_at, '2026-03-01', '1 day', 20)::text AS st FROM bs;
SET TimeZone = 'America/New_York';
CREATE TABLE bs_ny_state AS
SELECT bs_partial(amount, booked_at, fulfilled_at, '2026-03-01 00:00+00', '1 day', 20)::text AS st FROM bs;
SELECT bs_err($$SELECT pipeline._backlog_series_final(st::pipeline.backlog_series_state) FROM bs_utc_state$$) AS finish_in_other_zone;
SELECT bs_err($$SELECT pipeline._backlog_series_combine(u.st::pipeline.backlog_series_state, n.st::pipeline.backlog_series_state) FROM bs_utc_state u, bs_ny_state n$$) AS combine_other_zones;
SELECT pipeline._backlog_series_final(st::pipeline.backlog_series_state) IS NOT NULL AS same_zone_ok FROM bs_ny_state;
SET TimeZone = 'UTC';
-- one error in full
\set VERBOSITY default
SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', 0) FROM bs_small;
SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '-1 week', 3) FROM bs_small;
SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01', '1 day', id) FROM bs_small;
\set VERBOSITY terse

DROP FUNCTION bs_check(timestamptz, interval, int, int), bs_plan_has(text, text), bs_plpgsql(), bs_try(text),
	bs_fuzz(int, float8), bs_err(text);
DROP VIEW bs_all, bs_grouped, bs_small_per_period;
DROP AGGREGATE bs_partial(numeric, timestamptz, timestamptz, timestamptz, interval, integer), bs_combine(pipeline.backlog_series_state);
DROP TABLE bs, bs_small, bs_states, bs_bin, bs_utc_state, bs_ny_state;
