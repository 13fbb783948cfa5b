# aec - build, test and benchmark.
#   make          libraries and bin/ programs      make test    every test, plain and ASan+UBSan
#   make bench    benchmarks                       make clean   remove build/ and bin/
#   make demo     compress samples/ with the shipped model, size against JPEG
# On a fresh Debian machine the missing packages are installed when run as
# root; otherwise make stops with the apt-get command to run.

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g -fno-math-errno
WARN     = -Wall -Wextra
CPPFLAGS_AEC = -std=c11 -D_GNU_SOURCE -Inn -Icodec -Itools -MMD -MP
OMP      = -fopenmp
LDLIBS_AEC = -lopenblas -lpng -ljpeg -lz -lm -lpthread
BUILD   ?= build
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow

NN_SRC    := $(wildcard nn/*.c)
CODEC_SRC := $(wildcard codec/*.c)
AEC_SRC   := $(filter-out tools/aecd.c,$(wildcard tools/*.c))
AECD_SRC  := tools/aecd.c tools/cli.c
# the shipped model, built into aec and appended to aecd when present
BUILTIN_MODEL := $(wildcard samples/butterfly.aecm)
TEST_SRC  := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard tests/bench_*.c)

# Debian package for each header the build needs
DEPS = png.h:libpng-dev zlib.h:zlib1g-dev cblas.h:libopenblas-dev jpeglib.h:libjpeg62-turbo-dev

define objs
$(patsubst %.c,$(1)/obj/%.o,$(2))
endef

all: $(if $(wildcard tools/aec.c),bin/aec) $(if $(wildcard tools/aecd.c),bin/aecd)

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
$(BUILD)/libaec.a: $(call objs,$(BUILD),$(CODEC_SRC))
	@rm -f $@; ar rcs $@ $^

LIBS = $(BUILD)/libaec.a $(BUILD)/libnn.a

# ---- programs ---------------------------------------------------------------
bin/aec: $(call objs,$(BUILD),$(AEC_SRC)) $(LIBS)
	@mkdir -p bin
	$(CC) $(CFLAGS) $(OMP) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS_AEC)

$(BUILD)/obj/tools/builtin_model.o: tools/builtin_model.c $(BUILTIN_MODEL) | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_AEC) $(CFLAGS) $(WARN) $(if $(BUILTIN_MODEL),-DAEC_BUILTIN_MODEL_PATH='"$(BUILTIN_MODEL)"') -c $< -o $@

# aecd: a static decoder with the model's decoder half appended (cli.h).
# Its objects are built again in $(BUILD)/own with -DNN_OWN_GEMM: the nn
# library then multiplies with nn/gemm.c instead of OpenBLAS, whose static
# library (every CPU's kernels and LAPACK) would be most of the decoder.
OWN = $(BUILD)/own
$(OWN)/obj/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_AEC) -DNN_OWN_GEMM $(CFLAGS) $(WARN) $(OMP) -c $< -o $@

$(OWN)/libnn.a: $(call objs,$(OWN),$(NN_SRC))
	@rm -f $@; ar rcs $@ $^
$(OWN)/libaec.a: $(call objs,$(OWN),$(CODEC_SRC))
	@rm -f $@; ar rcs $@ $^

$(BUILD)/aecd-stub: $(call objs,$(OWN),$(AECD_SRC)) $(OWN)/libaec.a $(OWN)/libnn.a
	$(CC) $(CFLAGS) $(OMP) -static -s -o $@ $(filter %.o,$^) $(OWN)/libaec.a $(OWN)/libnn.a \
	  $(filter-out -lopenblas,$(LDLIBS_AEC))

bin/aecd: $(BUILD)/aecd-stub bin/aec $(BUILTIN_MODEL)
	@mkdir -p bin
	$(if $(BUILTIN_MODEL),bin/aec export-decoder --stub $(BUILD)/aecd-stub -o $@ -f >/dev/null,cp $(BUILD)/aecd-stub $@)

# ---- tests ------------------------------------------------------------------
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OMP) -o $@ $< $(LIBS) $(LDLIBS_AEC)

TESTS = $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCHES = $(patsubst tests/%.c,$(BUILD)/tests/%,$(BENCH_SRC))

test-plain: $(TESTS) all $(BUILD)/o0/aecd-stub
	@echo "== tests (-O2)"
	@tests/run.sh $(TESTS)

# A second standalone decoder, unoptimised and with only the baseline copy
# of the vectorised loops (nn/vector_clones.h): test_cli checks that it
# decodes to the same pixels, +-1, as the -O2 one (issue 5: the same result
# everywhere).
$(BUILD)/o0/aecd-stub: $(NN_SRC) $(CODEC_SRC) $(AECD_SRC) $(wildcard nn/*.h codec/*.h) tools/cli.h \
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

test:
	@mkdir -p $(BUILD); $(MAKE) --no-print-directory test-plain > $(BUILD)/test-plain.log 2>&1; a=$$?; \
	 $(MAKE) --no-print-directory test-asan > $(BUILD)/test-asan.log 2>&1; b=$$?; \
	 grep -v -E '^(cc|gcc|clang|ar) ' $(BUILD)/test-plain.log $(BUILD)/test-asan.log | sed 's/^[^:]*log://' | grep -v -E '^[0-9]+ passed, [0-9]+ failed$$'; \
	 p=0; f=0; for l in $(BUILD)/test-plain.log $(BUILD)/test-asan.log; do \
	   s=$$(grep -E '^[0-9]+ passed, [0-9]+ failed$$' $$l | tail -n1); \
	   if [ -z "$$s" ]; then f=$$((f+1)); continue; fi; \
	   p=$$((p+$${s%% *})); x=$${s##*, }; f=$$((f+$${x%% *})); done; \
	 rm -f $(BUILD)/test-plain.log $(BUILD)/test-asan.log; \
	 echo "$$p passed, $$f failed"; [ $$a -eq 0 ] && [ $$b -eq 0 ] && [ $$f -eq 0 ]

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

.PHONY: all test test-plain test-asan bench clean demo
.SECONDARY:

-include $(shell find $(BUILD)/obj $(BUILD)/own -name '*.d' 2>/dev/null)

# ---- fuzzing ----------------------------------------------------------------
# make fuzz SECONDS=N: libFuzzer over the .aec parser and range decoder
# (tests/fuzz_decode.c; clang with Debian's libclang-rt-14-dev), seeded from
# tests/fuzz_corpus/; new inputs go to $(BUILD)/fuzz/corpus, findings to
# $(BUILD)/fuzz/crash-*.
FUZZ_CC  ?= clang
SECONDS  ?= 60
FUZZ_SRC  = tests/fuzz_decode.c codec/rangecoder.c codec/cdf_tables.c codec/container.c codec/varint.c

$(BUILD)/fuzz/fuzz_decode: $(FUZZ_SRC) $(wildcard codec/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Icodec -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -o $@ $(FUZZ_SRC) -lz -lm

fuzz: $(BUILD)/fuzz/fuzz_decode
	@mkdir -p $(BUILD)/fuzz/corpus
	$< -max_total_time=$(SECONDS) -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus tests/fuzz_corpus

# make fuzz-codec SECONDS=N: libFuzzer over the whole decoder, aec_decode
# with a tiny model built at start-up (tests/fuzz_codec.c), seeded from
# tests/fuzz_corpus_codec/ (written by $(BUILD)/fuzz/fuzz_codec_corpus DIR);
# new inputs go to $(BUILD)/fuzz/codec-corpus, findings to
# $(BUILD)/fuzz/codec-crash-*. One thread, so a finding replays exactly.
FUZZ_CODEC_SRC = tests/fuzz_codec.c $(NN_SRC) $(CODEC_SRC)

$(BUILD)/fuzz/fuzz_codec: $(FUZZ_CODEC_SRC) $(wildcard nn/*.h codec/*.h) tests/tiny_codec.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Inn -Icodec -Itests -g -O1 $(WARN) -Wno-pass-failed -fopenmp \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ $(FUZZ_CODEC_SRC) \
	  $(LDLIBS_AEC)

$(BUILD)/fuzz/fuzz_codec_corpus: tests/fuzz_codec.c tests/tiny_codec.h $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Inn -Icodec -Itests $(CFLAGS) $(WARN) $(OMP) -DAEC_FUZZ_WRITE_CORPUS \
	  -o $@ $< $(LIBS) $(LDLIBS_AEC)

fuzz-codec: $(BUILD)/fuzz/fuzz_codec
	@mkdir -p $(BUILD)/fuzz/codec-corpus
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $< -max_total_time=$(SECONDS) -timeout=10 \
	  -artifact_prefix=$(BUILD)/fuzz/codec- $(BUILD)/fuzz/codec-corpus tests/fuzz_corpus_codec

.PHONY: fuzz fuzz-codec
