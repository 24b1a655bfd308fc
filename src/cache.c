/*
 * cache.c
 *	  Decoded models, cached per backend.
 *
 * Scoring a million rows must not decode a model a million times, nor look
 * it up in fm_models a million times.  Two levels:
 *
 * 1. A backend-wide hash table, name -> (version, decoded model), in its
 *	  own context under CacheMemoryContext.  The first call of a statement
 *	  reads the model's current version from fm_models (one indexed SPI
 *	  lookup); a hit serves the decoded model, a miss fetches and decodes the
 *	  bytes of that version.  Versions come from a sequence, so the statement
 *	  after a committed retrain sees the new version, and a rolled-back
 *	  retrain, never visible to any snapshot, is never served.  Entries are
 *	  evicted least recently used first once the decoded models exceed
 *	  fmrec.cache_size, but never one the current statement has used.
 *
 * 2. Each call site (fn_extra) remembers the model it used and the
 *	  statement it used it in (transaction start, statement start, command
 *	  id), so later calls in the same statement skip the lookup entirely.
 *	  The command id changes whenever the transaction writes, so a retrain
 *	  earlier in the same transaction is noticed.
 *
 * A decoded model is reference-counted: every call site holding it counts.
 * When a newer version replaces it in the table (another call site of the
 * same statement may see a retrain committed in between: READ COMMITTED
 * takes a new snapshot for every PL/pgSQL expression) or it is evicted,
 * it is retired, and freed only once no call site holds it any more.  So
 * a call site never scores with freed memory.
 *
 * The bytea forms (fm_predict(model bytea, ...)) cache per call site only,
 * keyed by the identity of the datum: an on-disk TOAST pointer's value id,
 * or the bytes themselves for inline values, so a model read from a user's
 * table is decoded once per statement.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "fmrec.h"

typedef struct StmtKey
{
	TimestampTz xact_start;
	TimestampTz stmt_start;
	CommandId	cid;
} StmtKey;

/* a decoded model and the call sites holding it */
typedef struct CachedModel
{
	FmModel		model;
	int			refs;			/* call sites holding it */
	bool		retired;		/* no longer in the table: free at refs 0 */
} CachedModel;

typedef struct CacheEntry
{
	char		name[NAMEDATALEN];	/* hash key */
	int64		version;
	CachedModel *cm;
	uint64		last_used;
	StmtKey		used_in;
} CacheEntry;

typedef struct NameSite
{
	char		name[NAMEDATALEN];
	int			len;
	StmtKey		stmt;
	CachedModel *cm;			/* held: counted in cm->refs */
} NameSite;

typedef struct BytesSite
{
	bool		external;
	Oid			toastrelid;
	Oid			valueid;
	Size		len;
	char	   *copy;			/* inline values: the bytes */
	FmModel		model;
} BytesSite;

static HTAB *model_cache = NULL;
static MemoryContext cache_cxt = NULL;
static Size cache_bytes = 0;
static uint64 cache_tick = 0;

/* Frees a model that is out of the table and held by no call site. */
static void
MaybeFree(CachedModel *cm)
{
	if (cm->retired && cm->refs == 0)
	{
		cache_bytes -= cm->model->mem_bytes;
		FmModelFree(cm->model);
		pfree(cm);
	}
}

/* Takes a model out of the table; it lives on while call sites hold it. */
static void
Retire(CachedModel *cm)
{
	cm->retired = true;
	MaybeFree(cm);
}

static void
Release(CachedModel *cm)
{
	if (cm == NULL)
		return;
	Assert(cm->refs > 0);
	cm->refs--;
	MaybeFree(cm);
}

/* When a call site's memory goes (end of query), it lets go of its model. */
static void
ReleaseSite(void *arg)
{
	NameSite   *site = arg;

	Release(site->cm);
	site->cm = NULL;
}

static void
CurrentStmt(StmtKey *k)
{
	k->xact_start = GetCurrentTransactionStartTimestamp();
	k->stmt_start = GetCurrentStatementStartTimestamp();
	k->cid = GetCurrentCommandId(false);
}

static bool
SameStmt(const StmtKey *a, const StmtKey *b)
{
	return a->xact_start == b->xact_start && a->stmt_start == b->stmt_start &&
		a->cid == b->cid;
}

/* Decodes model bytes; damaged bytes raise data_corrupted. */
FmModel
FmrecDecode(const void *bytes, size_t len)
{
	FmModel		m;
	char		err[FM_ERRLEN];
	FmStatus	st = FmModelDecode(bytes, len, &m, err, sizeof(err));

	if (st != FM_OK)
		FmrecReport(st, err);
	return m;
}

static void
InitCache(void)
{
	HASHCTL		ctl;

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(CacheEntry);
	cache_cxt = AllocSetContextCreate(CacheMemoryContext, "fmrec model cache",
									  ALLOCSET_SMALL_SIZES);
	ctl.hcxt = cache_cxt;
	model_cache = hash_create("fmrec models", 16, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Evicts least recently used entries until the cache fits its budget. */
static void
Evict(const StmtKey *now)
{
	Size		limit = (Size) fmrec_cache_size_kb * 1024;

	while (cache_bytes > limit)
	{
		HASH_SEQ_STATUS seq;
		CacheEntry *e;
		CacheEntry *victim = NULL;

		hash_seq_init(&seq, model_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (!SameStmt(&e->used_in, now) &&
				(victim == NULL || e->last_used < victim->last_used))
				victim = e;
		if (victim == NULL)
			return;				/* everything left is in use right now */
		{
			CachedModel *cm = victim->cm;

			hash_search(model_cache, victim->name, HASH_REMOVE, NULL);
			Retire(cm);
		}
	}
}

/*
 * The decoded model of name's current version, decoding it on a miss;
 * counted for the caller.
 */
static CachedModel *
Lookup(const char *name, const StmtKey *now)
{
	CacheEntry *e;
	CachedModel *cm;
	int64		version;
	bool		found;

	if (!FmrecModelVersion(name, &version))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("Train it with fm_train(), or see the models in fm_models.")));
	if (model_cache == NULL)
		InitCache();
	e = hash_search(model_cache, name, HASH_FIND, NULL);
	if (e == NULL || e->version != version)
	{
		bytea	   *b = FmrecModelBytes(name, version);
		FmModel		m;

		if (b == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", name)));
		m = FmrecDecode(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
		pfree(b);
		PG_TRY();
		{
			cm = MemoryContextAllocZero(cache_cxt, sizeof(CachedModel));
			e = hash_search(model_cache, name, HASH_ENTER, &found);
		}
		PG_CATCH();
		{
			FmModelFree(m);
			PG_RE_THROW();
		}
		PG_END_TRY();
		if (found)
			Retire(e->cm);		/* call sites still holding it keep it */
		cm->model = m;
		e->version = version;
		e->cm = cm;
		cache_bytes += m->mem_bytes;
	}
	e->last_used = ++cache_tick;
	e->used_in = *now;
	/* the caller's reference, taken before anything can evict the entry */
	cm = e->cm;
	cm->refs++;
	Evict(now);
	return cm;
}

/*
 * The model named by name[0..len) (not NUL-terminated), as of the current
 * statement.  The hit path is a few comparisons: this runs once per row.
 */
FmModel
FmrecModelByName(FunctionCallInfo fcinfo, const char *name, int len)
{
	NameSite   *site = (NameSite *) fcinfo->flinfo->fn_extra;
	StmtKey		now;
	char		cname[NAMEDATALEN];

	CurrentStmt(&now);
	if (site != NULL && site->cm != NULL && site->len == len &&
		SameStmt(&site->stmt, &now) && memcmp(site->name, name, len) == 0)
		return site->cm->model;

	if (len > FMREC_MAX_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", pnstrdup(name, len)),
				 errdetail("Model names are limited to %d bytes.", FMREC_MAX_NAME)));
	memcpy(cname, name, len);
	cname[len] = '\0';
	FmrecCheckName(cname);
	if (site == NULL)
	{
		site = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(NameSite));
		FmrecRegisterFree(fcinfo->flinfo->fn_mcxt, ReleaseSite, site);
	}
	site->len = -1;				/* invalid until the lookup succeeds */
	{
		CachedModel *cm = Lookup(cname, &now);	/* counted for this site */

		Release(site->cm);
		site->cm = cm;
	}
	memcpy(site->name, cname, len + 1);
	site->len = len;
	site->stmt = now;
	return site->cm->model;
}

static void
FreeSiteModel(void *arg)
{
	BytesSite  *site = arg;

	FmModelFree(site->model);
	site->model = NULL;
}

/* The model in a bytea datum, decoded once per call site and value. */
FmModel
FmrecModelByBytes(FunctionCallInfo fcinfo, Datum bytes)
{
	BytesSite  *site = (BytesSite *) fcinfo->flinfo->fn_extra;
	struct varlena *raw = (struct varlena *) DatumGetPointer(bytes);
	bytea	   *b;
	FmModel		m;

	if (site == NULL)
	{
		site = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(BytesSite));
		fcinfo->flinfo->fn_extra = site;
		FmrecRegisterFree(fcinfo->flinfo->fn_mcxt, FreeSiteModel, site);
	}
	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		struct varatt_external ptr;

		VARATT_EXTERNAL_GET_POINTER(ptr, raw);
		if (site->model && site->external && site->toastrelid == ptr.va_toastrelid &&
			site->valueid == ptr.va_valueid)
			return site->model;
		FmModelFree(site->model);
		site->model = NULL;
		b = DatumGetByteaPP(bytes);
		m = FmrecDecode(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
		site->model = m;
		site->external = true;
		site->toastrelid = ptr.va_toastrelid;
		site->valueid = ptr.va_valueid;
		return m;
	}

	b = DatumGetByteaPP(bytes);
	if (site->model && !site->external && site->len == VARSIZE_ANY_EXHDR(b) &&
		memcmp(site->copy, VARDATA_ANY(b), site->len) == 0)
		return site->model;
	/* forget the old value first, so an ERROR below leaves no stale key */
	FmModelFree(site->model);
	site->model = NULL;
	if (site->copy)
		pfree(site->copy);
	site->copy = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
									Max(VARSIZE_ANY_EXHDR(b), 1));
	memcpy(site->copy, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	site->len = VARSIZE_ANY_EXHDR(b);
	site->external = false;
	m = FmrecDecode(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	site->model = m;
	return m;
}
