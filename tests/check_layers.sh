#!/bin/sh
# tests/check_layers.sh [ROOT] - every #include "..." under ROOT's nn/,
# codec/ and tools/ (default: the repository) names its header from the
# top ("codec/model.h", not "model.h"), the header exists, and no include
# runs upward. The layers, each allowed to include its own folder and the
# ones before it:
#   nn/              the neural-network kernels
#   codec/           the codec: format, entropy coding, inference, encode
#                    and decode (libaec)
#   tools/imageio/   image file I/O
#   tools/train/     training          } neither includes the other
#   tools/measure/   measuring         }
#   tools/           the programs (anything)
# Prints one line per violation; exit status 1 if there is any.
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

allowed() {  # allowed FOLDER: the folders FOLDER's files may include
    case $1 in
    nn) echo "nn" ;;
    codec) echo "nn codec" ;;
    tools/imageio) echo "nn codec tools/imageio" ;;
    tools/train) echo "nn codec tools/imageio tools/train" ;;
    tools/measure) echo "nn codec tools/imageio tools/measure" ;;
    tools) echo "nn codec tools/imageio tools/train tools/measure tools" ;;
    *) echo "" ;;
    esac
}

bad=0
for f in $(find nn codec tools -name '*.[ch]' | sort); do
    dir=${f%/*}
    ok=$(allowed "$dir")
    if [ -z "$ok" ]; then
        echo "$f: in a folder that is no layer (nn codec tools/imageio tools/train tools/measure tools)"
        bad=1
        continue
    fi
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        case $inc in
        */*) ;;
        *) echo "$f: #include \"$inc\" does not name its folder"; bad=1; continue ;;
        esac
        if [ ! -f "$inc" ]; then
            echo "$f: #include \"$inc\": no such header"
            bad=1
            continue
        fi
        idir=${inc%/*}
        found=0
        for a in $ok; do [ "$idir" = "$a" ] && found=1; done
        if [ $found -eq 0 ]; then
            echo "$f: #include \"$inc\" runs upward ($dir may include: $ok)"
            bad=1
        fi
    done
done
exit $bad
