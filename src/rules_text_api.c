/*
 * rules_text_api.c
 *		The rules of an attached table, asked with plain text:
 *		pipeline.allowed_moves(target, from_stage, stage_column) and
 *		pipeline.can_move(target, from_stage, to_stage, stage_column).
 *
 * can_transition() and next_stages() take the enum itself, so a driver
 * that binds a parameter as text (JDBC, node-postgres, psqlODBC, psycopg
 * with server-side binding) gets 42883, and an application has to know
 * each table's enum type and ruleset.  These take the table instead: its
 * row in pipeline.attached_tables (by OID) gives the ruleset, and the
 * stage column's type gives the enum.  The answers come from the same
 * cached rulesets the triggers enforce (stage_meta.c, rules.c).
 */
#include "compat.h"

#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "attachment.h"
#include "stage_meta.h"

PG_FUNCTION_INFO_V1(pipeline_allowed_moves);
PG_FUNCTION_INFO_V1(pipeline_can_move);

/*
 * The attachment of (target, stage_column): the table's own, or, for a
 * partition, its partitioned root's (attachments are made on the root).
 * 42P01 for a relation that does not exist, 42704 when none is attached.
 * Returns the stage column's enum type and sets *ruleset.
 */
static Oid
attached_stage_type(Oid target, const char *stage_column, char **ruleset)
{
	Attachment	att;
	char	   *relname = get_rel_name(target);
	AttrNumber	attnum;
	bool		found;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", target)));
	relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)), relname);

	found = attachment_get(target, stage_column, &att, CurrentMemoryContext);
	if (!found && get_rel_relispartition(target))
	{
		List	   *ancestors = get_partition_ancestors(target);

		if (ancestors != NIL)
			found = attachment_get(llast_oid(ancestors), stage_column, &att,
								   CurrentMemoryContext);
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table %s has no pipeline attached on column \"%s\"",
						relname, stage_column),
				 errhint("pipeline.attachments lists the attached tables; attach one with pipeline.attach().")));

	attnum = get_attnum(att.target, NameStr(att.stage_column));
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist",
						NameStr(att.stage_column), relname)));
	*ruleset = att.ruleset;
	return get_atttype(att.target, attnum);
}

/*
 * The index of a label in its type; 22P02, as enum input gives, for a label
 * the type does not have, with the valid labels in the HINT.
 */
static int
label_index(const StageType *type, text *label)
{
	char	   *s = text_to_cstring(label);
	int			i = stage_type_index_of_label(type, s);
	StringInfoData valid;

	if (i >= 0)
		return i;
	initStringInfo(&valid);
	for (int j = 0; j < type->nstages; j++)
		appendStringInfo(&valid, "%s%s", j > 0 ? ", " : "", type->stages[j].label);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input value for enum %s: \"%s\"", type->qualified_name, s),
			 errhint("Valid labels: %s.", valid.data)));
	return -1;					/* not reached */
}

/*
 * What both functions start with: the stage type and ruleset of the
 * attachment of (argument 0, the name in argument column_arg), and in
 * *from_idx the index of the label in argument 1 (-1 when NULL: a new
 * row).  The type pointer is good until the next stage_meta lookup.
 */
static StageType *
attached_rules(FunctionCallInfo fcinfo, int column_arg, const Ruleset **rs, int *from_idx)
{
	StageType  *type;
	char	   *rsname;
	Oid			typoid;

	/* once per query: see changes other sessions committed */
	(void) stage_call_cache_get(fcinfo);

	typoid = attached_stage_type(PG_GETARG_OID(0), NameStr(*PG_GETARG_NAME(column_arg)), &rsname);
	type = stage_type_get(typoid, false);
	*rs = stage_type_ruleset(type, rsname, false);
	*from_idx = PG_ARGISNULL(1) ? -1 : label_index(type, PG_GETARG_TEXT_PP(1));
	return type;
}

/*
 * pipeline.allowed_moves(target regclass, from_stage text,
 * stage_column name DEFAULT 'stage') -> text[]: the labels a row of target
 * at from_stage (NULL: a new row) may move to under its attachment's
 * ruleset, in stage order; '{}' when none.  NULL target or column: NULL.
 */
Datum
pipeline_allowed_moves(PG_FUNCTION_ARGS)
{
	StageType  *type;
	const Ruleset *rs;
	int			from_idx;
	Datum	   *elems;
	int			n = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	/* no stage_meta lookup below, so type stays good */
	type = attached_rules(fcinfo, 2, &rs, &from_idx);

	elems = palloc(sizeof(Datum) * Max(type->nstages, 1));
	for (int j = 0; j < type->nstages; j++)
	{
		if (j != from_idx && RULESET_ALLOWS(type, rs, from_idx, j))
			elems[n++] = CStringGetTextDatum(type->stages[j].label);
	}
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * pipeline.can_move(target regclass, from_stage text, to_stage text,
 * stage_column name DEFAULT 'stage') -> boolean: whether the attachment's
 * ruleset allows the move (from_stage NULL: creation).  A same-stage update
 * is not a transition: true.  NULL target, to_stage or column: NULL.
 */
Datum
pipeline_can_move(PG_FUNCTION_ARGS)
{
	StageType  *type;
	const Ruleset *rs;
	int			from_idx;
	int			to_idx;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	type = attached_rules(fcinfo, 3, &rs, &from_idx);
	to_idx = label_index(type, PG_GETARG_TEXT_PP(2));

	if (from_idx == to_idx)
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(RULESET_ALLOWS(type, rs, from_idx, to_idx));
}
