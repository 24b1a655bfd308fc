/*
 * codec.c
 *	  Model <-> bytes (proto/fmrec.proto).
 *
 * Format 2, written by this version: a 20-byte envelope ("FMRC", the
 * format number, the payload's length and its CRC-32C) and one protobuf
 * Model message.  The envelope makes truncation and damage detectable
 * with certainty before any protobuf parsing: a wrong length or checksum
 * is FM_ERR_CORRUPT.  Format 1 (fmrec 0.1.0, no envelope, one ModelV1
 * message) is still read.
 *
 * Decoding trusts nothing: protobuf-c checks the wire format and bounds
 * every length by the input size (so no allocation exceeds a small
 * multiple of the input); both formats are then mapped to one neutral
 * description (Parts) and checked the same way: every count against the
 * others, id order, seen-list order and ranges, and that every parameter
 * is finite.  Nothing run-dependent (time, names of the model) is
 * encoded, so equal models give equal bytes.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "fmrec.pb-c.h"

#define ENVELOPE_BYTES 20
static const uint8_t envelope_magic[4] = {'F', 'M', 'R', 'C'};

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

/*
 * Ascending ids as differences to the previous one (modulo 2^64), for
 * compact varints.
 */
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

/* ---------------------------------------------------------------- */
/* CRC-32C (Castagnoli), as iSCSI and PostgreSQL's WAL use it */

static uint32_t crc_table[8][256];
static bool crc_ready = false;

/*
 * Fills the slicing-by-8 tables of the reflected CRC-32C polynomial
 * 0x82F63B78.
 */
static void
CrcInit(void)
{
	for (uint32_t b = 0; b < 256; b++)
	{
		uint32_t	c = b;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int t = 1; t < 8; t++)
			crc_table[t][b] = (crc_table[t - 1][b] >> 8) ^
				crc_table[0][crc_table[t - 1][b] & 0xFF];
	crc_ready = true;
}

/* CRC-32C of data[0..len), slicing by 8 (about 1 GB/s). */
uint32_t
FmCrc32c(const uint8_t *data, size_t len)
{
	uint32_t	c = 0xFFFFFFFFu;

	if (!crc_ready)
		CrcInit();
	while (len >= 8)
	{
		uint32_t	lo,
					hi;

		memcpy(&lo, data, 4);
		memcpy(&hi, data + 4, 4);
		lo ^= c;
		c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
			crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
			crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
			crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
		data += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ crc_table[0][(c ^ *data++) & 0xFF];
	return c ^ 0xFFFFFFFFu;
}

static void
PutLE(uint8_t *p, uint64_t v, int bytes)
{
	for (int j = 0; j < bytes; j++)
		p[j] = (uint8_t) (v >> (8 * j));
}

static uint64_t
GetLE(const uint8_t *p, int bytes)
{
	uint64_t	v = 0;

	for (int j = 0; j < bytes; j++)
		v |= (uint64_t) p[j] << (8 * j);
	return v;
}

/* ---------------------------------------------------------------- */
/* encoding (format 2) */

static void
SetBlock(Fmrec__FeatureBlock *b, const FmNamesData *names, const float *w,
		 const float *v, size_t k)
{
	b->n_names = names->n;
	b->names = names->names;
	b->n_linear = names->n;
	b->linear = (float *) w;
	b->n_factors = (size_t) names->n * k;
	b->factors = (float *) v;
}

/*
 * Encodes a model as format 2 bytes, malloc'ed into *bytes.  Returns
 * FM_ERR_LIMIT, with the size the bytes would have in *len, when they
 * would exceed max_len (checked before the output is allocated), and
 * FM_ERR_NOMEM when memory runs out.
 */
FmStatus
FmModelEncode(const FmModelData *m, size_t max_len, uint8_t **bytes, size_t *len)
{
	Fmrec__Model msg = FMREC__MODEL__INIT;
	Fmrec__Side users = FMREC__SIDE__INIT;
	Fmrec__Side items = FMREC__SIDE__INIT;
	Fmrec__FeatureBlock ublock = FMREC__FEATURE_BLOCK__INIT;
	Fmrec__FeatureBlock iblock = FMREC__FEATURE_BLOCK__INIT;
	Fmrec__FeatureBlock cblock = FMREC__FEATURE_BLOCK__INIT;
	Fmrec__SparseLists ulists = FMREC__SPARSE_LISTS__INIT;
	Fmrec__SparseLists ilists = FMREC__SPARSE_LISTS__INIT;
	Fmrec__SparseLists seen = FMREC__SPARSE_LISTS__INIT;
	Fmrec__SparseLists nbr = FMREC__SPARSE_LISTS__INIT;
	Fmrec__Hyperparams hp = FMREC__HYPERPARAMS__INIT;
	Fmrec__TrainResult res = FMREC__TRAIN_RESULT__INIT;
	uint64_t   *uids;
	uint64_t   *iids;
	uint32_t   *counts = NULL;
	uint32_t   *deltas = NULL;
	uint32_t   *ncounts = NULL;
	uint32_t   *ndeltas = NULL;
	uint32_t   *ucounts = NULL,
			   *udeltas = NULL,
			   *icounts = NULL,
			   *ideltas = NULL,
			   *unrated_u = NULL,
			   *unrated_i = NULL;
	uint64_t	n_seen = m->seen_off[m->n_users];
	size_t		payload;
	FmStatus	st = FM_ERR_NOMEM;

	*bytes = NULL;
	uids = DeltaIds(m->user_ids, m->n_users);
	iids = DeltaIds(m->item_ids, m->n_items);
	if (uids == NULL || iids == NULL)
		goto done;
	if (n_seen > 0)
	{
		FmListsData l = {m->seen_off, m->seen, NULL};

		if (!EncodeLists(&l, m->n_users, n_seen, &counts, &deltas))
			goto done;
		seen.n_counts = m->n_users;
		seen.counts = counts;
		seen.n_features = n_seen;
		seen.features = deltas;
		msg.seen = &seen;
	}
	if (m->item_count)
	{
		msg.n_item_counts = m->n_items;
		msg.item_counts = m->item_count;
	}
	if (m->nbr.off != NULL)
	{
		if (!EncodeLists(&m->nbr, m->n_items, m->n_nbr, &ncounts, &ndeltas))
			goto done;
		nbr.n_counts = m->n_items;
		nbr.counts = ncounts;
		nbr.n_features = m->n_nbr;
		nbr.features = ndeltas;
		nbr.n_values = m->n_nbr;
		nbr.values = m->nbr.val;
		msg.neighbors = &nbr;
	}

	msg.has_task = 1;
	msg.task = m->task == FM_TASK_BINARY ? FMREC__TASK__TASK_BINARY :
		(m->task == FM_TASK_IMPLICIT ? FMREC__TASK__TASK_IMPLICIT : FMREC__TASK__TASK_REGRESSION);
	msg.has_factors = 1;
	msg.factors = (uint32_t) m->k;
	msg.has_global_bias = 1;
	msg.global_bias = m->w0;
	msg.has_min_rating = 1;
	msg.min_rating = m->min_rating;
	msg.has_max_rating = 1;
	msg.max_rating = m->max_rating;
	msg.has_threshold = 1;
	msg.threshold = m->threshold;
	users.n_ids = m->n_users;
	users.ids = uids;
	users.n_linear = m->n_users;
	users.linear = m->wu;
	users.n_factors = (size_t) m->n_users * m->k;
	users.factors = m->vu;
	items.n_ids = m->n_items;
	items.ids = iids;
	items.n_linear = m->n_items;
	items.linear = m->wi;
	items.n_factors = (size_t) m->n_items * m->k;
	items.factors = m->vi;
	msg.users = &users;
	msg.items = &items;

	if (FmModelHasFeatures(m))
	{
		uint64_t	nua = m->uattr.off[m->n_users];
		uint64_t	nia = m->iattr.off[m->n_items];

		SetBlock(&ublock, &m->ufeat, m->wuf, m->vuf, m->k);
		SetBlock(&iblock, &m->ifeat, m->wif, m->vif, m->k);
		SetBlock(&cblock, &m->cfeat, m->wcf, m->vcf, m->k);
		users.attributes = &ublock;
		items.attributes = &iblock;
		msg.context = &cblock;
		if (!EncodeLists(&m->uattr, m->n_users, nua, &ucounts, &udeltas) ||
			!EncodeLists(&m->iattr, m->n_items, nia, &icounts, &ideltas))
			goto done;
		if (nua > 0)
		{
			ulists.n_counts = m->n_users;
			ulists.counts = ucounts;
			ulists.n_features = nua;
			ulists.features = udeltas;
			ulists.n_values = nua;
			ulists.values = m->uattr.val;
			users.attribute_lists = &ulists;
		}
		if (nia > 0)
		{
			ilists.n_counts = m->n_items;
			ilists.counts = icounts;
			ilists.n_features = nia;
			ilists.features = ideltas;
			ilists.n_values = nia;
			ilists.values = m->iattr.val;
			items.attribute_lists = &ilists;
		}
		if ((unrated_u = EncodeUnrated(m->user_rated, m->n_users, &users.n_unrated)) == NULL ||
			(unrated_i = EncodeUnrated(m->item_rated, m->n_items, &items.n_unrated)) == NULL)
			goto done;
		users.unrated = unrated_u;
		items.unrated = unrated_i;
	}

#define SET(msg, field, value) ((msg).has_##field = 1, (msg).field = (value))
	SET(hp, solver, (Fmrec__Solver) m->params.solver);
	SET(hp, burn_in, (uint32_t) m->params.burn_in);
	SET(hp, epochs, (uint32_t) m->params.epochs);
	SET(hp, batch_size, (uint32_t) m->params.batch_size);
	SET(hp, learning_rate, m->params.learning_rate);
	SET(hp, reg_bias, m->params.reg_bias);
	SET(hp, reg_linear, m->params.reg_linear);
	SET(hp, reg_factors, m->params.reg_factors);
	SET(hp, init_stdev, m->params.init_stdev);
	SET(hp, validation, m->params.validation);
	SET(hp, patience, (uint32_t) m->params.patience);
	SET(hp, seed, m->params.seed);
	SET(hp, store_seen, m->params.store_seen);
	if (m->task == FM_TASK_IMPLICIT)
	{
		SET(hp, alpha, m->params.alpha);
		SET(hp, unobserved_weight, m->params.unobserved_weight);
		SET(hp, reg_exponent, m->params.reg_exponent);
		SET(hp, log_epsilon, m->params.log_epsilon);
		SET(hp, strength_exponent, m->params.strength_exponent);
		SET(hp, strength_mean, m->params.strength_mean);
	}
	if (m->params.solver == FM_SOLVER_ITEM_COSINE)
		SET(hp, neighbors, (uint32_t) m->params.neighbors);
	SET(res, rows, m->info.rows);
	SET(res, train_rows, m->info.train_rows);
	SET(res, epochs_run, m->info.epochs_run);
	SET(res, best_epoch, m->info.best_epoch);
	SET(res, train_loss, m->info.train_loss);
	if (!isnan(m->info.valid_rmse))
		SET(res, valid_rmse, m->info.valid_rmse);
	if (!isnan(m->info.valid_auc))
		SET(res, valid_auc, m->info.valid_auc);
	if (!isnan(m->info.valid_logloss))
		SET(res, valid_logloss, m->info.valid_logloss);
#undef SET
	msg.hyperparams = &hp;
	msg.result = &res;

	payload = fmrec__model__get_packed_size(&msg);
	*len = ENVELOPE_BYTES + payload;
	if (*len > max_len)
	{
		st = FM_ERR_LIMIT;
		goto done;
	}
	*bytes = malloc(*len);
	if (*bytes == NULL)
		goto done;
	fmrec__model__pack(&msg, *bytes + ENVELOPE_BYTES);
	memcpy(*bytes, envelope_magic, 4);
	PutLE(*bytes + 4, FM_FORMAT_VERSION, 4);
	PutLE(*bytes + 8, payload, 8);
	PutLE(*bytes + 16, FmCrc32c(*bytes + ENVELOPE_BYTES, payload), 4);
	st = FM_OK;
done:
	free(uids);
	free(iids);
	free(counts);
	free(deltas);
	free(ncounts);
	free(ndeltas);
	free(ucounts);
	free(udeltas);
	free(icounts);
	free(ideltas);
	free(unrated_u);
	free(unrated_i);
	return st;
}

/* ---------------------------------------------------------------- */
/* decoding: both formats into Parts, then one set of checks */

typedef struct Block
{
	char	  **names;
	size_t		n_names;
	const float *lin;
	size_t		n_lin;
	const float *fac;
	size_t		n_fac;
} Block;

typedef struct Lists
{
	const uint32_t *counts;
	size_t		n_counts;
	const uint32_t *feat;
	size_t		n_feat;
	const float *vals;
	size_t		n_vals;
} Lists;

typedef struct SidePart
{
	const uint64_t *ids;
	size_t		n;
	const float *lin;
	size_t		n_lin;
	const float *fac;
	size_t		n_fac;
	Block		attrs;
	Lists		lists;
	const uint32_t *unrated;
	size_t		n_unrated;
} SidePart;

/* a model's parts, as either format lays them out */
typedef struct Parts
{
	uint32_t	task;
	uint32_t	factors;
	float		w0;
	float		min_rating;
	float		max_rating;
	float		threshold;
	SidePart	users;
	SidePart	items;
	Block		context;
	const uint32_t *seen_counts;
	size_t		n_seen_counts;
	const uint32_t *seen_items;
	size_t		n_seen_items;
	bool		has_features;
	bool		has_train;
	FmParamsData params;		/* solver, epochs, ... when has_train */
	bool		store_seen_given;	/* params.store_seen was stored (format 2) */
	const uint32_t *item_counts;	/* training rows per item, format 2 */
	size_t		n_item_counts;
	Lists		neighbors;		/* item-item models, format 2 */
	bool		has_neighbors;
	FmTrainInfoData info;
} Parts;

static void
BlockOf(const Fmrec__FeatureBlock *b, Block *out)
{
	if (b == NULL)
		return;
	out->names = b->names;
	out->n_names = b->n_names;
	out->lin = b->linear;
	out->n_lin = b->n_linear;
	out->fac = b->factors;
	out->n_fac = b->n_factors;
}

static void
ListsOf(const Fmrec__SparseLists *l, Lists *out)
{
	if (l == NULL)
		return;
	out->counts = l->counts;
	out->n_counts = l->n_counts;
	out->feat = l->features;
	out->n_feat = l->n_features;
	out->vals = l->values;
	out->n_vals = l->n_values;
}

/* Maps a format 2 side (users or items) to its neutral description. */
static void
SideOf(const Fmrec__Side *s, SidePart *out)
{
	if (s == NULL)
		return;
	out->ids = s->ids;
	out->n = s->n_ids;
	out->lin = s->linear;
	out->n_lin = s->n_linear;
	out->fac = s->factors;
	out->n_fac = s->n_factors;
	BlockOf(s->attributes, &out->attrs);
	ListsOf(s->attribute_lists, &out->lists);
	out->unrated = s->unrated;
	out->n_unrated = s->n_unrated;
}

/*
 * Maps a format 2 message to the neutral Parts; checks come later, in
 * Check and Build.
 */
/*
 * Format 1's TrainInfoV1 and format 2's Hyperparams and TrainResult name
 * their fields alike, so one copy serves both.
 */
#define COPY_HYPERPARAMS(dst, h) \
	do { \
		(dst)->solver = (FmSolver) (h)->solver; \
		(dst)->burn_in = (int) (h)->burn_in; \
		(dst)->epochs = (int) (h)->epochs; \
		(dst)->batch_size = (int) (h)->batch_size; \
		(dst)->learning_rate = (h)->learning_rate; \
		(dst)->reg_bias = (h)->reg_bias; \
		(dst)->reg_linear = (h)->reg_linear; \
		(dst)->reg_factors = (h)->reg_factors; \
		(dst)->init_stdev = (h)->init_stdev; \
		(dst)->validation = (h)->validation; \
		(dst)->patience = (int) (h)->patience; \
		(dst)->seed = (h)->seed; \
	} while (0)

#define COPY_RESULT(dst, r) \
	do { \
		(dst)->rows = (r)->rows; \
		(dst)->train_rows = (r)->train_rows; \
		(dst)->epochs_run = (r)->epochs_run; \
		(dst)->best_epoch = (r)->best_epoch; \
		(dst)->train_loss = (r)->train_loss; \
		(dst)->valid_rmse = (r)->has_valid_rmse ? (r)->valid_rmse : NAN; \
		(dst)->valid_auc = (r)->has_valid_auc ? (r)->valid_auc : NAN; \
		(dst)->valid_logloss = (r)->has_valid_logloss ? (r)->valid_logloss : NAN; \
	} while (0)

static FmStatus
FromV2(const Fmrec__Model *msg, Parts *p, char *err, size_t errlen)
{
	p->task = msg->has_task ? (uint32_t) msg->task : 0;
	p->factors = msg->factors;
	p->w0 = msg->global_bias;
	p->min_rating = msg->min_rating;
	p->max_rating = msg->max_rating;
	p->threshold = msg->threshold;
	SideOf(msg->users, &p->users);
	SideOf(msg->items, &p->items);
	BlockOf(msg->context, &p->context);
	if (msg->seen)
	{
		p->seen_counts = msg->seen->counts;
		p->n_seen_counts = msg->seen->n_counts;
		p->seen_items = msg->seen->features;
		p->n_seen_items = msg->seen->n_features;
		if (msg->seen->n_values)
			return Corrupt(err, errlen, "seen lists carry values");
	}
	p->item_counts = msg->item_counts;
	p->n_item_counts = msg->n_item_counts;
	p->has_neighbors = msg->neighbors != NULL;
	ListsOf(msg->neighbors, &p->neighbors);
	p->has_features = (msg->users && msg->users->attributes) ||
		(msg->items && msg->items->attributes) || msg->context;
	FmParamsDefault(&p->params);
	p->info.valid_rmse = p->info.valid_auc = p->info.valid_logloss = NAN;
	if (msg->hyperparams)
	{
		p->has_train = true;
		COPY_HYPERPARAMS(&p->params, msg->hyperparams);
		/* the flag as trained: seen lists can be empty with it on */
		p->store_seen_given = msg->hyperparams->has_store_seen;
		p->params.store_seen = msg->hyperparams->store_seen;
		if (msg->hyperparams->has_alpha)
			p->params.alpha = msg->hyperparams->alpha;
		if (msg->hyperparams->has_unobserved_weight)
			p->params.unobserved_weight = msg->hyperparams->unobserved_weight;
		if (msg->hyperparams->has_reg_exponent)
			p->params.reg_exponent = msg->hyperparams->reg_exponent;
		if (msg->hyperparams->has_log_epsilon)
			p->params.log_epsilon = msg->hyperparams->log_epsilon;
		/* without them (before 0.2's last change): every pair confidence 1 */
		if (msg->hyperparams->has_strength_exponent)
			p->params.strength_exponent = msg->hyperparams->strength_exponent;
		if (msg->hyperparams->has_strength_mean)
			p->params.strength_mean = msg->hyperparams->strength_mean;
		if (msg->hyperparams->has_neighbors)
			p->params.neighbors = (int) msg->hyperparams->neighbors;
	}
	if (msg->result)
		COPY_RESULT(&p->info, msg->result);
	return FM_OK;
}

/*
 * Maps a format 1 (0.1.0) message to the neutral Parts, checking what only
 * format 1 has: its magic, version and features flag.
 */
static FmStatus
FromV1(const Fmrec__ModelV1 *msg, Parts *p, char *err, size_t errlen)
{
	if (msg->magic != FM_MAGIC)
		return Corrupt(err, errlen, "bad magic number %08x", msg->magic);
	if (msg->format_version != 1)
		return Corrupt(err, errlen, "unsupported model format version %u",
					   msg->format_version);
	p->task = msg->task;
	p->factors = msg->factors;
	p->w0 = msg->global_bias;
	p->min_rating = msg->min_rating;
	p->max_rating = msg->max_rating;
	p->threshold = msg->threshold;
	p->users.ids = msg->user_ids;
	p->users.n = msg->n_user_ids;
	p->users.lin = msg->user_linear;
	p->users.n_lin = msg->n_user_linear;
	p->users.fac = msg->user_factors;
	p->users.n_fac = msg->n_user_factors;
	p->items.ids = msg->item_ids;
	p->items.n = msg->n_item_ids;
	p->items.lin = msg->item_linear;
	p->items.n_lin = msg->n_item_linear;
	p->items.fac = msg->item_factors;
	p->items.n_fac = msg->n_item_factors;
	p->seen_counts = msg->seen_counts;
	p->n_seen_counts = msg->n_seen_counts;
	p->seen_items = msg->seen_items;
	p->n_seen_items = msg->n_seen_items;
	p->has_features = msg->has_features;
	if (!msg->has_features &&
		(msg->n_user_feature_names || msg->n_item_feature_names ||
		 msg->n_context_feature_names || msg->n_user_attr_counts ||
		 msg->n_item_attr_counts || msg->n_unrated_users || msg->n_unrated_items))
		return Corrupt(err, errlen, "feature fields in a model without features");
	p->users.attrs = (Block) {msg->user_feature_names, msg->n_user_feature_names,
		msg->user_feature_linear, msg->n_user_feature_linear,
	msg->user_feature_factors, msg->n_user_feature_factors};
	p->items.attrs = (Block) {msg->item_feature_names, msg->n_item_feature_names,
		msg->item_feature_linear, msg->n_item_feature_linear,
	msg->item_feature_factors, msg->n_item_feature_factors};
	p->context = (Block) {msg->context_feature_names, msg->n_context_feature_names,
		msg->context_feature_linear, msg->n_context_feature_linear,
	msg->context_feature_factors, msg->n_context_feature_factors};
	p->users.lists = (Lists) {msg->user_attr_counts, msg->n_user_attr_counts,
		msg->user_attr_features, msg->n_user_attr_features,
	msg->user_attr_values, msg->n_user_attr_values};
	p->items.lists = (Lists) {msg->item_attr_counts, msg->n_item_attr_counts,
		msg->item_attr_features, msg->n_item_attr_features,
	msg->item_attr_values, msg->n_item_attr_values};
	p->users.unrated = msg->unrated_users;
	p->users.n_unrated = msg->n_unrated_users;
	p->items.unrated = msg->unrated_items;
	p->items.n_unrated = msg->n_unrated_items;
	FmParamsDefault(&p->params);
	p->info.valid_rmse = p->info.valid_auc = p->info.valid_logloss = NAN;
	if (msg->train)
	{
		/* format 1 kept hyperparameters and results in one message */
		p->has_train = true;
		COPY_HYPERPARAMS(&p->params, msg->train);
		COPY_RESULT(&p->info, msg->train);
	}
	return FM_OK;
}

static bool
AllFinite(const float *v, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (!isfinite(v[j]))
			return false;
	return true;
}

/* Checks the counts and scalars of a model's parts against each other. */
static FmStatus
Check(const Parts *p, char *err, size_t errlen)
{
	size_t		nu = p->users.n;
	size_t		ni = p->items.n;
	size_t		k = p->factors;

	if (p->task > FM_TASK_IMPLICIT)
		return Corrupt(err, errlen, "unknown task %u", p->task);
	if (k < 1 || k > FM_MAX_FACTORS)
		return Corrupt(err, errlen, "factor count %zu is out of range", k);
	if (nu > FM_MAX_IDS || ni > FM_MAX_IDS)
		return Corrupt(err, errlen, "too many ids");
	if (p->users.n_lin != nu || p->items.n_lin != ni)
		return Corrupt(err, errlen, "linear weights do not match the id counts");
	/* nu, ni < 2^31 and k <= 1024, so the products cannot overflow */
	if (p->users.n_fac != nu * k || p->items.n_fac != ni * k)
		return Corrupt(err, errlen, "factor matrices do not match the id counts");
	if (!isfinite(p->w0) || !isfinite(p->min_rating) ||
		!isfinite(p->max_rating) || !isfinite(p->threshold) ||
		p->min_rating > p->max_rating)
		return Corrupt(err, errlen, "non-finite or inconsistent scalar parameters");
	if (!AllFinite(p->users.lin, nu) || !AllFinite(p->items.lin, ni) ||
		!AllFinite(p->users.fac, nu * k) || !AllFinite(p->items.fac, ni * k))
		return Corrupt(err, errlen, "non-finite parameter values");
	if (p->n_seen_counts != 0 && p->n_seen_counts != nu)
		return Corrupt(err, errlen, "seen lists do not match the user count");
	if (p->n_seen_counts == 0 && p->n_seen_items != 0)
		return Corrupt(err, errlen, "seen items without seen counts");
	if (p->n_item_counts != 0 && p->n_item_counts != ni)
		return Corrupt(err, errlen, "item counts do not match the item count");
	if (p->has_train && !FmSolverKnown(p->params.solver))
		return Corrupt(err, errlen, "unknown solver %d", (int) p->params.solver);
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
	FmCopy(w, lin, n_lin * sizeof(float));
	FmCopy(v, fac, n_fac * sizeof(float));
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

/*
 * Checks and copies the side features of the parts: names and parameters
 * of the three namespaces, attribute lists, unrated ids.
 */
static FmStatus
DecodeFeatures(const Parts *p, FmModel m, char *err, size_t errlen)
{
	size_t		k = m->k;
	FmStatus	st;

	if (p->users.attrs.n_names > FM_MAX_IDS || p->items.attrs.n_names > FM_MAX_IDS ||
		p->context.n_names > FM_MAX_IDS)
		return Corrupt(err, errlen, "too many features");
	if (FmModelAllocFeatures(m, (uint32_t) p->users.attrs.n_names,
							 (uint32_t) p->items.attrs.n_names,
							 (uint32_t) p->context.n_names,
							 p->users.lists.n_feat, p->items.lists.n_feat) != FM_OK)
	{
		snprintf(err, errlen, "out of memory decoding features");
		return FM_ERR_NOMEM;
	}
	if ((st = DecodeNames(p->users.attrs.names, p->users.attrs.n_names,
						  p->users.attrs.lin, p->users.attrs.n_lin,
						  p->users.attrs.fac, p->users.attrs.n_fac,
						  k, &m->ufeat, m->wuf, m->vuf, "user", err, errlen)) != FM_OK ||
		(st = DecodeNames(p->items.attrs.names, p->items.attrs.n_names,
						  p->items.attrs.lin, p->items.attrs.n_lin,
						  p->items.attrs.fac, p->items.attrs.n_fac,
						  k, &m->ifeat, m->wif, m->vif, "item", err, errlen)) != FM_OK ||
		(st = DecodeNames(p->context.names, p->context.n_names,
						  p->context.lin, p->context.n_lin,
						  p->context.fac, p->context.n_fac,
						  k, &m->cfeat, m->wcf, m->vcf, "context", err, errlen)) != FM_OK ||
		(st = DecodeLists(p->users.lists.counts, p->users.lists.n_counts,
						  p->users.lists.feat, p->users.lists.n_feat,
						  p->users.lists.vals, p->users.lists.n_vals,
						  m->n_users, m->ufeat.n, &m->uattr, "user", err, errlen)) != FM_OK ||
		(st = DecodeLists(p->items.lists.counts, p->items.lists.n_counts,
						  p->items.lists.feat, p->items.lists.n_feat,
						  p->items.lists.vals, p->items.lists.n_vals,
						  m->n_items, m->ifeat.n, &m->iattr, "item", err, errlen)) != FM_OK ||
		(st = DecodeUnrated(p->users.unrated, p->users.n_unrated, m->n_users,
							m->user_rated, "user", err, errlen)) != FM_OK ||
		(st = DecodeUnrated(p->items.unrated, p->items.n_unrated, m->n_items,
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

/* Builds a model from checked parts. */
static FmStatus
Build(const Parts *p, size_t len, FmModel *out, char *err, size_t errlen)
{
	FmModel		m = NULL;
	uint64_t	total = 0;
	FmStatus	st;

	if ((st = Check(p, err, errlen)) != FM_OK)
		return st;
	if (!p->has_features &&
		(p->users.attrs.n_names || p->items.attrs.n_names || p->context.n_names ||
		 p->users.lists.n_counts || p->items.lists.n_counts ||
		 p->users.n_unrated || p->items.n_unrated))
		return Corrupt(err, errlen, "feature fields in a model without features");
	for (size_t u = 0; u < p->n_seen_counts; u++)
		total += p->seen_counts[u];
	if (total != p->n_seen_items)
		return Corrupt(err, errlen, "seen counts add up to %llu, not %zu",
					   (unsigned long long) total, p->n_seen_items);
	m = FmModelAlloc((FmTask) p->task, (int) p->factors,
					 (uint32_t) p->users.n, (uint32_t) p->items.n, total);
	if (m == NULL)
	{
		snprintf(err, errlen, "out of memory decoding a model of %zu bytes", len);
		return FM_ERR_NOMEM;
	}
	if (!UndeltaIds(p->users.ids, m->n_users, m->user_ids) ||
		!UndeltaIds(p->items.ids, m->n_items, m->item_ids))
	{
		st = Corrupt(err, errlen, "ids are not strictly ascending");
		goto done;
	}
	total = 0;
	for (size_t u = 0; u < p->n_seen_counts; u++)
	{
		uint64_t	acc = 0;

		m->seen_off[u] = total;
		for (uint32_t c = 0; c < p->seen_counts[u]; c++, total++)
		{
			uint64_t	d = p->seen_items[total];

			if ((c > 0 && d == 0) || acc + d >= m->n_items)
			{
				st = Corrupt(err, errlen, "seen items of user %zu are out of order or range", u);
				goto done;
			}
			acc += d;
			m->seen[total] = (uint32_t) acc;
		}
	}
	for (size_t u = p->n_seen_counts; u <= m->n_users; u++)
		m->seen_off[u] = total;

	/* sizes are checked; a zero-length copy may have a NULL source */
	if (m->n_users > 0)
	{
		FmCopy(m->wu, p->users.lin, m->n_users * sizeof(float));
		FmCopy(m->vu, p->users.fac, p->users.n_fac * sizeof(float));
	}
	if (m->n_items > 0)
	{
		FmCopy(m->wi, p->items.lin, m->n_items * sizeof(float));
		FmCopy(m->vi, p->items.fac, p->items.n_fac * sizeof(float));
	}
	m->w0 = p->w0;
	m->min_rating = p->min_rating;
	m->max_rating = p->max_rating;
	m->threshold = p->threshold;
	m->params.threshold = p->threshold;
	if (p->has_train)
	{
		m->params = p->params;
		m->params.task = (FmTask) p->task;
		m->params.factors = (int) p->factors;
		m->params.threshold = p->threshold;
		if (!p->store_seen_given)
			m->params.store_seen = p->n_seen_counts > 0;
		m->info = p->info;
	}
	if (p->n_item_counts > 0)
	{
		if ((m->item_count = malloc(p->n_item_counts * sizeof(uint32_t))) == NULL)
		{
			st = FM_ERR_NOMEM;
			goto done;
		}
		memcpy(m->item_count, p->item_counts, p->n_item_counts * sizeof(uint32_t));
		m->mem_bytes += p->n_item_counts * sizeof(uint32_t);
	}
	if (p->has_features && (st = DecodeFeatures(p, m, err, errlen)) != FM_OK)
		goto done;
	if (p->has_neighbors)
	{
		size_t		nn = p->neighbors.n_feat;

		m->nbr.off = calloc((size_t) m->n_items + 1, sizeof(uint64_t));
		m->nbr.feat = malloc((nn + 1) * sizeof(uint32_t));
		m->nbr.val = malloc((nn + 1) * sizeof(float));
		if (!m->nbr.off || !m->nbr.feat || !m->nbr.val)
		{
			st = FM_ERR_NOMEM;
			goto done;
		}
		if (p->neighbors.n_counts != m->n_items)
		{
			st = Corrupt(err, errlen, "neighbor lists do not match the item count");
			goto done;
		}
		if ((st = DecodeLists(p->neighbors.counts, p->neighbors.n_counts,
							  p->neighbors.feat, p->neighbors.n_feat,
							  p->neighbors.vals, p->neighbors.n_vals,
							  m->n_items, m->n_items, &m->nbr, "neighbor",
							  err, errlen)) != FM_OK)
			goto done;
		m->n_nbr = nn;
		m->mem_bytes += ((size_t) m->n_items + 1) * sizeof(uint64_t) +
			nn * (sizeof(uint32_t) + sizeof(float));
	}
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
	return st;
}

/* The format of model bytes: 2 (envelope), 1 (0.1.0), or 0 (neither). */
int
FmModelFormat(const uint8_t *bytes, size_t len)
{
	if (len >= 4 && memcmp(bytes, envelope_magic, 4) == 0)
		return len >= ENVELOPE_BYTES ? (int) GetLE(bytes + 4, 4) : 0;
	return len > 0 && bytes[0] == 0x0D ? 1 : 0;
}

/*
 * Decodes model bytes of either format.  Damaged bytes are FM_ERR_CORRUPT
 * with a message saying what was wrong; format 2 damage is always caught
 * by its length and checksum.
 */
FmStatus
FmModelDecode(const uint8_t *bytes, size_t len, FmModel *out,
			  char *err, size_t errlen)
{
	Parts		p;
	FmStatus	st;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	if (len >= 4 && memcmp(bytes, envelope_magic, 4) == 0)
	{
		Fmrec__Model *msg;
		uint64_t	payload;
		uint32_t	format;

		if (len < ENVELOPE_BYTES)
			return Corrupt(err, errlen, "the bytes end inside the header");
		format = (uint32_t) GetLE(bytes + 4, 4);
		payload = GetLE(bytes + 8, 8);
		if (format != FM_FORMAT_VERSION)
			return Corrupt(err, errlen, "unsupported model format version %u", format);
		if (payload != len - ENVELOPE_BYTES)
			return Corrupt(err, errlen, "the header says %llu bytes of model, there are %zu",
						   (unsigned long long) payload, len - ENVELOPE_BYTES);
		if ((uint32_t) GetLE(bytes + 16, 4) != FmCrc32c(bytes + ENVELOPE_BYTES, payload))
			return Corrupt(err, errlen, "checksum mismatch");
		msg = fmrec__model__unpack(NULL, payload, bytes + ENVELOPE_BYTES);
		if (msg == NULL)
			return Corrupt(err, errlen, "the bytes are not a valid model message");
		st = FromV2(msg, &p, err, errlen);
		if (st == FM_OK)
			st = Build(&p, len, out, err, errlen);
		fmrec__model__free_unpacked(msg, NULL);
		return st;
	}
	else
	{
		Fmrec__ModelV1 *msg = fmrec__model_v1__unpack(NULL, len, bytes);

		if (msg == NULL)
			return Corrupt(err, errlen, "the bytes are not a valid model message");
		st = FromV1(msg, &p, err, errlen);
		if (st == FM_OK)
			st = Build(&p, len, out, err, errlen);
		fmrec__model_v1__free_unpacked(msg, NULL);
		return st;
	}
}
