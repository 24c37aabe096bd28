/*
 * transition.h
 *		What the transition triggers (enforce_transition, record_transition)
 *		share: the per-trigger, per-query view of the table they fire on, and
 *		the per-statement stash of rows moving between partitions.
 */
#ifndef PIPELINE_TRANSITION_H
#define PIPELINE_TRANSITION_H

#include "compat.h"

#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/rel.h"

#include "attachment.h"
#include "citus.h"


/*
 * What a transition trigger knows about the relation it fires on, resolved
 * once per trigger per query (the first time fn_extra is set) and kept in
 * the function's fn_mcxt, which the executor frees at the end of the query.
 */
typedef struct TransitionRel
{
	Oid			trigger_oid;	/* the pg_trigger row this was resolved for */
	Oid			relid;			/* relation the trigger fires on (a leaf) */
	const char *trigger_name;
	const char *column_name;	/* trigger argument 0 */
	AttrNumber	attnum;			/* of the stage column in relid */
	Oid			stage_type;		/* its (enum) type */

	/*
	 * The table the trigger was defined on: relid itself, or the partitioned
	 * ancestor the trigger was cloned from.  Errors name it, the stash is
	 * keyed by it and history is written with its owner's rights.
	 */
	Oid			root_relid;
	/*
	 * When relid (or its partitioned root) is a Citus shard: that shard, and
	 * root_relid is its table, whose attachment the trigger follows.
	 */
	CitusShard	citus;
	const char *citus_guess;	/* shard-like name of a shard unknown here */
	/* filled by transition_rel_root(), only when needed */
	Oid			root_owner;
	const char *root_schema;
	const char *root_name;

	/* Partition moves: only relevant when relid is a partition. */
	bool		is_partition;
	bool		partkey_expr;	/* some ancestor partitions by expression */
	int			npartattrs;
	AttrNumber *partattrs;		/* partition key columns, in relid's numbering */

	/* Primary key of relid (in key order): the history's key, the stash's. */
	int			nkeys;
	AttrNumber	keyattrs[INDEX_MAX_KEYS];
	int16		keylen[INDEX_MAX_KEYS];
	bool		keybyval[INDEX_MAX_KEYS];
	Oid			keytypes[INDEX_MAX_KEYS];
	const char *keynames[INDEX_MAX_KEYS];
	Oid			keyeqops[INDEX_MAX_KEYS];	/* the key's btree "=" (opfamily) */

	/*
	 * The attachment (pipeline.attached_tables) of (root_relid, column).
	 * legacy: the extension's SQL objects are still those of 1.0, whose
	 * triggers carry ruleset and history table as arguments.
	 */
	bool		legacy;
	Attachment	att;
	/* att.entered_at_column in relid's numbering; 0 when none */
	AttrNumber	entered_at_attnum;

	MemoryContext query_cxt;	/* identifies the statement (its stash) */
} TransitionRel;

/* Which side of a move between partitions a stashed key names. */
#define STASH_NEW_ROW 'n'
#define STASH_OLD_ROW 'o'

/* transition_rel.c */
extern void transition_rel_init(TransitionRel *tr, TriggerData *trigdata,
								MemoryContext cxt, const char *funcname);
extern void transition_rel_root(TransitionRel *tr);
extern bool transition_rel_moved_from(const TransitionRel *tr, TupleTableSlot *slot,
									  Oid *old_stage, bool *old_isnull);
extern bool transition_rel_moving(const TransitionRel *tr, TupleTableSlot *slot);
extern char *transition_rel_key_text(const TransitionRel *tr, TupleTableSlot *slot);
extern void transition_rel_stash_move(const TransitionRel *tr, TupleTableSlot *oldslot,
									  TupleTableSlot *newslot, Oid old_stage, bool old_isnull);

/* transition_stash.c: rows moving between partitions in this statement. */
extern void transition_stash_put(MemoryContext query_cxt, Oid root_relid,
								 const char *key, int keylen,
								 Oid old_stage, bool old_isnull);
extern bool transition_stash_get(MemoryContext query_cxt, Oid root_relid,
								 const char *key, int keylen,
								 Oid *old_stage, bool *old_isnull);

#endif							/* PIPELINE_TRANSITION_H */
