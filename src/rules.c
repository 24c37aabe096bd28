/*
 * rules.c
 *		Rulesets of a stage type: the built-in strict and lenient ones,
 *		computed from the type's metadata (so they follow label additions),
 *		and custom ones stored as edges in pipeline.ruleset_edges.  Built as
 *		part of the stage cache (stage_meta.c), with the same invalidation.
 */
#include "compat.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "stage_meta.h"

/* Column numbers of pipeline.rulesets and pipeline.ruleset_edges. */
#define Anum_rulesets_stage_type		1
#define Anum_rulesets_ruleset			2
#define Anum_edges_stage_type			1
#define Anum_edges_ruleset				2
#define Anum_edges_from_stage			3
#define Anum_edges_to_stage				4

/* Index of the next stage of `kind` after `from`, or -1. */
static int
next_of_kind(const StageType *type, int from, StageKind kind)
{
	for (int i = from + 1; i < type->nstages; i++)
		if (type->stages[i].kind == kind)
			return i;
	return -1;
}

/* Mark from -> to allowed (from == -1: creation). */
static inline void
allow(const StageType *type, Ruleset *rs, int from, int to)
{
	if (from != to)
		RULESET_ALLOWS(type, rs, from, to) = true;
}

/*
 * strict: create only in an entry stage; forward exactly one open stage;
 * the last open stage -> the first won stage; any open -> any lost; a won
 * stage -> the next won stage; nothing leaves a lost stage.
 */
static void
build_strict(const StageType *type, Ruleset *rs)
{
	for (int to = 0; to < type->nstages; to++)
		if (type->stages[to].is_entry)
			allow(type, rs, -1, to);

	for (int from = 0; from < type->nstages; from++)
	{
		int			next;

		switch (type->stages[from].kind)
		{
			case STAGE_KIND_OPEN:
				next = next_of_kind(type, from, STAGE_KIND_OPEN);
				if (next >= 0)
					allow(type, rs, from, next);
				else if (type->first_won >= 0)
					allow(type, rs, from, type->first_won);
				for (int to = 0; to < type->nstages; to++)
					if (type->stages[to].kind == STAGE_KIND_LOST)
						allow(type, rs, from, to);
				break;
			case STAGE_KIND_WON:
				next = next_of_kind(type, from, STAGE_KIND_WON);
				if (next >= 0)
					allow(type, rs, from, next);
				break;
			case STAGE_KIND_LOST:
				break;
		}
	}
}

/*
 * lenient: strict, plus any open -> any other open (skip forward, move
 * back), any open -> the first won stage, and lost -> any open (reopen).
 */
static void
build_lenient(const StageType *type, Ruleset *rs)
{
	build_strict(type, rs);
	for (int from = 0; from < type->nstages; from++)
	{
		StageKind	kind = type->stages[from].kind;

		if (kind == STAGE_KIND_WON)
			continue;
		for (int to = 0; to < type->nstages; to++)
			if (type->stages[to].kind == STAGE_KIND_OPEN)
				allow(type, rs, from, to);
		if (kind == STAGE_KIND_OPEN && type->first_won >= 0)
			allow(type, rs, from, type->first_won);
	}
}

/* Find a ruleset by name among the first n. */
static Ruleset *
find_ruleset(StageType *type, const char *name)
{
	for (int i = 0; i < type->nrulesets; i++)
		if (strcmp(type->rulesets[i].name, name) == 0)
			return &type->rulesets[i];
	return NULL;
}

/* list_sort comparator for C strings. */
static int
cstring_list_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/* Names of the type's custom rulesets, from pipeline.rulesets. */
static List *
read_custom_ruleset_names(Oid type_oid)
{
	Relation	rel = table_open(stage_meta_config_relid("rulesets"), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *names = NIL;

	ScanKeyInit(&key, Anum_rulesets_stage_type, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(type_oid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;

		names = lappend(names, TextDatumGetCString(heap_getattr(tup, Anum_rulesets_ruleset,
																RelationGetDescr(rel), &isnull)));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(names, cstring_list_cmp);
	return names;
}

/* Set the stored edges of the type's custom rulesets. */
static void
read_custom_edges(StageType *type)
{
	Relation	rel = table_open(stage_meta_config_relid("ruleset_edges"), AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_edges_stage_type, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(type->type_oid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Ruleset    *rs;
		Datum		d;
		int			from = -1;
		int			to;

		rs = find_ruleset(type, TextDatumGetCString(heap_getattr(tup, Anum_edges_ruleset, desc, &isnull)));
		if (rs == NULL || rs->builtin)
			continue;
		d = heap_getattr(tup, Anum_edges_from_stage, desc, &isnull);
		if (!isnull && (from = stage_type_index_of_label(type, TextDatumGetCString(d))) < 0)
			continue;			/* label renamed away */
		to = stage_type_index_of_label(type, TextDatumGetCString(heap_getattr(tup, Anum_edges_to_stage, desc, &isnull)));
		if (to < 0)
			continue;
		allow(type, rs, from, to);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * Build the type's rulesets in cxt: [0] strict, [1] lenient, then the
 * custom ones sorted by name.
 */
void
rules_build(StageType *type, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	List	   *custom = read_custom_ruleset_names(type->type_oid);
	size_t		matrix = sizeof(bool) * (type->nstages + 1) * Max(type->nstages, 1);
	ListCell   *lc;
	int			n = 0;

	type->rulesets = palloc0(sizeof(Ruleset) * (2 + list_length(custom)));
	type->rulesets[n].name = "strict";
	type->rulesets[n].builtin = true;
	type->rulesets[n].allowed = palloc0(matrix);
	build_strict(type, &type->rulesets[n++]);
	type->rulesets[n].name = "lenient";
	type->rulesets[n].builtin = true;
	type->rulesets[n].allowed = palloc0(matrix);
	build_lenient(type, &type->rulesets[n++]);
	foreach(lc, custom)
	{
		type->rulesets[n].name = lfirst(lc);
		type->rulesets[n].builtin = false;
		type->rulesets[n].allowed = palloc0(matrix);
		n++;
	}
	type->nrulesets = n;
	read_custom_edges(type);
	MemoryContextSwitchTo(old);
}
