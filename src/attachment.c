/*
 * attachment.c
 *		Backend-local cache of pipeline.attached_tables: which table is
 *		attached on which stage column, with which ruleset, writing history
 *		into which table.
 *
 * The configuration is keyed by the table's OID (regclass), so renaming the
 * table, its schema or its history table changes nothing, and a table later
 * created under an old name is not attached.  Triggers look their
 * attachment up once per query; the cache is loaded with a catalog-snapshot
 * scan (like the stage cache, never SPI under the caller's snapshot) and
 * dropped by the relcache invalidation that the statement-level trigger on
 * the table sends when it changes.
 */
#include "compat.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "attachment.h"
#include "citus.h"

/* Column numbers of pipeline.attached_tables. */
#define Anum_attached_target			1
#define Anum_attached_stage_column		2
#define Anum_attached_ruleset			3
#define Anum_attached_history			4
#define Anum_attached_entered_at		5

typedef struct AttachmentKey
{
	Oid			target;
	NameData	stage_column;
} AttachmentKey;

typedef struct AttachmentEntry
{
	AttachmentKey key;			/* hash key */
	Attachment	att;
} AttachmentEntry;

static MemoryContext attachment_cxt = NULL;	/* holds attachment_hash */
static HTAB *attachment_hash = NULL;	/* NULL: not loaded */
static Oid	attached_tables_rel = InvalidOid;
static uint64 attachment_inval_count = 0;

/*
 * A change to pipeline.attached_tables (or a reset): reload on next use.
 * Memory is freed only by the next load, never here, so that a lookup in
 * progress is not pulled from under its feet.
 */
static void
attachment_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == attached_tables_rel)
	{
		attachment_hash = NULL;
		attached_tables_rel = InvalidOid;
		attachment_inval_count++;
	}
}

/* Register the invalidation callback; called from _PG_init. */
void
attachment_init(void)
{
	CacheRegisterRelcacheCallback(attachment_relcache_callback, (Datum) 0);
}

/*
 * The OID of pipeline.attached_tables, or InvalidOid under 1.0's SQL
 * objects.  Its absence is not cached: ALTER EXTENSION UPDATE creates it.
 */
static Oid
attached_tables_relid(void)
{
	Oid			nsp;

	if (OidIsValid(attached_tables_rel))
		return attached_tables_rel;
	nsp = get_namespace_oid("pipeline", true);
	if (OidIsValid(nsp))
		attached_tables_rel = get_relname_relid("attached_tables", nsp);
	return attached_tables_rel;
}

bool
attachment_config_exists(void)
{
	return OidIsValid(attached_tables_relid());
}

/*
 * Read every row of pipeline.attached_tables into a new hash table, built
 * in a new context that replaces the old one only once it is complete.
 * Returns false when an invalidation arrived meanwhile (the caller retries).
 */
static bool
attachment_load(Oid relid)
{
	HASHCTL		ctl;
	HTAB	   *hash;
	MemoryContext cxt;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	uint64		inval_before;

	/* a Citus worker without its coordinator's configuration: error */
	citus_config_check();
	/* opening the table is where invalidations are processed */
	rel = table_open(relid, AccessShareLock);
	inval_before = attachment_inval_count;

	cxt = AllocSetContextCreate(CacheMemoryContext, "pipeline attachments",
								ALLOCSET_SMALL_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(AttachmentKey);
	ctl.entrysize = sizeof(AttachmentEntry);
	ctl.hcxt = cxt;
	hash = hash_create("pipeline attachments", 16, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		AttachmentKey key;
		AttachmentEntry *entry;
		bool		isnull;
		Datum		d;

		memset(&key, 0, sizeof(key));
		key.target = DatumGetObjectId(heap_getattr(tup, Anum_attached_target, desc, &isnull));
		if (isnull)
			continue;
		d = heap_getattr(tup, Anum_attached_stage_column, desc, &isnull);
		if (isnull)
			continue;
		strlcpy(NameStr(key.stage_column), NameStr(*DatumGetName(d)), NAMEDATALEN);

		entry = hash_search(hash, &key, HASH_ENTER, NULL);
		entry->att.target = key.target;
		entry->att.stage_column = key.stage_column;
		d = heap_getattr(tup, Anum_attached_ruleset, desc, &isnull);
		entry->att.ruleset = MemoryContextStrdup(cxt, isnull ? "strict" : TextDatumGetCString(d));
		d = heap_getattr(tup, Anum_attached_history, desc, &isnull);
		entry->att.history = isnull ? InvalidOid : DatumGetObjectId(d);
		d = heap_getattr(tup, Anum_attached_entered_at, desc, &isnull);
		entry->att.has_entered_at = !isnull;
		memset(&entry->att.entered_at_column, 0, sizeof(NameData));
		if (!isnull)
			strlcpy(NameStr(entry->att.entered_at_column), NameStr(*DatumGetName(d)), NAMEDATALEN);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (attachment_inval_count != inval_before)
	{
		MemoryContextDelete(cxt);
		return false;
	}
	if (attachment_cxt != NULL)
		MemoryContextDelete(attachment_cxt);
	attachment_cxt = cxt;
	attachment_hash = hash;
	attached_tables_rel = relid;
	return true;
}

bool
attachment_get(Oid target, const char *stage_column, Attachment *out,
			   MemoryContext cxt)
{
	AttachmentKey key;
	AttachmentEntry *entry;

	while (attachment_hash == NULL)
	{
		Oid			relid = attached_tables_relid();

		if (!OidIsValid(relid))
			return false;
		(void) attachment_load(relid);
	}

	memset(&key, 0, sizeof(key));
	key.target = target;
	strlcpy(NameStr(key.stage_column), stage_column, NAMEDATALEN);
	entry = hash_search(attachment_hash, &key, HASH_FIND, NULL);
	if (entry == NULL)
		return false;
	*out = entry->att;
	out->ruleset = MemoryContextStrdup(cxt, entry->att.ruleset);
	return true;
}
