#!/usr/bin/env bash
# Build the shipped recogniser (models/recogniser-4class) from every corpus in ../shared/data:
# RAVDESS, nEMO and the Korean sample mapped to 4 classes (angry, happy, neutral, sad).
# Whisper-base features are cached in runs/feature-cache (shared with the *-ser experiments), so a
# rerun takes minutes; from scratch about 7 CPU-minutes for the features (0.035 CPU s per audio s).
#   bash scripts/train_default_recogniser.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="$(realpath ../shared/data)"
OUT="${1:-models/recogniser-4class}"
BIN="${BIN:-.venv/bin}"
mkdir -p runs/recogniser
for corpus in ravdess nemo korean_emotiontts; do
  "$BIN/spokenemo" prepare "$corpus" "$DATA/$corpus" -o "runs/recogniser/$corpus.jsonl"
done
"$BIN/spokenemo" recogniser-train runs/recogniser/ravdess.jsonl runs/recogniser/nemo.jsonl \
  runs/recogniser/korean_emotiontts.jsonl -o "$OUT" --label-set 4class --feature-cache runs/feature-cache \
  --C 0.0003,0.001,0.01,0.1
