#!/bin/sh
# The model diagnostics behind the model card's measurements
# (tests/transform_ceiling.c, tests/latent_stats.c), run on the shipped
# model and one sample image, so that they keep building and running.
B=${AEC_BUILD:-build}/tests
passed=0; failed=0
check() {  # check NAME COMMAND...: the command succeeds
    name=$1; shift
    if "$@" > /dev/null 2>&1; then passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
out=$(OMP_NUM_THREADS=1 "$B/transform_ceiling" samples/butterfly.aecm samples 1 2>&1)
check "transform_ceiling runs" test $? -eq 0
top=$(printf '%s\n' "$out" | sed -n 's/.*not rounded: \([0-9.]*\) dB/\1/p')
low=$(printf '%s\n' "$out" | sed -n 's/.*level  0 (lambda [^)]*): \([0-9.]*\) dB rounded/\1/p')
check "transform_ceiling: level 0 ($low dB) below the unrounded transforms ($top dB)" \
    awk -v a="$low" -v b="$top" 'BEGIN { exit !(a > 15 && b > a && b < 60) }'
check "transform_ceiling: a missing folder is an error" \
    sh -c "! '$B/transform_ceiling' samples/butterfly.aecm samples/no-such-folder"
out=$(OMP_NUM_THREADS=1 "$B/latent_stats" samples/butterfly.aecm samples 5 1 2>&1)
check "latent_stats runs" test $? -eq 0
check "latent_stats prints the anchors' bits" sh -c "printf '%s\n' \"\$1\" | grep -q anchor" sh "$out"
echo "test_diagnostics: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
