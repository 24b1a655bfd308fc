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

/* Raw score of item iidx (-1: unknown item) for a representation. */
double
FmRepScore(const FmModelData *m, const FmRep *r, int64_t iidx)
{
	float		raw = (float) (m->w0 + FmRepBias(m, r));

	/* summed in the order of FmModelRaw, so known users score identically */
	if (iidx >= 0)
	{
		raw += m->bi[iidx];
		raw += FmDot(r->v, m->qi + (size_t) iidx * m->k, m->k);
	}
	return raw;
}

/* In-place Cholesky solve of A x = b, A n x n symmetric positive definite. */
static bool
CholeskySolve(double *a, double *b, int n)
{
	for (int j = 0; j < n; j++)
	{
		double		d = a[j * n + j];

		for (int p = 0; p < j; p++)
			d -= a[j * n + p] * a[j * n + p];
		if (!(d > 0))
			return false;
		d = sqrt(d);
		a[j * n + j] = d;
		for (int i = j + 1; i < n; i++)
		{
			double		s = a[i * n + j];

			for (int p = 0; p < j; p++)
				s -= a[i * n + p] * a[j * n + p];
			a[i * n + j] = s / d;
		}
	}
	for (int i = 0; i < n; i++)
	{
		double		s = b[i];

		for (int p = 0; p < i; p++)
			s -= a[i * n + p] * b[p];
		b[i] = s / a[i * n + i];
	}
	for (int i = n - 1; i >= 0; i--)
	{
		double		s = b[i];

		for (int p = i + 1; p < n; p++)
			s -= a[p * n + i] * b[p];
		b[i] = s / a[i * n + i];
	}
	return true;
}

/*
 * Folds a session into the representation.  ratings may be NULL (items
 * only: each counts as liked).  The targets are on the model's raw scale:
 * for regression the rating (default: the larger of the threshold and the
 * top of the rating range minus one), for binary the logit of 0.9 for a
 * liked item (rating >= threshold, or no rating) and of 0.1 otherwise.
 * The correction minimizes squared error plus lambda times its squared
 * norm; items the model does not know are ignored.
 */
FmStatus
FmRepFoldIn(const FmModelData *m, FmRep *r, const int64_t *items,
			const float *ratings, size_t n, double lambda)
{
	int			d = m->k + 1;
	double	   *a;
	double	   *b;
	double	   *x;
	double		bias = FmRepBias(m, r);
	size_t		used = 0;

	a = calloc((size_t) d * d, sizeof(double));
	b = calloc(d, sizeof(double));
	x = malloc(d * sizeof(double));
	if (a == NULL || b == NULL || x == NULL)
	{
		free(a);
		free(b);
		free(x);
		return FM_ERR_NOMEM;
	}
	for (size_t j = 0; j < n; j++)
	{
		int64_t		i = FmModelItemIndex(m, items[j]);
		const float *q;
		double		target;
		double		base;

		if (i < 0)
		{
			r->unknown++;
			continue;
		}
		q = m->qi + (size_t) i * m->k;
		if (m->task == FM_TASK_BINARY)
			target = (ratings == NULL || ratings[j] >= m->threshold) ?
				2.1972245773 : -2.1972245773;
		else
			target = ratings ? ratings[j] :
				fmax(m->threshold, m->max_rating - 1.0);
		base = m->w0 + bias + m->bi[i] + FmDot(r->v, q, m->k);
		/* design row: (Z + q_i, 1); see fm.h for why Z appears */
		for (int f = 0; f < m->k; f++)
			x[f] = (double) r->v[f] + q[f];
		x[m->k] = 1.0;
		for (int p = 0; p < d; p++)
		{
			b[p] += x[p] * (target - base);
			for (int s = 0; s <= p; s++)
				a[p * d + s] += x[p] * x[s];
		}
		used++;
	}
	if (used > 0)
	{
		for (int p = 0; p < d; p++)
		{
			for (int s = 0; s < p; s++)
				a[s * d + p] = a[p * d + s];
			a[p * d + p] += lambda;
		}
		if (CholeskySolve(a, b, d))
		{
			float	   *dv = malloc(m->k * sizeof(float));

			if (dv == NULL)
			{
				free(a);
				free(b);
				free(x);
				return FM_ERR_NOMEM;
			}
			for (int f = 0; f < m->k; f++)
				dv[f] = (float) b[f];
			/* the correction is one more composite, with bias db */
			AddComposite(m, r, dv, b[m->k]);
			free(dv);
		}
		r->used += (uint32_t) used;
		r->path = r->path == FM_PATH_FEATURES ? FM_PATH_FEATURES_FOLD_IN :
			(r->path == FM_PATH_POPULARITY ? FM_PATH_FOLD_IN : r->path);
	}
	free(a);
	free(b);
	free(x);
	return FM_OK;
}
