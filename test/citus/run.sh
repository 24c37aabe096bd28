#!/bin/bash
# The distributed cases, run by tools/run-citus-tests.sh (`make test-citus`)
# against a Citus cluster it started: PGHOST (socket directory), COORD,
# WORKER1 (in the cluster) and WORKER2 (added here, to test a node added
# later), PSQL_BIN.  Every check compares the distributed answer with the
# single-node one (a plain copy of the same rows on the coordinator) or
# with what the design says.  Prints "ok N - ..." / "not ok N - ..." and
# "citus: N passed, M failed"; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")"

PSQL=("$PSQL_BIN" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose)
n=0
pass=0
fail=0

# sql PORT SQL...: run, print the result (and errors).
sql() { local port=$1; shift; "${PSQL[@]}" -p "$port" -c "$*" 2>&1; }
# setup PORT: run stdin, stop the run on error.
setup() {
	local out
	if ! out=$("${PSQL[@]}" -p "$1" 2>&1); then
		echo "Bail out! setup failed:"; echo "$out" | sed 's/^/#   /'; exit 1
	fi
}
result() {
	n=$((n + 1))
	if [ "$1" = pass ]; then
		pass=$((pass + 1)); echo "ok $n - $2"
	else
		fail=$((fail + 1)); echo "not ok $n - $2"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | head -n 8 | sed 's/^/#   /'
	fi
}
# check NAME PORT SQL: passes when SQL prints exactly "t".
check() {
	local out
	out=$(sql "$2" "$3")
	if [ "$out" = t ]; then result pass "$1"; else result fail "$1" "$out"; fi
}
# check_error NAME PORT SQLSTATE SQL [TEXT]: passes when SQL fails with that
# SQLSTATE (and its message, detail or hint contains TEXT).
check_error() {
	local out
	out=$(sql "$2" "$4")
	# (pattern matching, not grep -q in a pipe: under pipefail an early
	# exit of grep can fail the pipe)
	if [[ $out == *"ERROR:  $3:"* ]] && [[ -z ${5:-} || $out == *"$5"* ]]; then
		result pass "$1"
	else
		result fail "$1" "$out"
	fi
}

# ---------------------------------------------------------------------------
# Setup: a custom stage type, a setting, a custom ruleset; a distributed
# table of deals and its plain copy on the coordinator.
# ---------------------------------------------------------------------------
setup "$COORD" <<'SQL'
CREATE EXTENSION pipeline;
CREATE TYPE public.deal_stage AS ENUM ('new', 'qualified', 'demo', 'proposal', 'signed', 'renewed', 'lost');
SELECT pipeline.define_stages('public.deal_stage', won => ARRAY['signed', 'renewed'], lost => ARRAY['lost'],
	probabilities => ARRAY[0.1, 0.25, 0.4, 0.7, 1, 1, 0], entry => ARRAY['new']);
SELECT pipeline.copy_ruleset('public.deal_stage', 'strict', 'fast');
SELECT pipeline.allow_transition('public.deal_stage', 'fast', 'new', 'proposal');
SELECT pipeline.set_probability('pipeline.stage', 'proposal', 0.55);
SELECT pipeline.set_rotting_after('public.deal_stage', 'demo', '3 days 4 hours');

CREATE TABLE public.deals (
	id bigint PRIMARY KEY, region text NOT NULL, stage pipeline.stage NOT NULL,
	dstage public.deal_stage NOT NULL, converted boolean, amount numeric(12, 2),
	backlog numeric(12, 2), sales numeric(12, 2), booked_at timestamptz, fulfilled_at timestamptz);
SELECT create_distributed_table('public.deals', 'id', shard_count => 8);
INSERT INTO public.deals
SELECT i, 'r' || (i % 7),
	   (enum_range(NULL::pipeline.stage))[1 + (i * 7) % 9],
	   (enum_range(NULL::public.deal_stage))[1 + (i * 5) % 7],
	   CASE WHEN i % 11 = 0 THEN NULL ELSE i % 3 = 0 END,
	   CASE WHEN i % 13 = 0 THEN NULL ELSE round(((i * 7919) % 200000 - 10000) / 100.0, 2) END,
	   round(((i * 31) % 50000) / 100.0, 2), round(((i * 17) % 50000) / 100.0, 2),
	   timestamptz '2026-01-01 00:00+00' + (i % 180) * interval '1 day',
	   CASE WHEN i % 3 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00+00' + (i % 180 + i % 61) * interval '1 day' END
  FROM generate_series(1, 20000) i;
CREATE TABLE public.deals_local AS SELECT * FROM public.deals;
SQL

# ---------------------------------------------------------------------------
# Configuration on every node
# ---------------------------------------------------------------------------
SAME_CONFIG="SELECT count(DISTINCT result) = 1 AND bool_and(success)
  FROM run_command_on_all_nodes(\$\$SELECT pipeline._citus_config_snapshot()::text\$\$)"
SAME_CATALOG="SELECT count(DISTINCT result) = 1 AND bool_and(success)
  FROM run_command_on_all_nodes(\$\$SELECT string_agg(concat_ws('|', stage_type, stage, ordinal, kind, probability, is_entry, rotting_after), ',' ORDER BY stage_type, ordinal) FROM pipeline.stage_catalog\$\$)"
check "configuration by name is the coordinator's on every node" "$COORD" "$SAME_CONFIG"
check "stage_catalog (custom type, probabilities, entry, rotting) is the same on every node" "$COORD" "$SAME_CATALOG"
check "a worker resolves the custom type with its own OID" "$COORD" \
	"SELECT bool_and(success AND result = 't') FROM run_command_on_workers(\$\$SELECT stage_type = 'public.deal_stage'::regtype FROM pipeline.stage_types\$\$)"
check "custom ruleset exists on the workers" "$COORD" \
	"SELECT bool_and(success AND result = 't') FROM run_command_on_workers(\$\$SELECT pipeline.can_transition('new'::public.deal_stage, 'proposal', 'fast') AND NOT pipeline.can_transition('new'::public.deal_stage, 'proposal', 'strict')\$\$)"
check_error "a worker refuses a configuration change made on it" "$WORKER1" 0A000 \
	"SELECT pipeline.set_probability('pipeline.stage', 'proposal', 0.9)" "changed on its coordinator"
setup "$COORD" <<<"BEGIN; SELECT pipeline.set_probability('public.deal_stage', 'demo', 0.99); ROLLBACK;"
check "a rolled-back change reaches no node" "$COORD" \
	"SELECT ($SAME_CATALOG) AND (SELECT bool_and(result = '0.4') FROM run_command_on_all_nodes(\$\$SELECT pipeline.stage_probability('demo'::public.deal_stage)\$\$))"

WP_DIST="SELECT array_agg(v ORDER BY g) FROM (SELECT region AS g, pipeline.weighted_pipeline(stage, amount) AS v FROM public.deals GROUP BY region) s"
WP_LOCAL="SELECT array_agg(v ORDER BY g) FROM (SELECT region AS g, pipeline.weighted_pipeline(stage, amount) AS v FROM public.deals_local GROUP BY region) s"
before=$(sql "$COORD" "$WP_DIST")
setup "$COORD" <<<"SELECT pipeline.set_probability('pipeline.stage', 'negotiation', 0.65)"
check "a probability change is in effect on the workers: weighted_pipeline equals single-node" "$COORD" \
	"SELECT ($WP_DIST) = ($WP_LOCAL) AND ($WP_DIST)::text <> '$before'"

# A node added later: refuses until pipeline.citus_resync().
setup "$COORD" <<<"SELECT citus_add_node('127.0.0.1', $WORKER2)"
check_error "a node added later refuses to answer before pipeline.citus_resync()" "$WORKER2" 55000 \
	"SELECT pipeline.stage_kind('signed'::public.deal_stage)" "citus_resync"
check "pipeline.citus_resync() returns the version published" "$COORD" "SELECT pipeline.citus_resync() > 0"
check "after the resync the new node has the configuration" "$COORD" "$SAME_CONFIG"
check "after the resync the new node answers from it" "$WORKER2" \
	"SELECT pipeline.stage_kind('signed'::public.deal_stage) = 'won' AND pipeline.stage_probability('negotiation'::pipeline.stage) = 0.65"
# Spread the shards over both workers (shard moves).
setup "$COORD" <<<"SELECT rebalance_table_shards()"
check "the rebalance put shards of deals on both workers" "$COORD" \
	"SELECT count(DISTINCT nodeport) = 2 FROM pg_dist_shard_placement p JOIN pg_dist_shard s USING (shardid) WHERE s.logicalrelid = 'public.deals'::regclass"

# ---------------------------------------------------------------------------
# Every aggregate against the single-node answer: grouped by a column that
# is not the distribution column (partial aggregation on the workers,
# combine and final on the coordinator), grouped by the distribution
# column (entirely on the workers), and over the whole table.
# ---------------------------------------------------------------------------
P="tstzrange('2026-03-01 00:00+00', '2026-04-01 00:00+00', '[)')"
U="timestamptz '2026-04-01 00:00+00'"
AGGS=(
	"pipeline.conversion_rate(converted)"
	"pipeline.conversion_rate(stage, 'proposal')"
	"pipeline.conversion_rate(stage, 'qualification', 'closed_won')"
	"pipeline.win_rate(stage)"
	"pipeline.funnel(stage)"
	"pipeline.furthest_stage(stage)"
	"pipeline.win_rate(stage, amount)"
	"pipeline.weighted_pipeline(stage, amount)"
	"pipeline.conversion_rate(dstage, 'demo')"
	"pipeline.conversion_rate(dstage, 'qualified', 'signed')"
	"pipeline.win_rate(dstage)"
	"pipeline.funnel(dstage)"
	"pipeline.furthest_stage(dstage)"
	"pipeline.win_rate(dstage, amount)"
	"pipeline.weighted_pipeline(dstage, amount)"
	"pipeline.backlog_ratio(backlog, sales)"
	"pipeline.backlog_amount(amount, booked_at, fulfilled_at, $U)"
	"pipeline.backlog_ratio(amount, booked_at, fulfilled_at, $P)"
	"pipeline.book_to_bill(amount, booked_at, fulfilled_at, $P)"
	"pipeline.backlog_series(amount, booked_at, fulfilled_at, '2026-01-01 00:00+00', '1 week', 20)"
)
for a in "${AGGS[@]}"; do
	q="SELECT (SELECT array_agg(v::text ORDER BY g) FROM (SELECT region AS g, $a AS v FROM public.deals GROUP BY region) s)
	        IS NOT DISTINCT FROM (SELECT array_agg(v::text ORDER BY g) FROM (SELECT region AS g, $a AS v FROM public.deals_local GROUP BY region) s)
	   AND (SELECT array_agg(v::text ORDER BY g) FROM (SELECT id AS g, $a AS v FROM public.deals WHERE id % 97 = 0 GROUP BY id) s)
	        IS NOT DISTINCT FROM (SELECT array_agg(v::text ORDER BY g) FROM (SELECT id AS g, $a AS v FROM public.deals_local WHERE id % 97 = 0 GROUP BY id) s)
	   AND (SELECT $a::text FROM public.deals) IS NOT DISTINCT FROM (SELECT $a::text FROM public.deals_local)"
	check "$a: distributed equals single-node (by region, by id, whole table)" "$COORD" "$q"
done
plan=$(sql "$COORD" "EXPLAIN (VERBOSE, COSTS OFF) SELECT region, pipeline.win_rate(dstage, amount), pipeline.funnel(dstage) FROM public.deals GROUP BY region")
if [[ $plan == *"worker_partial_agg('pipeline.win_rate(public.deal_stage,numeric)'"* &&
	$plan == *"worker_partial_agg('pipeline.funnel(public.deal_stage)'"* ]]; then
	result pass "custom-type aggregates are pushed down (worker_partial_agg on the workers)"
else
	result fail "custom-type aggregates are pushed down (worker_partial_agg on the workers)" "$plan"
fi

# ---------------------------------------------------------------------------
# attach on a distributed table
# ---------------------------------------------------------------------------
setup "$COORD" <<'SQL'
CREATE TABLE public.opps (id bigint PRIMARY KEY, owner_name text, stage public.deal_stage NOT NULL, amount numeric(12, 2));
SELECT create_distributed_table('public.opps', 'id', shard_count => 8);
-- rows already past an entry stage: attach gives each a creation row
INSERT INTO public.opps SELECT i, 'o' || (i % 5), (enum_range(NULL::public.deal_stage))[1 + i % 7], i FROM generate_series(1, 400) i;
SELECT pipeline.attach('public.opps', ruleset => 'fast');
SQL
check "attach: the history table is distributed on the same column, colocated" "$COORD" \
	"SELECT h.colocationid = t.colocationid AND column_to_column_name(h.logicalrelid, h.partkey) = 'id'
	   FROM pg_dist_partition h, pg_dist_partition t
	  WHERE h.logicalrelid = 'public.opps_stage_history'::regclass AND t.logicalrelid = 'public.opps'::regclass"
check "attach: the pipeline triggers are on every shard" "$COORD" \
	"SELECT count(*) = 8 AND bool_and(result = '5') FROM run_command_on_shards('public.opps',
	   \$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass AND tgname LIKE 'zz_pipeline_%%'\$\$)"
check "attach: one creation row per existing row" "$COORD" \
	"SELECT count(*) = 400 AND count(DISTINCT id) = 400 AND bool_and(from_stage IS NULL) FROM public.opps_stage_history"
check "attach: every node has the attachment, with its own OIDs" "$COORD" \
	"SELECT bool_and(success AND result = 't') FROM run_command_on_all_nodes(\$\$SELECT target = 'public.opps'::regclass AND history = 'public.opps_stage_history'::regclass AND ruleset = 'fast' FROM pipeline.attached_tables WHERE stage_column = 'stage'\$\$)"

check_error "illegal move through the coordinator: 23514, naming the table" "$COORD" 23514 \
	"UPDATE public.opps SET stage = 'signed' WHERE id = 7" 'Table public.opps follows ruleset "fast"'
check_error "illegal move issued on a worker: 23514" "$WORKER1" 23514 \
	"UPDATE public.opps SET stage = 'new' WHERE id = 3" 'illegal stage transition from "proposal" to "new"'
check_error "illegal creation issued on the other worker: 23514" "$WORKER2" 23514 \
	"INSERT INTO public.opps VALUES (1001, 'o1', 'demo', 1)" 'from (new row) to "demo"'
# What arrives of a worker's error (docs/scaling-out.md, "Errors raised on
# the workers"): through a command Citus runs on the shard, the SQLSTATE,
# message, DETAIL and HINT; through the COPY Citus sends into the shards
# (INSERT ... SELECT through the coordinator, COPY), only the message and
# DETAIL under XX000 -- so there the DETAIL carries the SQLSTATE and HINT.
check_error "illegal move through the coordinator: the HINT arrives, the DETAIL names the failing row's key" "$COORD" 23514 \
	"UPDATE public.opps SET stage = 'signed' WHERE id = 7" $'DETAIL:  Allowed from "new": qualified, proposal, lost. Failing row has key (id)=(7).\nHINT:  Table public.opps'
out=$(sql "$COORD" "UPDATE public.opps SET stage = 'signed' WHERE id = 7")
if [[ $out != *"SQLSTATE: "* ]]; then result pass "... and its DETAIL is the single-server one (no SQLSTATE added)"; else result fail "... and its DETAIL is the single-server one (no SQLSTATE added)" "$out"; fi
check_error "illegal creation by INSERT ... SELECT through the coordinator (Citus COPYs into the shards): XX000, the message and the DETAIL with the key" "$COORD" XX000 \
	"INSERT INTO public.opps SELECT i, 'x', 'demo', 1 FROM generate_series(3001, 3010) i" \
	$'illegal stage transition from (new row) to "demo"\nDETAIL:  Allowed from (new row): new. Failing row has key (id)=(30'
check_error "... the DETAIL carries SQLSTATE 23514 and the HINT" "$COORD" XX000 \
	"INSERT INTO public.opps SELECT i, 'x', 'demo', 1 FROM generate_series(3001, 3010) i" \
	$'\nSQLSTATE: 23514\nHINT: Table public.opps follows ruleset "fast" of public.deal_stage, which creates rows only in its entry stages.'
check_error "illegal creation by COPY through the coordinator: the DETAIL carries SQLSTATE 23514 and the HINT" "$COORD" XX000 \
	"COPY public.opps FROM PROGRAM 'printf ''3011,x,demo,1\\n''' WITH (FORMAT csv)" \
	$'Failing row has key (id)=(3011).\nSQLSTATE: 23514\nHINT: Table public.opps follows ruleset "fast"'
check "... and nothing of those statements was written" "$COORD" \
	"SELECT NOT EXISTS (SELECT 1 FROM public.opps WHERE id > 3000) AND NOT EXISTS (SELECT 1 FROM public.opps_stage_history WHERE id > 3000)"
setup "$COORD" <<'SQL'
UPDATE public.opps SET stage = 'qualified' WHERE id IN (7, 14, 21);
UPDATE public.opps SET stage = 'demo' WHERE id = 7;
INSERT INTO public.opps VALUES (1002, 'o2', 'new', 5), (1003, 'o3', 'new', 6);
DELETE FROM public.opps WHERE id = 21;
SQL
setup "$WORKER1" <<'SQL'
UPDATE public.opps SET stage = 'demo' WHERE id = 14;
UPDATE public.opps SET stage = 'proposal' WHERE id = 1002;
SQL
setup "$WORKER2" <<'SQL'
UPDATE public.opps SET stage = 'proposal' WHERE id = 7;
INSERT INTO public.opps VALUES (1004, 'o4', 'new', 7);
SQL
check "history counts: 400 creations + 7 moves + 3 creations + 1 deletion" "$COORD" \
	"SELECT count(*) = 411 AND count(*) FILTER (WHERE to_stage IS NULL) = 1 FROM public.opps_stage_history"
CHAIN="SELECT bool_and(ok) FROM (
	SELECT h.id, bool_and(h.from_stage IS NOT DISTINCT FROM h.prev) AND (array_agg(h.to_stage ORDER BY h.changed_at DESC, h.seq DESC))[1] IS NOT DISTINCT FROM min(o.stage) AS ok
	  FROM (SELECT *, lag(to_stage) OVER (PARTITION BY id ORDER BY changed_at, seq) AS prev FROM public.opps_stage_history) h
	  LEFT JOIN public.opps o ON o.id = h.id
	 GROUP BY h.id) c"
check "history in (changed_at, seq) order is an unbroken chain ending at each row's stage" "$COORD" "$CHAIN"
check "history is in the shard colocated with the row's shard, on the same node" "$COORD" \
	"SELECT bool_and(a.nodeport = b.nodeport) FROM (SELECT id, get_shard_id_for_distribution_column('public.opps', id) s,
	        get_shard_id_for_distribution_column('public.opps_stage_history', id) hs FROM public.opps) x
	   JOIN pg_dist_shard_placement a ON a.shardid = x.s JOIN pg_dist_shard_placement b ON b.shardid = x.hs"

# ---------------------------------------------------------------------------
# Shard moves: history order and the views right after them
# ---------------------------------------------------------------------------
# Move the shard of key 14 to the other worker and back, with writes in
# between: seq comes from each node's own identity range, so it runs
# backwards on one of the two nodes.
move_shard_of() {
	local key=$1 from to
	from=$(sql "$COORD" "SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('public.opps', $key)")
	to=$([ "$from" = "$WORKER1" ] && echo "$WORKER2" || echo "$WORKER1")
	setup "$COORD" <<<"SELECT citus_move_shard_placement(get_shard_id_for_distribution_column('public.opps', $key), '127.0.0.1', $from, '127.0.0.1', $to)"
}
move_shard_of 14
setup "$COORD" <<<"UPDATE public.opps SET stage = 'proposal' WHERE id = 14"
move_shard_of 14
setup "$COORD" <<<"UPDATE public.opps SET stage = 'signed' WHERE id = 14"
check "after two shard moves: seq alone misorders key 14 (each node draws from its own range)" "$COORD" \
	"SELECT array_agg(seq ORDER BY changed_at) <> array_agg(seq ORDER BY seq) FROM public.opps_stage_history WHERE id = 14"
check "after two shard moves: history of key 14 in (changed_at, seq) order" "$COORD" \
	"SELECT array_agg(to_stage::text ORDER BY changed_at, seq) = '{new,qualified,demo,proposal,signed}' FROM public.opps_stage_history WHERE id = 14"
check "after the moves: still an unbroken chain for every row" "$COORD" "$CHAIN"
check "after the moves: stage_visits has one current visit per row, in its current stage" "$COORD" \
	"SELECT (SELECT count(*) FROM public.opps_stage_visits WHERE is_current) = (SELECT count(*) FROM public.opps)
	    AND NOT EXISTS (SELECT 1 FROM public.opps_stage_visits v WHERE v.is_current
	                       AND NOT EXISTS (SELECT 1 FROM public.opps o WHERE o.id = v.id AND o.stage::text = v.stage))"
check "after the moves: stage_visits of key 14 end to end (each visit ends when the next begins)" "$COORD" \
	"SELECT array_agg(stage || ':' || is_current ORDER BY entered_at) = '{new:false,qualified:false,demo:false,proposal:false,signed:true}'
	    AND bool_and(time_in_stage >= '0')
	    AND (array_agg(exited_at ORDER BY entered_at))[1:4] = (array_agg(entered_at ORDER BY entered_at))[2:5]
	   FROM public.opps_stage_visits WHERE id = 14"
check "after the moves: no visit of any row ends before it begins" "$COORD" \
	"SELECT NOT EXISTS (SELECT 1 FROM public.opps_stage_visits WHERE exited_at < entered_at)"
check "after the moves: the funnel view equals the funnel of each row's furthest stage" "$COORD" \
	"SELECT (SELECT array_agg(reached ORDER BY ordinal) FROM public.opps_funnel)
	        = (SELECT pipeline.funnel(f) FROM (SELECT pipeline.furthest_stage(h.to_stage) AS f FROM public.opps_stage_history h JOIN public.opps o ON o.id = h.id GROUP BY h.id) x)"
check "after the moves: <prefix>_stage_at(now()) on the distributed table gives every row's current stage" "$COORD" \
	"SELECT (SELECT count(*) FROM public.opps_stage_at(now()) x JOIN public.opps o ON o.id = x.id WHERE x.stage = o.stage)
	        = (SELECT count(*) FROM public.opps)
	    AND (SELECT count(*) FROM public.opps_stage_at(now())) = (SELECT count(*) FROM public.opps)"
check "after the moves: cycles view, key 14 signed after its creation" "$COORD" \
	"SELECT outcome = 'won' AND closed_at > created_at FROM public.opps_cycles WHERE id = 14"
check "after the moves: stage_durations counts every completed visit, none negative" "$COORD" \
	"SELECT sum(visits) = (SELECT count(*) FILTER (WHERE to_stage IS NOT NULL) - count(DISTINCT id) FROM public.opps_stage_history)
	    AND bool_and(avg_time >= '0' AND median_time >= '0') FROM public.opps_stage_durations"

# ---------------------------------------------------------------------------
# The history functions and views of the distributed table against a local
# copy: the same rows and the same history (seq and changed_at included),
# attached on the coordinator as a plain table.
# ---------------------------------------------------------------------------
setup "$COORD" <<'SQL'
SET client_min_messages = error;
-- a stage that rots after a second, so that the rotting views have rows
SELECT pipeline.set_rotting_after('public.deal_stage', 'new', '1 second');
CREATE TABLE public.opps_copy (LIKE public.opps INCLUDING ALL);
INSERT INTO public.opps_copy SELECT * FROM public.opps;
CREATE TABLE public.opps_copy_stage_history (
	id bigint NOT NULL, from_stage public.deal_stage, to_stage public.deal_stage,
	changed_at timestamptz NOT NULL DEFAULT clock_timestamp(), changed_by name NOT NULL DEFAULT CURRENT_USER,
	seq bigint GENERATED ALWAYS AS IDENTITY NOT NULL, PRIMARY KEY (id, seq));
INSERT INTO public.opps_copy_stage_history (id, from_stage, to_stage, changed_at, changed_by, seq) OVERRIDING SYSTEM VALUE
SELECT id, from_stage, to_stage, changed_at, changed_by, seq FROM public.opps_stage_history;
SELECT pipeline.attach('public.opps_copy', ruleset => 'fast');
SQL
# (and attach computed the copy's derived columns from its rows: equal to
# what the triggers wrote on the shards)
check "the local copy: attach kept the copied history as it is, derived columns equal to the shards'" "$COORD" \
	"WITH d AS (SELECT (h.id, h.from_stage, h.to_stage, h.changed_at, h.from_entered_at, h.furthest_before,
	                    h.changed_by, h.seq)::text AS r FROM public.opps_stage_history h),
	      c AS (SELECT (h.id, h.from_stage, h.to_stage, h.changed_at, h.from_entered_at, h.furthest_before,
	                    h.changed_by, h.seq)::text AS r FROM public.opps_copy_stage_history h)
	 SELECT coalesce(nullif(concat_ws(' / ', (SELECT 'distributed only: ' || string_agg(r, ', ') FROM (TABLE d EXCEPT ALL TABLE c) x),
	                                         (SELECT 'copy only: ' || string_agg(r, ', ') FROM (TABLE c EXCEPT ALL TABLE d) y)), ''), 't')"
# same_as_copy NAME SQL: SQL (a query over public.opps*) gives the same
# rows, as text and in any order, as over public.opps_copy*.
same_as_copy() {
	local q=$2 qc
	qc=${q//public.opps/public.opps_copy}
	check "$1" "$COORD" \
		"SELECT (SELECT array_agg(r::text ORDER BY r::text) FROM ($q) r) IS NOT DISTINCT FROM (SELECT array_agg(r::text ORDER BY r::text) FROM ($qc) r)
		    AND (SELECT count(*) > 0 FROM ($q) r)"
}
# Instants: just after every history row of some keys (moved, deleted,
# moved across shard moves), before all history, now.
INSTANTS="SELECT changed_at + interval '1 microsecond' AS t FROM public.opps_copy_stage_history WHERE id IN (7, 14, 21, 1002, 1004)
	UNION SELECT changed_at FROM public.opps_copy_stage_history WHERE id = 14 UNION SELECT '-infinity' UNION SELECT now()"
check "<prefix>_stage_at on the distributed table equals the local copy's, at every instant of its history" "$COORD" \
	"SELECT count(*) > 10 AND bool_and(
	        (SELECT array_agg(s::text ORDER BY s.id) FROM public.opps_stage_at(i.t) s)
	        IS NOT DISTINCT FROM (SELECT array_agg(s::text ORDER BY s.id) FROM public.opps_copy_stage_at(i.t) s))
	   FROM ($INSTANTS) i"
check "<prefix>_stage_at on the distributed table: a deleted row is there before its deletion, not after" "$COORD" \
	"SELECT EXISTS (SELECT 1 FROM public.opps_stage_at((SELECT max(changed_at) FROM public.opps_copy_stage_history WHERE id = 21)) WHERE id = 21)
	    AND NOT EXISTS (SELECT 1 FROM public.opps_stage_at(now()) WHERE id = 21)
	    AND (SELECT furthest_stage = 'proposal' AND stage = 'proposal' FROM public.opps_stage_at(now()) WHERE id = 7)
	    AND (SELECT count(*) FROM public.opps_stage_at('-infinity')) = 0"
same_as_copy "aggregates over <prefix>_stage_at: distributed equals the local copy (win_rate, funnel, weighted_pipeline)" \
	"SELECT pipeline.win_rate(stage), pipeline.funnel(furthest_stage), pipeline.weighted_pipeline(stage, 1::numeric) FROM public.opps_stage_at(now())"
check "<prefix>_stage_at of the distributed table runs on a worker too" "$COORD" \
	"SELECT bool_and(success AND result = (SELECT count(*)::text FROM public.opps_copy_stage_at(now())))
	   FROM run_command_on_workers(\$\$SELECT count(*) FROM public.opps_stage_at(now())\$\$)"
same_as_copy "<prefix>_cycles: distributed equals the local copy" "SELECT * FROM public.opps_cycles"
same_as_copy "<prefix>_stage_visits: distributed equals the local copy (but now() - entered_at of current visits)" \
	"SELECT id, stage, ordinal, entered_at, exited_at, is_current,
	        CASE WHEN exited_at IS NOT NULL THEN time_in_stage END, CASE WHEN exited_at IS NOT NULL THEN time_in_stage_days END
	   FROM public.opps_stage_visits"
same_as_copy "<prefix>_stage_durations: distributed equals the local copy" "SELECT * FROM public.opps_stage_durations"
same_as_copy "<prefix>_funnel: distributed equals the local copy" "SELECT * FROM public.opps_funnel"
same_as_copy "<prefix>_rotting: distributed equals the local copy (but time_in_stage)" \
	"SELECT id, stage, entered_at, rotting_after, rotting_after_days FROM public.opps_rotting"
same_as_copy "stage_win_probabilities: distributed equals the local copy" \
	"SELECT * FROM pipeline.stage_win_probabilities('public.opps')"
setup "$COORD" <<'SQL'
SET client_min_messages = error;
SELECT pipeline.set_rotting_after('public.deal_stage', 'new', NULL);
DROP TABLE public.opps_copy, public.opps_copy_stage_history;
SQL

# ---------------------------------------------------------------------------
# Entered-at column and an imported history on a distributed table
# ---------------------------------------------------------------------------
setup "$COORD" <<'SQL'
CREATE TABLE public.leads (id bigint PRIMARY KEY, stage public.deal_stage NOT NULL, entered timestamptz);
SELECT create_distributed_table('public.leads', 'id', shard_count => 4);
INSERT INTO public.leads SELECT i, CASE WHEN i % 2 = 0 THEN 'demo' ELSE 'new' END::public.deal_stage,
	   CASE WHEN i % 3 = 0 THEN timestamptz '2026-01-05 00:00+00' END FROM generate_series(1, 40) i;
CREATE TABLE public.lead_events AS
SELECT i AS id, s AS to_stage, t AS changed_at
  FROM generate_series(2, 40, 2) i,
	   (VALUES ('new', timestamptz '2026-01-01 00:00+00'), ('qualified', '2026-02-01 00:00+00'), ('demo', '2026-03-01 00:00+00')) v(s, t);
SELECT pipeline.attach('public.leads', entered_at_column => 'entered', history_from => 'public.lead_events');
UPDATE public.leads SET stage = 'qualified' WHERE id = 3;
SQL
check "import on a distributed table: the imported chain, then creation rows for the others" "$COORD" \
	"SELECT count(*) = 60 + 20 + 1 AND count(*) FILTER (WHERE id = 2) = 3 FROM public.leads_stage_history"
check "entered-at column: set from the imported history, and by the trigger on a worker" "$COORD" \
	"SELECT (SELECT entered FROM public.leads WHERE id = 2) = '2026-03-01 00:00+00'
	    AND (SELECT entered > now() - interval '1 hour' FROM public.leads WHERE id = 3)
	    AND (SELECT changed_at FROM public.leads_stage_history WHERE id = 3 ORDER BY changed_at DESC, seq DESC LIMIT 1) = (SELECT entered FROM public.leads WHERE id = 3)"
check_error "entered-at column: a move dated before the current stage was entered is refused on the shard" "$COORD" 23514 \
	"UPDATE public.leads SET stage = 'proposal', entered = '2025-01-01' WHERE id = 6" "before the row entered its current stage"

# ---------------------------------------------------------------------------
# What is refused, with a HINT that works
# ---------------------------------------------------------------------------
setup "$COORD" <<'SQL'
CREATE TABLE public.late (id bigint PRIMARY KEY, stage public.deal_stage NOT NULL);
INSERT INTO public.late SELECT i, 'new' FROM generate_series(1, 10) i;
SET client_min_messages = error;
SELECT pipeline.attach('public.late');
UPDATE public.late SET stage = 'qualified' WHERE id = 1;
CREATE TABLE public.ref (id bigint PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT create_reference_table('public.ref');
CREATE TABLE public.cloc (id bigint PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT citus_add_local_table_to_metadata('public.cloc');
SQL
# The check runs at parse analysis, once the library is loaded in the
# session (any pipeline function loads it; shared_preload_libraries too);
# in a session that has not loaded it, Citus refuses by itself (triggers).
LOADED="SELECT pipeline.stage_kind('closed_won'::pipeline.stage);"
check_error "create_distributed_table of an attached table: refused, HINT detach/distribute/attach" "$COORD" 0A000 \
	"$LOADED SELECT create_distributed_table('public.late', 'id')" "SELECT pipeline.detach('public.late'); SELECT create_distributed_table"
check_error "create_reference_table of an attached table: refused" "$COORD" 0A000 \
	"$LOADED SELECT create_reference_table('public.late')" "pipeline.detach('public.late')"
check_error "... and refused by Citus in a session that has not loaded the library" "$COORD" XX000 \
	"SELECT create_distributed_table('public.late', 'id')" 'because it has triggers'
# (Citus relays an error raised while it copies rows with SQLSTATE XX000.)
check_error "... and with citus.enable_unsafe_triggers, by the triggers on the new shards, naming the table" "$COORD" XX000 \
	"SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('public.late', 'id')" 'table "late" was distributed by Citus after pipeline.attach(): detach it'
check_error "... the DETAIL carrying SQLSTATE 55000 and the HINT (Citus COPYs the rows into the shards)" "$COORD" XX000 \
	"SET citus.enable_unsafe_triggers = on; SELECT create_distributed_table('public.late', 'id')" $'\nSQLSTATE: 55000\nHINT: Distribute an attached table in this order: pipeline.detach() it'

check "... leaving the table local and attached" "$COORD" \
	"SELECT NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'public.late'::regclass) AND EXISTS (SELECT 1 FROM pipeline.attachments WHERE table_name = 'public.late')"
check_error "attach of a reference table: refused, HINT create_distributed_table" "$COORD" 0A000 \
	"SELECT pipeline.attach('public.ref')" "create_distributed_table('public.ref'"
check_error "attach of a Citus-local table: refused" "$COORD" 0A000 \
	"SELECT pipeline.attach('public.cloc')" "undistribute_table('public.cloc')"
check_error "attach on a worker: refused" "$WORKER1" 0A000 \
	"SELECT pipeline.attach('public.opps')" "runs on the coordinator"
setup "$COORD" <<'SQL'
SET client_min_messages = error;
SELECT pipeline.detach('public.late');
SELECT create_distributed_table('public.late', 'id');
SELECT pipeline.attach('public.late');
UPDATE public.late SET stage = 'demo' WHERE id = 1;
SQL
check "the order that works (detach, distribute, attach): history kept and distributed, nothing duplicated" "$COORD" \
	"SELECT count(*) = 12 AND count(*) FILTER (WHERE id = 1) = 3 FROM public.late_stage_history"
check "... and colocated" "$COORD" \
	"SELECT h.colocationid = t.colocationid FROM pg_dist_partition h, pg_dist_partition t
	  WHERE h.logicalrelid = 'public.late_stage_history'::regclass AND t.logicalrelid = 'public.late'::regclass"

# ---------------------------------------------------------------------------
# attach again, detach, drop
# ---------------------------------------------------------------------------
setup "$COORD" <<<"SELECT pipeline.attach('public.opps', ruleset => 'strict')"
check "attach again switches the ruleset on every node, no new creation rows" "$COORD" \
	"SELECT (SELECT count(*) = 413 FROM public.opps_stage_history)
	    AND (SELECT bool_and(success AND result = 'strict') FROM run_command_on_all_nodes(\$\$SELECT ruleset FROM pipeline.attached_tables WHERE target = 'public.opps'::regclass\$\$))"
check_error "... and the workers enforce it" "$WORKER2" 23514 \
	"INSERT INTO public.opps VALUES (2001, 'x', 'qualified', 1)" 'ruleset "strict"'
setup "$COORD" <<<"SELECT pipeline.detach('public.opps')"
check "detach: no triggers on any shard, no attachment on any node, history kept" "$COORD" \
	"SELECT (SELECT bool_and(result = '0') FROM run_command_on_shards('public.opps', \$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass AND tgname LIKE 'zz_pipeline_%%'\$\$))
	    AND (SELECT bool_and(result = '0') FROM run_command_on_all_nodes(\$\$SELECT count(*) FROM pipeline.attached_tables WHERE target::text = 'opps'\$\$))
	    AND (SELECT count(*) = 413 FROM public.opps_stage_history)"
setup "$COORD" <<<"SET client_min_messages = error; DROP TABLE public.leads; DROP TABLE public.late"
check "DROP TABLE of attached distributed tables leaves no attachment on any node" "$COORD" \
	"SELECT bool_and(success AND result = '0') FROM run_command_on_all_nodes(\$\$SELECT count(*) FROM pipeline.attached_tables WHERE target::text IN ('leads', 'late')\$\$)"
# Dropping the stage column of an attached distributed table: as on a
# single server, refused while the history views and trigger depend on it
# (2BP01, HINT CASCADE); with CASCADE (or without history) the
# attachment, its triggers on every shard, its views and <prefix>_stage_at
# go on every node, and the history table stays.
setup "$COORD" <<'SQL'
SET client_min_messages = error;
CREATE TABLE public.dropme (id bigint PRIMARY KEY, stage public.deal_stage NOT NULL, note text);
SELECT create_distributed_table('public.dropme', 'id', shard_count => 4);
INSERT INTO public.dropme SELECT i, 'new', 'n' FROM generate_series(1, 20) i;
SELECT pipeline.attach('public.dropme');
UPDATE public.dropme SET stage = 'qualified' WHERE id <= 5;
CREATE TABLE public.dropme2 (id bigint PRIMARY KEY, stage public.deal_stage NOT NULL, note text);
SELECT create_distributed_table('public.dropme2', 'id', shard_count => 4);
INSERT INTO public.dropme2 SELECT i, 'new', 'n' FROM generate_series(1, 20) i;
SELECT pipeline.attach('public.dropme2', track_history => false);
SQL
check_error "DROP COLUMN stage of an attached distributed table: refused like on a single server (views and trigger depend on it)" "$COORD" 2BP01 \
	"ALTER TABLE public.dropme DROP COLUMN stage" "HINT:  Use DROP ... CASCADE"
setup "$COORD" <<<"SET client_min_messages = error; ALTER TABLE public.dropme DROP COLUMN stage CASCADE"
NO_TRACE="SELECT (SELECT bool_and(success AND result = '0') FROM run_command_on_all_nodes(\$\$SELECT count(*) FROM pipeline.attached_tables WHERE target::text = '@T@'\$\$))
	    AND (SELECT bool_and(success AND result = '0') FROM run_command_on_shards('public.@T@', \$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass AND tgname LIKE 'zz_pipeline_%%'\$\$))
	    AND (SELECT bool_and(success AND result = '0') FROM run_command_on_all_nodes(\$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.@T@'::regclass AND tgname LIKE 'zz_pipeline_%%'\$\$))
	    AND (SELECT bool_and(success AND result = '0') FROM run_command_on_all_nodes(\$\$SELECT count(*) FROM pg_class WHERE relname IN ('@T@_stage_visits', '@T@_stage_durations', '@T@_funnel', '@T@_rotting', '@T@_cycles')\$\$))
	    AND (SELECT bool_and(success AND result = '0') FROM run_command_on_all_nodes(\$\$SELECT count(*) FROM pg_proc WHERE proname = '@T@_stage_at'\$\$))"
check "... with CASCADE: no attachment, pipeline trigger, view or stage_at function left on any node or shard" "$COORD" "${NO_TRACE//@T@/dropme}"
setup "$COORD" <<<"INSERT INTO public.dropme VALUES (100, 'x'); UPDATE public.dropme SET note = 'y' WHERE id = 1; DELETE FROM public.dropme WHERE id = 2"
check "... the history table is kept, and the table takes writes (no history written)" "$COORD" \
	"SELECT (SELECT count(*) = 25 FROM public.dropme_stage_history) AND (SELECT count(*) = 20 FROM public.dropme)"
setup "$COORD" <<<"SET client_min_messages = error; ALTER TABLE public.dropme2 DROP COLUMN stage"
setup "$COORD" <<<"INSERT INTO public.dropme2 VALUES (100, 'x')"
check "DROP COLUMN stage of a distributed table attached without history: works, and leaves nothing on any node or shard" "$COORD" \
	"${NO_TRACE//@T@/dropme2} AND (SELECT count(*) = 21 FROM public.dropme2)"
setup "$COORD" <<<"SET client_min_messages = error; DROP TABLE public.dropme, public.dropme_stage_history, public.dropme2"
check "and the configuration is still the coordinator's everywhere" "$COORD" "$SAME_CONFIG"

echo "citus: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
