#!/usr/bin/env bash
# The main job on the embedded default: `bash tools/quickstart.sh [OUT_DIR]`.
# Sets up (tools/setup.sh), then runs the spectral round trip demo on a
# generated tone: WAV -> IF-Mel -> WAV, with a PNG of the images.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
OUT=${1:-out/quickstart}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
"${PYTHON:-python3}" -m gansynth_tf2.roundtrip --output_dir="$OUT/roundtrip"
