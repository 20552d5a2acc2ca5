#!/usr/bin/env bash
# Trains micro MuLaN once per text tower on a rendered corpus, exports it, and evaluates the export on
# a held-out corpus. Prints wall times and writes OUT/<tower>.json with the metrics.
#
#   scripts/bench_mulan_towers.sh DSET HELDOUT_DIR OUT [tower ...] [-- override ...]
#   e.g. scripts/bench_mulan_towers.sh beats/beats12k /data/heldout500 /data/bench pretrained transformer -- optim.lr=1e-3
# (beats12k: `beatlm corpus render --out /data/beats12k --num-clips 12000 --workers 2`; heldout500: the same with
# `--seed 7 --num-clips 500 --no-dset`)
#
# DSET must be findable by Hydra (BEATLM_CONFIG_DIR); HELDOUT_DIR is a `beatlm corpus render` folder.
set -euo pipefail
dset=$1 heldout=$2 out=$3
shift 3
towers=() overrides=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do towers+=("$1"); shift; done
[ $# -gt 0 ] && shift && overrides=("$@")
[ ${#towers[@]} -gt 0 ] || towers=(pretrained transformer)
mkdir -p "$out"
for tower in "${towers[@]}"; do
  args=(solver=musiclm/mulan model_scale=micro "dset=$dset" "mulan.text.tower=$tower" "${overrides[@]}")
  start=$(date +%s)
  dora -P beatlm run "${args[@]}" > "$out/$tower.train.log" 2>&1
  trained=$(date +%s)
  sig=$(dora -P beatlm info "${args[@]}" 2>&1 | grep -o 'Sheep([0-9a-f]*' | head -1 | cut -d'(' -f2)
  beatlm export mulan "//sig/$sig" "$out/$tower.th"
  manifests=()
  for split in train valid test; do manifests+=(--manifest "$heldout/egs/$split"); done
  beatlm eval mulan --model "$out/$tower.th" "${manifests[@]}" --json "$out/$tower.json"
  echo "$tower: sig $sig, training (incl. quantizer fit) $((trained - start)) s, export size $(du -h "$out/$tower.th" | cut -f1)"
done
