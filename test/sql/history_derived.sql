-- The history's derived columns as the trigger writes them (from_entered_at:
-- when from_stage was entered; furthest_before: the furthest non-lost stage
-- of the key's earlier rows), over random moves, deletions and
-- re-creations, written in batches and one row at a time, with and
-- without an entered-at column; and the views that read them
-- (stage_durations, funnel) against the plain SQL of their definitions:
-- lead() over each key's history, max() per key.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
CREATE SCHEMA hd;
CREATE TABLE hd.deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL, amount numeric);
CREATE TABLE hd.timed (id int PRIMARY KEY, stage pipeline.stage NOT NULL, entered_at timestamptz, amount numeric);
SELECT pipeline.attach('hd.deals', ruleset => 'lenient');
SELECT pipeline.attach('hd.timed', ruleset => 'lenient', entered_at_column => 'entered_at');

-- A stage other than the row's, at random.
CREATE FUNCTION hd.other_stage(s pipeline.stage) RETURNS pipeline.stage
	LANGUAGE sql VOLATILE AS $$
	SELECT (enum_range(NULL::pipeline.stage))[(pipeline.stage_ordinal(s) + floor(random() * 8)::int) % 9 + 1]
$$;

-- Any move, any creation: what is recorded is under test, not the rules.
SET pipeline.enforce_transitions = off;
SELECT setseed(0.14);
INSERT INTO hd.deals
SELECT g, (enum_range(NULL::pipeline.stage))[1 + floor(random() * 3)::int],
	   CASE WHEN g % 11 = 0 THEN NULL ELSE g % 97 - 20 END
  FROM generate_series(1, 400) g;
INSERT INTO hd.timed
SELECT g, (enum_range(NULL::pipeline.stage))[1 + floor(random() * 3)::int],
	   now() - interval '100 days' + g * interval '1 minute', g % 89
  FROM generate_series(1, 400) g;
DO $$
BEGIN
	FOR r IN 1 .. 8 LOOP
		-- a batch of moves (one INSERT of many history rows) ...
		UPDATE hd.deals SET stage = hd.other_stage(stage) WHERE random() < 0.3;
		UPDATE hd.timed SET stage = hd.other_stage(stage),
							entered_at = entered_at + (1 + random() * 200) * interval '1 hour'
		 WHERE random() < 0.3;
		-- ... single-row statements ...
		FOR k IN 1 .. 10 LOOP
			UPDATE hd.deals SET stage = hd.other_stage(stage) WHERE id = 1 + floor(random() * 400)::int;
			UPDATE hd.timed SET stage = hd.other_stage(stage), entered_at = entered_at + interval '90 minutes'
			 WHERE id = 1 + floor(random() * 400)::int;
		END LOOP;
		-- ... deletions, and keys created again after their deletion
		DELETE FROM hd.deals WHERE random() < 0.03;
		DELETE FROM hd.timed WHERE random() < 0.03;
		INSERT INTO hd.deals SELECT g, 'prospecting', 7 FROM generate_series(1, 400) g
		 WHERE g % 5 = r AND NOT EXISTS (SELECT FROM hd.deals d WHERE d.id = g) ON CONFLICT DO NOTHING;
	END LOOP;
END
$$;
-- keys of hd.timed created again after their deletion (dated now, after
-- every earlier event: an entered-at column never runs backwards)
INSERT INTO hd.timed SELECT g, 'lead_generation', NULL, 3 FROM generate_series(1, 400) g
 WHERE g % 3 = 0 AND NOT EXISTS (SELECT FROM hd.timed d WHERE d.id = g);
UPDATE hd.timed SET stage = 'qualification' WHERE id % 3 = 0 AND stage = 'lead_generation';

-- The histories are varied enough to test something.
SELECT 'deals' AS history, count(*) > 1200 AS many_rows,
	   count(*) FILTER (WHERE to_stage IS NULL) > 20 AS deletions,
	   count(*) FILTER (WHERE from_stage IS NULL AND EXISTS (
			SELECT FROM hd.deals_stage_history e WHERE e.id = h.id AND e.seq < h.seq)) > 10 AS recreations,
	   count(*) FILTER (WHERE to_stage = 'closed_lost') > 50 AS lost
  FROM hd.deals_stage_history h
UNION ALL
SELECT 'timed', count(*) > 1200, count(*) FILTER (WHERE to_stage IS NULL) > 20,
	   count(*) FILTER (WHERE from_stage IS NULL AND EXISTS (
			SELECT FROM hd.timed_stage_history e WHERE e.id = h.id AND e.seq < h.seq)) > 10,
	   count(*) FILTER (WHERE to_stage = 'closed_lost') > 50
  FROM hd.timed_stage_history h;

-- The derived columns equal a window over each key's rows in (changed_at,
-- seq) order: the previous row's changed_at (for a move or a deletion)
-- and the largest non-lost to_stage before.
CREATE VIEW hd.derived_check AS
SELECT 'deals' AS history, count(*) AS rows,
	   count(*) FILTER (WHERE h.from_entered_at IS DISTINCT FROM w.prev_at) AS from_entered_at_mismatches,
	   count(*) FILTER (WHERE h.furthest_before IS DISTINCT FROM w.furthest) AS furthest_before_mismatches
  FROM hd.deals_stage_history h
  JOIN (SELECT seq, CASE WHEN from_stage IS NOT NULL THEN lag(changed_at) OVER k END AS prev_at,
			   max(to_stage) FILTER (WHERE to_stage <> 'closed_lost')
				 OVER (k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest
		  FROM hd.deals_stage_history WINDOW k AS (PARTITION BY id ORDER BY changed_at, seq)) w USING (seq)
UNION ALL
SELECT 'timed', count(*),
	   count(*) FILTER (WHERE h.from_entered_at IS DISTINCT FROM w.prev_at),
	   count(*) FILTER (WHERE h.furthest_before IS DISTINCT FROM w.furthest)
  FROM hd.timed_stage_history h
  JOIN (SELECT seq, CASE WHEN from_stage IS NOT NULL THEN lag(changed_at) OVER k END AS prev_at,
			   max(to_stage) FILTER (WHERE to_stage <> 'closed_lost')
				 OVER (k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS furthest
		  FROM hd.timed_stage_history WINDOW k AS (PARTITION BY id ORDER BY changed_at, seq)) w USING (seq);
SELECT history, rows > 1200 AS many_rows, from_entered_at_mismatches, furthest_before_mismatches
  FROM hd.derived_check;
-- For a reader's eye: one key's rows.
SELECT from_stage, to_stage, changed_at - from_entered_at AS visit, furthest_before
  FROM hd.timed_stage_history WHERE id = 4 ORDER BY changed_at, seq;

-- Durations: visits a move ended (not a deletion), by lead() over each
-- key's rows, avg and percentile_cont.
CREATE FUNCTION hd.durations_mismatches(history regclass, view regclass) RETURNS bigint
	LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format($q$
WITH visits AS (
	SELECT to_stage, lead(changed_at) OVER k - changed_at AS d, lead(from_stage) OVER k AS next_from,
		   lead(to_stage) OVER k AS next_to
	  FROM %s WINDOW k AS (PARTITION BY id ORDER BY changed_at, seq)
), expected AS (
	SELECT to_stage::text AS stage, count(*) AS visits, justify_hours(avg(d)) AS avg_time,
		   justify_hours(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)) AS median_time,
		   justify_hours(percentile_cont(0.9) WITHIN GROUP (ORDER BY d)) AS p90_time
	  FROM visits WHERE to_stage IS NOT NULL AND next_from IS NOT NULL AND next_to IS NOT NULL
	 GROUP BY to_stage
), actual AS (
	SELECT stage, visits, avg_time, median_time, p90_time FROM %s
)
SELECT (SELECT count(*) FROM (TABLE expected EXCEPT ALL TABLE actual) a)
	 + (SELECT count(*) FROM (TABLE actual EXCEPT ALL TABLE expected) b)$q$, history, view) INTO n;
	RETURN n;
END
$$;
SELECT 'deals' AS history, (SELECT count(*) FROM hd.deals_stage_durations) AS stages,
	   hd.durations_mismatches('hd.deals_stage_history', 'hd.deals_stage_durations') AS mismatches
UNION ALL
SELECT 'timed', (SELECT count(*) FROM hd.timed_stage_durations),
	   hd.durations_mismatches('hd.timed_stage_history', 'hd.timed_stage_durations');
SELECT stage, visits, avg_time > '0' AS positive, median_time <= p90_time AS ordered
  FROM hd.timed_stage_durations WHERE ordinal <= 3;

-- Funnel: per row now in the table, the furthest non-lost stage of its
-- history (max per key); reached as pipeline.funnel counts it, amounts
-- summed over the rows that reached the stage.
CREATE FUNCTION hd.funnel_mismatches(target regclass, history regclass, view regclass) RETURNS bigint
	LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format($q$
WITH furthest AS (
	SELECT t.id, t.amount, max(h.to_stage) FILTER (WHERE h.to_stage <> 'closed_lost') AS f
	  FROM %s t JOIN %s h ON h.id = t.id GROUP BY t.id, t.amount
), expected AS (
	SELECT s.stage::text AS stage,
		   (SELECT pipeline.funnel(f) FROM furthest)[s.n] AS reached,
		   COALESCE((SELECT sum(amount) FROM furthest WHERE pipeline._stage_reached(f, s.stage)), 0) AS reached_amount
	  FROM unnest(enum_range('lead_generation'::pipeline.stage, 'follow_up')) WITH ORDINALITY AS s(stage, n)
), actual AS (
	SELECT stage, reached, reached_amount FROM %s
)
SELECT (SELECT count(*) FROM (TABLE expected EXCEPT ALL TABLE actual) a)
	 + (SELECT count(*) FROM (TABLE actual EXCEPT ALL TABLE expected) b)$q$, target, history, view) INTO n;
	RETURN n;
END
$$;
SELECT 'deals' AS history, hd.funnel_mismatches('hd.deals', 'hd.deals_stage_history', 'hd.deals_funnel') AS mismatches
UNION ALL
SELECT 'timed', hd.funnel_mismatches('hd.timed', 'hd.timed_stage_history', 'hd.timed_funnel');
SELECT stage, reached, reached_amount FROM hd.deals_funnel;

-- The same under parallel plans.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT 'deals' AS history, hd.funnel_mismatches('hd.deals', 'hd.deals_stage_history', 'hd.deals_funnel') AS funnel_mismatches,
	   hd.durations_mismatches('hd.deals_stage_history', 'hd.deals_stage_durations') AS durations_mismatches;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- The aggregate itself, in memory and past work_mem (where it sorts, as
-- percentile_cont does), against avg and percentile_cont: 30,000 random
-- visits in 3 groups, about half of them of negative length.
CREATE TABLE hd.spans AS
SELECT g % 3 AS grp, timestamptz '2026-01-01' + (random() * 1000)::int * interval '1 hour' AS entered_at,
	   timestamptz '2026-01-01' + (random() * 1000)::int * interval '1 hour'
	     + (random() * 1e6)::int * interval '1 microsecond' AS exited_at
  FROM generate_series(1, 30000) g;
CREATE VIEW hd.spans_check AS
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE a.t[1] IS DISTINCT FROM e.avg_time OR a.t[2] IS DISTINCT FROM e.p50
						   OR a.t[3] IS DISTINCT FROM e.p90) AS mismatches
  FROM (SELECT grp, pipeline._visit_time_stats(entered_at, exited_at) AS t FROM hd.spans GROUP BY grp) a
  JOIN (SELECT grp, avg(exited_at - entered_at) AS avg_time,
			   percentile_cont(0.5) WITHIN GROUP (ORDER BY exited_at - entered_at) AS p50,
			   percentile_cont(0.9) WITHIN GROUP (ORDER BY exited_at - entered_at) AS p90
		  FROM hd.spans GROUP BY grp) e USING (grp);
SELECT * FROM hd.spans_check;
SET work_mem = '64kB';
SELECT * FROM hd.spans_check;
RESET work_mem;
-- one visit; none (NULL)
SELECT pipeline._visit_time_stats(timestamptz '2026-01-01', timestamptz '2026-01-02 03:00') AS one,
	   pipeline._visit_time_stats(NULL, NULL) AS none;

-- History rows written by hand carry no derived values; attach fills them.
INSERT INTO hd.deals_stage_history (id, from_stage, to_stage, changed_at)
SELECT d.id, d.stage, 'negotiation', clock_timestamp() FROM hd.deals d WHERE d.id % 50 = 1;
UPDATE hd.deals SET stage = 'negotiation' WHERE id % 50 = 1;
SELECT from_entered_at_mismatches > 0 AS hand_rows_differ FROM hd.derived_check WHERE history = 'deals';
SELECT pipeline.attach('hd.deals', ruleset => 'lenient');
SELECT history, from_entered_at_mismatches, furthest_before_mismatches FROM hd.derived_check WHERE history = 'deals';
SELECT hd.funnel_mismatches('hd.deals', 'hd.deals_stage_history', 'hd.deals_funnel') AS funnel_mismatches;

-- Filling them runs as the history's owner: the history table's own
-- triggers never run with the rights of whoever runs attach or the upgrade.
CREATE ROLE regress_hd_owner;
GRANT USAGE ON SCHEMA hd TO regress_hd_owner;
CREATE TABLE hd.owned (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
CREATE TABLE hd.owned_stage_history (id int NOT NULL, from_stage pipeline.stage, to_stage pipeline.stage,
	changed_at timestamptz NOT NULL, changed_by name NOT NULL, seq bigint NOT NULL, PRIMARY KEY (id, seq));
INSERT INTO hd.owned_stage_history VALUES (1, NULL, 'lead_generation', '2026-01-01', 'x', 1),
	(1, 'lead_generation', 'prospecting', '2026-01-03', 'x', 2);
CREATE TABLE hd.who (role name);
GRANT INSERT ON hd.who TO regress_hd_owner;
CREATE FUNCTION hd.note_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO hd.who VALUES (current_user);
	RETURN NEW;
END
$$;
CREATE TRIGGER note_user BEFORE UPDATE ON hd.owned_stage_history FOR EACH ROW EXECUTE FUNCTION hd.note_user();
ALTER TABLE hd.owned OWNER TO regress_hd_owner;
ALTER TABLE hd.owned_stage_history OWNER TO regress_hd_owner;
SELECT pipeline._history_derived_columns('hd.owned', 'hd.owned_stage_history');
SELECT role, count(*) FROM hd.who GROUP BY role;
SELECT current_user = session_user AS caller_restored;
SELECT id, from_stage, to_stage, changed_at - from_entered_at AS visit, furthest_before
  FROM hd.owned_stage_history ORDER BY seq;

-- The writer's lookup of a key's latest row stays a step on the primary
-- key as the history grows, even when its plan was first made while the
-- table was known to be empty (analyzed empty): a bulk load into a new
-- history in one statement must not read the whole table once per row.
-- 20,000 created rows, then 20,000 moves, each in one statement, written
-- in batches of 8,192: only the first batch's lookups (planned over the
-- empty table) may scan it, the later ones use the index (unfixed, every
-- lookup scanned: 40,000).  The counts are this transaction's own
-- (pg_stat_xact_*).
CREATE TABLE hd.bulk (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('hd.bulk', ruleset => 'lenient');
ANALYZE hd.bulk_stage_history;
BEGIN;
INSERT INTO hd.bulk SELECT i, 'lead_generation' FROM generate_series(1, 20000) AS i;
UPDATE hd.bulk SET stage = 'prospecting';
SELECT n_tup_ins AS history_rows, seq_scan < 10000 AS about_the_first_batch_scanned,
	   idx_scan >= 40000 - 10000 AS the_rest_by_index
  FROM pg_stat_xact_user_tables WHERE relid = 'hd.bulk_stage_history'::regclass;
COMMIT;

DROP SCHEMA hd CASCADE;
DROP ROLE regress_hd_owner;
