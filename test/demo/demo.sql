-- make demo: what the pipeline extension does, on a throwaway cluster.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION pipeline;

\echo
\echo '== The canonical sales pipeline (pipeline.stage_catalog)'
SELECT ordinal AS "#", stage, kind, probability, is_entry AS "entry?"
  FROM pipeline.stage_catalog WHERE stage_type = 'pipeline.stage' ORDER BY ordinal;

\echo '== A custom pipeline: a SaaS team registers its own enum'
CREATE TYPE public.saas_stage AS ENUM
	('trial', 'demo', 'lost_in_trial', 'security_review', 'paid', 'expanded', 'churned');
SELECT pipeline.define_stages('public.saas_stage',
	won => ARRAY['paid', 'expanded'], lost => ARRAY['lost_in_trial', 'churned']) \gset
SELECT pipeline.set_rotting_after('public.saas_stage', 'security_review', '21 days') \gset
SELECT ordinal AS "#", stage, kind, probability, is_entry AS "entry?", rotting_after
  FROM pipeline.stage_catalog WHERE stage_type = 'public.saas_stage' ORDER BY ordinal;

\echo '== Later the team adds a stage; it is classified by where it sorts'
ALTER TYPE public.saas_stage ADD VALUE 'procurement' BEFORE 'paid';
SELECT s AS stage, pipeline.stage_kind(s) AS kind, pipeline.stage_probability(s) AS probability
  FROM unnest(enum_range(NULL::public.saas_stage)) AS s;
