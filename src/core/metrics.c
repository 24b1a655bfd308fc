/*
 * metrics.c
 *	  Evaluation metrics: RMSE, log loss and ROC AUC.
 *
 * AUC is computed exactly by sorting scores and summing ranks, with tied
 * scores given their average rank (the Mann-Whitney U statistic), so it
 * does not depend on the input order.
 */
#include <math.h>
#include <stdlib.h>

#include "fm.h"

/* Root mean squared error of pred against y; NaN for no rows. */
double
FmRmse(const float *pred, const float *y, size_t n)
{
	double		sum = 0.0;

	if (n == 0)
		return NAN;
	for (size_t j = 0; j < n; j++)
	{
		double		d = (double) pred[j] - y[j];

		sum += d * d;
	}
	return sqrt(sum / n);
}

/*
 * Mean binary log loss of probabilities against 0/1 labels, probabilities
 * clipped to [1e-15, 1 - 1e-15]; NaN for no rows.
 */
double
FmLogLoss(const float *prob, const float *label, size_t n)
{
	double		sum = 0.0;

	if (n == 0)
		return NAN;
	for (size_t j = 0; j < n; j++)
	{
		double		p = prob[j];

		p = p < 1e-15 ? 1e-15 : (p > 1 - 1e-15 ? 1 - 1e-15 : p);
		sum -= label[j] > 0.5f ? log(p) : log(1.0 - p);
	}
	return sum / n;
}

typedef struct ScoreLabel
{
	float		score;
	float		label;
} ScoreLabel;

static int
CompareScore(const void *a, const void *b)
{
	float		x = ((const ScoreLabel *) a)->score;
	float		y = ((const ScoreLabel *) b)->score;

	return (x > y) - (x < y);
}

/*
 * ROC AUC by ranks (Mann-Whitney U), ties given their average rank; NaN
 * without both classes.
 */
double
FmAuc(const float *score, const float *label, size_t n)
{
	ScoreLabel *v;
	double		pos = 0.0;
	double		rank_sum = 0.0;
	size_t		j = 0;

	if (n == 0 || (v = malloc(n * sizeof(ScoreLabel))) == NULL)
		return NAN;
	for (size_t t = 0; t < n; t++)
	{
		v[t].score = score[t];
		v[t].label = label[t];
		if (label[t] > 0.5f)
			pos += 1.0;
	}
	qsort(v, n, sizeof(ScoreLabel), CompareScore);
	while (j < n)
	{
		size_t		e = j;
		double		avg;

		while (e + 1 < n && v[e + 1].score == v[j].score)
			e++;
		avg = (j + e) / 2.0 + 1.0;
		for (size_t t = j; t <= e; t++)
			if (v[t].label > 0.5f)
				rank_sum += avg;
		j = e + 1;
	}
	free(v);
	if (pos == 0.0 || pos == (double) n)
		return NAN;
	return (rank_sum - pos * (pos + 1) / 2.0) / (pos * (n - pos));
}
