/*
 * stage_functions.c
 *		SQL-callable metadata functions: stage_kind, stage_probability,
 *		stage_ordinal, the stage_catalog view's source, and the registration
 *		check used by the PL/pgSQL config functions.
 */
#include "compat.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/timestamp.h"
#include "utils/rel.h"

#include "stage_meta.h"

PG_FUNCTION_INFO_V1(pipeline_stage_kind);
PG_FUNCTION_INFO_V1(pipeline_stage_probability);
PG_FUNCTION_INFO_V1(pipeline_stage_ordinal);
PG_FUNCTION_INFO_V1(pipeline_stage_catalog);
PG_FUNCTION_INFO_V1(pipeline_require_registered);

/* The cached metadata of the label passed as argument 0. */
static const StageInfo *
stage_arg(FunctionCallInfo fcinfo)
{
	StageCallCache *cc = stage_call_cache_get(fcinfo);
	int			index;
	StageType  *type = stage_call_lookup_value(cc, PG_GETARG_OID(0), &index);

	return &type->stages[index];
}

/* stage_kind(anyenum) -> 'open' | 'won' | 'lost' */
Datum
pipeline_stage_kind(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(stage_kind_name(stage_arg(fcinfo)->kind)));
}

/* stage_probability(anyenum) -> numeric, copied out of the cache. */
Datum
pipeline_stage_probability(PG_FUNCTION_ARGS)
{
	Numeric		p = stage_arg(fcinfo)->probability;

	PG_RETURN_NUMERIC(DatumGetNumericCopy(NumericGetDatum(p)));
}

/* stage_ordinal(anyenum) -> 1-based position in the enum's sort order. */
Datum
pipeline_stage_ordinal(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(stage_arg(fcinfo)->ordinal);
}

/*
 * _stage_catalog(): one row per label of every registered type, from the
 * cache, so the view shows exactly what triggers and aggregates use.
 */
Datum
pipeline_stage_catalog(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *types;
	ListCell   *lc;

	AcceptInvalidationMessages();
	InitMaterializedSRF(fcinfo, 0);
	types = stage_meta_registered_types();
	foreach(lc, types)
	{
		StageType  *type = stage_type_get(lfirst_oid(lc), true);

		if (type == NULL)
			continue;
		for (int i = 0; i < type->nstages; i++)
		{
			const StageInfo *s = &type->stages[i];
			Datum		values[7];
			bool		nulls[7] = {false};

			values[0] = CStringGetTextDatum(type->qualified_name);
			values[1] = CStringGetTextDatum(s->label);
			values[2] = Int32GetDatum(s->ordinal);
			values[3] = CStringGetTextDatum(stage_kind_name(s->kind));
			values[4] = NumericGetDatum(s->probability);
			values[5] = BoolGetDatum(s->is_entry);
			if (s->rots)
				values[6] = IntervalPGetDatum(&s->rotting_after);
			else
				nulls[6] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/*
 * _require_registered(regtype): raise the standard error (42809 not an enum,
 * 42704 unregistered) so that the PL/pgSQL config functions report exactly
 * what the C functions do.
 */
Datum
pipeline_require_registered(PG_FUNCTION_ARGS)
{
	AcceptInvalidationMessages();
	(void) stage_type_get(PG_GETARG_OID(0), false);
	PG_RETURN_VOID();
}

