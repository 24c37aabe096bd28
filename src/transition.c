/*
 * transition.c
 *		pipeline.enforce_transition(): the trigger that keeps a table's stage
 *		column on the moves its ruleset allows.
 *
 * pipeline.attach() installs it twice per stage column:
 *
 *	BEFORE UPDATE FOR EACH ROW	validates OLD -> NEW, and stashes rows that
 *								may move to another partition (BEFORE
 *								INSERT OR UPDATE with an entered-at column,
 *								which it fills and checks);
 *	AFTER INSERT FOR EACH ROW	validates creation, but only for rows that
 *								were really inserted (BEFORE INSERT also fires
 *								for an upsert that ends as an update), and
 *								treats the insert half of a cross-partition
 *								move as the update it is.
 *
 * Everything that needs the catalog (the column, the stage type, the table
 * to name in errors, the primary key, the partition keys, the attachment)
 * is resolved once per trigger per query (transition_rel.c) and kept in
 * fn_extra.  Per row, the work is two slot
 * reads, two binary searches in the stage cache and one array lookup.
 */
#include "compat.h"

#include "access/htup_details.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "citus.h"
#include "pipeline.h"
#include "stage_meta.h"
#include "transition.h"

PG_FUNCTION_INFO_V1(pipeline_enforce_transition);

/* fn_extra of enforce_transition: one per trigger per query. */
typedef struct EnforceCache
{
	TransitionRel rel;
	StageCallCache cc;
	const char *ruleset_name;
	/* the ruleset, re-resolved whenever the stage cache was rebuilt */
	uint64		rs_generation;
	StageType  *rs_type;
	const Ruleset *rs;
} EnforceCache;

/* Attach the table (the root), column and constraint (trigger) fields. */
static int
transition_error_fields(TransitionRel *tr)
{
	transition_rel_root(tr);
	err_generic_string(PG_DIAG_SCHEMA_NAME, tr->root_schema);
	err_generic_string(PG_DIAG_TABLE_NAME, tr->root_name);
	err_generic_string(PG_DIAG_COLUMN_NAME, tr->column_name);
	err_generic_string(PG_DIAG_CONSTRAINT_NAME, tr->trigger_name);
	return 0;
}

/* 23502: a row of an attached table always has a stage. */
static void
report_null_stage(TransitionRel *tr)
{
	transition_rel_root(tr);
	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
					tr->column_name, tr->root_name),
			 errdetail("A row of a table attached to a pipeline always has a stage."),
			 transition_error_fields(tr)));
}

/*
 * 23514 with the message and DETAIL of docs/transitions.md, "Errors": the
 * stages the ruleset allows from the row's current stage (or from
 * creation, from_idx == -1).
 */
static void
report_illegal(EnforceCache *ec, const StageType *type,
			   const Ruleset *rs, int from_idx, int to_idx, TupleTableSlot *slot)
{
	StringInfoData from;
	StringInfoData allowed;
	const char *key;
	int			j;
	int			nallowed = 0;

	transition_rel_root(&ec->rel);
	initStringInfo(&from);
	if (from_idx < 0)
		appendStringInfoString(&from, "(new row)");
	else
		appendStringInfo(&from, "\"%s\"", type->stages[from_idx].label);

	initStringInfo(&allowed);
	for (j = 0; j < type->nstages; j++)
	{
		if (j == from_idx || !RULESET_ALLOWS(type, rs, from_idx, j))
			continue;
		if (nallowed++ > 0)
			appendStringInfoString(&allowed, ", ");
		appendStringInfoString(&allowed, type->stages[j].label);
	}
	key = transition_rel_key_text(&ec->rel, slot);

	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("illegal stage transition from %s to \"%s\"",
					from.data, type->stages[to_idx].label),
			 nallowed > 0 ?
			 errdetail("Allowed from %s: %s. Failing row has key %s.", from.data, allowed.data, key) :
			 errdetail("No transition is allowed from %s. Failing row has key %s.", from.data, key),
			 from_idx < 0 ?
			 errhint("Table %s follows ruleset \"%s\" of %s, which creates rows only in its entry stages. To load rows that are already further along, attach with history_from => (their history) or with a custom ruleset that allows creating them there.",
					 quote_qualified_identifier(ec->rel.root_schema, ec->rel.root_name),
					 rs->name, type->qualified_name) :
			 errhint("Table %s follows ruleset \"%s\" of %s; pipeline.next_stages() lists the stages a row may move to.",
					 quote_qualified_identifier(ec->rel.root_schema, ec->rel.root_name),
					 rs->name, type->qualified_name),
			 transition_error_fields(&ec->rel)));
}

/*
 * Validate one transition (from_isnull: creation).  Same-stage moves never
 * get here.  The ruleset is looked up by name again only when the stage
 * cache was rebuilt since the last row.
 */
static void
enforce_check(EnforceCache *ec, bool from_isnull, Oid from_oid, Oid to_oid,
			  TupleTableSlot *slot)
{
	StageType  *type;
	int			from_idx = -1;
	int			to_idx;

	if (!from_isnull)
		(void) stage_call_lookup_value(&ec->cc, from_oid, &from_idx);
	type = stage_call_lookup_value(&ec->cc, to_oid, &to_idx);

	if (ec->rs == NULL || ec->rs_type != type ||
		ec->rs_generation != stage_meta_generation)
	{
		ec->rs = stage_type_ruleset(type, ec->ruleset_name, false);
		ec->rs_type = type;
		ec->rs_generation = stage_meta_generation;
	}

	if (!RULESET_ALLOWS(type, ec->rs, from_idx, to_idx))
		report_illegal(ec, type, ec->rs, from_idx, to_idx, slot);
}

/* Did an UPDATE change any partition key column of this row? */
static bool
partition_key_changed(const TransitionRel *tr, TupleTableSlot *oldslot,
					  TupleTableSlot *newslot)
{
	int			i;

	if (tr->partkey_expr)
		return true;
	for (i = 0; i < tr->npartattrs; i++)
	{
		AttrNumber	attno = tr->partattrs[i];
		Form_pg_attribute att = TupleDescAttr(oldslot->tts_tupleDescriptor, attno - 1);
		bool		oldnull;
		bool		newnull;
		Datum		o = slot_getattr(oldslot, attno, &oldnull);
		Datum		n = slot_getattr(newslot, attno, &newnull);

		if (oldnull != newnull)
			return true;
		if (!oldnull && !datum_image_eq(o, n, att->attbyval, att->attlen))
			return true;
	}
	return false;
}

/* The trigger-protocol checks of enforce_transition, with clear errors. */
static void
enforce_check_protocol(FunctionCallInfo fcinfo)
{
	TriggerData *trigdata;
	TriggerEvent ev;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline.enforce_transition() was not called by the trigger manager"),
				 errhint("Use pipeline.can_transition() to test a move.")));
	trigdata = (TriggerData *) fcinfo->context;
	ev = trigdata->tg_event;
	if (!TRIGGER_FIRED_FOR_ROW(ev) ||
		!((TRIGGER_FIRED_BEFORE(ev) && TRIGGER_FIRED_BY_UPDATE(ev)) ||
		  (TRIGGER_FIRED_BEFORE(ev) && TRIGGER_FIRED_BY_INSERT(ev)) ||
		  (TRIGGER_FIRED_AFTER(ev) && TRIGGER_FIRED_BY_INSERT(ev))))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\": pipeline.enforce_transition() must fire BEFORE INSERT, BEFORE UPDATE or AFTER INSERT, FOR EACH ROW",
						trigdata->tg_trigger->tgname),
				 errdetail("Creation is checked AFTER INSERT because BEFORE INSERT also fires for an INSERT ... ON CONFLICT DO UPDATE that ends as an update."),
				 errhint("pipeline.attach() creates the right triggers.")));
	if (trigdata->tg_trigger->tgnargs < 1 || trigdata->tg_trigger->tgnargs > 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\": pipeline.enforce_transition() takes a stage column and an optional ruleset, not %d arguments",
						trigdata->tg_trigger->tgname, trigdata->tg_trigger->tgnargs),
				 errhint("pipeline.attach() creates the right triggers.")));
}

/*
 * 23514 for a time in the entered-at column that would give a visit a
 * negative length, or rewrite the start of the current one.
 */
static void
report_entered_at(TransitionRel *tr, TupleTableSlot *slot, const char *msg,
				  const char *detail)
{
	transition_rel_root(tr);
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg(msg, NameStr(tr->att.entered_at_column), tr->root_name),
			 errdetail("%s Failing row has key %s.", detail, transition_rel_key_text(tr, slot)),
			 errhint("The entered-at column holds when the row entered its current stage: set it together with the stage, to a time no earlier than the current stage was entered and not in the future, or leave it to the trigger."),
			 err_generic_string(PG_DIAG_SCHEMA_NAME, tr->root_schema),
			 err_generic_string(PG_DIAG_TABLE_NAME, tr->root_name),
			 err_generic_string(PG_DIAG_COLUMN_NAME, NameStr(tr->att.entered_at_column)),
			 err_generic_string(PG_DIAG_CONSTRAINT_NAME, tr->trigger_name)));
}

/* The row's tuple with the entered-at column set to t. */
static HeapTuple
set_entered_at(TransitionRel *tr, Relation rel, HeapTuple tuple, TimestampTz t)
{
	int			col = tr->entered_at_attnum;
	Datum		value = TimestampTzGetDatum(t);
	bool		isnull = false;

	return heap_modify_tuple_by_cols(tuple, RelationGetDescr(rel), 1, &col, &value, &isnull);
}

/*
 * BEFORE INSERT with an entered-at column: NULL is the time of creation
 * (now); a given time may not be in the future.  Returns the row to insert.
 */
static HeapTuple
entered_at_on_insert(TransitionRel *tr, TriggerData *trigdata)
{
	TupleTableSlot *slot = trigdata->tg_trigslot;
	bool		isnull;
	Datum		at = slot_getattr(slot, tr->entered_at_attnum, &isnull);
	TimestampTz now = GetCurrentTimestamp();

	if (isnull)
		return set_entered_at(tr, trigdata->tg_relation, trigdata->tg_trigtuple, now);
	if (DatumGetTimestampTz(at) > now)
		report_entered_at(tr, slot, "column \"%s\" of table \"%s\" dates a new row in the future",
						  psprintf("The row is dated %s, after the statement's clock_timestamp() %s.",
								   pstrdup(timestamptz_to_str(DatumGetTimestampTz(at))),
								   pstrdup(timestamptz_to_str(now))));
	return trigdata->tg_trigtuple;
}

/*
 * BEFORE UPDATE with an entered-at column.  A stage change is timed by the
 * new value when the statement changed the column, else now; the time may
 * be neither before the current stage was entered nor in the future.
 * Without a stage change the column may not change.  Returns the new row.
 */
static HeapTuple
entered_at_on_update(TransitionRel *tr, TriggerData *trigdata, bool stage_changed)
{
	TupleTableSlot *oldslot = trigdata->tg_trigslot;
	TupleTableSlot *newslot = trigdata->tg_newslot;
	bool		oldnull;
	bool		newnull;
	Datum		o = slot_getattr(oldslot, tr->entered_at_attnum, &oldnull);
	Datum		n = slot_getattr(newslot, tr->entered_at_attnum, &newnull);
	bool		changed = oldnull != newnull ||
		(!oldnull && DatumGetTimestampTz(o) != DatumGetTimestampTz(n));
	TimestampTz now;

	if (!stage_changed)
	{
		if (changed)
			report_entered_at(tr, newslot, "column \"%s\" of table \"%s\" changes only with the stage",
							  psprintf("The row entered its current stage at %s; the update sets %s without changing the stage.",
									   oldnull ? "(unknown)" : pstrdup(timestamptz_to_str(DatumGetTimestampTz(o))),
									   newnull ? "NULL" : pstrdup(timestamptz_to_str(DatumGetTimestampTz(n)))));
		return trigdata->tg_newtuple;
	}

	now = GetCurrentTimestamp();
	if (!changed || newnull)
		return set_entered_at(tr, trigdata->tg_relation, trigdata->tg_newtuple, now);
	if (!oldnull && DatumGetTimestampTz(n) < DatumGetTimestampTz(o))
		report_entered_at(tr, newslot, "stage change of table \"%2$s\" dated (column \"%1$s\") before the row entered its current stage",
						  psprintf("The row entered its current stage at %s; the move is dated %s.",
								   pstrdup(timestamptz_to_str(DatumGetTimestampTz(o))),
								   pstrdup(timestamptz_to_str(DatumGetTimestampTz(n)))));
	if (DatumGetTimestampTz(n) > now)
		report_entered_at(tr, newslot, "stage change of table \"%2$s\" dated (column \"%1$s\") in the future",
						  psprintf("The move is dated %s, after the statement's clock_timestamp() %s.",
								   pstrdup(timestamptz_to_str(DatumGetTimestampTz(n))),
								   pstrdup(timestamptz_to_str(now))));
	return trigdata->tg_newtuple;
}

/*
 * pipeline.enforce_transition(): trigger; argument (stage_column).  The
 * ruleset is the attachment's (pipeline.attached_tables); a trigger made by
 * 1.0's SQL objects names it as a second argument instead.
 *
 * BEFORE UPDATE: NEW's stage may not be NULL (23502) and OLD -> NEW must be
 * allowed (23514).  On a partition, a row whose partition key changes is
 * stashed with its old stage for the insert side of a possible move.  With
 * an entered-at column, the column follows its rules (above).
 *
 * BEFORE INSERT (only with an entered-at column): fills or checks it.
 *
 * AFTER INSERT: the stage may not be NULL; a row moved here by this
 * statement's UPDATE is validated against its old stage, any other row as a
 * creation.
 *
 * With pipeline.enforce_transitions off, only the NULL check, the
 * entered-at rules and the stash remain (history still needs the stash).
 */
static Datum
enforce_transition(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	EnforceCache *ec = (EnforceCache *) fcinfo->flinfo->fn_extra;
	TransitionRel *tr;

	if (ec == NULL || ec->rel.trigger_oid != trigdata->tg_trigger->tgoid)
	{
		MemoryContext cxt = fcinfo->flinfo->fn_mcxt;

		enforce_check_protocol(fcinfo);
		ec = MemoryContextAllocZero(cxt, sizeof(EnforceCache));
		stage_call_cache_init(&ec->cc);
		transition_rel_init(&ec->rel, trigdata, cxt, "pipeline.enforce_transition");
		if (!ec->rel.legacy)
			ec->ruleset_name = ec->rel.att.ruleset;
		else
			ec->ruleset_name = MemoryContextStrdup(cxt,
												   trigdata->tg_trigger->tgnargs > 1 ?
												   trigdata->tg_trigger->tgargs[1] : "strict");
		fcinfo->flinfo->fn_extra = ec;
	}
	tr = &ec->rel;

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		TupleTableSlot *oldslot = trigdata->tg_trigslot;
		TupleTableSlot *newslot = trigdata->tg_newslot;
		bool		oldnull;
		bool		newnull;
		Datum		oldval;
		Datum		newval;
		bool		stage_changed;
		HeapTuple	result = trigdata->tg_newtuple;

		newval = slot_getattr(newslot, tr->attnum, &newnull);
		if (newnull)
			report_null_stage(tr);
		oldval = slot_getattr(oldslot, tr->attnum, &oldnull);
		stage_changed = oldnull || DatumGetObjectId(oldval) != DatumGetObjectId(newval);
		if (pipeline_enforce_transitions && stage_changed)
			enforce_check(ec, oldnull, DatumGetObjectId(oldval), DatumGetObjectId(newval), newslot);
		if (tr->entered_at_attnum > 0)
			result = entered_at_on_update(tr, trigdata, stage_changed);

		if (tr->is_partition && partition_key_changed(tr, oldslot, newslot))
		{
			if (tr->nkeys == 0)
			{
				transition_rel_root(tr);
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot track a row of \"%s\" moving between partitions without a primary key",
								tr->root_name)));
			}
			transition_rel_stash_move(tr, oldslot, newslot, DatumGetObjectId(oldval), oldnull);
		}
		return PointerGetDatum(result);
	}
	else if (TRIGGER_FIRED_BEFORE(trigdata->tg_event))
	{
		if (tr->entered_at_attnum > 0)
			return PointerGetDatum(entered_at_on_insert(tr, trigdata));
		return PointerGetDatum(trigdata->tg_trigtuple);
	}
	else
	{
		TupleTableSlot *slot = trigdata->tg_trigslot;
		bool		isnull;
		Datum		val = slot_getattr(slot, tr->attnum, &isnull);
		Oid			old_stage;
		bool		old_isnull;

		if (isnull)
			report_null_stage(tr);
		if (transition_rel_moved_from(tr, slot, &old_stage, &old_isnull))
		{
			if (pipeline_enforce_transitions &&
				(old_isnull || old_stage != DatumGetObjectId(val)))
				enforce_check(ec, old_isnull, old_stage, DatumGetObjectId(val), slot);
		}
		else if (pipeline_enforce_transitions)
			enforce_check(ec, true, InvalidOid, DatumGetObjectId(val), slot);
		return PointerGetDatum(NULL);
	}
}

/* In a Citus shard COPY, errors keep their fields (citus_call_trigger). */
Datum
pipeline_enforce_transition(PG_FUNCTION_ARGS)
{
	return citus_call_trigger(enforce_transition, fcinfo);
}
