-- Amount aggregates against independent plain-SQL computations over seeded
-- random data: every aggregate, per group, compared as text (value and
-- scale), with NULLs in every argument, empty groups, zero denominators,
-- negative amounts, mixed scales and exact period boundary instants.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

SELECT setseed(0.4242);
CREATE TABLE amt (
	id			integer PRIMARY KEY,
	grp			integer,
	stage		pipeline.stage,
	amount		numeric,
	backlog		numeric,
	sales		numeric,
	booked_at	timestamptz,
	fulfilled_at timestamptz
);
-- Instants are whole days or hours, so many fall exactly on the period
-- bounds used below; amounts have 0..3 decimals and may be negative.
INSERT INTO amt
SELECT i, g, st, am, bl, sa, b,
	   CASE WHEN random() < 0.3 THEN NULL
			WHEN random() < 0.5 THEN b + floor(random() * 60) * interval '1 day'
			ELSE b + floor(random() * 1000) * interval '1 hour' END
  FROM (SELECT i,
			   (i % 23) AS g,
			   CASE WHEN random() < 0.05 THEN NULL
					ELSE (enum_range(NULL::pipeline.stage))[1 + floor(random() * 9)::int] END AS st,
			   CASE WHEN random() < 0.05 THEN NULL
					ELSE round((random() * 2200 - 200)::numeric, floor(random() * 4)::int) END AS am,
			   CASE WHEN random() < 0.05 THEN NULL
					ELSE round((random() * 1000)::numeric, floor(random() * 3)::int) END AS bl,
			   CASE WHEN random() < 0.05 THEN NULL
					ELSE round((random() * 1000 - 100)::numeric, 2) END AS sa,
			   CASE WHEN random() < 0.05 THEN NULL
					ELSE timestamptz '2024-01-01 00:00+00' + floor(random() * 120) * interval '1 day' END AS b
		  FROM generate_series(1, 5000) i) s;
-- group 100: rows that are all skipped; group 101: sales summing to zero,
-- no closed stage, nothing booked or fulfilled in the period; group 102:
-- won and lost amounts cancelling out (credit notes)
INSERT INTO amt VALUES
	(100001, 100, NULL, NULL, NULL, 5, NULL, NULL),
	(100002, 100, 'proposal', NULL, 1, NULL, NULL, '2024-02-01'),
	(100003, 101, 'proposal', 5.00, 3, 10, '2023-01-01', NULL),
	(100004, 101, 'negotiation', 2, 4, -10, '2023-06-01', '2023-07-01'),
	(100005, 102, 'closed_won', 10.50, 1, 1, '2024-02-01', '2024-02-15'),
	(100006, 102, 'closed_lost', -10.5, 1, 1, '2024-02-01', '2024-02-15');

-- backlog_ratio(backlog, sales)
CREATE VIEW amt_backlog_ratio AS
		SELECT grp, pipeline.backlog_ratio(backlog, sales) AS agg,
			   CASE WHEN count(*) FILTER (WHERE backlog IS NOT NULL AND sales IS NOT NULL) = 0 THEN NULL
					ELSE sum(backlog) FILTER (WHERE sales IS NOT NULL)
						 / nullif(sum(sales) FILTER (WHERE backlog IS NOT NULL), 0) END AS ref
		  FROM amt GROUP BY grp;
SELECT count(*) AS groups_differing
  FROM amt_backlog_ratio t
 WHERE agg::text IS DISTINCT FROM ref::text;
-- For a reader's eye: a random group and the hand-made ones (rows above),
-- the aggregate (got) beside the plain SQL (want).
SELECT grp, agg AS got, ref AS want FROM amt_backlog_ratio WHERE grp IN (0, 100, 101, 102) ORDER BY grp;

-- backlog_amount at several instants, one of them a bound of many rows
CREATE VIEW amt_backlog_amount AS
		SELECT grp, t, pipeline.backlog_amount(amount, booked_at, fulfilled_at, t) AS agg,
			   CASE WHEN count(*) FILTER (WHERE amount IS NOT NULL AND booked_at IS NOT NULL) = 0 THEN NULL
					ELSE coalesce(sum(amount) FILTER (WHERE booked_at < t AND (fulfilled_at IS NULL OR fulfilled_at >= t)), 0) END AS ref
		  FROM amt, (VALUES (timestamptz '2024-02-01 00:00+00'), ('2024-03-15 00:00+00'), ('2024-02-10 13:00+00'), ('2023-01-01 00:00+00')) v(t)
		 GROUP BY grp, t;
SELECT count(*) AS groups_differing
  FROM amt_backlog_amount t
 WHERE agg::text IS DISTINCT FROM ref::text;
SELECT grp, t, agg AS got, ref AS want FROM amt_backlog_amount WHERE grp IN (0, 101) ORDER BY grp, t;

-- backlog_ratio and book_to_bill over periods, bounded and unbounded below
CREATE TEMP TABLE periods (p tstzrange);
INSERT INTO periods VALUES
	(tstzrange('2024-02-01 00:00+00', '2024-03-01 00:00+00', '[)')),
	(tstzrange('2024-01-15 00:00+00', '2024-01-22 00:00+00', '[)')),
	(tstzrange(NULL, '2024-02-15 00:00+00', '[)')),
	(tstzrange('2024-02-10 13:00+00', '2024-02-10 14:00+00', '[)'));
CREATE TEMP VIEW amt_periods AS
		SELECT grp, p,
			   pipeline.book_to_bill(amount, booked_at, fulfilled_at, p) AS btb,
			   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, p) AS br,
			   CASE WHEN count(*) FILTER (WHERE amount IS NOT NULL AND booked_at IS NOT NULL) = 0 THEN NULL
					ELSE coalesce(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND booked_at <@ p), 0)
						 / nullif(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at <@ p), 0) END AS ref_btb,
			   CASE WHEN count(*) FILTER (WHERE amount IS NOT NULL AND booked_at IS NOT NULL) = 0 THEN NULL
					ELSE coalesce(sum(amount) FILTER (WHERE booked_at < upper(p) AND (fulfilled_at IS NULL OR fulfilled_at >= upper(p))), 0)
						 / nullif(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at <@ p), 0) END AS ref_br
		  FROM amt, periods GROUP BY grp, p;
SELECT count(*) AS rows_compared,
	   count(*) FILTER (WHERE btb::text IS DISTINCT FROM ref_btb::text) AS btb_differing,
	   count(*) FILTER (WHERE br::text IS DISTINCT FROM ref_br::text) AS br_differing,
	   count(*) FILTER (WHERE btb IS NULL) > 0 AS some_null,
	   count(*) FILTER (WHERE btb IS NOT NULL) > 50 AS enough_non_null
  FROM amt_periods t;
SELECT grp, p, btb AS btb_got, ref_btb AS btb_want, br AS br_got, ref_br AS br_want
  FROM amt_periods WHERE grp IN (0, 102) ORDER BY grp, lower(p) NULLS FIRST, upper(p);

-- roll-forward identity: backlog(upper) = backlog(lower) + booked - fulfilled
-- within [lower, upper), for orders fulfilled no earlier than booked (all here)
SELECT count(*) FILTER (WHERE fulfilled_at < booked_at) AS fulfilled_before_booked FROM amt;
SELECT count(*) AS groups, count(*) FILTER (WHERE NOT holds) AS identity_fails
  FROM (SELECT grp,
			   pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-03-01 00:00+00')
			   = pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-02-01 00:00+00')
				 + coalesce(sum(amount) FILTER (WHERE booked_at >= '2024-02-01 00:00+00' AND booked_at < '2024-03-01 00:00+00'), 0)
				 - coalesce(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at >= '2024-02-01 00:00+00' AND fulfilled_at < '2024-03-01 00:00+00'), 0)
				 AS holds
		  FROM amt WHERE grp < 100 GROUP BY grp) t;
-- For a reader's eye: the terms of the identity for three groups.
SELECT grp, pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-02-01 00:00+00') AS backlog_at_lower,
	   coalesce(sum(amount) FILTER (WHERE booked_at >= '2024-02-01 00:00+00' AND booked_at < '2024-03-01 00:00+00'), 0) AS booked,
	   coalesce(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at >= '2024-02-01 00:00+00'
										AND fulfilled_at < '2024-03-01 00:00+00'), 0) AS fulfilled,
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-03-01 00:00+00') AS backlog_at_upper
  FROM amt WHERE grp < 3 GROUP BY grp ORDER BY grp;

-- win_rate(stage, amount) and weighted_pipeline(stage, amount), against the
-- stage catalog: over a view of (grp, wr, wp, ref_wr, ref_wp), the groups
-- and how many differ (as text); for a reader's eye, a random group and the
-- hand-made ones, each aggregate (got) beside the plain SQL (want)
CREATE FUNCTION pg_temp.amt_stage_differing(v regclass)
	RETURNS TABLE (groups bigint, win_rate_differing bigint, weighted_differing bigint) LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE wr::text IS DISTINCT FROM ref_wr::text) AS win_rate_differing,
	   count(*) FILTER (WHERE wp::text IS DISTINCT FROM ref_wp::text) AS weighted_differing
  FROM %s t$q$, v);
END
$$;
CREATE FUNCTION pg_temp.amt_stage_groups(v regclass)
	RETURNS TABLE (grp integer, win_rate_got numeric, win_rate_want numeric, weighted_got numeric, weighted_want numeric)
	LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
SELECT grp, wr, ref_wr, wp, ref_wp FROM %s WHERE grp IN (0, 100, 101, 102) ORDER BY grp$q$, v);
END
$$;
CREATE VIEW amt_stage AS
		SELECT a.grp,
			   pipeline.win_rate(a.stage, a.amount) AS wr,
			   pipeline.weighted_pipeline(a.stage, a.amount) AS wp,
			   CASE WHEN count(*) FILTER (WHERE a.stage IS NOT NULL AND a.amount IS NOT NULL) = 0 THEN NULL
					ELSE coalesce(sum(a.amount) FILTER (WHERE c.kind = 'won'), 0)
						 / nullif(sum(a.amount) FILTER (WHERE c.kind IN ('won', 'lost')), 0) END AS ref_wr,
			   CASE WHEN count(*) FILTER (WHERE a.stage IS NOT NULL AND a.amount IS NOT NULL) = 0 THEN NULL
					ELSE coalesce(sum(a.amount * c.probability) FILTER (WHERE c.kind = 'open'), 0) END AS ref_wp
		  FROM amt a LEFT JOIN pipeline.stage_catalog c
			ON c.stage_type = 'pipeline.stage' AND c.stage = a.stage::text
		 GROUP BY a.grp;
SELECT * FROM pg_temp.amt_stage_differing('amt_stage');
SELECT * FROM pg_temp.amt_stage_groups('amt_stage');

-- the special groups, spelled out
SELECT grp,
	   pipeline.backlog_ratio(backlog, sales) AS backlog_ratio,
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-03-01') AS backlog_amount,
	   pipeline.book_to_bill(amount, booked_at, fulfilled_at, '[2024-02-01,2024-03-01)') AS book_to_bill,
	   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, '[2024-02-01,2024-03-01)') AS backlog_ratio_p,
	   pipeline.win_rate(stage, amount) AS win_rate,
	   pipeline.weighted_pipeline(stage, amount) AS weighted
  FROM amt WHERE grp >= 100 GROUP BY grp ORDER BY grp;

-- empty input: NULL from every aggregate
SELECT pipeline.backlog_ratio(backlog, sales), pipeline.backlog_amount(amount, booked_at, fulfilled_at, now()),
	   pipeline.book_to_bill(amount, booked_at, fulfilled_at, '[2024-02-01,2024-03-01)'),
	   pipeline.win_rate(stage, amount), pipeline.weighted_pipeline(stage, amount)
  FROM amt WHERE false;

-- period semantics on hand-made rows: [lower, upper), bound instants
SET TimeZone = 'UTC';
SELECT pipeline.book_to_bill(a, b, f, '[2024-02-01,2024-03-01)') AS btb,
	   pipeline.backlog_ratio(a, b, f, '[2024-02-01,2024-03-01)') AS br,
	   pipeline.backlog_amount(a, b, f, '2024-03-01') AS backlog_at_upper,
	   pipeline.backlog_amount(a, b, f, '2024-02-01') AS backlog_at_lower
  FROM (VALUES (1, timestamptz '2024-02-01', timestamptz '2024-03-01'),	-- booked at lower (in), fulfilled at upper (out, still on the books at upper)
			   (10, '2024-01-31 23:59:59.999999', '2024-02-01'),		-- booked before, fulfilled at lower (in)
			   (100, '2024-03-01', NULL),								-- booked at upper (out)
			   (1000, '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999')) v(a, b, f);
-- the worked example of the README: 100 fulfilled a week, 110 booked
SELECT pipeline.book_to_bill(amount, booked_at, fulfilled_at, tstzrange('2024-01-08', '2024-01-15', '[)')) AS book_to_bill,
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-01-15')
	   - pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-01-08') AS backlog_growth
  FROM (SELECT 1.00 AS amount, timestamptz '2024-01-08' + i * interval '1 hour' AS booked_at,
			   CASE WHEN i < 100 THEN timestamptz '2024-01-08' + i * interval '1 hour' + interval '30 minutes' END AS fulfilled_at
		  FROM generate_series(0, 109) i) w;
RESET TimeZone;

-- scale: the scale sum() gives, also through the overflow fallback
SELECT pipeline.backlog_amount(x, '2020-01-01', NULL, '2021-01-01')::text = sum(x)::text AS same_text,
	   pipeline.backlog_amount(x, '2020-01-01', NULL, '2021-01-01')::text AS result
  FROM (VALUES (1.5), (2), (0.125), (-3)) v(x);
SELECT pipeline.backlog_amount(x, '2020-01-01', NULL, '2021-01-01')::text = sum(x)::text AS same_text
  FROM (VALUES (99999999999999999999999999999999999999.5), (99999999999999999999999999999999999999.5),
			   (1e-45), (-1e60), (12345678901234567890123456789.0123456789)) v(x);
-- int128 overflow of the running sum, with random huge values and scales
SELECT setseed(0.77);
CREATE TEMP TABLE amt_huge AS
				SELECT i % 7 AS g,
					   round((random() - 0.5)::numeric * 10::numeric ^ floor(random() * 45)::int, floor(random() * 6)::int) AS x,
					   round((random() - 0.3)::numeric * 10::numeric ^ floor(random() * 40)::int, 3) AS y
				  FROM generate_series(1, 3000) i;
CREATE TEMP VIEW amt_huge_sums AS
		SELECT g, pipeline.backlog_amount(x, '2020-01-01', NULL, '2021-01-01') AS agg, sum(x) AS ref,
			   pipeline.backlog_ratio(x, y) AS r, sum(x) / nullif(sum(y), 0) AS ref_r
		  FROM amt_huge s
		 GROUP BY g;
SELECT bool_and(agg::text = ref::text) AS all_same, count(*) AS groups
  FROM amt_huge_sums t
 WHERE r::text IS NOT DISTINCT FROM ref_r::text;
-- For a reader's eye: three groups, each aggregate beside sum() and its quotient.
SELECT g, agg AS got, ref AS want, r AS ratio_got, ref_r AS ratio_want FROM amt_huge_sums WHERE g < 3 ORDER BY g;

-- a NULL period or as_of skips the row, like any NULL argument
SELECT pipeline.book_to_bill(a, b, f, p) AS btb, pipeline.backlog_ratio(a, b, f, p) AS br,
	   pipeline.backlog_amount(a, b, f, upper(p)) AS backlog
  FROM (VALUES (1.0, timestamptz '2024-01-05 00:00+00', timestamptz '2024-01-06 00:00+00', NULL::tstzrange),
			   (2.00, '2024-01-05 00:00+00', NULL, tstzrange('2024-01-01 00:00+00', '2024-02-01 00:00+00', '[)')),
			   (4, '2024-01-07 00:00+00', '2024-01-08 00:00+00', tstzrange('2024-01-01 00:00+00', '2024-02-01 00:00+00', '[)'))) v(a, b, f, p);
SELECT pipeline.book_to_bill(a, b, f, p) AS btb, pipeline.backlog_amount(a, b, f, upper(p)) AS backlog
  FROM (VALUES (1.0, timestamptz '2024-01-05 00:00+00', timestamptz '2024-01-06 00:00+00', NULL::tstzrange)) v(a, b, f, p);

-- errors: NaN and infinities name the argument; bad periods; varying ones
SELECT pipeline.backlog_ratio(b, s) FROM (VALUES (1, 'NaN'::numeric)) v(b, s);
SELECT pipeline.backlog_amount(a, now(), NULL, now()) FROM (VALUES ('Infinity'::numeric)) v(a);
SELECT pipeline.win_rate('closed_won'::pipeline.stage, '-Infinity'::numeric);
SELECT pipeline.book_to_bill(1, now(), NULL, '[2024-01-01,2024-02-01]');
SELECT pipeline.book_to_bill(1, now(), NULL, '(2024-01-01,2024-02-01)');
SELECT pipeline.book_to_bill(1, now(), NULL, '[2024-01-01,)');
SELECT pipeline.backlog_ratio(1, now(), NULL, '[2024-01-01,infinity)');
SELECT pipeline.book_to_bill(1, now(), NULL, 'empty') AS empty_period;
SELECT pipeline.book_to_bill(1, '2024-01-05', '2024-01-06', '[,2024-02-01)') AS lower_unbounded;
SELECT pipeline.book_to_bill(a, now(), NULL, p)
  FROM (VALUES (1, tstzrange('2024-01-01 00:00+00', '2024-02-01 00:00+00')), (2, tstzrange('2024-01-01 00:00+00', '2024-03-01 00:00+00'))) v(a, p);
SELECT pipeline.backlog_amount(a, now(), NULL, t)
  FROM (VALUES (1, timestamptz '2024-01-01 00:00+00'), (2, '2024-01-02 00:00+00')) v(a, t);

-- a custom pipeline registered with define_stages gets its own overloads
CREATE TYPE amt_deal_stage AS ENUM ('new', 'demo', 'lost', 'trial', 'signed');
SELECT pipeline.define_stages('amt_deal_stage', won => '{signed}', lost => '{lost}',
							  probabilities => '{0.1, 0.333, 0, 0.7, 1}');
CREATE VIEW amt_custom_stage AS
		SELECT a.grp,
			   pipeline.win_rate(a.s, a.amount) AS wr,
			   pipeline.weighted_pipeline(a.s, a.amount) AS wp,
			   CASE WHEN count(*) FILTER (WHERE a.s IS NOT NULL AND a.amount IS NOT NULL) = 0 THEN NULL
					ELSE coalesce(sum(a.amount) FILTER (WHERE c.kind = 'won'), 0)
						 / nullif(sum(a.amount) FILTER (WHERE c.kind IN ('won', 'lost')), 0) END AS ref_wr,
			   CASE WHEN count(*) FILTER (WHERE a.s IS NOT NULL AND a.amount IS NOT NULL) = 0 THEN NULL
					ELSE coalesce(sum(a.amount * c.probability) FILTER (WHERE c.kind = 'open'), 0) END AS ref_wp
		  FROM (SELECT grp, amount, (enum_range(NULL::amt_deal_stage))[1 + id % 5] AS s FROM amt) a
		  LEFT JOIN pipeline.stage_catalog c
			ON c.stage_type = 'public.amt_deal_stage' AND c.stage = a.s::text
		 GROUP BY a.grp;
SELECT * FROM pg_temp.amt_stage_differing('amt_custom_stage');
SELECT * FROM pg_temp.amt_stage_groups('amt_custom_stage');
-- (the view uses the type's aggregates, dropped below)
DROP VIEW amt_custom_stage;
SELECT p.oid::regprocedure AS aggregate
  FROM pg_proc p WHERE p.proname IN ('win_rate', 'weighted_pipeline') AND p.pronargs = 2
   AND p.pronamespace = 'pipeline'::regnamespace ORDER BY p.oid::regprocedure::text;
SELECT pipeline._drop_amount_aggregates('amt_deal_stage');
SELECT count(*) AS left_over FROM pg_proc p
 WHERE p.proname IN ('win_rate', 'weighted_pipeline') AND p.pronargs = 2
   AND p.proargtypes[0] = 'amt_deal_stage'::regtype;
-- idempotent
SELECT pipeline._drop_amount_aggregates('amt_deal_stage');
SET client_min_messages = warning;
DELETE FROM pipeline.stage_types WHERE stage_type = 'amt_deal_stage'::regtype;
DROP TYPE amt_deal_stage CASCADE;
RESET client_min_messages;

DROP VIEW amt_backlog_ratio, amt_backlog_amount, amt_periods, amt_stage;
DROP TABLE amt;
