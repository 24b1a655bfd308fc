/*
 * topn.c
 *	  Ranking: top-N for one user, lists for many users at once, similar
 *	  items, and the item-item models' lists.
 *
 * For a query representation Z (features.c: a known user, attributes,
 * context, a folded-in session) every item is scored by one BLAS sgemv
 * over the contiguous matrix of item representations (n_items x k) plus
 * the item biases; with Z = 0 (nothing known) items are ranked by w0 + b_i
 * alone, the popularity fallback.  The best n (and a margin) are picked
 * without a full sort: over every item by a bound from the maxima of
 * groups of scores (PickDense), over candidates by a bounded min-heap;
 * then they are rescored exactly and ordered by the raw model score, ties
 * by ascending item id.  The reported score is what FmModelPredict returns
 * for the pair (for regression that is clipped to the rating range, so
 * several leading items can show the maximum rating while still being
 * ranked by raw score).  The items a user rated in training are left out.
 * fm_recommend's lists (FmBatch) are the same lists, scored in tiles of
 * users on the worker threads; an item-item model (itemknn.c) scores by
 * summing its neighbor lists over a history instead.
 */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "kernels.h"

/*
 * Scores are formed and scanned FM_TILE_ITEMS items at a time, as two
 * GCC/Clang vectors of 8 floats (a ymm register each in the AVX2 clone of
 * FM_CLONES); fm_recommend scores FM_TILE_USERS users at once.
 */
#define FM_TILE_USERS 6
#define FM_TILE_ITEMS 16
typedef float FmVec8 __attribute__((vector_size(8 * sizeof(float))));

#define Min(a, b) ((a) < (b) ? (a) : (b))
#define Max(a, b) ((a) > (b) ? (a) : (b))

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
	if (m->task != FM_TASK_IMPLICIT || m->item_count == NULL || m->nbr.off != NULL)
		return false;
	for (int f = 0; f < m->k; f++)
		if (rep->v[f] != 0.0f)
			return false;
	return true;
}

/*
 * The lists from sgemv or sgemm scores are picked with FM_TOPN_MARGIN
 * entries more than asked, then rescored exactly (FmRepScore) and cut:
 * BLAS may sum a dot product in another order than FmRepScore, and
 * without the margin an item whose two sums straddle the n-th score could
 * be in one path's list and not in the other's.  With it, fm_topn and
 * fm_recommend return the same lists, exactly fm_predict's order.
 */
#define FM_TOPN_MARGIN 8

/* The columns a list is picked from: every item, or candidates. */
typedef struct Columns
{
	size_t		n;
	const float *q;				/* n x k representations */
	const float *b;				/* n biases */
	const int64_t *ids;			/* n item ids, ascending */
	const int64_t *iidx;		/* their item indexes (-1: unknown), or NULL: j */
	float	   *qbuf;			/* owned copies for candidates */
	float	   *bbuf;
	int64_t    *idbuf;
	int64_t    *ixbuf;
} Columns;

static void
ColumnsFree(Columns *c)
{
	free(c->qbuf);
	free(c->bbuf);
	free(c->idbuf);
	free(c->ixbuf);
	memset(c, 0, sizeof(*c));
}

/*
 * The columns of a query: all items, or its candidates deduplicated in
 * ascending id order (so their item indexes ascend too), an unknown one
 * with a zero representation and bias, as FmRepScore scores it.
 */
static FmStatus
ColumnsBuild(const FmModelData *m, const FmTopnQuery *q, Columns *c)
{
	size_t		n = 0;

	memset(c, 0, sizeof(*c));
	if (q->candidates == NULL)
	{
		c->n = m->n_items;
		c->q = m->qi;
		c->b = m->bi;
		c->ids = m->item_ids;
		return FM_OK;
	}
	c->idbuf = malloc((q->n_candidates + 1) * sizeof(int64_t));
	c->ixbuf = malloc((q->n_candidates + 1) * sizeof(int64_t));
	c->bbuf = malloc((q->n_candidates + 1) * sizeof(float));
	c->qbuf = calloc((q->n_candidates + 1) * (size_t) m->k, sizeof(float));
	if (!c->idbuf || !c->ixbuf || !c->bbuf || !c->qbuf)
	{
		ColumnsFree(c);
		return FM_ERR_NOMEM;
	}
	FmCopy(c->idbuf, q->candidates, q->n_candidates * sizeof(int64_t));
	qsort(c->idbuf, q->n_candidates, sizeof(int64_t), FmCompareInt64);
	for (size_t j = 0; j < q->n_candidates; j++)
	{
		int64_t		iidx;

		if (n > 0 && c->idbuf[j] == c->idbuf[n - 1])
			continue;
		iidx = FmModelItemIndex(m, c->idbuf[j]);
		c->idbuf[n] = c->idbuf[j];
		c->ixbuf[n] = iidx;
		c->bbuf[n] = iidx >= 0 ? m->bi[iidx] : 0.0f;
		if (iidx >= 0)
			memcpy(c->qbuf + n * m->k, m->qi + (size_t) iidx * m->k,
				   m->k * sizeof(float));
		n++;
	}
	c->n = n;
	c->q = c->qbuf;
	c->b = c->bbuf;
	c->ids = c->idbuf;
	c->iidx = c->ixbuf;
	return FM_OK;
}

/* The item indexes of a query's exclusions, ascending; *out NULL: none. */
static FmStatus
ExcludedItems(const FmModelData *m, const FmTopnQuery *q, uint32_t **out,
			  size_t *n_out)
{
	uint32_t   *excl;
	size_t		n = 0;

	*out = NULL;
	*n_out = 0;
	if (q->n_exclude == 0)
		return FM_OK;
	if ((excl = malloc(q->n_exclude * sizeof(uint32_t))) == NULL)
		return FM_ERR_NOMEM;
	for (size_t j = 0; j < q->n_exclude; j++)
	{
		int64_t		i = FmModelItemIndex(m, q->exclude[j]);

		if (i >= 0)
			excl[n++] = (uint32_t) i;
	}
	qsort(excl, n, sizeof(uint32_t), CompareUint32);
	*out = excl;
	*n_out = n;
	return FM_OK;
}

/*
 * Moves the best keep of a[0 .. n) to its front (Hoare's selection, by
 * Worse: score, then id) and returns the worst of them.
 */
static float
SelectBest(HeapEntry *a, int n, int keep)
{
	int			lo = 0;
	int			hi = n - 1;
	float		worst;

	while (lo < hi)
	{
		HeapEntry	pivot = a[lo + (hi - lo) / 2];
		int			i = lo;
		int			j = hi;

		while (i <= j)
		{
			while (Worse(&pivot, &a[i]))
				i++;
			while (Worse(&a[j], &pivot))
				j--;
			if (i <= j)
			{
				HeapEntry	t = a[i];

				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (keep - 1 <= j)
			hi = j;
		else if (keep - 1 >= i)
			lo = i;
		else
			break;
	}
	worst = a[0].raw;
	for (int j = 1; j < keep; j++)
		if (a[j].raw < worst)
			worst = a[j].raw;
	return worst;
}

/*
 * The tight loop over every item.  A first pass takes the maximum of each
 * group of FM_TILE_ITEMS raw scores (-inf: left out), in the vector unit;
 * the cap-th largest of these maxima is a lower bound of the cap-th best
 * score (the maxima are scores of distinct items), so a group whose
 * maximum is below it cannot hold a listed item and is skipped.  The
 * second pass appends the items at or above the bound, from the few
 * groups left, to buf (FM_PICK_BUFFER cap entries); a full buf is cut to
 * its best cap by SelectBest, whose worst score then raises the bound.
 * Returns the entries kept, at most cap, in no order.  buf is PickBytes(n,
 * cap) long.
 */
#define FM_PICK_BUFFER 4

/*
 * The bytes of a pick's buffer for cols columns and pick entries:
 * FM_PICK_BUFFER pick entries, then PickDense's scratch (the group maxima
 * and their min-heap), so a pick allocates nothing per list.
 */
static size_t
PickBytes(size_t cols, int pick)
{
	return FM_PICK_BUFFER * (size_t) pick * sizeof(HeapEntry) +
		((size_t) pick + cols / FM_TILE_ITEMS + 2) * sizeof(float);
}

FM_CLONES static void
GroupMaxima(const float *raw, size_t n, float *gmax)
{
	size_t		full = n / FM_TILE_ITEMS;

	for (size_t g = 0; g < full; g++)
	{
		FmVec8		lo;
		FmVec8		hi;
		float		m = -INFINITY;

		memcpy(&lo, raw + g * FM_TILE_ITEMS, sizeof(lo));
		memcpy(&hi, raw + g * FM_TILE_ITEMS + 8, sizeof(hi));
		for (int l = 0; l < 8; l++)
			lo[l] = lo[l] > hi[l] ? lo[l] : hi[l];
		for (int l = 0; l < 8; l++)
			m = lo[l] > m ? lo[l] : m;
		gmax[g] = m;
	}
	if (full * FM_TILE_ITEMS < n)
	{
		float		m = -INFINITY;

		for (size_t j = full * FM_TILE_ITEMS; j < n; j++)
			m = raw[j] > m ? raw[j] : m;
		gmax[full] = m;
	}
}

static int
PickDense(const float *raw, const int64_t *ids, size_t n, HeapEntry *buf,
		  int cap)
{
	size_t		groups = (n + FM_TILE_ITEMS - 1) / FM_TILE_ITEMS;
	float	   *least = (float *) (buf + FM_PICK_BUFFER * (size_t) cap);
	float	   *gmax = least + cap;
	float		thr = -INFINITY;
	int			len = 0;

	GroupMaxima(raw, n, gmax);
	if (groups > (size_t) cap)
	{
		/* the cap largest maxima in a min-heap of floats: its root */
		int			h = 0;

		for (size_t g = 0; g < groups; g++)
		{
			float		x = gmax[g];
			int			j;

			if (h < cap)
			{
				for (j = h++; j > 0 && least[(j - 1) / 2] > x; j = (j - 1) / 2)
					least[j] = least[(j - 1) / 2];
				least[j] = x;
			}
			else if (x > least[0])
			{
				for (j = 0;;)
				{
					int			c = 2 * j + 1;

					if (c >= cap)
						break;
					if (c + 1 < cap && least[c + 1] < least[c])
						c++;
					if (least[c] >= x)
						break;
					least[j] = least[c];
					j = c;
				}
				least[j] = x;
			}
		}
		thr = least[0];
	}
	for (size_t g = 0; g < groups; g++)
	{
		size_t		end = Min((g + 1) * FM_TILE_ITEMS, n);

		if (gmax[g] < thr || gmax[g] == -INFINITY)
			continue;
		for (size_t j = g * FM_TILE_ITEMS; j < end; j++)
			if (raw[j] >= thr && raw[j] != -INFINITY)
			{
				buf[len].raw = raw[j];
				buf[len++].item = ids[j];
				if (len == FM_PICK_BUFFER * cap)
				{
					float		worst = SelectBest(buf, len, cap);

					thr = worst > thr ? worst : thr;
					len = cap;
				}
			}
	}
	if (len > cap)
	{
		SelectBest(buf, len, cap);
		len = cap;
	}
	return len;
}

/*
 * Picks from raw scores over every item (no candidates), which may be
 * overwritten: the user's rated items and the exclusions are marked -inf.
 * The scores are in the order of ids; pos maps an item index to its
 * position there (NULL: the same).  heap is PickBytes long (PickDense).
 * Returns the entries kept.
 */
static int
PickRaw(const FmModelData *m, const int64_t *ids, const uint32_t *pos,
		float *raw, int64_t uidx, const uint32_t *excl, size_t n_excl,
		HeapEntry *heap, int cap)
{
	if (uidx >= 0)
	{
		const uint32_t *seen = m->seen + m->seen_off[uidx];
		size_t		n_seen = m->seen_off[uidx + 1] - m->seen_off[uidx];

		if (pos)
			for (size_t j = 0; j < n_seen; j++)
				raw[pos[seen[j]]] = -INFINITY;
		else
			for (size_t j = 0; j < n_seen; j++)
				raw[seen[j]] = -INFINITY;
	}
	for (size_t j = 0; j < n_excl; j++)
		raw[pos ? pos[excl[j]] : excl[j]] = -INFINITY;
	return PickDense(raw, ids, m->n_items, heap, cap);
}

/*
 * Picks the best cap columns for one user into heap: scores holds the
 * columns' dot products with the representation (NULL: all zero), base
 * the representation's w0 + bias; popular ranks by training rows instead.
 * Items the user rated (uidx >= 0) and excluded items are skipped.  Over
 * every item (no candidates) and with a scores row the caller lets us
 * overwrite, they are first marked -inf in it, and the scan is one tight
 * loop against the heap's threshold; otherwise the ascending lists are
 * walked alongside the ascending columns.  Returns the entries kept.
 */
static int
PickColumns(const FmModelData *m, const Columns *c, float *scores,
			float base, bool popular, int64_t uidx, const uint32_t *excl,
			size_t n_excl, HeapEntry *heap, int cap)
{
	size_t		s = 0;
	size_t		s_end = 0;
	size_t		e = 0;
	int			len = 0;

	if (uidx >= 0)
	{
		s = m->seen_off[uidx];
		s_end = m->seen_off[uidx + 1];
	}
	if (c->iidx == NULL && scores != NULL && !popular)
	{
		if (c->b)
			for (size_t j = 0; j < c->n; j++)
				scores[j] = base + c->b[j] + scores[j];
		else
			for (size_t j = 0; j < c->n; j++)
				scores[j] = base + 0.0f + scores[j];
		return PickRaw(m, c->ids, NULL, scores, uidx, excl, n_excl, heap, cap);
	}
	for (size_t j = 0; j < c->n; j++)
	{
		int64_t		i = c->iidx ? c->iidx[j] : (int64_t) j;
		float		raw;

		if (i >= 0)
		{
			while (s < s_end && m->seen[s] < (uint32_t) i)
				s++;
			if (s < s_end && m->seen[s] == (uint32_t) i)
				continue;
			while (e < n_excl && excl[e] < (uint32_t) i)
				e++;
			if (e < n_excl && excl[e] == (uint32_t) i)
				continue;
		}
		if (popular)
			raw = i >= 0 ? (float) m->item_count[i] : 0.0f;
		else
			raw = base + (c->b ? c->b[j] : 0.0f) + (scores ? scores[j] : 0.0f);
		if (raw == -INFINITY)
			continue;
		if (len < cap || raw >= heap[0].raw)
			Offer(heap, cap, &len, raw, c->ids[j]);
	}
	return len;
}

/*
 * Rescores a picked list exactly (unless popular), orders it best first
 * and writes at most n entries of it to out; returns how many.
 */
static int
FinishList(const FmModelData *m, const FmRep *rep, bool popular,
		   HeapEntry *heap, int len, int n, FmScored *out)
{
	if (!popular)
	{
		float		base = (float) (m->w0 + FmRepBias(m, rep));

		for (int j = 0; j < len; j++)
			heap[j].raw = (float) FmRepScoreFrom(m, rep, base,
												 FmModelItemIndex(m, heap[j].item));
	}
	qsort(heap, len, sizeof(HeapEntry), CompareBestFirst);
	if (len > n)
		len = n;
	for (int j = 0; j < len; j++)
	{
		out[j].item = heap[j].item;
		out[j].score = popular ? heap[j].raw : FmModelOutput(m, heap[j].raw);
	}
	return len;
}

static bool
RepIsZero(const FmModelData *m, const FmRep *rep)
{
	for (int f = 0; f < m->k; f++)
		if (rep->v[f] != 0.0f)
			return false;
	return true;
}

/*
 * An item-item model's scores for a history (the seen item indexes, then
 * the session's ids: FmItemItemScores) per column of c, an unknown
 * candidate scoring 0; returns how many history items the model knows, or
 * -1 when out of memory.
 */
static int64_t
ItemItemColumns(const FmModelData *m, const Columns *c, const uint32_t *seen,
				size_t n_seen, const int64_t *session, size_t n_session,
				float *scores)
{
	float	   *all = malloc(((size_t) m->n_items + 1) * sizeof(float));
	size_t		used;

	if (all == NULL)
		return -1;
	used = FmItemItemScores(m, seen, n_seen, session, n_session, all);
	for (size_t j = 0; j < c->n; j++)
		scores[j] = c->iidx == NULL ? all[j] : (c->iidx[j] >= 0 ? all[c->iidx[j]] : 0.0f);
	free(all);
	return (int64_t) used;
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
	bool		itemitem = m->nbr.off != NULL;
	bool		popular = Popular(m, rep);
	bool		zero = RepIsZero(m, rep);
	int			pick;
	int			len;
	HeapEntry  *heap = NULL;
	uint32_t   *excl = NULL;
	size_t		n_excl = 0;
	float	   *scores = NULL;
	Columns		c;
	FmStatus	st;

	*n_out = 0;
	if (cap <= 0)
		return FM_OK;
	if ((st = ColumnsBuild(m, q, &c)) != FM_OK)
		return st;
	st = FM_ERR_NOMEM;
	pick = (int) Min((size_t) cap + FM_TOPN_MARGIN, Max(c.n, 1));
	if ((heap = malloc(PickBytes(c.n, pick))) == NULL ||
		ExcludedItems(m, q, &excl, &n_excl) != FM_OK)
		goto done;
	if (itemitem)
	{
		/* the history's neighbor lists summed; an empty one: popularity */
		int64_t		used;

		if ((scores = malloc(Max(c.n, 1) * sizeof(float))) == NULL ||
			(used = ItemItemColumns(m, &c, rep->uidx >= 0 ? m->seen + m->seen_off[rep->uidx] : NULL,
									rep->uidx >= 0 ? m->seen_off[rep->uidx + 1] - m->seen_off[rep->uidx] : 0,
									rep->session, rep->n_session, scores)) < 0)
			goto done;
		popular = used == 0 && m->item_count != NULL;
		c.b = NULL;
		len = PickColumns(m, &c, popular ? NULL : scores, 0.0f, popular, uidx,
						  excl, n_excl, heap, pick);
		/* the sums are exact already, in one order everywhere */
		*n_out = FinishList(m, rep, true, heap, len, cap, out);
		st = FM_OK;
		goto done;
	}
	if (!zero && !popular)
	{
		if ((scores = malloc(Max(c.n, 1) * sizeof(float))) == NULL)
			goto done;
		if (c.n > 0)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) c.n, m->k,
						1.0f, c.q, m->k, rep->v, 1, 0.0f, scores, 1);
	}
	len = PickColumns(m, &c, scores, (float) (m->w0 + FmRepBias(m, rep)),
					  popular, uidx, excl, n_excl, heap, pick);
	*n_out = FinishList(m, rep, popular, heap, len, cap, out);
	st = FM_OK;
done:
	free(scores);
	free(heap);
	free(excl);
	ColumnsFree(&c);
	return st;
}

/* Top-N for a user id: known, known through attributes, or unknown. */
FmStatus
FmTopn(const FmModelData *m, const FmTopnQuery *q, FmScored *out, int *n_out)
{
	FmRep		rep;
	float	   *buf = malloc((m->k + 1) * sizeof(float));
	FmStatus	st;

	if (buf == NULL)
		return FM_ERR_NOMEM;
	FmRepInit(m, &rep, buf);
	FmRepAddUser(m, &rep, q->user);
	st = FmTopnRep(m, &rep, q, out, n_out);
	free(buf);
	return st;
}

/* ---------------------------------------------------------------- */

/*
 * Lists for many users at once (fm_recommend).  The scores of a tile of
 * FM_TILE_USERS users against every column are a small matrix product,
 * computed by ScoreTile on the worker threads (fmrec links a
 * single-threaded OpenBLAS whose buffers must not be shared between
 * threads, so this product is fmrec's own): the columns are stored once
 * as panels of FM_TILE_ITEMS items, factor-major, so the inner loop is an
 * outer-product update of FM_TILE_USERS x FM_TILE_ITEMS accumulators
 * that stays in vector registers.  Each worker then picks its tile's
 * lists while the scores are in cache, with the same code and the same
 * exact rescoring as FmTopnRep, so every list is the one fm_topn returns
 * for that user.  Users whose lists are by popularity (an implicit model
 * with nothing known of the user) take FmTopnRep itself.
 */

struct FmBatchData
{
	const FmModelData *m;
	FmTopnQuery q;
	int			cap;			/* entries per user */
	int			pick;			/* cap + margin, at most the columns */
	size_t		block;			/* users per step */
	Columns		c;
	size_t		panels;
	float	   *qt;				/* panels x k x FM_TILE_ITEMS */
	float	   *bpad;			/* panels x FM_TILE_ITEMS column biases */
	int64_t    *ids;			/* over every item: their ids in column order */
	uint32_t   *pos;			/* and each item's column */
	float	   *base;			/* block: each user's w0 + bias */
	uint32_t   *excl;
	size_t		n_excl;
	FmPool		pool;
	int			threads;
	float	   *p;				/* block x k */
	FmRep	   *reps;			/* block */
	bool	   *popular;		/* block */
	float	   *scores;			/* threads x FM_TILE_USERS x panels x FM_TILE_ITEMS */
	HeapEntry  *heaps;			/* threads x heap_bytes */
	size_t		heap_bytes;		/* PickBytes, rounded up to 64 */
	/* the step in progress, for the workers */
	const int64_t *users;
	size_t		n_users;
	_Atomic size_t next_tile;
	bool		running;
	bool		failed;			/* a worker ran out of memory */
	FmScored   *out;
	int		   *n_out;
};

/* users per step, between the caller's interrupt checks */
#define FM_BATCH_USERS	256
/* at most this many list entries (FmScored) per step */
#define FM_BATCH_ENTRIES ((size_t) 1 << 22)

size_t
FmBatchCapacity(const struct FmBatchData *b)
{
	return (size_t) b->cap;
}

size_t
FmBatchBlock(const struct FmBatchData *b)
{
	return b->block;
}

void
FmBatchFree(FmBatch b)
{
	if (b == NULL)
		return;
	/* a step still running is waited for before its memory goes */
	if (b->running)
		FmPoolWait(b->pool);
	if (b->pool)
		FmPoolFree(b->pool);
	ColumnsFree(&b->c);
	free(b->qt);
	free(b->bpad);
	free(b->ids);
	free(b->pos);
	free(b->base);
	free(b->excl);
	free(b->p);
	free(b->scores);
	free(b->reps);
	free(b->popular);
	free(b->heaps);
	free(b);
}

static size_t
BatchBlock(size_t pick)
{
	size_t		block = FM_BATCH_USERS;

	if (pick * block > FM_BATCH_ENTRIES)
		block = Max((size_t) 1, FM_BATCH_ENTRIES / pick);
	return block;
}

/*
 * Memory a batch holds besides the model, for the caller's limit: the
 * candidate columns, their panels, biases and order, a tile of scores and
 * a buffer per thread, a step's representations, and the caller's lists
 * for two steps (fm_recommend writes one while the next is ranked).
 */
double
FmBatchMemory(const FmModelData *m, const FmTopnQuery *q, int threads)
{
	double		cols = q->candidates ? (double) q->n_candidates : (double) m->n_items;
	double		padded = cols + FM_TILE_ITEMS;
	double		pick = (q->n > 0 ? (double) q->n : 0.0) + FM_TOPN_MARGIN;
	double		block = (double) BatchBlock((size_t) Min(pick, 1e15));
	double		t = Max(threads, 1);

	return (q->candidates ? cols * (m->k * 4.0 + 20.0) : 0.0) +
		padded * m->k * 4.0 +
		padded * 4.0 + cols * 20.0 + t * (FM_TILE_USERS * padded * 4.0 + 64.0 +
							(double) PickBytes((size_t) cols, (int) Min(pick, 1e9))) +
		block * (m->k * 4.0 + sizeof(FmRep) + 13.0 + 2.0 * pick * sizeof(FmScored)) +
		q->n_exclude * 4.0;
}

typedef struct BiasOrder
{
	float		b;
	uint32_t	j;
} BiasOrder;

/* descending bias, ties by ascending column: a total order */
static int
CompareBiasDesc(const void *a, const void *b)
{
	const BiasOrder *x = a;
	const BiasOrder *y = b;

	if (x->b != y->b)
		return x->b < y->b ? 1 : -1;
	return (x->j > y->j) - (x->j < y->j);
}

FmStatus
FmBatchCreate(const FmModelData *m, const FmTopnQuery *q, int threads,
			  FmBatch *out)
{
	FmBatch		b;
	FmStatus	st;
	size_t		k = (size_t) m->k;
	BiasOrder  *order = NULL;

	*out = NULL;
	if ((b = calloc(1, sizeof(struct FmBatchData))) == NULL)
		return FM_ERR_NOMEM;
	b->m = m;
	b->q = *q;
	b->threads = Max(1, Min(threads, FM_MAX_THREADS));
	if ((st = ColumnsBuild(m, q, &b->c)) != FM_OK ||
		(st = ExcludedItems(m, q, &b->excl, &b->n_excl)) != FM_OK)
		goto fail;
	b->cap = (int) FmTopnCapacity(m, q);
	b->pick = (int) Min((size_t) Max(b->cap, 0) + FM_TOPN_MARGIN, Max(b->c.n, 1));
	b->block = BatchBlock((size_t) b->pick);
	b->panels = (b->c.n + FM_TILE_ITEMS - 1) / FM_TILE_ITEMS;
	st = FM_ERR_NOMEM;
	b->qt = calloc(Max(b->panels, 1) * k * FM_TILE_ITEMS, sizeof(float));
	b->bpad = calloc(Max(b->panels, 1) * FM_TILE_ITEMS, sizeof(float));
	b->base = malloc(b->block * sizeof(float));
	b->p = malloc(Max(b->block * k, 1) * sizeof(float));
	b->reps = malloc(b->block * sizeof(FmRep));
	b->popular = malloc(b->block * sizeof(bool));
	b->scores = malloc((size_t) b->threads * FM_TILE_USERS *
					   Max(b->panels, 1) * FM_TILE_ITEMS * sizeof(float));
	b->heap_bytes = (PickBytes(b->c.n, b->pick) + 63) & ~(size_t) 63;
	b->heaps = malloc((size_t) b->threads * b->heap_bytes);
	if (!b->qt || !b->bpad || !b->base || !b->p || !b->reps || !b->popular || !b->scores || !b->heaps)
		goto fail;
	/*
	 * Over every item, the columns are ordered by descending bias: the
	 * items a list usually holds come first, the threshold of PickDense
	 * rises early and few later items pass it.  (Candidates keep their
	 * order: their seen and excluded items are found by walking lists.)
	 */
	if (b->c.iidx == NULL)
	{
		b->ids = malloc(Max(b->c.n, 1) * sizeof(int64_t));
		b->pos = malloc(Max(b->c.n, 1) * sizeof(uint32_t));
		order = malloc(Max(b->c.n, 1) * sizeof(BiasOrder));
		if (!b->ids || !b->pos || !order)
			goto fail;
		for (size_t j = 0; j < b->c.n; j++)
		{
			order[j].b = b->c.b[j];
			order[j].j = (uint32_t) j;
		}
		qsort(order, b->c.n, sizeof(BiasOrder), CompareBiasDesc);
		for (size_t j = 0; j < b->c.n; j++)
		{
			b->ids[j] = b->c.ids[order[j].j];
			b->pos[order[j].j] = (uint32_t) j;
		}
	}
	/* the columns as factor-major panels, the last one padded with zeros */
	for (size_t j = 0; j < b->c.n; j++)
	{
		size_t		src = order ? order[j].j : j;
		float	   *panel = b->qt + (j / FM_TILE_ITEMS) * k * FM_TILE_ITEMS;

		for (size_t f = 0; f < k; f++)
			panel[f * FM_TILE_ITEMS + j % FM_TILE_ITEMS] = b->c.q[src * k + f];
		b->bpad[j] = b->c.b[src];
	}
	free(order);
	order = NULL;
	if ((st = FmPoolCreate(b->threads, &b->pool)) != FM_OK)
		goto fail;
	*out = b;
	return FM_OK;
fail:
	free(order);
	FmBatchFree(b);
	return st;
}

/*
 * scores[u][j] = (w0 + bias_u + b_j) + <p_u, column j> for nu <=
 * FM_TILE_USERS users (rows of p, k apart) and every panel; rows of
 * scores are panels x FM_TILE_ITEMS apart.  The 6 x 16 accumulators are
 * twelve FmVec8, written out by name so the compiler keeps them in
 * registers;
 * missing users of a short tile are computed on the first's row and not
 * stored.
 */
#define TILE_ROW(u) \
	const float *r##u = p + (size_t) (nu > u ? u : 0) * k; \
	FmVec8		l##u, h##u
#define TILE_STEP(u) \
	l##u += r##u[f] * ql; \
	h##u += r##u[f] * qh
#define TILE_STORE(u) \
	if (nu > u) \
	{ \
		FmVec8		bu = base[u] + bl; \
		FmVec8		bv = base[u] + bh; \
		FmVec8		lo = bu + l##u; \
		FmVec8		hi = bv + h##u; \
		memcpy(scores + u * stride + pn * FM_TILE_ITEMS, &lo, sizeof(lo)); \
		memcpy(scores + u * stride + pn * FM_TILE_ITEMS + 8, &hi, sizeof(hi)); \
	}

FM_CLONES static void
ScoreTile(const float *p, const float *base, int nu, int k, const float *qt,
		  const float *bpad, size_t panels, float *scores)
{
	size_t		stride = panels * FM_TILE_ITEMS;

	TILE_ROW(0);
	TILE_ROW(1);
	TILE_ROW(2);
	TILE_ROW(3);
	TILE_ROW(4);
	TILE_ROW(5);
	for (size_t pn = 0; pn < panels; pn++)
	{
		const float *panel = qt + pn * (size_t) k * FM_TILE_ITEMS;
		FmVec8		bl;
		FmVec8		bh;

		l0 = l1 = l2 = l3 = l4 = l5 = (FmVec8) {0};
		h0 = h1 = h2 = h3 = h4 = h5 = (FmVec8) {0};
		for (int f = 0; f < k; f++)
		{
			FmVec8		ql;
			FmVec8		qh;

			memcpy(&ql, panel + (size_t) f * FM_TILE_ITEMS, sizeof(ql));
			memcpy(&qh, panel + (size_t) f * FM_TILE_ITEMS + 8, sizeof(qh));
			TILE_STEP(0);
			TILE_STEP(1);
			TILE_STEP(2);
			TILE_STEP(3);
			TILE_STEP(4);
			TILE_STEP(5);
		}
		memcpy(&bl, bpad + pn * FM_TILE_ITEMS, sizeof(bl));
		memcpy(&bh, bpad + pn * FM_TILE_ITEMS + 8, sizeof(bh));
		/* FmRepScore's order: (w0 + bias + b_i) + dot */
		TILE_STORE(0);
		TILE_STORE(1);
		TILE_STORE(2);
		TILE_STORE(3);
		TILE_STORE(4);
		TILE_STORE(5);
	}
}

/*
 * A worker's share of a step: the next tile not taken yet, until none is
 * left (the caller joins in FmBatchCollect, after whatever it did
 * meanwhile); each tile's lists are picked while its scores are in cache.
 * (The product runs at the vector unit's peak: scoring several tiles per
 * pass over the columns made no difference at 3,706 items.)
 */
static void
BatchWorker(void *arg, int w)
{
	FmBatch		b = arg;
	const FmModelData *m = b->m;
	HeapEntry  *heap = (HeapEntry *) ((char *) b->heaps + (size_t) w * b->heap_bytes);
	size_t		stride = b->panels * FM_TILE_ITEMS;
	float	   *scores = b->scores + (size_t) w * FM_TILE_USERS * stride;
	size_t		tiles = (b->n_users + FM_TILE_USERS - 1) / FM_TILE_USERS;
	Columns		raw_columns = b->c;
	size_t		t;

	/* the tile's scores are raw already: no bias to add */
	raw_columns.b = NULL;

	while ((t = atomic_fetch_add_explicit(&b->next_tile, 1, memory_order_relaxed)) < tiles)
	{
		size_t		first = t * FM_TILE_USERS;
		int			nu = (int) Min((size_t) FM_TILE_USERS, b->n_users - first);

		if (m->nbr.off != NULL)
		{
			/* item-item: each user's scatter over its history */
			for (int u = 0; u < nu; u++)
			{
				FmTopnQuery q = b->q;
				size_t		j = first + u;

				q.user = b->users[j];
				if (FmTopnRep(m, &b->reps[j], &q, b->out + j * b->cap, &b->n_out[j]) != FM_OK)
					b->failed = true;
			}
			continue;
		}

		ScoreTile(b->p + first * m->k, b->base + first, nu, m->k, b->qt,
				  b->bpad, b->panels, scores);
		for (int u = 0; u < nu; u++)
		{
			size_t		j = first + u;
			const FmRep *rep = &b->reps[j];
			int			len;

			if (b->popular[j])
				continue;
			if (b->c.iidx == NULL)
				len = PickRaw(m, b->ids, b->pos, scores + u * stride,
							  b->q.exclude_seen ? rep->uidx : -1,
							  b->excl, b->n_excl, heap, b->pick);
			else
				len = PickColumns(m, &raw_columns, scores + u * stride, 0.0f,
								  false, b->q.exclude_seen ? rep->uidx : -1,
								  b->excl, b->n_excl, heap, b->pick);
			b->n_out[j] = FinishList(m, rep, false, heap, len, b->cap,
									 b->out + j * b->cap);
		}
	}
}

/*
 * Starts the lists of n_users (at most FmBatchBlock) users on the worker
 * threads and returns: user j's entries will go to out[j *
 * FmBatchCapacity ...], best first, their count to n_out[j].  The caller
 * may do its own work (write the previous step's lists) and then calls
 * FmBatchCollect, which takes part in the rest and waits; out, n_out and
 * users must stay valid until it returns.
 */
FmStatus
FmBatchSubmit(FmBatch b, const int64_t *users, size_t n_users, FmScored *out,
			  int *n_out)
{
	const FmModelData *m = b->m;

	if (n_users > b->block)
		return FM_ERR_PARAM;
	for (size_t j = 0; j < n_users; j++)
		n_out[j] = 0;
	b->users = users;
	b->n_users = b->cap > 0 ? n_users : 0;
	b->out = out;
	b->n_out = n_out;
	for (size_t j = 0; j < b->n_users; j++)
	{
		FmRepInit(m, &b->reps[j], b->p + j * m->k);
		FmRepAddUser(m, &b->reps[j], users[j]);
		b->popular[j] = Popular(m, &b->reps[j]);
		b->base[j] = (float) (m->w0 + FmRepBias(m, &b->reps[j]));
	}
	atomic_store_explicit(&b->next_tile, 0, memory_order_relaxed);
	if (b->n_users > 0)
	{
		FmPoolStart(b->pool, BatchWorker, b);
		b->running = true;
	}
	return FM_OK;
}

/* Finishes the step FmBatchSubmit started (a no-op when none is). */
FmStatus
FmBatchCollect(FmBatch b)
{
	FmStatus	st = FM_OK;

	if (!b->running)
		return FM_OK;
	BatchWorker(b, 0);
	FmPoolWait(b->pool);
	b->running = false;
	if (b->failed)
		return FM_ERR_NOMEM;
	for (size_t j = 0; j < b->n_users && st == FM_OK; j++)
		if (b->popular[j])
		{
			FmTopnQuery q = b->q;

			q.user = b->users[j];
			st = FmTopnRep(b->m, &b->reps[j], &q, b->out + j * b->cap, &b->n_out[j]);
		}
	return st;
}

/* FmBatchSubmit and FmBatchCollect in one. */
FmStatus
FmBatchStep(FmBatch b, const int64_t *users, size_t n_users, FmScored *out,
			int *n_out)
{
	FmStatus	st = FmBatchSubmit(b, users, n_users, out, n_out);

	return st != FM_OK ? st : FmBatchCollect(b);
}

/* ---------------------------------------------------------------- */

/*
 * Similar items (fm_similar_items): the cosine between the items'
 * composite vectors q_j (ids plus attributes: what the model scores a user
 * against), for one item or the normalized sum of a set's.  Biases, and
 * with them popularity, play no part: two items are similar when users
 * like them for the same reasons.  Items whose vector is zero (never
 * trained) have no direction and are not listed.  One sgemv and the heap
 * of FmTopnRep, with the same exact rescoring.
 */

/* The query's direction: the sum of its known items' unit vectors. */
static double
SimilarQuery(const FmModelData *m, const FmSimilarQuery *q, float *z,
			 uint32_t *used)
{
	*used = 0;
	memset(z, 0, m->k * sizeof(float));
	for (size_t j = 0; j < q->n_items; j++)
	{
		int64_t		i = FmModelItemIndex(m, q->items[j]);
		const float *v;

		if (i < 0 || m->qnorm[i] == 0.0f)
			continue;
		v = m->qi + (size_t) i * m->k;
		for (int f = 0; f < m->k; f++)
			z[f] += v[f] / m->qnorm[i];
		(*used)++;
	}
	return sqrt(FmDot(z, z, m->k));
}

static inline float
Cosine(const FmModelData *m, const float *z, double znorm, int64_t i)
{
	return (float) (FmDot(z, m->qi + (size_t) i * m->k, m->k) /
					(znorm * m->qnorm[i]));
}

FmStatus
FmSimilarItems(const FmModelData *m, const FmSimilarQuery *q, FmScored *out,
			   int *n_out)
{
	FmTopnQuery tq = {0};
	int			cap;
	int			pick;
	int			len = 0;
	double		znorm = 0.0;
	uint32_t	used;
	float	   *z = NULL;
	float	   *scores = NULL;
	HeapEntry  *heap = NULL;
	uint32_t   *excl = NULL;
	size_t		n_excl = 0;
	int64_t    *all_excl = NULL;
	Columns		c;
	FmStatus	st;

	*n_out = 0;
	tq.n = q->n;
	tq.candidates = q->candidates;
	tq.n_candidates = q->n_candidates;
	cap = (int) FmTopnCapacity(m, &tq);
	if (cap <= 0 || m->k == 0)
		return FM_OK;
	if ((st = ColumnsBuild(m, &tq, &c)) != FM_OK)
		return st;
	st = FM_ERR_NOMEM;
	pick = (int) Min((size_t) cap + FM_TOPN_MARGIN, Max(c.n, 1));
	z = malloc(m->k * sizeof(float));
	heap = malloc(PickBytes(c.n, pick));
	scores = malloc(Max(c.n, 1) * sizeof(float));
	all_excl = malloc((q->n_exclude + q->n_items + 1) * sizeof(int64_t));
	if (!z || !heap || !scores || !all_excl)
		goto done;
	/* the query's own items are left out unless asked for */
	FmCopy(all_excl, q->exclude, q->n_exclude * sizeof(int64_t));
	tq.n_exclude = q->n_exclude;
	if (!q->include_query)
	{
		FmCopy(all_excl + tq.n_exclude, q->items, q->n_items * sizeof(int64_t));
		tq.n_exclude += q->n_items;
	}
	tq.exclude = all_excl;
	if (ExcludedItems(m, &tq, &excl, &n_excl) != FM_OK)
		goto done;
	if (m->nbr.off != NULL)
	{
		/* item-item: the query items' neighbor lists, summed */
		int64_t		known = ItemItemColumns(m, &c, NULL, 0, q->items, q->n_items, scores);

		if (known < 0)
			goto done;
		used = (uint32_t) known;
		/* only neighbors are similar: others are not listed */
		for (size_t j = 0; j < c.n; j++)
			if (scores[j] <= 0.0f)
				scores[j] = -INFINITY;
	}
	else
	{
		znorm = SimilarQuery(m, q, z, &used);
		if (used > 0 && znorm > 0.0 && c.n > 0)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) c.n, m->k, 1.0f, c.q,
						m->k, z, 1, 0.0f, scores, 1);
		for (size_t j = 0; j < c.n && used > 0 && znorm > 0.0; j++)
		{
			int64_t		i = c.iidx ? c.iidx[j] : (int64_t) j;

			/* no direction (unknown candidate, untrained item): not listed */
			scores[j] = (i < 0 || m->qnorm[i] == 0.0f) ? -INFINITY :
				(float) (scores[j] / (znorm * m->qnorm[i]));
		}
		if (znorm == 0.0)
			used = 0;
	}
	st = FM_OK;
	if (used == 0)
		goto done;
	c.b = NULL;
	len = PickColumns(m, &c, scores, 0.0f, false, -1, excl, n_excl, heap, pick);
	/* the neighbor sums are exact; cosines from sgemv are rescored */
	if (m->nbr.off == NULL)
		for (int j = 0; j < len; j++)
			heap[j].raw = Cosine(m, z, znorm, FmModelItemIndex(m, heap[j].item));
	qsort(heap, len, sizeof(HeapEntry), CompareBestFirst);
	for (int j = 0; j < len && *n_out < cap; j++)
		if (heap[j].raw != -INFINITY)
		{
			out[*n_out].item = heap[j].item;
			out[(*n_out)++].score = heap[j].raw;
		}
done:
	free(z);
	free(heap);
	free(scores);
	free(all_excl);
	free(excl);
	ColumnsFree(&c);
	return st;
}
