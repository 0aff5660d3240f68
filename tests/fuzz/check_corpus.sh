#!/usr/bin/env bash
# Checks that the committed seeds (corpus/*/seed-*) are exactly what the generator writes
# today: none missing, none stale, none different. Crash inputs (crash-*) are not seeds.
# Usage: check_corpus.sh GENERATOR CORPUS_DIR SCRATCH_DIR
set -euo pipefail
gen=$1 corpus=$2 scratch=$3
rm -rf "$scratch"
"$gen" "$scratch"
bad=0
while IFS= read -r f; do
    if ! cmp -s "$scratch/$f" "$corpus/$f"; then
        echo "seed missing or different in the repository: $f"
        bad=1
    fi
done < <(cd "$scratch" && find . -type f -name 'seed-*' | sort)
while IFS= read -r f; do
    if [ ! -e "$scratch/$f" ]; then
        echo "stale seed in the repository (the generator no longer writes it): $f"
        bad=1
    fi
done < <(cd "$corpus" && find . -type f -name 'seed-*' | sort)
if [ "$bad" -ne 0 ]; then
    echo "regenerate with: make fuzz-corpus" >&2
    exit 1
fi
echo "seed corpus is current: $(cd "$scratch" && find . -type f | wc -l) seeds"
