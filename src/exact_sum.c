/*
 * exact_sum.c
 *		Exact accumulation of numeric amounts: 128-bit fast path, exact
 *		numeric spill (see exact_sum.h).
 *
 * Amounts are read straight from a numeric's on-disk representation, by
 * the one decoder in exact_sum.h (exact_decode, exact_units_int64): inline
 * for the common case, and here, after detoasting, for the rest.
 */
#include "compat.h"

#include <ctype.h>
#include <errno.h>

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "exact_sum.h"

/*
 * Base-10000 digits worth accumulating in 128 bits: 10 hold up to 10^40,
 * enough for any value below 10^38 at its scale (more go to the spill).
 */
#define EXACT_MAX_NDIGITS	10

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
 * Refuse NaN or an infinity (header word h) with 22023 naming the argument:
 * every amount path does.
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
	ExactDigits nd;

	if (VARATT_IS_EXTERNAL(p) || VARATT_IS_COMPRESSED(p))
		p = pg_detoast_datum(p);
	if (!exact_decode(VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p), &nd))
		elog(ERROR, "corrupt numeric value");
	if ((nd.header & NUM_SIGN_MASK) == NUM_SPECIAL)
		not_finite(nd.header, argname);
}

/*
 * Read a numeric Datum in general: detoasted, in 64 bits when
 * exact_units_int64 can, else in 128 bits; fits = false when the value has
 * more than EXACT_MAX_SCALE digits at its scale (or a scale beyond that).
 */
void
exact_read_slow(Datum d, const char *argname, ExactValue *out)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	ExactDigits nd;
	int64		small;
	int128		acc = 0;
	int			k;

	if (VARATT_IS_EXTERNAL(p) || VARATT_IS_COMPRESSED(p))
		p = pg_detoast_datum(p);
	if (!exact_decode(VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p), &nd))
		elog(ERROR, "corrupt numeric value (length %d)", (int) VARSIZE_ANY_EXHDR(p));
	if ((nd.header & NUM_SIGN_MASK) == NUM_SPECIAL)
		not_finite(nd.header, argname);

	out->num = PointerGetDatum(p);
	out->scale = nd.dscale;
	out->is_zero = (nd.ndigits == 0);
	out->units = 0;
	out->fits = true;
	if (nd.ndigits == 0)
		return;
	if (exact_units_int64(&nd, &small))
	{
		out->units = small;
		return;
	}
	out->fits = false;
	if (nd.dscale > EXACT_MAX_SCALE || nd.ndigits > EXACT_MAX_NDIGITS)
		return;
	for (int i = 0; i < nd.ndigits; i++)
	{
		int16		dig;

		memcpy(&dig, nd.digits + i * sizeof(int16), sizeof(int16));
		if (__builtin_mul_overflow(acc, (int128) NUM_NBASE, &acc) ||
			__builtin_add_overflow(acc, (int128) dig, &acc))
			return;
	}

	/* acc = value * 10000^(ndigits - 1 - weight); want value * 10^dscale */
	k = nd.dscale - NUM_DEC_DIGITS * (nd.ndigits - 1 - nd.weight);
	pow10_init();
	if (k > 0)
	{
		if (k > EXACT_MAX_SCALE || __builtin_mul_overflow(acc, pow10_tab[k], &acc))
			return;
	}
	else if (k < 0)
	{
		/* digits beyond dscale must be zero: the value is exact or not read */
		if (-k > EXACT_MAX_SCALE || acc % pow10_tab[-k] != 0)
			return;
		acc /= pow10_tab[-k];
	}
	if (acc >= pow10_tab[EXACT_MAX_SCALE])
		return;
	out->units = nd.neg ? -acc : acc;
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

/* See exact_sum.h. */
bool
exact_split_fields(char *tok, int n, char **fields)
{
	for (int k = 0; k < n; k++)
	{
		fields[k] = tok;
		if (k < n - 1)
		{
			tok = strchr(tok, ':');
			if (tok == NULL)
				return false;
			*tok++ = '\0';
		}
	}
	return true;
}

/* See exact_sum.h. */
bool
exact_parse_sum_field(char *tok, int64 *count, int64 *dscale, int64 *dscale_count,
					  const char **value)
{
	char	   *f[4];

	if (!exact_split_fields(tok, 4, f) || !exact_parse_int64(f[0], count) ||
		!exact_parse_int64(f[1], dscale) || !exact_parse_int64(f[2], dscale_count))
		return false;
	*value = f[3];
	return true;
}
