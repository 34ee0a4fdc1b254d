#!/usr/bin/env bash
# The main job: `bash tools/quickstart.sh [OUT_DIR] [--train]`.
#
# Default (seconds once installed): the shipped model models/cpu_small (trained
# by our own code with `python -m gansynth_tf2.train --gin_file=gin/cpu_small.gin`;
# its metrics are in docs/cpu_small_evaluation.json) plays
#   OUT/notes         one note at each pitch it was trained on in 36..84,
#   OUT/timbre_sweep  one latent vector across those pitches,
#   OUT/melody        a short MIDI melody (tools/make_melody.py),
# as WAV + spectrogram PNG + generated.json, and the notes' pitch is measured
# with pYIN (tools/check_pitch.py).
# --train: first trains gin/cpu_small.gin from scratch into OUT/train (about
# 50 minutes on 2 idle CPU cores; rerunning resumes) and plays that model instead.
# With --train, --strategy=..., --cpu_replicas=N and --gin_param=... go to the
# training command, e.g. `--train --strategy=mirrored` on every GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=out/quickstart
TRAIN=0
TRAIN_ARGS=()
for arg in "$@"; do
  case "$arg" in
    --train) TRAIN=1 ;;
    --strategy=*|--cpu_replicas=*|--gin_param=*) TRAIN_ARGS+=("$arg") ;;
    -*) echo "quickstart: unknown option $arg (expected --train, --strategy=," \
             "--cpu_replicas=, --gin_param=)" >&2; exit 2 ;;
    *) OUT=$arg ;;
  esac
done
if [ "$TRAIN" = 0 ] && [ ${#TRAIN_ARGS[@]} -gt 0 ]; then
  echo "quickstart: ${TRAIN_ARGS[0]} applies to training: add --train" >&2
  exit 2
fi
bash tools/setup.sh
# The Python setup.sh installed into (PYTHON, a venv, .venv or python3).
. tools/python_env.sh
python_env_pick "$PWD"
PY=$PYTHON
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

MODEL=models/cpu_small
if [ "$TRAIN" = 1 ]; then
  MODEL="$OUT/train"
  "$PY" -m gansynth_tf2.train --gin_file=gin/cpu_small.gin --train_dir="$MODEL" \
      ${TRAIN_ARGS[@]+"${TRAIN_ARGS[@]}"}
fi
# The trained pitches (every third semitone from 24) within 36..84.
PITCHES=36,39,42,45,48,51,54,57,60,63,66,69,72,75,78,81,84
"$PY" -m gansynth_tf2.generate --ckpt_dir="$MODEL" --output_dir="$OUT/notes" \
    --pitches=$PITCHES --seed=0 --overwrite
"$PY" -m gansynth_tf2.generate --ckpt_dir="$MODEL" --output_dir="$OUT/timbre_sweep" \
    --timbre_sweep --pitches=$PITCHES --seed=1 --overwrite
"$PY" tools/make_melody.py --output="$OUT/melody.mid"
"$PY" -m gansynth_tf2.generate --ckpt_dir="$MODEL" --output_dir="$OUT/melody" \
    --midi_file="$OUT/melody.mid" --seed=2 --overwrite
"$PY" tools/check_pitch.py --notes_dir="$OUT/notes"
echo "quickstart: model $MODEL; notes in $OUT/notes, $OUT/timbre_sweep and" \
     "$OUT/melody (WAV + PNG + generated.json)"
