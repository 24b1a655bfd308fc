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

/* attribute lists as (counts, feature deltas); values are copied as is */
static bool
EncodeLists(const FmListsData *l, uint32_t n, uint64_t total,
			uint32_t **counts, uint32_t **deltas)
{
	*counts = malloc(((size_t) n + 1) * sizeof(uint32_t));
	*deltas = malloc((total ? total : 1) * sizeof(uint32_t));
	if (*counts == NULL || *deltas == NULL)
		return false;
	for (uint32_t e = 0; e < n; e++)
	{
		uint32_t	prev = 0;

		(*counts)[e] = (uint32_t) (l->off[e + 1] - l->off[e]);
		for (uint64_t a = l->off[e]; a < l->off[e + 1]; a++)
		{
			(*deltas)[a] = l->feat[a] - prev;
			prev = l->feat[a];
		}
	}
	return true;
}

/* indexes e with rated[e] == 0, as differences */
static uint32_t *
EncodeUnrated(const uint8_t *rated, uint32_t n, size_t *count)
{
	uint32_t   *out = malloc(((size_t) n + 1) * sizeof(uint32_t));
	uint32_t	prev = 0;

	*count = 0;
	if (out == NULL)
		return NULL;
	for (uint32_t e = 0; e < n; e++)
		if (!rated[e])
		{
			out[(*count)++] = e - prev;
			prev = e;
		}
	return out;
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
	uint32_t   *ucounts = NULL,
			   *udeltas = NULL,
			   *icounts = NULL,
			   *ideltas = NULL,
			   *unrated_u = NULL,
			   *unrated_i = NULL;
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

	if (FmModelHasFeatures(m))
	{
		uint64_t	nua = m->uattr.off[m->n_users];
		uint64_t	nia = m->iattr.off[m->n_items];
		size_t		k = m->k;

		msg.has_has_features = 1;
		msg.has_features = 1;
		msg.n_user_feature_names = m->ufeat.n;
		msg.user_feature_names = m->ufeat.names;
		msg.n_user_feature_linear = m->ufeat.n;
		msg.user_feature_linear = m->wuf;
		msg.n_user_feature_factors = m->ufeat.n * k;
		msg.user_feature_factors = m->vuf;
		msg.n_item_feature_names = m->ifeat.n;
		msg.item_feature_names = m->ifeat.names;
		msg.n_item_feature_linear = m->ifeat.n;
		msg.item_feature_linear = m->wif;
		msg.n_item_feature_factors = m->ifeat.n * k;
		msg.item_feature_factors = m->vif;
		msg.n_context_feature_names = m->cfeat.n;
		msg.context_feature_names = m->cfeat.names;
		msg.n_context_feature_linear = m->cfeat.n;
		msg.context_feature_linear = m->wcf;
		msg.n_context_feature_factors = m->cfeat.n * k;
		msg.context_feature_factors = m->vcf;
		if (!EncodeLists(&m->uattr, m->n_users, nua, &ucounts, &udeltas) ||
			!EncodeLists(&m->iattr, m->n_items, nia, &icounts, &ideltas))
			goto done;
		if (nua > 0)
		{
			msg.n_user_attr_counts = m->n_users;
			msg.user_attr_counts = ucounts;
			msg.n_user_attr_features = nua;
			msg.user_attr_features = udeltas;
			msg.n_user_attr_values = nua;
			msg.user_attr_values = m->uattr.val;
		}
		if (nia > 0)
		{
			msg.n_item_attr_counts = m->n_items;
			msg.item_attr_counts = icounts;
			msg.n_item_attr_features = nia;
			msg.item_attr_features = ideltas;
			msg.n_item_attr_values = nia;
			msg.item_attr_values = m->iattr.val;
		}
		if ((unrated_u = EncodeUnrated(m->user_rated, m->n_users, &msg.n_unrated_users)) == NULL ||
			(unrated_i = EncodeUnrated(m->item_rated, m->n_items, &msg.n_unrated_items)) == NULL)
			goto done;
		msg.unrated_users = unrated_u;
		msg.unrated_items = unrated_i;
	}

#define SET(field, value) (info.has_##field = 1, info.field = (value))
	SET(solver, (uint32_t) m->params.solver);
	SET(burn_in, (uint32_t) m->params.burn_in);
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
	free(ucounts);
	free(udeltas);
	free(icounts);
	free(ideltas);
	free(unrated_u);
	free(unrated_i);
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
	if (!msg->has_features &&
		(msg->n_user_feature_names || msg->n_item_feature_names ||
		 msg->n_context_feature_names || msg->n_user_attr_counts ||
		 msg->n_item_attr_counts || msg->n_unrated_users || msg->n_unrated_items))
		return Corrupt(err, errlen, "feature fields in a model without features");
	return FM_OK;
}

/* Checks and copies one namespace's names and parameters. */
static FmStatus
DecodeNames(char **names, size_t n_names, const float *lin, size_t n_lin,
			const float *fac, size_t n_fac, size_t k, FmNamesData *out,
			float *w, float *v, const char *what, char *err, size_t errlen)
{
	if (n_lin != n_names || n_fac != n_names * k)
		return Corrupt(err, errlen, "%s feature parameters do not match the names", what);
	if (!AllFinite(lin, n_lin) || !AllFinite(fac, n_fac))
		return Corrupt(err, errlen, "non-finite %s feature parameters", what);
	for (size_t j = 0; j < n_names; j++)
		if ((out->names[j] = strdup(names[j])) == NULL)
			return FM_ERR_NOMEM;
	memcpy(w, lin, n_lin * sizeof(float));
	memcpy(v, fac, n_fac * sizeof(float));
	return FM_OK;
}

/* Checks and decodes attribute lists of n entities over n_feat features. */
static FmStatus
DecodeLists(const uint32_t *counts, size_t n_counts, const uint32_t *deltas,
			size_t n_deltas, const float *vals, size_t n_vals, uint32_t n,
			uint32_t n_feat, FmListsData *out, const char *what, char *err,
			size_t errlen)
{
	uint64_t	total = 0;

	if (n_counts == 0)
	{
		if (n_deltas != 0 || n_vals != 0)
			return Corrupt(err, errlen, "%s attributes without counts", what);
		return FM_OK;			/* off[] is all zero already */
	}
	if (n_counts != n || n_deltas != n_vals)
		return Corrupt(err, errlen, "%s attribute lists do not match the counts", what);
	for (uint32_t e = 0; e < n; e++)
	{
		uint64_t	acc = 0;

		out->off[e] = total;
		for (uint32_t c = 0; c < counts[e]; c++, total++)
		{
			if (total >= n_deltas || (c > 0 && deltas[total] == 0) ||
				acc + deltas[total] >= n_feat || !isfinite(vals[total]))
				return Corrupt(err, errlen, "%s attributes of entry %u are out of order or range",
							   what, e);
			acc += deltas[total];
			out->feat[total] = (uint32_t) acc;
			out->val[total] = vals[total];
		}
	}
	if (total != n_deltas)
		return Corrupt(err, errlen, "%s attribute counts do not add up", what);
	out->off[n] = total;
	return FM_OK;
}

/* Marks unrated entities (0) from ascending index deltas; others are 1. */
static FmStatus
DecodeUnrated(const uint32_t *d, size_t nd, uint32_t n, uint8_t *rated,
			  const char *what, char *err, size_t errlen)
{
	uint64_t	acc = 0;

	memset(rated, 1, n);
	for (size_t j = 0; j < nd; j++)
	{
		if ((j > 0 && d[j] == 0) || acc + d[j] >= n)
			return Corrupt(err, errlen, "unrated %s list is out of order or range", what);
		acc += d[j];
		rated[acc] = 0;
	}
	return FM_OK;
}

static FmStatus
DecodeFeatures(const Fmrec__Model *msg, FmModel m, char *err, size_t errlen)
{
	size_t		k = m->k;
	FmStatus	st;

	if (msg->n_user_feature_names > FM_MAX_IDS || msg->n_item_feature_names > FM_MAX_IDS ||
		msg->n_context_feature_names > FM_MAX_IDS)
		return Corrupt(err, errlen, "too many features");
	if (FmModelAllocFeatures(m, (uint32_t) msg->n_user_feature_names,
							 (uint32_t) msg->n_item_feature_names,
							 (uint32_t) msg->n_context_feature_names,
							 msg->n_user_attr_features,
							 msg->n_item_attr_features) != FM_OK)
	{
		snprintf(err, errlen, "out of memory decoding features");
		return FM_ERR_NOMEM;
	}
	if ((st = DecodeNames(msg->user_feature_names, msg->n_user_feature_names,
						  msg->user_feature_linear, msg->n_user_feature_linear,
						  msg->user_feature_factors, msg->n_user_feature_factors,
						  k, &m->ufeat, m->wuf, m->vuf, "user", err, errlen)) != FM_OK ||
		(st = DecodeNames(msg->item_feature_names, msg->n_item_feature_names,
						  msg->item_feature_linear, msg->n_item_feature_linear,
						  msg->item_feature_factors, msg->n_item_feature_factors,
						  k, &m->ifeat, m->wif, m->vif, "item", err, errlen)) != FM_OK ||
		(st = DecodeNames(msg->context_feature_names, msg->n_context_feature_names,
						  msg->context_feature_linear, msg->n_context_feature_linear,
						  msg->context_feature_factors, msg->n_context_feature_factors,
						  k, &m->cfeat, m->wcf, m->vcf, "context", err, errlen)) != FM_OK ||
		(st = DecodeLists(msg->user_attr_counts, msg->n_user_attr_counts,
						  msg->user_attr_features, msg->n_user_attr_features,
						  msg->user_attr_values, msg->n_user_attr_values,
						  m->n_users, m->ufeat.n, &m->uattr, "user", err, errlen)) != FM_OK ||
		(st = DecodeLists(msg->item_attr_counts, msg->n_item_attr_counts,
						  msg->item_attr_features, msg->n_item_attr_features,
						  msg->item_attr_values, msg->n_item_attr_values,
						  m->n_items, m->ifeat.n, &m->iattr, "item", err, errlen)) != FM_OK ||
		(st = DecodeUnrated(msg->unrated_users, msg->n_unrated_users, m->n_users,
							m->user_rated, "user", err, errlen)) != FM_OK ||
		(st = DecodeUnrated(msg->unrated_items, msg->n_unrated_items, m->n_items,
							m->item_rated, "item", err, errlen)) != FM_OK)
		return st;
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

		m->params.solver = t->solver <= FM_SOLVER_MCMC ? (FmSolver) t->solver : FM_SOLVER_SGD;
		m->params.burn_in = (int) t->burn_in;
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
	if (msg->has_features && (st = DecodeFeatures(msg, m, err, errlen)) != FM_OK)
		goto done;
	if ((st = FmModelIndex(m)) != FM_OK)
	{
		if (st == FM_ERR_CORRUPT)
			Corrupt(err, errlen, "duplicate feature names");
		else
			snprintf(err, errlen, "out of memory indexing a model");
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
