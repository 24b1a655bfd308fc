/*
 * itemknn.c
 *	  Item-item collaborative filtering: the "item_cosine" solver of the
 *	  implicit task, RecDB's ItemCosCF.
 *
 * The similarity of two items is the cosine of their columns in the
 * binary user x item matrix of the training pairs,
 *
 *		sim(i, j) = |U_i and U_j| / sqrt(|U_i| |U_j|)
 *
 * and each item keeps its `neighbors` most similar items (ties by
 * ascending index).  A user's score for item j is the sum of sim(i, j)
 * over the items i the user (or a session) chose, so a recommendation is
 * a scatter over the neighbor lists of the user's recent history, and
 * similar items are one list.  The counts |U_i and U_j| are accumulated
 * item by item over the users of i and their items (the work is the sum
 * over users of |I_u|^2, not items^2), a slice of items per step on all
 * threads, each item independent: the model is the same for any thread
 * count.  The model's factors are unused (one zero factor); the lists are
 * stored in the model bytes (FmModelData.nbr) and served by topn.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "trainer.h"

#define SLICE 256				/* items per step */

typedef struct KnnData
{
	FmTrainerData *t;
	size_t		ni;
	int			keep;			/* neighbors per item */
	FmPairs		pairs;
	uint32_t   *count;			/* per thread: ni co-occurrence counts */
	uint32_t   *touched;		/* per thread: ni items with a count */
	FmScored   *cand;			/* per thread: ni candidates */
	uint32_t   *nbr_n;			/* per item: its neighbors */
	uint32_t   *nbr_item;		/* ni x keep */
	float	   *nbr_w;			/* ni x keep */
	float	   *zero;			/* the model's unused parameters */
	size_t		next;
	size_t		lo;
	size_t		hi;
} KnnData;

/* better first: higher similarity, then lower index */
static int
CompareSim(const void *a, const void *b)
{
	const FmScored *x = a;
	const FmScored *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return (x->item > y->item) - (x->item < y->item);
}

static int
CompareItem(const void *a, const void *b)
{
	const FmScored *x = a;
	const FmScored *y = b;

	return (x->item > y->item) - (x->item < y->item);
}

/* One item's neighbors, from the co-occurrence counts of its users. */
static void
Neighbors(KnnData *s, size_t i, int w)
{
	const FmPairs *p = &s->pairs;
	uint32_t   *count = s->count + (size_t) w * s->ni;
	uint32_t   *touched = s->touched + (size_t) w * s->ni;
	FmScored   *cand = s->cand + (size_t) w * s->ni;
	size_t		nt = 0;
	size_t		nc = 0;
	double		di = (double) (p->ioff[i + 1] - p->ioff[i]);

	for (uint64_t a = p->ioff[i]; a < p->ioff[i + 1]; a++)
	{
		uint32_t	u = p->iuser[a];

		for (uint64_t b = p->uoff[u]; b < p->uoff[u + 1]; b++)
		{
			uint32_t	j = p->uitem[b];

			if (count[j]++ == 0)
				touched[nt++] = j;
		}
	}
	for (size_t t = 0; t < nt; t++)
	{
		uint32_t	j = touched[t];
		double		dj = (double) (p->ioff[j + 1] - p->ioff[j]);

		if (j != i)
		{
			cand[nc].item = j;
			cand[nc++].score = count[j] / sqrt(di * dj);
		}
		count[j] = 0;
	}
	if (nc > (size_t) s->keep)
	{
		qsort(cand, nc, sizeof(FmScored), CompareSim);
		nc = (size_t) s->keep;
	}
	/* stored by ascending index, for fm_predict's binary search */
	qsort(cand, nc, sizeof(FmScored), CompareItem);
	s->nbr_n[i] = (uint32_t) nc;
	for (size_t c = 0; c < nc; c++)
	{
		s->nbr_item[i * s->keep + c] = (uint32_t) cand[c].item;
		s->nbr_w[i * s->keep + c] = (float) cand[c].score;
	}
}

static void
SliceWorker(void *arg, int w)
{
	KnnData    *s = arg;
	int			threads = s->t->p.threads;

	for (size_t i = s->lo + w; i < s->hi; i += threads)
		Neighbors(s, i, w);
}

static void
KnnFree(FmTrainerData *t)
{
	KnnData    *s = t->solver;

	if (s == NULL)
		return;
	FmPairsFree(&s->pairs);
	free(s->count);
	free(s->touched);
	free(s->cand);
	free(s->nbr_n);
	free(s->nbr_item);
	free(s->nbr_w);
	free(s->zero);
	free(s);
	t->solver = NULL;
}

static FmStatus
KnnCreate(FmTrainerData *t, char *err, size_t errlen)
{
	KnnData    *s = calloc(1, sizeof(KnnData));
	size_t		ni = t->ds->n_items;
	size_t		threads = (size_t) t->p.threads;
	FmStatus	st;

	if (s == NULL)
		goto nomem;
	t->solver = s;
	s->t = t;
	s->ni = ni;
	s->keep = t->p.neighbors;
	if ((st = FmPairsBuild(t, &s->pairs, err, errlen)) != FM_OK)
		return st;
	s->count = calloc(threads * ni + 1, sizeof(uint32_t));
	s->touched = malloc((threads * ni + 1) * sizeof(uint32_t));
	s->cand = malloc((threads * ni + 1) * sizeof(FmScored));
	s->nbr_n = calloc(ni + 1, sizeof(uint32_t));
	s->nbr_item = malloc((ni * s->keep + 1) * sizeof(uint32_t));
	s->nbr_w = malloc((ni * s->keep + 1) * sizeof(float));
	s->zero = calloc(t->n_feat * (t->kp + 1) + 1, sizeof(float));
	if (!s->count || !s->touched || !s->cand || !s->nbr_n || !s->nbr_item ||
		!s->nbr_w || !s->zero)
		goto nomem;
	return FM_OK;
nomem:
	snprintf(err, errlen, "out of memory for the item_cosine solver of %zu items", ni);
	return FM_ERR_NOMEM;
}

/* A slice of items; the one "epoch" ends after the last. */
static FmStatus
KnnStep(FmTrainerData *t, char *err, size_t errlen)
{
	KnnData    *s = t->solver;

	(void) err;
	(void) errlen;
	s->lo = s->next;
	s->hi = s->next + SLICE < s->ni ? s->next + SLICE : s->ni;
	if (s->hi > s->lo)
		FmPoolRun(t->pool, SliceWorker, s);
	s->next = s->hi;
	if (s->next < s->ni)
		return FM_RUNNING;
	s->next = 0;
	t->stats.train_loss = 0.0;
	return FM_EPOCH_END;
}

static void
KnnView(FmTrainerData *t, FmParamView *v)
{
	KnnData    *s = t->solver;

	v->w0 = 0.0f;
	v->W = s->zero;
	v->ws = 1;
	v->V = s->zero;
	v->vs = t->kp;
}

/* Moves the neighbor lists into the model (FmTrainerFinish). */
static FmStatus
KnnAttach(FmTrainerData *t, FmModel m)
{
	KnnData    *s = t->solver;
	uint64_t	total = 0;

	for (size_t i = 0; i < s->ni; i++)
		total += s->nbr_n[i];
	m->nbr.off = malloc((s->ni + 1) * sizeof(uint64_t));
	m->nbr.feat = malloc((total + 1) * sizeof(uint32_t));
	m->nbr.val = malloc((total + 1) * sizeof(float));
	if (!m->nbr.off || !m->nbr.feat || !m->nbr.val)
		return FM_ERR_NOMEM;
	m->nbr.off[0] = 0;
	for (size_t i = 0; i < s->ni; i++)
	{
		uint64_t	o = m->nbr.off[i];

		memcpy(m->nbr.feat + o, s->nbr_item + i * s->keep, s->nbr_n[i] * sizeof(uint32_t));
		memcpy(m->nbr.val + o, s->nbr_w + i * s->keep, s->nbr_n[i] * sizeof(float));
		m->nbr.off[i + 1] = o + s->nbr_n[i];
	}
	m->n_nbr = total;
	m->mem_bytes += (s->ni + 1) * sizeof(uint64_t) + total * (sizeof(uint32_t) + sizeof(float));
	return FM_OK;
}

/* the pairs, per thread counts and candidates, the kept lists */
static double
KnnMemory(const FmDatasetData *ds, const FmParamsData *p, double n_feat,
		  double kp)
{
	double		ni = ds->n_items;

	return FmPairsMemory(ds) + p->threads * ni * (8.0 + sizeof(FmScored)) +
		ni * (4.0 + 16.0 * p->neighbors) + n_feat * (kp + 1) * sizeof(float);
}

const FmSolverOps fm_item_cosine_ops = {
	.id = FM_SOLVER_ITEM_COSINE,
	.name = "item_cosine",
	.unit = "pass",
	.caps = FM_CAP_IMPLICIT | FM_CAP_ANY_THREADS | FM_CAP_IDS_ONLY,
	.create = KnnCreate,
	.step = KnnStep,
	.view = FmNoHoldout,
	.final = KnnView,
	.attach = KnnAttach,
	.free = KnnFree,
	.memory = KnnMemory,
};
