/*
 * backlog.c
 *		Backlog aggregates: backlog_ratio(backlog, sales), backlog_amount,
 *		backlog_ratio over a period and book_to_bill, with their inverse
 *		transition functions for moving windows.
 *
 * Definitions (docs/aggregates.md, "Backlog over time"): an order is on
 * the books at instant t when booked_at < t and (fulfilled_at IS NULL or
 * fulfilled_at >= t); periods are [lower, upper) with a finite upper bound
 * and an inclusive or unbounded lower bound.  Then
 *		backlog_amount(t)        = sum of amounts on the books at t
 *		booked within the period    = sum where lower <= booked_at < upper
 *		fulfilled within the period = sum where lower <= fulfilled_at < upper
 * and backlog(upper) = backlog(lower) + booked - fulfilled holds exactly for
 * orders fulfilled no earlier than booked.
 */
#include "compat.h"

#include "catalog/pg_type.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "amount_state.h"

PG_FUNCTION_INFO_V1(pipeline_backlog_sums_trans);
PG_FUNCTION_INFO_V1(pipeline_backlog_sums_inv);
PG_FUNCTION_INFO_V1(pipeline_backlog_amount_trans);
PG_FUNCTION_INFO_V1(pipeline_backlog_amount_inv);
PG_FUNCTION_INFO_V1(pipeline_backlog_ratio_trans);
PG_FUNCTION_INFO_V1(pipeline_backlog_ratio_inv);
PG_FUNCTION_INFO_V1(pipeline_book_to_bill_trans);
PG_FUNCTION_INFO_V1(pipeline_book_to_bill_inv);

/* A period, parsed and checked. */
typedef struct Period
{
	uint16		flags;			/* AS_LOWER_INF, AS_EMPTY */
	TimestampTz lower;
	TimestampTz upper;
} Period;

/*
 * Per-call-site memo (fn_extra): the raw bytes of the last period datum
 * seen and its parse, so that a period is parsed once per group (in fact
 * once per distinct value), not once per row.
 */
typedef struct PeriodCache
{
	TypeCacheEntry *typcache;
	int			len;			/* -1: nothing cached */
	char		bytes[64];
	Period		period;
} PeriodCache;

/*
 * Parse a tstzrange period: [lower, upper) with a finite upper bound and an
 * inclusive or unbounded lower bound, or empty; anything else is 22023.
 */
static void
period_parse(TypeCacheEntry *typcache, Datum d, Period *out)
{
	RangeType  *r = DatumGetRangeTypeP(d);
	RangeBound	lo,
				up;
	bool		empty;

	range_deserialize(typcache, r, &lo, &up, &empty);
	out->flags = 0;
	out->lower = out->upper = 0;
	if (empty)
	{
		out->flags = AS_EMPTY;
		return;
	}
	if (up.infinite || TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(up.val)) || up.inclusive)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period must have a finite, exclusive upper bound"),
				 errdetail("Periods are [lower, upper): the backlog is measured at the instant upper begins."),
				 errhint("Write the period as tstzrange(lower, upper, '[)').")));
	if (!lo.infinite && !lo.inclusive)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period must have an inclusive or unbounded lower bound"),
				 errdetail("Periods are [lower, upper): an order booked or fulfilled at lower belongs to the period."),
				 errhint("Write the period as tstzrange(lower, upper, '[)').")));
	if (lo.infinite)
		out->flags |= AS_LOWER_INF;
	else
		out->lower = DatumGetTimestampTz(lo.val);
	out->upper = DatumGetTimestampTz(up.val);
}

/*
 * memcmp(a, b, len) == 0 for the few bytes of a range (8 < len <= 64),
 * without a call: whole words, the last one overlapping.
 */
static inline bool
bytes_equal(const char *a, const char *b, int len)
{
	uint64		x,
				y;
	int			off = 0;

	if (len <= (int) sizeof(uint64))
		return memcmp(a, b, len) == 0;
	for (; off + (int) sizeof(uint64) < len; off += sizeof(uint64))
	{
		memcpy(&x, a + off, sizeof(uint64));
		memcpy(&y, b + off, sizeof(uint64));
		if (x != y)
			return false;
	}
	memcpy(&x, a + len - sizeof(uint64), sizeof(uint64));
	memcpy(&y, b + len - sizeof(uint64), sizeof(uint64));
	return x == y;
}

/* The period argument, through the per-call-site memo. */
static const Period *
period_get(FunctionCallInfo fcinfo, Datum d)
{
	PeriodCache *pc = (PeriodCache *) fcinfo->flinfo->fn_extra;
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	int			len;

	if (pc == NULL)
	{
		pc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PeriodCache));
		pc->typcache = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);
		pc->len = -1;
		fcinfo->flinfo->fn_extra = pc;
	}
	if (VARATT_IS_EXTENDED(p) && !VARATT_IS_SHORT(p))
		p = pg_detoast_datum(p);
	len = VARSIZE_ANY_EXHDR(p);
	if (len == pc->len && bytes_equal(VARDATA_ANY(p), pc->bytes, len))
		return &pc->period;
	period_parse(pc->typcache, PointerGetDatum(p), &pc->period);
	if (len <= (int) sizeof(pc->bytes))
	{
		memcpy(pc->bytes, VARDATA_ANY(p), len);
		pc->len = len;
	}
	else
		pc->len = -1;
	return &pc->period;
}

/*
 * Apply one amount to sums[i], forward or inverse.  Returns false when the
 * inverse cannot be done exactly (the aggregate must restart).
 */
static inline bool
apply(AmountState **stp, int i, const ExactValue *v, bool inverse)
{
	Numeric		addend;

	if (!inverse)
		addend = exact_add(&(*stp)->sums[i], v);
	else
	{
		bool		ok;

		addend = exact_sub(&(*stp)->sums[i], v, &ok);
		if (!ok)
			return false;
	}
	if (unlikely(addend != NULL))
		*stp = amount_state_absorb(*stp, i, addend);
	return true;
}

/* Count a row in or out; an inverse that empties the state resets it. */
static inline bool
count_row(AmountState **stp, bool inverse)
{
	if (!inverse)
	{
		amount_state_add_row(*stp);
		return true;
	}
	if ((*stp)->nrows <= 1)
	{
		*stp = amount_state_reset(*stp);
		return false;
	}
	(*stp)->nrows--;
	return true;
}

/*
 * backlog_ratio(backlog numeric, sales numeric): sum(backlog) / sum(sales)
 * over rows where neither is NULL.
 */
static Datum
backlog_sums(FunctionCallInfo fcinfo, bool inverse)
{
	AmountState *st = amount_state_for_update(fcinfo, 0, AMOUNT_KIND_BACKLOG_SUMS);
	ExactValue	b,
				s;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	exact_read(PG_GETARG_DATUM(1), "backlog", &b);
	exact_read(PG_GETARG_DATUM(2), "sales", &s);
	if (!count_row(&st, inverse))
		PG_RETURN_POINTER(st);
	if (!apply(&st, 0, &b, inverse) || !apply(&st, 1, &s, inverse))
		PG_RETURN_NULL();
	if (inverse)
		st = amount_state_drop_empty_spills(st);
	PG_RETURN_POINTER(st);
}

/* Transition function of backlog_ratio(backlog, sales). */
Datum
pipeline_backlog_sums_trans(PG_FUNCTION_ARGS)
{
	return backlog_sums(fcinfo, false);
}

/* Inverse transition function of backlog_ratio(backlog, sales). */
Datum
pipeline_backlog_sums_inv(PG_FUNCTION_ARGS)
{
	return backlog_sums(fcinfo, true);
}

/*
 * backlog_amount(amount, booked_at, fulfilled_at, as_of): sum of the
 * amounts on the books at the instant as_of begins.  fulfilled_at NULL
 * means not fulfilled; a NULL in any other argument skips the row.
 */
static Datum
backlog_amount(FunctionCallInfo fcinfo, bool inverse)
{
	AmountState *st = amount_state_for_update(fcinfo, 0, AMOUNT_KIND_BACKLOG_AMOUNT);
	ExactValue	v;
	TimestampTz booked,
				as_of;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		PG_RETURN_POINTER(st);
	booked = PG_GETARG_TIMESTAMPTZ(2);
	as_of = PG_GETARG_TIMESTAMPTZ(4);
	amount_state_set_param(st, 0, 0, as_of);
	if (!(booked < as_of && (PG_ARGISNULL(3) || PG_GETARG_TIMESTAMPTZ(3) >= as_of)))
	{
		exact_check(PG_GETARG_DATUM(1), "amount");
		count_row(&st, inverse);
		PG_RETURN_POINTER(st);
	}
	exact_read(PG_GETARG_DATUM(1), "amount", &v);
	if (!count_row(&st, inverse))
		PG_RETURN_POINTER(st);
	if (!apply(&st, 0, &v, inverse))
		PG_RETURN_NULL();
	if (inverse)
		st = amount_state_drop_empty_spills(st);
	PG_RETURN_POINTER(st);
}

/* Transition function of backlog_amount. */
Datum
pipeline_backlog_amount_trans(PG_FUNCTION_ARGS)
{
	return backlog_amount(fcinfo, false);
}

/* Inverse transition function of backlog_amount. */
Datum
pipeline_backlog_amount_inv(PG_FUNCTION_ARGS)
{
	return backlog_amount(fcinfo, true);
}

/*
 * backlog_ratio(amount, booked_at, fulfilled_at, period) and
 * book_to_bill(same): sums[0] is the backlog at the period's end
 * (backlog_ratio) or the amount booked within the period (book_to_bill);
 * sums[1] is the amount fulfilled within the period.
 */
static Datum
period_ratio(FunctionCallInfo fcinfo, AmountKind kind, bool inverse)
{
	AmountState *st = amount_state_for_update(fcinfo, 0, kind);
	const Period *per;
	ExactValue	v;
	TimestampTz booked;
	bool		fulfilled_null = PG_ARGISNULL(3);
	TimestampTz fulfilled = 0;
	bool		in_a;
	bool		in_b;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		PG_RETURN_POINTER(st);
	booked = PG_GETARG_TIMESTAMPTZ(2);
	if (!fulfilled_null)
		fulfilled = PG_GETARG_TIMESTAMPTZ(3);
	per = period_get(fcinfo, PG_GETARG_DATUM(4));
	amount_state_set_param(st, per->flags, per->lower, per->upper);
	if (!count_row(&st, inverse) || (per->flags & AS_EMPTY))
	{
		exact_check(PG_GETARG_DATUM(1), "amount");
		PG_RETURN_POINTER(st);
	}

	if (kind == AMOUNT_KIND_BACKLOG_RATIO)
		in_a = booked < per->upper && (fulfilled_null || fulfilled >= per->upper);
	else
		in_a = booked < per->upper &&
			((per->flags & AS_LOWER_INF) || booked >= per->lower);
	in_b = !fulfilled_null && fulfilled < per->upper &&
		((per->flags & AS_LOWER_INF) || fulfilled >= per->lower);
	if (!in_a && !in_b)
	{
		exact_check(PG_GETARG_DATUM(1), "amount");
		PG_RETURN_POINTER(st);
	}
	exact_read(PG_GETARG_DATUM(1), "amount", &v);

	if ((in_a && !apply(&st, 0, &v, inverse)) ||
		(in_b && !apply(&st, 1, &v, inverse)))
		PG_RETURN_NULL();
	if (inverse)
		st = amount_state_drop_empty_spills(st);
	PG_RETURN_POINTER(st);
}

/* Transition function of backlog_ratio(amount, booked_at, fulfilled_at, period). */
Datum
pipeline_backlog_ratio_trans(PG_FUNCTION_ARGS)
{
	return period_ratio(fcinfo, AMOUNT_KIND_BACKLOG_RATIO, false);
}

/* Inverse transition function of backlog_ratio over a period. */
Datum
pipeline_backlog_ratio_inv(PG_FUNCTION_ARGS)
{
	return period_ratio(fcinfo, AMOUNT_KIND_BACKLOG_RATIO, true);
}

/* Transition function of book_to_bill. */
Datum
pipeline_book_to_bill_trans(PG_FUNCTION_ARGS)
{
	return period_ratio(fcinfo, AMOUNT_KIND_BOOK_TO_BILL, false);
}

/* Inverse transition function of book_to_bill. */
Datum
pipeline_book_to_bill_inv(PG_FUNCTION_ARGS)
{
	return period_ratio(fcinfo, AMOUNT_KIND_BOOK_TO_BILL, true);
}
