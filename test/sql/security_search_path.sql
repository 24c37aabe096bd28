-- Hostile search_path (in the spirit of contrib's security.sql): functions,
-- aggregates and operators planted in a schema that comes before pg_catalog
-- on the search_path, named like the ones the extension's SQL uses, must
-- never run and never change what define_stages, the settings and rules API,
-- attach, the triggers, the views and the aggregates do.  Also: every
-- SQL/PL/pgSQL function of the extension pins its search_path.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse

CREATE ROLE sec_attacker;
CREATE ROLE sec_owner;
CREATE ROLE sec_writer;
CREATE SCHEMA sec_evil AUTHORIZATION sec_attacker;
GRANT USAGE ON SCHEMA sec_evil TO PUBLIC;

-- Every planted object logs its call here.
CREATE TABLE sec_evil.calls (what text, who name DEFAULT current_user);
ALTER TABLE sec_evil.calls OWNER TO sec_attacker;
GRANT INSERT ON sec_evil.calls TO PUBLIC;

CREATE TYPE public.sec_stage AS ENUM ('new', 'qualified', 'proposal', 'won', 'lost');
CREATE TABLE public.sec_deals (id int PRIMARY KEY, stage public.sec_stage NOT NULL, amount numeric);
ALTER TABLE public.sec_deals OWNER TO sec_owner;
CREATE TABLE public.sec_parts (region text, id int, stage pipeline.stage NOT NULL, amount numeric,
                               PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE public.sec_parts_eu PARTITION OF public.sec_parts FOR VALUES IN ('eu');
CREATE TABLE public.sec_parts_us PARTITION OF public.sec_parts FOR VALUES IN ('us');
ALTER TABLE public.sec_parts OWNER TO sec_owner;
ALTER TABLE public.sec_parts_eu OWNER TO sec_owner;
ALTER TABLE public.sec_parts_us OWNER TO sec_owner;
GRANT SELECT, INSERT, UPDATE ON public.sec_deals, public.sec_parts TO sec_writer;

-- Plant the objects, as the attacker.  Functions return wrong answers and
-- log; operators are exact-type matches (which beat polymorphic pg_catalog
-- operators in overload resolution) or same-signature twins.
SET ROLE sec_attacker;
DO $plant$
DECLARE
	f record;
BEGIN
	FOR f IN SELECT * FROM (VALUES
		('format', 'text', 'text', $$'evil'$$),
		('format', 'text, text', 'text', $$'evil'$$),
		('format', 'text, text, text', 'text', $$'evil'$$),
		('format', 'text, text, text, text', 'text', $$'evil'$$),
		('format', 'text, name', 'text', $$'evil'$$),
		('format', 'text, name, name', 'text', $$'evil'$$),
		('format', 'text, regtype', 'text', $$'evil'$$),
		('quote_ident', 'text', 'text', $$'evil'$$),
		('quote_literal', 'text', 'text', $$'evil'$$),
		('quote_nullable', 'text', 'text', $$'evil'$$),
		('now', '', 'timestamptz', $$'-infinity'$$),
		('clock_timestamp', '', 'timestamptz', $$'-infinity'$$),
		('statement_timestamp', '', 'timestamptz', $$'-infinity'$$),
		('transaction_timestamp', '', 'timestamptz', $$'-infinity'$$),
		('current_user', '', 'name', $$'evil'$$),
		('session_user', '', 'name', $$'evil'$$),
		('current_schema', '', 'name', $$'evil'$$),
		('coalesce', 'text, text', 'text', $$'evil'$$),
		('nullif', 'text, text', 'text', $$'evil'$$),
		('greatest', 'integer, integer', 'integer', '-1'),
		('least', 'integer, integer', 'integer', '-1'),
		('cardinality', 'text[]', 'integer', '-1'),
		('cardinality', 'numeric[]', 'integer', '-1'),
		('array_position', 'text[], text', 'integer', '-1'),
		('array_ndims', 'numeric[]', 'integer', '-1'),
		('array_to_string', 'text[], text', 'text', $$'evil'$$),
		('round', 'numeric, integer', 'numeric', '-1'),
		('to_regclass', 'text', 'regclass', 'NULL'),
		('to_regprocedure', 'text', 'regprocedure', 'NULL'),
		('has_table_privilege', 'text, text', 'boolean', 'true'),
		('pg_has_role', 'name, oid, text', 'boolean', 'true'),
		('pg_get_userbyid', 'oid', 'name', $$'evil'$$),
		('format_type', 'oid, integer', 'text', $$'evil'$$),
		('octet_length', 'text', 'integer', '-1'),
		('length', 'text', 'integer', '-1'),
		('lower', 'text', 'text', $$'evil'$$),
		('upper', 'text', 'text', $$'evil'$$),
		('convert_from', 'bytea, name', 'text', $$'evil'$$),
		('position', 'bytea, bytea', 'integer', '-1'),
		('substring', 'bytea, integer, integer', 'bytea', $$'\x00'$$),
		('enum_range', 'public.sec_stage', 'public.sec_stage[]', 'NULL'),
		('enum_range', 'pipeline.stage', 'pipeline.stage[]', 'NULL'),
		('enum_first', 'public.sec_stage', 'public.sec_stage', 'NULL'),
		('enum_last', 'public.sec_stage', 'public.sec_stage', 'NULL')
	) AS v(name, args, rettype, result)
	LOOP
		EXECUTE pg_catalog.format(
			'CREATE FUNCTION sec_evil.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L',
			f.name, f.args, f.rettype,
			pg_catalog.format('BEGIN INSERT INTO sec_evil.calls(what) VALUES (%L); RETURN %s; END',
							  f.name || '(' || f.args || ')', f.result));
	END LOOP;
END
$plant$;

-- set-returning and boolean helpers
CREATE FUNCTION sec_evil.unnest(text[]) RETURNS SETOF text LANGUAGE plpgsql AS
$$BEGIN INSERT INTO sec_evil.calls(what) VALUES ('unnest(text[])'); RETURN NEXT 'evil'; END$$;
CREATE FUNCTION sec_evil.unnest(numeric[]) RETURNS SETOF numeric LANGUAGE plpgsql AS
$$BEGIN INSERT INTO sec_evil.calls(what) VALUES ('unnest(numeric[])'); RETURN NEXT -1; END$$;
CREATE FUNCTION sec_evil.evil_text2(text, text) RETURNS text LANGUAGE plpgsql AS
$$BEGIN INSERT INTO sec_evil.calls(what) VALUES ('||(text,text)'); RETURN 'evil'; END$$;
CREATE FUNCTION sec_evil.evil_arr2(text[], text[]) RETURNS boolean LANGUAGE plpgsql AS
$$BEGIN INSERT INTO sec_evil.calls(what) VALUES ('operator on text[]'); RETURN NULL; END$$;

-- Operators: = and friends on every type our SQL compares.
DO $plant$
DECLARE
	t text;
	op text;
BEGIN
	FOREACH t IN ARRAY ARRAY['text', 'name', 'oid', 'regtype', 'regclass', 'regprocedure',
							 'integer', 'bigint', 'numeric', 'boolean', '"char"', 'interval',
							 'public.sec_stage', 'pipeline.stage'] LOOP
		EXECUTE pg_catalog.format(
			'CREATE FUNCTION sec_evil.evil_cmp(%1$s, %1$s) RETURNS boolean LANGUAGE plpgsql AS %2$L',
			t, pg_catalog.format('BEGIN INSERT INTO sec_evil.calls(what) VALUES (%L); RETURN NULL; END',
								 'operator on ' || t));
		FOREACH op IN ARRAY ARRAY['=', '<>', '<', '>', '<=', '>='] LOOP
			EXECUTE pg_catalog.format('CREATE OPERATOR sec_evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = sec_evil.evil_cmp)',
									  op, t, t);
		END LOOP;
	END LOOP;
END
$plant$;
CREATE OPERATOR sec_evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_evil.evil_text2);
CREATE OPERATOR sec_evil.&& (LEFTARG = text[], RIGHTARG = text[], FUNCTION = sec_evil.evil_arr2);
CREATE OPERATOR sec_evil.<@ (LEFTARG = text[], RIGHTARG = text[], FUNCTION = sec_evil.evil_arr2);
CREATE OPERATOR sec_evil.@> (LEFTARG = text[], RIGHTARG = text[], FUNCTION = sec_evil.evil_arr2);

-- Aggregates named like ours and like the built-ins our SQL uses.
CREATE FUNCTION sec_evil.evil_sfunc(text, anyelement) RETURNS text LANGUAGE plpgsql AS
$$BEGIN INSERT INTO sec_evil.calls(what) VALUES ('aggregate over ' || pg_catalog.pg_typeof($2)::text); RETURN 'evil'; END$$;
CREATE AGGREGATE sec_evil.array_agg(text) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE AGGREGATE sec_evil.array_agg(name) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE AGGREGATE sec_evil.array_agg(oid) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE FUNCTION sec_evil.evil_sfunc(text, text, text) RETURNS text LANGUAGE plpgsql AS
$$BEGIN INSERT INTO sec_evil.calls(what) VALUES ('string_agg'); RETURN 'evil'; END$$;
CREATE AGGREGATE sec_evil.string_agg(text, text) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE AGGREGATE sec_evil.max(integer) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE AGGREGATE sec_evil.min(integer) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE AGGREGATE sec_evil.count(integer) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE AGGREGATE sec_evil.bool_or(boolean) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE AGGREGATE sec_evil.win_rate(public.sec_stage) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
CREATE AGGREGATE sec_evil.funnel(pipeline.stage) (SFUNC = sec_evil.evil_sfunc, STYPE = text);
-- and a relation named like a config table
CREATE TABLE sec_evil.stage_types (stage_type regtype, labels text[], won text[], lost text[],
                                   entry text[], probabilities numeric[]);
GRANT ALL ON sec_evil.stage_types TO PUBLIC;
RESET ROLE;

SELECT count(*) > 60 AS planted
  FROM pg_proc p WHERE p.pronamespace = 'sec_evil'::regnamespace;
SELECT count(*) > 80 AS planted_operators
  FROM pg_operator o WHERE o.oprnamespace = 'sec_evil'::regnamespace;
-- The traps work: unqualified SQL under this search_path runs them.
SET search_path = sec_evil, pg_catalog, public;
SELECT format('%s', 'x'::text) AS naive_format, 'a'::text = 'a'::text AS naive_equals,
       'won'::public.sec_stage = 'won'::public.sec_stage AS naive_enum_equals;
RESET search_path;
SELECT what FROM sec_evil.calls ORDER BY what;
TRUNCATE sec_evil.calls;
-- a temp relation named like a config table, too
CREATE TEMP TABLE stage_settings (stage_type regtype, stage text, probability numeric, rotting_after interval);

-- ---------------------------------------------------------------------------
-- Everything below runs with the hostile schema first, pg_catalog after it.
-- Queries here use no operator or function of their own: results are kept
-- in temp tables and checked with a clean search_path afterwards.
-- ---------------------------------------------------------------------------
SET search_path = sec_evil, pg_catalog, public;

SELECT pipeline.define_stages('public.sec_stage', '{won}', '{lost}');
SELECT pipeline.set_probability('public.sec_stage', 'proposal', 0.55);
SELECT pipeline.set_rotting_after('public.sec_stage', 'qualified', '3 days');
SELECT pipeline.set_probability('pipeline.stage', 'proposal', 0.65);
SELECT pipeline.copy_ruleset('public.sec_stage', 'strict', 'sec_rules');
SELECT pipeline.allow_transition('public.sec_stage', 'sec_rules', 'new', 'proposal');
SELECT pipeline.forbid_transition('public.sec_stage', 'sec_rules', 'qualified', 'lost');
SELECT pipeline.attach('public.sec_deals', ruleset => 'sec_rules');
SELECT pipeline.attach('public.sec_parts');

-- the triggers, run by a writer with the hostile path
SET ROLE sec_writer;
INSERT INTO public.sec_deals VALUES (1, 'new', 100), (2, 'new', 200), (3, 'qualified', 300);
UPDATE public.sec_deals SET stage = 'proposal' WHERE id OPERATOR(pg_catalog.=) 1;           -- custom edge
UPDATE public.sec_deals SET stage = 'proposal' WHERE id OPERATOR(pg_catalog.=) 3;
UPDATE public.sec_deals SET stage = 'won' WHERE id OPERATOR(pg_catalog.=) 3;
UPDATE public.sec_deals SET stage = 'lost' WHERE id OPERATOR(pg_catalog.=) 2;
UPDATE public.sec_deals SET stage = 'won' WHERE id OPERATOR(pg_catalog.=) 2;                -- illegal
\echo SQLSTATE :SQLSTATE
INSERT INTO public.sec_deals VALUES (9, 'won', 1);                     -- illegal creation
\echo SQLSTATE :SQLSTATE
INSERT INTO public.sec_parts VALUES ('eu', 1, 'lead_generation', 10), ('us', 2, 'prospecting', 20);
UPDATE public.sec_parts SET stage = 'prospecting' WHERE id OPERATOR(pg_catalog.=) 1;
UPDATE public.sec_parts SET region = 'us', stage = 'qualification' WHERE id OPERATOR(pg_catalog.=) 1;   -- partition move
UPDATE public.sec_parts SET stage = 'closed_lost' WHERE id OPERATOR(pg_catalog.=) 2;
UPDATE public.sec_parts SET stage = 'proposal' WHERE id OPERATOR(pg_catalog.=) 1;           -- illegal skip
\echo SQLSTATE :SQLSTATE
RESET ROLE;

-- rules, aggregates and views, read with the hostile path
CREATE TEMP TABLE sec_rules_hostile AS
	SELECT pipeline.can_transition('new'::public.sec_stage, 'proposal'::public.sec_stage, 'sec_rules') AS new_proposal,
	       pipeline.can_transition('qualified'::public.sec_stage, 'lost'::public.sec_stage, 'sec_rules') AS qualified_lost,
	       pipeline.can_transition(NULL::public.sec_stage, 'new'::public.sec_stage) AS create_new,
	       pipeline.next_stages('new'::public.sec_stage, 'sec_rules') AS next_from_new,
	       pipeline.stage_probability('proposal'::public.sec_stage) AS p_proposal,
	       pipeline.stage_probability('proposal'::pipeline.stage) AS p_builtin_proposal;
-- (our own queries qualify their operators: only the extension is on trial)
CREATE TEMP TABLE sec_aggs_hostile AS
	SELECT pipeline.win_rate(stage) AS win_rate, pipeline.win_rate(stage, amount) AS win_rate_amount,
	       pipeline.weighted_pipeline(stage, amount) AS weighted, pipeline.funnel(stage) AS funnel,
	       pipeline.furthest_stage(stage) AS furthest, pipeline.conversion_rate(stage, 'proposal') AS conv
	  FROM public.sec_deals;
CREATE TEMP TABLE sec_part_aggs_hostile AS
	SELECT pipeline.funnel(stage) AS funnel, pipeline.weighted_pipeline(stage, amount) AS weighted,
	       pipeline.win_rate(stage) AS win_rate
	  FROM public.sec_parts;
CREATE TEMP TABLE sec_catalog_hostile AS SELECT * FROM pipeline.stage_catalog;
CREATE TEMP TABLE sec_transition_rules_hostile AS SELECT * FROM pipeline.transition_rules;
CREATE TEMP TABLE sec_attachments_hostile AS SELECT * FROM pipeline.attachments;

RESET search_path;
-- ---------------------------------------------------------------------------
-- Checks, with a clean search_path.
-- ---------------------------------------------------------------------------

-- Nothing planted ever ran.
SELECT count(*) AS hostile_calls FROM sec_evil.calls;
SELECT what, who, count(*) FROM sec_evil.calls GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS rows_in_evil_config FROM sec_evil.stage_types;
SELECT count(*) AS rows_in_temp_settings FROM pg_temp.stage_settings;

-- The registration, settings and rules are what was asked for.
SELECT stage_type, labels, won, lost, entry, probabilities FROM pipeline.stage_types
 WHERE stage_type = 'public.sec_stage'::regtype;
SELECT stage_type::text, stage, probability, rotting_after FROM pipeline.stage_settings ORDER BY 1, 2;
SELECT from_stage, to_stage FROM pipeline.ruleset_edges
 WHERE stage_type = 'public.sec_stage'::regtype AND ruleset = 'sec_rules' ORDER BY 1 NULLS FIRST, 2;
SELECT * FROM sec_rules_hostile;

-- Attach made what it should: triggers, history tables owned by the table
-- owner, the attachment view.
SELECT tgrelid::regclass, tgname, tgfoid::regprocedure, pg_get_triggerdef(oid) LIKE '%IS DISTINCT FROM%' AS has_when
  FROM pg_trigger WHERE tgrelid IN ('public.sec_deals'::regclass, 'public.sec_parts'::regclass)
 ORDER BY tgrelid::regclass::text, tgname;
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
 WHERE c.relname IN ('sec_deals_stage_history', 'sec_parts_stage_history') ORDER BY 1;
SELECT * FROM sec_attachments_hostile ORDER BY 1;
-- the WHEN clauses compare with pg_catalog's operators
SELECT count(*) AS when_clauses_using_hostile_operators
  FROM pg_trigger t, pg_depend d
 WHERE t.tgrelid IN ('public.sec_deals'::regclass, 'public.sec_parts'::regclass)
   AND d.classid = 'pg_trigger'::regclass AND d.objid = t.oid
   AND d.refclassid = 'pg_operator'::regclass
   AND d.refobjid IN (SELECT oid FROM pg_operator WHERE oprnamespace = 'sec_evil'::regnamespace);

-- History: an unbroken chain per row, the writer as changed_by, sane times.
SELECT id, from_stage, to_stage, changed_by, changed_at > now() - interval '1 hour' AS recent
  FROM public.sec_deals_stage_history ORDER BY id, seq;
SELECT region, id, from_stage, to_stage, changed_by FROM public.sec_parts_stage_history ORDER BY id, seq;
SELECT id, stage FROM public.sec_deals ORDER BY id;

-- Aggregates and views give what they give with a clean search_path.
CREATE TEMP TABLE sec_aggs_clean AS
	SELECT pipeline.win_rate(stage) AS win_rate, pipeline.win_rate(stage, amount) AS win_rate_amount,
	       pipeline.weighted_pipeline(stage, amount) AS weighted, pipeline.funnel(stage) AS funnel,
	       pipeline.furthest_stage(stage) AS furthest, pipeline.conversion_rate(stage, 'proposal') AS conv
	  FROM public.sec_deals;
SELECT * FROM sec_aggs_hostile;
SELECT (SELECT count(*) FROM (SELECT * FROM sec_aggs_hostile EXCEPT SELECT * FROM sec_aggs_clean) d) AS aggs_differing;
SELECT * FROM sec_part_aggs_hostile;
SELECT (SELECT count(*) FROM (SELECT * FROM sec_part_aggs_hostile
                               EXCEPT SELECT pipeline.funnel(stage), pipeline.weighted_pipeline(stage, amount),
                                             pipeline.win_rate(stage) FROM public.sec_parts) d) AS part_aggs_differing;
SELECT (SELECT count(*) FROM (SELECT * FROM sec_catalog_hostile EXCEPT SELECT * FROM pipeline.stage_catalog) d)
     + (SELECT count(*) FROM (SELECT * FROM pipeline.stage_catalog EXCEPT SELECT * FROM sec_catalog_hostile) d) AS catalog_rows_differing,
       (SELECT count(*) FROM (SELECT * FROM sec_transition_rules_hostile EXCEPT SELECT * FROM pipeline.transition_rules) d)
     + (SELECT count(*) FROM (SELECT * FROM pipeline.transition_rules EXCEPT SELECT * FROM sec_transition_rules_hostile) d) AS rule_rows_differing;
SELECT stage, kind, probability, is_entry, rotting_after FROM sec_catalog_hostile
 WHERE stage_type = 'public.sec_stage' ORDER BY ordinal;

-- Every view attach made (today none, or the reporting views) reads the
-- same with the hostile path as with a clean one.
CREATE FUNCTION pg_temp.sec_view_rows(v regclass, path text) RETURNS text
	LANGUAGE plpgsql AS $$
DECLARE
	saved text := pg_catalog.current_setting('search_path');
	cols text;
	digest text;
BEGIN
	-- interval columns (time in stage) move with now(): leave them out
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = v AND a.attnum > 0 AND NOT a.attisdropped
	   AND a.atttypid OPERATOR(pg_catalog.<>) 'pg_catalog.interval'::pg_catalog.regtype;
	PERFORM pg_catalog.set_config('search_path', path, true);
	EXECUTE pg_catalog.format('SELECT pg_catalog.md5(pg_catalog.string_agg(t::text, '','' ORDER BY t::text)) '
							  'FROM (SELECT %s FROM %s) t', cols, v) INTO digest;
	PERFORM pg_catalog.set_config('search_path', saved, true);
	RETURN COALESCE(digest, 'empty');
END
$$;
DO $$
DECLARE
	v regclass;
BEGIN
	FOR v IN SELECT c.oid FROM pg_class c
			  WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace
			    AND (c.relname LIKE 'sec\_deals\_%' OR c.relname LIKE 'sec\_parts\_%') LOOP
		IF pg_temp.sec_view_rows(v, 'sec_evil, pg_catalog, public') <> pg_temp.sec_view_rows(v, 'public') THEN
			RAISE EXCEPTION 'view % reads differently with a hostile search_path', v;
		END IF;
	END LOOP;
	RAISE NOTICE 'attach-made views read the same with a hostile search_path';
END
$$;
SELECT count(*) AS hostile_calls_after_views FROM sec_evil.calls;

-- ---------------------------------------------------------------------------
-- Every SQL and PL/pgSQL function of the extension (members, and the
-- per-type functions define_stages makes in schema pipeline) pins its
-- search_path to pg_catalog, pg_temp.
-- ---------------------------------------------------------------------------
SELECT p.oid::regprocedure AS unpinned_function, l.lanname, p.proconfig
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE (p.oid IN (SELECT d.objid FROM pg_depend d
                   WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
                     AND d.refclassid = 'pg_extension'::regclass
                     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pipeline'))
        OR p.pronamespace = 'pipeline'::regnamespace)
   AND l.lanname NOT IN ('c', 'internal')
   AND p.prokind <> 'a'
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
 ORDER BY p.oid::regprocedure::text;
SELECT count(*) > 10 AS pinned_functions_checked
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'pipeline'::regnamespace AND l.lanname NOT IN ('c', 'internal') AND p.prokind <> 'a';
-- SECURITY DEFINER functions: pinned too, and not executable by PUBLIC.
SELECT p.oid::regprocedure AS definer_function,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
  FROM pg_proc p WHERE p.pronamespace = 'pipeline'::regnamespace AND p.prosecdef ORDER BY p.oid::regprocedure::text;

-- The history table is found by identity (pipeline.attached_tables holds
-- its OID), never by a name resolved through the writer's search_path: a
-- look-alike first in the path receives nothing.
CREATE TABLE public.sec_hand (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
CREATE TABLE public.sec_hand_history (id int, from_stage pipeline.stage, to_stage pipeline.stage,
                                      changed_at timestamptz, changed_by name, seq bigint GENERATED ALWAYS AS IDENTITY);
INSERT INTO pipeline.attached_tables (target, stage_column, history)
VALUES ('public.sec_hand', 'stage', 'public.sec_hand_history');
CREATE TRIGGER hand AFTER INSERT ON public.sec_hand FOR EACH ROW
	EXECUTE FUNCTION pipeline.record_transition('stage');
CREATE TEMP TABLE sec_hand_history (LIKE public.sec_hand_history);
SET search_path = pg_temp, public;
INSERT INTO public.sec_hand VALUES (1, 'lead_generation');
RESET search_path;
SELECT (SELECT count(*) FROM public.sec_hand_history) AS history_rows,
       (SELECT count(*) FROM pg_temp.sec_hand_history) AS look_alike_rows;
DROP TABLE public.sec_hand, public.sec_hand_history, pg_temp.sec_hand_history;

-- ---------------------------------------------------------------------------
-- attach never resolves operators through the search_path: it compares and
-- sorts key columns with the primary key's own btree operators, so a key
-- type whose operators live outside pg_catalog (contrib's ltree, in public)
-- works, whatever the caller's search_path.
-- ---------------------------------------------------------------------------
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'ltree') THEN
		RAISE NOTICE 'ltree key: ok';	-- contrib not installed: nothing to prove
		RETURN;
	END IF;
	SET LOCAL client_min_messages = warning;
	CREATE EXTENSION IF NOT EXISTS ltree SCHEMA public;
	CREATE TABLE public.sec_tree (path public.ltree PRIMARY KEY, stage pipeline.stage NOT NULL);
	INSERT INTO public.sec_tree VALUES ('b.c', 'prospecting'), ('a', 'lead_generation');
	PERFORM pipeline.attach('public.sec_tree');
	PERFORM pipeline.attach('public.sec_tree');		-- again: NOT EXISTS compares keys
	UPDATE public.sec_tree SET stage = 'qualification' WHERE path OPERATOR(public.=) 'b.c';
	IF (SELECT pg_catalog.string_agg(h.path::text || ':' || coalesce(h.from_stage::text, '-') || '>' || h.to_stage, ' '
									 ORDER BY h.seq)
		  FROM public.sec_tree_stage_history h) IS DISTINCT FROM 'a:->lead_generation b.c:->prospecting b.c:prospecting>qualification' THEN
		RAISE EXCEPTION 'wrong history for an ltree key';
	END IF;
	PERFORM pipeline.detach('public.sec_tree');
	DROP TABLE public.sec_tree, public.sec_tree_stage_history;
	DROP EXTENSION ltree;
	RESET client_min_messages;
	RAISE NOTICE 'ltree key: ok';
END
$$;

-- ---------------------------------------------------------------------------
-- Clean up.
-- ---------------------------------------------------------------------------
SELECT pipeline.detach('public.sec_deals');
SELECT pipeline.detach('public.sec_parts');
DROP TABLE public.sec_deals, public.sec_deals_stage_history, public.sec_parts, public.sec_parts_stage_history;
DROP SCHEMA sec_evil CASCADE;
SELECT pipeline.drop_ruleset('public.sec_stage', 'sec_rules');
SELECT pipeline.undefine_stages('public.sec_stage');
SELECT pipeline.set_probability('pipeline.stage', 'proposal', NULL);
DROP TABLE sec_aggs_hostile, sec_aggs_clean, sec_rules_hostile, sec_catalog_hostile,
	sec_part_aggs_hostile, sec_transition_rules_hostile, sec_attachments_hostile;
DROP TYPE public.sec_stage;
DROP TABLE pg_temp.stage_settings;
DROP ROLE sec_attacker;
DROP ROLE sec_owner;
DROP ROLE sec_writer;
SELECT count(*) AS leftover_settings FROM pipeline.stage_settings;
