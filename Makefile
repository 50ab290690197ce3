# The two commands of the README:
#   make run    install what is missing, build (Release), fetch the small default model and
#               generate from PROMPT with it
#   make test   install, build, run every test (ctest: unit, fuzz-corpus replay, lint, pytest)
# and the jobs behind CI:
#   make sanitize   Debug build with ASan+UBSan, unit tests and fuzz corpora
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each (default 60)
#   make lint       clang-format and file-size gates alone
#   make fixtures   regenerate tests/fixtures from HF transformers (slow; never run by CI)

BUILD ?= build
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=
# Builds print nothing unless they fail; then the whole ninja log is shown and make stops.

.PHONY: all run test setup build sanitize fuzz lint fixtures clean

all: build

setup:
	@scripts/setup.sh

build: setup
	@if [ ! -f $(BUILD)/build.ninja ]; then \
	  cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null; fi
	@ninja -C $(BUILD) -j $(JOBS) >$(BUILD)/ninja.log 2>&1 || { cat $(BUILD)/ninja.log; exit 1; }
	@test -x $(BUILD)/tools/loom/loom

PROMPT ?= The three most important inventions of the nineteenth century were
run: build
	@model=$$(scripts/models.sh gemma3-270m) && \
	  $(BUILD)/tools/loom/loom run -m "$$model" -p "$(PROMPT)" -n 96 --temp 0 --repeat-penalty 1.1

test: build
	@LOOM_TEST_GGUF=$$(scripts/models.sh gemma3-270m) LOOM_BIN=$(CURDIR)/$(BUILD)/tools/loom/loom \
	  ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

sanitize: setup
	@if [ ! -f build-asan/build.ninja ]; then \
	  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLOOM_SANITIZE=ON >/dev/null; fi
	@ninja -C build-asan -j $(JOBS) >build-asan/ninja.log 2>&1 || { cat build-asan/ninja.log; exit 1; }
	@LOOM_TEST_GGUF=$$(scripts/models.sh gemma3-270m) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L 'unit|fuzz'

fuzz: setup
	@if [ ! -f build-fuzz/build.ninja ]; then \
	  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DLOOM_FUZZ=ON -DLOOM_BUILD_TESTS=OFF >/dev/null; fi
	@ninja -C build-fuzz -j $(JOBS) >build-fuzz/ninja.log 2>&1 || { cat build-fuzz/ninja.log; exit 1; }
	@scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

lint:
	@scripts/lint.sh

fixtures:
	@scripts/reference/make_fixtures.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
