-- Source database for the dump/restore test: a custom pipeline with its
-- per-type aggregates, settings changed on pipeline.stage and on the custom
-- type, edited rulesets, a plain and a partitioned attached table (one with
-- a second, history-less stage column) and their history.
CREATE EXTENSION pipeline;
CREATE TYPE public.deal_stage AS ENUM ('new', 'qualified', 'demo', 'proposal', 'won', 'expanded', 'lost');
SELECT pipeline.define_stages('public.deal_stage', '{won,expanded}', '{lost}');
SELECT pipeline.set_probability('public.deal_stage', 'demo', 0.42);
SELECT pipeline.set_rotting_after('public.deal_stage', 'qualified', '5 days');
SELECT pipeline.set_probability('pipeline.stage', 'proposal', 0.65);
SELECT pipeline.set_rotting_after('pipeline.stage', 'negotiation', '14 days');
SELECT pipeline.copy_ruleset('public.deal_stage', 'lenient', 'fast_track');
SELECT pipeline.allow_transition('public.deal_stage', 'fast_track', 'new', 'won');
SELECT pipeline.forbid_transition('public.deal_stage', 'fast_track', 'proposal', 'new');
SELECT pipeline.copy_ruleset('pipeline.stage', 'strict', 'no_early_loss');
SELECT pipeline.forbid_transition('pipeline.stage', 'no_early_loss', 'lead_generation', 'closed_lost');

CREATE TABLE public.deals (id int PRIMARY KEY, stage public.deal_stage NOT NULL DEFAULT 'new',
                           amount numeric(12,2) NOT NULL, phase pipeline.stage);
SELECT pipeline.attach('public.deals', ruleset => 'fast_track');
SELECT pipeline.attach('public.deals', 'phase', track_history => false);
CREATE TABLE public.orders (region text, id bigint, stage pipeline.stage NOT NULL, amount numeric,
                            PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE public.orders_eu PARTITION OF public.orders FOR VALUES IN ('eu');
CREATE TABLE public.orders_us PARTITION OF public.orders FOR VALUES IN ('us');
SELECT pipeline.attach('public.orders', ruleset => 'no_early_loss');

INSERT INTO public.deals (id, amount, phase) SELECT g, g * 10.5, 'lead_generation' FROM generate_series(1, 200) g;
UPDATE public.deals SET stage = 'qualified' WHERE id % 2 = 0;
UPDATE public.deals SET stage = 'demo' WHERE id % 4 = 0;
UPDATE public.deals SET stage = 'proposal' WHERE id % 8 = 0;
UPDATE public.deals SET stage = 'won' WHERE id % 16 = 0;
UPDATE public.deals SET stage = 'expanded' WHERE id % 32 = 0;
UPDATE public.deals SET stage = 'won' WHERE id % 7 = 1 AND stage = 'new';     -- fast track
UPDATE public.deals SET stage = 'lost' WHERE id % 5 = 0 AND stage IN ('new', 'qualified', 'demo', 'proposal');
UPDATE public.deals SET stage = 'qualified' WHERE id % 25 = 0 AND stage = 'lost';   -- reopened
UPDATE public.deals SET phase = 'prospecting' WHERE id % 3 = 0;

INSERT INTO public.orders SELECT CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g,
       CASE WHEN g % 3 = 0 THEN 'prospecting' ELSE 'lead_generation' END::pipeline.stage, g * 100
  FROM generate_series(1, 120) g;
UPDATE public.orders SET stage = 'prospecting' WHERE stage = 'lead_generation' AND id % 4 = 0;
UPDATE public.orders SET stage = 'qualification' WHERE stage = 'prospecting' AND id % 2 = 0;
UPDATE public.orders SET region = 'us' WHERE region = 'eu' AND id % 10 = 0;          -- partition moves
UPDATE public.orders SET region = 'eu', stage = 'initial_contact' WHERE region = 'us' AND stage = 'qualification' AND id % 5 = 0;
UPDATE public.orders SET stage = 'closed_lost' WHERE stage = 'prospecting' AND id % 9 = 0;
-- some visits started long ago, so that rows rot
UPDATE public.deals_stage_history SET changed_at = changed_at - interval '30 days' WHERE id % 3 = 0;
UPDATE public.orders_stage_history SET changed_at = changed_at - interval '40 days' WHERE id % 4 = 0;
GRANT SELECT ON public.deals, public.orders TO PUBLIC;
