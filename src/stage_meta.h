/*
 * stage_meta.h
 *		Stage metadata for any registered enum type: order, kind, probability,
 *		entry stages, rotting thresholds and rulesets, held in one
 *		backend-local cache.
 *
 * Lifetime rule: a StageType pointer (and everything it points to) stays
 * valid until the next call of any stage_meta lookup function, because a
 * lookup is where an invalidation that arrived since is acted upon.  Callers
 * keep ordinals/indexes across calls, never pointers; StageCallCache does the
 * bookkeeping for per-call-site reuse.
 */
#ifndef PIPELINE_STAGE_META_H
#define PIPELINE_STAGE_META_H

#include "compat.h"

#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/numeric.h"
#include "datatype/timestamp.h"

typedef enum StageKind
{
	STAGE_KIND_OPEN = 0,
	STAGE_KIND_WON = 1,
	STAGE_KIND_LOST = 2
} StageKind;

/* One label of a registered enum. */
typedef struct StageInfo
{
	Oid			enum_oid;		/* pg_enum row of the label */
	int			ordinal;		/* 1-based position in the enum's sort order */
	StageKind	kind;
	bool		is_entry;		/* a new row may start here (strict ruleset) */
	Numeric		probability;	/* exact, 0..1 */
	bool		rots;			/* rotting_after is set */
	Interval	rotting_after;
	const char *label;
} StageInfo;

/*
 * A ruleset over one stage type: allowed[(from + 1) * nstages + to], where
 * from == -1 is creation.  Same-stage "moves" are not transitions and are
 * not represented (callers short-circuit them).
 */
typedef struct Ruleset
{
	const char *name;
	bool		builtin;		/* strict/lenient: computed, read-only */
	bool	   *allowed;
} Ruleset;

#define RULESET_ALLOWS(type, rs, from_idx, to_idx) \
	((rs)->allowed[((from_idx) + 1) * (type)->nstages + (to_idx)])

/* A registered enum type. */
typedef struct StageType
{
	Oid			type_oid;
	const char *qualified_name; /* format('%I.%I', schema, name) */
	bool		builtin;		/* pipeline.stage */
	int			nstages;
	StageInfo  *stages;			/* sort order: stages[i].ordinal == i + 1 */
	Oid		   *sorted_oids;	/* label OIDs ascending, for binary search */
	int		   *sorted_index;	/* sorted_oids[k] is stages[sorted_index[k]] */
	int			nopen;
	int			nwon;
	int			nlost;
	int			first_won;		/* index of the first won stage */
	int			last_open;		/* index of the last open stage */
	int			nrulesets;
	Ruleset    *rulesets;		/* [0] strict, [1] lenient, then custom by name */
} StageType;

/*
 * Per-call-site memo, meant for fn_extra (or embedded in a larger struct
 * there): remembers the last type seen so that per-row lookups are a binary
 * search over a handful of OIDs, with no hashing and no catalog access.
 */
typedef struct StageCallCache
{
	uint64		generation;
	StageType  *type;
} StageCallCache;

/* _PG_init: register the invalidation callbacks. */
extern void stage_meta_init(void);

/*
 * Once per query per call site: process pending invalidations so that a
 * change committed by another session is seen by this statement.
 */
extern void stage_call_cache_init(StageCallCache *cc);

/* fn_extra-backed StageCallCache for simple functions; inits on first call. */
extern StageCallCache *stage_call_cache_get(FmgrInfo *flinfo);

/*
 * The registered type a label belongs to, and its index there.  Errors
 * 42704 (with a HINT naming define_stages) when the label's type is not
 * registered.
 */
extern StageType *stage_call_lookup_value(StageCallCache *cc, Oid enum_oid, int *index);

/* Registered type by OID; 42809 if not an enum, 42704 if unregistered. */
extern StageType *stage_type_get(Oid type_oid, bool missing_ok);

/* Registered type by schema-qualified name (never uses search_path). */
extern StageType *stage_type_get_by_name(const char *qualified_name, bool missing_ok);

/* Index of a label OID within a type, -1 if it is not one of its labels. */
extern int	stage_type_index_of(const StageType *type, Oid enum_oid);

/* Index of a label text within a type, -1 if unknown. */
extern int	stage_type_index_of_label(const StageType *type, const char *label);

/* A ruleset by name; 42704 for an unknown one unless missing_ok. */
extern const Ruleset *stage_type_ruleset(const StageType *type, const char *name, bool missing_ok);

/*
 * "Reached" semantics: a row at stage `at` has reached `target` when both are
 * open and target <= at; or `at` is won and target is open, or won and
 * target <= at.  A lost stage reaches nothing.
 */
extern bool stage_reached(const StageType *type, int at, int target);

/* Every registered type's OID (pipeline.stage first), for catalog views. */
extern List *stage_meta_registered_types(void);

extern const char *stage_kind_name(StageKind kind);

/* Counter bumped each time the cache is dropped. */
extern uint64 stage_meta_generation;

/* Oid of config table pipeline.<name> ("rulesets", "ruleset_edges"). */
extern Oid	stage_meta_config_relid(const char *name);

/* rules.c: build strict, lenient and the stored custom rulesets of a type. */
extern void rules_build(StageType *type, MemoryContext cxt);

#endif							/* PIPELINE_STAGE_META_H */
