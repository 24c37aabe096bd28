
/* pipeline 1.0: counting aggregates -- conversion_rate, win_rate, funnel, furthest_stage */

-- The state of every counting aggregate: a real SQL type with text and
-- binary I/O (Citus pushes partial aggregation down only for such states
-- and ships them between nodes as text).  Text form:
--   v1:<kind>:<number of labels>:<counts>:<schema-qualified stage type>
CREATE TYPE pipeline.count_state;

CREATE FUNCTION pipeline.count_state_in(cstring) RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_count_state_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.count_state_out(pipeline.count_state) RETURNS cstring
	AS 'MODULE_PATHNAME', 'pipeline_count_state_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.count_state_recv(internal) RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_count_state_recv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline.count_state_send(pipeline.count_state) RETURNS bytea
	AS 'MODULE_PATHNAME', 'pipeline_count_state_send'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE plain: never compressed or given a short header, so a state read
-- back from a tuple (parallel workers, partitionwise plans) is used as is.
CREATE TYPE pipeline.count_state (
	INPUT = pipeline.count_state_in,
	OUTPUT = pipeline.count_state_out,
	RECEIVE = pipeline.count_state_recv,
	SEND = pipeline.count_state_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = plain
);
COMMENT ON TYPE pipeline.count_state IS
	'transition state of the pipeline counting aggregates (conversion_rate, win_rate, funnel, furthest_stage)';

-- Transition and inverse transition functions.  Not strict: a NULL in any
-- argument skips the row, and the first counted row creates the state.
-- The anyenum ones find the stage type from the label, never from the call
-- expression (Citus calls them without one).
CREATE FUNCTION pipeline._conversion_trans(pipeline.count_state, boolean)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_conversion_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._conversion_inv(pipeline.count_state, boolean)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_conversion_inv'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._conversion_reached_trans(pipeline.count_state, anyenum, anyenum)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_conversion_reached_trans'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._conversion_reached_inv(pipeline.count_state, anyenum, anyenum)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_conversion_reached_inv'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._conversion_step_trans(pipeline.count_state, anyenum, anyenum, anyenum)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_conversion_step_trans'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._conversion_step_inv(pipeline.count_state, anyenum, anyenum, anyenum)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_conversion_step_inv'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._win_rate_trans(pipeline.count_state, anyenum)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_win_rate_trans'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._win_rate_inv(pipeline.count_state, anyenum)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_win_rate_inv'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._stage_counts_trans(pipeline.count_state, anyenum)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_stage_counts_trans'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION pipeline._stage_counts_inv(pipeline.count_state, anyenum)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_stage_counts_inv'
	LANGUAGE C STABLE PARALLEL SAFE;

-- Combine: adds counts of states of one kind and stage type; accepts NULL
-- on either side.
CREATE FUNCTION pipeline._count_combine(pipeline.count_state, pipeline.count_state)
	RETURNS pipeline.count_state
	AS 'MODULE_PATHNAME', 'pipeline_count_combine'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Finals.
CREATE FUNCTION pipeline._count_ratio_final(pipeline.count_state) RETURNS double precision
	AS 'MODULE_PATHNAME', 'pipeline_count_ratio_final'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pipeline._funnel_final(pipeline.count_state) RETURNS bigint[]
	AS 'MODULE_PATHNAME', 'pipeline_funnel_final'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
-- The second argument only types the result; Citus passes NULL for it.
CREATE FUNCTION pipeline._furthest_stage_value(pipeline.count_state, anyenum) RETURNS anyenum
	AS 'MODULE_PATHNAME', 'pipeline_furthest_stage_value'
	LANGUAGE C STABLE PARALLEL SAFE;

-- conversion_rate(boolean) takes no stage type: one aggregate for all.
CREATE AGGREGATE pipeline.conversion_rate(converted boolean) (
	SFUNC = pipeline._conversion_trans,
	STYPE = pipeline.count_state,
	COMBINEFUNC = pipeline._count_combine,
	FINALFUNC = pipeline._count_ratio_final,
	MSFUNC = pipeline._conversion_trans,
	MINVFUNC = pipeline._conversion_inv,
	MSTYPE = pipeline.count_state,
	MFINALFUNC = pipeline._count_ratio_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE pipeline.conversion_rate(boolean) IS
	'share of rows where converted is true';

-- Declares the stage-taking counting aggregates for one enum type, with
-- concrete argument, state and result types (Citus rejects polymorphic
-- aggregates).  Idempotent (CREATE OR REPLACE), so define_stages can run
-- again, on every node.  Called by pipeline._apply_aggregates.
CREATE FUNCTION pipeline._declare_count_aggregates(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	t text;
BEGIN
	SELECT format('%I.%I', n.nspname, ty.typname) INTO t
	  FROM pg_catalog.pg_type ty
	  JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
	 WHERE ty.oid = stage_type AND ty.typtype = 'e';
	IF t IS NULL THEN
		RAISE EXCEPTION 'type % is not an enum', stage_type
			USING ERRCODE = '42809',
				  HINT = 'Pipeline aggregates are declared for enum types registered with pipeline.define_stages.';
	END IF;

	EXECUTE format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.conversion_rate(reached %1$s, target %1$s) (
			SFUNC = pipeline._conversion_reached_trans,
			STYPE = pipeline.count_state,
			COMBINEFUNC = pipeline._count_combine,
			FINALFUNC = pipeline._count_ratio_final,
			MSFUNC = pipeline._conversion_reached_trans,
			MINVFUNC = pipeline._conversion_reached_inv,
			MSTYPE = pipeline.count_state,
			MFINALFUNC = pipeline._count_ratio_final,
			PARALLEL = SAFE)
		$ddl$, t);
	EXECUTE format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.conversion_rate(reached %1$s, from_stage %1$s, to_stage %1$s) (
			SFUNC = pipeline._conversion_step_trans,
			STYPE = pipeline.count_state,
			COMBINEFUNC = pipeline._count_combine,
			FINALFUNC = pipeline._count_ratio_final,
			MSFUNC = pipeline._conversion_step_trans,
			MINVFUNC = pipeline._conversion_step_inv,
			MSTYPE = pipeline.count_state,
			MFINALFUNC = pipeline._count_ratio_final,
			PARALLEL = SAFE)
		$ddl$, t);
	EXECUTE format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.win_rate(stage %1$s) (
			SFUNC = pipeline._win_rate_trans,
			STYPE = pipeline.count_state,
			COMBINEFUNC = pipeline._count_combine,
			FINALFUNC = pipeline._count_ratio_final,
			MSFUNC = pipeline._win_rate_trans,
			MINVFUNC = pipeline._win_rate_inv,
			MSTYPE = pipeline.count_state,
			MFINALFUNC = pipeline._count_ratio_final,
			PARALLEL = SAFE)
		$ddl$, t);
	EXECUTE format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.funnel(reached %1$s) (
			SFUNC = pipeline._stage_counts_trans,
			STYPE = pipeline.count_state,
			COMBINEFUNC = pipeline._count_combine,
			FINALFUNC = pipeline._funnel_final,
			MSFUNC = pipeline._stage_counts_trans,
			MINVFUNC = pipeline._stage_counts_inv,
			MSTYPE = pipeline.count_state,
			MFINALFUNC = pipeline._funnel_final,
			PARALLEL = SAFE)
		$ddl$, t);
	-- The final function must be declared to return the enum type itself
	-- (Citus compares it with the aggregate's result type): a LANGUAGE sql
	-- wrapper, which any role can restore from a dump.
	EXECUTE format($ddl$
		CREATE OR REPLACE FUNCTION pipeline._furthest_stage_final(state pipeline.count_state, stage %1$s)
			RETURNS %1$s
			LANGUAGE sql STABLE PARALLEL SAFE
			SET search_path = pg_catalog, pg_temp
			AS 'SELECT pipeline._furthest_stage_value(state, stage)'
		$ddl$, t);
	EXECUTE format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.furthest_stage(stage %1$s) (
			SFUNC = pipeline._stage_counts_trans,
			STYPE = pipeline.count_state,
			COMBINEFUNC = pipeline._count_combine,
			FINALFUNC = pipeline._furthest_stage_final,
			FINALFUNC_EXTRA,
			MSFUNC = pipeline._stage_counts_trans,
			MINVFUNC = pipeline._stage_counts_inv,
			MSTYPE = pipeline.count_state,
			MFINALFUNC = pipeline._furthest_stage_final,
			MFINALFUNC_EXTRA,
			PARALLEL = SAFE)
		$ddl$, t);
END
$fn$;

-- Drops what _declare_count_aggregates made for one enum type.  Called by
-- pipeline._apply_aggregates (undefine_stages).
CREATE FUNCTION pipeline._drop_count_aggregates(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	t text;
BEGIN
	SELECT format('%I.%I', n.nspname, ty.typname) INTO t
	  FROM pg_catalog.pg_type ty
	  JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
	 WHERE ty.oid = stage_type;
	IF t IS NULL THEN
		RETURN;
	END IF;
	EXECUTE format('DROP AGGREGATE IF EXISTS pipeline.conversion_rate(%1$s, %1$s), '
				   'pipeline.conversion_rate(%1$s, %1$s, %1$s), pipeline.win_rate(%1$s), '
				   'pipeline.funnel(%1$s), pipeline.furthest_stage(%1$s)', t);
	EXECUTE format('DROP FUNCTION IF EXISTS pipeline._furthest_stage_final(pipeline.count_state, %s)', t);
END
$fn$;

-- Only for define_stages/undefine_stages, i.e. the roles that may edit the
-- registrations (superusers and the extension owner, who in a trusted
-- install does not own these functions).
REVOKE ALL ON FUNCTION pipeline._declare_count_aggregates(regtype),
	pipeline._drop_count_aggregates(regtype) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pipeline._declare_count_aggregates(regtype),
	pipeline._drop_count_aggregates(regtype) TO @extowner@;

SELECT pipeline._declare_count_aggregates('pipeline.stage');
