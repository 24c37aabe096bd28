/*
 * stage_meta.c
 *		Backend-local cache of stage metadata for registered enum types.
 *
 * Data flows one way: config tables (pipeline.stage_types,
 * pipeline.stage_settings, pipeline.rulesets, pipeline.ruleset_edges) and
 * pg_enum -> this cache -> triggers and aggregates.
 *
 * Loading reads the config tables with systable_beginscan under the catalog
 * snapshot (never SPI under the caller's snapshot, which would keep stale
 * rules for a REPEATABLE READ transaction).  Statement-level triggers on the
 * config tables send a relcache invalidation for the changed table; our
 * relcache callback, and syscache callbacks on pg_enum, pg_type and
 * pg_namespace for the labels, types and schemas the cache holds, mark the
 * cache stale.  The cache is dropped lazily, at the
 * next lookup, so that a pointer handed out stays valid until then.
 */
#include "compat.h"

#include "access/genam.h"
#include "commands/trigger.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "citus.h"
#include "stage_meta.h"

PG_FUNCTION_INFO_V1(pipeline_config_changed);
PG_FUNCTION_INFO_V1(pipeline_check_stage_limit);

/* Column numbers of pipeline.stage_types and pipeline.stage_settings. */
#define Anum_stage_types_stage_type		1
#define Anum_stage_types_labels			2
#define Anum_stage_types_won			3
#define Anum_stage_types_lost			4
#define Anum_stage_types_entry			5
#define Anum_stage_types_probabilities	6

#define Anum_stage_settings_stage_type	1
#define Anum_stage_settings_stage		2
#define Anum_stage_settings_probability	3
#define Anum_stage_settings_rotting		4

/* Registration of a type: what define_stages stored (or the built-in one). */
typedef struct Registration
{
	int			nlabels;
	char	  **labels;			/* labels known at registration, enum order */
	Numeric    *probabilities;	/* aligned with labels */
	int			nwon;
	char	  **won;
	int			nlost;
	char	  **lost;
	int			nentry;
	char	  **entry;
} Registration;

typedef struct TypeEntry
{
	Oid			type_oid;		/* hash key */
	StageType  *type;
	uint32		hashvalue;		/* TYPEOID syscache hash, for invalidation */
	uint32		nsp_hashvalue;	/* NAMESPACEOID hash of its schema */
} TypeEntry;

typedef struct ValueEntry
{
	Oid			enum_oid;		/* hash key */
	StageType  *type;
	int			index;
	uint32		hashvalue;		/* ENUMOID syscache hash, for invalidation */
} ValueEntry;

/* One pg_enum row, for sorting a type's labels. */
typedef struct EnumLabel
{
	Oid			oid;
	float4		sortorder;
	char	   *label;
} EnumLabel;

uint64		stage_meta_generation = 1;

static MemoryContext cache_cxt = NULL;
static HTAB *type_hash = NULL;
static HTAB *value_hash = NULL;
static bool cache_stale = false;
static bool enum_check_pending = false; /* see enum_callback */
static uint64 inval_count = 0;

/* Resolved at first use after each reset. */
static Oid	pipeline_nsp = InvalidOid;
static Oid	builtin_type = InvalidOid;
static Oid	stage_types_rel = InvalidOid;
static Oid	stage_settings_rel = InvalidOid;
static Oid	rulesets_rel = InvalidOid;
static Oid	ruleset_edges_rel = InvalidOid;

/* The built-in pipeline.stage: its registration is code, not a row. */
static const char *const builtin_labels[] = {
	"lead_generation", "prospecting", "qualification", "initial_contact",
	"proposal", "negotiation", "closed_won", "follow_up", "closed_lost"
};
static const char *const builtin_probabilities[] = {
	"0.05", "0.10", "0.20", "0.30", "0.60", "0.80", "1.00", "1.00", "0.00"
};
static const char *const builtin_won[] = {"closed_won", "follow_up"};
static const char *const builtin_lost[] = {"closed_lost"};
static const char *const builtin_entry[] = {"lead_generation", "prospecting"};

/* Mark the cache stale; acted upon at the next lookup. */
static void
cache_invalidate(void)
{
	cache_stale = true;
	inval_count++;
}

/* Relcache callback: a config table changed (or everything was reset). */
static void
relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) ||
		relid == stage_types_rel || relid == stage_settings_rel ||
		relid == rulesets_rel || relid == ruleset_edges_rel)
		cache_invalidate();
}

/*
 * Whether a type we hold has this TYPEOID hash value (or, with nsp, its
 * schema this NAMESPACEOID one).
 */
static bool
held_type_has_hash(uint32 hashvalue, bool nsp)
{
	HASH_SEQ_STATUS status;
	TypeEntry  *entry;

	hash_seq_init(&status, type_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if ((nsp ? entry->nsp_hashvalue : entry->hashvalue) == hashvalue)
		{
			hash_seq_term(&status);
			return true;
		}
	}
	return false;
}

/* pg_type changed: only matters for types we hold (renamed or dropped). */
static void
type_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	if (hashvalue == 0 || type_hash == NULL || held_type_has_hash(hashvalue, false))
		cache_invalidate();
}

/* pg_namespace changed: only matters for the schema of a type we hold. */
static void
namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	if (hashvalue == 0 || type_hash == NULL || held_type_has_hash(hashvalue, true))
		cache_invalidate();
}

/*
 * pg_enum changed.  A label we hold (renamed, or renumbered by ADD VALUE
 * ... BEFORE) makes the cache stale at once.  Any other row may be a label
 * added to a type we hold, whose hash value names no type and which a
 * callback cannot look up: the next lookup compares the label counts
 * (check_held_label_counts).
 */
static void
enum_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	ValueEntry *v;

	if (hashvalue == 0 || value_hash == NULL)
	{
		cache_invalidate();
		return;
	}
	hash_seq_init(&status, value_hash);
	while ((v = hash_seq_search(&status)) != NULL)
	{
		if (v->hashvalue == hashvalue)
		{
			hash_seq_term(&status);
			cache_invalidate();
			return;
		}
	}
	enum_check_pending = true;
}

/*
 * Register the invalidation callbacks; called from _PG_init.
 */
void
stage_meta_init(void)
{
	CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(ENUMOID, enum_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, type_callback, (Datum) 0);
}

/* Create empty hash tables in the cache context. */
static void
cache_create_tables(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TypeEntry);
	ctl.hcxt = cache_cxt;
	type_hash = hash_create("pipeline stage types", 16, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(ValueEntry);
	value_hash = hash_create("pipeline stage labels", 128, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Act on a pg_enum change that named no label we hold: the cache is stale
 * if a type we hold now has another number of labels (ALTER TYPE ... ADD
 * VALUE).  Reading the catalog may deliver more invalidations; they only
 * set flags.
 */
static void
check_held_label_counts(void)
{
	HASH_SEQ_STATUS status;
	TypeEntry  *entry;

	enum_check_pending = false;
	hash_seq_init(&status, type_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME,
											   ObjectIdGetDatum(entry->type_oid));
		int			nlabels = list->n_members;

		ReleaseSysCacheList(list);
		if (nlabels != entry->type->nstages)
		{
			hash_seq_term(&status);
			cache_invalidate();
			return;
		}
	}
}

/*
 * Drop everything if an invalidation arrived since the last lookup.  This is
 * the only place cached memory is freed.
 */
static void
cache_reset_if_stale(void)
{
	if (cache_cxt == NULL)
	{
		cache_cxt = AllocSetContextCreate(CacheMemoryContext,
										  "pipeline stage cache",
										  ALLOCSET_DEFAULT_SIZES);
		cache_create_tables();
		return;
	}
	if (unlikely(enum_check_pending) && !cache_stale)
		check_held_label_counts();
	if (!cache_stale)
		return;
	MemoryContextReset(cache_cxt);
	cache_create_tables();
	enum_check_pending = false;
	pipeline_nsp = builtin_type = InvalidOid;
	stage_types_rel = stage_settings_rel = rulesets_rel = ruleset_edges_rel = InvalidOid;
	cache_stale = false;
	stage_meta_generation++;
}

/*
 * Resolve the extension's schema, the built-in type and the config tables.
 * The schema is fixed ("pipeline": the extension is not relocatable).
 */
static void
resolve_catalog_objects(void)
{
	if (OidIsValid(stage_types_rel))
		return;
	pipeline_nsp = get_namespace_oid("pipeline", true);
	if (!OidIsValid(pipeline_nsp) ||
		!OidIsValid(stage_types_rel = get_relname_relid("stage_types", pipeline_nsp)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pipeline\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION pipeline.")));
	stage_settings_rel = get_relname_relid("stage_settings", pipeline_nsp);
	rulesets_rel = get_relname_relid("rulesets", pipeline_nsp);
	ruleset_edges_rel = get_relname_relid("ruleset_edges", pipeline_nsp);
	builtin_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								   CStringGetDatum("stage"),
								   ObjectIdGetDatum(pipeline_nsp));
}

/* Oid of a config table, for rules.c. */
Oid
stage_meta_config_relid(const char *name)
{
	resolve_catalog_objects();
	if (strcmp(name, "rulesets") == 0)
		return rulesets_rel;
	if (strcmp(name, "ruleset_edges") == 0)
		return ruleset_edges_rel;
	elog(ERROR, "unknown pipeline config table \"%s\"", name);
	return InvalidOid;			/* keep compiler quiet */
}

/* Deconstruct a text[] datum into palloc'd C strings (NULLs skipped). */
static int
text_array_to_cstrings(Datum array, char ***out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			k = 0;

	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, &n);
	*out = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			(*out)[k++] = TextDatumGetCString(elems[i]);
	return k;
}

/* Position of a string in an array of strings, -1 if absent. */
static int
string_index(char **list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

/* The registration compiled into the extension for pipeline.stage. */
static void
builtin_registration(Registration *reg)
{
	reg->nlabels = lengthof(builtin_labels);
	reg->labels = (char **) builtin_labels;
	reg->probabilities = palloc(sizeof(Numeric) * reg->nlabels);
	for (int i = 0; i < reg->nlabels; i++)
		reg->probabilities[i] =
			DatumGetNumeric(DirectFunctionCall3(numeric_in,
												CStringGetDatum(builtin_probabilities[i]),
												ObjectIdGetDatum(InvalidOid),
												Int32GetDatum(-1)));
	reg->nwon = lengthof(builtin_won);
	reg->won = (char **) builtin_won;
	reg->nlost = lengthof(builtin_lost);
	reg->lost = (char **) builtin_lost;
	reg->nentry = lengthof(builtin_entry);
	reg->entry = (char **) builtin_entry;
}

/*
 * Read a custom type's registration row; false if there is none.
 */
static bool
read_registration(Oid type_oid, Registration *reg)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		found = false;

	rel = table_open(stage_types_rel, AccessShareLock);
	ScanKeyInit(&key, Anum_stage_types_stage_type, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(type_oid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum	   *probs;
		bool	   *pnulls;
		int			nprobs;

		reg->nlabels = text_array_to_cstrings(heap_getattr(tup, Anum_stage_types_labels, desc, &isnull), &reg->labels);
		reg->nwon = text_array_to_cstrings(heap_getattr(tup, Anum_stage_types_won, desc, &isnull), &reg->won);
		reg->nlost = text_array_to_cstrings(heap_getattr(tup, Anum_stage_types_lost, desc, &isnull), &reg->lost);
		reg->nentry = text_array_to_cstrings(heap_getattr(tup, Anum_stage_types_entry, desc, &isnull), &reg->entry);
		deconstruct_array(DatumGetArrayTypeP(heap_getattr(tup, Anum_stage_types_probabilities, desc, &isnull)),
						  NUMERICOID, -1, false, TYPALIGN_INT,
						  &probs, &pnulls, &nprobs);
		reg->probabilities = palloc0(sizeof(Numeric) * Max(reg->nlabels, 1));
		for (int i = 0; i < Min(nprobs, reg->nlabels); i++)
			reg->probabilities[i] = pnulls[i] ? NULL : DatumGetNumeric(probs[i]);
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* Compare pg_enum rows by sort order. */
static int
enum_label_cmp(const void *a, const void *b)
{
	float4		x = ((const EnumLabel *) a)->sortorder;
	float4		y = ((const EnumLabel *) b)->sortorder;

	return (x > y) - (x < y);
}

/* A type's labels in sort order. */
static int
read_enum_labels(Oid type_oid, EnumLabel **out)
{
	CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(type_oid));
	EnumLabel  *labels = palloc(sizeof(EnumLabel) * Max(list->n_members, 1));
	int			n = list->n_members;

	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = &list->members[i]->tuple;
		Form_pg_enum en = (Form_pg_enum) GETSTRUCT(tup);

		labels[i].oid = en->oid;
		labels[i].sortorder = en->enumsortorder;
		labels[i].label = pstrdup(NameStr(en->enumlabel));
	}
	ReleaseCatCacheList(list);
	qsort(labels, n, sizeof(EnumLabel), enum_label_cmp);
	*out = labels;
	return n;
}

/*
 * Apply the user's per-stage settings (probability, rotting_after); a label
 * whose probability was set explicitly is no longer "added" for the
 * neighbour-mean rule.
 */
static void
apply_settings(StageType *type, bool *added)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;

	rel = table_open(stage_settings_rel, AccessShareLock);
	ScanKeyInit(&key, Anum_stage_settings_stage_type, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(type->type_oid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		char	   *label;
		Datum		d;
		int			i;

		label = TextDatumGetCString(heap_getattr(tup, Anum_stage_settings_stage, desc, &isnull));
		i = stage_type_index_of_label(type, label);
		if (i < 0)
			continue;			/* label renamed away: nothing to apply */
		d = heap_getattr(tup, Anum_stage_settings_probability, desc, &isnull);
		if (!isnull)
		{
			type->stages[i].probability = DatumGetNumeric(datumCopy(d, false, -1));
			added[i] = false;
		}
		d = heap_getattr(tup, Anum_stage_settings_rotting, desc, &isnull);
		if (!isnull)
		{
			type->stages[i].rots = true;
			type->stages[i].rotting_after = *DatumGetIntervalP(d);
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* Mean of two probabilities, exact: (a + b) * 0.5, trailing zeros trimmed. */
static Numeric
numeric_mean2(Numeric a, Numeric b)
{
	Datum		half = DirectFunctionCall3(numeric_in, CStringGetDatum("0.5"),
										   ObjectIdGetDatum(InvalidOid),
										   Int32GetDatum(-1));
	Datum		sum = DirectFunctionCall2(numeric_add, NumericGetDatum(a),
										  NumericGetDatum(b));

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale,
											   DirectFunctionCall2(numeric_mul, sum, half)));
}

/*
 * Probabilities of labels added after registration (and not set since): a
 * lost one gets 0, an open one the mean of the current probabilities of its
 * nearest open neighbours that have one (one neighbour: its value).
 */
static void
fill_added_probabilities(StageType *type, const bool *added)
{
	Numeric		zero = int64_to_numeric(0);

	for (int i = 0; i < type->nstages; i++)
	{
		Numeric		before = NULL;
		Numeric		after = NULL;

		if (!added[i])
			continue;
		if (type->stages[i].kind != STAGE_KIND_OPEN)
		{
			type->stages[i].probability = zero;
			continue;
		}
		for (int j = i - 1; j >= 0 && before == NULL; j--)
			if (!added[j] && type->stages[j].kind == STAGE_KIND_OPEN)
				before = type->stages[j].probability;
		for (int j = i + 1; j < type->nstages && after == NULL; j++)
			if (!added[j] && type->stages[j].kind == STAGE_KIND_OPEN)
				after = type->stages[j].probability;
		if (before && after)
			type->stages[i].probability = numeric_mean2(before, after);
		else
			type->stages[i].probability = before ? before : (after ? after : zero);
	}
}

/* Compare OIDs for the label binary-search index. */
static int
oid_index_cmp(const void *a, const void *b, void *arg)
{
	const StageType *type = arg;
	Oid			x = type->stages[*(const int *) a].enum_oid;
	Oid			y = type->stages[*(const int *) b].enum_oid;

	return (x > y) - (x < y);
}

/* "schema"."name" with identifiers quoted only where needed. */
static char *
qualified_type_name(Oid type_oid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type_oid));
	Form_pg_type typ;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", type_oid);
	typ = (Form_pg_type) GETSTRUCT(tup);
	result = quote_qualified_identifier(get_namespace_name(typ->typnamespace),
										NameStr(typ->typname));
	ReleaseSysCache(tup);
	return result;
}

/*
 * Build a type's metadata in the current memory context, a temporary one
 * (stage_type_copy keeps the result): an error part way leaks nothing into
 * the cache.  NULL when the type is an enum but not registered.
 */
static StageType *
build_stage_type(Oid type_oid)
{
	Registration reg;
	StageType  *type;
	EnumLabel  *labels;
	bool	   *added;
	int			first_won_label = -1;

	if (type_oid == builtin_type)
		builtin_registration(&reg);
	else if (!read_registration(type_oid, &reg))
		return NULL;

	type = palloc0(sizeof(StageType));
	type->type_oid = type_oid;
	type->builtin = (type_oid == builtin_type);
	type->qualified_name = qualified_type_name(type_oid);
	type->nstages = read_enum_labels(type_oid, &labels);
	type->stages = palloc0(sizeof(StageInfo) * Max(type->nstages, 1));
	added = palloc0(sizeof(bool) * Max(type->nstages, 1));

	/* Won labels are named; the first of them splits open from lost. */
	for (int i = 0; i < type->nstages && first_won_label < 0; i++)
		if (string_index(reg.won, reg.nwon, labels[i].label) >= 0)
			first_won_label = i;

	type->first_won = -1;
	type->last_open = -1;
	for (int i = 0; i < type->nstages; i++)
	{
		StageInfo  *s = &type->stages[i];
		int			r = string_index(reg.labels, reg.nlabels, labels[i].label);

		s->enum_oid = labels[i].oid;
		s->ordinal = i + 1;
		s->label = labels[i].label;
		if (string_index(reg.won, reg.nwon, s->label) >= 0)
			s->kind = STAGE_KIND_WON;
		else if (string_index(reg.lost, reg.nlost, s->label) >= 0)
			s->kind = STAGE_KIND_LOST;
		else if (first_won_label < 0 || i < first_won_label)
			s->kind = STAGE_KIND_OPEN;
		else
			s->kind = STAGE_KIND_LOST;
		added[i] = (r < 0 || reg.probabilities[r] == NULL);
		if (!added[i])
			s->probability = reg.probabilities[r];
		s->is_entry = (r >= 0 && s->kind == STAGE_KIND_OPEN &&
					   string_index(reg.entry, reg.nentry, s->label) >= 0);

		switch (s->kind)
		{
			case STAGE_KIND_OPEN:
				type->nopen++;
				type->last_open = i;
				break;
			case STAGE_KIND_WON:
				type->nwon++;
				if (type->first_won < 0)
					type->first_won = i;
				break;
			case STAGE_KIND_LOST:
				type->nlost++;
				break;
		}
	}
	apply_settings(type, added);
	fill_added_probabilities(type, added);

	/* Binary-search index over label OIDs. */
	type->sorted_index = palloc(sizeof(int) * Max(type->nstages, 1));
	type->sorted_oids = palloc(sizeof(Oid) * Max(type->nstages, 1));
	for (int i = 0; i < type->nstages; i++)
		type->sorted_index[i] = i;
	qsort_arg(type->sorted_index, type->nstages, sizeof(int), oid_index_cmp, type);
	for (int i = 0; i < type->nstages; i++)
		type->sorted_oids[i] = type->stages[type->sorted_index[i]].enum_oid;

	rules_build(type, CurrentMemoryContext);
	return type;
}

/*
 * A deep copy of a built type in cxt: what the cache keeps, without the
 * scratch memory of building it.
 */
static StageType *
stage_type_copy(const StageType *src, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			n = src->nstages;
	Size		matrix = (Size) (n + 1) * Max(n, 1);
	StageType  *type = palloc(sizeof(StageType));

	*type = *src;
	type->qualified_name = pstrdup(src->qualified_name);
	type->stages = palloc(sizeof(StageInfo) * Max(n, 1));
	type->sorted_oids = palloc(sizeof(Oid) * Max(n, 1));
	type->sorted_index = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		type->stages[i] = src->stages[i];
		type->stages[i].label = pstrdup(src->stages[i].label);
		type->stages[i].probability =
			DatumGetNumeric(datumCopy(NumericGetDatum(src->stages[i].probability), false, -1));
		type->sorted_oids[i] = src->sorted_oids[i];
		type->sorted_index[i] = src->sorted_index[i];
	}
	type->rulesets = palloc(sizeof(Ruleset) * Max(src->nrulesets, 1));
	for (int i = 0; i < src->nrulesets; i++)
	{
		type->rulesets[i] = src->rulesets[i];
		type->rulesets[i].name = pstrdup(src->rulesets[i].name);
		type->rulesets[i].allowed = palloc(matrix);
		memcpy(type->rulesets[i].allowed, src->rulesets[i].allowed, matrix);
	}
	MemoryContextSwitchTo(old);
	return type;
}

/* Raise 42704 for an enum type that has no registration. */
static void
report_unregistered(Oid type_oid)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("enum type %s is not registered as a pipeline", format_type_be_qualified(type_oid)),
			 errdetail("Stage functions, triggers and aggregates need to know which labels are open, won and lost."),
			 errhint("Register it with pipeline.define_stages('%s', won => ARRAY[...], lost => ARRAY[...]).",
					 format_type_be_qualified(type_oid))));
}

/*
 * Look up (loading if needed) a registered type.  Errors 42704 for a
 * missing or unregistered type and 42809 for a type that is not an enum,
 * unless missing_ok, in which case NULL is returned.
 */
StageType *
stage_type_get(Oid type_oid, bool missing_ok)
{
	TypeEntry  *entry;

	for (;;)
	{
		MemoryContext old;
		MemoryContext build_cxt;
		StageType  *type;
		uint64		start_count;
		HeapTuple	tup;
		char		typtype;
		Oid			typnamespace;

		cache_reset_if_stale();
		entry = hash_search(type_hash, &type_oid, HASH_FIND, NULL);
		if (entry)
			return entry->type;

		tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type_oid));
		if (!HeapTupleIsValid(tup))
		{
			if (missing_ok)
				return NULL;
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("type with OID %u does not exist", type_oid)));
		}
		typtype = ((Form_pg_type) GETSTRUCT(tup))->typtype;
		typnamespace = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
		ReleaseSysCache(tup);
		if (typtype != TYPTYPE_ENUM)
		{
			if (missing_ok)
				return NULL;
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("type %s is not an enum", format_type_be_qualified(type_oid)),
					 errhint("A pipeline's stages are the labels of an enum type: CREATE TYPE ... AS ENUM (...).")));
		}

		/* a Citus worker without its coordinator's configuration: error */
		citus_config_check();
		start_count = inval_count;
		resolve_catalog_objects();
		build_cxt = AllocSetContextCreate(CurrentMemoryContext,
										  "pipeline stage type build",
										  ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(build_cxt);
		type = build_stage_type(type_oid);
		MemoryContextSwitchTo(old);

		/* An invalidation arrived while loading: what we read may be stale. */
		if (inval_count != start_count || type == NULL)
		{
			MemoryContextDelete(build_cxt);
			if (inval_count != start_count)
				continue;
			if (missing_ok)
				return NULL;
			report_unregistered(type_oid);
		}
		type = stage_type_copy(type, cache_cxt);
		MemoryContextDelete(build_cxt);

		entry = hash_search(type_hash, &type_oid, HASH_ENTER, NULL);
		entry->type = type;
		entry->hashvalue = GetSysCacheHashValue1(TYPEOID, ObjectIdGetDatum(type_oid));
		entry->nsp_hashvalue = GetSysCacheHashValue1(NAMESPACEOID, ObjectIdGetDatum(typnamespace));
		for (int i = 0; i < type->nstages; i++)
		{
			ValueEntry *v = hash_search(value_hash, &type->stages[i].enum_oid, HASH_ENTER, NULL);

			v->type = type;
			v->index = i;
			v->hashvalue = GetSysCacheHashValue1(ENUMOID, ObjectIdGetDatum(type->stages[i].enum_oid));
		}
		return type;
	}
}

/*
 * Registered type by schema-qualified name, resolved without search_path
 * (an unqualified name is refused, since it would depend on it).
 */
StageType *
stage_type_get_by_name(const char *qualified_name, bool missing_ok)
{
	List	   *names = compat_stringToQualifiedNameList(qualified_name);
	TypeName   *tn;
	Oid			type_oid;

	if (list_length(names) != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stage type name \"%s\" is not schema-qualified", qualified_name)));
	tn = makeTypeNameFromNameList(names);
	type_oid = LookupTypeNameOid(NULL, tn, true);
	if (!OidIsValid(type_oid))
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type \"%s\" does not exist", qualified_name)));
	}
	return stage_type_get(type_oid, missing_ok);
}

/*
 * Index of a label OID in a type: binary search over its few label OIDs.
 */
int
stage_type_index_of(const StageType *type, Oid enum_oid)
{
	int			lo = 0;
	int			hi = type->nstages - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		Oid			m = type->sorted_oids[mid];

		if (m == enum_oid)
			return type->sorted_index[mid];
		if (m < enum_oid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Index of a label by text, -1 if unknown. */
int
stage_type_index_of_label(const StageType *type, const char *label)
{
	for (int i = 0; i < type->nstages; i++)
		if (strcmp(type->stages[i].label, label) == 0)
			return i;
	return -1;
}

/*
 * Prepare a call-site memo: process pending invalidations once, so that a
 * change committed elsewhere is seen by this statement.
 */
void
stage_call_cache_init(StageCallCache *cc)
{
	AcceptInvalidationMessages();
	cc->generation = 0;
	cc->type = NULL;
}

/*
 * Call-site memory of calls through an FmgrInfo without an expression:
 * Citus's worker_partial_agg makes a fresh one (fmgr_info, no fn_expr) for
 * every row, so fn_extra never survives a row.  Kept for the backend
 * instead, keyed by what does not change between those rows: the function,
 * the node calling it (fcinfo->context) and the statement (local
 * transaction and statement start).  A few slots, so that the aggregates of
 * one query do not evict each other; each slot's memory is a context of its
 * own, reset when the slot is reused.  (Two calls of one function over
 * different enum types in one query share a slot, and reload its tables
 * when the type changes: correct, only slower.)
 */
#define CALL_SITE_MEMO_SLOTS 8

typedef struct CallSiteMemo
{
	Oid			fn_oid;
	void	   *context;
	LocalTransactionId lxid;
	TimestampTz stmt_start;
	Size		size;
	MemoryContext cxt;
	void	   *site;
} CallSiteMemo;

static CallSiteMemo call_site_memo[CALL_SITE_MEMO_SLOTS];
static int	call_site_memo_next = 0;	/* the slot to reuse next */

/*
 * The call site's memory, size bytes starting with a StageCallCache, zeroed
 * and initialized on the first call: in fn_extra (allocated in fn_mcxt), or
 * for a call without an expression its memo slot for the statement.  *cxt
 * is where more of the call site's memory may go.
 */
static void *
stage_call_site(FunctionCallInfo fcinfo, Size size, MemoryContext *cxt)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	LocalTransactionId lxid;
	TimestampTz stmt_start;
	CallSiteMemo *m;

	if (flinfo->fn_expr != NULL)
	{
		flinfo->fn_extra = MemoryContextAllocZero(flinfo->fn_mcxt, size);
		stage_call_cache_init((StageCallCache *) flinfo->fn_extra);
		*cxt = flinfo->fn_mcxt;
		return flinfo->fn_extra;
	}

	lxid = compat_MyProcLxid;
	stmt_start = GetCurrentStatementStartTimestamp();
	for (int i = 0; i < CALL_SITE_MEMO_SLOTS; i++)
	{
		m = &call_site_memo[i];
		if (m->site != NULL && m->fn_oid == flinfo->fn_oid &&
			m->context == (void *) fcinfo->context && m->lxid == lxid &&
			m->stmt_start == stmt_start && m->size == size)
		{
			flinfo->fn_extra = m->site;
			*cxt = m->cxt;
			return m->site;
		}
	}

	m = &call_site_memo[call_site_memo_next];
	call_site_memo_next = (call_site_memo_next + 1) % CALL_SITE_MEMO_SLOTS;
	if (m->cxt == NULL)
		m->cxt = AllocSetContextCreate(TopMemoryContext, "pipeline call site memo",
									   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(m->cxt);
	m->site = NULL;
	m->fn_oid = flinfo->fn_oid;
	m->context = (void *) fcinfo->context;
	m->lxid = lxid;
	m->stmt_start = stmt_start;
	m->size = size;
	m->site = MemoryContextAllocZero(m->cxt, size);
	stage_call_cache_init((StageCallCache *) m->site);
	flinfo->fn_extra = m->site;
	*cxt = m->cxt;
	return m->site;
}

/*
 * The call site's StageCallCache (see stage_call_site), initialized on the
 * first call.
 */
StageCallCache *
stage_call_cache_get(FunctionCallInfo fcinfo)
{
	MemoryContext cxt;

	if (fcinfo->flinfo->fn_extra != NULL)
		return (StageCallCache *) fcinfo->flinfo->fn_extra;
	return (StageCallCache *) stage_call_site(fcinfo, sizeof(StageCallCache), &cxt);
}

/*
 * The registered type of an enum label, and the label's index in it.  The
 * common case (same type as the last call) is a binary search.
 */
StageType *
stage_call_lookup_value(StageCallCache *cc, Oid enum_oid, int *index)
{
	ValueEntry *v;
	StageType  *type;
	HeapTuple	tup;
	Oid			type_oid;
	int			i;

	cache_reset_if_stale();
	if (cc->type != NULL && cc->generation == stage_meta_generation &&
		(i = stage_type_index_of(cc->type, enum_oid)) >= 0)
	{
		*index = i;
		return cc->type;
	}

	v = hash_search(value_hash, &enum_oid, HASH_FIND, NULL);
	if (v == NULL)
	{
		tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(enum_oid));
		if (!HeapTupleIsValid(tup))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid internal value for enum: %u", enum_oid)));
		type_oid = ((Form_pg_enum) GETSTRUCT(tup))->enumtypid;
		ReleaseSysCache(tup);
		type = stage_type_get(type_oid, false);
		i = stage_type_index_of(type, enum_oid);
		if (i < 0)
			elog(ERROR, "enum label %u missing from stage type %u", enum_oid, type_oid);
	}
	else
	{
		type = v->type;
		i = v->index;
	}
	cc->type = type;
	cc->generation = stage_meta_generation;
	*index = i;
	return type;
}

/* Largest label OID spread for which a StageMap keeps a dense map. */
#define STAGE_MAP_DENSE_MAX	4096

/*
 * The tables of a StageMap, in one contiguous block so that a call site can
 * copy them with one memcpy; arrays follow the header at the offsets it
 * gives: Oid sorted_oids[n]; int32 sorted_index[n]; int32 map[map_len];
 * uint8 kind[n]; bool reach[n * n]; uint32 prob_off[n];
 * char name[name_len + 1]; then each stage's probability (a Numeric).
 */
typedef struct StageTables
{
	Size		size;			/* of the whole block */
	Oid			type_oid;
	uint64		generation;		/* stage_meta_generation it was built at */
	int			nstages;
	Oid			base_oid;		/* smallest label OID */
	uint32		map_len;		/* 0 when the OIDs are too spread out */
	int			name_len;
	Size		off_sorted_oids;
	Size		off_sorted_index;
	Size		off_map;
	Size		off_kind;
	Size		off_reach;
	Size		off_prob;
	Size		off_name;
} StageTables;

/*
 * The tables of the type last loaded by any call site of this backend,
 * keyed by what does not change while its registration stands: the type's
 * OID and stage_meta_generation.  Call sites come and go (one per query, or
 * per row under Citus when a statement has more aggregates than memo
 * slots); this keeps each from rebuilding the tables.
 */
static StageTables *stage_tables_memo = NULL;

/*
 * Build the tables of a stage type in TopMemoryContext (they become the
 * backend-wide memo).
 */
static StageTables *
stage_tables_build(const StageType *type)
{
	int			n = type->nstages;
	int			name_len = strlen(type->qualified_name);
	StageTables h = {0};
	StageTables *t;
	Size		off;
	int32	   *map;
	uint32	   *prob_off;

	if (n < 1 || n > PIPELINE_MAX_STAGES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stage type %s has %d labels, more than the aggregates support",
						type->qualified_name, n)));
	h.type_oid = type->type_oid;
	h.generation = stage_meta_generation;
	h.nstages = n;
	h.base_oid = type->sorted_oids[0];
	if (type->sorted_oids[n - 1] - type->sorted_oids[0] < STAGE_MAP_DENSE_MAX)
		h.map_len = type->sorted_oids[n - 1] - type->sorted_oids[0] + 1;
	h.name_len = name_len;

	/* lay out the arrays after the header */
	h.off_sorted_oids = MAXALIGN(sizeof(StageTables));
	h.off_sorted_index = h.off_sorted_oids + MAXALIGN(sizeof(Oid) * n);
	h.off_map = h.off_sorted_index + MAXALIGN(sizeof(int32) * n);
	h.off_kind = h.off_map + MAXALIGN(sizeof(int32) * h.map_len);
	h.off_reach = h.off_kind + MAXALIGN(n);
	h.off_prob = h.off_reach + MAXALIGN((Size) n * n);
	h.off_name = h.off_prob + MAXALIGN(sizeof(uint32) * n);
	off = h.off_name + MAXALIGN(name_len + 1);
	h.size = off;
	for (int i = 0; i < n; i++)
		h.size += MAXALIGN(VARSIZE(type->stages[i].probability));

	t = MemoryContextAllocZero(TopMemoryContext, h.size);
	*t = h;
	map = (int32 *) ((char *) t + t->off_map);
	prob_off = (uint32 *) ((char *) t + t->off_prob);
	memcpy((char *) t + t->off_name, type->qualified_name, name_len + 1);
	for (uint32 k = 0; k < t->map_len; k++)
		map[k] = -1;
	for (int i = 0; i < n; i++)
	{
		Numeric		prob = type->stages[i].probability;

		((Oid *) ((char *) t + t->off_sorted_oids))[i] = type->sorted_oids[i];
		((int32 *) ((char *) t + t->off_sorted_index))[i] = type->sorted_index[i];
		if (t->map_len > 0)
			map[type->sorted_oids[i] - t->base_oid] = type->sorted_index[i];
		((uint8 *) ((char *) t + t->off_kind))[i] = (uint8) type->stages[i].kind;
		for (int j = 0; j < n; j++)
			((bool *) ((char *) t + t->off_reach))[i * n + j] = stage_reached(type, i, j);
		prob_off[i] = (uint32) off;
		memcpy((char *) t + off, prob, VARSIZE(prob));
		off += MAXALIGN(VARSIZE(prob));
	}
	return t;
}

/*
 * Give the call site its own copy of a stage type's tables (from the
 * backend-wide memo, rebuilt when stale), replacing what it had: the first
 * row, a label it had not seen, or a value of another type.  A copy, since
 * the memo is replaced when another call site loads another type.
 */
static void
stage_map_load(StageMap *m, const StageType *type)
{
	StageTables *t;

	if (stage_tables_memo == NULL ||
		stage_tables_memo->type_oid != type->type_oid ||
		stage_tables_memo->generation != stage_meta_generation)
	{
		if (stage_tables_memo != NULL)
			pfree(stage_tables_memo);
		stage_tables_memo = NULL;
		stage_tables_memo = stage_tables_build(type);
	}

	t = MemoryContextAlloc(m->cxt, stage_tables_memo->size);
	memcpy(t, stage_tables_memo, stage_tables_memo->size);
	if (m->tables != NULL)
		pfree(m->tables);
	m->tables = t;

	m->type_oid = t->type_oid;
	m->nstages = t->nstages;
	m->base_oid = t->base_oid;
	m->map_len = t->map_len;
	m->sorted_oids = (const Oid *) ((char *) t + t->off_sorted_oids);
	m->sorted_index = (const int32 *) ((char *) t + t->off_sorted_index);
	m->map = (const int32 *) ((char *) t + t->off_map);
	m->kind = (const uint8 *) ((char *) t + t->off_kind);
	m->reach = (const bool *) ((char *) t + t->off_reach);
	m->prob_off = (const uint32 *) ((char *) t + t->off_prob);
	m->name = (const char *) t + t->off_name;
	m->name_len = t->name_len;
	m->loads++;
}

/*
 * Slow path of stage_map_get: the call site's map (see stage_call_site),
 * with no type loaded.  Creating it is where pending invalidations are
 * processed, once per query.
 */
StageMap *
stage_map_create(FunctionCallInfo fcinfo, Size size)
{
	MemoryContext cxt;
	StageMap   *m;

	Assert(size >= sizeof(StageMap));
	m = (StageMap *) stage_call_site(fcinfo, size, &cxt);
	m->cxt = cxt;
	return m;
}

/*
 * Slow path of stage_map_index: binary search when there is no dense map,
 * else ask the metadata cache (first row, a label this call site has not
 * seen, or a value of another type) and reload.
 */
int
stage_map_index_slow(StageMap *m, Oid label)
{
	const StageType *type;
	int			index;

	if (m->type_oid != InvalidOid && m->map_len == 0)
	{
		int			lo = 0,
					hi = m->nstages - 1;

		while (lo <= hi)
		{
			int			mid = (lo + hi) / 2;

			if (m->sorted_oids[mid] == label)
				return m->sorted_index[mid];
			if (m->sorted_oids[mid] < label)
				lo = mid + 1;
			else
				hi = mid - 1;
		}
	}
	type = stage_call_lookup_value(&m->cc, label, &index);
	stage_map_load(m, type);
	return index;
}

/*
 * Error unless every label belongs to the map's current type.  For a caller
 * whose lookups reloaded the map in the middle of a row, which a concretely
 * typed aggregate never does after its first row; a hand-written call
 * mixing enum types ends here.
 */
void
stage_map_check_same_type(StageMap *m, int nlabels, const Oid *labels)
{
	for (int i = 0; i < nlabels; i++)
	{
		int			index;
		const StageType *type = stage_call_lookup_value(&m->cc, labels[i], &index);

		if (type->type_oid != m->type_oid)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("arguments of a pipeline aggregate must be of one stage type"),
					 errdetail("Found labels of %s and of another type in the same call.",
							   type->qualified_name)));
	}
}

/*
 * A named ruleset of a type: strict, lenient, or a stored custom one.
 */
const Ruleset *
stage_type_ruleset(const StageType *type, const char *name, bool missing_ok)
{
	for (int i = 0; i < type->nrulesets; i++)
		if (strcmp(type->rulesets[i].name, name) == 0)
			return &type->rulesets[i];
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("ruleset \"%s\" does not exist for stage type %s", name, type->qualified_name),
				 errdetail("Every stage type has the built-in rulesets \"strict\" and \"lenient\"."),
				 errhint("Create a custom ruleset with pipeline.copy_ruleset('%s', 'strict', '%s').",
						 type->qualified_name, name)));
	return NULL;
}

/*
 * Whether a row at stage index `at` has reached stage index `target`.
 */
bool
stage_reached(const StageType *type, int at, int target)
{
	StageKind	at_kind = type->stages[at].kind;
	StageKind	target_kind = type->stages[target].kind;

	if (at_kind == STAGE_KIND_LOST || target_kind == STAGE_KIND_LOST)
		return false;
	if (at_kind == STAGE_KIND_WON)
		return target_kind == STAGE_KIND_OPEN || target <= at;
	return target_kind == STAGE_KIND_OPEN && target <= at;
}

/*
 * OIDs of every registered type that still exists: pipeline.stage first,
 * then the registrations in OID order.
 */
List *
stage_meta_registered_types(void)
{
	List	   *result = NIL;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;

	cache_reset_if_stale();
	resolve_catalog_objects();
	rel = table_open(stage_types_rel, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Oid			type_oid = DatumGetObjectId(heap_getattr(tup, Anum_stage_types_stage_type,
															 RelationGetDescr(rel), &isnull));

		if (SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(type_oid)))
			result = lappend_oid(result, type_oid);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(result, list_oid_cmp);
	if (OidIsValid(builtin_type))
		result = lcons_oid(builtin_type, result);
	return result;
}

/* The text of a kind, as SQL shows it. */
const char *
stage_kind_name(StageKind kind)
{
	switch (kind)
	{
		case STAGE_KIND_OPEN:
			return "open";
		case STAGE_KIND_WON:
			return "won";
		case STAGE_KIND_LOST:
			return "lost";
	}
	return "?";
}

/*
 * pipeline._config_changed(): statement-level AFTER trigger on the config
 * tables: invalidate the table's relcache entry, which every backend's
 * stage cache (and attachment cache) listens to.
 * Transactional: other sessions see it once this commits, at their next
 * statement.
 */
Datum
pipeline_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pipeline._config_changed() must be fired AFTER ... FOR EACH STATEMENT")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * pipeline._check_stage_limit(stage_type regtype): 54000 when the enum has
 * more labels than a pipeline supports (PIPELINE_MAX_STAGES).  Called for
 * every registration written (a trigger on pipeline.stage_types, so
 * define_stages refuses such a type) and after ALTER TYPE on a registered
 * type (which then cannot add the label).
 */
Datum
pipeline_check_stage_limit(PG_FUNCTION_ARGS)
{
	Oid			type_oid = PG_GETARG_OID(0);
	CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(type_oid));
	int			nlabels = list->n_members;

	ReleaseSysCacheList(list);
	if (nlabels > PIPELINE_MAX_STAGES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stage type %s has %d labels, more than the %d a pipeline supports",
						format_type_be_qualified(type_oid), nlabels, PIPELINE_MAX_STAGES),
				 errdetail("The aggregates keep a table of stages by stages per type, and pipeline.count_state holds at most %d stages.",
						   PIPELINE_MAX_STAGES),
				 errhint("Model the process with at most %d stages; a label removed from an enum needs a new enum type.",
						 PIPELINE_MAX_STAGES)));
	PG_RETURN_VOID();
}
