/*
 * citus.c
 *		Citus, when a database has it: this node's role, the check that a
 *		worker has applied the configuration its coordinator published, and
 *		the map from a shard (where the triggers fire) to its table (whose
 *		attachment they follow, and which errors name) and to the colocated
 *		shard of the table's stage history (where history is written, on the
 *		same node, without a distributed plan).
 *
 * Nothing here links against Citus or includes its headers: its catalogs
 * (pg_dist_local_group, pg_dist_partition, pg_dist_shard) are found by name
 * and read with catalog-snapshot scans like any table, and shard names come
 * from its SQL function shard_name(), called through fmgr.  Without the
 * citus extension in the database every function here is a name lookup
 * that finds nothing.
 */
#include "compat.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/value.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"

#include "citus.h"

/* pipeline.applying_cluster_config: set by _citus_apply_config(). */
static bool applying_cluster_config = false;

static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;

static void citus_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate);

/*
 * Define pipeline.applying_cluster_config, which a worker's statement
 * trigger on the configuration tables reads to tell the coordinator's
 * snapshot being applied from a change made on the worker (refused).
 * PGC_SUSET: only the SECURITY DEFINER apply function sets it.
 */
void
citus_init(void)
{
	DefineCustomBoolVariable("pipeline.applying_cluster_config",
							 "Set while a Citus worker applies the pipeline configuration published by its coordinator.",
							 NULL,
							 &applying_cluster_config,
							 false,
							 PGC_SUSET,
							 GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 NULL, NULL, NULL);
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = citus_post_parse_analyze;
}

/* A Citus catalog table (or index) by name, InvalidOid without Citus. */
static Oid
citus_catalog(const char *name)
{
	return get_relname_relid(name, PG_CATALOG_NAMESPACE);
}

bool
citus_present(void)
{
	return OidIsValid(citus_catalog("pg_dist_shard"));
}

/* This node's Citus group: 0 on the coordinator, -1 without Citus. */
static int32
citus_local_group(void)
{
	Oid			relid = citus_catalog("pg_dist_local_group");
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	int32		group = 0;

	if (!OidIsValid(relid))
		return -1;
	rel = table_open(relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, 1, RelationGetDescr(rel), &isnull);

		if (!isnull)
			group = DatumGetInt32(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return group;
}

/*
 * Scan a Citus catalog through one of its indexes for rows whose column
 * `column` equals `value` (an OID or a bigint); calls fn for each until it
 * returns false.
 */
typedef bool (*CatalogRowFn) (HeapTuple tup, TupleDesc desc, void *arg);

static void
citus_catalog_scan(const char *table, const char *index, const char *column,
				   bool is_int8, Datum value, CatalogRowFn fn, void *arg)
{
	Oid			relid = citus_catalog(table);
	Oid			indexid = citus_catalog(index);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	AttrNumber	attno;

	if (!OidIsValid(relid))
		return;
	attno = get_attnum(relid, column);
	if (attno == InvalidAttrNumber)
		elog(ERROR, "Citus catalog %s has no column %s", table, column);
	rel = table_open(relid, AccessShareLock);
	ScanKeyInit(&key, attno, BTEqualStrategyNumber, is_int8 ? F_INT8EQ : F_OIDEQ, value);
	scan = systable_beginscan(rel, indexid, OidIsValid(indexid), NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		if (!fn(tup, RelationGetDescr(rel), arg))
			break;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* A column of a catalog row, by name. */
static Datum
row_attr(HeapTuple tup, TupleDesc desc, const char *column, bool *isnull)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
			return heap_getattr(tup, att->attnum, desc, isnull);
	}
	elog(ERROR, "Citus catalog has no column %s", column);
	return (Datum) 0;			/* keep the compiler quiet */
}

typedef struct PartitionRow
{
	bool		found;
	char		method;
	char		repmodel;
	int32		colocationid;
} PartitionRow;

static bool
partition_row_fn(HeapTuple tup, TupleDesc desc, void *arg)
{
	PartitionRow *p = arg;
	bool		isnull;

	p->found = true;
	p->method = DatumGetChar(row_attr(tup, desc, "partmethod", &isnull));
	p->repmodel = DatumGetChar(row_attr(tup, desc, "repmodel", &isnull));
	p->colocationid = DatumGetInt32(row_attr(tup, desc, "colocationid", &isnull));
	return false;
}

/* The Citus kind of a table ('h', 'r', 'l', 'o'), '\0' when not a Citus table. */
static char
citus_table_kind(Oid relid, int32 *colocationid)
{
	PartitionRow p = {0};

	citus_catalog_scan("pg_dist_partition", "pg_dist_partition_logical_relid_index",
					   "logicalrelid", false, ObjectIdGetDatum(relid), partition_row_fn, &p);
	if (colocationid)
		*colocationid = p.colocationid;
	if (!p.found)
		return '\0';
	if (p.method == 'h')
		return 'h';
	if (p.method == 'n')
		return p.repmodel == 't' ? 'r' : 'l';
	return 'o';
}

typedef struct ShardRow
{
	bool		found;
	Oid			logicalrelid;
	int64		shardid;
	char	   *minvalue;		/* NULL when none */
	const char *want_min;		/* search: the shard with this minvalue */
} ShardRow;

/* Keep the first row (or the one whose minvalue is want_min). */
static bool
shard_row_fn(HeapTuple tup, TupleDesc desc, void *arg)
{
	ShardRow   *s = arg;
	bool		isnull;
	Datum		d = row_attr(tup, desc, "shardminvalue", &isnull);
	char	   *minvalue = isnull ? NULL : TextDatumGetCString(d);

	if (s->want_min != NULL && (minvalue == NULL || strcmp(minvalue, s->want_min) != 0))
		return true;
	s->found = true;
	s->logicalrelid = DatumGetObjectId(row_attr(tup, desc, "logicalrelid", &isnull));
	s->shardid = DatumGetInt64(row_attr(tup, desc, "shardid", &isnull));
	s->minvalue = minvalue;
	return false;
}

/* The shard row of a shard id. */
static bool
shard_by_id(int64 shardid, ShardRow *s)
{
	memset(s, 0, sizeof(*s));
	citus_catalog_scan("pg_dist_shard", "pg_dist_shard_shardid_index", "shardid", true,
					   Int64GetDatum(shardid), shard_row_fn, s);
	return s->found;
}

/* A shard row of a table: the one starting at want_min, or any (NULL). */
static bool
shard_of_table(Oid logical, const char *want_min, ShardRow *s)
{
	memset(s, 0, sizeof(*s));
	s->want_min = want_min;
	citus_catalog_scan("pg_dist_shard", "pg_dist_shard_logical_relid_index", "logicalrelid",
					   false, ObjectIdGetDatum(logical), shard_row_fn, s);
	return s->found;
}

/*
 * The relation of shard shardid of table logical on this node, by the name
 * Citus's shard_name() gives it; InvalidOid when this node has no such
 * relation (its placement is elsewhere).
 */
static Oid
shard_relation(Oid logical, int64 shardid)
{
	Oid			argtypes[3] = {REGCLASSOID, INT8OID, BOOLOID};
	List	   *fname = list_make2(makeString("pg_catalog"), makeString("shard_name"));
	Oid			fn = LookupFuncName(fname, 3, argtypes, true);
	char	   *name;

	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pipeline needs Citus 13.1 or later on every node"),
				 errdetail("Function pg_catalog.shard_name(regclass, bigint, boolean) does not exist on this node."),
				 errhint("Upgrade Citus on this node (ALTER EXTENSION citus UPDATE after installing it).")));
	name = TextDatumGetCString(OidFunctionCall3(fn, ObjectIdGetDatum(logical),
												Int64GetDatum(shardid), BoolGetDatum(false)));
	return RangeVarGetRelid(makeRangeVarFromNameList(compat_stringToQualifiedNameList(name)),
							NoLock, true);
}

static bool
citus_shard_lookup_uncached(Oid relid, CitusShard *shard, char **guess_name)
{
	char	   *relname;
	char	   *sep;
	char	   *end;
	int64		shardid;
	ShardRow	s;

	memset(shard, 0, sizeof(*shard));
	if (guess_name)
		*guess_name = NULL;
	if (!citus_present())
		return false;
	relname = get_rel_name(relid);
	if (relname == NULL || (sep = strrchr(relname, '_')) == NULL || sep[1] == '\0')
		return false;
	for (end = sep + 1; *end; end++)
		if (*end < '0' || *end > '9')
			return false;
	shardid = strtoi64(sep + 1, NULL, 10);

	if (shard_by_id(shardid, &s) &&
		get_rel_namespace(s.logicalrelid) == get_rel_namespace(relid) &&
		OidIsValid(get_rel_namespace(s.logicalrelid)))
	{
		shard->shard_relid = relid;
		shard->shardid = shardid;
		shard->logical_relid = s.logicalrelid;
		shard->kind = citus_table_kind(s.logicalrelid, NULL);
		return true;
	}
	if (guess_name)
		*guess_name = pnstrdup(relname, sep - relname);
	return false;
}

static Oid
citus_colocated_relation_uncached(Oid logical, const CitusShard *near, const char *for_table)
{
	int32		colocation;
	int32		near_colocation;
	char		kind = citus_table_kind(logical, &colocation);
	ShardRow	s;
	ShardRow	n;
	Oid			result;

	if (kind == '\0')
		return logical;
	if (kind == 'l' && shard_of_table(logical, NULL, &s))
		result = shard_relation(logical, s.shardid);
	else if (kind == 'h' && near->kind == 'h' &&
			 citus_table_kind(near->logical_relid, &near_colocation) == 'h' &&
			 near_colocation == colocation &&
			 shard_by_id(near->shardid, &n) && n.minvalue != NULL &&
			 shard_of_table(logical, n.minvalue, &s))
		result = shard_relation(logical, s.shardid);
	else
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stage history table \"%s\" is not distributed with table \"%s\"",
						get_rel_name(logical), for_table),
				 errdetail("A trigger on a shard writes history into the colocated shard of the history table, on the same node."),
				 errhint("Run pipeline.attach() for table \"%s\" again: it distributes the history table colocated with it.",
						 for_table)));
	if (!OidIsValid(result))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the shard of stage history table \"%s\" colocated with table \"%s\" is not on this node",
						get_rel_name(logical), for_table),
				 errhint("Move colocated shards together (citus_move_shard_placement moves them so).")));
	return result;
}

/*
 * The identity sequence of a column; an error if it has none (a shard,
 * which has no column defaults from sequences, cannot be written without).
 */
static Oid
identity_sequence(Oid relid, const char *column)
{
	AttrNumber	attnum = get_attnum(relid, column);
	List	   *seqs = getOwnedSequences(relid);
	ListCell   *lc;

	foreach(lc, seqs)
	{
		Oid			tab;
		int32		col;

		if (sequenceIsOwned(lfirst_oid(lc), DEPENDENCY_INTERNAL, &tab, &col) &&
			tab == relid && col == attnum)
			return lfirst_oid(lc);
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("column %s of stage history table \"%s\" is not an identity column",
					column, get_rel_name(relid)),
			 errhint("Run pipeline.attach() again with a new history table.")));
	return InvalidOid;			/* keep the compiler quiet */
}

/*
 * What the triggers of a query ask about their relation, remembered for the
 * backend: is relid a shard (of which table), and into which relation does
 * its table's history go.  Resolving them reads Citus's catalogs; a
 * single-row statement on a shard would otherwise pay that once per
 * trigger.  Dropped whole by any relcache invalidation of a relation it
 * names, or of pg_dist_shard or pg_dist_partition (which Citus invalidates
 * when it changes its metadata), or of everything.
 */
typedef struct ShardMapKey
{
	Oid			relid;			/* the relation a trigger fires on */
	Oid			history;		/* InvalidOid: the shard lookup itself */
} ShardMapKey;

typedef struct ShardMapEntry
{
	ShardMapKey key;
	bool		is_shard;
	CitusShard	shard;
	Oid			result;			/* the history relation on this node */
	Oid			seq;			/* the sequence its seq comes from, or none */
} ShardMapEntry;

static HTAB *shard_map = NULL;
static Oid	shard_map_catalogs[2];	/* pg_dist_shard, pg_dist_partition */
static bool shard_map_callback_registered = false;

/* Relcache callback: forget the map when something it depends on changed. */
static void
shard_map_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	ShardMapEntry *e;

	if (shard_map == NULL)
		return;
	if (OidIsValid(relid) && relid != shard_map_catalogs[0] && relid != shard_map_catalogs[1])
	{
		bool		hit = false;

		hash_seq_init(&status, shard_map);
		while ((e = hash_seq_search(&status)) != NULL)
		{
			if (e->key.relid == relid || e->key.history == relid || e->result == relid ||
				e->shard.logical_relid == relid)
			{
				hit = true;
				hash_seq_term(&status);
				break;
			}
		}
		if (!hit)
			return;
	}
	hash_destroy(shard_map);
	shard_map = NULL;
}

/* The entry for key, created (not yet filled: *found false) if new. */
static ShardMapEntry *
shard_map_entry(Oid relid, Oid history, bool *found)
{
	ShardMapKey key;

	if (shard_map == NULL)
	{
		HASHCTL		ctl;

		if (!shard_map_callback_registered)
		{
			CacheRegisterRelcacheCallback(shard_map_invalidate, (Datum) 0);
			shard_map_callback_registered = true;
		}
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(ShardMapKey);
		ctl.entrysize = sizeof(ShardMapEntry);
		ctl.hcxt = CacheMemoryContext;
		shard_map = hash_create("pipeline Citus shard map", 32, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		shard_map_catalogs[0] = citus_catalog("pg_dist_shard");
		shard_map_catalogs[1] = citus_catalog("pg_dist_partition");
	}
	memset(&key, 0, sizeof(key));
	key.relid = relid;
	key.history = history;
	return hash_search(shard_map, &key, HASH_ENTER, found);
}

bool
citus_shard_lookup(Oid relid, CitusShard *shard, char **guess_name)
{
	ShardMapEntry *e;
	bool		found;
	bool		is_shard;

	if (guess_name)
		*guess_name = NULL;
	if (!citus_present())
	{
		memset(shard, 0, sizeof(*shard));
		return false;
	}
	if (shard_map != NULL &&
		(e = hash_search(shard_map, &(ShardMapKey) {relid, InvalidOid}, HASH_FIND, NULL)) != NULL)
	{
		*shard = e->shard;
		return e->is_shard;
	}
	is_shard = citus_shard_lookup_uncached(relid, shard, guess_name);
	/* a shard-like name unknown to the metadata may become known: not kept */
	if (is_shard || guess_name == NULL || *guess_name == NULL)
	{
		e = shard_map_entry(relid, InvalidOid, &found);
		e->is_shard = is_shard;
		e->shard = *shard;
		e->result = InvalidOid;
	}
	return is_shard;
}

Oid
citus_colocated_relation(Oid logical, const CitusShard *near, const char *for_table,
						 Oid *seq_relid)
{
	ShardMapEntry *e;
	bool		found;
	Oid			result;
	Oid			seq = InvalidOid;

	if (shard_map != NULL &&
		(e = hash_search(shard_map, &(ShardMapKey) {near->shard_relid, logical}, HASH_FIND, NULL)) != NULL)
	{
		*seq_relid = e->seq;
		return e->result;
	}
	result = citus_colocated_relation_uncached(logical, near, for_table);
	if (result != logical)
		seq = identity_sequence(logical, "seq");
	e = shard_map_entry(near->shard_relid, logical, &found);
	e->is_shard = true;
	e->shard = *near;
	e->result = result;
	e->seq = seq;
	*seq_relid = seq;
	return result;
}

/* The one row's version column of a table read directly, or -1. */
static int64
read_version(Oid relid)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		version = -1;

	rel = table_open(relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = row_attr(tup, RelationGetDescr(rel), "version", &isnull);

		if (!isnull)
			version = DatumGetInt64(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/* 55000: this worker has not applied the published configuration. */
static pg_noreturn void
report_not_synced(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the pipeline configuration of the Citus coordinator has not reached this node"),
			 errdetail("%s", detail),
			 errhint("Run SELECT pipeline.citus_resync(); on the coordinator (needed once after adding a node).")));
}

void
citus_config_check(void)
{
	Oid			nsp;
	Oid			chan;
	Oid			applied;
	Oid			placement;
	ShardRow	s;
	int64		published;
	int64		have;

	if (!citus_present() || citus_local_group() <= 0)
		return;
	nsp = get_namespace_oid("pipeline", true);
	if (!OidIsValid(nsp))
		return;
	chan = get_relname_relid("citus_config", nsp);
	applied = get_relname_relid("citus_config_applied", nsp);
	/* Never published: no node has any configuration of the coordinator's. */
	if (!OidIsValid(chan) || !OidIsValid(applied) || citus_table_kind(chan, NULL) != 'r')
		return;
	if (!shard_of_table(chan, NULL, &s) ||
		!OidIsValid(placement = shard_relation(chan, s.shardid)))
		report_not_synced("This worker has no placement of pipeline.citus_config.");
	published = read_version(placement);
	have = read_version(applied);
	if (have < 0)
		report_not_synced(psprintf("This worker has not applied any configuration; its placement of pipeline.citus_config holds version %lld.",
								   (long long) published));
	if (have != published)
		report_not_synced(psprintf("This worker applied configuration version %lld; its placement of pipeline.citus_config holds version %lld.",
								   (long long) have, (long long) published));
}

/* Is table relid attached (any stage column), per pipeline.attached_tables? */
static bool
table_is_attached(Oid relid)
{
	Oid			nsp = get_namespace_oid("pipeline", true);
	Oid			tab = OidIsValid(nsp) ? get_relname_relid("attached_tables", nsp) : InvalidOid;
	Oid			idx = OidIsValid(nsp) ? get_relname_relid("attached_tables_pkey", nsp) : InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	if (!OidIsValid(tab))
		return false;
	rel = table_open(tab, AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, idx, OidIsValid(idx), NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* The Citus functions that turn a table into a Citus table. */
static const char *const distributing_functions[] = {
	"create_distributed_table", "create_distributed_table_concurrently",
	"create_reference_table", "citus_add_local_table_to_metadata"
};

/*
 * Walker: a call of one of Citus's distributing functions whose first
 * argument is a constant naming an attached table.  Refused (0A000) before
 * Citus does anything, with the order that works: the triggers would run
 * on the rows copied into the new shards, and the history table would stay
 * behind on the coordinator.
 */
static bool
refuse_distributing_attached(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *f = (FuncExpr *) node;
		Node	   *arg = f->args != NIL ? linitial(f->args) : NULL;

		if (arg != NULL && IsA(arg, Const) && ((Const *) arg)->consttype == REGCLASSOID &&
			!((Const *) arg)->constisnull &&
			get_func_namespace(f->funcid) == PG_CATALOG_NAMESPACE)
		{
			char	   *fname = get_func_name(f->funcid);
			Oid			relid = DatumGetObjectId(((Const *) arg)->constvalue);

			for (int i = 0; fname != NULL && i < lengthof(distributing_functions); i++)
			{
				char	   *qual;

				if (strcmp(fname, distributing_functions[i]) != 0 || !table_is_attached(relid))
					continue;
				qual = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												  get_rel_name(relid));
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot run %s() on table %s, which is attached to a pipeline", fname, qual),
						 errdetail("Its rows would be copied into the new shards through the pipeline's triggers, and its stage history table would stay behind."),
						 i < 2 ?
						 errhint("Distribute it in this order: SELECT pipeline.detach('%s'); SELECT %s('%s', ...); SELECT pipeline.attach('%s'); the stage history table is kept and distributed with it.",
								 qual, fname, qual, qual) :
						 errhint("pipeline.attach() supports plain and hash-distributed tables: SELECT pipeline.detach('%s'); SELECT create_distributed_table('%s', '<key column>'); SELECT pipeline.attach('%s');",
								 qual, qual, qual)));
			}
		}
	}
	return expression_tree_walker(node, refuse_distributing_attached, context);
}

/*
 * post_parse_analyze hook: in a database with Citus, refuse distributing
 * an attached table (above), for a SELECT naming it with a constant.
 * Other forms still fail, later, in the triggers on the new shards.
 */
static void
citus_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	if (query->commandType != CMD_SELECT || query->targetList == NIL ||
		query->rtable != NIL || !citus_present())
		return;
	(void) expression_tree_walker((Node *) query->targetList, refuse_distributing_attached, NULL);
}

/*
 * What Citus relays of a worker's error: through a command it ran on the
 * worker (an UPDATE, a single-row INSERT, ...), the SQLSTATE, message,
 * DETAIL, HINT and CONTEXT; through the COPY it sends into shards, only the
 * message and DETAIL, under SQLSTATE XX000.  Such a COPY is the statement
 * of a backend Citus connected (application_name "citus_internal
 * gpid=...").
 */
bool
citus_in_shard_copy(void)
{
	return ActivePortal != NULL && ActivePortal->commandTag == CMDTAG_COPY &&
		application_name != NULL &&
		strncmp(application_name, "citus_internal gpid=", 20) == 0;
}

Datum
citus_call_keeping_error_fields(PGFunction fn, FunctionCallInfo fcinfo)
{
	MemoryContext cxt = CurrentMemoryContext;
	Datum		result = (Datum) 0;

	PG_TRY();
	{
		result = fn(fcinfo);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		StringInfoData detail;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		initStringInfo(&detail);
		/* once: an error already carrying them passes as it is */
		if (edata->detail &&
			(strncmp(edata->detail, "SQLSTATE: ", 10) == 0 || strstr(edata->detail, "\nSQLSTATE: ") != NULL))
			ReThrowError(edata);
		if (edata->detail)
			appendStringInfo(&detail, "%s\n", edata->detail);
		appendStringInfo(&detail, "SQLSTATE: %s", unpack_sql_state(edata->sqlerrcode));
		if (edata->hint)
			appendStringInfo(&detail, "\nHINT: %s", edata->hint);
		edata->detail = detail.data;
		ReThrowError(edata);
	}
	PG_END_TRY();
	return result;
}
