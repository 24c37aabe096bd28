-- Counting aggregates against independent plain-SQL computations, per
-- group, over seeded random data: NULLs in every argument, empty groups,
-- zero denominators, lost rows, a custom enum with lost labels in the
-- middle, and moving window frames.  Every comparison query returns the
-- rows where the aggregate differs from its reference: zero rows expected.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

\i test/sql/include/side_by_side.sql

-- Reference metadata, written out by hand from docs/stages.md (not read from the
-- extension), and "reached" re-implemented in SQL.
CREATE TABLE agg_count_ref (stage_type regtype, label text, ord integer, kind text);
INSERT INTO agg_count_ref VALUES
	('pipeline.stage', 'lead_generation', 1, 'open'),
	('pipeline.stage', 'prospecting', 2, 'open'),
	('pipeline.stage', 'qualification', 3, 'open'),
	('pipeline.stage', 'initial_contact', 4, 'open'),
	('pipeline.stage', 'proposal', 5, 'open'),
	('pipeline.stage', 'negotiation', 6, 'open'),
	('pipeline.stage', 'closed_won', 7, 'won'),
	('pipeline.stage', 'follow_up', 8, 'won'),
	('pipeline.stage', 'closed_lost', 9, 'lost');

CREATE FUNCTION agg_count_reached(stage_type regtype, at text, target text) RETURNS boolean
	LANGUAGE sql STABLE AS $$
	SELECT (a.kind = 'open' AND t.kind = 'open' AND t.ord <= a.ord)
		OR (a.kind = 'won' AND (t.kind = 'open' OR (t.kind = 'won' AND t.ord <= a.ord)))
	  FROM agg_count_ref a, agg_count_ref t
	 WHERE a.stage_type = $1 AND t.stage_type = $1 AND a.label = $2 AND t.label = $3
$$;

-- 40 groups of random size; groups 0-2 are special: 0 has only NULL
-- stages, 1 only open stages, 2 only lost rows.
SELECT setseed(0.4242);
CREATE TABLE agg_count_deals AS
SELECT i AS id,
	   g AS grp,
	   CASE WHEN g = 0 OR random() < 0.1 THEN NULL
			WHEN g = 1 THEN (enum_range(NULL::pipeline.stage))[1 + floor(random() * 6)::int]
			WHEN g = 2 THEN 'closed_lost'::pipeline.stage
			ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END AS s,
	   CASE WHEN random() < 0.1 THEN NULL
			ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END AS t,
	   CASE WHEN random() < 0.1 THEN NULL
			ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END AS f,
	   CASE WHEN random() < 0.1 THEN NULL ELSE random() < 0.3 END AS b
  FROM (SELECT i, CASE WHEN i <= 30 THEN i % 3 ELSE 3 + floor(random() * 37)::int END AS g
		  FROM generate_series(1, 6000) i) x;
SELECT count(*) AS rows, count(DISTINCT grp) AS groups FROM agg_count_deals;

-- Reference answers, plain SQL over the hand-written metadata.
CREATE VIEW agg_count_expected AS
SELECT d.grp,
	   count(*) FILTER (WHERE b)::float8 / nullif(count(b), 0) AS conv_bool,
	   count(*) FILTER (WHERE s IS NOT NULL AND agg_count_reached('pipeline.stage', s::text, 'proposal'))::float8
		   / nullif(count(s), 0) AS conv_const,
	   count(*) FILTER (WHERE s IS NOT NULL AND t IS NOT NULL AND agg_count_reached('pipeline.stage', s::text, t::text))::float8
		   / nullif(count(*) FILTER (WHERE s IS NOT NULL AND t IS NOT NULL), 0) AS conv_var,
	   count(*) FILTER (WHERE s IS NOT NULL AND agg_count_reached('pipeline.stage', s::text, 'qualification')
						AND agg_count_reached('pipeline.stage', s::text, 'closed_won'))::float8
		   / nullif(count(*) FILTER (WHERE s IS NOT NULL AND agg_count_reached('pipeline.stage', s::text, 'qualification')), 0) AS conv_step_const,
	   count(*) FILTER (WHERE s IS NOT NULL AND f IS NOT NULL AND t IS NOT NULL
						AND agg_count_reached('pipeline.stage', s::text, f::text)
						AND agg_count_reached('pipeline.stage', s::text, t::text))::float8
		   / nullif(count(*) FILTER (WHERE s IS NOT NULL AND f IS NOT NULL AND t IS NOT NULL
									 AND agg_count_reached('pipeline.stage', s::text, f::text)), 0) AS conv_step_var,
	   count(*) FILTER (WHERE r.kind = 'won')::float8
		   / nullif(count(*) FILTER (WHERE r.kind IN ('won', 'lost')), 0) AS win,
	   CASE WHEN count(s) > 0 THEN
		   (SELECT array_agg((SELECT count(*) FROM agg_count_deals d2
							   WHERE d2.grp = d.grp AND d2.s IS NOT NULL
								 AND agg_count_reached('pipeline.stage', d2.s::text, tr.label)) ORDER BY tr.ord)
			  FROM agg_count_ref tr WHERE tr.stage_type = 'pipeline.stage'::regtype AND tr.kind <> 'lost')
	   END AS funnel,
	   max(s) FILTER (WHERE r.kind <> 'lost') AS furthest
  FROM agg_count_deals d
  LEFT JOIN agg_count_ref r ON r.stage_type = 'pipeline.stage'::regtype AND r.label = d.s::text
 GROUP BY d.grp;

CREATE VIEW agg_count_actual AS
SELECT grp,
	   pipeline.conversion_rate(b) AS conv_bool,
	   pipeline.conversion_rate(s, 'proposal') AS conv_const,
	   pipeline.conversion_rate(s, t) AS conv_var,
	   pipeline.conversion_rate(s, 'qualification', 'closed_won') AS conv_step_const,
	   pipeline.conversion_rate(s, f, t) AS conv_step_var,
	   pipeline.win_rate(s) AS win,
	   pipeline.funnel(s) AS funnel,
	   pipeline.furthest_stage(s) AS furthest
  FROM agg_count_deals
 GROUP BY grp;

-- Every group, every aggregate: no differences.
SELECT * FROM agg_count_actual a FULL JOIN agg_count_expected e USING (grp)
 WHERE (a.conv_bool, a.conv_const, a.conv_var, a.conv_step_const, a.conv_step_var, a.win, a.funnel, a.furthest)
	   IS DISTINCT FROM
	   (e.conv_bool, e.conv_const, e.conv_var, e.conv_step_const, e.conv_step_var, e.win, e.funnel, e.furthest);
-- For a reader's eye: one group, each aggregate beside its reference.
SELECT grp, s.* FROM agg_count_actual a JOIN agg_count_expected e USING (grp),
	   pg_temp.side_by_side(to_json(a), to_json(e), '{grp}') s WHERE grp = 5;

-- The special groups: all-NULL group is NULL everywhere but the boolean
-- and constant-free forms; all-open has no win rate; all-lost has a
-- funnel of zeros and no furthest stage.
SELECT grp, win, funnel, furthest, conv_const FROM agg_count_actual WHERE grp <= 2 ORDER BY grp;

-- The whole table, ungrouped (one big group) -- and an empty input.
SELECT pipeline.conversion_rate(b) AS conv_bool, pipeline.conversion_rate(s, t) AS conv,
	   pipeline.conversion_rate(s, f, t) AS step, pipeline.win_rate(s) AS win,
	   pipeline.funnel(s) AS funnel, pipeline.furthest_stage(s) AS furthest
  FROM agg_count_deals WHERE false;
CREATE VIEW agg_count_whole AS
SELECT pipeline.win_rate(s) AS win,
	   (SELECT count(*) FILTER (WHERE r.kind = 'won')::float8 / nullif(count(*) FILTER (WHERE r.kind <> 'open'), 0)
		  FROM agg_count_deals d JOIN agg_count_ref r ON r.label = d.s::text AND r.stage_type = 'pipeline.stage'::regtype)
	   AS ref_win,
	   pipeline.funnel(s) AS funnel,
	   (SELECT array_agg((SELECT count(*) FROM agg_count_deals d
											   WHERE agg_count_reached('pipeline.stage', d.s::text, r.label)) ORDER BY r.ord)
							   FROM agg_count_ref r WHERE r.stage_type = 'pipeline.stage'::regtype AND r.kind <> 'lost')
	   AS ref_funnel,
	   pipeline.conversion_rate(b) AS conv_bool,
	   (SELECT count(*) FILTER (WHERE b)::float8 / count(b) FROM agg_count_deals) AS ref_conv_bool,
	   pipeline.furthest_stage(s) AS furthest,
	   (SELECT max(s) FILTER (WHERE s <> 'closed_lost') FROM agg_count_deals) AS ref_furthest
  FROM agg_count_deals;
SELECT win IS NOT DISTINCT FROM ref_win AS win_matches, funnel = ref_funnel AS funnel_matches,
	   conv_bool IS NOT DISTINCT FROM ref_conv_bool AS conv_bool_matches,
	   furthest IS NOT DISTINCT FROM ref_furthest AS furthest_matches
  FROM agg_count_whole;
-- For a reader's eye: the four, got beside want.
SELECT v.* FROM agg_count_whole w,
	   LATERAL (VALUES ('win_rate', w.win::text, w.ref_win::text), ('funnel', w.funnel::text, w.ref_funnel::text),
					   ('conversion_rate(b)', w.conv_bool::text, w.ref_conv_bool::text),
					   ('furthest_stage', w.furthest::text, w.ref_furthest::text)) v(aggregate, got, want);

-- Zero denominators: nothing reached the from stage; only open rows.
SELECT pipeline.conversion_rate(s, 'closed_won', 'follow_up') AS nobody_reached_from,
	   pipeline.win_rate(s) AS only_open,
	   pipeline.conversion_rate(s, 'closed_lost') AS lost_target
  FROM (VALUES ('proposal'::pipeline.stage), ('negotiation')) v(s);
-- Non-increasing funnel, one entry per open and won stage.
SELECT pipeline.funnel(s) FROM (VALUES ('follow_up'::pipeline.stage), ('proposal'), ('closed_lost'), ('lead_generation')) v(s);

-- A custom enum whose lost labels sit in the middle and at the end.
CREATE TYPE public.agg_count_st AS ENUM ('lead', 'lost_early', 'meeting', 'offer', 'lost_late', 'won', 'expanded', 'churned');
SELECT pipeline.define_stages('public.agg_count_st', won => '{won,expanded}', lost => '{lost_early,lost_late,churned}');
INSERT INTO agg_count_ref VALUES
	('agg_count_st', 'lead', 1, 'open'),
	('agg_count_st', 'lost_early', 2, 'lost'),
	('agg_count_st', 'meeting', 3, 'open'),
	('agg_count_st', 'offer', 4, 'open'),
	('agg_count_st', 'lost_late', 5, 'lost'),
	('agg_count_st', 'won', 6, 'won'),
	('agg_count_st', 'expanded', 7, 'won'),
	('agg_count_st', 'churned', 8, 'lost');
SELECT setseed(0.17);
CREATE TABLE agg_count_custom AS
SELECT i AS id, floor(random() * 12)::int AS grp,
	   CASE WHEN random() < 0.1 THEN NULL
			ELSE (enum_range(NULL::agg_count_st))[1 + floor(random() * 8)::int] END AS s,
	   CASE WHEN random() < 0.1 THEN NULL
			ELSE (enum_range(NULL::agg_count_st))[1 + floor(random() * 8)::int] END AS t,
	   CASE WHEN random() < 0.1 THEN NULL
			ELSE (enum_range(NULL::agg_count_st))[1 + floor(random() * 8)::int] END AS f
  FROM generate_series(1, 3000) i;

CREATE VIEW agg_count_custom_actual AS
	SELECT grp, pipeline.conversion_rate(s, t) AS conv, pipeline.conversion_rate(s, f, t) AS step,
		   pipeline.conversion_rate(s, 'meeting', 'won') AS step_const,
		   pipeline.win_rate(s) AS win, pipeline.funnel(s) AS funnel, pipeline.furthest_stage(s) AS furthest
	  FROM agg_count_custom GROUP BY grp;
CREATE VIEW agg_count_custom_expected AS
	SELECT d.grp,
		   count(*) FILTER (WHERE s IS NOT NULL AND t IS NOT NULL AND agg_count_reached('agg_count_st', s::text, t::text))::float8
			   / nullif(count(*) FILTER (WHERE s IS NOT NULL AND t IS NOT NULL), 0) AS conv,
		   count(*) FILTER (WHERE s IS NOT NULL AND f IS NOT NULL AND t IS NOT NULL
							AND agg_count_reached('agg_count_st', s::text, f::text)
							AND agg_count_reached('agg_count_st', s::text, t::text))::float8
			   / nullif(count(*) FILTER (WHERE s IS NOT NULL AND f IS NOT NULL AND t IS NOT NULL
										 AND agg_count_reached('agg_count_st', s::text, f::text)), 0) AS step,
		   count(*) FILTER (WHERE s IS NOT NULL AND agg_count_reached('agg_count_st', s::text, 'meeting')
							AND agg_count_reached('agg_count_st', s::text, 'won'))::float8
			   / nullif(count(*) FILTER (WHERE s IS NOT NULL AND agg_count_reached('agg_count_st', s::text, 'meeting')), 0) AS step_const,
		   count(*) FILTER (WHERE r.kind = 'won')::float8 / nullif(count(*) FILTER (WHERE r.kind <> 'open'), 0) AS win,
		   CASE WHEN count(s) > 0 THEN
			   (SELECT array_agg((SELECT count(*) FROM agg_count_custom d2
								   WHERE d2.grp = d.grp AND d2.s IS NOT NULL
									 AND agg_count_reached('agg_count_st', d2.s::text, tr.label)) ORDER BY tr.ord)
				  FROM agg_count_ref tr WHERE tr.stage_type = 'agg_count_st'::regtype AND tr.kind <> 'lost')
		   END AS funnel,
		   max(s) FILTER (WHERE r.kind <> 'lost') AS furthest
	  FROM agg_count_custom d
	  LEFT JOIN agg_count_ref r ON r.stage_type = 'agg_count_st'::regtype AND r.label = d.s::text
	 GROUP BY d.grp;
SELECT * FROM agg_count_custom_actual a FULL JOIN agg_count_custom_expected e USING (grp)
 WHERE (a.conv, a.step, a.step_const, a.win, a.funnel, a.furthest)
	   IS DISTINCT FROM (e.conv, e.step, e.step_const, e.win, e.funnel, e.furthest);
-- For a reader's eye: one group, each aggregate beside its reference.
SELECT grp, s.* FROM agg_count_custom_actual a JOIN agg_count_custom_expected e USING (grp),
	   pg_temp.side_by_side(to_json(a), to_json(e), '{grp}') s WHERE grp = 5;
-- (the views use the type's aggregates, which undefine_stages drops below)
DROP VIEW agg_count_custom_actual, agg_count_custom_expected;

SELECT pipeline.funnel(s), pipeline.furthest_stage(s), pipeline.win_rate(s)
  FROM unnest('{lead,lost_early,meeting,lost_late,churned,expanded,won}'::agg_count_st[]) s;
SELECT pipeline.furthest_stage(s) AS all_lost
  FROM unnest('{lost_early,lost_late,churned}'::agg_count_st[]) s;
-- The result is of the concrete type, and each aggregate exists per type.
SELECT pg_typeof(pipeline.furthest_stage(s)) FROM agg_count_custom;

-- A label added later: open when it sorts before the first won label.
ALTER TYPE agg_count_st ADD VALUE 'demo' BEFORE 'offer';
SELECT pipeline.funnel(s), pipeline.furthest_stage(s)
  FROM unnest('{lead,meeting,demo}'::agg_count_st[]) s;

-- Labels of two types in one hand-written transition call are refused.
SELECT pipeline._conversion_reached_trans(NULL, 'proposal'::pipeline.stage, 'proposal'::pipeline.stage);
SELECT pipeline._conversion_reached_trans(pipeline._conversion_reached_trans(NULL, 'proposal'::pipeline.stage, 'proposal'::pipeline.stage),
										  'lead'::agg_count_st, 'lead'::agg_count_st);
-- An enum that is not registered.
CREATE TYPE agg_count_unregistered AS ENUM ('x', 'y');
SELECT pipeline._win_rate_trans(NULL, 'x'::agg_count_unregistered);
DROP TYPE agg_count_unregistered;

-- Moving windows (inverse transitions) against the plain-SQL window
-- equivalent, including frames that become empty or all-NULL.
CREATE VIEW agg_count_window AS
	SELECT id,
		   pipeline.conversion_rate(b) OVER win AS conv_bool,
		   count(*) FILTER (WHERE b) OVER win::float8 / nullif(count(b) OVER win, 0) AS ref_conv_bool,
		   pipeline.win_rate(s) OVER win AS win_rate,
		   count(*) FILTER (WHERE s IN ('closed_won', 'follow_up')) OVER win::float8
			   / nullif(count(*) FILTER (WHERE s IN ('closed_won', 'follow_up', 'closed_lost')) OVER win, 0) AS ref_win_rate,
		   pipeline.conversion_rate(s, 'proposal') OVER win AS conv,
		   count(*) FILTER (WHERE s BETWEEN 'proposal' AND 'follow_up') OVER win::float8
			   / nullif(count(s) OVER win, 0) AS ref_conv,
		   pipeline.conversion_rate(s, 'proposal', 'closed_won') OVER win AS step,
		   count(*) FILTER (WHERE s IN ('closed_won', 'follow_up')) OVER win::float8
			   / nullif(count(*) FILTER (WHERE s BETWEEN 'proposal' AND 'follow_up') OVER win, 0) AS ref_step,
		   pipeline.furthest_stage(s) OVER win AS furthest,
		   max(s) FILTER (WHERE s <> 'closed_lost') OVER win AS ref_furthest,
		   pipeline.funnel(s) OVER win AS funnel,
		   CASE WHEN count(s) OVER win > 0 THEN ARRAY[
			   count(*) FILTER (WHERE s BETWEEN 'lead_generation' AND 'follow_up') OVER win,
			   count(*) FILTER (WHERE s BETWEEN 'prospecting' AND 'follow_up') OVER win,
			   count(*) FILTER (WHERE s BETWEEN 'qualification' AND 'follow_up') OVER win,
			   count(*) FILTER (WHERE s BETWEEN 'initial_contact' AND 'follow_up') OVER win,
			   count(*) FILTER (WHERE s BETWEEN 'proposal' AND 'follow_up') OVER win,
			   count(*) FILTER (WHERE s BETWEEN 'negotiation' AND 'follow_up') OVER win,
			   count(*) FILTER (WHERE s BETWEEN 'closed_won' AND 'follow_up') OVER win,
			   count(*) FILTER (WHERE s = 'follow_up') OVER win] END AS ref_funnel
	  FROM agg_count_deals
	WINDOW win AS (ORDER BY grp, id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW);
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE conv_bool IS DISTINCT FROM ref_conv_bool) AS conv_bool_diff,
	   count(*) FILTER (WHERE win_rate IS DISTINCT FROM ref_win_rate) AS win_rate_diff,
	   count(*) FILTER (WHERE conv IS DISTINCT FROM ref_conv) AS conv_diff,
	   count(*) FILTER (WHERE step IS DISTINCT FROM ref_step) AS step_diff,
	   count(*) FILTER (WHERE furthest IS DISTINCT FROM ref_furthest) AS furthest_diff,
	   count(*) FILTER (WHERE funnel IS DISTINCT FROM ref_funnel) AS funnel_diff,
	   count(*) FILTER (WHERE win_rate IS NULL) > 0 AS some_null_frames
  FROM agg_count_window w;
-- For a reader's eye: ten rows in window order, the last of group 2 (lost
-- or NULL) and the first of group 3; each row's frame is it and the three
-- rows before it.
SELECT w.id, d.grp, d.s, w.win_rate, w.ref_win_rate, w.furthest, w.ref_furthest, w.funnel, w.ref_funnel
  FROM agg_count_window w JOIN (SELECT id, grp, s, row_number() OVER (ORDER BY grp, id) AS pos FROM agg_count_deals) d USING (id)
 WHERE d.pos BETWEEN 28 AND 37 ORDER BY d.pos;

-- A frame that starts ahead of the current row and empties out.
SELECT id, pipeline.win_rate(s) OVER win AS win_rate,
	   pipeline.furthest_stage(s) OVER win AS furthest
  FROM (VALUES (1, 'closed_won'::pipeline.stage), (2, NULL), (3, 'closed_lost'), (4, NULL), (5, NULL), (6, 'proposal')) v(id, s)
WINDOW win AS (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 2 FOLLOWING)
 ORDER BY id;

-- Catalog: per type, concrete argument and result types, the transition
-- type (count_state; furthest_stage keeps the stage itself, and
-- count_state only as a moving aggregate), combine and inverse functions,
-- PARALLEL SAFE support.
SELECT a.aggfnoid::regprocedure AS aggregate, p.prorettype::regtype AS result,
	   a.aggtranstype::regtype AS state, a.aggmtranstype::regtype AS moving_state,
	   a.aggcombinefn <> 0 AS combine, a.aggminvtransfn <> 0 AS inverse, p.proparallel AS parallel
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'pipeline'::regnamespace
   AND p.proname IN ('conversion_rate', 'win_rate', 'funnel', 'furthest_stage')
   AND 'pipeline.count_state'::regtype IN (a.aggtranstype, a.aggmtranstype)
 ORDER BY a.aggfnoid::regprocedure::text;
SELECT DISTINCT sf.proname, sf.proparallel
  FROM pg_aggregate a
  JOIN pg_proc sf ON sf.oid IN (a.aggtransfn, a.aggcombinefn, a.aggfinalfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn)
 WHERE 'pipeline.count_state'::regtype IN (a.aggtranstype, a.aggmtranstype)
 ORDER BY 1;

-- undefine_stages drops the type's aggregates (through
-- pipeline._apply_aggregates and pipeline._drop_count_aggregates).
SELECT pipeline.undefine_stages('agg_count_st');
SELECT count(*) AS left_over FROM pg_proc
 WHERE pronamespace = 'pipeline'::regnamespace AND 'agg_count_st'::regtype = ANY (proargtypes);

DROP VIEW agg_count_whole, agg_count_window;
DROP TABLE agg_count_custom, agg_count_deals CASCADE;
DROP TABLE agg_count_ref CASCADE;
DROP FUNCTION agg_count_reached(regtype, text, text);
DROP TYPE agg_count_st;
