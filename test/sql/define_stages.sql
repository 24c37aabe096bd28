-- Registering custom enums: defaults, explicit settings, re-registration,
-- undefine, and every error with its SQLSTATE.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE TYPE public.saas_stage AS ENUM ('trial', 'demo', 'lost_early', 'security_review', 'paid', 'expanded', 'churned');

-- Unregistered: 42704 with a HINT naming define_stages.
SELECT pipeline.stage_kind('trial'::saas_stage);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.stage_probability('trial'::saas_stage);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.stage_ordinal('trial'::saas_stage);
\echo SQLSTATE :SQLSTATE

-- Defaults: the i-th of k open stages gets round(i/(k+1), 4); won 1; lost 0;
-- entry stages are the first two open ones.
SELECT pipeline.define_stages('saas_stage', won => '{paid,expanded}', lost => '{lost_early,churned}');
SELECT stage, ordinal, kind, probability, is_entry FROM pipeline.stage_catalog
 WHERE stage_type = 'public.saas_stage' ORDER BY ordinal;
SELECT s, pipeline.stage_kind(s), pipeline.stage_ordinal(s), pipeline.stage_probability(s)
  FROM unnest(enum_range(NULL::saas_stage)) s;
SELECT stage_type, labels, won, lost, entry, probabilities FROM pipeline.stage_types;

-- Re-registration replaces the registration (idempotent; same call twice).
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}',
                              '{0.1,0.3,0,0.7,1,1,0}', '{trial}');
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}',
                              '{0.1,0.3,0,0.7,1,1,0}', '{trial}');
SELECT count(*) AS registrations FROM pipeline.stage_types WHERE stage_type = 'saas_stage'::regtype;
SELECT stage, kind, probability, is_entry FROM pipeline.stage_catalog
 WHERE stage_type = 'public.saas_stage' ORDER BY ordinal;
-- A registration's probabilities replace earlier set_probability overrides.
SELECT pipeline.set_probability('saas_stage', 'demo', 0.4);
SELECT pipeline.stage_probability('demo'::saas_stage);
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}');
SELECT pipeline.stage_probability('demo'::saas_stage);

-- Schema-qualified names in the catalog whatever the search_path.
CREATE SCHEMA "Sales Ops";
CREATE TYPE "Sales Ops"."Deal Stage" AS ENUM ('open', 'won');
SELECT pipeline.define_stages('"Sales Ops"."Deal Stage"', '{won}', NULL);
SET search_path = "Sales Ops", public;
SELECT stage_type, stage, kind, probability, is_entry FROM pipeline.stage_catalog
 WHERE stage_type <> 'pipeline.stage' AND stage_type <> 'public.saas_stage' ORDER BY ordinal;
RESET search_path;

-- Errors.
-- not an enum: 42809
SELECT pipeline.define_stages('integer', '{a}', '{b}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.stage_kind(1);
\echo SQLSTATE :SQLSTATE
-- unknown labels: 22P02
SELECT pipeline.define_stages('saas_stage', '{paid,nope}', '{churned}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid}', '{churned,NULL}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid}', '{churned}', NULL, '{nope}');
\echo SQLSTATE :SQLSTATE
-- both won and lost: 22023
SELECT pipeline.define_stages('saas_stage', '{paid}', '{paid,churned}');
\echo SQLSTATE :SQLSTATE
-- no won label: 22023
SELECT pipeline.define_stages('saas_stage', '{}', '{churned}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', NULL, '{churned}');
\echo SQLSTATE :SQLSTATE
-- no open label: 22023
SELECT pipeline.define_stages('saas_stage', '{trial,demo,security_review,paid,expanded}', '{lost_early,churned}');
\echo SQLSTATE :SQLSTATE
-- a won label before an open one: 22023
SELECT pipeline.define_stages('saas_stage', '{demo,paid}', '{churned}');
\echo SQLSTATE :SQLSTATE
-- probabilities: wrong count, out of range, NULL, NaN, two dimensions: 22023
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', '{0.1,0.2}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', '{0.1,0.3,0,0.7,1.5,1,0}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', '{0.1,-0.3,0,0.7,1,1,0}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', '{0.1,NULL,0,0.7,1,1,0}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', '{0.1,NaN,0,0.7,1,1,0}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', '{{0.1,0.2},{0.3,0.4}}');
\echo SQLSTATE :SQLSTATE
-- entry: not open, empty: 22023
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', NULL, '{paid}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', NULL, '{lost_early}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}', NULL, '{}');
\echo SQLSTATE :SQLSTATE
-- NULL type
SELECT pipeline.define_stages(NULL, '{paid}', '{churned}');
\echo SQLSTATE :SQLSTATE
-- more labels than a pipeline supports (1,000): 54000, nothing registered
CREATE FUNCTION pg_temp.create_enum(name text, nlabels integer) RETURNS void
	LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE (SELECT format('CREATE TYPE public.%I AS ENUM (%s)', name,
						   string_agg(quote_literal('s' || i), ', ' ORDER BY i))
			   FROM generate_series(1, nlabels) i);
END
$$;
SELECT pg_temp.create_enum('huge_stage', 1001);
SELECT pipeline.define_stages('huge_stage', '{s1000}', '{s1001}');
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS huge_registrations FROM pipeline.stage_types WHERE stage_type = 'huge_stage'::regtype;
-- a direct write to the registrations is held to it too
INSERT INTO pipeline.stage_types (stage_type, labels, won, lost, entry, probabilities)
VALUES ('huge_stage', '{s1}', '{s1000}', '{s1001}', '{s1}', '{0}');
\echo SQLSTATE :SQLSTATE
DROP TYPE huge_stage;
-- 1,000 labels register, aggregate, and cannot grow past the limit
SELECT pg_temp.create_enum('wide_stage', 1000);
SELECT pipeline.define_stages('wide_stage', '{s999}', '{s1000}');
SELECT pipeline.win_rate(s), pipeline.conversion_rate(s, 's500'),
       cardinality(pipeline.funnel(s)) AS funnel_stages, pipeline.furthest_stage(s)
  FROM unnest(ARRAY['s1', 's600', 's999', 's1000']::wide_stage[]) s;
ALTER TYPE wide_stage ADD VALUE 's1001';
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS wide_labels FROM pg_enum WHERE enumtypid = 'wide_stage'::regtype;
SELECT pipeline.undefine_stages('wide_stage');
DROP TYPE wide_stage;
-- a failed call left the registration as it was
SELECT labels, won, lost, entry FROM pipeline.stage_types WHERE stage_type = 'saas_stage'::regtype;

-- Only the extension owner and superusers register types.
CREATE ROLE define_stages_analyst;
GRANT USAGE ON SCHEMA "Sales Ops" TO define_stages_analyst;
SET ROLE define_stages_analyst;
SELECT pipeline.define_stages('saas_stage', '{paid,expanded}', '{lost_early,churned}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.undefine_stages('saas_stage');
\echo SQLSTATE :SQLSTATE
-- but anyone reads metadata
SELECT pipeline.stage_kind('paid'::saas_stage), count(*) AS catalog_rows FROM pipeline.stage_catalog;
RESET ROLE;

-- undefine: removes registration and settings; unregistered afterwards.
SELECT pipeline.set_rotting_after('saas_stage', 'demo', '3 days');
SELECT pipeline.undefine_stages('saas_stage');
SELECT count(*) AS left_behind FROM pipeline.stage_settings WHERE stage_type = 'saas_stage'::regtype;
SELECT pipeline.stage_kind('paid'::saas_stage);
\echo SQLSTATE :SQLSTATE
SELECT pipeline.undefine_stages('saas_stage');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.undefine_stages('integer');
\echo SQLSTATE :SQLSTATE

SELECT pipeline.undefine_stages('"Sales Ops"."Deal Stage"');
DROP SCHEMA "Sales Ops" CASCADE;
DROP TYPE saas_stage;
DROP ROLE define_stages_analyst;
