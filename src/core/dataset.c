/*
 * dataset.c
 *	  Turns raw rows and attributes into the canonical training set.
 *
 * Ids are numbered by ascending value, feature names by sorted name, and
 * rows sorted by (user, item, rating, weight, context).  Because of that,
 * the same multiset of rows yields the same dataset whatever order it
 * arrived in (a sequential scan, a parallel aggregate's combined partial
 * states, a different physical table order), which is what makes
 * fm_train and fm_train_agg produce identical model bytes for the same
 * data and seed.  The row sort is a counting sort on the user index
 * followed by small per-user sorts.
 *
 * Users and items that appear only in the attribute inputs are part of the
 * dataset (and so of the model) without rows.  A feature listed twice for
 * the same entity has its values summed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "rng.h"

/* context lists of the rows being sorted (qsort has no context argument) */
static const FmListsData *sort_ctx = NULL;

/* qsort comparator for int64_t */
int
FmCompareInt64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/*
 * Orders rows of one user by (item, rating, weight, context), so the
 * canonical order depends on the rows alone.
 */
static int
CompareRowInUser(const void *a, const void *b)
{
	const FmRow *x = a;
	const FmRow *y = b;

	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	if (x->y != y->y)
		return x->y < y->y ? -1 : 1;
	if (x->w != y->w)
		return x->w < y->w ? -1 : 1;
	if (sort_ctx && sort_ctx->off)
	{
		uint64_t	p = sort_ctx->off[x->c],
					pe = sort_ctx->off[x->c + 1];
		uint64_t	q = sort_ctx->off[y->c],
					qe = sort_ctx->off[y->c + 1];

		for (; p < pe && q < qe; p++, q++)
		{
			if (sort_ctx->feat[p] != sort_ctx->feat[q])
				return sort_ctx->feat[p] < sort_ctx->feat[q] ? -1 : 1;
			if (sort_ctx->val[p] != sort_ctx->val[q])
				return sort_ctx->val[p] < sort_ctx->val[q] ? -1 : 1;
		}
		if (p < pe || q < qe)
			return p < pe ? 1 : -1;
	}
	return 0;
}

/*
 * Numbers the distinct values of ids[0..n) by ascending value: idx[j]
 * receives the dense index of ids[j], *sorted the distinct ids.
 */
static FmStatus
NumberIds(const int64_t *ids, size_t n, uint32_t *idx, int64_t **sorted,
		  uint32_t *n_distinct, const char *what, char *err, size_t errlen)
{
	FmIdMapData map;
	int64_t    *keys = NULL;
	uint32_t   *rank = NULL;
	size_t		nkeys = 0;
	size_t		cap = 1024;
	FmStatus	st = FM_ERR_NOMEM;

	if (FmIdMapInit(&map, 1024) != FM_OK)
		return FM_ERR_NOMEM;
	if ((keys = malloc(cap * sizeof(int64_t))) == NULL)
		goto done;
	for (size_t j = 0; j < n; j++)
	{
		uint32_t	found;

		if (nkeys >= FM_MAX_IDS)
		{
			snprintf(err, errlen, "more than %u distinct %s ids",
					 (unsigned) FM_MAX_IDS, what);
			st = FM_ERR_LIMIT;
			goto done;
		}
		if (FmIdMapPut(&map, ids[j], (uint32_t) nkeys, &found) != FM_OK)
			goto done;
		if (found == nkeys)
		{
			if (nkeys == cap)
			{
				int64_t    *p = realloc(keys, 2 * cap * sizeof(int64_t));

				if (p == NULL)
					goto done;
				keys = p;
				cap *= 2;
			}
			keys[nkeys++] = ids[j];
		}
		idx[j] = found;
	}

	/* provisional index -> rank among the sorted distinct ids */
	if ((rank = malloc((nkeys ? nkeys : 1) * sizeof(uint32_t))) == NULL)
		goto done;
	qsort(keys, nkeys, sizeof(int64_t), FmCompareInt64);
	for (size_t r = 0; r < nkeys; r++)
	{
		uint32_t	found;

		/* the key is present, so this only looks it up */
		(void) FmIdMapPut(&map, keys[r], 0, &found);
		rank[found] = (uint32_t) r;
	}
	for (size_t j = 0; j < n; j++)
		idx[j] = rank[idx[j]];

	*sorted = keys;
	*n_distinct = (uint32_t) nkeys;
	keys = NULL;
	st = FM_OK;
done:
	if (st == FM_ERR_NOMEM)
		snprintf(err, errlen, "out of memory numbering %s ids", what);
	free(keys);
	free(rank);
	FmIdMapFree(&map);
	return st;
}

static const FmFeatDictData *sort_dict = NULL;

static int
CompareNameIndex(const void *a, const void *b)
{
	return strcmp(sort_dict->names[*(const uint32_t *) a],
				  sort_dict->names[*(const uint32_t *) b]);
}

/*
 * Copies a dictionary's names in sorted order into out; renum[old] is the
 * new index of provisional index old.
 */
static FmStatus
SortNames(const FmFeatDictData *d, FmNamesData *out, uint32_t **renum)
{
	uint32_t   *order = malloc((d->n ? d->n : 1) * sizeof(uint32_t));

	*renum = malloc((d->n ? d->n : 1) * sizeof(uint32_t));
	out->names = calloc(d->n ? d->n : 1, sizeof(char *));
	out->n = 0;
	if (order == NULL || *renum == NULL || out->names == NULL)
	{
		free(order);
		return FM_ERR_NOMEM;
	}
	for (size_t j = 0; j < d->n; j++)
		order[j] = (uint32_t) j;
	sort_dict = d;
	qsort(order, d->n, sizeof(uint32_t), CompareNameIndex);
	sort_dict = NULL;
	for (size_t j = 0; j < d->n; j++)
	{
		(*renum)[order[j]] = (uint32_t) j;
		if ((out->names[j] = strdup(d->names[order[j]])) == NULL)
		{
			free(order);
			return FM_ERR_NOMEM;
		}
		out->n = (uint32_t) j + 1;
	}
	free(order);
	return FM_OK;
}

typedef struct Triple
{
	uint32_t	e;				/* entity: user, item or row */
	uint32_t	f;
	float		v;
} Triple;

static int
CompareTriple(const void *a, const void *b)
{
	const Triple *x = a;
	const Triple *y = b;

	if (x->e != y->e)
		return x->e < y->e ? -1 : 1;
	return (x->f > y->f) - (x->f < y->f);
}

/*
 * Builds lists over n_ent entities from triples (sorted here), summing
 * duplicate features; *max_len receives the longest list.
 */
static FmStatus
BuildLists(Triple *t, size_t nt, uint32_t n_ent, FmListsData *out,
		   uint64_t *total, uint32_t *max_len)
{
	size_t		m = 0;

	memset(out, 0, sizeof(*out));
	*total = 0;
	*max_len = 0;
	if (nt == 0)
		return FM_OK;
	qsort(t, nt, sizeof(Triple), CompareTriple);
	out->off = calloc((size_t) n_ent + 1, sizeof(uint64_t));
	out->feat = malloc(nt * sizeof(uint32_t));
	out->val = malloc(nt * sizeof(float));
	if (!out->off || !out->feat || !out->val)
		return FM_ERR_NOMEM;
	for (size_t j = 0; j < nt; j++)
	{
		if (m > 0 && j > 0 && t[j].e == t[j - 1].e && t[j].f == t[j - 1].f)
		{
			out->val[m - 1] += t[j].v;
			continue;
		}
		out->feat[m] = t[j].f;
		out->val[m] = t[j].v;
		out->off[t[j].e + 1]++;
		m++;
	}
	for (uint32_t e = 0; e < n_ent; e++)
	{
		if (out->off[e + 1] > *max_len)
			*max_len = (uint32_t) out->off[e + 1];
		out->off[e + 1] += out->off[e];
	}
	*total = m;
	return FM_OK;
}

void
FmListsFree(FmListsData *l)
{
	free(l->off);
	free(l->feat);
	free(l->val);
	memset(l, 0, sizeof(*l));
}

void
FmNamesFree(FmNamesData *n)
{
	if (n->names)
		for (uint32_t j = 0; j < n->n; j++)
			free(n->names[j]);
	free(n->names);
	memset(n, 0, sizeof(*n));
}

/* ids of the ratings followed by those of the attribute triples */
static int64_t *
Concat(const int64_t *a, size_t na, const FmSideData *side)
{
	size_t		nb = side ? side->n : 0;
	int64_t    *all = malloc((na + nb) * sizeof(int64_t));

	if (all == NULL)
		return NULL;
	FmCopy(all, a, na * sizeof(int64_t));
	if (nb)
		FmCopy(all + na, side->id, nb * sizeof(int64_t));
	return all;
}

/* attribute triples of one side, with entity and feature renumbered */
static FmStatus
SideLists(const FmSideData *side, const uint32_t *ent_idx, uint32_t n_ent,
		  FmNamesData *names, FmListsData *lists, uint64_t *total,
		  uint32_t *max_len)
{
	uint32_t   *renum = NULL;
	Triple	   *t = NULL;
	FmStatus	st;

	*max_len = 0;
	*total = 0;
	if (side == NULL || side->n == 0)
		return FM_OK;
	if ((st = SortNames(&side->dict, names, &renum)) != FM_OK)
		goto done;
	st = FM_ERR_NOMEM;
	if ((t = malloc(side->n * sizeof(Triple))) == NULL)
		goto done;
	for (size_t j = 0; j < side->n; j++)
	{
		t[j].e = ent_idx[j];
		t[j].f = renum[side->feat[j]];
		t[j].v = side->val[j];
	}
	st = BuildLists(t, side->n, n_ent, lists, total, max_len);
done:
	free(renum);
	free(t);
	return st;
}

/*
 * Builds the canonical training set from raw rows and attributes: ids
 * numbered in ascending order, feature names sorted, rows sorted, each
 * entity's attribute lists; so the model does not depend on the order rows
 * arrived in.
 */
FmStatus
FmDatasetBuild(FmDataset ds, const FmRatingsData *r, const FmSideData *users,
			   const FmSideData *items, char *err, size_t errlen)
{
	uint32_t   *uidx = NULL;
	uint32_t   *iidx = NULL;
	int64_t    *ids = NULL;
	size_t	   *start = NULL;
	uint32_t   *renum = NULL;
	Triple	   *t = NULL;
	FmListsData raw_ctx = {0};
	size_t		nu_in = r->n + (users ? users->n : 0);
	size_t		ni_in = r->n + (items ? items->n : 0);
	uint32_t	umax = 0,
				imax = 0,
				cmax = 0;
	FmStatus	st = FM_ERR_NOMEM;

	memset(ds, 0, sizeof(*ds));
	if (r->n == 0)
	{
		snprintf(err, errlen, "no rows to train on");
		return FM_ERR_DATA;
	}
	if (r->n > UINT32_MAX)
	{
		snprintf(err, errlen, "more than %u rows", (unsigned) UINT32_MAX);
		return FM_ERR_LIMIT;
	}
	uidx = malloc(nu_in * sizeof(uint32_t));
	iidx = malloc(ni_in * sizeof(uint32_t));
	ds->rows = malloc(r->n * sizeof(FmRow));
	if (uidx == NULL || iidx == NULL || ds->rows == NULL)
		goto nomem;

	if ((ids = Concat(r->user, r->n, users)) == NULL)
		goto nomem;
	st = NumberIds(ids, nu_in, uidx, &ds->user_ids, &ds->n_users, "user", err, errlen);
	free(ids);
	if (st != FM_OK)
		goto fail;
	if ((ids = Concat(r->item, r->n, items)) == NULL)
		goto nomem;
	st = NumberIds(ids, ni_in, iidx, &ds->item_ids, &ds->n_items, "item", err, errlen);
	free(ids);
	ids = NULL;
	if (st != FM_OK)
		goto fail;

	/* attributes */
	if (SideLists(users, uidx + r->n, ds->n_users, &ds->ufeat, &ds->uattr,
				  &ds->n_uattr, &umax) != FM_OK ||
		SideLists(items, iidx + r->n, ds->n_items, &ds->ifeat, &ds->iattr,
				  &ds->n_iattr, &imax) != FM_OK)
		goto nomem;

	/* context, per input row, features renumbered and sorted */
	if (r->ctx_off && r->ctx_n > 0)
	{
		if (SortNames(&r->ctx_dict, &ds->cfeat, &renum) != FM_OK)
			goto nomem;
		if ((t = malloc(r->ctx_n * sizeof(Triple))) == NULL)
			goto nomem;
		for (size_t j = 0; j < r->n; j++)
			for (uint64_t p = r->ctx_off[j]; p < r->ctx_off[j + 1]; p++)
			{
				t[p].e = (uint32_t) j;
				t[p].f = renum[r->ctx_feat[p]];
				t[p].v = r->ctx_val[p];
			}
		if (BuildLists(t, r->ctx_n, (uint32_t) r->n, &raw_ctx, &ds->n_ctx, &cmax) != FM_OK)
			goto nomem;
	}

	/* counting sort by user */
	start = calloc((size_t) ds->n_users + 1, sizeof(size_t));
	if (start == NULL)
		goto nomem;
	for (size_t j = 0; j < r->n; j++)
		start[uidx[j] + 1]++;
	for (uint32_t u = 0; u < ds->n_users; u++)
		start[u + 1] += start[u];
	ds->min_rating = r->rating[0];
	ds->max_rating = r->rating[0];
	for (size_t j = 0; j < r->n; j++)
	{
		FmRow	   *row = &ds->rows[start[uidx[j]]++];

		row->u = uidx[j];
		row->i = iidx[j];
		row->y = r->rating[j];
		row->w = r->weight ? r->weight[j] : 1.0f;
		row->c = (uint32_t) j;	/* input row, until the sort is done */
		if (row->y < ds->min_rating)
			ds->min_rating = row->y;
		if (row->y > ds->max_rating)
			ds->max_rating = row->y;
	}
	/* start[u] now holds the end of user u's rows */
	sort_ctx = &raw_ctx;
	for (uint32_t u = 0; u < ds->n_users; u++)
	{
		size_t		lo = u == 0 ? 0 : start[u - 1];

		qsort(ds->rows + lo, start[u] - lo, sizeof(FmRow), CompareRowInUser);
	}
	sort_ctx = NULL;
	ds->n_rows = r->n;

	/* context lists in canonical row order */
	if (raw_ctx.off)
	{
		uint64_t	m = 0;

		ds->ctx.off = malloc((r->n + 1) * sizeof(uint64_t));
		ds->ctx.feat = malloc((ds->n_ctx ? ds->n_ctx : 1) * sizeof(uint32_t));
		ds->ctx.val = malloc((ds->n_ctx ? ds->n_ctx : 1) * sizeof(float));
		if (!ds->ctx.off || !ds->ctx.feat || !ds->ctx.val)
			goto nomem;
		for (size_t j = 0; j < r->n; j++)
		{
			uint32_t	src = ds->rows[j].c;

			ds->ctx.off[j] = m;
			for (uint64_t p = raw_ctx.off[src]; p < raw_ctx.off[src + 1]; p++, m++)
			{
				ds->ctx.feat[m] = raw_ctx.feat[p];
				ds->ctx.val[m] = raw_ctx.val[p];
			}
		}
		ds->ctx.off[r->n] = m;
	}
	for (size_t j = 0; j < r->n; j++)
		ds->rows[j].c = (uint32_t) j;
	ds->weighted = r->weight != NULL;
	ds->max_nnz = 2 + umax + imax + cmax;
	st = FM_OK;
	goto done;

nomem:
	snprintf(err, errlen, "out of memory for %zu rows", r->n);
	st = FM_ERR_NOMEM;
fail:
	FmDatasetFree(ds);
done:
	free(uidx);
	free(iidx);
	free(ids);
	free(start);
	free(renum);
	free(t);
	FmListsFree(&raw_ctx);
	return st;
}

bool
FmDatasetHasFeatures(const FmDatasetData *ds)
{
	return ds->ufeat.n > 0 || ds->ifeat.n > 0 || ds->cfeat.n > 0;
}

void
FmDatasetFree(FmDataset ds)
{
	free(ds->user_ids);
	free(ds->item_ids);
	free(ds->rows);
	FmNamesFree(&ds->ufeat);
	FmNamesFree(&ds->ifeat);
	FmNamesFree(&ds->cfeat);
	FmListsFree(&ds->uattr);
	FmListsFree(&ds->iattr);
	FmListsFree(&ds->ctx);
	memset(ds, 0, sizeof(*ds));
}

/* The bytes a dataset holds (for the training memory limit). */
double
FmDatasetMemory(const FmDatasetData *ds)
{
	double		lists = (double) ds->n_uattr + (double) ds->n_iattr + (double) ds->n_ctx;

	return (double) ds->n_rows * sizeof(FmRow) +
		((double) ds->n_users + ds->n_items) * (sizeof(int64_t) + sizeof(uint64_t)) +
		lists * (sizeof(uint32_t) + sizeof(float)) +
		(ds->ctx.off ? (double) (ds->n_rows + 1) * sizeof(uint64_t) : 0) +
		((double) ds->ufeat.n + ds->ifeat.n + ds->cfeat.n) * 64;
}

/*
 * The rows of an ids-only dataset as raw rows, split by a seeded hash of
 * the pair: every row of a pair whose hash falls below fraction goes to
 * hold, the others to keep (both initialized by the caller).  What the
 * implicit task's hold-out for choosing its regularization is made of.
 */
FmStatus
FmDatasetSplitRatings(const FmDatasetData *ds, uint64_t seed, double fraction,
					  FmRatings keep, FmRatings hold)
{
	if (FmDatasetHasFeatures(ds))
		return FM_ERR_PARAM;
	for (size_t j = 0; j < ds->n_rows; j++)
	{
		const FmRow *r = &ds->rows[j];
		int64_t		u = ds->user_ids[r->u];
		int64_t		i = ds->item_ids[r->i];
		FmStatus	st = FmRatingsAdd(FmPairHeldOut(seed, u, i, 1, 0, fraction) ? hold : keep,
									  u, i, r->y, ds->weighted ? r->w : 1.0);

		if (st != FM_OK)
			return st;
	}
	return FM_OK;
}
