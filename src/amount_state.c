/*
 * amount_state.c
 *		pipeline.amount_state: memory layout, text and binary I/O, and the
 *		combine and final functions shared by every amount aggregate.
 *
 * Text form (version 1), six space-separated fields:
 *
 *		1 <kind> <rows> <param> <sum a> <sum b>
 *
 * <kind> is the aggregate (backlog_sums, backlog_amount, backlog_ratio,
 * book_to_bill, win_rate, weighted_pipeline); <param> is "-" (none yet),
 * "empty" (an empty period), "@<as_of>" or "[<lower>,<upper>)", instants in
 * microseconds since 2000-01-01 UTC ("-inf" for an unbounded lower bound), so
 * the text means the same on every node whatever its TimeZone; a sum is
 * "<count>:<scale>:<count at that scale>:<exact value>", "0:-1:0:0" when
 * empty.  The binary form carries the same fields.
 */
#include "compat.h"

#include <limits.h>

#include "common/int.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amount_state.h"

/*
 * Largest display scale a numeric can carry (NUMERIC_DSCALE_MAX, private to
 * numeric.c): an exact sum has its inputs' largest scale, which may exceed
 * NUMERIC_MAX_DISPLAY_SCALE (1000) -- e.g. 1e-16383 -- and must read back.
 */
#define AMOUNT_MAX_DSCALE	0x3FFF

PG_FUNCTION_INFO_V1(pipeline_amount_state_in);
PG_FUNCTION_INFO_V1(pipeline_amount_state_out);
PG_FUNCTION_INFO_V1(pipeline_amount_state_recv);
PG_FUNCTION_INFO_V1(pipeline_amount_state_send);
PG_FUNCTION_INFO_V1(pipeline_amount_combine);
PG_FUNCTION_INFO_V1(pipeline_amount_final);

static const char *const kind_names[AMOUNT_KIND_MAX + 1] = {
	NULL,
	"backlog_sums",
	"backlog_amount",
	"backlog_ratio",
	"book_to_bill",
	"win_rate",
	"weighted_pipeline"
};

/* Name of an aggregate kind, as it appears in the text form. */
static const char *
amount_kind_name(AmountKind kind)
{
	if (kind < 1 || kind > AMOUNT_KIND_MAX)
		elog(ERROR, "unknown amount aggregate kind %d", (int) kind);
	return kind_names[kind];
}

/* Is this kind's parameter a period (else an as_of instant, or none)? */
static inline bool
kind_has_period(int kind)
{
	return kind == AMOUNT_KIND_BACKLOG_RATIO || kind == AMOUNT_KIND_BOOK_TO_BILL;
}

/* Does this kind use sums[1]? */
static inline bool
kind_has_second_sum(int kind)
{
	return kind != AMOUNT_KIND_BACKLOG_AMOUNT && kind != AMOUNT_KIND_WEIGHTED;
}

/* A fresh state of no rows, in the current memory context. */
static AmountState *
amount_state_new(AmountKind kind)
{
	AmountState *st = palloc0(sizeof(AmountState));

	SET_VARSIZE(st, sizeof(AmountState));
	st->version = AMOUNT_STATE_VERSION;
	st->kind = kind;
	exact_sum_init(&st->sums[0]);
	exact_sum_init(&st->sums[1]);
	return st;
}

/*
 * Check a state datum we did not build ourselves in this call: it may come
 * from anywhere a user can put a value of the type.
 */
static void
amount_state_check(const AmountState *st)
{
	if (VARSIZE(st) < sizeof(AmountState) || st->version != AMOUNT_STATE_VERSION ||
		st->kind < 1 || st->kind > AMOUNT_KIND_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid pipeline.amount_state value"),
				 errdetail("Format version %d, kind %d, %u bytes.", (int) st->version,
						   (int) st->kind, (unsigned) VARSIZE(st))));
}

/* Read-only access to a state argument (validated). */
AmountState *
amount_state_get_arg(FunctionCallInfo fcinfo, int argno)
{
	AmountState *st = (AmountState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));

	amount_state_check(st);
	return st;
}

/*
 * The state a transition function updates: the argument itself when called
 * as an aggregate (in place, no allocation per row), a fresh state when it
 * is NULL, and a copy when called as a plain function (arguments are
 * read-only then).
 */
AmountState *
amount_state_for_update_slow(FunctionCallInfo fcinfo, int argno, AmountKind kind)
{
	AmountState *st;

	if (PG_ARGISNULL(argno))
		return amount_state_new(kind);
	st = (AmountState *) PG_GETARG_POINTER(argno);
	if (VARATT_IS_EXTENDED(st) || !AggCheckCallContext(fcinfo, NULL))
	{
		AmountState *src = (AmountState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));

		amount_state_check(src);
		st = palloc(VARSIZE(src));
		memcpy(st, src, VARSIZE(src));
	}
	else if (unlikely(st->version != AMOUNT_STATE_VERSION))
		amount_state_check(st);
	if (st->kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline.amount_state of %s passed to a %s function",
						amount_kind_name(st->kind), amount_kind_name(kind)),
				 errdetail("A state can only be used with the aggregate that made it.")));
	return st;
}

/* The spill of sums[i], or NULL. */
Numeric
amount_state_spill(const AmountState *st, int i)
{
	if (st->spill_off[i] == 0)
		return NULL;
	return (Numeric) ((char *) st + st->spill_off[i]);
}

/*
 * A copy of st's fixed part with the given spills appended (NULL = none),
 * in the current memory context.
 */
static AmountState *
amount_state_rebuild(const AmountState *st, Numeric s0, Numeric s1)
{
	Size		size = MAXALIGN(sizeof(AmountState));
	Size		off0 = 0,
				off1 = 0;
	AmountState *res;

	if (s0)
	{
		off0 = size;
		size = MAXALIGN(size + VARSIZE(s0));
	}
	if (s1)
	{
		off1 = size;
		size += VARSIZE(s1);
	}
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("exact sum too large")));
	res = palloc0(size);
	memcpy(res, st, sizeof(AmountState));
	SET_VARSIZE(res, size);
	res->spill_off[0] = off0;
	res->spill_off[1] = off1;
	if (s0)
		memcpy((char *) res + off0, s0, VARSIZE(s0));
	if (s1)
		memcpy((char *) res + off1, s1, VARSIZE(s1));
	return res;
}

/* Add addend (may be NULL) to the spill of sums[i]; may return a new datum. */
AmountState *
amount_state_absorb(AmountState *st, int i, Numeric addend)
{
	Numeric		s[2];

	if (addend == NULL)
		return st;
	s[0] = amount_state_spill(st, 0);
	s[1] = amount_state_spill(st, 1);
	/* a plain (4-byte header) copy, since it is stored as it is */
	s[i] = s[i] ? exact_numeric_add(s[i], addend) : (Numeric) PG_DETOAST_DATUM_COPY(NumericGetDatum(addend));
	return amount_state_rebuild(st, s[0], s[1]);
}

/* Drop the spill of every empty sum (after an inverse transition). */
AmountState *
amount_state_drop_empty_spills(AmountState *st)
{
	if ((st->spill_off[0] && st->sums[0].count == 0) ||
		(st->spill_off[1] && st->sums[1].count == 0))
		return amount_state_rebuild(st,
									st->sums[0].count ? amount_state_spill(st, 0) : NULL,
									st->sums[1].count ? amount_state_spill(st, 1) : NULL);
	return st;
}

/* Back to the state of no rows. */
AmountState *
amount_state_reset(AmountState *st)
{
	st->flags = 0;
	st->nrows = 0;
	st->lower = st->upper = 0;
	exact_sum_init(&st->sums[0]);
	exact_sum_init(&st->sums[1]);
	if (st->spill_off[0] || st->spill_off[1])
		return amount_state_rebuild(st, NULL, NULL);
	return st;
}

/* Human-readable form of a state's parameter, for error messages. */
static char *
param_describe(int kind, uint16 flags, TimestampTz lower, TimestampTz upper)
{
	char	   *lo;

	/* timestamptz_to_str returns a static buffer: copy before the next call */
	if (!kind_has_period(kind))
		return psprintf("as_of %s", timestamptz_to_str(upper));
	if (flags & AS_EMPTY)
		return pstrdup("empty");
	lo = (flags & AS_LOWER_INF) ? "" : pstrdup(timestamptz_to_str(lower));
	return psprintf("[%s,%s)", lo, timestamptz_to_str(upper));
}

/*
 * Set the group's parameter (period or as_of), or check it equals the one
 * a previous row (or partial state) set: the definitions only make sense
 * for one measurement period per group.
 */
void
amount_state_set_param_slow(AmountState *st, uint16 flags, TimestampTz lower, TimestampTz upper)
{
	flags |= AS_HAS_PARAM;
	if (!(st->flags & AS_HAS_PARAM))
	{
		st->flags = flags;
		st->lower = lower;
		st->upper = upper;
		return;
	}
	if (st->flags != flags ||
		(!(flags & AS_EMPTY) && st->upper != upper) ||
		(!(flags & (AS_EMPTY | AS_LOWER_INF)) && st->lower != lower))
	{
		char	   *a = param_describe(st->kind, st->flags, st->lower, st->upper);
		char	   *b = param_describe(st->kind, flags, lower, upper);

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline.%s needs the same %s for every row of a group",
						st->kind == AMOUNT_KIND_BACKLOG_AMOUNT ? "backlog_amount" :
						amount_kind_name(st->kind),
						kind_has_period(st->kind) ? "period" : "as_of"),
				 errdetail("Rows of one group have %s and %s.", a, b),
				 errhint("Group by the %s, or pass a constant.",
						 kind_has_period(st->kind) ? "period" : "as_of instant")));
	}
}

/* sums[i] as an exact Numeric (0 when nothing was absorbed). */
Numeric
amount_state_sum(const AmountState *st, int i)
{
	return exact_result(&st->sums[i], amount_state_spill(st, i));
}

/* ---------------------------------------------------------------------------
 * Text and binary I/O
 * ---------------------------------------------------------------------------
 */

/* Everything a state holds, as read from text or binary input. */
typedef struct StateParts
{
	int			kind;
	int64		nrows;
	uint16		flags;
	TimestampTz lower;
	TimestampTz upper;
	int64		count[2];
	int32		dscale[2];
	int64		dscale_count[2];
	const char *value[2];
} StateParts;

/*
 * Report a malformed state (softly into escontext on PG 16+, else ERROR)
 * and return false, for the caller to return at once.
 */
static bool
bad_state(Node *escontext, const char *input, const char *why)
{
	compat_errsave(escontext,
				   (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					errmsg("invalid input syntax for type pipeline.amount_state: \"%s\"", input),
					errdetail("%s", why),
					errhint("States are made by the pipeline amount aggregates; the text form is \"1 <kind> <rows> <param> <count:scale:count_at_scale:sum> <...>\".")));
	return false;
}

/*
 * Why parts do not form a valid state, or NULL when they do: every
 * invariant the aggregate functions rely on, since a state may be typed by
 * hand (a sum's value itself is checked when it is read).
 */
static const char *
parts_problem(const StateParts *p)
{
	if (p->kind < 1 || p->kind > AMOUNT_KIND_MAX)
		return "Unknown aggregate kind.";
	if (p->nrows < 0)
		return "The row count is negative.";
	if ((p->flags & ~AS_FLAGS_ALL) != 0 ||
		(p->flags != 0 && !(p->flags & AS_HAS_PARAM)))
		return "Unknown flags.";
	if (p->nrows == 0 && (p->flags != 0 || p->count[0] != 0 || p->count[1] != 0))
		return "A state of no rows has no parameter and empty sums.";
	if (p->flags & AS_HAS_PARAM)
	{
		if (!kind_has_period(p->kind) && p->kind != AMOUNT_KIND_BACKLOG_AMOUNT)
			return "This aggregate takes no period or as_of.";
		if (!kind_has_period(p->kind) && (p->flags & (AS_EMPTY | AS_LOWER_INF)))
			return "backlog_amount takes an instant, not a period.";
		if (kind_has_period(p->kind) && !(p->flags & AS_EMPTY))
		{
			if (TIMESTAMP_NOT_FINITE(p->upper))
				return "The period's upper bound must be finite.";
			if (!(p->flags & AS_LOWER_INF) && p->lower >= p->upper)
				return "The period's lower bound must be below its upper bound.";
		}
		if ((p->flags & AS_EMPTY) && (p->count[0] != 0 || p->count[1] != 0))
			return "Nothing is summed over an empty period.";
	}
	else if (p->nrows > 0 && (kind_has_period(p->kind) || p->kind == AMOUNT_KIND_BACKLOG_AMOUNT))
		return "A state with rows must carry its period or as_of.";

	for (int i = 0; i < 2; i++)
	{
		if (p->count[i] < 0 || p->count[i] > p->nrows)
			return "A sum's count must be between 0 and the row count.";
		if (i == 1 && !kind_has_second_sum(p->kind) && p->count[i] != 0)
			return "This aggregate has one sum only.";
		if (p->kind == AMOUNT_KIND_BACKLOG_SUMS && p->count[i] != p->nrows)
			return "backlog_sums adds every row to both sums.";
		if (p->kind == AMOUNT_KIND_WIN_RATE && i == 1 && p->count[0] + p->count[1] > p->nrows)
			return "A row is either won or lost.";
		if (!exact_valid_decimal(p->value[i]))
			return "A sum's value must be a plain decimal number.";
		if (p->count[i] == 0)
		{
			if (p->dscale[i] != -1 || p->dscale_count[i] != 0 ||
				strcmp(p->value[i], "0") != 0)
				return "An empty sum is written 0:-1:0:0.";
			continue;
		}
		if (p->dscale[i] < 0 || p->dscale[i] > AMOUNT_MAX_DSCALE ||
			p->dscale_count[i] < 1 || p->dscale_count[i] > p->count[i])
			return "A sum's scale or count at that scale is out of range.";
	}
	return NULL;
}

/*
 * Validate parts and build the state; NULL after a soft error (escontext,
 * PG 16+).
 */
static AmountState *
state_from_parts(const StateParts *p, const char *input, Node *escontext)
{
	AmountState *st;
	Numeric		spill[2] = {NULL, NULL};
	const char *why = parts_problem(p);

	if (why != NULL)
	{
		bad_state(escontext, input, why);
		return NULL;
	}
	st = amount_state_new(p->kind);
	st->flags = p->flags;
	st->nrows = p->nrows;
	st->lower = (p->flags & AS_HAS_PARAM) && !(p->flags & (AS_EMPTY | AS_LOWER_INF)) &&
		kind_has_period(p->kind) ? p->lower : 0;
	st->upper = (p->flags & AS_HAS_PARAM) && !(p->flags & AS_EMPTY) ? p->upper : 0;

	for (int i = 0; i < 2; i++)
	{
		ExactSum   *s = &st->sums[i];
		ExactValue	v;
		Datum		n;

		if (p->count[i] == 0)
			continue;
		if (!compat_numeric_in_safe(p->value[i], escontext, &n))
			return NULL;
		exact_read(n, "sum", &v);
		if (v.scale != p->dscale[i])
		{
			bad_state(escontext, input,
					  "A sum's value must be written with exactly its scale's decimal digits.");
			return NULL;
		}
		s->count = p->count[i];
		s->dscale = p->dscale[i];
		s->dscale_count = p->dscale_count[i];
		if (v.fits)
		{
			s->units = v.units;
			s->uscale = v.scale;
		}
		else
			spill[i] = DatumGetNumeric(n);
	}
	if (spill[0] || spill[1])
		return amount_state_rebuild(st, spill[0], spill[1]);
	return st;
}

/* The parameter field of the text form. */
static void
param_to_text(StringInfo buf, const AmountState *st)
{
	if (!(st->flags & AS_HAS_PARAM))
		appendStringInfoChar(buf, '-');
	else if (st->flags & AS_EMPTY)
		appendStringInfoString(buf, "empty");
	else if (!kind_has_period(st->kind))
		appendStringInfo(buf, "@" INT64_FORMAT, st->upper);
	else if (st->flags & AS_LOWER_INF)
		appendStringInfo(buf, "[-inf," INT64_FORMAT ")", st->upper);
	else
		appendStringInfo(buf, "[" INT64_FORMAT "," INT64_FORMAT ")", st->lower, st->upper);
}

/* The exact value of sums[i] as text, at its scale. */
static char *
sum_value_text(const AmountState *st, int i)
{
	if (st->sums[i].count == 0)
		return pstrdup("0");
	return DatumGetCString(DirectFunctionCall1(numeric_out,
											   NumericGetDatum(amount_state_sum(st, i))));
}

/*
 * amount_state_out: the text form (see the file header); exact, OID-free,
 * TimeZone-free, so any node can read it back.
 */
Datum
pipeline_amount_state_out(PG_FUNCTION_ARGS)
{
	AmountState *st = amount_state_get_arg(fcinfo, 0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%d %s " INT64_FORMAT " ", AMOUNT_STATE_VERSION,
					 amount_kind_name(st->kind), st->nrows);
	param_to_text(&buf, st);
	for (int i = 0; i < 2; i++)
	{
		const ExactSum *s = &st->sums[i];

		appendStringInfo(&buf, " " INT64_FORMAT ":%d:" INT64_FORMAT ":%s",
						 s->count, s->dscale, s->dscale_count, sum_value_text(st, i));
	}
	PG_RETURN_CSTRING(buf.data);
}

/* Parse one "<count>:<scale>:<count at scale>:<value>" field. */
static bool
parse_sum(char *tok, const char *input, Node *escontext, StateParts *p, int i)
{
	int64		dscale;

	if (!exact_parse_sum_field(tok, &p->count[i], &dscale, &p->dscale_count[i], &p->value[i]) ||
		dscale < -1 || dscale > INT_MAX)
		return bad_state(escontext, input, "A sum is written <count>:<scale>:<count at scale>:<value>.");
	p->dscale[i] = (int32) dscale;
	return true;
}

/* Parse the parameter field ("-", "empty", "@<t>", "[<t|-inf>,<t>)"). */
static bool
parse_param(char *tok, const char *input, Node *escontext, int kind, StateParts *p)
{
	const char *period_form = "A period is written [<lower|-inf>,<upper>) in microseconds since 2000-01-01 UTC.";

	p->flags = 0;
	p->lower = p->upper = 0;
	if (strcmp(tok, "-") == 0)
		return true;
	p->flags = AS_HAS_PARAM;
	if (strcmp(tok, "empty") == 0)
	{
		if (!kind_has_period(kind))
			return bad_state(escontext, input, "Only a period can be empty.");
		p->flags |= AS_EMPTY;
		return true;
	}
	if (tok[0] == '@')
	{
		if (kind != AMOUNT_KIND_BACKLOG_AMOUNT || !exact_parse_int64(tok + 1, &p->upper))
			return bad_state(escontext, input, "An as_of instant is written @<microseconds since 2000-01-01 UTC>.");
		return true;
	}
	if (tok[0] == '[' && kind_has_period(kind))
	{
		char	   *comma = strchr(tok, ',');
		size_t		len = strlen(tok);

		if (comma != NULL && len > 0 && tok[len - 1] == ')')
		{
			*comma = '\0';
			tok[len - 1] = '\0';
			if (strcmp(tok + 1, "-inf") == 0)
				p->flags |= AS_LOWER_INF;
			else if (!exact_parse_int64(tok + 1, &p->lower))
				return bad_state(escontext, input, period_form);
			if (exact_parse_int64(comma + 1, &p->upper))
				return true;
		}
	}
	return bad_state(escontext, input, period_form);
}

/* The kind named by a text-form field; 0 after a soft error. */
static int
parse_kind(const char *tok, const char *input, Node *escontext)
{
	for (int k = 1; k <= AMOUNT_KIND_MAX; k++)
		if (strcmp(tok, kind_names[k]) == 0)
			return k;
	bad_state(escontext, input, "Unknown aggregate kind.");
	return 0;
}

/* Refuse a format version this build does not read (softly, like bad_state). */
static bool
check_version(int64 version, Node *escontext)
{
	return pipeline_check_state_version("pipeline.amount_state", version, AMOUNT_STATE_VERSION,
										ERRCODE_INVALID_PARAMETER_VALUE, escontext);
}

/* Split the text form into parts; false after a soft error. */
static bool
parse_text(const char *input, Node *escontext, StateParts *p)
{
	char	   *copy = pstrdup(input);
	char	   *tok[6];
	int			n = 0;
	char	   *save = NULL;
	int64		version;

	for (char *t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
	{
		if (n == 6)
			return bad_state(escontext, input, "Too many fields.");
		tok[n++] = t;
	}
	if (n != 6)
		return bad_state(escontext, input, "A state has six space-separated fields.");
	if (!exact_parse_int64(tok[0], &version))
		return bad_state(escontext, input, "The first field is the format version.");
	if (!check_version(version, escontext))
		return false;
	memset(p, 0, sizeof(*p));
	p->kind = parse_kind(tok[1], input, escontext);
	if (p->kind == 0)
		return false;
	if (!exact_parse_int64(tok[2], &p->nrows))
		return bad_state(escontext, input, "The third field is the row count.");
	return parse_param(tok[3], input, escontext, p->kind, p) &&
		parse_sum(tok[4], input, escontext, p, 0) &&
		parse_sum(tok[5], input, escontext, p, 1);
}

/*
 * amount_state_in: parse and validate the text form; errors are soft on
 * PG 16+ (pg_input_is_valid).
 */
Datum
pipeline_amount_state_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	Node	   *escontext = compat_input_escontext(fcinfo);
	StateParts	p;
	AmountState *st;

	if (!parse_text(input, escontext, &p))
		return (Datum) 0;
	st = state_from_parts(&p, input, escontext);
	if (st == NULL)
		return (Datum) 0;
	PG_RETURN_POINTER(st);
}

/*
 * amount_state_send: version, kind, flags, rows, bounds, then per sum its
 * count, scale, count at scale and exact value as text.
 */
Datum
pipeline_amount_state_send(PG_FUNCTION_ARGS)
{
	AmountState *st = amount_state_get_arg(fcinfo, 0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, AMOUNT_STATE_VERSION);
	pq_sendbyte(&buf, st->kind);
	pq_sendint16(&buf, st->flags);
	pq_sendint64(&buf, st->nrows);
	pq_sendint64(&buf, st->lower);
	pq_sendint64(&buf, st->upper);
	for (int i = 0; i < 2; i++)
	{
		pq_sendint64(&buf, st->sums[i].count);
		pq_sendint32(&buf, st->sums[i].dscale);
		pq_sendint64(&buf, st->sums[i].dscale_count);
		pq_sendstring(&buf, sum_value_text(st, i));
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* amount_state_recv: read and validate the binary form. */
Datum
pipeline_amount_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	StateParts	p;

	memset(&p, 0, sizeof(p));
	/* no escontext: binary input errors are raised */
	check_version(pq_getmsgbyte(buf), NULL);
	p.kind = pq_getmsgbyte(buf);
	p.flags = pq_getmsgint(buf, 2);
	p.nrows = pq_getmsgint64(buf);
	p.lower = pq_getmsgint64(buf);
	p.upper = pq_getmsgint64(buf);
	for (int i = 0; i < 2; i++)
	{
		p.count[i] = pq_getmsgint64(buf);
		p.dscale[i] = (int32) pq_getmsgint(buf, 4);
		p.dscale_count[i] = pq_getmsgint64(buf);
		p.value[i] = pq_getmsgstring(buf);
	}
	PG_RETURN_POINTER(state_from_parts(&p, "(binary)", NULL));
}

/* ---------------------------------------------------------------------------
 * Combine and final
 * ---------------------------------------------------------------------------
 */

/*
 * Combine two partial states of the same aggregate (parallel workers,
 * partitionwise aggregation, Citus workers).  NULL on either side is "no
 * rows"; the result does not depend on the order.  Updates the first state
 * in place when called as an aggregate.
 */
Datum
pipeline_amount_combine(PG_FUNCTION_ARGS)
{
	AmountState *st;
	AmountState *other;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	other = amount_state_get_arg(fcinfo, 1);
	if (PG_ARGISNULL(0))
		PG_RETURN_POINTER(other);	/* the executor copies it */
	st = amount_state_for_update_slow(fcinfo, 0, amount_state_get_arg(fcinfo, 0)->kind);
	if (st->kind != other->kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine a %s state with a %s state",
						amount_kind_name(st->kind), amount_kind_name(other->kind))));
	if (other->nrows == 0)
		PG_RETURN_POINTER(st);
	if (other->flags & AS_HAS_PARAM)
		amount_state_set_param_slow(st, other->flags & ~AS_HAS_PARAM, other->lower, other->upper);
	if (pg_add_s64_overflow(st->nrows, other->nrows, &st->nrows))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("too many rows in one group")));
	for (int i = 0; i < 2; i++)
	{
		Numeric		addend = exact_combine(&st->sums[i], &other->sums[i]);

		addend = exact_numeric_add(addend, amount_state_spill(other, i));
		st = amount_state_absorb(st, i, addend);
	}
	PG_RETURN_POINTER(st);
}

/* num / den by numeric_div, or NULL (zero or no denominator). */
static Datum
ratio_or_null(FunctionCallInfo fcinfo, Numeric num, Numeric den)
{
	if (den == NULL || exact_numeric_is_zero(den))
		PG_RETURN_NULL();
	return DirectFunctionCall2(numeric_div, NumericGetDatum(num), NumericGetDatum(den));
}

/*
 * The final function of every amount aggregate: the exact sum, or the ratio
 * of two exact sums by numeric_div, per the state's kind.  NULL for a group
 * whose rows were all skipped, for an empty period and for a zero
 * denominator.  Reads the state only (window frames call it repeatedly) and
 * needs no call expression (Citus calls it through fmgr_info).
 */
Datum
pipeline_amount_final(PG_FUNCTION_ARGS)
{
	AmountState *st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = amount_state_get_arg(fcinfo, 0);
	if (st->nrows == 0 || (st->flags & AS_EMPTY))
		PG_RETURN_NULL();

	switch ((AmountKind) st->kind)
	{
		case AMOUNT_KIND_BACKLOG_AMOUNT:
		case AMOUNT_KIND_WEIGHTED:
			PG_RETURN_NUMERIC(amount_state_sum(st, 0));

		case AMOUNT_KIND_BACKLOG_SUMS:
		case AMOUNT_KIND_BACKLOG_RATIO:
		case AMOUNT_KIND_BOOK_TO_BILL:
			if (st->sums[1].count == 0)
				PG_RETURN_NULL();
			return ratio_or_null(fcinfo, amount_state_sum(st, 0), amount_state_sum(st, 1));

		case AMOUNT_KIND_WIN_RATE:
			{
				Numeric		won;

				if (st->sums[0].count + st->sums[1].count == 0)
					PG_RETURN_NULL();
				won = amount_state_sum(st, 0);
				/* closed amount = won + lost, the exact sum over closed rows */
				return ratio_or_null(fcinfo, won,
									 exact_numeric_add(won, amount_state_sum(st, 1)));
			}
	}
	elog(ERROR, "unknown amount aggregate kind %d", (int) st->kind);
	PG_RETURN_NULL();			/* keep compiler quiet */
}
