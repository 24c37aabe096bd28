-- Per-stage settings: probability and rotting thresholds, for the built-in
-- type and a custom one; NULL resets; errors.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT pipeline.set_probability('pipeline.stage', 'proposal', 0.55);
SELECT pipeline.set_rotting_after('pipeline.stage', 'proposal', '14 days');
SELECT pipeline.set_rotting_after('pipeline.stage', 'negotiation', '1 month');
SELECT pipeline.stage_probability('proposal'::pipeline.stage);
SELECT stage, probability, rotting_after FROM pipeline.stage_catalog
 WHERE stage_type = 'pipeline.stage' AND stage IN ('proposal', 'negotiation') ORDER BY ordinal;
SELECT stage_type, stage, probability, rotting_after FROM pipeline.stage_settings ORDER BY stage;

-- Changing one setting keeps the other.
SELECT pipeline.set_probability('pipeline.stage', 'proposal', 0.65);
SELECT stage, probability, rotting_after FROM pipeline.stage_catalog
 WHERE stage_type = 'pipeline.stage' AND stage = 'proposal';

-- NULL goes back to the default; a row with nothing left disappears.
SELECT pipeline.set_probability('pipeline.stage', 'proposal', NULL);
SELECT pipeline.set_rotting_after('pipeline.stage', 'proposal', NULL);
SELECT pipeline.set_rotting_after('pipeline.stage', 'negotiation', NULL);
SELECT pipeline.stage_probability('proposal'::pipeline.stage);
SELECT count(*) AS settings_rows FROM pipeline.stage_settings;

-- Errors: unknown label 22P02, out of range 22023, unregistered 42704, not an enum 42809.
SELECT pipeline.set_probability('pipeline.stage', 'offer', 0.5);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_probability('pipeline.stage', NULL, 0.5);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_probability('pipeline.stage', 'proposal', 1.01);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_probability('pipeline.stage', 'proposal', -0.01);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_probability('pipeline.stage', 'proposal', 'NaN');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_rotting_after('pipeline.stage', 'proposal', '-1 day');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_rotting_after('pipeline.stage', 'proposal', '0');
\echo SQLSTATE :SQLSTATE
CREATE TYPE settings_unregistered AS ENUM ('a', 'b');
SELECT pipeline.set_probability('settings_unregistered', 'a', 0.5);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_rotting_after('text', 'a', '1 day');
\echo SQLSTATE :SQLSTATE
DROP TYPE settings_unregistered;

-- Ordinary roles read settings but cannot change them.
CREATE ROLE settings_reader;
SET ROLE settings_reader;
SELECT count(*) AS visible FROM pipeline.stage_catalog WHERE stage_type = 'pipeline.stage';
SELECT pipeline.set_probability('pipeline.stage', 'proposal', 0.5);
\echo SQLSTATE :SQLSTATE
INSERT INTO pipeline.stage_settings VALUES ('pipeline.stage', 'proposal', 0.5, NULL);
\echo SQLSTATE :SQLSTATE
RESET ROLE;
DROP ROLE settings_reader;

-- A setting made inside a transaction is seen by its next statement, and
-- a rolled-back one is gone.
BEGIN;
SELECT pipeline.set_probability('pipeline.stage', 'qualification', 0.25);
SELECT pipeline.stage_probability('qualification'::pipeline.stage);
ROLLBACK;
SELECT pipeline.stage_probability('qualification'::pipeline.stage);
