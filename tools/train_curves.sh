#!/bin/sh
# tools/train_curves.sh - training recipes compared by how fast they learn.
#
#   tools/train_curves.sh --data DIR --val DIR [-o DIR] [--time T] [--every T]
#                         [--stride K] [--jobs J] [RECIPE...]
#
# Trains each recipe from scratch for --time (same seed, one thread each,
# J runs side by side), keeping the weights every --every (aec train
# --snapshot-every), then exports every K-th snapshot (--stride, default 1)
# and the run's final model (after its learning-rate decay) with tables
# fitted on the training data and codes the validation folder with each
# (aec bench -e 0). DIR/curves.md gets one row per model: training minutes,
# steps, BD-rate against JPEG and the PSNR at 0.25, 0.5 and 1.0 bpp (the
# mean curve, interpolated in log bpp), so a recipe's rise per CPU-hour
# reads down its rows; DIR/curves.svg plots the 0.5 bpp column. Runs
# sharing the machine slow each other a little
# (memory bandwidth); compare rows of one invocation.
#
# Recipes (name: aec train options); default: all of them.
set -eu

recipe_args() {
    case "$1" in
        lr5e-4)      echo "--lr 5e-4" ;;
        lr1e-3)      echo "--lr 1e-3" ;;
        lr2e-4)      echo "--lr 2e-4" ;;
        patch64)     echo "--lr 5e-4 --patch-first 64:$FIRST" ;;
        small)       echo "--lr 5e-4 --n 64 --m 96" ;;
        small-lr1e-3) echo "--lr 1e-3 --n 64 --m 96" ;;
        *) return 1 ;;
    esac
}
ALL="lr5e-4 lr1e-3 patch64 small"

OUT=curves
TIME=30m
EVERY=5m
STRIDE=1
JOBS=2
DATA=
VAL=
AEC=${AEC:-bin/aec}
while [ $# -gt 0 ]; do
    case "$1" in
        -o) OUT=$2; shift 2 ;;
        --time) TIME=$2; shift 2 ;;
        --every) EVERY=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        --val) VAL=$2; shift 2 ;;
        --stride) STRIDE=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "train_curves.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
RECIPES=${*:-$ALL}

seconds() {   # 90s / 20m / 1.5h -> seconds (aec train's durations)
    awk -v t="$1" 'BEGIN { u = substr(t, length(t)); v = t + 0
        print (u == "h" ? v * 3600 : u == "m" ? v * 60 : v) }'
}
# patch64: the first third of the budget on 64x64 patches
FIRST=$(awk -v s="$(seconds "$TIME")" 'BEGIN { f = s / 3; printf "%.3fs", (f > 0.001 ? f : 0.001) }')

for r in $RECIPES; do
    recipe_args "$r" >/dev/null || { echo "train_curves.sh: unknown recipe '$r' (known: lr5e-4 lr1e-3 lr2e-4 patch64 small small-lr1e-3)" >&2; exit 2; }
done
[ -x "$AEC" ] || { echo "train_curves.sh: $AEC not built (run make)" >&2; exit 2; }
[ -n "$DATA" ] && [ -n "$VAL" ] || { echo "train_curves.sh: --data and --val name the training and validation folders" >&2; exit 2; }
[ -d "$DATA" ] || { echo "train_curves.sh: $DATA: no such folder" >&2; exit 2; }
[ -d "$VAL" ] || { echo "train_curves.sh: $VAL: no such folder" >&2; exit 2; }
case "$OUT" in *" "*) echo "train_curves.sh: -o $OUT: no spaces, please" >&2; exit 2 ;; esac
mkdir -p "$OUT"

# ---- training, J at a time ----------------------------------------------------
# waits for the runs started; a run that failed stops the script
pids=""
wait_runs() {
    for p in $pids; do
        wait "${p%%:*}" || { echo "train_curves.sh: ${p#*:} failed (see $OUT/${p#*:}/train.log)" >&2; exit 1; }
    done
    pids=""
}
running=0
for r in $RECIPES; do
    mkdir -p "$OUT/$r"
    if ls "$OUT/$r"/model-step*.aecm >/dev/null 2>&1; then
        echo "$r: snapshots already in $OUT/$r, not trained again"
        continue
    fi
    echo "$r: training for $TIME ($(recipe_args "$r")), log $OUT/$r/train.log"
    # shellcheck disable=SC2046
    "$AEC" train --data "$DATA" -o "$OUT/$r/model.aecm" --time "$TIME" --snapshot-every "$EVERY" \
        --checkpoint-every 100h --threads 1 --seed 1 $(recipe_args "$r") >"$OUT/$r/train.log" 2>&1 &
    pids="$pids $!:$r"
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait_runs; running=0; fi
done
wait_runs

# ---- evaluation -----------------------------------------------------------------
# psnr_at BPP SUMMARY: the aec mean curve's PSNR at BPP (linear in log bpp), or -
psnr_at() {
    awk -v want="$1" '
        /^## aec \(means per quality\)/ { on = 1; next }
        /^## / { on = 0 }
        on && /^\| [0-9]/ { split($0, f, "|"); n++; b[n] = f[3] + 0; p[n] = f[4] + 0 }
        END {
            for (i = 1; i < n; i++)
                if (b[i] <= want && want <= b[i + 1] && b[i + 1] > b[i]) {
                    t = (log(want) - log(b[i])) / (log(b[i + 1]) - log(b[i]))
                    printf "%.2f", p[i] + t * (p[i + 1] - p[i]); exit
                }
            printf "-"
        }' "$2"
}
bd_of() {
    awk '/^\| BD-rate PSNR/ { getline; getline; split($0, f, "|"); gsub(/ /, "", f[2]); print f[2]; exit }' "$1"
}
meta_of() {   # KEY MODEL
    "$AEC" info "$2" | sed -n "s/^ *$1=//p" | head -1
}

{
    echo "# Training curves: $RECIPES"
    echo
    echo "From scratch, $TIME each, one thread per run, $JOBS runs side by side; weights kept every $EVERY;"
    echo "each snapshot exported with tables fitted on $DATA and coded on $VAL"
    echo "(\`aec bench -e 0 --qualities 0,25,50,75,100\`). PSNR at a rate: the mean curve, linear in log bpp."
    echo
    echo "| recipe | options | minutes | steps | weights | BD-rate PSNR vs JPEG % | PSNR at 0.25 bpp | at 0.5 bpp | at 1.0 bpp |"
    echo "|---|---|---|---|---|---|---|---|---|"
} >"$OUT/curves.md.tmp"
for r in $RECIPES; do
    # (OUT may not contain spaces: the list below is split on them)
    list=$(ls "$OUT/$r"/model-step*.aecm 2>/dev/null |
           sed 's/.*-step\([0-9]*\)\.aecm$/\1 &/' | sort -n | cut -d' ' -f2 | awk -v k="$STRIDE" 'NR % k == 0')
    [ -f "$OUT/$r/model.aecm" ] && list="$list $OUT/$r/model.aecm"
    for snap in $list; do
        kind="snapshot"
        [ "$snap" = "$OUT/$r/model.aecm" ] && kind="end of run"
        step=$(meta_of steps "$snap")
        wall=$(meta_of wall_seconds "$snap")
        bench="$OUT/$r/bench-step$step"
        ready="$bench.aecm"
        if [ ! -f "$bench/summary.md" ]; then
            if ! "$AEC" export -m "$snap" --calib "$DATA" -o "$ready" -f >"$bench.log" 2>&1 ||
               ! "$AEC" bench "$VAL" -m "$ready" -o "$bench" -j "$JOBS" -e 0 \
                   --qualities 0,25,50,75,100 >>"$bench.log" 2>&1; then
                echo "| $r | $(recipe_args "$r") | $((wall / 60)) | $step | $kind | (failed: $bench.log) | | | |" >>"$OUT/curves.md.tmp"
                continue
            fi
            rm -f "$ready"
        fi
        s="$bench/summary.md"
        echo "| $r | $(recipe_args "$r") | $(awk -v w="$wall" 'BEGIN { printf "%.1f", w / 60 }') | $step | $kind | $(bd_of "$s") | $(psnr_at 0.25 "$s") | $(psnr_at 0.5 "$s") | $(psnr_at 1.0 "$s") |" >>"$OUT/curves.md.tmp"
        echo "$r step $step: done"
    done
done
mv "$OUT/curves.md.tmp" "$OUT/curves.md"

# ---- the plot: PSNR at 0.5 bpp against training minutes, a line per recipe ----
awk -F'|' '
    $4 ~ /^ *[0-9.]+ *$/ {
        r = $2; gsub(/ /, "", r); m = $4 + 0; v = $9; gsub(/ /, "", v)
        if (v == "-" || v == "") next
        if (!(r in seen)) { seen[r] = 1; order[++nr] = r }
        n[r]++; X[r, n[r]] = m; Y[r, n[r]] = v + 0
        if (m > xmax) xmax = m
        if (!ymin_set || v + 0 < ymin) { ymin = v + 0; ymin_set = 1 }
        if (v + 0 > ymax) ymax = v + 0
    }
    function px(x) { return 60 + 520 * x / xmax }
    function py(y) { return 330 - 290 * (y - lo) / (hi - lo) }
    END {
        if (!nr) exit
        lo = int(ymin) - 1; hi = int(ymax) + 2
        split("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b", col, " ")
        printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"380\" font-family=\"sans-serif\" font-size=\"12\">\n"
        printf "<rect width=\"720\" height=\"380\" fill=\"white\"/>\n"
        for (y = lo; y <= hi; y++) {
            printf "<line x1=\"60\" y1=\"%.1f\" x2=\"580\" y2=\"%.1f\" stroke=\"#ddd\"/>", py(y), py(y)
            printf "<text x=\"54\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", py(y) + 4, y
        }
        for (x = 0; x <= xmax; x += 10) {
            printf "<line x1=\"%.1f\" y1=\"40\" x2=\"%.1f\" y2=\"330\" stroke=\"#ddd\"/>", px(x), px(x)
            printf "<text x=\"%.1f\" y=\"346\" text-anchor=\"middle\">%d</text>\n", px(x), x
        }
        printf "<text x=\"320\" y=\"370\" text-anchor=\"middle\">training minutes (one core each)</text>\n"
        printf "<text x=\"16\" y=\"185\" transform=\"rotate(-90 16 185)\" text-anchor=\"middle\">PSNR dB at 0.5 bpp (validation)</text>\n"
        for (i = 1; i <= nr; i++) {
            r = order[i]; c = col[(i - 1) % 6 + 1]; pts = ""
            for (k = 1; k <= n[r]; k++) pts = pts sprintf("%.1f,%.1f ", px(X[r, k]), py(Y[r, k]))
            printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", c, pts
            for (k = 1; k <= n[r]; k++) printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", px(X[r, k]), py(Y[r, k]), c
            printf "\n<line x1=\"595\" y1=\"%d\" x2=\"615\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>", 50 + 18 * i, 50 + 18 * i, c
            printf "<text x=\"620\" y=\"%d\">%s</text>\n", 54 + 18 * i, r
        }
        printf "</svg>\n"
    }' "$OUT/curves.md" >"$OUT/curves.svg.tmp" && mv "$OUT/curves.svg.tmp" "$OUT/curves.svg"
echo "wrote $OUT/curves.md and $OUT/curves.svg"
