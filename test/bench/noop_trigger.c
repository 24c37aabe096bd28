/*
 * noop_trigger.c
 *		The cheapest possible BEFORE ROW trigger, for test/bench/transitions.sh:
 *		the floor any row trigger pays (fmgr call, and for UPDATE the tuple
 *		lock and heap-tuple materialization PostgreSQL does for every BEFORE
 *		ROW UPDATE trigger).  Built and loaded by the benchmark only; never
 *		installed.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_noop_trigger);

/* Return the row unchanged. */
Datum
bench_noop_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "bench_noop_trigger: not called by trigger manager");
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_newtuple);
	return PointerGetDatum(trigdata->tg_trigtuple);
}
