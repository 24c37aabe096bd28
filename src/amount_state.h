/*
 * amount_state.h
 *		pipeline.amount_state: the transition state of every amount aggregate
 *		(win_rate with amounts, weighted_pipeline, backlog_ratio,
 *		backlog_amount, book_to_bill).
 *
 * A real SQL type (text and binary I/O, validated input, format version),
 * not `internal`, so that Citus can push partial aggregation down and ship
 * states between nodes as text.  It holds no OIDs: two exact sums, a row
 * count and the group's constant parameter (period or as_of instant).
 *
 * Memory: a varlena of fixed size while both sums fit the 128-bit fast
 * path; the exact numeric spill of a sum, when there is one, is appended
 * (MAXALIGNed) after the fixed part.  Transition functions update the fixed
 * part in place when called as an aggregate; adding to a spill builds a new
 * datum, which the executor copies into the aggregate context (rare).
 */
#ifndef PIPELINE_AMOUNT_STATE_H
#define PIPELINE_AMOUNT_STATE_H

#include "compat.h"

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "nodes/nodes.h"

#include "exact_sum.h"
#include "pipeline.h"

#define AMOUNT_STATE_VERSION 1

typedef enum AmountKind
{
	AMOUNT_KIND_BACKLOG_SUMS = 1,	/* backlog_ratio(backlog, sales): a/b */
	AMOUNT_KIND_BACKLOG_AMOUNT = 2, /* backlog_amount(..., as_of): a */
	AMOUNT_KIND_BACKLOG_RATIO = 3,	/* backlog_ratio(..., period): a/b */
	AMOUNT_KIND_BOOK_TO_BILL = 4,	/* book_to_bill(..., period): a/b */
	AMOUNT_KIND_WIN_RATE = 5,		/* win_rate(stage, amount): a/(a+b) */
	AMOUNT_KIND_WEIGHTED = 6		/* weighted_pipeline(stage, amount): a */
} AmountKind;

#define AMOUNT_KIND_MAX 6

/* flags */
#define AS_HAS_PARAM	0x0001		/* lower/upper hold the group's parameter */
#define AS_LOWER_INF	0x0002		/* period lower bound unbounded */
#define AS_EMPTY		0x0004		/* the period is empty */
#define AS_FLAGS_ALL	0x0007

typedef struct AmountState
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* AMOUNT_STATE_VERSION */
	uint8		kind;			/* AmountKind */
	uint16		flags;
	int32		spill_off[2];	/* offset of sums[i]'s spill Numeric, 0 = none */
	int32		pad;
	int64		nrows;			/* rows not skipped (no NULL argument) */
	TimestampTz lower;			/* period lower bound (AS_HAS_PARAM, !AS_LOWER_INF) */
	TimestampTz upper;			/* period upper bound, or as_of */
	ExactSum	sums[2];
} AmountState;

/* The state to update: arg argno, a fresh one, or a copy outside an aggregate. */
extern AmountState *amount_state_for_update_slow(FunctionCallInfo fcinfo, int argno, AmountKind kind);

/*
 * Per row: when called as an aggregate or window aggregate with a state of
 * ours, update it in place.
 */
static inline AmountState *
amount_state_for_update(FunctionCallInfo fcinfo, int argno, AmountKind kind)
{
	if (likely(!PG_ARGISNULL(argno) && pipeline_called_as_aggregate(fcinfo)))
	{
		AmountState *st = (AmountState *) PG_GETARG_POINTER(argno);

		if (likely(st->kind == kind && st->version == AMOUNT_STATE_VERSION &&
				   !VARATT_IS_EXTENDED(st)))
			return st;
	}
	return amount_state_for_update_slow(fcinfo, argno, kind);
}

/* Read-only access to a state argument (validated). */
extern AmountState *amount_state_get_arg(FunctionCallInfo fcinfo, int argno);

/* The spill of sums[i], or NULL. */
extern Numeric amount_state_spill(const AmountState *st, int i);

/* Add addend (may be NULL) to the spill of sums[i]; may return a new datum. */
extern AmountState *amount_state_absorb(AmountState *st, int i, Numeric addend);

/* Drop the spill of every empty sum (after an inverse transition). */
extern AmountState *amount_state_drop_empty_spills(AmountState *st);

/* Back to the state of no rows (inverse transition removed the last row). */
extern AmountState *amount_state_reset(AmountState *st);

/* Set the group's parameter, or check it equals the one already set (22023). */
extern void amount_state_set_param_slow(AmountState *st, uint16 flags, TimestampTz lower,
										TimestampTz upper);

/* Per row: the parameter is nearly always the one already set. */
static inline void
amount_state_set_param(AmountState *st, uint16 flags, TimestampTz lower, TimestampTz upper)
{
	if (likely(st->flags == (flags | AS_HAS_PARAM) && st->upper == upper &&
			   st->lower == lower))
		return;
	amount_state_set_param_slow(st, flags, lower, upper);
}

/* sums[i] as an exact Numeric (0 when nothing was absorbed). */
extern Numeric amount_state_sum(const AmountState *st, int i);

/* Count one more row (22003 past PG_INT64_MAX, which only a typed state reaches). */
static inline void
amount_state_add_row(AmountState *st)
{
	if (unlikely(st->nrows == PG_INT64_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("too many rows in one group")));
	st->nrows++;
}

#endif							/* PIPELINE_AMOUNT_STATE_H */
