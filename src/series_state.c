/*
 * series_state.c
 *		pipeline.backlog_series_state: boundaries, the expanded in-memory
 *		form and its flat form, text and binary I/O, and the combine
 *		function of pipeline.backlog_series (see series_state.h).
 *
 * Text form (version 1):
 *
 *		1 <rows>                                        a state of no rows
 *		1 <rows> <origin> <months>:<days>:<usecs> <periods> <hash> <cover> <entry>...
 *
 * <origin> is in microseconds since 2000-01-01 UTC, so the text means the
 * same on every node whatever its TimeZone; <hash> (16 hex digits) is the
 * hash of the boundaries the state was computed with; <cover> is "-" (no
 * row on the books at any boundary), the scale every such row has, or
 * "mixed".  Entries, in this order, only for non-empty sums:
 *
 *		b<slot>=<count>:<scale>:<count at that scale>:<exact value>   booked
 *		f<slot>=...      fulfilled
 *		ib<slot>=...     inverted rows, at the slot of booked_at
 *		if<slot>=...     inverted rows, at the slot of fulfilled_at
 *		c<scale>/<slot>=<difference>   "mixed" only: rows on the books, per scale
 *
 * Slots are 0 (before origin) .. periods.  The binary form carries the same
 * fields.  Input is validated: 22P02 for anything malformed or
 * inconsistent, 22023 for an unsupported format version.
 */
#include "compat.h"

#include <ctype.h>
#include <limits.h>

#include "common/int.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pipeline.h"
#include "series_state.h"

PG_FUNCTION_INFO_V1(pipeline_backlog_series_state_in);
PG_FUNCTION_INFO_V1(pipeline_backlog_series_state_out);
PG_FUNCTION_INFO_V1(pipeline_backlog_series_state_recv);
PG_FUNCTION_INFO_V1(pipeline_backlog_series_state_send);
PG_FUNCTION_INFO_V1(pipeline_backlog_series_combine);

/* Largest display scale of a numeric (NUMERIC_DSCALE_MAX, private to numeric.c). */
#define SERIES_MAX_DSCALE	0x3FFF

static const char *const array_names[SA_COUNT] = {"b", "f", "ib", "if"};

/* ---------------------------------------------------------------------------
 * Boundaries
 * ---------------------------------------------------------------------------
 */

/* A step as text, for messages. */
static char *
step_text(const Interval *step)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(step)));
}

/* An instant as text, for messages (in the session's TimeZone). */
static char *
instant_text(TimestampTz t)
{
	/* timestamptz_to_str returns a static buffer */
	return pstrdup(timestamptz_to_str(t));
}

/*
 * The hash of a series' boundaries, from their values (so the same on
 * every platform): two states can be combined only if they were cut into
 * the same periods.
 */
static uint64
bounds_hash(const TimestampTz *b, int n)
{
	uint64		h = UINT64CONST(0xcbf29ce484222325);

	for (int i = 0; i <= n; i++)
	{
		h ^= (uint64) b[i];
		h *= UINT64CONST(0x100000001b3);
		h ^= h >> 29;
	}
	return h;
}

/*
 * Check the group's arguments: 1 .. SERIES_MAX_PERIODS periods, a finite
 * origin, a positive step (22023 otherwise).
 */
static void
check_args(TimestampTz origin, const Interval *step, int32 periods)
{
	Interval	zero;

	if (periods < 1 || periods > SERIES_MAX_PERIODS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("periods must be between 1 and %d", SERIES_MAX_PERIODS),
				 errdetail("periods is %d.", periods),
				 errhint("Split a longer series into several calls, or use a longer step.")));
	if (TIMESTAMP_NOT_FINITE(origin))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("origin must be finite"),
				 errdetail("origin is %s.", instant_text(origin)),
				 errhint("Pass the instant the first period begins.")));
	memset(&zero, 0, sizeof(zero));
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(step),
										  IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step must be positive"),
				 errdetail("step is %s.", step_text(step)),
				 errhint("Pass a positive interval such as '1 day', '1 week' or '1 month'.")));
}

/*
 * The boundaries origin + k * step, k = 0 .. periods, with the operators
 * SQL's "origin + k * step" uses (interval_mul, timestamptz_pl_interval),
 * so that a calendar step follows the calendar and every boundary equals
 * the one a per-period query computes.  Reuses the cache when the
 * arguments and the session's TimeZone are the same.
 */
void
series_bounds_lookup(SeriesBounds *c, MemoryContext mcxt, TimestampTz origin,
					 const Interval *step, int32 periods)
{
	TimestampTz *b;
	uint64		len;

	if (c->valid && c->origin == origin && c->periods == periods &&
		c->zone == session_timezone && c->step.time == step->time &&
		c->step.day == step->day && c->step.month == step->month)
		return;
	check_args(origin, step, periods);
	c->valid = false;
	if (c->bounds)
		pfree(c->bounds);
	c->bounds = NULL;

	b = MemoryContextAlloc(mcxt, sizeof(TimestampTz) * (periods + 1));
	b[0] = origin;
	for (int k = 1; k <= periods; k++)
	{
		Datum		kstep = DirectFunctionCall2(interval_mul, IntervalPGetDatum(step),
												Float8GetDatum((float8) k));

		b[k] = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(origin), kstep));
		if (TIMESTAMP_NOT_FINITE(b[k]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("step must be finite"),
					 errdetail("step is %s.", step_text(step))));
		if (b[k] <= b[k - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("step must move every period boundary forward"),
					 errdetail("origin + %d * step is %s, not after origin + %d * step, %s.",
							   k, instant_text(b[k]), k - 1, instant_text(b[k - 1])),
					 errhint("Use a step without negative parts, such as '1 month' or '30 days'.")));
	}
	/* evenly spaced (any step without days or months, '1 day' in UTC ...)? */
	len = (uint64) b[1] - (uint64) b[0];
	for (int k = 2; k <= periods && len != 0; k++)
		if ((uint64) b[k] - (uint64) b[k - 1] != len)
			len = 0;

	c->origin = origin;
	c->step = *step;
	c->periods = periods;
	c->zone = session_timezone;
	c->bounds = b;
	c->hash = bounds_hash(b, periods);
	c->uniform_len = len;
	c->valid = true;
}

/* ---------------------------------------------------------------------------
 * The expanded state
 * ---------------------------------------------------------------------------
 */

static Size series_get_flat_size(ExpandedObjectHeader *eohptr);
static void series_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods series_methods = {
	series_get_flat_size,
	series_flatten_into
};

/* A fresh state of no rows, as an expanded object in its own context under parent. */
SeriesState *
series_state_new(MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "backlog_series state",
											  ALLOCSET_SMALL_SIZES);
	SeriesState *st = MemoryContextAllocZero(cxt, sizeof(SeriesState));

	EOH_init_header(&st->hdr, &series_methods, cxt);
	st->cover_scale = SERIES_COVER_NONE;
	return st;
}

/* Empty sums for every slot of one array. */
static ExactSum *
new_sums(SeriesState *st)
{
	ExactSum   *s = MemoryContextAlloc(st->hdr.eoh_context,
									   sizeof(ExactSum) * (st->periods + 1));

	for (int i = 0; i <= st->periods; i++)
		exact_sum_init(&s[i]);
	return s;
}

/* Copy boundaries into the state, so that it never points at a cache. */
static void
copy_bounds(SeriesState *st, const SeriesBounds *b)
{
	Size		size = sizeof(TimestampTz) * (st->periods + 1);

	st->bounds = MemoryContextAlloc(st->hdr.eoh_context, size);
	memcpy(st->bounds, b->bounds, size);
	st->uniform_len = b->uniform_len;
}

/* Set the parameters of a state of no rows and allocate its buckets. */
void
series_state_set_param(SeriesState *st, const SeriesBounds *b)
{
	Assert(!st->has_param && b->valid);
	st->has_param = true;
	st->origin = b->origin;
	st->step = b->step;
	st->periods = b->periods;
	st->bounds_hash = b->hash;
	copy_bounds(st, b);
	st->sums[SA_BOOKED] = new_sums(st);
	st->sums[SA_FULFILLED] = new_sums(st);
}

/* Refuse boundaries other than the ones a state was computed with (22023). */
void
series_state_check_bounds(const SeriesState *st, const SeriesBounds *b)
{
	if (st->bounds_hash != b->hash)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("this pipeline.backlog_series state was computed with other period boundaries"),
				 errdetail("origin + k * step with origin %s and step %s gives other instants under the current TimeZone setting.",
						   instant_text(b->origin), step_text(&b->step)),
				 errhint("Use the same TimeZone setting in every session and on every node that computes the series.")));
}

/* Give a state (made elsewhere) this session's boundaries; 22023 if they differ. */
void
series_state_attach_bounds(SeriesState *st, const SeriesBounds *b)
{
	series_state_check_bounds(st, b);
	copy_bounds(st, b);
}

/* 22023 unless the parameters equal the state's: one series per group. */
void
series_state_check_param(const SeriesState *st, TimestampTz origin, const Interval *step,
						 int32 periods)
{
	if (st->origin == origin && st->periods == periods && st->step.time == step->time &&
		st->step.day == step->day && st->step.month == step->month)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("pipeline.backlog_series needs the same origin, step and periods for every row of a group"),
			 errdetail("Rows of one group have origin %s, step %s, periods %d and origin %s, step %s, periods %d.",
					   instant_text(st->origin), step_text(&st->step), st->periods,
					   instant_text(origin), step_text(step), periods),
			 errhint("Pass constants, or group by origin, step and periods.")));
}

/* Allocate the inverted pair of arrays. */
void
series_state_add_inverted(SeriesState *st)
{
	if (st->sums[SA_INV_BOOKED] == NULL)
	{
		st->sums[SA_INV_BOOKED] = new_sums(st);
		st->sums[SA_INV_FULFILLED] = new_sums(st);
	}
}

/* Add a spill addend (may be NULL) to sums[a][slot], in the state's memory. */
void
series_state_absorb(SeriesState *st, int a, int slot, Numeric addend)
{
	MemoryContext old;
	Numeric		prev;

	if (addend == NULL)
		return;
	old = MemoryContextSwitchTo(st->hdr.eoh_context);
	if (st->spills[a] == NULL)
		st->spills[a] = palloc0(sizeof(Numeric) * (st->periods + 1));
	prev = st->spills[a][slot];
	if (prev != NULL)
	{
		st->spills[a][slot] = exact_numeric_add(prev, addend);
		pfree(prev);
	}
	else
	{
		/* a plain (4-byte header) copy, since it is flattened as it is */
		st->spills[a][slot] = (Numeric) PG_DETOAST_DATUM_COPY(NumericGetDatum(addend));
		st->nspills++;
	}
	MemoryContextSwitchTo(old);
}

/* Row count of sums[a][slot] (0 for an array not allocated). */
static inline int64
slot_count(const SeriesState *st, int a, int slot)
{
	return st->sums[a] ? st->sums[a][slot].count : 0;
}

/* Rows on the books from slot j on, minus those leaving at j (the counts' identity). */
static inline int64
derived_delta(const SeriesState *st, int j)
{
	return slot_count(st, SA_BOOKED, j) - slot_count(st, SA_FULFILLED, j) +
		slot_count(st, SA_INV_FULFILLED, j) - slot_count(st, SA_INV_BOOKED, j);
}

/* Rows on the books at each boundary 0 .. periods, from the sums' counts. */
void
series_state_derived_cover(const SeriesState *st, int64 *out)
{
	int64		run = 0;

	for (int j = 0; j <= st->periods; j++)
	{
		run += derived_delta(st, j);
		out[j] = run;
	}
}

/* The cover array of a scale (MIXED), created (zero) when missing. */
static int64 *
cover_array(SeriesState *st, int32 scale)
{
	int			i;
	int64	   *d;

	if (st->last_scale < st->nscales && st->scales[st->last_scale] == scale)
		return st->cover[st->last_scale];
	for (i = 0; i < st->nscales; i++)
	{
		if (st->scales[i] == scale)
		{
			st->last_scale = i;
			return st->cover[i];
		}
		if (st->scales[i] > scale)
			break;
	}
	/* insert at i, keeping the scales sorted */
	if (st->nscales == st->maxscales)
	{
		int			n = st->maxscales ? st->maxscales * 2 : 4;

		if (st->scales == NULL)
		{
			st->scales = MemoryContextAlloc(st->hdr.eoh_context, sizeof(int32) * n);
			st->cover = MemoryContextAlloc(st->hdr.eoh_context, sizeof(int64 *) * n);
		}
		else
		{
			st->scales = repalloc(st->scales, sizeof(int32) * n);
			st->cover = repalloc(st->cover, sizeof(int64 *) * n);
		}
		st->maxscales = n;
	}
	d = MemoryContextAllocZero(st->hdr.eoh_context, sizeof(int64) * (st->periods + 1));
	memmove(&st->scales[i + 1], &st->scales[i], sizeof(int32) * (st->nscales - i));
	memmove(&st->cover[i + 1], &st->cover[i], sizeof(int64 *) * (st->nscales - i));
	st->scales[i] = scale;
	st->cover[i] = d;
	st->nscales++;
	st->last_scale = i;
	return d;
}

/*
 * Make a state MIXED: while uniform, every row on the books had the one
 * scale, so that scale's differences are the counts' identity.  Call it
 * before the sums take the row that brings another scale.
 */
static void
make_mixed(SeriesState *st)
{
	if (st->cover_scale == SERIES_COVER_MIXED)
		return;
	if (st->cover_scale != SERIES_COVER_NONE)
	{
		int64	   *d = cover_array(st, st->cover_scale);

		for (int j = 0; j <= st->periods; j++)
			d[j] = derived_delta(st, j);
	}
	st->cover_scale = SERIES_COVER_MIXED;
}

/* Record a row on the books at boundaries [from, to) with this scale. */
void
series_state_cover_slow(SeriesState *st, int32 scale, int from, int to)
{
	int64	   *d;

	if (st->cover_scale == SERIES_COVER_NONE)
	{
		st->cover_scale = scale;
		return;
	}
	if (st->cover_scale == scale)
		return;
	make_mixed(st);
	d = cover_array(st, scale);
	d[from]++;
	if (to <= st->periods)
		d[to]--;
}

/* ---------------------------------------------------------------------------
 * The flat form: a header, then the sums, the cover arrays and the spills.
 * ---------------------------------------------------------------------------
 */

typedef struct SeriesFlat
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* SERIES_STATE_VERSION */
	uint8		flags;
	uint16		nscales;
	int32		periods;
	int32		cover_scale;
	int32		nspills;
	int32		pad;
	int64		nrows;
	TimestampTz origin;
	int64		step_time;
	int32		step_day;
	int32		step_month;
	uint64		bounds_hash;
	/* ExactSum sums[narrays][periods + 1], int32 scales[nscales] (MAXALIGNed), */
	/* int64 cover[nscales][periods + 1], then nspills SeriesFlatSpill + Numeric */
} SeriesFlat;

#define SF_HAS_PARAM	0x01
#define SF_INVERTED		0x02
#define SF_FLAGS_ALL	0x03

typedef struct SeriesFlatSpill
{
	int32		array;
	int32		slot;
	/* followed by the Numeric, then padding to MAXALIGN */
} SeriesFlatSpill;

#define SF_HEADER_SIZE	MAXALIGN(sizeof(SeriesFlat))

/* Number of sum arrays a state has (2, or 4 with the inverted pair). */
static inline int
state_narrays(const SeriesState *st)
{
	return st->sums[SA_INV_BOOKED] ? 4 : 2;
}

/* Size of everything before the spills. */
static Size
flat_fixed_size(int narrays, int32 periods, int nscales)
{
	Size		nslots = (Size) periods + 1;
	Size		size = SF_HEADER_SIZE;

	size += narrays * nslots * sizeof(ExactSum);
	size = MAXALIGN(size + nscales * sizeof(int32));
	size += nscales * nslots * sizeof(int64);
	return size;
}

/* Expanded-object method: the size of the flat form. */
static Size
series_get_flat_size(ExpandedObjectHeader *eohptr)
{
	SeriesState *st = (SeriesState *) eohptr;
	Size		size;

	if (!st->has_param)
		return SF_HEADER_SIZE;
	size = flat_fixed_size(state_narrays(st), st->periods, st->nscales);
	for (int a = 0; a < SA_COUNT; a++)
	{
		if (st->spills[a] == NULL)
			continue;
		for (int s = 0; s <= st->periods; s++)
			if (st->spills[a][s] != NULL)
				size += MAXALIGN(sizeof(SeriesFlatSpill) + VARSIZE(st->spills[a][s]));
	}
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pipeline.backlog_series state too large")));
	return size;
}

/* Expanded-object method: write the flat form (see SeriesFlat) into result. */
static void
series_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	SeriesState *st = (SeriesState *) eohptr;
	SeriesFlat *f = (SeriesFlat *) result;
	char	   *p;
	Size		nslots;
	int			narrays;
	int			nspills = 0;

	memset(result, 0, allocated_size);
	SET_VARSIZE(f, allocated_size);
	f->version = SERIES_STATE_VERSION;
	f->nrows = st->nrows;
	f->cover_scale = SERIES_COVER_NONE;
	if (!st->has_param)
		return;
	narrays = state_narrays(st);
	nslots = (Size) st->periods + 1;
	f->flags = SF_HAS_PARAM | (narrays == 4 ? SF_INVERTED : 0);
	f->nscales = (uint16) st->nscales;
	f->periods = st->periods;
	f->cover_scale = st->cover_scale;
	f->origin = st->origin;
	f->step_time = st->step.time;
	f->step_day = st->step.day;
	f->step_month = st->step.month;
	f->bounds_hash = st->bounds_hash;

	p = (char *) result + SF_HEADER_SIZE;
	for (int a = 0; a < narrays; a++)
	{
		memcpy(p, st->sums[a], nslots * sizeof(ExactSum));
		p += nslots * sizeof(ExactSum);
	}
	if (st->nscales > 0)
		memcpy(p, st->scales, st->nscales * sizeof(int32));
	p = (char *) result + MAXALIGN(p - (char *) result + st->nscales * sizeof(int32));
	for (int i = 0; i < st->nscales; i++)
	{
		memcpy(p, st->cover[i], nslots * sizeof(int64));
		p += nslots * sizeof(int64);
	}
	for (int a = 0; a < SA_COUNT; a++)
	{
		if (st->spills[a] == NULL)
			continue;
		for (int s = 0; s <= st->periods; s++)
		{
			Numeric		n = st->spills[a][s];
			SeriesFlatSpill *sp = (SeriesFlatSpill *) p;

			if (n == NULL)
				continue;
			sp->array = a;
			sp->slot = s;
			memcpy(p + sizeof(SeriesFlatSpill), n, VARSIZE(n));
			p += MAXALIGN(sizeof(SeriesFlatSpill) + VARSIZE(n));
			nspills++;
		}
	}
	f->nspills = nspills;
	if ((Size) (p - (char *) result) != allocated_size)
		elog(ERROR, "pipeline.backlog_series state flattened to %zu bytes, not %zu",
			 (Size) (p - (char *) result), allocated_size);
}

/* Refuse a format version this build does not read. */
static bool
check_version(int64 version, Node *escontext)
{
	return pipeline_check_state_version("pipeline.backlog_series_state", version, SERIES_STATE_VERSION,
										ERRCODE_INVALID_PARAMETER_VALUE, escontext);
}

/* A flat state that does not hold together: only a damaged datum gets here. */
pg_noreturn static void
corrupt_flat(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt pipeline.backlog_series_state value"),
			 errdetail("%s", why)));
}

/* Expand a flat state datum (any varlena form) into a new object under parent. */
static SeriesState *
expand_flat(Datum d, MemoryContext parent)
{
	struct varlena *v = PG_DETOAST_DATUM(d);
	const SeriesFlat *f = (const SeriesFlat *) v;
	Size		len = VARSIZE(v);
	Size		nslots;
	Size		fixed;
	int			narrays;
	const char *p;
	const char *end = (const char *) v + len;
	SeriesState *st;

	if (len < SF_HEADER_SIZE)
		corrupt_flat("Too short.");
	check_version(f->version, NULL);
	if ((f->flags & ~SF_FLAGS_ALL) != 0 || f->nrows < 0)
		corrupt_flat("Unknown flags or a negative row count.");
	st = series_state_new(parent);
	st->nrows = f->nrows;
	if (!(f->flags & SF_HAS_PARAM))
	{
		if (len != SF_HEADER_SIZE || f->nrows != 0)
			corrupt_flat("A state of no rows has nothing else.");
		return st;
	}
	if (f->periods < 1 || f->periods > SERIES_MAX_PERIODS ||
		(f->cover_scale == SERIES_COVER_MIXED) != (f->nscales > 0) ||
		f->cover_scale < SERIES_COVER_MIXED || f->cover_scale > SERIES_MAX_DSCALE ||
		f->nspills < 0)
		corrupt_flat("Header out of range.");
	narrays = (f->flags & SF_INVERTED) ? 4 : 2;
	fixed = flat_fixed_size(narrays, f->periods, f->nscales);
	if (fixed > len)
		corrupt_flat("Too short for its periods.");

	st->has_param = true;
	st->periods = f->periods;
	st->origin = f->origin;
	st->step.time = f->step_time;
	st->step.day = f->step_day;
	st->step.month = f->step_month;
	st->bounds_hash = f->bounds_hash;
	st->cover_scale = f->cover_scale;
	nslots = (Size) f->periods + 1;

	p = (const char *) v + SF_HEADER_SIZE;
	for (int a = 0; a < narrays; a++)
	{
		st->sums[a] = MemoryContextAlloc(st->hdr.eoh_context, nslots * sizeof(ExactSum));
		memcpy(st->sums[a], p, nslots * sizeof(ExactSum));
		p += nslots * sizeof(ExactSum);
	}
	if (f->nscales > 0)
	{
		const int32 *scales = (const int32 *) p;

		st->maxscales = f->nscales;
		st->scales = MemoryContextAlloc(st->hdr.eoh_context, sizeof(int32) * f->nscales);
		st->cover = MemoryContextAlloc(st->hdr.eoh_context, sizeof(int64 *) * f->nscales);
		memcpy(st->scales, scales, sizeof(int32) * f->nscales);
		p = (const char *) v + MAXALIGN(p - (const char *) v + f->nscales * sizeof(int32));
		for (int i = 0; i < f->nscales; i++)
		{
			if (st->scales[i] < 0 || st->scales[i] > SERIES_MAX_DSCALE ||
				(i > 0 && st->scales[i] <= st->scales[i - 1]))
				corrupt_flat("Cover scales out of order.");
			st->cover[i] = MemoryContextAlloc(st->hdr.eoh_context, nslots * sizeof(int64));
			memcpy(st->cover[i], p, nslots * sizeof(int64));
			p += nslots * sizeof(int64);
		}
		st->nscales = f->nscales;
	}
	else
		p = (const char *) v + fixed;
	for (int i = 0; i < f->nspills; i++)
	{
		const SeriesFlatSpill *sp = (const SeriesFlatSpill *) p;
		Size		nsize;

		if (p + sizeof(SeriesFlatSpill) + VARHDRSZ > end)
			corrupt_flat("Spills beyond the end.");
		nsize = VARSIZE(p + sizeof(SeriesFlatSpill));
		if (sp->array < 0 || sp->array >= narrays || sp->slot < 0 || sp->slot > f->periods ||
			nsize < VARHDRSZ + sizeof(uint16) ||
			p + sizeof(SeriesFlatSpill) + nsize > end)
			corrupt_flat("Spill out of range.");
		if (st->spills[sp->array] == NULL)
			st->spills[sp->array] = MemoryContextAllocZero(st->hdr.eoh_context,
														   sizeof(Numeric) * nslots);
		if (st->spills[sp->array][sp->slot] != NULL)
			corrupt_flat("Two spills for one sum.");
		st->spills[sp->array][sp->slot] = MemoryContextAlloc(st->hdr.eoh_context, nsize);
		memcpy(st->spills[sp->array][sp->slot], p + sizeof(SeriesFlatSpill), nsize);
		st->nspills++;
		p += MAXALIGN(sizeof(SeriesFlatSpill) + nsize);
	}
	if (p != end)
		corrupt_flat("Trailing bytes.");
	return st;
}

/* The flat datum of a state, in the current memory context. */
static Datum
flatten_state(SeriesState *st)
{
	Size		size = EOH_get_flat_size(&st->hdr);
	void	   *flat = palloc(size);

	EOH_flatten_into(&st->hdr, flat, size);
	return PointerGetDatum(flat);
}

/* Our expanded object behind datum d, or NULL when d is flat. */
static SeriesState *
expanded_of(Datum d)
{
	ExpandedObjectHeader *eoh;

	if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
		return NULL;
	eoh = DatumGetEOHP(d);
	if (eoh->eoh_methods != &series_methods)
		elog(ERROR, "expanded object is not a pipeline.backlog_series_state");
	return (SeriesState *) eoh;
}

/* The state of argument argno, read-only (an expanded object or a flat datum). */
SeriesState *
series_state_get_ro(FunctionCallInfo fcinfo, int argno)
{
	Datum		d = PG_GETARG_DATUM(argno);
	SeriesState *st = expanded_of(d);

	return st ? st : expand_flat(d, CurrentMemoryContext);
}

/* A modifiable copy of argument argno, as an expanded object under parent. */
SeriesState *
series_state_get_copy(FunctionCallInfo fcinfo, int argno, MemoryContext parent)
{
	Datum		d = PG_GETARG_DATUM(argno);
	SeriesState *src = expanded_of(d);
	SeriesState *st;

	if (src == NULL)
		return expand_flat(d, parent);
	/* rare (combine with a NULL state): flatten and expand again */
	d = flatten_state(src);
	st = expand_flat(d, parent);
	pfree(DatumGetPointer(d));
	return st;
}

/* Argument argno if it is a read-write expanded state (ours to modify), else NULL. */
SeriesState *
series_state_get_rw(FunctionCallInfo fcinfo, int argno)
{
	Datum		d = PG_GETARG_DATUM(argno);

	if (!VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)))
		return NULL;
	return expanded_of(d);
}

/* ---------------------------------------------------------------------------
 * Validation of a state read from text or binary input
 * ---------------------------------------------------------------------------
 */

/*
 * Report a malformed state (softly into escontext on PG 16+, else ERROR)
 * and return false, for the caller to return at once.
 */
static bool
bad_state(Node *escontext, const char *input, const char *why)
{
	compat_errsave(escontext,
				   (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					errmsg("invalid input syntax for type pipeline.backlog_series_state: \"%s\"", input),
					errdetail("%s", why),
					errhint("States are made by pipeline.backlog_series; the text form is \"1 <rows> <origin> <months>:<days>:<usecs> <periods> <hash> <cover> <entries>\".")));
	return false;
}


/* Parse a whole int32 token in [lo, hi]. */
static bool
parse_int32(const char *s, int32 lo, int32 hi, int32 *out)
{
	int64		v;

	if (!exact_parse_int64(s, &v) || v < lo || v > hi)
		return false;
	*out = (int32) v;
	return true;
}

/* The parameters of a state read from input: the same rules as for rows. */
static bool
input_param(SeriesState *st, const char *input, Node *escontext, TimestampTz origin, const Interval *step,
			int32 periods, uint64 hash, int32 cover)
{
	Interval	zero;

	if (periods < 1 || periods > SERIES_MAX_PERIODS)
		return bad_state(escontext, input, "periods must be between 1 and 100000.");
	if (TIMESTAMP_NOT_FINITE(origin) || !IS_VALID_TIMESTAMP(origin))
		return bad_state(escontext, input, "origin must be a finite instant.");
	memset(&zero, 0, sizeof(zero));
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(step),
										  IntervalPGetDatum(&zero))))
		return bad_state(escontext, input, "step must be positive.");
	if (cover < SERIES_COVER_MIXED || cover > SERIES_MAX_DSCALE)
		return bad_state(escontext, input, "The cover field is \"-\", a scale or \"mixed\".");
	st->has_param = true;
	st->origin = origin;
	st->step = *step;
	st->periods = periods;
	st->bounds_hash = hash;
	st->cover_scale = cover;
	st->sums[SA_BOOKED] = new_sums(st);
	st->sums[SA_FULFILLED] = new_sums(st);
	return true;
}

/* One sum entry: sums[a][slot] = count:dscale:dscale_count:value. */
static bool
input_sum(SeriesState *st, const char *input, Node *escontext, int a, int64 slot, int64 count, int64 dscale,
		  int64 dscale_count, const char *value)
{
	ExactSum   *s;
	ExactValue	v;
	Datum		n;

	if (slot < 0 || slot > st->periods)
		return bad_state(escontext, input, "A slot must be between 0 and periods.");
	if (a >= SA_INV_BOOKED)
		series_state_add_inverted(st);
	s = &st->sums[a][slot];
	if (s->count != 0)
		return bad_state(escontext, input, "A sum appears twice.");
	if (count < 1 || count > st->nrows)
		return bad_state(escontext, input, "A sum's count must be between 1 and the row count.");
	if (dscale < 0 || dscale > SERIES_MAX_DSCALE || dscale_count < 1 || dscale_count > count)
		return bad_state(escontext, input, "A sum's scale or count at that scale is out of range.");
	if (!exact_valid_decimal(value))
		return bad_state(escontext, input, "A sum's value must be a plain decimal number.");
	if (!compat_numeric_in_safe(value, escontext, &n))
		return false;
	exact_read(n, "sum", &v);
	if (v.scale != dscale)
		return bad_state(escontext, input, "A sum's value must be written with exactly its scale's decimal digits.");
	s->count = count;
	s->dscale = (int32) dscale;
	s->dscale_count = dscale_count;
	if (v.fits)
	{
		s->units = v.units;
		s->uscale = v.scale;
	}
	else
		series_state_absorb(st, a, (int) slot, DatumGetNumeric(n));
	return true;
}

/* One cover entry (MIXED): cover[scale][slot] = delta. */
static bool
input_cover(SeriesState *st, const char *input, Node *escontext, int64 scale, int64 slot, int64 delta)
{
	int64	   *d;

	if (st->cover_scale != SERIES_COVER_MIXED)
		return bad_state(escontext, input, "Per-scale cover entries belong to a \"mixed\" state only.");
	if (scale < 0 || scale > SERIES_MAX_DSCALE)
		return bad_state(escontext, input, "A cover scale is out of range.");
	if (slot < 0 || slot > st->periods)
		return bad_state(escontext, input, "A slot must be between 0 and periods.");
	if (delta == 0 || delta < -st->nrows || delta > st->nrows)
		return bad_state(escontext, input, "A cover difference must be non-zero and at most the row count.");
	d = cover_array(st, (int32) scale);
	if (d[slot] != 0)
		return bad_state(escontext, input, "A cover entry appears twice.");
	d[slot] = delta;
	return true;
}

/*
 * Every invariant the combine and final functions rely on, checked once
 * the whole state is read: it may have been typed by hand.
 */
static bool
input_finish(SeriesState *st, const char *input, Node *escontext)
{
	int64		total[SA_COUNT] = {0, 0, 0, 0};
	int64	   *derived;
	int64	   *run = NULL;
	bool		any = false;

	if (!st->has_param)
		return true;
	for (int s = 0; s <= st->periods; s++)
	{
		for (int a = 0; a < SA_COUNT; a++)
			total[a] += slot_count(st, a, s);
		if (slot_count(st, SA_INV_BOOKED, s) > slot_count(st, SA_BOOKED, s) ||
			slot_count(st, SA_INV_FULFILLED, s) > slot_count(st, SA_FULFILLED, s))
			return bad_state(escontext, input, "An inverted row is also a booked and a fulfilled row of its slots.");
	}
	if (total[SA_BOOKED] > st->nrows || total[SA_FULFILLED] > st->nrows)
		return bad_state(escontext, input, "The sums count more rows than the state has.");
	if (st->nrows == 0)
		return bad_state(escontext, input, "A state of no rows is written \"1 0\".");

	derived = palloc(sizeof(int64) * (st->periods + 1));
	series_state_derived_cover(st, derived);
	if (st->cover_scale == SERIES_COVER_MIXED)
	{
		if (st->nscales == 0)
			return bad_state(escontext, input, "A \"mixed\" state has per-scale cover entries.");
		run = palloc0(sizeof(int64) * st->nscales);
	}
	for (int j = 0; j <= st->periods; j++)
	{
		if (derived[j] < 0)
			return bad_state(escontext, input, "The sums put a negative number of rows on the books.");
		if (derived[j] > 0)
			any = true;
		if (run)
		{
			int64		sum = 0;

			for (int i = 0; i < st->nscales; i++)
			{
				run[i] += st->cover[i][j];
				if (run[i] < 0)
					return bad_state(escontext, input, "A scale has a negative number of rows on the books.");
				sum += run[i];
			}
			if (sum != derived[j])
				return bad_state(escontext, input, "The per-scale cover entries disagree with the sums.");
		}
	}
	if (any != (st->cover_scale != SERIES_COVER_NONE))
		return bad_state(escontext, input, "The cover field disagrees with the sums.");
	return true;
}

/* ---------------------------------------------------------------------------
 * Text and binary I/O
 * ---------------------------------------------------------------------------
 */

/* The exact value of a non-empty sum as text, at its scale. */
static char *
sum_text(const SeriesState *st, int a, int s)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out,
											   NumericGetDatum(exact_result(&st->sums[a][s],
																			series_state_spill(st, a, s)))));
}

/* backlog_series_state_out: the text form (see the file header). */
Datum
pipeline_backlog_series_state_out(PG_FUNCTION_ARGS)
{
	SeriesState *st = series_state_get_ro(fcinfo, 0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%d " INT64_FORMAT, SERIES_STATE_VERSION, st->nrows);
	if (!st->has_param)
		PG_RETURN_CSTRING(buf.data);
	appendStringInfo(&buf, " " INT64_FORMAT " %d:%d:" INT64_FORMAT " %d %08x%08x ",
					 st->origin, st->step.month, st->step.day, st->step.time, st->periods,
					 (uint32) (st->bounds_hash >> 32), (uint32) st->bounds_hash);
	if (st->cover_scale == SERIES_COVER_NONE)
		appendStringInfoChar(&buf, '-');
	else if (st->cover_scale == SERIES_COVER_MIXED)
		appendStringInfoString(&buf, "mixed");
	else
		appendStringInfo(&buf, "%d", st->cover_scale);
	for (int a = 0; a < SA_COUNT; a++)
	{
		if (st->sums[a] == NULL)
			continue;
		for (int s = 0; s <= st->periods; s++)
		{
			const ExactSum *m = &st->sums[a][s];

			if (m->count == 0)
				continue;
			appendStringInfo(&buf, " %s%d=" INT64_FORMAT ":%d:" INT64_FORMAT ":%s",
							 array_names[a], s, m->count, m->dscale, m->dscale_count,
							 sum_text(st, a, s));
		}
	}
	for (int i = 0; i < st->nscales; i++)
		for (int s = 0; s <= st->periods; s++)
			if (st->cover[i][s] != 0)
				appendStringInfo(&buf, " c%d/%d=" INT64_FORMAT, st->scales[i], s, st->cover[i][s]);
	PG_RETURN_CSTRING(buf.data);
}

/* Parse "<months>:<days>:<usecs>". */
static bool
parse_step(char *tok, const char *input, Node *escontext, Interval *step)
{
	char	   *f[3];
	int64		t;

	if (!exact_split_fields(tok, 3, f) ||
		!parse_int32(f[0], PG_INT32_MIN, PG_INT32_MAX, &step->month) ||
		!parse_int32(f[1], PG_INT32_MIN, PG_INT32_MAX, &step->day) ||
		!exact_parse_int64(f[2], &t))
		return bad_state(escontext, input, "The step is written <months>:<days>:<microseconds>.");
	step->time = t;
	return true;
}

/* Parse the boundaries' hash: 16 lower-case hex digits. */
static bool
parse_hash(const char *tok, const char *input, Node *escontext, uint64 *out)
{
	uint64		h = 0;

	if (strlen(tok) != 16)
		return bad_state(escontext, input, "The boundaries' hash is 16 hexadecimal digits.");
	for (int i = 0; i < 16; i++)
	{
		int			c = (unsigned char) tok[i];
		int			d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return bad_state(escontext, input, "The boundaries' hash is 16 lower-case hexadecimal digits.");
		h = (h << 4) | (uint64) d;
	}
	*out = h;
	return true;
}

/* Parse one entry token (see the file header). */
static bool
parse_entry(char *tok, const char *input, Node *escontext, SeriesState *st)
{
	char	   *eq = strchr(tok, '=');
	char	   *key = tok;
	int			a = -1;

	if (eq == NULL)
		return bad_state(escontext, input, "An entry is written <name><slot>=<value>.");
	*eq++ = '\0';
	if (key[0] == 'c')
	{
		char	   *slash = strchr(key, '/');
		int64		scale,
					slot,
					delta;

		if (slash == NULL)
			return bad_state(escontext, input, "A cover entry is written c<scale>/<slot>=<difference>.");
		*slash++ = '\0';
		if (!exact_parse_int64(key + 1, &scale) || !exact_parse_int64(slash, &slot) ||
			!exact_parse_int64(eq, &delta))
			return bad_state(escontext, input, "A cover entry is written c<scale>/<slot>=<difference>.");
		return input_cover(st, input, escontext, scale, slot, delta);
	}
	for (int i = SA_COUNT - 1; i >= 0; i--)
	{
		size_t		n = strlen(array_names[i]);

		if (strncmp(key, array_names[i], n) == 0 && isdigit((unsigned char) key[n]))
		{
			a = i;
			key += n;
			break;
		}
	}
	if (a < 0)
		return bad_state(escontext, input, "Unknown entry (b, f, ib, if or c).");
	{
		int64		slot,
					count,
					dscale,
					dscale_count;
		const char *value;

		if (!exact_parse_int64(key, &slot) ||
			!exact_parse_sum_field(eq, &count, &dscale, &dscale_count, &value))
			return bad_state(escontext, input, "A sum is written <count>:<scale>:<count at scale>:<value>.");
		return input_sum(st, input, escontext, a, slot, count, dscale, dscale_count, value);
	}
}

/* Read the text form into st; false after a soft error. */
static bool
parse_text(const char *input, Node *escontext, SeriesState *st)
{
	char	   *copy = pstrdup(input);
	char	   *save = NULL;
	char	   *tok[7];
	int			n = 0;
	int64		version;
	int64		rows;
	char	   *t;

	while (n < 7 && (t = strtok_r(n == 0 ? copy : NULL, " ", &save)) != NULL)
		tok[n++] = t;
	if (n < 2)
		return bad_state(escontext, input, "A state starts with the format version and the row count.");
	if (!exact_parse_int64(tok[0], &version))
		return bad_state(escontext, input, "The first field is the format version.");
	if (!check_version(version, escontext))
		return false;
	if (!exact_parse_int64(tok[1], &rows) || rows < 0)
		return bad_state(escontext, input, "The second field is the row count.");
	st->nrows = rows;
	if (n == 2)
	{
		if (rows != 0)
			return bad_state(escontext, input, "A state with rows has its origin, step, periods, hash and cover.");
	}
	else
	{
		int64		origin;
		Interval	step;
		int32		periods;
		uint64		hash;
		int32		cover;

		if (n < 7)
			return bad_state(escontext, input, "A state with rows has its origin, step, periods, hash and cover.");
		if (!exact_parse_int64(tok[2], &origin))
			return bad_state(escontext, input, "The origin is in microseconds since 2000-01-01 UTC.");
		if (!parse_step(tok[3], input, escontext, &step))
			return false;
		if (!parse_int32(tok[4], 1, SERIES_MAX_PERIODS, &periods))
			return bad_state(escontext, input, "periods must be between 1 and 100000.");
		if (!parse_hash(tok[5], input, escontext, &hash))
			return false;
		if (strcmp(tok[6], "-") == 0)
			cover = SERIES_COVER_NONE;
		else if (strcmp(tok[6], "mixed") == 0)
			cover = SERIES_COVER_MIXED;
		else if (!parse_int32(tok[6], 0, SERIES_MAX_DSCALE, &cover))
			return bad_state(escontext, input, "The cover field is \"-\", a scale or \"mixed\".");
		if (!input_param(st, input, escontext, origin, &step, periods, hash, cover))
			return false;
		for (t = strtok_r(NULL, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
			if (!parse_entry(t, input, escontext, st))
				return false;
	}
	return input_finish(st, input, escontext);
}

/*
 * backlog_series_state_in: parse and validate the text form; errors are
 * soft on PG 16+ (pg_input_is_valid).
 */
Datum
pipeline_backlog_series_state_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	SeriesState *st = series_state_new(CurrentMemoryContext);

	if (!parse_text(input, compat_input_escontext(fcinfo), st))
		return (Datum) 0;
	PG_RETURN_DATUM(flatten_state(st));
}

/*
 * backlog_series_state_send: version, rows, and when there are rows the
 * parameters, the cover mode, each array's non-empty sums (slot, count,
 * scale, count at scale, exact value as text) and the per-scale cover
 * entries.
 */
Datum
pipeline_backlog_series_state_send(PG_FUNCTION_ARGS)
{
	SeriesState *st = series_state_get_ro(fcinfo, 0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, SERIES_STATE_VERSION);
	pq_sendint64(&buf, st->nrows);
	pq_sendbyte(&buf, st->has_param ? 1 : 0);
	if (st->has_param)
	{
		pq_sendint64(&buf, st->origin);
		pq_sendint32(&buf, st->step.month);
		pq_sendint32(&buf, st->step.day);
		pq_sendint64(&buf, st->step.time);
		pq_sendint32(&buf, st->periods);
		pq_sendint64(&buf, (int64) st->bounds_hash);
		pq_sendint32(&buf, st->cover_scale);
		for (int a = 0; a < SA_COUNT; a++)
		{
			int32		n = 0;

			if (st->sums[a])
				for (int s = 0; s <= st->periods; s++)
					n += (st->sums[a][s].count != 0);
			pq_sendint32(&buf, n);
			if (n == 0)
				continue;
			for (int s = 0; s <= st->periods; s++)
			{
				const ExactSum *m = &st->sums[a][s];

				if (m->count == 0)
					continue;
				pq_sendint32(&buf, s);
				pq_sendint64(&buf, m->count);
				pq_sendint32(&buf, m->dscale);
				pq_sendint64(&buf, m->dscale_count);
				pq_sendstring(&buf, sum_text(st, a, s));
			}
		}
		pq_sendint32(&buf, st->nscales);
		for (int i = 0; i < st->nscales; i++)
		{
			int32		n = 0;

			for (int s = 0; s <= st->periods; s++)
				n += (st->cover[i][s] != 0);
			pq_sendint32(&buf, st->scales[i]);
			pq_sendint32(&buf, n);
			for (int s = 0; s <= st->periods; s++)
				if (st->cover[i][s] != 0)
				{
					pq_sendint32(&buf, s);
					pq_sendint64(&buf, st->cover[i][s]);
				}
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * backlog_series_state_recv: read and validate the binary form.  No
 * escontext: every error is raised, so no check below returns false.
 */
Datum
pipeline_backlog_series_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	const char *input = "(binary)";
	SeriesState *st;
	int64		rows;

	check_version(pq_getmsgbyte(buf), NULL);
	rows = pq_getmsgint64(buf);
	if (rows < 0)
		bad_state(NULL, input, "The row count is negative.");
	st = series_state_new(CurrentMemoryContext);
	st->nrows = rows;
	if (pq_getmsgbyte(buf) != 0)
	{
		TimestampTz origin = pq_getmsgint64(buf);
		Interval	step;
		int32		periods;
		uint64		hash;
		int32		cover;
		int32		nscales;

		step.month = (int32) pq_getmsgint(buf, 4);
		step.day = (int32) pq_getmsgint(buf, 4);
		step.time = pq_getmsgint64(buf);
		periods = (int32) pq_getmsgint(buf, 4);
		hash = (uint64) pq_getmsgint64(buf);
		cover = (int32) pq_getmsgint(buf, 4);
		input_param(st, input, NULL, origin, &step, periods, hash, cover);
		for (int a = 0; a < SA_COUNT; a++)
		{
			int32		n = (int32) pq_getmsgint(buf, 4);

			if (n < 0 || n > periods + 1)
				bad_state(NULL, input, "Too many sums.");
			for (int i = 0; i < n; i++)
			{
				int32		slot = (int32) pq_getmsgint(buf, 4);
				int64		count = pq_getmsgint64(buf);
				int32		dscale = (int32) pq_getmsgint(buf, 4);
				int64		dscale_count = pq_getmsgint64(buf);
				const char *value = pq_getmsgstring(buf);

				input_sum(st, input, NULL, a, slot, count, dscale, dscale_count, value);
			}
		}
		nscales = (int32) pq_getmsgint(buf, 4);
		if (nscales < 0 || nscales > SERIES_MAX_DSCALE + 1)
			bad_state(NULL, input, "Too many cover scales.");
		for (int i = 0; i < nscales; i++)
		{
			int32		scale = (int32) pq_getmsgint(buf, 4);
			int32		n = (int32) pq_getmsgint(buf, 4);

			if (n < 0 || n > periods + 1)
				bad_state(NULL, input, "Too many cover entries.");
			for (int k = 0; k < n; k++)
			{
				int32		slot = (int32) pq_getmsgint(buf, 4);
				int64		delta = pq_getmsgint64(buf);

				input_cover(st, input, NULL, scale, slot, delta);
			}
		}
	}
	input_finish(st, input, NULL);
	PG_RETURN_DATUM(flatten_state(st));
}

/* ---------------------------------------------------------------------------
 * Combine
 * ---------------------------------------------------------------------------
 */

/* Add other's rows-on-the-books differences into st (st is MIXED). */
static void
merge_cover(SeriesState *st, const SeriesState *other)
{
	if (other->cover_scale == SERIES_COVER_NONE)
		return;
	if (st->cover_scale == SERIES_COVER_NONE && other->cover_scale != SERIES_COVER_MIXED)
	{
		/* st has no row on the books: other's scale is everybody's */
		st->cover_scale = other->cover_scale;
		return;
	}
	if (st->cover_scale == other->cover_scale && st->cover_scale != SERIES_COVER_MIXED)
		return;
	/* before st's sums take other's rows */
	make_mixed(st);
	if (other->cover_scale != SERIES_COVER_MIXED)
	{
		int64	   *d = cover_array(st, other->cover_scale);

		for (int j = 0; j <= st->periods; j++)
			d[j] += derived_delta(other, j);
	}
	else
		for (int i = 0; i < other->nscales; i++)
		{
			int64	   *d = cover_array(st, other->scales[i]);

			for (int j = 0; j <= st->periods; j++)
				d[j] += other->cover[i][j];
		}
}

/*
 * Combine two partial states (parallel workers, partitionwise aggregation,
 * Citus workers): NULL on either side is "no rows"; the result does not
 * depend on the order.  Both must be the same series (origin, step,
 * periods and boundaries).  Updates the first state in place when it is
 * ours (a read-write expanded object), else returns a new one.
 */
Datum
pipeline_backlog_series_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	SeriesState *st;
	SeriesState *other;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (!AggCheckCallContext(fcinfo, &aggcxt))
		aggcxt = CurrentMemoryContext;
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(series_state_datum(series_state_get_copy(fcinfo, 1, aggcxt)));
	other = series_state_get_ro(fcinfo, 1);
	if (!other->has_param)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	st = series_state_get_rw(fcinfo, 0);
	if (st == NULL)
		st = series_state_get_copy(fcinfo, 0, aggcxt);
	if (!st->has_param)
		PG_RETURN_DATUM(series_state_datum(series_state_get_copy(fcinfo, 1, aggcxt)));

	series_state_check_param(st, other->origin, &other->step, other->periods);
	if (st->bounds_hash != other->bounds_hash)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine pipeline.backlog_series states computed with different period boundaries"),
				 errdetail("origin %s + k * step %s gave other instants where one of the states was computed.",
						   instant_text(st->origin), step_text(&st->step)),
				 errhint("Use the same TimeZone setting in every session and on every node that computes the series.")));
	if (pg_add_s64_overflow(st->nrows, other->nrows, &st->nrows))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("too many rows in one group")));
	merge_cover(st, other);
	for (int a = 0; a < SA_COUNT; a++)
	{
		if (other->sums[a] == NULL)
			continue;
		if (st->sums[a] == NULL)
			series_state_add_inverted(st);
		for (int s = 0; s <= st->periods; s++)
		{
			Numeric		addend;

			if (other->sums[a][s].count == 0)
				continue;
			addend = exact_combine(&st->sums[a][s], &other->sums[a][s]);
			addend = exact_numeric_add(addend, series_state_spill(other, a, s));
			series_state_absorb(st, a, s, addend);
		}
	}
	PG_RETURN_DATUM(series_state_datum(st));
}
