/*
 * load.c
 *	  Reads training rows through SPI.
 *
 * The source is the name of a table or view (read with SELECT *) or any
 * read-only query, optionally with $1..$n bound to given values.  Its
 * first three columns are user id, item id and rating.  Later columns are
 * read by name only (FmrecColumnsData): the one named weight is the row
 * weight, the ones the context option lists are context, and any other is
 * an error naming it, so a timestamp never becomes a weight unnoticed.
 * Ids may be any integer type, ratings and weights any numeric type.  Rows
 * are fetched through a read-only cursor in batches, so memory holds the
 * compact training rows, never the whole result set.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "parser/parse_param.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/plancache.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "fmrec.h"

#define FETCH_ROWS 10000

/* column types a source may use for ids */
bool
FmrecIsIntegerType(Oid t)
{
	return t == INT2OID || t == INT4OID || t == INT8OID;
}

/* column types a source may use for ratings, strengths and weights */
bool
FmrecIsNumericType(Oid t)
{
	return FmrecIsIntegerType(t) || t == FLOAT4OID || t == FLOAT8OID || t == NUMERICOID;
}

static void
FreeRatings(void *arg)
{
	FmRatingsFree((FmRatings) arg);
}

/* Empty rows in cxt, their malloc'ed arrays freed with it. */
FmRatings
FmrecNewRatings(MemoryContext cxt)
{
	FmRatings	r = MemoryContextAllocZero(cxt, sizeof(FmRatingsData));

	FmRatingsInit(r);
	FmrecRegisterFree(cxt, FreeRatings, r);
	return r;
}

static void
FreeSide(void *arg)
{
	FmSideFree((FmSide) arg);
}

/*
 * The user or item attributes of source, freed with cxt, or NULL when no
 * source is given.
 */
FmSide
FmrecNewSide(MemoryContext cxt, const char *source)
{
	FmSide		side;

	if (source == NULL)
		return NULL;
	side = MemoryContextAllocZero(cxt, sizeof(FmSideData));
	FmSideInit(side);
	FmrecRegisterFree(cxt, FreeSide, side);
	FmrecLoadSide(source, side);
	return side;
}

static int64
IdValue(Datum d, Oid t)
{
	switch (t)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

/* A numeric column's value as a double. */
static double
RealValue(Datum d, Oid t)
{
	switch (t)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		default:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
}

/* Skips one identifier, plain or double-quoted; NULL if there is none. */
static const char *
SkipIdentifier(const char *s)
{
	if (*s == '"')
	{
		for (s++; *s; s++)
			if (*s == '"')
			{
				if (s[1] != '"')
					return s + 1;
				s++;
			}
		return NULL;
	}
	if (!(isalpha((unsigned char) *s) || *s == '_' || IS_HIGHBIT_SET(*s)))
		return NULL;
	while (isalnum((unsigned char) *s) || *s == '_' || *s == '$' || IS_HIGHBIT_SET(*s))
		s++;
	return s;
}

/*
 * A relation name ([catalog.][schema.]name, each part plain or quoted) is
 * read with SELECT *; anything else is taken as a query.
 */
static bool
LooksLikeName(const char *s)
{
	int			parts = 0;

	while (isspace((unsigned char) *s))
		s++;
	for (;;)
	{
		if ((s = SkipIdentifier(s)) == NULL || ++parts > 3)
			return false;
		if (*s != '.')
			break;
		s++;
	}
	while (isspace((unsigned char) *s))
		s++;
	return *s == '\0';
}

/*
 * The query for a source: SELECT * from a relation name, or the text as
 * given.
 */
char *
FmrecSourceQuery(const char *source)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;

	if (!LooksLikeName(source))
		return pstrdup(source);
	names = stringToQualifiedNameList(source);
	rv = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(rv, AccessShareLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s\" does not exist", source),
				 errhint("Pass the name of a table or view, or a query.")));
	return psprintf("SELECT * FROM %s",
					quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   get_rel_name(relid)));
}

/*
 * For a replay of about rows rows of source: when source names a table
 * whose size the planner knows, SELECT * FROM it TABLESAMPLE BERNOULLI at
 * the percentage that yields rows and a margin (REPEATABLE by seed), so
 * the rows are not all read; otherwise NULL, and the caller reads all of
 * source.  The caller trims what comes back to rows.
 */
char *
FmrecSampleQuery(const char *source, double rows, uint64 seed)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;
	HeapTuple	tup;
	double		reltuples;
	char		relkind;
	double		pct;

	if (!LooksLikeName(source))
		return NULL;
	names = stringToQualifiedNameList(source);
	rv = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(rv, AccessShareLock, true);
	if (!OidIsValid(relid))
		return NULL;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return NULL;
	reltuples = ((Form_pg_class) GETSTRUCT(tup))->reltuples;
	relkind = ((Form_pg_class) GETSTRUCT(tup))->relkind;
	ReleaseSysCache(tup);
	if ((relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW) || reltuples <= 0)
		return NULL;
	/* a quarter more and 1,000 rows, so that the sample is rarely short */
	pct = 100.0 * (1.25 * rows + 1000.0) / reltuples;
	if (pct >= 100.0)
		return NULL;
	return psprintf("SELECT * FROM %s TABLESAMPLE BERNOULLI (%.6f) REPEATABLE (%.0f)",
					quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   get_rel_name(relid)),
					pct, (double) (seed % 1000000007));
}

/* The ratings query must be one SELECT that writes nothing. */
static void
CheckReadOnly(SPIPlanPtr plan)
{
	List	   *sources = SPI_plan_get_plan_sources(plan);
	bool		ok = list_length(sources) == 1;

	if (ok)
	{
		CachedPlanSource *ps = linitial(sources);
		ListCell   *lc;

		ok = ps->commandTag == CMDTAG_SELECT;
		foreach(lc, ps->query_list)
		{
			Query	   *q = lfirst_node(Query, lc);

			ok &= q->commandType == CMD_SELECT && !q->hasModifyingCTE &&
				q->utilityStmt == NULL && q->rowMarks == NIL;
		}
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ratings query must be a single SELECT that does not modify data")));
}

/* what RatingRow reads of each row */
typedef struct RatingReader
{
	FmRatings	r;
	const FmrecColumnsData *cols;
	int			min;			/* columns the query must return */
	int			weight;			/* 0-based column of the weight, or -1 */
	int			ncontext;
	int		   *context;		/* 0-based columns of context features */
} RatingReader;

/*
 * The names of the context option, parsed once: NIL for none, and *all
 * for "*" (every column after the third but the weight).
 */
static List *
ContextNames(const char *list, bool *all)
{
	List	   *names = NIL;

	*all = list != NULL && strcmp(list, "*") == 0;
	if (list != NULL && !*all && !SplitIdentifierString(pstrdup(list), ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid context column list \"%s\"", list),
				 errhint("List column names separated by commas, or \"*\" for every column after the third but the weight.")));
	return names;
}

static bool
NameInList(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((const char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

/*
 * Checks the ratings query's columns (integer ids, a numeric rating) and
 * gives each later column its role, by name: the weight, a context
 * column, or an error.
 */
static void
CheckColumns(void *arg, TupleDesc tupdesc)
{
	RatingReader *rd = arg;
	const FmrecColumnsData *cols = rd->cols;
	const char *wname = cols->weight ? cols->weight : "weight";
	int			natts = tupdesc->natts;
	bool		all_context;
	List	   *names = ContextNames(cols->context, &all_context);
	ListCell   *lc;

	if (natts < rd->min)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("ratings query must return at least %s columns", rd->min == 2 ? "two" : "three"),
				 errdetail("It returns %d.", natts),
				 rd->min == 2 ?
				 errhint("Return user id and item id, optionally a strength and a column named weight.") :
				 errhint("Return user id, item id and rating, optionally a column named weight and context columns.")));
	foreach(lc, names)
	{
		bool		found = false;

		for (int c = 3; c < natts; c++)
			found |= strcmp(NameStr(TupleDescAttr(tupdesc, c)->attname),
							(const char *) lfirst(lc)) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("context column \"%s\" is not among the ratings query's columns after the third",
							(const char *) lfirst(lc))));
	}
	rd->weight = -1;
	rd->ncontext = 0;
	rd->context = palloc0(Max(natts, 1) * sizeof(int));
	for (int c = 0; c < natts; c++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, c);
		const char *name = NameStr(att->attname);
		bool		is_weight = c >= 3 && strcmp(name, wname) == 0;

		if (c >= 3 && cols->first_three)
			break;
		if (c >= 3 && !is_weight && !all_context && !NameInList(names, name))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
					 errmsg("column %d of the ratings query, \"%s\", has no role", c + 1, name),
					 errdetail("After user id, item id and rating, fmrec reads only a column named %s (the row weight) and the context columns the context option lists.",
							   wname),
					 errhint("Leave \"%s\" out of the query, call it %s if it weighs the rows, or pass options => '{\"context\": \"%s\"}' to train on it as context.",
							 name, wname, name)));
		if (is_weight && rd->weight >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("ratings query has more than one column named \"%s\"", wname)));
		if (c < 3 || is_weight)
		{
			bool		ok = c < 2 ? FmrecIsIntegerType(att->atttypid) : FmrecIsNumericType(att->atttypid);

			if (!ok)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 is_weight ?
						 errmsg("weight column \"%s\" of the ratings query has type %s", name,
								format_type_be(att->atttypid)) :
						 errmsg("column %d of the ratings query has type %s", c + 1,
								format_type_be(att->atttypid)),
						 errdetail("%s.", c < 2 ?
								   "User and item ids must be smallint, integer or bigint" :
								   "Ratings and weights must be of a numeric type")));
		}
		if (is_weight)
			rd->weight = c;
		else if (c >= 3)
			rd->context[rd->ncontext++] = c;
	}
	if (cols->weight && rd->weight < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("weight column \"%s\" is not among the ratings query's columns after the third",
						cols->weight)));
}

/*
 * Refuses to hold more training rows than fmrec.max_training_memory
 * allows (the rows themselves and the training set to be built from
 * them), as early as the rows arrive; more (or NULL) are rows about to
 * be appended to r.
 */
void
FmrecCheckRowsMemory(const FmRatingsData *r, const FmRatingsData *more)
{
	double		need = FmRatingsMemory(r) + (more ? FmRatingsMemory(more) : 0);

	if (FmrecOverMemory(need))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training rows need more memory than fmrec.max_training_memory"),
				 errdetail("After %zu rows they take about %s; the limit is %s.",
						   r->n + (more ? more->n : 0), FmrecPrettySize(need),
						   FmrecMemoryLimit()),
				 errhint("Train on a sample or a time window of the rows, or have a superuser raise fmrec.max_training_memory.")));
}

/*
 * Adds one row; the core checks it (FmRatingCheck) and this words the
 * error.  rowno is 1-based, for messages.
 */
void
FmrecAddRating(FmRatings r, int64 user, int64 item, double rating,
			   double weight, uint64 rowno)
{
	FmStatus	st = FmRatingsAdd(r, user, item, rating, weight);

	if (st == FM_OK)
	{
		/* the rows grow by doubling: checking every 64k rows is enough */
		if ((r->n & 0xFFFF) == 0)
			FmrecCheckRowsMemory(r, NULL);
		return;
	}
	/* finite but past float4 (1e300) is out of range, not "not finite" */
	if (st == FM_ERR_DATA && FmRatingCheck(rating, weight) == FM_ROW_BAD_RATING)
		ereport(ERROR,
				(errcode(isfinite(rating) ? ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE : ERRCODE_DATA_EXCEPTION),
				 isfinite(rating) ? errmsg("rating is out of range") :
				 errmsg("rating must be a finite number"),
				 errdetail("Row " UINT64_FORMAT " (user " INT64_FORMAT ", item " INT64_FORMAT
						   ") has rating %g; ratings are real (float4) numbers, within 3.4e38 either side of zero.",
						   rowno, user, item, rating)));
	if (st == FM_ERR_DATA)
		ereport(ERROR,
				(errcode(isfinite(weight) && weight >= 0 ? ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE : ERRCODE_DATA_EXCEPTION),
				 isfinite(weight) && weight >= 0 ? errmsg("row weight is out of range") :
				 errmsg("row weight must be a finite number not below zero"),
				 errdetail("Row " UINT64_FORMAT " has weight %g.", rowno, weight)));
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory"),
			 errdetail("Failed to store " UINT64_FORMAT " training rows.", rowno)));
}

static void
ReadSourceContext(void *arg)
{
	errcontext("reading the rows of \"%s\" (read-only)",
			   (const char *) arg);
}

/* the parser's hook for parameters whose types the query decides */
typedef struct VarParams
{
	Oid		   *types;
	int			n;
} VarParams;

static void
VarParamsSetup(ParseState *pstate, void *arg)
{
	VarParams  *vp = arg;

	setup_parse_variable_parameters(pstate, &vp->types, &vp->n);
}

/*
 * Prepares query.  With parameters, $1..$n take the types the query gives
 * them (as PREPARE without types does; text where nothing decides), and
 * the given values are read by those types' input functions into values
 * and nulls.
 */
static SPIPlanPtr
PrepareWithParams(const char *query, const FmrecColumnsData *cols,
				  Datum **values, char **nulls)
{
	SPIPrepareOptions popts = {0};
	VarParams	vp = {0};
	SPIPlanPtr	plan;
	int			n = cols ? cols->nparams : 0;

	if (n == 0)
	{
		plan = SPI_prepare(query, 0, NULL);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		return plan;
	}
	vp.n = n;
	vp.types = palloc0(n * sizeof(Oid));
	popts.parserSetup = VarParamsSetup;
	popts.parserSetupArg = &vp;
	popts.parseMode = RAW_PARSE_DEFAULT;
	plan = SPI_prepare_extended(query, &popts);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (vp.n > n)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_PARAMETER),
				 errmsg("ratings query uses parameter $%d, but params has %d %s",
						vp.n, n, n == 1 ? "value" : "values")));
	*values = palloc0(n * sizeof(Datum));
	*nulls = palloc(n);
	for (int j = 0; j < n; j++)
	{
		Oid			t = vp.types[j];
		Oid			input;
		Oid			ioparam;

		if (t == InvalidOid)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_PARAMETER),
					 errmsg("ratings query does not use parameter $%d", j + 1),
					 errdetail_plural("params has %d value; each must be used.",
									  "params has %d values; each must be used.",
									  n, n)));
		if (t == UNKNOWNOID)
			t = vp.types[j] = TEXTOID;
		getTypeInputInfo(t, &input, &ioparam);
		(*values)[j] = OidInputFunctionCall(input, cols->params[j], ioparam, -1);
		(*nulls)[j] = cols->params[j] ? ' ' : 'n';
	}
	SPI_freeplan(plan);
	plan = SPI_prepare(query, n, vp.types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * Runs query (made from source, named in messages) through a read-only
 * cursor, calling check once with the result's descriptor and row for every
 * row.  Returns the number of rows.
 */
uint64
FmrecReadQuery(const char *source, const char *query, const FmrecColumnsData *cols,
			   void (*check) (void *arg, TupleDesc desc),
			   void (*row) (void *arg, TupleDesc desc, HeapTuple tup, uint64 rowno),
			   void *arg)
{
	SPIPlanPtr	plan;
	Portal		portal;
	uint64		rowno = 0;
	bool		checked = false;
	int			nest;
	ErrorContextCallback errcb;
	Datum	   *values = NULL;
	char	   *nulls = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = PrepareWithParams(query, cols, &values, &nulls);
	CheckReadOnly(plan);

	/*
	 * The check above is syntactic: a function the query calls could still
	 * write.  The query runs as in a read-only transaction, so any write
	 * but to a temporary table fails; the setting returns to what it was
	 * when the rows are read (or with the transaction, on error).
	 */
	errcb.callback = ReadSourceContext;
	errcb.arg = (void *) source;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	nest = NewGUCNestLevel();
	(void) set_config_option("transaction_read_only", "on", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	portal = SPI_cursor_open(NULL, plan, values, nulls, true);
	for (;;)
	{
		SPITupleTable *tt;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		tt = SPI_tuptable;
		if (!checked)
		{
			check(arg, tt->tupdesc);
			checked = true;
		}
		if (SPI_processed == 0)
			break;
		for (uint64 j = 0; j < SPI_processed; j++)
			row(arg, tt->tupdesc, tt->vals[j], ++rowno);
		SPI_freetuptable(tt);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	AtEOXact_GUC(true, nest);
	error_context_stack = errcb.previous;
	SPI_finish();
	return rowno;
}

/* FmrecReadQuery of a source: a relation name or a query */
static uint64
ReadSource(const char *source, const FmrecColumnsData *cols,
		   void (*check) (void *arg, TupleDesc desc),
		   void (*row) (void *arg, TupleDesc desc, HeapTuple tup, uint64 rowno),
		   void *arg)
{
	return FmrecReadQuery(source, FmrecSourceQuery(source), cols, check, row, arg);
}

static bool
IsRealType(Oid t)
{
	return t == FLOAT4OID || t == FLOAT8OID || t == NUMERICOID;
}

/*
 * Adds a context feature for column c of a row: "name=value" for
 * categorical columns (FmFeatureName), or the real-valued feature "name"
 * for float and numeric columns.  NULL means the feature is absent.
 */
static void
AddContext(FmRatings r, TupleDesc desc, HeapTuple tup, int c, uint64 rowno)
{
	Form_pg_attribute att = TupleDescAttr(desc, c);
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, c + 1, &isnull);
	char	   *name;
	float		x = 1.0f;
	FmStatus	st;

	if (isnull)
		return;
	if (IsRealType(att->atttypid))
	{
		double		v = RealValue(d, att->atttypid);

		if (!FmFitsFloat(v))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("context column \"%s\" must be finite", NameStr(att->attname)),
					 errdetail("Row " UINT64_FORMAT " has %g.", rowno, v)));
		name = NameStr(att->attname);
		x = (float) v;
	}
	else
	{
		/* the core's vocabulary: booleans are true/false, as in scoring */
		const char *value = att->atttypid == BOOLOID ?
			FmBoolText(DatumGetBool(d)) : SPI_getvalue(tup, desc, c + 1);

		name = FmrecFeatureName(NameStr(att->attname), value, strlen(value));
	}
	if ((st = FmRatingsAddContext(r, name, strlen(name), x)) != FM_OK)
		FmrecReport(st, "could not store a context feature");
}

/*
 * Adds one row of the ratings query: ids, rating (or strength: 1 when
 * there is no third column), weight and context.
 */
static void
RatingRow(void *arg, TupleDesc desc, HeapTuple tup, uint64 rowno)
{
	RatingReader *rd = arg;
	Datum		v[3];
	bool		null[3] = {false, false, false};
	bool		wnull = true;
	Datum		w = 0;
	int			natts = Min(desc->natts, 3);

	for (int c = 0; c < natts; c++)
	{
		v[c] = SPI_getbinval(tup, desc, c + 1, &null[c]);
		if (null[c])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null",
							c == 0 ? "user id" : c == 1 ? "item id" : "rating"),
					 errdetail("Row " UINT64_FORMAT " of the ratings query has a null %s.",
							   rowno, c == 0 ? "user id" : c == 1 ? "item id" : "rating")));
	}
	if (rd->weight >= 0)
		w = SPI_getbinval(tup, desc, rd->weight + 1, &wnull);
	FmrecAddRating(rd->r, IdValue(v[0], TupleDescAttr(desc, 0)->atttypid),
				   IdValue(v[1], TupleDescAttr(desc, 1)->atttypid),
				   natts < 3 ? 1.0 : RealValue(v[2], TupleDescAttr(desc, 2)->atttypid),
				   wnull ? 1.0 : RealValue(w, TupleDescAttr(desc, rd->weight)->atttypid),
				   rowno);
	for (int j = 0; j < rd->ncontext; j++)
		AddContext(rd->r, desc, tup, rd->context[j], rowno);
}

/*
 * Reads the rows of source into r; choices (the implicit task) may leave
 * out the strength column.  cols says how later columns are read (NULL:
 * a column named weight, no context, no parameters).
 */
void
FmrecLoadRatings(const char *source, FmRatings r, bool choices,
				 const FmrecColumnsData *cols)
{
	static const FmrecColumnsData none = {0};
	RatingReader rd = {0};

	rd.r = r;
	rd.cols = cols ? cols : &none;
	rd.min = choices ? 2 : 3;
	if (ReadSource(source, rd.cols, CheckColumns, RatingRow, &rd) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("ratings query returned no rows"),
				 errhint("A model needs at least one rating to train on.")));
}

/*
 * Checks an attribute query's columns: (integer id, feature [, numeric
 * value]).
 */
static void
CheckSideColumns(void *arg, TupleDesc desc)
{
	(void) arg;
	if (desc->natts < 2 || desc->natts > 3)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("feature query must return two or three columns"),
				 errdetail("It returns %d.", desc->natts),
				 errhint("Return id, feature name and optionally a value (1 when absent).")));
	if (!FmrecIsIntegerType(TupleDescAttr(desc, 0)->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column 1 of the feature query has type %s",
						format_type_be(TupleDescAttr(desc, 0)->atttypid)),
				 errdetail("Ids must be smallint, integer or bigint.")));
	if (desc->natts == 3 && !FmrecIsNumericType(TupleDescAttr(desc, 2)->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column 3 of the feature query has type %s",
						format_type_be(TupleDescAttr(desc, 2)->atttypid)),
				 errdetail("Feature values must be of a numeric type.")));
}

/* Adds one attribute row. */
static void
SideRow(void *arg, TupleDesc desc, HeapTuple tup, uint64 rowno)
{
	FmSide		side = arg;
	bool		null0,
				null2 = false;
	Datum		id = SPI_getbinval(tup, desc, 1, &null0);
	char	   *name = SPI_getvalue(tup, desc, 2);
	double		val = 1.0;
	FmStatus	st;

	if (null0 || name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", null0 ? "feature id" : "feature name"),
				 errdetail("Row " UINT64_FORMAT " of the feature query has a null %s.",
						   rowno, null0 ? "id" : "feature name")));
	if (desc->natts == 3)
	{
		Datum		v = SPI_getbinval(tup, desc, 3, &null2);

		if (null2)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("feature value must not be null"),
					 errdetail("Row " UINT64_FORMAT " of the feature query has a null value.", rowno)));
		val = RealValue(v, TupleDescAttr(desc, 2)->atttypid);
	}
	if (!FmFitsFloat(val))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("feature value must be a finite number"),
				 errdetail("Row " UINT64_FORMAT " of the feature query has value %g.", rowno, val)));
	if ((st = FmSideAdd(side, IdValue(id, TupleDescAttr(desc, 0)->atttypid),
						name, strlen(name), (float) val)) != FM_OK)
		FmrecReport(st, "could not store a feature");
	if ((rowno & 0xFFFF) == 0 && FmrecOverMemory(FmSideMemory(side)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("feature rows need more memory than fmrec.max_training_memory"),
				 errdetail("After " UINT64_FORMAT " rows they take about %s; the limit is %s.",
						   rowno, FmrecPrettySize(FmSideMemory(side)), FmrecMemoryLimit())));
}

/* Reads (id, feature, [value]) rows of user or item attributes. */
void
FmrecLoadSide(const char *source, FmSide side)
{
	ReadSource(source, NULL, CheckSideColumns, SideRow, side);
}
