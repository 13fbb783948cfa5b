#!/bin/sh
# tests/golden_outputs.sh BIN_DIR WORK_DIR
# Runs the programs in BIN_DIR (aec, aecd) on the sample images and a small
# training set, and prints the SHA-256 of every file they write, one line
# each, sorted by name. Two builds of the same code on the same machine print
# the same lines: compare the output of a build before and after a change
# that should not change what the programs write (a move, a refactor).
# Training and the encoder's search run with one thread; the hashes of files
# that come from floating-point training depend on the CPU's float path, so
# compare outputs made on one machine.
set -eu
bin=$1; work=$2
bin=$(cd "$bin" && pwd); aec=$bin/aec; aecd=$bin/aecd
rm -rf "$work"; mkdir -p "$work"; work=$(cd "$work" && pwd)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# inputs named relative to the repository (the model records its data folder)
cd "$(dirname "$0")/.."
imgs="samples/kodim23.png samples/swallowtail.png"

# encode: two images, three qualities, efforts 0 and 1, a bpp and a PSNR target
for img in $imgs; do
    b=$(basename "$img" .png)
    for q in 10 50 90; do
        "$aec" encode -q "$q" -e 0 -j 1 "$img" -o "$work/$b-q$q-e0.aec" >/dev/null
    done
    "$aec" encode -q 50 -e 1 -j 1 "$img" -o "$work/$b-q50-e1.aec" >/dev/null
    "$aec" encode --bpp 0.5 -e 0 -j 1 "$img" -o "$work/$b-bpp0.5.aec" >/dev/null
    "$aec" encode --psnr 27.5 -e 0 -j 1 "$img" -o "$work/$b-psnr27.5.aec" >/dev/null
done
# a folder encoded and decoded by two worker processes (-j 2)
mkdir -p "$work/in"
cp $imgs "$work/in/"
"$aec" encode -q 50 -e 0 -j 2 "$work/in" -o "$work/j2" >/dev/null
"$aec" decode -j 2 "$work/j2" -o "$work/j2-dec" >/dev/null
rm -r "$work/in"
# decode with aec and with aecd
for f in "$work"/*.aec; do
    "$aec" decode -j 1 "$f" -o "${f%.aec}.aec.png" >/dev/null
    "$aecd" "$f" "${f%.aec}.aecd.png"
done
# info on a file and on the model it needs
(cd "$work" && "$aec" info kodim23-q50-e0.aec > info-aec.txt)

# a tiny training run, exported as it ends, then the checkpoint exported
data=tests/fixtures/metrics
"$aec" train --data "$data" -o "$work/tiny.aecm" --steps 2 --batch 2 --patch 64 --n 16 --m 16 \
    --threads 1 --seed 7 --lambdas 0.001,0.01 > "$work/train.log" 2>&1
(cd "$work" && "$aec" info tiny.aecm > info-model.txt)
"$aec" export -m "$work/tiny.aecm.ckpt" --calib "$data" -o "$work/tiny-export.aecm" > /dev/null
"$aec" export -m "$work/tiny.aecm.ckpt" --calib "$data" -o "$work/tiny-dec.aecm" --decoder-only \
    > /dev/null
"$aec" encode -m "$work/tiny.aecm" -q 50 -e 0 -j 1 "$data/square_a.png" -o "$work/tiny-sq.aec" >/dev/null
"$aec" decode -m "$work/tiny.aecm" -j 1 "$work/tiny-sq.aec" -o "$work/tiny-sq.png" >/dev/null
"$aec" export-decoder -m "$work/tiny.aecm" -o "$work/tiny-aecd" --stub "$aecd" > /dev/null
"$work/tiny-aecd" "$work/tiny-sq.aec" "$work/tiny-sq.aecd.png"

# bench: its points (times left out) and plot at two qualities, with one
# worker process and with two
"$aec" bench "$data" -o "$work/bench" -j 1 -e 0 --codecs aec,jpeg --qualities 30,70 \
    --jpeg-qualities 30,70 > /dev/null 2>&1
"$aec" bench "$data" -o "$work/bench-j2" -j 2 -e 0 --codecs aec,jpeg --qualities 30,70 \
    --jpeg-qualities 30,70 > /dev/null 2>&1
cd "$work"
# tiny-aecd is the decoder program itself with the model appended: a build
# of the same code may differ in it; what it decodes to is compared instead
rm -f train.log tiny-aecd
# the bench's points without their times (the last two columns)
for d in bench bench-j2; do cut -d, -f1-7 $d/points.csv > $d/points-no-times.csv; done
find . -type f ! -name points.csv ! -name summary.md | sort | xargs sha256sum
