SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set VERBOSITY default

\i test/sql/include/try.sql

-- An independent statement of the built-in rules (docs/transitions.md, "Rulesets"),
-- from pipeline.stage_catalog, next to can_transition and the
-- transition_rules view, for every (from, to) pair including creation
-- (from NULL) under both rulesets: one row per pair and ruleset.
CREATE FUNCTION pg_temp.builtin_pairs(typ regtype)
RETURNS TABLE (ruleset text, fs text, ts text, tor integer, got boolean, want boolean, in_view boolean)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH c AS (
		SELECT stage, ordinal, kind, is_entry FROM pipeline.stage_catalog
		 WHERE stage_type = pipeline._type_name(%1$L::regtype)),
	f AS (SELECT stage, ordinal, kind FROM c UNION ALL SELECT NULL, 0, 'creation'),
	first_won AS (SELECT min(ordinal) AS o FROM c WHERE kind = 'won'),
	pairs AS (
		SELECT f.stage AS fs, f.kind AS fk, t.stage AS ts, t.ordinal AS tor, t.kind AS tk, t.is_entry,
			   (SELECT min(ordinal) FROM c WHERE c.kind = 'open' AND c.ordinal > f.ordinal) AS next_open,
			   (SELECT min(ordinal) FROM c WHERE c.kind = 'won' AND c.ordinal > f.ordinal) AS next_won,
			   (SELECT o FROM first_won) AS first_won
		  FROM f CROSS JOIN c AS t),
	expected AS (
		SELECT p.*,
			   coalesce(CASE WHEN fs IS NULL THEN is_entry
					WHEN fs = ts THEN true
					WHEN fk = 'open' THEN (tk = 'open' AND tor = next_open)
										  OR (next_open IS NULL AND tor = first_won)
										  OR tk = 'lost'
					WHEN fk = 'won' THEN tor = next_won
					ELSE false END, false) AS strict_ok
		  FROM pairs p),
	expected2 AS (
		SELECT e.*,
			   strict_ok
			   OR (fk IN ('open', 'lost') AND tk = 'open')
			   OR coalesce(fk = 'open' AND tor = first_won, false) AS lenient_ok
		  FROM expected e),
	actual AS (
		SELECT e.*, r.ruleset,
			   CASE r.ruleset WHEN 'strict' THEN strict_ok ELSE lenient_ok END AS want,
			   pipeline.can_transition(fs::%1$s, ts::%1$s, r.ruleset) AS got,
			   EXISTS (SELECT 1 FROM pipeline.transition_rules v
						WHERE v.stage_type = pipeline._type_name(%1$L::regtype) AND v.ruleset = r.ruleset
						  AND v.from_stage IS NOT DISTINCT FROM fs AND v.to_stage = ts) AS in_view
		  FROM expected2 e CROSS JOIN (VALUES ('strict'), ('lenient')) r(ruleset))
	SELECT ruleset, fs, ts, tor, got, want, in_view FROM actual
	$q$, typ);
END
$$;

-- The pairs compared with can_transition and with the view: one row per
-- ruleset.
CREATE FUNCTION pg_temp.check_builtin(typ regtype)
RETURNS TABLE (ruleset text, pairs bigint, allowed bigint, mismatches bigint, view_mismatches bigint)
LANGUAGE sql AS $$
	SELECT ruleset, count(*), count(*) FILTER (WHERE got AND fs IS DISTINCT FROM ts),
		   count(*) FILTER (WHERE got IS DISTINCT FROM want),
		   count(*) FILTER (WHERE fs IS DISTINCT FROM ts AND in_view IS DISTINCT FROM want)
	  FROM pg_temp.builtin_pairs(typ) GROUP BY ruleset ORDER BY ruleset DESC
$$;

-- For a reader's eye: the pairs from one stage, each ruleset's answer
-- (got: can_transition, view: in transition_rules, want: the statement
-- above); the view leaves out a stage's move to itself.
CREATE FUNCTION pg_temp.builtin_from(typ regtype, from_stage text)
RETURNS TABLE (to_stage text, strict_got boolean, strict_view boolean, strict_want boolean,
			   lenient_got boolean, lenient_view boolean, lenient_want boolean)
LANGUAGE sql AS $$
	SELECT ts, bool_and(got) FILTER (WHERE ruleset = 'strict'), bool_and(in_view) FILTER (WHERE ruleset = 'strict'),
		   bool_and(want) FILTER (WHERE ruleset = 'strict'), bool_and(got) FILTER (WHERE ruleset = 'lenient'),
		   bool_and(in_view) FILTER (WHERE ruleset = 'lenient'), bool_and(want) FILTER (WHERE ruleset = 'lenient')
	  FROM pg_temp.builtin_pairs(typ) WHERE fs = from_stage GROUP BY ts, tor ORDER BY tor
$$;

-- pipeline.stage: 10 "from" values (creation + 9) x 9 targets per ruleset
SELECT * FROM pg_temp.check_builtin('pipeline.stage');
-- the last open stage: on to the first won stage, or lost; lenient adds
-- every open stage
SELECT * FROM pg_temp.builtin_from('pipeline.stage', 'negotiation');

-- The strict ruleset in full, as the view shows it.
SELECT from_stage, string_agg(to_stage, ', ' ORDER BY pipeline.stage_ordinal(to_stage::pipeline.stage)) AS to_stages
  FROM pipeline.transition_rules
 WHERE stage_type = 'pipeline.stage' AND ruleset = 'strict'
 GROUP BY from_stage
 ORDER BY pipeline.stage_ordinal(from_stage::pipeline.stage) NULLS FIRST;

-- A custom enum with a lost label between open ones and after the won ones.
CREATE TYPE public.hire AS ENUM ('sourced', 'screen', 'rejected', 'interview', 'offer',
								 'hired', 'onboarded', 'withdrawn');
SELECT pipeline.define_stages('public.hire', won => '{hired,onboarded}', lost => '{rejected,withdrawn}');
SELECT * FROM pg_temp.check_builtin('public.hire');
-- an open stage after a lost one: the next open stage, or either lost one
SELECT * FROM pg_temp.builtin_from('public.hire', 'interview');
SELECT pipeline.next_stages('screen'::public.hire), pipeline.next_stages('offer'::public.hire),
	   pipeline.next_stages('rejected'::public.hire, 'lenient'), pipeline.next_stages(NULL::public.hire);

-- can_transition / next_stages details
SELECT pipeline.can_transition('proposal'::pipeline.stage, 'proposal') AS same_stage,
	   pipeline.can_transition('closed_lost'::pipeline.stage, 'closed_lost') AS same_lost,
	   pipeline.can_transition(NULL, 'prospecting'::pipeline.stage) AS create_prospecting,
	   pipeline.can_transition(NULL, 'proposal'::pipeline.stage) AS create_proposal,
	   pipeline.can_transition('proposal'::pipeline.stage, NULL) AS to_null,
	   pipeline.can_transition('proposal'::pipeline.stage, 'negotiation', NULL) AS ruleset_null;
SELECT pipeline.next_stages('closed_lost'::pipeline.stage) AS from_lost,
	   pipeline.next_stages('closed_lost'::pipeline.stage) IS NULL AS is_null,
	   pipeline.next_stages('follow_up'::pipeline.stage) AS from_follow_up,
	   pipeline.next_stages('closed_lost'::pipeline.stage, 'lenient') AS reopen,
	   pg_typeof(pipeline.next_stages('proposal'::pipeline.stage)) AS type;
SELECT pipeline.next_stages(NULL::pipeline.stage) AS creation,
	   pipeline.next_stages(NULL::pipeline.stage, 'lenient') AS creation_lenient;
SELECT pg_temp.try($$SELECT pipeline.can_transition('proposal'::pipeline.stage, 'negotiation', 'nope')$$);
SELECT pg_temp.try($$SELECT pipeline.next_stages('proposal'::pipeline.stage, 'nope')$$);
CREATE TYPE public.colour AS ENUM ('red', 'green');
SELECT pg_temp.try($$SELECT pipeline.can_transition('red'::public.colour, 'green')$$);
SELECT pg_temp.try($$SELECT pipeline.next_stages(NULL::public.colour)$$);
SELECT pipeline.next_stages(NULL);		-- no type to resolve: a parse error

-- Volatility and parallel safety are deliberate.
SELECT p.oid::regprocedure, p.provolatile, p.proparallel, p.proisstrict
  FROM pg_proc p
 WHERE p.pronamespace = 'pipeline'::regnamespace
   AND p.proname IN ('can_transition', 'next_stages', '_transition_rules')
 ORDER BY 1::text;

-- ---------------------------------------------------------------------------
-- Custom rulesets
-- ---------------------------------------------------------------------------
SELECT pipeline.copy_ruleset('pipeline.stage', 'strict', 'sales');
SELECT ruleset, count(*) FROM pipeline.transition_rules
 WHERE stage_type = 'pipeline.stage' GROUP BY ruleset ORDER BY ruleset;
-- the copy allows exactly what strict allows
SELECT count(*) AS differences FROM (
	(SELECT from_stage, to_stage FROM pipeline.transition_rules WHERE ruleset = 'strict' AND stage_type = 'pipeline.stage'
	 EXCEPT SELECT from_stage, to_stage FROM pipeline.transition_rules WHERE ruleset = 'sales')
	UNION ALL
	(SELECT from_stage, to_stage FROM pipeline.transition_rules WHERE ruleset = 'sales'
	 EXCEPT SELECT from_stage, to_stage FROM pipeline.transition_rules WHERE ruleset = 'strict' AND stage_type = 'pipeline.stage')) d;
SELECT pipeline.allow_transition('pipeline.stage', 'sales', 'proposal', 'closed_won');
SELECT pipeline.allow_transition('pipeline.stage', 'sales', 'proposal', 'closed_won');	-- idempotent
SELECT pipeline.allow_transition('pipeline.stage', 'sales', NULL, 'proposal');			-- creation edge
SELECT pipeline.forbid_transition('pipeline.stage', 'sales', 'negotiation', 'closed_lost');
SELECT pipeline.forbid_transition('pipeline.stage', 'sales', 'negotiation', 'closed_lost');	-- idempotent
SELECT pipeline.can_transition('proposal'::pipeline.stage, 'closed_won', 'sales') AS proposal_won,
	   pipeline.can_transition('negotiation'::pipeline.stage, 'closed_lost', 'sales') AS negotiation_lost,
	   pipeline.can_transition(NULL, 'proposal'::pipeline.stage, 'sales') AS create_proposal,
	   pipeline.next_stages('proposal'::pipeline.stage, 'sales') AS after_proposal,
	   pipeline.next_stages('negotiation'::pipeline.stage, 'sales') AS after_negotiation;
SELECT from_stage, to_stage FROM pipeline.ruleset_edges
 WHERE ruleset = 'sales' AND (from_stage IS NULL OR from_stage = 'proposal') ORDER BY 1 NULLS FIRST, 2;
-- a copy of a custom ruleset, a copy for another type
SELECT pipeline.copy_ruleset('pipeline.stage', 'sales', 'sales2');
SELECT pipeline.copy_ruleset('public.hire', 'lenient', 'sales');
SELECT stage_type, ruleset, count(*) FROM pipeline.transition_rules
 WHERE ruleset IN ('sales', 'sales2') GROUP BY 1, 2 ORDER BY 1, 2;

-- errors
SELECT pg_temp.try($$SELECT pipeline.allow_transition('pipeline.stage', 'strict', 'proposal', 'closed_won')$$);
SELECT pg_temp.try($$SELECT pipeline.forbid_transition('pipeline.stage', 'lenient', 'proposal', 'closed_won')$$);
SELECT pg_temp.try($$SELECT pipeline.drop_ruleset('pipeline.stage', 'strict')$$);
SELECT pg_temp.try($$SELECT pipeline.copy_ruleset('pipeline.stage', 'sales', 'strict')$$);
SELECT pg_temp.try($$SELECT pipeline.copy_ruleset('pipeline.stage', 'strict', 'sales')$$);
SELECT pg_temp.try($$SELECT pipeline.copy_ruleset('pipeline.stage', 'nope', 'x')$$);
SELECT pg_temp.try($$SELECT pipeline.copy_ruleset('pipeline.stage', 'strict', '')$$);
SELECT pg_temp.try($$SELECT pipeline.allow_transition('pipeline.stage', 'nope', 'proposal', 'closed_won')$$);
SELECT pg_temp.try($$SELECT pipeline.drop_ruleset('pipeline.stage', 'nope')$$);
SELECT pg_temp.try($$SELECT pipeline.allow_transition('pipeline.stage', 'sales', 'proposel', 'closed_won')$$);
SELECT pg_temp.try($$SELECT pipeline.allow_transition('pipeline.stage', 'sales', 'proposal', 'won')$$);
SELECT pg_temp.try($$SELECT pipeline.forbid_transition('pipeline.stage', 'sales', 'x', 'closed_won')$$);
SELECT pg_temp.try($$SELECT pipeline.allow_transition('pipeline.stage', 'sales', 'proposal', 'proposal')$$);
SELECT pg_temp.try($$SELECT pipeline.allow_transition('pipeline.stage', 'sales', 'proposal', NULL)$$);
SELECT pg_temp.try($$SELECT pipeline.allow_transition('public.colour', 'sales', 'red', 'green')$$);
SELECT pg_temp.try($$SELECT pipeline.copy_ruleset('int4', 'strict', 'x')$$);

-- Only the extension owner and superusers edit rules; everyone reads them.
CREATE ROLE pipeline_rules_user;
SET ROLE pipeline_rules_user;
SELECT count(*) > 0 AS can_read FROM pipeline.transition_rules WHERE ruleset = 'sales';
SELECT pg_temp.try($$SELECT pipeline.allow_transition('pipeline.stage', 'sales', 'lead_generation', 'proposal')$$);
SELECT pg_temp.try($$SELECT pipeline.forbid_transition('pipeline.stage', 'sales', 'proposal', 'closed_won')$$);
SELECT pg_temp.try($$SELECT pipeline.copy_ruleset('pipeline.stage', 'strict', 'mine')$$);
SELECT pg_temp.try($$SELECT pipeline.drop_ruleset('pipeline.stage', 'sales')$$);
SELECT pg_temp.try($$INSERT INTO pipeline.ruleset_edges VALUES ('pipeline.stage', 'sales', 'lead_generation', 'proposal')$$);
RESET ROLE;
SELECT pipeline.can_transition('proposal'::pipeline.stage, 'closed_won', 'sales') AS still_allowed;

-- An edit is seen by the next statement, in this session (see the
-- transition_rule_edit isolation spec for other sessions).
CREATE TABLE public.rules_deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
INSERT INTO public.rules_deals VALUES (1, 'proposal'), (2, 'proposal');
SELECT pipeline.attach('public.rules_deals', ruleset => 'sales2', track_history => false);
SELECT pg_temp.try($$UPDATE public.rules_deals SET stage = 'closed_won' WHERE id = 1$$);
SELECT pipeline.allow_transition('pipeline.stage', 'sales2', 'proposal', 'closed_won');
SELECT pg_temp.try($$UPDATE public.rules_deals SET stage = 'closed_won' WHERE id = 1$$);
SELECT pipeline.forbid_transition('pipeline.stage', 'sales2', 'proposal', 'closed_won');
SELECT pg_temp.try($$UPDATE public.rules_deals SET stage = 'closed_won' WHERE id = 2$$);

-- drop_ruleset refuses while a table uses it
SELECT pg_temp.try($$SELECT pipeline.drop_ruleset('pipeline.stage', 'sales2')$$);
SELECT pipeline.attach('public.rules_deals', ruleset => 'sales', track_history => false);
SELECT pipeline.drop_ruleset('pipeline.stage', 'sales2');
SELECT pipeline.detach('public.rules_deals');
SELECT pipeline.drop_ruleset('pipeline.stage', 'sales');
SELECT pipeline.drop_ruleset('public.hire', 'sales');
SELECT count(*) AS leftover_edges FROM pipeline.ruleset_edges;
SELECT count(*) AS leftover_rulesets FROM pipeline.rulesets;

DROP TABLE public.rules_deals;
DROP ROLE pipeline_rules_user;
SELECT pipeline.undefine_stages('public.hire');
DROP TYPE public.hire;
DROP TYPE public.colour;
