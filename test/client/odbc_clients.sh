#!/bin/bash
# Client tests through psqlODBC and unixODBC's isql, as Excel, Power BI and
# Access see the extension: the views listed (SQLTables), their columns'
# ODBC types (SQLColumns) with the DSN settings docs/applications.md
# recommends and with the driver's defaults, every view read, the rule
# helpers, and the 23514 with its fields (OptionalErrors=1).
#
# Runs against the server named by the PG* environment variables, in a
# database of its own that it creates and drops.  Prints one line per test
# and a final "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
DB=pipeline_odbc_$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-odbc.XXXXXX")
passed=0
failed=0
ok() { echo "ok   odbc $1"; passed=$((passed + 1)); }
bad() { echo "FAIL odbc $1"; shift; printf '%s\n' "$@" | sed 's/^/    /'; failed=$((failed + 1)); }
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
	q -d "${PGDATABASE:-postgres}" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

# One DSN as docs/applications.md recommends, one with the driver's defaults.
dsn() {
	cat <<EOF
[$1]
Driver = PostgreSQL Unicode
Servername = ${PGHOST:-localhost}
Port = ${PGPORT:-5432}
Database = $DB
Username = ${PGUSER:-$(id -un)}
Password = ${PGPASSWORD:-}
EOF
}
{ dsn recommended; printf 'TextAsLongVarchar = 0\nBoolsAsChar = 0\nMaxVarcharSize = 255\nOptionalErrors = 1\n\n'
  dsn defaults; } > "$WORK/odbc.ini"
export ODBCINI="$WORK/odbc.ini"
# isql DSN < commands: '|'-separated rows, no headers
isql_run() { isql -v -b -d'|' "$1" 2>&1; }

q -d "${PGDATABASE:-postgres}" -c "CREATE DATABASE $DB" || { echo "0 passed, 1 failed"; exit 1; }
q -d "$DB" >/dev/null <<'SQL' || { echo "0 passed, 1 failed"; exit 1; }
CREATE EXTENSION pipeline;
CREATE TABLE public.deals (id integer PRIMARY KEY, amount numeric(12,2), stage pipeline.stage NOT NULL);
SELECT pipeline.attach('public.deals');
INSERT INTO public.deals VALUES (1, 100, 'lead_generation'), (2, 200, 'prospecting'), (3, 300, 'prospecting');
UPDATE public.deals SET stage = 'prospecting' WHERE id = 1;
UPDATE public.deals SET stage = 'qualification' WHERE id = 2;
UPDATE public.deals SET stage = 'closed_lost' WHERE id = 3;
SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', '1 microsecond');
SELECT pg_sleep(0.01);
-- psqlODBC's SQLColumns without a schema (all isql asks) looks in the
-- current schema only: views in public with the columns of pipeline's.
CREATE VIEW public.odbc_stage_catalog AS SELECT * FROM pipeline.stage_catalog;
CREATE VIEW public.odbc_transition_rules AS SELECT * FROM pipeline.transition_rules;
CREATE VIEW public.odbc_attachments AS SELECT * FROM pipeline.attachments;
SQL

VIEWS="pipeline.stage_catalog pipeline.transition_rules pipeline.attachments public.deals_stage_visits
public.deals_stage_durations public.deals_rotting public.deals_funnel public.deals_cycles"

# SQLTables lists every view.
out=$(echo help | isql_run recommended)
missing=""
for v in $VIEWS; do
	grep -q "^$DB|${v%%.*}|${v#*.}|VIEW|" <<<"$out" || missing="$missing $v"
done
if [ -z "$missing" ]; then ok "sqltables_lists_every_view"; else bad "sqltables_lists_every_view" "missing:$missing"; fi

# SQLColumns with the recommended DSN: no SQL_LONGVARCHAR (-1), text is
# SQL_VARCHAR (12) of MaxVarcharSize, boolean SQL_BIT (-7), the day columns
# SQL_FLOAT (6) or SQL_DOUBLE (8), and every interval (reported as text) is
# followed by its _days column.
problems=""
for v in $VIEWS; do
	t=${v#*.}
	[ "${v%%.*}" = pipeline ] && t=odbc_$t
	cols=$(echo "help $t" | isql_run recommended | awk -F'|' '$2 == "public" {print $4 "|" $5 "|" $6 "|" $7}')
	[ -n "$cols" ] || problems="$problems; $v: no columns"
	prev=""
	while IFS='|' read -r name type tname size; do
		case "$tname" in
			text) [ "$type" = 12 ] && [ "$size" = 255 ] || problems="$problems; $v.$name text is $type($size)" ;;
			bool) [ "$type" = -7 ] || problems="$problems; $v.$name bool is $type" ;;
			float8) [ "$type" = 6 ] || [ "$type" = 8 ] || problems="$problems; $v.$name float8 is $type" ;;
			int4|int8|numeric|timestamptz|interval) ;;
			*) problems="$problems; $v.$name has type $tname" ;;
		esac
		[ "$type" = -1 ] && problems="$problems; $v.$name is SQL_LONGVARCHAR"
		if [ "$prev" = interval ] && [ "${name%_days}" = "$name" ]; then
			problems="$problems; $v: interval without a _days column after it"
		fi
		prev=$tname
	done <<<"$cols"
	[ "$prev" = interval ] && problems="$problems; $v ends with an interval"
done
if [ -z "$problems" ]; then ok "sqlcolumns_standard_types_with_recommended_dsn"; else bad "sqlcolumns_standard_types_with_recommended_dsn" "$problems"; fi

# The driver's defaults, as measured: text SQL_LONGVARCHAR(8190), boolean
# characters (what the DSN settings above fix).
cols=$(echo "help deals_stage_visits" | isql_run defaults | awk -F'|' '{print $4 "|" $5 "|" $7}')
if grep -qx 'stage|-1|8190' <<<"$cols" && grep -q '^is_current|12|' <<<"$cols"; then
	ok "defaults_report_text_as_longvarchar"
else
	bad "defaults_report_text_as_longvarchar" "$cols"
fi

# Every view reads.
problems=""
for v in $VIEWS; do
	out=$(echo "SELECT * FROM $v" | isql_run recommended)
	if grep -q '^\[' <<<"$out" || [ -z "$out" ]; then problems="$problems; $v: ${out:0:200}"; fi
done
if [ -z "$problems" ]; then ok "every_view_reads"; else bad "every_view_reads" "$problems"; fi

# The rule helpers, with text arguments.
out=$(printf "%s\n" "SELECT pipeline.allowed_moves('public.deals', 'proposal')" \
	"SELECT pipeline.can_move('public.deals', 'qualification', 'initial_contact')" | isql_run recommended)
if [ "$out" = $'{negotiation,closed_lost}\n1' ]; then ok "rule_helpers"; else bad "rule_helpers" "$out"; fi

# The 23514: SQLSTATE, message and DETAIL always; with OptionalErrors=1 the
# HINT, schema, table and column too.
out=$(echo "UPDATE public.deals SET stage = 'closed_won' WHERE id = 2" | isql_run recommended)
if grep -q '^\[23514\]ERROR: illegal stage transition from "qualification" to "closed_won"' <<<"$out" \
	&& grep -q '^DETAIL: Allowed from "qualification": initial_contact, closed_lost.' <<<"$out" \
	&& grep -q '^HINT: .*ruleset' <<<"$out" && grep -q '^TABLE_NAME: deals' <<<"$out" \
	&& grep -q '^COLUMN_NAME: stage' <<<"$out"; then
	ok "illegal_move_is_23514_with_fields"
else
	bad "illegal_move_is_23514_with_fields" "$out"
fi
out=$(echo "UPDATE public.deals SET stage = 'closed_won' WHERE id = 2" | isql_run defaults)
if grep -q '^\[23514\]' <<<"$out" && ! grep -q '^HINT:' <<<"$out"; then
	ok "defaults_leave_the_hint_out"
else
	bad "defaults_leave_the_hint_out" "$out"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
