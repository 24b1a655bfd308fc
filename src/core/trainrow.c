/*
 * trainrow.c
 *	  A training row as every solver sees it: its active features, its FM
 *	  score, and the hold-out predictions and metrics built from them.
 *
 * A row (user u, item i, context c) activates the user id, the user's
 * attributes, the item id, the item's attributes and the row's context, in
 * that order, each feature indexed in the trainer's feature table
 * [users | items | user attrs | item attrs | context].  The gather order is
 * part of the model's arithmetic: sums run over it, so it is fixed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"
#include "trainer.h"

/* The label a row trains on: the rating, or 0/1 against the threshold. */
float
FmLabelOf(const FmParamsData *p, float rating)
{
	if (p->task == FM_TASK_BINARY)
		return rating >= p->threshold ? 1.0f : 0.0f;
	return rating;
}

/* Appends entity e's features of lists l (global indexes from first). */
static inline int
GatherList(const FmListsData *l, size_t e, size_t first, float *W, float *V,
		   size_t ws, size_t vs, Active *act, int n)
{
	if (l->off == NULL)
		return n;
	for (uint64_t a = l->off[e]; a < l->off[e + 1]; a++)
	{
		size_t		f = first + l->feat[a];

		act[n].w = W + f * ws;
		act[n].v = V + f * vs;
		act[n++].x = l->val[a];
	}
	return n;
}

/*
 * Gathers the active features of row r into act; returns how many (at most
 * the dataset's max_nnz).  W and V may be a solver's live parameters or a
 * saved copy, with strides ws and vs.
 */
int
FmGather(const FmTrainerData *t, const FmRow *r, float *W, float *V,
		 size_t ws, size_t vs, Active *act)
{
	const FmDatasetData *ds = t->ds;
	size_t		item = ds->n_users + (size_t) r->i;
	int			n = 0;

	act[n].w = W + (size_t) r->u * ws;
	act[n].v = V + (size_t) r->u * vs;
	act[n++].x = 1.0f;
	n = GatherList(&ds->uattr, r->u, t->off_uf, W, V, ws, vs, act, n);
	act[n].w = W + item * ws;
	act[n].v = V + item * vs;
	act[n++].x = 1.0f;
	n = GatherList(&ds->iattr, r->i, t->off_if, W, V, ws, vs, act, n);
	return GatherList(&ds->ctx, r->c, t->off_cf, W, V, ws, vs, act, n);
}

static inline int
GatherIndexList(const FmListsData *l, size_t e, size_t first, uint32_t *feat,
				float *val, int n)
{
	if (l->off == NULL)
		return n;
	for (uint64_t a = l->off[e]; a < l->off[e + 1]; a++)
	{
		feat[n] = (uint32_t) (first + l->feat[a]);
		val[n++] = l->val[a];
	}
	return n;
}

/* The same gather as feature indexes and values, for column-wise solvers. */
int
FmGatherIndex(const FmTrainerData *t, const FmRow *r, uint32_t *feat,
			  float *val)
{
	const FmDatasetData *ds = t->ds;
	int			n = 0;

	feat[n] = r->u;
	val[n++] = 1.0f;
	n = GatherIndexList(&ds->uattr, r->u, t->off_uf, feat, val, n);
	feat[n] = (uint32_t) (ds->n_users + r->i);
	val[n++] = 1.0f;
	n = GatherIndexList(&ds->iattr, r->i, t->off_if, feat, val, n);
	return GatherIndexList(&ds->ctx, r->c, t->off_cf, feat, val, n);
}

/*
 * FM score of gathered features, by Rendle's identity
 * sum_{j<l} <v_j, v_l> x_j x_l = (|S|^2 - sum_j x_j^2 |v_j|^2) / 2;
 * S receives the sum of x v (kp floats).
 */
float
FmScoreActive(const FmTrainerData *t, float w0, const Active *act, int n,
			  float *S)
{
	const int	kp = t->kp;
	double		lin = 0.0;
	double		sq = 0.0;

	memset(S, 0, kp * sizeof(float));
	for (int j = 0; j < n; j++)
	{
		const float *v = act[j].v;
		float		x = act[j].x;

		lin += x * act[j].w[0];
		for (int f = 0; f < kp; f++)
			S[f] += x * v[f];
		sq += (double) x * x * FmDot(v, v, kp);
	}
	return (float) (w0 + lin + 0.5 * (FmDot(S, S, kp) - sq));
}

/* Score of row r under the parameters pv, with worker 0's scratch. */
static float
RowScore(const FmTrainerData *t, const FmParamView *pv, const FmRow *r)
{
	float	   *S = t->scratch;
	Active	   *act = (Active *) (S + t->kp);
	int			n;

	if (!t->general)
		return pv->w0 + pv->W[r->u * pv->ws] +
			pv->W[(t->ds->n_users + (size_t) r->i) * pv->ws] +
			FmDot(pv->V + r->u * pv->vs,
				  pv->V + (t->ds->n_users + (size_t) r->i) * pv->vs, t->kp);
	n = FmGather(t, r, (float *) pv->W, (float *) pv->V, pv->ws, pv->vs, act);
	return FmScoreActive(t, pv->w0, act, n, S);
}

/* Fills vpred with the predictions of the parameters pv on the hold-out. */
void
FmPredictValid(FmTrainerData *t, const FmParamView *pv)
{
	for (size_t j = 0; j < t->n_valid; j++)
	{
		float		raw = RowScore(t, pv, &t->valid[j]);

		if (t->p.task == FM_TASK_BINARY)
			t->vpred[j] = (float) (1.0 / (1.0 + exp(-(double) raw)));
		else
		{
			float		lo = t->ds->min_rating;
			float		hi = t->ds->max_rating;

			t->vpred[j] = raw < lo ? lo : (raw > hi ? hi : raw);
		}
	}
}

/* The hold-out metrics of the last FmPredictValid; NaN where not defined. */
void
FmValidMetrics(const FmTrainerData *t, double *rmse, double *auc,
			   double *logloss)
{
	*rmse = *auc = *logloss = NAN;
	if (t->p.task == FM_TASK_BINARY)
	{
		*auc = FmAuc(t->vpred, t->vlabel, t->n_valid);
		*logloss = FmLogLoss(t->vpred, t->vlabel, t->n_valid);
	}
	else
		*rmse = FmRmse(t->vpred, t->vlabel, t->n_valid);
}

/*
 * The most training rows of one user or of one item (rows are sorted by
 * user): the longest column a solver may gather.  Every row when the
 * count cannot be made.
 */
double
FmLongestIdList(const FmDatasetData *ds)
{
	uint32_t   *count = calloc((size_t) ds->n_items + 1, sizeof(uint32_t));
	double		longest = 0;
	size_t		run = 0;

	if (count == NULL)
		return (double) ds->n_rows;
	for (size_t r = 0; r < ds->n_rows; r++)
	{
		run = (r > 0 && ds->rows[r].u == ds->rows[r - 1].u) ? run + 1 : 1;
		if (run > longest)
			longest = run;
		if (++count[ds->rows[r].i] > longest)
			longest = count[ds->rows[r].i];
	}
	free(count);
	return longest;
}

/*
 * Builds the implicit task's pair lists from the training rows (in
 * canonical (user, item) order: the trainer does not shuffle for the
 * implicit solvers).  The trainer has refused negative strengths.
 */
FmStatus
FmPairsBuild(const FmTrainerData *t, FmPairs *p, char *err, size_t errlen)
{
	const FmRow *rows = t->train;
	size_t		n = t->n_train;
	size_t		nu = t->ds->n_users;
	size_t		ni = t->ds->n_items;
	size_t		pairs = 0;
	uint64_t   *fill;

	memset(p, 0, sizeof(FmPairs));
	for (size_t j = 0; j < n; j++)
		if (j == 0 || rows[j].u != rows[j - 1].u || rows[j].i != rows[j - 1].i)
			pairs++;
	p->uoff = calloc(nu + 1, sizeof(uint64_t));
	p->uitem = malloc((pairs + 1) * sizeof(uint32_t));
	p->conf = malloc((pairs + 1) * sizeof(float));
	p->ioff = calloc(ni + 1, sizeof(uint64_t));
	p->iuser = malloc((pairs + 1) * sizeof(uint32_t));
	p->ipos = malloc((pairs + 1) * sizeof(uint64_t));
	fill = malloc((ni + 1) * sizeof(uint64_t));
	if (!p->uoff || !p->uitem || !p->conf || !p->ioff || !p->iuser || !p->ipos || !fill)
	{
		free(fill);
		FmPairsFree(p);
		snprintf(err, errlen, "out of memory for the pairs of %zu implicit rows", n);
		return FM_ERR_NOMEM;
	}
	p->n = pairs;
	pairs = 0;
	for (size_t j = 0; j < n; j++)
	{
		double		extra = FmConfidenceExtra(&t->p, rows[j].y, rows[j].w);

		if (j > 0 && rows[j].u == rows[j - 1].u && rows[j].i == rows[j - 1].i)
			p->conf[pairs - 1] += (float) extra;
		else
		{
			p->uitem[pairs] = rows[j].i;
			p->conf[pairs] = (float) (FmConfidenceBase(&t->p) + extra);
			p->uoff[rows[j].u + 1]++;
			p->ioff[rows[j].i + 1]++;
			pairs++;
		}
	}
	for (size_t u = 0; u < nu; u++)
	{
		if (p->uoff[u + 1] > p->longest)
			p->longest = p->uoff[u + 1];
		p->uoff[u + 1] += p->uoff[u];
	}
	for (size_t i = 0; i < ni; i++)
	{
		if (p->ioff[i + 1] > p->longest)
			p->longest = p->ioff[i + 1];
		p->ioff[i + 1] += p->ioff[i];
	}
	memcpy(fill, p->ioff, (ni + 1) * sizeof(uint64_t));
	p->conf_sum = 0.0;
	for (size_t u = 0; u < nu; u++)
		for (uint64_t j = p->uoff[u]; j < p->uoff[u + 1]; j++)
		{
			uint64_t	pos = fill[p->uitem[j]]++;

			p->iuser[pos] = (uint32_t) u;
			p->ipos[pos] = j;
			p->conf_sum += p->conf[j];
		}
	free(fill);
	return FM_OK;
}

/* What FmPairsBuild allocates, at most (one pair per row). */
double
FmPairsMemory(const FmDatasetData *ds)
{
	return ((double) ds->n_users + ds->n_items + 3) * sizeof(uint64_t) +
		(double) ds->n_rows * (2 * sizeof(uint32_t) + sizeof(float) + sizeof(uint64_t));
}

void
FmPairsFree(FmPairs *p)
{
	free(p->uoff);
	free(p->uitem);
	free(p->conf);
	free(p->ioff);
	free(p->iuser);
	free(p->ipos);
	memset(p, 0, sizeof(FmPairs));
}

/* The view() of a solver with nothing to validate: the implicit task's. */
bool
FmNoHoldout(FmTrainerData *t, FmParamView *v)
{
	(void) t;
	(void) v;
	return false;
}
