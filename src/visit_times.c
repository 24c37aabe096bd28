/*
 * visit_times.c
 *		pipeline._visit_time_stats(entered_at, exited_at): the mean, median
 *		and 90th percentile of the time between two instants, over a group of
 *		rows -- what <prefix>_stage_durations reports per stage -- as one
 *		aggregate with a hash-aggregable state.
 *
 * The view groups completed visits by stage.  With avg() and
 * percentile_cont() the executor must sort every visit by stage first
 * (ordered-set aggregates cannot be hashed), then sort each stage's
 * durations again; here the group key is hashed and each group keeps its
 * durations (in microseconds) in an array, from which the rows a
 * percentile needs are selected in linear time (quickselect), without a
 * sort.  Past work_mem a group moves them into a datum sort instead, which
 * spills to disk as percentile_cont's does.
 *
 * The results are those of avg(exited_at - entered_at) and
 * percentile_cont(p) WITHIN GROUP (ORDER BY exited_at - entered_at), to
 * the microsecond and the field: a timestamptz difference is an interval
 * in justify_hours form (no months, the time part smaller than a day and
 * of the day part's sign), which a span in microseconds determines; the
 * mean is interval_div of the field-wise sum, as interval_avg computes it;
 * a percentile interpolates between the same two rows with the same
 * interval arithmetic as percentile_cont.
 */
#include "compat.h"

#include <math.h>

#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/tuplesort.h"

PG_FUNCTION_INFO_V1(pipeline_visit_time_trans);
PG_FUNCTION_INFO_V1(pipeline_visit_time_final);

/* The percentiles reported after the mean, in increasing order. */
static const double visit_time_percentiles[] = {0.5, 0.9};

#define VISIT_TIME_NPERCENTILES lengthof(visit_time_percentiles)

/*
 * One group's state: the field-wise sum of its intervals, and their spans
 * in vals (while they fit work_mem) or else in spans.
 */
typedef struct VisitTimeState
{
	int64		n;
	int64		sum_day;
	int64		sum_time;
	int64	   *vals;
	int64		cap;			/* allocated length of vals */
	MemoryContext cxt;			/* the aggregate's */
	Tuplesortstate *spans;		/* int8 microseconds, sorted at the end */
} VisitTimeState;

/* The interval of a span in microseconds, as timestamptz_mi returns it. */
static Interval *
interval_of_span(int64 span)
{
	Interval   *iv = palloc(sizeof(Interval));

	iv->month = 0;
	iv->day = (int32) (span / USECS_PER_DAY);
	iv->time = span % USECS_PER_DAY;
	return iv;
}

/* The error timestamptz_mi and interval_pl raise, for the same causes. */
static void
report_interval_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("interval out of range")));
}

/* End the group's sort when the executor resets the aggregate. */
static void
visit_time_shutdown(Datum arg)
{
	VisitTimeState *st = (VisitTimeState *) DatumGetPointer(arg);

	if (st->spans != NULL)
		tuplesort_end(st->spans);
	st->spans = NULL;
}

/*
 * Keep one span: in the array, doubled as needed up to work_mem; past it,
 * every span goes to a datum sort (int8: PostgreSQL's cheapest).
 */
static void
visit_time_keep(VisitTimeState *st, int64 span)
{
	if (st->spans == NULL && st->n >= st->cap)
	{
		int64		cap = Max(st->cap * 2, 1024);

		if ((Size) cap * sizeof(int64) <= (Size) work_mem * 1024)
		{
			st->vals = st->vals == NULL
				? MemoryContextAllocHuge(st->cxt, cap * sizeof(int64))
				: repalloc_huge(st->vals, cap * sizeof(int64));
			st->cap = cap;
		}
		else
		{
			MemoryContext old = MemoryContextSwitchTo(st->cxt);
			int64		i;

			st->spans = tuplesort_begin_datum(INT8OID, Int8LessOperator, InvalidOid, false,
											  work_mem, NULL, TUPLESORT_NONE);
			MemoryContextSwitchTo(old);
			for (i = 0; i < st->n; i++)
				tuplesort_putdatum(st->spans, Int64GetDatum(st->vals[i]), false);
			if (st->vals)
				pfree(st->vals);
			st->vals = NULL;
		}
	}
	if (st->spans != NULL)
		tuplesort_putdatum(st->spans, Int64GetDatum(span), false);
	else
		st->vals[st->n] = span;
}

/*
 * Transition: add one visit.  A row without either instant is skipped;
 * an infinite instant is refused as timestamptz_mi refuses it.
 */
Datum
pipeline_visit_time_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	VisitTimeState *st;
	TimestampTz entered;
	TimestampTz exited;
	int64		span;

	if (AggCheckCallContext(fcinfo, &aggcxt) != AGG_CONTEXT_AGGREGATE)
		elog(ERROR, "pipeline._visit_time_stats called in non-aggregate context");

	if (PG_ARGISNULL(0))
	{
		st = MemoryContextAllocZero(aggcxt, sizeof(VisitTimeState));
		st->cxt = aggcxt;
		AggRegisterCallback(fcinfo, visit_time_shutdown, PointerGetDatum(st));
	}
	else
		st = (VisitTimeState *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	entered = PG_GETARG_TIMESTAMPTZ(1);
	exited = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(entered) || TIMESTAMP_NOT_FINITE(exited))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot subtract infinite timestamps")));
	if (pg_sub_s64_overflow(exited, entered, &span) ||
		pg_add_s64_overflow(st->sum_time, span % USECS_PER_DAY, &st->sum_time))
		report_interval_out_of_range();
	st->sum_day += span / USECS_PER_DAY;
	visit_time_keep(st, span);
	st->n++;
	PG_RETURN_POINTER(st);
}

/* Swap two spans. */
static inline void
swap_spans(int64 *a, int64 *b)
{
	int64		t = *a;

	*a = *b;
	*b = t;
}

/*
 * Quickselect: rearrange v[lo..hi] so that v[k] is the value a sort would
 * put there, smaller or equal ones before it, greater or equal ones after.
 * Hoare partitioning around a median of three: linear on average, and
 * balanced on runs of equal values.
 */
static void
select_span(int64 *v, int64 lo, int64 hi, int64 k)
{
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;
		int64		pivot;
		int64		i = lo;
		int64		j = hi;

		if (v[mid] < v[lo])
			swap_spans(&v[mid], &v[lo]);
		if (v[hi] < v[lo])
			swap_spans(&v[hi], &v[lo]);
		if (v[hi] < v[mid])
			swap_spans(&v[hi], &v[mid]);
		pivot = v[mid];
		while (i <= j)
		{
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
			{
				swap_spans(&v[i], &v[j]);
				i++;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/*
 * The spans of rows `row` of the group in sorted order (0-based), asked for
 * in increasing order, each never before the previous row minus one.  From
 * the array: quickselect (after which everything past `row` is larger or
 * equal, so the next row is the smallest of them).  From the sort: read
 * forward, keeping the two rows last read.
 */
typedef struct SpanReader
{
	VisitTimeState *st;
	int64		next;			/* rows read so far (the sort) */
	int64		vals[2];		/* rows next - 2 and next - 1 (the sort) */
	int64		selected;		/* last row selected in the array, or -1 */
} SpanReader;

static int64
span_at(SpanReader *r, int64 row)
{
	VisitTimeState *st = r->st;
	Datum		d;
	bool		isnull;

	if (st->spans == NULL)
	{
		if (row != r->selected)
		{
			if (r->selected >= 0 && row == r->selected + 1)
			{
				/* the smallest of what follows the selected row */
				int64		m = row;
				int64		i;

				for (i = row + 1; i < st->n; i++)
					if (st->vals[i] < st->vals[m])
						m = i;
				swap_spans(&st->vals[row], &st->vals[m]);
			}
			else
				select_span(st->vals, Max(r->selected + 1, 0), st->n - 1, row);
			r->selected = row;
		}
		return st->vals[row];
	}

	if (row < r->next)
	{
		Assert(row >= r->next - 2);
		return r->vals[row - (r->next - 2)];
	}
	if (row > r->next && !tuplesort_skiptuples(st->spans, row - r->next, true))
		elog(ERROR, "missing row in pipeline._visit_time_stats");
	if (!compat_tuplesort_getdatum(st->spans, true, &d, &isnull))
		elog(ERROR, "missing row in pipeline._visit_time_stats");
	/* after a skip, row - 1 was not read: it is never asked for */
	r->vals[0] = r->vals[1];
	r->vals[1] = DatumGetInt64(d);
	r->next = row + 1;
	return r->vals[1];
}

/*
 * Final: {mean, median, 90th percentile} as interval[]; NULL for a group
 * without a visit.  Sorts the group once and reads it forward to the rows
 * each percentile needs, as percentile_cont does for one.
 */
Datum
pipeline_visit_time_final(PG_FUNCTION_ARGS)
{
	VisitTimeState *st;
	Datum		result[1 + VISIT_TIME_NPERCENTILES];
	SpanReader	reader;
	int			i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (VisitTimeState *) PG_GETARG_POINTER(0);
	if (st->n == 0)
		PG_RETURN_NULL();

	/* The mean: interval_avg's division of the field-wise sum. */
	if (st->sum_day >= PG_INT32_MIN && st->sum_day <= PG_INT32_MAX)
	{
		Interval	sum;

		sum.month = 0;
		sum.day = (int32) st->sum_day;
		sum.time = st->sum_time;
		result[0] = DirectFunctionCall2(interval_div, IntervalPGetDatum(&sum),
										Float8GetDatum((double) st->n));
	}
	else
	{
		/* past what an interval sum holds (avg() errors): divide the span */
		int128		total = (int128) st->sum_day * USECS_PER_DAY + st->sum_time;

		result[0] = IntervalPGetDatum(interval_of_span((int64) (total / st->n)));
	}

	if (st->spans != NULL)
		tuplesort_performsort(st->spans);
	reader.st = st;
	reader.next = 0;
	reader.selected = -1;
	for (i = 0; i < VISIT_TIME_NPERCENTILES; i++)
	{
		double		p = visit_time_percentiles[i];
		int64		first_row = (int64) floor(p * (st->n - 1));
		int64		second_row = (int64) ceil(p * (st->n - 1));
		Datum		lo = IntervalPGetDatum(interval_of_span(span_at(&reader, first_row)));

		if (second_row == first_row)
			result[1 + i] = lo;
		else
		{
			Datum		hi = IntervalPGetDatum(interval_of_span(span_at(&reader, second_row)));
			Datum		diff;
			Datum		mul;

			/* percentile_cont's interval_lerp */
			diff = DirectFunctionCall2(interval_mi, hi, lo);
			mul = DirectFunctionCall2(interval_mul, diff,
									  Float8GetDatum(p * (st->n - 1) - first_row));
			result[1 + i] = DirectFunctionCall2(interval_pl, mul, lo);
		}
	}
	visit_time_shutdown(PointerGetDatum(st));

	PG_RETURN_ARRAYTYPE_P(construct_array(result, lengthof(result), INTERVALOID,
										  sizeof(Interval), false, TYPALIGN_DOUBLE));
}
