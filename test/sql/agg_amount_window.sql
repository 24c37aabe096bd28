-- Amount aggregates as window functions (moving frames use the inverse
-- transition functions) against the plain-SQL window equivalents.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

SELECT setseed(0.19);
CREATE TABLE amt_win (
	id			integer PRIMARY KEY,
	region		integer,
	week		integer,
	stage		pipeline.stage,
	amount		numeric,
	backlog		numeric,
	sales		numeric,
	booked_at	timestamptz,
	fulfilled_at timestamptz
);
INSERT INTO amt_win
SELECT i, i % 3, i / 3,
	   CASE WHEN random() < 0.1 THEN NULL ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END,
	   CASE WHEN random() < 0.1 THEN NULL
			WHEN random() < 0.03 THEN round((random() - 0.5)::numeric * 1e40, 1)	-- spills
			ELSE round((random() * 2200 - 200)::numeric, floor(random() * 4)::int) END,
	   CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 100)::numeric, floor(random() * 3)::int) END,
	   CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.1 THEN 0 ELSE round((random() * 100)::numeric, 2) END,
	   b, CASE WHEN random() < 0.3 THEN NULL ELSE b + floor(random() * 30) * interval '1 day' END
  FROM (SELECT i, CASE WHEN random() < 0.1 THEN NULL
					   ELSE timestamptz '2024-01-01 00:00+00' + floor(random() * 90) * interval '1 day' END AS b
		  FROM generate_series(1, 1500) i) s;

-- moving frames: ROWS BETWEEN 3 PRECEDING AND CURRENT ROW, per region
CREATE VIEW amt_win_moving AS
		SELECT id,
			   pipeline.backlog_ratio(backlog, sales) OVER w AS br,
			   CASE WHEN count(*) FILTER (WHERE backlog IS NOT NULL AND sales IS NOT NULL) OVER w = 0 THEN NULL
					ELSE sum(backlog) FILTER (WHERE sales IS NOT NULL) OVER w
						 / nullif(sum(sales) FILTER (WHERE backlog IS NOT NULL) OVER w, 0) END AS ref_br,
			   pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-02-01 00:00+00') OVER w AS ba,
			   CASE WHEN count(*) FILTER (WHERE amount IS NOT NULL AND booked_at IS NOT NULL) OVER w = 0 THEN NULL
					ELSE coalesce(sum(amount) FILTER (WHERE booked_at < '2024-02-01 00:00+00'
											  AND (fulfilled_at IS NULL OR fulfilled_at >= '2024-02-01 00:00+00')) OVER w, 0) END AS ref_ba,
			   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, tstzrange('2024-01-15 00:00+00', '2024-02-15 00:00+00', '[)')) OVER w AS brp,
			   CASE WHEN count(*) FILTER (WHERE amount IS NOT NULL AND booked_at IS NOT NULL) OVER w = 0 THEN NULL
					ELSE coalesce(sum(amount) FILTER (WHERE booked_at < '2024-02-15 00:00+00'
											  AND (fulfilled_at IS NULL OR fulfilled_at >= '2024-02-15 00:00+00')) OVER w, 0)
						 / nullif(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at >= '2024-01-15 00:00+00'
													  AND fulfilled_at < '2024-02-15 00:00+00') OVER w, 0) END AS ref_brp,
			   pipeline.book_to_bill(amount, booked_at, fulfilled_at, tstzrange('2024-01-15 00:00+00', '2024-02-15 00:00+00', '[)')) OVER w AS btb,
			   CASE WHEN count(*) FILTER (WHERE amount IS NOT NULL AND booked_at IS NOT NULL) OVER w = 0 THEN NULL
					ELSE coalesce(sum(amount) FILTER (WHERE booked_at >= '2024-01-15 00:00+00' AND booked_at < '2024-02-15 00:00+00') OVER w, 0)
						 / nullif(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at >= '2024-01-15 00:00+00'
													  AND fulfilled_at < '2024-02-15 00:00+00') OVER w, 0) END AS ref_btb
		  FROM amt_win
		WINDOW w AS (PARTITION BY region ORDER BY week ROWS BETWEEN 3 PRECEDING AND CURRENT ROW);
SELECT count(*) AS rows_compared,
	   count(*) FILTER (WHERE br::text IS DISTINCT FROM ref_br::text) AS backlog_ratio_differing,
	   count(*) FILTER (WHERE ba::text IS DISTINCT FROM ref_ba::text) AS backlog_amount_differing,
	   count(*) FILTER (WHERE brp::text IS DISTINCT FROM ref_brp::text) AS backlog_ratio_period_differing,
	   count(*) FILTER (WHERE btb::text IS DISTINCT FROM ref_btb::text) AS book_to_bill_differing,
	   count(*) FILTER (WHERE br IS NULL) > 0 AND count(*) FILTER (WHERE btb IS NOT NULL) > 100 AS mixed
  FROM amt_win_moving t;
-- For a reader's eye: six weeks of region 0 (each frame: the week and
-- the three before it), each aggregate beside its plain-SQL window.
SELECT a.week, m.br, m.ref_br, m.ba, m.ref_ba, m.brp, m.ref_brp, m.btb, m.ref_btb
  FROM amt_win_moving m JOIN amt_win a USING (id) WHERE a.region = 0 AND a.week BETWEEN 36 AND 41 ORDER BY a.week;

-- stage-taking aggregates over a moving frame and a running total
CREATE VIEW amt_win_stage AS
		SELECT a.id,
			   pipeline.win_rate(a.stage, a.amount) OVER w AS wr,
			   CASE WHEN count(*) FILTER (WHERE a.stage IS NOT NULL AND a.amount IS NOT NULL) OVER w = 0 THEN NULL
					ELSE coalesce(sum(a.amount) FILTER (WHERE c.kind = 'won') OVER w, 0)
						 / nullif(sum(a.amount) FILTER (WHERE c.kind IN ('won', 'lost')) OVER w, 0) END AS ref_wr,
			   pipeline.weighted_pipeline(a.stage, a.amount) OVER w AS wp,
			   CASE WHEN count(*) FILTER (WHERE a.stage IS NOT NULL AND a.amount IS NOT NULL) OVER w = 0 THEN NULL
					ELSE coalesce(sum(a.amount * c.probability) FILTER (WHERE c.kind = 'open') OVER w, 0) END AS ref_wp,
			   pipeline.weighted_pipeline(a.stage, a.amount) OVER r AS wp_run,
			   CASE WHEN count(*) FILTER (WHERE a.stage IS NOT NULL AND a.amount IS NOT NULL) OVER r = 0 THEN NULL
					ELSE coalesce(sum(a.amount * c.probability) FILTER (WHERE c.kind = 'open') OVER r, 0) END AS ref_wp_run
		  FROM amt_win a LEFT JOIN pipeline.stage_catalog c
			ON c.stage_type = 'pipeline.stage' AND c.stage = a.stage::text
		WINDOW w AS (PARTITION BY a.region ORDER BY a.week ROWS BETWEEN 5 PRECEDING AND 1 FOLLOWING),
			   r AS (PARTITION BY a.region ORDER BY a.week);
SELECT count(*) AS rows_compared,
	   count(*) FILTER (WHERE wr::text IS DISTINCT FROM ref_wr::text) AS win_rate_differing,
	   count(*) FILTER (WHERE wp::text IS DISTINCT FROM ref_wp::text) AS weighted_differing,
	   count(*) FILTER (WHERE wp_run::text IS DISTINCT FROM ref_wp_run::text) AS running_differing
  FROM amt_win_stage t;
-- the same weeks (frames: five weeks before to one after; the running total)
SELECT a.week, a.stage, s.wr, s.ref_wr, s.wp, s.ref_wp, s.wp_run, s.ref_wp_run
  FROM amt_win_stage s JOIN amt_win a USING (id) WHERE a.region = 0 AND a.week BETWEEN 36 AND 41 ORDER BY a.week;

-- a frame whose period changes: each row's own period, one row per frame
SELECT week, pipeline.book_to_bill(amount, booked_at, fulfilled_at,
								   tstzrange(timestamptz '2024-01-01 00:00+00' + week * interval '1 day',
											 timestamptz '2024-01-08 00:00+00' + week * interval '1 day', '[)'))
			 OVER (ORDER BY week ROWS CURRENT ROW) IS NOT DISTINCT FROM
	   CASE WHEN amount IS NULL OR booked_at IS NULL THEN NULL
			ELSE (CASE WHEN booked_at >= timestamptz '2024-01-01 00:00+00' + week * interval '1 day'
						AND booked_at < timestamptz '2024-01-08 00:00+00' + week * interval '1 day' THEN amount ELSE 0 END)
				 / nullif(CASE WHEN fulfilled_at >= timestamptz '2024-01-01 00:00+00' + week * interval '1 day'
						AND fulfilled_at < timestamptz '2024-01-08 00:00+00' + week * interval '1 day' THEN amount END, 0) END AS same
  FROM amt_win WHERE region = 0 AND week BETWEEN 1 AND 4 ORDER BY week;
-- ... but two periods in one frame are an error
SELECT pipeline.book_to_bill(amount, booked_at, fulfilled_at,
							 tstzrange(timestamptz '2024-01-01 00:00+00' + week * interval '1 day',
									   timestamptz '2024-01-08 00:00+00' + week * interval '1 day', '[)'))
	   OVER (ORDER BY week ROWS 1 PRECEDING)
  FROM amt_win WHERE amount IS NOT NULL AND booked_at IS NOT NULL AND region = 0;

DROP VIEW amt_win_moving, amt_win_stage;
DROP TABLE amt_win;
