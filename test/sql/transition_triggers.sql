SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set VERBOSITY default

\i test/sql/include/try.sql

CREATE TABLE public.deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric);
INSERT INTO public.deals VALUES (1, 'lead_generation', 100), (2, 'prospecting', 200),
	(3, 'proposal', 300), (4, 'negotiation', 400), (5, 'closed_lost', 500);
SELECT pipeline.attach('public.deals');

-- the triggers attach made
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'public.deals'::regclass ORDER BY tgname;

-- ---------------------------------------------------------------------------
-- Illegal transitions: 23514 with the documented message, DETAIL and fields
-- ---------------------------------------------------------------------------
SELECT pg_temp.try($$UPDATE public.deals SET stage = 'closed_won' WHERE id = 3$$);
SELECT pg_temp.try($$UPDATE public.deals SET stage = 'proposal' WHERE id = 5$$);
SELECT pg_temp.try($$UPDATE public.deals SET stage = 'prospecting' WHERE id = 3$$);
SELECT pg_temp.try($$INSERT INTO public.deals VALUES (10, 'proposal', 1)$$);
SELECT pg_temp.try($$INSERT INTO public.deals VALUES (10, 'closed_won', 1)$$);
-- NULL stage: 23502 whatever the column allows
ALTER TABLE public.deals ALTER COLUMN stage DROP NOT NULL;
SELECT pg_temp.try($$UPDATE public.deals SET stage = NULL WHERE id = 1$$);
SELECT pg_temp.try($$INSERT INTO public.deals VALUES (10, NULL, 1)$$);
ALTER TABLE public.deals ALTER COLUMN stage SET NOT NULL;
-- legal moves
UPDATE public.deals SET stage = 'negotiation' WHERE id = 3;
UPDATE public.deals SET stage = 'closed_won' WHERE id = 4;
UPDATE public.deals SET stage = 'follow_up' WHERE id = 4;
UPDATE public.deals SET stage = 'closed_lost' WHERE id = 2;
INSERT INTO public.deals VALUES (6, 'prospecting', 600);
-- same-stage updates are no transition: allowed everywhere, never recorded
UPDATE public.deals SET stage = stage, amount = amount + 1;
SELECT id, stage, amount FROM public.deals ORDER BY id;

-- a multi-row update with one bad row changes nothing
SELECT pg_temp.try($$UPDATE public.deals SET stage = 'qualification' WHERE id IN (1, 6)$$);
SELECT id, stage FROM public.deals WHERE id IN (1, 6) ORDER BY id;
SELECT pg_temp.try($$UPDATE public.deals SET stage = 'prospecting' WHERE id IN (1, 6)$$);
SELECT id, stage FROM public.deals WHERE id IN (1, 6) ORDER BY id;

-- ---------------------------------------------------------------------------
-- Upserts, MERGE, COPY
-- ---------------------------------------------------------------------------
-- an upsert that ends as an update is validated as the update it is
SELECT pg_temp.try($$INSERT INTO public.deals VALUES (1, 'qualification', 1)
	ON CONFLICT (id) DO UPDATE SET stage = excluded.stage$$);
SELECT pg_temp.try($$INSERT INTO public.deals VALUES (1, 'qualification', 1)
	ON CONFLICT (id) DO UPDATE SET stage = 'proposal'$$);
-- ... and one that inserts as a creation
SELECT pg_temp.try($$INSERT INTO public.deals VALUES (7, 'qualification', 1)
	ON CONFLICT (id) DO UPDATE SET stage = excluded.stage$$);
SELECT pg_temp.try($$INSERT INTO public.deals VALUES (7, 'lead_generation', 1)
	ON CONFLICT (id) DO UPDATE SET stage = excluded.stage$$);
SELECT pg_temp.try($$INSERT INTO public.deals VALUES (7, 'closed_won', 1) ON CONFLICT (id) DO NOTHING$$);
SELECT id, stage FROM public.deals WHERE id IN (1, 7) ORDER BY id;

-- MERGE: matched rows validated as updates, new rows as creations
SELECT pg_temp.try($$MERGE INTO public.deals d
	USING (VALUES (1, 'initial_contact'::pipeline.stage), (8, 'prospecting')) v(id, s) ON d.id = v.id
	WHEN MATCHED THEN UPDATE SET stage = v.s
	WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.s, 0)$$);
SELECT pg_temp.try($$MERGE INTO public.deals d
	USING (VALUES (1, 'proposal'::pipeline.stage), (9, 'negotiation')) v(id, s) ON d.id = v.id
	WHEN MATCHED THEN UPDATE SET stage = v.s
	WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.s, 0)$$);
SELECT pg_temp.try($$MERGE INTO public.deals d
	USING (VALUES (1, 'closed_won'::pipeline.stage)) v(id, s) ON d.id = v.id
	WHEN MATCHED THEN UPDATE SET stage = v.s$$);
SELECT id, stage FROM public.deals WHERE id IN (1, 8, 9) ORDER BY id;

-- COPY: every row is a creation
COPY public.deals FROM stdin;
11	lead_generation	1
12	prospecting	2
\.
COPY public.deals FROM stdin;
13	lead_generation	1
14	closed_won	2
\.
SELECT count(*) FILTER (WHERE id IN (11, 12)) AS copied, count(*) FILTER (WHERE id IN (13, 14)) AS rejected
  FROM public.deals;

-- ---------------------------------------------------------------------------
-- History: one row per transition, in order, in the same transaction
-- ---------------------------------------------------------------------------
SELECT id, from_stage, to_stage, changed_by = current_user AS by_me, seq
  FROM public.deals_stage_history ORDER BY seq;
-- changed_at is clock_timestamp(): increasing within one transaction
BEGIN;
UPDATE public.deals SET stage = 'qualification' WHERE id = 12;
UPDATE public.deals SET stage = 'initial_contact' WHERE id = 12;
SELECT count(DISTINCT changed_at) = 2 AS distinct_times,
	   bool_and(changed_at <= clock_timestamp()) AS not_in_future
  FROM public.deals_stage_history WHERE id = 12 AND from_stage IS NOT NULL;
ROLLBACK;
-- a rolled-back change leaves no history
SELECT count(*) AS after_rollback FROM public.deals_stage_history WHERE id = 12 AND from_stage IS NOT NULL;
-- a failed statement inside a savepoint leaves none either
BEGIN;
SAVEPOINT s;
UPDATE public.deals SET stage = 'qualification' WHERE id = 12;
UPDATE public.deals SET stage = 'closed_won' WHERE id = 12;
ROLLBACK TO SAVEPOINT s;
UPDATE public.deals SET stage = 'closed_lost' WHERE id = 12;
COMMIT;
SELECT id, from_stage, to_stage FROM public.deals_stage_history WHERE id = 12 ORDER BY seq;

-- updates that leave the stage alone queue no history work: the history
-- trigger's WHEN clause filters them before any event is queued
SELECT tgname, pg_get_triggerdef(oid) ~ 'WHEN \(\(old.stage IS DISTINCT FROM new.stage\)\)' AS has_when
  FROM pg_trigger WHERE tgrelid = 'public.deals'::regclass AND tgname = 'zz_pipeline_history_stage';

-- ---------------------------------------------------------------------------
-- Other BEFORE triggers run first: the rules see the final NEW
-- ---------------------------------------------------------------------------
CREATE FUNCTION public.bump_stage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.stage = 'negotiation' AND NEW.amount > 1000 THEN
		NEW.stage := 'closed_won';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER bump BEFORE UPDATE ON public.deals FOR EACH ROW EXECUTE FUNCTION public.bump_stage();
SELECT pg_temp.try($$UPDATE public.deals SET stage = 'negotiation', amount = 5000 WHERE id = 8$$);
DROP TRIGGER bump ON public.deals;
DROP FUNCTION public.bump_stage();

-- ---------------------------------------------------------------------------
-- pipeline.enforce_transitions = off: rows load as they are, history still
-- recorded
-- ---------------------------------------------------------------------------
BEGIN;
SET LOCAL pipeline.enforce_transitions = off;
INSERT INTO public.deals VALUES (20, 'closed_won', 1);
UPDATE public.deals SET stage = 'lead_generation' WHERE id = 5;
SELECT pg_temp.try($$UPDATE public.deals SET stage = NULL WHERE id = 5$$);	-- still 23502
COMMIT;
SHOW pipeline.enforce_transitions;
SELECT id, from_stage, to_stage FROM public.deals_stage_history WHERE id IN (5, 20) ORDER BY seq;
SELECT pg_temp.try($$UPDATE public.deals SET stage = 'closed_lost' WHERE id = 20$$);

-- ---------------------------------------------------------------------------
-- Trigger protocol and misuse
-- ---------------------------------------------------------------------------
SELECT pg_temp.try($$SELECT pipeline.enforce_transition()$$);
CREATE TABLE public.misuse (id int PRIMARY KEY, stage pipeline.stage, note text);
INSERT INTO public.misuse VALUES (1, 'proposal', 'x');
CREATE TRIGGER bad BEFORE INSERT ON public.misuse FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition('stage');
SELECT pg_temp.try($$INSERT INTO public.misuse VALUES (2, 'prospecting')$$);
DROP TRIGGER bad ON public.misuse;
CREATE TRIGGER bad BEFORE UPDATE ON public.misuse FOR EACH STATEMENT EXECUTE FUNCTION pipeline.enforce_transition('stage');
SELECT pg_temp.try($$UPDATE public.misuse SET note = 'y'$$);
DROP TRIGGER bad ON public.misuse;
CREATE TRIGGER bad BEFORE UPDATE ON public.misuse FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition();
SELECT pg_temp.try($$UPDATE public.misuse SET note = 'y'$$);
DROP TRIGGER bad ON public.misuse;
CREATE TRIGGER bad BEFORE UPDATE ON public.misuse FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition('stage', 'strict', 'x');
SELECT pg_temp.try($$UPDATE public.misuse SET note = 'y'$$);
DROP TRIGGER bad ON public.misuse;
CREATE TRIGGER bad BEFORE UPDATE ON public.misuse FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition('note');
SELECT pg_temp.try($$UPDATE public.misuse SET note = 'y'$$);
DROP TRIGGER bad ON public.misuse;
CREATE TRIGGER bad BEFORE UPDATE ON public.misuse FOR EACH ROW EXECUTE FUNCTION pipeline.enforce_transition('stage', 'nope');
SELECT pg_temp.try($$UPDATE public.misuse SET stage = 'negotiation'$$);
DROP TRIGGER bad ON public.misuse;
CREATE TRIGGER bad AFTER DELETE ON public.misuse FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition('stage', 'public.deals_stage_history');
SELECT pg_temp.try($$DELETE FROM public.misuse$$);
DROP TRIGGER bad ON public.misuse;
CREATE TRIGGER bad AFTER UPDATE ON public.misuse FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition('stage');
SELECT pg_temp.try($$UPDATE public.misuse SET stage = 'negotiation'$$);
DROP TRIGGER bad ON public.misuse;
CREATE TRIGGER bad AFTER UPDATE ON public.misuse FOR EACH ROW EXECUTE FUNCTION pipeline.record_transition('stage', 'public.no_such_history');
SELECT pg_temp.try($$UPDATE public.misuse SET stage = 'negotiation'$$);
DROP TRIGGER bad ON public.misuse;
DROP TABLE public.misuse;

-- a renamed stage column is reported clearly
ALTER TABLE public.deals RENAME COLUMN stage TO phase;
SELECT pg_temp.try($$UPDATE public.deals SET phase = 'qualification' WHERE id = 6$$);
ALTER TABLE public.deals RENAME COLUMN phase TO stage;
UPDATE public.deals SET stage = 'qualification' WHERE id = 6;

-- history rows are normally inserted directly (heap and index inserts); a
-- history table someone extended with a CHECK or a partial index is
-- still written, through the saved SPI plan, with the same result
ALTER TABLE public.deals_stage_history ADD CONSTRAINT sane CHECK (from_stage IS DISTINCT FROM to_stage);
CREATE INDEX deals_history_creations ON public.deals_stage_history (id) WHERE from_stage IS NULL;
UPDATE public.deals SET stage = 'initial_contact' WHERE id = 6;
INSERT INTO public.deals VALUES (30, 'lead_generation', 1);
SELECT id, from_stage, to_stage, changed_by = current_user AS by_me,
	   seq > (SELECT max(seq) - 2 FROM public.deals_stage_history) AS latest
  FROM public.deals_stage_history WHERE id IN (6, 30) ORDER BY seq;
SET enable_seqscan = off;
SELECT count(*) AS creations FROM public.deals_stage_history WHERE from_stage IS NULL AND id >= 20;
-- the rows counted (sequential scans still off): 20 (loaded with enforcement
-- off) and 30 (inserted after the index was made)
SELECT id, to_stage FROM public.deals_stage_history WHERE from_stage IS NULL AND id >= 20 ORDER BY id;
RESET enable_seqscan;

-- detach keeps the history table; the table is free again
SELECT pipeline.detach('public.deals');
SELECT pipeline.detach('public.deals');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'public.deals'::regclass;
UPDATE public.deals SET stage = 'closed_won' WHERE id = 6;
SELECT to_regclass('public.deals_stage_history') IS NOT NULL AS history_kept;

DROP TABLE public.deals, public.deals_stage_history;
