-- Install and upgrade: a pre-existing "pipeline" schema owned by another role
-- is refused (42501); the oldest version installs and ALTER EXTENSION ...
-- UPDATE walks every step of pg_extension_update_paths() to the default
-- version with a registered custom type, settings, an edited ruleset and
-- attached tables (plain and partitioned) present; afterwards everything
-- reads the same and keeps working, and the pg_extension_config_dump tables
-- are right.  The writes made before the update run the 1.1 library against
-- 1.0's SQL objects, as after a package upgrade.  Leaves the extension installed at the default version.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse

-- the suite cleans up after itself: nothing stops a plain DROP EXTENSION.
-- DROP EXTENSION leaves the schema it created behind (PostgreSQL never drops
-- it), empty: drop it too.
DROP EXTENSION pipeline;
SELECT count(*) AS objects_left_in_schema_pipeline
  FROM (SELECT oid FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace
        UNION ALL SELECT oid FROM pg_proc WHERE pronamespace = 'pipeline'::regnamespace
        UNION ALL SELECT oid FROM pg_type WHERE typnamespace = 'pipeline'::regnamespace) o;
DROP SCHEMA pipeline;

-- 1. a squatted schema is refused, whoever installs
CREATE ROLE upg_squatter;
CREATE ROLE "Upg Owner";
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO "Upg Owner"', current_database()); END $$;
CREATE SCHEMA pipeline AUTHORIZATION upg_squatter;
CREATE EXTENSION pipeline;
\echo SQLSTATE :SQLSTATE
SET ROLE "Upg Owner";
CREATE EXTENSION pipeline;                 -- trusted install by a role whose name needs quotes
\echo SQLSTATE :SQLSTATE
RESET ROLE;
-- its own schema is fine
ALTER SCHEMA pipeline OWNER TO "Upg Owner";
SET ROLE "Upg Owner";
CREATE EXTENSION pipeline;
SELECT extowner::regrole, extversion FROM pg_extension WHERE extname = 'pipeline';
DROP EXTENSION pipeline;
RESET ROLE;
DROP SCHEMA pipeline;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM "Upg Owner"', current_database()); END $$;
DROP ROLE upg_squatter;
DROP ROLE "Upg Owner";

-- 2. the oldest version, with data of every kind
CREATE EXTENSION pipeline VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'pipeline';
CREATE TYPE upg_stage AS ENUM ('new', 'working', 'won', 'lost');
SELECT pipeline.define_stages('upg_stage', '{won}', '{lost}', '{0.1,0.5,1,0}');
SELECT pipeline.set_probability('upg_stage', 'working', 0.6);
SELECT pipeline.set_rotting_after('upg_stage', 'new', '2 days');
SELECT pipeline.set_probability('pipeline.stage', 'negotiation', 0.85);
SELECT pipeline.copy_ruleset('upg_stage', 'strict', 'upg_rules');
SELECT pipeline.allow_transition('upg_stage', 'upg_rules', 'new', 'won');
CREATE TABLE upg_deals (id int PRIMARY KEY, stage upg_stage NOT NULL, amount numeric);
SELECT pipeline.attach('upg_deals', ruleset => 'upg_rules');
CREATE TABLE upg_parts (region text, id int, stage pipeline.stage NOT NULL, amount numeric,
                        PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE upg_parts_eu PARTITION OF upg_parts FOR VALUES IN ('eu');
CREATE TABLE upg_parts_us PARTITION OF upg_parts FOR VALUES IN ('us');
SELECT pipeline.attach('upg_parts');
INSERT INTO upg_deals VALUES (1, 'new', 10), (2, 'new', 20), (3, 'working', 30);
UPDATE upg_deals SET stage = 'won' WHERE id = 1;
UPDATE upg_deals SET stage = 'lost' WHERE id = 3;
INSERT INTO upg_parts VALUES ('eu', 1, 'lead_generation', 100), ('us', 2, 'prospecting', 200);
UPDATE upg_parts SET stage = 'prospecting', region = 'us' WHERE id = 1;
-- granted after attach: 1.0 gave this role neither the history nor the views
CREATE ROLE upg_reader;
GRANT SELECT ON upg_deals TO upg_reader;

-- What must read the same after the update.  A function rather than a
-- view: a view would pin the extension's objects and could block the update.
CREATE FUNCTION pg_temp.upg_snapshot() RETURNS TABLE (what text, "row" text)
	LANGUAGE sql AS $$
	SELECT 'catalog' AS what,
	       (c.stage_type, c.stage, c.ordinal, c.kind, c.probability, c.is_entry, c.rotting_after)::text AS row
	  FROM pipeline.stage_catalog c
	UNION ALL SELECT 'rules', r::text FROM pipeline.transition_rules r
	UNION ALL SELECT 'attachments', (a.table_name, a.stage_column, a.ruleset, a.history_table)::text
	            FROM pipeline.attachments a
	UNION ALL SELECT 'stage_types', t::text FROM pipeline.stage_types t
	UNION ALL SELECT 'stage_settings', s::text FROM pipeline.stage_settings s
	UNION ALL SELECT 'rulesets', r::text FROM pipeline.rulesets r
	UNION ALL SELECT 'ruleset_edges', e::text FROM pipeline.ruleset_edges e
	UNION ALL SELECT 'deals_history', (h.id, h.from_stage, h.to_stage, h.changed_at, h.changed_by, h.seq)::text
	            FROM upg_deals_stage_history h
	UNION ALL SELECT 'parts_history', (h.region, h.id, h.from_stage, h.to_stage, h.changed_at, h.changed_by, h.seq)::text
	            FROM upg_parts_stage_history h
	UNION ALL SELECT 'aggregates', row(pipeline.win_rate(stage), pipeline.funnel(stage),
	                                   pipeline.weighted_pipeline(stage, amount), pipeline.furthest_stage(stage))::text
	            FROM upg_deals
	UNION ALL SELECT 'part_aggregates', row(pipeline.win_rate(stage), pipeline.funnel(stage),
	                                        pipeline.weighted_pipeline(stage, amount))::text
	            FROM upg_parts;
$$;
CREATE TEMP TABLE upg_before AS SELECT * FROM pg_temp.upg_snapshot();

-- 3. every step of the update path, in order
DO $$
DECLARE
	target_version text := (SELECT default_version FROM pg_available_extensions WHERE name = 'pipeline');
	path text;
	step text;
	n integer := 0;
BEGIN
	IF target_version <> '1.0' THEN
		SELECT p.path INTO path FROM pg_extension_update_paths('pipeline') p
		 WHERE p.source = '1.0' AND p.target = target_version;
		IF path IS NULL THEN
			RAISE EXCEPTION 'no update path from 1.0 to %', target_version;
		END IF;
		FOREACH step IN ARRAY (string_to_array(path, '--'))[2:] LOOP
			EXECUTE format('ALTER EXTENSION pipeline UPDATE TO %L', step);
			IF (SELECT extversion FROM pg_extension WHERE extname = 'pipeline') <> step THEN
				RAISE EXCEPTION 'ALTER EXTENSION pipeline UPDATE TO % did not reach it', step;
			END IF;
			n := n + 1;
		END LOOP;
	END IF;
	RAISE NOTICE 'update path walked: %', CASE WHEN n > 0 THEN 'yes' ELSE 'nothing to walk' END;
END
$$;
-- every version can be updated to the default one
SELECT v.version AS version_without_update_path
  FROM pg_available_extension_versions v
 WHERE v.name = 'pipeline' AND v.version <> (SELECT default_version FROM pg_available_extensions WHERE name = 'pipeline')
   AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('pipeline') p
                    WHERE p.source = v.version AND p.path IS NOT NULL
                      AND p.target = (SELECT default_version FROM pg_available_extensions WHERE name = 'pipeline'));
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'pipeline') AS at_default_version
  FROM pg_extension WHERE extname = 'pipeline';

-- 4. everything reads the same
CREATE TEMP TABLE upg_after AS SELECT * FROM pg_temp.upg_snapshot();
SELECT what, count(*) AS rows FROM upg_before GROUP BY what ORDER BY what;
SELECT count(*) AS rows_differing
  FROM ((SELECT * FROM upg_before EXCEPT ALL SELECT * FROM upg_after)
        UNION ALL (SELECT * FROM upg_after EXCEPT ALL SELECT * FROM upg_before)) d;

-- 1.1: the upgraded history rows carry when their from_stage was entered
-- and the furthest non-lost stage before them, as a window over each
-- key's rows in (changed_at, seq) order computes them
SELECT 'upg_deals' AS history, count(*) AS rows,
       count(*) FILTER (WHERE h.from_entered_at IS DISTINCT FROM w.prev_at
                           OR h.furthest_before IS DISTINCT FROM w.furthest) AS mismatches
  FROM upg_deals_stage_history h
  JOIN (SELECT seq, CASE WHEN from_stage IS NOT NULL THEN lag(changed_at) OVER k END AS prev_at,
               max(to_stage) FILTER (WHERE pipeline.stage_kind(to_stage) <> 'lost')
                 OVER (k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest
          FROM upg_deals_stage_history WINDOW k AS (PARTITION BY id ORDER BY changed_at, seq)) w USING (seq)
UNION ALL
SELECT 'upg_parts', count(*),
       count(*) FILTER (WHERE h.from_entered_at IS DISTINCT FROM w.prev_at
                           OR h.furthest_before IS DISTINCT FROM w.furthest)
  FROM upg_parts_stage_history h
  JOIN (SELECT seq, CASE WHEN from_stage IS NOT NULL THEN lag(changed_at) OVER k END AS prev_at,
               max(to_stage) FILTER (WHERE pipeline.stage_kind(to_stage) <> 'lost')
                 OVER (k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest
          FROM upg_parts_stage_history WINDOW k AS (PARTITION BY region, id ORDER BY changed_at, seq)) w USING (seq);
SELECT id, from_stage, to_stage, from_entered_at IS NOT NULL AS has_from_entered_at, furthest_before
  FROM upg_deals_stage_history ORDER BY id, seq LIMIT 6;
-- For a reader's eye: every row of both histories, each derived column as
-- written (got) and as the key's earlier rows give it (want):
-- entered_seq, the seq of the row whose changed_at from_entered_at is (the
-- key's previous row); furthest, the furthest non-lost stage of the key's
-- earlier rows.
CREATE FUNCTION pg_temp.upg_derived(hist regclass, keys text[])
RETURNS TABLE (history text, key text, seq bigint, from_stage text, to_stage text, entered_seq_got bigint,
               entered_seq_want bigint, furthest_got text, furthest_want text)
LANGUAGE plpgsql AS $$
DECLARE
	hk text := (SELECT string_agg('h.' || quote_ident(k), ', ') FROM unnest(keys) k);
	ek text := (SELECT string_agg('e.' || quote_ident(k), ', ') FROM unnest(keys) k);
BEGIN
	RETURN QUERY EXECUTE format($q$
	SELECT regexp_replace(%1$L, '_stage_history$', ''), ROW(%2$s)::text, h.seq, h.from_stage::text, h.to_stage::text,
	       (SELECT e.seq FROM %1$s e WHERE ROW(%3$s) = ROW(%2$s) AND e.changed_at = h.from_entered_at),
	       (SELECT e.seq FROM %1$s e WHERE ROW(%3$s) = ROW(%2$s) AND h.from_stage IS NOT NULL
	           AND (e.changed_at, e.seq) < (h.changed_at, h.seq) ORDER BY e.changed_at DESC, e.seq DESC LIMIT 1),
	       h.furthest_before::text,
	       (SELECT max(e.to_stage) FROM %1$s e WHERE ROW(%3$s) = ROW(%2$s)
	           AND (e.changed_at, e.seq) < (h.changed_at, h.seq) AND pipeline.stage_kind(e.to_stage) <> 'lost')::text
	  FROM %1$s h ORDER BY h.seq$q$, hist, hk, ek);
END
$$;
SELECT * FROM pg_temp.upg_derived('upg_deals_stage_history', '{id}')
UNION ALL
SELECT * FROM pg_temp.upg_derived('upg_parts_stage_history', '{region,id}')
 ORDER BY history, seq;

-- 1.1: the attachments are configuration rows (by identity), and the
-- triggers carry only their stage column
SELECT target, stage_column, ruleset, history, cardinality(views) AS views
  FROM pipeline.attached_tables ORDER BY target::text;
SELECT tgrelid::regclass AS "table", tgname, pg_catalog.encode(tgargs, 'escape') AS args
  FROM pg_trigger
 WHERE tgfoid IN ('pipeline.enforce_transition()'::regprocedure, 'pipeline.record_transition()'::regprocedure)
   AND tgparentid = 0
 ORDER BY tgrelid::regclass::text, tgname;

-- 1.1 for BI tools: the history tables have their primary key (key
-- columns, seq) instead of 1.0's index; the views were recreated with the
-- day columns, are the tables' (not extension members) and recorded in
-- the configuration; comments on the history tables, their columns and
-- the per-type aggregates; the grant made after attach carried over.
SELECT c.conrelid::regclass AS history, pg_get_constraintdef(c.oid) AS primary_key,
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.conrelid) AS indexes
  FROM pg_constraint c
 WHERE c.conrelid IN ('upg_deals_stage_history'::regclass, 'upg_parts_stage_history'::regclass) AND c.contype = 'p'
 ORDER BY 1::text;
SELECT a.target, v.view, (SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute
                           WHERE attrelid = v.view AND attname LIKE '%\_days') AS day_columns
  FROM pipeline.attached_tables a, unnest(a.views) AS v(view) ORDER BY 1::text, 2::text;
SELECT count(*) AS views_in_extension
  FROM pipeline.attached_tables a, unnest(a.views) AS v(view)
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = v.view AND d.deptype = 'e';
SELECT r.rel AS uncommented, att.attname
  FROM pipeline.attached_tables a
 CROSS JOIN LATERAL (SELECT a.history AS rel UNION ALL SELECT unnest(a.views)) r
  LEFT JOIN pg_attribute att ON att.attrelid = r.rel AND att.attnum > 0 AND NOT att.attisdropped
 WHERE obj_description(r.rel, 'pg_class') IS NULL OR col_description(r.rel, att.attnum) IS NULL;
SELECT p.oid::regprocedure AS aggregate, obj_description(p.oid, 'pg_proc')
  FROM pg_proc p WHERE p.pronamespace = 'pipeline'::regnamespace AND 'upg_stage'::regtype = ANY (p.proargtypes)
 ORDER BY 1::text;
SET ROLE upg_reader;
SELECT count(*) AS history_rows FROM upg_deals_stage_history;
SELECT stage, visits, avg_days >= 0 AS avg_days FROM upg_deals_stage_durations ORDER BY ordinal;
RESET ROLE;

-- 5. ... and keeps working: rules, triggers, history, aggregates
UPDATE upg_deals SET stage = 'won' WHERE id = 2;          -- custom edge new -> won
UPDATE upg_deals SET stage = 'new' WHERE id = 1;          -- illegal
\echo SQLSTATE :SQLSTATE
UPDATE upg_parts SET stage = 'qualification' WHERE id = 1;
UPDATE upg_parts SET stage = 'closed_won' WHERE id = 2;   -- illegal
\echo SQLSTATE :SQLSTATE
CREATE TABLE upg_parts_apac PARTITION OF upg_parts FOR VALUES IN ('apac');
INSERT INTO upg_parts VALUES ('apac', 3, 'negotiation', 1);   -- illegal creation
\echo SQLSTATE :SQLSTATE
-- 1.1: a deletion is history, for tables attached under 1.0 too, and the
-- history tables have their primary key (key columns, seq)
INSERT INTO upg_deals VALUES (4, 'new', 40);
DELETE FROM upg_deals WHERE id = 4;
SELECT c.conrelid::regclass AS history_table, pg_get_constraintdef(c.oid) AS primary_key
  FROM pg_constraint c
 WHERE c.contype = 'p' AND c.conrelid IN ('upg_deals_stage_history'::regclass, 'upg_parts_stage_history'::regclass)
 ORDER BY 1::text;
SELECT count(*) AS plain_indexes_left FROM pg_index
 WHERE indrelid IN ('upg_deals_stage_history'::regclass, 'upg_parts_stage_history'::regclass) AND NOT indisunique;
SELECT id, from_stage, to_stage FROM upg_deals_stage_history ORDER BY seq;
SELECT region, id, from_stage, to_stage FROM upg_parts_stage_history ORDER BY seq;
SELECT pipeline.win_rate(stage), pipeline.funnel(stage), pipeline.weighted_pipeline(stage, amount),
       pipeline.conversion_rate(stage, 'working'::upg_stage) FROM upg_deals;
SELECT pipeline.stage_probability('working'::upg_stage), pipeline.stage_probability('negotiation'::pipeline.stage);

-- 6. the config tables are the extension's pg_extension_config_dump tables,
-- whole (no filter), and members of the extension
SELECT c::regclass AS config_table, f AS filter
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, f)
 WHERE e.extname = 'pipeline' ORDER BY 1::text;
SELECT c.oid::regclass AS member_table_not_dumped
  FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pipeline')
   AND c.relkind IN ('r', 'p')
   -- derived Citus state, not configuration (sql/1.1/70_citus.sql)
   AND c.oid NOT IN ('pipeline.citus_config'::regclass, 'pipeline.citus_config_applied'::regclass)
   AND NOT EXISTS (SELECT 1 FROM pg_extension e WHERE e.extname = 'pipeline' AND c.oid = ANY (e.extconfig));
-- and every SQL function still pins its search_path
SELECT p.oid::regprocedure AS unpinned_function
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'pipeline'::regnamespace AND l.lanname NOT IN ('c', 'internal') AND p.prokind <> 'a'
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false);

-- 7. clean up, then a DROP/CREATE cycle leaves nothing behind
SELECT pipeline.detach('upg_deals');
SELECT pipeline.detach('upg_parts');
DROP TABLE upg_deals, upg_deals_stage_history, upg_parts, upg_parts_stage_history;
SELECT pipeline.drop_ruleset('upg_stage', 'upg_rules');
SELECT pipeline.undefine_stages('upg_stage');
DROP TYPE upg_stage;
DROP ROLE upg_reader;
DROP EXTENSION pipeline;
SELECT count(*) AS objects_left_in_schema_pipeline
  FROM (SELECT oid FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace
        UNION ALL SELECT oid FROM pg_proc WHERE pronamespace = 'pipeline'::regnamespace
        UNION ALL SELECT oid FROM pg_type WHERE typnamespace = 'pipeline'::regnamespace) o;
SELECT count(*) AS leftover_event_triggers FROM pg_event_trigger WHERE evtname LIKE 'pipeline%';
CREATE EXTENSION pipeline;
SELECT (SELECT count(*) FROM pipeline.stage_types) AS registrations,
       (SELECT count(*) FROM pipeline.stage_settings) AS settings,
       (SELECT count(*) FROM pipeline.rulesets) AS rulesets,
       (SELECT count(*) FROM pipeline.ruleset_edges) AS edges,
       pipeline.stage_probability('negotiation'::pipeline.stage) AS default_negotiation;
