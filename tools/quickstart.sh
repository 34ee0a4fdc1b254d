#!/usr/bin/env bash
# The main job on the embedded default: `bash tools/quickstart.sh [OUT_DIR]`.
# Sets up (tools/setup.sh), trains the quick-start model (gin/quickstart.gin:
# the paper's IF-Mel structure, all 13 progressive stages, tiny widths) on the
# embedded default dataset, then generates notes with it: WAVs plus a
# spectrogram PNG each. Rerunning resumes training where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
OUT=${1:-out/quickstart}
PY=${PYTHON:-python3}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

"$PY" -m gansynth_tf2.train --gin_file=gin/quickstart.gin --train_dir="$OUT/train"
"$PY" -m gansynth_tf2.generate --ckpt_dir="$OUT/train" --output_dir="$OUT/notes" \
    --pitches=36,48,60,72 --seed=0 --overwrite
"$PY" -m gansynth_tf2.generate --ckpt_dir="$OUT/train" --output_dir="$OUT/timbre_sweep" \
    --timbre_sweep --pitches=36,43,48,55,60,67,72 --seed=1 --overwrite
echo "quickstart: checkpoints in $OUT/train (tensorboard --logdir=$OUT/train)," \
     "notes in $OUT/notes and $OUT/timbre_sweep (WAV + PNG + generated.json)"
