-- Every object a user sees has a comment (DBeaver, Metabase and psql's \d+
-- show them as descriptions): the schema, every member of the extension
-- (pg_depend deptype 'e') and the columns of its tables and views, the
-- per-type aggregates define_stages declares, and per attached table its
-- history table, views and their columns.  Internal functions say so.
-- Each query lists what lacks a comment: it expects nothing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

CREATE SCHEMA regress_cm;
CREATE TYPE regress_cm.flow AS ENUM ('new', 'trial', 'dropped', 'paid');
SELECT pipeline.define_stages('regress_cm.flow', won => '{paid}', lost => '{dropped}');
CREATE TABLE regress_cm.deals (region text, id integer, stage pipeline.stage NOT NULL, amount numeric,
	PRIMARY KEY (region, id));
SELECT pipeline.attach('regress_cm.deals');
CREATE TABLE regress_cm.subs (id bigint PRIMARY KEY, status regress_cm.flow NOT NULL);
SELECT pipeline.attach('regress_cm.subs', 'status');

-- (PostgreSQL 17 also records the row types of tables and views and the
-- array types as members: they are implicit, described by what they
-- belong to, and left out here.)
CREATE VIEW pg_temp.members AS
	SELECT d.classid, d.objid
	  FROM pg_depend d
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pipeline')
	   AND NOT EXISTS (SELECT 1 FROM pg_type t
					    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
						  AND (t.typrelid <> 0 OR (t.typcategory = 'A' AND t.typelem <> 0)));

-- The objects are many and of every kind.
SELECT m.classid::regclass AS catalog, count(*) > 0 AS members
  FROM pg_temp.members m GROUP BY 1 ORDER BY 1::text;

-- The schema.
SELECT n.nspname AS uncommented_schema
  FROM pg_namespace n WHERE n.nspname = 'pipeline' AND obj_description(n.oid, 'pg_namespace') IS NULL;

-- Every member of the extension.
SELECT pg_describe_object(m.classid, m.objid, 0) AS uncommented_member
  FROM pg_temp.members m
 WHERE obj_description(m.objid, m.classid::regclass::name) IS NULL
 ORDER BY 1;

-- Every column of its tables and views.
SELECT c.oid::regclass AS relation, a.attname AS uncommented_column
  FROM pg_temp.members m
  JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE col_description(c.oid, a.attnum) IS NULL
 ORDER BY 1::text, a.attnum;

-- Every function and aggregate in schema pipeline, members or not (the
-- per-type aggregates of regress_cm.flow are not members).
SELECT p.oid::regprocedure AS uncommented_function
  FROM pg_proc p WHERE p.pronamespace = 'pipeline'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL
 ORDER BY 1::text;
SELECT count(*) AS flow_aggregates_checked
  FROM pg_proc p WHERE p.pronamespace = 'pipeline'::regnamespace AND 'regress_cm.flow'::regtype = ANY (p.proargtypes);

-- Internal functions say they are internal; the others do not.
SELECT p.oid::regprocedure AS function, obj_description(p.oid, 'pg_proc') AS comment
  FROM pg_proc p
 WHERE p.pronamespace = 'pipeline'::regnamespace
   AND (p.proname LIKE '\_%') <> (obj_description(p.oid, 'pg_proc') LIKE 'internal: %')
 ORDER BY 1::text;

-- Per attached table: the history table, its views, and their columns.
SELECT r.rel AS relation, a.attname AS uncommented
  FROM pipeline.attached_tables t
 CROSS JOIN LATERAL (SELECT t.history AS rel UNION ALL SELECT unnest(t.views)) r
  LEFT JOIN pg_attribute a ON a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped
 WHERE t.target IN ('regress_cm.deals'::regclass, 'regress_cm.subs'::regclass)
   AND (obj_description(r.rel, 'pg_class') IS NULL OR col_description(r.rel, a.attnum) IS NULL)
 ORDER BY 1::text, a.attnum;
SELECT count(*) AS relations_checked, sum(relnatts) AS columns_checked
  FROM pipeline.attached_tables t
 CROSS JOIN LATERAL (SELECT t.history AS rel UNION ALL SELECT unnest(t.views)) r
  JOIN pg_class c ON c.oid = r.rel
 WHERE t.target IN ('regress_cm.deals'::regclass, 'regress_cm.subs'::regclass);
-- What the history table's columns say.
SELECT a.attname, col_description(a.attrelid, a.attnum)
  FROM pg_attribute a WHERE a.attrelid = 'regress_cm.deals_stage_history'::regclass AND a.attnum > 0 ORDER BY a.attnum;

-- Re-registering, re-attaching and switching rulesets keep every comment.
SELECT pipeline.define_stages('regress_cm.flow', won => '{paid}', lost => '{dropped}');
SELECT pipeline.attach('regress_cm.subs', 'status', 'lenient');
SELECT pipeline.detach('regress_cm.deals');
SELECT pipeline.attach('regress_cm.deals');
SELECT count(*) AS uncommented
  FROM (SELECT p.oid FROM pg_proc p
		 WHERE p.pronamespace = 'pipeline'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL
		UNION ALL
		SELECT r.rel
		  FROM pipeline.attached_tables t
		 CROSS JOIN LATERAL (SELECT t.history AS rel UNION ALL SELECT unnest(t.views)) r
		  LEFT JOIN pg_attribute a ON a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped
		 WHERE obj_description(r.rel, 'pg_class') IS NULL OR col_description(r.rel, a.attnum) IS NULL) u;

SET client_min_messages = warning;
DROP SCHEMA regress_cm CASCADE;
RESET client_min_messages;
SELECT count(*) AS registrations_left FROM pipeline.stage_types WHERE stage_type::text LIKE 'regress_cm.%';
