#!/bin/sh
# tests/test_layers.sh - the layout's rules (README, "Layout"): the includes
# obey tests/check_layers.sh, which fails on a planted violation of each
# rule; and libaec and aecd's inputs define no symbol of the training or
# measuring code (tools/train/, tools/measure/) nor of the optimiser
# (nn/adam.c, which only training uses). Run by make test from the
# repository root, after the build (AEC_BUILD); the last line is
# "test_layers: N passed, N failed".
B=$(cd "${AEC_BUILD:-build}" 2>/dev/null && pwd) || B=${AEC_BUILD:-build}
passed=0 failed=0
check() { # check WHAT COMMAND...: counts COMMAND's success
    what=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_layers: $what"; fi
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check "the includes keep to the layers" tests/check_layers.sh .

# a copy of the sources with one violation planted at a time
plant() { # plant FILE LINE: check_layers fails on the copy with LINE added to FILE
    rm -rf "$work/tree"; mkdir -p "$work/tree"
    cp -r nn codec tools "$work/tree/"
    printf '%s\n' "$2" >> "$work/tree/$1"
    ! tests/check_layers.sh "$work/tree" > "$work/out" 2>&1 || return 1
    grep -q "^$1: " "$work/out"
}
check "fails: the codec including training" plant codec/codec.c '#include "tools/train/dataset.h"'
check "fails: the codec including image I/O" plant codec/model.c '#include "tools/imageio/png_io.h"'
check "fails: nn including the codec" plant nn/gemm.c '#include "codec/model.h"'
check "fails: image I/O including measuring" plant tools/imageio/png_io.c \
    '#include "tools/measure/metrics.h"'
check "fails: training including measuring" plant tools/train/dataset.c \
    '#include "tools/measure/metrics.h"'
check "fails: measuring including training" plant tools/measure/metrics.c \
    '#include "tools/train/dataset.h"'
check "fails: measuring including the programs" plant tools/measure/bdrate.c '#include "tools/cli.h"'
check "fails: an include without its folder" plant codec/varint.c '#include "varint.h"'
check "fails: a header that is not there" plant codec/varint.c '#include "codec/no_such.h"'

# symbols: what the training and measuring objects define, against libaec
# and everything aecd links (its objects and the archives it takes them from)
defined() { nm -g --defined-only "$@" 2>/dev/null | awk 'NF >= 3 { print $3 }' | sort -u; }
defined "$B"/obj/tools/train/*.o "$B"/obj/tools/measure/*.o > "$work/upper"
check "the training and measuring objects define symbols" test -s "$work/upper"
# the comparison finds a training object put into a copy of libaec.a
mkdir "$work/bad"
(cd "$work/bad" && ar x "$B/libaec.a") && cp "$B/obj/tools/train/dataset.o" "$work/bad/" &&
    ar rcs "$work/bad.a" "$work/bad"/*.o
defined "$work/bad.a" > "$work/bad.syms"
check "the comparison finds a training object in a library" \
    sh -c "comm -12 '$work/bad.syms' '$work/upper' | grep -q aec_dataset_random_crop"
# the optimiser's symbols (nn_adam_*) in a list of symbols
has_adam() { grep -q '^nn_adam_' "$1"; }
no_adam() { ! has_adam "$1"; }
# the check finds nn/adam.o put into a copy of libaec.a
rm -rf "$work/bad"; mkdir "$work/bad"
(cd "$work/bad" && ar x "$B/libaec.a") && cp "$B/obj/nn/adam.o" "$work/bad/" &&
    ar rcs "$work/bad-adam.a" "$work/bad"/*.o
defined "$work/bad-adam.a" > "$work/bad-adam.syms"
check "the optimiser check finds nn/adam.o in a library" has_adam "$work/bad-adam.syms"
defined "$B/libaec.a" > "$work/libaec"
check "libaec.a defines symbols" test -s "$work/libaec"
check "libaec.a defines nothing of training or measuring" \
    sh -c "! comm -12 '$work/libaec' '$work/upper' | grep ."
check "libaec.a defines nothing of the optimiser" no_adam "$work/libaec"
defined "$B/own/obj/tools/aecd.o" "$B/own/obj/tools/cli.o" "$B/own/libimageio.a" \
    "$B/own/libcodec.a" "$B/own/libnn.a" > "$work/aecd"
check "aecd's inputs define symbols" test -s "$work/aecd"
check "aecd links nothing of training or measuring" sh -c "! comm -12 '$work/aecd' '$work/upper' | grep ."
check "aecd links nothing of the optimiser" no_adam "$work/aecd"
echo "test_layers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
