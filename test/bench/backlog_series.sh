#!/bin/bash
# Benchmark of pipeline.backlog_series (run by `make bench`, inside a
# throwaway cluster; JIT off): 1,000,000 orders, 365 daily periods, the
# same columns three ways, serial:
#   series    pipeline.backlog_series, unnested into one row per period;
#   expert    the plain SQL an expert writes: bucketed GROUP BYs of the
#             amounts booked and fulfilled per day (everything before the
#             series in one bucket), running window sums for the backlog;
#   per-period one per-period aggregate call per period: the periods cross
#             joined with the orders, GROUP BY period.
# Each ratio is the median over REPS (XREPS for the slow per-period query)
# repetitions of two queries run back to back (robust to the drift in this
# machine's speed), with best / best beside it.  The three answers are
# checked to be the same first.  Prints ratios only.
# Targets: series / expert <= 1.0; per-period / series >= 50.  The
# per-period query aggregates periods x orders rows: minutes per run.
set -euo pipefail
ROWS=${ROWS:-1000000}
PERIODS=${PERIODS:-365}
REPS=${REPS:-7}
XREPS=${XREPS:-3}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

# BACKLOG_SERIES_REUSE=1: keep and reuse an existing bench_bs (development)
if [ -z "${BACKLOG_SERIES_REUSE:-}" ]; then
"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
DROP TABLE IF EXISTS bench_bs;
SELECT setseed(0.5) \\gset
-- booked from 60 days before the series to 25 days after it; a third never
-- fulfilled, the rest fulfilled 0 to 60 days and up to 2 hours later
CREATE TABLE bench_bs AS
SELECT round((random() * 20000 - 1000)::numeric, 2) AS amount,
	   b AS booked_at,
	   CASE WHEN i % 3 = 0 THEN NULL
			ELSE b + (i % 61) * interval '1 day' + (i % 7200) * interval '1 second' END AS fulfilled_at
  FROM (SELECT i, timestamptz '2024-01-01 00:00+00' - interval '60 days' + (i % 450) * interval '1 day'
				  + (i % 86400) * interval '1 second' AS b
		  FROM generate_series(1, $ROWS) i) s;
VACUUM ANALYZE bench_bs;
SQL
fi

O="timestamptz '2024-01-01 00:00+00'"
STEP="interval '1 day'"
END="$O + $PERIODS * $STEP"
SERIES="SELECT p.* FROM (SELECT pipeline.backlog_series(amount, booked_at, fulfilled_at, $O, $STEP, $PERIODS) AS s
                          FROM bench_bs) x, unnest(x.s) p"
EXPERT="WITH b AS (
	SELECT greatest(date_bin($STEP, booked_at, $O), $O - $STEP) AS d, sum(amount) AS amt
	  FROM bench_bs WHERE amount IS NOT NULL AND booked_at < $END GROUP BY 1
), f AS (
	SELECT greatest(date_bin($STEP, fulfilled_at, $O), $O - $STEP) AS d, sum(amount) AS amt
	  FROM bench_bs WHERE amount IS NOT NULL AND booked_at IS NOT NULL AND fulfilled_at < $END GROUP BY 1
), s AS (
	SELECT d, coalesce(b.amt, 0) AS booked, coalesce(f.amt, 0) AS fulfilled,
		   sum(coalesce(b.amt, 0) - coalesce(f.amt, 0)) OVER (ORDER BY d) AS backlog_end
	  FROM (SELECT $O + k * $STEP AS d FROM generate_series(-1, $PERIODS - 1) k) days
	  LEFT JOIN b USING (d) LEFT JOIN f USING (d)
)
SELECT tstzrange(d, d + $STEP, '[)') AS period, booked, fulfilled,
	   backlog_end - booked + fulfilled AS backlog_start, backlog_end,
	   booked / nullif(fulfilled, 0) AS book_to_bill, backlog_end / nullif(fulfilled, 0) AS backlog_ratio
  FROM s WHERE d >= $O ORDER BY d"
PER_PERIOD="SELECT p.period,
	   coalesce(sum(amount) FILTER (WHERE booked_at >= p.lo AND booked_at < p.hi), 0) AS booked,
	   coalesce(sum(amount) FILTER (WHERE booked_at IS NOT NULL AND fulfilled_at >= p.lo AND fulfilled_at < p.hi), 0) AS fulfilled,
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, p.lo) AS backlog_start,
	   pipeline.backlog_amount(amount, booked_at, fulfilled_at, p.hi) AS backlog_end,
	   pipeline.book_to_bill(amount, booked_at, fulfilled_at, p.period) AS book_to_bill,
	   pipeline.backlog_ratio(amount, booked_at, fulfilled_at, p.period) AS backlog_ratio
  FROM (SELECT lo, hi, tstzrange(lo, hi, '[)') AS period
		  FROM (SELECT $O + k * $STEP AS lo, $O + (k + 1) * $STEP AS hi
				  FROM generate_series(0, $PERIODS - 1) k) b) p
 CROSS JOIN bench_bs
 GROUP BY p.lo, p.hi, p.period ORDER BY p.lo"
SETTINGS="SET jit = off; SET TimeZone = 'UTC'; SET max_parallel_workers_per_gather = 0;"

# the same answer (values; the expert query's backlog has scale 2 even on
# an empty book), over the first 40 periods for the per-period query
check=$("${PSQL[@]}" -At <<SQL
$SETTINGS
CREATE TEMP TABLE a_series AS $SERIES;
CREATE TEMP TABLE a_expert AS $EXPERT;
SELECT count(*) || ' ' || count(*) FILTER (WHERE row(a.booked, a.fulfilled, a.backlog_start, a.backlog_end, a.book_to_bill, a.backlog_ratio)
	IS DISTINCT FROM row(b.booked, b.fulfilled, b.backlog_start, b.backlog_end, b.book_to_bill, b.backlog_ratio))
  FROM a_series a FULL JOIN a_expert b USING (period);
SQL
)
check_pp=$("${PSQL[@]}" -At <<SQL
$SETTINGS
CREATE TEMP TABLE a_series AS $SERIES;
CREATE TEMP TABLE a_pp AS ${PER_PERIOD/generate_series(0, $PERIODS - 1)/generate_series(0, 39)};
SELECT count(*) || ' ' || count(*) FILTER (WHERE row(a.*)::text IS DISTINCT FROM row(b.*)::text)
  FROM a_pp b JOIN a_series a USING (period);
SQL
)

# timed NAME_A QUERY_A NAME_B QUERY_B REPS: a warm-up of A, then REPS
# repetitions of A right before B; "name ms" lines
timed() {
	local r
	{
		echo "$SETTINGS"
		echo '\o /dev/null'
		echo "$2;"
		echo '\timing on'
		for ((r = 0; r < $5; r++)); do
			echo "\\echo @$1"; echo "$2;"
			echo "\\echo @$3"; echo "$4;"
		done
	} | "${PSQL[@]}" | awk '/^@/ { name = substr($1, 2); next }
		/^Time:/ && name != "" { print name, $2; name = "" }'
}
best_of() { echo "$1" | awk -v n="$2" '$1 == n { print $2 }' | sort -n | head -n 1; }
median() { sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
# per repetition, time of $2 / time of $3
paired() {
	echo "$1" | awk -v a="$2" -v b="$3" '$1 == a { ta[++na] = $2 } $1 == b { tb[++nb] = $2 }
		END { for (i = 1; i <= na && i <= nb; i++) print ta[i] / tb[i] }'
}

t1=$(timed series "$SERIES" expert "$EXPERT" "$REPS")
t2=$(timed series "$SERIES" per_period "$PER_PERIOD" "$XREPS")

echo "backlog_series, $ROWS orders, $PERIODS daily periods, serial, JIT off"
read -r n bad <<<"$check"
read -r npp badpp <<<"$check_pp"
echo "same answer: series vs expert SQL $((n - bad))/$n periods; series vs per-period aggregates $((npp - badpp))/$npp (value and scale, first 40)"
echo "paired: median over the repetitions of the ratio of two queries run back to back; best: best / best"
printf '%-44s %8s %8s %s\n' ratio paired best target
m=$(paired "$t1" series expert | median)
awk -v m="$m" -v a="$(best_of "$t1" series)" -v b="$(best_of "$t1" expert)" -v reps="$REPS" \
	'BEGIN { printf "%-44s %8.2f %8.2f <= 1.00 %s\n", "series / expert SQL (GROUP BYs + window)", m, a / b, (m <= 1.0 ? "ok" : "MISSED") }'
m=$(paired "$t2" per_period series | median)
awk -v m="$m" -v a="$(best_of "$t2" per_period)" -v b="$(best_of "$t2" series)" \
	'BEGIN { printf "%-44s %8.1f %8.1f >= 50 %s\n", "per-period aggregates x periods / series", m, a / b, (m >= 50 ? "ok" : "MISSED") }'
[ "$bad" = 0 ] && [ "$badpp" = 0 ] || { echo "DIFFERENT ANSWERS" >&2; exit 1; }
[ -n "${BACKLOG_SERIES_REUSE:-}" ] || "${PSQL[@]}" -c "DROP TABLE bench_bs"
