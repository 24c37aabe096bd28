-- GRANT and REVOKE of SELECT on an attached table carry over to its
-- history table, views and <prefix>_stage_at at once (event trigger
-- pipeline_sync_grants):
-- a role granted after attach reads them, a role revoked after attach no
-- longer does; PUBLIC, grant options, several tables, ALL TABLES IN SCHEMA,
-- grants by a holder of the grant option, other privileges and other
-- tables left alone, a table of another owner never touched.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse

CREATE ROLE regress_gf_owner;
CREATE ROLE regress_gf_early;
CREATE ROLE regress_gf_late;
CREATE ROLE regress_gf_delegate;
CREATE ROLE regress_gf_friend;
CREATE SCHEMA regress_gf AUTHORIZATION regress_gf_owner;
GRANT USAGE ON SCHEMA regress_gf TO PUBLIC;
SET ROLE regress_gf_owner;
CREATE TABLE regress_gf.deals (id integer PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric);
CREATE TABLE regress_gf.tickets (code text PRIMARY KEY, phase pipeline.stage NOT NULL);
GRANT SELECT ON regress_gf.deals TO regress_gf_early;
SELECT pipeline.attach('regress_gf.deals');
SELECT pipeline.attach('regress_gf.tickets', 'phase');
INSERT INTO regress_gf.deals VALUES (1, 'lead_generation', 10);
UPDATE regress_gf.deals SET stage = 'prospecting';
INSERT INTO regress_gf.tickets VALUES ('A', 'prospecting');
RESET ROLE;

-- Each relation of the attachments with its SELECT grantees.
CREATE FUNCTION pg_temp.grants() RETURNS TABLE (relation text, grantees text)
	LANGUAGE sql AS $$
	SELECT c.relname::text,
		   coalesce((SELECT string_agg(DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
										 || CASE WHEN a.is_grantable THEN '*' ELSE '' END, ', ')
					   FROM aclexplode(c.relacl) a WHERE a.privilege_type = 'SELECT' AND a.grantee <> c.relowner), '-')
	  FROM pg_class c
	 WHERE c.relnamespace = 'regress_gf'::regnamespace AND c.relkind IN ('r', 'v')
	 ORDER BY 1
$$;
-- Whether a role can read each relation of deals' attachment, and call
-- its stage_at function.
CREATE FUNCTION pg_temp.reads(role name) RETURNS TABLE (relation text, reads boolean)
	LANGUAGE sql AS $$
	SELECT c.relname::text, has_table_privilege(role, c.oid, 'SELECT')
	  FROM pg_class c
	 WHERE c.relnamespace = 'regress_gf'::regnamespace AND c.relname LIKE 'deals%' AND c.relkind IN ('r', 'v')
	UNION ALL
	SELECT 'deals_stage_at()', has_function_privilege(role, 'regress_gf.deals_stage_at(timestamptz)', 'EXECUTE')
	 ORDER BY 1
$$;
SELECT * FROM pg_temp.grants();

-- Granted after attach: it reads the history and the views at once.
SET ROLE regress_gf_owner;
GRANT SELECT ON regress_gf.deals TO regress_gf_late;
RESET ROLE;
SELECT * FROM pg_temp.reads('regress_gf_late');
SET ROLE regress_gf_late;
SELECT id, from_stage, to_stage FROM regress_gf.deals_stage_history ORDER BY seq;
SELECT id, stage FROM regress_gf.deals_stage_at(now());
SELECT id, stage, is_current FROM regress_gf.deals_stage_visits ORDER BY entered_at;
SELECT stage, reached FROM regress_gf.deals_funnel WHERE reached > 0 ORDER BY ordinal;
RESET ROLE;

-- Revoked after attach: it no longer reads them.
SET ROLE regress_gf_owner;
REVOKE SELECT ON regress_gf.deals FROM regress_gf_early;
RESET ROLE;
SELECT * FROM pg_temp.reads('regress_gf_early');
SET ROLE regress_gf_early;
SELECT count(*) FROM regress_gf.deals_stage_history;
SELECT count(*) FROM regress_gf.deals_stage_at(now());
SELECT count(*) FROM regress_gf.deals_stage_visits;
RESET ROLE;
SELECT * FROM pg_temp.grants();

-- REVOKE ALL takes SELECT too; other privileges never carry over.
SET ROLE regress_gf_owner;
GRANT INSERT, UPDATE ON regress_gf.deals TO regress_gf_early;
GRANT SELECT, UPDATE ON regress_gf.deals, regress_gf.tickets TO regress_gf_friend;
REVOKE ALL ON regress_gf.deals FROM regress_gf_late;
RESET ROLE;
SELECT * FROM pg_temp.grants();
SELECT has_table_privilege('regress_gf_early', 'regress_gf.deals_stage_history', 'INSERT') AS early_inserts_history,
	   has_table_privilege('regress_gf_friend', 'regress_gf.deals_stage_history', 'UPDATE') AS friend_updates_history;

-- PUBLIC and the grant option; a holder of the grant option grants in turn,
-- and revoking the option with CASCADE takes that grant back everywhere.
SET ROLE regress_gf_owner;
GRANT SELECT ON regress_gf.tickets TO PUBLIC;
GRANT SELECT ON regress_gf.deals TO regress_gf_delegate WITH GRANT OPTION;
RESET ROLE;
SELECT * FROM pg_temp.grants();
SET ROLE regress_gf_delegate;
GRANT SELECT ON regress_gf.deals TO regress_gf_late;
RESET ROLE;
SELECT * FROM pg_temp.reads('regress_gf_late');
SET ROLE regress_gf_owner;
REVOKE GRANT OPTION FOR SELECT ON regress_gf.deals FROM regress_gf_delegate CASCADE;
REVOKE SELECT ON regress_gf.tickets FROM PUBLIC;
RESET ROLE;
SELECT * FROM pg_temp.grants();
SELECT * FROM pg_temp.reads('regress_gf_late');

-- ALL TABLES IN SCHEMA names the tables by OID in the command: followed too.
GRANT SELECT ON ALL TABLES IN SCHEMA regress_gf TO regress_gf_late;
SELECT * FROM pg_temp.reads('regress_gf_late');
REVOKE SELECT ON ALL TABLES IN SCHEMA regress_gf FROM regress_gf_late;
SELECT * FROM pg_temp.reads('regress_gf_late');

-- A grant on the history table itself is the owner's business: left alone
-- until the table's SELECT grants change again.
SET ROLE regress_gf_owner;
GRANT SELECT ON regress_gf.deals_stage_history TO regress_gf_late;
RESET ROLE;
SELECT has_table_privilege('regress_gf_late', 'regress_gf.deals_stage_history', 'SELECT') AS late_reads_history;

-- A detached table's history is no longer followed; re-attaching syncs.
SELECT pipeline.detach('regress_gf.tickets', 'phase');
SET ROLE regress_gf_owner;
GRANT SELECT ON regress_gf.tickets TO regress_gf_early;
RESET ROLE;
SELECT has_table_privilege('regress_gf_early', 'regress_gf.tickets_phase_stage_history', 'SELECT') AS detached_history_followed;

-- An attachment row naming relations of another owner as its views (a
-- hand-made row: anyone may insert rows for tables they own) never makes
-- the trigger grant on them.
CREATE TABLE regress_gf.secret (x integer);
SET ROLE regress_gf_owner;
UPDATE pipeline.attached_tables SET views = views || 'regress_gf.secret'::regclass
 WHERE target = 'regress_gf.deals'::regclass;
GRANT SELECT ON regress_gf.deals TO regress_gf_friend;
REVOKE SELECT ON regress_gf.deals FROM regress_gf_friend;
GRANT SELECT ON regress_gf.deals TO regress_gf_late;
RESET ROLE;
SELECT has_table_privilege('regress_gf_late', 'regress_gf.secret', 'SELECT') AS late_reads_secret,
	   has_table_privilege('regress_gf_late', 'regress_gf.deals_funnel', 'SELECT') AS late_reads_funnel;

-- Commands that change no SELECT on an attached table do nothing.
SET ROLE regress_gf_owner;
GRANT UPDATE ON regress_gf.deals TO regress_gf_friend;
GRANT SELECT (id) ON regress_gf.deals TO regress_gf_friend;
RESET ROLE;
GRANT USAGE ON SCHEMA regress_gf TO regress_gf_friend;
SELECT has_table_privilege('regress_gf_friend', 'regress_gf.deals_stage_history', 'SELECT') AS friend_reads_history;

SET client_min_messages = warning;
DROP SCHEMA regress_gf CASCADE;
RESET client_min_messages;
DROP ROLE regress_gf_owner, regress_gf_early, regress_gf_late, regress_gf_delegate, regress_gf_friend;
