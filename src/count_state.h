/*
 * count_state.h
 *		pipeline.count_state: the transition state of the counting aggregates
 *		(conversion_rate, win_rate, funnel, furthest_stage).
 *
 * A real SQL type (not internal) so that Citus can push partial aggregation
 * down to its workers and ship states back as text.  A state holds counts,
 * the number of labels of its stage type and the type's schema-qualified
 * name -- never an OID, since OIDs differ between nodes.
 *
 * Text form:	v1:<kind>:<nstages>:<count>,<count>,...:<qualified type name>
 * e.g.			v1:win_rate:9:3,7:pipeline.stage
 * The type name comes last so that it may contain any character; it is
 * empty for conversion_rate(boolean), which has no stage type.
 *
 * A stage state may also be "untyped" (nstages 0, empty name, all counts
 * zero, no counts at all for stage_counts): the state of a group that has
 * only seen rows with a NULL argument, e.g. v1:stage_counts:0:: -- moving
 * aggregates must return a state for every row.  It combines as an empty
 * state with a state of any stage type.
 */
#ifndef PIPELINE_COUNT_STATE_H
#define PIPELINE_COUNT_STATE_H

#include "compat.h"

#include "fmgr.h"

#include "pipeline.h"

#define COUNT_STATE_VERSION		1

/* Upper bound on a type name's length (labels: PIPELINE_MAX_STAGES). */
#define COUNT_STATE_MAX_NAME	1024

typedef enum CountStateKind
{
	/* conversion_rate(boolean): [TRUE rows, rows] */
	COUNT_KIND_CONVERSION = 1,
	/* conversion_rate(reached, target): [rows that reached target, rows] */
	COUNT_KIND_REACHED = 2,
	/* conversion_rate(reached, from, to): [reached both, reached from] */
	COUNT_KIND_STEP = 3,
	/* win_rate(stage): [won rows, won + lost rows] */
	COUNT_KIND_WIN = 4,
	/* funnel, furthest_stage: rows at each stage, in stage order */
	COUNT_KIND_STAGES = 5
} CountStateKind;

#define COUNT_KIND_FIRST	COUNT_KIND_CONVERSION
#define COUNT_KIND_LAST		COUNT_KIND_STAGES

/* Ratio kinds keep [numerator, denominator]. */
#define COUNT_KIND_IS_RATIO(k)	((k) >= COUNT_KIND_CONVERSION && (k) <= COUNT_KIND_WIN)

typedef struct CountState
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* COUNT_STATE_VERSION */
	uint8		kind;			/* CountStateKind */
	uint16		name_len;		/* bytes of the type name, without its NUL */
	int32		nstages;		/* labels of the stage type; 0 for boolean */
	int32		ncounts;		/* 2 for ratio kinds, nstages for STAGES */
	int64		counts[FLEXIBLE_ARRAY_MEMBER];
	/* followed by the type name: name_len bytes and a NUL */
} CountState;

#define COUNT_STATE_SIZE(ncounts, name_len) \
	(offsetof(CountState, counts) + sizeof(int64) * (ncounts) + (name_len) + 1)
#define COUNT_STATE_NAME(s)		((char *) &(s)->counts[(s)->ncounts])
#define COUNT_STATE_UNTYPED(s)	((s)->kind != COUNT_KIND_CONVERSION && (s)->nstages == 0)

#define DatumGetCountState(d)	((CountState *) PG_DETOAST_DATUM(d))
#define PG_GETARG_COUNT_STATE(n) DatumGetCountState(PG_GETARG_DATUM(n))

extern CountState *count_state_make(CountStateKind kind, int nstages,
									const char *name, int name_len);
extern const char *count_kind_name(int kind);
extern void count_state_check_compatible(const CountState *a, const CountState *b);
extern void count_state_check_kind(const CountState *s, bool stages);

#endif							/* PIPELINE_COUNT_STATE_H */
