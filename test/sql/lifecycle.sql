-- Dropping a registered type leaves no dangling registration, settings or
-- rulesets; dropping other objects leaves registrations alone.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE TYPE lifecycle_stage AS ENUM ('new', 'won', 'lost');
CREATE TYPE lifecycle_keep AS ENUM ('new', 'won');
SELECT pipeline.define_stages('lifecycle_stage', '{won}', '{lost}');
SELECT pipeline.define_stages('lifecycle_keep', '{won}', NULL);
SELECT pipeline.set_rotting_after('lifecycle_stage', 'new', '7 days');
INSERT INTO pipeline.rulesets VALUES ('lifecycle_stage', 'custom');
INSERT INTO pipeline.ruleset_edges VALUES ('lifecycle_stage', 'custom', NULL, 'new');

-- an unrelated drop changes nothing
CREATE TABLE lifecycle_unrelated (id int);
DROP TABLE lifecycle_unrelated;
SELECT count(*) AS registrations FROM pipeline.stage_types;

-- define_stages declared per-type aggregates
CREATE TEMP TABLE lifecycle_aggs AS
  SELECT p.oid FROM pg_proc p WHERE p.prokind = 'a' AND p.proargtypes[0] = 'lifecycle_stage'::regtype;
SELECT count(*) > 0 AS has_aggregates FROM lifecycle_aggs;

-- a role that owns the type but cannot write the config tables can drop it
CREATE ROLE lifecycle_owner;
ALTER TYPE lifecycle_stage OWNER TO lifecycle_owner;
SET ROLE lifecycle_owner;
SET client_min_messages = warning;
DROP TYPE lifecycle_stage CASCADE;
RESET client_min_messages;
RESET ROLE;
-- its per-type aggregates went with it
SELECT count(*) AS aggregates_left FROM pg_proc WHERE oid IN (SELECT oid FROM lifecycle_aggs);
SELECT (SELECT count(*) FROM pipeline.stage_types) AS registrations,
       (SELECT count(*) FROM pipeline.stage_settings) AS settings,
       (SELECT count(*) FROM pipeline.rulesets) AS rulesets,
       (SELECT count(*) FROM pipeline.ruleset_edges) AS edges;
SELECT DISTINCT stage_type FROM pipeline.stage_catalog ORDER BY 1;

SELECT pipeline.undefine_stages('lifecycle_keep');
DROP TYPE lifecycle_keep;
DROP ROLE lifecycle_owner;
