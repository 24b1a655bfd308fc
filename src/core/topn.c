/*
 * topn.c
 *	  Top-N ranking of items for one user.
 *
 * For a query representation Z (features.c: a known user, attributes,
 * context, a folded-in session) every item is scored by one BLAS sgemv
 * over the contiguous matrix of item representations (n_items x k) plus
 * the item biases; with Z = 0 (nothing known) items are ranked by w0 + b_i
 * alone, the popularity fallback.  The
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

/* Restores the min-heap property below position j. */
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

/* Restores the min-heap property above position j. */
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

/* True when user uidx rated item iidx in training (binary search). */
bool
FmModelSeen(const FmModelData *m, int64_t uidx, int64_t iidx)
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

static int
CompareUint32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a;
	uint32_t	y = *(const uint32_t *) b;

	return (x > y) - (x < y);
}

static bool
InSorted(const uint32_t *v, size_t n, uint32_t x)
{
	return n > 0 && bsearch(&x, v, n, sizeof(uint32_t), CompareUint32) != NULL;
}

/*
 * How many entries a top-N query can return: n, but no more than the
 * candidates or, without candidates, the items.  The caller sizes out by
 * it.
 */
size_t
FmTopnCapacity(const FmModelData *m, const FmTopnQuery *q)
{
	size_t		cap = q->n > 0 ? (size_t) q->n : 0;

	if (q->candidates == NULL && cap > m->n_items)
		cap = m->n_items;
	if (q->candidates != NULL && cap > q->n_candidates)
		cap = q->n_candidates;
	return cap;
}

/*
 * An implicit model has no biases: for a representation that knows
 * nothing (a user unknown to the model, no session) every score is 0, so
 * items are ranked by their training rows instead, and the score reported
 * is that count.
 */
static bool
Popular(const FmModelData *m, const FmRep *rep)
{
	if (m->task != FM_TASK_IMPLICIT || m->item_count == NULL)
		return false;
	for (int f = 0; f < m->k; f++)
		if (rep->v[f] != 0.0f)
			return false;
	return true;
}

/*
 * Top-N for a representation (features.c).  Writes at most
 * FmTopnCapacity(m, q) entries to out, best first, and their count
 * to *n_out.  q->user is ignored; the representation's known user, if
 * any, supplies the seen list.
 */
FmStatus
FmTopnRep(const FmModelData *m, const FmRep *rep, const FmTopnQuery *q,
		  FmScored *out, int *n_out)
{
	int64_t		uidx = q->exclude_seen ? rep->uidx : -1;
	int			cap = (int) FmTopnCapacity(m, q);
	bool		popular = Popular(m, rep);
	int			len = 0;
	HeapEntry  *heap;
	uint32_t   *excl = NULL;
	size_t		n_excl = 0;
	FmStatus	st = FM_ERR_NOMEM;

	*n_out = 0;
	if (cap <= 0)
		return FM_OK;
	heap = malloc((size_t) cap * sizeof(HeapEntry));
	if (heap == NULL)
		return FM_ERR_NOMEM;
	if (q->n_exclude > 0)
	{
		if ((excl = malloc(q->n_exclude * sizeof(uint32_t))) == NULL)
			goto done;
		for (size_t j = 0; j < q->n_exclude; j++)
		{
			int64_t		i = FmModelItemIndex(m, q->exclude[j]);

			if (i >= 0)
				excl[n_excl++] = (uint32_t) i;
		}
		qsort(excl, n_excl, sizeof(uint32_t), CompareUint32);
	}

	if (q->candidates != NULL)
	{
		int64_t    *c = malloc(q->n_candidates * sizeof(int64_t));

		if (c == NULL)
			goto done;
		FmCopy(c, q->candidates, q->n_candidates * sizeof(int64_t));
		qsort(c, q->n_candidates, sizeof(int64_t), FmCompareInt64);
		for (size_t j = 0; j < q->n_candidates; j++)
		{
			int64_t		iidx;

			if (j > 0 && c[j] == c[j - 1])
				continue;
			iidx = FmModelItemIndex(m, c[j]);
			if (iidx >= 0 && ((uidx >= 0 && FmModelSeen(m, uidx, iidx)) ||
							  InSorted(excl, n_excl, (uint32_t) iidx)))
				continue;
			Offer(heap, cap, &len, popular ? (iidx >= 0 ? (float) m->item_count[iidx] : 0.0f) :
				  (float) FmRepScore(m, rep, iidx), c[j]);
		}
		free(c);
	}
	else
	{
		float	   *scores = NULL;
		float		base = (float) (m->w0 + FmRepBias(m, rep));
		size_t		s = 0;
		size_t		s_end = 0;
		size_t		e = 0;
		bool		zero = true;

		for (int f = 0; f < m->k && zero; f++)
			zero = rep->v[f] == 0.0f;
		if (!zero)
		{
			scores = malloc((size_t) m->n_items * sizeof(float));
			if (scores == NULL)
				goto done;
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) m->n_items, m->k,
						1.0f, m->qi, m->k, rep->v, 1, 0.0f, scores, 1);
		}
		if (uidx >= 0)
		{
			s = m->seen_off[uidx];
			s_end = m->seen_off[uidx + 1];
		}
		for (uint32_t i = 0; i < m->n_items; i++)
		{
			float		raw;

			if (s < s_end && m->seen[s] == i)
			{
				s++;
				continue;
			}
			if (e < n_excl && excl[e] == i)
			{
				while (e < n_excl && excl[e] == i)
					e++;
				continue;
			}
			raw = popular ? (float) m->item_count[i] :
				base + m->bi[i] + (scores ? scores[i] : 0.0f);
			if (len < cap || raw >= heap[0].raw)
				Offer(heap, cap, &len, raw, m->item_ids[i]);
		}
		free(scores);
	}

	/*
	 * sgemv may sum a dot product in another order than FmRepScore; the
	 * kept items are rescored so that the reported scores, and their order,
	 * are exactly fm_predict's.
	 */
	if (!popular)
		for (int j = 0; j < len; j++)
			heap[j].raw = (float) FmRepScore(m, rep, FmModelItemIndex(m, heap[j].item));
	qsort(heap, len, sizeof(HeapEntry), CompareBestFirst);
	for (int j = 0; j < len; j++)
	{
		out[j].item = heap[j].item;
		out[j].score = popular ? heap[j].raw : FmModelOutput(m, heap[j].raw);
	}
	*n_out = len;
	st = FM_OK;
done:
	free(heap);
	free(excl);
	return st;
}

/* Top-N for a user id: known, known through attributes, or unknown. */
FmStatus
FmTopn(const FmModelData *m, const FmTopnQuery *q, FmScored *out, int *n_out)
{
	FmRep		rep;
	float	   *buf = malloc(m->k * sizeof(float));
	FmStatus	st;

	if (buf == NULL)
		return FM_ERR_NOMEM;
	FmRepInit(m, &rep, buf);
	FmRepAddUser(m, &rep, q->user);
	st = FmTopnRep(m, &rep, q, out, n_out);
	free(buf);
	return st;
}
