-- History views: names, columns and types, owner and grants, search_path
-- independence, idempotence, refusals; dropping keeps the history.  Uses
-- history tables of exactly attach's shape (views_attach covers attach).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

-- The view hook as pipeline.attach() runs it: the attachment row (by
-- identity), the views, then their identities recorded in the row, which
-- is what _drop_history_views() drops.
CREATE FUNCTION pg_temp.create_views(target regclass, stage_column name, history regclass) RETURNS void
	LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pipeline.attached_tables (target, stage_column, history)
	VALUES (target, stage_column, history) ON CONFLICT DO NOTHING;
	PERFORM pipeline._create_history_views(target, stage_column, history);
	UPDATE pipeline.attached_tables a SET views = pipeline._history_views_of(create_views.target, create_views.stage_column)
	 WHERE a.target = create_views.target AND a.stage_column = create_views.stage_column;
END
$$;
\set SHOW_CONTEXT never

CREATE ROLE regress_views_owner;
CREATE ROLE regress_views_reader;
CREATE ROLE regress_views_other;
CREATE SCHEMA "Regress Views" AUTHORIZATION regress_views_owner;
SET ROLE regress_views_owner;
CREATE TABLE "Regress Views"."Deals" (id integer PRIMARY KEY, stage pipeline.stage NOT NULL, amount integer);
CREATE TABLE "Regress Views"."Deals_stage_history" (id integer NOT NULL,
	from_stage pipeline.stage, to_stage pipeline.stage NOT NULL,
	changed_at timestamptz NOT NULL, changed_by name NOT NULL, seq bigint NOT NULL,
	from_entered_at timestamptz, furthest_before pipeline.stage);
GRANT USAGE ON SCHEMA "Regress Views" TO PUBLIC;
GRANT SELECT ON "Regress Views"."Deals" TO regress_views_reader;
GRANT SELECT ON "Regress Views"."Deals" TO regress_views_other WITH GRANT OPTION;
GRANT INSERT ON "Regress Views"."Deals" TO regress_views_other;
RESET ROLE;

-- Created by a superuser, owned by the table's owner.
SELECT pg_temp.create_views('"Regress Views"."Deals"', 'stage', '"Regress Views"."Deals_stage_history"');
SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner,
	   (SELECT array_agg(a.grantee::regrole::text || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END
						 ORDER BY a.grantee::regrole::text, a.privilege_type)
		  FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner) AS grants
  FROM pg_class c
 WHERE c.relnamespace = '"Regress Views"'::regnamespace AND c.relname LIKE 'Deals\_%' ORDER BY 1;

-- Exactly the columns of docs/views.md, BI-friendly types.
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = '"Regress Views"'::regnamespace AND c.relkind = 'v'
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum;
-- Every column is documented (BI tools show column comments).
SELECT c.relname, count(*) FILTER (WHERE col_description(c.oid, a.attnum) IS NULL) AS undocumented,
	   obj_description(c.oid, 'pg_class') IS NOT NULL AS view_documented
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = '"Regress Views"'::regnamespace AND c.relkind = 'v' AND a.attnum > 0
 GROUP BY c.oid, c.relname ORDER BY 1;

-- Readers: the table's SELECT grantees, no one else.
INSERT INTO "Regress Views"."Deals" VALUES (1, 'qualification', 100), (2, 'closed_lost', 50);
INSERT INTO "Regress Views"."Deals_stage_history" VALUES
	(1, NULL, 'lead_generation', now() - interval '9 days', 'x', 1),
	(2, NULL, 'prospecting', now() - interval '8 days', 'x', 2),
	(1, 'lead_generation', 'prospecting', now() - interval '7 days', 'x', 3),
	(1, 'prospecting', 'qualification', now() - interval '4 days', 'x', 4),
	(2, 'prospecting', 'closed_lost', now() - interval '2 days', 'x', 5);
-- rows written by hand: their derived columns (when from_stage was
-- entered, the furthest stage before) are filled as attach fills them
SELECT pipeline._history_derived_columns('"Regress Views"."Deals"', '"Regress Views"."Deals_stage_history"');
SELECT id, from_stage, to_stage, changed_at - from_entered_at AS visit, furthest_before
  FROM "Regress Views"."Deals_stage_history" ORDER BY seq;
SET ROLE regress_views_reader;
SELECT stage, ordinal, reached, reached_amount, conversion_from_previous, conversion_from_first
  FROM "Regress Views"."Deals_funnel";
SELECT id, stage, ordinal, exited_at - entered_at AS length, is_current
  FROM "Regress Views"."Deals_stage_visits" ORDER BY id, entered_at;
SELECT stage, ordinal, visits, avg_time, median_time, p90_time FROM "Regress Views"."Deals_stage_durations";
-- Next to every interval, the same in days (2 days, 4 days 12 hours, 5 days 16 hours 48 minutes).
SELECT stage, avg_days, median_days, p90_days FROM "Regress Views"."Deals_stage_durations";
SELECT id, stage, time_in_stage_days FROM "Regress Views"."Deals_stage_visits" WHERE NOT is_current ORDER BY id, entered_at;
RESET ROLE;
CREATE ROLE regress_views_nobody;
SET ROLE regress_views_nobody;
SELECT count(*) FROM "Regress Views"."Deals_funnel";
RESET ROLE;

-- search_path: the views store resolved objects.  A reader whose path
-- hides pipeline and the table, or shadows pg_catalog's operators, gets the
-- same answers; creating the views under a hostile path changes nothing.
CREATE TABLE public.regress_views_answer AS
	SELECT 'funnel' AS v, to_jsonb(f) AS r FROM "Regress Views"."Deals_funnel" f
	UNION ALL SELECT 'visits', to_jsonb(v) - 'time_in_stage' - 'time_in_stage_days' FROM "Regress Views"."Deals_stage_visits" v;
CREATE SCHEMA regress_hostile;
CREATE FUNCTION regress_hostile.always(integer, integer) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_hostile.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = regress_hostile.always);
CREATE FUNCTION regress_hostile.stage_ordinal(anyenum) RETURNS integer LANGUAGE sql AS 'SELECT 42';
CREATE FUNCTION regress_hostile.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT timestamptz '2000-01-01'$$;
SET search_path = regress_hostile, pg_catalog;
SELECT count(*) AS answers_changed FROM (
	SELECT 'funnel' AS v, to_jsonb(f) AS r FROM "Regress Views"."Deals_funnel" f
	UNION ALL SELECT 'visits', to_jsonb(v) - 'time_in_stage' - 'time_in_stage_days' FROM "Regress Views"."Deals_stage_visits" v) now
	FULL JOIN public.regress_views_answer a USING (v, r)
 WHERE now.v IS NULL OR a.v IS NULL;
SELECT pg_temp.create_views('"Regress Views"."Deals"', 'stage', '"Regress Views"."Deals_stage_history"');
RESET search_path;
SELECT count(*) AS answers_changed FROM (
	SELECT 'funnel' AS v, to_jsonb(f) AS r FROM "Regress Views"."Deals_funnel" f
	UNION ALL SELECT 'visits', to_jsonb(v) - 'time_in_stage' - 'time_in_stage_days' FROM "Regress Views"."Deals_stage_visits" v) now
	FULL JOIN public.regress_views_answer a USING (v, r)
 WHERE now.v IS NULL OR a.v IS NULL;
SELECT count(*) AS hostile_references
  FROM pg_depend d
 WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid IN (SELECT oid FROM pg_proc WHERE pronamespace = 'regress_hostile'::regnamespace
					  UNION ALL SELECT oid FROM pg_operator WHERE oprnamespace = 'regress_hostile'::regnamespace);
SET client_min_messages = warning;
DROP SCHEMA regress_hostile CASCADE;
RESET client_min_messages;
DROP TABLE public.regress_views_answer;

-- Idempotent; re-running syncs grants with the table's.
REVOKE SELECT ON "Regress Views"."Deals" FROM regress_views_other;
SELECT pg_temp.create_views('"Regress Views"."Deals"', 'stage', '"Regress Views"."Deals_stage_history"');
SELECT c.relname, (SELECT array_agg(a.grantee::regrole::text || ':' || a.privilege_type ORDER BY 1)
					 FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner) AS grants
  FROM pg_class c
 WHERE c.relnamespace = '"Regress Views"'::regnamespace AND c.relkind = 'v' ORDER BY 1;

-- A user's view over ours survives re-creation and blocks dropping.
CREATE VIEW "Regress Views".dashboard AS SELECT stage, reached FROM "Regress Views"."Deals_funnel";
SELECT pg_temp.create_views('"Regress Views"."Deals"', 'stage', '"Regress Views"."Deals_stage_history"');
SELECT pipeline._drop_history_views('"Regress Views"."Deals"', 'stage');
DROP VIEW "Regress Views".dashboard;

-- Another stage column: <target>_<column>_<suffix>.  A table without an
-- amount column has NULL reached_amount.
CREATE TABLE "Regress Views".tickets (code text PRIMARY KEY, phase pipeline.stage NOT NULL);
CREATE TABLE "Regress Views".tickets_phase_stage_history (code text NOT NULL,
	from_stage pipeline.stage, to_stage pipeline.stage NOT NULL,
	changed_at timestamptz NOT NULL, changed_by name NOT NULL, seq bigint NOT NULL);
INSERT INTO "Regress Views".tickets VALUES ('A', 'closed_won');
INSERT INTO "Regress Views".tickets_phase_stage_history VALUES ('A', NULL, 'negotiation', now(), 'x', 1),
	('A', 'negotiation', 'closed_won', now(), 'x', 2);
SELECT pipeline._history_derived_columns('"Regress Views".tickets', '"Regress Views".tickets_phase_stage_history');
SELECT pg_temp.create_views('"Regress Views".tickets', 'phase', '"Regress Views".tickets_phase_stage_history');
SELECT relname FROM pg_class WHERE relnamespace = '"Regress Views"'::regnamespace AND relkind = 'v' ORDER BY 1;
SELECT stage, reached, reached_amount FROM "Regress Views".tickets_phase_funnel;

-- Refusals (nothing is created).
CREATE TABLE "Regress Views".reserved_funnel (x integer);
CREATE TABLE "Regress Views".reserved (code text PRIMARY KEY, stage pipeline.stage);
SELECT pg_temp.create_views('"Regress Views".reserved', 'stage', '"Regress Views".tickets_phase_stage_history');
\echo SQLSTATE :SQLSTATE
CREATE TABLE "Regress Views".keyed (ordinal integer PRIMARY KEY, stage pipeline.stage);
SELECT pg_temp.create_views('"Regress Views".keyed', 'stage', '"Regress Views".tickets_phase_stage_history');
\echo SQLSTATE :SQLSTATE
CREATE TABLE "Regress Views".nokey (code text, stage pipeline.stage);
SELECT pg_temp.create_views('"Regress Views".nokey', 'stage', '"Regress Views".tickets_phase_stage_history');
\echo SQLSTATE :SQLSTATE
CREATE TABLE "Regress Views".a_table_name_that_is_forty_eight_bytes_long_xxxx (code text PRIMARY KEY, stage pipeline.stage);
SELECT pg_temp.create_views('"Regress Views".a_table_name_that_is_forty_eight_bytes_long_xxxx', 'stage',
	'"Regress Views".tickets_phase_stage_history');
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS views_created FROM pg_class
 WHERE relnamespace = '"Regress Views"'::regnamespace AND relkind = 'v' AND relname !~ '^(Deals|tickets)_';
-- Dropping leaves other relations with reserved names alone.
SELECT pipeline._drop_history_views('"Regress Views".reserved', 'stage');
SELECT to_regclass('"Regress Views".reserved_funnel') IS NOT NULL AS table_kept;

-- Dropping the views keeps the history.
SELECT pipeline._drop_history_views('"Regress Views".tickets', 'phase');
SELECT pipeline._drop_history_views('"Regress Views".tickets', 'phase');
SELECT relname FROM pg_class WHERE relnamespace = '"Regress Views"'::regnamespace AND relkind = 'v' ORDER BY 1;
SELECT count(*) AS history_rows FROM "Regress Views".tickets_phase_stage_history;

-- Averages and percentiles are justified: never 24 hours or more.  Visits
-- of 1 day 20 hours and 2 days 6 hours average 2 days 1 hour, which avg()
-- alone gives as 1 day 25:00:00.
CREATE TABLE "Regress Views".hours (id integer PRIMARY KEY, stage pipeline.stage NOT NULL);
CREATE TABLE "Regress Views".hours_stage_history (id integer NOT NULL,
	from_stage pipeline.stage, to_stage pipeline.stage,
	changed_at timestamptz NOT NULL, changed_by name NOT NULL, seq bigint NOT NULL, PRIMARY KEY (id, seq));
INSERT INTO "Regress Views".hours VALUES (1, 'qualification'), (2, 'qualification');
INSERT INTO "Regress Views".hours_stage_history VALUES
	(1, NULL, 'prospecting', '2026-03-01 00:00+00', 'x', 1),
	(2, NULL, 'prospecting', '2026-03-01 00:00+00', 'x', 2),
	(1, 'prospecting', 'qualification', '2026-03-02 20:00+00', 'x', 3),
	(2, 'prospecting', 'qualification', '2026-03-03 06:00+00', 'x', 4);
SELECT pipeline._history_derived_columns('"Regress Views".hours', '"Regress Views".hours_stage_history');
SELECT pg_temp.create_views('"Regress Views".hours', 'stage', '"Regress Views".hours_stage_history');
SELECT avg(d) AS plain_avg FROM (VALUES (interval '1 day 20:00'), (interval '2 days 06:00')) v(d);
SELECT stage, visits, avg_time::text, avg_days, median_time::text, median_days, p90_time::text, p90_days
  FROM "Regress Views".hours_stage_durations;
SELECT id, time_in_stage::text, time_in_stage_days FROM "Regress Views".hours_stage_visits WHERE NOT is_current ORDER BY id;
-- Rotting, in days too; the catalog carries the threshold in days.
SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', '1 day 12 hours');
SELECT stage, rotting_after, rotting_after_days FROM pipeline.stage_catalog
 WHERE stage_type = 'pipeline.stage' AND stage = 'qualification';
SELECT id, rotting_after, rotting_after_days,
	   abs(time_in_stage_days - (extract(epoch FROM now()) - extract(epoch FROM entered_at)) / 86400) < 1e-9 AS days_right
  FROM "Regress Views".hours_rotting ORDER BY id;
SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', NULL);

SET client_min_messages = warning;
DROP SCHEMA "Regress Views" CASCADE;
RESET client_min_messages;
DROP ROLE regress_views_owner, regress_views_reader, regress_views_other, regress_views_nobody;
