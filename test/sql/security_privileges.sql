-- Privileges: what an ordinary role can and cannot do.  It reads the views
-- and uses the functions and aggregates; it cannot edit registrations,
-- settings or rules, cannot write a history table (not even through a table
-- it may update), cannot detach or disable a pipeline on a table it does not
-- own, and cannot set pipeline.enforce_transitions unless granted.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse

CREATE ROLE priv_reader;
CREATE ROLE priv_migrator;
CREATE TYPE public.priv_stage AS ENUM ('new', 'working', 'won', 'lost');
SELECT pipeline.define_stages('public.priv_stage', '{won}', '{lost}');
SELECT pipeline.copy_ruleset('public.priv_stage', 'strict', 'priv_rules');
CREATE TABLE public.priv_deals (id int PRIMARY KEY, stage public.priv_stage NOT NULL, amount numeric);
SELECT pipeline.attach('public.priv_deals', ruleset => 'priv_rules');
INSERT INTO public.priv_deals VALUES (1, 'new', 10), (2, 'new', 20);
GRANT SELECT, UPDATE ON public.priv_deals TO priv_reader, priv_migrator;
CREATE SCHEMA priv_own AUTHORIZATION priv_reader;

SET ROLE priv_reader;
-- reads: views, functions, aggregates
SELECT count(*) > 0 AS reads_catalog FROM pipeline.stage_catalog;
SELECT count(*) > 0 AS reads_rules FROM pipeline.transition_rules WHERE stage_type = 'public.priv_stage';
SELECT table_name, ruleset, history_table FROM pipeline.attachments WHERE table_name = 'public.priv_deals';
SELECT count(*) AS reads_config FROM pipeline.stage_types WHERE stage_type = 'public.priv_stage'::regtype;
SELECT pipeline.can_transition('new'::public.priv_stage, 'working'), pipeline.next_stages('new'::public.priv_stage),
       pipeline.stage_kind('won'::public.priv_stage), pipeline.stage_probability('working'::public.priv_stage);
SELECT pipeline.win_rate(stage), pipeline.funnel(stage), pipeline.weighted_pipeline(stage, amount),
       pipeline.furthest_stage(stage), pipeline.conversion_rate(stage, 'working'::public.priv_stage)
  FROM public.priv_deals;
SELECT pipeline.backlog_ratio(x, y) FROM (VALUES (1::numeric, 2::numeric)) v(x, y);
-- SELECT on the table, granted after attach, carries over to its history
-- table (pipeline_sync_grants; grants_follow covers revocation)
SELECT count(*) FROM public.priv_deals_stage_history;
\echo SQLSTATE :SQLSTATE

-- cannot edit registrations, settings or rules: 42501 every time
SELECT pipeline.define_stages('public.priv_stage', '{won}', '{lost}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.undefine_stages('public.priv_stage');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_probability('public.priv_stage', 'working', 0.9);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_probability('pipeline.stage', 'proposal', 0.9);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.set_rotting_after('public.priv_stage', 'working', '1 day');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.copy_ruleset('public.priv_stage', 'strict', 'mine');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.allow_transition('public.priv_stage', 'priv_rules', 'new', 'won');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.forbid_transition('public.priv_stage', 'priv_rules', 'new', 'working');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.drop_ruleset('public.priv_stage', 'priv_rules');
\echo SQLSTATE :SQLSTATE
INSERT INTO pipeline.ruleset_edges VALUES ('public.priv_stage', 'priv_rules', 'new', 'won');
\echo SQLSTATE :SQLSTATE
UPDATE pipeline.stage_types SET won = '{won,working}';
\echo SQLSTATE :SQLSTATE
DELETE FROM pipeline.stage_settings;
\echo SQLSTATE :SQLSTATE
TRUNCATE pipeline.rulesets;
\echo SQLSTATE :SQLSTATE
INSERT INTO pipeline.stage_settings VALUES ('pipeline.stage', 'proposal', 0.9, NULL);
\echo SQLSTATE :SQLSTATE
-- its own enum cannot be registered either (registrations are the owner's)
CREATE TYPE priv_own.mine AS ENUM ('a', 'b');
SELECT pipeline.define_stages('priv_own.mine', '{b}', NULL);
\echo SQLSTATE :SQLSTATE

-- the internal helpers run with its rights: they cannot drop or replace the
-- per-type aggregates either
SELECT pipeline._apply_aggregates('pipeline.stage', 'drop');
\echo SQLSTATE :SQLSTATE
SELECT pipeline._apply_aggregates('public.priv_stage', 'declare');
\echo SQLSTATE :SQLSTATE

-- cannot detach, re-attach or disable the pipeline of a table it does not own
SELECT pipeline.detach('public.priv_deals');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.attach('public.priv_deals', ruleset => 'lenient');
\echo SQLSTATE :SQLSTATE
ALTER TABLE public.priv_deals DISABLE TRIGGER zz_pipeline_enforce_stage;
\echo SQLSTATE :SQLSTATE
DROP TRIGGER zz_pipeline_enforce_stage ON public.priv_deals;
\echo SQLSTATE :SQLSTATE

-- writes the table through the rules; history follows, written for it
UPDATE public.priv_deals SET stage = 'working' WHERE id = 1;
UPDATE public.priv_deals SET stage = 'won' WHERE id = 2;
\echo SQLSTATE :SQLSTATE
-- ... but cannot write the history itself
INSERT INTO public.priv_deals_stage_history (id, from_stage, to_stage) VALUES (2, 'new', 'won');
\echo SQLSTATE :SQLSTATE
UPDATE public.priv_deals_stage_history SET to_stage = 'won';
\echo SQLSTATE :SQLSTATE
DELETE FROM public.priv_deals_stage_history;
\echo SQLSTATE :SQLSTATE
TRUNCATE public.priv_deals_stage_history;
\echo SQLSTATE :SQLSTATE

-- cannot turn enforcement off: SET, SET LOCAL, set_config, ALTER ROLE
SHOW pipeline.enforce_transitions;
SET pipeline.enforce_transitions = off;
\echo SQLSTATE :SQLSTATE
BEGIN;
SET LOCAL pipeline.enforce_transitions = off;
\echo SQLSTATE :SQLSTATE
ROLLBACK;
SELECT set_config('pipeline.enforce_transitions', 'off', false);
\echo SQLSTATE :SQLSTATE
ALTER ROLE priv_reader SET pipeline.enforce_transitions = off;
\echo SQLSTATE :SQLSTATE
SET session_replication_role = replica;
\echo SQLSTATE :SQLSTATE
SHOW pipeline.enforce_transitions;
UPDATE public.priv_deals SET stage = 'won' WHERE id = 2;
\echo SQLSTATE :SQLSTATE

-- its own table: it may attach a pipeline there (attach runs with its rights)
CREATE TABLE priv_own.t (id int PRIMARY KEY, stage pipeline.stage);
SELECT pipeline.attach('priv_own.t');
INSERT INTO priv_own.t VALUES (1, 'lead_generation');
SELECT id, from_stage, to_stage, changed_by FROM priv_own.t_stage_history;
SELECT pipeline.detach('priv_own.t');
RESET ROLE;

SELECT id, from_stage, to_stage, changed_by FROM public.priv_deals_stage_history ORDER BY id, seq;

-- GRANT SET ON PARAMETER delegates the switch; history is still recorded.
GRANT SET ON PARAMETER pipeline.enforce_transitions TO priv_migrator;
SET ROLE priv_migrator;
SET pipeline.enforce_transitions = off;
UPDATE public.priv_deals SET stage = 'won' WHERE id = 1;     -- skips no check: enforcement is off
RESET pipeline.enforce_transitions;
UPDATE public.priv_deals SET stage = 'new' WHERE id = 1;     -- back on: illegal
\echo SQLSTATE :SQLSTATE
RESET ROLE;
REVOKE SET ON PARAMETER pipeline.enforce_transitions FROM priv_migrator;
SELECT id, from_stage, to_stage, changed_by FROM public.priv_deals_stage_history WHERE id = 1 ORDER BY seq;

-- A value an ordinary role sets before the library is loaded is discarded
-- (with a WARNING) at load and never takes effect.
\c
SET ROLE priv_reader;
SET pipeline.enforce_transitions = off;
SELECT pipeline.stage_kind('new'::public.priv_stage);
SHOW pipeline.enforce_transitions;
UPDATE public.priv_deals SET stage = 'won' WHERE id = 2;     -- still enforced
\echo SQLSTATE :SQLSTATE
RESET ROLE;

-- superuser bypass, documented in docs/operations.md: replica mode fires no
-- ordinary trigger, so neither rules nor history apply.
SET session_replication_role = replica;
UPDATE public.priv_deals SET stage = 'lost' WHERE id = 2;
RESET session_replication_role;
SELECT id, stage FROM public.priv_deals ORDER BY id;
SELECT count(*) AS history_rows_for_2 FROM public.priv_deals_stage_history WHERE id = 2;

-- A table whose readers were granted before attach: they read its history
-- and every view attach made for it (the grants are copied), and still
-- cannot write the history.
CREATE TABLE public.priv_open (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric);
GRANT SELECT, INSERT, UPDATE ON public.priv_open TO priv_reader;
SELECT pipeline.attach('public.priv_open');
SET ROLE priv_reader;
INSERT INTO public.priv_open VALUES (1, 'lead_generation', 5);
UPDATE public.priv_open SET stage = 'prospecting';
SELECT id, from_stage, to_stage, changed_by FROM public.priv_open_stage_history ORDER BY seq;
DO $$
DECLARE
	v regclass;
	n bigint;
BEGIN
	FOR v IN SELECT c.oid FROM pg_class c
			  WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace AND c.relname LIKE 'priv\_open\_%' LOOP
		EXECUTE format('SELECT count(*) FROM %s', v) INTO n;	-- 42501 would end the test here
	END LOOP;
	RAISE NOTICE 'the reader reads every view attach made';
END
$$;
DELETE FROM public.priv_open_stage_history;
\echo SQLSTATE :SQLSTATE
RESET ROLE;
SET client_min_messages = warning;
DROP TABLE public.priv_open, public.priv_open_stage_history CASCADE;
RESET client_min_messages;

-- clean up
SELECT pipeline.detach('public.priv_deals');
DROP TABLE public.priv_deals, public.priv_deals_stage_history;
DROP SCHEMA priv_own CASCADE;
SELECT pipeline.drop_ruleset('public.priv_stage', 'priv_rules');
SELECT pipeline.undefine_stages('public.priv_stage');
DROP TYPE public.priv_stage;
DROP ROLE priv_reader;
DROP ROLE priv_migrator;
