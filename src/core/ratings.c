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
}

void
FmRatingsFree(FmRatings r)
{
	free(r->user);
	free(r->item);
	free(r->rating);
	free(r->weight);
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
	return FM_OK;
}

FmStatus
FmRatingsAppend(FmRatings dst, const FmRatingsData *src)
{
	size_t		n0 = dst->n;

	if (src->n == 0)
		return FM_OK;
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
