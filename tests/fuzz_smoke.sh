#!/bin/sh
# tests/fuzz_smoke.sh SECONDS DIR OPTIONS FUZZER SEEDS [FUZZER SEEDS ...]
# make test's fuzzing step: runs each libFuzzer harness for SECONDS with
# OPTIONS, starting from its seed folder SEEDS (read only: new inputs go to a
# fresh DIR/smoke-NAME, findings to DIR/smoke-NAME-crash-* and the like).
# Prints a line per harness ("NAME: 1 passed, 0 failed", the way
# tests/run.sh's binaries report) and the total last. Exit status 1 if any
# harness reported a finding (crash, sanitizer report, hang, leak, abort)
# or did not run.
[ $# -ge 5 ] || { echo "usage: $0 SECONDS DIR OPTIONS FUZZER SEEDS [FUZZER SEEDS ...]"; exit 2; }
seconds=$1; dir=$2; opts=$3; shift 3
passed=0; failed=0; status=0
while [ $# -ge 2 ]; do
    fuzzer=$1; seeds=$2; shift 2
    name=$(basename "$fuzzer")
    corpus=$dir/smoke-$name
    rm -rf "$corpus"; mkdir -p "$corpus"
    # shellcheck disable=SC2086 # OPTIONS are words
    out=$("$fuzzer" $opts -max_total_time="$seconds" -artifact_prefix="$corpus-" \
          "$corpus" "$seeds" 2>&1); rc=$?
    done_line=$(printf '%s\n' "$out" | grep -E '^#[0-9]+[[:space:]]+DONE ' | tail -n 1)
    if [ "$rc" -ne 0 ] || [ -z "$done_line" ]; then
        printf '%s\n' "$out" | tail -n 40
        echo "$name: finding or failure (exit $rc); replay: $fuzzer FILE"
        echo "$name: 0 passed, 1 failed"
        failed=$((failed + 1)); status=1; continue
    fi
    # "#N DONE cov: C ft: F corp: ..." -> runs, coverage, features
    echo "$name: $(printf '%s\n' "$done_line" | sed -E 's/^#([0-9]+).*cov: ([0-9]+) ft: ([0-9]+).*/\1 runs in '"$seconds"' s, cov \2, ft \3, no finding/')"
    echo "$name: 1 passed, 0 failed"
    passed=$((passed + 1))
done
echo "$passed passed, $failed failed"
exit $status
