/*
 * split.c
 *	  fm_split(): training and test rows from one source, in SQL.
 *
 * The source (a relation name or a query, read read-only like training
 * rows) is wrapped in one query that marks each row is_test:
 *
 *	  random			a seeded hash of the (user, item) pair below the
 *						fraction: every row of a pair goes the same way
 *	  user_fraction		per user, that fraction of its rows (rounded down)
 *						in a seeded hash order
 *	  leave_last_out	per user with more than one row, its latest row by
 *						time_column (ties by the hash)
 *	  time				rows with time_column >= cutoff
 *
 * The wrapper's own references are all qualified (pg_catalog functions,
 * OPERATOR(pg_catalog.x)); the source's are resolved as the caller would
 * resolve them.  The output, (user_id, item_id, rating, is_test), is what
 * fm_train, fm_evaluate and fm_train_agg read: a source of two columns gets
 * rating 1 (choices).  Rows go to a tuplestore, which spills to disk
 * past work_mem.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/plancache.h"
#include "utils/tuplestore.h"

#include "fmrec.h"

typedef struct SplitState
{
	ReturnSetInfo *rsinfo;
} SplitState;

/* The source's result columns, from its plan, without running it. */
static TupleDesc
Describe(const char *query)
{
	SPIPlanPtr	plan;
	List	   *sources;
	TupleDesc	desc = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) == 1 &&
		((CachedPlanSource *) linitial(sources))->resultDesc != NULL)
		desc = CreateTupleDescCopy(((CachedPlanSource *) linitial(sources))->resultDesc);
	SPI_finish();
	if (desc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("split source must be a single query that returns rows")));
	return desc;
}

static int
ColumnNamed(TupleDesc desc, const char *name)
{
	for (int c = 0; c < desc->natts; c++)
		if (strcmp(NameStr(TupleDescAttr(desc, c)->attname), name) == 0)
			return c;
	return -1;
}

static void
NoCheck(void *arg, TupleDesc desc)
{
	(void) arg;
	(void) desc;
}

static void
SplitRow(void *arg, TupleDesc desc, HeapTuple tup, uint64 rowno)
{
	SplitState *s = arg;
	Datum		values[4];
	bool		nulls[4];

	(void) rowno;
	for (int c = 0; c < 4; c++)
		values[c] = SPI_getbinval(tup, desc, c + 1, &nulls[c]);
	tuplestore_putvalues(s->rsinfo->setResult, s->rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(fmrec_split);

/*
 * fm_split(source text, method text, test_fraction float8, seed bigint,
 *			time_column text, cutoff text)
 *		RETURNS TABLE(user_id bigint, item_id bigint, rating float8,
 *					  is_test boolean)
 */
Datum
fmrec_split(PG_FUNCTION_ARGS)
{
	char	   *source;
	char	   *method;
	double		fraction = PG_ARGISNULL(2) ? 0.2 : PG_GETARG_FLOAT8(2);
	int64		seed = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3);
	char	   *time_column = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	char	   *cutoff = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	char	   *inner;
	TupleDesc	desc;
	const char *col[3];
	const char *tcol = NULL;
	StringInfoData q;
	StringInfoData hash;
	SplitState	state;
	bool		by_time;

	FmrecInitSrf(fcinfo);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("split source must not be null")));
	source = text_to_cstring(PG_GETARG_TEXT_PP(0));
	method = PG_ARGISNULL(1) ? "random" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(method, "random") != 0 && strcmp(method, "user_fraction") != 0 &&
		strcmp(method, "leave_last_out") != 0 && strcmp(method, "time") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized split method \"%s\"", method),
				 errhint("Use \"random\", \"user_fraction\", \"leave_last_out\" or \"time\".")));
	by_time = strcmp(method, "leave_last_out") == 0 || strcmp(method, "time") == 0;
	if (!by_time && !(fraction > 0 && fraction < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_fraction must be between 0 and 1, exclusive")));
	if (by_time && time_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("split method \"%s\" needs time_column", method)));
	if (strcmp(method, "time") == 0 && cutoff == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("split method \"time\" needs cutoff"),
				 errhint("Pass the first time of the test period, as the time column's type spells it.")));

	inner = FmrecSourceQuery(source);
	desc = Describe(inner);
	if (desc->natts < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("split source must return at least two columns"),
				 errhint("Return user id and item id, optionally a rating, then any other columns.")));
	for (int c = 0; c < 3 && c < desc->natts; c++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, c);

		if (c < 2 ? !FmrecIsIntegerType(att->atttypid) :
			!FmrecIsNumericType(att->atttypid) && !by_time)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column %d of the split source has type %s", c + 1,
							format_type_be(att->atttypid)),
					 errdetail("%s.", c < 2 ? "User and item ids must be smallint, integer or bigint" :
							   "The rating must be of a numeric type")));
		col[c] = quote_identifier(NameStr(att->attname));
	}
	/* a third column that is not numeric (the time, say) is no rating */
	if (desc->natts < 3 || !FmrecIsNumericType(TupleDescAttr(desc, 2)->atttypid))
		col[2] = NULL;
	if (by_time)
	{
		if (ColumnNamed(desc, time_column) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("split source has no column \"%s\"", time_column)));
		tcol = quote_identifier(time_column);
	}

	/*
	 * The pair's hash: the item's, seeded by the user's.  (0.2.0 before its
	 * release XORed two separate hashes, which puts the same fifth of the
	 * catalogue in the test set of every user whose hash shares its top
	 * bits: test sets correlated across users, which a model of choices
	 * learns to avoid.)
	 */
	initStringInfo(&hash);
	appendStringInfo(&hash,
					 "pg_catalog.hashint8extended(CAST(s.%s AS pg_catalog.int8), "
					 "pg_catalog.hashint8extended(CAST(s.%s AS pg_catalog.int8), " INT64_FORMAT "))",
					 col[1], col[0], seed);
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT CAST(s.%s AS pg_catalog.int8), CAST(s.%s AS pg_catalog.int8), ",
					 col[0], col[1]);
	if (col[2])
		appendStringInfo(&q, "CAST(s.%s AS pg_catalog.float8), ", col[2]);
	else
		appendStringInfoString(&q, "CAST(1 AS pg_catalog.float8), ");
	if (strcmp(method, "random") == 0)
		appendStringInfo(&q, "(%s OPERATOR(pg_catalog.&) 2147483647) OPERATOR(pg_catalog.<) " INT64_FORMAT,
						 hash.data, (int64) (fraction * 2147483648.0));
	else if (strcmp(method, "user_fraction") == 0)
		appendStringInfo(&q,
						 "CAST(pg_catalog.row_number() OVER (PARTITION BY s.%s ORDER BY %s, s.%s) AS pg_catalog.float8) "
						 "OPERATOR(pg_catalog.<=) pg_catalog.floor(CAST(%.17g AS pg_catalog.float8) "
						 "OPERATOR(pg_catalog.*) CAST(pg_catalog.count(*) OVER (PARTITION BY s.%s) AS pg_catalog.float8))",
						 col[0], hash.data, col[1], fraction, col[0]);
	else if (strcmp(method, "leave_last_out") == 0)
		appendStringInfo(&q,
						 "pg_catalog.row_number() OVER (PARTITION BY s.%s ORDER BY s.%s DESC, %s, s.%s) "
						 "OPERATOR(pg_catalog.=) 1 AND pg_catalog.count(*) OVER (PARTITION BY s.%s) "
						 "OPERATOR(pg_catalog.>) 1",
						 col[0], tcol, hash.data, col[1], col[0]);
	else
		appendStringInfo(&q, "s.%s OPERATOR(pg_catalog.>=) %s", tcol, quote_literal_cstr(cutoff));
	appendStringInfo(&q, " FROM (%s) AS s", inner);

	state.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FmrecReadQuery(source, q.data, NULL, NoCheck, SplitRow, &state);
	return (Datum) 0;
}
