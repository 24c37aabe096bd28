/*
 * exact_sum_bench.c
 *		Sums of a numeric column by three accumulators, for
 *		test/bench/exact_sum.sh, which compares them with sum(numeric)
 *		(PostgreSQL's NumericVar-style accumulator, numeric.c's
 *		NumericSumAccum): the 128-bit exact sum with its inline fast path
 *		(src/exact_sum.h, as the amount aggregates use it), the same without
 *		the inline path, and numeric_add per row.  Built with src/exact_sum.c
 *		and loaded by the benchmark only; never installed.
 */
#include "compat.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "exact_sum.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_exact_sum_trans);
PG_FUNCTION_INFO_V1(bench_exact_sum_slow_trans);
PG_FUNCTION_INFO_V1(bench_exact_sum_final);
PG_FUNCTION_INFO_V1(bench_numeric_add_trans);
PG_FUNCTION_INFO_V1(bench_numeric_add_final);

/* An exact sum and its spill, in the aggregate context. */
typedef struct BenchSum
{
	ExactSum	sum;
	Numeric		spill;
} BenchSum;

/* The state of argument 0, made on the first row. */
static BenchSum *
bench_state(FunctionCallInfo fcinfo, MemoryContext *aggcontext)
{
	BenchSum   *st;

	if (!AggCheckCallContext(fcinfo, aggcontext))
		elog(ERROR, "bench aggregate called in non-aggregate context");
	if (!PG_ARGISNULL(0))
		return (BenchSum *) PG_GETARG_POINTER(0);
	st = MemoryContextAlloc(*aggcontext, sizeof(BenchSum));
	exact_sum_init(&st->sum);
	st->spill = NULL;
	return st;
}

/* st->spill = spill + x, copied into the aggregate context (the old one freed). */
static void
bench_absorb(BenchSum *st, Numeric x, MemoryContext aggcontext)
{
	Numeric		old = st->spill;
	Datum		total;

	if (x == NULL)
		return;
	total = NumericGetDatum(exact_numeric_add(old, x));
	st->spill = (Numeric) MemoryContextAlloc(aggcontext, VARSIZE(DatumGetPointer(total)));
	memcpy(st->spill, DatumGetPointer(total), VARSIZE(DatumGetPointer(total)));
	if (old != NULL)
		pfree(old);
}

/*
 * Transition of the exact sum: through the inline fast path (exact_read,
 * exact_add) or, with inline_path false, every row through the out-of-line
 * functions.
 */
static inline Datum
bench_exact_sum(FunctionCallInfo fcinfo, bool inline_path)
{
	MemoryContext aggcontext;
	BenchSum   *st = bench_state(fcinfo, &aggcontext);
	ExactValue	v;
	Numeric		addend;

	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	if (inline_path)
	{
		exact_read(PG_GETARG_DATUM(1), "amount", &v);
		addend = exact_add(&st->sum, &v);
	}
	else
	{
		exact_read_slow(PG_GETARG_DATUM(1), "amount", &v);
		addend = exact_add_slow(&st->sum, &v);
	}
	bench_absorb(st, addend, aggcontext);
	PG_RETURN_POINTER(st);
}

/* Transition: the inline fast path. */
Datum
bench_exact_sum_trans(PG_FUNCTION_ARGS)
{
	return bench_exact_sum(fcinfo, true);
}

/* Transition: the out-of-line functions only. */
Datum
bench_exact_sum_slow_trans(PG_FUNCTION_ARGS)
{
	return bench_exact_sum(fcinfo, false);
}

/* Final: the exact sum (NULL for no rows, like sum()). */
Datum
bench_exact_sum_final(PG_FUNCTION_ARGS)
{
	BenchSum   *st = PG_ARGISNULL(0) ? NULL : (BenchSum *) PG_GETARG_POINTER(0);

	if (st == NULL || st->sum.count == 0)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(exact_result(&st->sum, st->spill));
}

/* Transition: numeric_add per row, the running total kept in the spill. */
Datum
bench_numeric_add_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BenchSum   *st = bench_state(fcinfo, &aggcontext);

	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	bench_absorb(st, PG_GETARG_NUMERIC(1), aggcontext);
	PG_RETURN_POINTER(st);
}

/* Final: the running total (NULL for no rows). */
Datum
bench_numeric_add_final(PG_FUNCTION_ARGS)
{
	BenchSum   *st = PG_ARGISNULL(0) ? NULL : (BenchSum *) PG_GETARG_POINTER(0);

	if (st == NULL || st->spill == NULL)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(st->spill);
}
