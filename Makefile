# aec - build, test and benchmark.
#   make          libraries and bin/ programs      make test    every test, plain and ASan+UBSan,
#                                                               and a short run of each fuzzer
#   make bench    benchmarks                       make clean   remove build/ and bin/
#   make demo     compress samples/ with the shipped model, size against JPEG
#   make MPI=1    bin/aec built with Open MPI: mpirun -np N bin/aec train ...
#   make bench-mpi  the gradient sum over MPI, timed
#   make install PREFIX=/usr/local DESTDIR=   the programs, libaec, aec.h,
#                 aec.pc and the man pages;  make uninstall  removes them
# On a fresh Debian machine the missing packages are installed when run as
# root; otherwise make stops with the apt-get command to run.

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g -fno-math-errno
WARN     = -Wall -Wextra -Werror=implicit-function-declaration
# every include names its folder from the top: "nn/gemm.h", "tools/train/dataset.h"
CPPFLAGS_AEC = -std=c11 -D_GNU_SOURCE -I. -MMD -MP
OMP      = -fopenmp
LDLIBS_AEC = -lopenblas -lpng -ljpeg -lz -lm -lpthread
BUILD   ?= build
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow

# The layers, each over the ones before it (README, "Layout"): nn/, codec/
# (libaec), tools/imageio/ (image files), tools/train/ and tools/measure/,
# tools/ (the programs).
NN_SRC      := $(wildcard nn/*.c)
CODEC_SRC   := $(wildcard codec/*.c)
IMAGEIO_SRC := $(wildcard tools/imageio/*.c)
TRAIN_SRC   := $(wildcard tools/train/*.c)
# nn/ less what only training uses (nn/adam.c, the optimiser): libaec and
# aecd are built from this
CODER_NN_SRC := $(filter-out nn/adam.c,$(NN_SRC))
MEASURE_SRC := $(wildcard tools/measure/*.c)
AEC_SRC     := $(filter-out tools/aecd.c,$(wildcard tools/*.c)) $(TRAIN_SRC) $(MEASURE_SRC)
AECD_SRC    := tools/aecd.c tools/cli.c
# the shipped model, built into aec and appended to aecd when present
BUILTIN_MODEL := $(wildcard samples/butterfly.aecm)
TEST_SRC  := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard tests/bench_*.c)

# Debian package for each header the build needs
DEPS = png.h:libpng-dev zlib.h:zlib1g-dev cblas.h:libopenblas-dev jpeglib.h:libjpeg62-turbo-dev

# libaec's version, from its header
AEC_MAJOR := $(shell sed -n 's/^\#define AEC_VERSION_MAJOR //p' codec/aec.h)
AEC_MINOR := $(shell sed -n 's/^\#define AEC_VERSION_MINOR //p' codec/aec.h)
AEC_PATCH := $(shell sed -n 's/^\#define AEC_VERSION_PATCH //p' codec/aec.h)

define objs
$(patsubst %.c,$(1)/obj/%.o,$(2))
endef

all: $(if $(wildcard tools/aec.c),bin/aec) $(if $(wildcard tools/aecd.c),bin/aecd) \
     $(BUILD)/libaec.a $(BUILD)/libaec.so.$(AEC_MAJOR)

# ---- packages ---------------------------------------------------------------
$(BUILD)/.deps-ok:
	@missing=""; for d in $(DEPS); do h=$${d%%:*}; pkg=$${d##*:}; \
	  printf '#include <%s>\n' "$$h" | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else echo "missing packages: run  sudo apt-get install -y$$missing"; exit 1; fi; fi
	@mkdir -p $(BUILD) && touch $@

# ---- libraries --------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_AEC) $(CFLAGS) $(WARN) $(OMP) -c $< -o $@

$(BUILD)/libnn.a: $(call objs,$(BUILD),$(NN_SRC))
	@rm -f $@; ar rcs $@ $^
# all of codec/, for the tools and the tests (libaec is below)
$(BUILD)/libcodec.a: $(call objs,$(BUILD),$(CODEC_SRC))
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libimageio.a: $(call objs,$(BUILD),$(IMAGEIO_SRC))
	@rm -f $@; ar rcs $@ $^

LIBS = $(BUILD)/libimageio.a $(BUILD)/libcodec.a $(BUILD)/libnn.a
# the tools' parts that unit tests call directly (no main, no built-in model)
TOOLS_LIB_SRC := $(filter-out tools/aec.c tools/builtin_model.c,$(AEC_SRC))
$(BUILD)/libaectools.a: $(call objs,$(BUILD),$(TOOLS_LIB_SRC))
	@rm -f $@; ar rcs $@ $^

# ---- libaec: the public library (codec/aec.h) -------------------------------
# Encoding and decoding only: the codec and nn/ (CODER_NN_SRC), no
# optimiser, data set, PNG, JPEG, metrics or bench code. Built as aecd is,
# with -DNN_OWN_GEMM (nn/gemm.c instead of OpenBLAS), so it decodes to
# aecd's pixels and needs only libgomp and libm; position-independent, every
# symbol hidden but aec.h's (AEC_API), and the shared library keeps only the
# sections those reach. libaec.a and aecd's $(OWN)/libnn.a also depend on
# the Makefile, so that an archive built from another list of sources is
# made again.
LIBAEC_SRC := $(CODEC_SRC) $(CODER_NN_SRC)
LIBAEC_LIBS = -lz -lm -lpthread
PIC = $(BUILD)/pic
$(PIC)/obj/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_AEC) -DNN_OWN_GEMM -fPIC -fvisibility=hidden -ffunction-sections \
	  -fdata-sections $(CFLAGS) $(WARN) $(OMP) -c $< -o $@

$(BUILD)/libaec.a: $(call objs,$(PIC),$(LIBAEC_SRC)) Makefile
	@rm -f $@; ar rcs $@ $(filter %.o,$^)
$(BUILD)/libaec.so.$(AEC_MAJOR): $(call objs,$(PIC),$(LIBAEC_SRC))
	$(CC) $(CFLAGS) $(OMP) -shared -Wl,-soname,libaec.so.$(AEC_MAJOR) -Wl,--gc-sections \
	  -Wl,-z,defs -o $@ $^ $(LIBAEC_LIBS)

# ---- programs ---------------------------------------------------------------
# bin/aec; with MPI=1 it is $(BUILD)/mpi/aec (below), which trains over MPI.
# $(BUILD)/aec-kind says which it is, and changes (relinking bin/aec) only
# when MPI= does.
AEC_KIND := $(if $(filter 1,$(MPI)),mpi,plain)
$(BUILD)/aec-kind: FORCE
	@mkdir -p $(BUILD); echo $(AEC_KIND) | cmp -s - $@ || echo $(AEC_KIND) > $@

ifeq ($(AEC_KIND),mpi)
bin/aec: $(BUILD)/mpi/aec $(BUILD)/aec-kind
	@mkdir -p bin
	cp $< $@
else
bin/aec: $(call objs,$(BUILD),$(AEC_SRC)) $(LIBS) $(BUILD)/aec-kind
	@mkdir -p bin
	$(CC) $(CFLAGS) $(OMP) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS_AEC)
endif

# ---- MPI (optional) ---------------------------------------------------------
# `make MPI=1` builds bin/aec with Open MPI, so that `mpirun -np N bin/aec
# train ...` trains data-parallel (tools/train/train_ranks.c, README). Only
# train_ranks.c is compiled with $(MPICC) and -DAEC_MPI, and the program is
# linked by it; the libraries, aecd and a plain make never see MPI. make test
# builds $(BUILD)/mpi/aec whenever $(MPICC) is found, for test_train_mpi,
# and says it skipped the test otherwise. When run as root on Debian, MPI=1
# installs Open MPI itself, as for the other packages.
MPICC   ?= mpicc
HAVE_MPI := $(shell command -v $(MPICC) >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1 && echo 1)
MPI_DEPS = libopenmpi-dev openmpi-bin

$(BUILD)/.mpi-ok:
	@if ! command -v $(MPICC) >/dev/null 2>&1 || ! command -v mpirun >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing: $(MPI_DEPS)"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(MPI_DEPS) >/dev/null || exit 1; \
	  else echo "MPI=1 needs Open MPI: run  sudo apt-get install -y $(MPI_DEPS)"; exit 1; fi; fi
	@mkdir -p $(BUILD) && touch $@

# train_ranks.c and the tests/mpi_*.c programs
$(BUILD)/mpi/obj/%.o: %.c | $(BUILD)/.deps-ok $(BUILD)/.mpi-ok
	@mkdir -p $(dir $@)
	$(MPICC) -DAEC_MPI $(CPPFLAGS_AEC) $(CFLAGS) $(WARN) $(OMP) -c $< -o $@

AEC_MPI_OBJ = $(filter-out %/train_ranks.o,$(call objs,$(BUILD),$(AEC_SRC))) \
              $(BUILD)/mpi/obj/tools/train/train_ranks.o
$(BUILD)/mpi/aec: $(AEC_MPI_OBJ) $(LIBS)
	$(MPICC) $(CFLAGS) $(OMP) -o $@ $(AEC_MPI_OBJ) $(LIBS) $(LDLIBS_AEC)

# the gradient sum alone under mpirun (tests/mpi_ranks.c, run by test_train_mpi)
$(BUILD)/mpi/mpi_ranks: $(BUILD)/mpi/obj/tests/mpi_ranks.o $(BUILD)/mpi/obj/tools/train/train_ranks.o $(LIBS)
	$(MPICC) $(CFLAGS) $(OMP) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS_AEC)
MPI_TEST_PROGRAMS = $(if $(HAVE_MPI),$(BUILD)/mpi/aec $(BUILD)/mpi/mpi_ranks)

# make bench-mpi: the gradient sum timed against MPI_Allreduce, on 2 ranks
# (tests/mpi_bench.c; mpirun -np N $(BUILD)/mpi/mpi_bench [FLOATS] for others)
$(BUILD)/mpi/mpi_bench: $(BUILD)/mpi/obj/tests/mpi_bench.o $(BUILD)/mpi/obj/tools/train/train_ranks.o $(LIBS)
	$(MPICC) $(CFLAGS) $(OMP) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS_AEC)
bench-mpi: $(BUILD)/mpi/mpi_bench
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 $<

.PHONY: bench-mpi

$(BUILD)/obj/tools/builtin_model.o: tools/builtin_model.c $(BUILTIN_MODEL) | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_AEC) $(CFLAGS) $(WARN) $(if $(BUILTIN_MODEL),-DAEC_BUILTIN_MODEL_PATH='"$(BUILTIN_MODEL)"') -c $< -o $@

# aecd: a static decoder with the model's decoder half appended (cli.h).
# Its objects are built again in $(BUILD)/own with -DNN_OWN_GEMM: the nn
# library then multiplies with nn/gemm.c instead of OpenBLAS, whose static
# library (every CPU's kernels and LAPACK) would be most of the decoder.
# It reads only .aec files: libjpeg (image_io.c's JPEG input) is left off
# its link line, so a call that would pull the reader in fails to link.
OWN = $(BUILD)/own
$(OWN)/obj/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_AEC) -DNN_OWN_GEMM $(CFLAGS) $(WARN) $(OMP) -c $< -o $@

$(OWN)/libnn.a: $(call objs,$(OWN),$(CODER_NN_SRC)) Makefile
	@rm -f $@; ar rcs $@ $(filter %.o,$^)
$(OWN)/libcodec.a: $(call objs,$(OWN),$(CODEC_SRC))
	@rm -f $@; ar rcs $@ $^
$(OWN)/libimageio.a: $(call objs,$(OWN),$(IMAGEIO_SRC))
	@rm -f $@; ar rcs $@ $^

$(BUILD)/aecd-stub: $(call objs,$(OWN),$(AECD_SRC)) $(OWN)/libimageio.a $(OWN)/libcodec.a $(OWN)/libnn.a
	$(CC) $(CFLAGS) $(OMP) -static -s -o $@ $(filter %.o,$^) $(OWN)/libimageio.a $(OWN)/libcodec.a \
	  $(OWN)/libnn.a \
	  $(filter-out -lopenblas -ljpeg,$(LDLIBS_AEC))

bin/aecd: $(BUILD)/aecd-stub bin/aec $(BUILTIN_MODEL)
	@mkdir -p bin
	$(if $(BUILTIN_MODEL),bin/aec export-decoder --stub $(BUILD)/aecd-stub -o $@ -f >/dev/null,cp $(BUILD)/aecd-stub $@)

# ---- install ----------------------------------------------------------------
# make install PREFIX=/usr/local DESTDIR=  (LIBDIR for a lib64 or multiarch
# folder); make uninstall removes exactly what it installed. aec.pc is
# written for the PREFIX given.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
BINDIR      = $(PREFIX)/bin
INCLUDEDIR  = $(PREFIX)/include
MAN1DIR     = $(PREFIX)/share/man/man1
INSTALLED   = $(BINDIR)/aec $(BINDIR)/aecd $(LIBDIR)/libaec.a $(LIBDIR)/libaec.so.$(AEC_MAJOR) \
              $(LIBDIR)/libaec.so $(INCLUDEDIR)/aec.h $(LIBDIR)/pkgconfig/aec.pc \
              $(MAN1DIR)/aec.1 $(MAN1DIR)/aecd.1

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(MAN1DIR)
	@# not stripped (install -s): aecd's model is appended to the file
	install -m 755 bin/aec bin/aecd $(DESTDIR)$(BINDIR)/
	install -m 644 $(BUILD)/libaec.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libaec.so.$(AEC_MAJOR) $(DESTDIR)$(LIBDIR)/
	ln -sf libaec.so.$(AEC_MAJOR) $(DESTDIR)$(LIBDIR)/libaec.so
	install -m 644 codec/aec.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(AEC_MAJOR).$(AEC_MINOR).$(AEC_PATCH)|' codec/aec.pc.in \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/aec.pc
	install -m 644 tools/man/aec.1 tools/man/aecd.1 $(DESTDIR)$(MAN1DIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

# ---- tests ------------------------------------------------------------------
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libaectools.a $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OMP) -o $@ $< $(BUILD)/libaectools.a $(LIBS) $(LDLIBS_AEC)

TESTS = $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCHES = $(patsubst tests/%.c,$(BUILD)/tests/%,$(BENCH_SRC))

# tests/test_install.sh: make install into a DESTDIR, the README's example
# (tests/example_decode.c) built with pkg-config against it and run
# tests/test_diagnostics.sh: the model diagnostics (DIAGNOSTICS) run once
# tests/test_layers.sh: no include runs upward (tests/check_layers.sh), and
# libaec and aecd define nothing of tools/train/ or tools/measure/, nor of
# the optimiser (nn/adam.c)
DIAGNOSTICS = $(BUILD)/tests/transform_ceiling $(BUILD)/tests/latent_stats
test-plain: $(TESTS) all $(BUILD)/o0/aecd-stub $(MPI_TEST_PROGRAMS) $(BUILD)/tests/png_to_rgb \
            $(DIAGNOSTICS)
	@echo "== tests (-O2)"
	$(if $(HAVE_MPI),,@echo "test_train_mpi: skipped: Open MPI is not installed (apt-get install -y $(MPI_DEPS))")
	@AEC_MPI_BIN=$(if $(HAVE_MPI),$(abspath $(BUILD)/mpi/aec)) AEC_MAKE="$(MAKE)" AEC_CC="$(CC)" \
	  AEC_BUILD=$(BUILD) tests/run.sh $(TESTS) tests/test_install.sh tests/test_diagnostics.sh \
	  tests/test_layers.sh

# A second standalone decoder, unoptimised and with only the baseline copy
# of the vectorised loops (nn/vector_copies.h): test_cli checks that it
# decodes to the same pixels, +-1, as the -O2 one (a file decodes to the
# same result everywhere).
$(BUILD)/o0/aecd-stub: $(NN_SRC) $(CODEC_SRC) $(IMAGEIO_SRC) $(AECD_SRC) \
                       $(wildcard nn/*.h codec/*.h tools/imageio/*.h) tools/cli.h \
                       tools/tools.h Makefile | $(BUILD)/.deps-ok
	@mkdir -p $(BUILD)/o0; $(MAKE) --no-print-directory BUILD=$(BUILD)/o0 \
	  CFLAGS="-O0 -g -fno-math-errno -DNN_VECTOR_BASELINE" $(BUILD)/o0/aecd-stub \
	  > $(BUILD)/o0/build.log 2>&1 || { cat $(BUILD)/o0/build.log; exit 1; }

# The sanitised build lives in build/asan and runs the same unit tests.
test-asan:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan CFLAGS="$(ASAN_FLAGS)" \
	  $(patsubst tests/%.c,$(BUILD)/asan/tests/%,$(TEST_SRC))
	@echo "== tests (ASan+UBSan)"
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 AEC_TEST_SANITIZED=1 \
	  tests/run.sh $(patsubst tests/%.c,$(BUILD)/asan/tests/%,$(TEST_SRC))

# make test: the three parts one after another, each into its log; then
# everything but the compiler lines, and the parts' totals added up last (a
# part that printed no total, e.g. a build that failed, counts one failure).
TEST_PARTS = test-plain test-asan test-fuzz

test:
	@mkdir -p $(BUILD); st=0; for t in $(TEST_PARTS); do \
	   $(MAKE) --no-print-directory $$t > $(BUILD)/$$t.log 2>&1 || st=1; done; \
	 logs="$(patsubst %,$(BUILD)/%.log,$(TEST_PARTS))"; \
	 grep -v -E '^(cc|gcc|clang|ar) ' $$logs | sed 's/^[^:]*log://' | grep -v -E '^[0-9]+ passed, [0-9]+ failed$$'; \
	 p=0; f=0; for l in $$logs; do \
	   s=$$(grep -E '^[0-9]+ passed, [0-9]+ failed$$' $$l | tail -n1); \
	   if [ -z "$$s" ]; then f=$$((f+1)); continue; fi; \
	   p=$$((p+$${s%% *})); x=$${s##*, }; f=$$((f+$${x%% *})); done; \
	 rm -f $$logs; \
	 echo "$$p passed, $$f failed"; [ $$st -eq 0 ] && [ $$f -eq 0 ]

bench: $(BENCHES) all
	@for b in $(BENCHES); do $$b || exit 1; done

# the shipped model on the sample images, against JPEG at equal PSNR
demo: all
	@test -f samples/butterfly.aecm || { echo "demo: samples/butterfly.aecm is missing (train one: see README)"; exit 1; }
	bin/aec bench samples -o $(BUILD)/demo
	@echo; echo "the shipped model on samples/, against JPEG at equal PSNR:"
	@grep -E '^- quality' $(BUILD)/demo/summary.md
	@echo "report: $(BUILD)/demo/summary.md, plot: $(BUILD)/demo/rd.svg"

clean:
	rm -rf $(BUILD) bin

.PHONY: all test test-plain test-asan bench clean demo install uninstall FORCE
.SECONDARY:

-include $(shell find $(BUILD)/obj $(BUILD)/own $(BUILD)/pic $(BUILD)/mpi/obj $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)

# ---- fuzzing ----------------------------------------------------------------
# Two libFuzzer harnesses (clang; Debian: clang libclang-rt-14-dev):
#   make fuzz SECONDS=N        tests/fuzz_decode.c: the .aec container parser,
#       the range decoder and the stored table-set parser, seeded from
#       tests/fuzz_corpus/; new inputs go to $(BUILD)/fuzz/corpus, findings
#       to $(BUILD)/fuzz/crash-*
#   make fuzz-codec SECONDS=N  tests/fuzz_codec.c: the whole decoder,
#       aec_decode with a tiny model built at start-up, seeded from
#       tests/fuzz_corpus_codec/; new inputs go to $(BUILD)/fuzz/codec-corpus,
#       findings to $(BUILD)/fuzz/codec-crash-*.
#   make fuzz-image SECONDS=N  tests/fuzz_image.c: the PNG and JPEG readers
#       (image_io.h: EXIF orientation, CMYK, damage, limits), seeded from
#       tests/fuzz_corpus_image/; new inputs go to $(BUILD)/fuzz/image-corpus,
#       findings to $(BUILD)/fuzz/image-crash-*.
# One thread, so a finding replays exactly; an input running over 10 s is a
# finding (a hang).
# The harnesses link the programs' libraries (NN_SRC, CODEC_SRC, IMAGEIO_SRC,
# TRAIN_SRC) built again
# in $(BUILD)/fuzz by clang with coverage, ASan and UBSan. make test builds
# them and runs each for FUZZ_SMOKE seconds (test-fuzz).
FUZZ_CC  ?= clang
SECONDS  ?= 60
FUZZ_SMOKE ?= 25
FUZZ      = $(BUILD)/fuzz
FUZZ_CFLAGS = -O1 -g -fno-math-errno -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined -Wno-pass-failed
FUZZERS   = $(patsubst tests/%.c,$(FUZZ)/%,$(wildcard tests/fuzz_*.c))
# one thread (OpenMP and OpenBLAS) in every run
FUZZ_ENV  = OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
FUZZ_OPTS = -timeout=10

# clang, libFuzzer and the sanitizer runtimes, checked before anything is built
fuzz-clang:
	@mkdir -p $(FUZZ); printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n > 1 && d[1]; }\n' \
	  | $(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o $(FUZZ)/.clang-check >/dev/null 2>&1 \
	  || { echo "fuzzing needs $(FUZZ_CC) with libFuzzer and the sanitizer runtimes: run  sudo apt-get install -y clang libclang-rt-14-dev"; exit 1; }
	@rm -f $(FUZZ)/.clang-check

$(FUZZ)/obj/%.o: %.c | $(BUILD)/.deps-ok fuzz-clang
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS_AEC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(WARN) $(OMP) -c $< -o $@

$(FUZZ)/libnn.a: $(call objs,$(FUZZ),$(NN_SRC))
	@rm -f $@; ar rcs $@ $^
$(FUZZ)/libcodec.a: $(call objs,$(FUZZ),$(CODEC_SRC))
	@rm -f $@; ar rcs $@ $^
$(FUZZ)/libimageio.a: $(call objs,$(FUZZ),$(IMAGEIO_SRC))
	@rm -f $@; ar rcs $@ $^
# for the tiny model fuzz_codec makes at start-up (aec_model_init)
$(FUZZ)/libtrain.a: $(call objs,$(FUZZ),$(filter-out %/train_ranks.c,$(TRAIN_SRC)))
	@rm -f $@; ar rcs $@ $^

FUZZ_LIBS = $(FUZZ)/libtrain.a $(FUZZ)/libimageio.a $(FUZZ)/libcodec.a $(FUZZ)/libnn.a
$(FUZZERS): $(FUZZ)/%: $(FUZZ)/obj/tests/%.o $(FUZZ_LIBS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(OMP) -o $@ $< $(FUZZ_LIBS) $(LDLIBS_AEC)

fuzz: $(FUZZ)/fuzz_decode
	@mkdir -p $(FUZZ)/corpus
	$(FUZZ_ENV) $< $(FUZZ_OPTS) -max_total_time=$(SECONDS) -artifact_prefix=$(FUZZ)/ \
	  $(FUZZ)/corpus tests/fuzz_corpus

fuzz-codec: $(FUZZ)/fuzz_codec
	@mkdir -p $(FUZZ)/codec-corpus
	$(FUZZ_ENV) $< $(FUZZ_OPTS) -max_total_time=$(SECONDS) -artifact_prefix=$(FUZZ)/codec- \
	  $(FUZZ)/codec-corpus tests/fuzz_corpus_codec

fuzz-image: $(FUZZ)/fuzz_image
	@mkdir -p $(FUZZ)/image-corpus
	$(FUZZ_ENV) $< $(FUZZ_OPTS) -max_total_time=$(SECONDS) -artifact_prefix=$(FUZZ)/image- \
	  $(FUZZ)/image-corpus tests/fuzz_corpus_image

# make fuzz-merge: what those runs found that reaches new code (edges only,
# no hit counts, so the set stays small) added to the seed folders.
fuzz-merge: $(FUZZERS)
	@mkdir -p $(FUZZ)/corpus $(FUZZ)/codec-corpus $(FUZZ)/image-corpus
	$(FUZZ_ENV) $(FUZZ)/fuzz_decode $(FUZZ_OPTS) -merge=1 -use_counters=0 tests/fuzz_corpus $(FUZZ)/corpus
	$(FUZZ_ENV) $(FUZZ)/fuzz_codec $(FUZZ_OPTS) -merge=1 -use_counters=0 tests/fuzz_corpus_codec \
	  $(FUZZ)/codec-corpus
	$(FUZZ_ENV) $(FUZZ)/fuzz_image $(FUZZ_OPTS) -merge=1 -use_counters=0 tests/fuzz_corpus_image \
	  $(FUZZ)/image-corpus

# The smoke run of make test: each harness for FUZZ_SMOKE seconds from its
# seeds (read only; new inputs to a fresh $(FUZZ)/smoke-NAME), any finding a
# failure (tests/fuzz_smoke.sh).
test-fuzz: $(FUZZERS)
	@echo "== fuzzing ($(FUZZ_SMOKE) s each)"
	@$(FUZZ_ENV) tests/fuzz_smoke.sh "$(FUZZ_SMOKE)" $(FUZZ) "$(FUZZ_OPTS)" \
	  $(FUZZ)/fuzz_decode tests/fuzz_corpus $(FUZZ)/fuzz_codec tests/fuzz_corpus_codec \
	  $(FUZZ)/fuzz_image tests/fuzz_corpus_image

# $(FUZZ)/fuzz_decode_corpus DIR and $(FUZZ)/fuzz_codec_corpus DIR write the
# harnesses' seed files (built with -DAEC_FUZZ_WRITE_CORPUS, gcc, no fuzzer)
$(FUZZERS:=_corpus): $(FUZZ)/%_corpus: tests/%.c $(wildcard tests/*.h) $(BUILD)/libaectools.a $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -I. $(CFLAGS) $(WARN) $(OMP) -DAEC_FUZZ_WRITE_CORPUS \
	  -o $@ $< $(BUILD)/libaectools.a $(LIBS) $(LDLIBS_AEC)

.PHONY: fuzz fuzz-codec fuzz-image fuzz-merge fuzz-clang test-fuzz
