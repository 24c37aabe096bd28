/*
 * series_state.h
 *		pipeline.backlog_series_state: the transition state of
 *		pipeline.backlog_series, a backlog time series computed in one pass.
 *
 * The series has periods [b(k), b(k + 1)), k = 0 .. periods - 1, with
 * b(k) = origin + k * step.  Every instant t falls in a "slot": slot 0
 * before b(0), slot k + 1 in period k, slot periods + 1 at or after
 * b(periods).  Per slot the state keeps exact sums (ExactSum, exact_sum.h):
 *
 *		booked            every row, at the slot of its booked_at
 *		fulfilled         every fulfilled row, at the slot of its fulfilled_at
 *		inv_booked        rows fulfilled in an earlier slot than booked ("inverted"),
 *		inv_fulfilled     at the slot of booked_at and of fulfilled_at
 *
 * (slot periods + 1 is not kept: nothing after the series is reported).
 * An order is on the books at the boundary b(j) when booked_at < b(j) <=
 * fulfilled_at, i.e. slot(booked_at) <= j < slot(fulfilled_at) (NULL
 * fulfilled_at counting as slot periods + 1), so with running sums over
 * slots 0 .. j
 *
 *		backlog(b(j)) = booked - fulfilled + inv_fulfilled - inv_booked
 *
 * exactly: a row booked and fulfilled in the same slot cancels, and an
 * inverted row's wrong contribution is taken back by the inverted pair.
 * The same identity over the sums' row counts gives the number of rows on
 * the books at each boundary.  The backlog's scale is the largest scale
 * among those rows (what backlog_amount gives); while every row on the
 * books at some boundary has the same scale ("uniform"), that scale is
 * all the state keeps; once two scales occur, it keeps per scale a
 * difference array of the rows on the books (cover[scale][j]: +1 at the
 * slot of booked_at, -1 at the slot of fulfilled_at).
 *
 * In memory the state is an expanded object (utils/expandeddatum.h), so
 * that the transition function updates it in place and a spill (a value
 * beyond the 128-bit fast path) costs one numeric addition, not a copy of
 * the state.  Flattened (for a tuple, a parallel worker, a table) it is a
 * varlena holding no pointers and no OIDs; its text form is what Citus
 * ships between nodes.  The boundaries depend on the session's TimeZone
 * when step has days or months: the state carries a hash of the
 * boundaries it was computed with, and refuses to be combined or finished
 * with other ones.
 */
#ifndef PIPELINE_SERIES_STATE_H
#define PIPELINE_SERIES_STATE_H

#include "compat.h"

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "pgtime.h"
#include "utils/expandeddatum.h"

#include "exact_sum.h"

#define SERIES_STATE_VERSION 1
#define SERIES_MAX_PERIODS 100000

/* The per-slot sum arrays. */
typedef enum SeriesArray
{
	SA_BOOKED = 0,
	SA_FULFILLED = 1,
	SA_INV_BOOKED = 2,
	SA_INV_FULFILLED = 3
} SeriesArray;

#define SA_COUNT 4

/* cover_scale: no row on the books at any boundary yet, or several scales */
#define SERIES_COVER_NONE	(-1)
#define SERIES_COVER_MIXED	(-2)

/*
 * The boundaries of a series, computed in this session: periods + 1
 * instants, strictly increasing; uniform_len > 0 when they are evenly
 * spaced (then slot lookup is a division).
 */
typedef struct SeriesBounds
{
	bool		valid;
	TimestampTz origin;
	Interval	step;
	int32		periods;
	pg_tz	   *zone;			/* session_timezone they were computed in */
	TimestampTz *bounds;
	uint64		hash;
	uint64		uniform_len;
} SeriesBounds;

typedef struct SeriesState
{
	ExpandedObjectHeader hdr;

	bool		has_param;		/* origin, step, periods set (nrows > 0) */
	int32		periods;
	TimestampTz origin;
	Interval	step;
	uint64		bounds_hash;
	int64		nrows;			/* rows not skipped */

	/* boundaries in this session (NULL until needed), see SeriesBounds */
	TimestampTz *bounds;
	uint64		uniform_len;

	/* periods + 1 slots each; the inverted pair stays NULL until needed */
	ExactSum   *sums[SA_COUNT];
	Numeric    *spills[SA_COUNT];	/* NULL, or periods + 1 spills (NULL = none) */
	int32		nspills;

	int32		cover_scale;	/* SERIES_COVER_NONE, a scale, or SERIES_COVER_MIXED */
	int32		nscales;		/* MIXED: number of cover arrays */
	int32		maxscales;
	int32		last_scale;		/* index of the last cover array used */
	int32	   *scales;
	int64	  **cover;			/* periods + 1 differences each */
} SeriesState;

/* The slot of instant t: 0 before the series, k + 1 in period k, periods + 1 after. */
static inline int
series_slot(const SeriesState *st, TimestampTz t)
{
	const TimestampTz *b = st->bounds;
	int			n = st->periods;
	int			lo,
				hi;

	if (t < b[0])
		return 0;
	if (t >= b[n])
		return n + 1;
	if (st->uniform_len != 0)
		return (int) (((uint64) t - (uint64) b[0]) / st->uniform_len) + 1;
	/* b[lo] <= t < b[hi] */
	lo = 0;
	hi = n;
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) >> 1;

		if (b[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return lo + 1;
}

/* Compute (or reuse) the boundaries of (origin, step, periods); 22023 for bad arguments. */
extern void series_bounds_lookup(SeriesBounds *cache, MemoryContext mcxt, TimestampTz origin,
								 const Interval *step, int32 periods);

/* A fresh state of no rows, as an expanded object under parent. */
extern SeriesState *series_state_new(MemoryContext parent);

/* Set the parameters of a state of no rows and allocate its buckets. */
extern void series_state_set_param(SeriesState *st, const SeriesBounds *b);

/* 22023 unless b are the boundaries the state was computed with. */
extern void series_state_check_bounds(const SeriesState *st, const SeriesBounds *b);

/* Give a state (made elsewhere) this session's boundaries; 22023 if they differ. */
extern void series_state_attach_bounds(SeriesState *st, const SeriesBounds *b);

/* 22023 unless the parameters equal the state's. */
extern void series_state_check_param(const SeriesState *st, TimestampTz origin,
									 const Interval *step, int32 periods);

/* The state of argument argno, read-only (an expanded object or a flat datum). */
extern SeriesState *series_state_get_ro(FunctionCallInfo fcinfo, int argno);

/* A modifiable copy of argument argno, as an expanded object under parent. */
extern SeriesState *series_state_get_copy(FunctionCallInfo fcinfo, int argno, MemoryContext parent);

/* Is argument argno an expanded state we may modify in place? */
extern SeriesState *series_state_get_rw(FunctionCallInfo fcinfo, int argno);

/* Add a spill addend (may be NULL) to sums[a][slot]. */
extern void series_state_absorb(SeriesState *st, int a, int slot, Numeric addend);

/* Allocate the inverted pair of arrays. */
extern void series_state_add_inverted(SeriesState *st);

/* Record a row on the books at boundaries [from, to) with this scale. */
extern void series_state_cover_slow(SeriesState *st, int32 scale, int from, int to);

/* rows on the books at each boundary, from the sums' counts (n + 1 values) */
extern void series_state_derived_cover(const SeriesState *st, int64 *out);

/* The spill of sums[a][slot], or NULL. */
static inline Numeric
series_state_spill(const SeriesState *st, int a, int slot)
{
	return st->spills[a] ? st->spills[a][slot] : NULL;
}

/* Count one more row. */
static inline void
series_state_add_row(SeriesState *st)
{
	if (unlikely(st->nrows == PG_INT64_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("too many rows in one group")));
	st->nrows++;
}

/*
 * A row on the books at the boundaries from .. to - 1: only the scale
 * matters while it is the one every such row has.
 */
static inline void
series_state_cover(SeriesState *st, int32 scale, int from, int to)
{
	if (likely(st->cover_scale == scale))
		return;
	series_state_cover_slow(st, scale, from, to);
}

/* The datum of a state (read-write expanded object). */
static inline Datum
series_state_datum(SeriesState *st)
{
	return EOHPGetRWDatum(&st->hdr);
}

#endif							/* PIPELINE_SERIES_STATE_H */
