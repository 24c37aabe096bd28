/*
 * attachment.h
 *		The attachments of tables to pipelines, as configured in
 *		pipeline.attached_tables: found by the identity (OID) of the table,
 *		never by a name resolved later.
 */
#ifndef PIPELINE_ATTACHMENT_H
#define PIPELINE_ATTACHMENT_H

#include "compat.h"

/* One row of pipeline.attached_tables, copied out of the cache. */
typedef struct Attachment
{
	Oid			target;			/* the attached table (a partitioned root) */
	NameData	stage_column;
	char	   *ruleset;
	Oid			history;		/* InvalidOid: no history table */
	bool		has_entered_at;
	NameData	entered_at_column;
} Attachment;

/* _PG_init: register the invalidation callback. */
extern void attachment_init(void);

/*
 * Does this database hold the 1.1 configuration table?  False while the
 * extension's SQL objects are still those of 1.0 (before ALTER EXTENSION
 * pipeline UPDATE), whose triggers carry their configuration as arguments.
 */
extern bool attachment_config_exists(void);

/*
 * Copy the attachment of (target, stage_column) into *out (strings
 * allocated in cxt).  Returns false when there is none.
 */
extern bool attachment_get(Oid target, const char *stage_column,
						   Attachment *out, MemoryContext cxt);

#endif							/* PIPELINE_ATTACHMENT_H */
