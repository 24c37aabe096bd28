
/* pipeline 1.0: amount aggregates -- exact sums and ratios of money */

-- The state of every amount aggregate: a real type (text and binary I/O,
-- validated, versioned), not internal, so Citus pushes partial aggregation
-- down to its workers and ships states as text.
CREATE TYPE pipeline.amount_state;

CREATE FUNCTION pipeline.amount_state_in(cstring) RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_amount_state_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.amount_state_out(pipeline.amount_state) RETURNS cstring
	AS 'MODULE_PATHNAME', 'pipeline_amount_state_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.amount_state_recv(internal) RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_amount_state_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.amount_state_send(pipeline.amount_state) RETURNS bytea
	AS 'MODULE_PATHNAME', 'pipeline_amount_state_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE pipeline.amount_state (
	INPUT = pipeline.amount_state_in,
	OUTPUT = pipeline.amount_state_out,
	RECEIVE = pipeline.amount_state_recv,
	SEND = pipeline.amount_state_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = plain
);

COMMENT ON TYPE pipeline.amount_state IS
	'transition state of the pipeline amount aggregates (exact sums); text form "1 <kind> <rows> <param> <sum> <sum>"';

-- Shared combine and final functions.  Combine accepts NULL on either side.
CREATE FUNCTION pipeline._amount_combine(pipeline.amount_state, pipeline.amount_state)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_amount_combine'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._amount_final(pipeline.amount_state) RETURNS numeric
	AS 'MODULE_PATHNAME', 'pipeline_amount_final'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Transition (and inverse transition) functions: not strict, since a NULL
-- argument skips the row (fulfilled_at NULL means not fulfilled) and the
-- state is created on the first row, skipped or not, so that moving
-- windows always have a state to invert.
CREATE FUNCTION pipeline._backlog_sums_trans(pipeline.amount_state, numeric, numeric)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_sums_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._backlog_sums_inv(pipeline.amount_state, numeric, numeric)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_sums_inv'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._backlog_amount_trans(pipeline.amount_state, numeric, timestamptz, timestamptz, timestamptz)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_amount_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._backlog_amount_inv(pipeline.amount_state, numeric, timestamptz, timestamptz, timestamptz)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_amount_inv'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._backlog_ratio_trans(pipeline.amount_state, numeric, timestamptz, timestamptz, tstzrange)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_ratio_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._backlog_ratio_inv(pipeline.amount_state, numeric, timestamptz, timestamptz, tstzrange)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_backlog_ratio_inv'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._book_to_bill_trans(pipeline.amount_state, numeric, timestamptz, timestamptz, tstzrange)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_book_to_bill_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._book_to_bill_inv(pipeline.amount_state, numeric, timestamptz, timestamptz, tstzrange)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_book_to_bill_inv'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
-- Stage-taking: STABLE, they read stage metadata (kind, probability).
CREATE FUNCTION pipeline._win_rate_amount_trans(pipeline.amount_state, anyenum, numeric)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_win_rate_amount_trans'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._win_rate_amount_inv(pipeline.amount_state, anyenum, numeric)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_win_rate_amount_inv'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._weighted_pipeline_trans(pipeline.amount_state, anyenum, numeric)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_weighted_pipeline_trans'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._weighted_pipeline_inv(pipeline.amount_state, anyenum, numeric)
	RETURNS pipeline.amount_state
	AS 'MODULE_PATHNAME', 'pipeline_weighted_pipeline_inv'
	LANGUAGE C STABLE PARALLEL SAFE;

-- The aggregates that take no stage.
CREATE AGGREGATE pipeline.backlog_ratio(backlog numeric, sales numeric) (
	SFUNC = pipeline._backlog_sums_trans,
	STYPE = pipeline.amount_state,
	COMBINEFUNC = pipeline._amount_combine,
	FINALFUNC = pipeline._amount_final,
	MSFUNC = pipeline._backlog_sums_trans,
	MINVFUNC = pipeline._backlog_sums_inv,
	MSTYPE = pipeline.amount_state,
	MFINALFUNC = pipeline._amount_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE pipeline.backlog_ratio(numeric, numeric) IS
	'sum(backlog) / sum(sales), exact; NULL when sales sum to zero';

CREATE AGGREGATE pipeline.backlog_amount(amount numeric, booked_at timestamptz,
										 fulfilled_at timestamptz, as_of timestamptz) (
	SFUNC = pipeline._backlog_amount_trans,
	STYPE = pipeline.amount_state,
	COMBINEFUNC = pipeline._amount_combine,
	FINALFUNC = pipeline._amount_final,
	MSFUNC = pipeline._backlog_amount_trans,
	MINVFUNC = pipeline._backlog_amount_inv,
	MSTYPE = pipeline.amount_state,
	MFINALFUNC = pipeline._amount_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE pipeline.backlog_amount(numeric, timestamptz, timestamptz, timestamptz) IS
	'sum of amounts booked before as_of and not fulfilled before as_of';

CREATE AGGREGATE pipeline.backlog_ratio(amount numeric, booked_at timestamptz,
										fulfilled_at timestamptz, period tstzrange) (
	SFUNC = pipeline._backlog_ratio_trans,
	STYPE = pipeline.amount_state,
	COMBINEFUNC = pipeline._amount_combine,
	FINALFUNC = pipeline._amount_final,
	MSFUNC = pipeline._backlog_ratio_trans,
	MINVFUNC = pipeline._backlog_ratio_inv,
	MSTYPE = pipeline.amount_state,
	MFINALFUNC = pipeline._amount_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE pipeline.backlog_ratio(numeric, timestamptz, timestamptz, tstzrange) IS
	'backlog at the period''s end / amount fulfilled within the period [lower, upper)';

CREATE AGGREGATE pipeline.book_to_bill(amount numeric, booked_at timestamptz,
									   fulfilled_at timestamptz, period tstzrange) (
	SFUNC = pipeline._book_to_bill_trans,
	STYPE = pipeline.amount_state,
	COMBINEFUNC = pipeline._amount_combine,
	FINALFUNC = pipeline._amount_final,
	MSFUNC = pipeline._book_to_bill_trans,
	MINVFUNC = pipeline._book_to_bill_inv,
	MSTYPE = pipeline.amount_state,
	MFINALFUNC = pipeline._amount_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE pipeline.book_to_bill(numeric, timestamptz, timestamptz, tstzrange) IS
	'amount booked within the period / amount fulfilled within the period [lower, upper)';

-- Per registered enum type: win_rate(stage, amount) and
-- weighted_pipeline(stage, amount), with concrete argument types (Citus
-- cannot push polymorphic aggregates down).  Called by
-- pipeline._apply_aggregates (define_stages) and at the end of this
-- script for pipeline.stage.  With search_path pinned to pg_catalog, %s of
-- a regtype is schema-qualified.
CREATE FUNCTION pipeline._declare_amount_aggregates(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	EXECUTE pg_catalog.format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.win_rate(stage %1$s, amount numeric) (
			SFUNC = pipeline._win_rate_amount_trans,
			STYPE = pipeline.amount_state,
			COMBINEFUNC = pipeline._amount_combine,
			FINALFUNC = pipeline._amount_final,
			MSFUNC = pipeline._win_rate_amount_trans,
			MINVFUNC = pipeline._win_rate_amount_inv,
			MSTYPE = pipeline.amount_state,
			MFINALFUNC = pipeline._amount_final,
			PARALLEL = SAFE)$ddl$, stage_type);
	EXECUTE pg_catalog.format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.weighted_pipeline(stage %1$s, amount numeric) (
			SFUNC = pipeline._weighted_pipeline_trans,
			STYPE = pipeline.amount_state,
			COMBINEFUNC = pipeline._amount_combine,
			FINALFUNC = pipeline._amount_final,
			MSFUNC = pipeline._weighted_pipeline_trans,
			MINVFUNC = pipeline._weighted_pipeline_inv,
			MSTYPE = pipeline.amount_state,
			MFINALFUNC = pipeline._amount_final,
			PARALLEL = SAFE)$ddl$, stage_type);
END
$$;

CREATE FUNCTION pipeline._drop_amount_aggregates(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	agg text;
BEGIN
	FOREACH agg IN ARRAY ARRAY['win_rate', 'weighted_pipeline'] LOOP
		IF pg_catalog.to_regprocedure(pg_catalog.format('pipeline.%s(%s, numeric)', agg, stage_type)) IS NOT NULL THEN
			EXECUTE pg_catalog.format('DROP AGGREGATE pipeline.%s(%s, numeric)', agg, stage_type);
		END IF;
	END LOOP;
END
$$;

-- Only the extension owner (through define_stages/undefine_stages) and
-- superusers declare or drop aggregates.
REVOKE ALL ON FUNCTION pipeline._declare_amount_aggregates(regtype),
	pipeline._drop_amount_aggregates(regtype) FROM PUBLIC;

SELECT pipeline._declare_amount_aggregates('pipeline.stage');
