-- The state types' text input functions report errors softly on PostgreSQL
-- 16+: pg_input_is_valid and pg_input_error_info return the error instead
-- of raising it (and COPY ... ON_ERROR can skip the row).  Each case is read
-- twice: by soft_input (on 16+ through pg_input_is_valid and
-- pg_input_error_info; on 15, which has neither, by the cast in a block) and
-- by the plain cast; both must agree, valid or with the same SQLSTATE,
-- message and detail.  The output is the same on every version.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

-- The cast: valid, or the error it raises (SQLSTATE, message, detail).
CREATE FUNCTION pg_temp.hard_input(input text, typ text,
								   OUT valid boolean, OUT error_code text, OUT message text,
								   OUT detail text)
	LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT %L::%s', input, typ);
	valid := true;
EXCEPTION WHEN OTHERS THEN
	valid := false;
	error_code := SQLSTATE;
	message := SQLERRM;
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	detail := nullif(detail, '');
END
$$;

-- The soft reading of input as typ, the same columns: pg_input_is_valid and
-- pg_input_error_info on 16+ (run by EXECUTE, since 15 has neither), the
-- cast on 15.  is_valid is pg_input_is_valid's own answer.
CREATE FUNCTION pg_temp.soft_input(input text, typ text,
								   OUT valid boolean, OUT error_code text, OUT message text,
								   OUT detail text, OUT is_valid boolean)
	LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('server_version_num')::int < 160000 THEN
		SELECT h.*, h.valid INTO valid, error_code, message, detail, is_valid
		  FROM pg_temp.hard_input(input, typ) AS h;
	ELSE
		EXECUTE 'SELECT e.sql_error_code IS NULL, e.sql_error_code, e.message, e.detail,
						pg_input_is_valid($1, $2)
				   FROM pg_input_error_info($1, $2) AS e'
		   INTO valid, error_code, message, detail, is_valid USING input, typ;
	END IF;
END
$$;

CREATE TEMP TABLE soft_cases (id serial, typ text, label text, input text);
INSERT INTO soft_cases (typ, label, input) VALUES
	('pipeline.count_state', 'valid', pipeline._win_rate_trans(NULL, 'closed_won'::pipeline.stage)::text),
	('pipeline.count_state', 'no version', 'win_rate:9:1,2:pipeline.stage'),
	('pipeline.count_state', 'version 2', 'v2:win_rate:9:1,2:pipeline.stage'),
	('pipeline.count_state', 'unknown kind', 'v1:lose_rate:9:1,2:pipeline.stage'),
	('pipeline.count_state', 'numerator > denominator', 'v1:win_rate:9:3,2:pipeline.stage'),
	('pipeline.count_state', 'count overflows int64', 'v1:win_rate:9:1,99999999999999999999:pipeline.stage'),
	('pipeline.amount_state', 'valid', pipeline._weighted_pipeline_trans(NULL, 'proposal'::pipeline.stage, 1234.5)::text),
	('pipeline.amount_state', 'empty', ''),
	('pipeline.amount_state', 'version 9', '9 weighted_pipeline 1 - 1:3:1:740.700 0:-1:0:0'),
	('pipeline.amount_state', 'unknown kind', '1 weighted_pipe 1 - 1:3:1:740.700 0:-1:0:0'),
	('pipeline.amount_state', 'scale not the value''s', '1 weighted_pipeline 1 - 1:2:1:740.700 0:-1:0:0'),
	('pipeline.amount_state', 'sum overflows numeric', '1 weighted_pipeline 1 - 1:0:1:' || repeat('9', 140000) || ' 0:-1:0:0'),
	('pipeline.amount_state', 'bad period', '1 book_to_bill 1 [5,x) 1:0:1:1 0:-1:0:0'),
	('pipeline.backlog_series_state', 'valid', '1 0'),
	('pipeline.backlog_series_state', 'version 2', '2 0'),
	('pipeline.backlog_series_state', 'rows without parameters', '1 1'),
	('pipeline.backlog_series_state', 'bad hash', '1 1 820540800000000 0:1:0 4 0123456789ABCDEF 2 b1=1:2:1:1.00'),
	('pipeline.backlog_series_state', 'sum overflows numeric', '1 1 820540800000000 0:1:0 4 0123456789abcdef - b1=1:0:1:' || repeat('9', 140000)),
	('pipeline.backlog_series_state', 'a sum counts more rows than the state', '1 1 820540800000000 0:1:0 4 0123456789abcdef 2 b1=2:2:1:1.00');

SELECT c.typ, c.label, s.valid, s.error_code, left(s.message, 48) AS message, s.detail
  FROM soft_cases c, pg_temp.soft_input(c.input, c.typ) s
 ORDER BY c.id;

-- The oracle: the soft reading and the cast agree on every case, and
-- pg_input_is_valid with pg_input_error_info.
SELECT count(*) AS cases,
	   count(*) FILTER (WHERE s.is_valid IS DISTINCT FROM s.valid) AS is_valid_mismatches,
	   count(*) FILTER (WHERE (s.valid, s.error_code, s.message, s.detail) IS DISTINCT FROM
							  (h.valid, h.error_code, h.message, h.detail)) AS mismatches
  FROM soft_cases c, pg_temp.soft_input(c.input, c.typ) s, pg_temp.hard_input(c.input, c.typ) h;
