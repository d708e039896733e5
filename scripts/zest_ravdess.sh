#!/usr/bin/env bash
# S2S-ZEST on RAVDESS (issue #22; docs/methods/s2s-zest.md): train the converter, then every measurement
# reported on the method page. One torch thread per process, niced; runs/ is git-ignored.
#   bash scripts/zest_ravdess.sh [OUT=runs/zest]
set -euo pipefail
OUT=${1:-runs/zest}
export OMP_NUM_THREADS=1
SE="nice -n 10 .venv/bin/python -m spokenemo"
FOREIGN="--foreign nemo=../shared/data/nemo --foreign korean_emotiontts=../shared/data/korean_emotiontts"
$SE convert-train configs/zest-ravdess.yaml -o "$OUT/model"          # also fits the (ours) envelope.npz
for S in SSST DSST; do
  # Done-when: 24 pairs (repetition 01 sources, angry/happy/sad references), variants and the WORLD-copy control
  $SE convert-eval -o "$OUT/eval-$S" --model "$OUT/model" --settings $S --source-repetitions 01 \
      --emotions angry,happy,sad --variants zest,no-duration,relative-f0,envelope,world-copy --examples 3 &
  # all 64 pairs with WER
  $SE convert-eval -o "$OUT/full-$S" --model "$OUT/model" --settings $S --variants zest,no-duration --wer &
done
$SE convert-eval -o "$OUT/eval-rest" --model "$OUT/model" --settings SSDT,DSDT,UTE,USS,USUE --variants zest \
    $FOREIGN --examples 6 &
# validation on seen speakers (actors 13-16, repetition 02): thesis transfer vs the envelope step
$SE convert-eval -o "$OUT/valid" --model "$OUT/model" --settings SSST,DSST --variants zest,envelope \
    --source-actors 13,14,15,16 --source-repetitions 02 --emotions angry,happy,sad --examples 0 &
wait
$SE convert-evidence zest="$OUT/model" -o "$OUT/evidence.json" > /dev/null
$SE convert-augment --model "$OUT/model" -o "$OUT/augment.json" > /dev/null
# Adversarial ablation (evidence 1; not run for issue #22): both adversarial weights at 0
# $SE convert-train configs/zest-ravdess.yaml -o "$OUT/model-noadv" --set speaker.adv_weight=0 --set style.adv_weight=0
# $SE convert-evidence zest="$OUT/model" noadv="$OUT/model-noadv" -o "$OUT/evidence.json"
