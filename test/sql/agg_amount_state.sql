-- pipeline.amount_state: text and binary round trips, rejection of
-- malformed input, and an emulation of Citus's distributed path (partial
-- states per shard shipped as text, read back, combined and finalized by
-- plain function calls), equal to the single-pass answer.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

SELECT setseed(0.58);
CREATE TABLE amt_st (
	id			integer PRIMARY KEY,
	stage		pipeline.stage,
	amount		numeric,
	backlog		numeric,
	sales		numeric,
	booked_at	timestamptz,
	fulfilled_at timestamptz
);
INSERT INTO amt_st
SELECT i,
	   CASE WHEN random() < 0.05 THEN NULL ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END,
	   CASE WHEN random() < 0.05 THEN NULL
			WHEN random() < 0.01 THEN round((random() - 0.4)::numeric * 1e41, 2)	-- beyond 128 bits
			ELSE round((random() * 2200 - 200)::numeric, floor(random() * 4)::int) END,
	   CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
	   CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 1000)::numeric, 3) END,
	   b, CASE WHEN random() < 0.3 THEN NULL ELSE b + floor(random() * 60) * interval '1 day' END
  FROM (SELECT i, CASE WHEN random() < 0.05 THEN NULL
					   ELSE timestamptz '2024-01-01 00:00+00' + floor(random() * 120) * interval '1 day' END AS b
		  FROM generate_series(1, 8000) i) s;

-- Aggregates that return the partial state, as Citus's worker_partial_agg
-- does on each worker.
CREATE AGGREGATE amt_partial_sums(numeric, numeric) (
	SFUNC = pipeline._backlog_sums_trans, STYPE = pipeline.amount_state);
CREATE AGGREGATE amt_partial_backlog(numeric, timestamptz, timestamptz, timestamptz) (
	SFUNC = pipeline._backlog_amount_trans, STYPE = pipeline.amount_state);
CREATE AGGREGATE amt_partial_ratio(numeric, timestamptz, timestamptz, tstzrange) (
	SFUNC = pipeline._backlog_ratio_trans, STYPE = pipeline.amount_state);
CREATE AGGREGATE amt_partial_btb(numeric, timestamptz, timestamptz, tstzrange) (
	SFUNC = pipeline._book_to_bill_trans, STYPE = pipeline.amount_state);
CREATE AGGREGATE amt_partial_win(pipeline.stage, numeric) (
	SFUNC = pipeline._win_rate_amount_trans, STYPE = pipeline.amount_state);
CREATE AGGREGATE amt_partial_weighted(pipeline.stage, numeric) (
	SFUNC = pipeline._weighted_pipeline_trans, STYPE = pipeline.amount_state);

-- one state per aggregate per "shard" (id % 5), as text
CREATE TABLE amt_shard_states AS
SELECT shard, agg, st::text AS st
  FROM (SELECT id % 5 AS shard,
			   amt_partial_sums(backlog, sales) AS s1,
			   amt_partial_backlog(amount, booked_at, fulfilled_at, '2024-02-15 00:00+00') AS s2,
			   amt_partial_ratio(amount, booked_at, fulfilled_at, tstzrange('2024-02-01 00:00+00', '2024-03-01 00:00+00', '[)')) AS s3,
			   amt_partial_btb(amount, booked_at, fulfilled_at, tstzrange(NULL, '2024-03-01 00:00+00', '[)')) AS s4,
			   amt_partial_win(stage, amount) AS s5,
			   amt_partial_weighted(stage, amount) AS s6
		  FROM amt_st GROUP BY id % 5) p,
	   LATERAL (VALUES (1, s1), (2, s2), (3, s3), (4, s4), (5, s5), (6, s6)) v(agg, st);
SELECT count(*) AS states, count(*) FILTER (WHERE st ~ '^1 [a-z_]+ [0-9]+ ') AS well_formed,
	   count(*) FILTER (WHERE length(st) > 140) > 0 AS some_spilled
  FROM amt_shard_states;

-- text round trip is the identity
SELECT count(*) AS text_round_trip_changes
  FROM amt_shard_states WHERE st::pipeline.amount_state::text <> st;

-- binary round trip through COPY
CREATE TABLE amt_bin (shard integer, agg integer, st pipeline.amount_state);
COPY (SELECT shard, agg, st::pipeline.amount_state FROM amt_shard_states) TO '/tmp/pipeline_agg_amount_state.bin' (FORMAT binary);
COPY amt_bin FROM '/tmp/pipeline_agg_amount_state.bin' (FORMAT binary);
SELECT count(*) AS copied, count(*) FILTER (WHERE b.st::text <> s.st) AS binary_round_trip_changes
  FROM amt_bin b JOIN amt_shard_states s USING (shard, agg);
-- and text COPY
TRUNCATE amt_bin;
COPY (SELECT shard, agg, st FROM amt_shard_states) TO '/tmp/pipeline_agg_amount_state.txt';
COPY amt_bin FROM '/tmp/pipeline_agg_amount_state.txt';
SELECT count(*) AS copied, count(*) FILTER (WHERE b.st::text <> s.st) AS text_copy_changes
  FROM amt_bin b JOIN amt_shard_states s USING (shard, agg);

-- Citus's coordinator: read the text back, combine with plain calls (NULL
-- on either side included), finalize with a plain call.
CREATE FUNCTION amt_fold(states text[], reverse boolean) RETURNS pipeline.amount_state
	LANGUAGE plpgsql AS $$
DECLARE
	acc pipeline.amount_state;
	s text;
BEGIN
	acc := pipeline._amount_combine(NULL, NULL);
	FOREACH s IN ARRAY CASE WHEN reverse THEN ARRAY(SELECT x FROM unnest(states) WITH ORDINALITY u(x, n) ORDER BY n DESC) ELSE states END LOOP
		acc := pipeline._amount_combine(acc, s::pipeline.amount_state);
		acc := pipeline._amount_combine(acc, NULL);
		acc := pipeline._amount_combine(NULL, acc);
	END LOOP;
	RETURN acc;
END
$$;
CREATE TABLE amt_coord AS
SELECT agg, pipeline._amount_final(amt_fold(array_agg(st ORDER BY shard), false)) AS r,
	   pipeline._amount_final(amt_fold(array_agg(st ORDER BY shard), true)) AS r_rev,
	   amt_fold(array_agg(st ORDER BY shard), false)::text = amt_fold(array_agg(st ORDER BY shard), true)::text AS same_state
  FROM amt_shard_states GROUP BY agg;
SELECT agg, c.r::text = o.r::text AS equals_single_pass, c.r_rev::text = o.r::text AS reverse_order_too, same_state
  FROM amt_coord c
  JOIN (SELECT unnest(ARRAY[1, 2, 3, 4, 5, 6]) AS agg,
			   unnest(ARRAY[pipeline.backlog_ratio(backlog, sales),
							pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-02-15 00:00+00'),
							pipeline.backlog_ratio(amount, booked_at, fulfilled_at, tstzrange('2024-02-01 00:00+00', '2024-03-01 00:00+00', '[)')),
							pipeline.book_to_bill(amount, booked_at, fulfilled_at, tstzrange(NULL, '2024-03-01 00:00+00', '[)')),
							pipeline.win_rate(stage, amount),
							pipeline.weighted_pipeline(stage, amount)]) AS r
		  FROM amt_st) o USING (agg)
 ORDER BY agg;

-- transition functions called as plain functions (no aggregate context)
-- do not modify their argument
SELECT s::text AS before, pipeline._win_rate_amount_trans(s, 'closed_won'::pipeline.stage, 2.5)::text AS after, s::text AS still
  FROM (SELECT pipeline._win_rate_amount_trans(NULL, 'closed_lost'::pipeline.stage, 10) AS s) x;
SELECT pipeline._amount_final(pipeline._weighted_pipeline_trans(
		   pipeline._weighted_pipeline_trans(NULL, 'proposal'::pipeline.stage, 100), 'negotiation'::pipeline.stage, 10.5)) AS weighted;
-- a state of one aggregate cannot be fed to another
SELECT pipeline._backlog_sums_trans('1 win_rate 1 - 1:1:1:2.5 0:-1:0:0', 1, 2);
SELECT pipeline._amount_combine('1 win_rate 1 - 1:1:1:2.5 0:-1:0:0', '1 backlog_sums 1 - 1:0:1:1 1:0:1:2');
-- periods must agree when states are combined
SELECT pipeline._amount_combine('1 book_to_bill 1 [0,100) 0:-1:0:0 0:-1:0:0', '1 book_to_bill 1 [0,200) 0:-1:0:0 0:-1:0:0');

-- hand-written states: valid ones, then malformed ones
SELECT '1 backlog_sums 0 - 0:-1:0:0 0:-1:0:0'::pipeline.amount_state AS empty_state,
	   pipeline._amount_final('1 backlog_sums 0 - 0:-1:0:0 0:-1:0:0') AS empty_final,
	   pipeline._amount_final('1 book_to_bill 3 [-inf,1000) 2:2:1:150.00 1:2:1:40.00') AS btb,
	   pipeline._amount_final(('1 backlog_amount 2 @0 2:1:1:-' || repeat('9', 50) || '.5 0:-1:0:0')::pipeline.amount_state) AS huge;
SELECT 'x'::pipeline.amount_state;
SELECT '2 backlog_sums 0 - 0:-1:0:0 0:-1:0:0'::pipeline.amount_state;
SELECT '1 no_such_kind 0 - 0:-1:0:0 0:-1:0:0'::pipeline.amount_state;
SELECT '1 backlog_sums -1 - 0:-1:0:0 0:-1:0:0'::pipeline.amount_state;
SELECT '1 backlog_sums 1 - 1:0:1:NaN 1:0:1:1'::pipeline.amount_state;
SELECT '1 backlog_sums 1 - 1:0:1:1.5 1:0:1:1'::pipeline.amount_state;
SELECT '1 backlog_sums 1 - 2:0:1:1 1:0:1:1'::pipeline.amount_state;
SELECT '1 backlog_sums 1 - 1:0:1:1 1:0:1:1 extra'::pipeline.amount_state;
SELECT '1 book_to_bill 1 - 0:-1:0:0 0:-1:0:0'::pipeline.amount_state;
SELECT '1 book_to_bill 1 [10,5) 0:-1:0:0 0:-1:0:0'::pipeline.amount_state;
SELECT '1 book_to_bill 1 [0,9223372036854775807) 0:-1:0:0 0:-1:0:0'::pipeline.amount_state;
SELECT '1 backlog_amount 1 [0,10) 0:-1:0:0 0:-1:0:0'::pipeline.amount_state;
SELECT '1 weighted_pipeline 2 - 1:2:1:1.00 1:2:1:1.00'::pipeline.amount_state;
SELECT '1 win_rate 1 - 1:2:1:1.00 1:2:1:1.00'::pipeline.amount_state;
SELECT '1 backlog_sums 1 - 1:0:1:1 1:0:1:0x10'::pipeline.amount_state;

DROP FUNCTION amt_fold(text[], boolean);
DROP AGGREGATE amt_partial_sums(numeric, numeric), amt_partial_backlog(numeric, timestamptz, timestamptz, timestamptz),
	amt_partial_ratio(numeric, timestamptz, timestamptz, tstzrange), amt_partial_btb(numeric, timestamptz, timestamptz, tstzrange),
	amt_partial_win(pipeline.stage, numeric), amt_partial_weighted(pipeline.stage, numeric);
DROP TABLE amt_st, amt_shard_states, amt_bin, amt_coord;
