-- Lifecycle of attached tables: dropping an attached table, a partition, a
-- stage column or a registered type in use leaves no dangling registration
-- and no trigger naming a column that is gone; detaching a partition takes
-- it out of the pipeline; a partition attached later joins it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse

CREATE FUNCTION pg_temp.pipeline_triggers(rel regclass) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM pg_trigger t
	 WHERE t.tgrelid = rel
	   AND t.tgfoid IN ('pipeline.enforce_transition()'::regprocedure, 'pipeline.record_transition()'::regprocedure)
$$;

-- 1. an attached table dropped: nothing in pipeline.attachments
CREATE TABLE lc_plain (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('lc_plain');
INSERT INTO lc_plain VALUES (1, 'lead_generation');
SELECT table_name FROM pipeline.attachments WHERE table_name LIKE 'public.lc\_%' ORDER BY 1;
SET client_min_messages = warning;
DROP TABLE lc_plain CASCADE;
RESET client_min_messages;
SELECT count(*) AS attachments_left FROM pipeline.attachments WHERE table_name LIKE 'public.lc\_%';
-- the history stays (user data), and attach can use it again
SELECT count(*) AS history_rows FROM lc_plain_stage_history;
DROP TABLE lc_plain_stage_history;

-- 2. partitions: detach takes a partition out of the pipeline, drop leaves
-- nothing, a partition attached later is enforced and recorded
CREATE TABLE lc_parts (region text, id int, stage pipeline.stage NOT NULL, PRIMARY KEY (region, id))
	PARTITION BY LIST (region);
CREATE TABLE lc_parts_eu PARTITION OF lc_parts FOR VALUES IN ('eu');
CREATE TABLE lc_parts_us PARTITION OF lc_parts FOR VALUES IN ('us');
SELECT pipeline.attach('lc_parts');
INSERT INTO lc_parts VALUES ('eu', 1, 'lead_generation'), ('us', 2, 'lead_generation');
SELECT pg_temp.pipeline_triggers('lc_parts_eu') AS eu_triggers, pg_temp.pipeline_triggers('lc_parts_us') AS us_triggers;
ALTER TABLE lc_parts DETACH PARTITION lc_parts_us;
SELECT pg_temp.pipeline_triggers('lc_parts_us') AS detached_triggers;
UPDATE lc_parts_us SET stage = 'closed_won';          -- no longer in the pipeline: not enforced
SELECT table_name FROM pipeline.attachments WHERE table_name LIKE 'public.lc\_%' ORDER BY 1;
DROP TABLE lc_parts_us;
DROP TABLE lc_parts_eu;
SELECT table_name FROM pipeline.attachments WHERE table_name LIKE 'public.lc\_%' ORDER BY 1;
CREATE TABLE lc_parts_apac (region text, id int, stage pipeline.stage NOT NULL, PRIMARY KEY (region, id));
ALTER TABLE lc_parts ATTACH PARTITION lc_parts_apac FOR VALUES IN ('apac');
SELECT pg_temp.pipeline_triggers('lc_parts_apac') AS attached_partition_triggers;
INSERT INTO lc_parts VALUES ('apac', 3, 'lead_generation');
UPDATE lc_parts SET stage = 'closed_won' WHERE id = 3;
UPDATE lc_parts SET stage = 'prospecting' WHERE id = 3;
SELECT region, id, from_stage, to_stage FROM lc_parts_stage_history ORDER BY seq;
SELECT pipeline.detach('lc_parts');
DROP TABLE lc_parts, lc_parts_stage_history;

-- 3. the stage column dropped: the triggers that name it go with it, and the
-- table stays writable
CREATE TABLE lc_col (id int PRIMARY KEY, stage pipeline.stage NOT NULL, other int);
SELECT pipeline.attach('lc_col');
INSERT INTO lc_col VALUES (1, 'lead_generation', 0);
SET client_min_messages = warning;
ALTER TABLE lc_col DROP COLUMN stage CASCADE;
RESET client_min_messages;
SELECT pg_temp.pipeline_triggers('lc_col') AS triggers_left;
INSERT INTO lc_col VALUES (2, 0);
UPDATE lc_col SET other = 1;
SELECT count(*) AS attachments_left FROM pipeline.attachments WHERE table_name = 'public.lc_col';
-- another column's pipeline is untouched by an unrelated column drop
ALTER TABLE lc_col ADD COLUMN phase pipeline.stage;
SELECT pipeline.attach('lc_col', 'phase', track_history => false);
ALTER TABLE lc_col DROP COLUMN other;
SELECT pg_temp.pipeline_triggers('lc_col') AS phase_triggers;
SELECT pipeline.detach('lc_col', 'phase');
DROP TABLE lc_col, lc_col_stage_history;

-- 4. a registered type dropped while a table is attached (CASCADE drops the
-- column): registration, settings, rulesets, aggregates and triggers go
CREATE TYPE lc_stage AS ENUM ('new', 'won', 'lost');
SELECT pipeline.define_stages('lc_stage', '{won}', '{lost}');
SELECT pipeline.set_rotting_after('lc_stage', 'new', '1 day');
SELECT pipeline.copy_ruleset('lc_stage', 'lenient', 'lc_rules');
CREATE TABLE lc_typed (id int PRIMARY KEY, stage lc_stage NOT NULL);
SELECT pipeline.attach('lc_typed', ruleset => 'lc_rules');
INSERT INTO lc_typed VALUES (1, 'new');
SELECT pipeline.undefine_stages('lc_stage');           -- refused while attached
SET client_min_messages = warning;
DROP TYPE lc_stage CASCADE;
RESET client_min_messages;
SELECT (SELECT count(*) FROM pipeline.stage_types s WHERE NOT EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = s.stage_type)) AS dangling_registrations,
       (SELECT count(*) FROM pipeline.stage_settings s WHERE NOT EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = s.stage_type)) AS dangling_settings,
       (SELECT count(*) FROM pipeline.rulesets WHERE ruleset = 'lc_rules') AS rulesets,
       (SELECT count(*) FROM pipeline.ruleset_edges WHERE ruleset = 'lc_rules') AS edges,
       (SELECT count(*) FROM pg_proc WHERE pronamespace = 'pipeline'::regnamespace
                                     AND pg_get_function_identity_arguments(oid) LIKE '%lc_stage%') AS aggregates,
       pg_temp.pipeline_triggers('lc_typed') AS triggers,
       (SELECT count(*) FROM pipeline.attachments WHERE table_name = 'public.lc_typed') AS attachments;
INSERT INTO lc_typed VALUES (2);
SELECT id FROM lc_typed ORDER BY id;
DROP TABLE lc_typed, lc_typed_stage_history;
