
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

-- ALTER TYPE ... ADD VALUE cannot take a registered type past the limit.
CREATE FUNCTION pipeline._check_altered_stage_types() RETURNS event_trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM pipeline._check_stage_limit(c.objid::pg_catalog.regtype)
	   FROM pg_catalog.pg_event_trigger_ddl_commands() c
	   JOIN pipeline.stage_types r ON r.stage_type = c.objid
	  WHERE c.classid = 'pg_catalog.pg_type'::pg_catalog.regclass;
END
$$;
COMMENT ON FUNCTION pipeline._check_altered_stage_types() IS
	'internal: event trigger function of pipeline_stage_limit';

CREATE EVENT TRIGGER pipeline_stage_limit ON ddl_command_end
	WHEN TAG IN ('ALTER TYPE')
	EXECUTE FUNCTION pipeline._check_altered_stage_types();
COMMENT ON EVENT TRIGGER pipeline_stage_limit IS
	'pipeline: refuses ALTER TYPE ... ADD VALUE that takes a registered stage type past 1,000 labels';
