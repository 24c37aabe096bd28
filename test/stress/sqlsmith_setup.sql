-- Database for the sqlsmith run of `make stress` (tools/run-stress.sh):
-- the extension, a registered custom stage type, a plain and a partitioned
-- table attached with history and filled with rows that went through legal
-- transitions, and an ordinary role "smith" that sqlsmith connects as (so
-- that random calls of server functions cannot stop the server or touch
-- files), allowed to read everything and to write the attached tables.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;

CREATE TYPE public.smith_stage AS ENUM ('new', 'qualified', 'demo', 'won', 'upsold', 'lost');
SELECT pipeline.define_stages('public.smith_stage', won => ARRAY['won', 'upsold'], lost => ARRAY['lost']);

CREATE TABLE public.deals (id int PRIMARY KEY, region text, stage pipeline.stage NOT NULL DEFAULT 'lead_generation',
						   amount numeric(12,2), booked_at timestamptz, fulfilled_at timestamptz);
SELECT pipeline.attach('public.deals');
INSERT INTO public.deals (id, region, amount, booked_at, fulfilled_at)
SELECT i, (ARRAY['north', 'south', 'east', 'west'])[1 + i % 4], (i * 13.37) % 10000 - 50,
	   '2025-01-01'::timestamptz + i * interval '7 hours',
	   CASE WHEN i % 3 = 0 THEN '2025-01-01'::timestamptz + i * interval '9 hours' END
  FROM generate_series(1, 2000) AS i;
UPDATE public.deals SET stage = 'prospecting' WHERE id % 2 = 0;
UPDATE public.deals SET stage = 'qualification' WHERE id % 4 = 0;
UPDATE public.deals SET stage = 'closed_lost' WHERE id % 7 = 0;

CREATE TABLE public.opps (id int, part int, stage public.smith_stage NOT NULL, amount numeric,
						  PRIMARY KEY (id, part)) PARTITION BY LIST (part);
CREATE TABLE public.opps_0 PARTITION OF public.opps FOR VALUES IN (0);
CREATE TABLE public.opps_1 PARTITION OF public.opps FOR VALUES IN (1);
CREATE TABLE public.opps_d PARTITION OF public.opps DEFAULT;
SELECT pipeline.attach('public.opps', ruleset => 'lenient');
INSERT INTO public.opps SELECT i, i % 3, 'new', i * 2.5 FROM generate_series(1, 1000) AS i;
UPDATE public.opps SET stage = 'demo' WHERE id % 2 = 0;
UPDATE public.opps SET stage = 'won' WHERE id % 6 = 0;
UPDATE public.opps SET part = 1 WHERE id % 5 = 0 AND part <> 1;

-- States of every kind, as a table sqlsmith can pick values from.
CREATE TABLE public.states AS
SELECT region, pipeline.win_rate(stage) AS wr, pipeline.funnel(stage) AS f,
	   pipeline._stage_counts_trans(NULL, stage) AS cs,
	   pipeline._weighted_pipeline_trans(NULL, stage, amount) AS ws,
	   pipeline._backlog_ratio_trans(NULL, amount, booked_at, fulfilled_at, '[2025-01-01,2025-06-01)') AS bs
  FROM public.deals GROUP BY region, stage, amount, booked_at, fulfilled_at LIMIT 500;
ANALYZE;

DROP ROLE IF EXISTS smith;
CREATE ROLE smith LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.deals, public.opps, public.states TO smith;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO smith;
GRANT USAGE ON SCHEMA pipeline TO smith;
