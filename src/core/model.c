/*
 * model.c
 *	  A trained factorization machine and single-pair scoring.
 *
 * All parameter arrays of a model are carved out of one allocation, so a
 * model is freed with one call and its memory is known exactly (the
 * serving cache bounds itself by mem_bytes).  Unknown ids are not errors:
 * an unknown user or item simply contributes nothing, so a pair with an
 * unknown user is scored by w0 + w_i (item bias: the popularity fallback)
 * and a pair with an unknown item by w0 + w_u.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"

#define ALIGN64(x) (((x) + 63) & ~(size_t) 63)

FmModel
FmModelAlloc(FmTask task, int k, uint32_t n_users, uint32_t n_items,
			 uint64_t n_seen)
{
	size_t		nu = n_users;
	size_t		ni = n_items;
	size_t		sizes[8];
	size_t		total = 0;
	char	   *base;
	FmModel		m;

	sizes[0] = ALIGN64(nu * sizeof(int64_t));
	sizes[1] = ALIGN64(ni * sizeof(int64_t));
	sizes[2] = ALIGN64(nu * sizeof(float));
	sizes[3] = ALIGN64(ni * sizeof(float));
	sizes[4] = ALIGN64(nu * (size_t) k * sizeof(float));
	sizes[5] = ALIGN64(ni * (size_t) k * sizeof(float));
	sizes[6] = ALIGN64((nu + 1) * sizeof(uint64_t));
	sizes[7] = ALIGN64(n_seen * sizeof(uint32_t));
	for (int j = 0; j < 8; j++)
		total += sizes[j];

	m = calloc(1, sizeof(FmModelData));
	if (m == NULL)
		return NULL;
	base = aligned_alloc(64, total ? total : 64);
	if (base == NULL)
	{
		free(m);
		return NULL;
	}
	memset(base, 0, total);
	m->task = task;
	m->k = k;
	m->n_users = n_users;
	m->n_items = n_items;
	m->user_ids = (int64_t *) base;
	base += sizes[0];
	m->item_ids = (int64_t *) base;
	base += sizes[1];
	m->wu = (float *) base;
	base += sizes[2];
	m->wi = (float *) base;
	base += sizes[3];
	m->vu = (float *) base;
	base += sizes[4];
	m->vi = (float *) base;
	base += sizes[5];
	m->seen_off = (uint64_t *) base;
	base += sizes[6];
	m->seen = (uint32_t *) base;
	m->mem_bytes = sizeof(FmModelData) + total;
	FmParamsDefault(&m->params);
	m->params.task = task;
	m->params.factors = k;
	m->info.valid_rmse = NAN;
	m->info.valid_auc = NAN;
	m->info.valid_logloss = NAN;
	return m;
}

/* Builds the id -> index maps once ids are in place. */
FmStatus
FmModelIndex(FmModel m)
{
	uint32_t	found;

	if (FmIdMapInit(&m->umap, m->n_users) != FM_OK ||
		FmIdMapInit(&m->imap, m->n_items) != FM_OK)
		return FM_ERR_NOMEM;
	for (uint32_t u = 0; u < m->n_users; u++)
		if (FmIdMapPut(&m->umap, m->user_ids[u], u, &found) != FM_OK)
			return FM_ERR_NOMEM;
	for (uint32_t i = 0; i < m->n_items; i++)
		if (FmIdMapPut(&m->imap, m->item_ids[i], i, &found) != FM_OK)
			return FM_ERR_NOMEM;
	m->mem_bytes += (m->umap.mask + 1 + m->imap.mask + 1) *
		(sizeof(int64_t) + sizeof(uint32_t));
	return FM_OK;
}

void
FmModelFree(FmModel m)
{
	if (m == NULL)
		return;
	FmIdMapFree(&m->umap);
	FmIdMapFree(&m->imap);
	free(m->user_ids);			/* the base of the one allocation */
	free(m);
}

int64_t
FmModelUserIndex(const FmModelData *m, int64_t user)
{
	return FmIdMapGet(&m->umap, user);
}

int64_t
FmModelItemIndex(const FmModelData *m, int64_t item)
{
	return FmIdMapGet(&m->imap, item);
}

/*
 * The raw score, summed in float in the same order as topn.c sums it, so
 * fm_topn and fm_predict report identical scores.
 */
double
FmModelRaw(const FmModelData *m, int64_t uidx, int64_t iidx)
{
	float		raw = m->w0;

	if (uidx >= 0)
		raw += m->wu[uidx];
	if (iidx >= 0)
		raw += m->wi[iidx];
	if (uidx >= 0 && iidx >= 0)
	{
		raw += FmDot(m->vu + (size_t) uidx * m->k, m->vi + (size_t) iidx * m->k,
					 m->k);
	}
	return raw;
}

/* Maps a raw score to what the user sees: a clipped rating or a probability */
double
FmModelOutput(const FmModelData *m, double raw)
{
	if (m->task == FM_TASK_BINARY)
		return 1.0 / (1.0 + exp(-raw));
	if (raw < m->min_rating)
		return m->min_rating;
	if (raw > m->max_rating)
		return m->max_rating;
	return raw;
}

double
FmModelPredict(const FmModelData *m, int64_t user, int64_t item)
{
	return FmModelOutput(m, FmModelRaw(m, FmModelUserIndex(m, user),
									   FmModelItemIndex(m, item)));
}
