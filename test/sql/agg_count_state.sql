-- pipeline.count_state: text and binary round trips, rejection of
-- malformed, truncated and wrong-version input, combine checks, and an
-- emulation of Citus's path (per-shard states rendered as text, read back,
-- combined and finalized by plain function calls with NULL extra final
-- arguments) that must equal the single-pass answer.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

-- State-returning aggregates (what a Citus worker computes).
CREATE AGGREGATE agg_count_partial_conv(boolean) (
	SFUNC = pipeline._conversion_trans, STYPE = pipeline.count_state, COMBINEFUNC = pipeline._count_combine);
CREATE AGGREGATE agg_count_partial_reached(pipeline.stage, pipeline.stage) (
	SFUNC = pipeline._conversion_reached_trans, STYPE = pipeline.count_state, COMBINEFUNC = pipeline._count_combine);
CREATE AGGREGATE agg_count_partial_step(pipeline.stage, pipeline.stage, pipeline.stage) (
	SFUNC = pipeline._conversion_step_trans, STYPE = pipeline.count_state, COMBINEFUNC = pipeline._count_combine);
CREATE AGGREGATE agg_count_partial_win(pipeline.stage) (
	SFUNC = pipeline._win_rate_trans, STYPE = pipeline.count_state, COMBINEFUNC = pipeline._count_combine);
CREATE AGGREGATE agg_count_partial_stages(pipeline.stage) (
	SFUNC = pipeline._stage_counts_trans, STYPE = pipeline.count_state, COMBINEFUNC = pipeline._count_combine);

SELECT setseed(0.77);
CREATE TABLE agg_count_st_data AS
SELECT i AS id, i % 5 AS shard, floor(random() * 8)::int AS grp,
	   CASE WHEN random() < 0.1 THEN NULL
			ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END AS s,
	   CASE WHEN random() < 0.1 THEN NULL
			ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END AS t,
	   CASE WHEN random() < 0.1 THEN NULL ELSE random() < 0.4 END AS b
  FROM generate_series(1, 4000) i;
-- group 8 has only NULL stages, and on one shard only: untyped states.
INSERT INTO agg_count_st_data VALUES (4001, 0, 8, NULL, NULL, NULL), (4002, 0, 8, NULL, 'proposal', true);

-- Worker side: one row of text states per (shard, group).
CREATE TABLE agg_count_st_shards AS
SELECT shard, grp,
	   agg_count_partial_conv(b)::text AS conv_bool,
	   agg_count_partial_reached(s, t)::text AS conv,
	   agg_count_partial_step(s, 'qualification', t)::text AS step,
	   agg_count_partial_win(s)::text AS win,
	   agg_count_partial_stages(s)::text AS stages
  FROM agg_count_st_data GROUP BY shard, grp;
SELECT conv_bool, conv, win, stages FROM agg_count_st_shards WHERE grp = 8;

-- Text round trip of every state.
SELECT count(*) AS states,
	   count(*) FILTER (WHERE conv_bool::pipeline.count_state::text = conv_bool
						  AND conv::pipeline.count_state::text = conv
						  AND step::pipeline.count_state::text = step
						  AND win::pipeline.count_state::text = win
						  AND stages::pipeline.count_state::text = stages) AS round_trips
  FROM agg_count_st_shards;

-- Binary round trip (COPY ... FORMAT binary uses send/recv).
CREATE TABLE agg_count_st_bin (shard int, grp int, conv_bool pipeline.count_state, conv pipeline.count_state,
							   step pipeline.count_state, win pipeline.count_state, stages pipeline.count_state);
\copy (SELECT shard, grp, conv_bool::pipeline.count_state, conv::pipeline.count_state, step::pipeline.count_state, win::pipeline.count_state, stages::pipeline.count_state FROM agg_count_st_shards) TO '/tmp/agg_count_state.bin' WITH (FORMAT binary)
\copy agg_count_st_bin FROM '/tmp/agg_count_state.bin' WITH (FORMAT binary)
SELECT count(*) AS rows_back,
	   count(*) FILTER (WHERE (b.conv_bool::text, b.conv::text, b.step::text, b.win::text, b.stages::text)
						 = (t.conv_bool, t.conv, t.step, t.win, t.stages)) AS equal
  FROM agg_count_st_bin b JOIN agg_count_st_shards t USING (shard, grp);

-- Coordinator side: fold the states read back from text with the combine
-- function, called directly (no aggregate context), in either order.
CREATE FUNCTION agg_count_fold(states text[]) RETURNS pipeline.count_state
	LANGUAGE plpgsql AS $$
DECLARE
	acc pipeline.count_state;
	st text;
BEGIN
	FOREACH st IN ARRAY states LOOP
		acc := pipeline._count_combine(acc, st::pipeline.count_state);
	END LOOP;
	RETURN acc;
END
$$;
CREATE TABLE agg_count_st_coord AS
SELECT grp,
	   agg_count_fold(array_agg(conv_bool ORDER BY shard)) AS conv_bool,
	   agg_count_fold(array_agg(conv ORDER BY shard)) AS conv,
	   agg_count_fold(array_agg(step ORDER BY shard)) AS step,
	   agg_count_fold(array_agg(win ORDER BY shard)) AS win,
	   agg_count_fold(array_agg(stages ORDER BY shard)) AS stages,
	   agg_count_fold(array_agg(stages ORDER BY shard DESC)) AS stages_reversed,
	   agg_count_fold(array_agg(win ORDER BY shard DESC)) AS win_reversed
  FROM agg_count_st_shards GROUP BY grp;
SELECT count(*) AS order_dependent FROM agg_count_st_coord
 WHERE stages::text <> stages_reversed::text OR win::text <> win_reversed::text;

-- Finalize with plain calls, passing NULL for the extra final argument as
-- Citus does, and compare with the single-pass aggregates.
WITH single AS (
	SELECT grp, pipeline.conversion_rate(b) AS conv_bool, pipeline.conversion_rate(s, t) AS conv,
		   pipeline.conversion_rate(s, 'qualification', t) AS step, pipeline.win_rate(s) AS win,
		   pipeline.funnel(s) AS funnel, pipeline.furthest_stage(s) AS furthest
	  FROM agg_count_st_data GROUP BY grp),
coord AS (
	SELECT grp, pipeline._count_ratio_final(conv_bool) AS conv_bool, pipeline._count_ratio_final(conv) AS conv,
		   pipeline._count_ratio_final(step) AS step, pipeline._count_ratio_final(win) AS win,
		   pipeline._funnel_final(stages) AS funnel,
		   pipeline._furthest_stage_final(stages, NULL::pipeline.stage) AS furthest
	  FROM agg_count_st_coord)
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE (s.conv_bool, s.conv, s.step, s.win, s.funnel, s.furthest)
						 IS NOT DISTINCT FROM (c.conv_bool, c.conv, c.step, c.win, c.funnel, c.furthest)) AS equal,
	   count(*) FILTER (WHERE s.funnel IS NULL) AS null_groups
  FROM single s FULL JOIN coord c USING (grp);

-- Direct calls never modify their inputs.
SELECT st AS before, pipeline._win_rate_trans(st, 'closed_won'::pipeline.stage) AS after, st AS input_unchanged
  FROM (SELECT 'v1:win_rate:9:1,3:pipeline.stage'::pipeline.count_state AS st) x;
SELECT pipeline._count_combine(a, a) AS doubled, a AS unchanged
  FROM (SELECT 'v1:stage_counts:9:1,2,3,4,5,6,7,8,9:pipeline.stage'::pipeline.count_state AS a) x;
SELECT pipeline._count_combine(NULL, NULL) IS NULL AS both_null,
	   pipeline._count_combine(NULL, 'v1:win_rate:9:1,3:pipeline.stage') AS null_left,
	   pipeline._count_combine('v1:win_rate:9:1,3:pipeline.stage', NULL) AS null_right,
	   pipeline._count_combine('v1:win_rate:0:0,0:', 'v1:win_rate:9:1,3:pipeline.stage') AS untyped_left,
	   pipeline._count_combine('v1:stage_counts:9:0,0,0,0,0,0,0,0,1:pipeline.stage', 'v1:stage_counts:0::') AS untyped_right;
-- An inverse transition cannot remove a row that was never added.
SELECT pipeline._win_rate_inv('v1:win_rate:9:0,0:pipeline.stage', 'closed_lost'::pipeline.stage);

-- Malformed text is rejected with a clear message.
SELECT 'v2:win_rate:9:1,1:pipeline.stage'::pipeline.count_state;
SELECT 'win_rate:9:1,1:pipeline.stage'::pipeline.count_state;
SELECT ''::pipeline.count_state;
SELECT 'v1:nonsense:9:1,1:pipeline.stage'::pipeline.count_state;
SELECT 'v1:win_rate:9:2,1:pipeline.stage'::pipeline.count_state;
SELECT 'v1:win_rate:9:1:pipeline.stage'::pipeline.count_state;
SELECT 'v1:win_rate:9:1,1,1:pipeline.stage'::pipeline.count_state;
SELECT 'v1:win_rate:9:1,1'::pipeline.count_state;
SELECT 'v1:win_rate:9:1,'::pipeline.count_state;
SELECT 'v1:win_rate:9:1,1:'::pipeline.count_state;
SELECT 'v1:win_rate:9:-1,1:pipeline.stage'::pipeline.count_state;
SELECT 'v1:win_rate:9:1,99999999999999999999:pipeline.stage'::pipeline.count_state;
SELECT 'v1:win_rate:x:1,1:pipeline.stage'::pipeline.count_state;
SELECT 'v1:win_rate:0:1,1:'::pipeline.count_state;
SELECT 'v1:stage_counts:9:1,2,3:pipeline.stage'::pipeline.count_state;
SELECT 'v1:stage_counts:99999:1:pipeline.stage'::pipeline.count_state;
SELECT 'v1:conversion:9:1,2:pipeline.stage'::pipeline.count_state;
DO $$
DECLARE
	detail text;
BEGIN
	PERFORM ('v1:win_rate:9:1,1:' || repeat('x', 2000))::pipeline.count_state;
EXCEPTION WHEN invalid_text_representation THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RAISE NOTICE 'long type name rejected: %', detail;
END
$$;
SELECT E'v1:win_rate:9:1,1:pipe\tline'::pipeline.count_state;

-- Malformed binary input, written as a COPY BINARY file by hand.
CREATE FUNCTION agg_count_binary_file(field bytea) RETURNS void
	LANGUAGE plpgsql AS $$
DECLARE
	lo oid;
BEGIN
	lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
						   || '\x0001'::bytea || int4send(length(field)) || field || '\xffff'::bytea);
	PERFORM lo_export(lo, '/tmp/agg_count_state_bad.bin');
	PERFORM lo_unlink(lo);
END
$$;
CREATE FUNCTION agg_count_binary_state(version int, kind int, nstages int, counts bigint[], name text) RETURNS bytea
	LANGUAGE sql AS $$
	SELECT set_byte('\x00'::bytea, 0, version) || set_byte('\x00'::bytea, 0, kind)
		   || int4send(nstages) || int4send(cardinality(counts))
		   || coalesce((SELECT string_agg(int8send(c), '' ORDER BY o) FROM unnest(counts) WITH ORDINALITY u(c, o)), '')
		   || int2send(octet_length(name)::int2) || convert_to(name, 'UTF8')
$$;
CREATE TABLE agg_count_st_bad (st pipeline.count_state);
SELECT agg_count_binary_file(agg_count_binary_state(1, 4, 9, '{1,3}', 'pipeline.stage'));
COPY agg_count_st_bad FROM '/tmp/agg_count_state_bad.bin' (FORMAT binary);
SELECT st FROM agg_count_st_bad;
SELECT agg_count_binary_file(agg_count_binary_state(2, 4, 9, '{1,3}', 'pipeline.stage'));
COPY agg_count_st_bad FROM '/tmp/agg_count_state_bad.bin' (FORMAT binary);
SELECT agg_count_binary_file(substr(agg_count_binary_state(1, 4, 9, '{1,3}', 'pipeline.stage'), 1, 20));
COPY agg_count_st_bad FROM '/tmp/agg_count_state_bad.bin' (FORMAT binary);
SELECT agg_count_binary_file(agg_count_binary_state(1, 4, 9, '{1,3}', 'pipeline.stage') || '\x00'::bytea);
COPY agg_count_st_bad FROM '/tmp/agg_count_state_bad.bin' (FORMAT binary);
SELECT agg_count_binary_file(agg_count_binary_state(1, 4, 9, '{3,1}', 'pipeline.stage'));
COPY agg_count_st_bad FROM '/tmp/agg_count_state_bad.bin' (FORMAT binary);
SELECT agg_count_binary_file(agg_count_binary_state(1, 9, 9, '{1,3}', 'pipeline.stage'));
COPY agg_count_st_bad FROM '/tmp/agg_count_state_bad.bin' (FORMAT binary);
SELECT agg_count_binary_file(agg_count_binary_state(1, 5, 9, '{1,3}', 'pipeline.stage'));
COPY agg_count_st_bad FROM '/tmp/agg_count_state_bad.bin' (FORMAT binary);

-- States that cannot be combined or finalized together.
SELECT pipeline._count_combine('v1:win_rate:9:1,3:pipeline.stage', 'v1:conversion_reached:9:1,3:pipeline.stage');
SELECT pipeline._count_combine('v1:win_rate:9:1,3:pipeline.stage', 'v1:win_rate:9:1,3:public.other_stage');
SELECT pipeline._count_combine('v1:win_rate:9:1,3:pipeline.stage', 'v1:win_rate:10:1,3:pipeline.stage');
SELECT pipeline._count_combine('v1:win_rate:9:1,3:pipeline.stage', 'v1:conversion:0:1,3:');
SELECT pipeline._funnel_final('v1:win_rate:9:1,3:pipeline.stage');
SELECT pipeline._count_ratio_final('v1:stage_counts:9:0,0,0,0,0,0,0,0,1:pipeline.stage');
SELECT pipeline._funnel_final('v1:stage_counts:3:1,1,1:pipeline.stage');
SELECT pipeline._funnel_final('v1:stage_counts:2:1,1:public.no_such_stage_type');
SELECT pipeline._win_rate_trans('v1:stage_counts:9:0,0,0,0,0,0,0,0,1:pipeline.stage', 'closed_won'::pipeline.stage);
SELECT pipeline._win_rate_trans('v1:win_rate:9:1,3:public.other_stage', 'closed_won'::pipeline.stage);

DROP TABLE agg_count_st_bad, agg_count_st_bin, agg_count_st_coord, agg_count_st_shards, agg_count_st_data;
DROP FUNCTION agg_count_fold(text[]), agg_count_binary_file(bytea), agg_count_binary_state(int, int, int, bigint[], text);
DROP AGGREGATE agg_count_partial_conv(boolean), agg_count_partial_reached(pipeline.stage, pipeline.stage),
	agg_count_partial_step(pipeline.stage, pipeline.stage, pipeline.stage),
	agg_count_partial_win(pipeline.stage), agg_count_partial_stages(pipeline.stage);
