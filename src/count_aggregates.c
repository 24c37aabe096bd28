/*
 * count_aggregates.c
 *		The counting aggregates: conversion_rate (three forms), win_rate,
 *		funnel and furthest_stage -- transition, inverse transition (for
 *		moving windows), combine and final functions over
 *		pipeline.count_state.
 *
 * The per-row path does no catalog access, no hashing and no allocation:
 * each call site keeps, in fn_extra, a label-OID -> stage-index map of its
 * stage type (a dense array when the type's OIDs are close together, a
 * binary search otherwise), the kind of each stage and the "reached" matrix,
 * all copied from the stage metadata cache when the first row arrives.
 * Under an aggregate the state is updated in place.
 *
 * Transition functions are declared anyenum but never look at the call
 * expression (Citus calls them without one): the stage type comes from the
 * enum value's label OID.  Final functions that need the stage type read it
 * by name from the state.
 */
#include "compat.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/memutils.h"

#include "count_state.h"
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

/* Largest OID spread for which a dense label map is kept. */
#define DENSE_MAP_MAX	4096

/*
 * What the per-row path needs of one stage type, in one contiguous block so
 * that it can be copied with one memcpy:
 *	Oid sorted_oids[n]; int32 sorted_index[n]; int32 map[map_len];
 *	uint8 kind[n]; bool reach[n * n]; char name[name_len + 1]
 */
typedef struct CountTables
{
	Size		size;			/* of the whole block */
	Oid			type_oid;
	uint64		generation;		/* stage_meta_generation it was built at */
	int			nstages;
	Oid			base_oid;		/* smallest label OID */
	uint32		map_len;		/* 0 when the OIDs are too spread out */
	int			name_len;
	Size		off_sorted_index;
	Size		off_map;
	Size		off_kind;
	Size		off_reach;
	Size		off_name;
	/* arrays follow, from offsetof(CountTables, data) */
	double		data[FLEXIBLE_ARRAY_MEMBER];
} CountTables;

/*
 * Per-call-site cache (fn_extra): a private copy of the type's tables and
 * pointers into it.  Private, because StageType pointers are only valid
 * until the next stage_meta lookup.
 */
typedef struct CountCallCache
{
	StageCallCache cc;			/* once-per-query invalidation, type memo */
	MemoryContext cxt;			/* what the cache allocates lives here */
	CountTables *tables;		/* NULL until the first row */
	Oid			type_oid;		/* type described below; InvalidOid if none */
	int			nstages;
	uint64		loads;			/* times the tables were (re)loaded */
	/* label OID -> stage index: dense when map_len > 0 ... */
	Oid			base_oid;
	uint32		map_len;
	const int32 *map;			/* -1 where no label of the type */
	/* ... and a binary search over the sorted label OIDs otherwise */
	const Oid  *sorted_oids;
	const int32 *sorted_index;
	const uint8 *kind;			/* StageKind by stage index */
	const bool *reach;			/* reach[at * nstages + target] */
	const char *name;			/* schema-qualified type name */
	int			name_len;
	void	   *agg_context;	/* fcinfo->context known to be an aggregate */

	/*
	 * conversion_rate(reached, target) and (reached, from, to): what a row
	 * at each stage adds for the constant arguments last seen, so that a row
	 * costs one lookup: bit 0 counts it in the denominator, bit 1 in the
	 * numerator.  Valid while outcome_loads == loads.
	 */
	uint8	   *outcome;		/* nstages entries, in cxt */
	int			outcome_len;	/* allocated entries */
	Oid			outcome_args[2];	/* target, or from and to */
	uint64		outcome_loads;
} CountCallCache;

#define COUNT_OUTCOME_DENOMINATOR	1
#define COUNT_OUTCOME_NUMERATOR		2

/*
 * conversion_rate(boolean) has no stage type, so no call cache of its own:
 * its transition functions remember the aggregate node here instead.
 */
typedef struct ConversionCallCache
{
	void	   *agg_context;
} ConversionCallCache;

/*
 * The tables of the last type loaded by any call site of this backend.
 * Citus calls transition functions through a fresh FmgrInfo for every row
 * (so fn_extra never survives a row); this memo keeps that from rebuilding
 * the tables each time.  Valid while stage_meta_generation is unchanged.
 */
static CountTables *count_tables_memo = NULL;

/*
 * Call-site caches of calls through an FmgrInfo without an expression
 * (Citus's worker_partial_agg: a fresh FmgrInfo for every row), kept for the
 * backend instead of in fn_extra, keyed by what does not change between
 * those rows: the function, the aggregate node calling it, the statement.
 * A few slots, so that the aggregates of one query do not evict each other;
 * each slot's memory is a context of its own, reset when the slot is
 * reused.  The conversion_rate(boolean) functions, which have no call cache,
 * keep their aggregate node in conv.  (Two calls of one function over
 * different enum types in one query share a slot, and reload its tables
 * when the type changes: correct, only slower.)
 */
#define COUNT_MEMO_SLOTS 8

typedef struct CountMemo
{
	Oid			fn_oid;
	void	   *context;
	LocalTransactionId lxid;
	TimestampTz stmt_start;
	MemoryContext cxt;
	CountCallCache *cache;
	ConversionCallCache conv;
} CountMemo;

static CountMemo count_memo[COUNT_MEMO_SLOTS];
static int	count_memo_next = 0;	/* the slot to reuse next */

/* This call's memo slot (see CountMemo), emptied if it was another's. */
static CountMemo *
count_memo_slot(FunctionCallInfo fcinfo)
{
	LocalTransactionId lxid = compat_MyProcLxid;
	TimestampTz stmt_start = GetCurrentStatementStartTimestamp();
	CountMemo  *m;

	for (int i = 0; i < COUNT_MEMO_SLOTS; i++)
	{
		m = &count_memo[i];
		if (m->fn_oid == fcinfo->flinfo->fn_oid && m->context == (void *) fcinfo->context &&
			m->lxid == lxid && m->stmt_start == stmt_start)
			return m;
	}
	m = &count_memo[count_memo_next];
	count_memo_next = (count_memo_next + 1) % COUNT_MEMO_SLOTS;
	if (m->cxt == NULL)
		m->cxt = AllocSetContextCreate(TopMemoryContext, "pipeline count memo",
									   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(m->cxt);
	m->cache = NULL;
	memset(&m->conv, 0, sizeof(m->conv));
	m->fn_oid = fcinfo->flinfo->fn_oid;
	m->context = (void *) fcinfo->context;
	m->lxid = lxid;
	m->stmt_start = stmt_start;
	return m;
}

/*
 * The call site's cache, created on its first call (in fn_mcxt, or for a
 * call without an expression in its backend-wide memo slot).  Creating it
 * is where pending invalidations are processed, once per query.
 */
static pg_noinline CountCallCache *
count_call_cache_create(FunctionCallInfo fcinfo)
{
	CountCallCache *c;

	if (fcinfo->flinfo->fn_expr == NULL)
	{
		CountMemo  *m = count_memo_slot(fcinfo);

		if (m->cache == NULL)
		{
			m->cache = MemoryContextAllocZero(m->cxt, sizeof(CountCallCache));
			m->cache->cxt = m->cxt;
			stage_call_cache_init(&m->cache->cc);
		}
		c = m->cache;
	}
	else
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CountCallCache));
		c->cxt = fcinfo->flinfo->fn_mcxt;
		stage_call_cache_init(&c->cc);
	}
	fcinfo->flinfo->fn_extra = c;
	return c;
}

static inline CountCallCache *
count_call_cache(FunctionCallInfo fcinfo)
{
	CountCallCache *c = (CountCallCache *) fcinfo->flinfo->fn_extra;

	if (unlikely(c == NULL))
		c = count_call_cache_create(fcinfo);
	return c;
}

/*
 * Build the tables of a stage type in TopMemoryContext (they become the
 * backend-wide memo).
 */
static CountTables *
count_tables_build(const StageType *type)
{
	int			n = type->nstages;
	int			name_len = strlen(type->qualified_name);
	uint32		map_len = 0;
	Size		off;
	CountTables *t;
	Oid		   *sorted_oids;
	int32	   *sorted_index;
	int32	   *map;
	uint8	   *kind;
	bool	   *reach;

	if (n < 1 || n > COUNT_STATE_MAX_STAGES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stage type %s has %d labels, more than the aggregates support",
						type->qualified_name, n)));
	if (name_len > COUNT_STATE_MAX_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stage type name %s is too long for the aggregates",
						type->qualified_name)));
	if (type->sorted_oids[n - 1] - type->sorted_oids[0] < DENSE_MAP_MAX)
		map_len = type->sorted_oids[n - 1] - type->sorted_oids[0] + 1;

	/* lay out the arrays after the header */
	off = MAXALIGN(offsetof(CountTables, data)) + MAXALIGN(sizeof(Oid) * n);
	{
		Size		off_sorted_index = off;
		Size		off_map = off_sorted_index + MAXALIGN(sizeof(int32) * n);
		Size		off_kind = off_map + MAXALIGN(sizeof(int32) * map_len);
		Size		off_reach = off_kind + MAXALIGN(n);
		Size		off_name = off_reach + MAXALIGN((Size) n * n);
		Size		size = off_name + MAXALIGN(name_len + 1);

		t = MemoryContextAllocZero(TopMemoryContext, size);
		t->size = size;
		t->off_sorted_index = off_sorted_index;
		t->off_map = off_map;
		t->off_kind = off_kind;
		t->off_reach = off_reach;
		t->off_name = off_name;
	}
	t->type_oid = type->type_oid;
	t->generation = stage_meta_generation;
	t->nstages = n;
	t->base_oid = type->sorted_oids[0];
	t->map_len = map_len;
	t->name_len = name_len;

	sorted_oids = (Oid *) ((char *) t + MAXALIGN(offsetof(CountTables, data)));
	sorted_index = (int32 *) ((char *) t + t->off_sorted_index);
	map = (int32 *) ((char *) t + t->off_map);
	kind = (uint8 *) ((char *) t + t->off_kind);
	reach = (bool *) ((char *) t + t->off_reach);
	memcpy((char *) t + t->off_name, type->qualified_name, name_len + 1);

	for (uint32 k = 0; k < map_len; k++)
		map[k] = -1;
	for (int i = 0; i < n; i++)
	{
		sorted_oids[i] = type->sorted_oids[i];
		sorted_index[i] = type->sorted_index[i];
		if (map_len > 0)
			map[type->sorted_oids[i] - t->base_oid] = type->sorted_index[i];
		kind[i] = (uint8) type->stages[i].kind;
		for (int j = 0; j < n; j++)
			reach[i * n + j] = stage_reached(type, i, j);
	}
	return t;
}

/*
 * Give the call site its own copy of a stage type's tables (from the
 * backend-wide memo, rebuilt when stale), replacing what it had: the first
 * row, a label it had not seen, or a value of another type.
 */
static void
count_call_cache_load(FunctionCallInfo fcinfo, CountCallCache *c, const StageType *type)
{
	CountTables *t;

	if (count_tables_memo == NULL ||
		count_tables_memo->type_oid != type->type_oid ||
		count_tables_memo->generation != stage_meta_generation)
	{
		if (count_tables_memo != NULL)
			pfree(count_tables_memo);
		count_tables_memo = NULL;
		count_tables_memo = count_tables_build(type);
	}

	t = MemoryContextAlloc(c->cxt, count_tables_memo->size);
	memcpy(t, count_tables_memo, count_tables_memo->size);
	if (c->tables != NULL)
		pfree(c->tables);
	c->tables = t;

	c->type_oid = t->type_oid;
	c->nstages = t->nstages;
	c->base_oid = t->base_oid;
	c->map_len = t->map_len;
	c->sorted_oids = (const Oid *) ((char *) t + MAXALIGN(offsetof(CountTables, data)));
	c->sorted_index = (const int32 *) ((char *) t + t->off_sorted_index);
	c->map = (const int32 *) ((char *) t + t->off_map);
	c->kind = (const uint8 *) ((char *) t + t->off_kind);
	c->reach = (const bool *) ((char *) t + t->off_reach);
	c->name = (const char *) t + t->off_name;
	c->name_len = t->name_len;
	c->loads++;
}

/*
 * Slow path of count_stage_index: binary search when there is no dense map,
 * else ask the metadata cache (first row, a label this call site has not
 * seen, or a value of another type) and reload.
 */
static pg_noinline int
count_stage_index_slow(FunctionCallInfo fcinfo, CountCallCache *c, Oid label)
{
	const StageType *type;
	int			index;

	if (c->type_oid != InvalidOid && c->map_len == 0)
	{
		int			lo = 0,
					hi = c->nstages - 1;

		while (lo <= hi)
		{
			int			mid = (lo + hi) / 2;

			if (c->sorted_oids[mid] == label)
				return c->sorted_index[mid];
			if (c->sorted_oids[mid] < label)
				lo = mid + 1;
			else
				hi = mid - 1;
		}
	}
	type = stage_call_lookup_value(&c->cc, label, &index);
	count_call_cache_load(fcinfo, c, type);
	return index;
}

/*
 * Stage index (0-based, enum order) of an enum label: one subtraction and
 * one array read on the common path.
 */
static pg_attribute_always_inline int
count_stage_index(FunctionCallInfo fcinfo, CountCallCache *c, Oid label)
{
	uint32		off = (uint32) (label - c->base_oid);

	if (likely(off < c->map_len))
	{
		int			index = c->map[off];

		if (likely(index >= 0))
			return index;
	}
	return count_stage_index_slow(fcinfo, c, label);
}

/*
 * Error unless every label belongs to the call site's current type.  Only
 * reached when a lookup reloaded the cache in the middle of a row, which a
 * concretely typed aggregate never does after its first row; a hand-written
 * call mixing enum types ends here.
 */
static pg_noinline void
count_check_same_type(FunctionCallInfo fcinfo, CountCallCache *c, int nlabels, const Oid *labels)
{
	for (int i = 0; i < nlabels; i++)
	{
		int			index;
		const StageType *type = stage_call_lookup_value(&c->cc, labels[i], &index);

		if (type->type_oid != c->type_oid)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("arguments of a pipeline aggregate must be of one stage type"),
					 errdetail("Found labels of %s and of another type in the same call.",
							   type->qualified_name)));
	}
}

/*
 * The aggregate node this call site was last seen to run under (a pointer
 * compare per row instead of AggCheckCallContext).
 */
static pg_attribute_always_inline void *
c_agg_context(FunctionCallInfo fcinfo, CountCallCache *c)
{
	if (c == NULL)
		return fcinfo->flinfo->fn_extra ?
			((ConversionCallCache *) fcinfo->flinfo->fn_extra)->agg_context : NULL;
	return c->agg_context;
}

/*
 * Whether the call comes from an aggregate (or window aggregate) node,
 * which owns the state and lets us update it in place; remembered so that
 * the next rows only compare a pointer.
 */
static pg_noinline bool
count_in_aggregate(FunctionCallInfo fcinfo, CountCallCache *c)
{
	if (fcinfo->context == NULL || !AggCheckCallContext(fcinfo, NULL))
		return false;
	if (c == NULL)
	{
		if (fcinfo->flinfo->fn_extra == NULL && fcinfo->flinfo->fn_expr == NULL)
			fcinfo->flinfo->fn_extra = &count_memo_slot(fcinfo)->conv;	/* see CountMemo */
		else if (fcinfo->flinfo->fn_extra == NULL)
			fcinfo->flinfo->fn_extra =
				MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ConversionCallCache));
		((ConversionCallCache *) fcinfo->flinfo->fn_extra)->agg_context = fcinfo->context;
	}
	else
		c->agg_context = fcinfo->context;
	return true;
}

/*
 * True when called by an aggregate node: one pointer compare per row.
 */
static pg_attribute_always_inline bool
count_called_as_aggregate(FunctionCallInfo fcinfo, CountCallCache *c)
{
	void	   *known = c_agg_context(fcinfo, c);

	if (likely(known != NULL && fcinfo->context == known))
		return true;
	return count_in_aggregate(fcinfo, c);
}

/*
 * The state to update for this row.  A NULL state starts a new one (in the
 * per-row context: the executor copies the returned state into the
 * aggregate context).  Under an aggregate, a state that this transition
 * function created is updated in place; the only checks are two integer
 * compares.  Otherwise (a direct call, or a state that is not plain) work on
 * a validated copy, since an input must never be modified.
 */
static pg_attribute_always_inline CountState *
count_state_for_update(FunctionCallInfo fcinfo, CountCallCache *c, CountStateKind kind)
{
	CountState *s;
	int			nstages = (kind == COUNT_KIND_CONVERSION) ? 0 : c->nstages;

	if (unlikely(PG_ARGISNULL(0)))
	{
		if (kind == COUNT_KIND_CONVERSION)
			return count_state_make(kind, 0, "", 0);
		return count_state_make(kind, nstages, c->name, c->name_len);
	}

	s = (CountState *) PG_GETARG_POINTER(0);
	if (likely(count_called_as_aggregate(fcinfo, c) &&
			   !VARATT_IS_EXTENDED(s) &&
			   s->kind == kind && s->nstages == nstages))
		return s;

	s = (CountState *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	if (s->kind == kind && COUNT_STATE_UNTYPED(s))
		return count_state_make(kind, nstages, c->name, c->name_len);
	if (s->kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline.count_state of kind \"%s\" cannot be used here",
						count_kind_name(s->kind)),
				 errdetail("This transition function expects a state of kind \"%s\".",
						   count_kind_name(kind))));
	if (kind != COUNT_KIND_CONVERSION &&
		(s->nstages != nstages || s->name_len != c->name_len ||
		 memcmp(COUNT_STATE_NAME(s), c->name, c->name_len) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pipeline.count_state for stage type %s (%d labels) cannot take a value of %s (%d labels)",
						COUNT_STATE_NAME(s), s->nstages, c->name, c->nstages)));
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
	uint64		loads = c->loads;
	int			n;

	for (int i = 0; i <= nargs; i++)
		index[i] = count_stage_index(fcinfo, c, labels[i]);
	if (c->loads != loads)
	{
		/* a lookup reloaded the tables: the labels must share one type */
		count_check_same_type(fcinfo, c, nargs + 1, labels);
		for (int i = 0; i <= nargs; i++)
			index[i] = count_stage_index(fcinfo, c, labels[i]);
	}

	n = c->nstages;
	if (c->outcome_len < n)
	{
		if (c->outcome != NULL)
			pfree(c->outcome);
		c->outcome = MemoryContextAlloc(c->cxt, n);
		c->outcome_len = n;
	}
	for (int at = 0; at < n; at++)
	{
		const bool *reach = &c->reach[at * n];

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
	c->outcome_loads = c->loads;
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
	int			at = count_stage_index(fcinfo, c, value);

	if (unlikely(arg1 != c->outcome_args[0] || arg2 != c->outcome_args[1] ||
				 c->outcome_loads != c->loads))
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
	index = count_stage_index(fcinfo, c, PG_GETARG_OID(1));
	kind = c->kind[index];
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
	index = count_stage_index(fcinfo, c, PG_GETARG_OID(1));
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
	cc = stage_call_cache_get(fcinfo->flinfo);
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
