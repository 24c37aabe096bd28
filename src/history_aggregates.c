/*
 * history_aggregates.c
 *		What the per-table history functions (<prefix>_stage_at, the
 *		cycles view, stage_win_probabilities) compute over a history table:
 *
 *	pipeline._last_stage(to_stage, changed_at, seq)
 *		the to_stage of the row that is last in (changed_at, seq) order --
 *		NULL when that row is a deletion -- in one pass and without a sort,
 *		so "where was each key at instant t" is a hash aggregate over the
 *		history.  Parallel safe (combine, serialize, deserialize).
 *	pipeline._funnel_raises(lo, hi, amount)
 *		the funnel of <prefix>_funnel from the history rows that raised a
 *		key's furthest stage (lo = furthest_before, hi = to_stage), with no
 *		group per key; see its comment.
 *	pipeline._stage_reached(at, target)
 *		DESIGN's "reached", from the C definition the aggregates use.
 */
#include "compat.h"

#include "fmgr.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "exact_sum.h"
#include "stage_meta.h"

PG_FUNCTION_INFO_V1(pipeline_last_stage_trans);
PG_FUNCTION_INFO_V1(pipeline_last_stage_combine);
PG_FUNCTION_INFO_V1(pipeline_last_stage_serialize);
PG_FUNCTION_INFO_V1(pipeline_last_stage_deserialize);
PG_FUNCTION_INFO_V1(pipeline_last_stage_final);
PG_FUNCTION_INFO_V1(pipeline_stage_reached);
PG_FUNCTION_INFO_V1(pipeline_funnel_raises_trans);
PG_FUNCTION_INFO_V1(pipeline_funnel_raises_final);

/* The last row seen: its position (changed_at, seq) and its to_stage. */
typedef struct LastStage
{
	TimestampTz at;
	int64		seq;
	Oid			stage;			/* InvalidOid: the row is a deletion */
} LastStage;

/* Is (at, seq) after the state's row? */
static inline bool
last_stage_later(const LastStage *s, TimestampTz at, int64 seq)
{
	return at > s->at || (at == s->at && seq > s->seq);
}

/* A new state in the aggregate's memory context. */
static LastStage *
last_stage_new(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return MemoryContextAlloc(aggcxt, sizeof(LastStage));
}

/*
 * Transition: keep the row that is last so far.  A row without a time or
 * a seq is skipped; a row without a stage (a deletion) counts.
 */
Datum
pipeline_last_stage_trans(PG_FUNCTION_ARGS)
{
	LastStage  *s = PG_ARGISNULL(0) ? NULL : (LastStage *) PG_GETARG_POINTER(0);
	TimestampTz at;
	int64		seq;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	at = PG_GETARG_TIMESTAMPTZ(2);
	seq = PG_GETARG_INT64(3);
	if (s == NULL)
	{
		s = last_stage_new(fcinfo, "pipeline._last_stage_trans");
		s->at = at;
		s->seq = seq;
		s->stage = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	}
	else if (last_stage_later(s, at, seq))
	{
		s->at = at;
		s->seq = seq;
		s->stage = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	}
	PG_RETURN_POINTER(s);
}

/* Combine: the later of two states (NULL on either side allowed). */
Datum
pipeline_last_stage_combine(PG_FUNCTION_ARGS)
{
	LastStage  *a = PG_ARGISNULL(0) ? NULL : (LastStage *) PG_GETARG_POINTER(0);
	LastStage  *b = PG_ARGISNULL(1) ? NULL : (LastStage *) PG_GETARG_POINTER(1);
	LastStage  *r;

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		r = last_stage_new(fcinfo, "pipeline._last_stage_combine");
		*r = *b;
		PG_RETURN_POINTER(r);
	}
	if (last_stage_later(a, b->at, b->seq))
		*a = *b;
	PG_RETURN_POINTER(a);
}

/*
 * Serialize for parallel workers (within one server: the enum OID means
 * the same label on both sides).
 */
Datum
pipeline_last_stage_serialize(PG_FUNCTION_ARGS)
{
	LastStage  *s = (LastStage *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, s->at);
	pq_sendint64(&buf, s->seq);
	pq_sendint32(&buf, s->stage);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Deserialize what pipeline_last_stage_serialize wrote. */
Datum
pipeline_last_stage_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	LastStage  *s = last_stage_new(fcinfo, "pipeline._last_stage_deserialize");

	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	s->at = pq_getmsgint64(&buf);
	s->seq = pq_getmsgint64(&buf);
	s->stage = pq_getmsgint(&buf, 4);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* Final: the last row's stage, NULL for a deletion or an empty group. */
Datum
pipeline_last_stage_final(PG_FUNCTION_ARGS)
{
	LastStage  *s = PG_ARGISNULL(0) ? NULL : (LastStage *) PG_GETARG_POINTER(0);

	if (s == NULL || !OidIsValid(s->stage))
		PG_RETURN_NULL();
	PG_RETURN_OID(s->stage);
}

/*
 * pipeline._stage_reached(at anyenum, target anyenum) -> boolean: has a
 * row at stage `at` reached stage `target`?  (A lost stage reaches
 * nothing; a won stage has reached every open stage.)
 */
Datum
pipeline_stage_reached(PG_FUNCTION_ARGS)
{
	StageCallCache *cc = stage_call_cache_get(fcinfo);
	int			at;
	int			target;
	StageType  *type;

	/* both arguments have one type (anyenum): look it up for each label */
	(void) stage_call_lookup_value(cc, PG_GETARG_OID(0), &at);
	type = stage_call_lookup_value(cc, PG_GETARG_OID(1), &target);
	PG_RETURN_BOOL(stage_reached(type, at, target));
}

/*
 * pipeline._funnel_raises(lo, hi, amount): a key's history rows that raised
 * its furthest non-lost stage, from lo (the furthest before the row, NULL
 * for the first) to hi (the row's to_stage), form a chain whose last hi is
 * the key's furthest stage.  So "the key reached s" -- reached(furthest, s)
 * -- is the sum over its chain of reached(hi, s) - reached(lo, s), and the
 * funnel of a set of keys is that sum over all their rows: rows counted
 * (and amounts summed exactly) per hi and per lo stage, differenced per
 * stage at the end.  Rows that raise nothing (hi lost, or not past lo) are
 * skipped.  The result is one numeric[] of 2 x k values for the k open and
 * won stages in stage order: the rows that reached each, then the sum of
 * their amounts (NULL when none has one).
 */
typedef struct FunnelSide
{
	int64		rows;
	ExactSum	sum;
	Numeric		spill;			/* what sum could not absorb; NULL if none */
} FunnelSide;

typedef struct FunnelRaises
{
	StageCallCache cc;
	StageType  *type;
	FunnelSide *hi;				/* per stage index */
	FunnelSide *lo;
	MemoryContext cxt;			/* the aggregate's */
} FunnelRaises;

/* Add one row (and its amount, unless NULL) to a side. */
static void
funnel_side_add(FunnelRaises *st, FunnelSide *side, FunctionCallInfo fcinfo)
{
	ExactValue	v;
	Numeric		addend;

	side->rows++;
	if (PG_ARGISNULL(3))
		return;
	exact_read(PG_GETARG_DATUM(3), "amount", &v);
	addend = exact_add(&side->sum, &v);
	if (addend != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(st->cxt);

		side->spill = side->spill ? exact_numeric_add(side->spill, addend)
			: (Numeric) PG_DETOAST_DATUM_COPY(NumericGetDatum(addend));
		MemoryContextSwitchTo(old);
	}
}

/* Transition function of _funnel_raises(lo, hi, amount). */
Datum
pipeline_funnel_raises_trans(PG_FUNCTION_ARGS)
{
	FunnelRaises *st = PG_ARGISNULL(0) ? NULL : (FunnelRaises *) PG_GETARG_POINTER(0);
	StageType  *type;
	int			hi;
	int			lo = -1;

	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	if (st == NULL)
	{
		MemoryContext aggcxt;

		if (AggCheckCallContext(fcinfo, &aggcxt) != AGG_CONTEXT_AGGREGATE)
			elog(ERROR, "pipeline._funnel_raises called in non-aggregate context");
		st = MemoryContextAllocZero(aggcxt, sizeof(FunnelRaises));
		st->cxt = aggcxt;
		stage_call_cache_init(&st->cc);
	}
	type = stage_call_lookup_value(&st->cc, PG_GETARG_OID(2), &hi);
	if (st->type == NULL)
	{
		int			i;

		st->type = type;
		st->hi = MemoryContextAllocZero(st->cxt, sizeof(FunnelSide) * type->nstages);
		st->lo = MemoryContextAllocZero(st->cxt, sizeof(FunnelSide) * type->nstages);
		for (i = 0; i < type->nstages; i++)
		{
			exact_sum_init(&st->hi[i].sum);
			exact_sum_init(&st->lo[i].sum);
		}
	}
	else if (type->type_oid != st->type->type_oid)
		elog(ERROR, "pipeline._funnel_raises called with two stage types");
	if (!PG_ARGISNULL(1))
		(void) stage_call_lookup_value(&st->cc, PG_GETARG_OID(1), &lo);
	if (type->stages[hi].kind == STAGE_KIND_LOST || (lo >= 0 && hi <= lo))
		PG_RETURN_POINTER(st);

	funnel_side_add(st, &st->hi[hi], fcinfo);
	if (lo >= 0)
		funnel_side_add(st, &st->lo[lo], fcinfo);
	PG_RETURN_POINTER(st);
}

/* Final function of _funnel_raises: {reached rows..., reached amounts...}. */
Datum
pipeline_funnel_raises_final(PG_FUNCTION_ARGS)
{
	FunnelRaises *st = PG_ARGISNULL(0) ? NULL : (FunnelRaises *) PG_GETARG_POINTER(0);
	StageType  *type;
	Datum	   *values;
	bool	   *nulls;
	int			k;
	int			n = 0;
	int			dims[1];
	int			lbs[1] = {1};
	int			s;

	if (st == NULL || st->type == NULL)
		PG_RETURN_NULL();
	type = st->type;
	k = type->nopen + type->nwon;
	values = palloc(sizeof(Datum) * 2 * k);
	nulls = palloc0(sizeof(bool) * 2 * k);
	for (s = 0; s < type->nstages; s++)
	{
		int64		rows = 0;
		Numeric		amount = NULL;
		int			i;

		if (type->stages[s].kind == STAGE_KIND_LOST)
			continue;
		for (i = 0; i < type->nstages; i++)
		{
			int			side;

			if (!stage_reached(type, i, s))
				continue;
			for (side = 0; side < 2; side++)
			{
				FunnelSide *f = side == 0 ? &st->hi[i] : &st->lo[i];
				Numeric		sum;

				rows += side == 0 ? f->rows : -f->rows;
				if (f->sum.count == 0 && f->spill == NULL)
					continue;
				sum = exact_result(&f->sum, f->spill);
				if (side == 0)
					amount = amount ? exact_numeric_add(amount, sum) : sum;
				else
					amount = DatumGetNumeric(DirectFunctionCall2(numeric_sub,
																 NumericGetDatum(amount ? amount : int64_to_numeric(0)),
																 NumericGetDatum(sum)));
			}
		}
		values[n] = NumericGetDatum(int64_to_numeric(rows));
		values[k + n] = amount ? NumericGetDatum(amount) : (Datum) 0;
		nulls[k + n] = (amount == NULL);
		n++;
	}
	dims[0] = 2 * k;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(values, nulls, 1, dims, lbs, NUMERICOID, -1, false,
											 TYPALIGN_INT));
}
