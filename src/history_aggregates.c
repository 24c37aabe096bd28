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
 *	pipeline._stage_reached(at, target)
 *		DESIGN's "reached", from the C definition the aggregates use.
 */
#include "compat.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "stage_meta.h"

PG_FUNCTION_INFO_V1(pipeline_last_stage_trans);
PG_FUNCTION_INFO_V1(pipeline_last_stage_combine);
PG_FUNCTION_INFO_V1(pipeline_last_stage_serialize);
PG_FUNCTION_INFO_V1(pipeline_last_stage_deserialize);
PG_FUNCTION_INFO_V1(pipeline_last_stage_final);
PG_FUNCTION_INFO_V1(pipeline_stage_reached);

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
