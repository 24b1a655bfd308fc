/*
 * synthetic.c
 *	  fm_synthetic_ratings(): planted MovieLens-shaped ratings as a table.
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/tuplestore.h"

#include "fmrec.h"

PG_FUNCTION_INFO_V1(fmrec_synthetic_ratings);

/*
 * fm_synthetic_ratings(users int, items int, ratings bigint, seed bigint,
 *						noise float8) RETURNS TABLE(user_id bigint,
 *						item_id bigint, rating float8, expected float8)
 */
Datum
fmrec_synthetic_ratings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FmSynth		s;
	FmSynthRow	row;
	char		err[FM_ERRLEN];
	FmStatus	st;
	volatile int64 n = 0;

#if PG_VERSION_NUM >= 160000
	InitMaterializedSRF(fcinfo, 0);
#else
	SetSingleFuncCall(fcinfo, 0);
#endif
	st = FmSynthCreate(PG_GETARG_INT32(0), PG_GETARG_INT32(1), PG_GETARG_INT64(2),
					   (uint64_t) PG_GETARG_INT64(3), PG_GETARG_FLOAT8(4),
					   &s, err, sizeof(err));
	FmrecReport(st, err);
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
