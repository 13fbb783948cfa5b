#!/bin/sh
# tools/domain_fit_auc.sh - how well `aec score` tells a model's domain from
# another: the ROC AUC of the scores (the chance that an image of OTHER
# scores higher than one of DOMAIN, ties counting half) and how many of each
# are flagged off the domain.
#
#   tools/domain_fit_auc.sh [-m MODEL] DOMAIN_DIR OTHER_DIR
#
# DOMAIN_DIR holds images of the model's domain it was not trained on (a
# validation folder), OTHER_DIR images of something else.
set -eu

aec=$(dirname "$0")/../bin/aec
model=""
if [ "${1:-}" = "-m" ]; then
    [ $# -ge 2 ] || { echo "usage: $0 [-m MODEL] DOMAIN_DIR OTHER_DIR" >&2; exit 2; }
    model="$2"
    shift 2
fi
[ $# -eq 2 ] || { echo "usage: $0 [-m MODEL] DOMAIN_DIR OTHER_DIR" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$aec" score ${model:+-m "$model"} --csv "$1" > "$tmp/domain.csv"
"$aec" score ${model:+-m "$model"} --csv "$2" > "$tmp/other.csv"

# the last three fields (file names may hold commas)
awk -F, 'FNR == 1 { next }
         FILENAME ~ /domain.csv$/ { d[++nd] = $(NF-2); fd += $NF == "yes"; next }
         { o[++no] = $(NF-2); fo += $NF == "yes" }
         END {
             for (i = 1; i <= nd; i++)
                 for (j = 1; j <= no; j++)
                     auc += (o[j] > d[i]) + 0.5 * (o[j] == d[i])
             printf "ROC AUC %.3f (%d domain images, %d others)\n", auc / (nd * no), nd, no
             printf "off the domain: %d of %d domain images, %d of %d others\n", fd, nd, fo, no
         }' "$tmp/domain.csv" "$tmp/other.csv"
