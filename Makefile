# Thin wrapper over CMake so that the usual commands work from a fresh checkout.
BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all test bench install clean format asan tsan valgrind deps fuzz fuzz-corpus
.DEFAULT_GOAL := all

# Installs missing Debian packages (cmake, gcc, ...) so that a fresh machine needs
# nothing but `make test` or `make bench`.
deps:
	@scripts/install-deps.sh $(EXTRA_DEPS)

all: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/Makefile: | deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

test: all
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 300

bench: all
	$(BUILD)/tools/adxl-bench

install: | deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD) -j $(JOBS)
	cmake --install $(BUILD)

# The suite under AddressSanitizer+UBSan and under ThreadSanitizer, each in its own tree.
asan:
	$(MAKE) test EXTRA_DEPS="clang libclang-rt-14-dev" BUILD=build-asan CMAKE_FLAGS="-DADXL_SANITIZE=address,undefined -DCMAKE_C_COMPILER=clang"

# Under TSan the suite runs over auto (shm: mapped here) and tcp only: shm's CMA copies are
# done by the kernel, which TSan cannot see, and staging between two engines of one
# process is ordered through a double mapping it cannot see either (tests/tsan.supp); nor
# over ucx, whose copies into registered memory happen inside uninstrumented UCX (the UCX
# tests that run once, test_ucx_transport and test_api_auth among them, do run under TSan).
tsan:
	$(MAKE) test EXTRA_DEPS="clang libclang-rt-14-dev" BUILD=build-tsan CMAKE_FLAGS="-DADXL_SANITIZE=thread -DCMAKE_C_COMPILER=clang -DADXL_TEST_VARIANTS='auto;tcp'"

# Every fuzz target under libFuzzer (clang) for FUZZ_SECONDS each, from the committed
# seed corpus (tests/fuzz/README.md). Their corpora also replay in `make test`.
FUZZ_SECONDS ?= 20
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Rewrites the seed corpus (tests/fuzz/corpus/*/seed-*) from tests/fuzz/gen_corpus.c.
fuzz-corpus: all
	cmake --build $(BUILD) --target fuzz-corpus

# The core C test programs under valgrind's memcheck (VALGRIND_ALL=1: every one).
valgrind: all
	@scripts/install-deps.sh valgrind
	scripts/valgrind-tests.sh $(BUILD)

format:
	clang-format -i include/adxl/*.h src/*.c src/*.h src/transport/*.c \
	    src/transport/*.h src/cxx/*.cc src/cxx/*.h include/hixl/*.h tests/*.c tests/*.h tests/*.cpp tests/compat/*.cpp tests/compat/*.h tests/cluster/*.c tests/cluster/*.h \
	    tests/fuzz/*.c tests/fuzz/*.h tools/*.c tools/*.h examples/*.c examples/*.cpp

clean:
	rm -rf build build-asan build-tsan build-fuzz
