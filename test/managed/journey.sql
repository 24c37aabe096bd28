-- The managed-PostgreSQL journey (test/managed/run.sh): everything a user
-- documents for their own tables, run by a role that is NOT a superuser,
-- owns the database and installed the trusted extension (so owns it too).
-- Run with psql -X -At -v ON_ERROR_STOP=1; every checkable result is a line
-- "key|value" that run.sh compares with what it expects.  Expected errors
-- are caught by pg_temp.sqlstate_of(), which prints the SQLSTATE.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- The SQLSTATE a statement ends with ('00000' when it succeeds; a failure
-- is rolled back to before the statement).
CREATE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN '00000';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

SELECT 'whoami', current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);

-- ---------------------------------------------------------------------------
-- A custom pipeline: the enum, its registration, settings, rulesets
-- ---------------------------------------------------------------------------
CREATE TYPE public.deal_stage AS ENUM
	('lead', 'qualified', 'demo', 'lost_early', 'proposal', 'negotiation', 'won', 'expanded', 'lost');
SELECT 'define_stages', 'done' FROM pipeline.define_stages('public.deal_stage',
	won => ARRAY['won', 'expanded'], lost => ARRAY['lost_early', 'lost']);
SELECT 'set_probability', 'done' FROM pipeline.set_probability('public.deal_stage', 'proposal', 0.55);
SELECT 'set_rotting_after', 'done' FROM pipeline.set_rotting_after('public.deal_stage', 'qualified', '1 microsecond');
SELECT 'set_rotting_after', 'done' FROM pipeline.set_rotting_after('public.deal_stage', 'demo', '14 days');
SELECT 'catalog', string_agg(stage || ':' || kind || ':' || probability || ':' || is_entry
			|| ':' || coalesce(rotting_after::text, '-'), ' ' ORDER BY ordinal)
  FROM pipeline.stage_catalog WHERE stage_type = 'public.deal_stage';

-- 'fast': strict, plus lead -> proposal and creation in demo, minus negotiation -> lost.
SELECT 'copy_ruleset', 'done' FROM pipeline.copy_ruleset('public.deal_stage', 'strict', 'fast');
SELECT 'allow_transition', 'done' FROM pipeline.allow_transition('public.deal_stage', 'fast', 'lead', 'proposal');
SELECT 'allow_transition', 'done' FROM pipeline.allow_transition('public.deal_stage', 'fast', NULL, 'demo');
SELECT 'forbid_transition', 'done' FROM pipeline.forbid_transition('public.deal_stage', 'fast', 'negotiation', 'lost');
-- 'scratch': a copy of lenient, used by one table, then dropped.
SELECT 'copy_ruleset', 'done' FROM pipeline.copy_ruleset('public.deal_stage', 'lenient', 'scratch');
SELECT 'rules_fast', pipeline.can_transition('lead'::public.deal_stage, 'proposal', 'fast'),
	   pipeline.can_transition('negotiation'::public.deal_stage, 'lost', 'fast'),
	   pipeline.next_stages(NULL::public.deal_stage, 'fast');
SELECT 'rules_strict', pipeline.next_stages('qualified'::public.deal_stage),
	   pipeline.next_stages('negotiation'::public.deal_stage);

-- ---------------------------------------------------------------------------
-- A plain table, strict, with history; three rows exist before attach
-- ---------------------------------------------------------------------------
CREATE TABLE public.deals (
	id		bigint PRIMARY KEY,
	owner	text NOT NULL,
	amount	numeric(12,2) NOT NULL,
	stage	public.deal_stage NOT NULL DEFAULT 'lead'
);
INSERT INTO public.deals VALUES (1, 'alice', 1000.00, 'lead'), (2, 'alice', 2000.00, 'qualified'),
	(3, 'bob', 3000.00, 'demo');
SELECT 'attach_deals', 'done' FROM pipeline.attach('public.deals');
INSERT INTO public.deals VALUES (4, 'bob', 4000.50, 'lead'), (5, 'carol', 5000.00, 'qualified'),
	(6, 'carol', 600.25, 'lead');
UPDATE public.deals SET stage = 'qualified' WHERE id IN (1, 4);
UPDATE public.deals SET stage = 'demo' WHERE id = 1;
UPDATE public.deals SET stage = 'proposal' WHERE id IN (1, 3);
UPDATE public.deals SET stage = 'negotiation' WHERE id IN (1, 3);
UPDATE public.deals SET stage = 'won' WHERE id = 1;
UPDATE public.deals SET stage = 'expanded' WHERE id = 1;
UPDATE public.deals SET stage = 'lost_early' WHERE id = 2;
UPDATE public.deals SET stage = 'lost' WHERE id IN (3, 6);
UPDATE public.deals SET owner = 'carol' WHERE id = 5;		-- same stage: no history
-- illegal: skipping a stage under strict; a created row outside the entry stages
SELECT 'illegal_update_deals', pg_temp.sqlstate_of($$UPDATE public.deals SET stage = 'proposal' WHERE id = 5$$);
SELECT 'illegal_insert_deals', pg_temp.sqlstate_of($$INSERT INTO public.deals VALUES (7, 'dave', 1.00, 'demo')$$);
SELECT 'illegal_from_lost_deals', pg_temp.sqlstate_of($$UPDATE public.deals SET stage = 'lead' WHERE id = 3$$);
SELECT 'deals', string_agg(id || ':' || stage, ' ' ORDER BY id) FROM public.deals;
SELECT 'deals_history_rows', count(*), count(*) FILTER (WHERE from_stage IS NULL),
	   count(*) FILTER (WHERE changed_by = current_user) FROM public.deals_stage_history;
SELECT 'deals_history_1', string_agg(coalesce(from_stage::text, '-') || '>' || to_stage, ' ' ORDER BY seq)
  FROM public.deals_stage_history WHERE id = 1;

-- ---------------------------------------------------------------------------
-- A partitioned table (two partitions), custom ruleset 'fast', with history
-- ---------------------------------------------------------------------------
CREATE TABLE public.orders (
	id				bigint NOT NULL,
	region			text NOT NULL,
	amount			numeric(12,2) NOT NULL,
	booked_at		timestamptz NOT NULL,
	fulfilled_at	timestamptz,
	converted		boolean,
	stage			public.deal_stage NOT NULL DEFAULT 'lead',
	PRIMARY KEY (id, region)
) PARTITION BY LIST (region);
CREATE TABLE public.orders_emea PARTITION OF public.orders FOR VALUES IN ('emea');
CREATE TABLE public.orders_amer PARTITION OF public.orders FOR VALUES IN ('amer');
SELECT 'attach_orders', 'done' FROM pipeline.attach('public.orders', ruleset => 'fast');
INSERT INTO public.orders VALUES
	(1, 'emea', 100.00, '2024-01-05 10:00+00', '2024-02-10 09:00+00', true, 'lead'),
	(2, 'emea', 250.50, '2024-01-20 10:00+00', NULL, false, 'demo'),		-- creation in demo: a 'fast' edge
	(3, 'amer', 75.25, '2024-02-03 10:00+00', '2024-02-20 12:00+00', true, 'qualified'),
	(4, 'amer', 1200.00, '2024-02-15 10:00+00', NULL, NULL, 'lead'),
	(5, 'amer', 40.00, '2023-12-20 10:00+00', '2024-01-02 08:00+00', true, 'lead');
UPDATE public.orders SET stage = 'proposal' WHERE id = 1;				-- lead -> proposal: a 'fast' edge
UPDATE public.orders SET stage = 'negotiation' WHERE id = 1;
UPDATE public.orders SET stage = 'won' WHERE id = 1;
UPDATE public.orders SET stage = 'proposal' WHERE id = 2;
UPDATE public.orders SET stage = 'negotiation' WHERE id = 2;
UPDATE public.orders SET stage = 'lost_early' WHERE id = 3;
UPDATE public.orders SET stage = 'qualified' WHERE id IN (4, 5);
UPDATE public.orders SET stage = 'demo', region = 'emea' WHERE id = 4;	-- moves to the other partition
SELECT 'illegal_forbidden_orders', pg_temp.sqlstate_of($$UPDATE public.orders SET stage = 'lost' WHERE id = 2$$);
SELECT 'illegal_insert_orders', pg_temp.sqlstate_of(
	$$INSERT INTO public.orders VALUES (6, 'emea', 1.00, '2024-03-01+00', NULL, NULL, 'proposal')$$);
SELECT 'illegal_skip_orders', pg_temp.sqlstate_of($$UPDATE public.orders SET stage = 'proposal' WHERE id = 5$$);
SELECT 'orders', string_agg(id || ':' || region || ':' || stage, ' ' ORDER BY id) FROM public.orders;
SELECT 'orders_partitions', (SELECT count(*) FROM public.orders_emea), (SELECT count(*) FROM public.orders_amer);
SELECT 'orders_history_rows', count(*), count(*) FILTER (WHERE from_stage IS NULL) FROM public.orders_stage_history;
SELECT 'orders_history_4', string_agg(region || ':' || coalesce(from_stage::text, '-') || '>' || to_stage, ' ' ORDER BY seq)
  FROM public.orders_stage_history WHERE id = 4;

-- ---------------------------------------------------------------------------
-- A third table on ruleset 'scratch': attached, used, detached; the ruleset dropped
-- ---------------------------------------------------------------------------
CREATE TABLE public.leads (id int PRIMARY KEY, stage public.deal_stage NOT NULL);
SELECT 'attach_leads', 'done' FROM pipeline.attach('public.leads', ruleset => 'scratch');
INSERT INTO public.leads VALUES (1, 'lead'), (2, 'qualified');
UPDATE public.leads SET stage = 'proposal' WHERE id = 1;			-- lenient: skipping forward
UPDATE public.leads SET stage = 'lead' WHERE id = 2;				-- lenient: moving back
SELECT 'drop_ruleset_in_use', pg_temp.sqlstate_of($$SELECT pipeline.drop_ruleset('public.deal_stage', 'scratch')$$);
SELECT 'attachments_before_detach', string_agg(table_name || ':' || ruleset, ' ' ORDER BY table_name) FROM pipeline.attachments;
SELECT 'detach_leads', 'done' FROM pipeline.detach('public.leads');
SELECT 'attachments_after_detach', string_agg(table_name || ':' || ruleset, ' ' ORDER BY table_name) FROM pipeline.attachments;
SELECT 'leads_after_detach', pg_temp.sqlstate_of($$UPDATE public.leads SET stage = 'won' WHERE id = 2$$),
	   (SELECT count(*) FROM public.leads_stage_history),
	   (SELECT count(*) FROM pg_class WHERE relname LIKE 'leads\_%' AND relkind = 'v');
SELECT 'drop_ruleset', 'done' FROM pipeline.drop_ruleset('public.deal_stage', 'scratch');
SELECT 'rulesets', string_agg(ruleset, ' ' ORDER BY ruleset) FROM pipeline.rulesets WHERE stage_type = 'public.deal_stage'::regtype;

-- ---------------------------------------------------------------------------
-- The views of the attached tables
-- ---------------------------------------------------------------------------
SELECT pg_sleep(0.01);
SELECT 'deals_visits', count(*), count(*) FILTER (WHERE is_current), count(*) FILTER (WHERE exited_at IS NULL)
  FROM public.deals_stage_visits;
SELECT 'deals_durations', string_agg(stage || ':' || visits, ' ' ORDER BY ordinal), sum(visits)
  FROM public.deals_stage_durations;
SELECT 'deals_durations_sane', count(*) FILTER (WHERE avg_time < interval '0' OR median_time > p90_time)
  FROM public.deals_stage_durations;
SELECT 'deals_rotting', string_agg(id || ':' || stage || ':' || rotting_after, ' ' ORDER BY id) FROM public.deals_rotting;
SELECT 'deals_funnel', string_agg(stage || ':' || reached || ':' || reached_amount, ' ' ORDER BY ordinal) FROM public.deals_funnel;
SELECT 'deals_funnel_conv', string_agg(coalesce(round(conversion_from_previous::numeric, 4)::text, '-'), ' ' ORDER BY ordinal)
  FROM public.deals_funnel;
SELECT 'orders_visits', count(*), count(*) FILTER (WHERE is_current) FROM public.orders_stage_visits;
SELECT 'orders_durations', sum(visits) FROM public.orders_stage_durations;
SELECT 'orders_rotting', string_agg(id || ':' || region || ':' || stage, ' ' ORDER BY id) FROM public.orders_rotting;
SELECT 'orders_funnel', string_agg(stage || ':' || reached, ' ' ORDER BY ordinal) FROM public.orders_funnel;
-- the funnel view equals the aggregates over the history (rows still in the table)
SELECT 'funnel_view_vs_aggregate',
	   (SELECT array_agg(reached ORDER BY ordinal) FROM public.deals_funnel)
	   = (SELECT pipeline.funnel(f) FROM (SELECT h.id, pipeline.furthest_stage(h.to_stage) AS f
											FROM public.deals_stage_history h
										   WHERE h.id IN (SELECT id FROM public.deals) GROUP BY h.id) x);

-- ---------------------------------------------------------------------------
-- Every aggregate on the custom type, against plain SQL
-- ---------------------------------------------------------------------------
-- "reached" (docs/aggregates.md): a row at s has reached t
CREATE FUNCTION pg_temp.reached(s public.deal_stage, t public.deal_stage) RETURNS boolean
	LANGUAGE sql STABLE AS $$
	SELECT CASE pipeline.stage_kind(s)
			   WHEN 'lost' THEN false
			   WHEN 'open' THEN pipeline.stage_kind(t) = 'open' AND t <= s
			   ELSE pipeline.stage_kind(t) = 'open' OR (pipeline.stage_kind(t) = 'won' AND t <= s)
		   END
$$;

CREATE TEMP VIEW agg_deals AS
SELECT coalesce(owner, '(all)') AS grp,
	   pipeline.conversion_rate(stage, 'demo') AS cr2,
	   count(*) FILTER (WHERE pg_temp.reached(stage, 'demo'))::float8 / count(*) AS cr2_sql,
	   pipeline.conversion_rate(stage, 'qualified', 'negotiation') AS cr3,
	   count(*) FILTER (WHERE pg_temp.reached(stage, 'qualified') AND pg_temp.reached(stage, 'negotiation'))::float8
		 / nullif(count(*) FILTER (WHERE pg_temp.reached(stage, 'qualified')), 0) AS cr3_sql,
	   pipeline.win_rate(stage) AS wr,
	   count(*) FILTER (WHERE pipeline.stage_kind(stage) = 'won')::float8
		 / nullif(count(*) FILTER (WHERE pipeline.stage_kind(stage) IN ('won', 'lost')), 0) AS wr_sql,
	   pipeline.win_rate(stage, amount) AS wra,
	   coalesce(sum(amount) FILTER (WHERE pipeline.stage_kind(stage) = 'won'), 0)
		 / nullif(coalesce(sum(amount) FILTER (WHERE pipeline.stage_kind(stage) IN ('won', 'lost')), 0), 0) AS wra_sql,
	   pipeline.funnel(stage) AS fun,
	   ARRAY[count(*) FILTER (WHERE pg_temp.reached(stage, 'lead')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'qualified')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'demo')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'proposal')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'negotiation')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'won')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'expanded'))] AS fun_sql,
	   pipeline.furthest_stage(stage) AS fs,
	   max(stage) FILTER (WHERE pipeline.stage_kind(stage) <> 'lost') AS fs_sql,
	   pipeline.weighted_pipeline(stage, amount) AS wp,
	   coalesce(sum(amount * pipeline.stage_probability(stage)) FILTER (WHERE pipeline.stage_kind(stage) = 'open'), 0) AS wp_sql
  FROM public.deals
 GROUP BY ROLLUP (owner);

SELECT 'agg_deals_all', cr2, cr3, wr, wra, fun, fs, wp FROM agg_deals WHERE grp = '(all)';
SELECT 'agg_deals_groups', count(*) FROM agg_deals;
SELECT 'agg_deals_mismatches',
	   count(*) FILTER (WHERE cr2 IS DISTINCT FROM cr2_sql OR cr3 IS DISTINCT FROM cr3_sql
						   OR wr IS DISTINCT FROM wr_sql OR wra IS DISTINCT FROM wra_sql
						   OR fun IS DISTINCT FROM fun_sql OR fs IS DISTINCT FROM fs_sql
						   OR wp IS DISTINCT FROM wp_sql)
  FROM agg_deals;

-- over the partitioned table: the same per-type aggregates, conversion_rate(boolean) and the backlog family
CREATE TEMP VIEW agg_orders AS
WITH p AS (SELECT tstzrange('2024-01-01+00', '2024-02-01+00', '[)') AS period,
				  timestamptz '2024-02-01+00' AS as_of)
SELECT coalesce(region, '(all)') AS grp,
	   pipeline.conversion_rate(converted) AS cb,
	   count(*) FILTER (WHERE converted)::float8 / count(converted) AS cb_sql,
	   pipeline.conversion_rate(stage, 'proposal') AS cr2,
	   count(*) FILTER (WHERE pg_temp.reached(stage, 'proposal'))::float8 / count(*) AS cr2_sql,
	   pipeline.conversion_rate(stage, 'lead', 'won') AS cr3,
	   count(*) FILTER (WHERE pg_temp.reached(stage, 'lead') AND pg_temp.reached(stage, 'won'))::float8
		 / nullif(count(*) FILTER (WHERE pg_temp.reached(stage, 'lead')), 0) AS cr3_sql,
	   pipeline.win_rate(stage) AS wr,
	   count(*) FILTER (WHERE pipeline.stage_kind(stage) = 'won')::float8
		 / nullif(count(*) FILTER (WHERE pipeline.stage_kind(stage) IN ('won', 'lost')), 0) AS wr_sql,
	   pipeline.win_rate(stage, amount) AS wra,
	   coalesce(sum(amount) FILTER (WHERE pipeline.stage_kind(stage) = 'won'), 0)
		 / nullif(coalesce(sum(amount) FILTER (WHERE pipeline.stage_kind(stage) IN ('won', 'lost')), 0), 0) AS wra_sql,
	   pipeline.funnel(stage) AS fun,
	   ARRAY[count(*) FILTER (WHERE pg_temp.reached(stage, 'lead')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'qualified')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'demo')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'proposal')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'negotiation')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'won')),
			 count(*) FILTER (WHERE pg_temp.reached(stage, 'expanded'))] AS fun_sql,
	   pipeline.furthest_stage(stage) AS fs,
	   max(stage) FILTER (WHERE pipeline.stage_kind(stage) <> 'lost') AS fs_sql,
	   pipeline.weighted_pipeline(stage, amount) AS wp,
	   coalesce(sum(amount * pipeline.stage_probability(stage)) FILTER (WHERE pipeline.stage_kind(stage) = 'open'), 0) AS wp_sql,
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, p.as_of) AS ba,
	   coalesce(sum(amount) FILTER (WHERE booked_at < p.as_of AND (fulfilled_at IS NULL OR fulfilled_at >= p.as_of)), 0) AS ba_sql,
	   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, p.period) AS brp,
	   coalesce(sum(amount) FILTER (WHERE booked_at < upper(p.period)
										AND (fulfilled_at IS NULL OR fulfilled_at >= upper(p.period))), 0)
		 / nullif(coalesce(sum(amount) FILTER (WHERE fulfilled_at <@ p.period), 0), 0) AS brp_sql,
	   pipeline.book_to_bill(amount, booked_at, fulfilled_at, p.period) AS btb,
	   coalesce(sum(amount) FILTER (WHERE booked_at <@ p.period), 0)
		 / nullif(coalesce(sum(amount) FILTER (WHERE fulfilled_at <@ p.period), 0), 0) AS btb_sql,
	   pipeline.backlog_ratio(amount, coalesce(amount * 0.5, 0)) AS br2,
	   sum(amount) / nullif(sum(coalesce(amount * 0.5, 0)), 0) AS br2_sql
  FROM public.orders CROSS JOIN p
 GROUP BY ROLLUP (region), p.period, p.as_of;

SELECT 'agg_orders_all', cb, cr2, cr3, wr, wra, fun, fs, wp, ba, brp, btb, br2 FROM agg_orders WHERE grp = '(all)';
SELECT 'agg_orders_groups', count(*) FROM agg_orders;
SELECT 'agg_orders_mismatches',
	   count(*) FILTER (WHERE cb IS DISTINCT FROM cb_sql OR cr2 IS DISTINCT FROM cr2_sql OR cr3 IS DISTINCT FROM cr3_sql
						   OR wr IS DISTINCT FROM wr_sql OR wra IS DISTINCT FROM wra_sql
						   OR fun IS DISTINCT FROM fun_sql OR fs IS DISTINCT FROM fs_sql
						   OR wp IS DISTINCT FROM wp_sql OR ba IS DISTINCT FROM ba_sql
						   OR brp IS DISTINCT FROM brp_sql OR btb IS DISTINCT FROM btb_sql
						   OR br2 IS DISTINCT FROM br2_sql)
  FROM agg_orders;
-- the per-type aggregates declared for deal_stage, owned by this role
SELECT 'deal_stage_aggregates', count(*), count(*) FILTER (WHERE p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user))
  FROM pg_proc p
 WHERE p.pronamespace = 'pipeline'::regnamespace AND p.prokind = 'a'
   AND 'public.deal_stage'::regtype = ANY (p.proargtypes::oid[]);

-- ---------------------------------------------------------------------------
-- A second type no table uses: undefine_stages, then a plain DROP TYPE
-- ---------------------------------------------------------------------------
CREATE TYPE public.old_stage AS ENUM ('open_a', 'open_b', 'done', 'gone');
SELECT 'define_old', 'done' FROM pipeline.define_stages('public.old_stage', won => ARRAY['done'], lost => ARRAY['gone']);
SELECT 'set_probability_old', 'done' FROM pipeline.set_probability('public.old_stage', 'open_b', 0.9);
SELECT 'copy_ruleset_old', 'done' FROM pipeline.copy_ruleset('public.old_stage', 'strict', 'mine');
SELECT 'old_win_rate', pipeline.win_rate(s), pipeline.weighted_pipeline(s, 10)
  FROM unnest(ARRAY['done', 'gone', 'open_b']::public.old_stage[]) s;
SELECT 'public.old_stage'::regtype::oid AS old_oid \gset
SELECT 'undefine_old', 'done' FROM pipeline.undefine_stages('public.old_stage');
SELECT 'old_after_undefine', (SELECT count(*) FROM pipeline.stage_types WHERE stage_type::oid = :old_oid),
	   (SELECT count(*) FROM pipeline.stage_settings WHERE stage_type::oid = :old_oid),
	   (SELECT count(*) FROM pipeline.rulesets WHERE stage_type::oid = :old_oid),
	   (SELECT count(*) FROM pg_proc WHERE :old_oid = ANY (proargtypes::oid[]) OR prorettype = :old_oid);
DROP TYPE public.old_stage;
SELECT 'drop_type_old', to_regtype('public.old_stage') IS NULL;

-- ---------------------------------------------------------------------------
-- A third type, registered with settings and a ruleset, then DROP TYPE ... CASCADE
-- ---------------------------------------------------------------------------
CREATE TYPE public.tmp_stage AS ENUM ('t_open', 't_won', 't_lost');
SELECT 'define_tmp', 'done' FROM pipeline.define_stages('public.tmp_stage', won => ARRAY['t_won'], lost => ARRAY['t_lost']);
SELECT 'set_rotting_tmp', 'done' FROM pipeline.set_rotting_after('public.tmp_stage', 't_open', '3 days');
SELECT 'copy_ruleset_tmp', 'done' FROM pipeline.copy_ruleset('public.tmp_stage', 'lenient', 'tmp_rules');
SELECT 'public.tmp_stage'::regtype::oid AS tmp_oid \gset
SELECT 'tmp_before_drop', (SELECT count(*) FROM pipeline.stage_types WHERE stage_type::oid = :tmp_oid),
	   (SELECT count(*) FROM pg_proc WHERE :tmp_oid = ANY (proargtypes::oid[]) AND prokind = 'a');
DROP TYPE public.tmp_stage CASCADE;
SELECT 'tmp_after_drop', (SELECT count(*) FROM pipeline.stage_types WHERE stage_type::oid = :tmp_oid),
	   (SELECT count(*) FROM pipeline.stage_settings WHERE stage_type::oid = :tmp_oid),
	   (SELECT count(*) FROM pipeline.rulesets WHERE stage_type::oid = :tmp_oid),
	   (SELECT count(*) FROM pipeline.ruleset_edges WHERE stage_type::oid = :tmp_oid),
	   (SELECT count(*) FROM pg_proc WHERE :tmp_oid = ANY (proargtypes::oid[]) OR prorettype = :tmp_oid);
SELECT 'registered_types', string_agg(stage_type::text, ' ' ORDER BY stage_type::text) FROM pipeline.stage_types;
SELECT 'journey', 'complete';
