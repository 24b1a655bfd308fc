# fmrec: Factorization Machines inside PostgreSQL
#
#   make demo    install what is missing, build, start a throwaway cluster,
#                train on built-in data and show recommendations
#   make test    the same set-up, then core unit tests, pg_regress and TAP
#   make bench   benchmark tables (core and SQL)
#   make fuzz    fuzz the model decoder (clang, ASan + UBSan)
#   make valgrind  the core unit tests under valgrind
#
# Plain PGXS otherwise: make && make install && make installcheck.

EXTENSION = fmrec
EXTVERSION = 0.2.0

MODULE_big = fmrec
CORE_OBJS = src/core/fmrec.pb-c.o src/core/record.pb-c.o src/core/params.o src/core/idmap.o \
	src/core/ratings.o src/core/dataset.o src/core/model.o src/core/pool.o \
	src/core/trainrow.o src/core/trainer.o src/core/solvers.o \
	src/core/sgd.o src/core/cd.o src/core/ials.o src/core/icd.o src/core/itemknn.o src/core/samplers.o \
	src/core/topn.o src/core/metrics.o src/core/evaluate.o src/core/codec.o src/core/synth.o \
	src/core/kernels.o src/core/featdict.o src/core/features.o src/core/interop.o \
	src/core/tune.o
LAYER_OBJS = src/fmrec.o src/options.o src/load.o src/catalog.o src/cache.o \
	src/train.o src/serve.o src/agg.o src/synthetic.o src/evaluate.o src/split.o \
	src/interop.o src/tune.o
OBJS = $(CORE_OBJS) $(LAYER_OBJS)

DATA = sql/$(EXTENSION)--$(EXTVERSION).sql sql/$(EXTENSION)--0.1.0.sql \
	sql/$(EXTENSION)--0.1.0--0.2.0.sql
REGRESS = api errors model_bytes aggregate rollback features solvers format1 security upgrade limits ranking serving interop tune
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# OpenBLAS, single-threaded build: a PostgreSQL backend must not grow
# BLAS threads that could take its signals; fmrec runs its own workers.
BLAS_PC = /usr/lib/x86_64-linux-gnu/openblas-serial/pkgconfig
BLAS_CFLAGS := $(shell PKG_CONFIG_PATH=$(BLAS_PC) pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBDIR := $(shell PKG_CONFIG_PATH=$(BLAS_PC) pkg-config --variable=libdir openblas 2>/dev/null)
PROTOBUF_CFLAGS := $(shell pkg-config --cflags libprotobuf-c 2>/dev/null)
PROTOBUF_LIBS := $(shell pkg-config --libs libprotobuf-c 2>/dev/null || echo -lprotobuf-c)

WARN = -Wall -Wextra -Werror
# server headers as system headers: their inline functions are not
# -Wextra clean (unused parameters), fmrec's own code is
PG_CPPFLAGS = -Isrc/core $(BLAS_CFLAGS) $(PROTOBUF_CFLAGS) \
	-isystem $(includedir_server) -isystem $(includedir_internal)
PG_CFLAGS = $(WARN) -pthread
SHLIB_LINK = $(PROTOBUF_LIBS) -L$(BLAS_LIBDIR) -Wl,-rpath,$(BLAS_LIBDIR) \
	-lopenblas -pthread -lm

EXTRA_CLEAN = src/core/fmrec.pb-c.c src/core/fmrec.pb-c.h src/core/record.pb-c.c \
	src/core/record.pb-c.h test/core/test_core \
	test/bench/bench_core test/fuzz/work results regression.diffs regression.out tmp_check

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
endif

# The core is the hot path: full optimization, sqrtf without errno so it
# vectorizes, and no -fwrapv (PostgreSQL's own code needs it, the core does
# not, and with it GCC cannot vectorize the strided factor loops: SGD epochs
# take 40% longer).  None of this relaxes IEEE semantics (no fast-math).
$(CORE_OBJS): CFLAGS += -O3 -fno-math-errno -fno-wrapv

src/core/fmrec.pb-c.c src/core/fmrec.pb-c.h: proto/fmrec.proto
	protoc-c --proto_path=proto --c_out=src/core $<

# SageMaker's training record (interop.c)
src/core/record.pb-c.c src/core/record.pb-c.h: proto/record.proto
	protoc-c --proto_path=proto --c_out=src/core $<

$(CORE_OBJS) $(LAYER_OBJS): src/core/fmrec.pb-c.h src/core/record.pb-c.h src/core/fm.h
$(CORE_OBJS): src/core/trainer.h src/core/kernels.h src/core/rng.h
$(LAYER_OBJS): src/fmrec.h

# ---- core unit tests and benchmarks, no server involved ----
CORE_CC = $(CC) -std=gnu11 -O3 -fno-math-errno -fno-wrapv -g $(WARN) -pthread \
	-Isrc/core $(BLAS_CFLAGS) $(PROTOBUF_CFLAGS)
CORE_SRCS = $(CORE_OBJS:.o=.c)
CORE_LIBS = $(PROTOBUF_LIBS) -L$(BLAS_LIBDIR) -Wl,-rpath,$(BLAS_LIBDIR) -lopenblas -lm

test/core/test_core: test/core/test_core.c $(CORE_SRCS) src/core/fm.h src/core/fmrec.pb-c.h src/core/record.pb-c.h
	$(CORE_CC) -o $@ test/core/test_core.c $(CORE_SRCS) $(CORE_LIBS)

test/bench/bench_core: test/bench/bench_core.c $(CORE_SRCS) src/core/fm.h src/core/fmrec.pb-c.h src/core/record.pb-c.h
	$(CORE_CC) -o $@ test/bench/bench_core.c $(CORE_SRCS) $(CORE_LIBS)

.PHONY: deps unittest demo demo-stop test bench bench-large fuzz valgrind print-core-srcs dist

deps:
	@bash test/install-deps.sh

unittest: test/core/test_core
	test/core/test_core

demo:
	@bash test/demo.sh

demo-stop:
	@bash test/cluster.sh stop demo

test:
	@bash test/run-tests.sh

bench:
	@bash test/bench/run-bench.sh

# how the cost grows to 25M ratings (several minutes; needs some 8 GB)
bench-large:
	@bash test/bench/run-bench-large.sh

# libFuzzer harness of the decoder (clang; skipped when clang is missing):
# make fuzz FUZZ_SECONDS=1800 FUZZ_JOBS=2
fuzz:
	@bash test/fuzz/run-fuzz.sh

# the core unit tests under valgrind: 0 errors and 0 definite leaks
valgrind: test/core/test_core
	FMREC_UNDER_VALGRIND=1 valgrind -q --error-exitcode=1 --leak-check=full \
		--show-leak-kinds=definite --errors-for-leak-kinds=definite \
		test/core/test_core

print-core-srcs:
	@echo $(CORE_SRCS)

# a PGXN release archive of the committed tree: fmrec-0.2.0.zip
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(EXTENSION)-$(EXTVERSION).zip HEAD
