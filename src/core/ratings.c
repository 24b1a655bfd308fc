/*
 * ratings.c
 *	  A growable buffer of raw (user, item, rating, weight) rows.
 *
 * This is what the SQL layer fills from SPI or from the aggregate's
 * transition function; dataset.c turns it into the canonical training set.
 * Weights are stored only once a row carries a weight other than 1.
 */
#include <stdlib.h>
#include <string.h>

#include "fm.h"

void
FmRatingsInit(FmRatings r)
{
	memset(r, 0, sizeof(*r));
	FmFeatDictInit(&r->ctx_dict);
}

void
FmRatingsFree(FmRatings r)
{
	free(r->user);
	free(r->item);
	free(r->rating);
	free(r->weight);
	free(r->ctx_off);
	free(r->ctx_feat);
	free(r->ctx_val);
	FmFeatDictFree(&r->ctx_dict);
	memset(r, 0, sizeof(*r));
}

static FmStatus
Reserve(FmRatings r, size_t need)
{
	size_t		cap;
	void	   *p;

	if (need <= r->cap)
		return FM_OK;
	cap = r->cap ? r->cap : 1024;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(r->user, cap * sizeof(int64_t))) == NULL)
		return FM_ERR_NOMEM;
	r->user = p;
	if ((p = realloc(r->item, cap * sizeof(int64_t))) == NULL)
		return FM_ERR_NOMEM;
	r->item = p;
	if ((p = realloc(r->rating, cap * sizeof(float))) == NULL)
		return FM_ERR_NOMEM;
	r->rating = p;
	if (r->weight)
	{
		if ((p = realloc(r->weight, cap * sizeof(float))) == NULL)
			return FM_ERR_NOMEM;
		r->weight = p;
	}
	if (r->ctx_off)
	{
		if ((p = realloc(r->ctx_off, (cap + 1) * sizeof(uint64_t))) == NULL)
			return FM_ERR_NOMEM;
		r->ctx_off = p;
	}
	r->cap = cap;
	return FM_OK;
}

static FmStatus
StartWeights(FmRatings r)
{
	r->weight = malloc((r->cap ? r->cap : 1) * sizeof(float));
	if (r->weight == NULL)
		return FM_ERR_NOMEM;
	for (size_t j = 0; j < r->n; j++)
		r->weight[j] = 1.0f;
	return FM_OK;
}

FmStatus
FmRatingsAdd(FmRatings r, int64_t user, int64_t item, float rating,
			 float weight)
{
	if (Reserve(r, r->n + 1) != FM_OK)
		return FM_ERR_NOMEM;
	if (weight != 1.0f && r->weight == NULL && StartWeights(r) != FM_OK)
		return FM_ERR_NOMEM;
	r->user[r->n] = user;
	r->item[r->n] = item;
	r->rating[r->n] = rating;
	if (r->weight)
		r->weight[r->n] = weight;
	r->n++;
	if (r->ctx_off)
		r->ctx_off[r->n] = r->ctx_n;
	return FM_OK;
}

/* Adds a context feature to the row added last. */
FmStatus
FmRatingsAddContext(FmRatings r, const char *name, size_t len, float val)
{
	uint32_t	f;
	FmStatus	st;

	if (r->n == 0)
		return FM_ERR_DATA;
	if (r->ctx_off == NULL)
	{
		r->ctx_off = calloc(r->cap + 1, sizeof(uint64_t));
		if (r->ctx_off == NULL)
			return FM_ERR_NOMEM;
	}
	if ((st = FmFeatDictIntern(&r->ctx_dict, name, len, &f)) != FM_OK)
		return st;
	if (r->ctx_n == r->ctx_cap)
	{
		size_t		cap = r->ctx_cap ? 2 * r->ctx_cap : 1024;
		void	   *p;

		if ((p = realloc(r->ctx_feat, cap * sizeof(uint32_t))) == NULL)
			return FM_ERR_NOMEM;
		r->ctx_feat = p;
		if ((p = realloc(r->ctx_val, cap * sizeof(float))) == NULL)
			return FM_ERR_NOMEM;
		r->ctx_val = p;
		r->ctx_cap = cap;
	}
	r->ctx_feat[r->ctx_n] = f;
	r->ctx_val[r->ctx_n] = val;
	r->ctx_n++;
	r->ctx_off[r->n] = r->ctx_n;
	return FM_OK;
}

FmStatus
FmRatingsAppend(FmRatings dst, const FmRatingsData *src)
{
	size_t		n0 = dst->n;

	if (src->n == 0)
		return FM_OK;
	if (src->ctx_off || dst->ctx_off)
		return FM_ERR_DATA;		/* the aggregate carries no context */
	if (Reserve(dst, dst->n + src->n) != FM_OK)
		return FM_ERR_NOMEM;
	if (src->weight && dst->weight == NULL && StartWeights(dst) != FM_OK)
		return FM_ERR_NOMEM;
	memcpy(dst->user + n0, src->user, src->n * sizeof(int64_t));
	memcpy(dst->item + n0, src->item, src->n * sizeof(int64_t));
	memcpy(dst->rating + n0, src->rating, src->n * sizeof(float));
	if (dst->weight)
	{
		for (size_t j = 0; j < src->n; j++)
			dst->weight[n0 + j] = src->weight ? src->weight[j] : 1.0f;
	}
	dst->n += src->n;
	return FM_OK;
}
