/*
 * history.c
 *		pipeline.record_transition(): the trigger that appends a row to a
 *		table's stage history for every transition, and the writer that
 *		inserts those rows.
 *
 * pipeline.attach() installs the trigger AFTER INSERT (creation, or the
 * insert half of a cross-partition move), AFTER UPDATE ... WHEN (OLD.col
 * IS DISTINCT FROM NEW.col), so updates that leave the stage alone queue no
 * work, and AFTER DELETE (a deletion is history too).
 *
 * The history table is the one pipeline.attached_tables names, by OID: a
 * rename keeps history flowing into it, and a table later created under the
 * old name receives nothing.  It must belong to the owner of the attached
 * table, whose rights the rows are written with (so the table's writers
 * need no privilege on it and cannot forge or delete history), and nothing
 * that another role owns ever runs with those rights.
 *
 * Rows are written like any other insert, through the executor: a saved
 * plan (one per history table, as ri_triggers.c keeps for foreign keys),
 * prepared and run as the owner, so every constraint, default, trigger,
 * generated column and access method of the history table applies.  To
 * keep that cheap for statements that move many rows, the trigger queues
 * the rows and the queue is written with one
 *
 *		INSERT INTO history (...) SELECT ... FROM pipeline_history_rows
 *
 * (an ephemeral named relation holding the batch; INSERT ... VALUES for a
 * statement that queued one row)
 * when the statement that queued them ends (the executor's ExecutorEnd, or
 * a utility statement such as COPY), or every HISTORY_BATCH_ROWS rows.  The
 * rows of a statement are therefore visible to the next statement, as they
 * would be if each had been inserted by the trigger itself, and seq follows
 * the order in which the triggers fired.  A (sub)transaction abort drops
 * the rows it queued.  In the one statement during which this library is
 * loaded, if it is a utility statement, the end of the statement is not
 * seen by the hooks, so each row is written as it is queued.
 */
#include "compat.h"

#include "access/parallel.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/pquery.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/queryenvironment.h"

#include "attachment.h"
#include "citus.h"
#include "history.h"
#include "stage_meta.h"
#include "transition.h"

PG_FUNCTION_INFO_V1(pipeline_record_transition);

/* Rows queued for one history table before they are written anyway. */
#define HISTORY_BATCH_ROWS 8192

/* Rounds of writing in which each round's triggers queued more rows. */
#define HISTORY_MAX_FLUSH_ROUNDS 1000

/* Identifies a history table as written for one attached table. */
typedef struct HistoryKey
{
	Oid			hist_relid;
	Oid			root_relid;
} HistoryKey;

/* A saved plan's identity: the history table, and one row or a batch. */
typedef struct HistoryPlanKey
{
	HistoryKey	history;
	bool		single;
} HistoryPlanKey;

/*
 * Rows a saved plan writes before it is prepared again (the first time;
 * then each time the rows written through this entry have doubled).
 */
#define HISTORY_REPLAN_FIRST_ROWS 1024

/*
 * A saved INSERT plan; lives for the backend, re-planned by plancache on
 * invalidation and by history_plan_get as the history table grows.
 */
typedef struct HistoryPlan
{
	HistoryPlanKey key;			/* hash key */
	char	   *sql;			/* in TopMemoryContext */
	int			nargs;
	Oid			argtypes[INDEX_MAX_KEYS + 5];
	SPIPlanPtr	plan;
	uint64		written;		/* rows inserted through this entry */
	uint64		replan_at;		/* prepare again once written reaches it */
} HistoryPlan;

/*
 * The rows queued for one history table in this transaction.  Entries stay
 * until the transaction ends (their memory is in queue_cxt); a flush only
 * empties them.
 */
typedef struct HistoryQueue
{
	HistoryKey	key;			/* hash key */
	Oid			owner;			/* owner of the attached table: the writer */
	int			nkeys;
	char	   *keynames[INDEX_MAX_KEYS];
	Oid			keytypes[INDEX_MAX_KEYS];
	int16		keylen[INDEX_MAX_KEYS];
	bool		keybyval[INDEX_MAX_KEYS];
	char		keyalign[INDEX_MAX_KEYS];
	char	   *keyeq[INDEX_MAX_KEYS];	/* OPERATOR(schema.=) of each key column */
	Oid			stage_type;
	Oid			seq_relid;		/* a Citus shard's: seq from this sequence */
	bool		derived;		/* has from_entered_at and furthest_before */

	int			nrows;
	int			maxrows;
	Datum	   *keys;			/* nrows * nkeys */
	bool	   *keynulls;
	Datum	   *from;
	bool	   *fromnulls;
	Datum	   *to;
	bool	   *tonulls;		/* a deletion has no to_stage */
	Datum	   *at;				/* timestamptz */
	Datum	   *by;				/* role OID */
	Datum	   *fromat;			/* when from_stage was entered, if known here */
	bool	   *fromatnulls;	/* (the OLD row's entered-at column) */
	SubTransactionId *subids;
	MemoryContext rows_cxt;		/* by-reference key values; reset by a flush */
} HistoryQueue;

/* fn_extra of record_transition: one per trigger per query. */
typedef struct RecordCache
{
	TransitionRel rel;
	HistoryKey	key;
	Oid			seq_relid;		/* InvalidOid, or the sequence seq comes from */
	uint64		queue_generation;	/* queue below belongs to this one */
	HistoryQueue *queue;
} RecordCache;

static HTAB *history_plans = NULL;
static HTAB *history_queues = NULL;	/* NULL: nothing queued this transaction */
static MemoryContext queue_cxt = NULL;
static uint64 queue_generation = 1; /* bumped when the queues are dropped */
static int	queued_rows = 0;		/* over all queues */
static bool flushing = false;

/* The statement during which the library was loaded, if a utility one. */
static LocalTransactionId unhooked_lxid = InvalidLocalTransactionId;
static TimestampTz unhooked_stmt_start = 0;

static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void history_flush_queue(HistoryQueue *q);

/*
 * The saved plan for this history table and statement text, prepared (as
 * the current user, which the caller has set to the owner) if it is new,
 * the text changed, or the rows written through it have doubled since it
 * was prepared.  That last rule is for the lookup of a key's latest row:
 * a plan made while the history table was empty or small reads it with a
 * sequential scan, and nothing else would make PostgreSQL plan it again
 * before an ANALYZE, so a bulk load into a new history table (all in one
 * statement) would read the whole table once per row.  Planned again, the
 * lookup sees the table's current size and steps back on the primary key.
 * Doubling keeps the extra planning to a few times per backend.
 */
static HistoryPlan *
history_plan_get(const HistoryPlanKey *key, const char *sql, int nargs, const Oid *argtypes)
{
	HistoryPlan *hp;
	bool		found;
	SPIPlanPtr	plan;

	if (history_plans == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(HistoryPlanKey);
		ctl.entrysize = sizeof(HistoryPlan);
		history_plans = hash_create("pipeline history plans", 16, &ctl,
									HASH_ELEM | HASH_BLOBS);
	}
	hp = hash_search(history_plans, key, HASH_ENTER, &found);
	if (!found)
	{
		hp->written = 0;
		hp->replan_at = HISTORY_REPLAN_FIRST_ROWS;
	}
	if (found && hp->plan != NULL && hp->nargs == nargs &&
		strcmp(hp->sql, sql) == 0 &&
		memcmp(hp->argtypes, argtypes, sizeof(Oid) * nargs) == 0)
	{
		if (hp->written < hp->replan_at)
			return hp;
		hp->replan_at = hp->written * 2;
	}

	if (found && hp->plan != NULL)
	{
		SPI_freeplan(hp->plan);
		pfree(hp->sql);
	}
	hp->plan = NULL;
	hp->sql = NULL;

	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare returned %s for %s",
			 SPI_result_code_string(SPI_result), sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");

	hp->sql = MemoryContextStrdup(TopMemoryContext, sql);
	hp->nargs = nargs;
	memcpy(hp->argtypes, argtypes, sizeof(Oid) * nargs);
	hp->plan = plan;
	return hp;
}

/*
 * The history table of a trigger whose SQL objects are still those of 1.0:
 * the schema-qualified name in its second argument.  Only until ALTER
 * EXTENSION pipeline UPDATE, which moves it into pipeline.attached_tables.
 */
static Oid
legacy_history_relid(TriggerData *trigdata)
{
	Trigger    *trigger = trigdata->tg_trigger;
	List	   *names;

	if (trigger->tgnargs != 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\": pipeline.record_transition() takes a stage column and a history table, not %d arguments",
						trigger->tgname, trigger->tgnargs),
				 errhint("Run ALTER EXTENSION pipeline UPDATE.")));
	names = compat_stringToQualifiedNameList(trigger->tgargs[1]);
	if (list_length(names) < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("history table \"%s\" of trigger \"%s\" on table \"%s\" is not schema-qualified",
						trigger->tgargs[1], trigger->tgname,
						RelationGetRelationName(trigdata->tg_relation)),
				 errhint("Run ALTER EXTENSION pipeline UPDATE.")));
	return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
}

/*
 * Find and check the history table of the trigger's attachment, once per
 * trigger per query: it exists, is a table, and belongs to the owner of the
 * attached table (42501 otherwise: its owner's triggers would run with that
 * owner's rights).  It is locked as an INSERT would lock it, so neither its
 * owner nor its shape can change before the rows are written.
 */
static void
record_cache_init(RecordCache *rc, TriggerData *trigdata, MemoryContext cxt)
{
	TransitionRel *tr = &rc->rel;
	Oid			hist_relid;
	HeapTuple	tp;
	Form_pg_class classform;

	transition_rel_init(tr, trigdata, cxt, "pipeline.record_transition");
	transition_rel_root(tr);

	hist_relid = tr->legacy ? legacy_history_relid(trigdata) : tr->att.history;
	if (!OidIsValid(hist_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the stage history table of table \"%s\" does not exist",
						quote_qualified_identifier(tr->root_schema, tr->root_name)),
				 errdetail("It was dropped, or the table is attached without history."),
				 errhint("Run pipeline.attach() again to create it, or with track_history => false.")));

	/*
	 * On a Citus shard, history goes into the colocated shard of the history
	 * table, on this node, written directly (no distributed plan per row).
	 * Shards have no column defaults from sequences, so seq is drawn from
	 * this node's identity sequence of the history table.
	 */
	rc->seq_relid = InvalidOid;
	if (OidIsValid(tr->citus.shard_relid))
	{
		Oid			logical_hist = hist_relid;

		hist_relid = citus_colocated_relation(logical_hist, &tr->citus,
											  quote_qualified_identifier(tr->root_schema, tr->root_name),
											  &rc->seq_relid);
	}

	LockRelationOid(hist_relid, RowExclusiveLock);
	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(hist_relid));
	if (!HeapTupleIsValid(tp))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the stage history table of table \"%s\" does not exist",
						quote_qualified_identifier(tr->root_schema, tr->root_name)),
				 errhint("Run pipeline.attach() again to create it.")));
	classform = (Form_pg_class) GETSTRUCT(tp);
	if (classform->relkind != RELKIND_RELATION &&
		classform->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("stage history \"%s\" of table \"%s\" is not a table",
						NameStr(classform->relname), tr->root_name)));
	if (classform->relowner != tr->root_owner)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("stage history table \"%s\" is not owned by the owner of table \"%s\"",
						quote_qualified_identifier(get_namespace_name(classform->relnamespace),
												   NameStr(classform->relname)),
						quote_qualified_identifier(tr->root_schema, tr->root_name)),
				 errdetail("History is written with the rights of the owner of the table, so it is written only into a table of that owner."),
				 errhint("Give the history table back to the table's owner, or run pipeline.attach() again as that owner.")));
	ReleaseSysCache(tp);

	if (tr->nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no primary key, so its stage history cannot name its rows",
						quote_qualified_identifier(tr->root_schema, tr->root_name)),
				 errhint("Add the primary key back, or run pipeline.detach().")));

	rc->key.hist_relid = hist_relid;
	rc->key.root_relid = tr->root_relid;
	rc->queue = NULL;
}

/* Drop every queue (end of transaction). */
static void
history_queues_forget(void)
{
	history_queues = NULL;
	queued_rows = 0;
	queue_generation++;
	if (queue_cxt != NULL)
		MemoryContextReset(queue_cxt);
}

/* OPERATOR(schema.name) of operator opno, for a statement's text. */
static char *
operator_text(Oid opno)
{
	HeapTuple	tp = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;
	char	   *result;

	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	op = (Form_pg_operator) GETSTRUCT(tp);
	result = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tp);
	return result;
}

/* The queue of rc's history table, created on first use in a transaction. */
static HistoryQueue *
history_queue_get(RecordCache *rc)
{
	HistoryQueue *q;
	bool		found;
	int			i;

	if (rc->queue != NULL && rc->queue_generation == queue_generation)
		return rc->queue;

	if (queue_cxt == NULL)
		queue_cxt = AllocSetContextCreate(TopMemoryContext, "pipeline history queue",
										  ALLOCSET_DEFAULT_SIZES);
	if (history_queues == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(HistoryKey);
		ctl.entrysize = sizeof(HistoryQueue);
		ctl.hcxt = queue_cxt;
		history_queues = hash_create("pipeline history queues", 8, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	q = hash_search(history_queues, &rc->key, HASH_ENTER, &found);
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(queue_cxt);
		TransitionRel *tr = &rc->rel;

		q->owner = tr->root_owner;
		q->nkeys = tr->nkeys;
		for (i = 0; i < tr->nkeys; i++)
		{
			q->keynames[i] = pstrdup(tr->keynames[i]);
			q->keytypes[i] = tr->keytypes[i];
			get_typlenbyvalalign(tr->keytypes[i], &q->keylen[i], &q->keybyval[i], &q->keyalign[i]);
			q->keyeq[i] = operator_text(tr->keyeqops[i]);
		}
		q->derived = get_attnum(rc->key.hist_relid, "from_entered_at") != InvalidAttrNumber &&
			get_attnum(rc->key.hist_relid, "furthest_before") != InvalidAttrNumber;
		q->stage_type = tr->stage_type;
		q->seq_relid = rc->seq_relid;
		q->nrows = 0;
		q->maxrows = 64;
		q->keys = palloc(sizeof(Datum) * q->maxrows * Max(q->nkeys, 1));
		q->keynulls = palloc(sizeof(bool) * q->maxrows * Max(q->nkeys, 1));
		q->from = palloc(sizeof(Datum) * q->maxrows);
		q->fromnulls = palloc(sizeof(bool) * q->maxrows);
		q->to = palloc(sizeof(Datum) * q->maxrows);
		q->tonulls = palloc(sizeof(bool) * q->maxrows);
		q->at = palloc(sizeof(Datum) * q->maxrows);
		q->by = palloc(sizeof(Datum) * q->maxrows);
		q->fromat = palloc(sizeof(Datum) * q->maxrows);
		q->fromatnulls = palloc(sizeof(bool) * q->maxrows);
		q->subids = palloc(sizeof(SubTransactionId) * q->maxrows);
		q->rows_cxt = AllocSetContextCreate(queue_cxt, "pipeline history rows",
											ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(old);
	}
	else if (q->nkeys != rc->rel.nkeys || q->stage_type != rc->rel.stage_type ||
			 memcmp(q->keytypes, rc->rel.keytypes, sizeof(Oid) * q->nkeys) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the primary key or stage column of table \"%s\" changed within this transaction",
						rc->rel.root_name),
				 errhint("Commit the change to the table before writing to it.")));
	rc->queue = q;
	rc->queue_generation = queue_generation;
	return q;
}

/* Append one row to q (values already in the trigger's memory). */
static void
history_queue_append(HistoryQueue *q, const Datum *keys, const bool *keynulls,
					 Datum from, bool fromnull, Datum to, bool tonull, TimestampTz at,
					 Datum fromat, bool fromatnull)
{
	MemoryContext old;
	int			n = q->nrows;
	int			i;

	if (n == q->maxrows)
	{
		int			nk = Max(q->nkeys, 1);

		q->maxrows *= 2;
		q->keys = repalloc(q->keys, sizeof(Datum) * q->maxrows * nk);
		q->keynulls = repalloc(q->keynulls, sizeof(bool) * q->maxrows * nk);
		q->from = repalloc(q->from, sizeof(Datum) * q->maxrows);
		q->fromnulls = repalloc(q->fromnulls, sizeof(bool) * q->maxrows);
		q->to = repalloc(q->to, sizeof(Datum) * q->maxrows);
		q->tonulls = repalloc(q->tonulls, sizeof(bool) * q->maxrows);
		q->at = repalloc(q->at, sizeof(Datum) * q->maxrows);
		q->by = repalloc(q->by, sizeof(Datum) * q->maxrows);
		q->fromat = repalloc(q->fromat, sizeof(Datum) * q->maxrows);
		q->fromatnulls = repalloc(q->fromatnulls, sizeof(bool) * q->maxrows);
		q->subids = repalloc(q->subids, sizeof(SubTransactionId) * q->maxrows);
	}

	old = MemoryContextSwitchTo(q->rows_cxt);
	for (i = 0; i < q->nkeys; i++)
	{
		q->keynulls[n * q->nkeys + i] = keynulls[i];
		q->keys[n * q->nkeys + i] = keynulls[i] ? (Datum) 0 :
			datumCopy(keys[i], q->keybyval[i], q->keylen[i]);
	}
	MemoryContextSwitchTo(old);
	q->from[n] = from;
	q->fromnulls[n] = fromnull;
	q->to[n] = to;
	q->tonulls[n] = tonull;
	q->at[n] = TimestampTzGetDatum(at);
	q->by[n] = ObjectIdGetDatum(GetUserId());
	q->fromat[n] = fromat;
	q->fromatnulls[n] = fromatnull;
	q->subids[n] = GetCurrentSubTransactionId();
	q->nrows = n + 1;
	queued_rows++;
}

/* The ephemeral relation a batch is read from, by its INSERT. */
#define HISTORY_ROWS_RELATION "pipeline_history_rows"

/*
 * The columns of a queued row, as the INSERT reads them: the key columns,
 * from_stage, to_stage, changed_at, changed_by (a role OID) and the OLD
 * row's entered-at value.
 */
#define HISTORY_NCOLS(q) ((q)->nkeys + 5)

/*
 * The text of the INSERT for q's rows.  A single row is read from VALUES
 * with parameters; a batch from an ephemeral named relation (a tuplestore
 * of the rows, as PostgreSQL hands transition tables to triggers), so the
 * executor reads the rows once, with no per-column arrays to build and
 * unnest.
 *
 * Two columns are derived from the key's earlier history, so that the
 * views need no window over it (one lookup on the history's primary key
 * per row): from_entered_at, when from_stage was entered (the OLD row's
 * entered-at column when the table has one, else the key's latest
 * changed_at), and furthest_before, the furthest non-lost stage among the
 * key's earlier rows.  A history table without them (made by 1.0, or by
 * hand) gets the other columns only.
 *
 * The statement names the table by its current name and schema (the
 * table is locked, so the name means our OID; a rename since the last
 * flush changes the text and so prepares a new plan), every function by
 * pg_catalog or pipeline, and every operator by its schema, so the
 * caller's search_path plays no part.
 */
static void
history_insert_text(HistoryQueue *q, bool single, StringInfo sql)
{
	int			ncols = HISTORY_NCOLS(q);
	int			nk = q->nkeys;
	char	   *hist = quote_qualified_identifier(get_namespace_name(get_rel_namespace(q->key.hist_relid)),
												  get_rel_name(q->key.hist_relid));
	int			i;

	appendStringInfo(sql, "INSERT INTO %s (", hist);
	for (i = 0; i < nk; i++)
		appendStringInfo(sql, "%s, ", quote_identifier(q->keynames[i]));
	appendStringInfoString(sql, "from_stage, to_stage, changed_at, changed_by");
	if (q->derived)
		appendStringInfoString(sql, ", from_entered_at, furthest_before");
	if (OidIsValid(q->seq_relid))
		appendStringInfoString(sql, ", seq");
	appendStringInfoString(sql, ") SELECT ");
	for (i = 0; i < nk + 3; i++)
		appendStringInfo(sql, "r.c%d, ", i + 1);
	appendStringInfo(sql, "pg_catalog.pg_get_userbyid(r.c%d)", nk + 4);
	if (q->derived)
		appendStringInfo(sql, ", CASE WHEN r.c%d IS NOT NULL THEN COALESCE(r.c%d, p.last_at) END, p.furthest",
						 nk + 1, nk + 5);
	/* a Citus shard: seq from this node's identity sequence of the table */
	if (OidIsValid(q->seq_relid))
		appendStringInfo(sql, ", pg_catalog.nextval(%u::pg_catalog.oid::pg_catalog.regclass)", q->seq_relid);

	if (single)
	{
		appendStringInfoString(sql, " FROM (VALUES (");
		for (i = 0; i < ncols; i++)
			appendStringInfo(sql, "%s$%d", i > 0 ? ", " : "", i + 1);
		appendStringInfoString(sql, ")) AS r(");
		for (i = 0; i < ncols; i++)
			appendStringInfo(sql, "%sc%d", i > 0 ? ", " : "", i + 1);
		appendStringInfoString(sql, ")");
	}
	else
		appendStringInfoString(sql, " FROM " HISTORY_ROWS_RELATION " AS r");

	if (!q->derived)
		return;

	/*
	 * The key's latest row carries the running values: its changed_at, and
	 * the furthest of its furthest_before and its own to_stage.  It is the
	 * row of the highest seq (a backward step on the primary key), except
	 * on a Citus shard, where seq comes from each node's sequence and may
	 * run backwards after a shard move: there every earlier row is read.
	 */
	if (!OidIsValid(q->seq_relid))
		appendStringInfo(sql, " LEFT JOIN LATERAL (SELECT h.changed_at AS last_at,"
						 " GREATEST(h.furthest_before, CASE WHEN pipeline.stage_kind(h.to_stage)"
						 " OPERATOR(pg_catalog.<>) 'lost' THEN h.to_stage END) AS furthest"
						 " FROM %s AS h WHERE ", hist);
	else
		appendStringInfo(sql, " LEFT JOIN LATERAL (SELECT pg_catalog.max(h.changed_at) AS last_at,"
						 " pg_catalog.max(h.to_stage) FILTER (WHERE pipeline.stage_kind(h.to_stage)"
						 " OPERATOR(pg_catalog.<>) 'lost') AS furthest FROM %s AS h WHERE ", hist);
	for (i = 0; i < nk; i++)
		appendStringInfo(sql, "%sh.%s %s r.c%d", i > 0 ? " AND " : "",
						 quote_identifier(q->keynames[i]), q->keyeq[i], i + 1);
	if (!OidIsValid(q->seq_relid))
		appendStringInfoString(sql, " ORDER BY h.seq DESC LIMIT 1");
	appendStringInfoString(sql, ") AS p ON true");
}

/* Row r of q as the values of the INSERT's columns (the ENR's, or $n). */
static void
history_row_values(HistoryQueue *q, int r, Datum *values, bool *isnull)
{
	int			nk = q->nkeys;
	int			i;

	for (i = 0; i < nk; i++)
	{
		values[i] = q->keys[r * nk + i];
		isnull[i] = q->keynulls[r * nk + i];
	}
	values[nk] = q->from[r];
	isnull[nk] = q->fromnulls[r];
	values[nk + 1] = q->to[r];
	isnull[nk + 1] = q->tonulls[r];
	values[nk + 2] = q->at[r];
	isnull[nk + 2] = false;
	values[nk + 3] = q->by[r];
	isnull[nk + 3] = false;
	values[nk + 4] = q->fromat[r];
	isnull[nk + 4] = q->fromatnulls[r];
}

/* The types of the INSERT's columns, in order. */
static void
history_column_types(HistoryQueue *q, Oid *types)
{
	int			i;

	for (i = 0; i < q->nkeys; i++)
		types[i] = q->keytypes[i];
	types[q->nkeys] = types[q->nkeys + 1] = q->stage_type;
	types[q->nkeys + 2] = TIMESTAMPTZOID;
	types[q->nkeys + 3] = OIDOID;
	types[q->nkeys + 4] = TIMESTAMPTZOID;
}

/*
 * The batch as an ephemeral named relation: a tuplestore of q's n rows,
 * registered with the current SPI connection under HISTORY_ROWS_RELATION.
 */
static void
history_register_rows(HistoryQueue *q, int n, const Oid *types)
{
	int			ncols = HISTORY_NCOLS(q);
	TupleDesc	desc = CreateTemplateTupleDesc(ncols);
	Tuplestorestate *rows = tuplestore_begin_heap(false, false, work_mem);
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));
	Datum		values[INDEX_MAX_KEYS + 5];
	bool		isnull[INDEX_MAX_KEYS + 5];
	int			i;
	int			r;

	for (i = 0; i < ncols; i++)
	{
		char		name[16];

		snprintf(name, sizeof(name), "c%d", i + 1);
		TupleDescInitEntry(desc, i + 1, name, types[i], -1, 0);
		TupleDescInitEntryCollation(desc, i + 1, get_typcollation(types[i]));
	}
	for (r = 0; r < n; r++)
	{
		history_row_values(q, r, values, isnull);
		tuplestore_putvalues(rows, desc, values, isnull);
	}
	enr->md.name = HISTORY_ROWS_RELATION;
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = n;
	enr->reldata = rows;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "SPI_register_relation failed");
}

/*
 * Write q's rows with one INSERT, as the owner of the attached table.  The
 * queue is emptied before the INSERT runs, so that rows queued meanwhile
 * (by triggers of the history table that write to attached tables) go
 * into a fresh batch.
 */
static void
history_flush_queue(HistoryQueue *q)
{
	int			ncols = HISTORY_NCOLS(q);
	Oid			types[INDEX_MAX_KEYS + 5];
	Datum		values[INDEX_MAX_KEYS + 5];
	bool		isnull[INDEX_MAX_KEYS + 5];
	char		nulls[INDEX_MAX_KEYS + 5];
	StringInfoData sql;
	HistoryPlanKey pkey;
	int			n = q->nrows;
	bool		single = (n == 1);
	HistoryPlan *hp;
	Oid			save_userid;
	int			save_sec_context;
	int			ret;
	int			i;

	if (n == 0)
		return;
	initStringInfo(&sql);
	history_insert_text(q, single, &sql);
	history_column_types(q, types);
	memset(&pkey, 0, sizeof(pkey));
	pkey.history = q->key;
	pkey.single = single;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (single)
	{
		history_row_values(q, 0, values, isnull);
		for (i = 0; i < ncols; i++)
			nulls[i] = isnull[i] ? 'n' : ' ';
	}
	else
		history_register_rows(q, n, types);	/* copies the rows */

	/*
	 * Empty the queue before the INSERT: it may queue rows of its own.  (A
	 * single row's key values are read from rows_cxt, which is reset only
	 * after the INSERT, and only if nothing was queued meanwhile.)
	 */
	queued_rows -= n;
	q->nrows = 0;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(q->owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		hp = history_plan_get(&pkey, sql.data, single ? ncols : 0, types);
		ret = SPI_execute_plan(hp->plan, single ? values : NULL, single ? nulls : NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "SPI_execute_plan returned %s", SPI_result_code_string(ret));
		hp->written += SPI_processed;
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");

	pfree(sql.data);
	if (q->nrows == 0)
		MemoryContextReset(q->rows_cxt);
}

/*
 * Write every queued row.  Repeats until nothing is queued, since a history
 * table's own triggers may write to attached tables.
 */
void
history_flush_all(void)
{
	if (flushing || queued_rows == 0 || history_queues == NULL)
		return;
	if (!IsTransactionState() || IsParallelWorker())
		return;
	flushing = true;
	PG_TRY();
	{
		int			rounds = 0;

		while (queued_rows > 0)
		{
			HASH_SEQ_STATUS status;
			HistoryQueue *q;
			HistoryQueue *todo = NULL;

			/* a history table whose triggers write history, and so on */
			if (++rounds > HISTORY_MAX_FLUSH_ROUNDS)
				ereport(ERROR,
						(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
						 errmsg("writing stage history keeps writing more stage history"),
						 errdetail("%d rounds of history rows were written by one statement, each queued by the one before.",
								   HISTORY_MAX_FLUSH_ROUNDS),
						 errhint("A trigger on a stage history table writes to an attached table, directly or not, in a loop.")));

			hash_seq_init(&status, history_queues);
			while ((q = hash_seq_search(&status)) != NULL)
			{
				if (q->nrows > 0)
				{
					todo = q;
					hash_seq_term(&status);
					break;
				}
			}
			if (todo == NULL)
				break;
			history_flush_queue(todo);
		}
	}
	PG_FINALLY();
	{
		flushing = false;
	}
	PG_END_TRY();
}

/* A statement ended: write what it queued. */
static void
history_ExecutorEnd(QueryDesc *queryDesc)
{
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
	history_flush_all();
}

/* history_flush_all() for citus_call_keeping_error_fields(). */
static Datum
history_flush_all_fmgr(PG_FUNCTION_ARGS)
{
	history_flush_all();
	return (Datum) 0;
}

/*
 * A utility statement (COPY, CALL, DO, ...) ended: write what it queued
 * (in a COPY that Citus sent into a shard, errors keep their SQLSTATE and
 * HINT in their DETAIL, citus.h).
 */
static void
history_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
	if (unlikely(citus_in_shard_copy()))
		(void) citus_call_keeping_error_fields(history_flush_all_fmgr, NULL);
	else
		history_flush_all();
}

/*
 * Transaction end: every queued row was written when its statement ended;
 * one left at commit would be history lost, so it is an error.  An abort
 * drops the queue.
 */
static void
history_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (queued_rows > 0)
				elog(ERROR, "pipeline: %d stage history rows were not written before commit",
					 queued_rows);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			history_queues_forget();
			break;
		default:
			break;
	}
}

/* Subtransaction abort: drop the rows queued inside it (a suffix). */
static void
history_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS status;
	HistoryQueue *q;

	if (event != SUBXACT_EVENT_ABORT_SUB || history_queues == NULL)
		return;
	hash_seq_init(&status, history_queues);
	while ((q = hash_seq_search(&status)) != NULL)
	{
		int			keep = q->nrows;

		while (keep > 0 && q->subids[keep - 1] >= mySubid)
			keep--;
		queued_rows -= q->nrows - keep;
		q->nrows = keep;
	}
}

/*
 * Install the hooks and callbacks; called from _PG_init.  When the library
 * is loaded in the middle of a utility statement, that statement's end is
 * not seen by the hook, so its rows are written one by one.
 */
void
history_init(void)
{
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = history_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = history_ProcessUtility;
	RegisterXactCallback(history_xact_callback, NULL);
	RegisterSubXactCallback(history_subxact_callback, NULL);

	if (IsTransactionState() && ActivePortal != NULL)
	{
		CommandTag	tag = ActivePortal->commandTag;

		if (tag != CMDTAG_SELECT && tag != CMDTAG_INSERT && tag != CMDTAG_UPDATE &&
			tag != CMDTAG_DELETE && tag != CMDTAG_MERGE)
		{
			unhooked_lxid = compat_MyProcLxid;
			unhooked_stmt_start = GetCurrentStatementStartTimestamp();
		}
	}
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
		!(TRIGGER_FIRED_BY_INSERT(ev) || TRIGGER_FIRED_BY_UPDATE(ev) ||
		  TRIGGER_FIRED_BY_DELETE(ev)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\": pipeline.record_transition() must fire AFTER INSERT, UPDATE or DELETE, FOR EACH ROW",
						trigdata->tg_trigger->tgname),
				 errhint("pipeline.attach() creates the right triggers.")));
	if (trigdata->tg_trigger->tgnargs < 1 || trigdata->tg_trigger->tgnargs > 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\": pipeline.record_transition() takes the stage column, not %d arguments",
						trigdata->tg_trigger->tgname, trigdata->tg_trigger->tgnargs),
				 errhint("pipeline.attach() creates the right triggers.")));
}

/*
 * pipeline.record_transition(): trigger; argument (stage_column).  Queues
 * (key, from_stage, to_stage, changed_at, current_user) for the history
 * table: from_stage NULL for a created row, the stage before the statement
 * for a row moved between partitions (nothing when the stage did not
 * change), OLD's stage for an update; to_stage NULL for a deleted row (but
 * not for the delete half of a move between partitions).  changed_at is the
 * row's entered-at column when the attachment has one (the triggers that
 * enforce transitions keep it right), else clock_timestamp().
 */
static Datum
record_transition(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	RecordCache *rc = (RecordCache *) fcinfo->flinfo->fn_extra;
	TupleTableSlot *slot;
	Datum		keys[INDEX_MAX_KEYS];
	bool		keynulls[INDEX_MAX_KEYS];
	Datum		from = (Datum) 0;
	bool		fromnull = true;
	bool		isnull;
	Datum		to = (Datum) 0;
	bool		tonull = false;
	TimestampTz at;
	Datum		fromat = (Datum) 0;
	bool		fromatnull = true;
	HistoryQueue *q;
	int			i;

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
		slot = trigdata->tg_newslot;
		to = slot_getattr(slot, rc->rel.attnum, &isnull);
		from = slot_getattr(trigdata->tg_trigslot, rc->rel.attnum, &fromnull);
		if (isnull || (!fromnull && DatumGetObjectId(from) == DatumGetObjectId(to)))
			return PointerGetDatum(NULL);
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		slot = trigdata->tg_trigslot;
		from = slot_getattr(slot, rc->rel.attnum, &fromnull);
		if (fromnull || transition_rel_moving(&rc->rel, slot))
			return PointerGetDatum(NULL);
		tonull = true;
	}
	else
	{
		Oid			old_stage;

		slot = trigdata->tg_trigslot;
		to = slot_getattr(slot, rc->rel.attnum, &isnull);
		if (isnull)
			return PointerGetDatum(NULL);
		if (transition_rel_moved_from(&rc->rel, slot, &old_stage, &fromnull))
		{
			if (!fromnull && old_stage == DatumGetObjectId(to))
				return PointerGetDatum(NULL);
			from = ObjectIdGetDatum(old_stage);
		}
	}

	for (i = 0; i < rc->rel.nkeys; i++)
		keys[i] = slot_getattr(slot, rc->rel.keyattrs[i], &keynulls[i]);

	at = GetCurrentTimestamp();
	if (rc->rel.entered_at_attnum > 0 && !tonull)
	{
		Datum		d = slot_getattr(slot, rc->rel.entered_at_attnum, &isnull);

		if (!isnull)
			at = DatumGetTimestampTz(d);
	}

	/* the OLD row's entered-at column: when from_stage was entered */
	if (rc->rel.entered_at_attnum > 0 && !fromnull &&
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		fromat = slot_getattr(trigdata->tg_trigslot, rc->rel.entered_at_attnum, &fromatnull);

	q = history_queue_get(rc);
	history_queue_append(q, keys, keynulls, from, fromnull, to, tonull, at, fromat, fromatnull);

	if (q->nrows >= HISTORY_BATCH_ROWS ||
		(compat_MyProcLxid == unhooked_lxid &&
		 GetCurrentStatementStartTimestamp() == unhooked_stmt_start))
		history_flush_all();

	return PointerGetDatum(NULL);
}

/* In a Citus shard COPY, errors keep their fields (citus_call_trigger). */
Datum
pipeline_record_transition(PG_FUNCTION_ARGS)
{
	return citus_call_trigger(record_transition, fcinfo);
}
