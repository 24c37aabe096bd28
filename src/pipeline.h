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
 * Most labels a stage type may have for the aggregates: a per-row map holds
 * a labels x labels "reached" matrix, and pipeline.count_state refuses a
 * state of more.
 */
#define PIPELINE_MAX_STAGES		32767

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

#endif							/* PIPELINE_H */
