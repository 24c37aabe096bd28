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

-- ===========================================================================
-- A sales team: 26 weeks of deals, moved by real UPDATEs on an attached table
-- ===========================================================================
-- Every deal follows a planned walk (seeded random: dwell times per stage,
-- losses at every open stage, wins after negotiation, follow-ups after
-- wins).  The plan is executed day by day as INSERTs and UPDATEs on
-- public.deals, so the strict ruleset checks every move and the triggers
-- record the history.  The whole run takes seconds, so history rows carry
-- today's clock_timestamp(); afterwards the table owner (this session)
-- moves each history row to its simulated day -- the one step that is not
-- what an application does.  Simulated "today" is the real today, so the
-- views' now() based columns (time in stage, rotting) are meaningful.
CREATE TABLE public.deals (
	id			integer PRIMARY KEY,
	account		text NOT NULL,
	owner		text NOT NULL,
	region		text NOT NULL,
	amount		numeric(12,2) NOT NULL,
	stage		pipeline.stage NOT NULL
);
SELECT pipeline.attach('public.deals') \gset
SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', '30 days') \gset
SELECT pipeline.set_rotting_after('pipeline.stage', 'proposal', '21 days') \gset
SELECT pipeline.set_rotting_after('pipeline.stage', 'negotiation', '14 days') \gset

SELECT setseed(0.2026) \gset
CREATE TEMP TABLE plan (deal integer, step integer, day integer, stage pipeline.stage);
DO $$
DECLARE
	-- mean dwell (days) and chance of losing the deal, per open stage
	dwell	numeric[] := '{4, 6, 9, 7, 14, 10}';
	loss	float8[] := '{0.18, 0.16, 0.22, 0.12, 0.28, 0.22}';
	s		integer;		-- ordinal of the current stage
	d		integer;
	n		integer;
BEGIN
	FOR deal IN 1 .. 3000 LOOP
		d := floor(random() * 176)::integer;
		s := CASE WHEN random() < 0.7 THEN 1 ELSE 2 END;
		n := 1;
		INSERT INTO plan VALUES (deal, n, d, (enum_range(NULL::pipeline.stage))[s]);
		LOOP
			IF s <= 6 THEN
				d := d + 1 + floor(dwell[s] * -ln(1 - random()))::integer;
				s := CASE WHEN random() < loss[s] THEN 9 ELSE s + 1 END;
			ELSIF s = 7 AND random() < 0.7 THEN
				d := d + 10 + floor(random() * 20)::integer;
				s := 8;
			ELSE
				EXIT;
			END IF;
			EXIT WHEN d > 181;		-- has not happened yet
			n := n + 1;
			INSERT INTO plan VALUES (deal, n, d, (enum_range(NULL::pipeline.stage))[s]);
			EXIT WHEN s = 9;
		END LOOP;
	END LOOP;
END
$$;
CREATE TEMP TABLE sim_day (day integer PRIMARY KEY, last_seq bigint);
DO $$
BEGIN
	FOR d IN 0 .. 181 LOOP
		INSERT INTO public.deals (id, account, owner, region, amount, stage)
		SELECT p.deal,
			   (ARRAY['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne',
					  'Tyrell', 'Cyberdyne', 'Soylent', 'Wonka'])[1 + p.deal % 12] || ' ' ||
			   (ARRAY['GmbH', 'Ltd', 'Inc', 'SA', 'BV', 'KK'])[1 + p.deal % 6] || ' #' || p.deal,
			   (ARRAY['Ana', 'Ben', 'Chloé', 'Dev', 'Emeka', 'Fumiko', 'Gus', 'Hana'])[1 + (p.deal * 7) % 8],
			   (ARRAY['EMEA', 'Americas', 'APAC'])[1 + (p.deal * 5) % 3],
			   round((2000 + (((p.deal * 7919) % 1000) / 1000.0) ^ 2 * 98000)::numeric, -2),
			   p.stage
		  FROM plan p WHERE p.day = d AND p.step = 1;
		UPDATE public.deals t SET stage = p.stage
		  FROM plan p WHERE p.deal = t.id AND p.day = d AND p.step > 1;
		INSERT INTO sim_day SELECT d, coalesce(max(h.seq), 0) FROM public.deals_stage_history h;
	END LOOP;
END
$$;
-- Backdate (as the table owner): each history row to 09:00 of its simulated
-- day, plus one second per row in seq order, so the order is kept.
UPDATE public.deals_stage_history h
   SET changed_at = date_trunc('day', now()) - interval '182 days' + s.day * interval '1 day'
				   + interval '9 hours' + (h.seq - s.first_seq) * interval '1 second'
  FROM (SELECT day, lag(last_seq, 1, 0::bigint) OVER (ORDER BY day) + 1 AS first_seq, last_seq FROM sim_day) s
 WHERE h.seq BETWEEN s.first_seq AND s.last_seq;
ANALYZE public.deals, public.deals_stage_history;

\echo
\echo '== The sales team: public.deals, attached with the strict ruleset'
SELECT a.table_name, a.stage_column, a.ruleset, a.history_table,
	   (SELECT count(*) FROM public.deals) AS deals,
	   (SELECT count(*) FROM public.deals_stage_history) AS history_rows,
	   (SELECT count(*) FROM plan WHERE step > 1) AS updates_run
  FROM pipeline.attachments a WHERE a.table_name = 'public.deals';
\echo 'Where the deals are now'
SELECT d.stage, count(*) AS deals, to_char(sum(d.amount), 'FM9,999,999,990') AS amount
  FROM public.deals d GROUP BY d.stage ORDER BY d.stage;

\echo '== Funnel (view public.deals_funnel: furthest stage each deal reached)'
SELECT f.stage, f.reached AS deals,
	   rpad(repeat('█', round(40.0 * f.reached / max(f.reached) OVER ())::integer), 40) AS chart,
	   to_char(100 * f.conversion_from_previous, 'FM990.0"%"') AS "from previous",
	   to_char(100 * f.conversion_from_first, 'FM990.0"%"') AS "from first",
	   to_char(f.reached_amount, 'FM999,999,990') AS amount
  FROM public.deals_funnel f ORDER BY f.ordinal;
SELECT pipeline.funnel(x.furthest) = (SELECT array_agg(reached ORDER BY ordinal) FROM public.deals_funnel)
		AS "same counts from pipeline.funnel(pipeline.furthest_stage(...))?"
  FROM (SELECT pipeline.furthest_stage(h.to_stage) AS furthest
		  FROM public.deals_stage_history h GROUP BY h.id) x;

\echo '== Win rate (closed deals): by count and by value'
SELECT coalesce(d.region, 'all regions') AS region,
	   count(*) FILTER (WHERE pipeline.stage_kind(d.stage) = 'won') AS won,
	   count(*) FILTER (WHERE pipeline.stage_kind(d.stage) = 'lost') AS lost,
	   to_char(100 * pipeline.win_rate(d.stage), 'FM990.0"%"') AS "win rate",
	   to_char(100 * pipeline.win_rate(d.stage, d.amount), 'FM990.0"%"') AS "value win rate"
  FROM public.deals d GROUP BY ROLLUP (d.region) ORDER BY d.region NULLS LAST;

\echo '== Weighted pipeline: open deals × stage probability'
SELECT coalesce(d.stage::text, 'total') AS stage, count(*) AS deals,
	   pipeline.stage_probability(d.stage) AS probability,
	   to_char(sum(d.amount), 'FM999,999,990') AS amount,
	   to_char(pipeline.weighted_pipeline(d.stage, d.amount), 'FM999,999,990') AS weighted
  FROM public.deals d WHERE pipeline.stage_kind(d.stage) = 'open'
 GROUP BY ROLLUP (d.stage) ORDER BY d.stage NULLS LAST;

\echo '== Time in stage (view public.deals_stage_durations, completed visits, days)'
SELECT s.stage, s.visits,
	   round(extract(epoch FROM s.avg_time) / 86400, 1) AS mean,
	   round(extract(epoch FROM s.median_time) / 86400, 1) AS median,
	   round(extract(epoch FROM s.p90_time) / 86400, 1) AS p90
  FROM public.deals_stage_durations s ORDER BY s.ordinal;

\echo '== Rotting deals (view public.deals_rotting; thresholds from pipeline.set_rotting_after)'
SELECT c.stage, c.rotting_after, count(r.id) AS rotting,
	   (SELECT count(*) FROM public.deals d WHERE d.stage::text = c.stage) AS in_stage
  FROM pipeline.stage_catalog c LEFT JOIN public.deals_rotting r ON r.stage = c.stage
 WHERE c.stage_type = 'pipeline.stage' AND c.rotting_after IS NOT NULL
 GROUP BY c.stage, c.ordinal, c.rotting_after ORDER BY c.ordinal;
\echo 'The ten that have waited longest'
SELECT r.id, d.account, d.owner, to_char(d.amount, 'FM999,990') AS amount, r.stage,
	   r.entered_at::date AS since, justify_days(date_trunc('day', r.time_in_stage)) AS "waiting"
  FROM public.deals_rotting r JOIN public.deals d USING (id)
 ORDER BY r.time_in_stage DESC, r.id LIMIT 10;

\echo '== One deal''s path (view public.deals_stage_visits)'
SELECT v.stage, v.entered_at::date AS entered, v.exited_at::date AS exited,
	   justify_days(date_trunc('day', v.time_in_stage)) AS "time", v.is_current AS current
  FROM public.deals_stage_visits v
 WHERE v.id = (SELECT h.id FROM public.deals_stage_history h GROUP BY h.id
				HAVING max(h.to_stage) = 'follow_up' ORDER BY h.id LIMIT 1)
 ORDER BY v.entered_at;

-- ===========================================================================
-- Custom-pipeline accounts: the SaaS team's enum, a copied ruleset
-- ===========================================================================
CREATE TABLE public.accounts (
	name		text PRIMARY KEY,
	amount		numeric(12,2) NOT NULL,
	plan_stage	public.saas_stage NOT NULL
);
-- The SaaS team lets trials jump straight to security review.
SELECT pipeline.copy_ruleset('public.saas_stage', 'strict', 'saas_fast_track') \gset
SELECT pipeline.allow_transition('public.saas_stage', 'saas_fast_track', 'trial', 'security_review') \gset
SELECT pipeline.attach('public.accounts', 'plan_stage', 'saas_fast_track') \gset
INSERT INTO public.accounts VALUES
	('Aperture', 12000, 'trial'), ('Black Mesa', 30000, 'trial'), ('Blue Sun', 8000, 'demo'),
	('Gringotts', 45000, 'trial'), ('Monarch', 15000, 'demo'), ('Oscorp', 22000, 'trial'),
	('Pied Piper', 5000, 'trial'), ('Prestige', 9000, 'demo');
UPDATE public.accounts SET plan_stage = 'demo' WHERE plan_stage = 'trial' AND name <> 'Gringotts';
UPDATE public.accounts SET plan_stage = 'security_review' WHERE name IN ('Gringotts', 'Black Mesa', 'Monarch', 'Oscorp');
UPDATE public.accounts SET plan_stage = 'lost_in_trial' WHERE name IN ('Pied Piper', 'Blue Sun');
UPDATE public.accounts SET plan_stage = 'procurement' WHERE name IN ('Gringotts', 'Black Mesa', 'Oscorp');
UPDATE public.accounts SET plan_stage = 'paid' WHERE name IN ('Gringotts', 'Black Mesa');
UPDATE public.accounts SET plan_stage = 'expanded' WHERE name = 'Gringotts';
\echo '== Custom pipeline: public.accounts (column plan_stage, ruleset saas_fast_track)'
SELECT f.stage, f.reached AS accounts, rpad(repeat('█', 5 * f.reached::integer), 40) AS chart,
	   to_char(100 * f.conversion_from_previous, 'FM990"%"') AS "from previous",
	   to_char(f.reached_amount, 'FM999,990') AS amount
  FROM public.accounts_plan_stage_funnel f ORDER BY f.ordinal;
SELECT to_char(100 * pipeline.win_rate(a.plan_stage), 'FM990"%"') AS "win rate",
	   to_char(100 * pipeline.win_rate(a.plan_stage, a.amount), 'FM990"%"') AS "value win rate",
	   to_char(pipeline.weighted_pipeline(a.plan_stage, a.amount), 'FM999,990') AS "weighted pipeline"
  FROM public.accounts a;

-- ===========================================================================
-- The sales backlog: 110 orders booked and 100 fulfilled every week
-- ===========================================================================
-- Week 1 starts 26 weeks ago with 200 orders (two weeks of work) on the
-- books; every order is 1,000.00; orders are fulfilled oldest first, spread
-- evenly over the week, as are bookings.
CREATE TABLE public.orders (
	id				integer PRIMARY KEY,
	amount			numeric(12,2) NOT NULL,
	booked_at		timestamptz NOT NULL,
	fulfilled_at	timestamptz
);
CREATE TEMP TABLE week AS
SELECT w, tstzrange(date_trunc('day', now()) - (27 - w) * interval '7 days',
					date_trunc('day', now()) - (26 - w) * interval '7 days') AS period
  FROM generate_series(1, 26) w;
INSERT INTO public.orders (id, amount, booked_at, fulfilled_at)
SELECT k + 1, 1000.00,
	   CASE WHEN k < 200 THEN lower(w1.period) - interval '14 days' + k * (interval '14 days' / 200)
			ELSE lower(w1.period) + ((k - 200) / 110) * interval '7 days' + ((k - 200) % 110) * (interval '7 days' / 110) END,
	   CASE WHEN k / 100 < 26 THEN lower(w1.period) + (k / 100) * interval '7 days' + (k % 100) * (interval '7 days' / 100) END
  FROM generate_series(0, 200 + 26 * 110 - 1) k, week w1 WHERE w1.w = 1;

\echo '== Weekly backlog: booked 110, fulfilled 100, backlog grows 10 orders a week'
SELECT wk.w AS week, lower(wk.period)::date AS "from",
	   count(*) FILTER (WHERE o.booked_at <@ wk.period) AS booked,
	   count(*) FILTER (WHERE o.fulfilled_at <@ wk.period) AS fulfilled,
	   count(*) FILTER (WHERE o.booked_at < upper(wk.period)
						  AND (o.fulfilled_at IS NULL OR o.fulfilled_at >= upper(wk.period))) AS "backlog (orders)",
	   to_char(pipeline.backlog_amount(o.amount, o.booked_at, o.fulfilled_at, upper(wk.period)), 'FM9,999,990.00') AS "backlog at week end",
	   round(pipeline.book_to_bill(o.amount, o.booked_at, o.fulfilled_at, wk.period), 2) AS "book-to-bill",
	   round(pipeline.backlog_ratio(o.amount, o.booked_at, o.fulfilled_at, wk.period), 2) AS "backlog ratio"
  FROM week wk CROSS JOIN public.orders o
 GROUP BY wk.w, wk.period ORDER BY wk.w;

-- ===========================================================================
-- What an application sees when it breaks the rules
-- ===========================================================================
-- Runs an UPDATE and returns the error's fields, as a driver exposes them.
CREATE FUNCTION pg_temp.attempt(statement text)
	RETURNS TABLE (field text, value text)
	LANGUAGE plpgsql AS $$
DECLARE
	f1 text; f2 text; f3 text; f4 text; f5 text; f6 text; f7 text; f8 text;
BEGIN
	EXECUTE statement;
	RETURN QUERY VALUES ('result', 'succeeded');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS f1 = RETURNED_SQLSTATE, f2 = MESSAGE_TEXT, f3 = PG_EXCEPTION_DETAIL,
		f4 = PG_EXCEPTION_HINT, f5 = SCHEMA_NAME, f6 = TABLE_NAME, f7 = COLUMN_NAME, f8 = CONSTRAINT_NAME;
	RETURN QUERY SELECT * FROM unnest(ARRAY['SQLSTATE', 'message', 'detail', 'hint', 'schema', 'table', 'column', 'constraint'],
									  ARRAY[f1, f2, f3, f4, f5, f6, f7, f8]);
END
$$;
SELECT min(id) AS proposal_deal FROM public.deals WHERE stage = 'proposal' \gset
\echo '== An illegal move: UPDATE public.deals SET stage = ''closed_won'' WHERE id = ':proposal_deal' (it is at proposal)'
SELECT * FROM pg_temp.attempt(format('UPDATE public.deals SET stage = %L WHERE id = %s', 'closed_won', :proposal_deal));
\echo 'What the UI should offer instead: pipeline.next_stages(''proposal'')'
SELECT pipeline.next_stages('proposal'::pipeline.stage) AS next_stages;
\echo

-- ===========================================================================
-- The same weekly backlog in one pass: pipeline.backlog_series
-- ===========================================================================
\echo '== The weekly backlog again, from one aggregate over the orders (one pass, not weeks x orders)'
SELECT row_number() OVER (ORDER BY p.period) AS week, lower(p.period)::date AS "from",
	   to_char(p.backlog_end, 'FM9,999,990.00') AS "backlog at week end",
	   round(p.book_to_bill, 2) AS "book-to-bill", round(p.backlog_ratio, 2) AS "backlog ratio"
  FROM (SELECT pipeline.backlog_series(o.amount, o.booked_at, o.fulfilled_at,
										 (SELECT lower(period) FROM week WHERE w = 1), interval '7 days',
										 (SELECT count(*)::int FROM week)) AS s
		  FROM public.orders o) x,
	   unnest(x.s) p
 ORDER BY p.period;

-- ===========================================================================
-- Stage probabilities: the defaults, what the history says, and the
-- weighted pipeline under each
-- ===========================================================================
\echo '== Weighted pipeline with the default probabilities'
SELECT to_char(pipeline.weighted_pipeline(stage, amount), 'FM9,999,990.00') AS weighted_pipeline FROM public.deals;
\echo '== What the history says: the share of closed deals that were won, from each stage they reached'
SELECT * FROM pipeline.stage_win_probabilities('public.deals');
\echo '== Apply them where at least 5 closed deals reached the stage (for every table of pipeline.stage)'
SELECT stage, reached, probability, applied FROM pipeline.calibrate_probabilities('public.deals', min_reached => 5);
SELECT to_char(pipeline.weighted_pipeline(stage, amount), 'FM9,999,990.00') AS weighted_pipeline_learned FROM public.deals;
-- back to the defaults
SELECT count(pipeline.set_probability('pipeline.stage', stage, NULL)) AS probabilities_reset
  FROM pipeline.stage_catalog WHERE stage_type = 'pipeline.stage' AND kind = 'open';
