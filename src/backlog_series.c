/*
 * backlog_series.c
 *		pipeline.backlog_series(amount, booked_at, fulfilled_at, origin, step,
 *		periods): a backlog time series in one pass -- the transition and
 *		final functions (the state, its I/O and the combine function are in
 *		series_state.c).
 *
 * Per row: the slot of booked_at and of fulfilled_at (a division for
 * evenly spaced boundaries, a binary search otherwise) and an exact
 * 128-bit addition into each slot's sum: O(1) or O(log periods) per row,
 * O(periods) memory per group.  The final function turns the sums into
 * running backlogs (series_state.h gives the identity), so that every
 * field of period k equals, value and scale, what the per-period
 * aggregates give over the same rows:
 *
 *		booked         coalesce(sum(amount) FILTER (WHERE lower <= booked_at < upper), 0)
 *		fulfilled      coalesce(sum(amount) FILTER (WHERE lower <= fulfilled_at < upper), 0)
 *		backlog_start  backlog_amount(amount, booked_at, fulfilled_at, lower)
 *		backlog_end    backlog_amount(amount, booked_at, fulfilled_at, upper)
 *		book_to_bill   book_to_bill(amount, booked_at, fulfilled_at, [lower, upper))
 *		backlog_ratio  backlog_ratio(amount, booked_at, fulfilled_at, [lower, upper))
 */
#include "compat.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "series_state.h"

PG_FUNCTION_INFO_V1(pipeline_backlog_series_trans);
PG_FUNCTION_INFO_V1(pipeline_backlog_series_final);

/* The columns of pipeline.backlog_period. */
#define PERIOD_NATTS 7

/* Per-call-site memo of the transition function: the boundaries. */
typedef struct TransCache
{
	SeriesBounds bounds;
} TransCache;

/* sums[a][slot] += v */
static inline void
add_amount(SeriesState *st, int a, int slot, const ExactValue *v)
{
	Numeric		addend = exact_add(&st->sums[a][slot], v);

	if (unlikely(addend != NULL))
		series_state_absorb(st, a, slot, addend);
}

/*
 * The state to update when the argument is not a read-write state of ours:
 * a new one, or a copy of a flat or read-only one, in the aggregate's
 * memory (where the executor keeps it without copying).
 */
static SeriesState *
trans_state_slow(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		aggcxt = CurrentMemoryContext;
	if (PG_ARGISNULL(0))
		return series_state_new(aggcxt);
	return series_state_get_copy(fcinfo, 0, aggcxt);
}

/*
 * First row of a group: check the arguments and set up the buckets; later
 * rows: the arguments must be the group's (22023), and a state made
 * elsewhere gets this session's boundaries.
 */
static void
trans_param_slow(FunctionCallInfo fcinfo, SeriesState *st, TimestampTz origin,
				 const Interval *step, int32 periods)
{
	FmgrInfo   *fl = fcinfo->flinfo;
	TransCache *c = (TransCache *) fl->fn_extra;

	if (c == NULL)
	{
		c = MemoryContextAllocZero(fl->fn_mcxt, sizeof(TransCache));
		fl->fn_extra = c;
	}
	if (!st->has_param)
	{
		series_bounds_lookup(&c->bounds, fl->fn_mcxt, origin, step, periods);
		series_state_set_param(st, &c->bounds);
		return;
	}
	series_state_check_param(st, origin, step, periods);
	if (st->bounds == NULL)
	{
		series_bounds_lookup(&c->bounds, fl->fn_mcxt, st->origin, &st->step, st->periods);
		series_state_attach_bounds(st, &c->bounds);
	}
}

/*
 * Transition function: one row into its slots.  A NULL amount, booked_at,
 * origin, step or periods skips the row; a NULL fulfilled_at means not
 * fulfilled.
 */
Datum
pipeline_backlog_series_trans(PG_FUNCTION_ARGS)
{
	SeriesState *st = NULL;
	TimestampTz origin;
	const Interval *step;
	int32		periods;
	ExactValue	v;
	bool		fnull;
	int			n,
				sb,
				sf;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4) || PG_ARGISNULL(5) ||
		PG_ARGISNULL(6))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	origin = PG_GETARG_TIMESTAMPTZ(4);
	step = PG_GETARG_INTERVAL_P(5);
	periods = PG_GETARG_INT32(6);

	if (likely(!PG_ARGISNULL(0)))
		st = series_state_get_rw(fcinfo, 0);
	if (unlikely(st == NULL))
		st = trans_state_slow(fcinfo);
	if (unlikely(!st->has_param || st->bounds == NULL || st->origin != origin ||
				 st->periods != periods || st->step.time != step->time ||
				 st->step.day != step->day || st->step.month != step->month))
		trans_param_slow(fcinfo, st, origin, step, periods);

	exact_read(PG_GETARG_DATUM(1), "amount", &v);
	n = st->periods;
	sb = series_slot(st, PG_GETARG_TIMESTAMPTZ(2));
	fnull = PG_ARGISNULL(3);
	sf = fnull ? n + 1 : series_slot(st, PG_GETARG_TIMESTAMPTZ(3));

	series_state_add_row(st);
	/* the cover bookkeeping reads the counts: before the sums take the row */
	if (sb < sf)
		series_state_cover(st, v.scale, sb, sf);	/* on the books at sb .. sf - 1 */
	else if (sf < sb)
	{
		/* fulfilled in an earlier slot than booked: never on the books */
		if (unlikely(st->sums[SA_INV_BOOKED] == NULL))
			series_state_add_inverted(st);
		add_amount(st, SA_INV_FULFILLED, sf, &v);
		if (sb <= n)
			add_amount(st, SA_INV_BOOKED, sb, &v);
	}
	if (sb <= n)
		add_amount(st, SA_BOOKED, sb, &v);
	if (!fnull && sf <= n)
		add_amount(st, SA_FULFILLED, sf, &v);
	PG_RETURN_DATUM(series_state_datum(st));
}

/* ---------------------------------------------------------------------------
 * Final function
 * ---------------------------------------------------------------------------
 */

/* Per-call-site memo of the final function. */
typedef struct FinalCache
{
	SeriesBounds bounds;
	Oid			elemtype;		/* pipeline.backlog_period */
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	TupleDesc	tupdesc;
	TypeCacheEntry *rangetyp;
} FinalCache;

/*
 * The result's element type, found from the final function's own return
 * type in pg_proc (by OID: no name lookup, no call expression, which Citus
 * does not provide), and checked to be the expected composite.
 */
static FinalCache *
final_cache(FunctionCallInfo fcinfo)
{
	FmgrInfo   *fl = fcinfo->flinfo;
	FinalCache *c = (FinalCache *) fl->fn_extra;
	MemoryContext old;
	Oid			rettype;
	TupleDesc	td;
	int			natts = 0;

	if (c != NULL)
		return c;
	old = MemoryContextSwitchTo(fl->fn_mcxt);
	c = palloc0(sizeof(FinalCache));
	rettype = get_func_rettype(fl->fn_oid);
	c->elemtype = get_element_type(rettype);
	if (!OidIsValid(c->elemtype) || get_typtype(c->elemtype) != TYPTYPE_COMPOSITE)
		elog(ERROR, "pipeline.backlog_series final function must return an array of pipeline.backlog_period");
	td = lookup_rowtype_tupdesc_copy(c->elemtype, -1);
	if (td->natts == PERIOD_NATTS)
		for (int i = 0; i < td->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(td, i);

			if (!att->attisdropped && att->atttypid == (i == 0 ? TSTZRANGEOID : NUMERICOID))
				natts++;
		}
	if (natts != PERIOD_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("type %s does not have the columns of pipeline.backlog_period",
						format_type_be(c->elemtype)),
				 errdetail("Expected (period tstzrange, booked, fulfilled, backlog_start, backlog_end, book_to_bill, backlog_ratio numeric).")));
	c->tupdesc = td;
	get_typlenbyvalalign(c->elemtype, &c->elemlen, &c->elembyval, &c->elemalign);
	c->rangetyp = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);
	MemoryContextSwitchTo(old);
	fl->fn_extra = c;
	return c;
}

/* A running exact sum that can also subtract. */
typedef struct Running
{
	ExactSum	sum;
	Numeric		spill;
} Running;

/* r += s (or -= s), with s's spill. */
static void
running_add(Running *r, const ExactSum *s, Numeric spill, bool negate)
{
	ExactSum	t;
	Numeric		addend;

	if (s->count == 0)
		return;
	t = *s;
	if (negate)
	{
		if (__builtin_sub_overflow((int128) 0, s->units, &t.units))
		{
			/* -(-2^127) does not fit: through the spill */
			spill = exact_numeric_add(spill, exact_units_to_numeric(s->units, s->uscale, s->uscale));
			t.units = 0;
		}
		if (spill != NULL)
			spill = DatumGetNumeric(DirectFunctionCall1(numeric_uminus, NumericGetDatum(spill)));
	}
	addend = exact_combine(&r->sum, &t);
	addend = exact_numeric_add(addend, spill);
	if (addend != NULL)
		r->spill = exact_numeric_add(r->spill, addend);
}

/* A state whose sums contradict each other (only a hand-made one). */
pg_noreturn static void
inconsistent(int boundary, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("inconsistent pipeline.backlog_series_state value"),
			 errdetail("At boundary %d, %s.", boundary, why)));
}

/* n rendered with exactly target decimal digits; the digits dropped must be zeros. */
static Numeric
numeric_at_scale(Numeric n, int32 target, int boundary)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
	char	   *dot = strchr(s, '.');
	int			frac = dot ? (int) strlen(dot + 1) : 0;
	StringInfoData buf;

	initStringInfo(&buf);
	if (frac > target)
	{
		for (int i = target; i < frac; i++)
			if (dot[1 + i] != '0')
				inconsistent(boundary, "the backlog has digits beyond the scale of the rows on the books");
		dot[target > 0 ? 1 + target : 0] = '\0';
		appendStringInfoString(&buf, s);
	}
	else
	{
		appendStringInfoString(&buf, s);
		if (dot == NULL && target > 0)
			appendStringInfoChar(&buf, '.');
		for (int i = frac; i < target; i++)
			appendStringInfoChar(&buf, '0');
	}
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf.data),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * The backlog at a boundary: the running sum at the largest scale among
 * the rows on the books there (target), or 0 (scale 0, like
 * backlog_amount) when there are none.
 */
static Numeric
running_value(const Running *r, int32 target, int boundary)
{
	Numeric		n;

	if (target < 0)
	{
		if (r->sum.units != 0 ||
			(r->spill != NULL && !exact_numeric_is_zero(r->spill)))
			inconsistent(boundary, "no row is on the books but the backlog is not zero");
		return int64_to_numeric(0);
	}
	if (r->spill == NULL && r->sum.uscale <= target)
		return exact_units_to_numeric(r->sum.units, r->sum.uscale, target);
	n = exact_units_to_numeric(r->sum.units, r->sum.uscale, r->sum.uscale);
	if (r->spill != NULL)
		n = exact_numeric_add(r->spill, n);
	return numeric_at_scale(n, target, boundary);
}

/* num / den by numeric_div; NULL for no or a zero denominator. */
static Datum
ratio(Numeric num, const ExactSum *den_sum, Numeric den, bool *isnull)
{
	if (den_sum->count == 0 || exact_numeric_is_zero(den))
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;
	return DirectFunctionCall2(numeric_div, NumericGetDatum(num), NumericGetDatum(den));
}

/*
 * Final function: pipeline.backlog_period[], one element per period, or
 * NULL for a group whose rows were all skipped.  Reads the state only
 * (window frames call it repeatedly).
 */
Datum
pipeline_backlog_series_final(PG_FUNCTION_ARGS)
{
	SeriesState *st;
	FinalCache *c;
	const TimestampTz *b;
	int			n;
	int64	   *derived;
	int64	   *runs = NULL;
	Running		run;
	Numeric		backlog_start;
	Datum	   *elems;
	MemoryContext outer;
	MemoryContext scratch;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = series_state_get_ro(fcinfo, 0);
	if (!st->has_param || st->nrows == 0)
		PG_RETURN_NULL();
	c = final_cache(fcinfo);
	n = st->periods;
	b = st->bounds;
	if (b == NULL)
	{
		/* a state made elsewhere: this session's boundaries must be its own */
		series_bounds_lookup(&c->bounds, fcinfo->flinfo->fn_mcxt, st->origin, &st->step, n);
		series_state_check_bounds(st, &c->bounds);
		b = c->bounds.bounds;
	}

	derived = palloc(sizeof(int64) * (n + 1));
	series_state_derived_cover(st, derived);
	if (st->cover_scale == SERIES_COVER_MIXED)
		runs = palloc0(sizeof(int64) * Max(st->nscales, 1));
	elems = palloc(sizeof(Datum) * n);
	memset(&run, 0, sizeof(run));
	exact_sum_init(&run.sum);
	outer = CurrentMemoryContext;
	scratch = AllocSetContextCreate(CurrentMemoryContext, "backlog_series final",
									ALLOCSET_DEFAULT_SIZES);

	backlog_start = NULL;
	for (int j = 0; j <= n; j++)
	{
		int32		target = -1;
		Numeric		backlog;

		/* the running sums and rows on the books through slot j */
		running_add(&run, &st->sums[SA_BOOKED][j], series_state_spill(st, SA_BOOKED, j), false);
		running_add(&run, &st->sums[SA_FULFILLED][j], series_state_spill(st, SA_FULFILLED, j), true);
		if (st->sums[SA_INV_BOOKED] != NULL)
		{
			running_add(&run, &st->sums[SA_INV_FULFILLED][j],
						series_state_spill(st, SA_INV_FULFILLED, j), false);
			running_add(&run, &st->sums[SA_INV_BOOKED][j],
						series_state_spill(st, SA_INV_BOOKED, j), true);
		}
		if (runs != NULL)
		{
			for (int i = 0; i < st->nscales; i++)
				runs[i] += st->cover[i][j];
			for (int i = st->nscales - 1; i >= 0; i--)
				if (runs[i] > 0)
				{
					target = st->scales[i];
					break;
				}
		}
		else if (derived[j] > 0)
			target = st->cover_scale;
		if (derived[j] > 0 && target < 0)
			inconsistent(j, "rows are on the books but no scale is known for them");

		MemoryContextSwitchTo(scratch);
		backlog = running_value(&run, target, j);
		if (j > 0)
		{
			const ExactSum *bk = &st->sums[SA_BOOKED][j];
			const ExactSum *fl = &st->sums[SA_FULFILLED][j];
			Numeric		booked = exact_result(bk, series_state_spill(st, SA_BOOKED, j));
			Numeric		fulfilled = exact_result(fl, series_state_spill(st, SA_FULFILLED, j));
			RangeBound	lo,
						up;
			Datum		values[PERIOD_NATTS];
			bool		nulls[PERIOD_NATTS];

			memset(&lo, 0, sizeof(lo));
			memset(&up, 0, sizeof(up));
			lo.val = TimestampTzGetDatum(b[j - 1]);
			lo.inclusive = true;
			lo.lower = true;
			up.val = TimestampTzGetDatum(b[j]);
			memset(nulls, 0, sizeof(nulls));
			values[0] = RangeTypePGetDatum(compat_make_range(c->rangetyp, &lo, &up, false));
			values[1] = NumericGetDatum(booked);
			values[2] = NumericGetDatum(fulfilled);
			values[3] = NumericGetDatum(backlog_start);
			values[4] = NumericGetDatum(backlog);
			values[5] = ratio(booked, fl, fulfilled, &nulls[5]);
			values[6] = ratio(backlog, fl, fulfilled, &nulls[6]);
			MemoryContextSwitchTo(outer);
			elems[j - 1] = HeapTupleGetDatum(heap_form_tuple(c->tupdesc, values, nulls));
		}
		/* carry this boundary's backlog into the next period, then drop the scratch */
		MemoryContextSwitchTo(outer);
		if (backlog_start != NULL)
			pfree(backlog_start);
		backlog_start = (Numeric) PG_DETOAST_DATUM_COPY(NumericGetDatum(backlog));
		MemoryContextReset(scratch);
	}
	MemoryContextDelete(scratch);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, c->elemtype, c->elemlen, c->elembyval,
										  c->elemalign));
}
