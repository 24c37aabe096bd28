/* pipeline 1.1: backlog_series, a backlog time series in one pass */

-- One period of the series.  Every field equals what the per-period
-- aggregates give over the same rows.
CREATE TYPE pipeline.backlog_period AS (
	period			tstzrange,
	booked			numeric,
	fulfilled		numeric,
	backlog_start	numeric,
	backlog_end		numeric,
	book_to_bill	numeric,
	backlog_ratio	numeric
);
COMMENT ON TYPE pipeline.backlog_period IS
	'pipeline: one period of pipeline.backlog_series';
COMMENT ON COLUMN pipeline.backlog_period.period IS 'the period [lower, upper) = [origin + k * step, origin + (k + 1) * step)';
COMMENT ON COLUMN pipeline.backlog_period.booked IS 'sum of the amounts booked within the period (0 when none)';
COMMENT ON COLUMN pipeline.backlog_period.fulfilled IS 'sum of the amounts fulfilled within the period (0 when none)';
COMMENT ON COLUMN pipeline.backlog_period.backlog_start IS 'pipeline.backlog_amount at the period''s lower bound';
COMMENT ON COLUMN pipeline.backlog_period.backlog_end IS 'pipeline.backlog_amount at the period''s upper bound';
COMMENT ON COLUMN pipeline.backlog_period.book_to_bill IS 'pipeline.book_to_bill over the period: booked / fulfilled (NULL when nothing was fulfilled)';
COMMENT ON COLUMN pipeline.backlog_period.backlog_ratio IS 'pipeline.backlog_ratio over the period: backlog_end / fulfilled (NULL when nothing was fulfilled)';

-- The state: a real type (text and binary I/O, validated, versioned), not
-- internal, so Citus pushes partial aggregation down and ships states as
-- text.  STORAGE extended: a state holds every period, so it may be large.
CREATE TYPE pipeline.backlog_series_state;

CREATE FUNCTION pipeline.backlog_series_state_in(cstring) RETURNS pipeline.backlog_series_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_series_state_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.backlog_series_state_out(pipeline.backlog_series_state) RETURNS cstring
	AS 'MODULE_PATHNAME', 'pipeline_backlog_series_state_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.backlog_series_state_recv(internal) RETURNS pipeline.backlog_series_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_series_state_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.backlog_series_state_send(pipeline.backlog_series_state) RETURNS bytea
	AS 'MODULE_PATHNAME', 'pipeline_backlog_series_state_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE pipeline.backlog_series_state (
	INPUT = pipeline.backlog_series_state_in,
	OUTPUT = pipeline.backlog_series_state_out,
	RECEIVE = pipeline.backlog_series_state_recv,
	SEND = pipeline.backlog_series_state_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE pipeline.backlog_series_state IS
	'pipeline: transition state of pipeline.backlog_series (exact sums per period); text form "1 <rows> <origin> <step> <periods> <hash> <cover> <entries>"';
COMMENT ON FUNCTION pipeline.backlog_series_state_in(cstring) IS 'text input of pipeline.backlog_series_state (validated)';
COMMENT ON FUNCTION pipeline.backlog_series_state_out(pipeline.backlog_series_state) IS 'text output of pipeline.backlog_series_state';
COMMENT ON FUNCTION pipeline.backlog_series_state_recv(internal) IS 'binary input of pipeline.backlog_series_state (validated)';
COMMENT ON FUNCTION pipeline.backlog_series_state_send(pipeline.backlog_series_state) IS 'binary output of pipeline.backlog_series_state';

-- Transition: not strict (a NULL fulfilled_at means not fulfilled; a NULL
-- in another argument skips the row).  STABLE, like the final function:
-- origin + k * step depends on the TimeZone setting for days and months.
CREATE FUNCTION pipeline._backlog_series_trans(pipeline.backlog_series_state, numeric, timestamptz,
											   timestamptz, timestamptz, interval, integer)
	RETURNS pipeline.backlog_series_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_series_trans'
	LANGUAGE C STABLE PARALLEL SAFE;
-- Combine: accepts NULL on either side; the order does not matter.
CREATE FUNCTION pipeline._backlog_series_combine(pipeline.backlog_series_state, pipeline.backlog_series_state)
	RETURNS pipeline.backlog_series_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_series_combine'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._backlog_series_final(pipeline.backlog_series_state)
	RETURNS pipeline.backlog_period[]
	AS 'MODULE_PATHNAME', 'pipeline_backlog_series_final'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._backlog_series_trans(pipeline.backlog_series_state, numeric, timestamptz, timestamptz, timestamptz, interval, integer) IS
	'internal: transition function of pipeline.backlog_series';
COMMENT ON FUNCTION pipeline._backlog_series_combine(pipeline.backlog_series_state, pipeline.backlog_series_state) IS
	'internal: combine function of pipeline.backlog_series';
COMMENT ON FUNCTION pipeline._backlog_series_final(pipeline.backlog_series_state) IS
	'internal: final function of pipeline.backlog_series';

-- Takes no stage: declared once, with concrete types (Citus pushes it down).
CREATE AGGREGATE pipeline.backlog_series(amount numeric, booked_at timestamptz, fulfilled_at timestamptz,
										 origin timestamptz, step interval, periods integer) (
	SFUNC = pipeline._backlog_series_trans,
	STYPE = pipeline.backlog_series_state,
	COMBINEFUNC = pipeline._backlog_series_combine,
	FINALFUNC = pipeline._backlog_series_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE pipeline.backlog_series(numeric, timestamptz, timestamptz, timestamptz, interval, integer) IS
	'backlog time series in one pass: one pipeline.backlog_period per period [origin + k * step, origin + (k + 1) * step), k = 0 .. periods - 1';
