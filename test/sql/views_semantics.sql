-- History views: semantics checked against answers computed independently
-- (correlated subqueries and the literal "reached" rule, over
-- pipeline.stage_catalog) on seeded random histories.  Each check prints
-- its mismatch count over every row, then, for a reader's eye, a small
-- table of a few chosen keys or every stage with the view's answer (got)
-- beside the independent one (want).  The history tables have exactly
-- attach's shape, deletion rows (to_stage NULL) included; a row's history
-- is ordered by (changed_at, seq), and one table's seq is scrambled to show it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

CREATE SCHEMA regress_vs;
-- A composite key, an amount column, the built-in type.
CREATE TABLE regress_vs.deals (region text, id integer, stage pipeline.stage NOT NULL, amount numeric,
	PRIMARY KEY (region, id));
CREATE TABLE regress_vs.deals_stage_history (region text NOT NULL, id integer NOT NULL,
	from_stage pipeline.stage, to_stage pipeline.stage,
	changed_at timestamptz NOT NULL, changed_by name NOT NULL, seq bigint NOT NULL);
-- A custom type with a lost stage between open ones, column "status", no amount.
CREATE TYPE regress_vs.flow AS ENUM ('new', 'trial', 'dropped', 'review', 'paid', 'renewed', 'churned');
SELECT pipeline.define_stages('regress_vs.flow', won => '{paid,renewed}', lost => '{dropped,churned}');
CREATE TABLE regress_vs.subs (id bigint PRIMARY KEY, status regress_vs.flow NOT NULL);
CREATE TABLE regress_vs.subs_status_stage_history (id bigint NOT NULL,
	from_stage regress_vs.flow, to_stage regress_vs.flow,
	changed_at timestamptz NOT NULL, changed_by name NOT NULL, seq bigint NOT NULL);

-- Random walks: forward one stage, sometimes skip one, lose at any open
-- stage, win after the last open stage, sometimes reopen a lost row; ~10% of
-- rows are deleted afterwards (history kept).  seq follows changed_at across
-- all rows, so keys interleave.
CREATE FUNCTION regress_vs.walks(p_type regtype, n integer, seed float8)
	RETURNS TABLE (k integer, step integer, from_ord integer, to_ord integer, at timestamptz, deleted boolean, amount numeric)
	LANGUAGE plpgsql AS $$
DECLARE
	ords	integer[];
	kinds	text[];
	open_o	integer[];
	won_o	integer[];
	lost_o	integer[];
	cur		integer;
	prev	integer;
	t		timestamptz;
	r		float8;
BEGIN
	PERFORM setseed(seed);
	SELECT array_agg(c.ordinal ORDER BY c.ordinal) FILTER (WHERE c.kind = 'open'),
		   array_agg(c.ordinal ORDER BY c.ordinal) FILTER (WHERE c.kind = 'won'),
		   array_agg(c.ordinal ORDER BY c.ordinal) FILTER (WHERE c.kind = 'lost')
	  INTO open_o, won_o, lost_o
	  FROM pipeline.stage_catalog c WHERE to_regtype(c.stage_type) = p_type;
	FOR i IN 1 .. n LOOP
		k := i;
		deleted := random() < 0.1;
		amount := CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 10000)::numeric, 2) END;
		t := timestamptz '2026-01-01 00:00+00' + random() * interval '60 days';
		cur := open_o[1 + (random() < 0.4)::integer];
		step := 1; from_ord := NULL; to_ord := cur; at := t;
		RETURN NEXT;
		LOOP
			r := random();
			EXIT WHEN r < 0.15;
			prev := cur;
			IF cur = ANY (open_o) THEN
				IF r < 0.35 THEN
					cur := lost_o[1 + floor(random() * cardinality(lost_o))::integer];
				ELSIF cur = open_o[cardinality(open_o)] THEN
					cur := won_o[1];
				ELSIF r < 0.45 AND array_position(open_o, cur) + 2 <= cardinality(open_o) THEN
					cur := open_o[array_position(open_o, cur) + 2];
				ELSE
					cur := open_o[array_position(open_o, cur) + 1];
				END IF;
			ELSIF cur = ANY (won_o) THEN
				EXIT WHEN cur = won_o[cardinality(won_o)];
				cur := won_o[array_position(won_o, cur) + 1];
			ELSE
				EXIT WHEN r < 0.75;
				cur := open_o[1 + floor(random() * cardinality(open_o))::integer];
			END IF;
			t := t + random() * interval '20 days';
			step := step + 1; from_ord := prev; to_ord := cur; at := t;
			RETURN NEXT;
		END LOOP;
	END LOOP;
END
$$;

CREATE TABLE regress_vs.w1 AS SELECT * FROM regress_vs.walks('pipeline.stage', 600, 0.25);
CREATE TABLE regress_vs.w2 AS SELECT * FROM regress_vs.walks('regress_vs.flow', 400, -0.5);
CREATE FUNCTION regress_vs.label(p_type regtype, p_ord integer) RETURNS text
	LANGUAGE sql STABLE AS $$
	SELECT c.stage FROM pipeline.stage_catalog c WHERE to_regtype(c.stage_type) = p_type AND c.ordinal = p_ord
$$;

INSERT INTO regress_vs.deals_stage_history
SELECT 'r' || (w.k % 3), w.k, regress_vs.label('pipeline.stage', w.from_ord)::pipeline.stage,
	   regress_vs.label('pipeline.stage', w.to_ord)::pipeline.stage, w.at, current_user,
	   row_number() OVER (ORDER BY w.at, w.k)
  FROM regress_vs.w1 w;
-- Half the deleted rows have a deletion row (as 1.1 records them), a few
-- days after their last move; the others were deleted before that.
INSERT INTO regress_vs.deals_stage_history
SELECT DISTINCT ON (w.k) 'r' || (w.k % 3), w.k, regress_vs.label('pipeline.stage', w.to_ord)::pipeline.stage,
	   NULL, w.at + (w.k % 7 + 1) * interval '11 hours', current_user, 100000 + w.k
  FROM regress_vs.w1 w WHERE w.deleted AND w.k % 2 = 0 ORDER BY w.k, w.step DESC;
INSERT INTO regress_vs.deals
SELECT DISTINCT ON (w.k) 'r' || (w.k % 3), w.k, regress_vs.label('pipeline.stage', w.to_ord)::pipeline.stage, w.amount
  FROM regress_vs.w1 w WHERE NOT w.deleted ORDER BY w.k, w.step DESC;
-- seq in no particular order: only changed_at orders this history.
INSERT INTO regress_vs.subs_status_stage_history
SELECT w.k, regress_vs.label('regress_vs.flow', w.from_ord)::regress_vs.flow,
	   regress_vs.label('regress_vs.flow', w.to_ord)::regress_vs.flow, w.at, current_user,
	   row_number() OVER (ORDER BY md5(w.k || ':' || w.step))
  FROM regress_vs.w2 w;
INSERT INTO regress_vs.subs_status_stage_history
SELECT DISTINCT ON (w.k) w.k, regress_vs.label('regress_vs.flow', w.to_ord)::regress_vs.flow,
	   NULL, w.at + interval '2 days', current_user, 100000 + w.k
  FROM regress_vs.w2 w WHERE w.deleted AND w.k % 2 = 1 ORDER BY w.k, w.step DESC;
INSERT INTO regress_vs.subs
SELECT DISTINCT ON (w.k) w.k, regress_vs.label('regress_vs.flow', w.to_ord)::regress_vs.flow
  FROM regress_vs.w2 w WHERE NOT w.deleted ORDER BY w.k, w.step DESC;

-- attach makes this primary key; the independent answers below use it.
ALTER TABLE regress_vs.deals_stage_history ADD PRIMARY KEY (region, id, seq);
ALTER TABLE regress_vs.subs_status_stage_history ADD PRIMARY KEY (id, seq);
ANALYZE regress_vs.deals_stage_history, regress_vs.subs_status_stage_history, regress_vs.deals, regress_vs.subs;

-- The histories are varied enough to test something.
SELECT count(DISTINCT k) > 500 AS many_rows,
	   count(*) FILTER (WHERE regress_vs.label('pipeline.stage', to_ord) = 'closed_lost') > 50 AS lost_rows,
	   count(DISTINCT from_ord) FILTER (WHERE regress_vs.label('pipeline.stage', to_ord) = 'closed_lost') = 6 AS lost_from_every_open_stage,
	   count(*) FILTER (WHERE to_ord - from_ord = 2) > 10 AS skips,
	   count(*) FILTER (WHERE regress_vs.label('pipeline.stage', from_ord) = 'closed_lost') > 5 AS reopened,
	   count(*) FILTER (WHERE regress_vs.label('pipeline.stage', to_ord) = 'follow_up') > 5 AS follow_ups,
	   count(DISTINCT k) FILTER (WHERE deleted) > 20 AS deleted_rows,
	   (SELECT count(*) FROM regress_vs.deals_stage_history WHERE to_stage IS NULL) > 10 AS deletion_rows,
	   (SELECT count(*) FROM regress_vs.subs_status_stage_history h
		 WHERE EXISTS (SELECT FROM regress_vs.subs_status_stage_history n
						WHERE n.id = h.id AND n.changed_at > h.changed_at AND n.seq < h.seq)) > 100 AS seq_out_of_time_order
  FROM regress_vs.w1;

-- written by hand: the derived columns as attach adds and fills them
SELECT pipeline._history_derived_columns('regress_vs.deals', 'regress_vs.deals_stage_history');
SELECT pipeline._history_derived_columns('regress_vs.subs', 'regress_vs.subs_status_stage_history');
SELECT pipeline._create_history_views('regress_vs.deals', 'stage', 'regress_vs.deals_stage_history');
SELECT pipeline._create_history_views('regress_vs.subs', 'status', 'regress_vs.subs_status_stage_history');
SELECT pipeline.set_rotting_after('pipeline.stage', 'proposal', '10 days');
SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', '200 days');
SELECT pipeline.set_rotting_after('pipeline.stage', 'closed_won', '1 day');
SELECT pipeline.set_rotting_after('regress_vs.flow', 'trial', '30 days');

-- A label added after the views were made is a stage of the funnel.
ALTER TYPE regress_vs.flow ADD VALUE 'pilot' BEFORE 'review';
-- The metadata, copied once for the independent answers.
CREATE TABLE regress_vs.cat AS SELECT * FROM pipeline.stage_catalog;

-- Independent answers, as views written once per target below; each check
-- prints its mismatch count, then a few rows of view and answer side by side.

-- Visits: one per history row into a stage, ended by the next history row
-- of the same key in (changed_at, seq) order -- a move or a deletion --
-- found by subquery.
CREATE VIEW regress_vs.expected_deal_visits AS
SELECT h.region, h.id, h.to_stage::text AS stage, c.ordinal, h.changed_at AS entered_at,
	   n.changed_at AS exited_at, n.seq IS NOT NULL AND n.to_stage IS NULL AS ended_by_deletion,
	   EXISTS (SELECT FROM regress_vs.deals d WHERE d.region = h.region AND d.id = h.id) AS row_exists
  FROM regress_vs.deals_stage_history h
  JOIN regress_vs.cat c ON c.stage_type = 'pipeline.stage' AND c.stage = h.to_stage::text
  LEFT JOIN LATERAL (SELECT n.changed_at, n.seq, n.to_stage FROM regress_vs.deals_stage_history n
					  WHERE n.region = h.region AND n.id = h.id AND (n.changed_at, n.seq) > (h.changed_at, h.seq)
					  ORDER BY n.changed_at, n.seq LIMIT 1) n ON true;

CREATE VIEW regress_vs.expected_deal_visit_times AS
	SELECT region, id, stage, ordinal, entered_at, exited_at,
		   CASE WHEN exited_at IS NOT NULL THEN exited_at - entered_at
				WHEN row_exists THEN now() - entered_at END AS time_in_stage,
		   exited_at IS NULL AND row_exists AS is_current
	  FROM regress_vs.expected_deal_visits;
SELECT count(*) AS visit_mismatches,
	   count(*) FILTER (WHERE e.id IS NULL) AS extra_in_view,
	   count(*) FILTER (WHERE v.id IS NULL) AS missing_from_view
  FROM regress_vs.expected_deal_visit_times e FULL JOIN regress_vs.deals_stage_visits v
	ON (v.region, v.id, v.entered_at, v.stage) = (e.region, e.id, e.entered_at, e.stage)
 WHERE e.id IS NULL OR v.id IS NULL
	OR (v.ordinal, v.exited_at, v.time_in_stage, v.is_current)
	   IS DISTINCT FROM (e.ordinal, e.exited_at, e.time_in_stage, e.is_current);
-- For a reader's eye: a row deleted after three visits (a deletion row ends
-- the last) and a row still in the table (its last visit is current; the
-- running time of a current visit depends on now(), so it is left out).
SELECT region, id, stage, entered_at, v.exited_at AS exited_got, e.exited_at AS exited_want,
	   v.is_current AS current_got, e.is_current AS current_want,
	   CASE WHEN v.exited_at IS NOT NULL THEN v.time_in_stage END AS time_got,
	   CASE WHEN e.exited_at IS NOT NULL THEN e.time_in_stage END AS time_want
  FROM regress_vs.expected_deal_visit_times e FULL JOIN regress_vs.deals_stage_visits v USING (region, id, entered_at, stage)
 WHERE (region, id) IN (('r1', 4), ('r0', 3)) ORDER BY id, entered_at;
SELECT count(*) = (SELECT count(*) FROM regress_vs.deals_stage_history WHERE to_stage IS NOT NULL) AS one_visit_per_history_row,
	   count(*) FILTER (WHERE is_current) = (SELECT count(*) FROM regress_vs.deals) AS one_current_visit_per_row,
	   count(*) FILTER (WHERE time_in_stage < interval '0') AS negative_times,
	   count(*) FILTER (WHERE stage IS NULL) AS deletion_visits,
	   (SELECT count(*) FROM regress_vs.expected_deal_visits WHERE ended_by_deletion) > 10 AS visits_ended_by_deletion
  FROM regress_vs.deals_stage_visits;
-- Days: the time in the stage in days, from the epochs of its ends.
SELECT count(*) FILTER (WHERE (v.time_in_stage IS NULL) <> (v.time_in_stage_days IS NULL)
							 OR abs(v.time_in_stage_days
									- (extract(epoch FROM coalesce(v.exited_at, greatest(now(), v.entered_at)))
									   - extract(epoch FROM v.entered_at)) / 86400) > 1e-9) AS visit_day_mismatches,
	   count(*) FILTER (WHERE v.time_in_stage_days > 0) > 1000 AS many_days_checked
  FROM regress_vs.deals_stage_visits v;
-- the same rows' ended visits, to six places
SELECT region, id, stage, time_in_stage, round(time_in_stage_days::numeric, 6) AS days_got,
	   round((extract(epoch FROM exited_at) - extract(epoch FROM entered_at)) / 86400, 6) AS days_want
  FROM regress_vs.deals_stage_visits
 WHERE (region, id) IN (('r1', 4), ('r0', 3)) AND exited_at IS NOT NULL ORDER BY id, entered_at;

-- Durations: completed visits (left for another stage, not deleted)
-- grouped by stage; intervals justified (compared as text, since interval
-- equality ignores the carry), days from the epochs of each visit's ends.
CREATE VIEW regress_vs.expected_deal_durations AS
	SELECT stage, ordinal, count(*) AS visits, avg(exited_at - entered_at) AS avg_time,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY exited_at - entered_at) AS median_time,
		   percentile_cont(0.9) WITHIN GROUP (ORDER BY exited_at - entered_at) AS p90_time,
		   avg(x.days) AS avg_days,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY x.days) AS median_days,
		   percentile_cont(0.9) WITHIN GROUP (ORDER BY x.days) AS p90_days
	  FROM regress_vs.expected_deal_visits,
		   LATERAL (SELECT (extract(epoch FROM exited_at) - extract(epoch FROM entered_at))::float8 / 86400 AS days) x
	 WHERE exited_at IS NOT NULL AND NOT ended_by_deletion GROUP BY stage, ordinal;
SELECT count(*) AS duration_mismatches,
	   count(*) FILTER (WHERE e.avg_time::text <> d.avg_time::text) AS unjustified_in_view,
	   (SELECT count(*) FROM regress_vs.expected_deal_durations e
		 WHERE e.avg_time::text <> justify_hours(e.avg_time)::text) > 0 AS avg_needs_justifying
  FROM regress_vs.expected_deal_durations e FULL JOIN regress_vs.deals_stage_durations d USING (stage)
 WHERE (e.ordinal, e.visits, e.avg_time, e.median_time, e.p90_time)
	   IS DISTINCT FROM (d.ordinal, d.visits, d.avg_time, d.median_time, d.p90_time)
	OR (justify_hours(e.avg_time)::text, justify_hours(e.median_time)::text, justify_hours(e.p90_time)::text)
	   IS DISTINCT FROM (d.avg_time::text, d.median_time::text, d.p90_time::text)
	OR abs(e.avg_days - d.avg_days) > 1e-9 OR abs(e.median_days - d.median_days) > 1e-9
	OR abs(e.p90_days - d.p90_days) > 1e-9
	OR d.avg_days IS NULL OR d.median_days IS NULL OR d.p90_days IS NULL;
-- For a reader's eye: every stage (want justified, days to six places).
SELECT stage, d.visits AS visits_got, e.visits AS visits_want, d.avg_time AS avg_got, justify_hours(e.avg_time) AS avg_want,
	   d.median_time AS median_got, justify_hours(e.median_time) AS median_want,
	   round(d.avg_days::numeric, 6) AS avg_days_got, round(e.avg_days::numeric, 6) AS avg_days_want
  FROM regress_vs.expected_deal_durations e FULL JOIN regress_vs.deals_stage_durations d USING (stage)
 ORDER BY coalesce(e.ordinal, d.ordinal);
SELECT count(*) AS hours_of_a_day_or_more FROM regress_vs.deals_stage_durations
 WHERE extract(hour FROM avg_time) >= 24 OR extract(hour FROM median_time) >= 24 OR extract(hour FROM p90_time) >= 24;

-- Rotting: the row's stage equals its latest history row's, which began
-- longer ago than the stage's threshold (read from pipeline.stage_settings).
CREATE VIEW regress_vs.expected_deal_rotting AS
WITH last AS (
	SELECT DISTINCT ON (h.region, h.id) h.* FROM regress_vs.deals_stage_history h
	 ORDER BY h.region, h.id, h.changed_at DESC, h.seq DESC),
e AS (
	SELECT d.region, d.id, d.stage::text AS stage, l.changed_at AS entered_at, now() - l.changed_at AS time_in_stage,
		   (extract(epoch FROM now()) - extract(epoch FROM l.changed_at))::float8 / 86400 AS time_in_stage_days,
		   s.rotting_after, extract(epoch FROM s.rotting_after)::float8 / 86400 AS rotting_after_days
	  FROM regress_vs.deals d
	  JOIN last l ON l.region = d.region AND l.id = d.id AND l.to_stage = d.stage
	  JOIN pipeline.stage_settings s ON s.stage_type = 'pipeline.stage'::regtype AND s.stage = d.stage::text
	 WHERE now() - l.changed_at > s.rotting_after)
SELECT * FROM e;
SELECT count(*) AS rotting_mismatches, (SELECT count(*) > 10 FROM regress_vs.expected_deal_rotting) AS some_rotting,
	   (SELECT count(DISTINCT stage) = 3 FROM regress_vs.expected_deal_rotting) AS three_rotting_stages
  FROM regress_vs.expected_deal_rotting e FULL JOIN regress_vs.deals_rotting r USING (region, id)
 WHERE (e.stage, e.entered_at, e.time_in_stage, e.rotting_after)
	   IS DISTINCT FROM (r.stage, r.entered_at, r.time_in_stage, r.rotting_after)
	OR NOT abs(e.time_in_stage_days - r.time_in_stage_days) < 1e-9
	OR NOT abs(e.rotting_after_days - r.rotting_after_days) < 1e-12;
-- For a reader's eye: the first rows rotting in proposal (10 days) or
-- closed_won (1 day), all entered months ago (the times in stage grow with
-- now(), left out).
SELECT region, id, r.stage AS stage_got, e.stage AS stage_want, r.entered_at AS entered_got, e.entered_at AS entered_want,
	   r.rotting_after AS after_got, e.rotting_after AS after_want
  FROM regress_vs.expected_deal_rotting e FULL JOIN regress_vs.deals_rotting r USING (region, id)
 WHERE coalesce(e.stage, r.stage) IN ('proposal', 'closed_won') ORDER BY id LIMIT 6;
SELECT count(*) AS catalog_day_mismatches
  FROM pipeline.stage_catalog c
 WHERE (c.rotting_after IS NULL) <> (c.rotting_after_days IS NULL)
	OR abs(c.rotting_after_days - extract(epoch FROM c.rotting_after)::float8 / 86400) > 1e-12;
SELECT stage, rotting_after_days FROM pipeline.stage_catalog
 WHERE stage_type = 'pipeline.stage' AND rotting_after IS NOT NULL ORDER BY ordinal;

-- Funnel: a current row reached stage s when some non-lost stage x of its
-- history reached s -- the rule of docs/aggregates.md, spelled out with kinds.
CREATE FUNCTION regress_vs.reached(x_kind text, x_ord integer, s_kind text, s_ord integer) RETURNS boolean
	LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN x_kind = 'lost' THEN false
		WHEN s_kind = 'open' AND x_kind = 'open' THEN s_ord <= x_ord
		WHEN s_kind = 'open' AND x_kind = 'won' THEN true
		WHEN s_kind = 'won' AND x_kind = 'won' THEN s_ord <= x_ord
		ELSE false END
$$;

CREATE VIEW regress_vs.expected_deals_funnel AS
WITH s AS (
	SELECT c.stage, c.ordinal, c.kind, row_number() OVER (ORDER BY c.ordinal) AS pos
	  FROM regress_vs.cat c WHERE c.stage_type = 'pipeline.stage' AND c.kind <> 'lost'),
r AS (
	SELECT s.stage, s.ordinal, s.pos,
		   count(d.id) AS reached, coalesce(sum(d.amount), 0) AS reached_amount
	  FROM s LEFT JOIN regress_vs.deals d
		ON EXISTS (SELECT FROM regress_vs.deals_stage_history h
					 JOIN regress_vs.cat x ON x.stage_type = 'pipeline.stage' AND x.stage = h.to_stage::text
					WHERE h.region = d.region AND h.id = d.id AND regress_vs.reached(x.kind, x.ordinal, s.kind, s.ordinal))
	 GROUP BY s.stage, s.ordinal, s.pos),
e AS (
	SELECT r.stage, r.ordinal, r.reached, r.reached_amount,
		   CASE WHEN r.pos = 1 OR p.reached = 0 THEN NULL ELSE r.reached::float8 / p.reached END AS conversion_from_previous,
		   CASE WHEN f.reached = 0 THEN NULL ELSE r.reached::float8 / f.reached END AS conversion_from_first
	  FROM r LEFT JOIN r p ON p.pos = r.pos - 1 JOIN r f ON f.pos = 1)
SELECT * FROM e;
SELECT count(*) AS funnel_mismatches
  FROM regress_vs.expected_deals_funnel e FULL JOIN regress_vs.deals_funnel v USING (stage)
 WHERE (e.ordinal, e.reached, e.reached_amount, e.conversion_from_previous, e.conversion_from_first)
	   IS DISTINCT FROM (v.ordinal, v.reached, v.reached_amount, v.conversion_from_previous, v.conversion_from_first);
-- For a reader's eye: every stage (conversions to six places).
SELECT stage, v.reached AS reached_got, e.reached AS reached_want, v.reached_amount AS amount_got, e.reached_amount AS amount_want,
	   round(v.conversion_from_previous::numeric, 6) AS from_previous_got, round(e.conversion_from_previous::numeric, 6) AS from_previous_want
  FROM regress_vs.expected_deals_funnel e FULL JOIN regress_vs.deals_funnel v USING (stage) ORDER BY coalesce(e.ordinal, v.ordinal);
-- Sanity of the funnel itself: non-increasing, first stage = rows with any non-lost history.
SELECT bool_and(conversion_from_previous <= 1) AS non_increasing,
	   (SELECT reached FROM regress_vs.deals_funnel WHERE ordinal = 1)
		 = (SELECT count(*) FROM regress_vs.deals d
			 WHERE EXISTS (SELECT FROM regress_vs.deals_stage_history h
							WHERE (h.region, h.id) = (d.region, d.id) AND h.to_stage <> 'closed_lost')) AS first_stage_all_rows
  FROM regress_vs.deals_funnel;

-- The custom type: column "status", lost stage between open ones, a label
-- added after attach, no amount column.
CREATE VIEW regress_vs.expected_subs_funnel AS
WITH s AS (
	SELECT c.stage, c.ordinal, c.kind, row_number() OVER (ORDER BY c.ordinal) AS pos
	  FROM regress_vs.cat c WHERE c.stage_type = 'regress_vs.flow' AND c.kind <> 'lost'),
r AS (
	SELECT s.stage, s.ordinal, s.pos, count(d.id) AS reached
	  FROM s LEFT JOIN regress_vs.subs d
		ON EXISTS (SELECT FROM regress_vs.subs_status_stage_history h
					 JOIN regress_vs.cat x ON x.stage_type = 'regress_vs.flow' AND x.stage = h.to_stage::text
					WHERE h.id = d.id AND regress_vs.reached(x.kind, x.ordinal, s.kind, s.ordinal))
	 GROUP BY s.stage, s.ordinal, s.pos),
e AS (
	SELECT r.stage, r.ordinal, r.reached, NULL::numeric AS reached_amount,
		   CASE WHEN r.pos = 1 OR p.reached = 0 THEN NULL ELSE r.reached::float8 / p.reached END AS conversion_from_previous,
		   CASE WHEN f.reached = 0 THEN NULL ELSE r.reached::float8 / f.reached END AS conversion_from_first
	  FROM r LEFT JOIN r p ON p.pos = r.pos - 1 JOIN r f ON f.pos = 1)
SELECT * FROM e;
SELECT count(*) AS funnel_mismatches,
	   (SELECT array_agg(stage ORDER BY ordinal) FROM regress_vs.subs_status_funnel) AS funnel_stages
  FROM regress_vs.expected_subs_funnel e FULL JOIN regress_vs.subs_status_funnel v USING (stage)
 WHERE (e.ordinal, e.reached, e.reached_amount, e.conversion_from_previous, e.conversion_from_first)
	   IS DISTINCT FROM (v.ordinal, v.reached, v.reached_amount, v.conversion_from_previous, v.conversion_from_first);
-- every stage, the one added after attach too
SELECT stage, v.reached AS reached_got, e.reached AS reached_want, v.reached_amount AS amount_got, e.reached_amount AS amount_want,
	   round(v.conversion_from_previous::numeric, 6) AS from_previous_got, round(e.conversion_from_previous::numeric, 6) AS from_previous_want
  FROM regress_vs.expected_subs_funnel e FULL JOIN regress_vs.subs_status_funnel v USING (stage) ORDER BY coalesce(e.ordinal, v.ordinal);

CREATE VIEW regress_vs.expected_subs_visits AS
	SELECT h.id, h.to_stage::text AS stage, h.changed_at AS entered_at,
		   (SELECT n.changed_at FROM regress_vs.subs_status_stage_history n
			 WHERE n.id = h.id AND (n.changed_at, n.seq) > (h.changed_at, h.seq)
			 ORDER BY n.changed_at, n.seq LIMIT 1) AS exited_at,
		   EXISTS (SELECT FROM regress_vs.subs d WHERE d.id = h.id) AS row_exists
	  FROM regress_vs.subs_status_stage_history h
	 WHERE h.to_stage IS NOT NULL;
SELECT count(*) AS visit_mismatches
  FROM regress_vs.expected_subs_visits e FULL JOIN regress_vs.subs_status_stage_visits v USING (id, entered_at, stage)
 WHERE e.id IS NULL OR v.id IS NULL
	OR (v.exited_at, v.is_current) IS DISTINCT FROM (e.exited_at, e.exited_at IS NULL AND e.row_exists);
-- For a reader's eye: a row reopened after being dropped (18), and one
-- deleted without a deletion row (8: its last visit never ends, and is
-- not current).
SELECT id, stage, entered_at, v.exited_at AS exited_got, e.exited_at AS exited_want,
	   v.is_current AS current_got, e.exited_at IS NULL AND e.row_exists AS current_want
  FROM regress_vs.expected_subs_visits e FULL JOIN regress_vs.subs_status_stage_visits v USING (id, entered_at, stage)
 WHERE id IN (8, 18) ORDER BY id, entered_at;

-- Durations of the history whose seq is scrambled: the next row by
-- changed_at ends a visit; a visit ended by a deletion is not completed.
CREATE VIEW regress_vs.expected_subs_durations AS
WITH v AS (
	SELECT h.to_stage::text AS stage, h.changed_at AS entered_at, n.changed_at AS exited_at
	  FROM regress_vs.subs_status_stage_history h
	  JOIN LATERAL (SELECT n.changed_at, n.to_stage FROM regress_vs.subs_status_stage_history n
					 WHERE n.id = h.id AND (n.changed_at, n.seq) > (h.changed_at, h.seq)
					 ORDER BY n.changed_at, n.seq LIMIT 1) n ON n.to_stage IS NOT NULL
	 WHERE h.to_stage IS NOT NULL),
e AS (
	SELECT stage, count(*) AS visits, avg(exited_at - entered_at) AS avg_time,
		   percentile_cont(0.9) WITHIN GROUP (ORDER BY exited_at - entered_at) AS p90_time,
		   avg((extract(epoch FROM exited_at) - extract(epoch FROM entered_at))::float8 / 86400) AS avg_days
	  FROM v GROUP BY stage)
SELECT * FROM e;
SELECT count(*) AS duration_mismatches
  FROM regress_vs.expected_subs_durations e FULL JOIN regress_vs.subs_status_stage_durations d USING (stage)
 WHERE (e.visits, justify_hours(e.avg_time)::text, justify_hours(e.p90_time)::text)
	   IS DISTINCT FROM (d.visits, d.avg_time::text, d.p90_time::text)
	OR NOT abs(e.avg_days - d.avg_days) < 1e-9;
-- For a reader's eye: every stage (want justified, days to six places).
SELECT stage, d.visits AS visits_got, e.visits AS visits_want, d.avg_time AS avg_got, justify_hours(e.avg_time) AS avg_want,
	   d.p90_time AS p90_got, justify_hours(e.p90_time) AS p90_want,
	   round(d.avg_days::numeric, 6) AS avg_days_got, round(e.avg_days::numeric, 6) AS avg_days_want
  FROM regress_vs.expected_subs_durations e FULL JOIN regress_vs.subs_status_stage_durations d USING (stage)
 ORDER BY d.ordinal, stage;

CREATE VIEW regress_vs.expected_subs_rotting AS
WITH last AS (
	SELECT DISTINCT ON (h.id) h.* FROM regress_vs.subs_status_stage_history h ORDER BY h.id, h.changed_at DESC, h.seq DESC)
		SELECT d.id, l.changed_at AS entered_at FROM regress_vs.subs d JOIN last l ON l.id = d.id AND l.to_stage = d.status
		 WHERE d.status = 'trial' AND now() - l.changed_at > interval '30 days';
SELECT count(*) AS rotting_mismatches, (SELECT count(*) > 0 FROM regress_vs.subs_status_rotting) AS some_rotting
  FROM regress_vs.expected_subs_rotting e
  FULL JOIN regress_vs.subs_status_rotting r USING (id)
 WHERE e.id IS NULL OR r.id IS NULL;
-- For a reader's eye: the first rows rotting in trial (30 days; all
-- entered months ago).
SELECT id, r.entered_at AS entered_got, e.entered_at AS entered_want
  FROM regress_vs.expected_subs_rotting e FULL JOIN regress_vs.subs_status_rotting r USING (id) ORDER BY id LIMIT 5;

-- Thresholds are read when the view is queried.
SELECT pipeline.set_rotting_after('regress_vs.flow', 'trial', NULL);
SELECT count(*) AS rotting_after_reset FROM regress_vs.subs_status_rotting;

SELECT pipeline._drop_history_views('regress_vs.deals', 'stage');
SELECT pipeline._drop_history_views('regress_vs.subs', 'status');
SELECT pipeline.set_rotting_after('pipeline.stage', s, NULL)
  FROM unnest('{proposal,qualification,closed_won}'::text[]) s;
SELECT pipeline.undefine_stages('regress_vs.flow');
SET client_min_messages = warning;
DROP SCHEMA regress_vs CASCADE;
RESET client_min_messages;
