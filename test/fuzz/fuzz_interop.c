/*
 * fuzz_interop.c
 *	  libFuzzer harness of the core's readers of SageMaker's
 *	  RecordIO-protobuf and libFM's text (src/core/interop.c).
 *
 * The input is read both ways: as RecordIO frames until the end or the
 * first error, and as libFM lines.  Every example that reads is written
 * again and read back: it must come back the same (a label as float32,
 * which is how both writers keep it), else the harness aborts.
 *
 * Built and run by `make fuzz`; not part of the extension.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

/* equal, or both NaN (a record may hold NaN; SQL refuses it later) */
static bool
Eq(double x, double y)
{
	return x == y || (isnan(x) && isnan(y));
}

static void
Same(const FmSparseRow *a, const FmSparseRow *b, bool float_label)
{
	bool		same = a->n == b->n &&
		(float_label ? Eq((float) a->label, (float) b->label) : Eq(a->label, b->label));

	for (size_t j = 0; same && j < a->n; j++)
		same = a->keys[j] == b->keys[j] && Eq(a->vals[j], b->vals[j]);
	if (!same)
	{
		fprintf(stderr, "an example written and read back differs\n");
		abort();
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[FM_SPARSE_MAX * 32 + 256];
	static char line[FM_SPARSE_MAX * 48 + 32];
	char		err[FM_ERRLEN];
	FmSparseRow row,
				back;
	size_t		pos = 0,
				at = 0;

	while (FmRecordIORead(data, size, &pos, &row, err, sizeof(err)) == FM_OK)
	{
		size_t		len,
					p2 = 0;
		int64_t		user,
					item;

		if (row.dim == 0)
			row.dim = 1;
		if (FmRecordIOWrite(&row, out, sizeof(out), &len) != FM_OK ||
			FmRecordIORead(out, len, &p2, &back, err, sizeof(err)) != FM_OK || p2 != len)
		{
			fprintf(stderr, "a record read does not write and read back: %s\n", err);
			abort();
		}
		Same(&row, &back, true);
		(void) FmSparsePair(&row, 7, &user, &item, err, sizeof(err));
	}
	while (at < size)
	{
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t		end = nl ? (size_t) (nl - data) : size;

		if (FmLibfmRead((const char *) data + at, end - at, &row, err, sizeof(err)) == FM_OK)
		{
			size_t		len;

			/* labels are written as the float fmrec keeps them */
			row.label = (float) row.label;
			len = FmLibfmWrite(&row, line, sizeof(line));

			if (len >= sizeof(line) ||
				FmLibfmRead(line, len, &back, err, sizeof(err)) != FM_OK)
			{
				fprintf(stderr, "a line read does not write and read back: %s\n", err);
				abort();
			}
			Same(&row, &back, true);
		}
		at = end + 1;
	}
	return 0;
}
