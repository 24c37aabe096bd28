/*
 * exact_sum.h
 *		Exact accumulation of numeric amounts for the amount aggregates.
 *
 * An ExactSum keeps a 128-bit integer partial sum at a decimal scale (the
 * fast path: one add-with-overflow-check per row, no allocation) and the
 * bookkeeping that sum() itself does: how many values were absorbed and the
 * largest display scale among them, which is the scale of the result.
 * Whatever does not fit in 128 bits -- a huge amount, a scale beyond 38
 * digits, or a partial sum about to overflow -- is handed back to the
 * caller as a Numeric "spill addend"; the caller keeps an exact numeric
 * spill next to the ExactSum (inside its aggregate state) and adds the
 * addend to it with numeric_add.  The value of the sum is spill + units,
 * always exact, never float.
 */
#ifndef PIPELINE_EXACT_SUM_H
#define PIPELINE_EXACT_SUM_H

#include "compat.h"

#include "fmgr.h"
#include "utils/numeric.h"

#ifndef HAVE_INT128
#error "pipeline needs a compiler with a 128-bit integer type"
#endif

/* Largest power of ten kept in the 128-bit fast path (10^38 < 2^127). */
#define EXACT_MAX_SCALE 38

/* One amount read from a numeric Datum. */
typedef struct ExactValue
{
	int128		units;			/* value x 10^scale, valid when fits */
	int32		scale;			/* the input's display scale */
	bool		fits;			/* |units| < 10^38 and scale <= 38 */
	bool		is_zero;
	Datum		num;			/* the input itself (maybe short-header) */
} ExactValue;

/* An exact running sum, without its spill (kept by the caller). */
typedef struct ExactSum
{
	int128		units;			/* partial sum x 10^uscale */
	int64		count;			/* values absorbed */
	int64		dscale_count;	/* absorbed values whose scale == dscale */
	int32		uscale;			/* scale of units, <= dscale */
	int32		dscale;			/* largest input scale; -1 while count == 0 */
} ExactSum;

extern void exact_sum_init(ExactSum *sum);

/*
 * Read a numeric Datum without copying it; NaN and +-Infinity raise 22023
 * naming argname.
 */
extern void exact_read_slow(Datum d, const char *argname, ExactValue *out);

/* Only refuse NaN and +-Infinity (for amounts no sum needs). */
extern void exact_check_slow(Datum d, const char *argname);

/* Exact product a x b (scale = a.scale + b.scale, like numeric_mul). */
extern void exact_mul(const ExactValue *a, const ExactValue *b, ExactValue *out);

/*
 * sum += v.  Returns NULL on the fast path, else a Numeric the caller must
 * add to this sum's spill.
 */
extern Numeric exact_add_slow(ExactSum *sum, const ExactValue *v);

/*
 * sum -= v (inverse transition).  Sets *ok = false when the result's scale
 * can no longer be known (the last value of the largest scale left), in
 * which case the caller must have the aggregate restarted.  When count drops
 * to 0 the sum is reset and the caller must drop its spill.
 */
extern Numeric exact_sub(ExactSum *sum, const ExactValue *v, bool *ok);

/* into += from (combine); same spill-addend contract as exact_add. */
extern Numeric exact_combine(ExactSum *into, const ExactSum *from);

/*
 * The exact sum as a Numeric with display scale dscale (count > 0), or 0 (scale 0) when
 * nothing was absorbed.  spill may be NULL.
 */
extern Numeric exact_result(const ExactSum *sum, Numeric spill);

/* units x 10^-scale rendered at display scale dscale (>= scale). */
extern Numeric exact_units_to_numeric(int128 units, int32 scale, int32 dscale);

/* Numeric helpers that go through fmgr, so they work on any PG version. */
extern Numeric exact_numeric_add(Numeric a, Numeric b);
extern bool exact_numeric_is_zero(Numeric n);
extern int32 exact_numeric_dscale(Numeric n);

/* Tokens of the amount and series states' text forms. */
extern bool exact_valid_decimal(const char *s);
extern bool exact_parse_int64(const char *s, int64 *out);

/*
 * Inline fast paths, for the per-row calls of transition functions.
 *
 * exact_read: an uncompressed numeric (what a table column of everyday
 * amounts holds) with at most four base-10000 digits and a scale the digits
 * reach is converted here; anything else goes to exact_read_slow, which
 * also raises the NaN/Infinity error.  Layout per numeric.c's on-disk
 * format (stable across versions).
 */
static inline void
exact_read(Datum d, const char *argname, ExactValue *out)
{
	const struct varlena *p = (const struct varlena *) DatumGetPointer(d);
	const char *data = NULL;
	int			len = 0;

	if (VARATT_IS_1B(p))
	{
		if (!VARATT_IS_1B_E(p))
		{
			data = VARDATA_1B(p);
			len = VARSIZE_1B(p) - VARHDRSZ_SHORT;
		}
	}
	else if (VARATT_IS_4B_U(p))
	{
		/* a computed value (expression results have 4-byte headers) */
		data = VARDATA_4B(p);
		len = VARSIZE_4B(p) - VARHDRSZ;
	}
	{
		uint16		h;

		if (data != NULL && len >= (int) sizeof(uint16))
		{
			memcpy(&h, data, sizeof(uint16));
			/* short format: 10 in the top two bits */
			if ((h & 0xC000) == 0x8000)
			{
				int			ndigits = (len - (int) sizeof(uint16)) / (int) sizeof(int16);
				int			dscale = (h & 0x1F80) >> 7;
				int			weight = (h & 0x003F) | ((h & 0x0040) ? ~0x003F : 0);
				int			k = dscale - 4 * (ndigits - 1 - weight);

				if (ndigits >= 1 && ndigits <= 4 && k >= -3 && k <= 2)
				{
					int64		a = 0;

					for (int i = 0; i < ndigits; i++)
					{
						int16		dig;

						memcpy(&dig, data + sizeof(uint16) + i * sizeof(int16), sizeof(int16));
						a = a * 10000 + dig;
					}
					/* constant divisors: digits beyond dscale are zero */
					switch (k)
					{
						case -3:
							a /= 1000;
							break;
						case -2:
							a /= 100;
							break;
						case -1:
							a /= 10;
							break;
						case 1:
							a *= 10;
							break;
						case 2:
							a *= 100;
							break;
						default:
							break;
					}
					out->units = (h & 0x2000) ? -a : a;
					out->scale = dscale;
					out->fits = true;
					out->is_zero = false;
					out->num = d;
					return;
				}
			}
		}
	}
	exact_read_slow(d, argname, out);
}

/* Refuse NaN and +-Infinity; inline for a short-header numeric. */
static inline void
exact_check(Datum d, const char *argname)
{
	const struct varlena *p = (const struct varlena *) DatumGetPointer(d);

	if (VARATT_IS_1B(p) && !VARATT_IS_1B_E(p) && VARSIZE_1B(p) >= VARHDRSZ_SHORT + sizeof(uint16))
	{
		uint16		h;

		memcpy(&h, VARDATA_1B(p), sizeof(uint16));
		if ((h & 0xC000) != 0xC000)
			return;
	}
	exact_check_slow(d, argname);
}

/* sum += v: inline when v has the sum's scale and nothing overflows. */
static inline Numeric
exact_add(ExactSum *s, const ExactValue *v)
{
	int128		r;

	if (likely(v->fits && v->scale == s->uscale && v->scale == s->dscale) &&
		!__builtin_add_overflow(s->units, v->units, &r))
	{
		s->units = r;
		s->count++;
		s->dscale_count++;
		return NULL;
	}
	return exact_add_slow(s, v);
}

#endif							/* PIPELINE_EXACT_SUM_H */
