-- A short run of the state input fuzzer (test/stress/fuzz_states.sql; the
-- long run is part of `make stress`): 20000 mutated text states and 1000
-- mutated binary states, each accepted (and then reading back to itself
-- and usable by the support functions without an internal error) or
-- rejected with an SQLSTATE other than XX000.  The seed is fixed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
\set ECHO none
\i test/stress/fuzz_states.sql
\set ECHO all
RESET client_min_messages;

SELECT cases, internal_errors, round_trip_failures, binary_cases_tried,
	   accepted > 0 AND rejected > 0 AS some_accepted_some_rejected,
	   binary_accepted > 0 AND binary_rejected > 0 AS some_binary_accepted_some_rejected
  FROM fuzz_states(20000, 1000, 0.2024);

SET client_min_messages = warning;
SELECT pipeline.undefine_stages('public.fuzz_deal');
DROP TYPE public.fuzz_deal;
DROP FUNCTION fuzz_states(int, int, float8), fuzz_corpus(), fuzz_use_count_state(pipeline.count_state),
	fuzz_use_amount_state(pipeline.amount_state), fuzz_mutate(text), fuzz_mutate_bytes(bytea),
	fuzz_pick(text[]), fuzz_first_internal_error(text[], anyelement);
RESET client_min_messages;
