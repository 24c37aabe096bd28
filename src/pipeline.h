/*
 * pipeline.h
 *		Module-wide settings of the pipeline extension.
 */
#ifndef PIPELINE_H
#define PIPELINE_H

#include "compat.h"

#include "fmgr.h"
#include "nodes/nodes.h"

/*
 * Most labels a stage type may have: define_stages refuses more, and so does
 * ALTER TYPE ... ADD VALUE on a registered type (pipeline._check_stage_limit);
 * pipeline.count_state refuses a state of more, and the aggregates a type
 * that got past it anyway.  An aggregate's per-call-site map holds a labels
 * x labels "reached" table, and the cache a (labels + 1) x labels table per
 * ruleset: 1,000 labels cost a few MB per backend; 6,000 cost 105 MB.
 */
#define PIPELINE_MAX_STAGES		1000

/* pipeline.enforce_transitions (superuser-only; default on). */
extern bool pipeline_enforce_transitions;

/*
 * Whether a function was called by an aggregate or window aggregate node,
 * which owns the transition state, so that it may be updated in place: the
 * test AggCheckCallContext makes, inline for the per-row paths.
 */
static inline bool
pipeline_called_as_aggregate(FunctionCallInfo fcinfo)
{
	return fcinfo->context != NULL &&
		(IsA(fcinfo->context, AggState) || IsA(fcinfo->context, WindowAggState));
}

/*
 * Refuse a state format version this build does not read: false after a
 * soft error into escontext (PG 16+), else an error with SQLSTATE sqlstate.
 * type_name is the SQL type ("pipeline.count_state"); the same message,
 * DETAIL and HINT for every state type.
 */
extern bool pipeline_check_state_version(const char *type_name, int64 version,
										 int expected, int sqlstate, Node *escontext);

#endif							/* PIPELINE_H */
