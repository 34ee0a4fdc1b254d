#!/usr/bin/env bash
# Installs what gansynth-tf2 needs into the current Python (set PYTHON to pick
# another interpreter). Idempotent: a second run only checks.
#   bash tools/setup.sh          runtime + test dependencies (incl. the optional tfds extra, so its reader is tested)
# System packages (Debian/Ubuntu, needs root or sudo): fluidsynth and the small
# TimGM6mb soundfont, used to render training notes and by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

need_apt=()
command -v fluidsynth >/dev/null 2>&1 || need_apt+=(fluidsynth)
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need_apt+=(timgm6mb-soundfont)
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing ${need_apt[*]} with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (fluidsynth and a GM soundfont);" \
         "soundfont rendering and its tests need them" >&2
  fi
fi

# The import check runs outside the checkout: from here the package would
# import from the working directory even when it is not installed (or its
# editable install points at another checkout), and the CLIs' subprocesses
# would then fail.
if ! (cd / && "$PYTHON" -c "import gansynth_tf2, tensorflow, pytest, tensorflow_datasets, os, sys; sys.exit(os.path.dirname(gansynth_tf2.__file__) != sys.argv[1])" "$PWD/gansynth_tf2") >/dev/null 2>&1 \
   || [ pyproject.toml -nt .setup-stamp ]; then
  echo "setup: pip install -e .[test,tfds] (TensorFlow is large: first run takes a few minutes)"
  "$PYTHON" -m pip install -q --disable-pip-version-check -e ".[test,tfds]"
  touch .setup-stamp
fi
