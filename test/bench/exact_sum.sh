#!/bin/bash
# Does the 128-bit exact sum (src/exact_sum.[ch]) earn its lines?  Run by
# `make bench` (throwaway cluster, JIT off).  ROWS rows of amounts like
# agg_amount's (two decimals, -1,000 .. 19,000); each accumulator sums them
# in one aggregate of the same shape (internal state, one call per row):
#   sum        sum(amount): PostgreSQL's NumericVar-style accumulator
#              (numeric.c's NumericSumAccum), the baseline
#   fast       the exact sum as the amount aggregates use it: inline decoder
#              and 128-bit add (test/bench/exact_sum_bench.c)
#   no_inline  the same sum, every row through exact_read_slow/exact_add_slow
#   num_add    numeric_add per row, the running total in the aggregate context
# REPS repetitions, each running every query back to back; the figures are
# medians of per-repetition ratios to sum(amount), in total time and in time
# above count(amount) (the scan and the deforming every query pays).
# Prints ratios only.
set -euo pipefail
cd "$(dirname "$0")"
ROWS=${ROWS:-5000000}
REPS=${REPS:-5}
PG_CONFIG=${PG_CONFIG:-pg_config}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

work=$(mktemp -d /tmp/pipeline-bench.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
# the bench accumulators, built with the extension's compiler flags
$($PG_CONFIG --cc) $($PG_CONFIG --cflags) $($PG_CONFIG --cflags_sl) -shared \
	-I../../src -I"$($PG_CONFIG --includedir-server)" \
	exact_sum_bench.c ../../src/exact_sum.c -o "$work/exact_sum_bench.so"
chmod 755 "$work/exact_sum_bench.so"

"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_sum;
SELECT setseed(0.5) \\gset
CREATE TABLE bench_sum AS
SELECT round((random() * 20000 - 1000)::numeric, 2) AS amount FROM generate_series(1, $ROWS);
VACUUM ANALYZE bench_sum;
SQL

# one session, so that the pg_temp aggregates exist for the timed queries
setup="SET client_min_messages = warning; SET jit = off; SET max_parallel_workers_per_gather = 0;
CREATE FUNCTION pg_temp.fast_t(internal, numeric) RETURNS internal AS '$work/exact_sum_bench.so', 'bench_exact_sum_trans' LANGUAGE C;
CREATE FUNCTION pg_temp.slow_t(internal, numeric) RETURNS internal AS '$work/exact_sum_bench.so', 'bench_exact_sum_slow_trans' LANGUAGE C;
CREATE FUNCTION pg_temp.exact_f(internal) RETURNS numeric AS '$work/exact_sum_bench.so', 'bench_exact_sum_final' LANGUAGE C;
CREATE FUNCTION pg_temp.add_t(internal, numeric) RETURNS internal AS '$work/exact_sum_bench.so', 'bench_numeric_add_trans' LANGUAGE C;
CREATE FUNCTION pg_temp.add_f(internal) RETURNS numeric AS '$work/exact_sum_bench.so', 'bench_numeric_add_final' LANGUAGE C;
CREATE AGGREGATE pg_temp.fast_sum(numeric) (sfunc = pg_temp.fast_t, stype = internal, finalfunc = pg_temp.exact_f);
CREATE AGGREGATE pg_temp.no_inline_sum(numeric) (sfunc = pg_temp.slow_t, stype = internal, finalfunc = pg_temp.exact_f);
CREATE AGGREGATE pg_temp.num_add_sum(numeric) (sfunc = pg_temp.add_t, stype = internal, finalfunc = pg_temp.add_f);"

NAMES=(floor sum fast no_inline num_add)
QUERIES=("SELECT count(amount) FROM bench_sum"
	"SELECT sum(amount) FROM bench_sum"
	"SELECT pg_temp.fast_sum(amount) FROM bench_sum"
	"SELECT pg_temp.no_inline_sum(amount) FROM bench_sum"
	"SELECT pg_temp.num_add_sum(amount) FROM bench_sum")

# the accumulators agree with sum(), value and scale
same=$({ echo "$setup"; echo "SELECT s = f AND s = n AND s = a AND scale(s) = scale(f) AND scale(s) = scale(n) AND scale(s) = scale(a)
	FROM (SELECT sum(amount) s, pg_temp.fast_sum(amount) f, pg_temp.no_inline_sum(amount) n, pg_temp.num_add_sum(amount) a FROM bench_sum) x;"; } |
	"${PSQL[@]}" -At)
[ "$same" = t ] || { echo "exact_sum bench: the accumulators disagree with sum()" >&2; exit 1; }

# "name ms" per query per repetition, after a warm-up pass
times=$({
	echo "$setup"
	echo '\o /dev/null'
	for q in "${QUERIES[@]}"; do echo "$q;"; done
	echo '\timing on'
	for ((r = 0; r < REPS; r++)); do
		for ((i = 0; i < ${#NAMES[@]}; i++)); do
			echo "\\echo @${NAMES[$i]}"
			echo "${QUERIES[$i]};"
		done
	done
} | "${PSQL[@]}" | awk '/^@/ { name = substr($1, 2); next } /^Time:/ && name != "" { print name, $2; name = "" }')

# median over the repetitions of f(time of $1, time of sum, time of floor)
ratio() {
	echo "$times" | awk -v n="$1" -v mode="$2" '
		$1 == "floor" { fl[++nf] = $2 } $1 == "sum" { su[++ns] = $2 } $1 == n { t[++nt] = $2 }
		END { for (i = 1; i <= nt; i++) print (mode == "total") ? t[i] / su[i] : (t[i] - fl[i]) / (su[i] - fl[i]) }' |
		sort -g | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'
}

echo "$ROWS rows, $REPS repetitions, serial, JIT off; medians of per-repetition ratios to sum(amount)"
echo "(results equal sum()'s, value and scale: checked)"
printf '%-34s %10s %20s\n' accumulator "time/sum" "(time-count)/(sum-count)"
for n in sum fast no_inline num_add; do
	case $n in
	sum) label="sum(amount), NumericSumAccum" ;;
	fast) label="exact_sum, inline fast path" ;;
	no_inline) label="exact_sum, out-of-line only" ;;
	num_add) label="numeric_add per row" ;;
	esac
	printf '%-34s %10.2f %20.2f\n' "$label" "$(ratio $n total)" "$(ratio $n above)"
done
printf '%-34s %10.2f\n' "count(amount), the floor" "$(ratio floor total)"
"${PSQL[@]}" -c "DROP TABLE bench_sum"
