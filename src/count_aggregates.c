/*
 * count_aggregates.c
 *		The counting aggregates: conversion_rate (three forms), win_rate,
 *		funnel and furthest_stage -- transition, inverse transition (for
 *		moving windows), combine and final functions over
 *		pipeline.count_state.
 *
 * The per-row path does no catalog access, no hashing and no allocation:
 * each call site keeps the StageMap of its stage type (label OID -> stage
 * index, the kind of each stage and the "reached" matrix; stage_meta.h),
 * loaded when the first row arrives.  Under an aggregate the state is
 * updated in place.
 *
 * Transition functions are declared anyenum but never look at the call
 * expression (Citus calls them without one): the stage type comes from the
 * enum value's label OID.  Final functions that need the stage type read it
 * by name from the state.
 */
#include "compat.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "utils/array.h"

#include "count_state.h"
#include "pipeline.h"
#include "stage_meta.h"

PG_FUNCTION_INFO_V1(pipeline_conversion_trans);
PG_FUNCTION_INFO_V1(pipeline_conversion_inv);
PG_FUNCTION_INFO_V1(pipeline_conversion_reached_trans);
PG_FUNCTION_INFO_V1(pipeline_conversion_reached_inv);
PG_FUNCTION_INFO_V1(pipeline_conversion_step_trans);
PG_FUNCTION_INFO_V1(pipeline_conversion_step_inv);
PG_FUNCTION_INFO_V1(pipeline_win_rate_trans);
PG_FUNCTION_INFO_V1(pipeline_win_rate_inv);
PG_FUNCTION_INFO_V1(pipeline_stage_counts_trans);
PG_FUNCTION_INFO_V1(pipeline_stage_counts_inv);
PG_FUNCTION_INFO_V1(pipeline_count_combine);
PG_FUNCTION_INFO_V1(pipeline_count_ratio_final);
PG_FUNCTION_INFO_V1(pipeline_funnel_final);
PG_FUNCTION_INFO_V1(pipeline_furthest_stage_value);
PG_FUNCTION_INFO_V1(pipeline_furthest_step);

/*
 * Per-call-site cache (fn_extra): the stage map of the call site's type
 * (label -> stage index, kinds, "reached"; see StageMap) and, for
 * conversion_rate(reached, target) and (reached, from, to), what a row at
 * each stage adds for the constant arguments last seen, so that a row costs
 * one lookup: bit 0 counts it in the denominator, bit 1 in the numerator.
 * The outcome table is valid while outcome_loads == map.loads.
 */
typedef struct CountCallCache
{
	StageMap	map;			/* first: stage_map_get allocates the whole */
	uint8	   *outcome;		/* nstages entries, in map.cxt */
	int			outcome_len;	/* allocated entries */
	Oid			outcome_args[2];	/* target, or from and to */
	uint64		outcome_loads;
} CountCallCache;

#define COUNT_OUTCOME_DENOMINATOR	1
#define COUNT_OUTCOME_NUMERATOR		2

/* A quoted schema-qualified name always fits in a state. */
StaticAssertDecl(2 * (2 * NAMEDATALEN + 2) + 1 <= COUNT_STATE_MAX_NAME,
				 "COUNT_STATE_MAX_NAME must hold any quoted qualified type name");

/* The call site's cache, created on its first call. */
static pg_attribute_always_inline CountCallCache *
count_call_cache(FunctionCallInfo fcinfo)
{
	return (CountCallCache *) stage_map_get(fcinfo, sizeof(CountCallCache));
}

/*
 * The state to update for this row.  A NULL state starts a new one (in the
 * per-row context: the executor copies the returned state into the
 * aggregate context).  Under an aggregate, a state that this transition
 * function created is updated in place; the only checks are two integer
 * compares.  Otherwise (a direct call, or a state that is not plain) work on
 * a validated copy, since an input must never be modified.  c is NULL for
 * conversion_rate(boolean), which has no stage type.
 */
static pg_attribute_always_inline CountState *
count_state_for_update(FunctionCallInfo fcinfo, CountCallCache *c, CountStateKind kind)
{
	CountState *s;
	const StageMap *m = c ? &c->map : NULL;
	int			nstages = (kind == COUNT_KIND_CONVERSION) ? 0 : m->nstages;

	if (unlikely(PG_ARGISNULL(0)))
	{
		if (kind == COUNT_KIND_CONVERSION)
			return count_state_make(kind, 0, "", 0);
		return count_state_make(kind, nstages, m->name, m->name_len);
	}

	s = (CountState *) PG_GETARG_POINTER(0);
	if (likely(pipeline_called_as_aggregate(fcinfo) &&
			   !VARATT_IS_EXTENDED(s) &&
			   s->kind == kind && s->nstages == nstages))
		return s;

	s = (CountState *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	if (s->kind == kind && COUNT_STATE_UNTYPED(s))
		return count_state_make(kind, nstages, m->name, m->name_len);
	if (s->kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline.count_state of kind \"%s\" cannot be used here",
						count_kind_name(s->kind)),
				 errdetail("This transition function expects a state of kind \"%s\".",
						   count_kind_name(kind))));
	if (kind != COUNT_KIND_CONVERSION &&
		(s->nstages != nstages || s->name_len != m->name_len ||
		 memcmp(COUNT_STATE_NAME(s), m->name, m->name_len) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pipeline.count_state for stage type %s (%d labels) cannot take a value of %s (%d labels)",
						COUNT_STATE_NAME(s), s->nstages, m->name, m->nstages)));
	return s;
}

/*
 * A row with a NULL argument leaves the state as it is.  A group's first
 * such row gets an untyped empty state rather than NULL: a moving
 * aggregate's transition function must never return NULL, and the stage
 * type is not known before a row has a stage.
 */
static pg_noinline Datum
count_skip_row(FunctionCallInfo fcinfo, CountStateKind kind)
{
	if (!PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	PG_RETURN_POINTER(count_state_make(kind, 0, "", 0));
}

/*
 * Error for an inverse transition that would make a count negative: the
 * row being removed was never added.  Only a hand-written call can do it.
 */
static pg_noinline void
count_inverse_underflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot remove a row that the pipeline.count_state does not contain")));
}

/*
 * Error for a count that left the range 0..PG_INT64_MAX: an inverse
 * transition removing a row that was never added, or a row added to a
 * count already at its maximum (only a hand-written state can be there).
 */
static pg_noinline void
count_out_of_range(int64 delta)
{
	if (delta < 0)
		count_inverse_underflow();
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("pipeline aggregate row count out of range")));
}

/*
 * Add a row (delta 1) to, or remove it (delta -1) from, a ratio state's
 * [numerator, denominator] pair, keeping both in 0..PG_INT64_MAX and the
 * numerator no larger than the denominator.
 */
static pg_attribute_always_inline void
count_add_ratio(CountState *s, int64 delta, bool hit, bool counted)
{
	if (unlikely(pg_add_s64_overflow(s->counts[0], delta * hit, &s->counts[0]) ||
				 pg_add_s64_overflow(s->counts[1], delta * counted, &s->counts[1]) ||
				 (s->counts[0] | s->counts[1]) < 0 ||
				 (delta < 0 && s->counts[0] > s->counts[1])))
		count_out_of_range(delta);
}

/*
 * conversion_rate(converted boolean): [TRUE rows, rows].
 */
static pg_attribute_always_inline Datum
conversion_step(FunctionCallInfo fcinfo, int64 delta)
{
	CountState *s;
	int64		converted;

	if (PG_ARGISNULL(1))
		return count_skip_row(fcinfo, COUNT_KIND_CONVERSION);
	converted = PG_GETARG_BOOL(1) ? 1 : 0;
	s = count_state_for_update(fcinfo, NULL, COUNT_KIND_CONVERSION);
	count_add_ratio(s, delta, converted, true);
	PG_RETURN_POINTER(s);
}

/* Transition function of conversion_rate(boolean). */
Datum
pipeline_conversion_trans(PG_FUNCTION_ARGS)
{
	return conversion_step(fcinfo, 1);
}

/* Inverse transition function of conversion_rate(boolean). */
Datum
pipeline_conversion_inv(PG_FUNCTION_ARGS)
{
	return conversion_step(fcinfo, -1);
}

/*
 * Slow path of count_outcome: (re)build the call site's per-stage outcome
 * table for the constant arguments of conversion_rate(reached, target)
 * (nargs 1) or (reached, from, to) (nargs 2), after checking that every
 * label is of one type.  Runs on the first row, when the arguments change,
 * and when the tables were reloaded.  Returns the stage index of value.
 */
static pg_noinline int
count_outcome_build(FunctionCallInfo fcinfo, CountCallCache *c,
					Oid value, int nargs, Oid arg1, Oid arg2)
{
	Oid			labels[3] = {value, arg1, arg2};
	int			index[3];
	uint64		loads = c->map.loads;
	int			n;

	for (int i = 0; i <= nargs; i++)
		index[i] = stage_map_index(&c->map, labels[i]);
	if (c->map.loads != loads)
	{
		/* a lookup reloaded the tables: the labels must share one type */
		stage_map_check_same_type(&c->map, nargs + 1, labels);
		for (int i = 0; i <= nargs; i++)
			index[i] = stage_map_index(&c->map, labels[i]);
	}

	n = c->map.nstages;
	if (c->outcome_len < n)
	{
		if (c->outcome != NULL)
			pfree(c->outcome);
		c->outcome = MemoryContextAlloc(c->map.cxt, n);
		c->outcome_len = n;
	}
	for (int at = 0; at < n; at++)
	{
		const bool *reach = &c->map.reach[at * n];

		if (nargs == 1)
			c->outcome[at] = COUNT_OUTCOME_DENOMINATOR |
				(reach[index[1]] ? COUNT_OUTCOME_NUMERATOR : 0);
		else if (reach[index[1]])
			c->outcome[at] = COUNT_OUTCOME_DENOMINATOR |
				(reach[index[2]] ? COUNT_OUTCOME_NUMERATOR : 0);
		else
			c->outcome[at] = 0;
	}
	c->outcome_args[0] = arg1;
	c->outcome_args[1] = arg2;
	c->outcome_loads = c->map.loads;
	return index[0];
}

/*
 * What a row at stage value adds to a conversion_rate state, given the
 * constant arguments: a map lookup, two compares and a byte read on the
 * common path, with no data-dependent branch.
 */
static pg_attribute_always_inline int
count_outcome(FunctionCallInfo fcinfo, CountCallCache *c,
			  Oid value, int nargs, Oid arg1, Oid arg2)
{
	int			at = stage_map_index(&c->map, value);

	if (unlikely(arg1 != c->outcome_args[0] || arg2 != c->outcome_args[1] ||
				 c->outcome_loads != c->map.loads))
		at = count_outcome_build(fcinfo, c, value, nargs, arg1, arg2);
	return c->outcome[at];
}

/*
 * conversion_rate(reached, target) (nargs 1): [rows whose stage reached
 * target, rows]; conversion_rate(reached, from_stage, to_stage) (nargs 2):
 * [rows that reached both, rows that reached from_stage].  A NULL in any
 * argument skips the row.
 */
static pg_attribute_always_inline Datum
conversion_reached_step(FunctionCallInfo fcinfo, int64 delta, int nargs)
{
	CountStateKind kind = nargs == 1 ? COUNT_KIND_REACHED : COUNT_KIND_STEP;
	CountCallCache *c;
	CountState *s;
	int			outcome;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || (nargs == 2 && PG_ARGISNULL(3)))
		return count_skip_row(fcinfo, kind);
	c = count_call_cache(fcinfo);
	outcome = count_outcome(fcinfo, c, PG_GETARG_OID(1), nargs,
							PG_GETARG_OID(2), nargs == 2 ? PG_GETARG_OID(3) : InvalidOid);
	s = count_state_for_update(fcinfo, c, kind);
	count_add_ratio(s, delta, (outcome & COUNT_OUTCOME_NUMERATOR) != 0,
					(outcome & COUNT_OUTCOME_DENOMINATOR) != 0);
	PG_RETURN_POINTER(s);
}

/* Transition function of conversion_rate(reached, target). */
Datum
pipeline_conversion_reached_trans(PG_FUNCTION_ARGS)
{
	return conversion_reached_step(fcinfo, 1, 1);
}

/* Inverse transition function of conversion_rate(reached, target). */
Datum
pipeline_conversion_reached_inv(PG_FUNCTION_ARGS)
{
	return conversion_reached_step(fcinfo, -1, 1);
}

/* Transition function of conversion_rate(reached, from_stage, to_stage). */
Datum
pipeline_conversion_step_trans(PG_FUNCTION_ARGS)
{
	return conversion_reached_step(fcinfo, 1, 2);
}

/* Inverse transition function of conversion_rate(reached, from_stage, to_stage). */
Datum
pipeline_conversion_step_inv(PG_FUNCTION_ARGS)
{
	return conversion_reached_step(fcinfo, -1, 2);
}

/*
 * win_rate(stage): [won rows, won + lost rows]; open rows are counted in
 * neither.
 */
static pg_attribute_always_inline Datum
win_rate_step(FunctionCallInfo fcinfo, int64 delta)
{
	CountCallCache *c;
	CountState *s;
	int			index;
	int			kind;

	if (PG_ARGISNULL(1))
		return count_skip_row(fcinfo, COUNT_KIND_WIN);
	c = count_call_cache(fcinfo);
	/* look up first: the lookup may (re)load c->kind */
	index = stage_map_index(&c->map, PG_GETARG_OID(1));
	kind = c->map.kind[index];
	s = count_state_for_update(fcinfo, c, COUNT_KIND_WIN);
	count_add_ratio(s, delta, kind == STAGE_KIND_WON, kind != STAGE_KIND_OPEN);
	PG_RETURN_POINTER(s);
}

/* Transition function of win_rate(stage). */
Datum
pipeline_win_rate_trans(PG_FUNCTION_ARGS)
{
	return win_rate_step(fcinfo, 1);
}

/* Inverse transition function of win_rate(stage). */
Datum
pipeline_win_rate_inv(PG_FUNCTION_ARGS)
{
	return win_rate_step(fcinfo, -1);
}

/*
 * funnel and furthest_stage: rows per stage.  Both finals derive their
 * answer from this histogram, which also makes furthest_stage invertible.
 */
static pg_attribute_always_inline Datum
stage_counts_step(FunctionCallInfo fcinfo, int64 delta)
{
	CountCallCache *c;
	CountState *s;
	int			index;

	if (PG_ARGISNULL(1))
		return count_skip_row(fcinfo, COUNT_KIND_STAGES);
	c = count_call_cache(fcinfo);
	index = stage_map_index(&c->map, PG_GETARG_OID(1));
	s = count_state_for_update(fcinfo, c, COUNT_KIND_STAGES);
	s->counts[index] += delta;
	if (unlikely(s->counts[index] < 0))
		count_out_of_range(delta);
	PG_RETURN_POINTER(s);
}

/* Transition function of funnel(reached) and furthest_stage(stage). */
Datum
pipeline_stage_counts_trans(PG_FUNCTION_ARGS)
{
	return stage_counts_step(fcinfo, 1);
}

/* Inverse transition function of funnel(reached) and furthest_stage(stage). */
Datum
pipeline_stage_counts_inv(PG_FUNCTION_ARGS)
{
	return stage_counts_step(fcinfo, -1);
}

/*
 * Combine function of every counting aggregate: adds the counts of two
 * states of the same kind and stage type.  A NULL or untyped state on
 * either side is the other one; addition makes it order-independent.  Under an aggregate
 * the first state belongs to the executor's aggregate context and is
 * updated in place.
 */
Datum
pipeline_count_combine(PG_FUNCTION_ARGS)
{
	CountState *a;
	CountState *b;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	b = PG_GETARG_COUNT_STATE(1);
	if (PG_ARGISNULL(0))
		PG_RETURN_POINTER(b);

	if (AggCheckCallContext(fcinfo, NULL))
		a = PG_GETARG_COUNT_STATE(0);
	else
		a = (CountState *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	if (a->kind == b->kind && COUNT_STATE_UNTYPED(b))
		PG_RETURN_POINTER(a);
	if (a->kind == b->kind && COUNT_STATE_UNTYPED(a))
		PG_RETURN_POINTER(b);
	count_state_check_compatible(a, b);
	for (int i = 0; i < a->ncounts; i++)
	{
		if (pg_add_s64_overflow(a->counts[i], b->counts[i], &a->counts[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("pipeline aggregate row count out of range")));
	}
	PG_RETURN_POINTER(a);
}

/*
 * Final function of conversion_rate (all forms) and win_rate(stage):
 * numerator / denominator as float8, NULL when the denominator is zero
 * (which covers an empty group and one whose rows were all skipped).
 */
Datum
pipeline_count_ratio_final(PG_FUNCTION_ARGS)
{
	CountState *s;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = PG_GETARG_COUNT_STATE(0);
	count_state_check_kind(s, false);
	if (s->counts[1] == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8((float8) s->counts[0] / (float8) s->counts[1]);
}

/*
 * The registered stage type a per-stage state was computed over, checked to
 * still have the state's number of labels.
 */
static const StageType *
count_state_stage_type(const CountState *s)
{
	const StageType *type = stage_type_get_by_name(COUNT_STATE_NAME(s), false);

	if (type->nstages != s->nstages)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stage type %s has %d labels, but the aggregate state was computed with %d",
						type->qualified_name, type->nstages, s->nstages),
				 errdetail("Labels were added to the type while the aggregate ran, or the type differs between nodes."),
				 errhint("Define the same enum labels, in the same order, on every node.")));
	return type;
}

/* True when a per-stage state counts no row at all. */
static bool
count_state_is_empty(const CountState *s)
{
	for (int i = 0; i < s->ncounts; i++)
		if (s->counts[i] != 0)
			return false;
	return true;
}

/*
 * Final function of funnel(reached): for each open and won stage in stage
 * order, the rows that reached it.  NULL for a group without rows.
 */
Datum
pipeline_funnel_final(PG_FUNCTION_ARGS)
{
	CountState *s;
	const StageType *type;
	Datum	   *elems;
	int			nelems = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = PG_GETARG_COUNT_STATE(0);
	count_state_check_kind(s, true);
	if (count_state_is_empty(s))
		PG_RETURN_NULL();
	type = count_state_stage_type(s);

	elems = palloc(sizeof(Datum) * type->nstages);
	for (int target = 0; target < type->nstages; target++)
	{
		int64		reached = 0;

		if (type->stages[target].kind == STAGE_KIND_LOST)
			continue;
		for (int at = 0; at < type->nstages; at++)
			if (s->counts[at] != 0 && stage_reached(type, at, target))
				reached += s->counts[at];
		elems[nelems++] = Int64GetDatum(reached);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, nelems, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Core of furthest_stage's final function (called by a per-type LANGUAGE
 * sql wrapper, which gives it its concrete result type): the furthest stage
 * in enum order that some row is at, ignoring lost stages; NULL when every
 * row is lost or there are none.  Non-strict: Citus passes NULL for the
 * second argument, which only serves to type the result.
 */
Datum
pipeline_furthest_stage_value(PG_FUNCTION_ARGS)
{
	CountState *s;
	const StageType *type;
	Oid			rettype;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = PG_GETARG_COUNT_STATE(0);
	count_state_check_kind(s, true);
	if (count_state_is_empty(s))
		PG_RETURN_NULL();
	type = count_state_stage_type(s);

	/* the wrapper always has a call expression; be defensive all the same */
	rettype = get_fn_expr_rettype(fcinfo->flinfo);
	if (OidIsValid(rettype) && rettype != type->type_oid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pipeline.count_state for stage type %s cannot give a value of another type",
						type->qualified_name)));

	for (int i = type->nstages - 1; i >= 0; i--)
	{
		if (s->counts[i] != 0 && type->stages[i].kind != STAGE_KIND_LOST)
			PG_RETURN_OID(type->stages[i].enum_oid);
	}
	PG_RETURN_NULL();
}

/*
 * pipeline._furthest_step(state anyenum, stage anyenum) -> anyenum: the
 * transition and combine function of furthest_stage, whose state is the
 * furthest non-lost stage seen so far, a value of the enum itself -- so
 * there is no final function to call per group, and a state ships between
 * nodes as its label.  A lost stage, or NULL, leaves the state as it is.
 */
Datum
pipeline_furthest_step(PG_FUNCTION_ARGS)
{
	StageCallCache *cc;
	StageType  *type;
	int			state_idx;
	int			idx;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_OID(PG_GETARG_OID(0));
	}
	cc = stage_call_cache_get(fcinfo);
	type = stage_call_lookup_value(cc, PG_GETARG_OID(1), &idx);
	if (type->stages[idx].kind == STAGE_KIND_LOST)
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_OID(PG_GETARG_OID(0));
	}
	if (PG_ARGISNULL(0))
		PG_RETURN_OID(PG_GETARG_OID(1));
	(void) stage_call_lookup_value(cc, PG_GETARG_OID(0), &state_idx);
	PG_RETURN_OID(idx > state_idx ? PG_GETARG_OID(1) : PG_GETARG_OID(0));
}
