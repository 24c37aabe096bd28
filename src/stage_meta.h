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

#include "pipeline.h"

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

struct StageTables;

/*
 * A stage type as the per-row path of an aggregate sees it: label OID ->
 * stage index (a dense array when the type's label OIDs are close together,
 * a binary search otherwise), each stage's kind and probability, and the
 * "reached" matrix, in a private copy of the backend-wide tables of the
 * type.  One per call site (see stage_map_get); a caller with per-call-site
 * data of its own embeds it as the first member of a larger struct.
 */
typedef struct StageMap
{
	StageCallCache cc;			/* once-per-query invalidation, type memo */
	MemoryContext cxt;			/* the call site's memory */
	struct StageTables *tables; /* NULL until the first label */
	Oid			type_oid;		/* type described below; InvalidOid if none */
	int			nstages;
	uint64		loads;			/* times the tables were (re)loaded */
	/* label OID -> stage index: dense when map_len > 0 ... */
	Oid			base_oid;
	uint32		map_len;
	const int32 *map;			/* -1 where no label of the type */
	/* ... and a binary search over the sorted label OIDs otherwise */
	const Oid  *sorted_oids;
	const int32 *sorted_index;
	const uint8 *kind;			/* StageKind by stage index */
	const bool *reach;			/* reach[at * nstages + target] */
	const uint32 *prob_off;		/* probability of stage i at tables + prob_off[i] */
	const char *name;			/* schema-qualified type name */
	int			name_len;
} StageMap;

/* _PG_init: register the invalidation callbacks. */
extern void stage_meta_init(void);

/*
 * Once per query per call site: process pending invalidations so that a
 * change committed by another session is seen by this statement.
 */
extern void stage_call_cache_init(StageCallCache *cc);

/* The call site's StageCallCache (see stage_call_site); inits on first call. */
extern StageCallCache *stage_call_cache_get(FunctionCallInfo fcinfo);

/*
 * The registered type a label belongs to, and its index there.  Errors
 * 42704 (with a HINT naming define_stages) when the label's type is not
 * registered.
 */
extern StageType *stage_call_lookup_value(StageCallCache *cc, Oid enum_oid, int *index);

/* Slow path of stage_map_get: create the call site's map. */
extern StageMap *stage_map_create(FunctionCallInfo fcinfo, Size size);

/*
 * The call site's StageMap, size bytes (at least sizeof(StageMap)) zeroed
 * on the first call; the same size on every call of one function.
 */
static inline StageMap *
stage_map_get(FunctionCallInfo fcinfo, Size size)
{
	StageMap   *m = (StageMap *) fcinfo->flinfo->fn_extra;

	if (unlikely(m == NULL))
		m = stage_map_create(fcinfo, size);
	return m;
}

/* Slow path of stage_map_index: binary search, or (re)load the tables. */
extern int	stage_map_index_slow(StageMap *m, Oid label);

/*
 * Stage index (0-based, enum order) of an enum label: one subtraction and
 * one array read on the common path.  May reload the map (first row, a
 * label of another type): read m's arrays after calling it.
 */
static pg_attribute_always_inline int
stage_map_index(StageMap *m, Oid label)
{
	uint32		off = (uint32) (label - m->base_oid);

	if (likely(off < m->map_len))
	{
		int			index = m->map[off];

		if (likely(index >= 0))
			return index;
	}
	return stage_map_index_slow(m, label);
}

/* 42804 unless every label is of the map's current type. */
extern void stage_map_check_same_type(StageMap *m, int nlabels, const Oid *labels);

/* The probability of stage index i of the map's type. */
static inline Numeric
stage_map_probability(const StageMap *m, int i)
{
	return (Numeric) ((char *) m->tables + m->prob_off[i]);
}

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
