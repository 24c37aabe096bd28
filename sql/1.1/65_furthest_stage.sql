/* pipeline 1.1: furthest_stage without a final function per group */

-- Transition and combine function of furthest_stage: the state is the
-- furthest non-lost stage so far, a value of the enum type itself.
CREATE FUNCTION pipeline._furthest_step(state anyenum, stage anyenum) RETURNS anyenum
	AS 'MODULE_PATHNAME', 'pipeline_furthest_step'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._furthest_step(anyenum, anyenum) IS
	'internal: transition and combine function of pipeline.furthest_stage (the state is the furthest non-lost stage)';

-- furthest_stage for one type: as a plain aggregate its state is the
-- stage itself (no final function, which for a per-type aggregate must be
-- a LANGUAGE sql wrapper called once per group); as a moving aggregate
-- (window frames) it keeps 1.0's per-stage counts, which can be inverted.
CREATE FUNCTION pipeline._declare_furthest_stage(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	t text := pipeline._type_name(stage_type);
BEGIN
	EXECUTE format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.furthest_stage(stage %1$s) (
			SFUNC = pipeline._furthest_step,
			STYPE = %1$s,
			COMBINEFUNC = pipeline._furthest_step,
			MSFUNC = pipeline._stage_counts_trans,
			MINVFUNC = pipeline._stage_counts_inv,
			MSTYPE = pipeline.count_state,
			MFINALFUNC = pipeline._furthest_stage_final,
			MFINALFUNC_EXTRA,
			PARALLEL = SAFE)
		$ddl$, t);
END
$fn$;
COMMENT ON FUNCTION pipeline._declare_furthest_stage(regtype) IS
	'internal: declare pipeline.furthest_stage for a stage type (called by _declare_count_aggregates)';
REVOKE ALL ON FUNCTION pipeline._declare_furthest_stage(regtype) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pipeline._declare_furthest_stage(regtype) TO @extowner@;

-- Upgrade: pipeline.stage's aggregate belongs to the extension and is
-- replaced.  A custom type's (made by define_stages, not a member) is
-- dropped and made again when nothing of the user's depends on it, then
-- handed back (it stays out of the extension); otherwise it keeps its 1.0
-- definition -- the same answers, slower -- until define_stages runs again.
DO $upgrade$
DECLARE
	ty regtype;
	agg regprocedure;
BEGIN
	PERFORM pipeline._declare_furthest_stage('pipeline.stage');
	FOR ty IN SELECT s.stage_type FROM pipeline.stage_types s LOOP
		agg := pg_catalog.to_regprocedure(pg_catalog.format('pipeline.furthest_stage(%s)', pipeline._type_name(ty)));
		CONTINUE WHEN agg IS NULL;
		IF EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
					WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.refobjid = agg
					  AND d.deptype = 'n') THEN
			RAISE WARNING 'pipeline.furthest_stage(%) is used by other objects and keeps its 1.0 definition', ty
				USING HINT = 'Run pipeline.define_stages() for the type again after the update to get the faster one.';
			CONTINUE;
		END IF;
		EXECUTE pg_catalog.format('DROP AGGREGATE %s', agg::pg_catalog.regprocedure);
		PERFORM pipeline._declare_furthest_stage(ty);
		EXECUTE pg_catalog.format('ALTER EXTENSION pipeline DROP AGGREGATE pipeline.furthest_stage(%s)', pipeline._type_name(ty));
		PERFORM pipeline._comment_stage_aggregates(ty);
	END LOOP;
END
$upgrade$;

-- define_stages and undefine_stages declare and drop the per-type
-- aggregates of both families directly (1.0 probed for each family's
-- functions, a leftover of the script being assembled piece by piece).
CREATE OR REPLACE FUNCTION pipeline._apply_aggregates(stage_type regtype, action text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF action = 'declare' THEN
		PERFORM pipeline._declare_count_aggregates(stage_type);
		PERFORM pipeline._declare_amount_aggregates(stage_type);
	ELSIF action = 'drop' THEN
		PERFORM pipeline._drop_count_aggregates(stage_type);
		PERFORM pipeline._drop_amount_aggregates(stage_type);
	ELSE
		RAISE EXCEPTION 'unknown action "%"', action USING ERRCODE = '22023';
	END IF;
END
$$;
