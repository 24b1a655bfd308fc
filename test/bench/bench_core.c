/*
 * bench_core.c
 *	  Benchmarks of the core alone: training speed against a plain in-memory
 *	  SGD loop, top-N latency, model size, and quality on ml-latest-small.
 *
 *	  bench_core synth [ratings]      MovieLens-1M-shaped timing tables
 *	  bench_core movielens DIR        90/10 quality on ml-latest-small
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fm.h"
#include "../../src/core/rng.h"
#include "../../src/core/kernels.h"

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
Die(const char *what, const char *err)
{
	fprintf(stderr, "bench_core: %s: %s\n", what, err);
	exit(1);
}

/* "name value" pairs from the command line override hyperparameters */
static void
ParseParams(FmParams p, int argc, char **argv)
{
	for (int a = 0; a + 1 < argc; a += 2)
	{
		if (!strcmp(argv[a], "lr"))
			p->learning_rate = atof(argv[a + 1]);
		if (!strcmp(argv[a], "rf"))
			p->reg_factors = atof(argv[a + 1]);
		if (!strcmp(argv[a], "rl"))
			p->reg_linear = atof(argv[a + 1]);
		if (!strcmp(argv[a], "ep"))
			p->epochs = atoi(argv[a + 1]);
		if (!strcmp(argv[a], "k"))
			p->factors = atoi(argv[a + 1]);
		if (!strcmp(argv[a], "init"))
			p->init_stdev = atof(argv[a + 1]);
		if (!strcmp(argv[a], "val"))
			p->validation = atof(argv[a + 1]);
		if (!strcmp(argv[a], "threads"))
			p->threads = atoi(argv[a + 1]);
		if (!strcmp(argv[a], "solver"))
		{
			FmSolver	s = FM_SOLVER_SGD;

			FmSolverFromName(argv[a + 1], &s);
			FmParamsSolverDefaults(p, s, 0);
		}
		if (!strcmp(argv[a], "burn"))
			p->burn_in = atoi(argv[a + 1]);
	}
}

/* ml-latest-small ratings.csv: userId,movieId,rating,timestamp */
static void
LoadCsv(const char *path, FmRatings r)
{
	FILE	   *f = fopen(path, "r");
	char		line[256];

	if (f == NULL)
		Die("open", path);
	FmRatingsInit(r);
	if (fgets(line, sizeof(line), f) == NULL)
		Die("read", path);
	while (fgets(line, sizeof(line), f))
	{
		long long	u,
					i;
		double		y;

		if (sscanf(line, "%lld,%lld,%lf", &u, &i, &y) == 3)
			FmRatingsAdd(r, u, i, (float) y, 1.0f);
	}
	fclose(f);
}

/* Fixed 90/10 split by a seeded coin per row. */
static void
Split(const FmRatingsData *all, FmRatings train, FmRatings test, uint64_t seed)
{
	FmRng		rng;

	FmRngSeed(&rng, seed);
	FmRatingsInit(train);
	FmRatingsInit(test);
	for (size_t j = 0; j < all->n; j++)
		FmRatingsAdd(FmRngUniform(&rng) < 0.1 ? test : train,
					 all->user[j], all->item[j], all->rating[j], 1.0f);
}

static void
Evaluate(const FmModelData *m, const FmRatingsData *test, double threshold,
		 double *rmse, double *auc)
{
	float	   *pred = malloc(test->n * sizeof(float));
	float	   *label = malloc(test->n * sizeof(float));

	for (size_t j = 0; j < test->n; j++)
	{
		pred[j] = (float) FmModelPredict(m, test->user[j], test->item[j]);
		label[j] = test->rating[j] >= threshold ? 1.0f : 0.0f;
	}
	*rmse = FmRmse(pred, test->rating, test->n);
	*auc = FmAuc(pred, label, test->n);
	free(pred);
	free(label);
}

static int
MovieLens(const char *dir, int argc, char **argv)
{
	char		path[1024];
	FmRatingsData all,
				train,
				test;
	FmDatasetData ds;
	FmParamsData p;
	FmModel		m;
	char		err[FM_ERRLEN];
	double		rmse,
				auc,
				t0;

	snprintf(path, sizeof(path), "%s/ratings.csv", dir);
	LoadCsv(path, &all);
	Split(&all, &train, &test, 2024);
	if (FmDatasetBuild(&ds, &train, NULL, NULL, err, sizeof(err)) != FM_OK)
		Die("dataset", err);

	printf("| task | settings | test RMSE | test AUC | seconds |\n|---|---|---|---|---|\n");
	for (int task = 0; task < 2; task++)
	{
		FmParamsDefault(&p);
		p.task = task;
		ParseParams(&p, argc, argv);
		t0 = Now();
		if (FmTrain(&ds, &p, &m, err, sizeof(err)) != FM_OK)
			Die("train", err);
		Evaluate(m, &test, 4.0, &rmse, &auc);
		printf("| %s | k=%d epochs=%d/%u lr=%g reg=%g/%g | %.4f | %.4f | %.2f |\n",
			   FmTaskName(p.task), p.factors, p.epochs, m->info.epochs_run,
			   p.learning_rate, p.reg_linear, p.reg_factors,
			   task == 0 ? rmse : NAN, auc, Now() - t0);
		FmModelFree(m);
	}
	return 0;
}

static void
SynthRatings(int users, int items, int64_t n, FmRatings r, FmRatings test)
{
	FmSynth		s;
	FmSynthRow	row;
	char		err[FM_ERRLEN];
	int64_t		j = 0;

	if (FmSynthCreate(users, items, n, 7, 0.5, 0, 0, &s, err, sizeof(err)) != FM_OK)
		Die("synth", err);
	FmRatingsInit(r);
	if (test)
		FmRatingsInit(test);
	while (FmSynthNext(s, &row))
	{
		if (test && j++ % 10 == 0)
			FmRatingsAdd(test, row.user, row.item, (float) row.rating, 1.0f);
		else
			FmRatingsAdd(r, row.user, row.item, (float) row.rating, 1.0f);
	}
	FmSynthFree(s);
}

static int
CompareDouble(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* p50 and p99 of FmTopn(user, 10) over many users */
static void
TopnLatency(const FmModelData *m, double *p50, double *p99)
{
	enum
	{
		CALLS = 2000
	};
	double		lat[CALLS];
	FmScored	out[10];
	FmRng		rng;

	FmRngSeed(&rng, 3);
	for (int c = 0; c < CALLS; c++)
	{
		FmTopnQuery q = {0};
		int			n;
		double		t0 = Now();

		q.user = m->user_ids[FmRngBelow(&rng, m->n_users)];
		q.n = 10;
		q.exclude_seen = true;
		FmTopn(m, &q, out, &n);
		lat[c] = (Now() - t0) * 1e3;
	}
	qsort(lat, CALLS, sizeof(double), CompareDouble);
	*p50 = lat[CALLS / 2];
	*p99 = lat[CALLS * 99 / 100];
}

/*
 * The reference: a plain SGD epoch for biased matrix factorization over
 * the same rows in memory, vectorized the same way, with no Adagrad, no
 * threads, no shuffling and no bookkeeping.  fmrec's epoch should stay
 * within 2x of it.
 */
FM_CLONES
static void
RefStep(float *restrict pu, float *restrict qi, int k, float e, float lr, float reg)
{
	for (int f = 0; f < k; f++)
	{
		float		p = pu[f];

		pu[f] += lr * (e * qi[f] - reg * p);
		qi[f] += lr * (e * p - reg * qi[f]);
	}
}

static double
RefSgdEpochMs(const FmDatasetData *ds, int k)
{
	float	   *P = aligned_alloc(64, (size_t) ds->n_users * k * sizeof(float));
	float	   *Q = aligned_alloc(64, (size_t) ds->n_items * k * sizeof(float));
	float	   *bu = calloc(ds->n_users, sizeof(float));
	float	   *bi = calloc(ds->n_items, sizeof(float));
	const float lr = 0.01f,
				reg = 0.05f,
				mu = 3.6f;
	FmRng		rng;
	double		best = 1e30;
	FmRow	   *rows = malloc(ds->n_rows * sizeof(FmRow));

	/* the same rows in a shuffled order, as fmrec visits them */
	FmRngSeed(&rng, 1);
	memcpy(rows, ds->rows, ds->n_rows * sizeof(FmRow));
	for (size_t j = ds->n_rows; j > 1; j--)
	{
		size_t		s = FmRngBelow(&rng, j);
		FmRow		tmp = rows[j - 1];

		rows[j - 1] = rows[s];
		rows[s] = tmp;
	}
	for (size_t j = 0; j < (size_t) ds->n_users * k; j++)
		P[j] = (float) (0.1 * FmRngNormal(&rng));
	for (size_t j = 0; j < (size_t) ds->n_items * k; j++)
		Q[j] = (float) (0.1 * FmRngNormal(&rng));
	for (int rep = 0; rep < 5; rep++)
	{
		double		t0 = Now();

		for (size_t j = 0; j < ds->n_rows; j++)
		{
			const FmRow *r = &rows[j];
			float	   *pu = P + (size_t) r->u * k;
			float	   *qi = Q + (size_t) r->i * k;
			float		e = r->y - (mu + bu[r->u] + bi[r->i] + FmDot(pu, qi, k));

			bu[r->u] += lr * (e - reg * bu[r->u]);
			bi[r->i] += lr * (e - reg * bi[r->i]);
			RefStep(pu, qi, k, e, lr, reg);
		}
		if (Now() - t0 < best)
			best = Now() - t0;
	}
	free(rows);
	free(P);
	free(Q);
	free(bu);
	free(bi);
	return best * 1e3;
}

/* one training of a solver for iters iterations, in seconds */
static double
TrainSeconds(const FmDatasetData *ds, FmSolver solver, int threads, int iters)
{
	FmParamsData p;
	FmModel		m;
	char		err[FM_ERRLEN];
	double		t0;

	FmParamsDefault(&p);
	FmParamsSolverDefaults(&p, solver, 0);
	p.epochs = iters;
	p.burn_in = 0;
	p.threads = threads;
	t0 = Now();
	if (FmTrain(ds, &p, &m, err, sizeof(err)) != FM_OK)
		Die("train", err);
	FmModelFree(m);
	return Now() - t0;
}

/*
 * Wall milliseconds per iteration, (T(4) - T(1)) / 3 so that setting up
 * and finishing do not count: the same measure as for libFM below.
 */
static double
IterationMs(const FmDatasetData *ds, FmSolver solver, int threads, int iters)
{
	double		one = TrainSeconds(ds, solver, threads, 1);

	return (TrainSeconds(ds, solver, threads, iters + 1) - one) * 1e3 / iters;
}

/* implicit ALS at k = 64: wall milliseconds per iteration, as above */
static double
ImplicitIterationMs(const FmDatasetData *ds, int threads, int iters, FmModel *keep)
{
	double		t[2];

	for (int j = 0; j < 2; j++)
	{
		FmParamsData p;
		FmModel		m;
		char		err[FM_ERRLEN];
		double		t0;

		FmParamsDefault(&p);
		p.task = FM_TASK_IMPLICIT;
		FmParamsSolverDefaults(&p, FM_SOLVER_SGD, 0);
		p.factors = 64;
		p.epochs = j == 0 ? 1 : iters + 1;
		p.threads = threads;
		t0 = Now();
		if (FmTrain(ds, &p, &m, err, sizeof(err)) != FM_OK)
			Die("train", err);
		t[j] = Now() - t0;
		if (j == 1 && keep)
			*keep = m;
		else
			FmModelFree(m);
	}
	return (t[1] - t[0]) * 1e3 / iters;
}

/* fm_evaluate's core over every user: ms for one test row per user */
static double
EvaluateMs(const FmModelData *m, int users)
{
	FmRatingsData test;
	FmEvalOptions o = {10, -INFINITY};
	FmEval		e;
	FmEvalMetrics a,
				b;
	char		err[FM_ERRLEN];
	double		t0;

	FmRatingsInit(&test);
	for (int u = 1; u <= users; u++)
		FmRatingsAdd(&test, u, 1 + u % 3000, 1, 1);
	t0 = Now();
	if (FmEvalCreate(m, &test, &o, &e, err, sizeof(err)) != FM_OK)
		Die("evaluate", err);
	while (FmEvalStep(e, 64) == FM_RUNNING)
		;
	FmEvalResults(e, &a, &b);
	t0 = Now() - t0;
	FmEvalFree(e);
	FmRatingsFree(&test);
	return t0 * 1e3;
}

static void WriteLibfm(const char *path, const FmRatingsData *r, bool binary,
					   const FmIdMapData *users, const FmIdMapData *items);

/* libFM's wall time per iteration on the same rows: (T(4) - T(1)) / 3 */
static void
LibfmIterations(const char *bin, const FmRatingsData *r)
{
	char		tmp[] = "/tmp/fmrec-libfm-XXXXXX";
	char		path[256];
	char		cmd[4096];
	FmIdMapData users,
				items;
	uint32_t	found;
	const char *methods[] = {"als -regular '0,10,10'", "mcmc"};
	const char *names[] = {"ALS", "MCMC"};

	FmIdMapInit(&users, 1024);
	FmIdMapInit(&items, 1024);
	for (size_t j = 0; j < r->n; j++)
	{
		FmIdMapPut(&users, r->user[j], (uint32_t) users.count, &found);
		FmIdMapPut(&items, r->item[j], (uint32_t) items.count, &found);
	}
	if (mkdtemp(tmp) == NULL)
		Die("mkdtemp", tmp);
	snprintf(path, sizeof(path), "%s/train.libfm", tmp);
	WriteLibfm(path, r, false, &users, &items);
	for (int m = 0; m < 2; m++)
	{
		double		t[2];

		for (int run = 0; run < 2; run++)
		{
			double		t0 = Now();

			snprintf(cmd, sizeof(cmd), "'%s' -task r -train %s -test %s -dim '1,1,64' "
					 "-method %s -iter %d -init_stdev 0.1 > /dev/null 2>&1",
					 bin, path, path, methods[m], run == 0 ? 1 : 4);
			if (system(cmd) != 0)
				Die("libFM failed", cmd);
			t[run] = Now() - t0;
		}
		printf("| libFM %s iteration (LIBFM) | %.1f ms |\n", names[m], (t[1] - t[0]) * 1e3 / 3);
	}
	FmIdMapFree(&users);
	FmIdMapFree(&items);
	unlink(path);
	rmdir(tmp);
}

static int
Synth(void)
{
	FmRatingsData r;
	FmDatasetData ds;
	FmParamsData p;
	FmModel		m;
	char		err[FM_ERRLEN];
	uint8_t    *bytes;
	size_t		len;
	double		p50,
				p99;

	SynthRatings(6040, 3706, 1000209, &r, NULL);
	if (FmDatasetBuild(&ds, &r, NULL, NULL, err, sizeof(err)) != FM_OK)
		Die("dataset", err);
	printf("Core, MovieLens-1M-shaped synthetic data: %zu ratings, %u users, %u items, k = 64\n\n",
		   ds.n_rows, ds.n_users, ds.n_items);
	printf("| measure | value |\n|---|---|\n");
	for (int threads = 1; threads <= 2; threads++)
	{
		double		t0;

		FmParamsDefault(&p);
		p.epochs = 10;
		p.threads = threads;
		t0 = Now();
		if (FmTrain(&ds, &p, &m, err, sizeof(err)) != FM_OK)
			Die("train", err);
		printf("| SGD epoch, threads = %d | %.1f ms |\n", threads,
			   (Now() - t0) * 1e3 / p.epochs);
		if (threads == 1)
			printf("| reference: plain vectorized SGD loop, one epoch in memory | %.1f ms |\n",
				   RefSgdEpochMs(&ds, 64));
		if (threads == 2)
			break;
		FmModelFree(m);
	}
	for (int threads = 1; threads <= 2; threads++)
	{
		printf("| ALS iteration, threads = %d | %.1f ms |\n", threads,
			   IterationMs(&ds, FM_SOLVER_ALS, threads, 3));
		printf("| MCMC iteration, threads = %d | %.1f ms |\n", threads,
			   IterationMs(&ds, FM_SOLVER_MCMC, threads, 3));
	}
	{
		FmModel		im = NULL;

		{
			FmParamsData bp;
			FmModel		bm;
			double		t0;

			FmParamsDefault(&bp);
			bp.task = FM_TASK_IMPLICIT;
			bp.epochs = 10;
			t0 = Now();
			if (FmTrain(&ds, &bp, &bm, err, sizeof(err)) != FM_OK)
				Die("bpr", err);
			printf("| BPR epoch (implicit task, solver sgd), threads = 1 | %.1f ms |\n",
				   (Now() - t0) * 1e3 / bp.epochs);
			FmModelFree(bm);
		}
		for (int threads = 1; threads <= 2; threads++)
			printf("| implicit ALS iteration, threads = %d | %.1f ms |\n", threads,
				   ImplicitIterationMs(&ds, threads, 3, threads == 2 ? &im : NULL));
		printf("| fm_evaluate core, all %u users, k = 10, implicit model | %.1f ms |\n",
			   ds.n_users, EvaluateMs(im, (int) ds.n_users));
		FmModelFree(im);
	}
	if (getenv("LIBFM"))
		LibfmIterations(getenv("LIBFM"), &r);
	TopnLatency(m, &p50, &p99);
	printf("| fm_topn(user, 10), %u items | p50 %.3f ms, p99 %.3f ms |\n",
		   m->n_items, p50, p99);
	FmModelEncode(m, SIZE_MAX, &bytes, &len);
	printf("| model bytes (with seen lists) | %zu |\n", len);
	free(bytes);
	FmModelFree(m);
	FmDatasetFree(&ds);
	FmRatingsFree(&r);

	/* the same shape with 18 item genres and 8 user groups as attributes */
	{
		FmSynth		syn;
		FmSynthRow	row;
		FmSideData	us,
					its;
		int			genres[3];
		char		name[32];
		FmModel		mf;
		FmRep		rep;
		float		buf[64];
		double		lat[1000];
		int64_t		items[30];
		float		ratings[30];
		FmScored	out[10];
		int			n;
		FmTopnQuery q = {0};
		const char *feats[] = {"group=3"};

		FmRatingsInit(&r);
		FmSideInit(&us);
		FmSideInit(&its);
		FmSynthCreate(6040, 3706, 1000209, 7, 0.5, 18, 8, &syn, err, sizeof(err));
		while (FmSynthNext(syn, &row))
			FmRatingsAdd(&r, row.user, row.item, (float) row.rating, 1.0f);
		for (int i = 0; i < 3706; i++)
		{
			int			g = FmSynthItemGenres(syn, i, genres);

			for (int j = 0; j < g; j++)
			{
				snprintf(name, sizeof(name), "genre=%d", genres[j]);
				FmSideAdd(&its, i + 1, name, strlen(name), 1.0f);
			}
		}
		for (int u = 0; u < 6040; u++)
		{
			snprintf(name, sizeof(name), "group=%d", FmSynthUserGroup(syn, u));
			FmSideAdd(&us, u + 1, name, strlen(name), 1.0f);
		}
		FmSynthFree(syn);
		if (FmDatasetBuild(&ds, &r, &us, &its, err, sizeof(err)) != FM_OK)
			Die("dataset", err);
		FmParamsDefault(&p);
		p.epochs = 5;
		{
			double		t0 = Now();

			if (FmTrain(&ds, &p, &mf, err, sizeof(err)) != FM_OK)
				Die("train", err);
			printf("| SGD epoch with attributes (18 genres, 8 groups), threads = 1 | %.1f ms |\n",
				   (Now() - t0) * 1e3 / p.epochs);
		}
		TopnLatency(mf, &p50, &p99);
		printf("| fm_topn(user, 10) with attributes, %u items | p50 %.3f ms, p99 %.3f ms |\n",
			   mf->n_items, p50, p99);
		q.n = 10;
		for (int c = 0; c < 1000; c++)
		{
			double		t0 = Now();

			FmRepInit(mf, &rep, buf);
			FmRepAddFeatures(mf, &rep, 'u', feats, NULL, 1);
			FmTopnRep(mf, &rep, &q, out, &n);
			lat[c] = (Now() - t0) * 1e3;
		}
		qsort(lat, 1000, sizeof(double), CompareDouble);
		printf("| anonymous user by attributes, top 10 | p50 %.3f ms |\n", lat[500]);
		for (int j = 0; j < 30; j++)
		{
			items[j] = 1 + (j * 37) % 3706;
			ratings[j] = (float) (1 + j % 5);
		}
		for (int c = 0; c < 1000; c++)
		{
			double		t0 = Now();

			FmRepInit(mf, &rep, buf);
			FmRepFoldIn(mf, &rep, items, ratings, 30, 1.0);
			lat[c] = (Now() - t0) * 1e3;
		}
		qsort(lat, 1000, sizeof(double), CompareDouble);
		printf("| fold-in of a 30-item session (ridge solve, k = 64) | p50 %.3f ms, p99 %.3f ms |\n",
			   lat[500], lat[990]);
		FmModelFree(mf);
		FmDatasetFree(&ds);
		FmRatingsFree(&r);
		FmSideFree(&us);
		FmSideFree(&its);
	}

	SynthRatings(6040, 100000, 1000000, &r, NULL);
	if (FmDatasetBuild(&ds, &r, NULL, NULL, err, sizeof(err)) != FM_OK)
		Die("dataset", err);
	FmParamsDefault(&p);
	p.epochs = 2;
	if (FmTrain(&ds, &p, &m, err, sizeof(err)) != FM_OK)
		Die("train", err);
	TopnLatency(m, &p50, &p99);
	printf("| fm_topn(user, 10), %u items | p50 %.3f ms, p99 %.3f ms |\n",
		   m->n_items, p50, p99);
	FmModelFree(m);
	FmDatasetFree(&ds);
	FmRatingsFree(&r);
	return 0;
}

/* test RMSE on planted data against the noise floor */
static int
SynthQuality(int users, int items, int64_t n, int argc, char **argv)
{
	FmSynth		s;
	FmSynthRow	row;
	FmRatingsData train,
				test;
	FmDatasetData ds;
	FmParamsData p;
	FmModel		m;
	char		err[FM_ERRLEN];
	double		se = 0,
				noise = 0;
	size_t		nt = 0;
	int64_t		j = 0;

	FmSynthCreate(users, items, n, 7, 0.5, 0, 0, &s, err, sizeof(err));
	FmRatingsInit(&train);
	FmRatingsInit(&test);
	while (FmSynthNext(s, &row))
	{
		if (j++ % 10 == 0)
		{
			FmRatingsAdd(&test, row.user, row.item, (float) row.rating, 1.0f);
			noise += (row.rating - row.expected) * (row.rating - row.expected);
		}
		else
			FmRatingsAdd(&train, row.user, row.item, (float) row.rating, 1.0f);
	}
	FmSynthFree(s);
	FmDatasetBuild(&ds, &train, NULL, NULL, err, sizeof(err));
	FmParamsDefault(&p);
	ParseParams(&p, argc, argv);
	if (FmTrain(&ds, &p, &m, err, sizeof(err)) != FM_OK)
		Die("train", err);
	for (size_t t = 0; t < test.n; t++)
	{
		double		d = FmModelPredict(m, test.user[t], test.item[t]) - test.rating[t];

		se += d * d;
		nt++;
	}
	printf("synthetic %d x %d, %lld ratings: test RMSE %.4f, noise floor %.4f, epochs %u\n",
		   users, items, (long long) n, sqrt(se / nt), sqrt(noise / nt), m->info.epochs_run);
	return 0;
}

/* ---------------------------------------------------------------- */
/* side by side with libFM (LIBFM=/path/to/libFM) */

typedef struct Config
{
	const char *label;
	FmSolver	solver;
	FmTask		task;
	int			epochs;			/* 0: the solver's default */
	const char *libfm;			/* libFM options for the same run */
} Config;

/*
 * libFM's text format: "target u:1 i:1" with dense feature numbers (users
 * first, then items, numbered over all rows): libFM sizes its model by
 * the largest feature number, and MCMC visits every feature.
 */
static void
WriteLibfm(const char *path, const FmRatingsData *r, bool binary,
		   const FmIdMapData *users, const FmIdMapData *items)
{
	FILE	   *f = fopen(path, "w");

	if (f == NULL)
		Die("write", path);
	for (size_t j = 0; j < r->n; j++)
		fprintf(f, "%g %lld:1 %lld:1\n",
				binary ? (r->rating[j] >= 4.0f ? 1.0 : -1.0) : r->rating[j],
				(long long) FmIdMapGet(users, r->user[j]),
				(long long) (users->count + FmIdMapGet(items, r->item[j])));
	fclose(f);
}

/* Runs libFM; returns wall seconds and fills pred from its output file. */
static double
RunLibfm(const char *bin, const char *dir, const char *opts, bool binary,
		 float *pred, size_t n)
{
	char		cmd[8192];
	char		path[1024];
	double		t0 = Now();
	FILE	   *f;

	snprintf(cmd, sizeof(cmd),
			 "'%s' -task %s -train %s/train%s.libfm -test %s/test%s.libfm -dim '1,1,64' "
			 "%s -out %s/pred.txt > %s/libfm.log 2>&1",
			 bin, binary ? "c" : "r", dir, binary ? "_b" : "", dir, binary ? "_b" : "",
			 opts, dir, dir);
	if (system(cmd) != 0)
		Die("libFM failed, see", dir);
	t0 = Now() - t0;
	snprintf(path, sizeof(path), "%s/pred.txt", dir);
	if ((f = fopen(path, "r")) == NULL)
		Die("read", path);
	for (size_t j = 0; j < n; j++)
		if (fscanf(f, "%f", &pred[j]) != 1)
			Die("parse", path);
	fclose(f);
	return t0;
}

static int
Compare(const char *dir)
{
	static const Config configs[] = {
		{"SGD, regression", FM_SOLVER_SGD, FM_TASK_REGRESSION, 0,
		"-method sgd -learn_rate 0.01 -regular '0,0,0.1' -iter 100 -init_stdev 0.1"},
		{"ALS, regression", FM_SOLVER_ALS, FM_TASK_REGRESSION, 0,
		"-method als -regular '0,10,10' -iter 15 -init_stdev 0.1"},
		{"MCMC, regression", FM_SOLVER_MCMC, FM_TASK_REGRESSION, 0,
		"-method mcmc -iter 100 -init_stdev 0.1"},
		{"MCMC, regression, 200 iterations", FM_SOLVER_MCMC, FM_TASK_REGRESSION, 200,
		"-method mcmc -iter 200 -init_stdev 0.1"},
		{"SGD, binary", FM_SOLVER_SGD, FM_TASK_BINARY, 0,
		"-method sgd -learn_rate 0.01 -regular '0,0,0.1' -iter 100 -init_stdev 0.1"},
		{"MCMC, binary", FM_SOLVER_MCMC, FM_TASK_BINARY, 0,
		"-method mcmc -iter 200 -init_stdev 0.1"},
	};
	const char *libfm = getenv("LIBFM");
	char		path[1024];
	char		tmp[] = "/tmp/fmrec-compare-XXXXXX";
	FmRatingsData all,
				train,
				test;
	FmDatasetData ds;
	float	   *pred,
			   *label;
	char		err[FM_ERRLEN];

	snprintf(path, sizeof(path), "%s/ratings.csv", dir);
	LoadCsv(path, &all);
	Split(&all, &train, &test, 2024);
	if (FmDatasetBuild(&ds, &train, NULL, NULL, err, sizeof(err)) != FM_OK)
		Die("dataset", err);
	pred = malloc(test.n * sizeof(float));
	label = malloc(test.n * sizeof(float));
	for (size_t j = 0; j < test.n; j++)
		label[j] = test.rating[j] >= 4.0f ? 1.0f : 0.0f;
	if (libfm)
	{
		FmIdMapData users,
					items;
		uint32_t	found;

		FmIdMapInit(&users, 1024);
		FmIdMapInit(&items, 1024);
		for (size_t j = 0; j < all.n; j++)
		{
			FmIdMapPut(&users, all.user[j], (uint32_t) users.count, &found);
			FmIdMapPut(&items, all.item[j], (uint32_t) items.count, &found);
		}
		if (mkdtemp(tmp) == NULL)
			Die("mkdtemp", tmp);
		snprintf(path, sizeof(path), "%s/train.libfm", tmp);
		WriteLibfm(path, &train, false, &users, &items);
		snprintf(path, sizeof(path), "%s/test.libfm", tmp);
		WriteLibfm(path, &test, false, &users, &items);
		snprintf(path, sizeof(path), "%s/train_b.libfm", tmp);
		WriteLibfm(path, &train, true, &users, &items);
		snprintf(path, sizeof(path), "%s/test_b.libfm", tmp);
		WriteLibfm(path, &test, true, &users, &items);
		FmIdMapFree(&users);
		FmIdMapFree(&items);
	}
	printf("ml-latest-small, random 90/10 split (%zu / %zu ratings), k = 64; fmrec times are the core's training alone, libFM's its whole run\n\n",
		   train.n, test.n);
	printf("| solver, task | fmrec test metric | fmrec s, 1 thread | fmrec s, 2 threads | libFM test metric | libFM s |\n");
	printf("|---|---|---|---|---|---|\n");
	for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++)
	{
		const Config *cf = &configs[c];
		bool		binary = cf->task == FM_TASK_BINARY;
		double		secs[2],
					metric = 0;

		for (int threads = 1; threads <= 2; threads++)
		{
			FmParamsData p;
			FmModel		m;
			double		t0;

			FmParamsDefault(&p);
			p.task = cf->task;
			FmParamsSolverDefaults(&p, cf->solver, cf->epochs ? FM_SET_EPOCHS : 0);
			if (cf->epochs)
			{
				p.epochs = cf->epochs;
				p.burn_in = cf->epochs / 4;
			}
			p.threads = threads;
			t0 = Now();
			if (FmTrain(&ds, &p, &m, err, sizeof(err)) != FM_OK)
				Die("train", err);
			secs[threads - 1] = Now() - t0;
			for (size_t j = 0; j < test.n; j++)
				pred[j] = (float) FmModelPredict(m, test.user[j], test.item[j]);
			metric = binary ? FmAuc(pred, label, test.n) : FmRmse(pred, test.rating, test.n);
			FmModelFree(m);
		}
		printf("| %s | %s %.4f | %.2f | %.2f |", cf->label, binary ? "AUC" : "RMSE",
			   metric, secs[0], secs[1]);
		if (libfm)
		{
			double		ls = RunLibfm(libfm, tmp, cf->libfm, binary, pred, test.n);
			double		lm = binary ? FmAuc(pred, label, test.n) : FmRmse(pred, test.rating, test.n);

			printf(" %s %.4f | %.2f |\n", binary ? "AUC" : "RMSE", lm, ls);
		}
		else
			printf(" (LIBFM not set) | |\n");
		fflush(stdout);
	}
	free(pred);
	free(label);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "compare") == 0)
		return Compare(argv[2]);
	if (argc >= 5 && strcmp(argv[1], "synthq") == 0)
		return SynthQuality(atoi(argv[2]), atoi(argv[3]), atoll(argv[4]), argc - 5, argv + 5);
	if (argc >= 2 && strcmp(argv[1], "synth") == 0)
		return Synth();
	if (argc >= 3 && strcmp(argv[1], "movielens") == 0)
		return MovieLens(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: bench_core movielens DIR [opts] | synth\n");
	return 2;
}
