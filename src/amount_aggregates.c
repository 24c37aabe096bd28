/*
 * amount_aggregates.c
 *		Stage-taking amount aggregates: win_rate(stage, amount) and
 *		weighted_pipeline(stage, amount), with inverse transition functions.
 *
 * The SQL aggregates are declared once per registered enum type (concrete
 * types, for Citus) by pipeline._declare_amount_aggregates(); they all share
 * these C functions, declared anyenum.  The enum type is found from the
 * label's OID through the call site's StageMap (stage_meta.h), never from
 * the call expression, which Citus does not provide.
 */
#include "compat.h"

#include "nodes/pg_list.h"		/* stage_meta.h needs List */

#include "amount_state.h"
#include "stage_meta.h"

PG_FUNCTION_INFO_V1(pipeline_win_rate_amount_trans);
PG_FUNCTION_INFO_V1(pipeline_win_rate_amount_inv);
PG_FUNCTION_INFO_V1(pipeline_weighted_pipeline_trans);
PG_FUNCTION_INFO_V1(pipeline_weighted_pipeline_inv);

/*
 * The end of both transition functions: count the row in (or, inverse,
 * out: removing the last row resets the state) and add v to sums[which]
 * (or take it out; NULL when that cannot be done exactly, so the aggregate
 * restarts).  which < 0: the row adds to no sum.  Inline: once per row.
 */
static pg_attribute_always_inline Datum
count_and_apply(FunctionCallInfo fcinfo, AmountState *st, int which,
				const ExactValue *v, bool inverse)
{
	Numeric		addend;

	if (!inverse)
	{
		amount_state_add_row(st);
		if (which < 0)
			PG_RETURN_POINTER(st);
		addend = exact_add(&st->sums[which], v);
	}
	else
	{
		bool		ok;

		if (st->nrows <= 1)
			PG_RETURN_POINTER(amount_state_reset(st));
		st->nrows--;
		if (which < 0)
			PG_RETURN_POINTER(st);
		addend = exact_sub(&st->sums[which], v, &ok);
		if (!ok)
			PG_RETURN_NULL();
		st = amount_state_drop_empty_spills(st);
	}
	PG_RETURN_POINTER(amount_state_absorb(st, which, addend));
}

/*
 * win_rate(stage, amount): sums[0] = won amount, sums[1] = lost amount; open
 * rows count as rows of the group but add nothing.
 */
static Datum
win_rate_amount(FunctionCallInfo fcinfo, bool inverse)
{
	AmountState *st = amount_state_for_update(fcinfo, 0, AMOUNT_KIND_WIN_RATE);
	StageMap   *m;
	ExactValue	v;
	int			index;
	int			which;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	exact_read(PG_GETARG_DATUM(2), "amount", &v);
	m = stage_map_get(fcinfo, sizeof(StageMap));
	index = stage_map_index(m, PG_GETARG_OID(1));
	switch ((StageKind) m->kind[index])
	{
		case STAGE_KIND_WON:
			which = 0;
			break;
		case STAGE_KIND_LOST:
			which = 1;
			break;
		default:
			which = -1;
			break;
	}

	return count_and_apply(fcinfo, st, which, &v, inverse);
}

/* Transition function of win_rate(stage, amount). */
Datum
pipeline_win_rate_amount_trans(PG_FUNCTION_ARGS)
{
	return win_rate_amount(fcinfo, false);
}

/* Inverse transition function of win_rate(stage, amount). */
Datum
pipeline_win_rate_amount_inv(PG_FUNCTION_ARGS)
{
	return win_rate_amount(fcinfo, true);
}

/*
 * weighted_pipeline(stage, amount): sums[0] = sum of amount x probability
 * over open rows, each product exact at scale amount's + probability's (as
 * numeric_mul gives), so the sum has the scale of sum(amount * probability).
 */
static Datum
weighted_pipeline(FunctionCallInfo fcinfo, bool inverse)
{
	AmountState *st = amount_state_for_update(fcinfo, 0, AMOUNT_KIND_WEIGHTED);
	StageMap   *m;
	ExactValue	v,
				prob,
				product;
	int			index;
	bool		open;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);
	exact_read(PG_GETARG_DATUM(2), "amount", &v);
	m = stage_map_get(fcinfo, sizeof(StageMap));
	index = stage_map_index(m, PG_GETARG_OID(1));
	open = (m->kind[index] == STAGE_KIND_OPEN);
	if (open)
	{
		exact_read(NumericGetDatum(stage_map_probability(m, index)), "probability", &prob);
		exact_mul(&v, &prob, &product);
	}

	return count_and_apply(fcinfo, st, open ? 0 : -1, &product, inverse);
}

/* Transition function of weighted_pipeline(stage, amount). */
Datum
pipeline_weighted_pipeline_trans(PG_FUNCTION_ARGS)
{
	return weighted_pipeline(fcinfo, false);
}

/* Inverse transition function of weighted_pipeline(stage, amount). */
Datum
pipeline_weighted_pipeline_inv(PG_FUNCTION_ARGS)
{
	return weighted_pipeline(fcinfo, true);
}
