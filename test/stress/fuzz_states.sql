-- Fuzzer for the state types' input functions (pipeline.count_state and
-- pipeline.amount_state), in PL/pgSQL so that it needs nothing but psql.
-- Loaded by tools/run-stress.sh (`make stress`; STRESS_ONLY=fuzz runs
-- only this part).
--
-- Each case takes a valid state from a corpus made by the aggregates
-- themselves, mutates it (replace, insert, delete, truncate, duplicate,
-- interesting numbers, other kind names, separators, or a random string)
-- and feeds it to the text input function.  A case must be either
--   accepted: then out(in(x)) reads back to itself, and the state survives
--             the combine, transition and final functions (which may raise
--             ordinary errors, never an internal one), or
--   rejected: with an SQLSTATE that is not XX000 (internal error).
-- Binary cases mutate the send output and read it back through binary
-- COPY, which calls the receive function on the exact bytes.
-- A crash ends the session, so the caller's psql fails.

-- A registered custom stage type, for states that name another type.
CREATE TYPE public.fuzz_deal AS ENUM ('new', 'talk', 'won', 'lost');
SELECT pipeline.define_stages('public.fuzz_deal', won => ARRAY['won'], lost => ARRAY['lost']);

CREATE FUNCTION fuzz_pick(a text[]) RETURNS text
	LANGUAGE sql VOLATILE AS $$ SELECT a[1 + floor(random() * array_length(a, 1))::int] $$;

CREATE FUNCTION fuzz_mutate(s text) RETURNS text
	LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	alphabet constant text := E'0123456789:,v-. @[)(]+eiknptsxyz_é\t\x01\x7f';
	numbers constant text[] := ARRAY['0', '-1', '1', '-0', '00', '2', '9', '10', '32767', '32768', '65535',
		'1024', '1025', '2147483647', '2147483648', '-2147483649', '9223372036854775807',
		'9223372036854775808', '-9223372036854775808', '99999999999999999999', '1e5', 'NaN',
		'Infinity', '-inf', '16383', '16384', '1000', '1001', '0.5', '.', '-', '',
		repeat('9', 300), '0.' || repeat('0', 1100) || '1'];
	words constant text[] := ARRAY['conversion', 'conversion_reached', 'conversion_step', 'win_rate',
		'stage_counts', 'backlog_sums', 'backlog_amount', 'backlog_ratio', 'book_to_bill',
		'weighted_pipeline', 'empty', '-', '@0', '[-inf,0)', '[0,1)', '[1,0)', 'pipeline.stage',
		'public.fuzz_deal', 'pg_catalog.int4', 'nope.nope', '"x"."y"', 'v1', 'v2', '0:-1:0:0',
		'1:0:1:1', '::', ',,'];
	n int := 1 + floor(random() * 3)::int;
	op int;
	pos int;
	len int;
	m int;
BEGIN
	IF random() < 0.03 THEN
		-- an entirely random string
		s := '';
		FOR i IN 1..floor(random() * 60)::int LOOP
			s := s || substr(alphabet, 1 + floor(random() * length(alphabet))::int, 1);
		END LOOP;
		RETURN s;
	END IF;
	FOR k IN 1..n LOOP
		op := floor(random() * 9)::int;
		len := length(s);
		pos := 1 + floor(random() * (len + 1))::int;
		CASE op
		WHEN 0 THEN		-- replace one character
			s := overlay(s PLACING substr(alphabet, 1 + floor(random() * length(alphabet))::int, 1)
						 FROM pos FOR 1);
		WHEN 1 THEN		-- insert one character
			s := substr(s, 1, pos - 1) || substr(alphabet, 1 + floor(random() * length(alphabet))::int, 1)
				 || substr(s, pos);
		WHEN 2 THEN		-- delete a few characters
			s := substr(s, 1, pos - 1) || substr(s, pos + 1 + floor(random() * 3)::int);
		WHEN 3 THEN		-- truncate
			s := substr(s, 1, pos - 1);
		WHEN 4 THEN		-- duplicate a stretch
			len := 1 + floor(random() * 20)::int;
			s := substr(s, 1, pos + len - 1) || substr(s, pos, len) || substr(s, pos + len);
		WHEN 5, 6 THEN	-- one number becomes an interesting one
			m := regexp_count(s, '[0-9]+');
			IF m > 0 THEN
				s := regexp_replace(s, '[0-9]+', fuzz_pick(numbers), 1, 1 + floor(random() * m)::int);
			END IF;
		WHEN 7 THEN		-- one word becomes another kind, type or field
			m := regexp_count(s, '[a-z_.@\[\]-]+');
			IF m > 0 THEN
				s := regexp_replace(s, '[a-z_.@\[\]-]+', fuzz_pick(words), 1, 1 + floor(random() * m)::int);
			END IF;
		ELSE			-- a separator more or less
			s := substr(s, 1, pos - 1) || fuzz_pick(ARRAY[':', ',', ' ', '  ', '[', ')', '@', '-', ':0', ',0', ' 0'])
				 || substr(s, pos + floor(random() * 2)::int);
		END CASE;
	END LOOP;
	RETURN s;
END
$$;

CREATE FUNCTION fuzz_mutate_bytes(b bytea) RETURNS bytea
	LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n int := 1 + floor(random() * 3)::int;
	len int;
	pos int;
BEGIN
	FOR k IN 1..n LOOP
		len := length(b);
		pos := floor(random() * greatest(len, 1))::int;
		CASE floor(random() * 6)::int
		WHEN 0 THEN		-- flip a byte
			IF len > 0 THEN
				b := set_byte(b, pos, floor(random() * 256)::int);
			END IF;
		WHEN 1 THEN		-- a byte becomes 0x00, 0x7f, 0x80 or 0xff
			IF len > 0 THEN
				b := set_byte(b, pos, (ARRAY[0, 127, 128, 255])[1 + floor(random() * 4)::int]);
			END IF;
		WHEN 2 THEN		-- truncate
			b := substr(b, 1, pos);
		WHEN 3 THEN		-- insert random bytes
			b := substr(b, 1, pos) || decode(md5(random()::text), 'hex')::bytea
				 || substr(b, pos + 1);
			b := substr(b, 1, pos + 1 + floor(random() * 8)::int) || substr(b, pos + 17);
		WHEN 4 THEN		-- delete bytes
			b := substr(b, 1, pos) || substr(b, pos + 2 + floor(random() * 4)::int);
		ELSE			-- a 4-byte field becomes extreme
			IF len >= 4 THEN
				pos := floor(random() * (len - 3))::int;
				b := overlay(b PLACING (ARRAY['\x7fffffff', '\xffffffff', '\x80000000', '\x00000000'])[1 + floor(random() * 4)::int]::bytea
							 FROM pos + 1 FOR 4);
			END IF;
		END CASE;
	END LOOP;
	RETURN b;
END
$$;

-- Runs each query with the state as $1; returns the SQLSTATE and message
-- of the first internal error, or NULL.
CREATE FUNCTION fuzz_first_internal_error(queries text[], s anyelement) RETURNS text
	LANGUAGE plpgsql AS $$
DECLARE
	q text;
	d text;
BEGIN
	FOREACH q IN ARRAY queries
	LOOP
		BEGIN
			EXECUTE q INTO d USING s;
		EXCEPTION WHEN OTHERS THEN
			IF SQLSTATE LIKE 'XX%' THEN
				RETURN SQLSTATE || ' in ' || q || ': ' || SQLERRM;
			END IF;
		END;
	END LOOP;
	RETURN NULL;
END
$$;

-- Feeds an accepted state to the support functions; returns the SQLSTATE
-- of an internal error, or NULL.
CREATE FUNCTION fuzz_use_count_state(s pipeline.count_state) RETURNS text
	LANGUAGE sql AS $$
	SELECT fuzz_first_internal_error(ARRAY[
		'SELECT pipeline._count_combine($1, $1)::text',
		'SELECT pipeline._count_combine($1, ''v1:stage_counts:0::'')::text',
		'SELECT pipeline._count_ratio_final($1)::text',
		'SELECT pipeline._funnel_final($1)::text',
		'SELECT pipeline._furthest_stage_value($1, NULL::pipeline.stage)::text',
		'SELECT pipeline._furthest_stage_value($1, NULL::public.fuzz_deal)::text',
		'SELECT pipeline._win_rate_trans($1, ''closed_won''::pipeline.stage)::text',
		'SELECT pipeline._win_rate_inv($1, ''closed_lost''::pipeline.stage)::text',
		'SELECT pipeline._stage_counts_trans($1, ''proposal''::pipeline.stage)::text',
		'SELECT pipeline._stage_counts_inv($1, ''won''::public.fuzz_deal)::text',
		'SELECT pipeline._conversion_trans($1, true)::text',
		'SELECT pipeline._conversion_step_trans($1, ''proposal''::pipeline.stage, ''qualification'', ''closed_won'')::text',
		'SELECT pipeline._conversion_reached_inv($1, ''talk''::public.fuzz_deal, ''new'')::text'], s)
$$;

CREATE FUNCTION fuzz_use_amount_state(s pipeline.amount_state) RETURNS text
	LANGUAGE sql AS $$
	SELECT fuzz_first_internal_error(ARRAY[
		'SELECT pipeline._amount_combine($1, $1)::text',
		'SELECT pipeline._amount_final($1)::text',
		'SELECT pipeline._backlog_sums_trans($1, 1.5, -2)::text',
		'SELECT pipeline._backlog_sums_inv($1, 1.5, -2)::text',
		'SELECT pipeline._backlog_amount_trans($1, 3, ''2000-01-01 00:00:00+00'', NULL, ''2000-01-01 00:00:00.00001+00'')::text',
		'SELECT pipeline._backlog_ratio_trans($1, 3, ''2000-01-01 00:00:00+00'', NULL, ''[2000-01-01 00:00:00+00,2000-01-01 00:00:00.00001+00)'')::text',
		'SELECT pipeline._book_to_bill_inv($1, 3, ''2000-01-01 00:00:00+00'', NULL, ''empty'')::text',
		'SELECT pipeline._win_rate_amount_trans($1, ''won''::public.fuzz_deal, 7)::text',
		'SELECT pipeline._weighted_pipeline_trans($1, ''proposal''::pipeline.stage, 1e-20)::text',
		'SELECT pipeline._weighted_pipeline_inv($1, ''proposal''::pipeline.stage, 1e20)::text'], s)
$$;

-- The corpus: states made by the aggregates and transition functions.
CREATE FUNCTION fuzz_corpus() RETURNS TABLE (typ text, state text)
	LANGUAGE sql VOLATILE AS $$
	SELECT 'count', pipeline._conversion_trans(NULL, true)::text
	UNION ALL SELECT 'count', pipeline._conversion_trans(NULL, NULL)::text
	UNION ALL SELECT 'count', pipeline._win_rate_trans(NULL, NULL::pipeline.stage)::text
	UNION ALL SELECT 'count', pipeline._stage_counts_trans(NULL, NULL::pipeline.stage)::text
	UNION ALL SELECT 'count', pipeline._win_rate_trans(NULL, 'closed_won'::pipeline.stage)::text
	UNION ALL SELECT 'count', pipeline._conversion_reached_trans(NULL, 'proposal'::pipeline.stage, 'qualification')::text
	UNION ALL SELECT 'count', pipeline._conversion_step_trans(NULL, 'follow_up'::pipeline.stage, 'proposal', 'closed_won')::text
	UNION ALL SELECT 'count', pipeline._stage_counts_trans(NULL, 'negotiation'::pipeline.stage)::text
	UNION ALL SELECT 'count', pipeline._stage_counts_trans(NULL, 'won'::public.fuzz_deal)::text
	UNION ALL SELECT 'count', pipeline._win_rate_trans(NULL, 'lost'::public.fuzz_deal)::text
	UNION ALL SELECT 'count', pipeline._count_combine(pipeline._stage_counts_trans(NULL, 'proposal'::pipeline.stage),
													  pipeline._stage_counts_trans(NULL, 'closed_lost'::pipeline.stage))::text
	UNION ALL SELECT 'amount', pipeline._backlog_sums_trans(NULL, NULL, NULL)::text
	UNION ALL SELECT 'amount', pipeline._backlog_sums_trans(NULL, 12.5, 3)::text
	UNION ALL SELECT 'amount', pipeline._backlog_sums_trans(NULL, -1e40, 1e-30)::text
	UNION ALL SELECT 'amount', pipeline._backlog_amount_trans(NULL, 5.25, '2001-01-01 00:00:00+00', NULL, '2002-01-01 00:00:00+00')::text
	UNION ALL SELECT 'amount', pipeline._backlog_ratio_trans(NULL, 5.25, '2001-01-01 00:00:00+00', '2001-06-01 00:00:00+00', '[2001-01-01 00:00:00+00,2002-01-01 00:00:00+00)')::text
	UNION ALL SELECT 'amount', pipeline._book_to_bill_trans(NULL, 5.25, '2001-01-01 00:00:00+00', NULL, '(,2002-01-01 00:00:00+00)')::text
	UNION ALL SELECT 'amount', pipeline._book_to_bill_trans(NULL, 5.25, '2001-01-01 00:00:00+00', NULL, 'empty')::text
	UNION ALL SELECT 'amount', pipeline._win_rate_amount_trans(NULL, 'closed_won'::pipeline.stage, 99.99)::text
	UNION ALL SELECT 'amount', pipeline._weighted_pipeline_trans(NULL, 'proposal'::pipeline.stage, 1e25)::text
	UNION ALL SELECT 'count', pipeline._stage_counts_trans(NULL, 'talk'::public.fuzz_deal)::text
	UNION ALL SELECT 'amount', pipeline._amount_combine(
				pipeline._win_rate_amount_trans(NULL, 'closed_won'::pipeline.stage, 1e30),
				pipeline._win_rate_amount_trans(NULL, 'closed_lost'::pipeline.stage, -0.001))::text
$$;

-- Runs the fuzzer: text_cases text inputs and binary_cases binary inputs.
-- Returns one row of figures; failures (internal errors, states that do
-- not read back) are raised as WARNINGs with the input, and counted.
CREATE FUNCTION fuzz_states(text_cases int, binary_cases int, seed float8,
							OUT cases bigint, OUT accepted bigint, OUT rejected bigint,
							OUT internal_errors bigint, OUT round_trip_failures bigint,
							OUT binary_cases_tried bigint, OUT binary_accepted bigint,
							OUT binary_rejected bigint, OUT sqlstates text)
	LANGUAGE plpgsql AS $$
DECLARE
	corpus_typ text[];
	corpus_state text[];
	i int;
	k int;
	t text;
	x text;
	o1 text;
	o2 text;
	bad text;
	cs pipeline.count_state;
	am pipeline.amount_state;
	codes jsonb := '{}';
	code text;
	b bytea;
	f text := current_setting('data_directory') || '/fuzz_states.bin';
BEGIN
	PERFORM setseed(seed);
	SELECT array_agg(c.typ ORDER BY c.typ, c.state), array_agg(c.state ORDER BY c.typ, c.state)
	  INTO corpus_typ, corpus_state FROM fuzz_corpus() AS c;
	cases := 0; accepted := 0; rejected := 0; internal_errors := 0; round_trip_failures := 0;
	binary_cases_tried := 0; binary_accepted := 0; binary_rejected := 0;

	FOR i IN 1..text_cases LOOP
		k := 1 + floor(random() * array_length(corpus_state, 1))::int;
		t := corpus_typ[k];
		IF random() < 0.05 THEN		-- now and then, the other type's input
			t := CASE t WHEN 'count' THEN 'amount' ELSE 'count' END;
		END IF;
		x := fuzz_mutate(corpus_state[k]);
		cases := cases + 1;
		BEGIN
			IF t = 'count' THEN
				cs := x::pipeline.count_state;
				o1 := cs::text;
				o2 := o1::pipeline.count_state::text;
				bad := fuzz_use_count_state(cs);
			ELSE
				am := x::pipeline.amount_state;
				o1 := am::text;
				o2 := o1::pipeline.amount_state::text;
				bad := fuzz_use_amount_state(am);
			END IF;
			accepted := accepted + 1;
			IF o1 IS DISTINCT FROM o2 THEN
				round_trip_failures := round_trip_failures + 1;
				RAISE WARNING 'fuzz: % state does not read back: % -> % -> %', t, x, o1, o2;
			END IF;
			IF bad IS NOT NULL THEN
				internal_errors := internal_errors + 1;
				RAISE WARNING 'fuzz: accepted % state % then %', t, x, bad;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			code := SQLSTATE;
			rejected := rejected + 1;
			codes := jsonb_set(codes, ARRAY[code], to_jsonb(coalesce((codes ->> code)::int, 0) + 1));
			IF code LIKE 'XX%' THEN
				internal_errors := internal_errors + 1;
				RAISE WARNING 'fuzz: % input % gave % %', t, x, code, SQLERRM;
			END IF;
		END;
	END LOOP;

	CREATE TEMP TABLE fuzz_bin_src (v bytea);
	CREATE TEMP TABLE fuzz_bin_count (v pipeline.count_state);
	CREATE TEMP TABLE fuzz_bin_amount (v pipeline.amount_state);
	FOR i IN 1..binary_cases LOOP
		k := 1 + floor(random() * array_length(corpus_state, 1))::int;
		t := corpus_typ[k];
		IF t = 'count' THEN
			b := fuzz_mutate_bytes(pipeline.count_state_send(corpus_state[k]::pipeline.count_state));
		ELSE
			b := fuzz_mutate_bytes(pipeline.amount_state_send(corpus_state[k]::pipeline.amount_state));
		END IF;
		binary_cases_tried := binary_cases_tried + 1;
		BEGIN
			INSERT INTO fuzz_bin_src VALUES (b);
			EXECUTE format('COPY fuzz_bin_src TO %L (FORMAT binary)', f);
			IF t = 'count' THEN
				EXECUTE format('COPY fuzz_bin_count FROM %L (FORMAT binary)', f);
				SELECT v::text, v::text::pipeline.count_state::text, fuzz_use_count_state(v)
				  INTO o1, o2, bad FROM fuzz_bin_count;
			ELSE
				EXECUTE format('COPY fuzz_bin_amount FROM %L (FORMAT binary)', f);
				SELECT v::text, v::text::pipeline.amount_state::text, fuzz_use_amount_state(v)
				  INTO o1, o2, bad FROM fuzz_bin_amount;
			END IF;
			binary_accepted := binary_accepted + 1;
			IF o1 IS DISTINCT FROM o2 THEN
				round_trip_failures := round_trip_failures + 1;
				RAISE WARNING 'fuzz: binary % state does not read back: % -> % -> %', t, b, o1, o2;
			END IF;
			IF bad IS NOT NULL THEN
				internal_errors := internal_errors + 1;
				RAISE WARNING 'fuzz: accepted binary % state % then %', t, b, bad;
			END IF;
			RAISE SQLSTATE 'P0001';		-- undo the inserts
		EXCEPTION WHEN OTHERS THEN
			code := SQLSTATE;
			IF code <> 'P0001' THEN
				binary_rejected := binary_rejected + 1;
				codes := jsonb_set(codes, ARRAY['binary ' || code], to_jsonb(coalesce((codes ->> ('binary ' || code))::int, 0) + 1));
				IF code LIKE 'XX%' THEN
					internal_errors := internal_errors + 1;
					RAISE WARNING 'fuzz: binary % input % gave % %', t, b, code, SQLERRM;
				END IF;
			END IF;
		END;
	END LOOP;
	DROP TABLE fuzz_bin_src, fuzz_bin_count, fuzz_bin_amount;
	sqlstates := codes::text;
END
$$;
