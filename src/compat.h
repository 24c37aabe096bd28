/*
 * compat.h
 *		Every PostgreSQL version difference the extension cares about, in one
 *		place.  Supported: PostgreSQL 15 through 18.
 */
#ifndef PIPELINE_COMPAT_H
#define PIPELINE_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "pipeline requires PostgreSQL 15 or later"
#endif

/* PG 18 names the module in its magic block; older versions cannot. */
#if PG_VERSION_NUM >= 180000
#define PIPELINE_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "pipeline", .version = PIPELINE_VERSION)
#else
#define PIPELINE_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/* PG 16 added an error-context argument to stringToQualifiedNameList. */
#if PG_VERSION_NUM >= 160000
#define compat_stringToQualifiedNameList(s) stringToQualifiedNameList((s), NULL)
#else
#define compat_stringToQualifiedNameList(s) stringToQualifiedNameList(s)
#endif

/* PG 16 moved the varlena macros (SET_VARSIZE, VARDATA, ...) out of postgres.h. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/* PG 18 added deferrable_ok to RelationGetPrimaryKeyIndex; keep the old meaning. */
#if PG_VERSION_NUM >= 180000
#define compat_RelationGetPrimaryKeyIndex(rel) RelationGetPrimaryKeyIndex((rel), false)
#else
#define compat_RelationGetPrimaryKeyIndex(rel) RelationGetPrimaryKeyIndex(rel)
#endif

/*
 * PG 18 replaced the pg_attribute_noreturn() suffix with a pg_noreturn
 * prefix; before that, the GCC attribute works as a prefix too.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* PG 16 added an error-context argument to make_range. */
#if PG_VERSION_NUM >= 160000
#define compat_make_range(typcache, lower, upper, empty) \
	make_range((typcache), (lower), (upper), (empty), NULL)
#else
#define compat_make_range(typcache, lower, upper, empty) \
	make_range((typcache), (lower), (upper), (empty))
#endif

/* PG 17 moved the backend's local transaction id into MyProc->vxid. */
#if PG_VERSION_NUM >= 170000
#define compat_MyProcLxid (MyProc->vxid.lxid)
#else
#define compat_MyProcLxid (MyProc->lxid)
#endif

/* PG 16 added a "copy" argument to tuplesort_getdatum (unneeded for int8). */
#if PG_VERSION_NUM >= 160000
#define compat_tuplesort_getdatum(s, fwd, val, isnull) \
	tuplesort_getdatum((s), (fwd), false, (val), (isnull), NULL)
#else
#define compat_tuplesort_getdatum(s, fwd, val, isnull) \
	tuplesort_getdatum((s), (fwd), (val), (isnull), NULL)
#endif

/*
 * PG 16 lets input functions report errors softly, into an ErrorSaveContext
 * passed as fcinfo->context (pg_input_is_valid, COPY ... ON_ERROR); before,
 * they raise.  compat_errsave reports (soft when escontext is one; its
 * caller then returns), compat_numeric_in_safe reads a numeric the same way
 * (false after a soft error).
 */
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#define compat_input_escontext(fcinfo) ((fcinfo)->context)
#define compat_errsave(escontext, ...) errsave((escontext), __VA_ARGS__)
#define compat_numeric_in_safe(str, escontext, result) \
	DirectInputFunctionCallSafe(numeric_in, (char *) (str), InvalidOid, -1, (escontext), (result))
#else
#include "nodes/nodes.h"
#define compat_input_escontext(fcinfo) ((Node *) NULL)
#define compat_errsave(escontext, ...) \
	do { (void) (escontext); ereport(ERROR, __VA_ARGS__); } while (0)
#define compat_numeric_in_safe(str, escontext, result) \
	((void) (escontext), \
	 *(result) = DirectFunctionCall3(numeric_in, CStringGetDatum(str), \
									 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)), \
	 true)
#endif

#endif							/* PIPELINE_COMPAT_H */
