-- History views through the real attach/detach: created next to the target,
-- dropped by detach (history kept) and by attach without history; DROP
-- TABLE of an attached table or its history needs no CASCADE; the funnel
-- agrees with the aggregates over real history.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA regress_va;
CREATE TABLE regress_va.deals (id integer PRIMARY KEY, amount numeric, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('regress_va.deals');
SELECT relname FROM pg_class WHERE relnamespace = 'regress_va'::regnamespace AND relkind = 'v' ORDER BY 1;

-- Real moves, checked by the strict rules and recorded by the triggers.
INSERT INTO regress_va.deals SELECT i, i * 10, 'lead_generation' FROM generate_series(1, 60) i;
UPDATE regress_va.deals SET stage = 'prospecting' WHERE id <= 50;
UPDATE regress_va.deals SET stage = 'closed_lost' WHERE id > 50;
UPDATE regress_va.deals SET stage = 'qualification' WHERE id <= 40;
UPDATE regress_va.deals SET stage = 'closed_lost' WHERE id BETWEEN 41 AND 45;
UPDATE regress_va.deals SET stage = 'initial_contact' WHERE id <= 30;
UPDATE regress_va.deals SET stage = 'proposal' WHERE id <= 30;
UPDATE regress_va.deals SET stage = 'negotiation' WHERE id <= 20;
UPDATE regress_va.deals SET stage = 'closed_won' WHERE id <= 10;
UPDATE regress_va.deals SET stage = 'follow_up' WHERE id <= 4;
UPDATE regress_va.deals SET stage = 'closed_lost' WHERE id BETWEEN 11 AND 15;
DELETE FROM regress_va.deals WHERE id = 60;

-- The funnel equals the C aggregates over each row's history.
SELECT f.stage, f.reached, f.reached_amount,
	   f.reached = (agg.funnel)[f.ordinal] AS same_as_aggregate
  FROM regress_va.deals_funnel f,
	   (SELECT pipeline.funnel(x.furthest) AS funnel
		  FROM (SELECT pipeline.furthest_stage(h.to_stage) AS furthest
				  FROM regress_va.deals_stage_history h
				 WHERE h.id IN (SELECT id FROM regress_va.deals) GROUP BY h.id) x) agg
 ORDER BY f.ordinal;
-- Visits: one per history row that entered a stage (the deletion row is
-- not a visit); current ones match the table; the deletion ends the
-- deleted row's last visit.
SELECT (SELECT count(*) FROM regress_va.deals_stage_visits)
		 = (SELECT count(*) FROM regress_va.deals_stage_history WHERE to_stage IS NOT NULL) AS all_visits,
	   (SELECT count(*) FROM regress_va.deals_stage_history WHERE to_stage IS NULL) = 1 AS one_deletion_row,
	   (SELECT count(*) FROM regress_va.deals_stage_visits v JOIN regress_va.deals d
		   ON d.id = v.id AND d.stage::text = v.stage WHERE v.is_current) = 59 AS current_visits_match,
	   (SELECT count(*) FROM regress_va.deals_stage_visits WHERE id = 60 AND is_current) = 0 AS deleted_row_not_current,
	   (SELECT v.exited_at = h.changed_at AND v.time_in_stage = h.changed_at - v.entered_at
		  FROM regress_va.deals_stage_visits v, regress_va.deals_stage_history h
		 WHERE v.id = 60 AND v.stage = 'closed_lost' AND h.id = 60 AND h.to_stage IS NULL) AS deletion_ends_visit;
-- For a reader's eye: the visits of a row that went all the way (4) and of
-- the deleted one (60), each by the history row that began it (entered_seq):
-- the row that ended it as the view says (got: the one whose changed_at is
-- exited_at) and as the history says (want: the key's next row), and
-- is_current, got beside want (no next row, and the row still exists).
SELECT v.id, h.seq AS entered_seq, v.stage,
	   (SELECT x.seq FROM regress_va.deals_stage_history x WHERE x.id = v.id AND x.changed_at = v.exited_at) AS exited_seq_got,
	   n.seq AS exited_seq_want, v.is_current AS current_got,
	   n.seq IS NULL AND EXISTS (SELECT FROM regress_va.deals d WHERE d.id = v.id) AS current_want
  FROM regress_va.deals_stage_visits v
  JOIN regress_va.deals_stage_history h ON h.id = v.id AND h.changed_at = v.entered_at
  LEFT JOIN LATERAL (SELECT x.seq FROM regress_va.deals_stage_history x
					  WHERE x.id = h.id AND x.seq > h.seq ORDER BY x.seq LIMIT 1) n ON true
 WHERE v.id IN (4, 60) ORDER BY v.id, h.seq;
-- Durations count visits left for another stage: the deleted row's
-- closed_lost visit ended by its deletion is not one.
SELECT stage, visits FROM regress_va.deals_stage_durations ORDER BY ordinal;
-- Nothing rots until a threshold is set; then everything older does.
SELECT count(*) AS rotting FROM regress_va.deals_rotting;
SELECT pipeline.set_rotting_after('pipeline.stage', 'negotiation', '1 microsecond');
SELECT pg_sleep(0.01);
SELECT id, stage, time_in_stage > interval '0' AS waiting, rotting_after FROM regress_va.deals_rotting ORDER BY id;
SELECT pipeline.set_rotting_after('pipeline.stage', 'negotiation', NULL);

-- detach drops the views and keeps the history; attach brings them back;
-- attach without history drops them.
SELECT pipeline.detach('regress_va.deals');
SELECT relname, relkind FROM pg_class WHERE relnamespace = 'regress_va'::regnamespace AND relkind IN ('v', 'r') ORDER BY 1;
SELECT count(*) AS history_rows FROM regress_va.deals_stage_history;
SELECT pipeline.attach('regress_va.deals');
SELECT count(*) AS views FROM pg_class WHERE relnamespace = 'regress_va'::regnamespace AND relkind = 'v';
SELECT pipeline.attach('regress_va.deals', track_history => false);
SELECT count(*) AS views FROM pg_class WHERE relnamespace = 'regress_va'::regnamespace AND relkind = 'v';
SELECT pipeline.attach('regress_va.deals', ruleset => 'lenient');

-- A stage column not named "stage".
CREATE TABLE regress_va.tickets (code text PRIMARY KEY, phase pipeline.stage NOT NULL);
SELECT pipeline.attach('regress_va.tickets', 'phase');
SELECT relname FROM pg_class WHERE relnamespace = 'regress_va'::regnamespace AND relkind = 'v' ORDER BY 1;

-- DROP TABLE needs no CASCADE: the views go with the table or its history.
-- A user's own view on ours still blocks, as any dependent object does.
CREATE VIEW regress_va.my_dashboard AS SELECT * FROM regress_va.tickets_phase_funnel;
DROP TABLE regress_va.tickets;
DROP VIEW regress_va.my_dashboard;
DROP TABLE regress_va.tickets;
SELECT relname FROM pg_class WHERE relnamespace = 'regress_va'::regnamespace AND relkind IN ('v', 'r') ORDER BY 1;
DROP TABLE regress_va.tickets_phase_stage_history;
DROP TABLE IF EXISTS regress_va.no_such_table, regress_va.deals, regress_va.deals_stage_history;
SELECT count(*) AS relations_left FROM pg_class WHERE relnamespace = 'regress_va'::regnamespace;
-- Someone who may not drop the table gets DROP TABLE's own error.
CREATE TABLE regress_va.owned (id integer PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('regress_va.owned');
CREATE ROLE regress_va_other;
GRANT USAGE ON SCHEMA regress_va TO regress_va_other;
SET ROLE regress_va_other;
DROP TABLE regress_va.owned;
RESET ROLE;
SELECT count(*) AS views_kept FROM pg_class WHERE relnamespace = 'regress_va'::regnamespace AND relkind = 'v';

SET client_min_messages = warning;
DROP SCHEMA regress_va CASCADE;
RESET client_min_messages;
DROP ROLE regress_va_other;
