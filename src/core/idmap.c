/*
 * idmap.c
 *	  Open-addressing hash map from int64 ids to dense uint32 indexes.
 *
 * Ids are arbitrary bigints (sparse, negative, up to 2^63-1), so the map
 * is sized by the number of distinct ids.  Linear probing with a
 * splitmix64 finalizer as hash; the load factor stays at or below 1/2.
 */
#include <stdlib.h>
#include <string.h>

#include "fm.h"

#define EMPTY UINT32_MAX

static inline size_t
HashId(int64_t key)
{
	uint64_t	z = (uint64_t) key;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (size_t) (z ^ (z >> 31));
}

/* Sizes the table for `expected` ids at a load factor of at most one half. */
FmStatus
FmIdMapInit(FmIdMap map, size_t expected)
{
	size_t		cap = 16;

	while (cap < expected * 2)
		cap <<= 1;
	map->keys = malloc(cap * sizeof(int64_t));
	map->vals = malloc(cap * sizeof(uint32_t));
	if (map->keys == NULL || map->vals == NULL)
	{
		FmIdMapFree(map);
		return FM_ERR_NOMEM;
	}
	memset(map->vals, 0xFF, cap * sizeof(uint32_t));
	map->mask = cap - 1;
	map->count = 0;
	return FM_OK;
}

void
FmIdMapFree(FmIdMap map)
{
	free(map->keys);
	free(map->vals);
	map->keys = NULL;
	map->vals = NULL;
	map->mask = 0;
	map->count = 0;
}

/* Doubles the table and reinserts every key. */
static FmStatus
Grow(FmIdMap map)
{
	FmIdMapData bigger;
	size_t		old_cap = map->mask + 1;

	if (FmIdMapInit(&bigger, old_cap) != FM_OK)
		return FM_ERR_NOMEM;
	for (size_t s = 0; s < old_cap; s++)
	{
		if (map->vals[s] != EMPTY)
		{
			size_t		h = HashId(map->keys[s]) & bigger.mask;

			while (bigger.vals[h] != EMPTY)
				h = (h + 1) & bigger.mask;
			bigger.keys[h] = map->keys[s];
			bigger.vals[h] = map->vals[s];
		}
	}
	bigger.count = map->count;
	FmIdMapFree(map);
	*map = bigger;
	return FM_OK;
}

/*
 * Inserts key -> val unless present; *found receives the value the key
 * has.
 */
FmStatus
FmIdMapPut(FmIdMap map, int64_t key, uint32_t val, uint32_t *found)
{
	size_t		h;

	if ((map->count + 1) * 2 > map->mask + 1 && Grow(map) != FM_OK)
		return FM_ERR_NOMEM;
	h = HashId(key) & map->mask;
	while (map->vals[h] != EMPTY)
	{
		if (map->keys[h] == key)
		{
			*found = map->vals[h];
			return FM_OK;
		}
		h = (h + 1) & map->mask;
	}
	map->keys[h] = key;
	map->vals[h] = val;
	map->count++;
	*found = val;
	return FM_OK;
}

/* The dense index of key, or -1. */
int64_t
FmIdMapGet(const FmIdMapData *map, int64_t key)
{
	size_t		h;

	if (map->keys == NULL)
		return -1;
	h = HashId(key) & map->mask;
	while (map->vals[h] != EMPTY)
	{
		if (map->keys[h] == key)
			return map->vals[h];
		h = (h + 1) & map->mask;
	}
	return -1;
}
