#!/bin/bash
# make fuzz: builds the libFuzzer harness of the model decoder
# (test/fuzz/fuzz_decode.c) with ASan and UBSan, null-argument checks on
# and every report fatal, generates the seed corpus (test/fuzz/seeds.c
# plus the 0.1.0 fixtures of test/fixtures), fuzzes for FUZZ_SECONDS
# (default 60) on FUZZ_JOBS processes (default 1), then replays the corpus
# through a coverage build and prints the line coverage of codec.c.
# Skipped, successfully, when clang is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v clang >/dev/null 2>&1; then
    echo "fmrec: clang not found, make fuzz skipped (apt-get install clang)"
    exit 0
fi
SECONDS_TO_RUN=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-1}
OUT=${FUZZ_DIR:-test/fuzz/work}
mkdir -p "$OUT/seeds" "$OUT/corpus"

make -s src/core/fmrec.pb-c.h src/core/record.pb-c.h
CORE_SRCS=$(make -s print-core-srcs)
INC="-Isrc/core $(pkg-config --cflags libprotobuf-c 2>/dev/null)"
BLAS_LIBDIR=$(PKG_CONFIG_PATH=/usr/lib/x86_64-linux-gnu/openblas-serial/pkgconfig \
              pkg-config --variable=libdir openblas)
LIBS="-lprotobuf-c -L$BLAS_LIBDIR -Wl,-rpath,$BLAS_LIBDIR -lopenblas -lm -pthread"
SAN="-fsanitize=fuzzer,address,undefined -fsanitize=nonnull-attribute,returns-nonnull-attribute -fno-sanitize-recover=all"

echo "== building the harness (clang, ASan + UBSan)"
clang -std=gnu11 -g -O1 $SAN $INC -o "$OUT/fuzz_decode" test/fuzz/fuzz_decode.c $CORE_SRCS $LIBS
clang -std=gnu11 -g -O1 $INC -o "$OUT/make_seeds" test/fuzz/seeds.c $CORE_SRCS $LIBS

echo "== seed corpus"
"$OUT/make_seeds" "$OUT/seeds"
for f in test/fixtures/*.hex; do
    # mode byte 0 (raw bytes), then the 0.1.0 model
    { printf '\0'; xxd -r -p "$f"; } > "$OUT/seeds/fixture-$(basename "$f" .hex)-0"
done

echo "== fuzzing for ${SECONDS_TO_RUN}s on $JOBS process(es)"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
if [ "$JOBS" -gt 1 ]; then
    "$OUT/fuzz_decode" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 \
        -rss_limit_mb=2048 -max_len=65536 -jobs="$JOBS" -workers="$JOBS" \
        "$OUT/corpus" "$OUT/seeds" 2>&1 | tail -n 30
    cat fuzz-*.log 2>/dev/null | grep -E "stat::number_of_executed_units|DONE|ERROR" || true
    rm -f fuzz-*.log
else
    "$OUT/fuzz_decode" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 \
        -rss_limit_mb=2048 -max_len=65536 "$OUT/corpus" "$OUT/seeds" 2>&1 |
        grep -E "^#[0-9]+ +(DONE|INITED)|stat::|ERROR|SUMMARY" || true
fi

echo "== fuzzing the RecordIO and libFM readers for $((SECONDS_TO_RUN / 4 + 10))s"
clang -std=gnu11 -g -O1 $SAN $INC -o "$OUT/fuzz_interop" test/fuzz/fuzz_interop.c $CORE_SRCS $LIBS
mkdir -p "$OUT/interop_corpus"
printf '4 3:1 30:1\n2.5 0:1 21:0.5\n' > "$OUT/interop_corpus/libfm"
"$OUT/make_seeds" --recordio "$OUT/interop_corpus/recordio"
"$OUT/fuzz_interop" -max_total_time=$((SECONDS_TO_RUN / 4 + 10)) -print_final_stats=1 \
    -rss_limit_mb=2048 -max_len=4096 "$OUT/interop_corpus" 2>&1 |
    grep -E "^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|ERROR|SUMMARY" || true

echo "== line coverage of the corpus (codec.c)"
clang -std=gnu11 -g -O0 -fprofile-instr-generate -fcoverage-mapping \
    -fsanitize=fuzzer $INC -o "$OUT/fuzz_cov" test/fuzz/fuzz_decode.c $CORE_SRCS $LIBS
LLVM_PROFILE_FILE="$OUT/cov.profraw" "$OUT/fuzz_cov" -runs=0 "$OUT/corpus" "$OUT/seeds" >/dev/null 2>&1
llvm-profdata merge -sparse "$OUT/cov.profraw" -o "$OUT/cov.profdata"
llvm-cov report "$OUT/fuzz_cov" -instr-profile="$OUT/cov.profdata" \
    src/core/codec.c src/core/model.c src/core/topn.c src/core/features.c | tail -n 6
