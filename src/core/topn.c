/*
 * topn.c
 *	  Top-N ranking of items for one user.
 *
 * For a known user every item is scored by one BLAS sgemv over the
 * contiguous item factor matrix (n_items x k) plus the item biases; an
 * unknown user is ranked by w0 + w_i alone, the popularity fallback.  The
 * best n are kept in a bounded min-heap, O(n_items log n), never a full
 * sort.  Items are ordered by the raw model score, ties by ascending item
 * id; the reported score is what FmModelPredict returns for the pair (for
 * regression that is clipped to the rating range, so several leading items
 * can show the maximum rating while still being ranked by raw score).
 * The items a user rated in training are skipped by walking that user's
 * ascending seen list alongside the item index.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

typedef struct HeapEntry
{
	float		raw;
	int64_t		item;
} HeapEntry;

/* true when a ranks below b: lower score, or equal score and larger id */
static inline bool
Worse(const HeapEntry *a, const HeapEntry *b)
{
	if (a->raw != b->raw)
		return a->raw < b->raw;
	return a->item > b->item;
}

static void
SiftDown(HeapEntry *h, int n, int j)
{
	for (;;)
	{
		int			l = 2 * j + 1;
		int			worst = j;
		HeapEntry	tmp;

		if (l < n && Worse(&h[l], &h[worst]))
			worst = l;
		if (l + 1 < n && Worse(&h[l + 1], &h[worst]))
			worst = l + 1;
		if (worst == j)
			return;
		tmp = h[j];
		h[j] = h[worst];
		h[worst] = tmp;
		j = worst;
	}
}

static void
SiftUp(HeapEntry *h, int j)
{
	while (j > 0)
	{
		int			parent = (j - 1) / 2;
		HeapEntry	tmp;

		if (!Worse(&h[j], &h[parent]))
			return;
		tmp = h[j];
		h[j] = h[parent];
		h[parent] = tmp;
		j = parent;
	}
}

/* Offers one scored item to a heap of capacity cap holding *len entries. */
static inline void
Offer(HeapEntry *h, int cap, int *len, float raw, int64_t item)
{
	HeapEntry	e = {raw, item};

	if (*len < cap)
	{
		h[*len] = e;
		SiftUp(h, (*len)++);
	}
	else if (Worse(&h[0], &e))
	{
		h[0] = e;
		SiftDown(h, cap, 0);
	}
}

static int
CompareBestFirst(const void *a, const void *b)
{
	const HeapEntry *x = a;
	const HeapEntry *y = b;

	if (Worse(x, y))
		return 1;
	if (Worse(y, x))
		return -1;
	return 0;
}

static int
CompareInt64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

static bool
Seen(const FmModelData *m, int64_t uidx, int64_t iidx)
{
	size_t		lo = m->seen_off[uidx];
	size_t		hi = m->seen_off[uidx + 1];

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (m->seen[mid] == (uint32_t) iidx)
			return true;
		if (m->seen[mid] < (uint32_t) iidx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Writes at most q->n entries to out (room for q->n is the caller's job),
 * best first, and their count to *n_out.
 */
FmStatus
FmTopn(const FmModelData *m, const FmTopnQuery *q, FmScored *out, int *n_out)
{
	int64_t		uidx = FmModelUserIndex(m, q->user);
	int			cap = q->n;
	int			len = 0;
	HeapEntry  *heap;

	*n_out = 0;
	if (cap <= 0)
		return FM_OK;
	if (q->candidates == NULL && (size_t) cap > m->n_items)
		cap = (int) m->n_items;
	if (q->candidates != NULL && (size_t) cap > q->n_candidates)
		cap = (int) q->n_candidates;
	if (cap == 0)
		return FM_OK;
	heap = malloc((size_t) cap * sizeof(HeapEntry));
	if (heap == NULL)
		return FM_ERR_NOMEM;

	if (q->candidates != NULL)
	{
		int64_t    *c = malloc(q->n_candidates * sizeof(int64_t));

		if (c == NULL)
		{
			free(heap);
			return FM_ERR_NOMEM;
		}
		memcpy(c, q->candidates, q->n_candidates * sizeof(int64_t));
		qsort(c, q->n_candidates, sizeof(int64_t), CompareInt64);
		for (size_t j = 0; j < q->n_candidates; j++)
		{
			int64_t		iidx;

			if (j > 0 && c[j] == c[j - 1])
				continue;
			iidx = FmModelItemIndex(m, c[j]);
			if (q->exclude_seen && uidx >= 0 && iidx >= 0 && Seen(m, uidx, iidx))
				continue;
			Offer(heap, cap, &len, (float) FmModelRaw(m, uidx, iidx), c[j]);
		}
		free(c);
	}
	else
	{
		float	   *scores = NULL;
		float		base = m->w0;
		size_t		s = 0;
		size_t		s_end = 0;

		if (uidx >= 0)
		{
			scores = malloc((size_t) m->n_items * sizeof(float));
			if (scores == NULL)
			{
				free(heap);
				return FM_ERR_NOMEM;
			}
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) m->n_items, m->k,
						1.0f, m->vi, m->k, m->vu + (size_t) uidx * m->k, 1,
						0.0f, scores, 1);
			base += m->wu[uidx];
			if (q->exclude_seen)
			{
				s = m->seen_off[uidx];
				s_end = m->seen_off[uidx + 1];
			}
		}
		for (uint32_t i = 0; i < m->n_items; i++)
		{
			float		raw;

			if (s < s_end && m->seen[s] == i)
			{
				s++;
				continue;
			}
			raw = base + m->wi[i] + (scores ? scores[i] : 0.0f);
			if (len < cap || raw >= heap[0].raw)
				Offer(heap, cap, &len, raw, m->item_ids[i]);
		}
		free(scores);
	}

	/*
	 * sgemv may sum a dot product in another order than FmModelRaw; the
	 * kept items are rescored so that the reported scores, and their order,
	 * are exactly fm_predict's.
	 */
	for (int j = 0; j < len; j++)
		heap[j].raw = (float) FmModelRaw(m, uidx, FmModelItemIndex(m, heap[j].item));
	qsort(heap, len, sizeof(HeapEntry), CompareBestFirst);
	for (int j = 0; j < len; j++)
	{
		out[j].item = heap[j].item;
		out[j].score = FmModelOutput(m, heap[j].raw);
	}
	*n_out = len;
	free(heap);
	return FM_OK;
}
