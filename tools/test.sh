#!/usr/bin/env bash
# Sets up (tools/setup.sh) and runs the whole test suite: `bash tools/test.sh`.
# Extra arguments go to pytest, e.g. `bash tools/test.sh --runslow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec "${PYTHON:-python3}" -m pytest -q "$@"
