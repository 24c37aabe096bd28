-- The canonical stage type: labels, order, metadata, and that it is frozen.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Labels in order, straight from the catalog.
SELECT e.enumsortorder::int AS pos, e.enumlabel
  FROM pg_enum e WHERE e.enumtypid = 'pipeline.stage'::regtype ORDER BY e.enumsortorder;

-- Sort order is stage order.
SELECT 'lead_generation'::pipeline.stage < 'prospecting' AS lead_before_prospecting,
       'negotiation'::pipeline.stage < 'closed_won' AS negotiation_before_won,
       'follow_up'::pipeline.stage < 'closed_lost' AS follow_up_before_lost;

-- Metadata of every label, through the C functions.
SELECT s AS stage, pipeline.stage_ordinal(s) AS ordinal, pipeline.stage_kind(s) AS kind,
       pipeline.stage_probability(s) AS probability
  FROM unnest(enum_range(NULL::pipeline.stage)) AS s;

-- The view agrees with the functions, label by label.
SELECT count(*) AS labels,
       count(*) FILTER (WHERE c.ordinal = pipeline.stage_ordinal(c.stage::pipeline.stage)
                          AND c.kind = pipeline.stage_kind(c.stage::pipeline.stage)
                          AND c.probability = pipeline.stage_probability(c.stage::pipeline.stage)) AS agreeing
  FROM pipeline.stage_catalog c WHERE c.stage_type = 'pipeline.stage';
SELECT stage, is_entry, rotting_after FROM pipeline.stage_catalog WHERE stage_type = 'pipeline.stage' ORDER BY ordinal;

-- Column types of the view are BI-friendly.
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a WHERE a.attrelid = 'pipeline.stage_catalog'::regclass AND a.attnum > 0 ORDER BY a.attnum;

-- NULL in, NULL out.
SELECT pipeline.stage_kind(NULL::pipeline.stage) IS NULL AS kind_null,
       pipeline.stage_probability(NULL::pipeline.stage) IS NULL AS probability_null,
       pipeline.stage_ordinal(NULL::pipeline.stage) IS NULL AS ordinal_null;

-- Functions an analyst calls in a query are PARALLEL SAFE, STRICT and STABLE.
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict
  FROM pg_proc p WHERE p.pronamespace = 'pipeline'::regnamespace
   AND p.proname IN ('stage_kind', 'stage_probability', 'stage_ordinal') ORDER BY 1;

-- They work inside a parallel plan.
CREATE TABLE stage_type_rows AS
  SELECT i, (enum_range(NULL::pipeline.stage))[1 + i % 9] AS stage FROM generate_series(1, 20000) i;
ANALYZE stage_type_rows;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT sum(pipeline.stage_ordinal(stage)) FROM stage_type_rows;
SELECT sum(pipeline.stage_ordinal(stage)) = sum(1 + i % 9) AS parallel_ordinals_match,
       sum(pipeline.stage_probability(stage))
         = sum(('{0.05,0.10,0.20,0.30,0.60,0.80,1.00,1.00,0.00}'::numeric[])[1 + i % 9]) AS parallel_probabilities_match
  FROM stage_type_rows;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE stage_type_rows;

-- pipeline.stage is frozen: every ALTER TYPE form is refused.
ALTER TYPE pipeline.stage ADD VALUE 'churned';
\echo SQLSTATE :SQLSTATE
ALTER TYPE pipeline.stage RENAME VALUE 'proposal' TO 'offer';
\echo SQLSTATE :SQLSTATE
ALTER TYPE pipeline.stage RENAME TO sales_stage;
\echo SQLSTATE :SQLSTATE
CREATE ROLE stage_type_other;
ALTER TYPE pipeline.stage OWNER TO stage_type_other;
\echo SQLSTATE :SQLSTATE
DROP ROLE stage_type_other;
-- still intact
SELECT count(*) AS labels FROM pg_enum WHERE enumtypid = 'pipeline.stage'::regtype;
-- other enums are not affected
CREATE TYPE stage_type_free AS ENUM ('a', 'b');
ALTER TYPE stage_type_free ADD VALUE 'c';
DROP TYPE stage_type_free;

-- It cannot be redefined or undefined.
SELECT pipeline.define_stages('pipeline.stage', '{closed_won}', '{closed_lost}');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.undefine_stages('pipeline.stage');
\echo SQLSTATE :SQLSTATE

-- The install script stores no row a user could change.
SELECT (SELECT count(*) FROM pipeline.stage_types) AS registrations,
       (SELECT count(*) FROM pipeline.stage_settings) AS settings,
       (SELECT count(*) FROM pipeline.rulesets) AS rulesets,
       (SELECT count(*) FROM pipeline.ruleset_edges) AS edges;
-- and marks every config table for pg_dump.
SELECT c::regclass AS config_table, coalesce(f, '') AS filter
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, f)
 WHERE e.extname = 'pipeline' ORDER BY 1;
