/*
 * interop.c
 *	  Training examples in the formats of SageMaker and libFM.
 *
 * SageMaker's built-in algorithms read application/x-recordio-protobuf:
 * a sequence of RecordIO frames (uint32 magic 0xced7230a, uint32 length
 * whose top three bits are a continuation flag, the bytes, zero padding to
 * a multiple of four; little-endian), each holding one aialgs.data.Record
 * (proto/record.proto).  The SageMaker Python SDK's
 * write_spmatrix_to_sparse_tensor writes a sparse row as
 * features["values"] = float32 tensor (values, keys, shape [columns]) and
 * label["values"] = a float32 tensor of one value; FmRecordIOWrite writes
 * exactly that, so its bytes are the SDK's.  FmRecordIORead also reads
 * float64 and int32 tensors and dense vectors (no keys).
 *
 * libFM reads text lines "label index:value index:value ...".
 *
 * No PostgreSQL headers here: the layer (src/interop.c) frames the SQL.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "record.pb-c.h"

#define RECORDIO_MAGIC 0xced7230aU

static void
PutU32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static uint32_t
GetU32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
		(uint32_t) p[3] << 24;
}

/* the Record of row, pointing into row and the caller's locals */
typedef struct RecordParts
{
	Aialgs__Data__Float32Tensor ft;
	Aialgs__Data__Float32Tensor lt;
	Aialgs__Data__Value fv;
	Aialgs__Data__Value lv;
	Aialgs__Data__Record__FeaturesEntry fe;
	Aialgs__Data__Record__LabelEntry le;
	Aialgs__Data__Record__FeaturesEntry *fes[1];
	Aialgs__Data__Record__LabelEntry *les[1];
	Aialgs__Data__Record rec;
	float		label;
	uint64_t	dim;
} RecordParts;

static void
BuildRecord(const FmSparseRow *row, RecordParts *p)
{
	static char values[] = "values";

	aialgs__data__float32_tensor__init(&p->ft);
	p->ft.n_values = row->n;
	p->ft.values = (float *) row->vals;
	p->ft.n_keys = row->n;
	p->ft.keys = (uint64_t *) row->keys;
	p->dim = row->dim;
	p->ft.n_shape = 1;
	p->ft.shape = &p->dim;
	aialgs__data__value__init(&p->fv);
	p->fv.value_case = AIALGS__DATA__VALUE__VALUE_FLOAT32_TENSOR;
	p->fv.float32_tensor = &p->ft;
	aialgs__data__record__features_entry__init(&p->fe);
	p->fe.key = values;
	p->fe.value = &p->fv;
	p->fes[0] = &p->fe;

	aialgs__data__float32_tensor__init(&p->lt);
	p->label = (float) row->label;
	p->lt.n_values = 1;
	p->lt.values = &p->label;
	aialgs__data__value__init(&p->lv);
	p->lv.value_case = AIALGS__DATA__VALUE__VALUE_FLOAT32_TENSOR;
	p->lv.float32_tensor = &p->lt;
	aialgs__data__record__label_entry__init(&p->le);
	p->le.key = values;
	p->le.value = &p->lv;
	p->les[0] = &p->le;

	aialgs__data__record__init(&p->rec);
	p->rec.n_features = 1;
	p->rec.features = p->fes;
	p->rec.n_label = 1;
	p->rec.label = p->les;
}

static size_t
Padded(size_t n)
{
	return (n + 3) & ~(size_t) 3;
}

/* Bytes FmRecordIOWrite takes for row: the frame, the record, padding. */
size_t
FmRecordIOSize(const FmSparseRow *row)
{
	RecordParts p;

	BuildRecord(row, &p);
	return 8 + Padded(aialgs__data__record__get_packed_size(&p.rec));
}

/*
 * Writes row as one framed record into out (cap bytes); *len is what it
 * took.  The label is written as float32, as SageMaker's writer does.
 */
FmStatus
FmRecordIOWrite(const FmSparseRow *row, uint8_t *out, size_t cap, size_t *len)
{
	RecordParts p;
	size_t		n;

	if (row->n > FM_SPARSE_MAX)
		return FM_ERR_LIMIT;
	BuildRecord(row, &p);
	n = aialgs__data__record__get_packed_size(&p.rec);
	if (n >= FM_RECORDIO_MAX_RECORD)
		return FM_ERR_LIMIT;
	if (cap < 8 + Padded(n))
		return FM_ERR_NOMEM;
	PutU32(out, RECORDIO_MAGIC);
	PutU32(out + 4, (uint32_t) n);
	aialgs__data__record__pack(&p.rec, out + 8);
	memset(out + 8 + n, 0, Padded(n) - n);
	*len = 8 + Padded(n);
	return FM_OK;
}

/*
 * Copies a tensor's values and keys into row (dense: the non-zero values,
 * at their positions).  Returns false, with err, when it does not fit.
 */
static bool
TakeTensor(const Aialgs__Data__Value *v, bool label, FmSparseRow *row,
		   char *err, size_t errlen)
{
	size_t		nv,
				nk,
				ns;
	const uint64_t *keys,
			   *shape;
	size_t		n = 0;

	switch (v->value_case)
	{
		case AIALGS__DATA__VALUE__VALUE_FLOAT32_TENSOR:
			nv = v->float32_tensor->n_values;
			nk = v->float32_tensor->n_keys;
			ns = v->float32_tensor->n_shape;
			keys = v->float32_tensor->keys;
			shape = v->float32_tensor->shape;
			break;
		case AIALGS__DATA__VALUE__VALUE_FLOAT64_TENSOR:
			nv = v->float64_tensor->n_values;
			nk = v->float64_tensor->n_keys;
			ns = v->float64_tensor->n_shape;
			keys = v->float64_tensor->keys;
			shape = v->float64_tensor->shape;
			break;
		case AIALGS__DATA__VALUE__VALUE_INT32_TENSOR:
			nv = v->int32_tensor->n_values;
			nk = v->int32_tensor->n_keys;
			ns = v->int32_tensor->n_shape;
			keys = v->int32_tensor->keys;
			shape = v->int32_tensor->shape;
			break;
		default:
			snprintf(err, errlen, "Its %s is not a float32, float64 or int32 tensor.",
					 label ? "label" : "feature vector");
			return false;
	}
	if (nk != 0 && nk != nv)
	{
		snprintf(err, errlen, "Its %s has %zu values and %zu keys.",
				 label ? "label" : "feature vector", nv, nk);
		return false;
	}
	if (label)
	{
		if (nv != 1 || nk > 1)
		{
			snprintf(err, errlen, "Its label has %zu values; a label has one.", nv);
			return false;
		}
		row->label = v->value_case == AIALGS__DATA__VALUE__VALUE_FLOAT32_TENSOR ?
			v->float32_tensor->values[0] :
			v->value_case == AIALGS__DATA__VALUE__VALUE_FLOAT64_TENSOR ?
			v->float64_tensor->values[0] : v->int32_tensor->values[0];
		return true;
	}
	row->dim = ns > 0 ? shape[0] : nk == 0 ? nv : 0;
	for (size_t j = 0; j < nv; j++)
	{
		double		x = v->value_case == AIALGS__DATA__VALUE__VALUE_FLOAT32_TENSOR ?
			v->float32_tensor->values[j] :
			v->value_case == AIALGS__DATA__VALUE__VALUE_FLOAT64_TENSOR ?
			v->float64_tensor->values[j] : v->int32_tensor->values[j];

		if (nk == 0 && x == 0)
			continue;
		if (n == FM_SPARSE_MAX)
		{
			snprintf(err, errlen, "It has more than %d features.", FM_SPARSE_MAX);
			return false;
		}
		row->keys[n] = nk ? keys[j] : j;
		row->vals[n++] = (float) x;
	}
	row->n = n;
	return true;
}

static const Aialgs__Data__Value *
FindValues(size_t n, void **entries, bool label)
{
	for (size_t j = 0; j < n; j++)
	{
		const char *key;
		const Aialgs__Data__Value *v;

		if (label)
		{
			key = ((Aialgs__Data__Record__LabelEntry *) entries[j])->key;
			v = ((Aialgs__Data__Record__LabelEntry *) entries[j])->value;
		}
		else
		{
			key = ((Aialgs__Data__Record__FeaturesEntry *) entries[j])->key;
			v = ((Aialgs__Data__Record__FeaturesEntry *) entries[j])->value;
		}
		if (key && strcmp(key, "values") == 0 && v)
			return v;
	}
	return NULL;
}

/*
 * Reads the record at *pos of data (len bytes) into row and moves *pos past
 * it.  FM_DONE at the end; FM_ERR_CORRUPT with err for a damaged frame or
 * record, FM_ERR_DATA for one that is no labelled sparse example.
 */
FmStatus
FmRecordIORead(const uint8_t *data, size_t len, size_t *pos, FmSparseRow *row,
			   char *err, size_t errlen)
{
	size_t		at = *pos;
	uint32_t	lrec;
	size_t		n;
	Aialgs__Data__Record *rec;
	const Aialgs__Data__Value *fv,
			   *lv;
	bool		ok;

	if (at == len)
		return FM_DONE;
	if (len - at < 8)
	{
		snprintf(err, errlen, "The data end inside a RecordIO header at byte %zu.", at);
		return FM_ERR_CORRUPT;
	}
	if (GetU32(data + at) != RECORDIO_MAGIC)
	{
		snprintf(err, errlen, "Byte %zu does not start a RecordIO record (magic 0xced7230a).", at);
		return FM_ERR_CORRUPT;
	}
	lrec = GetU32(data + at + 4);
	if (lrec >> 29 != 0)
	{
		snprintf(err, errlen, "The record at byte %zu is split in parts (flag %u), which SageMaker's writers never do.",
				 at, lrec >> 29);
		return FM_ERR_CORRUPT;
	}
	n = lrec & ((1U << 29) - 1);
	if (n > len - at - 8)
	{
		snprintf(err, errlen, "The record at byte %zu says %zu bytes, %zu remain.", at, n, len - at - 8);
		return FM_ERR_CORRUPT;
	}
	rec = aialgs__data__record__unpack(NULL, n, data + at + 8);
	if (rec == NULL)
	{
		snprintf(err, errlen, "The record at byte %zu is not an aialgs.data.Record.", at);
		return FM_ERR_CORRUPT;
	}
	fv = FindValues(rec->n_features, (void **) rec->features, false);
	lv = FindValues(rec->n_label, (void **) rec->label, true);
	memset(row, 0, offsetof(FmSparseRow, keys));
	if (fv == NULL || lv == NULL)
	{
		snprintf(err, errlen, "It has no %s[\"values\"].", fv == NULL ? "features" : "label");
		ok = false;
	}
	else
		ok = TakeTensor(fv, false, row, err, errlen) && TakeTensor(lv, true, row, err, errlen);
	aialgs__data__record__free_unpacked(rec, NULL);
	if (!ok)
		return FM_ERR_DATA;
	/* the padding may be missing after the last record only */
	*pos = at + 8 + Padded(n) <= len ? at + 8 + Padded(n) : len;
	return FM_OK;
}

/*
 * Writes row as a libFM line, without the newline: "label key:value ...",
 * with as many digits as a float needs to read back the same.  Returns the
 * length, or the length it would need when cap is too small (snprintf's
 * contract).
 */
size_t
FmLibfmWrite(const FmSparseRow *row, char *out, size_t cap)
{
	size_t		at;

	at = (size_t) snprintf(out, cap, "%.9g", row->label);
	for (size_t j = 0; j < row->n; j++)
		at += (size_t) snprintf(at < cap ? out + at : NULL, at < cap ? cap - at : 0,
								" %llu:%.9g", (unsigned long long) row->keys[j],
								(double) row->vals[j]);
	return at;
}

static bool
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Reads one libFM line of len bytes (not NUL-terminated) into row.
 * FM_DONE for a blank line; FM_ERR_DATA with err for a malformed one.
 */
FmStatus
FmLibfmRead(const char *line, size_t len, FmSparseRow *row, char *err, size_t errlen)
{
	char		buf[64];
	size_t		at = 0;
	bool		first = true;

	memset(row, 0, offsetof(FmSparseRow, keys));
	for (;;)
	{
		size_t		start,
					tl;
		char	   *end;
		char	   *colon;

		while (at < len && IsSpace(line[at]))
			at++;
		if (at == len)
			break;
		start = at;
		while (at < len && !IsSpace(line[at]))
			at++;
		tl = at - start;
		if (tl >= sizeof(buf))
		{
			snprintf(err, errlen, "A token of %zu characters is too long.", tl);
			return FM_ERR_DATA;
		}
		memcpy(buf, line + start, tl);
		buf[tl] = '\0';
		errno = 0;
		if (first)
		{
			row->label = strtod(buf, &end);
			if (*end != '\0' || errno != 0 || !FmFitsFloat(row->label))
			{
				snprintf(err, errlen, "The label \"%s\" is not a finite number in the range of real.", buf);
				return FM_ERR_DATA;
			}
			first = false;
			continue;
		}
		colon = strchr(buf, ':');
		if (colon == NULL || colon == buf || buf[0] == '-' || buf[0] == '+')
		{
			snprintf(err, errlen, "\"%s\" is not index:value.", buf);
			return FM_ERR_DATA;
		}
		*colon = '\0';
		if (row->n == FM_SPARSE_MAX)
		{
			snprintf(err, errlen, "It has more than %d features.", FM_SPARSE_MAX);
			return FM_ERR_DATA;
		}
		row->keys[row->n] = strtoull(buf, &end, 10);
		if (*end != '\0' || errno != 0)
		{
			snprintf(err, errlen, "The index \"%s\" is not a non-negative integer.", buf);
			return FM_ERR_DATA;
		}
		{
			double		x = strtod(colon + 1, &end);

			if (*end != '\0' || colon[1] == '\0' || errno != 0 || !FmFitsFloat(x))
			{
				snprintf(err, errlen, "The value \"%s\" is not a finite number in the range of real.", colon + 1);
				return FM_ERR_DATA;
			}
			row->vals[row->n++] = (float) x;
		}
	}
	return first ? FM_DONE : FM_OK;
}

/*
 * The (user, item) of a one-hot example in SageMaker's layout: one key
 * below users (the user's id), one at or above it (users + the item's id),
 * both of value 1.
 */
FmStatus
FmSparsePair(const FmSparseRow *row, uint64_t users, int64_t *user, int64_t *item,
			 char *err, size_t errlen)
{
	int			nu = 0,
				ni = 0;

	for (size_t j = 0; j < row->n; j++)
	{
		if (row->vals[j] != 1.0f)
		{
			snprintf(err, errlen, "Key %llu has value %g; a one-hot example has 1.",
					 (unsigned long long) row->keys[j], (double) row->vals[j]);
			return FM_ERR_DATA;
		}
		if (row->keys[j] < users)
		{
			*user = (int64_t) row->keys[j];
			nu++;
		}
		else if (row->keys[j] - users <= (uint64_t) INT64_MAX)
		{
			*item = (int64_t) (row->keys[j] - users);
			ni++;
		}
		else
			ni += 2;
	}
	if (nu != 1 || ni != 1)
	{
		snprintf(err, errlen, "It has %d keys below %llu (users) and %d at or above; a (user, item) example has one of each.",
				 nu, (unsigned long long) users, ni);
		return FM_ERR_DATA;
	}
	if (!isfinite(row->label))
	{
		snprintf(err, errlen, "Its label is not a finite number.");
		return FM_ERR_DATA;
	}
	return FM_OK;
}
