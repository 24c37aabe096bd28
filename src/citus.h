/*
 * citus.h
 *		What the extension needs to know about Citus, when a database has it:
 *		this node's role, the configuration check of workers, and the map
 *		from a shard to its table and to the colocated shard of another.
 *		Nothing here links against Citus: its catalogs are read like any
 *		table, and its functions called through fmgr.
 */
#ifndef PIPELINE_CITUS_H
#define PIPELINE_CITUS_H

#include "compat.h"

#include "fmgr.h"

/* A shard, as a trigger firing on it sees it. */
typedef struct CitusShard
{
	Oid			shard_relid;	/* the shard (InvalidOid: not a shard) */
	int64		shardid;
	Oid			logical_relid;	/* its distributed (or reference, local) table */
	char		kind;			/* 'h' hash, 'r' reference, 'l' Citus-local */
} CitusShard;

/* _PG_init: define the settings (before the prefix is reserved). */
extern void citus_init(void);

/* Does this database have the citus extension's catalogs? */
extern bool citus_present(void);

/*
 * On a Citus worker, raise an error unless this node applied the
 * configuration its placement of pipeline.citus_config holds (a node added
 * since the last publication, before pipeline.citus_resync()).  Called
 * wherever a configuration cache is (re)loaded.
 */
extern void citus_config_check(void);

/*
 * Is relid a Citus shard known to this node's metadata?  Fills *shard.
 * guess_name: when it is not, but carries a shard-like name (a shard being
 * filled before its metadata exists), the table name it was made from is
 * returned there (palloc'd), else NULL.
 */
extern bool citus_shard_lookup(Oid relid, CitusShard *shard, char **guess_name);

/*
 * The relation on this node into which rows of table `logical` go when
 * they belong with shard `near` of another table: its colocated shard for
 * a hash-distributed table, its only shard for a Citus-local table, the
 * table itself for a table Citus does not know.  Errors (naming `for_table`)
 * when there is none on this node.  For a shard, *seq_relid is this node's
 * identity sequence of the table's column seq (shards have no column
 * defaults from sequences), else InvalidOid.  Remembered for the backend.
 */
extern Oid	citus_colocated_relation(Oid logical, const CitusShard *near,
									 const char *for_table, Oid *seq_relid);

/*
 * Is this backend running a COPY that Citus sent into a shard (a
 * coordinator's INSERT ... SELECT or COPY, or create_distributed_table
 * copying rows)?  Citus relays an error raised there with its message and
 * DETAIL only: SQLSTATE XX000, no HINT.
 */
extern bool citus_in_shard_copy(void);

/*
 * Call trigger function fn; an error it raises is raised again with its
 * SQLSTATE and HINT appended to its DETAIL, which Citus relays.  For
 * citus_in_shard_copy().
 */
extern Datum citus_call_keeping_error_fields(PGFunction fn, FunctionCallInfo fcinfo);

/*
 * The entry point of a trigger function fn: in a COPY that Citus sent into
 * a shard, through citus_call_keeping_error_fields, so that errors keep
 * their SQLSTATE and HINT in their DETAIL, which is what Citus relays;
 * elsewhere fn itself.  Inline: it runs for every row.
 */
static inline Datum
citus_call_trigger(PGFunction fn, FunctionCallInfo fcinfo)
{
	if (unlikely(citus_in_shard_copy()))
		return citus_call_keeping_error_fields(fn, fcinfo);
	return fn(fcinfo);
}

#endif							/* PIPELINE_CITUS_H */
