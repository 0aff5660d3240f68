# Thin wrapper over CMake so that the usual commands work from a fresh checkout.
BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# `make install` builds in a tree of its own, so that its PREFIX never sticks to $(BUILD).
INSTALL_BUILD ?= build-install
CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

# $(call quietly,WHAT,COMMAND): one line saying WHAT, COMMAND's output kept in
# $(BUILD)/make.log and shown only when it fails.
quietly = echo "$(1)"; mkdir -p $(BUILD); $(2) >$(BUILD)/make.log 2>&1 || \
	{ cat $(BUILD)/make.log; echo "failed: $(1) (output above, also in $(BUILD)/make.log)"; exit 1; }

.PHONY: all test bench install clean format asan tsan valgrind deps fuzz fuzz-corpus
.DEFAULT_GOAL := all

# Installs missing Debian packages (cmake, gcc, ...) so that a fresh machine needs
# nothing but `make test` or `make bench`.
deps:
	@scripts/install-deps.sh $(EXTRA_DEPS)

all: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/Makefile: | deps
	$(CONFIGURE)

# Every test but the soaks in parallel, then the soaks with their progress lines; the last
# line is the pass/fail count (scripts/run-tests.sh).
test: all
	@scripts/run-tests.sh $(BUILD) 2

# Only what the bench runs (adxl-bench, which starts its own target, and libadxl.so).
bench: | deps
	@test -f $(BUILD)/Makefile || { $(call quietly,bench: configuring $(BUILD),$(CONFIGURE)); }
	@$(call quietly,bench: building adxl-bench,cmake --build $(BUILD) -j $(JOBS) --target adxl-bench -- --no-print-directory)
	@echo "bench: running $(BUILD)/bench/adxl-bench (--help for options)"
	@$(BUILD)/bench/adxl-bench

# Builds what is installed (target adxl_installed: the libraries, adxl-bench, the Python
# extension) in $(INSTALL_BUILD), configured for this PREFIX, and installs it.
install: | deps
	cmake -S . -B $(INSTALL_BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)
	cmake --build $(INSTALL_BUILD) -j $(JOBS) --target adxl_installed
	cmake --install $(INSTALL_BUILD)

# The suite under AddressSanitizer+UBSan and under ThreadSanitizer, each in its own tree.
# Of the transfer tests' device variants (tests/CMakeLists.txt) ASan runs only cuda over
# the default transport: the engine's device code is the same on every runtime, and each
# variant costs a whole run of its test slowed by the sanitizer; the plain tree runs the
# others.
asan:
	$(MAKE) test EXTRA_DEPS="clang libclang-rt-14-dev" BUILD=build-asan CMAKE_FLAGS="-DADXL_SANITIZE=address,undefined -DCMAKE_C_COMPILER=clang -DADXL_TEST_DEVICE_VARIANTS=cuda"

# Under TSan the suite runs over auto (shm: mapped here) and tcp only: shm's CMA copies are
# done by the kernel, which TSan cannot see, and staging between two engines of one
# process is ordered through a double mapping it cannot see either (tests/tsan.supp); nor
# over ucx, whose copies into registered memory happen inside uninstrumented UCX (the UCX
# tests that run once, test_ucx_transport and test_api_auth among them, do run under TSan).
# No device variants of the transfer tests: TSan slows them most, and the engine's device
# code runs under TSan in test_device_xfer's device variants, which stay.
tsan:
	$(MAKE) test EXTRA_DEPS="clang libclang-rt-14-dev" BUILD=build-tsan CMAKE_FLAGS="-DADXL_SANITIZE=thread -DCMAKE_C_COMPILER=clang -DADXL_TEST_VARIANTS='auto;tcp' -DADXL_TEST_DEVICE_VARIANTS="

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
	clang-format -i include/adxl/*.h src/*/*.c src/*/*.h src/transport/*/*.c \
	    src/transport/*/*.h src/cxx/*.cc include/hixl/*.h tests/*.c tests/*.h tests/*.cpp tests/compat/*.cpp tests/compat/*.h tests/cluster/*.c tests/cluster/*.h \
	    tests/fuzz/*.c tests/fuzz/*.h bench/*/*.c bench/*/*.h examples/*.c examples/*.cpp

clean:
	rm -rf build build-asan build-tsan build-fuzz $(INSTALL_BUILD)
