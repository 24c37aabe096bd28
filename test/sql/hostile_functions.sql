-- Hostile input for every C-backed SQL function and aggregate: NULLs in
-- every position, empty and unknown names, unregistered and non-enum types,
-- huge and tiny numerics, NaN and infinities, negative amounts, periods with
-- NULL, infinite, exclusive or inclusive bounds, periods and as_of that
-- differ within a group, and 0-row, 1-row and all-NULL groups.  Every case
-- prints "ok: <result>" or "<SQLSTATE>: <message>"; the last query asserts
-- that none ended in an internal error (XX000).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;

\i test/sql/include/hostile_try.sql

CREATE TYPE hostile_deal AS ENUM ('new', 'talk', 'won', 'lost');
CREATE TYPE hostile_unregistered AS ENUM ('x', 'y');
SELECT pipeline.define_stages('hostile_deal', won => ARRAY['won'], lost => ARRAY['lost']);

-- Rows for the aggregates: amounts, bookings and stages, with NULLs.
CREATE TABLE hostile_rows (id int, grp int, stage pipeline.stage, deal hostile_deal,
						   amount numeric, booked timestamptz, fulfilled timestamptz);
INSERT INTO hostile_rows VALUES
	(1, 1, 'proposal', 'talk', 100.50, '2025-01-05', '2025-02-10'),
	(2, 1, 'closed_won', 'won', 200, '2025-01-10', NULL),
	(3, 1, 'closed_lost', 'lost', -50.25, '2025-02-01', '2025-02-15'),
	(4, 1, NULL, NULL, NULL, NULL, NULL),
	(5, 2, 'negotiation', 'new', 10, '2025-01-01', '2025-01-02'),
	(6, 3, NULL, NULL, NULL, NULL, NULL);

SET TimeZone = 'UTC';
CREATE TEMP TABLE hostile_cases (id serial, label text, q text);
INSERT INTO hostile_cases (label, q) VALUES
	-- metadata functions
	('stage_kind NULL', $q$SELECT pipeline.stage_kind(NULL::pipeline.stage)$q$),
	('stage_kind custom', $q$SELECT pipeline.stage_kind(d) FROM unnest(enum_range(NULL::hostile_deal)) AS d$q$),
	('stage_kind unregistered', $q$SELECT pipeline.stage_kind('x'::hostile_unregistered)$q$),
	('stage_kind untyped literal', $q$SELECT pipeline.stage_kind('proposal')$q$),
	('stage_probability NULL', $q$SELECT pipeline.stage_probability(NULL::pipeline.stage)$q$),
	('stage_probability custom', $q$SELECT pipeline.stage_probability(d) FROM unnest(enum_range(NULL::hostile_deal)) AS d$q$),
	('stage_probability unregistered', $q$SELECT pipeline.stage_probability('y'::hostile_unregistered)$q$),
	('stage_ordinal NULL', $q$SELECT pipeline.stage_ordinal(NULL::hostile_deal)$q$),
	('stage_ordinal unregistered', $q$SELECT pipeline.stage_ordinal('x'::hostile_unregistered)$q$),
	('stage_ordinal custom', $q$SELECT pipeline.stage_ordinal(d) FROM unnest(enum_range(NULL::hostile_deal)) AS d$q$),
	('stage_ordinal non-enum', $q$SELECT pipeline.stage_ordinal(1)$q$),
	-- rules
	('can_transition NULL, NULL', $q$SELECT pipeline.can_transition(NULL::pipeline.stage, NULL::pipeline.stage)$q$),
	('can_transition creation', $q$SELECT pipeline.can_transition(NULL, 'lead_generation'::pipeline.stage)$q$),
	('can_transition creation not entry', $q$SELECT pipeline.can_transition(NULL, 'proposal'::pipeline.stage)$q$),
	('can_transition to NULL', $q$SELECT pipeline.can_transition('proposal'::pipeline.stage, NULL)$q$),
	('can_transition ruleset NULL', $q$SELECT pipeline.can_transition('proposal'::pipeline.stage, 'negotiation', NULL)$q$),
	('can_transition ruleset empty', $q$SELECT pipeline.can_transition('proposal'::pipeline.stage, 'negotiation', '')$q$),
	('can_transition ruleset unknown', $q$SELECT pipeline.can_transition('proposal'::pipeline.stage, 'negotiation', 'no such ruleset')$q$),
	('can_transition ruleset long', $q$SELECT pipeline.can_transition('proposal'::pipeline.stage, 'negotiation', repeat('r', 10000))$q$),
	('can_transition same stage', $q$SELECT pipeline.can_transition('closed_lost'::pipeline.stage, 'closed_lost')$q$),
	('can_transition custom lenient', $q$SELECT pipeline.can_transition('lost'::hostile_deal, 'new', 'lenient')$q$),
	('can_transition unregistered', $q$SELECT pipeline.can_transition('x'::hostile_unregistered, 'y')$q$),
	('can_transition mixed types', $q$SELECT pipeline.can_transition('proposal'::pipeline.stage, 'won'::hostile_deal)$q$),
	('next_stages NULL typed', $q$SELECT pipeline.next_stages(NULL::pipeline.stage)$q$),
	('next_stages NULL custom', $q$SELECT pipeline.next_stages(NULL::hostile_deal)$q$),
	('next_stages NULL ruleset', $q$SELECT pipeline.next_stages('proposal'::pipeline.stage, NULL)$q$),
	('next_stages unknown ruleset', $q$SELECT pipeline.next_stages('proposal'::pipeline.stage, 'nope')$q$),
	('next_stages from lost', $q$SELECT pipeline.next_stages('closed_lost'::pipeline.stage)$q$),
	('next_stages unregistered', $q$SELECT pipeline.next_stages(NULL::hostile_unregistered)$q$),
	('next_stages untyped NULL', $q$SELECT pipeline.next_stages(NULL)$q$),
	('_ruleset_kind NULLs', $q$SELECT pipeline._ruleset_kind(NULL, NULL)$q$),
	('_ruleset_kind NULL name', $q$SELECT pipeline._ruleset_kind('pipeline.stage', NULL)$q$),
	('_ruleset_kind builtin', $q$SELECT pipeline._ruleset_kind('pipeline.stage', 'strict')$q$),
	('_ruleset_kind unknown', $q$SELECT pipeline._ruleset_kind('pipeline.stage', '')$q$),
	('_ruleset_kind type 0', $q$SELECT pipeline._ruleset_kind(0, 'strict')$q$),
	('_ruleset_kind non-enum', $q$SELECT pipeline._ruleset_kind('int4', 'strict')$q$),
	('_ruleset_kind unregistered', $q$SELECT pipeline._ruleset_kind('hostile_unregistered', 'strict')$q$),
	('_require_registered NULL', $q$SELECT pipeline._require_registered(NULL)$q$),
	('_require_registered 0', $q$SELECT pipeline._require_registered(0)$q$),
	('_require_registered no such OID', $q$SELECT pipeline._require_registered(4294967295)$q$),
	('_require_registered non-enum', $q$SELECT pipeline._require_registered('text')$q$),
	('_require_registered unregistered', $q$SELECT pipeline._require_registered('hostile_unregistered')$q$),
	('transition_rules view', $q$SELECT count(*) > 0 FROM pipeline.transition_rules$q$),
	('_transition_rules called directly', $q$SELECT count(*) > 0 FROM pipeline._transition_rules()$q$),
	('_config_changed called directly', $q$SELECT pipeline._config_changed()$q$),
	('_require_table_owner NULL', $q$SELECT pipeline._require_table_owner(NULL, false)$q$),
	('_require_table_owner no such OID', $q$SELECT pipeline._require_table_owner(4294967295, false)$q$),
	('_require_table_owner no such OID, missing ok', $q$SELECT pipeline._require_table_owner(4294967295, true)$q$),
	('_put_attachment NULL table', $q$SELECT pipeline._put_attachment(NULL, 'stage', 'strict', NULL, '{}', NULL)$q$),
	('_put_attachment no such table', $q$SELECT pipeline._put_attachment(4294967295, 'stage', 'strict', NULL, '{}', NULL)$q$),
	('_history_views_of NULL', $q$SELECT pipeline._history_views_of(NULL, NULL)$q$),
	('_drop_views_of NULL', $q$SELECT pipeline._drop_views_of(NULL)$q$),
	('_check_attachment_row called directly', $q$SELECT pipeline._check_attachment_row()$q$),
	-- inverse transition functions called by hand
	('_conversion_step_inv NULL state', $q$SELECT pipeline._conversion_step_inv(NULL, 'proposal'::pipeline.stage, 'proposal', 'closed_won')$q$),
	('_conversion_step_inv NULL stage', $q$SELECT pipeline._conversion_step_inv('v1:conversion_step:9:1,1:pipeline.stage', NULL::pipeline.stage, 'proposal', 'closed_won')$q$),
	('_conversion_step_inv removes a row', $q$SELECT pipeline._conversion_step_inv('v1:conversion_step:9:1,1:pipeline.stage', 'closed_won'::pipeline.stage, 'proposal', 'closed_won')$q$),
	('_conversion_step_inv numerator above denominator', $q$SELECT pipeline._conversion_step_inv('v1:conversion_step:9:1,1:pipeline.stage', 'proposal'::pipeline.stage, 'proposal', 'closed_won')$q$),
	('_conversion_step_inv other type', $q$SELECT pipeline._conversion_step_inv('v1:conversion_step:4:1,1:public.hostile_deal', 'proposal'::pipeline.stage, 'proposal', 'closed_won')$q$),
	('_win_rate_amount_inv NULL state', $q$SELECT pipeline._win_rate_amount_inv(NULL, 'closed_won'::pipeline.stage, 5)$q$),
	('_win_rate_amount_inv NaN', $q$SELECT pipeline._win_rate_amount_inv('1 win_rate 1 - 1:0:1:5 0:-1:0:0', 'closed_won'::pipeline.stage, 'NaN')$q$),
	('_win_rate_amount_inv other kind', $q$SELECT pipeline._win_rate_amount_inv('1 weighted_pipeline 1 - 1:0:1:5 0:-1:0:0', 'closed_won'::pipeline.stage, 5)$q$),
	('_win_rate_amount_inv last row', $q$SELECT pipeline._win_rate_amount_inv('1 win_rate 1 - 1:0:1:5 0:-1:0:0', 'closed_won'::pipeline.stage, 5)$q$),
	('_backlog_amount_inv NULL state', $q$SELECT pipeline._backlog_amount_inv(NULL, 5, '2025-01-01', NULL, '2025-02-01')$q$),
	('_backlog_amount_inv other as_of', $q$SELECT pipeline._backlog_amount_inv('1 backlog_amount 2 @0 2:0:2:10 0:-1:0:0', 5, '1999-01-01', NULL, '2025-02-01')$q$),
	('_backlog_amount_inv Infinity', $q$SELECT pipeline._backlog_amount_inv('1 backlog_amount 2 @0 2:0:2:10 0:-1:0:0', 'Infinity', '1999-01-01', NULL, '2000-01-01 00:00:00+00')$q$),
	('_backlog_ratio_inv NULL state', $q$SELECT pipeline._backlog_ratio_inv(NULL, 5, '2025-01-01', NULL, '[2025-01-01,2025-02-01)')$q$),
	('_backlog_ratio_inv inclusive upper', $q$SELECT pipeline._backlog_ratio_inv('1 backlog_ratio 1 [0,10) 1:0:1:3 0:-1:0:0', 5, '2000-01-01 00:00:00+00', NULL, '[2000-01-01 00:00:00+00,2000-01-01 00:00:00.00001+00]')$q$),
	('_backlog_ratio_inv other period', $q$SELECT pipeline._backlog_ratio_inv('1 backlog_ratio 1 [0,10) 1:0:1:3 0:-1:0:0', 5, '2000-01-01 00:00:00+00', NULL, '[2000-01-01,2001-01-01)')$q$),
	-- counting aggregates: 0-row, 1-row, all-NULL groups
	('conversion_rate no rows', $q$SELECT pipeline.conversion_rate(b) FROM (SELECT true WHERE false) AS t(b)$q$),
	('conversion_rate NULL only', $q$SELECT pipeline.conversion_rate(NULL::boolean)$q$),
	('conversion_rate one row', $q$SELECT pipeline.conversion_rate(true)$q$),
	('win_rate no rows', $q$SELECT pipeline.win_rate(stage) FROM hostile_rows WHERE false$q$),
	('win_rate all NULL', $q$SELECT pipeline.win_rate(stage) FROM hostile_rows WHERE grp = 3$q$),
	('win_rate open only', $q$SELECT pipeline.win_rate(stage) FROM hostile_rows WHERE grp = 2$q$),
	('win_rate per group', $q$SELECT grp || '=' || coalesce(pipeline.win_rate(stage)::text, 'NULL') FROM hostile_rows GROUP BY grp ORDER BY grp$q$),
	('win_rate custom', $q$SELECT pipeline.win_rate(deal) FROM hostile_rows$q$),
	('win_rate unregistered', $q$SELECT pipeline.win_rate('x'::hostile_unregistered)$q$),
	('conversion_rate NULL target', $q$SELECT pipeline.conversion_rate(stage, NULL) FROM hostile_rows$q$),
	('conversion_rate step NULLs', $q$SELECT pipeline.conversion_rate(stage, NULL, 'closed_won') FROM hostile_rows$q$),
	('conversion_rate step', $q$SELECT pipeline.conversion_rate(stage, 'proposal', 'closed_won') FROM hostile_rows$q$),
	('funnel no rows', $q$SELECT pipeline.funnel(stage) FROM hostile_rows WHERE false$q$),
	('funnel all NULL', $q$SELECT pipeline.funnel(stage) FROM hostile_rows WHERE grp = 3$q$),
	('funnel lost only', $q$SELECT pipeline.funnel(stage) FROM hostile_rows WHERE id = 3$q$),
	('funnel custom', $q$SELECT pipeline.funnel(deal) FROM hostile_rows$q$),
	('furthest_stage no rows', $q$SELECT pipeline.furthest_stage(stage) FROM hostile_rows WHERE false$q$),
	('furthest_stage lost only', $q$SELECT pipeline.furthest_stage(stage) FROM hostile_rows WHERE id = 3$q$),
	('furthest_stage custom', $q$SELECT pipeline.furthest_stage(deal) FROM hostile_rows$q$),
	('funnel moving window', $q$SELECT pipeline.funnel(stage) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM hostile_rows$q$),
	('furthest_stage moving window', $q$SELECT pipeline.furthest_stage(deal) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM hostile_rows$q$),
	-- amount aggregates: numerics
	('weighted_pipeline no rows', $q$SELECT pipeline.weighted_pipeline(stage, amount) FROM hostile_rows WHERE false$q$),
	('weighted_pipeline all NULL', $q$SELECT pipeline.weighted_pipeline(stage, amount) FROM hostile_rows WHERE grp = 3$q$),
	('weighted_pipeline no open row', $q$SELECT pipeline.weighted_pipeline(stage, amount) FROM hostile_rows WHERE id = 2$q$),
	('weighted_pipeline negative', $q$SELECT pipeline.weighted_pipeline('proposal'::pipeline.stage, -10.5)$q$),
	('weighted_pipeline NaN', $q$SELECT pipeline.weighted_pipeline('proposal'::pipeline.stage, 'NaN')$q$),
	('weighted_pipeline NaN on a lost row', $q$SELECT pipeline.weighted_pipeline('closed_lost'::pipeline.stage, 'NaN')$q$),
	('weighted_pipeline Infinity', $q$SELECT pipeline.weighted_pipeline('proposal'::pipeline.stage, 'Infinity')$q$),
	('weighted_pipeline -Infinity', $q$SELECT pipeline.weighted_pipeline('proposal'::pipeline.stage, '-Infinity')$q$),
	('weighted_pipeline 1e130000', $q$SELECT length(pipeline.weighted_pipeline('proposal'::pipeline.stage, 1e130000)::text)$q$),
	('weighted_pipeline 1e-16383', $q$SELECT pipeline.weighted_pipeline('proposal'::pipeline.stage, 1e-16383) = 6e-16384$q$),
	('weighted_pipeline huge sum overflows', $q$SELECT length(pipeline.weighted_pipeline(s, 9e131071)::text) FROM (VALUES ('proposal'::pipeline.stage), ('proposal')) AS v(s)$q$),
	('weighted_pipeline custom', $q$SELECT pipeline.weighted_pipeline(deal, amount) FROM hostile_rows$q$),
	('win_rate amount', $q$SELECT pipeline.win_rate(stage, amount) FROM hostile_rows$q$),
	('win_rate amount zero closed', $q$SELECT pipeline.win_rate(s, a) FROM (VALUES ('closed_won'::pipeline.stage, 5), ('closed_lost', -5)) AS v(s, a)$q$),
	('win_rate amount NaN', $q$SELECT pipeline.win_rate('closed_won'::pipeline.stage, 'NaN'::numeric)$q$),
	('win_rate amount 1e-16383', $q$SELECT pipeline.win_rate(s, 1e-16383) FROM (VALUES ('closed_won'::pipeline.stage), ('closed_lost')) AS v(s)$q$),
	('backlog_ratio sums', $q$SELECT pipeline.backlog_ratio(amount, 2) FROM hostile_rows$q$),
	('backlog_ratio sums zero sales', $q$SELECT pipeline.backlog_ratio(5, 0)$q$),
	('backlog_ratio sums negative', $q$SELECT pipeline.backlog_ratio(-5, 2)$q$),
	('backlog_ratio sums NaN backlog', $q$SELECT pipeline.backlog_ratio('NaN', 2)$q$),
	('backlog_ratio sums Infinity sales', $q$SELECT pipeline.backlog_ratio(1, 'Infinity')$q$),
	('backlog_ratio sums NULL', $q$SELECT pipeline.backlog_ratio(NULL::numeric, 1)$q$),
	('backlog_ratio sums tiny', $q$SELECT pipeline.backlog_ratio(1e-16383, 1e-16383)$q$),
	('backlog_ratio sums huge', $q$SELECT pipeline.backlog_ratio(1e130000, 1e130000)$q$),
	('backlog_ratio sums huge over tiny', $q$SELECT pipeline.backlog_ratio(1e130000, 1e-16383)$q$),
	-- backlog_amount: as_of
	('backlog_amount', $q$SELECT pipeline.backlog_amount(amount, booked, fulfilled, '2025-02-01') FROM hostile_rows$q$),
	('backlog_amount no rows', $q$SELECT pipeline.backlog_amount(amount, booked, fulfilled, '2025-02-01') FROM hostile_rows WHERE false$q$),
	('backlog_amount nothing qualifies', $q$SELECT pipeline.backlog_amount(amount, booked, fulfilled, '2000-01-01') FROM hostile_rows$q$),
	('backlog_amount as_of NULL', $q$SELECT pipeline.backlog_amount(amount, booked, fulfilled, NULL) FROM hostile_rows$q$),
	('backlog_amount as_of infinity', $q$SELECT pipeline.backlog_amount(amount, booked, fulfilled, 'infinity') FROM hostile_rows$q$),
	('backlog_amount as_of -infinity', $q$SELECT pipeline.backlog_amount(amount, booked, fulfilled, '-infinity') FROM hostile_rows$q$),
	('backlog_amount booked infinity', $q$SELECT pipeline.backlog_amount(1, 'infinity', NULL, '2025-01-01')$q$),
	('backlog_amount booked -infinity', $q$SELECT pipeline.backlog_amount(1, '-infinity', 'infinity', '2025-01-01')$q$),
	('backlog_amount as_of differs', $q$SELECT pipeline.backlog_amount(amount, booked, fulfilled, booked) FROM hostile_rows$q$),
	('backlog_amount NaN', $q$SELECT pipeline.backlog_amount('NaN', '2025-01-01', NULL, '2025-02-01')$q$),
	-- periods
	('backlog_ratio period', $q$SELECT pipeline.backlog_ratio(amount, booked, fulfilled, '[2025-01-01,2025-03-01)') FROM hostile_rows$q$),
	('book_to_bill period', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, '[2025-01-01,2025-03-01)') FROM hostile_rows$q$),
	('book_to_bill NULL period', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, NULL) FROM hostile_rows$q$),
	('book_to_bill empty period', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, 'empty') FROM hostile_rows$q$),
	('book_to_bill unbounded lower', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, '(,2025-03-01)') FROM hostile_rows$q$),
	('book_to_bill -infinity lower', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, '[-infinity,2025-03-01)') FROM hostile_rows$q$),
	('book_to_bill unbounded upper', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, '[2025-01-01,)') FROM hostile_rows$q$),
	('book_to_bill infinity upper', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, '[2025-01-01,infinity)') FROM hostile_rows$q$),
	('book_to_bill inclusive upper', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, '[2025-01-01,2025-03-01]') FROM hostile_rows$q$),
	('book_to_bill exclusive lower', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, '(2025-01-01,2025-03-01)') FROM hostile_rows$q$),
	('book_to_bill unbounded both', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, '(,)') FROM hostile_rows$q$),
	('book_to_bill period differs', $q$SELECT pipeline.book_to_bill(amount, booked, fulfilled, tstzrange(booked, '2026-01-01')) FROM hostile_rows$q$),
	('book_to_bill empty then not', $q$SELECT pipeline.book_to_bill(1, '2025-01-01', NULL, p) FROM (VALUES ('empty'::tstzrange), ('[2025-01-01,2025-02-01)')) AS v(p)$q$),
	('book_to_bill nothing fulfilled', $q$SELECT pipeline.book_to_bill(1, '2025-01-01', NULL, '[2025-01-01,2025-02-01)')$q$),
	('book_to_bill NaN', $q$SELECT pipeline.book_to_bill('NaN', '2025-01-01', NULL, '[2025-01-01,2025-02-01)')$q$),
	('book_to_bill one-microsecond period', $q$SELECT pipeline.book_to_bill(1, '2025-01-01', '2025-01-01', tstzrange('2025-01-01', '2025-01-01'::timestamptz + interval '1 microsecond'))$q$),
	('backlog_ratio inclusive upper', $q$SELECT pipeline.backlog_ratio(1, now(), NULL, '[2025-01-01,2025-03-01]')$q$),
	('backlog_ratio moving window', $q$SELECT pipeline.backlog_ratio(amount, booked, fulfilled, '[2025-01-01,2025-03-01)') OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM hostile_rows$q$),
	('backlog_amount moving window', $q$SELECT pipeline.backlog_amount(amount, booked, fulfilled, '2025-01-20') OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM hostile_rows$q$),
	('weighted_pipeline moving window', $q$SELECT pipeline.weighted_pipeline(stage, amount) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM hostile_rows$q$),
	('win_rate amount moving window', $q$SELECT pipeline.win_rate(deal, amount) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM hostile_rows$q$);
CREATE TABLE hostile_results AS
SELECT id, label, hostile_try(q) AS result FROM hostile_cases ORDER BY id;

SELECT label, CASE WHEN length(result) > 300 THEN left(result, 200) || '...' ELSE result END AS result
  FROM hostile_results ORDER BY id;

-- No case may end in an internal error.
SELECT label, result FROM hostile_results WHERE result LIKE 'XX%';

DROP TABLE hostile_results, hostile_rows;
SELECT pipeline.undefine_stages('hostile_deal');
DROP TYPE hostile_deal, hostile_unregistered;
DROP FUNCTION hostile_try(text);
RESET TimeZone;
