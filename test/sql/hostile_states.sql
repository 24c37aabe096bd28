-- Hostile input for the aggregate state types pipeline.count_state and
-- pipeline.amount_state: text input (malformed, truncated, out of range,
-- huge), binary input (crafted bytes read back through COPY ... FORMAT
-- binary, which hands the exact bytes to the type's receive function), and
-- the support functions called by hand with states they were not made for.
-- Every case prints "ok: <result>" or "<SQLSTATE>: <message>"; the last
-- queries assert that no case ended in an internal error (XX000).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

\i test/sql/include/hostile_try.sql

-- Feeds bytes to a type's receive function: COPY writes them as one bytea
-- field of a binary COPY file, and COPY FROM reads that field back as the
-- state type.  Returns the state's text form, or SQLSTATE and message.
CREATE FUNCTION hostile_recv(typ regtype, bytes bytea) RETURNS text
	LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('data_directory') || '/hostile_recv.bin';
	r text;
BEGIN
	CREATE TEMP TABLE hostile_recv_t (v bytea);
	EXECUTE format('CREATE TEMP TABLE hostile_recv_s (v %s)', typ);
	BEGIN
		INSERT INTO hostile_recv_t VALUES (bytes);
		EXECUTE format('COPY hostile_recv_t TO %L (FORMAT binary)', f);
		EXECUTE format('COPY hostile_recv_s FROM %L (FORMAT binary)', f);
		SELECT v::text INTO r FROM hostile_recv_s;
		r := 'ok: ' || r;
	EXCEPTION WHEN OTHERS THEN
		r := SQLSTATE || ': ' || SQLERRM;
	END;
	DROP TABLE hostile_recv_t, hostile_recv_s;
	RETURN r;
END
$$;

CREATE TABLE hostile_results (id serial, suite text, label text, result text);

-- count_state text input.  Accepted states print their output form.
CREATE TEMP TABLE hostile_count_text (id serial, label text, input text);
INSERT INTO hostile_count_text (label, input) VALUES
	('empty string', ''),
	('blank', ' '),
	('only v', 'v'),
	('no kind', 'v1'),
	('version colon only', 'v1:'),
	('future version', 'v2:win_rate:9:1,1:pipeline.stage'),
	('version 0', 'v0:win_rate:9:1,1:pipeline.stage'),
	('version overflow', 'v99999999999999999999:win_rate:9:1,1:pipeline.stage'),
	('uppercase V', 'V1:win_rate:9:1,1:pipeline.stage'),
	('leading space', ' v1:win_rate:9:1,1:pipeline.stage'),
	('unknown kind', 'v1:bogus:9:1,1:pipeline.stage'),
	('kind prefix', 'v1:win:9:1,1:pipeline.stage'),
	('stage count not a number', 'v1:win_rate:x:1,1:pipeline.stage'),
	('stage count negative', 'v1:win_rate:-1:1,1:pipeline.stage'),
	('stage count too large', 'v1:win_rate:40000:1,1:pipeline.stage'),
	('stage count overflow', 'v1:win_rate:99999999999999999999:1,1:pipeline.stage'),
	('truncated after stage count', 'v1:win_rate:9'),
	('truncated in counts', 'v1:win_rate:9:1,1'),
	('truncated after comma', 'v1:win_rate:9:1,'),
	('numerator above denominator', 'v1:win_rate:9:2,1:pipeline.stage'),
	('one count', 'v1:win_rate:9:1:pipeline.stage'),
	('three counts', 'v1:win_rate:9:1,1,1:pipeline.stage'),
	('many counts', 'v1:win_rate:2:1,1,1,1,1,1,1,1,1,1,1:pipeline.stage'),
	('negative count', 'v1:win_rate:9:-1,1:pipeline.stage'),
	('plus sign', 'v1:win_rate:9:+1,1:pipeline.stage'),
	('empty count', 'v1:win_rate:9:1,,1:pipeline.stage'),
	('trailing comma', 'v1:win_rate:9:1,:pipeline.stage'),
	('space in counts', 'v1:win_rate:9:1, 1:pipeline.stage'),
	('count overflow', 'v1:win_rate:9:99999999999999999999,1:pipeline.stage'),
	('max counts', 'v1:win_rate:9:9223372036854775807,9223372036854775807:pipeline.stage'),
	('leading zeros', 'v01:win_rate:09:01,001:pipeline.stage'),
	('no counts', 'v1:win_rate:9::pipeline.stage'),
	('missing type name', 'v1:win_rate:9:1,1:'),
	('untyped ratio', 'v1:win_rate:0:0,0:'),
	('untyped ratio with rows', 'v1:win_rate:0:1,1:'),
	('untyped with a name', 'v1:win_rate:0:0,0:pipeline.stage'),
	('untyped stage counts', 'v1:stage_counts:0::'),
	('untyped stage counts with counts', 'v1:stage_counts:0:0,0:'),
	('conversion', 'v1:conversion:0:1,2:'),
	('conversion with stages', 'v1:conversion:9:1,2:'),
	('conversion with a name', 'v1:conversion:0:1,2:pipeline.stage'),
	('stage counts too few', 'v1:stage_counts:3:1,2:public.t'),
	('stage counts too many', 'v1:stage_counts:3:1,2,3,4:public.t'),
	('stage counts ok', 'v1:stage_counts:3:1,2,3:public.t'),
	('control character in name', E'v1:win_rate:9:1,1:pipeline.\tstage'),
	('DEL in name', E'v1:win_rate:9:1,1:pipeline.\x7fstage'),
	('colon in name', 'v1:win_rate:9:1,1:pipeline.stage:extra'),
	('non-ASCII name', 'v1:win_rate:9:1,1:pipeline.étape'),
	('name 1024 bytes', 'v1:win_rate:9:1,1:' || repeat('n', 1024)),
	('name 1025 bytes', 'v1:win_rate:9:1,1:' || repeat('n', 1025)),
	('1000 stages (the limit)', 'v1:stage_counts:1000:' || repeat('0,', 999) || '1:s.t'),
	('1001 stages', 'v1:stage_counts:1001:' || repeat('0,', 1000) || '1:s.t'),
	('32768 stages', 'v1:stage_counts:32768:' || repeat('0,', 32767) || '1:s.t');
INSERT INTO hostile_results (suite, label, result)
SELECT 'count_state text', label,
	   CASE WHEN r LIKE 'ok: %' AND length(r) > 120
			THEN 'ok: ' || length(r) || ' chars, ' || md5(r)
			ELSE r END
  FROM hostile_count_text,
	   LATERAL hostile_try(format('SELECT %L::pipeline.count_state', input)) AS r
 ORDER BY id;

-- Every accepted text form round-trips: out(in(out(in(x)))) = out(in(x)).
SELECT label, input
  FROM hostile_count_text
 WHERE CASE WHEN hostile_try(format('SELECT %L::pipeline.count_state', input)) LIKE 'ok: %'
			 THEN input::pipeline.count_state::text::pipeline.count_state::text
				  IS DISTINCT FROM input::pipeline.count_state::text
			 ELSE false END;

-- count_state binary input.  Layout: version byte, kind byte, int32 stage
-- count, int32 number of counts, int64 counts, int16 name length, name.
CREATE TEMP TABLE hostile_count_bin (id serial, label text, bytes bytea);
INSERT INTO hostile_count_bin (label, bytes) VALUES
	('valid', '\x0104000000090000000200000000000000010000000000000001000e706970656c696e652e7374616765'),
	('valid untyped', '\x010500000000000000000000'),
	('empty', ''),
	('one byte', '\x01'),
	('version 2', '\x0204000000090000000200000000000000010000000000000001000e706970656c696e652e7374616765'),
	('version 0', '\x00'),
	('kind 0', '\x0100000000090000000200000000000000010000000000000001000e706970656c696e652e7374616765'),
	('kind 200', '\x01c8000000090000000200000000000000010000000000000001000e706970656c696e652e7374616765'),
	('truncated stage count', '\x010400'),
	('negative stage count', '\x0104ffffffff0000000200000000000000010000000000000001000e706970656c696e652e7374616765'),
	('stage count above the limit', '\x0104000003e90000000200000000000000010000000000000001000e706970656c696e652e7374616765'),
	('huge number of counts', '\x0104000000097fffffff'),
	('negative number of counts', '\x010400000009ffffffff'),
	('counts missing', '\x01040000000900000002'),
	('truncated count', '\x0104000000090000000200000000000000010000'),
	('name length missing', '\x010400000009000000020000000000000001000000000000000100'),
	('negative name length', '\x0104000000090000000200000000000000010000000000000001ffff'),
	('name longer than message', '\x0104000000090000000200000000000000010000000000000001000f706970656c696e652e7374616765'),
	('trailing byte', '\x0104000000090000000200000000000000010000000000000001000e706970656c696e652e737461676500'),
	('NUL in name', '\x0104000000090000000200000000000000010000000000000001000e706970656c696e65007374616765'),
	('negative count', '\x010400000009000000020000000000000001ffffffffffffffff000e706970656c696e652e7374616765'),
	('numerator above denominator', '\x0104000000090000000200000000000000020000000000000001000e706970656c696e652e7374616765'),
	('wrong number of counts', '\x01040000000900000001000000000000000100000e706970656c696e652e7374616765'),
	('stage counts mismatch', '\x01050000000300000002000000000000000100000000000000010003612e62');
INSERT INTO hostile_results (suite, label, result)
SELECT 'count_state binary', label, hostile_recv('pipeline.count_state', bytes)
  FROM hostile_count_bin ORDER BY id;

-- send and recv are inverses for valid states of every kind.
SELECT s::text AS state,
	   hostile_recv('pipeline.count_state', pipeline.count_state_send(s)) = 'ok: ' || s::text AS round_trips
  FROM (VALUES ('v1:conversion:0:1,2:'::pipeline.count_state),
			   ('v1:conversion_reached:9:0,5:pipeline.stage'),
			   ('v1:conversion_step:9:3,3:pipeline.stage'),
			   ('v1:win_rate:0:0,0:'),
			   ('v1:stage_counts:0::'),
			   ('v1:stage_counts:3:1,0,9223372036854775807:public.t')) AS v(s);

-- amount_state text input: "1 <kind> <rows> <param> <sum> <sum>", a sum
-- being <count>:<scale>:<count at scale>:<value>.
CREATE TEMP TABLE hostile_amount_text (id serial, label text, input text);
INSERT INTO hostile_amount_text (label, input) VALUES
	('empty string', ''),
	('blank', '   '),
	('version only', '1'),
	('five fields', '1 backlog_sums 0 - 0:-1:0:0'),
	('seven fields', '1 backlog_sums 0 - 0:-1:0:0 0:-1:0:0 x'),
	('valid empty', '1 backlog_sums 0 - 0:-1:0:0 0:-1:0:0'),
	('extra spaces', '  1   backlog_sums 0 -  0:-1:0:0 0:-1:0:0  '),
	('tab separated', E'1\tbacklog_sums\t0\t-\t0:-1:0:0\t0:-1:0:0'),
	('future version', '2 backlog_sums 0 - 0:-1:0:0 0:-1:0:0'),
	('version not a number', 'x backlog_sums 0 - 0:-1:0:0 0:-1:0:0'),
	('version overflow', '99999999999999999999 backlog_sums 0 - 0:-1:0:0 0:-1:0:0'),
	('unknown kind', '1 bogus 0 - 0:-1:0:0 0:-1:0:0'),
	('rows negative', '1 backlog_sums -1 - 0:-1:0:0 0:-1:0:0'),
	('rows not a number', '1 backlog_sums x - 0:-1:0:0 0:-1:0:0'),
	('rows overflow', '1 backlog_sums 9223372036854775808 - 0:-1:0:0 0:-1:0:0'),
	('valid sums', '1 backlog_sums 2 - 2:2:1:10.50 2:0:2:3'),
	('sums count differs from rows', '1 backlog_sums 2 - 1:2:1:10.50 2:0:2:3'),
	('count above rows', '1 weighted_pipeline 1 - 2:0:1:3 0:-1:0:0'),
	('scale count above count', '1 weighted_pipeline 2 - 1:0:2:3 0:-1:0:0'),
	('scale count zero', '1 weighted_pipeline 1 - 1:0:0:3 0:-1:0:0'),
	('scale mismatch', '1 weighted_pipeline 1 - 1:2:1:1.5 0:-1:0:0'),
	('scale negative', '1 weighted_pipeline 1 - 1:-2:1:1 0:-1:0:0'),
	('scale too large', '1 weighted_pipeline 1 - 1:16384:1:1 0:-1:0:0'),
	('scale overflow', '1 weighted_pipeline 1 - 1:99999999999:1:1 0:-1:0:0'),
	('exponent in value', '1 weighted_pipeline 1 - 1:0:1:1e5 0:-1:0:0'),
	('NaN value', '1 weighted_pipeline 1 - 1:0:1:NaN 0:-1:0:0'),
	('Infinity value', '1 weighted_pipeline 1 - 1:0:1:Infinity 0:-1:0:0'),
	('sign only', '1 weighted_pipeline 1 - 1:0:1:- 0:-1:0:0'),
	('dot only', '1 weighted_pipeline 1 - 1:0:1:. 0:-1:0:0'),
	('negative value', '1 weighted_pipeline 1 - 1:2:1:-0.25 0:-1:0:0'),
	('sum fields missing', '1 weighted_pipeline 1 - 1:0:1 0:-1:0:0'),
	('sum fields extra', '1 weighted_pipeline 1 - 1:0:1:3:4 0:-1:0:0'),
	('second sum on a one-sum kind', '1 weighted_pipeline 1 - 1:0:1:3 1:0:1:3'),
	('empty sum written wrong', '1 weighted_pipeline 1 - 1:0:1:3 0:0:0:0'),
	('no rows but a sum', '1 weighted_pipeline 0 - 1:0:1:3 0:-1:0:0'),
	('won and lost above rows', '1 win_rate 1 - 1:0:1:3 1:0:1:4'),
	('param on a kind without one', '1 weighted_pipeline 1 @0 1:0:1:3 0:-1:0:0'),
	('as_of', '1 backlog_amount 1 @0 1:0:1:3 0:-1:0:0'),
	('as_of missing', '1 backlog_amount 1 - 1:0:1:3 0:-1:0:0'),
	('as_of not a number', '1 backlog_amount 1 @x 1:0:1:3 0:-1:0:0'),
	('as_of infinite', '1 backlog_amount 1 @9223372036854775807 1:0:1:3 0:-1:0:0'),
	('period on backlog_amount', '1 backlog_amount 1 [0,10) 1:0:1:3 0:-1:0:0'),
	('empty on backlog_amount', '1 backlog_amount 1 empty 0:-1:0:0 0:-1:0:0'),
	('period', '1 backlog_ratio 1 [0,10) 1:0:1:3 0:-1:0:0'),
	('period unbounded lower', '1 book_to_bill 1 [-inf,10) 1:0:1:3 1:0:1:2'),
	('period lower above upper', '1 backlog_ratio 1 [10,0) 1:0:1:3 0:-1:0:0'),
	('period lower equals upper', '1 backlog_ratio 1 [10,10) 1:0:1:3 0:-1:0:0'),
	('period upper infinite', '1 backlog_ratio 1 [0,9223372036854775807) 1:0:1:3 0:-1:0:0'),
	('period upper -inf', '1 backlog_ratio 1 [0,-inf) 1:0:1:3 0:-1:0:0'),
	('period inclusive upper', '1 backlog_ratio 1 [0,10] 1:0:1:3 0:-1:0:0'),
	('period exclusive lower', '1 backlog_ratio 1 (0,10) 1:0:1:3 0:-1:0:0'),
	('period no comma', '1 backlog_ratio 1 [010) 1:0:1:3 0:-1:0:0'),
	('period only bracket', '1 backlog_ratio 1 [ 1:0:1:3 0:-1:0:0'),
	('period missing with rows', '1 backlog_ratio 1 - 1:0:1:3 0:-1:0:0'),
	('empty period', '1 backlog_ratio 1 empty 0:-1:0:0 0:-1:0:0'),
	('empty period with a sum', '1 backlog_ratio 1 empty 1:0:1:3 0:-1:0:0'),
	('huge sum 1e130000', '1 weighted_pipeline 1 - 1:0:1:1' || repeat('0', 130000) || ' 0:-1:0:0'),
	('sum past numeric range', '1 weighted_pipeline 1 - 1:0:1:1' || repeat('0', 131072) || ' 0:-1:0:0'),
	('tiny sum 1e-16383', '1 weighted_pipeline 1 - 1:16383:1:0.' || repeat('0', 16382) || '1 0:-1:0:0');
INSERT INTO hostile_results (suite, label, result)
SELECT 'amount_state text', label,
	   CASE WHEN r LIKE 'ok: %' AND length(r) > 120
			THEN 'ok: ' || length(r) || ' chars, ' || md5(r)
			WHEN length(r) > 300
			THEN left(r, 120) || '... (' || length(r) || ' chars)'
			ELSE r END
  FROM hostile_amount_text,
	   LATERAL hostile_try(format('SELECT %L::pipeline.amount_state', input)) AS r
 ORDER BY id;

SELECT label
  FROM hostile_amount_text
 WHERE CASE WHEN hostile_try(format('SELECT %L::pipeline.amount_state', input)) LIKE 'ok: %'
			 THEN input::pipeline.amount_state::text::pipeline.amount_state::text
				  IS DISTINCT FROM input::pipeline.amount_state::text
			 ELSE false END;

-- amount_state binary input: version, kind, int16 flags, int64 rows, lower,
-- upper, then per sum int64 count, int32 scale, int64 count at scale and the
-- value as a NUL-terminated string.
CREATE TEMP TABLE hostile_amount_bin (id serial, label text, bytes bytea);
INSERT INTO hostile_amount_bin (label, bytes)
SELECT label, decode(hex, 'hex') FROM (VALUES
	('valid empty',
	 '0101' || '0000' || repeat('00', 24) || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'
			 || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'),
	('valid one row',
	 '0106' || '0000' || '0000000000000001' || repeat('00', 16)
			 || '0000000000000001' || '00000000' || '0000000000000001' || '3700'
			 || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'),
	('empty', ''),
	('version only', '01'),
	('version 2', '02'),
	('kind 0', '0100'),
	('kind 7', '0107' || '0000' || repeat('00', 24) || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'
			 || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'),
	('unknown flags', '0101' || 'fff0' || repeat('00', 24) || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'
			 || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'),
	('truncated header', '01010000000000'),
	('value without NUL', '0106' || '0000' || '0000000000000001' || repeat('00', 16)
			 || '0000000000000001' || '00000000' || '0000000000000001' || '37'),
	('value not a number', '0106' || '0000' || '0000000000000001' || repeat('00', 16)
			 || '0000000000000001' || '00000000' || '0000000000000001' || '4e614e00'
			 || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'),
	('negative rows', '0106' || '0000' || 'ffffffffffffffff' || repeat('00', 16)
			 || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'
			 || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'),
	('trailing byte', '0101' || '0000' || repeat('00', 24) || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000'
			 || repeat('00', 8) || 'ffffffff' || repeat('00', 8) || '3000' || '00')
) AS v(label, hex);
INSERT INTO hostile_results (suite, label, result)
SELECT 'amount_state binary', label, hostile_recv('pipeline.amount_state', bytes)
  FROM hostile_amount_bin ORDER BY id;

SELECT s::text AS state,
	   hostile_recv('pipeline.amount_state', pipeline.amount_state_send(s)) = 'ok: ' || s::text AS round_trips
  FROM (VALUES ('1 backlog_sums 2 - 2:2:1:10.50 2:0:2:3'::pipeline.amount_state),
			   ('1 backlog_amount 1 @-5 1:0:1:-3 0:-1:0:0'),
			   ('1 book_to_bill 1 [-inf,10) 1:0:1:3 1:0:1:2'),
			   ('1 backlog_ratio 1 empty 0:-1:0:0 0:-1:0:0'),
			   ('1 win_rate 3 - 1:0:1:100000000000000000000000000000000000000000 2:1:1:-0.5')) AS v(s);

-- Support functions called by hand with states they were not made for.
CREATE TYPE hostile_other AS ENUM ('a', 'b', 'c');
CREATE TEMP TABLE hostile_calls (id serial, label text, q text);
INSERT INTO hostile_calls (label, q) VALUES
	('combine NULL, NULL', $q$SELECT pipeline._count_combine(NULL, NULL)$q$),
	('combine state, NULL', $q$SELECT pipeline._count_combine('v1:win_rate:9:1,2:pipeline.stage', NULL)$q$),
	('combine NULL, state', $q$SELECT pipeline._count_combine(NULL, 'v1:win_rate:9:1,2:pipeline.stage')$q$),
	('combine kinds differ', $q$SELECT pipeline._count_combine('v1:win_rate:9:1,2:pipeline.stage', 'v1:conversion_reached:9:1,2:pipeline.stage')$q$),
	('combine types differ', $q$SELECT pipeline._count_combine('v1:win_rate:9:1,2:pipeline.stage', 'v1:win_rate:3:1,2:public.hostile_other')$q$),
	('combine label counts differ', $q$SELECT pipeline._count_combine('v1:win_rate:9:1,2:pipeline.stage', 'v1:win_rate:8:1,2:pipeline.stage')$q$),
	('combine untyped with typed', $q$SELECT pipeline._count_combine('v1:stage_counts:0::', 'v1:stage_counts:3:1,2,3:public.t')$q$),
	('combine typed with untyped', $q$SELECT pipeline._count_combine('v1:stage_counts:3:1,2,3:public.t', 'v1:stage_counts:0::')$q$),
	('combine untyped of another kind', $q$SELECT pipeline._count_combine('v1:stage_counts:3:1,2,3:public.t', 'v1:win_rate:0:0,0:')$q$),
	('combine overflow', $q$SELECT pipeline._count_combine('v1:win_rate:9:0,9223372036854775807:pipeline.stage', 'v1:win_rate:9:0,1:pipeline.stage')$q$),
	('ratio final of stage counts', $q$SELECT pipeline._count_ratio_final('v1:stage_counts:3:1,2,3:public.t')$q$),
	('ratio final, zero denominator', $q$SELECT pipeline._count_ratio_final('v1:win_rate:9:0,0:pipeline.stage')$q$),
	('ratio final, untyped', $q$SELECT pipeline._count_ratio_final('v1:win_rate:0:0,0:')$q$),
	('ratio final, max counts', $q$SELECT pipeline._count_ratio_final('v1:conversion:0:9223372036854775807,9223372036854775807:')$q$),
	('funnel final of a ratio state', $q$SELECT pipeline._funnel_final('v1:win_rate:9:1,2:pipeline.stage')$q$),
	('funnel final, untyped', $q$SELECT pipeline._funnel_final('v1:stage_counts:0::')$q$),
	('funnel final, empty', $q$SELECT pipeline._funnel_final('v1:stage_counts:9:0,0,0,0,0,0,0,0,0:pipeline.stage')$q$),
	('funnel final, valid', $q$SELECT pipeline._funnel_final('v1:stage_counts:9:1,0,0,0,0,2,1,0,4:pipeline.stage')$q$),
	('funnel final, label count differs', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:pipeline.stage')$q$),
	('funnel final, unregistered enum', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:public.hostile_other')$q$),
	('funnel final, not an enum', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:pg_catalog.int4')$q$),
	('funnel final, no such type', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:nope.nope')$q$),
	('funnel final, unqualified', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:hostile_other')$q$),
	('funnel final, three-part name', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:a.b.c')$q$),
	('funnel final, bad quoting', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:"pipeline.stage')$q$),
	('funnel final, name is a dot', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:.')$q$),
	('funnel final, name with a colon', $q$SELECT pipeline._funnel_final('v1:stage_counts:3:1,2,3:pipeline.stage:x')$q$),
	('furthest of a ratio state', $q$SELECT pipeline._furthest_stage_value('v1:win_rate:9:1,2:pipeline.stage', NULL::pipeline.stage)$q$),
	('furthest, other result type', $q$SELECT pipeline._furthest_stage_value('v1:stage_counts:9:1,0,0,0,0,0,0,0,0:pipeline.stage', NULL::hostile_other)$q$),
	('furthest, all lost', $q$SELECT pipeline._furthest_stage_value('v1:stage_counts:9:0,0,0,0,0,0,0,0,5:pipeline.stage', NULL::pipeline.stage)$q$),
	('furthest, valid', $q$SELECT pipeline._furthest_stage_value('v1:stage_counts:9:1,0,3,0,0,0,0,0,5:pipeline.stage', 'closed_won'::pipeline.stage)$q$),
	('furthest, NULL state', $q$SELECT pipeline._furthest_stage_value(NULL, NULL::pipeline.stage)$q$),
	('trans, NULL state and value', $q$SELECT pipeline._win_rate_trans(NULL, NULL::pipeline.stage)$q$),
	('trans, state of another kind', $q$SELECT pipeline._win_rate_trans('v1:stage_counts:9:0,0,0,0,0,0,0,0,0:pipeline.stage', 'proposal'::pipeline.stage)$q$),
	('trans, state of another type', $q$SELECT pipeline._win_rate_trans('v1:win_rate:3:0,0:public.hostile_other', 'proposal'::pipeline.stage)$q$),
	('trans, state with other label count', $q$SELECT pipeline._stage_counts_trans('v1:stage_counts:3:0,0,0:pipeline.stage', 'proposal'::pipeline.stage)$q$),
	('trans, unregistered enum', $q$SELECT pipeline._win_rate_trans(NULL, 'a'::hostile_other)$q$),
	('trans, untyped state', $q$SELECT pipeline._stage_counts_trans('v1:stage_counts:0::', 'proposal'::pipeline.stage)$q$),
	('trans, count at maximum', $q$SELECT pipeline._conversion_trans('v1:conversion:0:0,9223372036854775807:', true)$q$),
	('inverse below zero', $q$SELECT pipeline._stage_counts_inv('v1:stage_counts:9:0,0,0,0,0,0,0,0,0:pipeline.stage', 'proposal'::pipeline.stage)$q$),
	('inverse of conversion below zero', $q$SELECT pipeline._conversion_inv('v1:conversion:0:0,0:', true)$q$),
	('inverse with NULL state', $q$SELECT pipeline._win_rate_inv(NULL, 'closed_won'::pipeline.stage)$q$),
	('step trans, mixed NULLs', $q$SELECT pipeline._conversion_step_trans(NULL, 'proposal'::pipeline.stage, NULL, 'closed_won')$q$),
	('reached trans, state of conversion', $q$SELECT pipeline._conversion_reached_trans('v1:conversion:0:0,0:', 'proposal'::pipeline.stage, 'closed_won')$q$),
	('amount combine NULL, NULL', $q$SELECT pipeline._amount_combine(NULL, NULL)$q$),
	('amount combine kinds differ', $q$SELECT pipeline._amount_combine('1 backlog_sums 1 - 1:0:1:1 1:0:1:1', '1 weighted_pipeline 1 - 1:0:1:3 0:-1:0:0')$q$),
	('amount combine periods differ', $q$SELECT pipeline._amount_combine('1 backlog_ratio 1 [0,10) 1:0:1:3 0:-1:0:0', '1 backlog_ratio 1 [0,20) 1:0:1:3 0:-1:0:0')$q$),
	('amount combine empty with period', $q$SELECT pipeline._amount_combine('1 backlog_ratio 1 empty 0:-1:0:0 0:-1:0:0', '1 backlog_ratio 1 [0,20) 1:0:1:3 0:-1:0:0')$q$),
	('amount combine as_of differs', $q$SELECT pipeline._amount_combine('1 backlog_amount 1 @0 1:0:1:3 0:-1:0:0', '1 backlog_amount 1 @1 1:0:1:3 0:-1:0:0')$q$),
	('amount combine row overflow', $q$SELECT pipeline._amount_combine('1 weighted_pipeline 9223372036854775807 - 0:-1:0:0 0:-1:0:0', '1 weighted_pipeline 1 - 1:0:1:3 0:-1:0:0')$q$),
	('amount combine huge sums', $q$SELECT length(pipeline._amount_final(pipeline._amount_combine(('1 weighted_pipeline 1 - 1:0:1:9' || repeat('9', 130000) || ' 0:-1:0:0')::pipeline.amount_state, ('1 weighted_pipeline 1 - 1:0:1:9' || repeat('9', 130000) || ' 0:-1:0:0')::pipeline.amount_state))::text)$q$),
	('amount combine past numeric range', $q$SELECT length(pipeline._amount_final(pipeline._amount_combine(('1 weighted_pipeline 1 - 1:0:1:9' || repeat('9', 131071) || ' 0:-1:0:0')::pipeline.amount_state, ('1 weighted_pipeline 1 - 1:0:1:9' || repeat('9', 131071) || ' 0:-1:0:0')::pipeline.amount_state))::text)$q$),
	('amount final of each kind', $q$SELECT pipeline._amount_final(s::pipeline.amount_state) FROM unnest(ARRAY[
		'1 backlog_sums 2 - 2:2:1:10.50 2:0:2:3', '1 backlog_sums 1 - 1:0:1:1 1:0:1:0',
		'1 backlog_amount 1 @0 1:0:1:3 0:-1:0:0', '1 backlog_ratio 1 empty 0:-1:0:0 0:-1:0:0',
		'1 book_to_bill 1 [-inf,10) 1:0:1:3 1:0:1:2', '1 win_rate 2 - 1:0:1:3 1:0:1:-3',
		'1 weighted_pipeline 0 - 0:-1:0:0 0:-1:0:0']) AS s$q$),
	('amount trans, state of another kind', $q$SELECT pipeline._backlog_amount_trans('1 weighted_pipeline 1 - 1:0:1:3 0:-1:0:0', 1, now(), NULL, now())$q$),
	('amount trans, state for another as_of', $q$SELECT pipeline._backlog_amount_trans('1 backlog_amount 1 @0 1:0:1:3 0:-1:0:0', 1, '2000-01-01 00:00:00+00', NULL, '2001-01-01 00:00:00+00')$q$),
	('amount inverse below zero', $q$SELECT pipeline._weighted_pipeline_inv('1 weighted_pipeline 0 - 0:-1:0:0 0:-1:0:0', 'proposal'::pipeline.stage, 5)$q$),
	('amount inverse of another sum', $q$SELECT pipeline._backlog_sums_inv('1 backlog_sums 1 - 1:0:1:1 1:0:1:1', 5, 7)$q$),
	('amount trans, row count at maximum', $q$SELECT pipeline._backlog_sums_trans('1 backlog_sums 9223372036854775807 - 9223372036854775807:0:9223372036854775807:5 9223372036854775807:0:9223372036854775807:5', 1, 1)$q$),
	('amount trans, row count at maximum, open stage', $q$SELECT pipeline._weighted_pipeline_trans('1 weighted_pipeline 9223372036854775807 - 0:-1:0:0 0:-1:0:0', 'closed_won'::pipeline.stage, 1)$q$),
	('amount state of 1e-16383 reads back', $q$SELECT s::text::pipeline.amount_state::text = s::text FROM pipeline._backlog_sums_trans(NULL, 1e-16383, 1e-1001) AS s$q$),
	('amount state of -1e130000 reads back', $q$SELECT s::text::pipeline.amount_state::text = s::text FROM pipeline._weighted_pipeline_trans(NULL, 'proposal'::pipeline.stage, -1e130000) AS s$q$),
	('trans, denominator at maximum', $q$SELECT pipeline._win_rate_trans('v1:win_rate:9:0,9223372036854775807:pipeline.stage', 'closed_lost'::pipeline.stage)$q$),
	('trans, stage count at maximum', $q$SELECT pipeline._stage_counts_trans('v1:stage_counts:9:0,0,0,0,9223372036854775807,0,0,0,0:pipeline.stage', 'proposal'::pipeline.stage)$q$),
	('amount win_rate trans, unregistered enum', $q$SELECT pipeline._win_rate_amount_trans(NULL, 'a'::hostile_other, 5)$q$);
INSERT INTO hostile_results (suite, label, result)
SELECT 'support functions', label, hostile_try(q) FROM hostile_calls ORDER BY id;

SELECT suite, label, result FROM hostile_results ORDER BY id;

-- No case may end in an internal error.
SELECT suite, label, result FROM hostile_results WHERE result LIKE 'XX%';

DROP TABLE hostile_results;
DROP TYPE hostile_other;
DROP FUNCTION hostile_try(text), hostile_recv(regtype, bytea);
