#!/bin/sh
# The CPU benchmark as pairs: for each scenario, one timed PyTorch run and right after it one
# timed Keepsake run of the same work, ROUNDS times over; the ratio of each pair, then the median
# of those ratios. On a machine whose speed drifts (this VM's moves 10-20% within minutes), a
# ratio then compares two runs a minute apart, not PyTorch's three runs against Keepsake's three
# half an hour later.
#
# Run from the repository root: scripts/bench-pairs.sh DIR [ROUNDS]   (DIR as for
#      tests/reference/bench_pytorch.py;
#      a release build in target/release and the reference venv in .venv-reference)
set -eu
dir=${1:?usage: scripts/bench-pairs.sh DIR [ROUNDS]}
rounds=${2:-3}
python=.venv-reference/bin/python
keepsake=target/release/keepsake
for tool in "$python" "$keepsake"; do
    [ -x "$tool" ] || { echo "bench-pairs: $tool is missing (fix: see docs/BENCHMARKS.md, 'How to run')" >&2; exit 1; }
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# PyTorch's scenario, then the Keepsake scenarios measured against it.
pairs="unet-step:unet-step,unet-step-int8 img2img-lcm:img2img-lcm-int8 vae-decode:vae-decode taesd-decode:taesd-decode"
round=1
while [ "$round" -le "$rounds" ]; do
    for pair in $pairs; do
        theirs=${pair%%:*}
        ours=$(echo "${pair#*:}" | sed 's/,/ --only /g')
        "$python" tests/reference/bench_pytorch.py "$dir" --skip-keepsake --runs 1 --only "$theirs" >/dev/null
        # shellcheck disable=SC2086 # $ours is a list of flags
        KEEPSAKE_LOG=warn "$keepsake" bench --dir "$dir" --runs 1 --only $ours | grep '^| [a-z0-9-]*:' | sort -u >>"$log"
    done
    echo "round $round of $rounds done" >&2
    round=$((round + 1))
done
# Rows: | name: description | ours s | theirs s | ratio | ours RSS | theirs RSS | ...
echo "| scenario | ratio (median of pairs) | ratios | Keepsake s | PyTorch s | Keepsake peak RSS MB |"
echo "| --- | --- | --- | --- | --- | --- |"
awk -F'|' '
    { name = $2; sub(/:.*/, "", name); gsub(/ /, "", name)
      n[name]++; ratio[name, n[name]] = ($4 + 0 > 0) ? ($3 + 0) / ($4 + 0) : 0; ours[name] = ours[name] " " ($3 + 0); theirs[name] = theirs[name] " " ($4 + 0)
      if ($6 + 0 > rss[name]) rss[name] = $6 + 0 }
    END {
      for (name in n) {
        k = n[name]; list = ""
        for (i = 1; i <= k; i++) { v[i] = ratio[name, i]; list = list sprintf(" %.2f", v[i]) }
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        median = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
        printf "| %s | %.2f | %s | %s | %s | %d |\n", name, median, list, ours[name], theirs[name], rss[name]
      }
    }' "$log" | sort
