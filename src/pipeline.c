/*
 * pipeline.c
 *		Module entry point: magic block, settings, cache callbacks; the
 *		state format version check that every state type shares.
 */
#include "compat.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "attachment.h"
#include "citus.h"
#include "history.h"
#include "pipeline.h"
#include "stage_meta.h"

PIPELINE_MODULE_MAGIC;

bool		pipeline_enforce_transitions = true;

void		_PG_init(void);

/*
 * Define pipeline.enforce_transitions as PGC_SUSET: an ordinary role's SET
 * fails with 42501 once the library is loaded, and a placeholder value an
 * ordinary role set before loading is discarded (with a WARNING) when the
 * server re-applies it under that role's rights.  GRANT SET ON PARAMETER
 * delegates it.
 */
void
_PG_init(void)
{
	DefineCustomBoolVariable("pipeline.enforce_transitions",
							 "Enforce stage transition rules in attached tables.",
							 "Off lets a migration load rows as they are; history is still recorded.",
							 &pipeline_enforce_transitions,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	citus_init();
	MarkGUCPrefixReserved("pipeline");

	stage_meta_init();
	attachment_init();
	history_init();
}

/* See pipeline.h. */
bool
pipeline_check_state_version(const char *type_name, int64 version, int expected,
							 int sqlstate, Node *escontext)
{
	if (version == expected)
		return true;
	compat_errsave(escontext,
				   (errcode(sqlstate),
					errmsg("unsupported %s format version " INT64_FORMAT, type_name, version),
					errdetail("This version of the pipeline extension reads format version %d.",
							  expected),
					errhint("Install the same version of the pipeline extension on every node.")));
	return false;
}
