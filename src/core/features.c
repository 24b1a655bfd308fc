/*
 * features.c
 *	  Whom a query scores for: known users, attributes, sessions (fold-in).
 *
 * Every top-N or prediction request is answered for a "representation" of
 * the query side: the sum Z of the active features' factor vectors and
 * bias(Z), their linear terms plus their pairwise interactions (see FmRep
 * in fm.h).  The sources combine freely:
 *
 * - a user with ratings contributes its composite (pu, bu);
 * - a known id without ratings contributes the same composite, which then
 *	 holds only its attributes (its own factors were never trained and are
 *	 zero);
 * - an anonymous user contributes named attributes;
 * - context features (daypart=evening) add on top of either;
 * - a session's items, with optional ratings, are folded in: with the item
 *	 representations fixed, the user-side correction (dp, db) that best
 *	 explains the session's targets is the solution of a small ridge
 *	 regression, (k + 1) x (k + 1) normal equations solved by Cholesky in
 *	 well under a millisecond for k = 64.
 *
 * Nothing known at all leaves Z = 0: items are ranked by their bias
 * (popularity).  Unknown feature names and items are ignored and counted.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"

/* How a representation was built, as fm_topn's verbose NOTICE says it. */
const char *
FmPathName(FmPath path)
{
	switch (path)
	{
		case FM_PATH_USER:
			return "known user";
		case FM_PATH_USER_FEATURES:
			return "known user without ratings, scored by its attributes";
		case FM_PATH_FEATURES:
			return "anonymous user, scored by the given attributes";
		case FM_PATH_FOLD_IN:
			return "anonymous session, folded in from its items";
		case FM_PATH_FEATURES_FOLD_IN:
			return "anonymous user, scored by its attributes and folded in from its items";
		case FM_PATH_POPULARITY:
			break;
	}
	return "nothing known, ranked by item bias (popularity)";
}

void
FmRepInit(const FmModelData *m, FmRep *r, float *buf)
{
	memset(r, 0, sizeof(*r));
	memset(buf, 0, m->k * sizeof(float));
	r->v = buf;
	r->uidx = -1;
	r->path = FM_PATH_POPULARITY;
}

/* Adds a composite part: vector v, bias b (with its own interactions). */
static void
AddComposite(const FmModelData *m, FmRep *r, const float *v, double b)
{
	for (int f = 0; f < m->k; f++)
		r->v[f] += v[f];
	r->lin += b;
	r->sq += FmDot(v, v, m->k);
}

/* Adds a known user's composite; an unknown id adds nothing. */
void
FmRepAddUser(const FmModelData *m, FmRep *r, int64_t user)
{
	int64_t		u = FmModelUserIndex(m, user);

	if (u < 0)
		return;
	AddComposite(m, r, m->pu + (size_t) u * m->k, m->bu[u]);
	r->uidx = u;
	r->path = (m->user_rated == NULL || m->user_rated[u]) ?
		FM_PATH_USER : FM_PATH_USER_FEATURES;
}

/*
 * Adds named features of one namespace: side 'u' (user attributes) or
 * 'c' (context).  A NULL vals means every value is 1.
 */
void
FmRepAddFeatures(const FmModelData *m, FmRep *r, char side,
				 const char *const *names, const float *vals, size_t n)
{
	const FmFeatDictData *dict = side == 'u' ? &m->udict : &m->cdict;
	const float *w = side == 'u' ? m->wuf : m->wcf;
	const float *v = side == 'u' ? m->vuf : m->vcf;
	bool		any = false;

	for (size_t j = 0; j < n; j++)
	{
		int64_t		f = FmModelHasFeatures(m) ?
			FmFeatDictGet(dict, names[j], strlen(names[j])) : -1;
		float		x = vals ? vals[j] : 1.0f;
		const float *vf;

		if (f < 0)
		{
			r->unknown++;
			continue;
		}
		vf = v + (size_t) f * m->k;
		for (int d = 0; d < m->k; d++)
			r->v[d] += x * vf[d];
		r->lin += x * w[f];
		r->sq += (double) x * x * FmDot(vf, vf, m->k);
		r->used++;
		any = true;
	}
	if (any && side == 'u' && r->path == FM_PATH_POPULARITY)
		r->path = FM_PATH_FEATURES;
}

double
FmRepBias(const FmModelData *m, const FmRep *r)
{
	return r->lin + 0.5 * (FmDot(r->v, r->v, m->k) - r->sq);
}

/*
 * Raw score of item iidx (-1: unknown item) for a representation whose
 * w0 + bias, as a float, is base: for ranking many items at once.
 */
double
FmRepScoreFrom(const FmModelData *m, const FmRep *r, float base, int64_t iidx)
{
	float		raw = base;

	if (m->nbr.off != NULL)
		return iidx < 0 ? 0.0 :
			FmItemItemScore(m, r->uidx >= 0 ? m->seen + m->seen_off[r->uidx] : NULL,
							r->uidx >= 0 ? m->seen_off[r->uidx + 1] - m->seen_off[r->uidx] : 0,
							r->session, r->n_session, iidx);

	/* summed in the order of FmModelRaw, so known users score identically */
	if (iidx >= 0)
	{
		raw += m->bi[iidx];
		raw += FmDot(r->v, m->qi + (size_t) iidx * m->k, m->k);
	}
	return raw;
}

/* Raw score of item iidx (-1: unknown item) for a representation. */
double
FmRepScore(const FmModelData *m, const FmRep *r, int64_t iidx)
{
	return FmRepScoreFrom(m, r, (float) (m->w0 + FmRepBias(m, r)), iidx);
}

/* LAPACK, from OpenBLAS: Cholesky factorization and solve */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
					int *info);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs,
					const double *a, const int *lda, double *b, const int *ldb,
					int *info);

/*
 * Folding a session into a representation solves one regularized least
 * squares problem in the k + 1 unknowns (dZ, db): for each item i of the
 * session, the design row is (Z + q_i, 1) and the target its rating minus
 * the current score.  The work is items x (k + 1)^2, so it runs in steps
 * a caller can interleave with interrupt checks: FmFoldInBegin on a
 * workspace of FmFoldInBytes the caller owns (nothing is allocated, so a
 * caller may abandon it at any step), FmFoldInAdd for at most
 * FmFoldInChunk items at a time, FmFoldInFinish to solve.  The normal
 * equations are accumulated with BLAS (dsyrk, dgemv) and solved with
 * LAPACK's Cholesky (dpotrf, dpotrs).
 */
size_t
FmFoldInBytes(const FmModelData *m)
{
	size_t		d = (size_t) m->k + 1;

	return (d * d + d + FmFoldInChunk(m) * (d + 1)) * sizeof(double) +
		(size_t) m->k * sizeof(float);
}

/* Items per FmFoldInAdd call: about 2^22 multiply-adds (a millisecond or so). */
size_t
FmFoldInChunk(const FmModelData *m)
{
	size_t		d = (size_t) m->k + 1;
	size_t		n = ((size_t) 1 << 22) / (d * d);

	return n < 1 ? 1 : (n > 4096 ? 4096 : n);
}

void
FmFoldInBegin(const FmModelData *m, FmRep *r, double lambda, void *work,
			  FmFoldIn *f)
{
	size_t		d = (size_t) m->k + 1;

	f->m = m;
	f->r = r;
	f->lambda = lambda;
	f->used = 0;
	f->bias = FmRepBias(m, r);
	f->a = work;
	f->b = f->a + d * d;
	f->x = f->b + d;
	f->resid = f->x + FmFoldInChunk(m) * d;
	f->dv = (float *) (f->resid + FmFoldInChunk(m));
	memset(f->a, 0, (d * d + d) * sizeof(double));
	if (m->task == FM_TASK_IMPLICIT && m->gram)
	{
		/* every unobserved item, at its weight: w0 G */
		double		w0 = m->params.unobserved_weight;

		for (size_t p = 0; p < (size_t) m->k; p++)
			for (size_t s = 0; s <= p; s++)
				f->a[p * d + s] = w0 * m->gram[p * m->k + s];
		/* their target 0 - b_i (b_i: an item's own interactions) */
		for (size_t p = 0; p < (size_t) m->k; p++)
			f->b[p] = -w0 * m->gramb[p];
	}
}

/*
 * Adds items (with ratings, or NULL: each counts as liked).  The targets
 * are on the model's raw scale: for regression the rating (default: the
 * larger of the threshold and the top of the rating range minus one), for
 * binary the logit of 0.9 for a liked item (rating >= threshold, or no
 * rating) and of 0.1 otherwise.  Items the model does not know are
 * counted in r->unknown and ignored.  n may exceed FmFoldInChunk; a
 * caller that checks interrupts passes at most that many.
 */
void
FmFoldInAdd(FmFoldIn *f, const int64_t *items, const float *ratings, size_t n)
{
	const FmModelData *m = f->m;
	int			k = m->k;
	int			d = k + 1;
	size_t		chunk = FmFoldInChunk(m);

	for (size_t start = 0; start < n; start += chunk)
	{
		size_t		end = start + chunk < n ? start + chunk : n;
		int			rows = 0;

		for (size_t j = start; j < end; j++)
		{
			int64_t		i = FmModelItemIndex(m, items[j]);
			const float *q;
			double	   *x = f->x + (size_t) rows * d;
			double		target;

			if (i < 0)
			{
				f->r->unknown++;
				continue;
			}
			q = m->qi + (size_t) i * k;
			if (m->task == FM_TASK_IMPLICIT)
			{
				/*
				 * A chosen item: confidence c, preference 1, so target
				 * 1 - b_i in place of the unobserved 0 - b_i.  Its row,
				 * scaled by sqrt(c - w0), corrects w0 G to c; b gets
				 * (c (1 - b_i) + w0 b_i) q.  The last unknown (a bias)
				 * stays 0.
				 */
				double		c = FmConfidenceBase(&m->params) +
					FmConfidenceExtra(&m->params,
									  ratings ? fmax(ratings[j], 0.0) :
									  FmTypicalStrength(&m->params),
									  1.0);
				double		w0 = m->params.unobserved_weight;
				double		sc = sqrt(fmax(c - w0, 0.0));
				double		tb = c * (1.0 - m->bi[i]) + w0 * m->bi[i];

				for (int e = 0; e < k; e++)
				{
					x[e] = sc * q[e];
					f->b[e] += tb * q[e];
				}
				x[k] = 0.0;
				f->resid[rows] = 0.0;
				rows++;
				continue;
			}
			if (m->task == FM_TASK_BINARY)
				target = (ratings == NULL || ratings[j] >= m->threshold) ?
					2.1972245773 : -2.1972245773;
			else
				target = ratings ? ratings[j] :
					fmax(m->threshold, m->max_rating - 1.0);
			f->resid[rows] = target -
				(m->w0 + f->bias + m->bi[i] + FmDot(f->r->v, q, k));
			/* design row: (Z + q_i, 1); see fm.h for why Z appears */
			for (int c = 0; c < k; c++)
				x[c] = (double) f->r->v[c] + q[c];
			x[k] = 1.0;
			rows++;
		}
		if (rows == 0)
			continue;
		/* lower triangle of A += X'X, and b += X' resid */
		cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, d, rows, 1.0,
					f->x, d, 1.0, f->a, d);
		cblas_dgemv(CblasRowMajor, CblasTrans, rows, d, 1.0, f->x, d,
					f->resid, 1, 1.0, f->b, 1);
		f->used += rows;
	}
}

/*
 * Solves for the correction, which minimizes squared error plus lambda
 * times its squared norm, and adds it to the representation as one more
 * composite with bias db.  A system that is not positive definite (it
 * cannot be with lambda > 0, short of overflow) leaves the
 * representation as it was.
 */
void
FmFoldInFinish(FmFoldIn *f)
{
	const FmModelData *m = f->m;
	FmRep	   *r = f->r;
	int			d = m->k + 1;
	int			info = 0;
	int			one = 1;

	if (f->used == 0)
		return;
	if (m->task == FM_TASK_IMPLICIT)
	{
		/* the training's regularization for an entity of this many pairs */
		double		lam = FmImplicitReg(&m->params, (double) f->used, m->n_items);

		for (int p = 0; p < d; p++)
			f->a[(size_t) p * d + p] += p < m->k ? lam : 1.0;
	}
	else
		for (int p = 0; p < d; p++)
			f->a[(size_t) p * d + p] += f->lambda;
	/* the row-major lower triangle is LAPACK's column-major upper one */
	dpotrf_("U", &d, f->a, &d, &info);
	if (info == 0)
		dpotrs_("U", &d, &one, f->a, &d, f->b, &d, &info);
	if (info == 0)
	{
		bool		finite = true;

		for (int c = 0; c < d; c++)
			finite &= isfinite(f->b[c]);
		if (finite)
		{
			for (int c = 0; c < m->k; c++)
				f->dv[c] = (float) f->b[c];
			AddComposite(m, r, f->dv, f->b[m->k]);
		}
	}
	r->used += (uint32_t) f->used;
	r->path = r->path == FM_PATH_FEATURES ? FM_PATH_FEATURES_FOLD_IN :
		(r->path == FM_PATH_POPULARITY ? FM_PATH_FOLD_IN : r->path);
}

/* A whole session in one call, on a workspace of its own. */
FmStatus
FmRepFoldIn(const FmModelData *m, FmRep *r, const int64_t *items,
			const float *ratings, size_t n, double lambda)
{
	void	   *work = malloc(FmFoldInBytes(m));
	FmFoldIn	f;

	if (work == NULL)
		return FM_ERR_NOMEM;
	FmFoldInBegin(m, r, lambda, work, &f);
	FmFoldInAdd(&f, items, ratings, n);
	FmFoldInFinish(&f);
	free(work);
	return FM_OK;
}
