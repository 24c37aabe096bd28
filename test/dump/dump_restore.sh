#!/bin/bash
# Dump and restore of a database using pipeline (run inside a throwaway
# cluster, e.g. by test/dump/run.sh under pg_virtualenv; needs a superuser
# connection in the PG* environment).  Builds the source database from
# fixture.sql, dumps it with pg_dump -Fc and restores it:
#   1. into a new database, as superuser;
#   2. into a new database created and restored by a non-superuser owner
#      (LOGIN CREATEDB; the extension is trusted) with --no-owner --no-acl;
#   3. schema first, then --data-only --disable-triggers (superuser);
# and compares snapshot.sql (configuration, rules, triggers, tables, history,
# aggregates, views) with the source's.  Then runs exercise.sql (legal and
# illegal transitions, a new partition) on the source and every restored
# database and compares the results.  Also shows that a data-only restore
# WITHOUT --disable-triggers is refused (illegal creations), as documented.
set -euo pipefail
cd "$(dirname "$0")"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-dump.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PREFIX=pipeline_dump
RESTORER=pipeline_restorer
RESTORER_PW=restorer_$$_pw
pass=0
fail=0

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
ok() { echo "ok    - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL  - $1"; fail=$((fail + 1)); }
# compare FILE_A FILE_B LABEL
compare() {
	if diff -u "$1" "$2" > "$WORK/diff.txt"; then
		ok "$3 ($(wc -l < "$1") lines identical)"
	else
		bad "$3"; head -n 40 "$WORK/diff.txt"
	fi
}
snapshot() { q -At -d "$1" -f snapshot.sql > "$2"; }
# exercise DB OUT [USER PASSWORD]: run exercise.sql (as USER) after the current last history seqs
exercise() {
	local db=$1 out=$2 user=${3:-$PGUSER} pw=${4:-${PGPASSWORD:-}}
	local ds os
	ds=$(q -At -d "$db" -c "SELECT coalesce(max(seq), 0) FROM public.deals_stage_history")
	os=$(q -At -d "$db" -c "SELECT coalesce(max(seq), 0) FROM public.orders_stage_history")
	PGUSER=$user PGPASSWORD=$pw psql -X -q -At -v deals_seq="$ds" -v orders_seq="$os" -d "$db" \
		-f exercise.sql > "$out" 2>&1 || true
}

cleanup_dbs() {
	for db in src su nonsuper dataonly nodisable; do
		q -d postgres -c "DROP DATABASE IF EXISTS ${PREFIX}_$db" 2>/dev/null || true
	done
	q -d postgres -c "DROP ROLE IF EXISTS $RESTORER" 2>/dev/null || true
}
cleanup_dbs

echo "# building the source database"
q -d postgres -c "CREATE DATABASE ${PREFIX}_src"
q -d ${PREFIX}_src -f fixture.sql > /dev/null
snapshot ${PREFIX}_src "$WORK/src.snap"
echo "# source: $(q -At -d ${PREFIX}_src -c "SELECT (SELECT count(*) FROM public.deals) || ' deals, ' ||
	(SELECT count(*) FROM public.orders) || ' orders, ' ||
	(SELECT count(*) FROM public.deals_stage_history) + (SELECT count(*) FROM public.orders_stage_history) || ' history rows, ' ||
	(SELECT count(*) FROM pipeline.ruleset_edges) || ' custom edges, ' ||
	(SELECT count(*) FROM pipeline.stage_settings) || ' settings'")"

pg_dump -Fc -d ${PREFIX}_src -f "$WORK/src.dump"
echo "# dumped $(stat -c %s "$WORK/src.dump") bytes"
# the dump holds the configuration as data and the per-type aggregates
pg_restore -l "$WORK/src.dump" > "$WORK/toc.txt"
for item in "TABLE DATA pipeline stage_types" "TABLE DATA pipeline stage_settings" \
	"TABLE DATA pipeline rulesets" "TABLE DATA pipeline ruleset_edges" \
	"AGGREGATE pipeline win_rate(public.deal_stage)" "TRIGGER public orders zz_pipeline_enforce_stage"; do
	if grep -qF "$item" "$WORK/toc.txt"; then ok "dump lists $item"; else bad "dump lists $item"; fi
done

echo "# 1. restore as superuser"
q -d postgres -c "CREATE DATABASE ${PREFIX}_su"
if pg_restore --exit-on-error -d ${PREFIX}_su "$WORK/src.dump"; then ok "superuser restore"; else bad "superuser restore"; fi
snapshot ${PREFIX}_su "$WORK/su.snap"
compare "$WORK/src.snap" "$WORK/su.snap" "superuser restore reads the same"

echo "# 2. restore by a non-superuser owner (CREATEDB; trusted extension)"
q -d postgres -c "CREATE ROLE $RESTORER LOGIN CREATEDB PASSWORD '$RESTORER_PW'"
if env PGUSER=$RESTORER PGPASSWORD=$RESTORER_PW psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE ${PREFIX}_nonsuper" &&
   env PGUSER=$RESTORER PGPASSWORD=$RESTORER_PW pg_restore --exit-on-error --no-owner --no-acl -d ${PREFIX}_nonsuper "$WORK/src.dump"; then
	ok "non-superuser restore"
else
	bad "non-superuser restore"
fi
echo "# restored objects belong to: $(q -At -d ${PREFIX}_nonsuper -c "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ', ') FROM pg_class WHERE relnamespace = 'public'::regnamespace"), extension owner: $(q -At -d ${PREFIX}_nonsuper -c "SELECT extowner::regrole FROM pg_extension WHERE extname = 'pipeline'")"
snapshot ${PREFIX}_nonsuper "$WORK/nonsuper.snap"
compare "$WORK/src.snap" "$WORK/nonsuper.snap" "non-superuser restore reads the same"

echo "# 3. schema, then data only with --disable-triggers"
q -d postgres -c "CREATE DATABASE ${PREFIX}_dataonly"
if pg_restore --exit-on-error --schema-only -d ${PREFIX}_dataonly "$WORK/src.dump" &&
   pg_restore --exit-on-error --data-only --disable-triggers -d ${PREFIX}_dataonly "$WORK/src.dump"; then
	ok "data-only restore with --disable-triggers"
else
	bad "data-only restore with --disable-triggers"
fi
snapshot ${PREFIX}_dataonly "$WORK/dataonly.snap"
compare "$WORK/src.snap" "$WORK/dataonly.snap" "data-only restore (--disable-triggers) reads the same"

echo "# 3b. data only WITHOUT --disable-triggers: refused (rows outside entry stages)"
q -d postgres -c "CREATE DATABASE ${PREFIX}_nodisable"
pg_restore --exit-on-error --schema-only -d ${PREFIX}_nodisable "$WORK/src.dump"
if pg_restore --exit-on-error --data-only -d ${PREFIX}_nodisable "$WORK/src.dump" > "$WORK/nodisable.txt" 2>&1; then
	bad "data-only restore without --disable-triggers should fail"
elif grep -q "illegal stage transition" "$WORK/nodisable.txt"; then
	ok "data-only restore without --disable-triggers fails: $(grep -m 1 -o 'illegal stage transition.*' "$WORK/nodisable.txt" | cut -c 1-80)"
else
	bad "data-only restore without --disable-triggers failed for another reason"; head -n 5 "$WORK/nodisable.txt"
fi

echo "# after the restore: the same writes give the same results"
exercise ${PREFIX}_src "$WORK/src.ex"
exercise ${PREFIX}_su "$WORK/su.ex"
exercise ${PREFIX}_nonsuper "$WORK/nonsuper.ex" $RESTORER "$RESTORER_PW"
exercise ${PREFIX}_dataonly "$WORK/dataonly.ex"
if grep -q "^23514$" "$WORK/src.ex" && grep -q "^00000$" "$WORK/src.ex"; then
	ok "exercise has legal and illegal writes ($(grep -c '^00000$' "$WORK/src.ex") legal, $(grep -c '^23' "$WORK/src.ex") refused)"
else
	bad "exercise should have legal and illegal writes"; cat "$WORK/src.ex" | head -n 20
fi
compare "$WORK/src.ex" "$WORK/su.ex" "writes after superuser restore"
compare "$WORK/src.ex" "$WORK/nonsuper.ex" "writes after non-superuser restore (as the owner)"
compare "$WORK/src.ex" "$WORK/dataonly.ex" "writes after data-only restore"

cleanup_dbs
echo "dump/restore: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
