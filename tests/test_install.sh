#!/bin/sh
# tests/test_install.sh - make install into a DESTDIR, then the README's
# example (tests/example_decode.c) compiled against that install with
# pkg-config, shared and static, decodes a file to aecd's pixels; the shared
# library needs none of libpng, libjpeg and OpenBLAS and exports aec.h's
# functions alone; make uninstall removes every file. Run by make test
# (AEC_MAKE, AEC_CC and AEC_BUILD from the Makefile) from the repository
# root; the last line is "test_install: N passed, N failed". The README's
# copy of the example must be the file.
MAKE=${AEC_MAKE:-make} CC=${AEC_CC:-cc} BUILD=${AEC_BUILD:-build}
passed=0 failed=0
check() { # check WHAT COMMAND...: counts COMMAND's success
    what=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL test_install: $what"; fi
}
report() { echo "test_install: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if ! command -v pkg-config >/dev/null 2>&1; then
    echo "test_install: skipped: pkg-config is not installed (apt-get install -y pkg-config)"
    report
fi
dest=$(mktemp -d) work=$(mktemp -d)
trap 'rm -rf "$dest" "$work"' EXIT
lib=$dest/usr/lib

check "make install" $MAKE --no-print-directory install DESTDIR="$dest" PREFIX=/usr >"$work/log" 2>&1 ||
    cat "$work/log"
for f in bin/aec bin/aecd lib/libaec.a lib/libaec.so.1 lib/libaec.so include/aec.h \
         lib/pkgconfig/aec.pc share/man/man1/aec.1 share/man/man1/aecd.1; do
    check "installed $f" test -e "$dest/usr/$f"
done
check "libaec.so links to libaec.so.1" test "$(readlink "$lib/libaec.so")" = libaec.so.1
check "soname libaec.so.1" sh -c "readelf -d '$lib/libaec.so.1' | grep -q 'SONAME.*\[libaec.so.1\]'"
check "no libpng, libjpeg or OpenBLAS in ldd" \
    sh -c "ldd '$lib/libaec.so.1' > '$work/ldd' && ! grep -E -i 'png|jpeg|blas' '$work/ldd'"
# every exported function is declared in aec.h, and each of aec.h's exported
nm -D --defined-only "$lib/libaec.so.1" | awk '$2 == "T" { print $3 }' | sort > "$work/exported"
sed -n 's/^AEC_API .*[ *]\(aec_[a-z_]*\)(.*/\1/p' codec/aec.h | sort > "$work/declared"
check "exports aec.h's functions alone" sh -c "test -s '$work/declared' && cmp -s '$work/exported' '$work/declared'"

# the README's example is this file
sed -n '/^## Using the library/,/^## /p' README.md | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' \
    > "$work/readme.c"
check "the README's example is tests/example_decode.c" cmp -s "$work/readme.c" tests/example_decode.c

pc() { PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" \
       pkg-config "$@" aec; }
check "pkg-config --modversion" test "$(pc --modversion)" = "$(sed -n 's/^#define AEC_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' codec/aec.h | paste -sd.)"
check "the example builds (shared)" \
    $CC -std=c11 -Wall -Werror tests/example_decode.c $(pc --cflags --libs) -o "$work/example"
check "the example builds (static)" \
    $CC -std=c11 -Wall -Werror tests/example_decode.c $(pc --cflags) "$lib/libaec.a" \
    $(pc --static --libs-only-l | sed 's/-laec//') -o "$work/example-static"

# a sample coded by aec, decoded by aecd and by the example
check "aec encode" bin/aec encode -e 0 -q 50 --no-fit-check samples/swallowtail.png -o "$work/s.aec" >/dev/null
check "aecd" bin/aecd "$work/s.aec" "$work/s.png"
check "png_to_rgb" sh -c "'$BUILD/tests/png_to_rgb' '$work/s.png' > '$work/aecd.rgb'"
check "the example decodes" sh -c "LD_LIBRARY_PATH='$lib' '$work/example' samples/butterfly.aecm \
    '$work/s.aec' > '$work/lib.rgb' 2>/dev/null"
check "to aecd's pixels (shared)" cmp -s "$work/aecd.rgb" "$work/lib.rgb"
check "on one thread too" sh -c "OMP_NUM_THREADS=1 LD_LIBRARY_PATH='$lib' '$work/example' \
    samples/butterfly.aecm '$work/s.aec' 2>/dev/null | cmp -s - '$work/aecd.rgb'"
check "the static example decodes" sh -c "'$work/example-static' samples/butterfly.aecm \
    '$work/s.aec' > '$work/static.rgb' 2>/dev/null"
check "to aecd's pixels (static)" cmp -s "$work/aecd.rgb" "$work/static.rgb"
check "the example fails on a bad file" sh -c "! LD_LIBRARY_PATH='$lib' '$work/example' \
    samples/butterfly.aecm samples/swallowtail.png > '$work/bad.rgb' 2>/dev/null && ! test -s '$work/bad.rgb'"

check "make uninstall" $MAKE --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr >"$work/log" 2>&1
check "nothing left installed" test -z "$(find "$dest" ! -type d)"
report
