/*
 * model.c
 *	  A trained factorization machine and single-pair scoring.
 *
 * All parameter arrays of a model are carved out of one allocation, so a
 * model is freed with one call and its memory is known exactly (the
 * serving cache bounds itself by mem_bytes).  Scoring goes through the
 * composite representations (pu, bu, qi, bi) that fold each user's and
 * item's attributes into one vector and one bias.  Unknown ids are not
 * errors: an unknown user or item simply contributes nothing, so a pair
 * with an unknown user is scored by w0 + b_i (item bias: the popularity
 * fallback) and a pair with an unknown item by w0 + b_u.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"

#define ALIGN64(x) (((x) + 63) & ~(size_t) 63)
#define Min(a, b) ((a) < (b) ? (a) : (b))
#define Max(a, b) ((a) > (b) ? (a) : (b))

/*
 * Allocates a model's ids, weights, factors and seen lists in one block;
 * NULL when memory runs out.
 */
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

/*
 * Allocates the side-feature parts of a model: parameters of n_uf user
 * attributes, n_if item attributes and n_cf context features, and room
 * for n_uattr / n_iattr attribute entries.  Names are set by the caller.
 */
FmStatus
FmModelAllocFeatures(FmModel m, uint32_t n_uf, uint32_t n_if, uint32_t n_cf,
					 uint64_t n_uattr, uint64_t n_iattr)
{
	size_t		k = m->k;

	m->ufeat.names = calloc(n_uf ? n_uf : 1, sizeof(char *));
	m->ifeat.names = calloc(n_if ? n_if : 1, sizeof(char *));
	m->cfeat.names = calloc(n_cf ? n_cf : 1, sizeof(char *));
	m->wuf = calloc((size_t) n_uf * (k + 1) + 1, sizeof(float));
	m->wif = calloc((size_t) n_if * (k + 1) + 1, sizeof(float));
	m->wcf = calloc((size_t) n_cf * (k + 1) + 1, sizeof(float));
	m->uattr.off = calloc((size_t) m->n_users + 1, sizeof(uint64_t));
	m->uattr.feat = malloc((n_uattr ? n_uattr : 1) * sizeof(uint32_t));
	m->uattr.val = malloc((n_uattr ? n_uattr : 1) * sizeof(float));
	m->iattr.off = calloc((size_t) m->n_items + 1, sizeof(uint64_t));
	m->iattr.feat = malloc((n_iattr ? n_iattr : 1) * sizeof(uint32_t));
	m->iattr.val = malloc((n_iattr ? n_iattr : 1) * sizeof(float));
	m->user_rated = calloc((size_t) m->n_users + 1, 1);
	m->item_rated = calloc((size_t) m->n_items + 1, 1);
	if (!m->ufeat.names || !m->ifeat.names || !m->cfeat.names || !m->wuf ||
		!m->wif || !m->wcf || !m->uattr.off || !m->uattr.feat ||
		!m->uattr.val || !m->iattr.off || !m->iattr.feat || !m->iattr.val ||
		!m->user_rated || !m->item_rated)
		return FM_ERR_NOMEM;
	m->vuf = m->wuf + n_uf;
	m->vif = m->wif + n_if;
	m->vcf = m->wcf + n_cf;
	m->ufeat.n = n_uf;
	m->ifeat.n = n_if;
	m->cfeat.n = n_cf;
	m->mem_bytes += ((size_t) (n_uf + n_if + n_cf) * (k + 1) +
					 2 * (n_uattr + n_iattr)) * sizeof(float) +
		((size_t) m->n_users + m->n_items) * (sizeof(uint64_t) + 1);
	return FM_OK;
}

bool
FmModelHasFeatures(const FmModelData *m)
{
	return m->wuf != NULL;
}

/*
 * Composite vectors of one side: p[e] = v[e] + sum of x * vf[f] over e's
 * attributes, b[e] = w[e] + sum of x * wf[f] + their pairwise
 * interactions (computed as in FmRep).
 */
static void
Compose(const float *v, const float *w, const float *vf, const float *wf,
		const FmListsData *attr, uint32_t n, int k, float *p, float *b)
{
	for (uint32_t e = 0; e < n; e++)
	{
		float	   *pe = p + (size_t) e * k;
		const float *ve = v + (size_t) e * k;
		double		lin = w[e];
		double		sq = FmDot(ve, ve, k);
		double		norm;

		memcpy(pe, ve, k * sizeof(float));
		for (uint64_t a = attr->off[e]; a < attr->off[e + 1]; a++)
		{
			const float *vfa = vf + (size_t) attr->feat[a] * k;
			float		x = attr->val[a];

			for (int f = 0; f < k; f++)
				pe[f] += x * vfa[f];
			lin += x * wf[attr->feat[a]];
			sq += (double) x * x * FmDot(vfa, vfa, k);
		}
		norm = FmDot(pe, pe, k);
		b[e] = (float) (lin + 0.5 * (norm - sq));
	}
}

/* Allocates and computes one side's composites (see Compose). */
static FmStatus
ComposeSide(FmModel m, const float *v, const float *w, const float *vf,
			const float *wf, const FmListsData *attr, uint32_t n, float **p,
			float **b)
{
	*p = malloc(((size_t) n * m->k + 1) * sizeof(float));
	*b = malloc(((size_t) n + 1) * sizeof(float));
	if (*p == NULL || *b == NULL)
		return FM_ERR_NOMEM;
	Compose(v, w, vf, wf, attr, n, m->k, *p, *b);
	m->mem_bytes += (size_t) n * (m->k + 1) * sizeof(float);
	return FM_OK;
}

/* Builds a name -> index dictionary of one feature namespace. */
static FmStatus
BuildDict(FmFeatDict d, const FmNamesData *names)
{
	FmFeatDictInit(d);
	for (uint32_t j = 0; j < names->n; j++)
	{
		uint32_t	idx;
		FmStatus	st = FmFeatDictIntern(d, names->names[j],
										  strlen(names->names[j]), &idx);

		if (st != FM_OK)
			return st;
		if (idx != j)
			return FM_ERR_CORRUPT;	/* a duplicate name */
	}
	return FM_OK;
}

/*
 * For fold-in of implicit sessions: the Gramian of the items' composite
 * vectors, sum q_i q_i', and sum b_i q_i (zero without item attributes),
 * over the items with training rows (items known by attributes only are
 * no one's negatives in training either).
 */
static FmStatus
ImplicitGram(FmModel m)
{
	size_t		k = (size_t) m->k;
	bool		all = true;

	if (m->task != FM_TASK_IMPLICIT || k == 0)
		return FM_OK;
	m->gram = calloc(k * k, sizeof(float));
	m->gramb = calloc(k, sizeof(float));
	if (m->gram == NULL || m->gramb == NULL)
		return FM_ERR_NOMEM;
	for (uint32_t i = 0; i < m->n_items && all; i++)
		all = m->item_count == NULL || m->item_count[i] > 0;
	if (all && m->n_items > 0)
	{
		cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, m->k, (int) m->n_items,
					1.0f, m->qi, m->k, 0.0f, m->gram, m->k);
		cblas_sgemv(CblasRowMajor, CblasTrans, (int) m->n_items, m->k, 1.0f,
					m->qi, m->k, m->bi, 1, 0.0f, m->gramb, 1);
	}
	else
		/* as in training, items never chosen are no one's negatives */
		for (uint32_t i = 0; i < m->n_items; i++)
		{
			const float *q = m->qi + (size_t) i * k;

			if (m->item_count[i] == 0)
				continue;
			cblas_ssyr(CblasRowMajor, CblasLower, m->k, 1.0f, q, 1, m->gram, m->k);
			cblas_saxpy(m->k, m->bi[i], q, 1, m->gramb, 1);
		}
	m->mem_bytes += (k * k + k) * sizeof(float);
	return FM_OK;
}

/* The norms of the items' composite vectors, for cosine similarity. */
static FmStatus
ItemNorms(FmModel m)
{
	if ((m->qnorm = malloc(((size_t) m->n_items + 1) * sizeof(float))) == NULL)
		return FM_ERR_NOMEM;
	for (uint32_t i = 0; i < m->n_items; i++)
	{
		const float *q = m->qi + (size_t) i * m->k;

		m->qnorm[i] = sqrtf(FmDot(q, q, m->k));
	}
	m->mem_bytes += (size_t) m->n_items * sizeof(float);
	return FM_OK;
}

/* What FmModelIndex derives after the composites: norms and Gramian. */
static FmStatus
Derived(FmModel m)
{
	FmStatus	st = ItemNorms(m);

	return st != FM_OK ? st : ImplicitGram(m);
}

/*
 * Builds the id -> index maps, the feature dictionaries and the composite
 * representations once the parameters are in place.
 */
FmStatus
FmModelIndex(FmModel m)
{
	uint32_t	found;
	FmStatus	st;

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

	m->pu = m->vu;
	m->bu = m->wu;
	m->qi = m->vi;
	m->bi = m->wi;
	if (!FmModelHasFeatures(m))
		return Derived(m);
	if ((st = BuildDict(&m->udict, &m->ufeat)) != FM_OK ||
		(st = BuildDict(&m->idict, &m->ifeat)) != FM_OK ||
		(st = BuildDict(&m->cdict, &m->cfeat)) != FM_OK)
		return st;
	if ((m->ufeat.n > 0 &&
		 (st = ComposeSide(m, m->vu, m->wu, m->vuf, m->wuf, &m->uattr,
						   m->n_users, &m->pu, &m->bu)) != FM_OK) ||
		(m->ifeat.n > 0 &&
		 (st = ComposeSide(m, m->vi, m->wi, m->vif, m->wif, &m->iattr,
						   m->n_items, &m->qi, &m->bi)) != FM_OK))
		return st;
	return Derived(m);
}

/* Frees a model (poisoning its parameters first; see below). */
void
FmModelFree(FmModel m)
{
	if (m == NULL)
		return;

	/*
	 * Poison the parameters first: a stale pointer to a freed model then
	 * scores NaN instead of plausible numbers, so a use after free cannot
	 * pass unnoticed (the cache's tests rely on it).
	 */
	m->w0 = NAN;
	if (m->wu)
		memset(m->wu, 0xFF, (size_t) m->n_users * sizeof(float));
	if (m->wi)
		memset(m->wi, 0xFF, (size_t) m->n_items * sizeof(float));
	if (m->vi)
		memset(m->vi, 0xFF, (size_t) m->n_items * m->k * sizeof(float));
	FmIdMapFree(&m->umap);
	FmIdMapFree(&m->imap);
	if (m->pu != m->vu)
		free(m->pu);
	if (m->bu != m->wu)
		free(m->bu);
	if (m->qi != m->vi)
		free(m->qi);
	if (m->bi != m->wi)
		free(m->bi);
	FmNamesFree(&m->ufeat);
	FmNamesFree(&m->ifeat);
	FmNamesFree(&m->cfeat);
	FmFeatDictFree(&m->udict);
	FmFeatDictFree(&m->idict);
	FmFeatDictFree(&m->cdict);
	free(m->wuf);
	free(m->wif);
	free(m->wcf);
	FmListsFree(&m->uattr);
	FmListsFree(&m->iattr);
	free(m->user_rated);
	free(m->item_rated);
	free(m->item_count);
	free(m->qnorm);
	FmListsFree(&m->nbr);
	free(m->gram);
	free(m->gramb);
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

	if (m->nbr.off != NULL)
		return uidx >= 0 && iidx >= 0 ?
			FmItemItemScore(m, m->seen + m->seen_off[uidx],
							m->seen_off[uidx + 1] - m->seen_off[uidx], NULL, 0, iidx) : 0.0;

	if (uidx >= 0)
		raw += m->bu[uidx];
	if (iidx >= 0)
		raw += m->bi[iidx];
	if (uidx >= 0 && iidx >= 0)
		raw += FmDot(m->pu + (size_t) uidx * m->k, m->qi + (size_t) iidx * m->k,
					 m->k);
	return raw;
}

/* Maps a raw score to what the user sees: a clipped rating or a probability */
double
FmModelOutput(const FmModelData *m, double raw)
{
	if (m->task == FM_TASK_BINARY)
		return 1.0 / (1.0 + exp(-raw));
	if (m->task == FM_TASK_IMPLICIT)
		return raw;				/* a preference score: higher ranks first */
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

/*
 * The model after an update (fm_update): upd was trained, warm-started
 * from old, on new rows and perhaps a replay of older ones; the result
 * knows every id of either, with upd's parameters where upd has the id
 * and old's elsewhere, the seen lists' union, and the training rows per
 * item: old's plus new_counts (the new rows per item of upd; replayed
 * rows are old's already, so upd's own counts are not used).  Ids only: a model
 * with attributes or context is not merged.  upd's hyperparameters and
 * training results are the merged model's, with rows = old's + new.
 */
FmStatus
FmModelMergeUpdate(const FmModelData *old, const FmModelData *upd,
				   const uint32_t *new_counts, uint64_t new_rows, FmModel *out)
{
	size_t		k = (size_t) old->k;
	uint32_t	nu = 0;
	uint32_t	ni = 0;
	uint64_t	n_seen = 0;
	int64_t    *uids;
	int64_t    *iids;
	uint32_t   *imap_old;
	uint32_t   *imap_upd;
	uint32_t   *buf;
	FmModel		m = NULL;
	FmStatus	st = FM_ERR_NOMEM;

	*out = NULL;
	if (FmModelHasFeatures(old) || FmModelHasFeatures(upd) || old->k != upd->k ||
		old->task != upd->task)
		return FM_ERR_PARAM;
	uids = malloc(((size_t) old->n_users + upd->n_users + 1) * sizeof(int64_t));
	iids = malloc(((size_t) old->n_items + upd->n_items + 1) * sizeof(int64_t));
	imap_old = malloc(((size_t) old->n_items + 1) * sizeof(uint32_t));
	imap_upd = malloc(((size_t) upd->n_items + 1) * sizeof(uint32_t));
	buf = malloc(((size_t) old->n_items + upd->n_items + 1) * sizeof(uint32_t));
	if (!uids || !iids || !imap_old || !imap_upd || !buf)
		goto done;
	/* the ids of either, ascending; where each side's items went */
	for (uint32_t a = 0, b = 0; a < old->n_users || b < upd->n_users;)
	{
		if (b >= upd->n_users || (a < old->n_users && old->user_ids[a] < upd->user_ids[b]))
			uids[nu++] = old->user_ids[a++];
		else if (a >= old->n_users || upd->user_ids[b] < old->user_ids[a])
			uids[nu++] = upd->user_ids[b++];
		else
		{
			uids[nu++] = old->user_ids[a++];
			b++;
		}
	}
	for (uint32_t a = 0, b = 0; a < old->n_items || b < upd->n_items;)
	{
		if (b >= upd->n_items || (a < old->n_items && old->item_ids[a] < upd->item_ids[b]))
		{
			imap_old[a] = ni;
			iids[ni++] = old->item_ids[a++];
		}
		else if (a >= old->n_items || upd->item_ids[b] < old->item_ids[a])
		{
			imap_upd[b] = ni;
			iids[ni++] = upd->item_ids[b++];
		}
		else
		{
			imap_old[a] = imap_upd[b] = ni;
			iids[ni++] = old->item_ids[a++];
			b++;
		}
	}
	/* seen lists: an upper bound first, the union below */
	n_seen = old->seen_off[old->n_users] + upd->seen_off[upd->n_users];
	if ((m = FmModelAlloc(upd->task, (int) k, nu, ni, n_seen)) == NULL)
		goto done;
	memcpy(m->user_ids, uids, nu * sizeof(int64_t));
	memcpy(m->item_ids, iids, ni * sizeof(int64_t));
	m->seen_off[0] = 0;
	for (uint32_t u = 0; u < nu; u++)
	{
		int64_t		a = FmModelUserIndex(old, uids[u]);
		int64_t		b = FmModelUserIndex(upd, uids[u]);
		size_t		n = 0;
		size_t		w = 0;

		if (b >= 0)
		{
			m->wu[u] = upd->wu[b];
			memcpy(m->vu + u * k, upd->vu + (size_t) b * k, k * sizeof(float));
			for (uint64_t s = upd->seen_off[b]; s < upd->seen_off[b + 1]; s++)
				buf[n++] = imap_upd[upd->seen[s]];
		}
		else
		{
			m->wu[u] = old->wu[a];
			memcpy(m->vu + u * k, old->vu + (size_t) a * k, k * sizeof(float));
		}
		if (a >= 0)
			for (uint64_t s = old->seen_off[a]; s < old->seen_off[a + 1]; s++)
				buf[n++] = imap_old[old->seen[s]];
		/* both parts ascend: merge them, dropping duplicates */
		{
			size_t		nb = b >= 0 ? upd->seen_off[b + 1] - upd->seen_off[b] : 0;
			size_t		x = 0;
			size_t		y = nb;
			uint32_t   *dst = m->seen + m->seen_off[u];

			while (x < nb || y < n)
			{
				uint32_t	v;

				if (y >= n || (x < nb && buf[x] <= buf[y]))
					v = buf[x++];
				else
					v = buf[y++];
				if (w == 0 || dst[w - 1] != v)
					dst[w++] = v;
			}
		}
		m->seen_off[u + 1] = m->seen_off[u] + w;
	}
	if ((m->item_count = calloc((size_t) ni + 1, sizeof(uint32_t))) == NULL)
		goto done;
	m->mem_bytes += (size_t) ni * sizeof(uint32_t);
	for (uint32_t i = 0; i < old->n_items; i++)
	{
		if (old->item_count)
			m->item_count[imap_old[i]] = old->item_count[i];
		memcpy(m->vi + (size_t) imap_old[i] * k, old->vi + (size_t) i * k,
			   k * sizeof(float));
		m->wi[imap_old[i]] = old->wi[i];
	}
	for (uint32_t i = 0; i < upd->n_items; i++)
	{
		uint64_t	c = m->item_count[imap_upd[i]];

		c += new_counts[i];
		m->item_count[imap_upd[i]] = (uint32_t) Min(c, (uint64_t) UINT32_MAX);
		memcpy(m->vi + (size_t) imap_upd[i] * k, upd->vi + (size_t) i * k,
			   k * sizeof(float));
		m->wi[imap_upd[i]] = upd->wi[i];
	}
	m->w0 = upd->w0;
	m->min_rating = Min(old->min_rating, upd->min_rating);
	m->max_rating = Max(old->max_rating, upd->max_rating);
	m->threshold = upd->threshold;
	m->params = upd->params;
	m->info = upd->info;
	m->info.rows = old->info.rows + new_rows;
	if ((st = FmModelIndex(m)) != FM_OK)
		goto done;
	*out = m;
	m = NULL;
	st = FM_OK;
done:
	FmModelFree(m);
	free(uids);
	free(iids);
	free(imap_old);
	free(imap_upd);
	free(buf);
	return st;
}

/* The weight of item j in item i's neighbor list (0 when absent). */
static inline float
NeighborWeight(const FmModelData *m, uint32_t i, uint32_t j)
{
	uint64_t	lo = m->nbr.off[i];
	uint64_t	hi = m->nbr.off[i + 1];

	while (lo < hi)
	{
		uint64_t	mid = lo + (hi - lo) / 2;

		if (m->nbr.feat[mid] == j)
			return m->nbr.val[mid];
		if (m->nbr.feat[mid] < j)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0.0f;
}

/*
 * An item-item model's score of item iidx for a history: the sum of its
 * weight in the neighbor list of each history item, the seen items (item
 * indexes) first, then the session's items (ids; unknown ones add
 * nothing), in the order FmItemItemScores adds them, so both give the
 * same float.
 */
double
FmItemItemScore(const FmModelData *m, const uint32_t *seen, size_t n_seen,
				const int64_t *session, size_t n_session, int64_t iidx)
{
	float		sum = 0.0f;

	for (size_t s = 0; s < n_seen; s++)
		sum += NeighborWeight(m, seen[s], (uint32_t) iidx);
	for (size_t s = 0; s < n_session; s++)
	{
		int64_t		i = FmModelItemIndex(m, session[s]);

		if (i >= 0)
			sum += NeighborWeight(m, (uint32_t) i, (uint32_t) iidx);
	}
	return sum;
}

/*
 * Every item's item-item score for a history (see FmItemItemScore) into
 * scores (n_items floats): a scatter over the history's neighbor lists.
 * Returns how many history items the model knows.
 */
size_t
FmItemItemScores(const FmModelData *m, const uint32_t *seen, size_t n_seen,
				 const int64_t *session, size_t n_session, float *scores)
{
	size_t		used = 0;

	memset(scores, 0, (size_t) m->n_items * sizeof(float));
	for (size_t s = 0; s < n_seen + n_session; s++)
	{
		int64_t		i = s < n_seen ? (int64_t) seen[s] :
			FmModelItemIndex(m, session[s - n_seen]);

		if (i < 0)
			continue;
		for (uint64_t a = m->nbr.off[i]; a < m->nbr.off[i + 1]; a++)
			scores[m->nbr.feat[a]] += m->nbr.val[a];
		used++;
	}
	return used;
}
