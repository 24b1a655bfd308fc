/*
 * fuzz_decode.c
 *	  libFuzzer harness of the core's model decoder and of everything that
 *	  runs on a decoded model.
 *
 * The first input byte picks how the rest reaches the decoder:
 *
 *	  even	the bytes as they are, as a damaged fm_models value would
 *			arrive: the envelope, its length and checksum, and format 1
 *			(0.1.0's bare message) are what gets exercised;
 *	  odd	the bytes as the payload of a correct format 2 envelope, with
 *			its length and CRC-32C computed here, so that mutations reach
 *			the protobuf decoder and the model checks behind the checksum.
 *
 * A model that decodes is then used as SQL would use it: predictions of
 * known and unknown pairs, a top-N list with seen items left out and with
 * candidates, a representation from attributes and context, a fold-in of
 * a session.  Finally it is encoded, decoded again and encoded again: the
 * two encodings must be identical and the two models must score alike,
 * else the harness aborts (the codec lost or invented something).
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined;
 * not part of the extension.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

#define ENVELOPE 20
#define MAX_INPUT (1 << 20)

static void
PutLE(uint8_t *p, uint64_t v, int n)
{
	for (int j = 0; j < n; j++)
		p[j] = (uint8_t) (v >> (8 * j));
}

/* the same number, or both NaN: a re-decoded model must score alike */
static bool
Same(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

static void
Exercise(const FmModelData *m)
{
	FmScored	out[16];
	int			n_out;
	FmTopnQuery q = {0};
	float	   *buf = malloc(((size_t) m->k + 1) * sizeof(float));
	FmRep		rep;
	int64_t		session[4];
	float		ratings[4] = {5.0f, 1.0f, 3.5f, 4.0f};
	size_t		n_session = 0;
	const char *names[3];
	size_t		n_names = 0;
	int64_t		user = m->n_users ? m->user_ids[0] : 1;
	int64_t		cands[3];
	FmScored   *all;

	if (buf == NULL)
		return;
	for (uint32_t u = 0; u < m->n_users && u < 3; u++)
		for (uint32_t i = 0; i < m->n_items && i < 3; i++)
			(void) FmModelPredict(m, m->user_ids[u], m->item_ids[i]);
	(void) FmModelPredict(m, INT64_MIN, INT64_MAX);

	q.user = user;
	q.n = 10;
	q.exclude_seen = true;
	(void) FmTopn(m, &q, out, &n_out);
	cands[0] = m->n_items ? m->item_ids[0] : 7;
	cands[1] = cands[0];
	cands[2] = -1;
	q.candidates = cands;
	q.n_candidates = 3;
	q.exclude_seen = false;
	q.n = 3;
	all = malloc((FmTopnCapacity(m, &q) + 1) * sizeof(FmScored));
	if (all)
		(void) FmTopn(m, &q, all, &n_out);
	free(all);

	FmRepInit(m, &rep, buf);
	if (m->ufeat.n > 0)
		names[n_names++] = m->ufeat.names[0];
	names[n_names++] = "no such feature";
	FmRepAddFeatures(m, &rep, 'u', names, NULL, n_names);
	if (m->cfeat.n > 0)
		FmRepAddFeatures(m, &rep, 'c', (const char *const *) m->cfeat.names,
						 NULL, m->cfeat.n < 3 ? m->cfeat.n : 3);
	for (uint32_t i = 0; i < m->n_items && n_session < 3; i++)
		session[n_session++] = m->item_ids[i];
	session[n_session++] = INT64_MAX;
	(void) FmRepFoldIn(m, &rep, session, ratings, n_session, 1.0);
	(void) FmRepScore(m, &rep, m->n_items ? 0 : -1);
	q.candidates = NULL;
	q.n_candidates = 0;
	q.n = 5;
	(void) FmTopnRep(m, &rep, &q, out, &n_out);
	/* the same session as an item-item model takes it */
	rep.session = session;
	rep.n_session = n_session;
	(void) FmTopnRep(m, &rep, &q, out, &n_out);
	free(buf);
	{
		FmSimilarQuery sq = {0};
		FmBatch		b;

		sq.items = session;
		sq.n_items = n_session;
		sq.n = 5;
		(void) FmSimilarItems(m, &sq, out, &n_out);
		if (FmBatchCreate(m, &q, 1, &b) == FM_OK)
		{
			int			counts[3];
			size_t		n = m->n_users < 3 ? m->n_users : 3;
			FmScored   *lists = malloc((3 * FmBatchCapacity(b) + 1) * sizeof(FmScored));

			if (lists && n <= FmBatchBlock(b))
				(void) FmBatchStep(b, m->user_ids, n, lists, counts);
			free(lists);
			FmBatchFree(b);
		}
	}
}

static void
RoundTrip(const FmModelData *m)
{
	uint8_t    *a = NULL,
			   *b = NULL;
	size_t		alen,
				blen;
	FmModel		again;
	char		err[FM_ERRLEN];

	if (FmModelEncode(m, SIZE_MAX, &a, &alen) != FM_OK)
		return;					/* out of memory only */
	if (FmModelDecode(a, alen, &again, err, sizeof(err)) != FM_OK)
	{
		fprintf(stderr, "an encoded model does not decode: %s\n", err);
		abort();
	}
	if (FmModelEncode(again, SIZE_MAX, &b, &blen) != FM_OK)
		abort();
	if (alen != blen || memcmp(a, b, alen) != 0)
	{
		fprintf(stderr, "encode(decode(encode(m))) differs from encode(m)\n");
		abort();
	}
	for (uint32_t u = 0; u < m->n_users && u < 4; u++)
		for (uint32_t i = 0; i < m->n_items && i < 4; i++)
			if (!Same(FmModelPredict(m, m->user_ids[u], m->item_ids[i]),
					  FmModelPredict(again, m->user_ids[u], m->item_ids[i])))
			{
				fprintf(stderr, "a re-decoded model scores differently\n");
				abort();
			}
	FmModelFree(again);
	free(a);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *bytes;
	uint8_t    *wrapped = NULL;
	size_t		len;
	FmModel		m;
	char		err[FM_ERRLEN];

	if (size < 1 || size > MAX_INPUT)
		return 0;
	if (data[0] & 1)
	{
		len = ENVELOPE + size - 1;
		wrapped = malloc(len);
		if (wrapped == NULL)
			return 0;
		memcpy(wrapped, "FMRC", 4);
		PutLE(wrapped + 4, 2, 4);
		PutLE(wrapped + 8, size - 1, 8);
		if (size > 1)
			memcpy(wrapped + ENVELOPE, data + 1, size - 1);
		PutLE(wrapped + 16, FmCrc32c(wrapped + ENVELOPE, size - 1), 4);
		bytes = wrapped;
	}
	else
	{
		bytes = data + 1;
		len = size - 1;
	}
	if (FmModelDecode(bytes, len, &m, err, sizeof(err)) == FM_OK)
	{
		Exercise(m);
		RoundTrip(m);
		FmModelFree(m);
	}
	free(wrapped);
	return 0;
}
