SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set VERBOSITY default

\i test/sql/include/try.sql

CREATE SCHEMA "Sales Ops";

-- ---------------------------------------------------------------------------
-- Refusals
-- ---------------------------------------------------------------------------
CREATE TABLE "Sales Ops".nokey (id int, stage pipeline.stage);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".nokey')$$);
CREATE TABLE "Sales Ops".t (id int PRIMARY KEY, stage pipeline.stage NOT NULL, state text,
							colour_col int, amount numeric);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".t', 'phase')$$);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".t', 'state')$$);
CREATE TYPE "Sales Ops".colour AS ENUM ('red', 'green');
ALTER TABLE "Sales Ops".t ADD COLUMN colour "Sales Ops".colour;
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".t', 'colour')$$);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".t', ruleset => 'nope')$$);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".t', ruleset => NULL)$$);
CREATE TABLE "Sales Ops".a_table_name_that_is_long_enough_to_overflow_the_limit (
	id int PRIMARY KEY, stage pipeline.stage);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".a_table_name_that_is_long_enough_to_overflow_the_limit')$$);
-- without history the long name is fine (no history objects to name)
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".a_table_name_that_is_long_enough_to_overflow_the_limit', track_history => false)$$);
CREATE TABLE "Sales Ops".seqkey (seq int PRIMARY KEY, stage pipeline.stage);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".seqkey')$$);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".seqkey', track_history => false)$$);
CREATE VIEW "Sales Ops".v AS SELECT * FROM "Sales Ops".t;
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".v')$$);
-- someone else's trigger with one of our names is not replaced
CREATE FUNCTION "Sales Ops".noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER zz_pipeline_enforce_stage BEFORE UPDATE ON "Sales Ops".t FOR EACH ROW EXECUTE FUNCTION "Sales Ops".noop();
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".t')$$);
DROP TRIGGER zz_pipeline_enforce_stage ON "Sales Ops".t;
-- a table with a clashing "history" table that is not one
CREATE TABLE "Sales Ops".t_stage_history (x int);
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".t')$$);
DROP TABLE "Sales Ops".t_stage_history;
-- only the table's owner may attach
CREATE ROLE pipeline_attach_other;
GRANT USAGE ON SCHEMA "Sales Ops" TO pipeline_attach_other;
SET ROLE pipeline_attach_other;
SELECT pg_temp.try($$SELECT pipeline.attach('"Sales Ops".t')$$);
SELECT pg_temp.try($$SELECT pipeline.detach('"Sales Ops".t')$$);
RESET ROLE;
-- nothing was left behind by the refusals
SELECT count(*) AS stray_triggers FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = '"Sales Ops"'::regnamespace AND c.relname <> 'a_table_name_that_is_long_enough_to_overflow_the_limit'
   AND c.relname <> 'seqkey';
SELECT * FROM pipeline.attachments ORDER BY table_name;

-- ---------------------------------------------------------------------------
-- Names, ownership, grants, pre-existing rows, idempotence
-- ---------------------------------------------------------------------------
CREATE ROLE pipeline_attach_owner;
CREATE ROLE pipeline_attach_reader;
CREATE ROLE pipeline_attach_writer;
GRANT USAGE, CREATE ON SCHEMA "Sales Ops" TO pipeline_attach_owner;
GRANT USAGE ON SCHEMA "Sales Ops" TO pipeline_attach_reader, pipeline_attach_writer;
CREATE TABLE "Sales Ops"."Deals" (region text, id int, "Stage" pipeline.stage NOT NULL, amount numeric,
								  PRIMARY KEY (region, id));
ALTER TABLE "Sales Ops"."Deals" OWNER TO pipeline_attach_owner;
GRANT SELECT ON "Sales Ops"."Deals" TO pipeline_attach_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON "Sales Ops"."Deals" TO pipeline_attach_writer;
INSERT INTO "Sales Ops"."Deals" VALUES ('eu', 2, 'proposal', 20), ('eu', 1, 'closed_won', 10),
	('us', 1, 'lead_generation', 5);
SELECT pipeline.attach('"Sales Ops"."Deals"', 'Stage');
SELECT * FROM pipeline.attachments ORDER BY table_name;
-- <target>_<column>_stage_history, owned by the table's owner, readable by its readers
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner,
       ARRAY(SELECT format('%s=%s', a.grantee::regrole, a.privilege_type) FROM aclexplode(c.relacl) a
              WHERE a.grantee <> c.relowner ORDER BY 1) AS grants
  FROM pg_class c WHERE c.relnamespace = '"Sales Ops"'::regnamespace AND c.relname LIKE 'Deals_%' AND c.relkind <> 'v' ORDER BY 1;
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity
  FROM pg_attribute a WHERE a.attrelid = '"Sales Ops"."Deals_Stage_stage_history"'::regclass AND a.attnum > 0
 ORDER BY a.attnum;
SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = '"Sales Ops"."Deals_Stage_stage_history"'::regclass;
-- one creation row per pre-existing row, in key order
SELECT region, id, from_stage, to_stage, changed_by, seq FROM "Sales Ops"."Deals_Stage_stage_history" ORDER BY seq;
SELECT tgname FROM pg_trigger WHERE tgrelid = '"Sales Ops"."Deals"'::regclass ORDER BY tgname;

-- idempotent; re-running switches the ruleset and keeps the history
SELECT pipeline.attach('"Sales Ops"."Deals"', 'Stage');
SELECT pipeline.attach('"Sales Ops"."Deals"', 'Stage', 'lenient');
SELECT * FROM pipeline.attachments ORDER BY table_name;
SELECT count(*) AS history_rows FROM "Sales Ops"."Deals_Stage_stage_history";
UPDATE "Sales Ops"."Deals" SET "Stage" = 'qualification' WHERE region = 'eu' AND id = 2;	-- backward: lenient only
SELECT pipeline.attach('"Sales Ops"."Deals"', 'Stage', 'strict');
SELECT pg_temp.try($$UPDATE "Sales Ops"."Deals" SET "Stage" = 'prospecting' WHERE region = 'eu' AND id = 2$$);

-- ---------------------------------------------------------------------------
-- Privileges: an ordinary writer's changes are checked and recorded under
-- its name, but it cannot touch the history
-- ---------------------------------------------------------------------------
SET ROLE pipeline_attach_writer;
INSERT INTO "Sales Ops"."Deals" VALUES ('us', 2, 'prospecting', 7);
UPDATE "Sales Ops"."Deals" SET "Stage" = 'qualification' WHERE region = 'us' AND id = 2;
SELECT pg_temp.try($$UPDATE "Sales Ops"."Deals" SET "Stage" = 'closed_won' WHERE region = 'us' AND id = 2$$);
SELECT pg_temp.try($$SELECT count(*) FROM "Sales Ops"."Deals_Stage_stage_history"$$);
SELECT pg_temp.try($$INSERT INTO "Sales Ops"."Deals_Stage_stage_history" (region, id, from_stage, to_stage) VALUES ('us', 2, NULL, 'closed_won')$$);
SELECT pg_temp.try($$UPDATE "Sales Ops"."Deals_Stage_stage_history" SET to_stage = 'closed_won'$$);
SELECT pg_temp.try($$DELETE FROM "Sales Ops"."Deals_Stage_stage_history"$$);
-- even through a trigger of its own making it cannot write someone else's history
CREATE TABLE pg_temp.forge (region text, id int, "Stage" pipeline.stage, PRIMARY KEY (region, id));
CREATE TRIGGER forge AFTER INSERT ON pg_temp.forge FOR EACH ROW
	EXECUTE FUNCTION pipeline.record_transition('Stage', '"Sales Ops"."Deals_Stage_stage_history"');
SELECT pg_temp.try($$INSERT INTO pg_temp.forge VALUES ('us', 2, 'closed_won')$$);
DROP TABLE pg_temp.forge;
RESET ROLE;
SET ROLE pipeline_attach_reader;
SELECT region, id, from_stage, to_stage, changed_by FROM "Sales Ops"."Deals_Stage_stage_history"
 WHERE region = 'us' AND id = 2 ORDER BY seq;
RESET ROLE;

-- ---------------------------------------------------------------------------
-- track_history => false: no history table, no history triggers
-- ---------------------------------------------------------------------------
CREATE TABLE "Sales Ops".quiet (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
INSERT INTO "Sales Ops".quiet VALUES (1, 'proposal');
SELECT pipeline.attach('"Sales Ops".quiet', track_history => false);
SELECT to_regclass('"Sales Ops".quiet_stage_history') AS history;
SELECT tgname FROM pg_trigger WHERE tgrelid = '"Sales Ops".quiet'::regclass ORDER BY tgname;
SELECT pg_temp.try($$UPDATE "Sales Ops".quiet SET stage = 'closed_won'$$);
UPDATE "Sales Ops".quiet SET stage = 'negotiation';
-- switching history on later gives rows without history their creation row
SELECT pipeline.attach('"Sales Ops".quiet');
SELECT id, from_stage, to_stage FROM "Sales Ops".quiet_stage_history ORDER BY seq;
SELECT pipeline.attach('"Sales Ops".quiet', track_history => false);
SELECT tgname FROM pg_trigger WHERE tgrelid = '"Sales Ops".quiet'::regclass ORDER BY tgname;
SELECT * FROM pipeline.attachments WHERE table_name LIKE '%quiet' ORDER BY table_name;

-- ---------------------------------------------------------------------------
-- Partitioned tables: current and future partitions, moves between them
-- ---------------------------------------------------------------------------
CREATE TABLE "Sales Ops".pdeals (id int, region text, stage pipeline.stage NOT NULL, amount numeric,
								 PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE "Sales Ops".pdeals_eu PARTITION OF "Sales Ops".pdeals FOR VALUES IN ('eu');
CREATE TABLE "Sales Ops".pdeals_am PARTITION OF "Sales Ops".pdeals FOR VALUES IN ('us', 'ca')
	PARTITION BY LIST (region);
CREATE TABLE "Sales Ops".pdeals_us PARTITION OF "Sales Ops".pdeals_am FOR VALUES IN ('us');
CREATE TABLE "Sales Ops".pdeals_ca PARTITION OF "Sales Ops".pdeals_am FOR VALUES IN ('ca');
INSERT INTO "Sales Ops".pdeals VALUES (1, 'eu', 'prospecting', 1), (2, 'eu', 'proposal', 2), (3, 'us', 'closed_lost', 3);
SELECT pipeline.attach('"Sales Ops".pdeals');
CREATE TABLE "Sales Ops".pdeals_asia PARTITION OF "Sales Ops".pdeals FOR VALUES IN ('asia');
SELECT c.relname, count(t.oid) AS triggers
  FROM pg_class c LEFT JOIN pg_trigger t ON t.tgrelid = c.oid
 WHERE c.relnamespace = '"Sales Ops"'::regnamespace AND c.relname LIKE 'pdeals%' AND c.relname NOT LIKE '%history%' AND c.relkind <> 'v'
 GROUP BY c.relname ORDER BY c.relname;
SELECT * FROM pipeline.attachments WHERE table_name LIKE '%pdeals' ORDER BY table_name;
-- a move with no stage change: no transition, nothing recorded
UPDATE "Sales Ops".pdeals SET region = 'us' WHERE id = 1;
-- a move with a legal stage change: one transition, recorded once
UPDATE "Sales Ops".pdeals SET region = 'asia', stage = 'qualification' WHERE id = 1;
-- a move to a sub-partitioned branch with a legal change
UPDATE "Sales Ops".pdeals SET region = 'ca', stage = 'negotiation' WHERE id = 2;
-- an illegal move is validated against the stage before the move, names the root
SELECT pg_temp.try($$UPDATE "Sales Ops".pdeals SET region = 'eu', stage = 'closed_won' WHERE id = 1$$);
SELECT pg_temp.try($$UPDATE "Sales Ops".pdeals SET region = 'eu', stage = 'prospecting' WHERE id = 3$$);
-- a statement naming a leaf still reports the table the pipeline is attached to
SELECT pg_temp.try($$UPDATE "Sales Ops".pdeals_ca SET stage = 'proposal' WHERE id = 2$$);
SELECT pg_temp.try($$INSERT INTO "Sales Ops".pdeals VALUES (9, 'asia', 'negotiation', 9)$$);
-- a multi-row move where one row is illegal changes nothing
SELECT pg_temp.try($$UPDATE "Sales Ops".pdeals SET region = 'eu', stage = 'initial_contact'$$);
SELECT id, region, stage FROM "Sales Ops".pdeals ORDER BY id;
-- an upsert and a MERGE that move rows
SELECT pg_temp.try($$MERGE INTO "Sales Ops".pdeals d USING (VALUES (2, 'closed_won'::pipeline.stage)) v(id, s)
	ON d.id = v.id WHEN MATCHED THEN UPDATE SET stage = v.s, region = 'eu'$$);
SELECT pg_temp.try($$INSERT INTO "Sales Ops".pdeals VALUES (1, 'asia', 'initial_contact', 0)
	ON CONFLICT (id, region) DO UPDATE SET stage = excluded.stage$$);
SELECT id, region, from_stage, to_stage FROM "Sales Ops".pdeals_stage_history ORDER BY seq;
-- a move inside a function's exception block that fails leaves no stash behind
DO $$
BEGIN
	UPDATE "Sales Ops".pdeals SET region = 'us', stage = 'closed_lost' WHERE id = 1;
	RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN
	NULL;
END
$$;
UPDATE "Sales Ops".pdeals SET region = 'us', stage = 'proposal' WHERE id = 1;
SELECT id, region, from_stage, to_stage FROM "Sales Ops".pdeals_stage_history WHERE id = 1 ORDER BY seq;

-- ---------------------------------------------------------------------------
-- A custom stage type registered with define_stages, on a non-"stage" column
-- ---------------------------------------------------------------------------
CREATE TYPE "Sales Ops".hire AS ENUM ('sourced', 'screen', 'interview', 'offer', 'hired', 'rejected');
SELECT pipeline.define_stages('"Sales Ops".hire', won => '{hired}', lost => '{rejected}');
CREATE TABLE "Sales Ops".candidates (id bigint PRIMARY KEY, step "Sales Ops".hire NOT NULL);
INSERT INTO "Sales Ops".candidates VALUES (1, 'sourced');
SELECT pipeline.attach('"Sales Ops".candidates', 'step');
SELECT * FROM pipeline.attachments WHERE table_name LIKE '%candidates';
UPDATE "Sales Ops".candidates SET step = 'screen';
SELECT pg_temp.try($$UPDATE "Sales Ops".candidates SET step = 'hired'$$);
SELECT pg_temp.try($$INSERT INTO "Sales Ops".candidates VALUES (2, 'offer')$$);
SELECT id, from_stage, to_stage FROM "Sales Ops".candidates_step_stage_history ORDER BY seq;
-- a type in use cannot be unregistered
SELECT pg_temp.try($$SELECT pipeline.undefine_stages('"Sales Ops".hire')$$);
SELECT pipeline.detach('"Sales Ops".candidates', 'step');
SELECT * FROM pipeline.attachments WHERE table_name LIKE '%candidates';

-- dropping a table leaves nothing dangling in pipeline.attachments
DROP TABLE "Sales Ops".quiet;
SELECT count(*) AS quiet_rows FROM pipeline.attachments WHERE table_name LIKE '%quiet';

DROP TABLE "Sales Ops".candidates, "Sales Ops".candidates_step_stage_history;
SELECT pipeline.undefine_stages('"Sales Ops".hire');
SET client_min_messages = warning;
DROP SCHEMA "Sales Ops" CASCADE;
RESET client_min_messages;
DROP ROLE pipeline_attach_other, pipeline_attach_owner, pipeline_attach_reader, pipeline_attach_writer;
