#!/bin/bash
# The managed-PostgreSQL journey (docs/operations.md, "Managed PostgreSQL":
# nothing needs a superuser), run by `make test` inside the
# throwaway cluster (tools/run-tests.sh: in_cluster test/managed/run.sh;
# needs a superuser connection in the PG* environment, as pg_virtualenv
# gives).  The superuser only creates a role with LOGIN CREATEDB and drops
# everything at the end; that role, not a superuser, then:
#   1. creates its database and installs the trusted extension (owning it);
#   2. runs journey.sql: a custom pipeline (define_stages, settings,
#      rulesets), a plain and a partitioned table attached with history and
#      one on a custom ruleset that is detached, legal and illegal writes,
#      every view, every aggregate against plain SQL, undefine_stages + DROP
#      TYPE and DROP TYPE ... CASCADE of registered types;
#   3. dumps its database with pg_dump -Fc, creates another one and restores
#      into it with pg_restore --no-owner, and compares the two (configuration,
#      attachments, history, aggregates, views), then writes to both.
# Prints "ok - ..." / "not ok - ..." lines and "managed: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")"

ROLE=pipeline_managed
ROLE_PW=managed_$$_pw
SRC=managed_src
DST=managed_dst
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-managed.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
pass=0
fail=0

ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }
# check LABEL CMD...: ok when CMD succeeds
check() { local label=$1; shift; if "$@"; then ok "$label"; else bad "$label"; fi; }
# same LABEL EXPECTED ACTUAL
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi
}
indent() { sed 's/^/#   /'; }
# as the superuser (the PG* environment)
su_psql() { PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# as the role (PGPASSWORD set below when the cluster wants a password)
role_env=(PGUSER=$ROLE)
as_role() { env "${role_env[@]}" "$@"; }
role_psql() { as_role psql -X -q -v ON_ERROR_STOP=1 "$@"; }
role_at() { role_psql -At "$@" 2>&1; }

cleanup() {
	for db in $SRC $DST ${SRC}_upgrade; do
		su_psql -d postgres -c "DROP DATABASE IF EXISTS $db" 2>&1 | indent
	done
	su_psql -d postgres -c "DROP ROLE IF EXISTS $ROLE" 2>&1 | indent
}
cleanup

echo "# 1. a role that is not a superuser: LOGIN CREATEDB"
check "superuser creates role $ROLE (LOGIN CREATEDB, password)" \
	su_psql -d postgres -c "CREATE ROLE $ROLE LOGIN CREATEDB NOSUPERUSER PASSWORD '$ROLE_PW'"
# trust or password on localhost? Try without a password first.
if env -u PGPASSWORD PGPASSFILE=/dev/null PGUSER=$ROLE psql -X -w -At -d postgres -c "SELECT 1" > /dev/null 2>&1; then
	echo "# the cluster lets $ROLE in without a password (trust)"
else
	echo "# the cluster wants a password for $ROLE: using PGPASSWORD"
	role_env+=(PGPASSWORD=$ROLE_PW)
fi
same "$ROLE connects" "$ROLE|f|t" \
	"$(role_at -d postgres -c "SELECT current_user, rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user")"

echo "# 2. its own database and the trusted extension"
check "$ROLE creates database $SRC" role_psql -d postgres -c "CREATE DATABASE $SRC"
check "$ROLE runs CREATE EXTENSION pipeline in $SRC" role_psql -d $SRC -c "CREATE EXTENSION pipeline"
same "extension owner is $ROLE, version 1.1" "$ROLE|1.1" \
	"$(role_at -d $SRC -c "SELECT extowner::regrole, extversion FROM pg_extension WHERE extname = 'pipeline'")"

echo "# 3. the journey (journey.sql) as $ROLE"
if role_psql -At -d $SRC -f journey.sql > "$WORK/journey.out" 2> "$WORK/journey.err"; then
	ok "journey.sql runs to the end (psql exit 0)"
else
	bad "journey.sql failed (psql exit $?)"
	indent < "$WORK/journey.err" | head -n 20
fi
# every line journey.sql must print (key|values)
while IFS= read -r line; do
	[ -z "$line" ] && continue
	key=${line%%|*}
	if grep -qxF -- "$line" "$WORK/journey.out"; then
		ok "journey: $line"
	else
		bad "journey: expected '$line', got '$(grep -m 3 "^$key|" "$WORK/journey.out" | tr '\n' ' ')'"
	fi
done <<'EXPECTED'
whoami|pipeline_managed|f
define_stages|done
set_probability|done
set_rotting_after|done
catalog|lead:open:0.1667:true:- qualified:open:0.3333:true:00:00:00.000001 demo:open:0.5000:false:14 days lost_early:lost:0:false:- proposal:open:0.55:false:- negotiation:open:0.8333:false:- won:won:1:false:- expanded:won:1:false:- lost:lost:0:false:-
copy_ruleset|done
allow_transition|done
forbid_transition|done
rules_fast|t|f|{lead,qualified,demo}
rules_strict|{demo,lost_early,lost}|{lost_early,won,lost}
attach_deals|done
illegal_update_deals|23514
illegal_insert_deals|23514
illegal_from_lost_deals|23514
deals|1:expanded 2:lost_early 3:lost 4:qualified 5:qualified 6:lost
deals_history_rows|18|6|18
deals_history_1|->lead lead>qualified qualified>demo demo>proposal proposal>negotiation negotiation>won won>expanded
attach_orders|done
illegal_forbidden_orders|23514
illegal_insert_orders|23514
illegal_skip_orders|23514
orders|1:emea:won 2:emea:negotiation 3:amer:lost_early 4:emea:demo 5:amer:qualified
orders_partitions|3|2
orders_history_rows|14|5
orders_history_4|amer:->lead amer:lead>qualified emea:qualified>demo
attach_leads|done
drop_ruleset_in_use|55006
attachments_before_detach|public.deals:strict public.leads:scratch public.orders:fast
detach_leads|done
attachments_after_detach|public.deals:strict public.orders:fast
leads_after_detach|00000|4|0
drop_ruleset|done
rulesets|fast
deals_visits|18|6|6
deals_durations|lead:3 qualified:2 demo:2 proposal:2 negotiation:2 won:1|12
deals_durations_sane|0
deals_rotting|4:qualified:00:00:00.000001 5:qualified:00:00:00.000001
deals_funnel|lead:6:15600.75 qualified:5:15000.50 demo:2:4000.00 proposal:2:4000.00 negotiation:2:4000.00 won:1:1000.00 expanded:1:1000.00
deals_funnel_conv|- 0.8333 0.4000 1.0000 1.0000 0.5000 1.0000
orders_visits|14|5
orders_durations|8
orders_rotting|5:amer:qualified
orders_funnel|lead:5 qualified:5 demo:3 proposal:2 negotiation:2 won:1 expanded:0
funnel_view_vs_aggregate|t
agg_deals_all|0.16666666666666666|0.3333333333333333|0.25|0.15150941252225294496|{3,3,1,1,1,1,1}|expanded|2999.866650
agg_deals_groups|4
agg_deals_mismatches|0
agg_orders_all|0.75|0.4|0.25|0.5|0.57061340941512125535|{4,4,3,2,2,1,0}|won|822.073650|350.50|8.7625000000000000|8.7625000000000000|2.0000000000000000
agg_orders_groups|3
agg_orders_mismatches|0
deal_stage_aggregates|7|7
define_old|done
set_probability_old|done
copy_ruleset_old|done
old_win_rate|0.5|9.0
undefine_old|done
old_after_undefine|0|0|0|0
drop_type_old|t
define_tmp|done
set_rotting_tmp|done
copy_ruleset_tmp|done
tmp_before_drop|1|7
tmp_after_drop|0|0|0|0|0
registered_types|deal_stage
journey|complete
EXPECTED

echo "# after the journey, read back as $ROLE"
same "pipeline.attachments lists deals (strict) and orders (fast) with their history tables" \
	"public.deals|stage|strict|public.deals_stage_history|;public.orders|stage|fast|public.orders_stage_history|" \
	"$(role_at -d $SRC -c "SELECT * FROM pipeline.attachments ORDER BY 1" | paste -sd ';')"
same "the role owns the tables, history tables and views of the journey" "0" \
	"$(role_at -d $SRC -c "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace
		AND relkind IN ('r', 'p', 'v') AND relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)")"
same "history rows: deals 18, orders 14, leads 4 (kept after detach)" "18|14|4" \
	"$(role_at -d $SRC -c "SELECT (SELECT count(*) FROM deals_stage_history), (SELECT count(*) FROM orders_stage_history),
		(SELECT count(*) FROM leads_stage_history)")"
same "configuration rows: 1 type, 3 settings, 1 ruleset (fast), 19 edges (strict copied, +2, -1)" "1|3|1|19" \
	"$(role_at -d $SRC -c "SELECT (SELECT count(*) FROM pipeline.stage_types), (SELECT count(*) FROM pipeline.stage_settings),
		(SELECT count(*) FROM pipeline.rulesets), (SELECT count(*) FROM pipeline.ruleset_edges)")"
same "no trace of old_stage or tmp_stage in the configuration" "0" \
	"$(role_at -d $SRC -c "SELECT count(*) FROM (SELECT stage_type::text t FROM pipeline.stage_types
		UNION ALL SELECT stage_type::text FROM pipeline.stage_settings UNION ALL SELECT stage_type::text FROM pipeline.rulesets
		UNION ALL SELECT stage_type FROM pipeline.stage_catalog) x WHERE t NOT IN ('pipeline.stage', 'public.deal_stage', 'deal_stage')")"

# What must survive the dump and restore (read in both databases).
cat > "$WORK/snapshot.sql" <<'SQL'
SELECT 'stage_types', stage_type::text, labels, won, lost, entry, probabilities FROM pipeline.stage_types ORDER BY 2;
SELECT 'stage_settings', stage_type::text, stage, probability, rotting_after FROM pipeline.stage_settings ORDER BY 2, 3;
SELECT 'rulesets', stage_type::text, ruleset FROM pipeline.rulesets ORDER BY 2, 3;
SELECT 'ruleset_edges', stage_type::text, ruleset, from_stage, to_stage FROM pipeline.ruleset_edges ORDER BY 2, 3, 4 NULLS FIRST, 5;
SELECT 'stage_catalog', * FROM pipeline.stage_catalog WHERE stage_type <> 'pipeline.stage' ORDER BY 2, 4;
SELECT 'transition_rules', * FROM pipeline.transition_rules WHERE stage_type <> 'pipeline.stage' ORDER BY 2, 3, 4 NULLS FIRST, 5;
SELECT 'attachments', * FROM pipeline.attachments ORDER BY 2, 3;
SELECT 'attached_tables', target::text, stage_column, ruleset, history::text, entered_at_column, views::text[]
  FROM pipeline.attached_tables ORDER BY 2, 3;
SELECT 'triggers', tgrelid::regclass::text, tgname, tgenabled, pg_get_triggerdef(oid)
  FROM pg_trigger WHERE tgname LIKE 'zz_pipeline%' AND tgrelid::regclass::text NOT LIKE 'pipeline.%' ORDER BY 2, 3;
SELECT 'deals', * FROM public.deals ORDER BY id;
SELECT 'orders', tableoid::regclass, * FROM public.orders ORDER BY id;
SELECT 'leads', * FROM public.leads ORDER BY id;
SELECT 'deals_history', * FROM public.deals_stage_history ORDER BY seq;
SELECT 'orders_history', * FROM public.orders_stage_history ORDER BY seq;
SELECT 'leads_history', * FROM public.leads_stage_history ORDER BY seq;
SELECT 'deals_visits', id, stage, ordinal, entered_at, exited_at, is_current FROM public.deals_stage_visits ORDER BY 2, 5;
SELECT 'orders_visits', id, region, stage, ordinal, entered_at, exited_at, is_current FROM public.orders_stage_visits ORDER BY 2, 3, 6;
SELECT 'deals_durations', * FROM public.deals_stage_durations ORDER BY ordinal;
SELECT 'orders_durations', * FROM public.orders_stage_durations ORDER BY ordinal;
SELECT 'deals_rotting', id, stage, entered_at, rotting_after FROM public.deals_rotting ORDER BY id;
SELECT 'orders_rotting', id, region, stage, entered_at, rotting_after FROM public.orders_rotting ORDER BY id, region;
SELECT 'deals_funnel', * FROM public.deals_funnel ORDER BY ordinal;
SELECT 'orders_funnel', * FROM public.orders_funnel ORDER BY ordinal;
SELECT 'aggregate_declarations', p.oid::regprocedure::text FROM pg_proc p
 WHERE p.pronamespace = 'pipeline'::regnamespace AND p.prokind = 'a' ORDER BY 2;
SELECT 'agg_deals', owner, pipeline.conversion_rate(stage, 'demo'), pipeline.conversion_rate(stage, 'qualified', 'negotiation'),
	   pipeline.win_rate(stage), pipeline.win_rate(stage, amount), pipeline.funnel(stage),
	   pipeline.furthest_stage(stage), pipeline.weighted_pipeline(stage, amount)
  FROM public.deals GROUP BY ROLLUP (owner) ORDER BY 2 NULLS FIRST;
SELECT 'agg_orders', region, pipeline.conversion_rate(converted), pipeline.conversion_rate(stage, 'proposal'),
	   pipeline.conversion_rate(stage, 'lead', 'won'), pipeline.win_rate(stage), pipeline.win_rate(stage, amount),
	   pipeline.funnel(stage), pipeline.furthest_stage(stage), pipeline.weighted_pipeline(stage, amount),
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, '2024-02-01+00'),
	   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, tstzrange('2024-01-01+00', '2024-02-01+00', '[)')),
	   pipeline.book_to_bill(amount, booked_at, fulfilled_at, tstzrange('2024-01-01+00', '2024-02-01+00', '[)')),
	   pipeline.backlog_ratio(amount, amount * 0.5)
  FROM public.orders GROUP BY ROLLUP (region) ORDER BY 2 NULLS FIRST;
SELECT 'agg_history', pipeline.funnel(f), pipeline.conversion_rate(f, 'demo'), pipeline.conversion_rate(f, 'lead', 'won')
  FROM (SELECT id, pipeline.furthest_stage(to_stage) AS f FROM public.deals_stage_history GROUP BY id) x;
SQL

# Writes after the restore (the same in both databases): illegal ones refused
# with 23514, legal ones recorded in the history with the next seq.
cat > "$WORK/exercise.sql" <<'SQL'
\set ON_ERROR_STOP 0
UPDATE public.deals SET stage = 'proposal' WHERE id = 5;
\echo illegal_deals|:SQLSTATE
UPDATE public.orders SET stage = 'lost' WHERE id = 2;
\echo illegal_orders|:SQLSTATE
INSERT INTO public.deals VALUES (7, 'dave', 1.00, 'demo');
\echo illegal_insert|:SQLSTATE
\set ON_ERROR_STOP 1
SELECT max(seq) AS deals_seq FROM public.deals_stage_history \gset
SELECT max(seq) AS orders_seq FROM public.orders_stage_history \gset
UPDATE public.deals SET stage = 'demo' WHERE id = 4;
\echo legal_deals|:SQLSTATE
UPDATE public.orders SET stage = 'proposal' WHERE id = 4;
\echo legal_orders|:SQLSTATE
INSERT INTO public.deals VALUES (8, 'erin', 80.00, 'qualified');
\echo legal_insert|:SQLSTATE
SELECT 'new_deals_history', id, from_stage, to_stage, changed_by, seq - :deals_seq
  FROM public.deals_stage_history WHERE seq > :deals_seq ORDER BY seq;
SELECT 'new_orders_history', id, region, from_stage, to_stage, changed_by, seq - :orders_seq
  FROM public.orders_stage_history WHERE seq > :orders_seq ORDER BY seq;
SELECT 'history_rows', (SELECT count(*) FROM public.deals_stage_history), (SELECT count(*) FROM public.orders_stage_history);
SELECT 'after', pipeline.funnel(stage), pipeline.weighted_pipeline(stage, amount) FROM public.deals;
SQL

echo "# 4. dump and restore as $ROLE"
if as_role pg_dump -Fc -d $SRC -f "$WORK/src.dump" 2> "$WORK/dump.err"; then
	ok "$ROLE dumps $SRC with pg_dump -Fc ($(stat -c %s "$WORK/src.dump") bytes)"
else
	bad "$ROLE dumps $SRC with pg_dump -Fc"
fi
[ -s "$WORK/dump.err" ] && { echo "# pg_dump printed:"; indent < "$WORK/dump.err"; }
pg_restore -l "$WORK/src.dump" > "$WORK/toc.txt" 2>&1
for item in "EXTENSION - pipeline" "TABLE DATA pipeline stage_types" "TABLE DATA pipeline stage_settings" \
	"TABLE DATA pipeline rulesets" "TABLE DATA pipeline ruleset_edges" "TABLE DATA pipeline attached_tables" \
	"AGGREGATE pipeline win_rate(public.deal_stage)" "AGGREGATE pipeline weighted_pipeline(public.deal_stage, numeric)" \
	"TABLE DATA public deals_stage_history" "TRIGGER public orders zz_pipeline_enforce_stage"; do
	if grep -qF "$item" "$WORK/toc.txt"; then ok "dump lists $item"; else bad "dump lists $item"; fi
done
check "$ROLE creates database $DST" role_psql -d postgres -c "CREATE DATABASE $DST"
as_role pg_restore --no-owner -d $DST "$WORK/src.dump" > "$WORK/restore.out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
	ok "$ROLE restores into $DST with pg_restore --no-owner (exit 0, $(wc -l < "$WORK/restore.out") lines of output)"
else
	bad "$ROLE restores into $DST with pg_restore --no-owner (exit $rc)"
fi
[ -s "$WORK/restore.out" ] && { echo "# pg_restore printed:"; indent < "$WORK/restore.out"; }
same "restored extension: owner $ROLE, version 1.1" "$ROLE|1.1" \
	"$(role_at -d $DST -c "SELECT extowner::regrole, extversion FROM pg_extension WHERE extname = 'pipeline'")"
same "restored tables, history tables and views belong to $ROLE" "0" \
	"$(role_at -d $DST -c "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace
		AND relkind IN ('r', 'p', 'v') AND relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)")"

role_psql -At -d $SRC -f "$WORK/snapshot.sql" > "$WORK/src.snap" 2>&1
role_psql -At -d $DST -f "$WORK/snapshot.sql" > "$WORK/dst.snap" 2>&1
for part in stage_types stage_settings rulesets ruleset_edges stage_catalog transition_rules attachments attached_tables \
	triggers deals orders leads deals_history orders_history leads_history deals_visits orders_visits \
	deals_durations orders_durations deals_rotting orders_rotting deals_funnel orders_funnel \
	aggregate_declarations agg_deals agg_orders agg_history; do
	grep "^$part|" "$WORK/src.snap" > "$WORK/src.$part"
	grep "^$part|" "$WORK/dst.snap" > "$WORK/dst.$part"
	n=$(wc -l < "$WORK/src.$part")
	if [ "$n" -eq 0 ]; then
		bad "$part: nothing read in $SRC"; grep -v '|' "$WORK/src.snap" | head -n 5 | indent
	elif diff -u "$WORK/src.$part" "$WORK/dst.$part" > "$WORK/diff.txt"; then
		ok "$DST equals $SRC: $part ($n rows)"
	else
		bad "$DST differs from $SRC: $part"; head -n 30 "$WORK/diff.txt" | indent
	fi
done
errors=$(grep -cv '|' "$WORK/dst.snap")
same "the snapshot reads $DST without errors" "0" "$errors"
[ "$errors" -ne 0 ] && grep -v '|' "$WORK/dst.snap" | head -n 10 | indent

echo "# writes after the restore, as $ROLE, in both databases"
role_psql -At -d $SRC -f "$WORK/exercise.sql" > "$WORK/src.ex" 2>&1
role_psql -At -d $DST -f "$WORK/exercise.sql" > "$WORK/dst.ex" 2>&1
for db in $SRC $DST; do
	ex=$WORK/src.ex
	[ $db = $DST ] && ex=$WORK/dst.ex
	for line in "illegal_deals|23514" "illegal_orders|23514" "illegal_insert|23514" \
		"legal_deals|00000" "legal_orders|00000" "legal_insert|00000" \
		"new_deals_history|4|qualified|demo|$ROLE|1" "new_deals_history|8||qualified|$ROLE|2" \
		"new_orders_history|4|emea|demo|proposal|$ROLE|1" "history_rows|20|15"; do
		if grep -qxF -- "$line" "$ex"; then ok "$db: $line"; else bad "$db: expected $line"; fi
	done
done
if diff -u <(grep -v '^ERROR\|^DETAIL\|^HINT\|^psql:' "$WORK/src.ex") <(grep -v '^ERROR\|^DETAIL\|^HINT\|^psql:' "$WORK/dst.ex") > "$WORK/diff.txt"; then
	ok "the same writes give the same results in $SRC and $DST"
else
	bad "the same writes give different results in $SRC and $DST"; head -n 30 "$WORK/diff.txt" | indent
fi

echo "# 5. an upgrade from 1.0 by $ROLE (the trusted script runs as the bootstrap superuser)"
UPG=${SRC}_upgrade
check "$ROLE creates database $UPG with pipeline 1.0, an attached table with history" \
	role_psql -d postgres -c "CREATE DATABASE $UPG"
role_psql -d $UPG > "$WORK/upg.out" 2>&1 <<'SQL'
CREATE EXTENSION pipeline VERSION '1.0';
CREATE TABLE deals (id int PRIMARY KEY, stage pipeline.stage NOT NULL);
SELECT pipeline.attach('deals');
INSERT INTO deals VALUES (1, 'lead_generation'), (2, 'lead_generation');
UPDATE deals SET stage = 'prospecting';
UPDATE deals SET stage = 'qualification' WHERE id = 1;
-- the role's own trigger on its history: it must not run as a superuser
CREATE TABLE who (r name, super boolean);
CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO who SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
	RETURN NEW;
END $$;
CREATE TRIGGER note BEFORE UPDATE ON deals_stage_history FOR EACH ROW EXECUTE FUNCTION note();
SQL
check "$ROLE runs ALTER EXTENSION pipeline UPDATE" role_psql -d $UPG -c "ALTER EXTENSION pipeline UPDATE"
same "the upgraded history carries from_entered_at and furthest_before for every move" "3|3|3" \
	"$(role_at -d $UPG -c "SELECT count(*) FILTER (WHERE from_stage IS NOT NULL), count(from_entered_at), count(furthest_before) FROM deals_stage_history")"
same "the history's own trigger did not run with superuser rights during the upgrade" "0" \
	"$(role_at -d $UPG -c "SELECT count(*) FILTER (WHERE super) FROM who")"
same "the funnel of the upgraded table" "2,2,1,0,0,0,0,0" \
	"$(role_at -d $UPG -c "SELECT string_agg(reached::text, ',' ORDER BY ordinal) FROM deals_funnel")"
check "drop $UPG" su_psql -d postgres -c "DROP DATABASE $UPG"

echo "# 6. clean up"
check "drop $SRC and $DST" su_psql -d postgres -c "DROP DATABASE $SRC" -c "DROP DATABASE $DST"
check "drop role $ROLE" su_psql -d postgres -c "DROP ROLE $ROLE"

echo "managed: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
