/*
 * exact_sum.c
 *		Exact accumulation of numeric amounts: 128-bit fast path, exact
 *		numeric spill (see exact_sum.h).
 *
 * The fast path reads a numeric's base-10000 digits straight from its
 * on-disk representation, which PostgreSQL keeps stable across major
 * versions (pg_upgrade relies on it), so reading it here does not tie the
 * code to one server version.  The layout constants below are those of
 * src/backend/utils/adt/numeric.c.
 */
#include "compat.h"

#include <ctype.h>
#include <errno.h>

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "exact_sum.h"

/* numeric.c's on-disk header layout */
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

/* 10^0 .. 10^38 */
static int128 pow10_tab[EXACT_MAX_SCALE + 1];
static bool pow10_ready = false;

/*
 * Fill the power-of-ten table on first use (a static initializer cannot
 * spell 128-bit constants portably).
 */
static inline void
pow10_init(void)
{
	if (unlikely(!pow10_ready))
	{
		int128		p = 1;

		for (int i = 0; i <= EXACT_MAX_SCALE; i++)
		{
			pow10_tab[i] = p;
			p *= 10;
		}
		pow10_ready = true;
	}
}

/* An empty sum. */
void
exact_sum_init(ExactSum *sum)
{
	sum->units = 0;
	sum->count = 0;
	sum->dscale_count = 0;
	sum->uscale = 0;
	sum->dscale = -1;
}

/*
 * Read a numeric Datum: sign, scale and (when it fits) the exact value in
 * units of 10^-scale, without detoasting a short-header value (no
 * allocation per row).  NaN and infinities are refused here, for every
 * amount path, with an error that names the argument.
 */
pg_noreturn static void
not_finite(uint16 h, const char *argname)
{
	const char *what;

	if ((h & NUM_EXT_SIGN_MASK) == NUM_PINF)
		what = "Infinity";
	else if (h == NUM_NAN)
		what = "NaN";
	else
		what = "-Infinity";
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("argument \"%s\" must be a finite number, not %s", argname, what),
			 errdetail("Amounts are summed exactly; NaN and infinite values have no exact sum."),
			 errhint("Leave such rows out with WHERE or with FILTER (WHERE %s NOT IN ('NaN', 'Infinity', '-Infinity')).",
					 argname)));
}

/*
 * Only check that a numeric Datum is finite (22023 naming argname
 * otherwise): for amounts of rows that do not qualify for any sum, which
 * must be refused all the same.
 */
void
exact_check_slow(Datum d, const char *argname)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	uint16		h;

	if (VARATT_IS_EXTERNAL(p) || VARATT_IS_COMPRESSED(p))
		p = pg_detoast_datum(p);
	if (VARSIZE_ANY_EXHDR(p) < sizeof(uint16))
		elog(ERROR, "corrupt numeric value");
	memcpy(&h, VARDATA_ANY(p), sizeof(uint16));
	if ((h & NUM_SIGN_MASK) == NUM_SPECIAL)
		not_finite(h, argname);
}

void
exact_read_slow(Datum d, const char *argname, ExactValue *out)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	const char *data;
	int			len;
	uint16		h;
	int			hdr;
	int			weight;
	int			dscale;
	bool		neg;
	int			ndigits;
	int128		acc = 0;
	int			k;

	if (VARATT_IS_EXTERNAL(p) || VARATT_IS_COMPRESSED(p))
		p = pg_detoast_datum(p);
	data = VARDATA_ANY(p);
	len = VARSIZE_ANY_EXHDR(p);
	if (len < (int) sizeof(uint16))
		elog(ERROR, "corrupt numeric value (length %d)", len);
	memcpy(&h, data, sizeof(uint16));

	out->num = PointerGetDatum(p);
	if ((h & NUM_SIGN_MASK) == NUM_SPECIAL)
		not_finite(h, argname);

	if ((h & NUM_SIGN_MASK) == NUM_SHORT)
	{
		hdr = sizeof(uint16);
		neg = (h & NUM_SHORT_SIGN_MASK) != 0;
		dscale = (h & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		weight = (h & NUM_SHORT_WEIGHT_MASK);
		if (h & NUM_SHORT_WEIGHT_SIGN)
			weight |= ~NUM_SHORT_WEIGHT_MASK;
	}
	else
	{
		int16		w;

		hdr = 2 * sizeof(uint16);
		if (len < hdr)
			elog(ERROR, "corrupt numeric value (length %d)", len);
		neg = (h & NUM_SIGN_MASK) == NUM_NEG;
		dscale = h & NUM_DSCALE_MASK;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		weight = w;
	}
	ndigits = (len - hdr) / (int) sizeof(int16);

	out->scale = dscale;
	out->is_zero = (ndigits == 0);
	out->units = 0;
	out->fits = false;
	if (ndigits == 0)
	{
		out->fits = true;
		return;
	}
	/* 10^38 > value * 10^scale needs at most 10 base-10000 digits */
	if (dscale > EXACT_MAX_SCALE || ndigits > 10)
		return;

	data += hdr;
	k = dscale - NUM_DEC_DIGITS * (ndigits - 1 - weight);
	if (ndigits <= 4)
	{
		/* < 10^16: the common case, done in 64 bits (no 128-bit division) */
		int64		a64 = 0;

		for (int i = 0; i < ndigits; i++)
		{
			int16		dig;

			memcpy(&dig, data + i * sizeof(int16), sizeof(int16));
			a64 = a64 * NUM_NBASE + dig;
		}
		if (k < 0 && k >= -3)
		{
			/* digits beyond dscale are always zero in a stored numeric */
			static const int64 p10[4] = {1, 10, 100, 1000};

			if (a64 % p10[-k] != 0)
				return;
			a64 /= p10[-k];
			out->units = neg ? -a64 : a64;
			out->fits = true;
			return;
		}
		if (k >= 0 && k <= 2)
		{
			static const int64 p10[3] = {1, 10, 100};

			/* < 10^18: fits */
			a64 *= p10[k];
			out->units = neg ? -a64 : a64;
			out->fits = true;
			return;
		}
		acc = a64;
	}
	else
	{
		for (int i = 0; i < ndigits; i++)
		{
			int16		dig;

			memcpy(&dig, data + i * sizeof(int16), sizeof(int16));
			if (__builtin_mul_overflow(acc, (int128) NUM_NBASE, &acc) ||
				__builtin_add_overflow(acc, (int128) dig, &acc))
				return;
		}
	}

	/* acc = value * 10000^(ndigits - 1 - weight); want value * 10^dscale */
	pow10_init();
	if (k > 0)
	{
		if (k > EXACT_MAX_SCALE || __builtin_mul_overflow(acc, pow10_tab[k], &acc))
			return;
	}
	else if (k < 0)
	{
		if (-k > EXACT_MAX_SCALE || acc % pow10_tab[-k] != 0)
			return;
		acc /= pow10_tab[-k];
	}
	if (acc >= pow10_tab[EXACT_MAX_SCALE])
		return;
	out->units = neg ? -acc : acc;
	out->fits = true;
}

/*
 * Exact product of two amounts, at scale a.scale + b.scale like
 * numeric_mul; through numeric_mul when the 128-bit product would overflow.
 */
void
exact_mul(const ExactValue *a, const ExactValue *b, ExactValue *out)
{
	pow10_init();
	if (a->fits && b->fits && a->scale + b->scale <= EXACT_MAX_SCALE)
	{
		int128		r;

		if (!__builtin_mul_overflow(a->units, b->units, &r) &&
			r < pow10_tab[EXACT_MAX_SCALE] && r > -pow10_tab[EXACT_MAX_SCALE])
		{
			out->units = r;
			out->scale = a->scale + b->scale;
			out->fits = true;
			out->is_zero = (r == 0);
			out->num = (Datum) 0;
			return;
		}
	}
	exact_read(DirectFunctionCall2(numeric_mul, a->num, b->num), "amount", out);
}

/*
 * The Numeric of a value that went to a spill: the input itself (detoasted
 * to a regular datum) or, for a product computed in 128 bits, rebuilt.
 */
static Numeric
value_numeric(const ExactValue *v, bool negate)
{
	Numeric		n;

	if (v->num != (Datum) 0)
		n = DatumGetNumeric(v->num);	/* detoasts a short header */
	else
		n = exact_units_to_numeric(v->units, v->scale, v->scale);
	if (negate)
		n = DatumGetNumeric(DirectFunctionCall1(numeric_uminus, NumericGetDatum(n)));
	return n;
}

/* a + b through numeric_add (exact; scale = the larger input scale). */
Numeric
exact_numeric_add(Numeric a, Numeric b)
{
	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a),
											   NumericGetDatum(b)));
}

/*
 * Core of add/sub/combine: units += x at scale xscale, rescaling whichever
 * side has the smaller scale.  Returns the part that did not fit (to be
 * spilled) or NULL.
 */
static Numeric
units_accumulate(ExactSum *s, int128 x, int32 xscale, Numeric *spill_x)
{
	Numeric		addend = NULL;
	int128		r;

	pow10_init();
	if (xscale > s->uscale)
	{
		if (s->units == 0)
			s->uscale = xscale;
		else if (__builtin_mul_overflow(s->units, pow10_tab[xscale - s->uscale], &r))
		{
			addend = exact_units_to_numeric(s->units, s->uscale, s->uscale);
			s->units = 0;
			s->uscale = xscale;
		}
		else
		{
			s->units = r;
			s->uscale = xscale;
		}
	}
	else if (xscale < s->uscale)
	{
		if (__builtin_mul_overflow(x, pow10_tab[s->uscale - xscale], &r))
		{
			/* x alone does not fit at our scale: spill it as it is */
			*spill_x = exact_units_to_numeric(x, xscale, xscale);
			return addend;
		}
		x = r;
	}
	if (__builtin_add_overflow(s->units, x, &r))
	{
		/* flush the partial sum to the spill, keep x */
		addend = exact_numeric_add(addend,
								   exact_units_to_numeric(s->units, s->uscale, s->uscale));
		s->units = x;
	}
	else
		s->units = r;
	return addend;
}

/* sum += v, the general case (exact_add in exact_sum.h is the fast path). */
Numeric
exact_add_slow(ExactSum *s, const ExactValue *v)
{
	Numeric		addend = NULL;
	Numeric		spill_x = NULL;

	s->count++;
	if (v->scale > s->dscale)
	{
		s->dscale = v->scale;
		s->dscale_count = 1;
	}
	else if (v->scale == s->dscale)
		s->dscale_count++;

	if (v->fits)
		addend = units_accumulate(s, v->units, v->scale, &spill_x);
	else
		spill_x = value_numeric(v, false);
	return exact_numeric_add(addend, spill_x);
}

/* sum -= v; see exact_sum.h. */
Numeric
exact_sub(ExactSum *s, const ExactValue *v, bool *ok)
{
	Numeric		addend = NULL;
	Numeric		spill_x = NULL;

	*ok = true;
	if (s->count <= 1)
	{
		/* the last value leaves: the sum is empty again, exactly */
		exact_sum_init(s);
		return NULL;
	}
	s->count--;
	if (v->scale == s->dscale)
	{
		if (s->dscale_count > 1)
			s->dscale_count--;
		else if (s->dscale == 0)
			s->dscale_count = s->count; /* everything left has scale 0 */
		else
		{
			*ok = false;
			return NULL;
		}
	}

	if (v->fits)
		addend = units_accumulate(s, -v->units, v->scale, &spill_x);
	else
		spill_x = value_numeric(v, true);
	return exact_numeric_add(addend, spill_x);
}

/* into += from; see exact_sum.h. */
Numeric
exact_combine(ExactSum *into, const ExactSum *from)
{
	Numeric		spill_x = NULL;
	Numeric		addend;

	if (from->count == 0)
		return NULL;
	if (into->count == 0)
	{
		*into = *from;
		return NULL;
	}
	into->count += from->count;
	if (from->dscale > into->dscale)
	{
		into->dscale = from->dscale;
		into->dscale_count = from->dscale_count;
	}
	else if (from->dscale == into->dscale)
		into->dscale_count += from->dscale_count;
	addend = units_accumulate(into, from->units, from->uscale, &spill_x);
	return exact_numeric_add(addend, spill_x);
}

/*
 * Render units x 10^-scale as numeric text with dscale digits after the
 * point and read it back with numeric_in: exact, and once per group.
 */
Numeric
exact_units_to_numeric(int128 units, int32 scale, int32 dscale)
{
	char		digits[48];
	int			nd = 0;
	uint128		mag;
	char	   *buf;
	char	   *p;
	int			intdigits;

	Assert(dscale >= scale && scale >= 0);
	mag = units < 0 ? (uint128) (-(units + 1)) + 1 : (uint128) units;
	do
	{
		digits[nd++] = '0' + (int) (mag % 10);
		mag /= 10;
	} while (mag != 0);
	/* digits[] holds the magnitude, least significant first */
	buf = palloc(nd + dscale + 4);
	p = buf;
	if (units < 0)
		*p++ = '-';
	intdigits = nd - scale;
	if (intdigits <= 0)
		*p++ = '0';
	else
		for (int i = nd - 1; i >= scale; i--)
			*p++ = digits[i];
	if (dscale > 0)
	{
		*p++ = '.';
		for (int i = scale - 1; i >= 0; i--)
			*p++ = (i < nd) ? digits[i] : '0';
		for (int i = scale; i < dscale; i++)
			*p++ = '0';
	}
	*p = '\0';
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* The exact value of a sum, at sum()'s scale; see exact_sum.h. */
Numeric
exact_result(const ExactSum *s, Numeric spill)
{
	Numeric		n;

	if (s->count == 0)
		return int64_to_numeric(0);
	n = exact_units_to_numeric(s->units, s->uscale, s->dscale);
	if (spill != NULL)
		n = exact_numeric_add(spill, n);
	return n;
}

/* Is a (finite) Numeric zero?  A zero numeric has no digits. */
bool
exact_numeric_is_zero(Numeric n)
{
	ExactValue	v;

	exact_read(NumericGetDatum(n), "value", &v);
	return v.is_zero;
}

/* The display scale of a (finite) Numeric. */
int32
exact_numeric_dscale(Numeric n)
{
	ExactValue	v;

	exact_read(NumericGetDatum(n), "value", &v);
	return v.scale;
}

/*
 * A decimal numeral, optionally signed, with an optional fraction: the form
 * a sum takes in the state types' text forms.
 */
bool
exact_valid_decimal(const char *s)
{
	bool		digits = false;

	if (*s == '-')
		s++;
	while (isdigit((unsigned char) *s))
		s++, digits = true;
	if (*s == '.')
	{
		s++;
		while (isdigit((unsigned char) *s))
			s++, digits = true;
	}
	return digits && *s == '\0';
}

/* Parse a whole int64 token of a state's text form; false when it is not one. */
bool
exact_parse_int64(const char *s, int64 *out)
{
	char	   *end;
	long long	v;

	if (*s == '\0' || isspace((unsigned char) *s))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = (int64) v;
	return true;
}
