/*
 * ratings.c
 *	  A growable buffer of raw (user, item, rating, weight) rows.
 *
 * This is what the SQL layer fills from SPI or from the aggregate's
 * transition function; dataset.c turns it into the canonical training set.
 * Weights are stored only once a row carries a weight other than 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "rng.h"

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

/* Grows the row arrays to hold `need` rows, doubling. */
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

/*
 * What is wrong with a row's rating and weight, if anything: a rating must
 * be finite also as a float, a weight finite and not negative.
 */
FmRowProblem
FmRatingCheck(double rating, double weight)
{
	if (!FmFitsFloat(rating))
		return FM_ROW_BAD_RATING;
	if (!FmFitsFloat(weight) || weight < 0)
		return FM_ROW_BAD_WEIGHT;
	return FM_ROW_OK;
}

/*
 * Adds a row; FM_ERR_DATA when FmRatingCheck finds it bad (nothing is
 * added), FM_ERR_NOMEM when memory runs out.
 */
FmStatus
FmRatingsAdd(FmRatings r, int64_t user, int64_t item, double rating,
			 double weight)
{
	if (FmRatingCheck(rating, weight) != FM_ROW_OK)
		return FM_ERR_DATA;
	if (Reserve(r, r->n + 1) != FM_OK)
		return FM_ERR_NOMEM;
	if ((float) weight != 1.0f && r->weight == NULL && StartWeights(r) != FM_OK)
		return FM_ERR_NOMEM;
	r->user[r->n] = user;
	r->item[r->n] = item;
	r->rating[r->n] = (float) rating;
	if (r->weight)
		r->weight[r->n] = (float) weight;
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

/*
 * Appends src's rows (without context) to dst: the aggregate's combine
 * step.
 */
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
	FmCopy(dst->user + n0, src->user, src->n * sizeof(int64_t));
	FmCopy(dst->item + n0, src->item, src->n * sizeof(int64_t));
	FmCopy(dst->rating + n0, src->rating, src->n * sizeof(float));
	if (dst->weight)
	{
		for (size_t j = 0; j < src->n; j++)
			dst->weight[n0 + j] = src->weight ? src->weight[j] : 1.0f;
	}
	dst->n += src->n;
	return FM_OK;
}

/*
 * The serialized form of rows without context (the aggregate's partial
 * state): n (uint64), weighted (uint8), then n users, n items, n ratings
 * and, when weighted, n weights, all in native byte order (partial states
 * never leave the server that made them).
 */
#define RATINGS_HEADER (sizeof(uint64_t) + 1)

static size_t
RowBytes(bool weighted)
{
	return 2 * sizeof(int64_t) + sizeof(float) + (weighted ? sizeof(float) : 0);
}

/* Bytes FmRatingsSerialize writes; SIZE_MAX when they do not fit a size_t. */
size_t
FmRatingsSerializedSize(const FmRatingsData *r)
{
	size_t		row = RowBytes(r->weight != NULL);

	if (r->n > (SIZE_MAX - RATINGS_HEADER) / row)
		return SIZE_MAX;
	return RATINGS_HEADER + r->n * row;
}

/* Writes FmRatingsSerializedSize(r) bytes to out; FM_ERR_DATA with context. */
FmStatus
FmRatingsSerialize(const FmRatingsData *r, uint8_t *out)
{
	uint64_t	n = r->n;
	uint8_t		weighted = r->weight != NULL;

	if (r->ctx_off != NULL)
		return FM_ERR_DATA;
	memcpy(out, &n, sizeof(n));
	out += sizeof(n);
	*out++ = weighted;
	FmCopy(out, r->user, r->n * sizeof(int64_t));
	out += r->n * sizeof(int64_t);
	FmCopy(out, r->item, r->n * sizeof(int64_t));
	out += r->n * sizeof(int64_t);
	FmCopy(out, r->rating, r->n * sizeof(float));
	out += r->n * sizeof(float);
	if (weighted)
		FmCopy(out, r->weight, r->n * sizeof(float));
	return FM_OK;
}

/*
 * Appends the rows serialized in in[0..len) to r; *used receives the bytes
 * they took.  FM_ERR_CORRUPT when the bytes are not such rows.
 */
FmStatus
FmRatingsDeserialize(FmRatings r, const uint8_t *in, size_t len, size_t *used)
{
	uint64_t	n;
	bool		weighted;
	size_t		row;
	const uint8_t *p = in + RATINGS_HEADER;

	if (len < RATINGS_HEADER)
		return FM_ERR_CORRUPT;
	memcpy(&n, in, sizeof(n));
	if (in[sizeof(n)] > 1)
		return FM_ERR_CORRUPT;
	weighted = in[sizeof(n)] == 1;
	row = RowBytes(weighted);
	if (n > (len - RATINGS_HEADER) / row)
		return FM_ERR_CORRUPT;
	for (uint64_t j = 0; j < n; j++)
	{
		int64_t		u,
					i;
		float		y,
					w = 1.0f;
		FmStatus	st;

		memcpy(&u, p + j * sizeof(int64_t), sizeof(u));
		memcpy(&i, p + (n + j) * sizeof(int64_t), sizeof(i));
		memcpy(&y, p + 2 * n * sizeof(int64_t) + j * sizeof(float), sizeof(y));
		if (weighted)
			memcpy(&w, p + 2 * n * sizeof(int64_t) + (n + j) * sizeof(float), sizeof(w));
		if ((st = FmRatingsAdd(r, u, i, y, w)) != FM_OK)
			return st == FM_ERR_DATA ? FM_ERR_CORRUPT : st;
	}
	*used = RATINGS_HEADER + (size_t) n * row;
	return FM_OK;
}

/*
 * The bytes the rows hold, at their allocated capacity, plus the training
 * rows a dataset built from them will need: what loading must keep under
 * the training memory limit.
 */
double
FmRatingsMemory(const FmRatingsData *r)
{
	double		per_row = 2 * sizeof(int64_t) + sizeof(float) +
		(r->weight ? sizeof(float) : 0) + (r->ctx_off ? sizeof(uint64_t) : 0);

	return (double) r->cap * per_row +
		(double) r->ctx_cap * (sizeof(uint32_t) + sizeof(float)) +
		(double) r->n * sizeof(FmRow);
}

static int
CompareSize(const void *a, const void *b)
{
	size_t		x = *(const size_t *) a;
	size_t		y = *(const size_t *) b;

	return (x > y) - (x < y);
}

/*
 * Picks count rows of r (all of them when it has fewer), seeded, by
 * reservoir sampling in one pass: their indexes go to pick, ascending, so
 * the rows keep their order; returns how many.
 */
size_t
FmRatingsSample(const FmRatingsData *r, size_t count, uint64_t seed, size_t *pick)
{
	size_t		n = count < r->n ? count : r->n;
	uint64_t	x = seed ^ 0x9E3779B97F4A7C15ull;

	for (size_t j = 0; j < r->n; j++)
	{
		uint64_t	z;

		if (j < n)
		{
			pick[j] = j;
			continue;
		}
		z = FmSplitMix64(&x) % ((uint64_t) j + 1);	/* uniform in [0, j] */
		if (z < n)
			pick[z] = j;
	}
	qsort(pick, n, sizeof(size_t), CompareSize);
	return n;
}

/*
 * Rows [lo, hi) of src (no context) into keep or hold by FmPairHeldOut:
 * hold gets the pairs of fold `fold` of `folds`, or with folds = 1 those
 * below fraction.  In row ranges, so that a caller can check for
 * interrupts between them.
 */
FmStatus
FmRatingsSplit(const FmRatingsData *src, size_t lo, size_t hi, uint64_t seed,
			   int folds, int fold, double fraction, FmRatings keep,
			   FmRatings hold)
{
	for (size_t j = lo; j < hi && j < src->n; j++)
	{
		FmStatus	st = FmRatingsAdd(FmPairHeldOut(seed, src->user[j], src->item[j],
													folds, fold, fraction) ? hold : keep,
									  src->user[j], src->item[j], src->rating[j],
									  src->weight ? src->weight[j] : 1.0);

		if (st != FM_OK)
			return st;
	}
	return FM_OK;
}
