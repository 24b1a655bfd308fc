/*
 * featdict.c
 *	  Feature names -> dense indexes, and the feature inputs built on it.
 *
 * A factorization machine's side features are named ("genre=Drama",
 * "age=25-34", "daypart=evening"); the dictionary numbers them.  Three
 * separate dictionaries exist per model: user attributes, item attributes
 * and rating context, so the same name on two sides is two features.
 * Names are numbered provisionally in arrival order while loading and
 * renumbered by sorted name in dataset.c, so models do not depend on the
 * order rows arrived in.
 */
#include <stdlib.h>
#include <string.h>

#include "fm.h"

#define EMPTY UINT32_MAX

static uint64_t
HashName(const char *s, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (size_t j = 0; j < len; j++)
	{
		h ^= (unsigned char) s[j];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

void
FmFeatDictInit(FmFeatDict d)
{
	memset(d, 0, sizeof(*d));
}

void
FmFeatDictFree(FmFeatDict d)
{
	for (size_t j = 0; j < d->n; j++)
		free(d->names[j]);
	free(d->names);
	free(d->lens);
	free(d->slots);
	memset(d, 0, sizeof(*d));
}

/* Doubles the open-addressing table and reinserts every name. */
static FmStatus
Rehash(FmFeatDict d, size_t cap)
{
	uint32_t   *slots = malloc(cap * sizeof(uint32_t));

	if (slots == NULL)
		return FM_ERR_NOMEM;
	memset(slots, 0xFF, cap * sizeof(uint32_t));
	for (size_t j = 0; j < d->n; j++)
	{
		size_t		h = HashName(d->names[j], d->lens[j]) & (cap - 1);

		while (slots[h] != EMPTY)
			h = (h + 1) & (cap - 1);
		slots[h] = (uint32_t) j;
	}
	free(d->slots);
	d->slots = slots;
	d->mask = cap - 1;
	return FM_OK;
}

/* The index of a name, or -1 when the dictionary does not have it. */
int64_t
FmFeatDictGet(const FmFeatDictData *d, const char *name, size_t len)
{
	size_t		h;

	if (d->slots == NULL)
		return -1;
	h = HashName(name, len) & d->mask;
	while (d->slots[h] != EMPTY)
	{
		uint32_t	j = d->slots[h];

		if (d->lens[j] == len && memcmp(d->names[j], name, len) == 0)
			return j;
		h = (h + 1) & d->mask;
	}
	return -1;
}

/* Returns the index of name, adding it when new. */
FmStatus
FmFeatDictIntern(FmFeatDict d, const char *name, size_t len, uint32_t *idx)
{
	int64_t		found = FmFeatDictGet(d, name, len);
	char	   *copy;

	if (found >= 0)
	{
		*idx = (uint32_t) found;
		return FM_OK;
	}
	if (d->n >= FM_MAX_IDS)
		return FM_ERR_LIMIT;
	if (d->n == d->cap)
	{
		size_t		cap = d->cap ? 2 * d->cap : 64;
		char	  **names = realloc(d->names, cap * sizeof(char *));
		size_t	   *lens;

		if (names == NULL)
			return FM_ERR_NOMEM;
		d->names = names;
		lens = realloc(d->lens, cap * sizeof(size_t));
		if (lens == NULL)
			return FM_ERR_NOMEM;
		d->lens = lens;
		d->cap = cap;
	}
	if ((d->n + 1) * 2 > (d->slots ? d->mask + 1 : 0) &&
		Rehash(d, d->slots ? 2 * (d->mask + 1) : 128) != FM_OK)
		return FM_ERR_NOMEM;
	if ((copy = malloc(len + 1)) == NULL)
		return FM_ERR_NOMEM;
	memcpy(copy, name, len);
	copy[len] = '\0';
	d->names[d->n] = copy;
	d->lens[d->n] = len;
	{
		size_t		h = HashName(name, len) & d->mask;

		while (d->slots[h] != EMPTY)
			h = (h + 1) & d->mask;
		d->slots[h] = (uint32_t) d->n;
	}
	*idx = (uint32_t) d->n++;
	return FM_OK;
}

void
FmSideInit(FmSide s)
{
	memset(s, 0, sizeof(*s));
	FmFeatDictInit(&s->dict);
}

void
FmSideFree(FmSide s)
{
	FmFeatDictFree(&s->dict);
	free(s->id);
	free(s->feat);
	free(s->val);
	memset(s, 0, sizeof(*s));
}

/* Adds one (id, feature, value) triple. */
FmStatus
FmSideAdd(FmSide s, int64_t id, const char *name, size_t len, float val)
{
	uint32_t	f;
	FmStatus	st;

	if ((st = FmFeatDictIntern(&s->dict, name, len, &f)) != FM_OK)
		return st;
	if (s->n == s->cap)
	{
		size_t		cap = s->cap ? 2 * s->cap : 1024;
		void	   *p;

		if ((p = realloc(s->id, cap * sizeof(int64_t))) == NULL)
			return FM_ERR_NOMEM;
		s->id = p;
		if ((p = realloc(s->feat, cap * sizeof(uint32_t))) == NULL)
			return FM_ERR_NOMEM;
		s->feat = p;
		if ((p = realloc(s->val, cap * sizeof(float))) == NULL)
			return FM_ERR_NOMEM;
		s->val = p;
		s->cap = cap;
	}
	s->id[s->n] = id;
	s->feat[s->n] = f;
	s->val[s->n] = val;
	s->n++;
	return FM_OK;
}

/*
 * Writes the name of the feature for value[0..vlen) of column[0..clen),
 * "c=v" and a NUL, to out, which has FM_FEATURE_NAME_SIZE(clen, vlen)
 * bytes.
 */
void
FmFeatureName(char *out, const char *column, size_t clen, const char *value,
			  size_t vlen)
{
	memcpy(out, column, clen);
	out[clen] = '=';
	memcpy(out + clen + 1, value, vlen);
	out[clen + 1 + vlen] = '\0';
}

/* How a boolean value is spelled in a feature name. */
const char *
FmBoolText(bool value)
{
	return value ? "true" : "false";
}

/* The bytes a side's rows hold at their capacity, names included. */
double
FmSideMemory(const FmSideData *s)
{
	return (double) s->cap * (sizeof(int64_t) + sizeof(uint32_t) + sizeof(float)) +
		(double) s->dict.n * 64;
}
