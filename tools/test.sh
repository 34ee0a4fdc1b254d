#!/usr/bin/env bash
# Sets up (tools/setup.sh) and runs the whole test suite: `bash tools/test.sh`.
# Extra arguments go to pytest, e.g. `bash tools/test.sh --runslow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# The Python setup.sh installed into (PYTHON, a venv, .venv or python3).
. tools/python_env.sh
python_env_pick "$PWD"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# Two workers (TEST_WORKERS=1 for one process): most of a test's time is
# single-threaded Python (tracing tf.functions, starting CLIs), so two
# processes use both cores; conftest.py keeps each file's fixtures on one
# worker (xdist groups) and orders the groups longest first, which
# --no-loadscope-reorder keeps (xdist would order them by test count).
workers=${TEST_WORKERS:-2}
if [ "$workers" -gt 1 ]; then
  set -- -n "$workers" --dist loadgroup --no-loadscope-reorder "$@"
fi
# Every run ends with the 15 slowest tests: the cost centres in each CI log.
exec "$PYTHON" -m pytest -q --durations=15 "$@"
