/*
 * reporting.c
 *		Support for the per-target history views (sql/1.0/50_reporting.sql).
 *
 * The views <target>_stage_visits, _stage_durations, _rotting and _funnel
 * read the target and its history table, so PostgreSQL records them as
 * dependents of both: a plain DROP TABLE of either would fail.  An event
 * trigger at ddl_command_start of DROP TABLE hands the relations the
 * statement names to pipeline._drop_views_of(), which drops the views of
 * attachments whose target or history table is among them -- the same
 * thing pipeline.detach() does -- so that DROP TABLE behaves as it would
 * without the extension.
 */
#include "compat.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pipeline_drop_table_views);

/*
 * Event trigger (ddl_command_start, DROP TABLE): resolve the named tables as
 * the DROP itself will (same search_path, missing ones skipped) and call
 * pipeline._drop_views_of(regclass[]) with them.  Runs inside the DROP's
 * transaction, so a DROP that fails later rolls the view drops back too.
 */
Datum
pipeline_drop_table_views(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	DropStmt   *stmt;
	ListCell   *lc;
	Datum	   *oids;
	int			n = 0;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by an event trigger",
						"pipeline_drop_table_views")));

	trigdata = (EventTriggerData *) fcinfo->context;
	if (trigdata->parsetree == NULL || !IsA(trigdata->parsetree, DropStmt))
		PG_RETURN_VOID();
	stmt = (DropStmt *) trigdata->parsetree;
	if (stmt->removeType != OBJECT_TABLE || stmt->objects == NIL)
		PG_RETURN_VOID();

	oids = (Datum *) palloc(sizeof(Datum) * list_length(stmt->objects));
	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (OidIsValid(relid))
			oids[n++] = ObjectIdGetDatum(relid);
	}

	if (n > 0)
	{
		Oid			argtypes[1] = {REGCLASSARRAYOID};
		Datum		values[1];
		int			ret;

		values[0] = PointerGetDatum(construct_array(oids, n, REGCLASSOID,
													sizeof(Oid), true, TYPALIGN_INT));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT pipeline._drop_views_of($1)",
									1, argtypes, values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
	}
	PG_RETURN_VOID();
}
