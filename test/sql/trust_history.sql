-- Trust: the history table is found by identity and must belong to the
-- table's owner; a schema co-tenant can neither divert history nor run code
-- with the owner's rights; only a table's owner configures its attachment;
-- history rows are written like any other insert (constraints, defaults,
-- added and generated columns, the owner's triggers), one batch per
-- statement, and a rolled-back (sub)transaction leaves none.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set VERBOSITY terse

CREATE ROLE trust_owner;
CREATE ROLE trust_cotenant;
CREATE ROLE trust_writer;
CREATE SCHEMA trust AUTHORIZATION trust_owner;
GRANT USAGE, CREATE ON SCHEMA trust TO trust_cotenant;
GRANT USAGE ON SCHEMA trust TO trust_writer;

SET ROLE trust_owner;
CREATE TABLE trust.secret (v text);
INSERT INTO trust.secret VALUES ('the owner''s secret');
CREATE TABLE trust.deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('trust.deals');
GRANT SELECT, INSERT, UPDATE ON trust.deals TO trust_writer;
RESET ROLE;

SET ROLE trust_writer;
INSERT INTO trust.deals VALUES (1, 'lead_generation');
RESET ROLE;

-- The owner archives the history table under another name ...
SET ROLE trust_owner;
ALTER TABLE trust.deals_stage_history RENAME TO deals_history_archive;
RESET ROLE;
-- ... and the co-tenant plants a look-alike under the old name whose
-- trigger would copy the owner's secret if it ran with the owner's rights.
SET ROLE trust_cotenant;
CREATE TABLE trust.loot (v text);
GRANT INSERT ON trust.loot TO PUBLIC;
CREATE TABLE trust.deals_stage_history (id int, from_stage pipeline.stage, to_stage pipeline.stage,
	changed_at timestamptz, changed_by name, seq bigint GENERATED ALWAYS AS IDENTITY);
CREATE FUNCTION trust.steal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO trust.loot SELECT v FROM trust.secret;
	RETURN NULL;
END $$;
CREATE TRIGGER steal AFTER INSERT ON trust.deals_stage_history FOR EACH ROW EXECUTE FUNCTION trust.steal();
-- nor can it point the attachment at its table
UPDATE pipeline.attached_tables SET history = 'trust.deals_stage_history'
 WHERE target = 'trust.deals'::regclass;
\echo SQLSTATE :SQLSTATE
INSERT INTO pipeline.attached_tables (target, stage_column, history) VALUES ('trust.deals', 'other', 'trust.deals_stage_history');
\echo SQLSTATE :SQLSTATE
DELETE FROM pipeline.attached_tables WHERE target = 'trust.deals'::regclass;
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS attachment_rows_left FROM pipeline.attached_tables WHERE target = 'trust.deals'::regclass;
RESET ROLE;

SET ROLE trust_writer;
UPDATE trust.deals SET stage = 'prospecting' WHERE id = 1;
INSERT INTO trust.deals VALUES (2, 'prospecting');
RESET ROLE;
SELECT (SELECT count(*) FROM trust.deals_history_archive) AS archive_rows,
       (SELECT count(*) FROM trust.deals_stage_history) AS look_alike_rows,
       (SELECT count(*) FROM trust.loot) AS loot_rows;
SELECT table_name, history_table FROM pipeline.attachments WHERE table_name = 'trust.deals';
-- re-attaching keeps the archived table: the attachment holds its identity
SET ROLE trust_owner;
SELECT pipeline.attach('trust.deals');
RESET ROLE;
SELECT history_table FROM pipeline.attachments WHERE table_name = 'trust.deals';

-- A history table that another role owns is never written.
ALTER TABLE trust.deals_history_archive OWNER TO trust_cotenant;
SET ROLE trust_writer;
UPDATE trust.deals SET stage = 'qualification' WHERE id = 1;
\echo SQLSTATE :SQLSTATE
RESET ROLE;
ALTER TABLE trust.deals_history_archive OWNER TO trust_owner;
SELECT count(*) AS loot_rows FROM trust.loot;

-- Attaching over a look-alike that another role owns is refused.
SET ROLE trust_owner;
CREATE TABLE trust.fresh (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
RESET ROLE;
SET ROLE trust_cotenant;
CREATE TABLE trust.fresh_stage_history (id int, from_stage pipeline.stage, to_stage pipeline.stage,
	changed_at timestamptz, changed_by name, seq bigint GENERATED ALWAYS AS IDENTITY);
RESET ROLE;
SET ROLE trust_owner;
SELECT pipeline.attach('trust.fresh');
\echo SQLSTATE :SQLSTATE
RESET ROLE;

-- The history table is written like any other insert, with what its owner
-- added: NOT NULL and CHECK constraints, a column with a default, a
-- generated column and a trigger.
SET ROLE trust_owner;
ALTER TABLE trust.deals_history_archive ADD COLUMN reviewed boolean NOT NULL DEFAULT false;
ALTER TABLE trust.deals_history_archive ALTER reviewed DROP DEFAULT;
RESET ROLE;
SET ROLE trust_writer;
INSERT INTO trust.deals VALUES (3, 'lead_generation');        -- reviewed would be NULL
\echo SQLSTATE :SQLSTATE
RESET ROLE;
SET ROLE trust_owner;
ALTER TABLE trust.deals_history_archive DROP COLUMN reviewed;
ALTER TABLE trust.deals_history_archive ADD CHECK (to_stage <> 'closed_lost');
ALTER TABLE trust.deals_history_archive ADD COLUMN source text DEFAULT 'app';
ALTER TABLE trust.deals_history_archive
	ADD COLUMN changed_on date GENERATED ALWAYS AS ((changed_at AT TIME ZONE 'UTC')::date) STORED;
CREATE TABLE trust.audit (n int);
CREATE FUNCTION trust.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO trust.audit SELECT count(*) FROM new_rows;
	RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER INSERT ON trust.deals_history_archive
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trust.audit();
RESET ROLE;
SET ROLE trust_writer;
UPDATE trust.deals SET stage = 'closed_lost' WHERE id = 2;   -- the history's CHECK refuses it
\echo SQLSTATE :SQLSTATE
INSERT INTO trust.deals SELECT i, 'lead_generation' FROM generate_series(10, 14) i;
RESET ROLE;
SELECT id, from_stage, to_stage, source, changed_on = (changed_at AT TIME ZONE 'UTC')::date AS generated
  FROM trust.deals_history_archive WHERE id >= 10 ORDER BY seq;
-- the owner's statement trigger saw the five rows as one insert
SELECT n FROM trust.audit;

-- One statement moving more rows than one batch: every row, in key order
-- of the statement, seq increasing.
SET ROLE trust_owner;
INSERT INTO trust.deals SELECT i, 'lead_generation' FROM generate_series(100, 20099) i;
DELETE FROM trust.audit;
UPDATE trust.deals SET stage = 'prospecting' WHERE id >= 100;
SELECT count(*) AS moves, count(DISTINCT id) AS keys
  FROM trust.deals_history_archive WHERE id >= 100 AND from_stage = 'lead_generation';
SELECT array_agg(n ORDER BY n DESC) AS history_inserts_of_the_update FROM trust.audit;
RESET ROLE;

-- A rolled-back subtransaction leaves no history; its neighbours stay.
BEGIN;
UPDATE trust.deals SET stage = 'prospecting' WHERE id = 10;
SAVEPOINT s;
UPDATE trust.deals SET stage = 'prospecting' WHERE id = 11;
ROLLBACK TO SAVEPOINT s;
UPDATE trust.deals SET stage = 'prospecting' WHERE id = 12;
-- visible to the next statement of the same transaction
SELECT id, to_stage FROM trust.deals_history_archive WHERE id IN (10, 11, 12) AND from_stage IS NOT NULL ORDER BY seq;
COMMIT;
SELECT id, to_stage FROM trust.deals_history_archive WHERE id IN (10, 11, 12) AND from_stage IS NOT NULL ORDER BY seq;

-- COPY: history is there when the COPY statement ends.
BEGIN;
COPY trust.deals FROM stdin;
30	lead_generation
31	prospecting
\.
SELECT id, from_stage, to_stage FROM trust.deals_history_archive WHERE id IN (30, 31) ORDER BY seq;
COMMIT;

-- A history table whose own trigger writes to its attached table again and
-- again is stopped, not looped forever.
CREATE TABLE trust.loop (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('trust.loop', ruleset => 'lenient');
CREATE FUNCTION trust.bounce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE trust.loop SET stage = CASE stage WHEN 'lead_generation' THEN 'prospecting'::pipeline.stage
											 ELSE 'lead_generation' END;
	RETURN NULL;
END $$;
CREATE TRIGGER bounce AFTER INSERT ON trust.loop_stage_history FOR EACH STATEMENT EXECUTE FUNCTION trust.bounce();
INSERT INTO trust.loop VALUES (1, 'lead_generation');
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS loop_rows FROM trust.loop;

SET client_min_messages = warning;
DROP SCHEMA trust CASCADE;
RESET client_min_messages;
SELECT count(*) AS attachments_left FROM pipeline.attached_tables WHERE target::text LIKE 'trust.%';
DROP ROLE trust_owner, trust_cotenant, trust_writer;
