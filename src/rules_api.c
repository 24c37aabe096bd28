/*
 * rules_api.c
 *		SQL-callable views of the cached rulesets: can_transition,
 *		next_stages, the rows of pipeline.transition_rules, and the small
 *		helpers the SQL-level rules and attach functions use.
 *
 * Everything reads the one backend cache (stage_meta.c, rules.c), so the
 * triggers, these functions and the view cannot disagree.
 */
#include "compat.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "stage_meta.h"

PG_FUNCTION_INFO_V1(pipeline_can_transition);
PG_FUNCTION_INFO_V1(pipeline_next_stages);
PG_FUNCTION_INFO_V1(pipeline_transition_rules);
PG_FUNCTION_INFO_V1(pipeline_ruleset_kind);
PG_FUNCTION_INFO_V1(pipeline_trigger_args);

/*
 * pipeline.can_transition(from_stage anyenum, to_stage anyenum,
 * ruleset text DEFAULT 'strict') -> boolean.  from_stage NULL asks about
 * creation; a same-stage "move" is always allowed.  NULL to_stage or
 * ruleset gives NULL.
 */
Datum
pipeline_can_transition(PG_FUNCTION_ARGS)
{
	StageCallCache *cc;
	StageType  *type;
	const Ruleset *rs;
	char	   *rsname;
	int			from_idx = -1;
	int			to_idx;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	cc = stage_call_cache_get(fcinfo);
	rsname = text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (!PG_ARGISNULL(0))
		(void) stage_call_lookup_value(cc, PG_GETARG_OID(0), &from_idx);
	type = stage_call_lookup_value(cc, PG_GETARG_OID(1), &to_idx);
	rs = stage_type_ruleset(type, rsname, false);

	if (from_idx == to_idx)
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(RULESET_ALLOWS(type, rs, from_idx, to_idx));
}

/*
 * pipeline.next_stages(from_stage anyenum, ruleset text DEFAULT 'strict')
 * -> anyarray: the stages a row at from_stage (NULL: a new row) may move
 * to, in stage order; '{}' when none.  With a NULL from_stage the enum type
 * comes from the call's declared argument type.
 */
Datum
pipeline_next_stages(PG_FUNCTION_ARGS)
{
	StageCallCache *cc;
	StageType  *type;
	const Ruleset *rs;
	char	   *rsname;
	int			from_idx = -1;
	Datum	   *elems;
	int			n = 0;
	int			j;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	cc = stage_call_cache_get(fcinfo);
	rsname = text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (!PG_ARGISNULL(0))
		type = stage_call_lookup_value(cc, PG_GETARG_OID(0), &from_idx);
	else
	{
		Oid			typoid = get_fn_expr_argtype(fcinfo->flinfo, 0);

		if (!OidIsValid(typoid))
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine the stage type of a NULL from_stage"),
					 errhint("Cast the NULL to the stage type, e.g. NULL::pipeline.stage.")));
		type = stage_type_get(typoid, false);
	}
	rs = stage_type_ruleset(type, rsname, false);

	elems = palloc(sizeof(Datum) * Max(type->nstages, 1));
	for (j = 0; j < type->nstages; j++)
	{
		if (j != from_idx && RULESET_ALLOWS(type, rs, from_idx, j))
			elems[n++] = ObjectIdGetDatum(type->stages[j].enum_oid);
	}
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(type->type_oid));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, type->type_oid,
										  sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * pipeline._transition_rules() -> SETOF (stage_type text, ruleset text,
 * from_stage text, to_stage text): every allowed transition of every
 * ruleset (built-in and custom) of every registered type, from the cache.
 * Backs the pipeline.transition_rules view.
 */
Datum
pipeline_transition_rules(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *types;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	types = stage_meta_registered_types();
	foreach(lc, types)
	{
		StageType  *type = stage_type_get(lfirst_oid(lc), true);
		int			r;

		/* the pointer is only good until the next lookup: use it up now */
		if (type == NULL)
			continue;
		for (r = 0; r < type->nrulesets; r++)
		{
			const Ruleset *rs = &type->rulesets[r];
			int			from;
			int			to;

			for (from = -1; from < type->nstages; from++)
			{
				for (to = 0; to < type->nstages; to++)
				{
					Datum		values[4];
					bool		nulls[4] = {false, false, false, false};

					if (from == to || !RULESET_ALLOWS(type, rs, from, to))
						continue;
					values[0] = CStringGetTextDatum(type->qualified_name);
					values[1] = CStringGetTextDatum(rs->name);
					if (from < 0)
						nulls[2] = true;
					else
						values[2] = CStringGetTextDatum(type->stages[from].label);
					values[3] = CStringGetTextDatum(type->stages[to].label);
					tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
										 values, nulls);
				}
			}
		}
	}
	return (Datum) 0;
}

/*
 * pipeline._ruleset_kind(stage_type regtype, ruleset text) -> text:
 * 'builtin', 'custom', or NULL when the type has no such ruleset.  Errors
 * like every other entry point for an enum that is not registered (42704)
 * or a type that is not an enum (42809).
 */
Datum
pipeline_ruleset_kind(PG_FUNCTION_ARGS)
{
	StageType  *type = stage_type_get(PG_GETARG_OID(0), false);
	const Ruleset *rs;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	rs = stage_type_ruleset(type, text_to_cstring(PG_GETARG_TEXT_PP(1)), true);
	if (rs == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(rs->builtin ? "builtin" : "custom"));
}

/*
 * pipeline._trigger_args(tgargs bytea) -> text[]: pg_trigger.tgargs split
 * at its NUL separators, for the pipeline.attachments view.
 */
Datum
pipeline_trigger_args(PG_FUNCTION_ARGS)
{
	bytea	   *args = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(args);
	const char *end = p + VARSIZE_ANY_EXHDR(args);
	ArrayBuildState *astate = initArrayResult(TEXTOID, CurrentMemoryContext, false);

	while (p < end)
	{
		const char *nul = memchr(p, '\0', end - p);
		int			len = nul ? nul - p : end - p;

		/* any bytea can be passed in: refuse bytes that are not valid text */
		(void) pg_verifymbstr(p, len, false);

		astate = accumArrayResult(astate,
								  PointerGetDatum(cstring_to_text_with_len(p, len)),
								  false, TEXTOID, CurrentMemoryContext);
		p += len + 1;
	}
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}
