-- Metrics as of any date, against independent plain SQL over a random
-- history: <prefix>_stage_at(as_of) (serial and parallel), <prefix>_cycles,
-- stage_win_probabilities and calibrate_probabilities; deletions, rows
-- created after as_of, ties in changed_at broken by seq.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

CREATE SCHEMA ao;
CREATE TABLE ao.deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL, entered_at timestamptz, amount numeric);

-- A random history under the lenient rules: 400 deals, each a walk of up
-- to 8 moves chosen among pipeline.next_stages(), a few hours to days apart.
SELECT setseed(0.42);
CREATE TABLE ao.events (id int, to_stage pipeline.stage, changed_at timestamptz);
DO $$
DECLARE
	i int;
	s pipeline.stage;
	t timestamptz;
	nxt pipeline.stage[];
	m int;
BEGIN
	FOR i IN 1 .. 400 LOOP
		s := CASE WHEN random() < 0.5 THEN 'lead_generation' ELSE 'prospecting' END;
		t := timestamptz '2025-01-01' + random() * interval '300 days';
		INSERT INTO ao.events VALUES (i, s, t);
		FOR m IN 1 .. (random() * 8)::int LOOP
			nxt := pipeline.next_stages(s, 'lenient');
			EXIT WHEN cardinality(nxt) = 0;
			s := nxt[1 + floor(random() * cardinality(nxt))::int];
			t := t + random() * interval '20 days' + interval '1 minute';
			INSERT INTO ao.events VALUES (i, s, t);
		END LOOP;
		INSERT INTO ao.deals VALUES (i, s, NULL, round((random() * 1000)::numeric, 2));
	END LOOP;
END
$$;
SELECT pipeline.attach('ao.deals', ruleset => 'lenient', history_from => 'ao.events',
                       entered_at_column => 'entered_at');
-- deletions (dated now), and rows created after every as_of below
DELETE FROM ao.deals WHERE id % 17 = 0;
INSERT INTO ao.deals (id, stage, amount) VALUES (1001, 'lead_generation', 5), (1002, 'prospecting', 7);
-- two history rows of one key at the same instant: seq decides the last
INSERT INTO ao.deals_stage_history (id, from_stage, to_stage, changed_at, changed_by)
VALUES (1, NULL::pipeline.stage, 'lead_generation'::pipeline.stage, '2024-06-01'::timestamptz, 'tie'::name),
       (1, 'lead_generation', 'prospecting', '2024-06-01', 'tie');
SELECT count(*) AS history_rows, count(*) FILTER (WHERE to_stage IS NULL) AS deletions FROM ao.deals_stage_history;

-- The independent answer: the latest history row per key before as_of
-- (ties by seq), kept unless it is a deletion, with the furthest stage that
-- is not closed_lost (pipeline.stage's only lost stage).
CREATE FUNCTION ao.expected_stage_at(as_of timestamptz)
	RETURNS TABLE (id int, stage pipeline.stage, entered_at timestamptz, furthest_stage pipeline.stage)
	LANGUAGE sql AS $$
	SELECT l.id, l.to_stage, l.changed_at, f.furthest
	  FROM (SELECT DISTINCT ON (h.id) h.id, h.to_stage, h.changed_at
	          FROM ao.deals_stage_history h WHERE h.changed_at < as_of
	         ORDER BY h.id, h.changed_at DESC, h.seq DESC) l
	  JOIN (SELECT h.id, max(h.to_stage) FILTER (WHERE h.to_stage <> 'closed_lost') AS furthest
	          FROM ao.deals_stage_history h WHERE h.changed_at < as_of GROUP BY h.id) f USING (id)
	 WHERE l.to_stage IS NOT NULL
$$;
CREATE TABLE ao.dates (as_of timestamptz);
INSERT INTO ao.dates VALUES ('2024-06-01'), ('2024-06-02'), ('2025-03-31'), ('2025-06-30'),
                            ('2025-12-31'), (now() + interval '1 day');

SELECT d.as_of < now() AS in_the_past,
       (SELECT count(*) FROM ao.deals_stage_at(d.as_of)) AS rows,
       (SELECT count(*) FROM ((SELECT * FROM ao.deals_stage_at(d.as_of) EXCEPT ALL SELECT * FROM ao.expected_stage_at(d.as_of))
                        UNION ALL (SELECT * FROM ao.expected_stage_at(d.as_of) EXCEPT ALL SELECT * FROM ao.deals_stage_at(d.as_of))) x) AS mismatches
  FROM ao.dates d ORDER BY d.as_of;
-- the tie: key 1 was in prospecting at the start of 2024-06-02
SELECT id, stage, entered_at, furthest_stage FROM ao.deals_stage_at('2024-06-02');
-- now (after the deletions): exactly the rows in the table with history
SELECT (SELECT count(*) FROM ao.deals_stage_at(now() + interval '1 day')) AS stage_at_rows,
       (SELECT count(*) FROM ao.deals) AS table_rows;
-- the aggregates run on it
SELECT pipeline.win_rate(stage) = (SELECT pipeline.win_rate(stage) FROM ao.expected_stage_at('2025-06-30')) AS same_win_rate,
       pipeline.funnel(furthest_stage) = (SELECT pipeline.funnel(furthest_stage) FROM ao.expected_stage_at('2025-06-30')) AS same_funnel
  FROM ao.deals_stage_at('2025-06-30');
SELECT stage, count(*) FROM ao.deals_stage_at('2025-06-30') GROUP BY stage ORDER BY stage;

-- in parallel (partial aggregation of pipeline._last_stage), the same
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT * FROM ao.deals_stage_at('2025-06-30');
SELECT count(*) AS parallel_mismatches
  FROM ((SELECT * FROM ao.deals_stage_at('2025-06-30') EXCEPT ALL SELECT * FROM ao.expected_stage_at('2025-06-30'))
        UNION ALL (SELECT * FROM ao.expected_stage_at('2025-06-30') EXCEPT ALL SELECT * FROM ao.deals_stage_at('2025-06-30'))) x;
-- few groups over enough rows: partial aggregation, so the combine,
-- serialize and deserialize functions are used (ties in changed_at too)
CREATE TABLE ao.big AS
SELECT i % 5 AS g, (enum_range(NULL::pipeline.stage))[1 + (i * 7) % 9] AS to_stage,
       CASE WHEN i % 11 = 0 THEN NULL ELSE timestamptz '2025-01-01' + ((i * 7919) % 50000) * interval '1 minute' END AS changed_at,
       i::bigint AS seq
  FROM generate_series(1, 200000) i;
UPDATE ao.big SET to_stage = NULL WHERE seq % 13 = 0;
ANALYZE ao.big;
EXPLAIN (COSTS OFF) SELECT g, pipeline._last_stage(to_stage, changed_at, seq) FROM ao.big GROUP BY g;
SELECT count(*) AS combine_mismatches, count(*) FILTER (WHERE p.s IS NULL) AS deletions_last
  FROM (SELECT g, pipeline._last_stage(to_stage, changed_at, seq) AS s FROM ao.big GROUP BY g) p
  JOIN (SELECT DISTINCT ON (g) g, to_stage AS s FROM ao.big WHERE changed_at IS NOT NULL
         ORDER BY g, changed_at DESC, seq DESC) e USING (g)
 WHERE p.s IS DISTINCT FROM e.s;
SELECT count(*) AS groups FROM (SELECT DISTINCT g FROM ao.big) x;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- Rotting and time in stage as of a date (docs/metrics.md): from stage_at
SELECT count(*) AS rotting_proposals_at_mid_2025
  FROM ao.deals_stage_at('2025-06-30') s
 WHERE s.stage = 'proposal' AND timestamptz '2025-06-30' - s.entered_at > interval '10 days';

-- ---------------------------------------------------------------------------
-- Cycles
-- ---------------------------------------------------------------------------
SELECT count(*) AS cycle_mismatches
  FROM ao.deals d
  JOIN ao.deals_cycles c USING (id)
  CROSS JOIN LATERAL (
	SELECT min(h.changed_at) AS created_at,
	       CASE WHEN d.stage IN ('closed_won', 'follow_up', 'closed_lost') THEN
	            max(h.changed_at) FILTER (WHERE h.to_stage IN ('closed_won', 'follow_up', 'closed_lost')
	                                        AND (h.from_stage IS NULL
	                                             OR h.from_stage NOT IN ('closed_won', 'follow_up', 'closed_lost'))) END AS closed_at
	  FROM ao.deals_stage_history h WHERE h.id = d.id) e
 WHERE (c.created_at, c.closed_at, c.outcome, c.cycle_time, c.cycle_days)
       IS DISTINCT FROM
       (e.created_at, e.closed_at,
        CASE WHEN d.stage IN ('closed_won', 'follow_up') THEN 'won' WHEN d.stage = 'closed_lost' THEN 'lost' END,
        justify_hours(e.closed_at - e.created_at),
        (extract(epoch FROM e.closed_at - e.created_at) / 86400)::float8);
SELECT (SELECT count(*) FROM ao.deals_cycles) AS cycle_rows, (SELECT count(*) FROM ao.deals) AS table_rows;
SELECT outcome, count(*) AS deals, round(avg(cycle_days)::numeric, 1) > 0 AS positive_mean_days
  FROM ao.deals_cycles GROUP BY outcome ORDER BY outcome NULLS LAST;
-- sales velocity (docs/metrics.md): open deals x average won amount x win rate / average cycle days
SELECT round((SELECT count(*) FROM ao.deals WHERE pipeline.stage_kind(stage) = 'open')
             * (SELECT avg(d.amount) FROM ao.deals d JOIN ao.deals_cycles c USING (id) WHERE c.outcome = 'won')
             * (SELECT pipeline.win_rate(stage) FROM ao.deals)::numeric
             / (SELECT avg(cycle_days) FROM ao.deals_cycles WHERE outcome IS NOT NULL)::numeric, 2) > 0 AS velocity_computed;

-- ---------------------------------------------------------------------------
-- Probabilities learned from history
-- ---------------------------------------------------------------------------
CREATE FUNCTION ao.expected_probabilities(since timestamptz)
	RETURNS TABLE (stage text, ordinal integer, reached bigint, won bigint, probability numeric)
	LANGUAGE sql AS $$
	WITH closed AS (
		SELECT d.stage IN ('closed_won', 'follow_up') AS is_won,
		       (SELECT max(h.to_stage) FILTER (WHERE h.to_stage <> 'closed_lost')
		          FROM ao.deals_stage_history h WHERE h.id = d.id) AS furthest
		  FROM ao.deals d
		 WHERE d.stage IN ('closed_won', 'follow_up', 'closed_lost')
		   AND (since IS NULL OR (SELECT min(h.changed_at) FROM ao.deals_stage_history h WHERE h.id = d.id) >= since))
	SELECT s.label, s.ord, count(*) FILTER (WHERE c.furthest >= x.st),
	       count(*) FILTER (WHERE c.furthest >= x.st AND c.is_won),
	       round((count(*) FILTER (WHERE c.furthest >= x.st AND c.is_won))::numeric
	             / nullif(count(*) FILTER (WHERE c.furthest >= x.st), 0), 4)
	  FROM (VALUES ('lead_generation', 1), ('prospecting', 2), ('qualification', 3),
	               ('initial_contact', 4), ('proposal', 5), ('negotiation', 6)) AS s(label, ord)
	 CROSS JOIN LATERAL (SELECT s.label::pipeline.stage AS st) x
	  LEFT JOIN closed c ON true
	 GROUP BY s.label, s.ord, x.st
$$;
SELECT * FROM pipeline.stage_win_probabilities('ao.deals');
SELECT count(*) AS probability_mismatches
  FROM ((SELECT * FROM pipeline.stage_win_probabilities('ao.deals') EXCEPT ALL SELECT * FROM ao.expected_probabilities(NULL))
        UNION ALL (SELECT * FROM ao.expected_probabilities(NULL) EXCEPT ALL SELECT * FROM pipeline.stage_win_probabilities('ao.deals'))) x;
SELECT count(*) AS since_mismatches
  FROM ((SELECT * FROM pipeline.stage_win_probabilities('ao.deals', '2025-06-01') EXCEPT ALL SELECT * FROM ao.expected_probabilities('2025-06-01'))
        UNION ALL (SELECT * FROM ao.expected_probabilities('2025-06-01') EXCEPT ALL SELECT * FROM pipeline.stage_win_probabilities('ao.deals', '2025-06-01'))) x;
-- nothing closed since then: reached 0 everywhere, probability NULL (never 0 or an error)
SELECT stage, reached, won, probability FROM pipeline.stage_win_probabilities('ao.deals', '2030-01-01') LIMIT 2;
-- not attached: 42704
SELECT * FROM pipeline.stage_win_probabilities('ao.events');
\echo SQLSTATE :SQLSTATE

-- calibrate: applies where enough rows reached the stage, for the whole type
SELECT stage, reached >= 160 AS enough, applied,
       NOT applied OR pipeline.stage_probability(stage::pipeline.stage) = probability AS set_to_learned
  FROM pipeline.calibrate_probabilities('ao.deals', min_reached => 160) ORDER BY ordinal;
SELECT stage, probability FROM pipeline.stage_catalog WHERE stage_type = 'pipeline.stage' AND kind = 'open' ORDER BY ordinal;
SELECT pipeline.set_probability('pipeline.stage', s, NULL)
  FROM unnest('{lead_generation,prospecting,qualification,initial_contact,proposal,negotiation}'::text[]) s;

-- detach drops the per-table objects; the history stays
SELECT pipeline.detach('ao.deals');
SELECT to_regprocedure('ao.deals_stage_at(timestamptz)') AS stage_at, to_regclass('ao.deals_cycles') AS cycles,
       to_regclass('ao.deals_stage_history') IS NOT NULL AS history_kept;

SET client_min_messages = warning;
DROP SCHEMA ao CASCADE;
RESET client_min_messages;
