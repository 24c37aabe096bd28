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

/*
 * numeric.c's on-disk format, which PostgreSQL keeps stable across major
 * versions (pg_upgrade relies on it): a uint16 header word, for the long
 * format an int16 weight, then int16 base-NUM_NBASE digits, most
 * significant first.  The constants are those of
 * src/backend/utils/adt/numeric.c.
 */
#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_NAN					0xC000
#define NUM_PINF				0xD000
#define NUM_EXT_SIGN_MASK		0xF000
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_DSCALE_MASK	0x1F80
#define NUM_SHORT_DSCALE_SHIFT	7
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_DSCALE_MASK			0x3FFF
#define NUM_NBASE				10000
#define NUM_DEC_DIGITS			4

/* Decimal digits an int64 always holds (10^18 < 2^63): the 64-bit decoder's limit. */
#define EXACT_INT64_DIGITS		18

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

/* Tokens of the amount and series states' text forms. */
extern bool exact_valid_decimal(const char *s);
extern bool exact_parse_int64(const char *s, int64 *out);

/*
 * Split tok in place at its first n - 1 colons into fields[0..n-1] (the
 * last field keeps any further colons); false when it has fewer.
 */
extern bool exact_split_fields(char *tok, int n, char **fields);

/*
 * Parse an ExactSum's "<count>:<scale>:<count at scale>:<value>" field (in
 * place), the three numbers as whole int64 tokens, the value unchecked;
 * false when it is not of that form.
 */
extern bool exact_parse_sum_field(char *tok, int64 *count, int64 *dscale,
								  int64 *dscale_count, const char **value);

/* A numeric's header, decoded, and where its digits are. */
typedef struct ExactDigits
{
	uint16		header;			/* first header word (NUM_SPECIAL: NaN, +-Inf) */
	bool		neg;
	int			weight;			/* of the first digit, in NUM_NBASE units */
	int			dscale;			/* display scale */
	int			ndigits;
	const char *digits;			/* ndigits int16 digits, maybe unaligned */
} ExactDigits;

/*
 * Decode the header of a numeric's data (len bytes, the varlena header
 * excluded), short, long or special format; false when len is too short.
 */
static inline bool
exact_decode(const char *data, int len, ExactDigits *out)
{
	uint16		h;
	int			hdr = sizeof(uint16);

	if (len < (int) sizeof(uint16))
		return false;
	memcpy(&h, data, sizeof(uint16));
	out->header = h;
	out->neg = false;
	out->weight = 0;
	out->dscale = 0;
	if ((h & NUM_SIGN_MASK) == NUM_SHORT)
	{
		out->neg = (h & NUM_SHORT_SIGN_MASK) != 0;
		out->dscale = (h & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		out->weight = (h & NUM_SHORT_WEIGHT_MASK) |
			((h & NUM_SHORT_WEIGHT_SIGN) ? ~NUM_SHORT_WEIGHT_MASK : 0);
	}
	else if ((h & NUM_SIGN_MASK) == NUM_SPECIAL)
		len = hdr;				/* NaN and +-Inf have no digits */
	else
	{
		int16		w;

		hdr = 2 * sizeof(uint16);
		if (len < hdr)
			return false;
		out->neg = (h & NUM_SIGN_MASK) == NUM_NEG;
		out->dscale = h & NUM_DSCALE_MASK;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		out->weight = w;
	}
	out->digits = data + hdr;
	out->ndigits = (len - hdr) / (int) sizeof(int16);
	return true;
}

/*
 * *units = +-(a / p) when the digits dropped are zeros, else false; inline,
 * so that p is a constant at each call.
 */
static inline bool
exact_drop_zeros(int64 a, int64 p, bool neg, int64 *units)
{
	int64		q = a / p;

	if (q * p != a)
		return false;
	*units = neg ? -q : q;
	return true;
}

/*
 * The value of a decoded non-zero numeric in units of 10^-dscale, in 64
 * bits: false when it has more than EXACT_INT64_DIGITS decimal digits at
 * its scale or a non-zero digit beyond dscale (which numeric.c never stores;
 * a value is read exactly or not at all).  Division and multiplication by
 * constants, so no division instruction per row.
 */
static inline bool
exact_units_int64(const ExactDigits *d, int64 *units)
{
	/* decimal digits to append (> 0) or drop (< 0) to reach dscale */
	int			k = d->dscale - NUM_DEC_DIGITS * (d->ndigits - 1 - d->weight);
	int64		a = 0;

	if (d->ndigits < 1 || NUM_DEC_DIGITS * d->ndigits > EXACT_INT64_DIGITS ||
		k <= -NUM_DEC_DIGITS || NUM_DEC_DIGITS * d->ndigits + k > EXACT_INT64_DIGITS)
		return false;
	for (int i = 0; i < d->ndigits; i++)
	{
		int16		dig;

		memcpy(&dig, d->digits + i * sizeof(int16), sizeof(int16));
		a = a * NUM_NBASE + dig;
	}
	switch (k)
	{
		case -3:
			return exact_drop_zeros(a, 1000, d->neg, units);
		case -2:
			return exact_drop_zeros(a, 100, d->neg, units);
		case -1:
			return exact_drop_zeros(a, 10, d->neg, units);
		default:
			for (; k > 0; k--)
				a *= 10;
			break;
	}
	*units = d->neg ? -a : a;
	return true;
}

/*
 * Read an amount.  Inline for an uncompressed numeric (what a table column
 * or an expression of everyday amounts holds) whose value fits
 * exact_units_int64; anything else goes to exact_read_slow, which also
 * raises the NaN/Infinity error.
 */
static inline void
exact_read(Datum d, const char *argname, ExactValue *out)
{
	const struct varlena *p = (const struct varlena *) DatumGetPointer(d);
	ExactDigits nd;
	int64		units;
	bool		decoded;

	if (VARATT_IS_1B(p))
		decoded = !VARATT_IS_1B_E(p) &&
			exact_decode(VARDATA_1B(p), VARSIZE_1B(p) - VARHDRSZ_SHORT, &nd);
	else
		decoded = VARATT_IS_4B_U(p) &&
			exact_decode(VARDATA_4B(p), VARSIZE_4B(p) - VARHDRSZ, &nd);
	if (decoded && exact_units_int64(&nd, &units))
	{
		out->units = units;
		out->scale = nd.dscale;
		out->fits = true;
		out->is_zero = false;
		out->num = d;
		return;
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
		if ((h & NUM_SIGN_MASK) != NUM_SPECIAL)
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
