/*
 * evaluate.c
 *	  Held-out evaluation of a model's lists and scores, next to the
 *	  popularity baseline of the same training data.
 *
 * The protocol is the one a recommender is judged by (README, "Recommending
 * from clicks, plays and purchases"): for every test user with at least
 * one relevant test row, rank the whole catalogue minus the items the user
 * had in training (what fm_topn does by default), take the top k and score
 * it against the user's relevant test items:
 *
 *	  precision@k	hits / k
 *	  recall@k		hits / min(k, relevant)
 *	  NDCG@k		binary gains, DCG = sum over hits of 1 / log2(rank + 1),
 *					ideal DCG over min(k, relevant) hits
 *	  MAP@k			sum over hits of (hits so far / rank), / min(k, relevant)
 *	  MRR@k			1 / rank of the first hit in the top k, 0 without one
 *	  hit rate@k	1 when the top k holds a relevant item
 *	  coverage@k	distinct items in all top-k lists / items in the model
 *
 * each averaged over the users evaluated.  A test row is relevant when its
 * rating is at least the threshold (explicit data) or always (implicit
 * data, threshold -infinity), and its item is in the model's catalogue (an
 * item without training rows cannot be in any list ranked from it).  The popularity baseline ranks items by how
 * many training rows they had (stored in the model; older models: their
 * seen lists), ties by ascending id, with the same exclusions.  Pointwise
 * metrics are computed over every test row for the model alone: RMSE and
 * MAE for regression, AUC, log loss and accuracy (at probability 0.5)
 * for binary, with the rating threshold making the labels.
 *
 * The work is split into steps of a bounded number of users so that the
 * caller can check for interrupts between them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

typedef struct Acc
{
	double		users;
	double		precision;
	double		recall;
	double		ndcg;
	double		map;
	double		mrr;
	double		hit;
	uint8_t    *shown;			/* per model item: in some top-k list */
	uint64_t	covered;
} Acc;

typedef struct FmEvalData
{
	const FmModelData *m;
	FmEvalOptions o;
	size_t		n;				/* test rows */
	uint32_t   *order;			/* test rows by (user, item) */
	const int64_t *user;
	const int64_t *item;
	const float *rating;
	float	   *score;			/* the model's output per test row */
	float	   *label;			/* binary labels per test row */
	size_t		next;			/* next row of order to evaluate */
	FmScored   *list;			/* k entries */
	int64_t    *relevant;		/* one user's relevant items */
	uint32_t   *pop;			/* item indexes by popularity */
	bool		has_pop;
	Acc			acc[2];			/* model, popularity */
	double		se;
	double		ae;
	double		correct;
} FmEvalData;

static const FmEvalData *sort_ctx;

static int
CompareTestRow(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a;
	uint32_t	y = *(const uint32_t *) b;
	const FmEvalData *e = sort_ctx;

	if (e->user[x] != e->user[y])
		return e->user[x] < e->user[y] ? -1 : 1;
	if (e->item[x] != e->item[y])
		return e->item[x] < e->item[y] ? -1 : 1;
	return (x > y) - (x < y);
}

static const uint32_t *pop_counts;
static const int64_t *pop_ids;

static int
ComparePopular(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a;
	uint32_t	y = *(const uint32_t *) b;

	if (pop_counts[x] != pop_counts[y])
		return pop_counts[x] > pop_counts[y] ? -1 : 1;
	return pop_ids[x] < pop_ids[y] ? -1 : (pop_ids[x] > pop_ids[y]);
}

/*
 * Orders the model's items by training rows, from the stored counts or
 * else from the seen lists; false when the model has neither.
 */
static FmStatus
PopularityOrder(FmEvalData *e)
{
	const FmModelData *m = e->m;
	uint32_t   *counts = NULL;
	const uint32_t *c = m->item_count;

	e->has_pop = false;
	if (c == NULL)
	{
		if (m->seen_off[m->n_users] == 0)
			return FM_OK;
		if ((counts = calloc((size_t) m->n_items + 1, sizeof(uint32_t))) == NULL)
			return FM_ERR_NOMEM;
		for (uint64_t j = 0; j < m->seen_off[m->n_users]; j++)
			counts[m->seen[j]]++;
		c = counts;
	}
	if ((e->pop = malloc(((size_t) m->n_items + 1) * sizeof(uint32_t))) == NULL)
	{
		free(counts);
		return FM_ERR_NOMEM;
	}
	for (uint32_t i = 0; i < m->n_items; i++)
		e->pop[i] = i;
	pop_counts = c;
	pop_ids = m->item_ids;
	qsort(e->pop, m->n_items, sizeof(uint32_t), ComparePopular);
	pop_counts = NULL;
	pop_ids = NULL;
	free(counts);
	e->has_pop = true;
	return FM_OK;
}

FmStatus
FmEvalCreate(const FmModelData *m, const FmRatingsData *test,
			 const FmEvalOptions *o, FmEval *out, char *err, size_t errlen)
{
	FmEvalData *e;

	*out = NULL;
	if (o->k < 1 || o->k > FM_MAX_EVAL_K)
	{
		snprintf(err, errlen, "k must be between 1 and %d", FM_MAX_EVAL_K);
		return FM_ERR_PARAM;
	}
	if (isnan(o->threshold))
	{
		snprintf(err, errlen, "threshold must be a number");
		return FM_ERR_PARAM;
	}
	if ((e = calloc(1, sizeof(FmEvalData))) == NULL)
		return FM_ERR_NOMEM;
	e->m = m;
	e->o = *o;
	e->n = test->n;
	e->user = test->user;
	e->item = test->item;
	e->rating = test->rating;
	e->order = malloc((e->n + 1) * sizeof(uint32_t));
	e->score = malloc((e->n + 1) * sizeof(float));
	e->label = malloc((e->n + 1) * sizeof(float));
	e->list = malloc((size_t) o->k * sizeof(FmScored));
	e->relevant = malloc((e->n + 1) * sizeof(int64_t));
	for (int a = 0; a < 2; a++)
		e->acc[a].shown = calloc((size_t) m->n_items + 1, 1);
	if (!e->order || !e->score || !e->label || !e->list || !e->relevant ||
		!e->acc[0].shown || !e->acc[1].shown || PopularityOrder(e) != FM_OK)
	{
		FmEvalFree(e);
		return FM_ERR_NOMEM;
	}
	for (size_t j = 0; j < e->n; j++)
		e->order[j] = (uint32_t) j;
	sort_ctx = e;
	qsort(e->order, e->n, sizeof(uint32_t), CompareTestRow);
	sort_ctx = NULL;
	*out = e;
	return FM_OK;
}

/* Scores one top-k list against the user's sorted relevant items. */
static void
ScoreList(Acc *a, const FmModelData *m, const FmScored *list, int n_list,
		  const int64_t *rel, size_t n_rel, int k)
{
	double		hits = 0,
				dcg = 0,
				ap = 0,
				rr = 0,
				idcg = 0;
	size_t		ideal = n_rel < (size_t) k ? n_rel : (size_t) k;

	for (int r = 0; r < n_list; r++)
	{
		int64_t		idx = FmModelItemIndex(m, list[r].item);

		if (idx >= 0 && !a->shown[idx])
		{
			a->shown[idx] = 1;
			a->covered++;
		}
		if (bsearch(&list[r].item, rel, n_rel, sizeof(int64_t), FmCompareInt64))
		{
			hits += 1;
			dcg += 1.0 / log2(r + 2.0);
			ap += hits / (r + 1.0);
			if (rr == 0)
				rr = 1.0 / (r + 1.0);
		}
	}
	for (size_t r = 0; r < ideal; r++)
		idcg += 1.0 / log2(r + 2.0);
	a->users += 1;
	a->precision += hits / k;
	a->recall += hits / ideal;
	a->ndcg += dcg / idcg;
	a->map += ap / ideal;
	a->mrr += rr;
	a->hit += hits > 0;
}

/* The most popular items the user did not have in training. */
static int
PopularList(const FmEvalData *e, int64_t user, FmScored *out, int k)
{
	const FmModelData *m = e->m;
	int64_t		u = FmModelUserIndex(m, user);
	int			n = 0;

	for (uint32_t j = 0; j < m->n_items && n < k; j++)
	{
		uint32_t	i = e->pop[j];

		if (u >= 0 && FmModelSeen(m, u, i))
			continue;
		out[n].item = m->item_ids[i];
		out[n].score = 0;
		n++;
	}
	return n;
}

/*
 * Evaluates the next users, at most max_users of them (each with all of
 * its test rows).  Returns FM_RUNNING while rows remain, FM_DONE at the
 * end.
 */
FmStatus
FmEvalStep(FmEval e, size_t max_users)
{
	const FmModelData *m = e->m;
	int			k = e->o.k;

	for (size_t done = 0; done < max_users && e->next < e->n; done++)
	{
		size_t		start = e->next;
		size_t		end = start;
		int64_t		user = e->user[e->order[start]];
		size_t		n_rel = 0;

		while (end < e->n && e->user[e->order[end]] == user)
			end++;
		e->next = end;
		for (size_t j = start; j < end; j++)
		{
			uint32_t	row = e->order[j];
			double		y = e->rating[row];
			double		p = FmModelPredict(m, user, e->item[row]);

			e->score[row] = (float) p;
			e->label[row] = y >= e->o.threshold ? 1.0f : 0.0f;
			if (m->task == FM_TASK_REGRESSION)
			{
				e->se += (p - y) * (p - y);
				e->ae += fabs(p - y);
			}
			else if (m->task == FM_TASK_BINARY)
				e->correct += (p >= 0.5) == (e->label[row] > 0.5f);
			/* relevant: at the threshold, and in the catalogue ranked */
			if (y >= e->o.threshold && FmModelItemIndex(m, e->item[row]) >= 0 &&
				(n_rel == 0 || e->relevant[n_rel - 1] != e->item[row]))
				e->relevant[n_rel++] = e->item[row];
		}
		if (n_rel == 0)
			continue;
		{
			FmTopnQuery q = {0};
			int			n_list;

			q.user = user;
			q.n = k;
			q.exclude_seen = true;
			if (FmTopn(m, &q, e->list, &n_list) != FM_OK)
				return FM_ERR_NOMEM;
			ScoreList(&e->acc[0], m, e->list, n_list, e->relevant, n_rel, k);
			if (e->has_pop)
			{
				n_list = PopularList(e, user, e->list, k);
				ScoreList(&e->acc[1], m, e->list, n_list, e->relevant, n_rel, k);
			}
		}
	}
	return e->next < e->n ? FM_RUNNING : FM_DONE;
}

static void
Average(const Acc *a, const FmModelData *m, FmEvalMetrics *out)
{
	double		u = a->users > 0 ? a->users : NAN;

	out->users = (uint64_t) a->users;
	out->precision = a->precision / u;
	out->recall = a->recall / u;
	out->ndcg = a->ndcg / u;
	out->map = a->map / u;
	out->mrr = a->mrr / u;
	out->hit_rate = a->hit / u;
	out->coverage = m->n_items > 0 && a->users > 0 ?
		(double) a->covered / m->n_items : NAN;
}

/*
 * The results, after the last step: the model's (pointwise metrics where
 * the task has them, else NaN) and popularity's (ranking metrics only;
 * false when the model cannot give a popularity order).
 */
bool
FmEvalResults(FmEval e, FmEvalMetrics *model, FmEvalMetrics *popularity)
{
	const FmModelData *m = e->m;
	double		n = e->n > 0 ? (double) e->n : NAN;

	memset(model, 0, sizeof(*model));
	memset(popularity, 0, sizeof(*popularity));
	Average(&e->acc[0], m, model);
	Average(&e->acc[1], m, popularity);
	model->rows = popularity->rows = e->n;
	model->rmse = model->mae = model->auc = model->logloss = model->accuracy = NAN;
	popularity->rmse = popularity->mae = popularity->auc = NAN;
	popularity->logloss = popularity->accuracy = NAN;
	if (m->task == FM_TASK_REGRESSION)
	{
		model->rmse = sqrt(e->se / n);
		model->mae = e->ae / n;
	}
	else if (m->task == FM_TASK_BINARY)
	{
		model->auc = FmAuc(e->score, e->label, e->n);
		model->logloss = FmLogLoss(e->score, e->label, e->n);
		model->accuracy = e->correct / n;
	}
	return e->has_pop;
}

void
FmEvalFree(FmEval e)
{
	if (e == NULL)
		return;
	free(e->order);
	free(e->score);
	free(e->label);
	free(e->list);
	free(e->relevant);
	free(e->pop);
	free(e->acc[0].shown);
	free(e->acc[1].shown);
	free(e);
}
