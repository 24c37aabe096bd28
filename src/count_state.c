/*
 * count_state.c
 *		pipeline.count_state: construction, validation, and its text and
 *		binary I/O.  See count_state.h for the layout and the text form.
 */
#include "compat.h"

#include <ctype.h>
#include <limits.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"

#include "count_state.h"

PG_FUNCTION_INFO_V1(pipeline_count_state_in);
PG_FUNCTION_INFO_V1(pipeline_count_state_out);
PG_FUNCTION_INFO_V1(pipeline_count_state_recv);
PG_FUNCTION_INFO_V1(pipeline_count_state_send);

static const char *const count_kind_names[] = {
	[COUNT_KIND_CONVERSION] = "conversion",
	[COUNT_KIND_REACHED] = "conversion_reached",
	[COUNT_KIND_STEP] = "conversion_step",
	[COUNT_KIND_WIN] = "win_rate",
	[COUNT_KIND_STAGES] = "stage_counts",
};

/*
 * The text name of a state kind, used in the text form and in messages.
 */
const char *
count_kind_name(int kind)
{
	if (kind < COUNT_KIND_FIRST || kind > COUNT_KIND_LAST)
		return "unknown";
	return count_kind_names[kind];
}

/*
 * A zeroed state of the given kind, allocated in CurrentMemoryContext.  The
 * caller (an aggregate transition function) returns it and the executor
 * copies it into the aggregate's context, so it is never allocated twice.
 */
CountState *
count_state_make(CountStateKind kind, int nstages, const char *name, int name_len)
{
	int			ncounts = (kind == COUNT_KIND_STAGES) ? nstages : 2;
	Size		size = COUNT_STATE_SIZE(ncounts, name_len);
	CountState *s = (CountState *) palloc0(size);

	SET_VARSIZE(s, size);
	s->version = COUNT_STATE_VERSION;
	s->kind = (uint8) kind;
	s->name_len = (uint16) name_len;
	s->nstages = nstages;
	s->ncounts = ncounts;
	if (name_len > 0)
		memcpy(COUNT_STATE_NAME(s), name, name_len);
	COUNT_STATE_NAME(s)[name_len] = '\0';
	return s;
}

/*
 * Why the decoded fields do not form a valid state, or NULL when they do.
 * Shared by the text and binary input functions, so both accept exactly the
 * same states.
 */
static const char *
count_state_problem(int kind, int64 nstages, int64 ncounts, const int64 *counts,
					const char *name, int64 name_len)
{
	if (kind < COUNT_KIND_FIRST || kind > COUNT_KIND_LAST)
		return "Unknown state kind.";
	if (kind == COUNT_KIND_CONVERSION)
	{
		if (nstages != 0)
			return "A conversion state has no stage type, so its stage count must be 0.";
		if (name_len != 0)
			return "A conversion state has no stage type, so its type name must be empty.";
	}
	else if (nstages == 0 && name_len == 0)
	{
		/* untyped: no row counted yet (only rows with NULLs seen) */
		if (ncounts != (kind == COUNT_KIND_STAGES ? 0 : 2))
			return "Wrong number of counts for this kind of state.";
		for (int64 i = 0; i < ncounts; i++)
			if (counts[i] != 0)
				return "A state without a stage type must not count any row.";
	}
	else
	{
		if (nstages < 1 || nstages > PIPELINE_MAX_STAGES)
			return "The stage count is out of range.";
		if (name_len < 1)
			return "The stage type name is missing.";
	}
	if (name_len > COUNT_STATE_MAX_NAME)
		return "The stage type name is too long.";
	for (int64 i = 0; i < name_len; i++)
		if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f)
			return "The stage type name contains a control character.";
	if (ncounts != (kind == COUNT_KIND_STAGES ? nstages : 2))
		return "Wrong number of counts for this kind of state.";
	for (int64 i = 0; i < ncounts; i++)
		if (counts[i] < 0)
			return "A count is negative.";
	if (COUNT_KIND_IS_RATIO(kind) && counts[0] > counts[1])
		return "The numerator exceeds the denominator.";
	return NULL;
}

/*
 * The state that decoded fields make, or NULL with *problem set when they
 * do not form a valid one (count_state_problem): how the text and binary
 * input functions build their result.
 */
static CountState *
count_state_from_fields(int kind, int64 nstages, int64 ncounts, const int64 *counts,
						const char *name, int64 name_len, const char **problem)
{
	CountState *s;

	*problem = count_state_problem(kind, nstages, ncounts, counts, name, name_len);
	if (*problem)
		return NULL;
	s = count_state_make(kind, (int) nstages, name, (int) name_len);
	memcpy(s->counts, counts, sizeof(int64) * ncounts);
	return s;
}

/*
 * Parse a non-negative decimal integer (no sign, no spaces) at *p, leaving
 * *p after it; false when there is none or it overflows int64.
 */
static bool
parse_count(const char **p, int64 *result)
{
	const char *s = *p;
	int64		v = 0;

	if (!isdigit((unsigned char) *s))
		return false;
	while (isdigit((unsigned char) *s))
	{
		int			d = *s - '0';

		if (v > (PG_INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*result = v;
	return true;
}

/* Report malformed text input (softly into escontext on PG 16+) and return. */
#define COUNT_STATE_SYNTAX_ERROR(str, detail) \
	do { \
		compat_errsave(escontext, \
					   (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), \
						errmsg("invalid input syntax for type pipeline.count_state: \"%s\"", (str)), \
						errdetail("%s", (detail)), \
						errhint("A count_state is written v1:<kind>:<stages>:<counts>:<stage type>, as its output function prints it."))); \
		return (Datum) 0; \
	} while (0)

/*
 * Text input: v1:<kind>:<nstages>:<c1>,<c2>,...:<type name>.  Everything is
 * checked (version first, so a state from a newer release gets a clear
 * message), since a Citus coordinator reads states that workers sent; on
 * PG 16+ errors are soft (pg_input_is_valid).
 */
Datum
pipeline_count_state_in(PG_FUNCTION_ARGS)
{
	Node	   *escontext = compat_input_escontext(fcinfo);
	const char *str = PG_GETARG_CSTRING(0);
	const char *p = str;
	const char *colon;
	int64		version;
	int			kind = 0;
	int64		nstages;
	int64		ncounts = 0;
	int64	   *counts;
	const char *name;
	const char *problem;
	CountState *s;

	if (*p++ != 'v' || !parse_count(&p, &version) || *p++ != ':')
		COUNT_STATE_SYNTAX_ERROR(str, "It does not start with a format version such as \"v1:\".");
	if (!pipeline_check_state_version("pipeline.count_state", version, COUNT_STATE_VERSION,
									  ERRCODE_INVALID_TEXT_REPRESENTATION, escontext))
		return (Datum) 0;

	colon = strchr(p, ':');
	if (colon == NULL)
		COUNT_STATE_SYNTAX_ERROR(str, "The state kind is missing.");
	for (int k = COUNT_KIND_FIRST; k <= COUNT_KIND_LAST; k++)
	{
		if (strlen(count_kind_names[k]) == (size_t) (colon - p) &&
			strncmp(p, count_kind_names[k], colon - p) == 0)
			kind = k;
	}
	if (kind == 0)
		COUNT_STATE_SYNTAX_ERROR(str, "Unknown state kind.");
	p = colon + 1;

	if (!parse_count(&p, &nstages) || *p++ != ':')
		COUNT_STATE_SYNTAX_ERROR(str, "The stage count is missing or not a number.");
	if (nstages > PIPELINE_MAX_STAGES)
		COUNT_STATE_SYNTAX_ERROR(str, "The stage count is out of range.");

	/* at most max(nstages, 2) counts are valid; read one more to detect */
	counts = palloc(sizeof(int64) * (Max(nstages, 2) + 1));
	for (; *p != ':';)
	{
		if (ncounts > Max(nstages, 2))
			COUNT_STATE_SYNTAX_ERROR(str, "Too many counts for this kind of state.");
		if (!parse_count(&p, &counts[ncounts]))
			COUNT_STATE_SYNTAX_ERROR(str, "A count is missing, negative, not a number or out of range.");
		ncounts++;
		if (*p == ',' && p[1] != ':')
			p++;
		else if (*p != ':')
			COUNT_STATE_SYNTAX_ERROR(str, "The counts must be separated by commas and end with a colon.");
	}
	if (*p != ':')
		COUNT_STATE_SYNTAX_ERROR(str, "The counts must end with a colon.");
	name = p + 1;

	s = count_state_from_fields(kind, nstages, ncounts, counts, name, strlen(name), &problem);
	if (s == NULL)
		COUNT_STATE_SYNTAX_ERROR(str, problem);
	pfree(counts);
	PG_RETURN_POINTER(s);
}

/*
 * Text output, the inverse of pipeline_count_state_in.
 */
Datum
pipeline_count_state_out(PG_FUNCTION_ARGS)
{
	CountState *s = PG_GETARG_COUNT_STATE(0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "v%d:%s:%d:", (int) s->version,
					 count_kind_name(s->kind), s->nstages);
	for (int i = 0; i < s->ncounts; i++)
		appendStringInfo(&buf, i ? "," INT64_FORMAT : INT64_FORMAT, s->counts[i]);
	appendStringInfoChar(&buf, ':');
	appendBinaryStringInfo(&buf, COUNT_STATE_NAME(s), s->name_len);
	PG_RETURN_CSTRING(buf.data);
}

#define COUNT_STATE_BINARY_ERROR(detail) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION), \
			 errmsg("invalid binary pipeline.count_state"), \
			 errdetail("%s", (detail))))

/*
 * Binary input: version byte, kind byte, int32 stage count, int32 count of
 * counts, the int64 counts, int16 name length, the name bytes.  Checked as
 * strictly as the text form; a truncated message is an error.
 */
Datum
pipeline_count_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version;
	int			kind;
	int64		nstages;
	int64		ncounts;
	int64	   *counts;
	int			name_len;
	const char *name;
	const char *problem;
	CountState *s;

	version = pq_getmsgbyte(buf);
	(void) pipeline_check_state_version("pipeline.count_state", version, COUNT_STATE_VERSION,
										ERRCODE_INVALID_BINARY_REPRESENTATION, NULL);
	kind = pq_getmsgbyte(buf);
	nstages = (int32) pq_getmsgint(buf, 4);
	ncounts = (int32) pq_getmsgint(buf, 4);
	if (nstages < 0 || nstages > PIPELINE_MAX_STAGES ||
		ncounts < 0 || ncounts > Max(nstages, 2))
		COUNT_STATE_BINARY_ERROR("The stage count or the number of counts is out of range.");
	if ((int64) (buf->len - buf->cursor) < ncounts * (int64) sizeof(int64))
		COUNT_STATE_BINARY_ERROR("The message is shorter than its counts.");
	counts = palloc(sizeof(int64) * Max(ncounts, 1));
	for (int64 i = 0; i < ncounts; i++)
		counts[i] = pq_getmsgint64(buf);
	name_len = (int16) pq_getmsgint(buf, 2);
	if (name_len < 0 || name_len > COUNT_STATE_MAX_NAME)
		COUNT_STATE_BINARY_ERROR("The stage type name length is out of range.");
	name = pq_getmsgbytes(buf, name_len);
	if (buf->cursor != buf->len)
		COUNT_STATE_BINARY_ERROR("The message has trailing data.");
	if (memchr(name, '\0', name_len) != NULL)
		COUNT_STATE_BINARY_ERROR("The stage type name contains a NUL byte.");

	s = count_state_from_fields(kind, nstages, ncounts, counts, name, name_len, &problem);
	if (s == NULL)
		COUNT_STATE_BINARY_ERROR(problem);
	pfree(counts);
	PG_RETURN_POINTER(s);
}

/*
 * Binary output, the inverse of pipeline_count_state_recv.
 */
Datum
pipeline_count_state_send(PG_FUNCTION_ARGS)
{
	CountState *s = PG_GETARG_COUNT_STATE(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, s->version);
	pq_sendbyte(&buf, s->kind);
	pq_sendint32(&buf, s->nstages);
	pq_sendint32(&buf, s->ncounts);
	for (int i = 0; i < s->ncounts; i++)
		pq_sendint64(&buf, s->counts[i]);
	pq_sendint16(&buf, s->name_len);
	pq_sendbytes(&buf, COUNT_STATE_NAME(s), s->name_len);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * Error unless the state is of a ratio kind (stages = false) or of the
 * per-stage kind (stages = true): a final function handed another
 * aggregate's state, which only a hand-written call can do.
 */
void
count_state_check_kind(const CountState *s, bool stages)
{
	if (stages ? s->kind != COUNT_KIND_STAGES : !COUNT_KIND_IS_RATIO(s->kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline.count_state of kind \"%s\" cannot be used here",
						count_kind_name(s->kind)),
				 errdetail("This function expects a state of kind %s.",
						   stages ? "\"stage_counts\" (funnel, furthest_stage)" :
						   "\"conversion\", \"conversion_reached\", \"conversion_step\" or \"win_rate\"")));
}

/*
 * Error unless two states can be combined: same kind, same stage type (by
 * name and label count, since OIDs differ between nodes).
 */
void
count_state_check_compatible(const CountState *a, const CountState *b)
{
	if (a->kind != b->kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine pipeline.count_state of kinds \"%s\" and \"%s\"",
						count_kind_name(a->kind), count_kind_name(b->kind)),
				 errdetail("Only states of the same aggregate can be combined.")));
	if (a->name_len != b->name_len ||
		memcmp(COUNT_STATE_NAME(a), COUNT_STATE_NAME(b), a->name_len) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot combine pipeline.count_state of stage types %s and %s",
						COUNT_STATE_NAME(a), COUNT_STATE_NAME(b)),
				 errdetail("Only states computed over the same stage type can be combined.")));
	if (a->nstages != b->nstages || a->ncounts != b->ncounts)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot combine pipeline.count_state of stage type %s with %d and %d labels",
						COUNT_STATE_NAME(a), a->nstages, b->nstages),
				 errdetail("The stage type has different labels where the states were computed."),
				 errhint("Define the same enum labels, in the same order, on every node.")));
}
