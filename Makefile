# Thin wrapper over CMake.  Every target installs missing Debian packages
# first (scripts/deps.sh, apt-get as root), then configures and builds.
#
#   make demo    build, then train the example with checkpoint/resume
#   make test    Release build + ASan/UBSan build, whole test suite in both
#   make fuzz    libFuzzer over the front end for FUZZ_SECONDS (default 300)
#   make bench   benchmarks (see bench/ and docs/performance.md)
#   make build   just the Release build in build/
#   make clean
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 300
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan demo test test-release test-asan fuzz bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DOPTC_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)

demo: build
	@cmake --build build --target demo

test-release: build
	@cd build && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j $(JOBS)

test: test-release test-asan

fuzz:
	@scripts/deps.sh fuzz
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DOPTC_FUZZ=ON \
	  -DCMAKE_C_COMPILER=clang-19 $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_front
	@mkdir -p build-fuzz/corpus && cp tests/fuzz/corpus/* build-fuzz/corpus/
	@build-fuzz/tests/fuzz/fuzz_front -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=65536 build-fuzz/corpus

bench: build
	@scripts/deps.sh bench
	@cmake --build build --target bench

clean:
	rm -rf build build-asan build-fuzz
