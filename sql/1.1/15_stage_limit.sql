
-- The most labels a stage type may have (PIPELINE_MAX_STAGES in the C code,
-- the limit of pipeline.count_state): define_stages refuses a type with
-- more (through a trigger on the registrations, so that every writer of
-- pipeline.stage_types is held to it), and ALTER TYPE ... ADD VALUE cannot
-- take a registered type past it.
CREATE FUNCTION pipeline._check_stage_limit(stage_type regtype) RETURNS void
	AS 'MODULE_PATHNAME', 'pipeline_check_stage_limit'
	LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION pipeline._check_stage_limit(regtype) IS
	'internal: error 54000 when an enum type has more labels than a pipeline supports';

CREATE FUNCTION pipeline._check_stage_type_row() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM pipeline._check_stage_limit(NEW.stage_type);
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION pipeline._check_stage_type_row() IS
	'internal: trigger function of zz_pipeline_stage_limit on pipeline.stage_types';

CREATE TRIGGER zz_pipeline_stage_limit BEFORE INSERT OR UPDATE
	ON pipeline.stage_types FOR EACH ROW EXECUTE FUNCTION pipeline._check_stage_type_row();

-- pipeline.stage's labels are part of the contract: refuse ALTER TYPE on it;
-- and no registered type may grow past the label limit.
CREATE OR REPLACE FUNCTION pipeline._forbid_stage_ddl() RETURNS event_trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands() c
				WHERE c.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
				  AND c.objid = 'pipeline.stage'::pg_catalog.regtype) THEN
		RAISE EXCEPTION 'type pipeline.stage cannot be altered'
			USING ERRCODE = '0A000',
				  DETAIL = 'Its labels, their order and its name are part of the pipeline extension''s contract.',
				  HINT = 'Create your own enum type and register it with pipeline.define_stages().';
	END IF;
	PERFORM pipeline._check_stage_limit(c.objid::pg_catalog.regtype)
	   FROM pg_catalog.pg_event_trigger_ddl_commands() c
	   JOIN pipeline.stage_types r ON r.stage_type = c.objid
	  WHERE c.classid = 'pg_catalog.pg_type'::pg_catalog.regclass;
END
$$;
