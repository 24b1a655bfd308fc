/*
 * codec.c
 *	  Model <-> protobuf bytes (proto/fmrec.proto).
 *
 * Decoding trusts nothing: protobuf-c checks the wire format and bounds
 * every length by the input size (so no allocation exceeds a small
 * multiple of the input), and this file then checks the magic number, the
 * format version, every count against the others, id order, seen-list
 * order and ranges, and that every parameter is finite.  Any failure is
 * FM_ERR_CORRUPT with a message saying what was wrong.  Nothing
 * run-dependent (time, names) is encoded, so equal models give equal
 * bytes.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "fmrec.pb-c.h"

static FmStatus Corrupt(char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static FmStatus
Corrupt(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return FM_ERR_CORRUPT;
}

static uint64_t *
DeltaIds(const int64_t *ids, size_t n)
{
	uint64_t   *d = malloc((n ? n : 1) * sizeof(uint64_t));
	uint64_t	prev = 0;

	if (d == NULL)
		return NULL;
	for (size_t j = 0; j < n; j++)
	{
		d[j] = (uint64_t) ids[j] - prev;
		prev = (uint64_t) ids[j];
	}
	return d;
}

FmStatus
FmModelEncode(const FmModelData *m, uint8_t **bytes, size_t *len)
{
	Fmrec__Model msg = FMREC__MODEL__INIT;
	Fmrec__TrainInfo info = FMREC__TRAIN_INFO__INIT;
	uint64_t   *uids;
	uint64_t   *iids;
	uint32_t   *counts = NULL;
	uint32_t   *deltas = NULL;
	uint64_t	n_seen = m->seen_off[m->n_users];
	FmStatus	st = FM_ERR_NOMEM;

	*bytes = NULL;
	uids = DeltaIds(m->user_ids, m->n_users);
	iids = DeltaIds(m->item_ids, m->n_items);
	if (uids == NULL || iids == NULL)
		goto done;
	if (n_seen > 0)
	{
		counts = malloc(m->n_users * sizeof(uint32_t));
		deltas = malloc(n_seen * sizeof(uint32_t));
		if (counts == NULL || deltas == NULL)
			goto done;
		for (uint32_t u = 0; u < m->n_users; u++)
		{
			uint32_t	prev = 0;

			counts[u] = (uint32_t) (m->seen_off[u + 1] - m->seen_off[u]);
			for (uint64_t s = m->seen_off[u]; s < m->seen_off[u + 1]; s++)
			{
				deltas[s] = m->seen[s] - prev;
				prev = m->seen[s];
			}
		}
		msg.n_seen_counts = m->n_users;
		msg.seen_counts = counts;
		msg.n_seen_items = n_seen;
		msg.seen_items = deltas;
	}

	msg.magic = FM_MAGIC;
	msg.format_version = FM_FORMAT_VERSION;
	msg.task = (uint32_t) m->task;
	msg.factors = (uint32_t) m->k;
	msg.global_bias = m->w0;
	msg.min_rating = m->min_rating;
	msg.max_rating = m->max_rating;
	msg.threshold = m->threshold;
	msg.n_user_ids = m->n_users;
	msg.user_ids = uids;
	msg.n_item_ids = m->n_items;
	msg.item_ids = iids;
	msg.n_user_linear = m->n_users;
	msg.user_linear = m->wu;
	msg.n_item_linear = m->n_items;
	msg.item_linear = m->wi;
	msg.n_user_factors = (size_t) m->n_users * m->k;
	msg.user_factors = m->vu;
	msg.n_item_factors = (size_t) m->n_items * m->k;
	msg.item_factors = m->vi;

#define SET(field, value) (info.has_##field = 1, info.field = (value))
	SET(solver, 0);
	SET(epochs, (uint32_t) m->params.epochs);
	SET(batch_size, (uint32_t) m->params.batch_size);
	SET(learning_rate, m->params.learning_rate);
	SET(reg_bias, m->params.reg_bias);
	SET(reg_linear, m->params.reg_linear);
	SET(reg_factors, m->params.reg_factors);
	SET(init_stdev, m->params.init_stdev);
	SET(validation, m->params.validation);
	SET(patience, (uint32_t) m->params.patience);
	SET(seed, m->params.seed);
	SET(rows, m->info.rows);
	SET(train_rows, m->info.train_rows);
	SET(epochs_run, m->info.epochs_run);
	SET(best_epoch, m->info.best_epoch);
	SET(train_loss, m->info.train_loss);
	if (!isnan(m->info.valid_rmse))
		SET(valid_rmse, m->info.valid_rmse);
	if (!isnan(m->info.valid_auc))
		SET(valid_auc, m->info.valid_auc);
	if (!isnan(m->info.valid_logloss))
		SET(valid_logloss, m->info.valid_logloss);
#undef SET
	msg.train = &info;

	*len = fmrec__model__get_packed_size(&msg);
	*bytes = malloc(*len ? *len : 1);
	if (*bytes == NULL)
		goto done;
	fmrec__model__pack(&msg, *bytes);
	st = FM_OK;
done:
	free(uids);
	free(iids);
	free(counts);
	free(deltas);
	return st;
}

static bool
AllFinite(const float *v, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (!isfinite(v[j]))
			return false;
	return true;
}

static FmStatus
Check(const Fmrec__Model *msg, char *err, size_t errlen)
{
	size_t		nu = msg->n_user_ids;
	size_t		ni = msg->n_item_ids;
	size_t		k = msg->factors;

	if (msg->magic != FM_MAGIC)
		return Corrupt(err, errlen, "bad magic number %08x", msg->magic);
	if (msg->format_version != FM_FORMAT_VERSION)
		return Corrupt(err, errlen, "unsupported model format version %u",
					   msg->format_version);
	if (msg->task > FM_TASK_BINARY)
		return Corrupt(err, errlen, "unknown task %u", msg->task);
	if (k < 1 || k > FM_MAX_FACTORS)
		return Corrupt(err, errlen, "factor count %zu is out of range", k);
	if (nu > FM_MAX_IDS || ni > FM_MAX_IDS)
		return Corrupt(err, errlen, "too many ids");
	if (msg->n_user_linear != nu || msg->n_item_linear != ni)
		return Corrupt(err, errlen, "linear weights do not match the id counts");
	/* nu, ni < 2^31 and k <= 1024, so the products cannot overflow */
	if (msg->n_user_factors != nu * k || msg->n_item_factors != ni * k)
		return Corrupt(err, errlen, "factor matrices do not match the id counts");
	if (!isfinite(msg->global_bias) || !isfinite(msg->min_rating) ||
		!isfinite(msg->max_rating) || !isfinite(msg->threshold) ||
		msg->min_rating > msg->max_rating)
		return Corrupt(err, errlen, "non-finite or inconsistent scalar parameters");
	if (!AllFinite(msg->user_linear, nu) || !AllFinite(msg->item_linear, ni) ||
		!AllFinite(msg->user_factors, nu * k) ||
		!AllFinite(msg->item_factors, ni * k))
		return Corrupt(err, errlen, "non-finite parameter values");
	if (msg->n_seen_counts != 0 && msg->n_seen_counts != nu)
		return Corrupt(err, errlen, "seen lists do not match the user count");
	if (msg->n_seen_counts == 0 && msg->n_seen_items != 0)
		return Corrupt(err, errlen, "seen items without seen counts");
	return FM_OK;
}

/* Undoes the id deltas, checking that ids strictly ascend. */
static bool
UndeltaIds(const uint64_t *d, size_t n, int64_t *ids)
{
	uint64_t	acc = 0;

	for (size_t j = 0; j < n; j++)
	{
		acc += d[j];
		ids[j] = (int64_t) acc;
		if (j > 0 && ids[j] <= ids[j - 1])
			return false;
	}
	return true;
}

FmStatus
FmModelDecode(const uint8_t *bytes, size_t len, FmModel *out,
			  char *err, size_t errlen)
{
	Fmrec__Model *msg;
	FmModel		m = NULL;
	uint64_t	total = 0;
	FmStatus	st;

	*out = NULL;
	msg = fmrec__model__unpack(NULL, len, bytes);
	if (msg == NULL)
		return Corrupt(err, errlen, "the bytes are not a valid model message");
	if ((st = Check(msg, err, errlen)) != FM_OK)
		goto done;
	for (size_t u = 0; u < msg->n_seen_counts; u++)
		total += msg->seen_counts[u];
	if (total != msg->n_seen_items)
	{
		st = Corrupt(err, errlen, "seen counts add up to %llu, not %zu",
					 (unsigned long long) total, msg->n_seen_items);
		goto done;
	}
	m = FmModelAlloc((FmTask) msg->task, (int) msg->factors,
					 (uint32_t) msg->n_user_ids, (uint32_t) msg->n_item_ids,
					 total);
	if (m == NULL)
	{
		snprintf(err, errlen, "out of memory decoding a model of %zu bytes", len);
		st = FM_ERR_NOMEM;
		goto done;
	}
	if (!UndeltaIds(msg->user_ids, m->n_users, m->user_ids) ||
		!UndeltaIds(msg->item_ids, m->n_items, m->item_ids))
	{
		st = Corrupt(err, errlen, "ids are not strictly ascending");
		goto done;
	}
	total = 0;
	for (size_t u = 0; u < msg->n_seen_counts; u++)
	{
		uint64_t	acc = 0;

		m->seen_off[u] = total;
		for (uint32_t c = 0; c < msg->seen_counts[u]; c++, total++)
		{
			uint64_t	d = msg->seen_items[total];

			if ((c > 0 && d == 0) || acc + d >= m->n_items)
			{
				st = Corrupt(err, errlen, "seen items of user %zu are out of order or range", u);
				goto done;
			}
			acc += d;
			m->seen[total] = (uint32_t) acc;
		}
	}
	for (size_t u = msg->n_seen_counts; u <= m->n_users; u++)
		m->seen_off[u] = total;

	memcpy(m->wu, msg->user_linear, m->n_users * sizeof(float));
	memcpy(m->wi, msg->item_linear, m->n_items * sizeof(float));
	memcpy(m->vu, msg->user_factors, msg->n_user_factors * sizeof(float));
	memcpy(m->vi, msg->item_factors, msg->n_item_factors * sizeof(float));
	m->w0 = msg->global_bias;
	m->min_rating = msg->min_rating;
	m->max_rating = msg->max_rating;
	m->threshold = msg->threshold;
	m->params.threshold = msg->threshold;
	if (msg->train)
	{
		const Fmrec__TrainInfo *t = msg->train;

		m->params.epochs = (int) t->epochs;
		m->params.batch_size = (int) t->batch_size;
		m->params.learning_rate = t->learning_rate;
		m->params.reg_bias = t->reg_bias;
		m->params.reg_linear = t->reg_linear;
		m->params.reg_factors = t->reg_factors;
		m->params.init_stdev = t->init_stdev;
		m->params.validation = t->validation;
		m->params.patience = (int) t->patience;
		m->params.seed = t->seed;
		m->params.store_seen = msg->n_seen_counts > 0;
		m->info.rows = t->rows;
		m->info.train_rows = t->train_rows;
		m->info.epochs_run = t->epochs_run;
		m->info.best_epoch = t->best_epoch;
		m->info.train_loss = t->train_loss;
		m->info.valid_rmse = t->has_valid_rmse ? t->valid_rmse : NAN;
		m->info.valid_auc = t->has_valid_auc ? t->valid_auc : NAN;
		m->info.valid_logloss = t->has_valid_logloss ? t->valid_logloss : NAN;
	}
	if (FmModelIndex(m) != FM_OK)
	{
		snprintf(err, errlen, "out of memory indexing a model");
		st = FM_ERR_NOMEM;
		goto done;
	}
	*out = m;
	m = NULL;
	st = FM_OK;
done:
	FmModelFree(m);
	fmrec__model__free_unpacked(msg, NULL);
	return st;
}
