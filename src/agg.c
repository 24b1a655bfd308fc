/*
 * agg.c
 *	  fm_train_agg(user, item, rating [, options jsonb]): training as an
 *	  aggregate, returning the model bytes.
 *
 * The transition state collects compact rows; partial states from
 * parallel workers are serialized, combined by concatenation, and the
 * final function trains.  Because dataset.c puts rows in canonical order,
 * the result does not depend on how the rows were split or ordered: for
 * the same rows and options it is byte for byte the model fm_train
 * stores with one thread.  The aggregate always trains on one thread,
 * whatever fmrec.threads says, so it is the pure function its IMMUTABLE
 * label promises (SGD with more threads is Hogwild, not reproducible).  The options are taken from the first row that has them
 * (they are meant to be a constant).  Over no rows the aggregate returns
 * NULL, like sum().
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "fmrec.h"

typedef struct AggState
{
	FmRatingsData r;
	Jsonb	   *options;		/* NULL until a row carries options */
} AggState;

static void
FreeState(void *arg)
{
	FmRatingsFree(&((AggState *) arg)->r);
}

static AggState *
NewState(MemoryContext cxt)
{
	AggState   *s = MemoryContextAllocZero(cxt, sizeof(AggState));

	FmRatingsInit(&s->r);
	FmrecRegisterFree(cxt, FreeState, s);
	return s;
}

static MemoryContext
AggContext(FunctionCallInfo fcinfo)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "fm_train_agg support function called in non-aggregate context");
	return cxt;
}

PG_FUNCTION_INFO_V1(fmrec_agg_trans);

/*
 * fmrec_agg_trans(state internal, user bigint, item bigint, rating float8
 *				   [, options jsonb]) RETURNS internal
 */
Datum
fmrec_agg_trans(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = AggContext(fcinfo);
	AggState   *s = PG_ARGISNULL(0) ? NewState(cxt) : (AggState *) PG_GETARG_POINTER(0);

	for (int a = 1; a <= 3; a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null",
							a == 1 ? "user id" : a == 2 ? "item id" : "rating"),
					 errdetail("Row %zu of fm_train_agg has a null %s.", s->r.n + 1,
							   a == 1 ? "user id" : a == 2 ? "item id" : "rating")));
	if (PG_NARGS() > 4 && s->options == NULL && !PG_ARGISNULL(4))
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(4);

		s->options = MemoryContextAlloc(cxt, VARSIZE(jb));
		memcpy(s->options, jb, VARSIZE(jb));
	}
	FmrecAddRating(&s->r, PG_GETARG_INT64(1), PG_GETARG_INT64(2),
				   PG_GETARG_FLOAT8(3), 1.0, s->r.n + 1);
	PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(fmrec_agg_combine);

/*
 * fmrec_agg_combine(a internal, b internal) RETURNS internal
 */
Datum
fmrec_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = AggContext(fcinfo);
	AggState   *a = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	AggState   *b = PG_ARGISNULL(1) ? NULL : (AggState *) PG_GETARG_POINTER(1);

	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
		a = NewState(cxt);
	FmrecCheckRowsMemory(&a->r, &b->r);
	if (FmRatingsAppend(&a->r, &b->r) != FM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory combining %zu and %zu training rows",
						a->r.n, b->r.n)));
	if (a->options == NULL && b->options != NULL)
	{
		a->options = MemoryContextAlloc(cxt, VARSIZE(b->options));
		memcpy(a->options, b->options, VARSIZE(b->options));
	}
	PG_RETURN_POINTER(a);
}

/*
 * Serialized state: the options' length (uint32) and bytes, then the rows
 * as the core serializes them (FmRatingsSerialize).
 */
PG_FUNCTION_INFO_V1(fmrec_agg_serialize);

/*
 * fmrec_agg_serialize(state internal) RETURNS bytea
 */
Datum
fmrec_agg_serialize(PG_FUNCTION_ARGS)
{
	AggState   *s = (AggState *) PG_GETARG_POINTER(0);
	uint32		olen = s->options ? VARSIZE(s->options) : 0;
	size_t		rows = FmRatingsSerializedSize(&s->r);
	bytea	   *out;
	char	   *p;

	if (rows == SIZE_MAX || rows > MaxAllocHugeSize - VARHDRSZ - sizeof(uint32) - olen)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("fm_train_agg state of %zu rows is too large to serialize", s->r.n)));
	out = palloc_extended(VARHDRSZ + sizeof(uint32) + olen + rows, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, VARHDRSZ + sizeof(uint32) + olen + rows);
	p = VARDATA(out);
	memcpy(p, &olen, sizeof(uint32));
	p += sizeof(uint32);
	if (olen)
		memcpy(p, s->options, olen);
	p += olen;
	if (FmRatingsSerialize(&s->r, (uint8_t *) p) != FM_OK)
		elog(ERROR, "fm_train_agg state has context features");
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(fmrec_agg_deserialize);

/*
 * fmrec_agg_deserialize(bytes bytea, dummy internal) RETURNS internal
 */
Datum
fmrec_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	Size		len = VARSIZE_ANY_EXHDR(in);
	AggState   *s = NewState(CurrentMemoryContext);
	uint32		olen;
	size_t		used;
	FmStatus	st;

	if (len < sizeof(uint32))
		elog(ERROR, "invalid fm_train_agg state");
	memcpy(&olen, p, sizeof(uint32));
	if (olen > len - sizeof(uint32) || (olen > 0 && olen < VARHDRSZ))
		elog(ERROR, "invalid fm_train_agg state");
	if (olen)
	{
		s->options = palloc(olen);
		memcpy(s->options, p + sizeof(uint32), olen);
	}
	p += sizeof(uint32) + olen;
	len -= sizeof(uint32) + olen;
	st = FmRatingsDeserialize(&s->r, (const uint8_t *) p, len, &used);
	if (st == FM_ERR_NOMEM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory reading fm_train_agg state")));
	if (st != FM_OK || used != len)
		elog(ERROR, "invalid fm_train_agg state");
	PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(fmrec_agg_final);

/*
 * fmrec_agg_final(state internal) RETURNS bytea
 */
Datum
fmrec_agg_final(PG_FUNCTION_ARGS)
{
	AggState   *s;
	FmrecOptionsData opts;
	MemoryContext cxt;
	MemoryContext old;
	double		seconds;
	FmModel		m;
	bytea	   *out;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (AggState *) PG_GETARG_POINTER(0);
	FmrecOptionsFromJsonb(s->options, &opts);
	/* one thread, always: the aggregate is IMMUTABLE, its bytes reproducible */
	if (FmrecOptionGiven(&opts, "threads") && opts.params.threads != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fm_train_agg trains on one thread"),
				 errdetail("The aggregate is immutable: the same rows and options must give the same bytes."),
				 errhint("Leave out \"threads\", or train with fm_train for more threads.")));
	opts.params.threads = 1;
	if (opts.user_features || opts.item_features)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fm_train_agg takes no attributes"),
				 errhint("Train with fm_train and its user_features and item_features options.")));
	if (opts.cols.weight || opts.cols.context || opts.cols.params)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fm_train_agg takes no %s option",
						opts.cols.weight ? "weight" : opts.cols.context ? "context" : "params"),
				 errdetail("The aggregate's arguments are its columns: user, item, rating and an optional weight."),
				 errhint("Pass the weight as the aggregate's fourth argument, or train with fm_train.")));

	/* everything but the result is freed with this context */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fmrec aggregate training",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	m = FmrecTrainDataset(FmrecBuildDataset(&s->r, NULL, NULL), &opts, &seconds);
	MemoryContextSwitchTo(old);
	out = FmrecEncodeModel(m);
	MemoryContextDelete(cxt);
	PG_RETURN_BYTEA_P(out);
}
