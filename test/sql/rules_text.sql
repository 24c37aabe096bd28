-- allowed_moves and can_move: the rules of an attached table, asked with
-- text and bound parameters (as drivers send them), equal to next_stages
-- and can_transition under the attachment's ruleset for every (from, to)
-- pair; NULLs, unknown labels (22P02), unattached tables (42704), custom
-- rulesets, custom types, other stage columns, partitions, ruleset
-- switches; STABLE and PARALLEL SAFE.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set VERBOSITY default
\set SHOW_CONTEXT never

\i test/sql/include/try.sql

CREATE SCHEMA regress_rt;
CREATE TABLE regress_rt.deals (id integer PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('regress_rt.deals');
-- A custom type on a column not named stage, with a custom ruleset.
CREATE TYPE regress_rt.flow AS ENUM ('new', 'trial', 'dropped', 'review', 'paid', 'churned');
SELECT pipeline.define_stages('regress_rt.flow', won => '{paid}', lost => '{dropped,churned}');
SELECT pipeline.copy_ruleset('regress_rt.flow', 'strict', 'fast');
SELECT pipeline.allow_transition('regress_rt.flow', 'fast', 'new', 'paid');
SELECT pipeline.allow_transition('regress_rt.flow', 'fast', NULL, 'review');
SELECT pipeline.forbid_transition('regress_rt.flow', 'fast', 'trial', 'dropped');
CREATE TABLE regress_rt.subs (id integer PRIMARY KEY, status regress_rt.flow NOT NULL);
SELECT pipeline.attach('regress_rt.subs', 'status', 'fast');

-- Signatures and markings.
SELECT p.oid::regprocedure, p.provolatile, p.proparallel, p.proisstrict, pg_get_function_arguments(p.oid)
  FROM pg_proc p WHERE p.oid IN ('pipeline.allowed_moves(regclass,text,name)'::regprocedure,
								 'pipeline.can_move(regclass,text,text,name)'::regprocedure)
 ORDER BY 1::text;

-- What a stage picker shows.
SELECT pipeline.allowed_moves('regress_rt.deals', 'proposal') AS from_proposal,
	   pipeline.allowed_moves('regress_rt.deals', NULL) AS new_row,
	   pipeline.allowed_moves('regress_rt.deals', 'closed_lost') AS from_lost,
	   pipeline.allowed_moves('regress_rt.subs', 'new', 'status') AS subs_from_new,
	   pipeline.allowed_moves('regress_rt.subs', NULL, 'status') AS subs_new_row,
	   pipeline.allowed_moves('regress_rt.subs', 'trial', 'status') AS subs_from_trial;
SELECT pg_typeof(pipeline.allowed_moves('regress_rt.deals', 'proposal')) AS type,
	   cardinality(pipeline.allowed_moves('regress_rt.deals', 'closed_lost')) AS none_is_empty;
SELECT pipeline.can_move('regress_rt.deals', 'proposal', 'negotiation') AS forward,
	   pipeline.can_move('regress_rt.deals', 'proposal', 'closed_won') AS skip_to_won,
	   pipeline.can_move('regress_rt.deals', NULL, 'prospecting') AS create_prospecting,
	   pipeline.can_move('regress_rt.deals', NULL, 'proposal') AS create_proposal,
	   pipeline.can_move('regress_rt.deals', 'closed_lost', 'closed_lost') AS same_stage,
	   pipeline.can_move('regress_rt.subs', 'new', 'paid', 'status') AS custom_edge,
	   pipeline.can_move('regress_rt.subs', 'trial', 'dropped', 'status') AS forbidden_edge,
	   pipeline.can_move('regress_rt.subs', NULL, 'review', 'status') AS custom_creation;

-- Every (from, to) pair of both attachments, creation included, against
-- next_stages and can_transition with the enum and the ruleset named.
WITH pairs AS (
	SELECT 'deals' AS t, f.e::text AS f, t.e::text AS t2,
		   pipeline.can_move('regress_rt.deals', f.e::text, t.e::text) AS got,
		   pipeline.can_transition(f.e, t.e, 'strict') AS want
	  FROM (SELECT NULL::pipeline.stage AS e UNION ALL SELECT unnest(enum_range(NULL::pipeline.stage))) f,
		   unnest(enum_range(NULL::pipeline.stage)) t(e)
	UNION ALL
	SELECT 'subs', f.e::text, t.e::text,
		   pipeline.can_move('regress_rt.subs', f.e::text, t.e::text, 'status'),
		   pipeline.can_transition(f.e, t.e, 'fast')
	  FROM (SELECT NULL::regress_rt.flow AS e UNION ALL SELECT unnest(enum_range(NULL::regress_rt.flow))) f,
		   unnest(enum_range(NULL::regress_rt.flow)) t(e))
SELECT t, count(*) AS pairs, count(*) FILTER (WHERE got) AS allowed,
	   count(*) FILTER (WHERE got IS DISTINCT FROM want) AS mismatches
  FROM pairs GROUP BY t ORDER BY t;
-- For a reader's eye: the pairs from trial of "fast" (strict's edges, with
-- trial -> dropped forbidden), both ways of asking side by side.
SELECT t.e AS to_status, pipeline.can_move('regress_rt.subs', 'trial', t.e::text, 'status') AS got,
	   pipeline.can_transition('trial'::regress_rt.flow, t.e, 'fast') AS want
  FROM unnest(enum_range(NULL::regress_rt.flow)) t(e) ORDER BY t.e;
WITH froms AS (
	SELECT 'deals' AS t, pipeline.allowed_moves('regress_rt.deals', f.e::text) AS got,
		   pipeline.next_stages(f.e, 'strict')::text[] AS want
	  FROM (SELECT NULL::pipeline.stage AS e UNION ALL SELECT unnest(enum_range(NULL::pipeline.stage))) f
	UNION ALL
	SELECT 'subs', pipeline.allowed_moves('regress_rt.subs', f.e::text, 'status'),
		   pipeline.next_stages(f.e, 'fast')::text[]
	  FROM (SELECT NULL::regress_rt.flow AS e UNION ALL SELECT unnest(enum_range(NULL::regress_rt.flow))) f)
SELECT t, count(*) AS froms, count(*) FILTER (WHERE got IS DISTINCT FROM want) AS mismatches
  FROM froms GROUP BY t ORDER BY t;
-- ... and every "from" of subs: what the picker offers, what next_stages says.
SELECT f.e AS from_status, pipeline.allowed_moves('regress_rt.subs', f.e::text, 'status') AS got,
	   pipeline.next_stages(f.e, 'fast')::text[] AS want
  FROM (SELECT NULL::regress_rt.flow AS e UNION ALL SELECT unnest(enum_range(NULL::regress_rt.flow))) f
 ORDER BY f.e NULLS FIRST;

-- Bound parameters of type text (what JDBC, node-postgres and psqlODBC
-- send), and unknown-typed ones: no cast to the enum needed.
PREPARE moves(text, text) AS SELECT pipeline.allowed_moves($1::regclass, $2);
EXECUTE moves('regress_rt.deals', 'qualification');
PREPARE may(text, text, text) AS SELECT pipeline.can_move($1::regclass, $2, $3);
EXECUTE may('regress_rt.deals', 'qualification', 'initial_contact');
EXECUTE may('regress_rt.deals', 'qualification', 'closed_won');
PREPARE moves_unknown AS SELECT pipeline.allowed_moves($1, $2, $3);
EXECUTE moves_unknown('regress_rt.subs', 'new', 'status');
PREPARE may_unknown AS SELECT pipeline.can_move($1, $2, $3, $4);
EXECUTE may_unknown('regress_rt.subs', 'review', 'paid', 'status');
-- The rows of a table, with the moves its picker offers.
SELECT d.id, d.stage, pipeline.allowed_moves('regress_rt.deals', d.stage::text) AS moves
  FROM (VALUES (1, 'lead_generation'), (2, 'negotiation'), (3, 'follow_up')) d(id, stage) ORDER BY d.id;

-- NULLs: from_stage NULL is creation; any other NULL gives NULL.
SELECT pipeline.allowed_moves(NULL, 'proposal') IS NULL AS null_table,
	   pipeline.allowed_moves('regress_rt.deals', 'proposal', NULL) IS NULL AS null_column,
	   pipeline.can_move(NULL, 'proposal', 'negotiation') IS NULL AS can_null_table,
	   pipeline.can_move('regress_rt.deals', 'proposal', NULL) IS NULL AS can_null_to,
	   pipeline.can_move('regress_rt.deals', 'proposal', 'negotiation', NULL) IS NULL AS can_null_column;

-- Unknown labels: 22P02 with the valid labels, like enum input.
SELECT pg_temp.try($$SELECT pipeline.allowed_moves('regress_rt.deals', 'Proposal')$$);
SELECT pg_temp.try($$SELECT pipeline.can_move('regress_rt.deals', 'proposal', 'won')$$);
SELECT pg_temp.try($$SELECT pipeline.can_move('regress_rt.deals', 'nope', 'nope')$$);
SELECT pg_temp.try($$SELECT pipeline.can_move('regress_rt.subs', NULL, 'closed_won', 'status')$$);
SELECT pg_temp.try($$SELECT pipeline.allowed_moves('regress_rt.deals', '')$$);

-- Not attached: 42704; no such relation: 42P01.
CREATE TABLE regress_rt.plain (id integer PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pg_temp.try($$SELECT pipeline.allowed_moves('regress_rt.plain', 'proposal')$$);
SELECT pg_temp.try($$SELECT pipeline.can_move('regress_rt.plain', 'proposal', 'negotiation')$$);
SELECT pg_temp.try($$SELECT pipeline.allowed_moves('regress_rt.subs', 'new')$$);
SELECT pg_temp.try($$SELECT pipeline.can_move('regress_rt.deals', 'proposal', 'negotiation', 'status')$$);
SELECT pg_temp.try($$SELECT pipeline.allowed_moves(0::oid::regclass, 'proposal')$$);
-- Detached: 42704 again.
SELECT pipeline.detach('regress_rt.subs', 'status');
SELECT pg_temp.try($$SELECT pipeline.allowed_moves('regress_rt.subs', 'new', 'status')$$);
SELECT pipeline.attach('regress_rt.subs', 'status', 'fast');

-- The ruleset is the attachment's: switching it changes the answers at once.
SELECT pipeline.allowed_moves('regress_rt.deals', 'proposal') AS strict;
SELECT pipeline.attach('regress_rt.deals', ruleset => 'lenient');
SELECT pipeline.allowed_moves('regress_rt.deals', 'proposal') AS lenient;
SELECT pipeline.attach('regress_rt.deals');
-- A label added to the type is a label at once (the custom ruleset has no
-- edge for it yet).
ALTER TYPE regress_rt.flow ADD VALUE 'pilot' BEFORE 'review';
SELECT pipeline.allowed_moves('regress_rt.subs', 'trial', 'status') AS with_pilot,
	   pipeline.can_move('regress_rt.subs', 'pilot', 'review', 'status') AS pilot_forward;

-- A partition answers for its attached root.
CREATE TABLE regress_rt.parts (region text, id integer, stage pipeline.stage NOT NULL, PRIMARY KEY (region, id))
	PARTITION BY LIST (region);
CREATE TABLE regress_rt.parts_eu PARTITION OF regress_rt.parts FOR VALUES IN ('eu');
SELECT pipeline.attach('regress_rt.parts', ruleset => 'lenient');
SELECT pipeline.allowed_moves('regress_rt.parts_eu', 'proposal') = pipeline.allowed_moves('regress_rt.parts', 'proposal')
	   AS partition_as_root,
	   pipeline.can_move('regress_rt.parts_eu', 'closed_lost', 'proposal') AS lenient_reopen;

-- Anyone may ask (the rules are public, like pipeline.transition_rules),
-- and the answer does not depend on the search_path.
CREATE ROLE regress_rt_app;
GRANT USAGE ON SCHEMA regress_rt TO regress_rt_app;
SET ROLE regress_rt_app;
SET search_path = regress_rt, public;
SELECT pipeline.allowed_moves('deals', 'negotiation') AS as_app, pipeline.can_move('deals', 'negotiation', 'closed_won');
RESET search_path;
RESET ROLE;

-- Parallel safe: usable in a parallel plan.
CREATE TABLE regress_rt.many AS SELECT i AS id, (enum_range(NULL::pipeline.stage))[1 + i % 9]::text AS stage
  FROM generate_series(1, 20000) i;
ANALYZE regress_rt.many;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM regress_rt.many WHERE pipeline.can_move('regress_rt.deals', stage, 'closed_lost');
SELECT count(*) FILTER (WHERE pipeline.can_move('regress_rt.deals', stage, 'closed_lost')) AS may_lose,
	   count(*) FILTER (WHERE cardinality(pipeline.allowed_moves('regress_rt.deals', stage)) = 0) AS final
  FROM regress_rt.many;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

SET client_min_messages = warning;
DROP SCHEMA regress_rt CASCADE;
RESET client_min_messages;
DROP ROLE regress_rt_app;
