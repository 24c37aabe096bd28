/*
 * grant_sync.c
 *		Which tables a GRANT or REVOKE changed, for the event trigger that
 *		carries SELECT grants of an attached table over to its history
 *		table and views (pipeline._sync_grants(), sql/1.1/60_bi.sql).
 *
 * For GRANT and REVOKE, pg_event_trigger_ddl_commands() gives no object
 * identity (classid, objid and object_identity are NULL): the objects are
 * only in the collected command, an InternalGrant whose names the command
 * has already resolved to OIDs (GRANT ... ON ALL TABLES IN SCHEMA
 * included).  Reading them there, rather than parsing the statement again,
 * gives exactly the relations the command changed, whatever the
 * search_path.
 */
#include "compat.h"

#include "catalog/pg_type.h"
#include "tcop/deparse_utility.h"
#include "utils/acl.h"
#include "utils/aclchk_internal.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(pipeline_grant_relations);

/*
 * pipeline._grant_relations(pg_ddl_command) -> oid[]: the relations whose
 * table-level SELECT privilege a GRANT or REVOKE command changed; '{}' for
 * any other command.  A pg_ddl_command exists only inside an event trigger
 * (the type has no input function), so nothing else can call this with a
 * made-up command.
 */
Datum
pipeline_grant_relations(PG_FUNCTION_ARGS)
{
	CollectedCommand *cmd = (CollectedCommand *) PG_GETARG_POINTER(0);
	InternalGrant *istmt;
	Datum	   *oids;
	int			n = 0;
	ListCell   *lc;

	if (cmd->type != SCT_Grant)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(OIDOID));
	istmt = cmd->d.grant.istmt;
	if (istmt->objtype != OBJECT_TABLE ||
		!(istmt->all_privs || (istmt->privileges & ACL_SELECT) != 0))
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(OIDOID));

	oids = palloc(sizeof(Datum) * Max(list_length(istmt->objects), 1));
	foreach(lc, istmt->objects)
		oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}
