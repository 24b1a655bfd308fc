/*
 * test_core.c
 *	  Unit tests of the fmrec core, run without a server.
 *
 * Prints one line per failed check and ends with "N passed, N failed".
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "../../src/core/rng.h"
#include "record.pb-c.h"
#include "trainer.h"

static int	passed = 0;
static int	failed = 0;

#define CHECK(cond, ...) \
	do { \
		if (cond) \
			passed++; \
		else \
		{ \
			failed++; \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

static char err[FM_ERRLEN];

/* Shuffles rating rows in place (Fisher-Yates, seeded). */
static void
ShuffleRatings(FmRatings r, uint64_t seed)
{
	FmRng		rng;

	FmRngSeed(&rng, seed);
	for (size_t j = r->n; j > 1; j--)
	{
		size_t		k = FmRngBelow(&rng, j);
		int64_t		u = r->user[j - 1],
					i = r->item[j - 1];
		float		y = r->rating[j - 1];

		r->user[j - 1] = r->user[k];
		r->item[j - 1] = r->item[k];
		r->rating[j - 1] = r->rating[k];
		r->user[k] = u;
		r->item[k] = i;
		r->rating[k] = y;
	}
}

/* a small planted data set, in the order given by shuffle_seed */
static void
PlantedRatings(FmRatings r, int users, int items, int64_t n, uint64_t shuffle_seed)
{
	FmSynth		s;
	FmSynthRow	row;

	FmRatingsInit(r);
	if (FmSynthCreate(users, items, n, 11, 0.5, 0, 0, &s, err, sizeof(err)) != FM_OK)
		abort();
	while (FmSynthNext(s, &row))
		FmRatingsAdd(r, row.user, row.item, (float) row.rating, 1.0f);
	FmSynthFree(s);
	if (shuffle_seed)
		ShuffleRatings(r, shuffle_seed);
}

static FmModel
TrainOn(const FmRatingsData *r, const FmParamsData *p)
{
	FmDatasetData ds;
	FmModel		m = NULL;

	if (FmDatasetBuild(&ds, r, NULL, NULL, err, sizeof(err)) != FM_OK)
		return NULL;
	if (FmTrain(&ds, p, &m, err, sizeof(err)) != FM_OK)
		m = NULL;
	FmDatasetFree(&ds);
	return m;
}

static void
TestIdMap(void)
{
	FmIdMapData map;
	uint32_t	found;
	bool		ok = true;

	FmIdMapInit(&map, 4);
	FmIdMapPut(&map, INT64_MIN, 1, &found);
	FmIdMapPut(&map, INT64_MAX, 2, &found);
	FmIdMapPut(&map, -1, 3, &found);
	FmIdMapPut(&map, 0, 4, &found);
	CHECK(FmIdMapGet(&map, INT64_MIN) == 1, "INT64_MIN");
	CHECK(FmIdMapGet(&map, INT64_MAX) == 2, "INT64_MAX");
	CHECK(FmIdMapGet(&map, -1) == 3 && FmIdMapGet(&map, 0) == 4, "-1 and 0");
	CHECK(FmIdMapGet(&map, 5) == -1, "absent key");
	FmIdMapPut(&map, -1, 99, &found);
	CHECK(found == 3, "put of a present key returns the old value");
	for (int64_t k = 0; k < 100000; k++)
		FmIdMapPut(&map, k * 1000003, (uint32_t) k + 10, &found);
	for (int64_t k = 0; k < 100000 && ok; k++)
		ok = FmIdMapGet(&map, k * 1000003) == k + 10 || k == 0;
	CHECK(ok, "100000 keys survive growth");
	FmIdMapFree(&map);
}

static void
TestDataset(void)
{
	FmRatingsData a,
				b,
				huge;
	FmDatasetData da,
				db,
				dh;

	PlantedRatings(&a, 100, 80, 2000, 0);
	PlantedRatings(&b, 100, 80, 2000, 12345);
	CHECK(FmDatasetBuild(&da, &a, NULL, NULL, err, sizeof(err)) == FM_OK, "%s", err);
	CHECK(FmDatasetBuild(&db, &b, NULL, NULL, err, sizeof(err)) == FM_OK, "%s", err);
	CHECK(da.n_rows == db.n_rows && da.n_users == db.n_users &&
		  da.n_items == db.n_items, "same shape");
	CHECK(memcmp(da.rows, db.rows, da.n_rows * sizeof(FmRow)) == 0,
		  "rows are canonical whatever the input order");
	CHECK(memcmp(da.user_ids, db.user_ids, da.n_users * sizeof(int64_t)) == 0,
		  "user ids canonical");
	for (uint32_t u = 1; u < da.n_users; u++)
		if (da.user_ids[u] <= da.user_ids[u - 1])
		{
			CHECK(false, "user ids ascend");
			break;
		}

	/* memory follows distinct ids, not their size */
	FmRatingsInit(&huge);
	FmRatingsAdd(&huge, INT64_MAX, INT64_MIN, 5, 1);
	FmRatingsAdd(&huge, -7, 9223372036854775000LL, 1, 1);
	FmRatingsAdd(&huge, INT64_MAX, 9223372036854775000LL, 3, 1);
	CHECK(FmDatasetBuild(&dh, &huge, NULL, NULL, err, sizeof(err)) == FM_OK, "%s", err);
	CHECK(dh.n_users == 2 && dh.n_items == 2, "two users and two items");
	CHECK(dh.user_ids[0] == -7 && dh.user_ids[1] == INT64_MAX, "extreme ids kept");
	CHECK(dh.min_rating == 1 && dh.max_rating == 5, "rating range");

	FmRatingsFree(&a);
	FmRatingsFree(&b);
	FmDatasetFree(&da);
	FmRatingsInit(&a);
	CHECK(FmDatasetBuild(&da, &a, NULL, NULL, err, sizeof(err)) == FM_ERR_DATA, "empty input rejected");
	FmDatasetFree(&db);
	FmDatasetFree(&dh);
	FmRatingsFree(&huge);
}

static void
TestParams(void)
{
	FmParamsData p;

	FmParamsDefault(&p);
	CHECK(FmParamsCheck(&p, err, sizeof(err)) == FM_OK, "defaults are valid");
	p.factors = 0;
	CHECK(FmParamsCheck(&p, err, sizeof(err)) == FM_ERR_PARAM, "factors 0");
	FmParamsDefault(&p);
	p.learning_rate = NAN;
	CHECK(FmParamsCheck(&p, err, sizeof(err)) == FM_ERR_PARAM, "NaN learning rate");
	FmParamsDefault(&p);
	p.reg_factors = -1;
	CHECK(FmParamsCheck(&p, err, sizeof(err)) == FM_ERR_PARAM, "negative reg");
	FmParamsDefault(&p);
	p.validation = 0.9;
	CHECK(FmParamsCheck(&p, err, sizeof(err)) == FM_ERR_PARAM, "validation 0.9");
	FmParamsDefault(&p);
	p.epochs = 1000000;
	CHECK(FmParamsCheck(&p, err, sizeof(err)) == FM_ERR_PARAM, "a million epochs");
}

static void
TestMetrics(void)
{
	float		s[4] = {0.1f, 0.4f, 0.35f, 0.8f};
	float		l[4] = {0, 0, 1, 1};
	float		same[4] = {0.5f, 0.5f, 0.5f, 0.5f};
	float		y[2] = {1, 2};
	float		p[2] = {2, 2};

	CHECK(fabs(FmAuc(s, l, 4) - 0.75) < 1e-12, "auc %g", FmAuc(s, l, 4));
	CHECK(fabs(FmAuc(same, l, 4) - 0.5) < 1e-12, "ties give 0.5");
	CHECK(isnan(FmAuc(s, same, 4)), "one class gives NaN");
	CHECK(fabs(FmRmse(p, y, 2) - sqrt(0.5)) < 1e-12, "rmse");
}

static void
TestCodec(void)
{
	FmRatingsData r;
	FmParamsData p;
	FmModel		m,
				d;
	uint8_t    *bytes,
			   *again;
	size_t		len,
				len2;
	int			crashes_avoided = 0;
	int			accepted = 0;
	FmRng		rng;
	bool		same = true;

	PlantedRatings(&r, 50, 40, 600, 0);
	FmRatingsAdd(&r, -9000000000000000000LL, 1, 4, 1);
	FmParamsDefault(&p);
	p.factors = 8;
	p.epochs = 3;
	m = TrainOn(&r, &p);
	CHECK(m != NULL, "%s", err);
	CHECK(FmModelEncode(m, SIZE_MAX, &bytes, &len) == FM_OK, "encode");
	CHECK(FmModelDecode(bytes, len, &d, err, sizeof(err)) == FM_OK, "decode: %s", err);
	CHECK(FmModelEncode(d, SIZE_MAX, &again, &len2) == FM_OK, "re-encode");
	CHECK(len == len2 && memcmp(bytes, again, len) == 0, "decode then encode is the identity");
	for (uint32_t u = 0; u < m->n_users && same; u++)
		for (uint32_t i = 0; i < m->n_items && same; i++)
			same = FmModelPredict(m, m->user_ids[u], m->item_ids[i]) ==
				FmModelPredict(d, m->user_ids[u], m->item_ids[i]);
	CHECK(same, "decoded model predicts the same");
	CHECK(d->seen_off[d->n_users] == m->seen_off[m->n_users], "seen lists kept");
	CHECK(FmModelUserIndex(d, -9000000000000000000LL) == 0, "negative id kept");
	free(again);
	FmModelFree(d);

	/* every truncation fails cleanly */
	for (size_t cut = 0; cut < len; cut += (cut < 200 ? 1 : 97))
	{
		FmStatus	st = FmModelDecode(bytes, cut, &d, err, sizeof(err));

		if (st == FM_OK)
			FmModelFree(d);
		else if (st == FM_ERR_CORRUPT)
			crashes_avoided++;
	}
	CHECK(crashes_avoided > 0, "truncated bytes are rejected");

	/* random damage: decoded or rejected, never a crash; valid ones are finite */
	FmRngSeed(&rng, 99);
	for (int t = 0; t < 2000; t++)
	{
		uint8_t    *copy = malloc(len);
		FmStatus	st;

		memcpy(copy, bytes, len);
		for (int f = 0; f < 1 + t % 4; f++)
			copy[FmRngBelow(&rng, len)] ^= (uint8_t) (1 + FmRngBelow(&rng, 255));
		st = FmModelDecode(copy, len, &d, err, sizeof(err));
		if (st == FM_OK)
		{
			accepted++;
			CHECK(isfinite(FmModelPredict(d, 1, 1)), "damaged but accepted model predicts finite values");
			FmModelFree(d);
		}
		else
			CHECK(st == FM_ERR_CORRUPT, "damage gives FM_ERR_CORRUPT, got %d", st);
		free(copy);
	}
	printf("# codec fuzz: %d of 2000 damaged copies still decoded to a valid model\n", accepted);
	CHECK(accepted == 0, "the checksum catches every damaged copy (%d accepted)", accepted);

	/* every truncation is caught by the length in the envelope */
	{
		int			caught = 0;

		for (size_t cut = 0; cut < len; cut++)
		{
			FmStatus	st = FmModelDecode(bytes, cut, &d, err, sizeof(err));

			caught += st == FM_ERR_CORRUPT;
			if (st == FM_OK)
				FmModelFree(d);
		}
		CHECK(caught == (int) len, "all %zu truncations give FM_ERR_CORRUPT (%d did)", len, caught);
	}

	/* a damaged header */
	{
		uint8_t    *copy = malloc(len);

		CHECK(FmModelFormat(bytes, len) == FM_FORMAT_VERSION, "the bytes are format %d", FM_FORMAT_VERSION);
		memcpy(copy, bytes, len);
		copy[4] ^= 0x07;		/* the format number */
		CHECK(FmModelDecode(copy, len, &d, err, sizeof(err)) == FM_ERR_CORRUPT &&
			  strstr(err, "format version") != NULL, "bad format version: %s", err);
		memcpy(copy, bytes, len);
		copy[len - 1] ^= 0x01;	/* the last payload byte */
		CHECK(FmModelDecode(copy, len, &d, err, sizeof(err)) == FM_ERR_CORRUPT &&
			  strstr(err, "checksum") != NULL, "bad checksum: %s", err);
		memcpy(copy, bytes, len);
		copy[1] ^= 0xFF;		/* the magic: then it is no model at all */
		CHECK(FmModelDecode(copy, len, &d, err, sizeof(err)) == FM_ERR_CORRUPT,
			  "bad magic: %s", err);
		free(copy);
	}
	/* the CRC-32C check value of "123456789" */
	CHECK(FmCrc32c((const uint8_t *) "123456789", 9) == 0xE3069283u, "CRC-32C check value");
	free(bytes);
	FmModelFree(m);
	FmRatingsFree(&r);
}

static void
TestDeterminism(void)
{
	FmRatingsData a,
				b;
	FmParamsData p;
	FmModel		m1,
				m2,
				m3;
	uint8_t    *b1,
			   *b2,
			   *b3;
	size_t		l1,
				l2,
				l3;

	PlantedRatings(&a, 200, 100, 5000, 0);
	PlantedRatings(&b, 200, 100, 5000, 777);
	FmParamsDefault(&p);
	p.epochs = 5;
	p.factors = 16;
	p.validation = 0.1;
	m1 = TrainOn(&a, &p);
	m2 = TrainOn(&b, &p);
	p.seed = 43;
	m3 = TrainOn(&a, &p);
	FmModelEncode(m1, SIZE_MAX, &b1, &l1);
	FmModelEncode(m2, SIZE_MAX, &b2, &l2);
	FmModelEncode(m3, SIZE_MAX, &b3, &l3);
	CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0,
		  "same rows in any order + same seed + one thread = same bytes");
	CHECK(l1 != l3 || memcmp(b1, b3, l1) != 0, "another seed gives another model");
	free(b1);
	free(b2);
	free(b3);
	FmModelFree(m1);
	FmModelFree(m2);
	FmModelFree(m3);
	FmRatingsFree(&a);
	FmRatingsFree(&b);
}

/* RMSE of a model on rows, and of the planted truth itself */
static void
PlantedSplit(int users, int items, int64_t n, FmRatings train, FmRatings test,
			 double *noise)
{
	FmSynth		s;
	FmSynthRow	row;
	double		se = 0;
	int64_t		j = 0;

	FmRatingsInit(train);
	FmRatingsInit(test);
	FmSynthCreate(users, items, n, 5, 0.5, 0, 0, &s, err, sizeof(err));
	while (FmSynthNext(s, &row))
	{
		if (j++ % 10 == 0)
		{
			FmRatingsAdd(test, row.user, row.item, (float) row.rating, 1.0f);
			se += (row.rating - row.expected) * (row.rating - row.expected);
		}
		else
			FmRatingsAdd(train, row.user, row.item, (float) row.rating, 1.0f);
	}
	FmSynthFree(s);
	*noise = sqrt(se / test->n);
}

static double
TestRmse(const FmModelData *m, const FmRatingsData *test)
{
	double		se = 0;

	for (size_t j = 0; j < test->n; j++)
	{
		double		d = FmModelPredict(m, test->user[j], test->item[j]) - test->rating[j];

		se += d * d;
	}
	return sqrt(se / test->n);
}

static void
TestQuality(void)
{
	FmRatingsData train,
				test;
	FmParamsData p;
	FmModel		m1,
				m2;
	double		noise,
				rmse1,
				rmse2,
				mean = 0,
				se = 0;

	PlantedSplit(1000, 500, 150000, &train, &test, &noise);
	for (size_t j = 0; j < train.n; j++)
		mean += train.rating[j];
	mean /= train.n;
	for (size_t j = 0; j < test.n; j++)
		se += (test.rating[j] - mean) * (test.rating[j] - mean);
	FmParamsDefault(&p);
	m1 = TrainOn(&train, &p);
	p.threads = 2;
	m2 = TrainOn(&train, &p);
	rmse1 = TestRmse(m1, &test);
	rmse2 = TestRmse(m2, &test);
	printf("# planted data: noise floor %.4f, mean-only %.4f, threads=1 %.4f, threads=2 %.4f\n",
		   noise, sqrt(se / test.n), rmse1, rmse2);
	CHECK(rmse1 <= 1.10 * noise, "test RMSE %.4f within 10%% of the noise %.4f", rmse1, noise);
	CHECK(rmse2 <= 1.10 * noise, "2 threads: test RMSE %.4f within 10%% of the noise %.4f", rmse2, noise);
	FmModelFree(m1);
	FmModelFree(m2);
	FmRatingsFree(&train);
	FmRatingsFree(&test);
}

static void
TestTrainerSteps(void)
{
	FmRatingsData r;
	FmDatasetData ds;
	FmParamsData p;
	FmTrainer	t;
	FmModel		m;
	int			running = 0,
				epochs = 0;
	FmStatus	st;

	PlantedRatings(&r, 300, 300, 40000, 0);
	FmDatasetBuild(&ds, &r, NULL, NULL, err, sizeof(err));
	FmParamsDefault(&p);
	p.epochs = 200;
	p.batch_size = 100;
	p.validation = 0.2;
	p.patience = 3;
	p.learning_rate = 0.2;
	p.reg_factors = 0;
	p.reg_linear = 0;
	CHECK(FmTrainerCreate(&ds, &p, &t, err, sizeof(err)) == FM_OK, "%s", err);
	while ((st = FmTrainerStep(t, err, sizeof(err))) == FM_RUNNING ||
		   st == FM_EPOCH_END)
	{
		if (st == FM_RUNNING)
			running++;
		else
			epochs++;
	}
	CHECK(st == FM_DONE, "trainer ends with FM_DONE, got %d: %s", st, err);
	CHECK(running >= epochs, "epochs are cut into several steps (%d steps, %d epochs)",
		  running, epochs);
	CHECK(epochs < 200, "early stopping ended an overfitting run after %d epochs", epochs);
	CHECK(FmTrainerFinish(t, &m) == FM_OK, "finish");
	CHECK(m->info.best_epoch + (uint32_t) p.patience == m->info.epochs_run,
		  "the best epoch %u is kept, %d epochs before the end %u",
		  m->info.best_epoch, p.patience, m->info.epochs_run);
	CHECK(!isnan(m->info.valid_rmse), "validation RMSE reported");
	FmModelFree(m);
	FmTrainerFree(t);
	FmDatasetFree(&ds);
	FmRatingsFree(&r);
}

static int
CompareScoredDesc(const void *a, const void *b)
{
	const FmScored *x = a,
			   *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->item < y->item ? -1 : x->item > y->item;
}

static void
TestTopn(void)
{
	FmRatingsData r;
	FmParamsData p;
	FmModel		m;
	FmScored	out[2000],
				brute[2000];
	FmTopnQuery q = {0};
	int			n,
				nb = 0;
	bool		ok = true;
	int64_t		user;
	int64_t		cand[5];

	PlantedRatings(&r, 100, 300, 5000, 0);
	FmParamsDefault(&p);
	p.factors = 8;
	p.epochs = 10;
	p.task = FM_TASK_BINARY;	/* no clipping: scores order like raw */
	m = TrainOn(&r, &p);
	user = m->user_ids[3];

	/* brute force: every unseen item, sorted by score then id */
	for (uint32_t i = 0; i < m->n_items; i++)
	{
		bool		seen = false;

		for (uint64_t s = m->seen_off[3]; s < m->seen_off[4]; s++)
			seen |= m->seen[s] == i;
		if (seen)
			continue;
		brute[nb].item = m->item_ids[i];
		brute[nb].score = FmModelPredict(m, user, m->item_ids[i]);
		nb++;
	}
	qsort(brute, nb, sizeof(FmScored), CompareScoredDesc);
	q.user = user;
	q.n = 10;
	q.exclude_seen = true;
	CHECK(FmTopn(m, &q, out, &n) == FM_OK && n == 10, "top 10");
	for (int j = 0; j < n; j++)
		ok &= out[j].item == brute[j].item && fabs(out[j].score - brute[j].score) < 1e-5;
	CHECK(ok, "top 10 matches brute force");

	q.n = 100000;
	FmTopn(m, &q, out, &n);
	CHECK(n == nb, "n beyond the unseen items returns all %d of them (got %d)", nb, n);
	q.exclude_seen = false;
	FmTopn(m, &q, out, &n);
	CHECK(n == (int) m->n_items, "exclude_seen = false keeps every item");

	/* candidates: deduplicated, unknown ones scored by the user side */
	cand[0] = m->item_ids[0];
	cand[1] = m->item_ids[1];
	cand[2] = m->item_ids[0];
	cand[3] = 99999999;
	cand[4] = m->item_ids[2];
	q.candidates = cand;
	q.n_candidates = 5;
	q.n = 10;
	q.exclude_seen = false;
	FmTopn(m, &q, out, &n);
	CHECK(n == 4, "duplicate candidates collapse (%d)", n);
	ok = false;
	for (int j = 0; j < n; j++)
		ok |= out[j].item == 99999999 &&
			fabs(out[j].score - FmModelPredict(m, user, 99999999)) < 1e-6;
	CHECK(ok, "an unknown candidate is scored like fm_predict");

	/* cold start: an unknown user ranks by item bias */
	q.user = -424242;
	q.candidates = NULL;
	q.n = 5;
	FmTopn(m, &q, out, &n);
	ok = n == 5;
	for (int j = 0; j + 1 < n; j++)
		ok &= out[j].score >= out[j + 1].score;
	CHECK(ok, "unknown user gets a popularity ranking");
	CHECK(fabs(FmModelPredict(m, -424242, m->item_ids[0]) -
			   1.0 / (1.0 + exp(-(m->w0 + m->wi[0])))) < 1e-6,
		  "unknown user is scored by w0 + w_i");
	FmModelFree(m);
	FmRatingsFree(&r);

	/* ties are broken by ascending item id */
	{
		FmRatingsData t;
		FmModel		tm;

		FmRatingsInit(&t);
		for (int i = 10; i > 0; i--)
			FmRatingsAdd(&t, 1, i * 7, 3, 1);
		FmParamsDefault(&p);
		p.init_stdev = 0;
		p.epochs = 1;
		tm = TrainOn(&t, &p);
		q.user = 2;				/* unknown: score w0 + w_i, all equal */
		q.n = 3;
		q.candidates = NULL;
		FmTopn(tm, &q, out, &n);
		CHECK(n == 3 && out[0].item == 7 && out[1].item == 14 && out[2].item == 21,
			  "ties by item id: %lld %lld %lld", (long long) out[0].item,
			  (long long) out[1].item, (long long) out[2].item);
		FmModelFree(tm);
		FmRatingsFree(&t);
	}
}

static void
TestBinary(void)
{
	FmRatingsData r;
	FmParamsData p;
	FmModel		m;
	bool		ok = true;

	PlantedRatings(&r, 100, 100, 3000, 0);
	FmParamsDefault(&p);
	p.task = FM_TASK_BINARY;
	p.epochs = 5;
	m = TrainOn(&r, &p);
	for (uint32_t i = 0; i < m->n_items; i++)
	{
		double		v = FmModelPredict(m, m->user_ids[0], m->item_ids[i]);

		ok &= v > 0 && v < 1;
	}
	CHECK(ok, "binary predictions are probabilities");
	FmModelFree(m);

	FmParamsDefault(&p);
	m = TrainOn(&r, &p);
	ok = true;
	for (uint32_t i = 0; i < m->n_items; i++)
	{
		double		v = FmModelPredict(m, m->user_ids[0], m->item_ids[i]);

		ok &= v >= m->min_rating && v <= m->max_rating;
	}
	CHECK(ok, "regression predictions are clipped to the rating range");
	FmModelFree(m);
	FmRatingsFree(&r);
}

/* planted ratings with genres and groups, plus their attributes */
static void
PlantedWithFeatures(FmRatings r, FmSide users, FmSide items, uint64_t order_seed)
{
	FmSynth		s;
	FmSynthRow	row;
	int			genres[3];
	char		name[32];

	FmRatingsInit(r);
	FmSideInit(users);
	FmSideInit(items);
	FmSynthCreate(300, 200, 12000, 21, 0.3, 8, 4, &s, err, sizeof(err));
	while (FmSynthNext(s, &row))
		FmRatingsAdd(r, row.user, row.item, (float) row.rating, 1.0f);
	/* attributes in an order that depends on order_seed */
	for (int k = 0; k < 200; k++)
	{
		int			i = order_seed ? (int) ((k * 7 + order_seed) % 200) : k;
		int			n = FmSynthItemGenres(s, i, genres);

		for (int g = n - 1; g >= 0; g--)
		{
			snprintf(name, sizeof(name), "genre=%d", genres[order_seed ? g : n - 1 - g]);
			FmSideAdd(items, i + 1, name, strlen(name), 1.0f);
		}
	}
	for (int k = 0; k < 300; k++)
	{
		int			u = order_seed ? 299 - k : k;

		snprintf(name, sizeof(name), "group=%d", FmSynthUserGroup(s, u));
		FmSideAdd(users, u + 1, name, strlen(name), 1.0f);
	}
	/* one user and one item known only from attributes */
	FmSideAdd(users, 5000, "group=1", 7, 1.0f);
	FmSideAdd(items, 6000, "genre=2", 7, 1.0f);
	FmSynthFree(s);
	if (order_seed)
		ShuffleRatings(r, order_seed);
}

/* the FM formula computed directly from a model's parameters */
static double
DirectFm(const FmModelData *m, int64_t u, int64_t i)
{
	const float *v[64];
	double		x[64];
	double		w[64];
	int			n = 0;
	double		y = m->w0;

	v[n] = m->vu + u * m->k;
	w[n] = m->wu[u];
	x[n++] = 1;
	for (uint64_t a = m->uattr.off[u]; a < m->uattr.off[u + 1]; a++)
	{
		v[n] = m->vuf + (size_t) m->uattr.feat[a] * m->k;
		w[n] = m->wuf[m->uattr.feat[a]];
		x[n++] = m->uattr.val[a];
	}
	v[n] = m->vi + i * m->k;
	w[n] = m->wi[i];
	x[n++] = 1;
	for (uint64_t a = m->iattr.off[i]; a < m->iattr.off[i + 1]; a++)
	{
		v[n] = m->vif + (size_t) m->iattr.feat[a] * m->k;
		w[n] = m->wif[m->iattr.feat[a]];
		x[n++] = m->iattr.val[a];
	}
	for (int a = 0; a < n; a++)
	{
		y += w[a] * x[a];
		for (int b = a + 1; b < n; b++)
		{
			double		dot = 0;

			for (int f = 0; f < m->k; f++)
				dot += (double) v[a][f] * v[b][f];
			y += dot * x[a] * x[b];
		}
	}
	return y;
}

static void
TestFeatures(void)
{
	FmRatingsData r1,
				r2;
	FmSideData u1,
				u2,
				i1,
				i2;
	FmDatasetData d1,
				d2;
	FmParamsData p;
	FmModel		m,
				d;
	uint8_t    *bytes,
			   *again;
	size_t		len,
				len2;
	bool		ok = true;
	double		maxdiff = 0;
	FmRng		rng;
	int			accepted = 0;

	PlantedWithFeatures(&r1, &u1, &i1, 0);
	PlantedWithFeatures(&r2, &u2, &i2, 99);
	CHECK(FmDatasetBuild(&d1, &r1, &u1, &i1, err, sizeof(err)) == FM_OK, "%s", err);
	CHECK(FmDatasetBuild(&d2, &r2, &u2, &i2, err, sizeof(err)) == FM_OK, "%s", err);
	CHECK(d1.n_users == 301 && d1.n_items == 201, "attribute-only ids join (%u, %u)",
		  d1.n_users, d1.n_items);
	CHECK(d1.ufeat.n == 4 && d1.ifeat.n == 8, "feature dictionaries (%u, %u)",
		  d1.ufeat.n, d1.ifeat.n);
	CHECK(strcmp(d1.ifeat.names[0], "genre=0") == 0, "names sorted");
	CHECK(memcmp(d1.rows, d2.rows, d1.n_rows * sizeof(FmRow)) == 0 &&
		  d1.n_iattr == d2.n_iattr &&
		  memcmp(d1.iattr.feat, d2.iattr.feat, d1.n_iattr * sizeof(uint32_t)) == 0 &&
		  memcmp(d1.uattr.off, d2.uattr.off, (d1.n_users + 1) * sizeof(uint64_t)) == 0,
		  "attributes are canonical whatever the input order");

	FmParamsDefault(&p);
	p.factors = 8;
	p.epochs = 5;
	CHECK(FmTrain(&d1, &p, &m, err, sizeof(err)) == FM_OK, "%s", err);
	{
		FmModel		m2;
		uint8_t    *b2;
		size_t		l2;

		FmTrain(&d2, &p, &m2, err, sizeof(err));
		FmModelEncode(m, SIZE_MAX, &bytes, &len);
		FmModelEncode(m2, SIZE_MAX, &b2, &l2);
		CHECK(len == l2 && memcmp(bytes, b2, len) == 0,
			  "same rows and attributes in any order = same bytes");
		free(b2);
		free(bytes);
		FmModelFree(m2);
	}

	/* composites give the FM formula exactly (up to float rounding) */
	for (uint32_t u = 0; u < m->n_users; u += 7)
		for (uint32_t i = 0; i < m->n_items; i += 5)
		{
			double		diff = fabs(FmModelRaw(m, u, i) - DirectFm(m, u, i));

			if (diff > maxdiff)
				maxdiff = diff;
		}
	CHECK(maxdiff < 1e-4, "composite scoring equals the FM formula (max diff %g)", maxdiff);
	CHECK(m->user_rated[FmModelUserIndex(m, 5000)] == 0 &&
		  m->item_rated[FmModelItemIndex(m, 6000)] == 0, "attribute-only ids are marked");
	CHECK(fabs(FmModelPredict(m, 5000, 1) - FmModelPredict(m, -1, 1)) > 1e-6,
		  "an attribute-only user is scored through its attributes");

	/* round trip with features */
	CHECK(FmModelEncode(m, SIZE_MAX, &bytes, &len) == FM_OK, "encode");
	CHECK(FmModelDecode(bytes, len, &d, err, sizeof(err)) == FM_OK, "decode: %s", err);
	CHECK(FmModelEncode(d, SIZE_MAX, &again, &len2) == FM_OK && len == len2 &&
		  memcmp(bytes, again, len) == 0, "decode then encode is the identity with features");
	for (uint32_t u = 0; u < m->n_users && ok; u += 3)
		ok = FmModelRaw(m, u, u % m->n_items) == FmModelRaw(d, u, u % m->n_items);
	CHECK(ok, "decoded composites are identical");
	free(again);
	FmModelFree(d);

	/* damage anywhere: decoded or rejected, never a crash */
	FmRngSeed(&rng, 5);
	for (int t = 0; t < 1000; t++)
	{
		uint8_t    *copy = malloc(len);
		FmStatus	st;

		memcpy(copy, bytes, len);
		copy[FmRngBelow(&rng, len)] ^= (uint8_t) (1 + FmRngBelow(&rng, 255));
		st = FmModelDecode(copy, len, &d, err, sizeof(err));
		if (st == FM_OK)
		{
			accepted++;
			CHECK(isfinite(FmModelPredict(d, 1, 1)), "finite");
			FmModelFree(d);
		}
		else
			CHECK(st == FM_ERR_CORRUPT, "corrupt, got %d", st);
		free(copy);
	}
	free(bytes);

	/* representations: anonymous attributes equal the attribute-only user */
	{
		float		buf[8],
					buf2[8];
		FmRep		a,
					b;
		const char *names[] = {"group=1", "nope"};

		FmRepInit(m, &a, buf);
		FmRepAddFeatures(m, &a, 'u', names, NULL, 2);
		FmRepInit(m, &b, buf2);
		FmRepAddUser(m, &b, 5000);
		CHECK(a.path == FM_PATH_FEATURES && b.path == FM_PATH_USER_FEATURES &&
			  a.unknown == 1 && a.used == 1, "paths and counts");
		CHECK(fabs(FmRepScore(m, &a, 3) - FmRepScore(m, &b, 3)) < 1e-5,
			  "attributes given anonymously score like the attribute-only user");
	}

	/* fold-in explains a session better than popularity */
	{
		float		buf[8];
		FmRep		rep;
		int64_t		items[40];
		float		ratings[40];
		double		se_pop = 0,
					se_fold = 0;
		int			n = 0;

		for (size_t j = 0; j < r1.n && n < 40; j++)
			if (r1.user[j] == 17)
			{
				items[n] = r1.item[j];
				ratings[n++] = r1.rating[j];
			}
		FmRepInit(m, &rep, buf);
		for (int j = 0; j < n; j++)
		{
			double		e = FmRepScore(m, &rep, FmModelItemIndex(m, items[j])) - ratings[j];

			se_pop += e * e;
		}
		CHECK(FmRepFoldIn(m, &rep, items, ratings, n, 1.0) == FM_OK && rep.path == FM_PATH_FOLD_IN,
			  "fold-in");
		for (int j = 0; j < n; j++)
		{
			double		e = FmRepScore(m, &rep, FmModelItemIndex(m, items[j])) - ratings[j];

			se_fold += e * e;
		}
		CHECK(se_fold < 0.8 * se_pop, "fold-in fits the session (%g vs %g, %d items)",
			  se_fold, se_pop, n);
	}

	FmModelFree(m);
	FmDatasetFree(&d1);
	FmDatasetFree(&d2);
	FmRatingsFree(&r1);
	FmRatingsFree(&r2);
	FmSideFree(&u1);
	FmSideFree(&u2);
	FmSideFree(&i1);
	FmSideFree(&i2);
}

static void
TestContext(void)
{
	FmRatingsData r;
	FmDatasetData ds;
	FmParamsData p;
	FmModel		m;
	FmRng		rng;
	float		b1[8],
				b2[8];
	FmRep		even,
				odd;
	const char *evening[] = {"daypart=evening"};
	const char *morning[] = {"daypart=morning"};
	double		gain = 0;

	/* evening favours even items, morning odd ones */
	FmRatingsInit(&r);
	FmRngSeed(&rng, 8);
	for (int u = 1; u <= 100; u++)
		for (int i = 1; i <= 40; i++)
		{
			bool		eve = FmRngUniform(&rng) < 0.5;
			float		y = 3.0f + (((i % 2 == 0) == eve) ? 1.0f : -1.0f);

			FmRatingsAdd(&r, u, i, y, 1.0f);
			FmRatingsAddContext(&r, eve ? evening[0] : morning[0], 15, 1.0f);
		}
	CHECK(FmDatasetBuild(&ds, &r, NULL, NULL, err, sizeof(err)) == FM_OK, "%s", err);
	CHECK(ds.cfeat.n == 2 && ds.n_ctx == 4000, "context lists");
	FmParamsDefault(&p);
	p.factors = 4;
	p.epochs = 30;
	CHECK(FmTrain(&ds, &p, &m, err, sizeof(err)) == FM_OK, "%s", err);
	FmRepInit(m, &even, b1);
	FmRepAddUser(m, &even, 1);
	FmRepAddFeatures(m, &even, 'c', evening, NULL, 1);
	FmRepInit(m, &odd, b2);
	FmRepAddUser(m, &odd, 1);
	FmRepAddFeatures(m, &odd, 'c', morning, NULL, 1);
	for (int i = 1; i <= 40; i++)
	{
		int64_t		ii = FmModelItemIndex(m, i);
		double		diff = FmRepScore(m, &even, ii) - FmRepScore(m, &odd, ii);

		gain += (i % 2 == 0) ? diff : -diff;
	}
	CHECK(gain / 40 > 1.0, "context interacts with items (mean gain %g, planted 2)", gain / 40);
	FmModelFree(m);
	FmDatasetFree(&ds);
	FmRatingsFree(&r);
}

static void
TestSolvers(void)
{
	FmRatingsData train,
				test;
	FmDatasetData ds;
	FmParamsData p;
	FmModel		m1,
				m2;
	uint8_t    *b1,
			   *b2;
	size_t		l1,
				l2;
	double		noise;

	PlantedSplit(1000, 500, 150000, &train, &test, &noise);
	FmDatasetBuild(&ds, &train, NULL, NULL, err, sizeof(err));
	for (int s = FM_SOLVER_ALS; s <= FM_SOLVER_MCMC; s++)
	{
		double		rmse;

		FmParamsDefault(&p);
		FmParamsSolverDefaults(&p, (FmSolver) s, 0);
		p.epochs = s == FM_SOLVER_ALS ? 10 : 40;
		p.burn_in = 10;
		CHECK(FmTrain(&ds, &p, &m1, err, sizeof(err)) == FM_OK, "%s", err);
		p.threads = 2;
		CHECK(FmTrain(&ds, &p, &m2, err, sizeof(err)) == FM_OK, "%s", err);
		FmModelEncode(m1, SIZE_MAX, &b1, &l1);
		FmModelEncode(m2, SIZE_MAX, &b2, &l2);
		CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0,
			  "%s: one and two threads give the same bytes", FmSolverName((FmSolver) s));
		rmse = TestRmse(m1, &test);
		printf("# planted data: %s test RMSE %.4f (noise floor %.4f)\n",
			   FmSolverName((FmSolver) s), rmse, noise);
		CHECK(rmse <= 1.15 * noise, "%s: test RMSE %.4f within 15%% of the noise %.4f",
			  FmSolverName((FmSolver) s), rmse, noise);
		free(b1);
		free(b2);
		FmModelFree(m1);
		FmModelFree(m2);

		/* without the per-row cache of factor sums (as past 2 GB of it) */
		{
			size_t		saved = fm_cd_q_cache_max;
			double		rmse_nc;

			fm_cd_q_cache_max = 0;
			p.threads = 1;
			CHECK(FmTrain(&ds, &p, &m1, err, sizeof(err)) == FM_OK, "%s", err);
			p.threads = 2;
			CHECK(FmTrain(&ds, &p, &m2, err, sizeof(err)) == FM_OK, "%s", err);
			fm_cd_q_cache_max = saved;
			FmModelEncode(m1, SIZE_MAX, &b1, &l1);
			FmModelEncode(m2, SIZE_MAX, &b2, &l2);
			CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0,
				  "%s without the sums cache: one and two threads give the same bytes",
				  FmSolverName((FmSolver) s));
			rmse_nc = TestRmse(m1, &test);
			printf("# planted data: %s without the sums cache, test RMSE %.4f (cached %.4f)\n",
				   FmSolverName((FmSolver) s), rmse_nc, rmse);
			CHECK(fabs(rmse_nc - rmse) <= 0.005 * rmse,
				  "%s without the sums cache: test RMSE %.4f within 0.5%% of the cached %.4f",
				  FmSolverName((FmSolver) s), rmse_nc, rmse);
			free(b1);
			free(b2);
			FmModelFree(m1);
			FmModelFree(m2);
		}
	}

	/* an exploding SGD run stops with FM_ERR_DIVERGED */
	FmParamsDefault(&p);
	p.learning_rate = 10;
	p.init_stdev = 10;
	p.epochs = 3;
	CHECK(FmTrain(&ds, &p, &m1, err, sizeof(err)) == FM_ERR_DIVERGED && m1 == NULL,
		  "absurd learning rate diverges: %s", err);
	FmDatasetFree(&ds);
	FmRatingsFree(&train);
	FmRatingsFree(&test);
}

/*
 * fm_evaluate's metrics on a ranking whose answer is worked out by hand:
 * one user, items 1..5 scored 5, 4, 3, 2, 1 by the model and popular in
 * the opposite order, relevant test items {2, 5}, k = 3.
 */
static void
TestEvaluate(void)
{
	FmModel		m = FmModelAlloc(FM_TASK_REGRESSION, 1, 1, 5, 0);
	FmRatingsData test;
	FmEvalOptions o = {3, 4.0};
	FmEval		e;
	FmEvalMetrics a,
				b;
	double		idcg = 1.0 + 1.0 / log2(3.0);

	m->user_ids[0] = 1;
	m->vu[0] = 1.0f;
	for (int i = 0; i < 5; i++)
	{
		m->item_ids[i] = i + 1;
		m->vi[i] = 5.0f - i;
	}
	m->min_rating = 1;
	m->max_rating = 5;
	m->item_count = calloc(5, sizeof(uint32_t));
	for (int i = 0; i < 5; i++)
		m->item_count[i] = i + 1;
	CHECK(FmModelIndex(m) == FM_OK, "index");
	FmRatingsInit(&test);
	FmRatingsAdd(&test, 1, 5, 5, 1);
	FmRatingsAdd(&test, 1, 3, 1, 1);
	FmRatingsAdd(&test, 1, 2, 5, 1);
	FmRatingsAdd(&test, 1, 99, 5, 1);	/* not in the catalogue: not relevant */
	CHECK(FmEvalCreate(m, &test, &o, &e, err, sizeof(err)) == FM_OK, "%s", err);
	while (FmEvalStep(e, 1) == FM_RUNNING)
		;
	CHECK(FmEvalResults(e, &a, &b), "popularity from item counts");
	CHECK(a.users == 1 && a.rows == 4, "one user, four rows");
	CHECK(fabs(a.precision - 1.0 / 3) < 1e-12 && fabs(a.recall - 0.5) < 1e-12,
		  "model precision %g recall %g", a.precision, a.recall);
	CHECK(fabs(a.ndcg - (1.0 / log2(3.0)) / idcg) < 1e-12, "model ndcg %g", a.ndcg);
	CHECK(fabs(a.map - 0.25) < 1e-12 && fabs(a.mrr - 0.5) < 1e-12 && a.hit_rate == 1,
		  "model map %g mrr %g", a.map, a.mrr);
	CHECK(fabs(a.coverage - 0.6) < 1e-12, "coverage %g", a.coverage);
	/* predictions 1 (clipped), 3, 4 and the unknown item's 1 vs 5, 1, 5, 5 */
	CHECK(fabs(a.rmse - sqrt((16.0 + 4.0 + 1.0 + 16.0) / 4)) < 1e-6 &&
		  fabs(a.mae - 11.0 / 4) < 1e-6, "rmse %g mae %g", a.rmse, a.mae);
	CHECK(fabs(b.precision - 1.0 / 3) < 1e-12 && fabs(b.ndcg - 1.0 / idcg) < 1e-12 &&
		  fabs(b.map - 0.5) < 1e-12 && b.mrr == 1 && isnan(b.rmse),
		  "popularity ndcg %g map %g mrr %g", b.ndcg, b.map, b.mrr);
	FmEvalFree(e);
	o.k = 0;
	CHECK(FmEvalCreate(m, &test, &o, &e, err, sizeof(err)) == FM_ERR_PARAM, "k = 0 refused");
	FmRatingsFree(&test);
	FmModelFree(m);
}

/*
 * Implicit ALS on planted choices: two halves of the users choose from
 * two halves of the items (90% within their own half).  Every user's top
 * 10 must come from its own half, the loss must fall, one and two threads
 * must give the same bytes, and a session of one half's items ranks that
 * half first.
 */
/*
 * Planted choices in two halves: users 1..200 each choose 20 items, 90%
 * of them from their own half of items 1..200 (even users the first).
 */
static void
PlantedHalves(FmRatings r, uint64_t seed)
{
	FmRng		rng;

	FmRngSeed(&rng, seed);
	for (int u = 1; u <= 200; u++)
		for (int c = 0; c < 20; c++)
		{
			bool		same = FmRngUniform(&rng) < 0.9;
			int			half = (u % 2 == 0) == same ? 0 : 1;
			int			i = 1 + half * 100 + (int) FmRngBelow(&rng, 100);

			FmRatingsAdd(r, u, i, 1.0, 1.0);
		}
}

/* Trains step by step, keeping the first and the last epoch's loss. */
static void
TrainWatchingLoss(const FmDatasetData *ds, const FmParamsData *p, FmModel *m,
				  double *first, double *last)
{
	FmTrainer	t;

	*first = *last = 0;
	CHECK(FmTrainerCreate(ds, p, &t, err, sizeof(err)) == FM_OK, "%s", err);
	for (FmStatus st; (st = FmTrainerStep(t, err, sizeof(err))) != FM_DONE;)
		if (st == FM_EPOCH_END)
		{
			if (*first == 0)
				*first = FmTrainerEpoch(t)->train_loss;
			*last = FmTrainerEpoch(t)->train_loss;
		}
		else
			CHECK(st == FM_RUNNING, "step: %s", err);
	CHECK(FmTrainerFinish(t, m) == FM_OK, "finish");
	FmTrainerFree(t);
}

static void
TestImplicit(void)
{
	FmRatingsData r;
	FmDatasetData ds;
	FmParamsData p;
	FmModel		m1,
				m2;
	uint8_t    *b1,
			   *b2;
	size_t		l1,
				l2;
	int			own = 0,
				total = 0;
	double		first = 0,
				last = 0;

	FmRatingsInit(&r);
	PlantedHalves(&r, 77);
	CHECK(FmDatasetBuild(&ds, &r, NULL, NULL, err, sizeof(err)) == FM_OK, "%s", err);
	FmParamsDefault(&p);
	p.task = FM_TASK_IMPLICIT;
	FmParamsSolverDefaults(&p, FM_SOLVER_SGD, 0);
	CHECK(p.solver == FM_SOLVER_ALS && p.factors == 128, "implicit defaults to ALS");
	p.factors = 8;
	p.validation = 0.1;
	CHECK(FmParamsCheck(&p, err, sizeof(err)) == FM_ERR_PARAM, "no hold-out for implicit");
	p.validation = 0;
	TrainWatchingLoss(&ds, &p, &m1, &first, &last);
	CHECK(last < first, "loss falls (%g -> %g)", first, last);
	p.threads = 2;
	CHECK(FmTrain(&ds, &p, &m2, err, sizeof(err)) == FM_OK, "%s", err);
	FmModelEncode(m1, SIZE_MAX, &b1, &l1);
	FmModelEncode(m2, SIZE_MAX, &b2, &l2);
	CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0, "one and two threads: the same bytes");
	for (int u = 1; u <= 200; u++)
	{
		FmTopnQuery q = {u, 10, true, NULL, 0, NULL, 0};
		FmScored	out[10];
		int			n;

		FmTopn(m1, &q, out, &n);
		for (int j = 0; j < n; j++)
			own += ((out[j].item - 1) / 100 == 0) == (u % 2 == 0);
		total += n;
	}
	CHECK(own >= total * 0.95, "top 10 from the user's own half: %d of %d", own, total);
	printf("# implicit ALS, planted halves: %d of %d top-10 items from the user's half\n",
		   own, total);
	{
		float		buf[8];
		FmRep		rep;
		int64_t		session[3] = {1, 2, 3};
		FmTopnQuery q = {0, 10, false, NULL, 0, session, 3};
		FmScored	out[10];
		int			n,
					first_half = 0;

		FmRepInit(m1, &rep, buf);
		CHECK(FmRepFoldIn(m1, &rep, session, NULL, 3, 1.0) == FM_OK, "fold-in");
		FmTopnRep(m1, &rep, &q, out, &n);
		for (int j = 0; j < n; j++)
			first_half += out[j].item <= 100;
		CHECK(first_half >= 9, "a session of first-half items: %d of %d first-half", first_half, n);
		FmRepInit(m1, &rep, buf);
		FmTopnRep(m1, &rep, &q, out, &n);
		CHECK(n == 10 && out[0].score >= out[9].score && out[0].score >= 1,
			  "nothing known: ranked by training rows");
	}
	{
		/* the confidence of a chosen pair: Hu et al.'s with alpha > 0 */
		FmParamsData c = p;

		c.alpha = 2.0;
		c.log_epsilon = 0.0;
		CHECK(FmConfidenceBase(&c) == 1.0 && FmConfidenceExtra(&c, 3.0, 0.5) == 3.0,
			  "alpha 2: 1 + 2 x 3 x 0.5");
		c.log_epsilon = 1.0;
		CHECK(fabs(FmConfidenceExtra(&c, 3.0, 1.0) - 2.0 * log(4.0)) < 1e-12,
			  "log_epsilon 1: 1 + 2 log(1 + 3)");
		/* alpha 0: w0 + (1 - w0) w (s / mean)^exponent */
		c.alpha = 0.0;
		c.unobserved_weight = 0.1;
		c.strength_mean = 2.0;
		c.strength_exponent = 1.5;
		CHECK(FmConfidenceBase(&c) == 0.1 &&
			  fabs(FmConfidenceExtra(&c, 8.0, 1.0) - 0.9 * 8.0) < 1e-12 &&
			  fabs(FmConfidenceExtra(&c, 2.0, 0.5) - 0.45) < 1e-12 &&
			  FmConfidenceExtra(&c, 0.0, 1.0) == 0.0,
			  "alpha 0: strength 8 of mean 2 counts 4^1.5, the mean 1, 0 nothing");
		c.strength_exponent = 0.0;
		CHECK(FmConfidenceExtra(&c, 8.0, 1.0) == 0.9, "exponent 0: strengths ignored");
		/* p is the implicit default; the model keeps the mean it trained on */
		CHECK(p.strength_exponent == 1.5 && m1->params.strength_mean == 1.0,
			  "default exponent 1.5; no strength column, mean 1 (%g)",
			  m1->params.strength_mean);
	}
	free(b1);
	free(b2);
	FmModelFree(m1);
	FmModelFree(m2);
	FmDatasetFree(&ds);
	FmRatingsFree(&r);
}

/*
 * Implicit coordinate descent (icd.c): the planted halves of TestImplicit
 * with each item's half as an attribute, and cold items and a cold user
 * known only by their attributes.  The solver table sends data with
 * attributes to icd.c; its lists, its cold-start scores and its bytes
 * for one and two threads are checked.
 */
static void
TestImplicitFeatures(void)
{
	FmRatingsData r;
	FmSideData	us,
				is;
	FmDatasetData ds;
	FmParamsData p;
	FmModel		m1,
				m2;
	uint8_t    *b1,
			   *b2;
	size_t		l1,
				l2;
	int			own = 0,
				total = 0,
				cold_right = 0;
	char		name[32];
	double		first = 0,
				last = 0;

	FmRatingsInit(&r);
	FmSideInit(&us);
	FmSideInit(&is);
	PlantedHalves(&r, 78);
	/* items 1..200 and cold 301..320 carry their half; users their parity */
	for (int i = 1; i <= 320; i++)
		if (i <= 200 || i > 300)
		{
			int			half = i <= 200 ? (i - 1) / 100 : (i - 301) / 10;

			snprintf(name, sizeof(name), "half=%d", half);
			FmSideAdd(&is, i, name, strlen(name), 1.0f);
		}
	for (int k = 1; k <= 201; k++)
	{
		int			u = k == 201 ? 1000 : k;

		snprintf(name, sizeof(name), "parity=%d", u % 2);
		FmSideAdd(&us, u, name, strlen(name), 1.0f);
	}
	CHECK(FmDatasetBuild(&ds, &r, &us, &is, err, sizeof(err)) == FM_OK, "%s", err);
	FmParamsDefault(&p);
	p.task = FM_TASK_IMPLICIT;
	FmParamsSolverDefaults(&p, FM_SOLVER_SGD, 0);
	p.factors = 8;
	TrainWatchingLoss(&ds, &p, &m1, &first, &last);
	CHECK(last < first, "icd: loss falls (%g -> %g)", first, last);
	p.threads = 2;
	CHECK(FmTrain(&ds, &p, &m2, err, sizeof(err)) == FM_OK, "%s", err);
	FmModelEncode(m1, SIZE_MAX, &b1, &l1);
	FmModelEncode(m2, SIZE_MAX, &b2, &l2);
	CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0, "icd: one and two threads, the same bytes");
	for (int u = 1; u <= 200; u++)
	{
		FmTopnQuery q = {u, 10, true, NULL, 0, NULL, 0};
		FmScored	out[10];
		int			n;
		double		mine = 0,
					other = 0;

		FmTopn(m1, &q, out, &n);
		for (int j = 0; j < n; j++)
			own += (out[j].item > 300 ? (out[j].item - 301) / 10 : (out[j].item - 1) / 100) ==
				(u % 2 == 0 ? 0 : 1);
		total += n;
		for (int i = 301; i <= 320; i++)
			*((i - 301) / 10 == (u % 2 == 0 ? 0 : 1) ? &mine : &other) +=
				FmModelPredict(m1, u, i);
		cold_right += mine > other;
	}
	CHECK(own >= total * 0.95, "icd: top 10 from the user's own half: %d of %d", own, total);
	CHECK(cold_right >= 190, "icd: cold items of the user's half score higher for %d of 200 users",
		  cold_right);
	{
		FmTopnQuery q = {1000, 10, true, NULL, 0, NULL, 0};
		FmScored	out[10];
		int			n,
					odd = 0;

		/* user 1000 is known by "parity=0" only: it gets the first half */
		FmTopn(m1, &q, out, &n);
		for (int j = 0; j < n; j++)
			odd += out[j].item <= 100 || (out[j].item > 300 && out[j].item <= 310);
		CHECK(n == 10 && odd >= 9, "icd: a cold user gets its parity's half (%d of %d)", odd, n);
	}
	printf("# implicit coordinate descent, planted halves: %d of %d top-10 items from the user's half,"
		   " cold items right for %d of 200 users\n", own, total, cold_right);
	free(b1);
	free(b2);
	FmModelFree(m1);
	FmModelFree(m2);
	FmDatasetFree(&ds);
	FmSideFree(&us);
	FmSideFree(&is);
	FmRatingsFree(&r);
}

/* a line "Name: N kB" of /proc/self/status, in bytes, or -1 */
static double
ProcStatus(const char *name)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	double		kb = -1;
	size_t		len = strlen(name);

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			kb = atof(line + len + 1);
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* Resets VmHWM to the current RSS; false where Linux does not allow it. */
static bool
ResetPeak(void)
{
	FILE	   *f = fopen("/proc/self/clear_refs", "w");
	bool		ok;

	if (f == NULL)
		return false;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
}

/*
 * FmTrainMemory is an upper bound of what training and encoding take,
 * and not a wild one: the growth of the peak RSS over one training and
 * its encoding stays under the estimate and above a third of it.
 */
static void
TestTrainMemory(void)
{
	FmRatingsData r;
	FmDatasetData ds;
	bool		measure = getenv("FMREC_UNDER_VALGRIND") == NULL;

	/*
	 * Big blocks from mmap and freed memory given back, so that RSS shows
	 * what this training takes, not what earlier tests left in the heap.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024);
	PlantedRatings(&r, 3000, 1500, 300000, 5);
	CHECK(FmDatasetBuild(&ds, &r, NULL, NULL, err, sizeof(err)) == FM_OK, "%s", err);
	FmRatingsFree(&r);
	for (int s = 0; s < 3; s++)
		for (int k = 32; k <= 128; k *= 4)
		{
			FmParamsData p;
			FmModel		m;
			double		est,
						rss0,
						grew;
			uint8_t    *bytes,
					   *copy;
			size_t		len;

			FmParamsDefault(&p);
			FmParamsSolverDefaults(&p, (FmSolver) s, 0);
			p.factors = k;
			p.epochs = 2;
			p.burn_in = 1;
			p.validation = s == 2 ? 0.0 : 0.1;
			est = FmTrainMemory(&ds, &p);
			malloc_trim(0);
			if (!measure || !ResetPeak() || (rss0 = ProcStatus("VmRSS")) < 0)
			{
				CHECK(est > (double) ds.n_rows * sizeof(FmRow), "estimate %g", est);
				continue;
			}
			CHECK(FmTrain(&ds, &p, &m, err, sizeof(err)) == FM_OK, "%s", err);
			CHECK(FmModelEncode(m, SIZE_MAX, &bytes, &len) == FM_OK, "encode");
			copy = malloc(len);
			memcpy(copy, bytes, len);
			for (size_t j = 0; j < len; j += 4096)
				copy[j] ^= 1;	/* touch every page */
			grew = ProcStatus("VmHWM") - rss0;
			CHECK(grew <= est && est <= 3 * grew + (8 << 20),
				  "%s k=%d: peak grew %.1f MB, estimate %.1f MB",
				  FmSolverName(p.solver), k, grew / 1048576, est / 1048576);
			printf("# training memory: %s k=%d: peak grew %.1f MB, estimated %.1f MB\n",
				   FmSolverName(p.solver), k, grew / 1048576, est / 1048576);
			free(copy);
			free(bytes);
			FmModelFree(m);
		}
	FmDatasetFree(&ds);
}

/*
 * The serving paths of the three architectures: batch lists equal to
 * FmTopn's for every user and thread count, similar items, an item-item
 * model on co-occurrences whose answer is known, a warm start and the
 * merge of an update.
 */
static void
TestServing(void)
{
	FmRatingsData r;
	FmParamsData p;
	FmModel		m;
	FmTopnQuery q = {0};
	int64_t		cand[6];
	int64_t		excl[2];
	bool		same = true;

	PlantedRatings(&r, 150, 200, 6000, 0);
	FmParamsDefault(&p);
	p.factors = 16;
	p.epochs = 5;
	m = TrainOn(&r, &p);
	CHECK(m != NULL, "%s", err);

	/* batch: the lists of FmTopn, for known and unknown users */
	for (int variant = 0; variant < 3; variant++)
		for (int threads = 1; threads <= 2; threads++)
		{
			FmBatch		b;
			int64_t		users[160];
			size_t		nu = 0;
			FmScored   *lists;
			FmScored	one[64];
			int		   *counts;
			size_t		cap;

			memset(&q, 0, sizeof(q));
			q.n = 12;
			q.exclude_seen = variant != 2;
			if (variant >= 1)
			{
				for (int j = 0; j < 6; j++)
					cand[j] = m->item_ids[j * 7];
				cand[5] = 99999;	/* unknown */
				q.candidates = cand;
				q.n_candidates = 6;
				q.n = 4;
			}
			excl[0] = m->item_ids[1];
			excl[1] = m->item_ids[7];
			q.exclude = excl;
			q.n_exclude = 2;
			for (uint32_t u = 0; u < m->n_users; u++)
				users[nu++] = m->user_ids[u];
			users[nu++] = -5;	/* unknown: popularity by bias */
			CHECK(FmBatchCreate(m, &q, threads, &b) == FM_OK, "batch");
			cap = FmBatchCapacity(b);
			lists = malloc(FmBatchBlock(b) * cap * sizeof(FmScored) + 1);
			counts = malloc(FmBatchBlock(b) * sizeof(int));
			for (size_t start = 0; start < nu; start += FmBatchBlock(b))
			{
				size_t		count = nu - start < FmBatchBlock(b) ? nu - start : FmBatchBlock(b);

				CHECK(FmBatchStep(b, users + start, count, lists, counts) == FM_OK, "step");
				for (size_t j = 0; j < count; j++)
				{
					int			n1;

					q.user = users[start + j];
					FmTopn(m, &q, one, &n1);
					same &= n1 == counts[j];
					for (int k = 0; k < n1 && k < counts[j]; k++)
						same &= one[k].item == lists[j * cap + k].item &&
							one[k].score == lists[j * cap + k].score;
				}
			}
			free(lists);
			free(counts);
			FmBatchFree(b);
		}
	CHECK(same, "every batch list is FmTopn's (all items, candidates, exclude_seen off; 1 and 2 threads)");

	/* similar items: cosines, the query first when asked, then left out */
	{
		FmSimilarQuery sq = {0};
		FmScored	out[20];
		int			n;
		int64_t		item = m->item_ids[3];
		bool		bounded = true;

		sq.items = &item;
		sq.n_items = 1;
		sq.n = 20;
		sq.include_query = true;
		CHECK(FmSimilarItems(m, &sq, out, &n) == FM_OK && n == 20, "similar items");
		CHECK(out[0].item == item && fabs(out[0].score - 1.0) < 1e-5,
			  "an item is most like itself (cosine %g)", out[0].score);
		for (int j = 0; j < n; j++)
			bounded &= out[j].score <= 1.0 + 1e-6 && out[j].score >= -1.0 - 1e-6 &&
				(j == 0 || out[j].score <= out[j - 1].score);
		CHECK(bounded, "cosines in [-1, 1], best first");
		sq.include_query = false;
		CHECK(FmSimilarItems(m, &sq, out, &n) == FM_OK && n == 20 && out[0].item != item,
			  "the query left out");
	}
	FmModelFree(m);

	/* early stopping: the stored train loss is the kept epoch's */
	{
		FmDatasetData ds;
		FmTrainer	t;
		FmStatus	st;
		double		kept_loss = NAN;

		FmParamsDefault(&p);
		p.factors = 8;
		p.epochs = 200;
		p.validation = 0.2;
		p.patience = 2;
		CHECK(FmDatasetBuild(&ds, &r, NULL, NULL, err, sizeof(err)) == FM_OK, "%s", err);
		CHECK(FmTrainerCreate(&ds, &p, &t, err, sizeof(err)) == FM_OK, "%s", err);
		while ((st = FmTrainerStep(t, err, sizeof(err))) != FM_DONE)
			if (st == FM_EPOCH_END && FmTrainerEpoch(t)->improved)
				kept_loss = FmTrainerEpoch(t)->train_loss;
		CHECK(FmTrainerFinish(t, &m) == FM_OK, "finish");
		CHECK(m->info.epochs_run > m->info.best_epoch && m->info.train_loss == kept_loss,
			  "early stopping: train loss %g of kept epoch %u (run %u)",
			  m->info.train_loss, m->info.best_epoch, m->info.epochs_run);
		FmTrainerFree(t);
		FmModelFree(m);
		FmDatasetFree(&ds);
	}
	FmRatingsFree(&r);

	/* item_cosine on known co-occurrences: 1 and 2 always together, 3 with half */
	{
		FmRatingsData c;
		FmModel		k1,
					k2;
		uint8_t    *b1,
				   *b2;
		size_t		l1,
					l2;
		FmSimilarQuery sq = {0};
		FmScored	out[4];
		int			n;
		int64_t		one = 1;
		float		all[4];
		double		sum3;

		FmRatingsInit(&c);
		for (int u = 1; u <= 40; u++)
		{
			FmRatingsAdd(&c, u, 1, 1, 1);
			FmRatingsAdd(&c, u, 2, 1, 1);
			if (u <= 20)
				FmRatingsAdd(&c, u, 3, 1, 1);
		}
		for (int u = 41; u <= 60; u++)
			FmRatingsAdd(&c, u, 4, 1, 1);
		FmParamsDefault(&p);
		p.task = FM_TASK_IMPLICIT;
		FmParamsSolverDefaults(&p, FM_SOLVER_ITEM_COSINE, FM_SET_SOLVER);
		p.threads = 1;
		k1 = TrainOn(&c, &p);
		p.threads = 2;
		k2 = TrainOn(&c, &p);
		CHECK(k1 && k2, "%s", err);
		CHECK(FmModelEncode(k1, SIZE_MAX, &b1, &l1) == FM_OK &&
			  FmModelEncode(k2, SIZE_MAX, &b2, &l2) == FM_OK &&
			  l1 == l2 && memcmp(b1, b2, l1) == 0, "item_cosine: the same bytes on 1 and 2 threads");
		sq.items = &one;
		sq.n_items = 1;
		sq.n = 4;
		CHECK(FmSimilarItems(k1, &sq, out, &n) == FM_OK && n == 2 &&
			  out[0].item == 2 && fabs(out[0].score - 1.0) < 1e-6 &&
			  out[1].item == 3 && fabs(out[1].score - sqrt(0.5)) < 1e-6,
			  "item_cosine: 2 then 3 (%g, %g), never 4", out[0].score, out[1].score);
		/* user 21 chose 1 and 2: item 3 scores sim(1,3) + sim(2,3) */
		FmItemItemScores(k1, k1->seen + k1->seen_off[20], k1->seen_off[21] - k1->seen_off[20],
						 NULL, 0, all);
		sum3 = FmModelPredict(k1, 21, 3);
		CHECK(fabs(sum3 - 2 * sqrt(0.5)) < 1e-6 && (float) sum3 == all[2],
			  "item_cosine: a user's score is the sum over its history (%g)", sum3);
		free(b1);
		free(b2);
		FmModelFree(k1);
		FmModelFree(k2);
		FmRatingsFree(&c);
	}

	/* a warm start begins at the model, and the merge keeps every id */
	{
		FmRatingsData a,
					bnew;
		FmDatasetData ds;
		FmModel		old,
					upd,
					merged;
		FmTrainer	t;
		uint32_t   *counts;
		bool		kept = true;

		PlantedRatings(&a, 100, 100, 2500, 0);
		FmParamsDefault(&p);
		p.factors = 8;
		p.epochs = 5;
		old = TrainOn(&a, &p);
		FmRatingsInit(&bnew);
		FmRatingsAdd(&bnew, 1000, old->item_ids[0], 5, 1);	/* a new user */
		FmRatingsAdd(&bnew, old->user_ids[0], 5000, 4, 1);		/* a new item */
		CHECK(FmDatasetBuild(&ds, &bnew, NULL, NULL, err, sizeof(err)) == FM_OK, "%s", err);
		p.epochs = 1;
		p.learning_rate = 1e-9;	/* barely moves: the start shows */
		CHECK(FmTrainerCreateFrom(&ds, &p, old, &t, err, sizeof(err)) == FM_OK, "%s", err);
		while (FmTrainerStep(t, err, sizeof(err)) != FM_DONE)
			;
		CHECK(FmTrainerFinish(t, &upd) == FM_OK, "finish");
		FmTrainerFree(t);
		/* raw scores: the update's rating range is its rows' alone */
		CHECK(fabs(FmModelRaw(upd, FmModelUserIndex(upd, old->user_ids[0]),
							  FmModelItemIndex(upd, old->item_ids[0])) -
				   FmModelRaw(old, 0, 0)) < 1e-3,
			  "warm start: a known pair scores as in the model");
		counts = calloc(upd->n_items + 1, sizeof(uint32_t));
		for (uint32_t i = 0; i < upd->n_items; i++)
			counts[i] = 1;
		CHECK(FmModelMergeUpdate(old, upd, counts, 2, &merged) == FM_OK, "merge");
		CHECK(merged->n_users == old->n_users + 1 && merged->n_items == old->n_items + 1,
			  "merge: %u users, %u items", merged->n_users, merged->n_items);
		CHECK(merged->info.rows == old->info.rows + 2, "merge: rows");
		/* their parameters are the old ones; only the global bias moved */
		for (uint32_t u = 1; u < old->n_users; u++)
			kept &= fabs(FmModelPredict(merged, old->user_ids[u], old->item_ids[2]) -
						 FmModelPredict(old, old->user_ids[u], old->item_ids[2]) -
						 (merged->w0 - old->w0)) < 1e-5;
		CHECK(kept, "merge: users the update did not touch score as before");
		CHECK(FmModelSeen(merged, FmModelUserIndex(merged, old->user_ids[0]),
						  FmModelItemIndex(merged, 5000)) &&
			  FmModelSeen(merged, FmModelUserIndex(merged, old->user_ids[0]),
						  FmModelItemIndex(merged, old->item_ids[old->seen[0]])),
			  "merge: a seen list holds its old and its new items");
		CHECK(merged->item_count[FmModelItemIndex(merged, old->item_ids[0])] ==
			  old->item_count[0] + 1, "merge: counts add the new rows");
		free(counts);
		FmModelFree(old);
		FmModelFree(upd);
		FmModelFree(merged);
		FmDatasetFree(&ds);
		FmRatingsFree(&a);
		FmRatingsFree(&bnew);
	}
}

/* hex of n bytes, for comparing with the SDK's bytes */
static void
Hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t j = 0; j < n; j++)
		sprintf(out + 2 * j, "%02x", b[j]);
	out[2 * n] = '\0';
}

/* a framed record of an arbitrary Record, as another writer might make it */
static size_t
FrameRecord(const Aialgs__Data__Record *rec, uint8_t *out)
{
	size_t		n = aialgs__data__record__pack(rec, out + 8);

	out[0] = 0x0a;
	out[1] = 0x23;
	out[2] = 0xd7;
	out[3] = 0xce;
	out[4] = (uint8_t) n;
	out[5] = (uint8_t) (n >> 8);
	out[6] = out[7] = 0;
	memset(out + 8 + n, 0, 3);
	return 8 + ((n + 3) & ~(size_t) 3);
}

static void
TestInterop(void)
{
	FmSparseRow row = {0},
				back;
	uint8_t		buf[4096];
	char		hex[8200];
	char		line[256];
	size_t		len,
				pos;
	FmStatus	st;
	int64_t		user = -1,
				item = -1;

	/* the SageMaker SDK's bytes for keys [3, 30] of 40, label 4 */
	row.label = 4;
	row.n = 2;
	row.dim = 40;
	row.keys[0] = 3;
	row.keys[1] = 30;
	row.vals[0] = row.vals[1] = 1;
	CHECK(FmRecordIOWrite(&row, buf, sizeof(buf), &len) == FM_OK && len == 60 &&
		  FmRecordIOSize(&row) == 60, "write: %zu bytes", len);
	Hex(buf, len, hex);
	CHECK(strcmp(hex, "0a23d7ce33000000"
				 "0a1d0a0676616c756573121312110a080000803f0000803f1202031e1a0128"
				 "12120a0676616c756573120812060a040000804000") == 0, "bytes %s", hex);
	CHECK(FmRecordIOWrite(&row, buf, 59, &len) == FM_ERR_NOMEM, "a buffer one byte short");
	FmRecordIOWrite(&row, buf, sizeof(buf), &len);
	pos = 0;
	st = FmRecordIORead(buf, len, &pos, &back, err, sizeof(err));
	CHECK(st == FM_OK && pos == len && back.n == 2 && back.keys[0] == 3 && back.keys[1] == 30 &&
		  back.vals[0] == 1 && back.dim == 40 && back.label == 4, "read back: %d %s", st, err);
	CHECK(FmRecordIORead(buf, len, &pos, &back, err, sizeof(err)) == FM_DONE, "then the end");
	CHECK(FmSparsePair(&back, 20, &user, &item, err, sizeof(err)) == FM_OK && user == 3 && item == 10,
		  "pair %lld %lld", (long long) user, (long long) item);
	CHECK(FmSparsePair(&back, 2, &user, &item, err, sizeof(err)) == FM_ERR_DATA, "two item keys");
	CHECK(FmSparsePair(&back, 31, &user, &item, err, sizeof(err)) == FM_ERR_DATA, "two user keys");
	/* the last record may lack its padding */
	pos = 0;
	CHECK(FmRecordIORead(buf, len - 1, &pos, &back, err, sizeof(err)) == FM_OK && pos == len - 1,
		  "unpadded last record");
	/* every truncation is an error, never a read past the end */
	for (size_t cut = 1; cut < len - 1; cut++)
	{
		pos = 0;
		st = FmRecordIORead(buf, cut, &pos, &back, err, sizeof(err));
		if (st != FM_ERR_CORRUPT && !(cut >= 59 && st == FM_OK))
		{
			CHECK(false, "truncated at %zu: %d", cut, st);
			break;
		}
	}

	/* other writers: float64 and int32 tensors, a dense vector, no label */
	{
		double		v64[2] = {1, 1};
		uint64_t	k64[2] = {1, 7};
		double		l64 = 2.5;
		int32_t		dense[5] = {0, 1, 0, 0, 1};
		int32_t		l32 = 1;
		Aialgs__Data__Float64Tensor ft = AIALGS__DATA__FLOAT64_TENSOR__INIT,
					lt = AIALGS__DATA__FLOAT64_TENSOR__INIT;
		Aialgs__Data__Int32Tensor it = AIALGS__DATA__INT32_TENSOR__INIT,
					il = AIALGS__DATA__INT32_TENSOR__INIT;
		Aialgs__Data__Value fv = AIALGS__DATA__VALUE__INIT,
					lv = AIALGS__DATA__VALUE__INIT;
		Aialgs__Data__Record__FeaturesEntry fe = AIALGS__DATA__RECORD__FEATURES_ENTRY__INIT;
		Aialgs__Data__Record__LabelEntry le = AIALGS__DATA__RECORD__LABEL_ENTRY__INIT;
		Aialgs__Data__Record__FeaturesEntry *fes[1] = {&fe};
		Aialgs__Data__Record__LabelEntry *les[1] = {&le};
		Aialgs__Data__Record rec = AIALGS__DATA__RECORD__INIT;
		char		values[] = "values";

		ft.n_values = 2;
		ft.values = v64;
		ft.n_keys = 2;
		ft.keys = k64;
		lt.n_values = 1;
		lt.values = &l64;
		fv.value_case = AIALGS__DATA__VALUE__VALUE_FLOAT64_TENSOR;
		fv.float64_tensor = &ft;
		lv.value_case = AIALGS__DATA__VALUE__VALUE_FLOAT64_TENSOR;
		lv.float64_tensor = &lt;
		fe.key = le.key = values;
		fe.value = &fv;
		le.value = &lv;
		rec.n_features = rec.n_label = 1;
		rec.features = fes;
		rec.label = les;
		len = FrameRecord(&rec, buf);
		pos = 0;
		st = FmRecordIORead(buf, len, &pos, &back, err, sizeof(err));
		CHECK(st == FM_OK && back.n == 2 && back.keys[1] == 7 && back.label == 2.5 && back.dim == 0,
			  "float64: %d %s", st, err);

		it.n_values = 5;
		it.values = dense;
		il.n_values = 1;
		il.values = &l32;
		fv.value_case = AIALGS__DATA__VALUE__VALUE_INT32_TENSOR;
		fv.int32_tensor = &it;
		lv.value_case = AIALGS__DATA__VALUE__VALUE_INT32_TENSOR;
		lv.int32_tensor = &il;
		len = FrameRecord(&rec, buf);
		pos = 0;
		st = FmRecordIORead(buf, len, &pos, &back, err, sizeof(err));
		CHECK(st == FM_OK && back.n == 2 && back.keys[0] == 1 && back.keys[1] == 4 &&
			  back.dim == 5 && back.label == 1, "dense int32: %d %s", st, err);

		/* keys and values that disagree, a label of two values, none */
		it.n_keys = 2;
		it.keys = k64;
		len = FrameRecord(&rec, buf);
		pos = 0;
		CHECK(FmRecordIORead(buf, len, &pos, &back, err, sizeof(err)) == FM_ERR_DATA, "5 values, 2 keys");
		it.n_keys = 0;
		il.n_values = 2;
		il.values = dense;
		len = FrameRecord(&rec, buf);
		pos = 0;
		CHECK(FmRecordIORead(buf, len, &pos, &back, err, sizeof(err)) == FM_ERR_DATA, "a label of two");
		rec.n_label = 0;
		len = FrameRecord(&rec, buf);
		pos = 0;
		CHECK(FmRecordIORead(buf, len, &pos, &back, err, sizeof(err)) == FM_ERR_DATA &&
			  strstr(err, "label") != NULL, "no label: %s", err);
	}

	/* libFM lines: written with the digits a float needs, read back alike */
	row.label = 3.69601274;
	row.vals[1] = 0.1f;
	len = FmLibfmWrite(&row, line, sizeof(line));
	CHECK(strcmp(line, "3.69601274 3:1 30:0.100000001") == 0 && len == strlen(line), "line %s", line);
	st = FmLibfmRead(line, len, &back, err, sizeof(err));
	CHECK(st == FM_OK && back.n == 2 && back.vals[1] == 0.1f && back.label == 3.69601274, "read %d n %zu v %g l %.17g", st, back.n, (double) back.vals[1], back.label);
	CHECK(FmLibfmWrite(&row, line, 5) == len && strlen(line) == 4, "a short buffer says the length");
	CHECK(FmLibfmRead(" \t\r", 3, &back, err, sizeof(err)) == FM_DONE, "blank");
	CHECK(FmLibfmRead("1 2:1 3:1", 5, &back, err, sizeof(err)) == FM_OK && back.n == 1 && back.keys[0] == 2,
		  "only len bytes are read");
	CHECK(FmLibfmRead("1 18446744073709551616:1", 24, &back, err, sizeof(err)) == FM_ERR_DATA, "index past 2^64");
	CHECK(FmLibfmRead("1 2:x", 5, &back, err, sizeof(err)) == FM_ERR_DATA, "value x");
	CHECK(FmLibfmRead("1 :1", 4, &back, err, sizeof(err)) == FM_ERR_DATA, "no index");
	CHECK(FmLibfmRead("inf 1:1", 7, &back, err, sizeof(err)) == FM_ERR_DATA, "infinite label");
	{
		char		many[2048] = "1";

		for (int j = 0; j <= FM_SPARSE_MAX; j++)
			sprintf(many + strlen(many), " %d:1", j);
		CHECK(FmLibfmRead(many, strlen(many), &back, err, sizeof(err)) == FM_ERR_DATA, "too many features");
	}
}

/*
 * The generator's taste: out of range is refused; with taste the rows are
 * still distinct pairs, the first max(users, items) rows are unchanged, and
 * users pick what they like: the mean expected rating of the sampled rows
 * rises well above that of popularity draws.
 */
static void
TestSynthTaste(void)
{
	double		mean[2] = {0, 0};
	int64_t		sampled[2] = {0, 0};
	FmSynthRow	first[2][10];

	for (int t = 0; t < 2; t++)
	{
		FmSynth		s;
		FmSynthRow	row;
		FmIdMapData seen;
		uint32_t	found;
		int64_t		n = 0;
		bool		distinct = true;

		CHECK(FmSynthCreate(300, 400, 20000, 3, 0.5, 0, 0, &s, err, sizeof(err)) == FM_OK, "%s", err);
		if (t == 0)
		{
			CHECK(FmSynthSetTaste(s, -1, err, sizeof(err)) == FM_ERR_PARAM, "negative taste");
			CHECK(FmSynthSetTaste(s, FM_SYNTH_MAX_TASTE + 1, err, sizeof(err)) == FM_ERR_PARAM,
				  "taste past the maximum");
		}
		else
			CHECK(FmSynthSetTaste(s, 19, err, sizeof(err)) == FM_OK, "%s", err);
		FmIdMapInit(&seen, 20000);
		while (FmSynthNext(s, &row))
		{
			if (n < 10)
				first[t][n] = row;
			if (n >= 400)
			{
				mean[t] += row.expected;
				sampled[t]++;
			}
			FmIdMapPut(&seen, row.user * 1000 + row.item, 1, &found);
			n++;
			if (seen.count != (size_t) n)
				distinct = false;
		}
		CHECK(n == 20000 && distinct, "taste %d: %lld rows, distinct %d", t ? 19 : 0, (long long) n, distinct);
		FmIdMapFree(&seen);
		FmSynthFree(s);
		mean[t] /= (double) sampled[t];
	}
	CHECK(memcmp(first[0], first[1], sizeof(first[0])) == 0, "the covering rows do not depend on taste");
	CHECK(mean[1] > mean[0] + 0.5, "taste 19 picks liked items: mean expected %.3f against %.3f",
		  mean[1], mean[0]);
}

/*
 * A known objective of the shape tuning meets: a learning rate and a
 * regularization, each best at one value on a log scale, and a solver of
 * three of which one is best: (log10(lr) + 2)^2 + (log10(reg) + 1)^2, plus
 * 0.3 unless the third solver.
 */
static double
TuneObjective(const double *x)
{
	double		a = log10(x[0]) + 2.0;
	double		b = log10(x[1]) + 1.0;

	return a * a + b * b + ((int) x[2] == 2 ? 0.0 : 0.3);
}

/*
 * fm_tune's search: the space's checks, a grid enumerated exactly once,
 * random points in bounds and reproducible, and TPE beating random search
 * at equal budget on a known objective (mean best over 100 seeds, by a
 * fifth at least).
 */
static void
TestTune(void)
{
	FmTuneParam p[3] = {{.name = "learning_rate", .kind = FM_TUNE_RANGE, .lo = 1e-5, .hi = 1.0, .log = true},
	{.name = "solver", .kind = FM_TUNE_LIST, .n_values = 4},
	{.name = "reg_factors", .kind = FM_TUNE_RANGE, .lo = 1e-4, .hi = 10.0, .log = true}};
	FmTuneSpaceData s = {2, p};
	FmTuneSpaceData s3 = {3, p};
	FmTuneParam bad;
	FmTuneSpaceData one = {1, &bad};
	double		x[2];
	double		mean[2] = {0, 0};
	int			seen[12] = {0};
	bool		ok = true;

	CHECK(FmTuneCheck(&s, FM_TUNE_RANDOM, 20, err, sizeof(err)) == FM_OK, "%s", err);
	CHECK(FmTuneCheck(&s, FM_TUNE_GRID, 20, err, sizeof(err)) == FM_ERR_PARAM, "grid without steps");
	bad = (FmTuneParam) {.name = "reg_factors", .kind = FM_TUNE_RANGE, .lo = 0.0, .hi = 1.0, .log = true};
	CHECK(FmTuneCheck(&one, FM_TUNE_RANDOM, 20, err, sizeof(err)) == FM_ERR_PARAM &&
		  strstr(err, "min > 0") != NULL, "log range with min 0: %s", err);
	bad = (FmTuneParam) {.name = "reg_factors", .kind = FM_TUNE_RANGE, .lo = 2.0, .hi = 1.0};
	CHECK(FmTuneCheck(&one, FM_TUNE_RANDOM, 20, err, sizeof(err)) == FM_ERR_PARAM, "min > max");
	bad = (FmTuneParam) {.name = "factors", .kind = FM_TUNE_LIST, .n_values = 0};
	CHECK(FmTuneCheck(&one, FM_TUNE_RANDOM, 20, err, sizeof(err)) == FM_ERR_PARAM, "empty list");
	bad = (FmTuneParam) {.name = "factors", .kind = FM_TUNE_RANGE, .lo = 1.2, .hi = 1.8, .integer = true};
	CHECK(FmTuneCheck(&one, FM_TUNE_RANDOM, 20, err, sizeof(err)) == FM_ERR_PARAM, "no integer in range");

	/* a grid of 3 steps x 4 values: 12 points, each once, then none */
	p[0].steps = 3;
	CHECK(FmTuneGridSize(&s) == 12, "grid size %llu", (unsigned long long) FmTuneGridSize(&s));
	CHECK(FmTuneCheck(&s, FM_TUNE_GRID, 11, err, sizeof(err)) == FM_ERR_LIMIT, "grid past the budget");
	for (int t = 0; t < 12; t++)
	{
		int			step;

		FmTunePropose(&s, FM_TUNE_GRID, t, 1, NULL, NULL, 0, x);
		step = (int) round(log10(x[0]) / 2.5 + 2.0);	/* 1e-5, 10^-2.5, 1 */
		if (step < 0 || step > 2)
			ok = false;
		else
			seen[step * 4 + (int) x[1]]++;
	}
	for (int k = 0; k < 12; k++)
		ok = ok && seen[k] == 1;
	CHECK(ok, "the grid visits each of its 12 points once");
	CHECK(!FmTunePropose(&s, FM_TUNE_GRID, 12, 1, NULL, NULL, 0, x), "the grid is exhausted");
	p[0].steps = 0;

	/* the objective's order: learning_rate, reg_factors, solver (3 of them) */
	p[1] = (FmTuneParam) {.name = "reg_factors", .kind = FM_TUNE_RANGE, .lo = 1e-4, .hi = 10.0, .log = true};
	p[2] = (FmTuneParam) {.name = "solver", .kind = FM_TUNE_LIST, .n_values = 3};
	for (int strategy = 0; strategy < 2; strategy++)
	{
		FmTuneStrategy st = strategy == 0 ? FM_TUNE_RANDOM : FM_TUNE_TPE;

		for (uint64_t seed = 1; seed <= 100; seed++)
		{
			double		hx[3 * 20];
			double		hy[20];
			double		best = INFINITY;

			for (int t = 0; t < 20; t++)
			{
				double	   *pt = hx + 3 * t;

				FmTunePropose(&s3, st, t, seed, hx, hy, t, pt);
				if (pt[0] < p[0].lo || pt[0] > p[0].hi || pt[1] < p[1].lo || pt[1] > p[1].hi ||
					pt[2] < 0 || pt[2] > 2)
					ok = false;
				hy[t] = TuneObjective(pt);
				best = hy[t] < best ? hy[t] : best;
			}
			mean[strategy] += best / 100;
		}
	}
	CHECK(ok, "every proposal lies in the space");
	CHECK(mean[1] < 0.8 * mean[0], "TPE finds better points than random search in 20 trials: mean best %.4f against %.4f",
		  mean[1], mean[0]);
	printf("# tune: mean best of 20 trials over 100 seeds, random %.4f, TPE %.4f\n", mean[0], mean[1]);
	{
		double		a[2],
					b[2];
		double		hx[2] = {0.01, 2};
		double		hy[1] = {0.0};

		FmTunePropose(&s, FM_TUNE_TPE, 1, 7, hx, hy, 1, a);
		FmTunePropose(&s, FM_TUNE_TPE, 1, 7, hx, hy, 1, b);
		CHECK(a[0] == b[0] && a[1] == b[1], "proposals are reproducible from the seed");
	}
	{
		/* median stopping: three finished trials, first-fold means 1, 2, 3 */
		double		fin[9] = {1, 1, 1, 2, 2, 2, 3, 3, 3};
		double		worse[3] = {2.5, NAN, NAN};
		double		better[3] = {1.5, NAN, NAN};

		CHECK(FmTuneStop(fin, 3, 3, worse, 0, false), "worse than the median after fold 1: stops");
		CHECK(!FmTuneStop(fin, 3, 3, better, 0, false), "better than the median: goes on");
		CHECK(FmTuneStop(fin, 3, 3, better, 0, true), "maximizing, below the median: stops");
		CHECK(!FmTuneStop(fin, 2, 3, worse, 0, false), "fewer than three finished trials: goes on");
		CHECK(!FmTuneStop(fin, 3, 3, worse, 2, false), "never after the last fold");
	}
}

int
main(void)
{
	TestIdMap();
	TestDataset();
	TestParams();
	TestMetrics();
	TestCodec();
	TestDeterminism();
	TestTrainerSteps();
	TestTopn();
	TestBinary();
	TestFeatures();
	TestContext();
	TestQuality();
	TestSolvers();
	TestTrainMemory();
	TestEvaluate();
	TestImplicit();
	TestImplicitFeatures();
	TestServing();
	TestInterop();
	TestSynthTaste();
	TestTune();
	printf("core: %d passed, %d failed\n", passed, failed);
	return failed > 0;
}
