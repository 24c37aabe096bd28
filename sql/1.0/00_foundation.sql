/* pipeline 1.0: foundation -- schema check, config tables, cache invalidation */

\echo Use "CREATE EXTENSION pipeline" to load this file. \quit

-- A pre-existing "pipeline" schema must belong to the installing role (or a
-- superuser): another owner could plant objects that our code would run.
DO $$
DECLARE
	owner_ok boolean;
BEGIN
	-- @extowner@ is the installer's name, quoted as an identifier when it
	-- needs quotes: regrole input reads it either way.
	SELECT r.rolsuper OR r.oid = $q$@extowner@$q$::pg_catalog.regrole
	  INTO owner_ok
	  FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
	 WHERE n.nspname = 'pipeline';
	IF NOT owner_ok THEN
		RAISE EXCEPTION 'schema "pipeline" already exists and is owned by another role'
			USING ERRCODE = '42501',
				  DETAIL = 'The pipeline extension installs into schema "pipeline"; a schema owned by someone else could hold objects that would run with the extension''s rights.',
				  HINT = 'Drop or rename that schema, or have its owner or a superuser create the extension.';
	END IF;
END
$$;

-- Called by the statement-level triggers on the config tables: tells every
-- backend (at its next statement) to drop its cached stage metadata.
CREATE FUNCTION pipeline._config_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'pipeline_config_changed'
	LANGUAGE C;

-- Registrations of custom enum types (pipeline.stage is built in, with no
-- row here).  labels/probabilities are as of registration, in enum order;
-- labels added later follow DESIGN.md's rule (see README).
CREATE TABLE pipeline.stage_types (
	stage_type		regtype PRIMARY KEY,
	labels			text[] NOT NULL,
	won				text[] NOT NULL,
	lost			text[] NOT NULL,
	entry			text[] NOT NULL,
	probabilities	numeric[] NOT NULL,
	CHECK (cardinality(labels) = cardinality(probabilities))
);

-- Per-stage settings the user changed, for any registered type.  NULL means
-- "the default": the registration's probability, never rotting.
CREATE TABLE pipeline.stage_settings (
	stage_type		regtype NOT NULL,
	stage			text NOT NULL,
	probability		numeric CHECK (probability >= 0 AND probability <= 1),
	rotting_after	interval CHECK (rotting_after > interval '0'),
	PRIMARY KEY (stage_type, stage)
);

-- Custom rulesets and their edges (from_stage NULL = creation).  The
-- built-in strict and lenient rulesets are computed, never stored.
CREATE TABLE pipeline.rulesets (
	stage_type		regtype NOT NULL,
	ruleset			text NOT NULL CHECK (ruleset NOT IN ('strict', 'lenient') AND ruleset <> ''),
	PRIMARY KEY (stage_type, ruleset)
);

CREATE TABLE pipeline.ruleset_edges (
	stage_type		regtype NOT NULL,
	ruleset			text NOT NULL,
	from_stage		text,
	to_stage		text NOT NULL,
	UNIQUE NULLS NOT DISTINCT (stage_type, ruleset, from_stage, to_stage),
	FOREIGN KEY (stage_type, ruleset) REFERENCES pipeline.rulesets ON DELETE CASCADE
);

CREATE TRIGGER zz_pipeline_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.stage_types FOR EACH STATEMENT EXECUTE FUNCTION pipeline._config_changed();
CREATE TRIGGER zz_pipeline_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.stage_settings FOR EACH STATEMENT EXECUTE FUNCTION pipeline._config_changed();
CREATE TRIGGER zz_pipeline_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.rulesets FOR EACH STATEMENT EXECUTE FUNCTION pipeline._config_changed();
CREATE TRIGGER zz_pipeline_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.ruleset_edges FOR EACH STATEMENT EXECUTE FUNCTION pipeline._config_changed();

-- User data: dumped with the database, restored by pg_restore.
SELECT pg_catalog.pg_extension_config_dump('pipeline.stage_types', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.stage_settings', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.rulesets', '');
SELECT pg_catalog.pg_extension_config_dump('pipeline.ruleset_edges', '');

-- Everyone reads the configuration; the extension owner (and superusers)
-- edit it.  When installed as a trusted extension the tables belong to the
-- bootstrap superuser, hence the explicit grant to @extowner@.
GRANT USAGE ON SCHEMA pipeline TO PUBLIC;
GRANT SELECT ON pipeline.stage_types, pipeline.stage_settings,
	pipeline.rulesets, pipeline.ruleset_edges TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON pipeline.stage_types,
	pipeline.stage_settings, pipeline.rulesets, pipeline.ruleset_edges TO @extowner@;
