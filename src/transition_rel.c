/*
 * transition_rel.c
 *		What the transition triggers (enforce_transition, record_transition)
 *		know about the relation they fire on, resolved once per trigger per
 *		query: the stage column, the table the trigger was defined on (the
 *		partitioned root), its primary key, its partition keys and its
 *		attachment; and the keys of rows moving between partitions, as the
 *		per-statement stash holds them.
 */
#include "compat.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "stage_meta.h"
#include "transition.h"

/* Does relation relid have a trigger named tgname? */
static bool
rel_has_trigger(Oid relid, const char *tgname)
{
	Relation	tgrel;
	ScanKeyData keys[2];
	SysScanDesc scan;
	bool		found;

	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&keys[0], Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], Anum_pg_trigger_tgname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(tgname));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 2, keys);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return found;
}

/*
 * Resolve, once per trigger per query, everything a transition trigger needs
 * to know about its relation.  All allocations go to cxt (the function's
 * fn_mcxt, freed with the query).  funcname is for error messages.
 */
void
transition_rel_init(TransitionRel *tr, TriggerData *trigdata,
					MemoryContext cxt, const char *funcname)
{
	Relation	rel = trigdata->tg_relation;
	Trigger    *trigger = trigdata->tg_trigger;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	MemoryContext oldcxt;
	const char *column;
	Oid			pkoid;
	bool		attached;
	int			i;

	oldcxt = MemoryContextSwitchTo(cxt);
	memset(tr, 0, sizeof(*tr));
	tr->query_cxt = cxt;
	tr->trigger_oid = trigger->tgoid;
	tr->relid = RelationGetRelid(rel);
	tr->trigger_name = pstrdup(trigger->tgname);

	if (trigger->tgnargs < 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table \"%s\" does not name its stage column",
						trigger->tgname, RelationGetRelationName(rel)),
				 errhint("%s() takes the stage column as its first argument; pipeline.attach() creates these triggers.",
						 funcname)));
	column = trigger->tgargs[0];
	tr->column_name = pstrdup(column);

	/* The stage column, by name, in this relation's own numbering. */
	tr->attnum = InvalidAttrNumber;
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
		{
			tr->attnum = att->attnum;
			tr->stage_type = att->atttypid;
			break;
		}
	}
	if (tr->attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("stage column \"%s\" of trigger \"%s\" does not exist in table \"%s\"",
						column, trigger->tgname, RelationGetRelationName(rel)),
				 errdetail("The column was dropped or renamed after pipeline.attach() named it."),
				 errhint("Run pipeline.detach() for the old column name and pipeline.attach() for the new one.")));

	/* 42809 when not an enum, 42704 when not registered. */
	(void) stage_type_get(tr->stage_type, false);

	/* The table the trigger was defined on: errors name it. */
	tr->root_relid = tr->relid;
	if (rel->rd_rel->relispartition)
	{
		List	   *ancestors = get_partition_ancestors(tr->relid);
		int			n = list_length(ancestors);
		List	   *partattrs = NIL;
		ListCell   *lc;

		tr->is_partition = true;

		/* topmost ancestor first: the one the trigger was cloned from */
		for (i = n - 1; i >= 0; i--)
		{
			Oid			anc = list_nth_oid(ancestors, i);

			if (rel_has_trigger(anc, trigger->tgname))
			{
				tr->root_relid = anc;
				break;
			}
		}

		/* Every ancestor's partition key, as columns of this relation. */
		foreach(lc, ancestors)
		{
			Oid			anc = lfirst_oid(lc);
			Relation	arel = relation_open(anc, AccessShareLock);
			PartitionKey key = RelationGetPartitionKey(arel);
			int			k;

			for (k = 0; key != NULL && k < get_partition_natts(key); k++)
			{
				AttrNumber	aattno = get_partition_col_attnum(key, k);
				char	   *name;
				AttrNumber	leafattno;

				if (aattno == 0)
				{
					tr->partkey_expr = true;
					continue;
				}
				name = get_attname(anc, aattno, false);
				leafattno = get_attnum(tr->relid, name);
				if (leafattno == InvalidAttrNumber)
					tr->partkey_expr = true;	/* cannot happen; be safe */
				else
					partattrs = lappend_int(partattrs, leafattno);
			}
			relation_close(arel, AccessShareLock);
		}
		tr->npartattrs = list_length(partattrs);
		tr->partattrs = palloc(sizeof(AttrNumber) * Max(tr->npartattrs, 1));
		i = 0;
		foreach(lc, partattrs)
			tr->partattrs[i++] = (AttrNumber) lfirst_int(lc);
	}

	/* Primary key columns, in key order: the history's key, the stash key. */
	pkoid = compat_RelationGetPrimaryKeyIndex(rel);
	if (OidIsValid(pkoid))
	{
		Relation	idx = index_open(pkoid, AccessShareLock);
		Form_pg_index index = idx->rd_index;

		tr->nkeys = index->indnkeyatts;
		for (i = 0; i < tr->nkeys; i++)
		{
			AttrNumber	attno = index->indkey.values[i];
			Form_pg_attribute att = TupleDescAttr(tupdesc, attno - 1);

			tr->keyattrs[i] = attno;
			tr->keylen[i] = att->attlen;
			tr->keybyval[i] = att->attbyval;
			tr->keytypes[i] = att->atttypid;
			tr->keynames[i] = pstrdup(NameStr(att->attname));
			tr->keyeqops[i] = get_opfamily_member(idx->rd_opfamily[i], idx->rd_opcintype[i],
												  idx->rd_opcintype[i], BTEqualStrategyNumber);
		}
		index_close(idx, AccessShareLock);
	}

	/*
	 * A Citus shard (of the table, or of its partitioned root): the table is
	 * what is attached, and what errors name.
	 */
	{
		char	   *guess = NULL;

		if (citus_shard_lookup(tr->root_relid, &tr->citus, &guess))
			tr->root_relid = tr->citus.logical_relid;
		tr->citus_guess = guess;
	}

	/* The attachment of the table the trigger was defined on. */
	tr->legacy = !attachment_config_exists();
	attached = tr->legacy || attachment_get(tr->root_relid, column, &tr->att, cxt);
	if (!attached && (OidIsValid(tr->citus.shard_relid) || tr->citus_guess != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" was distributed by Citus after pipeline.attach(): detach it, distribute it, then attach it again",
						OidIsValid(tr->citus.shard_relid) ?
						get_rel_name(tr->root_relid) : tr->citus_guess),
				 errdetail("Trigger \"%s\" on its shard \"%s\" calls %s(), but this node has no attachment for the table.",
						   trigger->tgname, RelationGetRelationName(rel), funcname),
				 errhint("Distribute an attached table in this order: pipeline.detach() it, run create_distributed_table(), then run pipeline.attach() again; its stage history table is kept and distributed with it.")));
	if (!attached)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not attached to a pipeline on column \"%s\"",
						get_rel_name(tr->root_relid), column),
				 errdetail("Trigger \"%s\" calls %s(), but pipeline.attached_tables has no row for that table and column.",
						   trigger->tgname, funcname),
				 errhint("Run pipeline.attach() for the table, or drop the trigger.")));

	/* The entered-at column, by name in this relation, as a timestamptz. */
	if (!tr->legacy && tr->att.has_entered_at)
	{
		const char *ecol = NameStr(tr->att.entered_at_column);

		tr->entered_at_attnum = get_attnum(tr->relid, ecol);
		if (tr->entered_at_attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("entered-at column \"%s\" of table \"%s\" does not exist",
							ecol, RelationGetRelationName(rel)),
					 errhint("Run pipeline.attach() again with the column's new name, or without entered_at_column.")));
		if (TupleDescAttr(tupdesc, tr->entered_at_attnum - 1)->atttypid != TIMESTAMPTZOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("entered-at column \"%s\" of table \"%s\" is not of type timestamp with time zone",
							ecol, RelationGetRelationName(rel))));
	}

	MemoryContextSwitchTo(oldcxt);
}

/*
 * Names and owner of the table the trigger was defined on, looked up only
 * when needed (an error, or history's first row of the query), so that a
 * single-row statement pays no catalog lookups for them.
 */
void
transition_rel_root(TransitionRel *tr)
{
	MemoryContext oldcxt;
	HeapTuple	tp;
	Form_pg_class classform;

	if (tr->root_name != NULL)
		return;
	oldcxt = MemoryContextSwitchTo(tr->query_cxt);
	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(tr->root_relid));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for relation %u", tr->root_relid);
	classform = (Form_pg_class) GETSTRUCT(tp);
	tr->root_owner = classform->relowner;
	tr->root_schema = get_namespace_name(classform->relnamespace);
	if (tr->root_schema == NULL)
		elog(ERROR, "cache lookup failed for namespace %u", classform->relnamespace);
	tr->root_name = pstrdup(NameStr(classform->relname));
	ReleaseSysCache(tp);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Serialize the primary key of the row in slot into buf, after a byte that
 * says which side of a move it names (STASH_NEW_ROW: the row arriving, found
 * by the insert side; STASH_OLD_ROW: the row leaving, found by the delete
 * side -- the key changes, since it includes the partition key): a byte per column
 * saying NULL or not, then the value's bytes (detoasted for varlena).  The
 * two sides of a partition move see the same values, so byte equality is
 * the right test.
 */
static void
transition_rel_stash_key(const TransitionRel *tr, TupleTableSlot *slot,
						 char side, StringInfo buf)
{
	int			i;

	resetStringInfo(buf);
	appendStringInfoChar(buf, side);
	for (i = 0; i < tr->nkeys; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, tr->keyattrs[i], &isnull);

		if (isnull)
		{
			appendStringInfoChar(buf, 'n');
			continue;
		}
		appendStringInfoChar(buf, 'v');
		if (tr->keybyval[i])
			appendBinaryStringInfo(buf, (char *) &d, sizeof(Datum));
		else if (tr->keylen[i] == -1)
		{
			struct varlena *v = PG_DETOAST_DATUM_PACKED(d);
			int32		len = VARSIZE_ANY_EXHDR(v);

			appendBinaryStringInfo(buf, (char *) &len, sizeof(len));
			appendBinaryStringInfo(buf, VARDATA_ANY(v), len);
		}
		else if (tr->keylen[i] == -2)
			appendBinaryStringInfo(buf, DatumGetPointer(d),
								   strlen(DatumGetPointer(d)) + 1);
		else
			appendBinaryStringInfo(buf, DatumGetPointer(d), tr->keylen[i]);
	}
}

/*
 * Is the row in slot, as the given side of a move, stashed by this
 * statement's BEFORE UPDATE trigger?  If so, return the stage it had.
 */
static inline bool
transition_rel_stash_find(const TransitionRel *tr, TupleTableSlot *slot, char side,
						  Oid *old_stage, bool *old_isnull)
{
	StringInfoData buf;
	bool		found;

	if (!tr->is_partition || tr->nkeys == 0)
		return false;
	initStringInfo(&buf);
	transition_rel_stash_key(tr, slot, side, &buf);
	found = transition_stash_get(tr->query_cxt, tr->root_relid,
								 buf.data, buf.len, old_stage, old_isnull);
	pfree(buf.data);
	return found;
}

/*
 * Is the row just inserted in slot the insert half of a cross-partition
 * UPDATE of this statement?  If so, return the stage it had before.
 */
bool
transition_rel_moved_from(const TransitionRel *tr, TupleTableSlot *slot,
						  Oid *old_stage, bool *old_isnull)
{
	return transition_rel_stash_find(tr, slot, STASH_NEW_ROW, old_stage, old_isnull);
}

/*
 * Is the row in slot (the old row of a DELETE) the delete half of a
 * cross-partition UPDATE of this statement?  Such a row was stashed by the
 * BEFORE UPDATE trigger.
 */
bool
transition_rel_moving(const TransitionRel *tr, TupleTableSlot *slot)
{
	Oid			old_stage;
	bool		old_isnull;

	return transition_rel_stash_find(tr, slot, STASH_OLD_ROW, &old_stage, &old_isnull);
}

/*
 * "(k1, k2)=(v1, v2)": the primary key of the row in slot, as PostgreSQL's
 * own constraint errors show keys, for messages that must name the row.
 */
char *
transition_rel_key_text(const TransitionRel *tr, TupleTableSlot *slot)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	for (i = 0; i < tr->nkeys; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", quote_identifier(tr->keynames[i]));
	appendStringInfoString(&buf, ")=(");
	for (i = 0; i < tr->nkeys; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, tr->keyattrs[i], &isnull);
		Oid			out;
		bool		varlena;

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		if (isnull)
		{
			appendStringInfoString(&buf, "null");
			continue;
		}
		getTypeOutputInfo(tr->keytypes[i], &out, &varlena);
		appendStringInfoString(&buf, OidOutputFunctionCall(out, d));
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * A row of this statement is moving to another partition: stash its old
 * stage under its new key (for the insert side) and its old key (for the
 * delete side, which is then not a deletion).
 */
void
transition_rel_stash_move(const TransitionRel *tr, TupleTableSlot *oldslot,
						  TupleTableSlot *newslot, Oid old_stage, bool old_isnull)
{
	StringInfoData buf;

	initStringInfo(&buf);
	transition_rel_stash_key(tr, newslot, STASH_NEW_ROW, &buf);
	transition_stash_put(tr->query_cxt, tr->root_relid, buf.data, buf.len,
						 old_stage, old_isnull);
	transition_rel_stash_key(tr, oldslot, STASH_OLD_ROW, &buf);
	transition_stash_put(tr->query_cxt, tr->root_relid, buf.data, buf.len,
						 old_stage, old_isnull);
	pfree(buf.data);
}
