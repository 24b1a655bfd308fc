/*
 * seeds.c
 *	  Writes the seed corpus of fuzz_decode.c: small models of every shape
 *	  the codec stores, trained here by the core (regression and binary;
 *	  SGD, ALS and MCMC; with and without seen lists; with user and item
 *	  attributes, with context, with a real-valued context feature; an
 *	  empty-ish model of one rating), each once as raw bytes (mode byte 0)
 *	  and once as the payload of a computed envelope (mode byte 1).
 *
 * usage: seeds DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

static const char *dir;
static int	written;

static void
Write(const char *name, uint8_t mode, const uint8_t *bytes, size_t len)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s-%d", dir, name, mode);
	if ((f = fopen(path, "wb")) == NULL)
	{
		fprintf(stderr, "seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fputc(mode, f);
	fwrite(bytes, 1, len, f);
	fclose(f);
	written++;
}

static void
Train(const char *name, FmTask task, FmSolver solver, bool seen,
	  bool attributes, bool context, int rows)
{
	FmRatingsData r;
	FmSideData	users,
				items;
	FmDatasetData ds;
	FmParamsData p;
	FmModel		m;
	uint8_t    *bytes;
	size_t		len;
	char		err[FM_ERRLEN];
	uint64_t	x = 12345;

	FmRatingsInit(&r);
	FmSideInit(&users);
	FmSideInit(&items);
	for (int j = 0; j < rows; j++)
	{
		int64_t		u,
					i;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		u = 1 + (int64_t) ((x >> 33) % 12);
		i = 100 + (int64_t) ((x >> 13) % 9);
		FmRatingsAdd(&r, u, i, 1 + (double) ((u + i) % 5), 1.0);
		if (context)
		{
			FmRatingsAddContext(&r, (x >> 7) & 1 ? "daypart=evening" : "daypart=morning",
								15, 1.0f);
			FmRatingsAddContext(&r, "temperature", 11, (float) ((x >> 20) % 30));
		}
	}
	if (attributes)
	{
		for (int64_t u = 1; u <= 13; u++)
			FmSideAdd(&users, u, u % 2 ? "group=odd" : "group=even", u % 2 ? 9 : 10, 1.0f);
		for (int64_t i = 100; i <= 109; i++)
		{
			FmSideAdd(&items, i, "genre=a", 7, 1.0f);
			if (i % 3 == 0)
				FmSideAdd(&items, i, "year", 4, 0.5f);
		}
	}
	if (FmDatasetBuild(&ds, &r, attributes ? &users : NULL,
					   attributes ? &items : NULL, err, sizeof(err)) != FM_OK)
	{
		fprintf(stderr, "seeds: %s: %s\n", name, err);
		exit(1);
	}
	FmParamsDefault(&p);
	p.task = task;
	p.solver = solver;
	FmParamsSolverDefaults(&p, solver, 0);
	p.factors = 3;
	p.epochs = 3;
	p.threads = 1;
	p.store_seen = seen;
	p.burn_in = 1;
	if (FmTrain(&ds, &p, &m, err, sizeof(err)) != FM_OK ||
		FmModelEncode(m, SIZE_MAX, &bytes, &len) != FM_OK)
	{
		fprintf(stderr, "seeds: %s: %s\n", name, err);
		exit(1);
	}
	Write(name, 0, bytes, len);
	Write(name, 1, bytes + 20, len - 20);
	free(bytes);
	FmModelFree(m);
	FmDatasetFree(&ds);
	FmSideFree(&users);
	FmSideFree(&items);
	FmRatingsFree(&r);
}

/* a RecordIO file of three SageMaker examples, for fuzz_interop */
static int
RecordIOSeed(const char *path)
{
	uint8_t		buf[1024];
	size_t		at = 0;
	FILE	   *f;

	for (int j = 0; j < 3; j++)
	{
		FmSparseRow row = {.label = j + 1.5, .n = 2, .dim = 40};
		size_t		len;

		row.keys[0] = (uint64_t) j;
		row.keys[1] = (uint64_t) (20 + 3 * j);
		row.vals[0] = row.vals[1] = 1;
		if (FmRecordIOWrite(&row, buf + at, sizeof(buf) - at, &len) != FM_OK)
			return 1;
		at += len;
	}
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, at, f) != at || fclose(f) != 0)
	{
		fprintf(stderr, "seeds: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--recordio") == 0)
		return RecordIOSeed(argv[2]);
	if (argc != 2)
	{
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	Train("sgd", FM_TASK_REGRESSION, FM_SOLVER_SGD, true, false, false, 60);
	Train("binary", FM_TASK_BINARY, FM_SOLVER_SGD, true, false, false, 60);
	Train("noseen", FM_TASK_REGRESSION, FM_SOLVER_SGD, false, false, false, 60);
	Train("als", FM_TASK_REGRESSION, FM_SOLVER_ALS, true, false, false, 60);
	Train("mcmc-side", FM_TASK_REGRESSION, FM_SOLVER_MCMC, true, true, true, 60);
	Train("sgd-context", FM_TASK_BINARY, FM_SOLVER_SGD, true, false, true, 40);
	Train("als-attributes", FM_TASK_REGRESSION, FM_SOLVER_ALS, false, true, false, 40);
	Train("one-row", FM_TASK_REGRESSION, FM_SOLVER_SGD, true, false, false, 1);
	Train("implicit-als", FM_TASK_IMPLICIT, FM_SOLVER_ALS, true, false, false, 60);
	Train("item-cosine", FM_TASK_IMPLICIT, FM_SOLVER_ITEM_COSINE, true, false, false, 60);
	printf("%d seeds in %s\n", written, dir);
	return 0;
}
