/*
 * money.h
 *		Exact accumulation of numeric amounts for the amount aggregates.
 *
 * A MoneySum keeps a 128-bit integer partial sum at a decimal scale (the
 * fast path: one add-with-overflow-check per row, no allocation) and the
 * bookkeeping that sum() itself does: how many values were absorbed and the
 * largest display scale among them, which is the scale of the result.
 * Whatever does not fit in 128 bits -- a huge amount, a scale beyond 38
 * digits, or a partial sum about to overflow -- is handed back to the
 * caller as a Numeric "spill addend"; the caller keeps an exact numeric
 * spill next to the MoneySum (inside its aggregate state) and adds the
 * addend to it with numeric_add.  The value of the sum is spill + units,
 * always exact, never float.
 */
#ifndef PIPELINE_MONEY_H
#define PIPELINE_MONEY_H

#include "compat.h"

#include "fmgr.h"
#include "utils/numeric.h"

#ifndef HAVE_INT128
#error "pipeline needs a compiler with a 128-bit integer type"
#endif

/* Largest power of ten kept in the 128-bit fast path (10^38 < 2^127). */
#define MONEY_MAX_SCALE 38

/* One amount read from a numeric Datum. */
typedef struct MoneyValue
{
	int128		units;			/* value x 10^scale, valid when fits */
	int32		scale;			/* the input's display scale */
	bool		fits;			/* |units| < 10^38 and scale <= 38 */
	bool		is_zero;
	Datum		num;			/* the input itself (maybe short-header) */
} MoneyValue;

/* An exact running sum, without its spill (kept by the caller). */
typedef struct MoneySum
{
	int128		units;			/* partial sum x 10^uscale */
	int64		count;			/* values absorbed */
	int64		dscale_count;	/* absorbed values whose scale == dscale */
	int32		uscale;			/* scale of units, <= dscale */
	int32		dscale;			/* largest input scale; -1 while count == 0 */
} MoneySum;

extern void money_sum_init(MoneySum *sum);

/*
 * Read a numeric Datum without copying it; NaN and +-Infinity raise 22023
 * naming argname.
 */
extern void money_read(Datum d, const char *argname, MoneyValue *out);

/* Only refuse NaN and +-Infinity (for amounts no sum needs). */
extern void money_check(Datum d, const char *argname);

/* Exact product a x b (scale = a.scale + b.scale, like numeric_mul). */
extern void money_mul(const MoneyValue *a, const MoneyValue *b, MoneyValue *out);

/*
 * sum += v.  Returns NULL on the fast path, else a Numeric the caller must
 * add to this sum's spill.
 */
extern Numeric money_add(MoneySum *sum, const MoneyValue *v);

/*
 * sum -= v (inverse transition).  Sets *ok = false when the result's scale
 * can no longer be known (the last value of the largest scale left), in
 * which case the caller must have the aggregate restarted.  When count drops
 * to 0 the sum is reset and the caller must drop its spill.
 */
extern Numeric money_sub(MoneySum *sum, const MoneyValue *v, bool *ok);

/* into += from (combine); same spill-addend contract as money_add. */
extern Numeric money_combine(MoneySum *into, const MoneySum *from);

/*
 * The exact sum as a Numeric with display scale dscale (count > 0), or 0 (scale 0) when
 * nothing was absorbed.  spill may be NULL.
 */
extern Numeric money_result(const MoneySum *sum, Numeric spill);

/* units x 10^-scale rendered at display scale dscale (>= scale). */
extern Numeric money_units_to_numeric(int128 units, int32 scale, int32 dscale);

/* Numeric helpers that go through fmgr, so they work on any PG version. */
extern Numeric money_numeric_add(Numeric a, Numeric b);
extern bool money_numeric_is_zero(Numeric n);
extern int32 money_numeric_dscale(Numeric n);

#endif							/* PIPELINE_MONEY_H */
