/*
 * transition_stash.c
 *		Backend-local, per-statement record of rows an UPDATE may move to
 *		another partition.
 *
 * PostgreSQL runs a cross-partition UPDATE as BEFORE UPDATE on the old
 * partition, then a delete there and BEFORE/AFTER INSERT on the new one,
 * with nothing telling the insert-side triggers that the row is moving.  The
 * BEFORE UPDATE trigger therefore stashes (root table, primary key, old
 * stage) here, and the AFTER INSERT triggers look the row up: found means
 * "one transition from the old stage", not a creation.
 *
 * A stash belongs to one statement, identified by the executor's per-query
 * memory context (where every trigger of that statement keeps fn_extra).  It
 * lives in that context and unlinks itself through a reset callback when the
 * executor frees it at statement end.  Aborting a (sub)transaction forgets
 * every stash made inside it, so nothing outlives an error even if its
 * memory is reclaimed later.
 */
#include "compat.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "transition.h"

typedef struct StashKey
{
	Oid			root_relid;
	int			len;
	const char *data;
} StashKey;

typedef struct StashEntry
{
	StashKey	key;			/* must be first */
	Oid			old_stage;
	bool		old_isnull;
} StashEntry;

typedef struct Stash
{
	MemoryContext query_cxt;
	SubTransactionId subid;
	HTAB	   *entries;
	struct Stash *next;
	MemoryContextCallback on_reset;
} Stash;

static Stash *stashes = NULL;
static bool callbacks_registered = false;

/* hash of a StashKey: relid mixed with the key bytes */
static uint32
stash_key_hash(const void *key, Size keysize)
{
	const StashKey *k = (const StashKey *) key;

	return hash_combine(murmurhash32((uint32) k->root_relid),
						hash_bytes((const unsigned char *) k->data, k->len));
}

/* dynahash match function: 0 when equal */
static int
stash_key_match(const void *key1, const void *key2, Size keysize)
{
	const StashKey *a = (const StashKey *) key1;
	const StashKey *b = (const StashKey *) key2;

	if (a->root_relid != b->root_relid || a->len != b->len)
		return 1;
	return memcmp(a->data, b->data, a->len);
}

/* Unlink a stash from the list; harmless if it is not there any more. */
static void
stash_unlink(Stash *stash)
{
	Stash	  **p;

	for (p = &stashes; *p != NULL; p = &(*p)->next)
	{
		if (*p == stash)
		{
			*p = stash->next;
			return;
		}
	}
}

/* Memory context reset callback: the statement is over. */
static void
stash_reset_callback(void *arg)
{
	stash_unlink((Stash *) arg);
}

/* Transaction end (commit or abort): no statement survives it. */
static void
stash_xact_callback(XactEvent event, void *arg)
{
	stashes = NULL;
}

/* Subtransaction abort: forget the stashes of statements made inside it. */
static void
stash_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	Stash	  **p;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	p = &stashes;
	while (*p != NULL)
	{
		if ((*p)->subid >= mySubid)
			*p = (*p)->next;
		else
			p = &(*p)->next;
	}
}

/* The stash of the statement owning query_cxt, optionally created. */
static Stash *
stash_find(MemoryContext query_cxt, bool create)
{
	Stash	   *stash;
	HASHCTL		ctl;

	for (stash = stashes; stash != NULL; stash = stash->next)
	{
		if (stash->query_cxt == query_cxt)
			return stash;
	}
	if (!create)
		return NULL;

	if (!callbacks_registered)
	{
		RegisterXactCallback(stash_xact_callback, NULL);
		RegisterSubXactCallback(stash_subxact_callback, NULL);
		callbacks_registered = true;
	}

	stash = MemoryContextAllocZero(query_cxt, sizeof(Stash));
	stash->query_cxt = query_cxt;
	stash->subid = GetCurrentSubTransactionId();

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(StashKey);
	ctl.entrysize = sizeof(StashEntry);
	ctl.hash = stash_key_hash;
	ctl.match = stash_key_match;
	ctl.hcxt = query_cxt;
	stash->entries = hash_create("pipeline partition move stash", 64, &ctl,
								 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);

	stash->on_reset.func = stash_reset_callback;
	stash->on_reset.arg = stash;
	MemoryContextRegisterResetCallback(query_cxt, &stash->on_reset);

	stash->next = stashes;
	stashes = stash;
	return stash;
}

/*
 * Remember that the row with this key (of root_relid) had old_stage before
 * the current statement updated it.  A later entry for the same key replaces
 * an earlier one.
 */
void
transition_stash_put(MemoryContext query_cxt, Oid root_relid,
					 const char *key, int keylen,
					 Oid old_stage, bool old_isnull)
{
	Stash	   *stash = stash_find(query_cxt, true);
	StashKey	k;
	StashEntry *entry;
	bool		found;

	k.root_relid = root_relid;
	k.len = keylen;
	k.data = key;
	entry = hash_search(stash->entries, &k, HASH_ENTER, &found);
	if (!found)
	{
		char	   *copy = MemoryContextAlloc(query_cxt, keylen > 0 ? keylen : 1);

		memcpy(copy, key, keylen);
		entry->key.data = copy;
	}
	entry->old_stage = old_stage;
	entry->old_isnull = old_isnull;
}

/*
 * Was the row with this key stashed by this statement's BEFORE UPDATE
 * trigger?  If so, return its stage before the update.
 */
bool
transition_stash_get(MemoryContext query_cxt, Oid root_relid,
					 const char *key, int keylen,
					 Oid *old_stage, bool *old_isnull)
{
	Stash	   *stash = stash_find(query_cxt, false);
	StashKey	k;
	StashEntry *entry;

	if (stash == NULL)
		return false;
	k.root_relid = root_relid;
	k.len = keylen;
	k.data = key;
	entry = hash_search(stash->entries, &k, HASH_FIND, NULL);
	if (entry == NULL)
		return false;
	*old_stage = entry->old_stage;
	*old_isnull = entry->old_isnull;
	return true;
}
