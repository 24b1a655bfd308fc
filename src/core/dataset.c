/*
 * dataset.c
 *	  Turns raw rating rows into the canonical training set.
 *
 * Ids are numbered by ascending value and rows are sorted by (user, item,
 * rating, weight).  Because of that, the same multiset of rows yields the
 * same dataset whatever order it arrived in (a sequential scan, a parallel
 * aggregate's combined partial states, a different physical table order),
 * which is what makes fm_train and fm_train_agg produce identical model
 * bytes for the same data and seed.  The sort is a counting sort on the
 * user index followed by small per-user sorts, so it costs O(n log d) for
 * users with d ratings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

static int
CompareId(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

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
	if ((rank = malloc(nkeys * sizeof(uint32_t))) == NULL)
		goto done;
	qsort(keys, nkeys, sizeof(int64_t), CompareId);
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

FmStatus
FmDatasetBuild(FmDataset ds, const FmRatingsData *r, char *err, size_t errlen)
{
	uint32_t   *uidx = NULL;
	uint32_t   *iidx = NULL;
	size_t	   *start = NULL;
	FmStatus	st;

	memset(ds, 0, sizeof(*ds));
	if (r->n == 0)
	{
		snprintf(err, errlen, "no rows to train on");
		return FM_ERR_DATA;
	}
	uidx = malloc(r->n * sizeof(uint32_t));
	iidx = malloc(r->n * sizeof(uint32_t));
	ds->rows = malloc(r->n * sizeof(FmRow));
	if (uidx == NULL || iidx == NULL || ds->rows == NULL)
	{
		snprintf(err, errlen, "out of memory for %zu rows", r->n);
		st = FM_ERR_NOMEM;
		goto fail;
	}
	st = NumberIds(r->user, r->n, uidx, &ds->user_ids, &ds->n_users,
				   "user", err, errlen);
	if (st != FM_OK)
		goto fail;
	st = NumberIds(r->item, r->n, iidx, &ds->item_ids, &ds->n_items,
				   "item", err, errlen);
	if (st != FM_OK)
		goto fail;

	/* counting sort by user */
	start = calloc((size_t) ds->n_users + 1, sizeof(size_t));
	if (start == NULL)
	{
		snprintf(err, errlen, "out of memory sorting rows");
		st = FM_ERR_NOMEM;
		goto fail;
	}
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
		if (row->y < ds->min_rating)
			ds->min_rating = row->y;
		if (row->y > ds->max_rating)
			ds->max_rating = row->y;
	}
	/* start[u] now holds the end of user u's rows */
	for (uint32_t u = 0; u < ds->n_users; u++)
	{
		size_t		lo = u == 0 ? 0 : start[u - 1];

		qsort(ds->rows + lo, start[u] - lo, sizeof(FmRow), CompareRowInUser);
	}
	ds->n_rows = r->n;
	ds->weighted = r->weight != NULL;
	free(uidx);
	free(iidx);
	free(start);
	return FM_OK;

fail:
	free(uidx);
	free(iidx);
	free(start);
	FmDatasetFree(ds);
	return st;
}

void
FmDatasetFree(FmDataset ds)
{
	free(ds->user_ids);
	free(ds->item_ids);
	free(ds->rows);
	memset(ds, 0, sizeof(*ds));
}
