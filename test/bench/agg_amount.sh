#!/bin/bash
# Benchmark of the amount aggregates (run by `make bench`, inside a
# throwaway cluster; JIT off).  5,000,000 rows.  Serial: REPS repetitions,
# each running every aggregate right before its plain-SQL equivalent; the
# figure is the median of those paired ratios (robust to the drift in this
# machine's speed), with best/best ratios against the plain SQL and against
# count(amount) (the floor: deforming the column) beside it.  Then the
# speed-up with 2 parallel workers: PREPS repetitions of a serial run then a
# parallel run, the median of the paired ratios, next to count(amount)'s own.
# Prints ratios only.  Targets: <= 1.0 x plain SQL; 2 workers >= 1.5 x.
set -euo pipefail
ROWS=${ROWS:-5000000}
REPS=${REPS:-7}
PREPS=${PREPS:-7}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

# AGG_AMOUNT_REUSE=1: keep and reuse an existing bench_amt (development)
if [ -z "${AGG_AMOUNT_REUSE:-}" ]; then
"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
DROP TABLE IF EXISTS bench_amt;
SELECT setseed(0.5) \\gset
CREATE TABLE bench_amt AS
SELECT (enum_range(NULL::pipeline.stage))[1 + (i % 9)] AS stage,
	   round((random() * 20000 - 1000)::numeric, 2) AS amount,
	   round((random() * 5000)::numeric, 2) AS backlog,
	   round((random() * 5000)::numeric, 2) AS sales,
	   b AS booked_at,
	   CASE WHEN i % 3 = 0 THEN NULL ELSE b + (i % 61) * interval '1 day' END AS fulfilled_at
  FROM (SELECT i, timestamptz '2024-01-01 00:00+00' + (i % 180) * interval '1 day' + (i % 86400) * interval '1 second' AS b
		  FROM generate_series(1, $ROWS) i) s;
VACUUM ANALYZE bench_amt;
SQL
fi

# name|query, in pairs: aggregate, then its plain-SQL equivalent
P="tstzrange('2024-03-01 00:00+00', '2024-04-01 00:00+00', '[)')"
L="timestamptz '2024-03-01 00:00+00'"
U="timestamptz '2024-04-01 00:00+00'"
declare -a NAMES QUERIES
add() { NAMES+=("$1"); QUERIES+=("$2"); }
add floor            "SELECT count(amount) FROM bench_amt"
add backlog_ratio2   "SELECT pipeline.backlog_ratio(backlog, sales) FROM bench_amt"
add backlog_ratio2_sql "SELECT sum(backlog) / nullif(sum(sales), 0) FROM bench_amt"
add backlog_amount   "SELECT pipeline.backlog_amount(amount, booked_at, fulfilled_at, $U) FROM bench_amt"
add backlog_amount_sql "SELECT coalesce(sum(amount) FILTER (WHERE booked_at < $U AND (fulfilled_at IS NULL OR fulfilled_at >= $U)), 0) FROM bench_amt"
add backlog_ratio4   "SELECT pipeline.backlog_ratio(amount, booked_at, fulfilled_at, $P) FROM bench_amt"
add backlog_ratio4_sql "SELECT coalesce(sum(amount) FILTER (WHERE booked_at < $U AND (fulfilled_at IS NULL OR fulfilled_at >= $U)), 0) / nullif(sum(amount) FILTER (WHERE fulfilled_at >= $L AND fulfilled_at < $U), 0) FROM bench_amt"
add book_to_bill     "SELECT pipeline.book_to_bill(amount, booked_at, fulfilled_at, $P) FROM bench_amt"
add book_to_bill_sql "SELECT coalesce(sum(amount) FILTER (WHERE booked_at >= $L AND booked_at < $U), 0) / nullif(sum(amount) FILTER (WHERE fulfilled_at >= $L AND fulfilled_at < $U), 0) FROM bench_amt"
add win_rate_amount  "SELECT pipeline.win_rate(stage, amount) FROM bench_amt"
add win_rate_amount_sql "SELECT coalesce(sum(amount) FILTER (WHERE stage IN ('closed_won', 'follow_up')), 0) / nullif(sum(amount) FILTER (WHERE stage IN ('closed_won', 'follow_up', 'closed_lost')), 0) FROM bench_amt"
add weighted_pipeline "SELECT pipeline.weighted_pipeline(stage, amount) FROM bench_amt"
add weighted_pipeline_sql "SELECT coalesce(sum(amount * CASE stage WHEN 'lead_generation' THEN 0.05 WHEN 'prospecting' THEN 0.10 WHEN 'qualification' THEN 0.20 WHEN 'initial_contact' THEN 0.30 WHEN 'proposal' THEN 0.60 WHEN 'negotiation' THEN 0.80 END), 0) FROM bench_amt"

# run_timed "WORKERS..." REPS INDEX...: REPS repetitions; in each, every
# query runs once per worker setting, back to back; "name workers ms" lines
run_timed() {
	local settings=$1 reps=$2 w; shift 2
	{
		echo "SET jit = off; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
		echo '\o /dev/null'
		# warm-up pass
		for i in "$@"; do echo "${QUERIES[$i]};"; done
		echo '\timing on'
		for ((r = 0; r < reps; r++)); do
			for i in "$@"; do
				for w in $settings; do
					echo "SET max_parallel_workers_per_gather = $w;"
					echo "\\echo @${NAMES[$i]} $w"
					echo "${QUERIES[$i]};"
				done
			done
		done
	} | "${PSQL[@]}" | awk '/^@/ { name = substr($1, 2); w = $2; next }
		/^Time:/ && w != "" { print name, w, $2; w = "" }'
}

best() { sort -n | head -n 1; }

all=()
for ((i = 0; i < ${#NAMES[@]}; i++)); do all+=("$i"); done
serial=$(run_timed 0 "$REPS" "${all[@]}")
best_of() { echo "$1" | awk -v n="$2" '$1 == n { print $3 }' | best; }

# median of "ratio" lines on stdin
median() { sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
# per repetition, time of query $2 / time of query $3 (they run back to back)
paired_ratios() {
	echo "$1" | awk -v a="$2" -v b="$3" '$1 == a { ta[++na] = $3 } $1 == b { tb[++nb] = $3 }
		END { for (i = 1; i <= na && i <= nb; i++) print ta[i] / tb[i] }'
}

floor=$(best_of "$serial" floor)
echo "serial, $ROWS rows, $REPS interleaved repetitions, JIT off (target: agg/plain-SQL <= 1.00)"
echo "paired: median over the repetitions of agg time / the plain-SQL time right after it; the rest: best / best"
printf '%-20s %8s %14s %16s %18s\n' aggregate paired "agg/plain-SQL" "agg/count(col)" "plain-SQL/count"
for n in backlog_ratio2 backlog_amount backlog_ratio4 book_to_bill win_rate_amount weighted_pipeline; do
	a=$(best_of "$serial" "$n"); s=$(best_of "$serial" "${n}_sql")
	m=$(paired_ratios "$serial" "$n" "${n}_sql" | median)
	label=$n
	case $n in backlog_ratio2) label="backlog_ratio(b,s)";; backlog_ratio4) label="backlog_ratio(per)";; win_rate_amount) label="win_rate(st,amt)";; esac
	awk -v l="$label" -v m="$m" -v a="$a" -v s="$s" -v f="$floor" \
		'BEGIN { printf "%-20s %8.2f %14.2f %16.2f %18.2f %s\n", l, m, a / s, a / f, s / f, (m <= 1.0 ? "ok" : "MISSED") }'
done

echo "parallel speed-up, serial time / time with 2 workers, $PREPS repetitions of a serial run then a"
echo "parallel run (target >= 1.50): paired = median of the per-repetition ratios, best = best / best;"
echo "count(amount): the same for the floor query -- what this machine gives any scan"
printf '%-20s %8s %8s\n' aggregate paired best
agg_idx=(0 1 3 5 7 9 11)
# "name serial_ms parallel_ms" per repetition
pairs=$(run_timed "0 2" "$PREPS" "${agg_idx[@]}" |
	awk '$2 == 0 { s = $3; next } { print $1, s, $3 }')
for i in "${agg_idx[@]}"; do
	n=${NAMES[$i]}
	m=$(echo "$pairs" | awk -v n="$n" '$1 == n { print $2 / $3 }' | median)
	bs=$(echo "$pairs" | awk -v n="$n" '$1 == n { print $2 }' | best)
	bp=$(echo "$pairs" | awk -v n="$n" '$1 == n { print $3 }' | best)
	[ "$n" = floor ] && n="count(amount)"
	awk -v l="$n" -v m="$m" -v bs="$bs" -v bp="$bp" \
		'BEGIN { printf "%-20s %7.2fx %7.2fx %s\n", l, m, bs / bp, (m >= 1.5 ? "ok" : "MISSED") }'
done
[ -n "${AGG_AMOUNT_REUSE:-}" ] || "${PSQL[@]}" -c "DROP TABLE bench_amt"
