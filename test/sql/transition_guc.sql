SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set VERBOSITY default

-- pipeline.enforce_transitions is superuser-only (PGC_SUSET).
CREATE ROLE pipeline_guc_user;
CREATE ROLE pipeline_guc_migrator;
CREATE TABLE public.guc_deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('public.guc_deals');
GRANT SELECT, INSERT, UPDATE ON public.guc_deals TO pipeline_guc_user, pipeline_guc_migrator;

-- once the library is loaded, an ordinary role's SET fails with 42501
SELECT pipeline.can_transition(NULL, 'prospecting'::pipeline.stage) AS library_loaded;
SET ROLE pipeline_guc_user;
SET pipeline.enforce_transitions = off;
\echo SQLSTATE :SQLSTATE
BEGIN;
SET LOCAL pipeline.enforce_transitions = off;
ROLLBACK;
SELECT set_config('pipeline.enforce_transitions', 'off', false);
SHOW pipeline.enforce_transitions;
RESET ROLE;

-- a value an ordinary role set before the library was loaded is discarded,
-- with a WARNING, when the library loads: it never takes effect
\c
SET ROLE pipeline_guc_user;
SET pipeline.enforce_transitions = off;
SHOW pipeline.enforce_transitions;	-- a placeholder so far
INSERT INTO public.guc_deals VALUES (1, 'closed_won');
SHOW pipeline.enforce_transitions;
SELECT count(*) AS loaded_rows FROM public.guc_deals;
RESET ROLE;

-- GRANT SET ON PARAMETER delegates it, e.g. to a migration role
GRANT SET ON PARAMETER pipeline.enforce_transitions TO pipeline_guc_migrator;
SET ROLE pipeline_guc_migrator;
SET pipeline.enforce_transitions = off;
INSERT INTO public.guc_deals VALUES (2, 'closed_won'), (3, 'negotiation');
UPDATE public.guc_deals SET stage = 'lead_generation' WHERE id = 3;
RESET pipeline.enforce_transitions;
UPDATE public.guc_deals SET stage = 'closed_won' WHERE id = 3;
RESET ROLE;
SELECT * FROM public.guc_deals ORDER BY id;
-- history is recorded while enforcement is off
SELECT id, from_stage, to_stage, changed_by FROM public.guc_deals_stage_history ORDER BY seq;

REVOKE SET ON PARAMETER pipeline.enforce_transitions FROM pipeline_guc_migrator;
SELECT pipeline.detach('public.guc_deals');
DROP TABLE public.guc_deals, public.guc_deals_stage_history;
DROP ROLE pipeline_guc_user, pipeline_guc_migrator;
