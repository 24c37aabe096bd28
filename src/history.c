/*
 * history.c
 *		pipeline.record_transition(): the trigger that appends a row to a
 *		table's stage history for every transition.
 *
 * pipeline.attach() installs it AFTER INSERT (creation, or the insert half
 * of a cross-partition move) and AFTER UPDATE ... WHEN (OLD.col IS DISTINCT
 * FROM NEW.col), so updates that leave the stage alone queue no work.
 *
 * The row is written through a saved SPI plan, one per history table and
 * backend (as ri_triggers.c does for foreign keys), with the rights of the
 * owner of the table the trigger was defined on: the table's writers need
 * no privilege on the history table, so they cannot forge or delete it.
 * changed_by is the current_user of the changing statement, taken before
 * switching; changed_at is clock_timestamp(); seq comes from the history
 * table's identity column.
 */
#include "compat.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "commands/sequence.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/varlena.h"

#include "stage_meta.h"
#include "transition.h"

PG_FUNCTION_INFO_V1(pipeline_record_transition);

#define HISTORY_MAX_ARGS (TRANSITION_MAX_KEYS + 3)

/* A saved plan inserting into one history table. */
typedef struct HistoryPlan
{
	Oid			hist_relid;		/* hash key */
	char	   *sql;			/* in TopMemoryContext */
	int			nargs;
	Oid			argtypes[HISTORY_MAX_ARGS];
	SPIPlanPtr	plan;
} HistoryPlan;

/* fn_extra of record_transition: one per trigger per query. */
typedef struct RecordCache
{
	TransitionRel rel;
	Oid			hist_relid;
	int			nkeys;
	AttrNumber	keyattrs[TRANSITION_MAX_KEYS];	/* in the trigger's relation */
	int			nargs;
	HistoryPlan *plan;
	Oid			user_cached;
	NameData	user_name;

	/*
	 * Direct path: when the history table is exactly what attach creates
	 * (plain table, no triggers, RLS, CHECKs, extra columns, expression or
	 * partial or exclusion or deferred indexes), rows are formed here and
	 * inserted with heap and index inserts, as catalog rows are, instead of
	 * running an executor per row.  Otherwise the saved SPI plan is used.
	 */
	bool		direct;
	int			hnatts;
	AttrNumber	hkeyattrs[TRANSITION_MAX_KEYS];	/* key columns in the history table */
	AttrNumber	hfrom;
	AttrNumber	hto;
	AttrNumber	hchanged_at;
	AttrNumber	hchanged_by;
	AttrNumber	hseq;
	Oid			seq_relid;		/* the identity sequence of seq */
	Datum	   *hvalues;
	bool	   *hnulls;
} RecordCache;

static HTAB *history_plans = NULL;

static void history_check_direct(RecordCache *rc, Relation hist, MemoryContext cxt);

/* Fixed columns of a history table; the others are the target's key. */
static bool
is_history_column(const char *name)
{
	return strcmp(name, "from_stage") == 0 || strcmp(name, "to_stage") == 0 ||
		strcmp(name, "changed_at") == 0 || strcmp(name, "changed_by") == 0 ||
		strcmp(name, "seq") == 0;
}

/*
 * The saved plan for this history table and statement text, prepared (and
 * kept for the life of the backend) if it is new or the table changed shape.
 */
static HistoryPlan *
history_plan_get(Oid hist_relid, const char *sql, int nargs, Oid *argtypes)
{
	HistoryPlan *hp;
	bool		found;
	SPIPlanPtr	plan;

	if (history_plans == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(HistoryPlan);
		history_plans = hash_create("pipeline history plans", 16, &ctl,
									HASH_ELEM | HASH_BLOBS);
	}
	hp = hash_search(history_plans, &hist_relid, HASH_ENTER, &found);
	if (found && hp->plan != NULL && hp->nargs == nargs &&
		strcmp(hp->sql, sql) == 0 &&
		memcmp(hp->argtypes, argtypes, sizeof(Oid) * nargs) == 0)
		return hp;

	if (found && hp->plan != NULL)
	{
		SPI_freeplan(hp->plan);
		pfree(hp->sql);
	}
	hp->plan = NULL;
	hp->sql = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare returned %s for %s",
			 SPI_result_code_string(SPI_result), sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	hp->sql = MemoryContextStrdup(TopMemoryContext, sql);
	hp->nargs = nargs;
	memcpy(hp->argtypes, argtypes, sizeof(Oid) * nargs);
	hp->plan = plan;
	return hp;
}

/*
 * Resolve the history table named by the trigger and match its columns to
 * the relation's: key columns by name and type, from_stage/to_stage of the
 * stage type.  Builds (or finds) the saved INSERT plan.
 */
static void
record_cache_init(RecordCache *rc, TriggerData *trigdata, MemoryContext cxt)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	TupleDesc	reldesc = RelationGetDescr(rel);
	const char *histname = trigger->tgargs[1];
	List	   *names;
	Relation	hist;
	TupleDesc	hdesc;
	StringInfoData cols;
	StringInfoData sql;
	Oid			argtypes[HISTORY_MAX_ARGS];
	bool		seen_from = false,
				seen_to = false;
	int			i;

	transition_rel_init(&rc->rel, trigdata, cxt, "pipeline.record_transition");
	transition_rel_root(&rc->rel);

	/*
	 * The history table is written with the table owner's rights: never
	 * resolve its name through the writer's search_path, which could point
	 * the insert (and the triggers of the table it lands in) elsewhere.
	 * attach() always writes a schema-qualified name.
	 */
	names = compat_stringToQualifiedNameList(histname);
	if (list_length(names) < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("history table \"%s\" of trigger \"%s\" on table \"%s\" is not schema-qualified",
						histname, trigger->tgname, RelationGetRelationName(rel)),
				 errhint("Run pipeline.attach() again: it names the history table with its schema.")));
	rc->hist_relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
	if (!OidIsValid(rc->hist_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("history table \"%s\" of trigger \"%s\" on table \"%s\" does not exist",
						histname, trigger->tgname, RelationGetRelationName(rel)),
				 errhint("Run pipeline.attach() again to recreate it, or with track_history => false.")));

	hist = table_open(rc->hist_relid, AccessShareLock);
	hdesc = RelationGetDescr(hist);
	initStringInfo(&cols);
	rc->nkeys = 0;
	for (i = 0; i < hdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(hdesc, i);
		const char *name = NameStr(att->attname);
		int			j;
		AttrNumber	relattno = InvalidAttrNumber;

		if (att->attisdropped)
			continue;
		if (strcmp(name, "from_stage") == 0 || strcmp(name, "to_stage") == 0)
		{
			if (att->atttypid != rc->rel.stage_type)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of history table \"%s\" has type %s, not the stage type %s",
								name, histname, format_type_be(att->atttypid),
								format_type_be(rc->rel.stage_type))));
			if (name[0] == 'f')
			{
				seen_from = true;
				rc->hfrom = att->attnum;
			}
			else
			{
				seen_to = true;
				rc->hto = att->attnum;
			}
			continue;
		}
		if (is_history_column(name))
		{
			if (strcmp(name, "changed_at") == 0 && att->atttypid == TIMESTAMPTZOID)
				rc->hchanged_at = att->attnum;
			else if (strcmp(name, "changed_by") == 0 && att->atttypid == NAMEOID)
				rc->hchanged_by = att->attnum;
			else if (strcmp(name, "seq") == 0 && att->atttypid == INT8OID &&
					 att->attidentity != '\0')
				rc->hseq = att->attnum;
			continue;
		}

		/* a key column: same name and type in the trigger's relation */
		for (j = 0; j < reldesc->natts; j++)
		{
			Form_pg_attribute ratt = TupleDescAttr(reldesc, j);

			if (!ratt->attisdropped && strcmp(NameStr(ratt->attname), name) == 0)
			{
				if (ratt->atttypid != att->atttypid)
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("column \"%s\" of history table \"%s\" has type %s, but column \"%s\" of \"%s\" has type %s",
									name, histname, format_type_be(att->atttypid),
									name, RelationGetRelationName(rel),
									format_type_be(ratt->atttypid))));
				relattno = ratt->attnum;
				break;
			}
		}
		if (relattno == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("history table \"%s\" has column \"%s\", which table \"%s\" does not have",
							histname, name, RelationGetRelationName(rel))));
		if (rc->nkeys >= TRANSITION_MAX_KEYS)
			ereport(ERROR,
					(errcode(ERRCODE_TOO_MANY_COLUMNS),
					 errmsg("history table \"%s\" has more than %d key columns",
							histname, TRANSITION_MAX_KEYS)));
		rc->keyattrs[rc->nkeys] = relattno;
		rc->hkeyattrs[rc->nkeys] = att->attnum;
		argtypes[rc->nkeys] = att->atttypid;
		rc->nkeys++;
		appendStringInfo(&cols, "%s, ", quote_identifier(name));
	}
	if (!seen_from || !seen_to)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" is not a stage history table", histname),
				 errdetail("It lacks column from_stage or to_stage.")));

	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s.%s (%sfrom_stage, to_stage, changed_at, changed_by) VALUES (",
					 quote_identifier(get_namespace_name(RelationGetNamespace(hist))),
					 quote_identifier(RelationGetRelationName(hist)),
					 cols.data);
	for (i = 0; i < rc->nkeys + 2; i++)
		appendStringInfo(&sql, "$%d, ", i + 1);
	appendStringInfo(&sql, "pg_catalog.clock_timestamp(), $%d)", rc->nkeys + 3);
	argtypes[rc->nkeys] = rc->rel.stage_type;
	argtypes[rc->nkeys + 1] = rc->rel.stage_type;
	argtypes[rc->nkeys + 2] = NAMEOID;
	rc->nargs = rc->nkeys + 3;
	rc->hnatts = hdesc->natts;
	history_check_direct(rc, hist, cxt);
	table_close(hist, AccessShareLock);

	rc->plan = history_plan_get(rc->hist_relid, sql.data, rc->nargs, argtypes);
	pfree(sql.data);
	pfree(cols.data);
}

/*
 * Can rows go into this history table without an executor (see
 * RecordCache.direct)?  Checks, once per query, that the table is a plain
 * table with nothing that runs or checks on insert but NOT NULL and plain
 * unique indexes, and that the owner of the trigger's table may insert into
 * it -- the executor's permission check, which the direct path skips.
 */
static void
history_check_direct(RecordCache *rc, Relation hist, MemoryContext cxt)
{
	TupleDesc	hdesc = RelationGetDescr(hist);
	List	   *indexes;
	ListCell   *lc;
	AclResult	aclresult;
	Datum		seqname;

	rc->direct = false;
	aclresult = pg_class_aclcheck(RelationGetRelid(hist), rc->rel.root_owner, ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(hist));

	if (hist->rd_rel->relkind != RELKIND_RELATION || hist->trigdesc != NULL ||
		hist->rd_rel->relrowsecurity ||
		(hdesc->constr != NULL &&
		 (hdesc->constr->num_check > 0 || hdesc->constr->has_generated_stored)) ||
		rc->hchanged_at == 0 || rc->hchanged_by == 0 || rc->hseq == 0)
		return;

	indexes = RelationGetIndexList(hist);
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		bool		plain;

		plain = idx->rd_index->indimmediate && !idx->rd_index->indisexclusion &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL);
		index_close(idx, AccessShareLock);
		if (!plain)
			return;
	}
	list_free(indexes);

	seqname = DirectFunctionCall2(pg_get_serial_sequence,
								  CStringGetTextDatum(quote_qualified_identifier(
																				 get_namespace_name(RelationGetNamespace(hist)),
																				 RelationGetRelationName(hist))),
								  CStringGetTextDatum("seq"));
	rc->seq_relid = RangeVarGetRelid(makeRangeVarFromNameList(textToQualifiedNameList(DatumGetTextPP(seqname))),
									 NoLock, false);
	rc->hvalues = MemoryContextAlloc(cxt, sizeof(Datum) * rc->hnatts);
	rc->hnulls = MemoryContextAlloc(cxt, sizeof(bool) * rc->hnatts);
	rc->direct = true;
}

/*
 * Insert one history row directly: form the tuple (seq from the identity
 * sequence, changed_at = clock_timestamp()) and insert it with its index
 * entries.  values/nulls are in the SPI plan's parameter order.
 */
static void
history_insert_direct(RecordCache *rc, Datum *values, const char *nulls)
{
	Relation	hist;
	HeapTuple	tup;
	int			i;

	for (i = 0; i < rc->hnatts; i++)
	{
		rc->hvalues[i] = (Datum) 0;
		rc->hnulls[i] = true;
	}
	for (i = 0; i < rc->nkeys; i++)
	{
		rc->hvalues[rc->hkeyattrs[i] - 1] = values[i];
		rc->hnulls[rc->hkeyattrs[i] - 1] = (nulls[i] == 'n');
	}
	rc->hvalues[rc->hfrom - 1] = values[rc->nkeys];
	rc->hnulls[rc->hfrom - 1] = (nulls[rc->nkeys] == 'n');
	rc->hvalues[rc->hto - 1] = values[rc->nkeys + 1];
	rc->hnulls[rc->hto - 1] = false;
	rc->hvalues[rc->hchanged_by - 1] = values[rc->nkeys + 2];
	rc->hnulls[rc->hchanged_by - 1] = false;
	rc->hvalues[rc->hchanged_at - 1] = TimestampTzGetDatum(GetCurrentTimestamp());
	rc->hnulls[rc->hchanged_at - 1] = false;
	rc->hvalues[rc->hseq - 1] = Int64GetDatum(nextval_internal(rc->seq_relid, false));
	rc->hnulls[rc->hseq - 1] = false;

	hist = table_open(rc->hist_relid, RowExclusiveLock);
	tup = heap_form_tuple(RelationGetDescr(hist), rc->hvalues, rc->hnulls);
	CatalogTupleInsert(hist, tup);
	heap_freetuple(tup);
	table_close(hist, NoLock);
}

/* The trigger-protocol checks of record_transition, with clear errors. */
static void
record_check_protocol(FunctionCallInfo fcinfo)
{
	TriggerData *trigdata;
	TriggerEvent ev;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline.record_transition() was not called by the trigger manager")));
	trigdata = (TriggerData *) fcinfo->context;
	ev = trigdata->tg_event;
	if (!TRIGGER_FIRED_FOR_ROW(ev) || !TRIGGER_FIRED_AFTER(ev) ||
		!(TRIGGER_FIRED_BY_INSERT(ev) || TRIGGER_FIRED_BY_UPDATE(ev)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\": pipeline.record_transition() must fire AFTER INSERT or AFTER UPDATE, FOR EACH ROW",
						trigdata->tg_trigger->tgname),
				 errhint("pipeline.attach() creates the right triggers.")));
	if (trigdata->tg_trigger->tgnargs != 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\": pipeline.record_transition() takes a stage column and a history table, not %d arguments",
						trigdata->tg_trigger->tgname, trigdata->tg_trigger->tgnargs),
				 errhint("pipeline.attach() creates the right triggers.")));
}

/*
 * pipeline.record_transition(): trigger; arguments (stage_column,
 * history_table).  Appends (key, from_stage, to_stage, clock_timestamp(),
 * current_user) to the history table: from_stage NULL for a created row,
 * the stage before the statement for a row moved between partitions (not
 * recorded when the stage did not change), OLD's stage for an update.
 */
Datum
pipeline_record_transition(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	RecordCache *rc = (RecordCache *) fcinfo->flinfo->fn_extra;
	TupleTableSlot *slot;
	Datum		values[HISTORY_MAX_ARGS];
	char		nulls[HISTORY_MAX_ARGS];
	bool		isnull;
	Datum		to;
	Oid			userid;
	Oid			save_userid;
	int			save_sec_context;
	int			i;
	int			ret;

	if (rc == NULL || rc->rel.trigger_oid != trigdata->tg_trigger->tgoid)
	{
		MemoryContext cxt = fcinfo->flinfo->fn_mcxt;

		record_check_protocol(fcinfo);
		rc = MemoryContextAllocZero(cxt, sizeof(RecordCache));
		record_cache_init(rc, trigdata, cxt);
		fcinfo->flinfo->fn_extra = rc;
	}

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		bool		oldnull;
		Datum		from;

		slot = trigdata->tg_newslot;
		to = slot_getattr(slot, rc->rel.attnum, &isnull);
		from = slot_getattr(trigdata->tg_trigslot, rc->rel.attnum, &oldnull);
		if (isnull || (!oldnull && DatumGetObjectId(from) == DatumGetObjectId(to)))
			return PointerGetDatum(NULL);
		values[rc->nkeys] = from;
		nulls[rc->nkeys] = oldnull ? 'n' : ' ';
	}
	else
	{
		Oid			old_stage;
		bool		old_isnull;

		slot = trigdata->tg_trigslot;
		to = slot_getattr(slot, rc->rel.attnum, &isnull);
		if (isnull)
			return PointerGetDatum(NULL);
		if (transition_rel_moved_from(&rc->rel, slot, &old_stage, &old_isnull))
		{
			if (!old_isnull && old_stage == DatumGetObjectId(to))
				return PointerGetDatum(NULL);
			values[rc->nkeys] = ObjectIdGetDatum(old_stage);
			nulls[rc->nkeys] = old_isnull ? 'n' : ' ';
		}
		else
		{
			values[rc->nkeys] = (Datum) 0;
			nulls[rc->nkeys] = 'n';
		}
	}

	for (i = 0; i < rc->nkeys; i++)
	{
		values[i] = slot_getattr(slot, rc->keyattrs[i], &isnull);
		nulls[i] = isnull ? 'n' : ' ';
	}
	values[rc->nkeys + 1] = to;
	nulls[rc->nkeys + 1] = ' ';

	userid = GetUserId();
	if (userid != rc->user_cached)
	{
		namestrcpy(&rc->user_name, GetUserNameFromId(userid, false));
		rc->user_cached = userid;
	}
	values[rc->nkeys + 2] = NameGetDatum(&rc->user_name);
	nulls[rc->nkeys + 2] = ' ';

	if (rc->direct)
	{
		history_insert_direct(rc, values, nulls);
		return PointerGetDatum(NULL);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rc->rel.root_owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_NOFORCE_RLS);
	ret = SPI_execute_plan(rc->plan->plan, values, nulls, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan returned %s", SPI_result_code_string(ret));
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	return PointerGetDatum(NULL);
}
