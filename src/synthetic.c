/*
 * synthetic.c
 *	  fm_synthetic_ratings(), fm_synthetic_features() and
 *	  fm_synthetic_truth(): planted MovieLens-shaped data, and the model
 *	  planted behind it, as tables.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "fmrec.h"

static FmSynth
Create(int users, int items, int64 ratings, int64 seed, double noise,
	   int genres, int groups, int taste)
{
	FmSynth		s;
	char		err[FM_ERRLEN];
	FmStatus	st;
	double		need = FmSynthMemory(users, items, ratings);

	if (FmrecOverMemory(need))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("fm_synthetic_ratings would need about %s of memory", FmrecPrettySize(need)),
				 errdetail("It plants factors for %d users and %d items and tracks " INT64_FORMAT " pairs; fmrec.max_training_memory is %s.",
						   users, items, ratings, FmrecMemoryLimit()),
				 errhint("Ask for fewer users, items or ratings.")));
	st = FmSynthCreate(users, items, ratings, (uint64_t) seed, noise,
					   genres, groups, &s, err, sizeof(err));
	FmrecReport(st, err);
	st = FmSynthSetTaste(s, taste, err, sizeof(err));
	if (st != FM_OK)
		FmSynthFree(s);
	FmrecReport(st, err);
	return s;
}

PG_FUNCTION_INFO_V1(fmrec_synthetic_ratings);

/*
 * fm_synthetic_ratings(users int, items int, ratings bigint, seed bigint,
 *						noise float8, genres int, groups int, taste int)
 *		RETURNS TABLE(user_id bigint, item_id bigint, rating float8,
 *					  expected float8)
 */
Datum
fmrec_synthetic_ratings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FmSynth		s;
	FmSynthRow	row;
	volatile int64 n = 0;

	FmrecInitSrf(fcinfo);
	s = Create(PG_GETARG_INT32(0), PG_GETARG_INT32(1), PG_GETARG_INT64(2),
			   PG_GETARG_INT64(3), PG_GETARG_FLOAT8(4), PG_GETARG_INT32(5),
			   PG_GETARG_INT32(6), PG_GETARG_INT32(7));
	PG_TRY();
	{
		while (FmSynthNext(s, &row))
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};

			if ((++n & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			values[0] = Int64GetDatum(row.user);
			values[1] = Int64GetDatum(row.item);
			values[2] = Float8GetDatum(row.rating);
			values[3] = Float8GetDatum(row.expected);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_FINALLY();
	{
		FmSynthFree(s);
	}
	PG_END_TRY();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fmrec_synthetic_features);

/*
 * fm_synthetic_features(users int, items int, seed bigint, genres int,
 *						 groups int)
 *		RETURNS TABLE(side text, id bigint, feature text)
 *
 * The planted attributes behind fm_synthetic_ratings with the same users,
 * items, seed, genres and groups: ('item', item_id, 'genre=G') and
 * ('user', user_id, 'group=C').
 */
Datum
fmrec_synthetic_features(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			users = PG_GETARG_INT32(0);
	int			items = PG_GETARG_INT32(1);
	FmSynth		s;

	FmrecInitSrf(fcinfo);
	s = Create(users, items, 0, PG_GETARG_INT64(2), 0.0, PG_GETARG_INT32(3),
			   PG_GETARG_INT32(4), 0);
	PG_TRY();
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		int			genres[3];

		values[0] = CStringGetTextDatum("item");
		for (int i = 0; i < items; i++)
		{
			int			n = FmSynthItemGenres(s, i, genres);

			values[1] = Int64GetDatum(i + 1);
			for (int g = 0; g < n; g++)
			{
				values[2] = CStringGetTextDatum(psprintf("genre=%d", genres[g]));
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
		values[0] = CStringGetTextDatum("user");
		for (int u = 0; u < users; u++)
		{
			int			c = FmSynthUserGroup(s, u);

			if (c < 0)
				continue;
			values[1] = Int64GetDatum(u + 1);
			values[2] = CStringGetTextDatum(psprintf("group=%d", c));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_FINALLY();
	{
		FmSynthFree(s);
	}
	PG_END_TRY();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fmrec_synthetic_truth);

/*
 * fm_synthetic_truth(users int, items int, seed bigint, genres int,
 *					  groups int)
 *		RETURNS TABLE(side text, id bigint, bias float8, factors real[],
 *					  share float8)
 *
 * The planted model behind fm_synthetic_ratings with the same users, items,
 * seed, genres and groups: every user's and item's bias and factors, and
 * the probability that one draw picks it (a user's activity, an item's
 * popularity).  The expected rating of a pair is 3.6 + both biases + the
 * dot product of the factors, clipped to [1, 5]; with a taste t, a row's
 * item is the best-liked of 1 + t draws by share.  Tests compute oracles
 * from it.
 */
Datum
fmrec_synthetic_truth(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			users = PG_GETARG_INT32(0);
	int			items = PG_GETARG_INT32(1);
	FmSynth		s;

	FmrecInitSrf(fcinfo);
	s = Create(users, items, 0, PG_GETARG_INT64(2), 0.0, PG_GETARG_INT32(3),
			   PG_GETARG_INT32(4), 0);
	PG_TRY();
	{
		for (int side = 0; side < 2; side++)
		{
			int			n = side == 0 ? users : items;
			double	   *share = palloc(n * sizeof(double));
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};

			FmSynthShares(s, side, share);
			values[0] = CStringGetTextDatum(side == 0 ? "user" : "item");
			for (int j = 0; j < n; j++)
			{
				double		bias;
				float		f[FM_SYNTH_RANK];
				Datum		fd[FM_SYNTH_RANK];

				if ((j & 0xFFF) == 0)
					CHECK_FOR_INTERRUPTS();
				FmSynthParams(s, side, j, &bias, f);
				for (int k = 0; k < FM_SYNTH_RANK; k++)
					fd[k] = Float4GetDatum(f[k]);
				values[1] = Int64GetDatum(j + 1);
				values[2] = Float8GetDatum(bias);
				values[3] = PointerGetDatum(construct_array(fd, FM_SYNTH_RANK, FLOAT4OID,
															sizeof(float4), true,
															TYPALIGN_INT));
				values[4] = Float8GetDatum(share[j]);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
			pfree(share);
		}
	}
	PG_FINALLY();
	{
		FmSynthFree(s);
	}
	PG_END_TRY();
	return (Datum) 0;
}
