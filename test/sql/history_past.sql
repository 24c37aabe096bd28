-- History that starts in the past: the entered-at column (real dates from
-- applications, checked so that no visit has a negative length), importing
-- an existing history at attach (validated, all or nothing), deletions in
-- the history, and bulk-load errors that name the failing row.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

CREATE SCHEMA hp;

-- ---------------------------------------------------------------------------
-- 1. The entered-at column
-- ---------------------------------------------------------------------------
CREATE TABLE hp.deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL,
                       entered_at timestamptz, note text, wrong date);
INSERT INTO hp.deals VALUES (1, 'prospecting', '2026-01-10 09:00', 'given'),
                            (2, 'lead_generation', NULL, 'empty');
SELECT pipeline.attach('hp.deals', entered_at_column => 'nope');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.attach('hp.deals', entered_at_column => 'wrong');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.attach('hp.deals', entered_at_column => 'entered_at');
SELECT table_name, entered_at_column FROM pipeline.attachments WHERE table_name = 'hp.deals';
-- rows present at attach: the history is dated by the column; an empty
-- column gets the creation row's time
SELECT d.id, h.changed_at = d.entered_at AS history_dated_by_column,
       d.id <> 1 OR d.entered_at = '2026-01-10 09:00' AS kept_given_time,
       d.entered_at IS NOT NULL AS filled
  FROM hp.deals d JOIN hp.deals_stage_history h USING (id) ORDER BY d.id;

-- INSERT: NULL is filled with the time of creation, a past time is kept,
-- a future one refused
INSERT INTO hp.deals (id, stage) VALUES (3, 'lead_generation');
INSERT INTO hp.deals VALUES (4, 'lead_generation', '2026-02-01 00:00');
\set VERBOSITY terse
INSERT INTO hp.deals VALUES (5, 'lead_generation', clock_timestamp() + interval '1 day');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
SELECT d.id, d.entered_at IS NOT NULL AS filled, h.changed_at = d.entered_at AS history_dated_by_column
  FROM hp.deals d JOIN hp.deals_stage_history h USING (id) WHERE d.id IN (3, 4) ORDER BY d.id;

-- UPDATE with a stage change: the statement's time for the column is the
-- move's time; without one the trigger stamps the move
UPDATE hp.deals SET stage = 'prospecting', entered_at = '2026-02-03 12:00' WHERE id = 4;
UPDATE hp.deals SET stage = 'prospecting' WHERE id = 3;
SELECT id, from_stage, to_stage, changed_at = (SELECT entered_at FROM hp.deals d WHERE d.id = h.id) AS dated_by_column
  FROM hp.deals_stage_history h WHERE id IN (3, 4) AND from_stage IS NOT NULL ORDER BY id;
SELECT changed_at FROM hp.deals_stage_history WHERE id = 4 ORDER BY changed_at, seq;

-- refused (23514): a change of the column alone, a move dated before the
-- current stage was entered, a move dated in the future
UPDATE hp.deals SET entered_at = '2026-02-04 00:00' WHERE id = 4;
\echo SQLSTATE :SQLSTATE
UPDATE hp.deals SET stage = 'qualification', entered_at = '2026-02-02 00:00' WHERE id = 4;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
UPDATE hp.deals SET stage = 'qualification', entered_at = clock_timestamp() + interval '1 hour' WHERE id = 4;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
-- an update that changes neither is fine
UPDATE hp.deals SET note = 'touched' WHERE id = 4;
-- ... and the bypass does not let a visit go negative either
SET pipeline.enforce_transitions = off;
UPDATE hp.deals SET stage = 'closed_won', entered_at = '2026-01-01 00:00' WHERE id = 4;
\echo SQLSTATE :SQLSTATE
RESET pipeline.enforce_transitions;

-- upsert and MERGE: the update path is a move, the insert path a creation
INSERT INTO hp.deals VALUES (4, 'qualification', '2026-02-05 08:00')
    ON CONFLICT (id) DO UPDATE SET stage = EXCLUDED.stage, entered_at = EXCLUDED.entered_at;
INSERT INTO hp.deals VALUES (6, 'prospecting', '2026-02-05 09:00')
    ON CONFLICT (id) DO UPDATE SET stage = EXCLUDED.stage;
MERGE INTO hp.deals d
USING (VALUES (4, 'initial_contact'::pipeline.stage, '2026-02-06 10:00'::timestamptz),
              (7, 'lead_generation', '2026-02-06 11:00')) AS s(id, stage, at)
   ON d.id = s.id
 WHEN MATCHED THEN UPDATE SET stage = s.stage, entered_at = s.at
 WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.stage, s.at);
COPY hp.deals (id, stage, entered_at) FROM stdin;
8	prospecting	2026-02-07 00:00:00+00
9	lead_generation	\N
\.
SELECT id, from_stage, to_stage, changed_at FROM hp.deals_stage_history
 WHERE id IN (4, 6, 7, 8) ORDER BY id, changed_at, seq;
SELECT count(*) AS rows_with_history_dated_by_column
  FROM hp.deals d
  JOIN LATERAL (SELECT h.changed_at FROM hp.deals_stage_history h WHERE h.id = d.id
                 ORDER BY h.changed_at DESC, h.seq DESC LIMIT 1) l ON l.changed_at = d.entered_at;
SELECT count(*) AS rows FROM hp.deals;

-- partitioned: a move between partitions keeps the row's times
CREATE TABLE hp.parts (region text, id int, stage pipeline.stage NOT NULL, since timestamptz,
                       PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE hp.parts_eu PARTITION OF hp.parts FOR VALUES IN ('eu');
CREATE TABLE hp.parts_us PARTITION OF hp.parts FOR VALUES IN ('us');
SELECT pipeline.attach('hp.parts', entered_at_column => 'since');
INSERT INTO hp.parts VALUES ('eu', 1, 'lead_generation', '2026-03-01 00:00');
UPDATE hp.parts SET region = 'us', stage = 'prospecting', since = '2026-03-02 00:00' WHERE id = 1;
UPDATE hp.parts SET region = 'eu' WHERE id = 1;                 -- no stage change: times kept
SELECT region, id, stage, since FROM hp.parts;
SELECT region, id, from_stage, to_stage, changed_at FROM hp.parts_stage_history ORDER BY changed_at, seq;

-- no visit has a negative length, whoever wrote
SELECT count(*) AS negative_visits
  FROM (SELECT h.changed_at, lead(h.changed_at) OVER (PARTITION BY h.id ORDER BY h.changed_at, h.seq) AS next_at
          FROM hp.deals_stage_history h) v
 WHERE v.next_at < v.changed_at;

-- ---------------------------------------------------------------------------
-- 2. Deletions are history
-- ---------------------------------------------------------------------------
DELETE FROM hp.deals WHERE id = 9;
SELECT id, from_stage, to_stage, changed_by = current_user AS by_me FROM hp.deals_stage_history
 WHERE id = 9 ORDER BY changed_at, seq;
DELETE FROM hp.parts WHERE id = 1;
SELECT region, id, from_stage, to_stage FROM hp.parts_stage_history ORDER BY changed_at, seq;
TRUNCATE hp.parts;        -- TRUNCATE records nothing
SELECT count(*) AS parts_history_rows FROM hp.parts_stage_history;

-- ---------------------------------------------------------------------------
-- 3. Importing a history at attach
-- ---------------------------------------------------------------------------
CREATE TABLE hp.opps (id int PRIMARY KEY, stage pipeline.stage NOT NULL, entered_at timestamptz);
INSERT INTO hp.opps VALUES (1, 'closed_won', NULL), (2, 'closed_lost', NULL), (3, 'prospecting', NULL),
                           (4, 'lead_generation', '2026-04-01 00:00');
-- a CRM export: stage names as text, with who made the change; id 1
-- repeats a stage (a CRM logs other changes too), id 4 has no events
CREATE TABLE hp.crm (id int, to_stage text, changed_at timestamptz, changed_by text);
INSERT INTO hp.crm VALUES
  (1, 'lead_generation', '2025-01-01', 'ann'), (1, 'prospecting', '2025-01-05', 'ann'),
  (1, 'prospecting', '2025-01-06', 'bob'),     (1, 'qualification', '2025-01-09', 'bob'),
  (1, 'initial_contact', '2025-01-20', 'bob'), (1, 'proposal', '2025-02-01', 'bob'),
  (1, 'negotiation', '2025-02-10', 'cy'),      (1, 'closed_won', '2025-03-01', 'cy'),
  (2, 'prospecting', '2025-01-02', 'ann'),     (2, 'closed_lost', '2025-01-15', 'ann'),
  (3, 'lead_generation', '2025-05-01', 'dee'), (3, 'prospecting', '2025-05-03', 'dee');

-- refusals, each naming the row; none leaves anything behind
CREATE TABLE hp.bad (LIKE hp.crm);
INSERT INTO hp.bad SELECT * FROM hp.crm;
INSERT INTO hp.bad VALUES (99, 'lead_generation', '2025-01-01', 'x');            -- not in the table
SELECT pipeline.attach('hp.opps', history_from => 'hp.bad', entered_at_column => 'entered_at');
\echo SQLSTATE :SQLSTATE
DELETE FROM hp.bad WHERE id = 99;
INSERT INTO hp.bad VALUES (3, 'qualification', '2025-05-03', 'x');               -- same instant
SELECT pipeline.attach('hp.opps', history_from => 'hp.bad');
\echo SQLSTATE :SQLSTATE
DELETE FROM hp.bad WHERE id = 3 AND to_stage = 'qualification';
UPDATE hp.bad SET to_stage = 'negotiation' WHERE id = 1 AND to_stage = 'qualification';   -- a skip
SELECT pipeline.attach('hp.opps', history_from => 'hp.bad');
\echo SQLSTATE :SQLSTATE
UPDATE hp.bad SET to_stage = 'qualification' WHERE id = 1 AND to_stage = 'negotiation' AND changed_at = '2025-01-09';
DELETE FROM hp.bad WHERE id = 3 AND to_stage = 'prospecting';                    -- ends elsewhere
SELECT pipeline.attach('hp.opps', history_from => 'hp.bad');
\echo SQLSTATE :SQLSTATE
INSERT INTO hp.bad VALUES (3, 'prospecting', '2025-05-03', 'dee');
UPDATE hp.bad SET to_stage = 'promising' WHERE id = 2 AND to_stage = 'prospecting'; -- no such label
SELECT pipeline.attach('hp.opps', history_from => 'hp.bad');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.attach('hp.opps', history_from => 'hp.bad', track_history => false);
\echo SQLSTATE :SQLSTATE
CREATE VIEW hp.nokey AS SELECT to_stage, changed_at FROM hp.crm;
SELECT pipeline.attach('hp.opps', history_from => 'hp.nokey');
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS attachments, to_regclass('hp.opps_stage_history') AS history_table
  FROM pipeline.attachments WHERE table_name = 'hp.opps';

-- a history that skips stages does not follow strict: import it under
-- lenient, then switch the table to strict; the history stays
INSERT INTO hp.crm VALUES (2, 'negotiation', '2025-01-10', 'ann');   -- prospecting -> negotiation
SELECT pipeline.attach('hp.opps', history_from => 'hp.crm');
\echo SQLSTATE :SQLSTATE
SELECT pipeline.attach('hp.opps', ruleset => 'lenient', history_from => 'hp.crm', entered_at_column => 'entered_at');
SELECT pipeline.attach('hp.opps', ruleset => 'strict', entered_at_column => 'entered_at');
SELECT table_name, ruleset, entered_at_column FROM pipeline.attachments WHERE table_name = 'hp.opps';
SELECT id, from_stage, to_stage, changed_at, changed_by FROM hp.opps_stage_history ORDER BY id, seq;
-- seq follows changed_at within a key; the column holds the last event's time
SELECT count(*) AS out_of_order
  FROM (SELECT seq, lag(seq) OVER (PARTITION BY id ORDER BY changed_at) AS prev FROM hp.opps_stage_history) x
 WHERE x.seq < x.prev;
SELECT id, entered_at FROM hp.opps ORDER BY id;
-- importing again into a history that has rows is refused
SELECT pipeline.attach('hp.opps', history_from => 'hp.crm');
\echo SQLSTATE :SQLSTATE
-- and the table enforces strict from now on
UPDATE hp.opps SET stage = 'proposal' WHERE id = 3;
\echo SQLSTATE :SQLSTATE
UPDATE hp.opps SET stage = 'qualification', entered_at = '2025-05-02' WHERE id = 3;
\echo SQLSTATE :SQLSTATE

-- ---------------------------------------------------------------------------
-- 4. Bulk loads name the failing row
-- ---------------------------------------------------------------------------
\set VERBOSITY default
INSERT INTO hp.opps (id, stage) SELECT i, CASE WHEN i = 17 THEN 'proposal' ELSE 'lead_generation' END::pipeline.stage
  FROM generate_series(10, 20) i;
COPY hp.opps (id, stage) FROM stdin;
30	prospecting
31	closed_won
\.
UPDATE hp.opps SET stage = 'qualification' WHERE id IN (3, 4);
\set VERBOSITY terse

SET client_min_messages = warning;
DROP SCHEMA hp CASCADE;
RESET client_min_messages;
SELECT count(*) AS attachments_left FROM pipeline.attached_tables WHERE target::text LIKE 'hp.%';
